/* SPDX-License-Identifier: MIT */
/*
 * iSCSI login, target side (RFC 7143 §6.3, §11.12, §11.13), transport-free:
 * the connection layer hands each received Login Request (BHS + data
 * segment, digests already checked and stripped) to iscsi_login_rx() and
 * sends the Login Response it returns. This layer does the rest: version,
 * ISID/TSIH/CID consistency, C-bit continuation of the request text, the
 * security → operational → full feature stages and their transit rules,
 * target lookup (unknown / not on this portal group → 0x0203, initiator not
 * in the allow-list → 0x0202), AuthMethod and CHAP / mutual CHAP
 * (iscsi/chap.h), operational key negotiation (iscsi/params.h), and the
 * final TSIH. After a successful login the same object answers Text
 * Requests (iscsi_login_text), e.g. SendTargets in a discovery session.
 *
 * Not here: the login timeout, reading the socket, digests (the transport's
 * concern), and session reinstatement — the result names the initiator and
 * ISID, and the session layer closes an older session with the same
 * (InitiatorName, ISID, target) when it creates the new one (§6.3.5).
 * Adding a connection to an existing session (non-zero TSIH) is refused:
 * MaxConnections is 1 and ErrorRecoveryLevel 0 — 0x0208 "can't include in
 * session" when the session exists, 0x020a "session does not exist"
 * otherwise; initiators then log in afresh with TSIH 0.
 * Sequence numbers: Login Requests are immediate and do not advance CmdSN;
 * ExpCmdSN echoes the latest request's CmdSN; StatSN starts at
 * conn.initial_statsn and advances with every response (§11.13.4).
 */
#ifndef ISCSI_LOGIN_H
#define ISCSI_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/log.h"
#include "iscsi/chap.h"
#include "iscsi/iscsi_config.h"
#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

#define ISCSI_LOGIN_QUEUE_DEPTH 128     /* MaxCmdSN - ExpCmdSN + 1 by default */

/* What the login needs from the daemon (tests provide their own). */
struct iscsi_login_env {
	void *ctx;
	/* The iSCSI config in force (targets, portal groups, discovery auth);
	 * NULL: no iSCSI section. Pointers into it (result.target) must stay
	 * valid while the connection lives. */
	const struct iscsi_config *(*config)(void *ctx);
	/* A free non-zero TSIH for a new session; 0 if none is left. */
	uint16_t (*alloc_tsih)(void *ctx);
	/* Is there a session with this ISID and TSIH? NULL: never. */
	bool (*session_exists)(void *ctx, const uint8_t isid[6], uint16_t tsih);
	/* One log line; it never contains a secret. NULL: nvb_log(). */
	void (*log)(void *ctx, enum nvb_log_level level, const char *msg);
};

/* The connection the login runs on. */
struct iscsi_login_conn {
	uint16_t tpgt;          /* portal group of the portal it arrived on */
	const char *local_addr; /* numeric local address, for SendTargets on a
	                           wildcard portal without `advertise`; may be NULL */
	uint32_t initial_statsn;
	uint32_t queue_depth;   /* command window announced; 0: ISCSI_LOGIN_QUEUE_DEPTH */
};

enum iscsi_login_rc {
	ISCSI_LOGIN_RX_CONTINUE = 0,    /* send the response, wait for the next request */
	ISCSI_LOGIN_RX_DONE = 1,        /* send the response, enter the full feature phase */
	ISCSI_LOGIN_RX_FAILED = -1,     /* send the response (a login reject), then close */
};

/* One Login Response to send: header and text (valid until the next call). */
struct iscsi_login_pdu {
	struct iscsi_login_rsp bhs;
	const void *data;
	uint32_t dlen;
};

struct iscsi_login_result {
	enum iscsi_session_kind kind;
	const struct iscsi_target_conf *target;   /* Normal session: the target */
	const struct iscsi_session_params *params;/* negotiated (names included) */
	uint8_t isid[6];
	uint16_t tsih;          /* the session's TSIH (allocated for a new one) */
	uint16_t cid;
	uint32_t expcmdsn;      /* first CmdSN expected in full feature phase */
	uint32_t maxcmdsn;
	uint32_t statsn;        /* next StatSN to send */
	bool authenticated;     /* CHAP was used and succeeded */
	char chap_user[CHAP_NAME_MAX + 1];
	uint16_t status;        /* on failure: the Login status sent */
	const char *reason;     /* on failure: why, for the log */
};

/* Per-connection login state; members are private to login.c. */
struct iscsi_login {
	const struct iscsi_login_env *env;
	struct iscsi_login_conn conn;
	int phase;
	uint8_t stage;                  /* current stage (CSG expected) */
	bool started, setup_done, auth_ok;
	uint8_t version_max, version_min;
	uint32_t cmdsn, statsn;
	struct iscsi_target_prefs prefs;
	const struct iscsi_auth_conf *auth;
	struct iscsi_neg neg;
	struct chap_target chap;
	struct iscsi_text_accum rx;
	struct iscsi_text_buf tx;
	struct iscsi_kv_list kvs;
	struct iscsi_login_result result;
	char reason[160];               /* result.reason when built here */
};

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_env *env,
		      const struct iscsi_login_conn *conn);
/* Release buffers and wipe CHAP state. */
void iscsi_login_free(struct iscsi_login *l);

/*
 * Process one received Login Request: `bhs` is its 48-byte header, `data`
 * its data segment of `dlen` bytes (must equal the header's
 * DataSegmentLength). Fills *out with the response to send and returns an
 * enum iscsi_login_rc. Once FAILED or DONE, further requests are refused.
 */
int iscsi_login_rx(struct iscsi_login *l, const void *bhs, const void *data, uint32_t dlen,
		   struct iscsi_login_pdu *out);
/* Valid after ISCSI_LOGIN_RX_DONE (and for status/reason after FAILED). */
const struct iscsi_login_result *iscsi_login_result(const struct iscsi_login *l);

/*
 * Full feature phase text negotiation (§11.10): `data` is the whole logical
 * text of a Text Request sequence (the caller joins C-bit continuations);
 * the answer text goes to `out` (the caller splits it over Text Responses
 * of at most MaxRecvDataSegmentLength with the C bit and a TTT). A
 * SendTargets key is answered with iscsi_send_targets(). Returns 0, or -1
 * for a protocol error (answer with a Reject).
 */
int iscsi_login_text(struct iscsi_login *l, const void *data, uint32_t len,
		     struct iscsi_text_buf *out);

/*
 * SendTargets (RFC 7143 §13.3, Appendix C): "TargetName=<iqn>" followed by
 * one "TargetAddress=<host>:<port>,<tag>" per portal of each of its portal
 * groups (IPv6 hosts in brackets; `advertise` when set; a wildcard portal
 * without it reports local_addr when of the same family, else nothing) for
 * each target `initiator` may see. `value`: "All" (discovery sessions
 * only), an iSCSI name, or "" (normal sessions: the session's target,
 * `session_target`). What cannot be answered gets "SendTargets=Reject".
 */
int iscsi_send_targets(const struct iscsi_config *cfg, const char *value,
		       const char *initiator, enum iscsi_session_kind kind,
		       const char *session_target, const char *local_addr,
		       struct iscsi_text_buf *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * iSCSI text negotiation, target side (RFC 7143 §6.2, §6.3, §13): one table
 * entry per key (type, range, default, stages, senders), an engine that
 * answers each key the initiator offers exactly once, declares the target's
 * own values, offers what the target cannot accept by default and tracks
 * those offers until answered, and yields the negotiated session values.
 *
 * Login-stage transitions (T bit, CSG/NSG) stay with the login layer; this
 * engine tells it whether negotiation is complete and, on failure, which
 * Login Response status to send.
 *
 * CHAP_* keys are not answered here: in the security stage the login layer
 * passes the same parsed text to iscsi/chap.h.
 */
#ifndef ISCSI_PARAMS_H
#define ISCSI_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iscsi/text.h"

#define ISCSI_NAME_MAX   223     /* §4.2.7: iSCSI names are at most 223 bytes */
#define ISCSI_ALIAS_MAX  255

enum iscsi_digest { ISCSI_DIGEST_NONE = 0, ISCSI_DIGEST_CRC32C = 1 };
/* §12.1 AuthMethod values, in the table's order. */
enum iscsi_auth_method {
	ISCSI_AUTH_NONE = 0, ISCSI_AUTH_CHAP = 1, ISCSI_AUTH_SRP = 2,
	ISCSI_AUTH_KRB5 = 3, ISCSI_AUTH_SPKM1 = 4, ISCSI_AUTH_SPKM2 = 5,
};
enum iscsi_session_kind { ISCSI_STYPE_NORMAL = 0, ISCSI_STYPE_DISCOVERY = 1 };
enum iscsi_task_reporting {
	ISCSI_TASKREP_RFC3720 = 0, ISCSI_TASKREP_RESPONSE_FENCE = 1, ISCSI_TASKREP_FAST_ABORT = 2,
};

/* Masks of allowed list values: bit n = enum value n. */
#define ISCSI_MASK(v) (1u << (v))

/* What the target wants; the config layer fills one per target/portal group
 * (start from iscsi_target_prefs_default). */
struct iscsi_target_prefs {
	uint32_t auth_methods;          /* ISCSI_MASK(ISCSI_AUTH_*) allowed */
	uint32_t header_digests;        /* ISCSI_MASK(ISCSI_DIGEST_*) allowed */
	uint32_t data_digests;
	uint32_t max_recv_dsl;          /* our MaxRecvDataSegmentLength declaration */
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	bool initial_r2t;               /* Yes: no unsolicited data */
	bool immediate_data;
	uint32_t max_outstanding_r2t;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_connections;       /* we support 1 */
	uint32_t error_recovery_level;  /* we support 0 */
	uint16_t tpgt;                  /* TargetPortalGroupTag of this portal group */
	const char *target_alias;       /* NULL: not declared */
};
void iscsi_target_prefs_default(struct iscsi_target_prefs *p);
/* Validate preferences from the config (ranges, FirstBurstLength <=
 * MaxBurstLength, what this target supports). 0, or -1 with a message. */
int iscsi_target_prefs_check(const struct iscsi_target_prefs *p, char *err, size_t errlen);

/* Negotiated values. Until a key is negotiated it holds the RFC default. */
struct iscsi_session_params {
	uint32_t header_digest;         /* enum iscsi_digest */
	uint32_t data_digest;
	uint32_t max_connections;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_recv_dsl;          /* what we receive (our declaration; 8192 if none) */
	uint32_t max_xmit_dsl;          /* what we send (the initiator's declaration) */
	uint32_t max_burst_length;
	uint32_t first_burst_length;    /* clamped to max_burst_length by iscsi_neg_finish */
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	uint32_t error_recovery_level;
	uint32_t session_type;          /* enum iscsi_session_kind */
	uint32_t auth_method;           /* enum iscsi_auth_method */
	uint32_t task_reporting;        /* enum iscsi_task_reporting */
	uint32_t protocol_level;        /* RFC 7144 iSCSIProtocolLevel */
	bool rdma_extensions;
	bool if_marker, of_marker;
	char initiator_name[ISCSI_NAME_MAX + 1];
	char target_name[ISCSI_NAME_MAX + 1];
	char initiator_alias[ISCSI_ALIAS_MAX + 1];
};
void iscsi_session_params_default(struct iscsi_session_params *p);

/* Where the text came from. */
enum iscsi_neg_stage {
	ISCSI_NEG_SECURITY,             /* Login Request, CSG = SecurityNegotiation */
	ISCSI_NEG_OPERATIONAL,          /* Login Request, CSG = LoginOperationalNegotiation */
	ISCSI_NEG_FULL_FEATURE,         /* Text Request in the full feature phase */
};

/* Table key ids (internal order also settles dependencies). */
enum iscsi_key_id {
	ISCSI_KEY_SESSION_TYPE, ISCSI_KEY_INITIATOR_NAME, ISCSI_KEY_TARGET_NAME,
	ISCSI_KEY_INITIATOR_ALIAS, ISCSI_KEY_TARGET_ALIAS, ISCSI_KEY_TARGET_ADDRESS,
	ISCSI_KEY_TPGT, ISCSI_KEY_AUTH_METHOD,
	ISCSI_KEY_CHAP_A, ISCSI_KEY_CHAP_I, ISCSI_KEY_CHAP_C, ISCSI_KEY_CHAP_N, ISCSI_KEY_CHAP_R,
	ISCSI_KEY_HEADER_DIGEST, ISCSI_KEY_DATA_DIGEST, ISCSI_KEY_MAX_CONNECTIONS,
	ISCSI_KEY_INITIAL_R2T, ISCSI_KEY_IMMEDIATE_DATA, ISCSI_KEY_MAX_RECV_DSL,
	ISCSI_KEY_MAX_BURST, ISCSI_KEY_FIRST_BURST, ISCSI_KEY_TIME2WAIT, ISCSI_KEY_TIME2RETAIN,
	ISCSI_KEY_MAX_OUTSTANDING_R2T, ISCSI_KEY_DATA_PDU_IN_ORDER, ISCSI_KEY_DATA_SEQ_IN_ORDER,
	ISCSI_KEY_ERL, ISCSI_KEY_TASK_REPORTING, ISCSI_KEY_PROTOCOL_LEVEL,
	ISCSI_KEY_RDMA_EXTENSIONS, ISCSI_KEY_IFMARKER, ISCSI_KEY_OFMARKER,
	ISCSI_KEY_IFMARKINT, ISCSI_KEY_OFMARKINT, ISCSI_KEY_SEND_TARGETS,
	ISCSI_KEY_COUNT
};
/* The table's key id for a name; -1 if unknown. */
int iscsi_key_lookup(const char *name);
const char *iscsi_key_name(enum iscsi_key_id id);

/* One negotiation (a login, then FFP text exchanges on the connection). */
struct iscsi_neg {
	const struct iscsi_target_prefs *prefs;
	struct iscsi_session_params params;
	bool leading;                   /* leading connection (TSIH 0) */
	unsigned int requests;          /* requests processed in this login / text exchange */
	bool declared_tpgt, declared_mrdsl;
	uint8_t state[ISCSI_KEY_COUNT]; /* internal per-key progress */
	/* SendTargets seen in the last FFP request (answer built by discovery). */
	bool send_targets;
	char send_targets_value[ISCSI_TEXT_VALUE_MAX + 1];
	/* Why the last call failed. */
	uint16_t status;                /* Login Response status (enum iscsi_login_status) */
	const char *reason;             /* for the log */
	char error_key[ISCSI_TEXT_KEY_MAX + 1];
};

void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_target_prefs *prefs,
		    bool leading);

/*
 * Process one logical text data segment from the initiator. `transit`: the
 * request asked to leave the stage (Login T bit / final Text Request); the
 * target then offers whatever of its own it still needs. Answers,
 * declarations and offers are appended to `rsp`.
 * Returns 0, or -1 with n->status (a Login status; in FFP the caller
 * answers with a Reject, protocol error), n->reason and n->error_key set.
 */
int iscsi_neg_process(struct iscsi_neg *n, enum iscsi_neg_stage stage, bool transit,
		      const struct iscsi_kv_list *req, struct iscsi_text_buf *rsp);

/* True when no offer of the target awaits an answer (the login layer may
 * then let the stage transit). */
bool iscsi_neg_complete(const struct iscsi_neg *n);
/* True when the target has offers to make that only the operational stage
 * can carry (the login layer then picks NSG = operational, not FFP). */
bool iscsi_neg_needs_operational(const struct iscsi_neg *n);
/* True when the AuthMethod in force (negotiated, or the default None) is
 * one the target allows; the login layer checks it before leaving the
 * security stage, or on a login that starts in the operational stage, and
 * fails with ISCSI_LOGIN_AUTH_FAILED otherwise. */
bool iscsi_neg_auth_acceptable(const struct iscsi_neg *n);
/* Apply cross-key rules (§13.14: FirstBurstLength <= MaxBurstLength) and
 * return the final values. */
const struct iscsi_session_params *iscsi_neg_finish(struct iscsi_neg *n);
/* Start a new FFP text negotiation (keys may be negotiated again). */
void iscsi_neg_start_text(struct iscsi_neg *n);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * CHAP for iSCSI login, target side (RFC 1994; RFC 7143 §12.1.3): the
 * target challenges the initiator (CHAP_A, CHAP_I, CHAP_C), verifies
 * CHAP_N/CHAP_R against configured credentials and, for mutual CHAP,
 * answers the initiator's own challenge with the target's credential.
 * Algorithm 5 (MD5) only. Secrets never leave this module, not even in the
 * reason strings meant for the log.
 */
#ifndef ISCSI_CHAP_H
#define ISCSI_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/md5.h"
#include "iscsi/text.h"

#define CHAP_ALGORITHM_MD5  5       /* RFC 1994 §4 / IANA: MD5 */
#define CHAP_CHALLENGE_LEN  16      /* bytes in our CHAP_C */
#define CHAP_SECRET_MIN     12      /* RFC 7143 §9.2.1: 96 bits without IPsec */
#define CHAP_SECRET_RECOMMENDED 16  /* implementations must support 128-bit secrets */
#define CHAP_SECRET_MAX     255
#define CHAP_NAME_MAX       255

struct chap_cred {
	const char *user;
	const char *secret;
};

struct chap_target_config {
	const struct chap_cred *creds;  /* initiator credentials we accept */
	size_t ncreds;
	const struct chap_cred *mutual; /* our answer to mutual CHAP; NULL: refuse it */
	bool require_mutual;            /* the initiator must authenticate us too */
};

/*
 * Check a secret from the config. Returns 0 if fine, 1 if accepted with a
 * warning (shorter than 16 bytes; message in err), -1 if refused (shorter
 * than 12 or longer than 255 bytes; message in err).
 */
int chap_secret_check(const char *secret, char *err, size_t errlen);
/* Check a whole target config: every secret, and §9.2.1: the mutual
 * secret must differ from every initiator secret. 0, or -1 with err. */
int chap_target_config_check(const struct chap_target_config *cfg, char *err, size_t errlen);

enum chap_state { CHAP_WAIT_ALGORITHM, CHAP_WAIT_RESPONSE, CHAP_DONE, CHAP_FAILED };

enum chap_result {
	CHAP_CONTINUE = 0,      /* answer in rsp, more exchanges to come */
	CHAP_SUCCESS = 1,       /* authenticated (rsp carries the mutual answer) */
	CHAP_FAILURE = -1,      /* status and reason set */
};

struct chap_target {
	const struct chap_target_config *cfg;
	enum chap_state state;
	uint8_t id;                             /* our CHAP_I */
	uint8_t challenge[CHAP_CHALLENGE_LEN];  /* our CHAP_C */
	char user[CHAP_NAME_MAX + 1];           /* CHAP_N, once authenticated */
	bool mutual;                            /* the initiator authenticated us */
	uint16_t status;                        /* Login status on failure */
	const char *reason;                     /* for the log, never secret */
};

void chap_target_init(struct chap_target *c, const struct chap_target_config *cfg);
/* Process the security-stage keys of one Login Request (after
 * iscsi_neg_process accepted them with AuthMethod=CHAP). */
int chap_target_step(struct chap_target *c, const struct iscsi_kv_list *req,
		     struct iscsi_text_buf *rsp);
/* Wipe the challenge (call when the login ends). */
void chap_target_clear(struct chap_target *c);

/* RFC 1994 §4.1: Response = MD5(Identifier || secret || Challenge). */
void chap_md5_response(uint8_t id, const void *secret, size_t secret_len,
		       const uint8_t *challenge, size_t challenge_len,
		       uint8_t out[NVB_MD5_LEN]);

#endif

/* SPDX-License-Identifier: MIT */
/* CHAP and mutual CHAP, target side (RFC 1994; RFC 7143 §9.2.1, §12.1.3). */
#include "iscsi/chap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "iscsi/pdu.h"

int chap_secret_check(const char *secret, char *err, size_t errlen)
{
	size_t len = secret ? strlen(secret) : 0;

	if (len < CHAP_SECRET_MIN) {
		snprintf(err, errlen, "CHAP secret is %zu bytes, at least %d are required",
			 len, CHAP_SECRET_MIN);
		return -1;
	}
	if (len > CHAP_SECRET_MAX) {
		snprintf(err, errlen, "CHAP secret longer than %d bytes", CHAP_SECRET_MAX);
		return -1;
	}
	if (len < CHAP_SECRET_RECOMMENDED) {
		snprintf(err, errlen, "CHAP secret is %zu bytes, %d or more are recommended",
			 len, CHAP_SECRET_RECOMMENDED);
		return 1;
	}
	return 0;
}

static int check_cred(const struct chap_cred *cr, char *err, size_t errlen)
{
	char why[96];

	if (!cr->user || !cr->user[0] || strlen(cr->user) > CHAP_NAME_MAX) {
		snprintf(err, errlen, "CHAP user name must be 1..%d bytes", CHAP_NAME_MAX);
		return -1;
	}
	if (chap_secret_check(cr->secret, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "user %s: %s", cr->user, why);
		return -1;
	}
	return 0;
}

int chap_target_config_check(const struct chap_target_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->ncreds; i++)
		if (check_cred(&cfg->creds[i], err, errlen))
			return -1;
	if (cfg->require_mutual && !cfg->mutual) {
		snprintf(err, errlen, "mutual CHAP required but no target credential configured");
		return -1;
	}
	if (!cfg->mutual)
		return 0;
	if (check_cred(cfg->mutual, err, errlen))
		return -1;
	for (size_t i = 0; i < cfg->ncreds; i++) {
		if (!strcmp(cfg->creds[i].secret, cfg->mutual->secret)) {
			snprintf(err, errlen, "the mutual CHAP secret must differ from the secret "
				 "of user %s", cfg->creds[i].user);
			return -1;
		}
	}
	return 0;
}

void chap_md5_response(uint8_t id, const void *secret, size_t secret_len,
		       const uint8_t *challenge, size_t challenge_len,
		       uint8_t out[NVB_MD5_LEN])
{
	struct nvb_md5 c;

	nvb_md5_init(&c);
	nvb_md5_update(&c, &id, 1);
	nvb_md5_update(&c, secret, secret_len);
	nvb_md5_update(&c, challenge, challenge_len);
	nvb_md5_final(&c, out);
}

/* Compare without leaking where the first difference is. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static int fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void chap_target_init(struct chap_target *c, const struct chap_target_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->state = CHAP_WAIT_ALGORITHM;
}

void chap_target_clear(struct chap_target *c)
{
	explicit_bzero(c->challenge, sizeof(c->challenge));
}

static int chap_fail(struct chap_target *c, uint16_t status, const char *reason)
{
	c->state = CHAP_FAILED;
	c->status = status;
	c->reason = reason;
	c->user[0] = '\0';     /* nobody is authenticated by a failed exchange */
	c->mutual = false;
	chap_target_clear(c);
	return CHAP_FAILURE;
}

static const char *value_of(const struct iscsi_kv_list *req, const char *key)
{
	const struct iscsi_kv *kv = iscsi_kv_find(req, key);
	return kv ? kv->value : NULL;
}

/* §12.1.3: CHAP_A=<A1,A2,...>; we pick 5 and send CHAP_I and CHAP_C. */
static int step_algorithm(struct chap_target *c, const char *algs, struct iscsi_text_buf *rsp)
{
	char hex[2 * CHAP_CHALLENGE_LEN + 3];
	const char *cur = algs, *item;
	bool md5 = false;
	size_t len;

	while (iscsi_text_list_next(&cur, &item, &len)) {
		char num[24];
		uint64_t a;

		if (len == 0 || len >= sizeof(num))
			continue;
		memcpy(num, item, len);
		num[len] = '\0';
		if (!iscsi_text_parse_u64(num, &a) && a == CHAP_ALGORITHM_MD5)
			md5 = true;
	}
	if (!md5)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "no supported CHAP algorithm offered");
	if (fill_random(&c->id, 1) || fill_random(c->challenge, sizeof(c->challenge)))
		return chap_fail(c, ISCSI_LOGIN_TARGET_ERROR, "no random bytes for the challenge");
	iscsi_text_hex(hex, c->challenge, sizeof(c->challenge));
	iscsi_text_add_u64(rsp, "CHAP_A", CHAP_ALGORITHM_MD5);
	/* Decimal CHAP_I: some initiators (libiscsi) only read decimal. */
	iscsi_text_add_u64(rsp, "CHAP_I", c->id);
	iscsi_text_add(rsp, "CHAP_C", hex);
	c->state = CHAP_WAIT_RESPONSE;
	return CHAP_CONTINUE;
}

static const struct chap_cred *find_cred(const struct chap_target *c, const char *user)
{
	for (size_t i = 0; i < c->cfg->ncreds; i++)
		if (!strcmp(c->cfg->creds[i].user, user))
			return &c->cfg->creds[i];
	return NULL;
}

/* Verify the initiator's CHAP_N/CHAP_R against our challenge. */
static int verify_initiator(struct chap_target *c, const char *user, const char *resp_text)
{
	/* Same work for unknown users, so timing does not reveal which exist. */
	static const char no_such_user[] = "nvbridge: no such CHAP user";
	const struct chap_cred *cr = find_cred(c, user);
	const char *secret = cr ? cr->secret : no_such_user;
	uint8_t got[NVB_MD5_LEN], want[NVB_MD5_LEN], mine[NVB_MD5_LEN];
	size_t len;
	bool ok;

	if (iscsi_text_parse_binary(resp_text, got, sizeof(got), &len) || len != NVB_MD5_LEN)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "malformed CHAP_R");
	chap_md5_response(c->id, secret, strlen(secret), c->challenge, sizeof(c->challenge), want);
	ok = equal_ct(got, want, sizeof(got));
	explicit_bzero(want, sizeof(want));
	if (!cr)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "unknown CHAP user");
	if (!ok)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "wrong CHAP response");
	/* §9.2.1: a response equal to the one we would compute with our own
	 * (mutual) secret means one secret is used in both directions. */
	if (c->cfg->mutual) {
		const char *ts = c->cfg->mutual->secret;
		chap_md5_response(c->id, ts, strlen(ts), c->challenge, sizeof(c->challenge), mine);
		ok = equal_ct(got, mine, sizeof(got));
		explicit_bzero(mine, sizeof(mine));
		if (ok)
			return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED,
					 "initiator uses the target's CHAP secret");
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	return CHAP_CONTINUE;
}

/* Mutual CHAP: answer the initiator's CHAP_I/CHAP_C with our credential. */
static int answer_mutual(struct chap_target *c, const char *id_text, const char *chal_text,
			 struct iscsi_text_buf *rsp)
{
	const struct chap_cred *me = c->cfg->mutual;
	uint8_t chal[ISCSI_TEXT_BINARY_MAX], r[NVB_MD5_LEN];
	char hex[2 * NVB_MD5_LEN + 3];
	uint64_t id;
	size_t len;

	if (!id_text || !chal_text)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "mutual CHAP needs CHAP_I and CHAP_C");
	if (!me)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "mutual CHAP not configured");
	if (iscsi_text_parse_u64(id_text, &id) || id > 255)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "malformed CHAP_I");
	if (iscsi_text_parse_binary(chal_text, chal, sizeof(chal), &len) || len == 0)
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "malformed CHAP_C");
	/* §9.2.1/§12.1.3: never answer our own challenge reflected back. */
	if (len == sizeof(c->challenge) && !memcmp(chal, c->challenge, len))
		return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "reflected CHAP challenge");
	chap_md5_response((uint8_t)id, me->secret, strlen(me->secret), chal, len, r);
	iscsi_text_hex(hex, r, sizeof(r));
	explicit_bzero(r, sizeof(r));
	iscsi_text_add(rsp, "CHAP_N", me->user);
	iscsi_text_add(rsp, "CHAP_R", hex);
	c->mutual = true;
	return CHAP_CONTINUE;
}

int chap_target_step(struct chap_target *c, const struct iscsi_kv_list *req,
		     struct iscsi_text_buf *rsp)
{
	const char *a = value_of(req, "CHAP_A"), *n = value_of(req, "CHAP_N");
	const char *r = value_of(req, "CHAP_R"), *i = value_of(req, "CHAP_I");
	const char *ch = value_of(req, "CHAP_C");
	int rc;

	switch (c->state) {
	case CHAP_WAIT_ALGORITHM:
		if (n || r || i || ch)
			return chap_fail(c, ISCSI_LOGIN_INITIATOR_ERROR,
					 "CHAP response before the challenge");
		/* AuthMethod alone: the algorithm comes in the next request. */
		return a ? step_algorithm(c, a, rsp) : CHAP_CONTINUE;
	case CHAP_WAIT_RESPONSE:
		if (a)
			return chap_fail(c, ISCSI_LOGIN_INITIATOR_ERROR, "CHAP_A sent twice");
		if (!n || !r)
			return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED, "missing CHAP_N or CHAP_R");
		rc = verify_initiator(c, n, r);
		if (rc)
			return rc;
		if (i || ch) {
			rc = answer_mutual(c, i, ch, rsp);
			if (rc)
				return rc;
		} else if (c->cfg->require_mutual) {
			return chap_fail(c, ISCSI_LOGIN_AUTH_FAILED,
					 "initiator did not request mutual CHAP");
		}
		c->state = CHAP_DONE;
		chap_target_clear(c);
		return CHAP_SUCCESS;
	case CHAP_DONE:
		if (a || n || r || i || ch)
			return chap_fail(c, ISCSI_LOGIN_INITIATOR_ERROR, "CHAP keys after success");
		return CHAP_SUCCESS;
	default:
		return CHAP_FAILURE;
	}
}

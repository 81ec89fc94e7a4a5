/* SPDX-License-Identifier: MIT */
/* iSCSI login phase and SendTargets, target side (RFC 7143 §6.3, §11.12,
 * §11.13, §13.3, Appendix C). See login.h for what is in and out. */
#include "iscsi/login.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum login_phase { PHASE_LOGIN, PHASE_DONE, PHASE_FAILED };

/* ---- logging --------------------------------------------------------------- */

/* Names come from the network: keep control characters out of the log. */
static void sanitize(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < len; src++)
		dst[i++] = (*src < 0x20 || *src == 0x7f) ? '?' : *src;
	dst[i] = '\0';
}

static void login_log(struct iscsi_login *l, enum nvb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void login_log(struct iscsi_login *l, enum nvb_log_level level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->env->log)
		l->env->log(l->env->ctx, level, msg);
	else
		nvb_log(level, "%s", msg);
}

/* ---- responses ------------------------------------------------------------- */

static uint32_t queue_depth(const struct iscsi_login *l)
{
	return l->conn.queue_depth ? l->conn.queue_depth : ISCSI_LOGIN_QUEUE_DEPTH;
}

static void respond(struct iscsi_login *l, const struct iscsi_login_req *req, uint8_t flags,
		    uint16_t tsih, uint16_t status, bool with_text, struct iscsi_login_pdu *out)
{
	struct iscsi_sn sn = {
		.statsn = l->statsn++,
		.expcmdsn = l->cmdsn,
		.maxcmdsn = l->cmdsn + queue_depth(l) - 1,
	};
	uint32_t len = with_text ? (uint32_t)l->tx.len : 0;

	iscsi_build_login_rsp(&out->bhs, req, flags, tsih, &sn, status, len);
	out->data = len ? l->tx.data : NULL;
	out->dlen = len;
}

/* A login reject (§11.13.5): no text, then the connection is closed. */
static int login_fail(struct iscsi_login *l, const struct iscsi_login_req *req, uint16_t status,
		      const char *reason, struct iscsi_login_pdu *out)
{
	const struct iscsi_session_params *p = &l->neg.params;
	char who[ISCSI_NAME_MAX + 1], what[ISCSI_NAME_MAX + 1];

	sanitize(who, sizeof(who), p->initiator_name[0] ? p->initiator_name : "?");
	sanitize(what, sizeof(what), l->result.target ? l->result.target->iqn :
		 p->session_type == ISCSI_STYPE_DISCOVERY ? "discovery" :
		 p->target_name[0] ? p->target_name : "?");
	login_log(l, NVB_LOG_WARN, "iscsi: login from %s to %s (portal group %u) failed: "
		  "%s (0x%04x): %s", who, what, l->conn.tpgt, iscsi_login_status_name(status),
		  status, reason);
	l->phase = PHASE_FAILED;
	l->result.status = status;
	l->result.reason = reason;
	chap_target_clear(&l->chap);
	respond(l, req, iscsi_login_flags(false, false, l->stage, 0), be16toh(req->tsih),
		status, false, out);
	return ISCSI_LOGIN_RX_FAILED;
}

/* ---- session setup from the first complete request ---------------------------- */

static const char *kv_value(const struct iscsi_kv_list *kvs, const char *key)
{
	const struct iscsi_kv *kv = iscsi_kv_find(kvs, key);

	return kv ? kv->value : NULL;
}

/* §13.4, §13.5, §13.21: who logs in to what. Returns 0 or a Login status. */
static uint16_t setup_session(struct iscsi_login *l, const char **why)
{
	const char *stype = kv_value(&l->kvs, "SessionType");
	const char *iname = kv_value(&l->kvs, "InitiatorName");
	const char *tname = kv_value(&l->kvs, "TargetName");
	const struct iscsi_config *cfg = l->env->config(l->env->ctx);
	bool discovery = stype && !strcmp(stype, "Discovery");
	const struct iscsi_target_conf *t = NULL;

	if (stype && !discovery && strcmp(stype, "Normal") != 0) {
		*why = "unknown SessionType";
		return ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED;
	}
	if (!iname || !iname[0]) {
		*why = "no InitiatorName in the first Login Request";
		return ISCSI_LOGIN_MISSING_PARAMETER;
	}
	/* For the log, before the negotiation records it. */
	snprintf(l->neg.params.initiator_name, sizeof(l->neg.params.initiator_name), "%s", iname);
	if (!discovery) {
		if (!tname || !tname[0]) {
			*why = "no TargetName for a Normal session";
			return ISCSI_LOGIN_MISSING_PARAMETER;
		}
		snprintf(l->neg.params.target_name, sizeof(l->neg.params.target_name), "%s", tname);
		t = iscsi_config_find_target(cfg, tname);
		if (!t) {
			*why = "no such target";
			return ISCSI_LOGIN_NOT_FOUND;
		}
		if (!iscsi_target_has_pg(t, l->conn.tpgt)) {
			*why = "target not reachable through this portal group";
			return ISCSI_LOGIN_NOT_FOUND;
		}
		l->result.target = t;
		if (!iscsi_target_allows(t, iname)) {
			*why = "initiator not in the target's allow-list";
			return ISCSI_LOGIN_AUTHORIZATION_FAILED;
		}
		l->auth = &t->auth;
	} else {
		l->auth = cfg ? &cfg->discovery_auth : NULL;
	}
	iscsi_target_prefs_default(&l->prefs);
	l->prefs.tpgt = l->conn.tpgt;
	/* CHAP configured: it is required; otherwise no authentication. */
	l->prefs.auth_methods = l->auth && l->auth->ncreds ? ISCSI_MASK(ISCSI_AUTH_CHAP) :
				ISCSI_MASK(ISCSI_AUTH_NONE);
	if (l->auth && l->auth->ncreds)
		chap_target_init(&l->chap, &l->auth->chap);
	iscsi_neg_init(&l->neg, &l->prefs, l->result.tsih == 0);
	l->setup_done = true;
	/* §6.3: a login that skips the security stage has AuthMethod None. */
	if (l->stage == ISCSI_STAGE_OPERATIONAL && !iscsi_neg_auth_acceptable(&l->neg)) {
		*why = "authentication required but the security stage was skipped";
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	return 0;
}

/* ---- the final response ------------------------------------------------------ */

static int login_done(struct iscsi_login *l, const struct iscsi_login_req *req,
		      struct iscsi_login_pdu *out)
{
	struct iscsi_login_result *r = &l->result;
	char who[ISCSI_NAME_MAX + 1];

	if (r->tsih == 0) {
		r->tsih = l->env->alloc_tsih(l->env->ctx);
		if (r->tsih == 0)
			return login_fail(l, req, ISCSI_LOGIN_OUT_OF_RESOURCES,
					  "no free session handle", out);
	}
	r->params = iscsi_neg_finish(&l->neg);
	r->kind = (enum iscsi_session_kind)r->params->session_type;
	r->authenticated = l->chap.state == CHAP_DONE;
	if (r->authenticated)
		snprintf(r->chap_user, sizeof(r->chap_user), "%s", l->chap.user);
	respond(l, req, iscsi_login_flags(true, false, l->stage, ISCSI_STAGE_FULL_FEATURE),
		r->tsih, ISCSI_LOGIN_OK, true, out);
	r->expcmdsn = l->cmdsn;
	r->maxcmdsn = l->cmdsn + queue_depth(l) - 1;
	r->statsn = l->statsn;
	l->phase = PHASE_DONE;
	sanitize(who, sizeof(who), r->params->initiator_name);
	login_log(l, NVB_LOG_INFO, "iscsi: %s logged in to %s (portal group %u, TSIH %u%s%s)",
		  who, r->target ? r->target->iqn : "discovery", l->conn.tpgt, r->tsih,
		  r->authenticated ? ", CHAP user " : "", r->authenticated ? r->chap_user : "");
	return ISCSI_LOGIN_RX_DONE;
}

/* ---- stages ------------------------------------------------------------------- */

static int neg_fail(struct iscsi_login *l, const struct iscsi_login_req *req,
		    struct iscsi_login_pdu *out)
{
	snprintf(l->reason, sizeof(l->reason), "%s%s%s", l->neg.error_key, l->neg.error_key[0] ? ": " : "",
		 l->neg.reason ? l->neg.reason : "negotiation failed");
	return login_fail(l, req, l->neg.status ? l->neg.status : ISCSI_LOGIN_INITIATOR_ERROR,
			  l->reason, out);
}

/* §6.3.1 and §12.1: AuthMethod, then CHAP until it succeeds. */
static int security_stage(struct iscsi_login *l, const struct iscsi_login_req *req, bool transit,
			  uint8_t nsg, struct iscsi_login_pdu *out)
{
	if (iscsi_neg_process(&l->neg, ISCSI_NEG_SECURITY, transit, &l->kvs, &l->tx))
		return neg_fail(l, req, out);
	if (l->neg.params.auth_method == ISCSI_AUTH_CHAP) {
		int rc = chap_target_step(&l->chap, &l->kvs, &l->tx);

		if (rc == CHAP_FAILURE)
			return login_fail(l, req, l->chap.status, l->chap.reason, out);
		l->auth_ok = rc == CHAP_SUCCESS;
	} else {
		l->auth_ok = iscsi_neg_auth_acceptable(&l->neg);
	}
	if (l->tx.failed)
		return login_fail(l, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "response too large", out);
	if (!transit || (!l->auth_ok && l->neg.params.auth_method == ISCSI_AUTH_CHAP)) {
		/* §6.3: the target may hold the initiator in the stage (T=0)
		 * while the CHAP exchange is still going on. */
		respond(l, req, iscsi_login_flags(false, false, ISCSI_STAGE_SECURITY, 0),
			l->result.tsih, ISCSI_LOGIN_OK, true, out);
		return ISCSI_LOGIN_RX_CONTINUE;
	}
	if (!l->auth_ok)
		return login_fail(l, req, ISCSI_LOGIN_AUTH_FAILED,
				  "authentication required (AuthMethod=CHAP)", out);
	/* Straight to FFP only when the target has nothing to negotiate;
	 * otherwise it answers with NSG = operational (§6.3: the target
	 * picks the next stage, never beyond the initiator's). */
	if (nsg == ISCSI_STAGE_FULL_FEATURE && iscsi_neg_needs_operational(&l->neg))
		nsg = ISCSI_STAGE_OPERATIONAL;
	if (nsg == ISCSI_STAGE_FULL_FEATURE)
		return login_done(l, req, out);
	respond(l, req, iscsi_login_flags(true, false, ISCSI_STAGE_SECURITY, nsg),
		l->result.tsih, ISCSI_LOGIN_OK, true, out);
	l->stage = nsg;
	return ISCSI_LOGIN_RX_CONTINUE;
}

/* §6.3.2: operational keys until both sides transit to FFP. */
static int operational_stage(struct iscsi_login *l, const struct iscsi_login_req *req,
			     bool transit, struct iscsi_login_pdu *out)
{
	if (iscsi_neg_process(&l->neg, ISCSI_NEG_OPERATIONAL, transit, &l->kvs, &l->tx))
		return neg_fail(l, req, out);
	if (transit && iscsi_neg_complete(&l->neg))
		return login_done(l, req, out);
	/* Our offers await answers (or the initiator did not ask to leave). */
	respond(l, req, iscsi_login_flags(false, false, ISCSI_STAGE_OPERATIONAL, 0),
		l->result.tsih, ISCSI_LOGIN_OK, true, out);
	return ISCSI_LOGIN_RX_CONTINUE;
}

/* ---- entry points ---------------------------------------------------------------- */

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_env *env,
		      const struct iscsi_login_conn *conn)
{
	memset(l, 0, sizeof(*l));
	l->env = env;
	l->conn = *conn;
	l->statsn = conn->initial_statsn;
	l->phase = PHASE_LOGIN;
	iscsi_target_prefs_default(&l->prefs);
	iscsi_neg_init(&l->neg, &l->prefs, true);
	iscsi_text_accum_init(&l->rx, ISCSI_TEXT_TOTAL_MAX);
	/* §13.12: during login nothing longer than 8192 bytes is sent. */
	iscsi_text_buf_init(&l->tx, ISCSI_LOGIN_MAX_DSL);
}

void iscsi_login_free(struct iscsi_login *l)
{
	chap_target_clear(&l->chap);
	iscsi_text_accum_free(&l->rx);
	iscsi_text_buf_free(&l->tx);
}

const struct iscsi_login_result *iscsi_login_result(const struct iscsi_login *l)
{
	return &l->result;
}

/* The first request fixes version, ISID, TSIH and CID; later ones must
 * carry the same (§11.12.4: same Version-max/min in the whole phase). */
static int check_identity(struct iscsi_login *l, const struct iscsi_login_req *req,
			  struct iscsi_login_pdu *out)
{
	struct iscsi_login_result *r = &l->result;
	uint16_t tsih = be16toh(req->tsih);

	if (!l->started) {
		l->started = true;
		l->version_max = req->version_max;
		l->version_min = req->version_min;
		memcpy(r->isid, req->isid, sizeof(r->isid));
		r->tsih = tsih;
		r->cid = be16toh(req->cid);
		l->stage = iscsi_login_csg(req->flags);
		/* §11.12.4: we speak version 0 only. */
		if (req->version_min > ISCSI_VERSION || req->version_max < req->version_min)
			return login_fail(l, req, ISCSI_LOGIN_UNSUPPORTED_VERSION,
					  "no common protocol version", out);
		if (tsih) {
			bool exists = l->env->session_exists &&
				      l->env->session_exists(l->env->ctx, req->isid, tsih);

			return login_fail(l, req, exists ? ISCSI_LOGIN_CANT_INCLUDE_IN_SESSION :
					  ISCSI_LOGIN_SESSION_DOES_NOT_EXIST, exists ?
					  "MaxConnections=1: no connection can be added" :
					  "no session with this TSIH", out);
		}
		return 0;
	}
	if (req->version_max != l->version_max || req->version_min != l->version_min ||
	    memcmp(req->isid, r->isid, sizeof(r->isid)) != 0 || tsih != r->tsih ||
	    be16toh(req->cid) != r->cid)
		return login_fail(l, req, ISCSI_LOGIN_INITIATOR_ERROR,
				  "version, ISID, TSIH or CID changed during login", out);
	if (iscsi_login_csg(req->flags) != l->stage)
		return login_fail(l, req, ISCSI_LOGIN_INITIATOR_ERROR,
				  "Login Request out of order (wrong CSG)", out);
	return 0;
}

int iscsi_login_rx(struct iscsi_login *l, const void *bhs, const void *data, uint32_t dlen,
		   struct iscsi_login_pdu *out)
{
	const struct iscsi_login_req *req = bhs;
	const struct iscsi_conn_limits lim = { .max_recv_dsl = ISCSI_LOGIN_MAX_DSL };
	struct iscsi_bhs_verdict v;
	bool transit = req->flags & ISCSI_LOGIN_FLAG_TRANSIT;
	uint16_t status;
	const char *why = NULL;
	size_t bad;
	int rc;

	memset(out, 0, sizeof(*out));
	iscsi_text_buf_reset(&l->tx);
	l->cmdsn = be32toh(req->cmdsn);
	if (l->phase != PHASE_LOGIN)
		return login_fail(l, req, ISCSI_LOGIN_INVALID_DURING_LOGIN,
				  "Login Request after the login ended", out);
	if (iscsi_bhs_check(bhs, &lim, &v))
		return login_fail(l, req, v.login_status, v.why, out);
	if (iscsi_bhs_opcode(bhs) != ISCSI_OP_LOGIN_REQ)
		return login_fail(l, req, ISCSI_LOGIN_INVALID_DURING_LOGIN,
				  "not a Login Request", out);
	if (dlen != iscsi_bhs_dlength(bhs))
		return login_fail(l, req, ISCSI_LOGIN_INITIATOR_ERROR,
				  "data segment length mismatch", out);
	rc = check_identity(l, req, out);
	if (rc)
		return rc;
	if (iscsi_text_accum_add(&l->rx, data, dlen) != ISCSI_TEXT_OK)
		return login_fail(l, req, ISCSI_LOGIN_INITIATOR_ERROR, "login text too large", out);
	if (req->flags & ISCSI_FLAG_CONTINUE) {
		/* §6.1: each part of a continued text is acknowledged with an
		 * empty response; the keys are processed once complete. */
		respond(l, req, iscsi_login_flags(false, false, l->stage, 0), l->result.tsih,
			ISCSI_LOGIN_OK, false, out);
		return ISCSI_LOGIN_RX_CONTINUE;
	}
	rc = iscsi_text_parse(l->rx.buf, l->rx.len, &l->kvs, &bad);
	if (rc != ISCSI_TEXT_OK)
		return login_fail(l, req, ISCSI_LOGIN_INITIATOR_ERROR, iscsi_text_err_name(rc), out);
	if (!l->setup_done) {
		status = setup_session(l, &why);
		if (status)
			return login_fail(l, req, status, why, out);
	}
	if (l->stage == ISCSI_STAGE_SECURITY)
		rc = security_stage(l, req, transit, iscsi_login_nsg(req->flags), out);
	else
		rc = operational_stage(l, req, transit, out);
	iscsi_text_accum_reset(&l->rx);
	return rc;
}

/* ---- full feature phase text, SendTargets -------------------------------------- */

static bool is_wildcard(const char *addr)
{
	static const struct in6_addr zero;
	struct in6_addr bin;

	if (inet_pton(AF_INET, addr, &bin) == 1)
		return !memcmp(&bin, &zero, 4);
	return inet_pton(AF_INET6, addr, &bin) == 1 && !memcmp(&bin, &zero, 16);
}

static int family_of(const char *addr)
{
	struct in6_addr bin;

	return inet_pton(AF_INET, addr, &bin) == 1 ? AF_INET :
	       inet_pton(AF_INET6, addr, &bin) == 1 ? AF_INET6 : -1;
}

static void add_target(const struct iscsi_config *cfg, const struct iscsi_target_conf *t,
		       const char *local_addr, struct iscsi_text_buf *out)
{
	iscsi_text_add(out, "TargetName", t->iqn);
	for (int i = 0; i < t->npg_tags; i++) {
		const struct iscsi_portal_group_conf *g = iscsi_config_find_pg(cfg, t->pg_tags[i]);

		for (int j = 0; g && j < g->nportals; j++) {
			const struct iscsi_portal_conf *p = &g->portals[j];
			const char *host = p->advertise ? p->advertise : p->addr;
			unsigned int port = p->advertise ? p->advertise_port : p->port;

			if (!p->advertise && is_wildcard(p->addr)) {
				if (!local_addr || family_of(local_addr) != p->family)
					continue;
				host = local_addr;
			}
			iscsi_text_addf(out, "TargetAddress", strchr(host, ':') ? "[%s]:%u,%u" :
					"%s:%u,%u", host, port, g->tag);
		}
	}
}

int iscsi_send_targets(const struct iscsi_config *cfg, const char *value,
		       const char *initiator, enum iscsi_session_kind kind,
		       const char *session_target, const char *local_addr,
		       struct iscsi_text_buf *out)
{
	const struct iscsi_target_conf *t;

	if (kind == ISCSI_STYPE_DISCOVERY && !strcmp(value, "All")) {
		for (int i = 0; cfg && i < cfg->ntargets; i++)
			if (iscsi_target_allows(&cfg->targets[i], initiator))
				add_target(cfg, &cfg->targets[i], local_addr, out);
		return out->failed ? -1 : 0;
	}
	/* §13.3: "All" only in discovery sessions; in a normal session the
	 * empty value names the session's target. */
	if (!strcmp(value, "All") || (!value[0] && kind == ISCSI_STYPE_DISCOVERY))
		return iscsi_text_add(out, "SendTargets", "Reject");
	if (!value[0])
		value = session_target;
	t = iscsi_config_find_target(cfg, value);
	if (t && iscsi_target_allows(t, initiator) &&
	    (kind == ISCSI_STYPE_DISCOVERY || !strcasecmp(value, session_target)))
		add_target(cfg, t, local_addr, out);
	return out->failed ? -1 : 0;
}

int iscsi_login_text(struct iscsi_login *l, const void *data, uint32_t len,
		     struct iscsi_text_buf *out)
{
	const struct iscsi_session_params *p = &l->neg.params;

	if (l->phase != PHASE_DONE)
		return -1;
	iscsi_text_accum_reset(&l->rx);
	if (iscsi_text_accum_add(&l->rx, data, len) != ISCSI_TEXT_OK ||
	    iscsi_text_parse(l->rx.buf, l->rx.len, &l->kvs, NULL) != ISCSI_TEXT_OK)
		return -1;
	iscsi_neg_start_text(&l->neg);
	if (iscsi_neg_process(&l->neg, ISCSI_NEG_FULL_FEATURE, true, &l->kvs, out))
		return -1;
	if (!l->neg.send_targets)
		return 0;
	return iscsi_send_targets(l->env->config(l->env->ctx), l->neg.send_targets_value,
				  p->initiator_name, (enum iscsi_session_kind)p->session_type,
				  p->target_name, l->conn.local_addr, out);
}

/* SPDX-License-Identifier: MIT */
/*
 * The `iscsi` config section: parse (with FILE:LINE errors), validate
 * against the core config, write back, free. Format: docs/config.md.
 */
#include "iscsi/iscsi_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "bridge/log.h"
#include "iscsi/params.h"

/* ---- names and addresses -------------------------------------------------- */

static bool all_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return p[n] == '\0';
}

/* RFC 7143 §4.2.7.1-§4.2.7.3 (type designators) and RFC 3722 (after
 * stringprep only lower-case ASCII letters, digits, '-', '.' and ':'). */
int iscsi_name_check(const char *name, char *why, size_t whylen)
{
	const char *reason = NULL;
	size_t len = strlen(name);

	if (len > ISCSI_NAME_MAX) {
		reason = "it is longer than the 223 bytes iSCSI allows";
	} else if (!strncmp(name, "eui.", 4)) {
		if (!all_hex(name + 4, 16))
			reason = "an eui. name has exactly 16 hex digits";
	} else if (!strncmp(name, "naa.", 4)) {
		if (!all_hex(name + 4, 16) && !all_hex(name + 4, 32))
			reason = "a naa. name has 16 or 32 hex digits";
	} else if (!strncmp(name, "iqn.", 4)) {
		const char *p = name + 4;
		int month;

		for (int i = 0; i < 7 && !reason; i++)
			if (i == 4 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
				reason = "an iqn. name continues with the date YYYY-MM";
		month = reason ? 0 : (p[5] - '0') * 10 + (p[6] - '0');
		if (!reason && (month < 1 || month > 12))
			reason = "the month of the iqn. date must be 01..12";
		else if (!reason && (p[7] != '.' || !isalnum((unsigned char)p[8])))
			reason = "an iqn. name needs a reversed domain name after the date";
		for (p = name; !reason && *p; p++)
			if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
			    *p != '-' && *p != '.' && *p != ':')
				reason = "iqn. names contain only lower-case letters, digits, "
					 "'-', '.' and ':'";
	} else {
		reason = "it does not start with iqn., eui. or naa.";
	}
	if (!reason)
		return 0;
	snprintf(why, whylen, "%s", reason);
	return -1;
}

static int numeric_family(const char *addr)
{
	struct in6_addr bin;

	if (inet_pton(AF_INET, addr, &bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, addr, &bin) == 1)
		return AF_INET6;
	return -1;
}

/* Split "host[:port]", "[v6][:port]" or a bare IPv6 address. */
static int split_host_port(const char *text, char *host, size_t hostlen, long *port)
{
	const char *colon, *end;
	size_t n;

	*port = -1;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end)
			return -1;
		n = (size_t)(end - text - 1);
		text++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return -1;
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;   /* a bare IPv6 address */
		n = colon ? (size_t)(colon - text) : strlen(text);
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	if (colon) {
		char *e;

		if (!isdigit((unsigned char)colon[1]))
			return -1;
		*port = strtol(colon + 1, &e, 10);
		if (*e || *port < 1 || *port > 65535)
			return -1;
	}
	return 0;
}

int iscsi_portal_parse(const char *text, char *addr, size_t addrlen, uint16_t *port,
		       int *family)
{
	long p;

	if (split_host_port(text, addr, addrlen, &p))
		return -1;
	*family = numeric_family(addr);
	if (*family < 0)
		return -1;
	/* An IPv6 address with a port must be bracketed (RFC 3986 style). */
	if (*family == AF_INET6 && text[0] != '[' && p >= 0)
		return -1;
	*port = p < 0 ? ISCSI_DEFAULT_PORT : (uint16_t)p;
	return 0;
}

/* A DNS name (RFC 1123 letters, digits, '-', '.'), for advertise. */
static bool is_dns_name(const char *h)
{
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return isalnum((unsigned char)h[0]);
}

/* ---- lookups -------------------------------------------------------------- */

const struct iscsi_config *iscsi_config_get(const struct nvb_config *cfg)
{
	return cfg ? nvb_config_section(cfg, iscsi_config_section.name) : NULL;
}

const struct iscsi_target_conf *iscsi_config_find_target(const struct iscsi_config *cfg,
							  const char *iqn)
{
	for (int i = 0; cfg && i < cfg->ntargets; i++)
		if (cfg->targets[i].iqn && !strcasecmp(cfg->targets[i].iqn, iqn))
			return &cfg->targets[i];
	return NULL;
}

const struct iscsi_portal_group_conf *iscsi_config_find_pg(const struct iscsi_config *cfg,
							    uint16_t tag)
{
	for (int i = 0; cfg && i < cfg->npgs; i++)
		if (cfg->pgs[i].tag == tag)
			return &cfg->pgs[i];
	return NULL;
}

bool iscsi_target_has_pg(const struct iscsi_target_conf *t, uint16_t tag)
{
	for (int i = 0; i < t->npg_tags; i++)
		if (t->pg_tags[i] == tag)
			return true;
	return false;
}

bool iscsi_target_allows(const struct iscsi_target_conf *t, const char *initiator)
{
	if (!t->initiators)
		return true;
	for (int i = 0; i < t->ninitiators; i++)
		if (!strcasecmp(t->initiators[i], initiator))
			return true;
	return false;
}

int iscsi_target_lun_to_nsid(const struct iscsi_target_conf *t, uint32_t lun, uint32_t *nsid)
{
	if (t->default_luns) {
		if (lun > ISCSI_MAX_LUN)
			return -1;
		*nsid = lun + 1;
		return 0;
	}
	for (int i = 0; i < t->nluns; i++) {
		if (t->luns[i].lun == lun) {
			*nsid = t->luns[i].nsid;
			return 0;
		}
	}
	return -1;
}

int iscsi_target_nsid_to_lun(const struct iscsi_target_conf *t, uint32_t nsid, uint32_t *lun)
{
	if (t->default_luns) {
		if (nsid == 0 || nsid - 1 > ISCSI_MAX_LUN)
			return -1;
		*lun = nsid - 1;
		return 0;
	}
	for (int i = 0; i < t->nluns; i++) {
		if (t->luns[i].nsid == nsid) {
			*lun = t->luns[i].lun;
			return 0;
		}
	}
	return -1;
}

/* ---- freeing -------------------------------------------------------------- */

static void free_secret(const char *s)
{
	if (s) {
		explicit_bzero((char *)s, strlen(s));
		free((char *)s);
	}
}

static void auth_clear(struct iscsi_auth_conf *a)
{
	for (size_t i = 0; i < a->ncreds; i++) {
		free((char *)a->creds[i].user);
		free_secret(a->creds[i].secret);
	}
	free(a->creds);
	free((char *)a->mutual.user);
	free_secret(a->mutual.secret);
	memset(a, 0, sizeof(*a));
}

static void iscsi_config_free(void *state)
{
	struct iscsi_config *ic = state;

	if (!ic)
		return;
	for (int i = 0; i < ic->npgs; i++) {
		for (int j = 0; j < ic->pgs[i].nportals; j++) {
			free(ic->pgs[i].portals[j].addr);
			free(ic->pgs[i].portals[j].advertise);
		}
		free(ic->pgs[i].portals);
	}
	free(ic->pgs);
	for (int i = 0; i < ic->ntargets; i++) {
		struct iscsi_target_conf *t = &ic->targets[i];

		free(t->iqn);
		free(t->subsystem);
		free(t->pg_tags);
		free(t->luns);
		for (int j = 0; j < t->ninitiators; j++)
			free(t->initiators[j]);
		free(t->initiators);
		auth_clear(&t->auth);
	}
	free(ic->targets);
	auth_clear(&ic->discovery_auth);
	free(ic);
}

/* ---- parsing helpers ---------------------------------------------------- */

struct pctx {
	const struct nvb_config *cfg;
	struct iscsi_config *ic;
	char *err;
	size_t errlen;
	char scope[ISCSI_NAME_MAX + 40];
};

static void report(struct pctx *pc, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct pctx *pc, const config_setting_t *s, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nvb_config_errorf(pc->cfg, s, pc->err, pc->errlen, "iscsi%s%s: %s",
			  pc->scope[0] ? " " : "", pc->scope, msg);
}

/* Report, then -1: a macro so that the -1 shows at each caller (the static
 * analyzer does not follow the return value of a variadic function). */
#define fail(pc, s, ...) (report((pc), (s), __VA_ARGS__), -1)

static void warn(struct pctx *pc, const config_setting_t *s, const char *msg)
{
	nvb_warn("%s:%d: iscsi%s%s: %s", pc->cfg->path ? pc->cfg->path : "config",
		 s ? (int)config_setting_source_line(s) : 0, pc->scope[0] ? " " : "",
		 pc->scope, msg);
}

/* Every member of group g must be one of `known` (NULL-terminated); those
 * flagged in `required` (same order) must be present. */
static int check_keys(struct pctx *pc, const config_setting_t *g, const char *const *known,
		      const bool *required)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(pc, g, "'%s' must be a group { ... }",
			    config_setting_name(g) ? config_setting_name(g) : "element");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		char list[200] = "";
		size_t pos = 0;
		int k;

		for (k = 0; known[k]; k++)
			if (!strcmp(known[k], config_setting_name(m)))
				break;
		if (known[k])
			continue;
		for (k = 0; known[k] && pos < sizeof(list); k++)
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s",
						k ? ", " : "", known[k]);
		return fail(pc, m, "unknown setting '%s' (known here: %s)",
			    config_setting_name(m), list);
	}
	for (int k = 0; known[k]; k++)
		if (required && required[k] && !config_setting_get_member(g, known[k]))
			return fail(pc, g, "missing '%s'", known[k]);
	return 0;
}

static int get_int(struct pctx *pc, const config_setting_t *s, long long min, long long max,
		   long long *out)
{
	const char *key = config_setting_name(s) ? config_setting_name(s) : "value";

	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(pc, s, "'%s' must be an integer", key);
	*out = config_setting_get_int64(s);
	if (*out < min || *out > max)
		return fail(pc, s, "'%s' must be between %lld and %lld (got %lld)", key, min, max,
			    *out);
	return 0;
}

static int get_string(struct pctx *pc, const config_setting_t *s, const char **out)
{
	const char *key = config_setting_name(s) ? config_setting_name(s) : "value";

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(pc, s, "'%s' must be a string", key);
	*out = config_setting_get_string(s);
	if (!(*out)[0])
		return fail(pc, s, "'%s' must not be empty", key);
	return 0;
}

static int check_list(struct pctx *pc, const config_setting_t *s, bool groups)
{
	int t = config_setting_type(s);

	if (groups ? t != CONFIG_TYPE_LIST : (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY))
		return fail(pc, s, "'%s' must be a %s", config_setting_name(s),
			    groups ? "list of groups ( { ... }, ... )" : "list [ ..., ... ]");
	if (config_setting_length(s) == 0)
		return fail(pc, s, "'%s' is empty; omit it instead", config_setting_name(s));
	return 0;
}

static int dup_str(struct pctx *pc, const config_setting_t *s, const char *v, char **out)
{
	*out = strdup(v);
	return *out ? 0 : fail(pc, s, "out of memory");
}

/* ---- portal groups --------------------------------------------------------- */

static void format_hostport(char *out, size_t len, const char *host, unsigned int port)
{
	snprintf(out, len, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

static int portal_collides(struct pctx *pc, const config_setting_t *s,
			   const struct iscsi_portal_conf *p)
{
	char a[80], b[80];

	format_hostport(a, sizeof(a), p->addr, p->port);
	for (int i = 0; i < pc->cfg->nports; i++) {
		const struct nvb_port_conf *np = &pc->cfg->ports[i];

		if (nvb_addr_overlap(p->addr, p->port, np->addr, (unsigned int)atoi(np->svcid)))
			return fail(pc, s, "portal %s collides with NVMe/TCP port %u (%s port %s)",
				    a, np->id, np->addr, np->svcid);
	}
	for (int i = 0; i < pc->ic->npgs; i++) {
		const struct iscsi_portal_group_conf *g = &pc->ic->pgs[i];

		for (int j = 0; j < g->nportals; j++) {
			if (&g->portals[j] == p || !g->portals[j].addr)
				continue;
			if (!nvb_addr_overlap(p->addr, p->port, g->portals[j].addr,
					      g->portals[j].port))
				continue;
			format_hostport(b, sizeof(b), g->portals[j].addr, g->portals[j].port);
			return fail(pc, s, "portal %s collides with portal %s of portal group %u "
				    "(line %d)", a, b, g->tag, g->portals[j].line);
		}
	}
	return 0;
}

static int parse_portal(struct pctx *pc, const config_setting_t *e, struct iscsi_portal_conf *p)
{
	static const char *const known[] = { "address", "advertise", NULL };
	static const bool required[] = { true, false };
	const config_setting_t *addr_s = e, *adv_s = NULL;
	char host[INET6_ADDRSTRLEN + 8];
	const char *v;

	p->line = (int)config_setting_source_line(e);
	if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
		if (check_keys(pc, e, known, required))
			return -1;
		addr_s = config_setting_get_member(e, "address");
		adv_s = config_setting_get_member(e, "advertise");
	}
	if (get_string(pc, addr_s, &v))
		return -1;
	if (iscsi_portal_parse(v, host, sizeof(host), &p->port, &p->family))
		return fail(pc, addr_s, "portal '%s' is not a numeric \"address[:port]\" "
			    "(IPv6 in brackets: \"[::1]:3260\")", v);
	if (dup_str(pc, addr_s, host, &p->addr))
		return -1;
	if (adv_s) {
		long port;

		if (get_string(pc, adv_s, &v))
			return -1;
		if (split_host_port(v, host, sizeof(host), &port) ||
		    (numeric_family(host) < 0 && !is_dns_name(host)))
			return fail(pc, adv_s, "advertise '%s' is not \"host[:port]\" "
				    "(IPv6 in brackets)", v);
		if (dup_str(pc, adv_s, host, &p->advertise))
			return -1;
		p->advertise_port = port < 0 ? p->port : (uint16_t)port;
	}
	return portal_collides(pc, addr_s, p);
}

static int parse_pg(struct pctx *pc, const config_setting_t *g, struct iscsi_portal_group_conf *pg)
{
	static const char *const known[] = { "tag", "ana_group", "portals", NULL };
	static const bool required[] = { true, false, true };
	const config_setting_t *s;
	long long v;
	int n;

	pg->line = (int)config_setting_source_line(g);
	if (check_keys(pc, g, known, required))
		return -1;
	s = config_setting_get_member(g, "tag");
	if (get_int(pc, s, 1, UINT16_MAX, &v))
		return -1;
	if (iscsi_config_find_pg(pc->ic, (uint16_t)v))
		return fail(pc, s, "duplicate portal group tag %lld (first at line %d)", v,
			    iscsi_config_find_pg(pc->ic, (uint16_t)v)->line);
	pg->tag = (uint16_t)v;
	snprintf(pc->scope, sizeof(pc->scope), "portal group %u", pg->tag);
	pg->ana_group = 1;
	s = config_setting_get_member(g, "ana_group");
	if (s && get_int(pc, s, 1, NVB_MAX_ANA_GROUPS, &v))
		return -1;
	if (s)
		pg->ana_group = (uint32_t)v;
	{
		bool found = false;

		for (int i = 0; i < pc->cfg->nana_groups; i++)
			found = found || pc->cfg->ana_groups[i].id == pg->ana_group;
		if (!found)
			return fail(pc, s ? s : g, "ana_group %u is not defined in ana_groups",
				    pg->ana_group);
	}
	s = config_setting_get_member(g, "portals");
	if (check_list(pc, s, false))
		return -1;
	n = config_setting_length(s);
	pg->portals = calloc((size_t)n, sizeof(*pg->portals));
	if (!pg->portals)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		pg->nportals++;
		if (parse_portal(pc, config_setting_get_elem(s, (unsigned)i), &pg->portals[i]))
			return -1;
	}
	return 0;
}

static int parse_pgs(struct pctx *pc, const config_setting_t *s)
{
	int n;

	if (check_list(pc, s, true))
		return -1;
	n = config_setting_length(s);
	pc->ic->pgs = calloc((size_t)n, sizeof(*pc->ic->pgs));
	if (!pc->ic->pgs)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		/* Counted first, so a failed group is freed with the rest. */
		pc->ic->npgs++;
		if (parse_pg(pc, config_setting_get_elem(s, (unsigned)i), &pc->ic->pgs[i]))
			return -1;
		pc->scope[0] = '\0';
	}
	return 0;
}

/* ---- CHAP ------------------------------------------------------------------ */

static int parse_cred(struct pctx *pc, const config_setting_t *g, struct chap_cred *cr,
		      const config_setting_t **secret_s)
{
	static const char *const known[] = { "user", "secret", NULL };
	static const bool required[] = { true, true };
	const config_setting_t *s;
	char why[128];
	const char *v;
	char *dup;
	int rc;

	if (check_keys(pc, g, known, required))
		return -1;
	s = config_setting_get_member(g, "user");
	if (get_string(pc, s, &v))
		return -1;
	if (strlen(v) > CHAP_NAME_MAX)
		return fail(pc, s, "CHAP user name longer than %d bytes", CHAP_NAME_MAX);
	if (dup_str(pc, s, v, &dup))
		return -1;
	cr->user = dup;
	s = config_setting_get_member(g, "secret");
	*secret_s = s;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(pc, s, "'secret' must be a string");
	v = config_setting_get_string(s);
	/* RFC 7143 §9.2.1: at least 96 bits; 128 recommended. */
	rc = chap_secret_check(v, why, sizeof(why));
	if (rc < 0)
		return fail(pc, s, "user '%s': %s", cr->user, why);
	if (rc > 0) {
		char msg[200];

		snprintf(msg, sizeof(msg), "user '%s': %s", cr->user, why);
		warn(pc, s, msg);
	}
	if (dup_str(pc, s, v, &dup))
		return -1;
	cr->secret = dup;
	return 0;
}

static int parse_auth(struct pctx *pc, const config_setting_t *g, struct iscsi_auth_conf *a)
{
	static const char *const known[] = { "chap", "mutual", "require_mutual", NULL };
	static const bool required[] = { true, false, false };
	const config_setting_t *s, *mutual_secret_s = NULL;
	char why[200];
	int n;

	if (check_keys(pc, g, known, required))
		return -1;
	s = config_setting_get_member(g, "chap");
	if (check_list(pc, s, true))
		return -1;
	n = config_setting_length(s);
	a->creds = calloc((size_t)n, sizeof(*a->creds));
	if (!a->creds)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i), *sec;

		a->ncreds++;
		if (parse_cred(pc, e, &a->creds[i], &sec))
			return -1;
		for (int j = 0; j < i; j++)
			if (!strcmp(a->creds[j].user, a->creds[i].user))
				return fail(pc, e, "CHAP user '%s' is listed twice",
					    a->creds[i].user);
	}
	s = config_setting_get_member(g, "mutual");
	if (s) {
		if (parse_cred(pc, s, &a->mutual, &mutual_secret_s))
			return -1;
		a->require_mutual = true;
	}
	s = config_setting_get_member(g, "require_mutual");
	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(pc, s, "'require_mutual' must be true or false");
		a->require_mutual = config_setting_get_bool(s);
		if (a->require_mutual && !a->mutual.user)
			return fail(pc, s, "require_mutual needs a 'mutual' credential");
	}
	a->chap.creds = a->creds;
	a->chap.ncreds = a->ncreds;
	a->chap.mutual = a->mutual.user ? &a->mutual : NULL;
	a->chap.require_mutual = a->require_mutual;
	/* §9.2.1: the target's secret must differ from every initiator's. */
	if (chap_target_config_check(&a->chap, why, sizeof(why)))
		return fail(pc, mutual_secret_s ? mutual_secret_s : g, "%s", why);
	return 0;
}

/* ---- targets --------------------------------------------------------------- */

static const struct nvb_subsys_conf *find_subsys(const struct nvb_config *cfg, const char *nqn)
{
	for (int i = 0; i < cfg->nsubsys; i++)
		if (!strcmp(cfg->subsys[i].nqn, nqn))
			return &cfg->subsys[i];
	return NULL;
}

static int parse_target_pgs(struct pctx *pc, const config_setting_t *s,
			    struct iscsi_target_conf *t)
{
	int n = pc->ic->npgs;

	if (s) {
		if (check_list(pc, s, false))
			return -1;
		n = config_setting_length(s);
	}
	t->pg_tags = calloc((size_t)n + 1, sizeof(*t->pg_tags));
	if (!t->pg_tags)
		return fail(pc, s, "out of memory");
	t->all_pgs = !s;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e;
		long long v;

		if (!s) {
			t->pg_tags[t->npg_tags++] = pc->ic->pgs[i].tag;
			continue;
		}
		e = config_setting_get_elem(s, (unsigned)i);
		if (get_int(pc, e, 1, UINT16_MAX, &v))
			return -1;
		if (!iscsi_config_find_pg(pc->ic, (uint16_t)v))
			return fail(pc, e, "portal group %lld is not defined in portal_groups", v);
		if (iscsi_target_has_pg(t, (uint16_t)v))
			return fail(pc, e, "portal group %lld is listed twice", v);
		t->pg_tags[t->npg_tags++] = (uint16_t)v;
	}
	return 0;
}

static int parse_luns(struct pctx *pc, const config_setting_t *s, struct iscsi_target_conf *t,
		      const struct nvb_subsys_conf *ss)
{
	static const char *const known[] = { "lun", "nsid", NULL };
	static const bool required[] = { true, true };
	int n;

	if (check_list(pc, s, true))
		return -1;
	n = config_setting_length(s);
	t->luns = calloc((size_t)n, sizeof(*t->luns));
	if (!t->luns)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i), *ls, *ns;
		struct iscsi_lun_map *m = &t->luns[i];
		long long lun, nsid;
		bool exists = false;

		if (check_keys(pc, e, known, required))
			return -1;
		ls = config_setting_get_member(e, "lun");
		ns = config_setting_get_member(e, "nsid");
		if (get_int(pc, ls, 0, ISCSI_MAX_LUN, &lun) || get_int(pc, ns, 1, NVB_MAX_NSID, &nsid))
			return -1;
		for (int j = 0; j < t->nluns; j++) {
			if (t->luns[j].lun == lun)
				return fail(pc, ls, "duplicate LUN %lld (first at line %d)", lun,
					    t->luns[j].line);
			if (t->luns[j].nsid == nsid)
				return fail(pc, ns, "namespace %lld is already LUN %u (line %d)",
					    nsid, t->luns[j].lun, t->luns[j].line);
		}
		for (int j = 0; j < ss->nns; j++)
			exists = exists || ss->ns[j].nsid == nsid;
		if (!exists)
			return fail(pc, ns, "subsystem '%s' has no namespace %lld", ss->nqn, nsid);
		m->lun = (uint32_t)lun;
		m->nsid = (uint32_t)nsid;
		m->line = (int)config_setting_source_line(e);
		t->nluns++;
	}
	return 0;
}

static int parse_initiators(struct pctx *pc, const config_setting_t *s,
			    struct iscsi_target_conf *t)
{
	int n;

	if (check_list(pc, s, false))
		return -1;
	n = config_setting_length(s);
	t->initiators = calloc((size_t)n + 1, sizeof(*t->initiators));
	t->ninitiators = 0;     /* iscsi_target_allows reads the first ninitiators */
	if (!t->initiators)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char why[96];
		const char *v;

		if (get_string(pc, e, &v))
			return -1;
		if (iscsi_name_check(v, why, sizeof(why)))
			return fail(pc, e, "initiator '%s' is not a valid iSCSI name: %s", v, why);
		if (iscsi_target_allows(t, v) && t->ninitiators)
			return fail(pc, e, "initiator '%s' is listed twice", v);
		if (dup_str(pc, e, v, &t->initiators[i]))
			return -1;
		t->ninitiators++;
	}
	return 0;
}

static int parse_target(struct pctx *pc, const config_setting_t *g, struct iscsi_target_conf *t)
{
	static const char *const known[] = { "iqn", "subsystem", "portal_groups", "luns",
					     "initiators", "auth", NULL };
	static const bool required[] = { true, true, false, false, false, false };
	const struct nvb_subsys_conf *ss;
	const config_setting_t *s;
	char why[96];
	const char *v;

	t->line = (int)config_setting_source_line(g);
	if (check_keys(pc, g, known, required))
		return -1;
	s = config_setting_get_member(g, "iqn");
	if (get_string(pc, s, &v))
		return -1;
	if (iscsi_name_check(v, why, sizeof(why)))
		return fail(pc, s, "'%s' is not a valid iSCSI name: %s", v, why);
	if (iscsi_config_find_target(pc->ic, v))
		return fail(pc, s, "duplicate target '%s' (first at line %d)", v,
			    iscsi_config_find_target(pc->ic, v)->line);
	snprintf(pc->scope, sizeof(pc->scope), "target '%s'", v);
	s = config_setting_get_member(g, "subsystem");
	if (get_string(pc, s, &v))
		return -1;
	ss = find_subsys(pc->cfg, v);
	if (!ss)
		return fail(pc, s, "subsystem '%s' is not defined in subsystems", v);
	if (dup_str(pc, s, v, &t->subsystem) ||
	    parse_target_pgs(pc, config_setting_get_member(g, "portal_groups"), t))
		return -1;
	s = config_setting_get_member(g, "luns");
	t->default_luns = !s;
	if (s && parse_luns(pc, s, t, ss))
		return -1;
	s = config_setting_get_member(g, "initiators");
	if (s && parse_initiators(pc, s, t))
		return -1;
	s = config_setting_get_member(g, "auth");
	if (s && parse_auth(pc, s, &t->auth))
		return -1;
	/* The name last: the entry counts as a target (for duplicate checks)
	 * only once it is whole. */
	return dup_str(pc, g, config_setting_get_string(config_setting_get_member(g, "iqn")),
		       &t->iqn);
}

static int parse_targets(struct pctx *pc, const config_setting_t *s)
{
	int n;

	if (check_list(pc, s, true))
		return -1;
	if (pc->ic->npgs == 0)
		return fail(pc, s, "targets need at least one portal group in portal_groups");
	n = config_setting_length(s);
	pc->ic->targets = calloc((size_t)n, sizeof(*pc->ic->targets));
	if (!pc->ic->targets)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		pc->ic->ntargets++;
		if (parse_target(pc, config_setting_get_elem(s, (unsigned)i), &pc->ic->targets[i]))
			return -1;
		pc->scope[0] = '\0';
	}
	return 0;
}

static int iscsi_config_parse(const config_setting_t *s, const struct nvb_config *cfg,
			      void **state, char *err, size_t errlen)
{
	static const char *const known[] = { "portal_groups", "targets", "discovery_auth", NULL };
	struct pctx pc = { .cfg = cfg, .err = err, .errlen = errlen };
	const config_setting_t *m;

	*state = NULL;
	pc.ic = calloc(1, sizeof(*pc.ic));
	if (!pc.ic)
		return nvb_config_errorf(cfg, s, err, errlen, "iscsi: out of memory");
	if (check_keys(&pc, s, known, NULL))
		goto fail;
	m = config_setting_get_member(s, "portal_groups");
	if (m && parse_pgs(&pc, m))
		goto fail;
	m = config_setting_get_member(s, "targets");
	if (m && parse_targets(&pc, m))
		goto fail;
	m = config_setting_get_member(s, "discovery_auth");
	snprintf(pc.scope, sizeof(pc.scope), "discovery_auth");
	if (m && parse_auth(&pc, m, &pc.ic->discovery_auth))
		goto fail;
	*state = pc.ic;
	return 0;
fail:
	iscsi_config_free(pc.ic);
	return -1;
}

/* ---- writing --------------------------------------------------------------- */

static void put_kv(FILE *out, const char *indent, const char *key, const char *v)
{
	fprintf(out, "%s%s = ", indent, key);
	nvb_config_put_string(out, v);
	fputs(";\n", out);
}

static void write_cred(FILE *out, const char *indent, const struct chap_cred *cr, bool last)
{
	fprintf(out, "%s{ user = ", indent);
	nvb_config_put_string(out, cr->user);
	fputs("; secret = ", out);
	nvb_config_put_string(out, cr->secret);
	fprintf(out, "; }%s\n", last ? "" : ",");
}

static void write_auth(FILE *out, const char *indent, const char *key,
		       const struct iscsi_auth_conf *a)
{
	char in2[16];

	snprintf(in2, sizeof(in2), "%s\t\t", indent);
	fprintf(out, "%s%s = {\n%s\tchap = (\n", indent, key, indent);
	for (size_t i = 0; i < a->ncreds; i++)
		write_cred(out, in2, &a->creds[i], i + 1 == a->ncreds);
	fprintf(out, "%s\t);\n", indent);
	if (a->mutual.user) {
		fprintf(out, "%s\tmutual = { user = ", indent);
		nvb_config_put_string(out, a->mutual.user);
		fputs("; secret = ", out);
		nvb_config_put_string(out, a->mutual.secret);
		fputs("; };\n", out);
	}
	fprintf(out, "%s\trequire_mutual = %s;\n%s};\n", indent,
		a->require_mutual ? "true" : "false", indent);
}

static void write_portal(FILE *out, const struct iscsi_portal_conf *p, bool last)
{
	char a[80], b[300];

	format_hostport(a, sizeof(a), p->addr, p->port);
	fputs("\t\t\t\t", out);
	if (p->advertise) {
		format_hostport(b, sizeof(b), p->advertise, p->advertise_port);
		fputs("{ address = ", out);
		nvb_config_put_string(out, a);
		fputs("; advertise = ", out);
		nvb_config_put_string(out, b);
		fputs("; }", out);
	} else {
		nvb_config_put_string(out, a);
	}
	fprintf(out, "%s\n", last ? "" : ",");
}

static void write_target(FILE *out, const struct iscsi_target_conf *t, bool last)
{
	fputs("\t\t{\n", out);
	put_kv(out, "\t\t\t", "iqn", t->iqn);
	put_kv(out, "\t\t\t", "subsystem", t->subsystem);
	if (!t->all_pgs) {
		fputs("\t\t\tportal_groups = [ ", out);
		for (int i = 0; i < t->npg_tags; i++)
			fprintf(out, "%s%u", i ? ", " : "", t->pg_tags[i]);
		fputs(" ];\n", out);
	}
	if (!t->default_luns) {
		fputs("\t\t\tluns = (\n", out);
		for (int i = 0; i < t->nluns; i++)
			fprintf(out, "\t\t\t\t{ lun = %u; nsid = %u; }%s\n", t->luns[i].lun,
				t->luns[i].nsid, i + 1 < t->nluns ? "," : "");
		fputs("\t\t\t);\n", out);
	}
	if (t->initiators) {
		fputs("\t\t\tinitiators = [", out);
		for (int i = 0; i < t->ninitiators; i++) {
			fprintf(out, "%s\n\t\t\t\t", i ? "," : "");
			nvb_config_put_string(out, t->initiators[i]);
		}
		fputs("\n\t\t\t];\n", out);
	}
	if (t->auth.ncreds)
		write_auth(out, "\t\t\t", "auth", &t->auth);
	fprintf(out, "\t\t}%s\n", last ? "" : ",");
}

static int iscsi_config_write(const void *state, FILE *out)
{
	const struct iscsi_config *ic = state;

	fputs("iscsi = {\n", out);
	if (ic->npgs) {
		fputs("\tportal_groups = (\n", out);
		for (int i = 0; i < ic->npgs; i++) {
			const struct iscsi_portal_group_conf *g = &ic->pgs[i];

			fprintf(out, "\t\t{\n\t\t\ttag = %u;\n\t\t\tana_group = %u;\n"
				"\t\t\tportals = (\n", g->tag, g->ana_group);
			for (int j = 0; j < g->nportals; j++)
				write_portal(out, &g->portals[j], j + 1 == g->nportals);
			fprintf(out, "\t\t\t);\n\t\t}%s\n", i + 1 < ic->npgs ? "," : "");
		}
		fputs("\t);\n", out);
	}
	if (ic->ntargets) {
		fputs("\ttargets = (\n", out);
		for (int i = 0; i < ic->ntargets; i++)
			write_target(out, &ic->targets[i], i + 1 == ic->ntargets);
		fputs("\t);\n", out);
	}
	if (ic->discovery_auth.ncreds)
		write_auth(out, "\t", "discovery_auth", &ic->discovery_auth);
	fputs("};\n", out);
	return ferror(out) ? -1 : 0;
}

const struct nvb_config_section_ops iscsi_config_section = {
	.name = "iscsi",
	.parse = iscsi_config_parse,
	.write = iscsi_config_write,
	.free = iscsi_config_free,
};

/* SPDX-License-Identifier: MIT */
/*
 * nvbridged configuration: libconfig text → struct nvb_config.
 *
 * The whole file is validated before anything is started: every setting is
 * type- and range-checked where it stands, every cross reference (ANA groups,
 * subsystems, duplicate ids and addresses) is resolved, and the first error
 * is reported as "FILE:LINE: scope: reason" with the line of the offending
 * setting. Unknown keys are errors, not silently ignored, so a typo cannot
 * quietly drop a setting. The format is documented in docs/config.md.
 *
 * Sections are parsed in dependency order (ana_groups, subsystems, ports)
 * whatever their order in the file, so references can be checked at once.
 */
#include "bridge/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/reactor.h"

#define CONFIG_MAX_BYTES (16u << 20)    /* far above any sane config */

/* ---- ANA state names (NVMe 2.0 §8.1.1: the ANA states) ---------------- */

static const struct {
	enum nvb_ana_state state;
	const char *name;
} ana_state_names[] = {
	{ NVB_ANA_OPTIMIZED, "optimized" },
	{ NVB_ANA_NON_OPTIMIZED, "non-optimized" },
	{ NVB_ANA_INACCESSIBLE, "inaccessible" },
	{ NVB_ANA_PERSISTENT_LOSS, "persistent-loss" },
	{ NVB_ANA_CHANGE, "change" },
};
#define N_ANA_STATES (sizeof(ana_state_names) / sizeof(ana_state_names[0]))

const char *nvb_ana_state_name(enum nvb_ana_state s)
{
	for (size_t i = 0; i < N_ANA_STATES; i++)
		if (ana_state_names[i].state == s)
			return ana_state_names[i].name;
	return "unknown";
}

int nvb_ana_state_parse(const char *name, enum nvb_ana_state *out)
{
	for (size_t i = 0; i < N_ANA_STATES; i++) {
		if (strcmp(name, ana_state_names[i].name) == 0) {
			*out = ana_state_names[i].state;
			return 0;
		}
	}
	return -1;
}

bool nvb_ana_state_settable(enum nvb_ana_state s)
{
	switch (s) {
	case NVB_ANA_OPTIMIZED:
	case NVB_ANA_NON_OPTIMIZED:
	case NVB_ANA_INACCESSIBLE:
	case NVB_ANA_PERSISTENT_LOSS:
		return true;
	case NVB_ANA_CHANGE:
		break;
	}
	return false;
}

/* ---- value syntax shared with the control socket ----------------------- */

int nvb_nqn_check(const char *nqn, char *why, size_t whylen)
{
	const char *reason = NULL;
	size_t len = strlen(nqn);

	if (strncmp(nqn, "nqn.", 4) != 0)
		reason = "it does not start with \"nqn.\"";
	else if (len == 4)
		reason = "nothing follows \"nqn.\"";
	else if (len > NVB_NQN_MAX)
		reason = "it is longer than the 223 bytes NVMe allows";
	for (const char *p = nqn; !reason && *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			reason = "it contains whitespace or a control character";
	if (!reason)
		return 0;
	if (why && whylen)
		snprintf(why, whylen, "%s", reason);
	return -1;
}

int nvb_size_parse(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: return -1;
		}
		if (end[1] || v > (UINT64_MAX >> shift))
			return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

/* ---- error reporting ----------------------------------------------------- */

struct parse_ctx {
	const char *name;               /* file name for messages */
	const char *dir;                /* absolute directory relative paths use */
	char *err;
	size_t errlen;
	struct nvb_config *cfg;
	char scope[NVB_NQN_MAX + 32];   /* "port 1", "subsystem 'nqn...'" */
	char subscope[48];              /* "namespace 3" inside a subsystem */
};

static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

static void vreport(struct parse_ctx *pc, int line, const char *fmt, va_list ap)
{
	char msg[768];
	size_t pos = 0;

	if (!pc->err || !pc->errlen)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		append(pc->err, pc->errlen, &pos, "%s:%d: ", pc->name, line);
	else
		append(pc->err, pc->errlen, &pos, "%s: ", pc->name);
	if (pc->scope[0])
		append(pc->err, pc->errlen, &pos, "%s%s%s: ", pc->scope,
		       pc->subscope[0] ? " " : "", pc->subscope);
	append(pc->err, pc->errlen, &pos, "%s", msg);
}

static void report(struct parse_ctx *pc, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct parse_ctx *pc, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(pc, s ? (int)config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
}

static void report_line(struct parse_ctx *pc, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report_line(struct parse_ctx *pc, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(pc, line, fmt, ap);
	va_end(ap);
}

/*
 * Report at a setting's own line (NULL: no line), or at a line remembered
 * in a conf struct; both evaluate to -1. Macros, so that the -1 is in plain
 * sight: static analysers do not follow variadic calls, and would otherwise
 * take every `return fail(...)` for a success that left its result unset.
 */
#define fail(pc, s, ...)         (report((pc), (s), __VA_ARGS__), -1)
#define fail_line(pc, line, ...) (report_line((pc), (line), __VA_ARGS__), -1)

/* " (first at line N)" when N is known, for duplicate reports. */
static const char *first_at(int line, char buf[32])
{
	if (line > 0)
		snprintf(buf, 32, " (first at line %d)", line);
	else
		buf[0] = '\0';
	return buf;
}

/*
 * Work around libconfig 1.5 faults before handing it the text (and refuse
 * @include, see below):
 *  - an integer literal without an L suffix is read into 32 bits and larger
 *    ones are silently truncated (size = 5368709120 would become 1 GiB);
 *  - a string token met where the grammar does not allow one (a syntax
 *    error) is leaked.
 * So this scans the tokens once, refusing such literals with a hint and such
 * strings with libconfig's own "syntax error". A string is valid only as a
 * value: after '=' or ':', after another string (concatenation), or as a
 * list/array element after '(' '[' or ','.
 */
enum scan_tok { TOK_OTHER, TOK_ASSIGN, TOK_STRING, TOK_OPEN_ELEMS, TOK_COMMA };

static int check_int_literal(struct parse_ctx *pc, int line, const char *start, size_t len,
			     bool hex)
{
	char lit[40];
	long long v;

	if (len >= sizeof(lit))
		len = sizeof(lit) - 1;
	memcpy(lit, start, len);
	lit[len] = '\0';
	errno = 0;
	v = strtoll(lit, NULL, hex ? 16 : 10);
	if (errno || v > INT_MAX || v < INT_MIN)
		return fail_line(pc, line, "integer %s does not fit in 32 bits: write it as %sL "
				 "(or a size as a string such as \"4G\")", lit, lit);
	return 0;
}

static int prescan_text(struct parse_ctx *pc, const char *text)
{
	char stack[32];                 /* '{' group, '(' list, '[' array */
	int depth = 0, line = 1;
	enum scan_tok prev = TOK_OTHER;
	const char *p = text;

	while (*p) {
		const char *start = p;
		bool in_elems = depth > 0 && stack[depth - 1] != '{';
		enum scan_tok tok = TOK_OTHER;

		if (*p == '\n' || isspace((unsigned char)*p)) {
			line += *p == '\n';
			p++;
			continue;
		}
		if (*p == '@')
			/* libconfig's scanner exit()s on an @include of a directory,
			 * and included text would escape this scan: one file only. */
			return fail_line(pc, line, strncmp(p, "@include", 8) == 0 ?
					 "@include is not supported: keep the config in one file" :
					 "syntax error");
		if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			if (*p)
				p += 2;
			continue;
		}
		if (*p == '"') {
			if (prev != TOK_ASSIGN && prev != TOK_STRING &&
			    !(in_elems && (prev == TOK_OPEN_ELEMS || prev == TOK_COMMA)))
				return fail_line(pc, line, "syntax error");
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				line += *p == '\n';
			}
			if (*p)
				p++;
			tok = TOK_STRING;
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			/* a setting name (may contain digits), true or false */
			while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '*')
				p++;
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
			bool hex;

			if (*p == '-' || *p == '+')
				p++;
			hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
			if (hex)
				for (p += 2; isxdigit((unsigned char)*p); p++)
					;
			else
				while (isdigit((unsigned char)*p))
					p++;
			if (*p == 'L') {
				while (*p == 'L')
					p++;
			} else if (!hex && (*p == '.' || *p == 'e' || *p == 'E')) {
				/* a float: not our concern */
				for (p++; isdigit((unsigned char)*p) || *p == 'e' || *p == 'E' ||
				     *p == '+' || *p == '-' || *p == '.'; p++)
					;
			} else if (check_int_literal(pc, line, start, (size_t)(p - start), hex)) {
				return -1;
			}
		} else {
			switch (*p) {
			case '=': case ':':
				tok = TOK_ASSIGN;
				break;
			case ',':
				tok = TOK_COMMA;
				break;
			case '{': case '(': case '[':
				if (depth == (int)sizeof(stack))
					return fail_line(pc, line, "settings nested too deeply");
				stack[depth++] = *p;
				tok = *p == '{' ? TOK_OTHER : TOK_OPEN_ELEMS;
				break;
			case '}': case ')': case ']':
				if (depth)
					depth--;
				break;
			}
			p++;
		}
		prev = tok;
	}
	return 0;
}

/* ---- typed access to settings ------------------------------------------- */

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT: return "an integer";
	case CONFIG_TYPE_INT64: return "a 64-bit integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "nothing";
	}
}

/* The key a setting answers to: its own name, or its list's for elements. */
static const char *key_of(const config_setting_t *s)
{
	if (config_setting_name(s))
		return config_setting_name(s);
	if (config_setting_parent(s) && config_setting_name(config_setting_parent(s)))
		return config_setting_name(config_setting_parent(s));
	return "value";
}

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static int get_int(struct parse_ctx *pc, const config_setting_t *s,
		   long long min, long long max, long long *out)
{
	long long v;

	if (!is_int(s))
		return fail(pc, s, "'%s' must be an integer, not %s", key_of(s), type_name(s));
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(pc, s, "'%s' must be between %lld and %lld (got %lld)",
			    key_of(s), min, max, v);
	*out = v;
	return 0;
}

static int get_string(struct parse_ctx *pc, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(pc, s, "'%s' must be a string, not %s", key_of(s), type_name(s));
	*out = config_setting_get_string(s);
	if (!(*out)[0])
		return fail(pc, s, "'%s' must not be empty", key_of(s));
	return 0;
}

static int get_bool(struct parse_ctx *pc, const config_setting_t *s, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(pc, s, "'%s' must be true or false, not %s", key_of(s), type_name(s));
	*out = config_setting_get_bool(s);
	return 0;
}

static int get_nqn(struct parse_ctx *pc, const config_setting_t *s, const char **out)
{
	char why[96];

	if (get_string(pc, s, out))
		return -1;
	if (nvb_nqn_check(*out, why, sizeof(why)))
		return fail(pc, s, "%s '%s' is not a valid NQN: %s", key_of(s), *out, why);
	return 0;
}

/* Identify SN/MN (NVMe 2.0 §5.17.2.1): printable ASCII, space padded. */
static int get_ident_string(struct parse_ctx *pc, const config_setting_t *s,
			    size_t max, char *out)
{
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	if (strlen(v) > max)
		return fail(pc, s, "%s '%s' is longer than %zu characters", key_of(s), v, max);
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return fail(pc, s, "%s must be printable ASCII", key_of(s));
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int get_id(struct parse_ctx *pc, const config_setting_t *s, uint8_t *out, size_t len)
{
	const char *v;
	bool zero = true;

	if (get_string(pc, s, &v))
		return -1;
	if (nvb_id_parse(v, out, len))
		return fail(pc, s, "%s '%s' must be %zu hex digits (dashes and a \"uuid:\" "
			    "prefix allowed)", key_of(s), v, 2 * len);
	for (size_t i = 0; i < len; i++)
		zero = zero && !out[i];
	if (zero)
		return fail(pc, s, "%s is all zero, which hosts read as \"none\"; omit it "
			    "to get a derived one", key_of(s));
	return 0;
}

static int parse_inet(const char *text, int *family, struct in6_addr *bin)
{
	if (inet_pton(AF_INET, text, bin) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, bin) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static char *resolve_path(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/')
		for (path += 2; *path == '/'; path++)
			;
	if (asprintf(&out, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

static int get_path(struct parse_ctx *pc, const config_setting_t *s, char **out)
{
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	free(*out);
	*out = resolve_path(pc->dir, v);
	if (!*out)
		return fail(pc, s, "out of memory");
	return 0;
}

/* ---- groups: unknown-key detection and table-driven dispatch ----------- */

struct key_spec {
	const char *key;
	int (*parse)(struct parse_ctx *pc, const config_setting_t *s, void *obj);
	bool required;
};

/* Levenshtein distance, for "did you mean" on short keys. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_key(struct parse_ctx *pc, const config_setting_t *s,
		       const struct key_spec *keys, size_t nkeys)
{
	const char *name = config_setting_name(s), *best = NULL;
	size_t best_dist = 3;   /* suggest only close matches */
	char known[256];
	size_t pos = 0;

	for (size_t i = 0; i < nkeys; i++) {
		size_t d = edit_distance(name, keys[i].key);

		if (d < best_dist) {
			best_dist = d;
			best = keys[i].key;
		}
		append(known, sizeof(known), &pos, "%s%s", i ? ", " : "", keys[i].key);
	}
	if (best)
		return fail(pc, s, "unknown setting '%s'; did you mean '%s'?", name, best);
	return fail(pc, s, "unknown setting '%s' (known here: %s)", name, known);
}

/*
 * Check every member of `group` against `keys` (typos first: an unknown key
 * is the likeliest cause of any later complaint), then the required ones,
 * then parse the members in table order, which is dependency order.
 */
static int parse_group(struct parse_ctx *pc, const config_setting_t *group,
		       const struct key_spec *keys, size_t nkeys, void *obj)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		size_t k;

		for (k = 0; k < nkeys; k++)
			if (strcmp(config_setting_name(s), keys[k].key) == 0)
				break;
		if (k == nkeys)
			return unknown_key(pc, s, keys, nkeys);
	}
	for (size_t k = 0; k < nkeys; k++)
		if (keys[k].required && !config_setting_get_member(group, keys[k].key))
			return fail(pc, group, "missing '%s'", keys[k].key);
	for (size_t k = 0; k < nkeys; k++) {
		const config_setting_t *s = config_setting_get_member(group, keys[k].key);

		if (s && keys[k].parse(pc, s, obj))
			return -1;
	}
	return 0;
}

/* A list "( { ... }, { ... } )" whose elements are groups. */
static int check_group_list(struct parse_ctx *pc, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(pc, s, "'%s' must be a list of groups: %s = ( { ... }, ... );",
			    key_of(s), key_of(s));
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(pc, g, "element %d of '%s' must be a group { ... }, not %s",
				    i + 1, key_of(s), type_name(g));
	}
	return 0;
}

/*
 * A list or array of strings; `check` vets each element (may be NULL).
 * The strings are appended to *out / *n (the caller frees them).
 */
static int parse_string_list(struct parse_ctx *pc, const config_setting_t *s,
			     int (*check)(struct parse_ctx *pc, const config_setting_t *e,
					  const char *v, void *arg),
			     void *arg, char ***out, int *n)
{
	int len = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(pc, s, "'%s' must be a list of strings: %s = [ \"...\", ... ];",
			    key_of(s), key_of(s));
	*out = calloc((size_t)len + 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;

		if (get_string(pc, e, &v) || (check && check(pc, e, v, arg)))
			return -1;
		(*out)[*n] = strdup(v);
		if (!(*out)[*n])
			return fail(pc, e, "out of memory");
		(*n)++;
	}
	return 0;
}

/* ---- ANA groups ----------------------------------------------------------- */

static int ana_id(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_ana_group_conf *g = obj;
	long long v;
	char at[32];

	if (get_int(pc, s, 1, NVB_MAX_ANA_GROUPS, &v))
		return -1;
	for (int i = 0; i < pc->cfg->nana_groups; i++)
		if (pc->cfg->ana_groups[i].id == v)
			return fail(pc, s, "duplicate ANA group id %lld%s", v,
				    first_at(pc->cfg->ana_groups[i].line, at));
	g->id = (uint32_t)v;
	return 0;
}

static int ana_state(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_ana_group_conf *g = obj;
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	if (nvb_ana_state_parse(v, &g->state))
		return fail(pc, s, "unknown ANA state '%s' (optimized, non-optimized, "
			    "inaccessible or persistent-loss)", v);
	if (!nvb_ana_state_settable(g->state))
		return fail(pc, s, NVB_ANA_CHANGE_REFUSED);
	return 0;
}

static const struct key_spec ana_keys[] = {
	{ "id", ana_id, true },
	{ "state", ana_state, true },
};

static struct nvb_ana_group_conf *find_ana_group(const struct nvb_config *cfg, uint32_t id)
{
	for (int i = 0; i < cfg->nana_groups; i++)
		if (cfg->ana_groups[i].id == id)
			return &cfg->ana_groups[i];
	return NULL;
}

static int parse_ana_groups(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_config *cfg = pc->cfg;
	int n = config_setting_length(s);

	if (check_group_list(pc, s))
		return -1;
	if (n == 0)
		return fail(pc, s, "'ana_groups' is empty; omit it to get group 1 (optimized)");
	cfg->ana_groups = calloc((size_t)n, sizeof(*cfg->ana_groups));
	if (!cfg->ana_groups)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct nvb_ana_group_conf *ag = &cfg->ana_groups[i];
		int id;

		if (config_setting_lookup_int(g, "id", &id))
			snprintf(pc->scope, sizeof(pc->scope), "ANA group %d", id);
		else
			snprintf(pc->scope, sizeof(pc->scope), "ANA group #%d", i + 1);
		ag->line = (int)config_setting_source_line(g);
		if (parse_group(pc, g, ana_keys, sizeof(ana_keys) / sizeof(ana_keys[0]), ag))
			return -1;
		cfg->nana_groups++;
	}
	pc->scope[0] = '\0';
	return 0;
}

/* ---- namespaces ----------------------------------------------------------- */

struct ns_parse {
	struct nvb_ns_conf *ns;
	const struct nvb_subsys_conf *ss;
	const config_setting_t *size_s, *path_s;
	bool have_nguid, have_uuid, have_eui64;
};

static int ns_nsid(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;
	long long v;
	char at[32];

	if (get_int(pc, s, 1, NVB_MAX_NSID, &v))
		return -1;
	for (int i = 0; i < np->ss->nns; i++)
		if (np->ss->ns[i].nsid == v)
			return fail(pc, s, "duplicate nsid %lld%s", v, first_at(np->ss->ns[i].line, at));
	np->ns->nsid = (uint32_t)v;
	return 0;
}

static int ns_backend(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	if (strcmp(v, "file") == 0)
		np->ns->backend = NVB_BACKEND_FILE;
	else if (strcmp(v, "ram") == 0)
		np->ns->backend = NVB_BACKEND_RAM;
	else
		return fail(pc, s, "unknown backend '%s' (file or ram)", v);
	return 0;
}

static int ns_path(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;

	np->path_s = s;
	return get_path(pc, s, &np->ns->path);
}

static int ns_size(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;
	const char *v;

	np->size_s = s;
	if (is_int(s)) {
		long long n;

		if (get_int(pc, s, 0, LLONG_MAX, &n))
			return -1;
		np->ns->size = (uint64_t)n;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(pc, s, "'size' must be bytes (an integer) or a string such as "
			    "\"1G\", not %s", type_name(s));
	if (get_string(pc, s, &v))
		return -1;
	if (nvb_size_parse(v, &np->ns->size))
		return fail(pc, s, "size '%s' is not a byte count or a number with a K, M, "
			    "G or T suffix", v);
	return 0;
}

static int ns_lba_size(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;
	long long v;

	if (get_int(pc, s, 0, UINT32_MAX, &v))
		return -1;
	if (v != 512 && v != 4096)
		return fail(pc, s, "lba_size must be 512 or 4096 (got %lld)", v);
	np->ns->lba_size = (uint32_t)v;
	return 0;
}

static int ns_vwc(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;

	return get_bool(pc, s, &np->ns->volatile_write_cache);
}

static int ns_nguid(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;

	np->have_nguid = true;
	return get_id(pc, s, np->ns->nguid, sizeof(np->ns->nguid));
}

static int ns_uuid(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;

	np->have_uuid = true;
	return get_id(pc, s, np->ns->uuid, sizeof(np->ns->uuid));
}

static int ns_eui64(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;

	np->have_eui64 = true;
	return get_id(pc, s, np->ns->eui64, sizeof(np->ns->eui64));
}

static int ns_ana_group(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct ns_parse *np = obj;
	long long v;

	if (get_int(pc, s, 0, NVB_MAX_ANA_GROUPS, &v))
		return -1;
	if (v && !find_ana_group(pc->cfg, (uint32_t)v))
		return fail(pc, s, "ana_group %lld is not defined in ana_groups", v);
	np->ns->ana_group = (uint32_t)v;
	return 0;
}

static const struct key_spec ns_keys[] = {
	{ "nsid", ns_nsid, true },
	{ "backend", ns_backend, true },
	{ "path", ns_path, false },
	{ "size", ns_size, false },
	{ "lba_size", ns_lba_size, false },
	{ "volatile_write_cache", ns_vwc, false },
	{ "nguid", ns_nguid, false },
	{ "uuid", ns_uuid, false },
	{ "eui64", ns_eui64, false },
	{ "ana_group", ns_ana_group, false },
};

/* Rules that tie several settings of one namespace together. */
static int ns_check(struct parse_ctx *pc, const config_setting_t *g, struct ns_parse *np)
{
	struct nvb_ns_conf *ns = np->ns;

	if (ns->backend == NVB_BACKEND_FILE && !ns->path)
		return fail(pc, g, "backend file needs a 'path'");
	if (ns->backend == NVB_BACKEND_RAM && np->path_s)
		return fail(pc, np->path_s, "'path' is only for backend file");
	if (ns->backend == NVB_BACKEND_RAM && !ns->size)
		return fail(pc, np->size_s ? np->size_s : g,
			    "backend ram needs a 'size' greater than 0");
	if (ns->size % ns->lba_size)
		return fail(pc, np->size_s, "size %llu is not a multiple of lba_size %u",
			    (unsigned long long)ns->size, ns->lba_size);
	return 0;
}

static int parse_namespace(struct parse_ctx *pc, const config_setting_t *g, int index,
			   struct nvb_subsys_conf *ss)
{
	struct nvb_ns_conf *ns = &ss->ns[ss->nns];
	struct ns_parse np = { .ns = ns, .ss = ss };
	int nsid;

	if (config_setting_lookup_int(g, "nsid", &nsid))
		snprintf(pc->subscope, sizeof(pc->subscope), "namespace %d", nsid);
	else
		snprintf(pc->subscope, sizeof(pc->subscope), "namespace #%d", index + 1);
	ns->lba_size = 512;
	ns->volatile_write_cache = true;
	ns->line = (int)config_setting_source_line(g);
	if (parse_group(pc, g, ns_keys, sizeof(ns_keys) / sizeof(ns_keys[0]), &np) ||
	    ns_check(pc, g, &np)) {
		nvb_ns_conf_clear(ns);  /* not counted yet: free what it holds */
		return -1;
	}
	nvb_ns_conf_derive_ids(ns, ss->nqn, np.have_nguid, np.have_uuid, np.have_eui64);
	ss->nns++;
	pc->subscope[0] = '\0';
	return 0;
}

/* ---- subsystems ----------------------------------------------------------- */

static int ss_nqn(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;
	const char *v;
	char at[32];

	if (get_nqn(pc, s, &v))
		return -1;
	if (strcmp(v, NVB_DISCOVERY_NQN) == 0)
		return fail(pc, s, "nqn '%s' is the discovery subsystem's, which nvbridged "
			    "provides itself", v);
	for (int i = 0; i < pc->cfg->nsubsys; i++)
		if (strcmp(pc->cfg->subsys[i].nqn, v) == 0)
			return fail(pc, s, "duplicate subsystem nqn '%s'%s", v,
				    first_at(pc->cfg->subsys[i].line, at));
	ss->nqn = strdup(v);
	return ss->nqn ? 0 : fail(pc, s, "out of memory");
}

static int ss_serial(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;

	return get_ident_string(pc, s, sizeof(ss->serial) - 1, ss->serial);
}

static int ss_model(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;

	return get_ident_string(pc, s, sizeof(ss->model) - 1, ss->model);
}

static int ss_allow_any(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;

	return get_bool(pc, s, &ss->allow_any_host);
}

static int check_host(struct parse_ctx *pc, const config_setting_t *e, const char *v, void *arg)
{
	const struct nvb_subsys_conf *ss = arg;
	char why[96];

	if (nvb_nqn_check(v, why, sizeof(why)))
		return fail(pc, e, "host '%s' is not a valid NQN: %s", v, why);
	for (int i = 0; i < ss->nhosts; i++)
		if (strcmp(ss->hosts[i], v) == 0)
			return fail(pc, e, "duplicate host nqn '%s'", v);
	return 0;
}

static int ss_hosts(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;

	return parse_string_list(pc, s, check_host, ss, &ss->hosts, &ss->nhosts);
}

static int ss_namespaces(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_subsys_conf *ss = obj;
	int n = config_setting_length(s);

	if (check_group_list(pc, s))
		return -1;
	ss->ns = calloc((size_t)n + 1, sizeof(*ss->ns));
	if (!ss->ns)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++)
		if (parse_namespace(pc, config_setting_get_elem(s, (unsigned)i), i, ss))
			return -1;
	return 0;
}

static const struct key_spec subsys_keys[] = {
	{ "nqn", ss_nqn, true },        /* first: namespaces derive ids from it */
	{ "serial", ss_serial, false },
	{ "model", ss_model, false },
	{ "allow_any_host", ss_allow_any, false },
	{ "hosts", ss_hosts, false },
	{ "namespaces", ss_namespaces, false },
};

static void subsys_conf_clear(struct nvb_subsys_conf *ss)
{
	free(ss->nqn);
	for (int j = 0; j < ss->nhosts; j++)
		free(ss->hosts[j]);
	free(ss->hosts);
	for (int j = 0; j < ss->nns; j++)
		nvb_ns_conf_clear(&ss->ns[j]);
	free(ss->ns);
	memset(ss, 0, sizeof(*ss));
}

static int parse_subsystems(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_config *cfg = pc->cfg;
	int n = config_setting_length(s);

	if (check_group_list(pc, s))
		return -1;
	cfg->subsys = calloc((size_t)n + 1, sizeof(*cfg->subsys));
	if (!cfg->subsys)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct nvb_subsys_conf *ss = &cfg->subsys[i];
		const char *nqn;

		if (config_setting_lookup_string(g, "nqn", &nqn))
			snprintf(pc->scope, sizeof(pc->scope), "subsystem '%s'", nqn);
		else
			snprintf(pc->scope, sizeof(pc->scope), "subsystem #%d", i + 1);
		ss->line = (int)config_setting_source_line(g);
		if (parse_group(pc, g, subsys_keys, sizeof(subsys_keys) / sizeof(subsys_keys[0]), ss)) {
			subsys_conf_clear(ss);  /* not counted yet */
			return -1;
		}
		if (!ss->serial[0])
			nvb_subsys_derive_serial(ss->nqn, ss->serial);
		if (!ss->model[0])
			snprintf(ss->model, sizeof(ss->model), "nvbridge");
		cfg->nsubsys++;
	}
	pc->scope[0] = '\0';
	return 0;
}

static const struct nvb_subsys_conf *find_subsys(const struct nvb_config *cfg, const char *nqn)
{
	for (int i = 0; i < cfg->nsubsys; i++)
		if (strcmp(cfg->subsys[i].nqn, nqn) == 0)
			return &cfg->subsys[i];
	return NULL;
}

/* ---- ports ---------------------------------------------------------------- */

struct port_parse {
	struct nvb_port_conf *p;
	const config_setting_t *group, *port_s, *ana_s;
};

static int port_id(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;
	long long v;
	char at[32];

	if (get_int(pc, s, 0, UINT16_MAX, &v))
		return -1;
	for (int i = 0; i < pc->cfg->nports; i++)
		if (pc->cfg->ports[i].id == v)
			return fail(pc, s, "duplicate port id %lld%s", v,
				    first_at(pc->cfg->ports[i].line, at));
	pp->p->id = (uint16_t)v;
	return 0;
}

static int port_address(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;
	struct in6_addr bin;
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	if (parse_inet(v, &pp->p->family, &bin))
		return fail(pc, s, "address '%s' is not a numeric IPv4 or IPv6 address", v);
	pp->p->addr = strdup(v);
	return pp->p->addr ? 0 : fail(pc, s, "out of memory");
}

static int port_port(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;
	long long v = 0;

	pp->port_s = s;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *text = config_setting_get_string(s), *q;

		for (q = text; isdigit((unsigned char)*q) && v <= UINT16_MAX; q++)
			v = v * 10 + (*q - '0');
		if (!text[0] || *q || v < 1 || v > UINT16_MAX)
			return fail(pc, s, "port '%s' must be a TCP port number 1..65535", text);
	} else if (is_int(s)) {
		if (get_int(pc, s, 1, UINT16_MAX, &v))
			return -1;
	} else {
		return fail(pc, s, "'port' must be a TCP port number, not %s", type_name(s));
	}
	if (asprintf(&pp->p->svcid, "%lld", v) < 0) {
		pp->p->svcid = NULL;
		return fail(pc, s, "out of memory");
	}
	return 0;
}

static int port_ana_group(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;
	long long v;

	pp->ana_s = s;
	if (get_int(pc, s, 1, NVB_MAX_ANA_GROUPS, &v))
		return -1;
	if (!find_ana_group(pc->cfg, (uint32_t)v))
		return fail(pc, s, "ana_group %lld is not defined in ana_groups", v);
	pp->p->ana_group = (uint32_t)v;
	return 0;
}

static int port_advertise(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;
	struct in6_addr bin;
	const char *v;
	int family;

	if (get_string(pc, s, &v))
		return -1;
	/* The discovery log's ADRFAM comes from the port's family, so the
	 * advertised address must be of the same family (NVMe-oF 1.1 §5.3). */
	if (parse_inet(v, &family, &bin))
		return fail(pc, s, "advertise '%s' is not a numeric IPv4 or IPv6 address", v);
	if (pp->p->addr && family != pp->p->family)
		return fail(pc, s, "advertise '%s' is not of the same address family as "
			    "address '%s'", v, pp->p->addr);
	pp->p->advertise_addr = strdup(v);
	return pp->p->advertise_addr ? 0 : fail(pc, s, "out of memory");
}

static int check_port_subsys(struct parse_ctx *pc, const config_setting_t *e,
			     const char *v, void *arg)
{
	const struct nvb_port_conf *p = arg;

	if (!find_subsys(pc->cfg, v))
		return fail(pc, e, "subsystem '%s' is not defined in subsystems", v);
	for (int i = 0; i < p->nsubsystems; i++)
		if (strcmp(p->subsystems[i], v) == 0)
			return fail(pc, e, "subsystem '%s' is listed twice", v);
	return 0;
}

static int port_subsystems(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct port_parse *pp = obj;

	if (parse_string_list(pc, s, check_port_subsys, pp->p, &pp->p->subsystems,
			      &pp->p->nsubsystems))
		return -1;
	/* NULL means "every subsystem"; an empty list would silently mean none. */
	if (pp->p->nsubsystems == 0)
		return fail(pc, s, "'subsystems' is empty; omit it to export every subsystem");
	return 0;
}

static const struct key_spec port_keys[] = {
	{ "id", port_id, true },
	{ "address", port_address, true },
	{ "port", port_port, true },
	{ "ana_group", port_ana_group, false },
	{ "advertise", port_advertise, false },
	{ "subsystems", port_subsystems, false },
};

bool nvb_addr_overlap(const char *addr_a, unsigned int port_a,
		      const char *addr_b, unsigned int port_b)
{
	static const struct in6_addr zero;
	struct in6_addr ba, bb;
	int fa, fb;
	size_t len;

	memset(&ba, 0, sizeof(ba));
	memset(&bb, 0, sizeof(bb));
	if (port_a != port_b || parse_inet(addr_a, &fa, &ba) || parse_inet(addr_b, &fb, &bb) ||
	    fa != fb)
		return false;
	len = fa == AF_INET ? 4 : 16;
	return memcmp(&ba, &bb, len) == 0 || memcmp(&ba, &zero, len) == 0 ||
	       memcmp(&bb, &zero, len) == 0;
}

/* Would binding b fail because a holds the same address and TCP port? */
static bool ports_overlap(const struct nvb_port_conf *a, const struct nvb_port_conf *b)
{
	return nvb_addr_overlap(a->addr, (unsigned int)atoi(a->svcid),
				b->addr, (unsigned int)atoi(b->svcid));
}

static int port_check(struct parse_ctx *pc, struct port_parse *pp)
{
	struct nvb_port_conf *p = pp->p;

	if (!pp->ana_s) {
		if (!find_ana_group(pc->cfg, 1))
			return fail(pc, pp->group, "no 'ana_group' given, and the default "
				    "group 1 is not defined in ana_groups");
		p->ana_group = 1;
	}
	for (int i = 0; i < pc->cfg->nports; i++) {
		const struct nvb_port_conf *o = &pc->cfg->ports[i];

		if (ports_overlap(o, p))
			return fail(pc, pp->port_s, "address %s port %s is already used by "
				    "port %u (%s port %s)", p->addr, p->svcid, o->id, o->addr,
				    o->svcid);
	}
	return 0;
}

static void port_conf_clear(struct nvb_port_conf *p)
{
	free(p->addr);
	free(p->svcid);
	free(p->advertise_addr);
	for (int i = 0; i < p->nsubsystems; i++)
		free(p->subsystems[i]);
	free(p->subsystems);
	memset(p, 0, sizeof(*p));
}

static int parse_ports(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	struct nvb_config *cfg = pc->cfg;
	int n = config_setting_length(s);

	if (check_group_list(pc, s))
		return -1;
	if (n == 0)
		return fail(pc, s, "'ports' is empty: at least one port is required");
	cfg->ports = calloc((size_t)n, sizeof(*cfg->ports));
	if (!cfg->ports)
		return fail(pc, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		struct port_parse pp = { .p = &cfg->ports[i], .group = g };
		int id;

		if (config_setting_lookup_int(g, "id", &id))
			snprintf(pc->scope, sizeof(pc->scope), "port %d", id);
		else
			snprintf(pc->scope, sizeof(pc->scope), "port #%d", i + 1);
		pp.p->line = (int)config_setting_source_line(g);
		if (parse_group(pc, g, port_keys, sizeof(port_keys) / sizeof(port_keys[0]), &pp) ||
		    port_check(pc, &pp)) {
			port_conf_clear(pp.p);
			return -1;
		}
		cfg->nports++;
	}
	pc->scope[0] = '\0';
	return 0;
}

/* ---- top level ------------------------------------------------------------ */

static int top_reactors(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	long long v;

	if (get_int(pc, s, 0, NVB_MAX_REACTORS, &v))
		return -1;
	pc->cfg->reactors = (int)v;
	return 0;
}

static int top_log_level(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	enum nvb_log_level level;
	const char *v;

	if (get_string(pc, s, &v))
		return -1;
	if (nvb_log_level_parse(v, &level))
		return fail(pc, s, "unknown log_level '%s' (error, warning, info or debug)", v);
	pc->cfg->log_level = (int)level;
	return 0;
}

static int top_ctl_socket(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (get_path(pc, s, &pc->cfg->ctl_socket))
		return -1;
	if (strlen(pc->cfg->ctl_socket) > max)
		return fail(pc, s, "ctl_socket '%s' is longer than a Unix socket path may be "
			    "(%zu bytes)", pc->cfg->ctl_socket, max);
	return 0;
}

static const struct key_spec top_keys[] = {
	{ "reactors", top_reactors, false },
	{ "log_level", top_log_level, false },
	{ "ctl_socket", top_ctl_socket, false },
	{ "ana_groups", parse_ana_groups, false },      /* before their users */
	{ "subsystems", parse_subsystems, false },
	{ "ports", parse_ports, false },                /* refer to both above */
};

struct id_ref {
	const uint8_t *id;
	size_t len;
	const struct nvb_subsys_conf *ss;
	const struct nvb_ns_conf *ns;
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = memcmp(x->id, y->id, x->len);

	return c ? c : x->ns->line - y->ns->line;
}

/*
 * Hosts identify a namespace by its NGUID/UUID/EUI-64 across every
 * subsystem (NVMe 2.0 §4.7.1); two namespaces sharing one would be merged
 * into one multipath device. Derived ids never collide in practice; given
 * ones (copy-paste) can.
 */
static int check_unique_ids(struct parse_ctx *pc)
{
	const struct nvb_config *cfg = pc->cfg;
	static const char *const kind[] = { "nguid", "uuid", "eui64" };
	struct id_ref *refs;
	size_t n = 0;
	int rc = 0;

	for (int i = 0; i < cfg->nsubsys; i++)
		n += (size_t)cfg->subsys[i].nns;
	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return fail_line(pc, 0, "out of memory");
	for (int k = 0; k < 3 && !rc; k++) {
		size_t m = 0;

		for (int i = 0; i < cfg->nsubsys; i++) {
			for (int j = 0; j < cfg->subsys[i].nns; j++) {
				const struct nvb_ns_conf *ns = &cfg->subsys[i].ns[j];

				refs[m].ss = &cfg->subsys[i];
				refs[m].ns = ns;
				refs[m].id = k == 0 ? ns->nguid : k == 1 ? ns->uuid : ns->eui64;
				refs[m].len = k == 2 ? sizeof(ns->eui64) : sizeof(ns->nguid);
				m++;
			}
		}
		qsort(refs, m, sizeof(*refs), id_ref_cmp);
		for (size_t i = 1; i < m && !rc; i++) {
			const struct id_ref *a = &refs[i - 1], *b = &refs[i];
			char text[40];

			if (memcmp(a->id, b->id, a->len) != 0)
				continue;
			nvb_id_format(b->id, b->len, false, text);
			snprintf(pc->scope, sizeof(pc->scope), "subsystem '%s'", b->ss->nqn);
			snprintf(pc->subscope, sizeof(pc->subscope), "namespace %u", b->ns->nsid);
			rc = fail_line(pc, b->ns->line, "%s %s is also used by subsystem '%s' "
				       "namespace %u; hosts would take them for one namespace",
				       kind[k], text, a->ss->nqn, a->ns->nsid);
		}
	}
	free(refs);
	return rc;
}

/* ---- front-end sections --------------------------------------------------- */

static const struct nvb_config_section_ops *sections[NVB_CONFIG_MAX_SECTIONS];
static int nsections;

int nvb_config_register_section(const struct nvb_config_section_ops *ops)
{
	for (int i = 0; i < nsections; i++)
		if (strcmp(sections[i]->name, ops->name) == 0)
			return sections[i] == ops ? 0 : -1;
	if (nsections == NVB_CONFIG_MAX_SECTIONS)
		return -1;
	sections[nsections++] = ops;
	return 0;
}

void *nvb_config_section(const struct nvb_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->nsections; i++)
		if (strcmp(cfg->sections[i].ops->name, name) == 0)
			return cfg->sections[i].state;
	return NULL;
}

int nvb_config_errorf(const struct nvb_config *cfg, const struct config_setting_t *s,
		      char *err, size_t errlen, const char *fmt, ...)
{
	struct parse_ctx pc = { .name = cfg->path ? cfg->path : "config", .err = err,
				.errlen = errlen };
	va_list ap;

	va_start(ap, fmt);
	vreport(&pc, s ? (int)config_setting_source_line(s) : 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Registered sections are accepted at the top level here and parsed later. */
static int defer_section(struct parse_ctx *pc, const config_setting_t *s, void *obj)
{
	return 0;
}

/* After the core sections: each registered section present in the file. */
static int parse_sections(struct parse_ctx *pc, const config_setting_t *root)
{
	struct nvb_config *cfg = pc->cfg;

	for (int i = 0; i < nsections; i++) {
		const config_setting_t *s = config_setting_get_member(root, sections[i]->name);
		void *state = NULL;

		if (!s)
			continue;
		if (sections[i]->parse(s, cfg, &state, pc->err, pc->errlen))
			return -1;
		cfg->sections[cfg->nsections].ops = sections[i];
		cfg->sections[cfg->nsections].state = state;
		cfg->nsections++;
	}
	return 0;
}

static int parse_root(struct parse_ctx *pc, const config_setting_t *root)
{
	const size_t ntop = sizeof(top_keys) / sizeof(top_keys[0]);
	struct key_spec keys[sizeof(top_keys) / sizeof(top_keys[0]) + NVB_CONFIG_MAX_SECTIONS];
	struct nvb_config *cfg = pc->cfg;
	size_t nkeys = ntop;

	memcpy(keys, top_keys, sizeof(top_keys));
	for (int i = 0; i < nsections; i++)
		keys[nkeys++] = (struct key_spec){ sections[i]->name, defer_section, false };
	if (parse_group(pc, root, keys, nkeys, cfg))
		return -1;
	if (!cfg->ctl_socket && !(cfg->ctl_socket = strdup(NVB_DEFAULT_CTL_SOCKET)))
		return fail(pc, NULL, "out of memory");
	if (cfg->nports == 0)
		return fail(pc, NULL, "no ports defined: at least one is required in "
			    "ports = ( { id = 1; address = \"...\"; port = 4420; } );");
	if (check_unique_ids(pc))
		return -1;
	return parse_sections(pc, root);
}

/* The absolute directory of the config file, for relative paths in it. */
static char *config_dir(const char *name)
{
	const char *slash = strrchr(name, '/');
	char *dir, *cwd, *abs;

	if (!slash)
		dir = strdup(".");
	else if (slash == name)
		dir = strdup("/");
	else
		dir = strndup(name, (size_t)(slash - name));
	if (!dir || dir[0] == '/')
		return dir;
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		free(dir);
		return NULL;
	}
	if (strcmp(dir, ".") == 0) {
		free(dir);
		return cwd;
	}
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", dir) < 0)
		abs = NULL;
	free(cwd);
	free(dir);
	return abs;
}

static int parse_tree(const config_t *tree, const char *name, const char *dir,
		      struct nvb_config **out, char *err, size_t errlen)
{
	struct parse_ctx pc = { .name = name, .dir = dir, .err = err, .errlen = errlen };
	struct nvb_config *cfg = calloc(1, sizeof(*cfg));
	const config_setting_t *root = config_root_setting(tree);

	if (!cfg || !(cfg->path = strdup(name))) {
		free(cfg);
		return fail(&pc, NULL, "out of memory");
	}
	cfg->log_level = NVB_LOG_INFO;
	pc.cfg = cfg;
	/* Without ana_groups every port joins the default group 1: provide it
	 * before the ports are parsed. */
	if (!config_setting_get_member(root, "ana_groups")) {
		cfg->ana_groups = calloc(1, sizeof(*cfg->ana_groups));
		if (!cfg->ana_groups) {
			nvb_config_free(cfg);
			return fail(&pc, NULL, "out of memory");
		}
		cfg->ana_groups[0] = (struct nvb_ana_group_conf){ .id = 1,
			.state = NVB_ANA_OPTIMIZED };
		cfg->nana_groups = 1;
	}
	if (parse_root(&pc, root)) {
		nvb_config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int nvb_config_parse_tree(const struct config_t *tree, const char *name,
			  struct nvb_config **out, char *err, size_t errlen)
{
	struct parse_ctx pc = { .name = name, .err = err, .errlen = errlen };
	char *dir = config_dir(name);
	int rc;

	*out = NULL;
	if (!dir)
		return fail(&pc, NULL, "cannot resolve the config directory: %s", strerror(errno));
	rc = parse_tree(tree, name, dir, out, err, errlen);
	free(dir);
	return rc;
}

int nvb_config_parse(const char *text, const char *name, struct nvb_config **out,
		     char *err, size_t errlen)
{
	struct parse_ctx pc = { .name = name, .err = err, .errlen = errlen };
	config_t lc;
	char *dir;
	int rc;

	*out = NULL;
	if (prescan_text(&pc, text))
		return -1;
	dir = config_dir(name);
	if (!dir)
		return fail(&pc, NULL, "cannot resolve the config directory: %s", strerror(errno));
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		rc = fail_line(&pc, config_error_line(&lc), "%s", config_error_text(&lc));
	} else {
		rc = parse_tree(&lc, name, dir, out, err, errlen);
	}
	config_destroy(&lc);
	free(dir);
	return rc;
}

int nvb_config_load(const char *path, struct nvb_config **out, char *err, size_t errlen)
{
	struct parse_ctx pc = { .name = path, .err = err, .errlen = errlen };
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (!f)
		return fail(&pc, NULL, "%s", strerror(errno));
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			char *bigger;

			cap = cap ? cap * 2 : 16384;
			bigger = cap <= CONFIG_MAX_BYTES ? realloc(text, cap + 1) : NULL;
			if (!bigger) {
				free(text);
				fclose(f);
				return fail(&pc, NULL, cap > CONFIG_MAX_BYTES ?
					    "file is too large for a config" : "out of memory");
			}
			text = bigger;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = fail(&pc, NULL, "read error: %s", strerror(errno));
	} else {
		text[len] = '\0';
		if (strlen(text) != len)
			rc = fail(&pc, NULL, "contains a NUL byte: not a text file");
		else
			rc = nvb_config_parse(text, path, out, err, errlen);
	}
	free(text);
	fclose(f);
	return rc;
}

/* ---- ownership ------------------------------------------------------------ */

int nvb_ns_conf_copy(struct nvb_ns_conf *dst, const struct nvb_ns_conf *src)
{
	*dst = *src;
	if (src->path && !(dst->path = strdup(src->path)))
		return -1;
	return 0;
}

void nvb_ns_conf_clear(struct nvb_ns_conf *ns)
{
	free(ns->path);
	memset(ns, 0, sizeof(*ns));
}

void nvb_config_free(struct nvb_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->nsubsys; i++)
		subsys_conf_clear(&cfg->subsys[i]);
	free(cfg->subsys);
	for (int i = 0; i < cfg->nports; i++)
		port_conf_clear(&cfg->ports[i]);
	free(cfg->ports);
	free(cfg->ana_groups);
	for (int i = 0; i < cfg->nsections; i++)
		if (cfg->sections[i].ops->free)
			cfg->sections[i].ops->free(cfg->sections[i].state);
	free(cfg->ctl_socket);
	free(cfg->path);
	free(cfg);
}

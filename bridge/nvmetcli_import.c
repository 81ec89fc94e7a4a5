/* SPDX-License-Identifier: MIT */
/*
 * Import of an nvmetcli JSON config (what `nvmetcli save` writes for the
 * Linux kernel target, /etc/nvmet/config.json).
 *
 * The JSON is translated into an in-memory libconfig tree shaped like an
 * nvbridged config file, and that tree goes through the ordinary parser, so
 * an imported config is validated by exactly the rules a written one is.
 * This file only deals with what is particular to nvmetcli: values written
 * as strings or integers alike, the configfs attribute groups ("attr",
 * "addr", "param", "device", ...), ANA groups that live on ports, and the
 * features nvbridged does not have, each reported in one warning line.
 */
#include "bridge/config.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IMPORT_NAME "nvmetcli"

struct strbuf {
	char *s;
	size_t len, cap;
};

struct import_group {
	uint32_t id;                    /* ours */
	uint32_t grpid;                 /* nvmetcli's */
	enum nvb_ana_state state;
};

struct import_ctx {
	struct strbuf warnings;
	char *err;
	size_t errlen;
	bool oom;
	config_t lc;
	config_setting_t *subsys_list, *port_list;
	struct import_group groups[NVB_MAX_ANA_GROUPS];
	int ngroups;
	bool id_taken[NVB_MAX_ANA_GROUPS + 1];  /* by nvmetcli's grpids or ours */
	int nports;
};

/* ---- messages ------------------------------------------------------------- */

static void sb_vprintf(struct import_ctx *ic, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void sb_vprintf(struct import_ctx *ic, const char *fmt, va_list ap)
{
	struct strbuf *sb = &ic->warnings;
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		return;
	if (sb->len + (size_t)n + 1 > sb->cap) {
		size_t cap = (sb->len + (size_t)n + 1) * 2;
		char *s = realloc(sb->s, cap);

		if (!s) {
			ic->oom = true;
			return;
		}
		sb->s = s;
		sb->cap = cap;
	}
	vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
	sb->len += (size_t)n;
}

static void sb_printf(struct import_ctx *ic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct import_ctx *ic, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(ic, fmt, ap);
	va_end(ap);
}

/* One "warning: ...\n" line in the caller's warnings. */
static void warn(struct import_ctx *ic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn(struct import_ctx *ic, const char *fmt, ...)
{
	char line[NVB_NQN_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sb_printf(ic, "warning: %s\n", line);
}

static void set_error(struct import_ctx *ic, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct import_ctx *ic, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ic->err || !ic->errlen)
		return;
	n = snprintf(ic->err, ic->errlen, "%s: ", IMPORT_NAME);
	if (n < 0 || (size_t)n >= ic->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ic->err + n, ic->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Sets the error and evaluates to -1. A macro so that the -1 is in plain
 * sight: static analysers do not follow variadic calls, and would otherwise
 * take a rejected value for a parsed one. */
#define fail(ic, ...) (set_error((ic), __VA_ARGS__), -1)

/* One warning for a setting nvbridged has no use for; an object (an
 * nvmetcli attribute group such as "param") gets one line per attribute. */
static void warn_unsupported(struct import_ctx *ic, const char *scope, const char *group,
			     const char *key, struct json_object *val)
{
	if (!group && json_object_is_type(val, json_type_object)) {
		json_object_object_foreach(val, k, v)
			warn_unsupported(ic, scope, key, k, v);
		return;
	}
	if (group)
		warn(ic, "%s: %s '%s' is not supported, ignored", scope, group, key);
	else
		warn(ic, "%s: '%s' is not supported, ignored", scope, key);
}

/* ---- nvmetcli values: strings or integers alike ----------------------- */

/* Text of a string or integer value (nvmetcli writes both); NULL otherwise. */
static const char *jtext(struct json_object *o, char buf[32])
{
	if (json_object_is_type(o, json_type_string))
		return json_object_get_string(o);
	if (json_object_is_type(o, json_type_int)) {
		snprintf(buf, 32, "%lld", (long long)json_object_get_int64(o));
		return buf;
	}
	return NULL;
}

static int jtext_req(struct import_ctx *ic, struct json_object *o, const char *scope,
		     const char *what, char buf[32], const char **out)
{
	*out = o ? jtext(o, buf) : NULL;
	if (!o)
		return fail(ic, "%s: missing '%s'", scope, what);
	if (!*out || !(*out)[0])
		return fail(ic, "%s: '%s' must be a non-empty string", scope, what);
	return 0;
}

static int juint(struct import_ctx *ic, struct json_object *o, const char *scope,
		 const char *what, long long *out)
{
	char buf[32], *end;
	const char *t = jtext(o, buf);
	long long v;

	if (!t)
		return fail(ic, "%s: '%s' must be a number", scope, what);
	v = strtoll(t, &end, 10);
	if (!t[0] || *end || v < 0 || v == LLONG_MAX)
		return fail(ic, "%s: '%s' value '%s' is not a number", scope, what, t);
	*out = v;
	return 0;
}

static int jbool(struct import_ctx *ic, struct json_object *o, const char *scope,
		 const char *what, bool *out)
{
	char buf[32];
	const char *t;

	if (json_object_is_type(o, json_type_boolean)) {
		*out = json_object_get_boolean(o);
		return 0;
	}
	t = jtext(o, buf);
	if (t && (strcmp(t, "1") == 0 || strcmp(t, "true") == 0)) {
		*out = true;
		return 0;
	}
	if (t && (strcmp(t, "0") == 0 || strcmp(t, "false") == 0)) {
		*out = false;
		return 0;
	}
	return fail(ic, "%s: '%s' must be 0 or 1", scope, what);
}

static struct json_object *jget(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

/* ---- the libconfig tree ---------------------------------------------------- */

static config_setting_t *add(struct import_ctx *ic, config_setting_t *parent,
			     const char *key, int type)
{
	config_setting_t *s = parent ? config_setting_add(parent, key, type) : NULL;

	if (!s)
		ic->oom = true;
	return s;
}

static void add_str(struct import_ctx *ic, config_setting_t *parent, const char *key,
		    const char *v)
{
	config_setting_t *s = add(ic, parent, key, CONFIG_TYPE_STRING);

	if (s && !config_setting_set_string(s, v))
		ic->oom = true;
}

static void add_int(struct import_ctx *ic, config_setting_t *parent, const char *key,
		    long long v)
{
	config_setting_t *s = add(ic, parent, key, CONFIG_TYPE_INT64);

	if (s)
		config_setting_set_int64(s, v);
}

static void add_bool(struct import_ctx *ic, config_setting_t *parent, const char *key, bool v)
{
	config_setting_t *s = add(ic, parent, key, CONFIG_TYPE_BOOL);

	if (s)
		config_setting_set_bool(s, v);
}

static int add_str_array(struct import_ctx *ic, config_setting_t *parent, const char *key,
			 struct json_object *arr, const char *scope)
{
	config_setting_t *a;
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return fail(ic, "%s: '%s' must be a list", scope, key);
	n = json_object_array_length(arr);
	if (n == 0)
		return 0;
	a = add(ic, parent, key, CONFIG_TYPE_ARRAY);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string))
			return fail(ic, "%s: element %zu of '%s' must be a string", scope, i + 1, key);
		add_str(ic, a, NULL, json_object_get_string(e));
	}
	return 0;
}

/* ---- namespaces -------------------------------------------------------- */

/* device.nguid/uuid/eui64: kernel targets show an unset one as all zeros. */
static int import_id(struct import_ctx *ic, config_setting_t *g, const char *scope,
		     const char *key, struct json_object *v, size_t len)
{
	uint8_t id[16];
	bool zero = true;
	const char *t = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	if (!t || nvb_id_parse(t, id, len))
		return fail(ic, "%s: device.%s '%s' is not %zu hex digits", scope, key,
			    t ? t : json_object_to_json_string(v), 2 * len);
	for (size_t i = 0; i < len; i++)
		zero = zero && !id[i];
	if (!zero)
		add_str(ic, g, key, t);
	return 0;
}

static int import_device(struct import_ctx *ic, config_setting_t *g, const char *scope,
			 struct json_object *dev)
{
	struct json_object *path = dev ? jget(dev, "path") : NULL;

	if (!dev || !json_object_is_type(dev, json_type_object))
		return fail(ic, "%s: missing 'device' (with device.path)", scope);
	if (!path || !json_object_is_type(path, json_type_string) ||
	    !json_object_get_string(path)[0])
		return fail(ic, "%s: missing device.path (the file or block device)", scope);
	add_str(ic, g, "backend", "file");
	add_str(ic, g, "path", json_object_get_string(path));
	json_object_object_foreach(dev, key, v) {
		int rc = 0;

		if (strcmp(key, "path") == 0)
			continue;
		if (strcmp(key, "nguid") == 0 || strcmp(key, "uuid") == 0)
			rc = import_id(ic, g, scope, key, v, 16);
		else if (strcmp(key, "eui64") == 0)
			rc = import_id(ic, g, scope, key, v, 8);
		else
			warn_unsupported(ic, scope, "device", key, v);
		if (rc)
			return -1;
	}
	return 0;
}

/* A namespace follows the ANA group of the port it is reached through;
 * nvmetcli's per-namespace group has no equivalent but group 1, the default. */
static int import_ns_grpid(struct import_ctx *ic, const char *scope, struct json_object *v)
{
	long long grpid;

	if (juint(ic, v, scope, "ana_grpid", &grpid))
		return -1;
	if (grpid != 1)
		warn(ic, "%s: ana_grpid %lld is not mapped: an nvbridged namespace is in "
		     "the ANA group of the port it is reached through", scope, grpid);
	return 0;
}

static int import_namespace(struct import_ctx *ic, config_setting_t *list, const char *nqn,
			    struct json_object *ns, size_t index)
{
	struct json_object *nsid_o = jget(ns, "nsid"), *enable = jget(ns, "enable");
	char scope[NVB_NQN_MAX + 64];
	config_setting_t *g;
	long long nsid;
	bool enabled = true;

	snprintf(scope, sizeof(scope), "subsystem %s: namespace #%zu", nqn, index + 1);
	if (!json_object_is_type(ns, json_type_object))
		return fail(ic, "%s: must be an object", scope);
	if (!nsid_o)
		return fail(ic, "%s: missing 'nsid'", scope);
	if (juint(ic, nsid_o, scope, "nsid", &nsid))
		return -1;
	snprintf(scope, sizeof(scope), "subsystem %s: namespace %lld", nqn, nsid);
	if (enable && jbool(ic, enable, scope, "enable", &enabled))
		return -1;
	if (!enabled) {
		warn(ic, "%s is disabled (enable 0), skipped", scope);
		return 0;
	}
	g = add(ic, list, NULL, CONFIG_TYPE_GROUP);
	add_int(ic, g, "nsid", nsid);
	if (import_device(ic, g, scope, jget(ns, "device")))
		return -1;
	json_object_object_foreach(ns, key, v) {
		int rc = 0;

		if (!strcmp(key, "nsid") || !strcmp(key, "enable") || !strcmp(key, "device"))
			continue;
		if (strcmp(key, "ana_grpid") == 0) {
			rc = import_ns_grpid(ic, scope, v);
		} else if (strcmp(key, "ana") == 0 && json_object_is_type(v, json_type_object)) {
			/* configfs "ana_grpid" again, as an attribute group */
			json_object_object_foreach(v, akey, aval) {
				if (strcmp(akey, "grpid") != 0)
					warn_unsupported(ic, scope, "ana", akey, aval);
				else if (!jget(ns, "ana_grpid"))
					rc = rc ? rc : import_ns_grpid(ic, scope, aval);
			}
		} else {
			warn_unsupported(ic, scope, NULL, key, v);
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- subsystems ----------------------------------------------------------- */

static int import_attr(struct import_ctx *ic, config_setting_t *g, const char *scope,
		       struct json_object *attr)
{
	if (!json_object_is_type(attr, json_type_object))
		return fail(ic, "%s: 'attr' must be an object", scope);
	json_object_object_foreach(attr, key, v) {
		char buf[32];
		const char *t;

		if (strcmp(key, "allow_any_host") == 0) {
			bool any;

			if (jbool(ic, v, scope, "attr.allow_any_host", &any))
				return -1;
			add_bool(ic, g, "allow_any_host", any);
		} else if (strcmp(key, "serial") == 0 || strcmp(key, "model") == 0) {
			if (jtext_req(ic, v, scope, key, buf, &t))
				return -1;
			add_str(ic, g, key, t);
		} else {
			warn_unsupported(ic, scope, "attr", key, v);
		}
	}
	return 0;
}

static int import_subsystem(struct import_ctx *ic, struct json_object *ss, size_t index)
{
	struct json_object *nqn_o, *sub_o;
	char scope[NVB_NQN_MAX + 32];
	config_setting_t *g;
	const char *nqn;

	snprintf(scope, sizeof(scope), "subsystem #%zu", index + 1);
	if (!json_object_is_type(ss, json_type_object))
		return fail(ic, "%s: must be an object", scope);
	/* `nvmetcli save` writes "nqn"; some guides write "subnqn". */
	nqn_o = jget(ss, "nqn");
	sub_o = jget(ss, "subnqn");
	if (!nqn_o && !sub_o)
		return fail(ic, "%s: missing 'nqn' (or 'subnqn'), the subsystem NQN", scope);
	if (!nqn_o)
		nqn_o = sub_o;
	if (!json_object_is_type(nqn_o, json_type_string))
		return fail(ic, "%s: the subsystem NQN must be a string", scope);
	nqn = json_object_get_string(nqn_o);
	if (sub_o && sub_o != nqn_o && (!json_object_is_type(sub_o, json_type_string) ||
					strcmp(json_object_get_string(sub_o), nqn) != 0))
		return fail(ic, "%s: 'nqn' and 'subnqn' differ", scope);
	snprintf(scope, sizeof(scope), "subsystem %s", nqn);

	g = add(ic, ic->subsys_list, NULL, CONFIG_TYPE_GROUP);
	add_str(ic, g, "nqn", nqn);
	json_object_object_foreach(ss, key, v) {
		int rc = 0;

		if (!strcmp(key, "nqn") || !strcmp(key, "subnqn")) {
			continue;
		} else if (strcmp(key, "allowed_hosts") == 0) {
			rc = add_str_array(ic, g, "hosts", v, scope);
		} else if (strcmp(key, "attr") == 0) {
			rc = import_attr(ic, g, scope, v);
		} else if (strcmp(key, "namespaces") == 0) {
			config_setting_t *list;

			if (!json_object_is_type(v, json_type_array))
				return fail(ic, "%s: 'namespaces' must be a list", scope);
			list = add(ic, g, "namespaces", CONFIG_TYPE_LIST);
			for (size_t i = 0; i < json_object_array_length(v) && !rc; i++)
				rc = import_namespace(ic, list, nqn,
						      json_object_array_get_idx(v, i), i);
		} else {
			warn_unsupported(ic, scope, NULL, key, v);
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- ANA groups: on ports in nvmetcli, global in nvbridged ----------------- */

/*
 * The kernel keeps an ANA state per (port, group); nvbridged gives each group
 * one state and each port one group. A port's first group maps to a group of
 * the same id while the states agree; a port that wants the same id in
 * another state (the usual kernel multipath set-up: group 1 optimized on
 * one port, non-optimized on the other) gets a free id of its own.
 */
static int assign_group(struct import_ctx *ic, const char *scope, long long grpid,
			enum nvb_ana_state state, uint32_t *out)
{
	struct import_group *ng;
	uint32_t id = 0;

	for (int i = 0; i < ic->ngroups; i++) {
		if (ic->groups[i].grpid == grpid && ic->groups[i].state == state) {
			*out = ic->groups[i].id;
			return 0;
		}
	}
	if (grpid >= 1 && grpid <= NVB_MAX_ANA_GROUPS) {
		bool used = false;

		for (int i = 0; i < ic->ngroups; i++)
			used = used || ic->groups[i].id == grpid;
		if (!used)
			id = (uint32_t)grpid;
	}
	if (!id) {
		for (uint32_t i = 1; i <= NVB_MAX_ANA_GROUPS && !id; i++)
			if (!ic->id_taken[i])
				id = i;
		if (!id)
			return fail(ic, "%s: no free ANA group id left (nvbridged has %d)",
				    scope, NVB_MAX_ANA_GROUPS);
		warn(ic, "%s: ANA group %lld (%s) becomes group %u: an nvbridged group has "
		     "one state on every port", scope, grpid, nvb_ana_state_name(state), id);
	}
	ic->id_taken[id] = true;
	ng = &ic->groups[ic->ngroups++];
	ng->id = id;
	ng->grpid = (uint32_t)grpid;
	ng->state = state;
	*out = id;
	return 0;
}

static int import_port_ana(struct import_ctx *ic, config_setting_t *g, const char *scope,
			   struct json_object *groups)
{
	enum nvb_ana_state state = NVB_ANA_OPTIMIZED;
	long long grpid = 1;            /* the kernel's default group */
	uint32_t id = 0;

	if (groups && !json_object_is_type(groups, json_type_array))
		return fail(ic, "%s: 'ana_groups' must be a list", scope);
	if (groups && json_object_array_length(groups) > 0) {
		struct json_object *first = json_object_array_get_idx(groups, 0);
		struct json_object *grpid_o = jget(first, "grpid"), *ana = jget(first, "ana");
		struct json_object *state_o = ana ? jget(ana, "state") : NULL;

		if (!grpid_o)
			return fail(ic, "%s: ANA group without 'grpid'", scope);
		if (juint(ic, grpid_o, scope, "grpid", &grpid))
			return -1;
		if (grpid < 1 || grpid > UINT32_MAX)
			return fail(ic, "%s: ANA group id %lld is out of range", scope, grpid);
		if (state_o && (!json_object_is_type(state_o, json_type_string) ||
				nvb_ana_state_parse(json_object_get_string(state_o), &state)))
			return fail(ic, "%s: ANA group %lld: unknown state %s", scope, grpid,
				    json_object_to_json_string(state_o));
		/* A kernel port caught mid-transition: the state it is heading
		 * for is unknown, and unlike "change" "inaccessible" can stay. */
		if (!nvb_ana_state_settable(state)) {
			warn(ic, "%s: ANA group %lld is in state \"%s\", which nvbridged "
			     "does not keep (hosts reset controllers left in it longer than "
			     "2×ANATT); imported as inaccessible", scope, grpid,
			     nvb_ana_state_name(state));
			state = NVB_ANA_INACCESSIBLE;
		}
		if (json_object_array_length(groups) > 1)
			warn(ic, "%s: has %zu ANA groups; an nvbridged port is in one, so it "
			     "uses the first (group %lld, %s)", scope,
			     json_object_array_length(groups), grpid, nvb_ana_state_name(state));
	}
	if (assign_group(ic, scope, grpid, state, &id))
		return -1;
	add_int(ic, g, "ana_group", id);
	return 0;
}

static void mark_grpids(struct import_ctx *ic, struct json_object *ports)
{
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *groups = jget(json_object_array_get_idx(ports, i), "ana_groups");

		/* json-c asserts on array calls with anything but an array */
		if (!json_object_is_type(groups, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(groups); j++) {
			struct json_object *grpid = jget(json_object_array_get_idx(groups, j), "grpid");
			long long v = grpid ? json_object_get_int64(grpid) : 0;

			if (v >= 1 && v <= NVB_MAX_ANA_GROUPS)
				ic->id_taken[v] = true;
		}
	}
}

/* ---- ports ---------------------------------------------------------------- */

static int import_addr(struct import_ctx *ic, config_setting_t *g, const char *scope,
		       struct json_object *addr)
{
	char addrbuf[32], svcbuf[32], buf[32];
	const char *traddr, *svcid, *adrfam;
	struct json_object *fam = jget(addr, "adrfam");
	unsigned char bin[16];
	int family;

	if (jtext_req(ic, jget(addr, "traddr"), scope, "addr.traddr", addrbuf, &traddr) ||
	    jtext_req(ic, jget(addr, "trsvcid"), scope, "addr.trsvcid", svcbuf, &svcid))
		return -1;
	family = inet_pton(AF_INET, traddr, bin) == 1 ? AF_INET :
		 inet_pton(AF_INET6, traddr, bin) == 1 ? AF_INET6 : 0;
	if (fam) {
		adrfam = json_object_is_type(fam, json_type_string) ?
			json_object_get_string(fam) : "";
		if (strcmp(adrfam, "ipv4") != 0 && strcmp(adrfam, "ipv6") != 0)
			return fail(ic, "%s: adrfam '%s' is not ipv4 or ipv6", scope, adrfam);
		if (family && family != (strcmp(adrfam, "ipv4") == 0 ? AF_INET : AF_INET6))
			return fail(ic, "%s: traddr '%s' is not an %s address", scope, traddr,
				    adrfam);
	}
	add_str(ic, g, "address", traddr);     /* the parser checks it is numeric */
	add_str(ic, g, "port", svcid);
	json_object_object_foreach(addr, key, v) {
		const char *t = jtext(v, buf);

		if (!strcmp(key, "traddr") || !strcmp(key, "trsvcid") || !strcmp(key, "adrfam") ||
		    !strcmp(key, "trtype"))
			continue;
		/* NVMe-oF 1.1 §5.3: TREQ "not specified"; TSAS "none": no secure channel. */
		if ((strcmp(key, "treq") == 0 && t && strcmp(t, "not specified") == 0) ||
		    (strcmp(key, "tsas") == 0 && t && strcmp(t, "none") == 0))
			continue;
		if (t)
			warn(ic, "%s: addr.%s '%s' is not supported (no secure channel), ignored",
			     scope, key, t);
		else
			warn_unsupported(ic, scope, "addr", key, v);
	}
	return 0;
}

static int import_port(struct import_ctx *ic, struct json_object *port, size_t index)
{
	struct json_object *addr = jget(port, "addr"), *portid_o = jget(port, "portid");
	struct json_object *trtype, *subsys, *refs;
	char scope[48];
	config_setting_t *g;
	long long portid;

	snprintf(scope, sizeof(scope), "port #%zu", index + 1);
	if (!json_object_is_type(port, json_type_object))
		return fail(ic, "%s: must be an object", scope);
	if (!portid_o)
		return fail(ic, "%s: missing 'portid'", scope);
	if (juint(ic, portid_o, scope, "portid", &portid))
		return -1;
	snprintf(scope, sizeof(scope), "port %lld", portid);
	if (!addr || !json_object_is_type(addr, json_type_object))
		return fail(ic, "%s: missing 'addr' (with traddr and trsvcid)", scope);

	trtype = jget(addr, "trtype");
	if (!trtype) {
		warn(ic, "%s: no addr.trtype, taken as tcp", scope);
	} else if (!json_object_is_type(trtype, json_type_string) ||
		   strcmp(json_object_get_string(trtype), "tcp") != 0) {
		warn(ic, "%s: trtype %s is not supported (nvbridged serves NVMe/TCP), port "
		     "skipped", scope, json_object_to_json_string(trtype));
		return 0;
	}
	subsys = jget(port, "subsystems");
	if (subsys && !json_object_is_type(subsys, json_type_array))
		return fail(ic, "%s: 'subsystems' must be a list", scope);
	if (!subsys || json_object_array_length(subsys) == 0) {
		warn(ic, "%s exports no subsystem, skipped", scope);
		return 0;
	}

	g = add(ic, ic->port_list, NULL, CONFIG_TYPE_GROUP);
	add_int(ic, g, "id", portid);
	if (import_addr(ic, g, scope, addr) ||
	    add_str_array(ic, g, "subsystems", subsys, scope) ||
	    import_port_ana(ic, g, scope, jget(port, "ana_groups")))
		return -1;
	refs = jget(port, "referrals");
	if (refs && (!json_object_is_type(refs, json_type_array) ||
		     json_object_array_length(refs) > 0))
		warn(ic, "%s: referrals are not supported, ignored", scope);
	json_object_object_foreach(port, key, v) {
		if (!strcmp(key, "portid") || !strcmp(key, "addr") || !strcmp(key, "subsystems") ||
		    !strcmp(key, "ana_groups") || !strcmp(key, "referrals"))
			continue;
		warn_unsupported(ic, scope, NULL, key, v);
	}
	ic->nports++;
	return 0;
}

/* ---- hosts: nvmetcli's registry of host NQNs --------------------------- */

static int import_hosts(struct import_ctx *ic, struct json_object *hosts)
{
	if (!json_object_is_type(hosts, json_type_array))
		return fail(ic, "'hosts' must be a list");
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *nqn = json_object_is_type(h, json_type_object) ?
			jget(h, "nqn") : NULL;
		char scope[NVB_NQN_MAX + 16];

		if (!nqn || !json_object_is_type(nqn, json_type_string))
			return fail(ic, "host #%zu: missing 'nqn'", i + 1);
		/* Access is per subsystem (allowed_hosts); only extra
		 * attributes such as DH-HMAC-CHAP keys are worth a word. */
		snprintf(scope, sizeof(scope), "host %s", json_object_get_string(nqn));
		json_object_object_foreach(h, key, v)
			if (strcmp(key, "nqn") != 0)
				warn_unsupported(ic, scope, NULL, key, v);
	}
	return 0;
}

/* ---- entry ---------------------------------------------------------------- */

static int each_element(struct import_ctx *ic, struct json_object *arr, const char *what,
			int (*fn)(struct import_ctx *ic, struct json_object *e, size_t i))
{
	if (!json_object_is_type(arr, json_type_array))
		return fail(ic, "'%s' must be a list", what);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (fn(ic, json_object_array_get_idx(arr, i), i))
			return -1;
	return 0;
}

static struct json_object *parse_json(struct import_ctx *ic, const char *text)
{
	struct json_tokener *tok;
	struct json_object *root;
	size_t len = strlen(text), end;
	enum json_tokener_error jerr;

	if (len > INT_MAX) {
		set_error(ic, "input too large");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		set_error(ic, "out of memory");
		return NULL;
	}
	/* Python's json module (nvmetcli) writes strict JSON; anything else is
	 * a damaged or hand-edited file better refused than guessed at. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		int line = 1;

		for (size_t i = 0; i < end && i < len; i++)
			line += text[i] == '\n';
		if (jerr == json_tokener_continue || (jerr == json_tokener_success && !root))
			set_error(ic, "invalid JSON: unexpected end of input (truncated file?)");
		else
			set_error(ic, "invalid JSON at line %d: %s", line,
				  json_tokener_error_desc(jerr));
		json_object_put(root);
		return NULL;
	}
	while (end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (end < len) {
		set_error(ic, "invalid JSON: unexpected data after the top-level object");
		json_object_put(root);
		return NULL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		set_error(ic, "not an nvmetcli config: the top level must be a JSON object");
		json_object_put(root);
		return NULL;
	}
	return root;
}

static int import_root(struct import_ctx *ic, struct json_object *root)
{
	struct json_object *ports = jget(root, "ports"), *subsys = jget(root, "subsystems");
	struct json_object *hosts = jget(root, "hosts");
	config_setting_t *top = config_root_setting(&ic->lc), *ana;

	json_object_object_foreach(root, key, v)
		if (strcmp(key, "ports") != 0 && strcmp(key, "subsystems") != 0 &&
		    strcmp(key, "hosts") != 0)
			warn_unsupported(ic, "top level", NULL, key, v);
	if (hosts && import_hosts(ic, hosts))
		return -1;
	ic->subsys_list = add(ic, top, "subsystems", CONFIG_TYPE_LIST);
	if (subsys && each_element(ic, subsys, "subsystems", import_subsystem))
		return -1;
	if (!ports)
		return fail(ic, "no 'ports': nothing would be served");
	if (!json_object_is_type(ports, json_type_array))
		return fail(ic, "'ports' must be a list");
	mark_grpids(ic, ports);
	ic->port_list = add(ic, top, "ports", CONFIG_TYPE_LIST);
	if (each_element(ic, ports, "ports", import_port))
		return -1;
	if (ic->nports == 0)
		return fail(ic, "no usable port (nvbridged needs at least one tcp port "
			    "exporting a subsystem)");
	ana = add(ic, top, "ana_groups", CONFIG_TYPE_LIST);
	for (int i = 0; i < ic->ngroups; i++) {
		config_setting_t *g = add(ic, ana, NULL, CONFIG_TYPE_GROUP);

		add_int(ic, g, "id", ic->groups[i].id);
		add_str(ic, g, "state", nvb_ana_state_name(ic->groups[i].state));
	}
	return 0;
}

int nvb_import_nvmetcli(const char *json_text, struct nvb_config **out,
			char **warnings, char *err, size_t errlen)
{
	struct import_ctx ic = { .err = err, .errlen = errlen };
	struct json_object *root;
	int rc = -1;

	*out = NULL;
	if (warnings)
		*warnings = NULL;
	config_init(&ic.lc);
	root = parse_json(&ic, json_text);
	if (root && import_root(&ic, root) == 0) {
		if (ic.oom)
			set_error(&ic, "out of memory");
		else
			rc = nvb_config_parse_tree(&ic.lc, IMPORT_NAME, out, err, errlen);
	}
	if (rc == 0) {
		/* Not read from a file: there is no path to save back to. */
		free((*out)->path);
		(*out)->path = NULL;
	}
	json_object_put(root);
	config_destroy(&ic.lc);
	if (warnings && !ic.oom)
		*warnings = ic.warnings.s;
	else
		free(ic.warnings.s);
	return rc;
}

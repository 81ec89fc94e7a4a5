/* SPDX-License-Identifier: MIT */
/*
 * The control socket's methods: one table of {name, handler, parameters,
 * help}; every handler runs on the control thread and returns a JSON value
 * (docs/ctl.md describes each one). Parameters are named (a JSON object);
 * an unknown or mistyped parameter is Invalid params (-32602), a refused
 * operation is -32000 with the reason.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "bridge/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/log.h"
#include "bridge/target.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

struct ctl_req {
	struct json_object *params;             /* NULL when none were given */
	const struct nvb_frontend_ops *const *frontends;
	int nfrontends;
	struct json_object *result;
	char *err;
	size_t errlen;
};

static void set_msg(struct ctl_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_msg(struct ctl_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

/* Sets the message and evaluates to the error code. A macro so that the
 * code is in plain sight: static analysers do not follow variadic calls,
 * and would otherwise take a failed parameter check for a success. */
#define fail(r, code, ...) (set_msg((r), __VA_ARGS__), (code))

/* ---- parameters ------------------------------------------------------- */

static struct json_object *param(struct ctl_req *r, const char *key)
{
	struct json_object *v = NULL;

	if (r->params)
		json_object_object_get_ex(r->params, key, &v);
	return v;
}

static int missing(struct ctl_req *r, const char *key)
{
	return fail(r, NVB_CTL_INVALID_PARAMS, "Invalid params: '%s' is required", key);
}

/* *out is left alone when an optional parameter is absent (its default). */
static int param_str(struct ctl_req *r, const char *key, bool required, const char **out)
{
	struct json_object *v = param(r, key);

	if (!v)
		return required ? missing(r, key) : 0;
	if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: '%s' must be a non-empty string", key);
	*out = json_object_get_string(v);
	return 0;
}

static int param_u32(struct ctl_req *r, const char *key, bool required, uint32_t min,
		     uint32_t max, uint32_t *out)
{
	struct json_object *v = param(r, key);
	int64_t n;

	if (!v)
		return required ? missing(r, key) : 0;
	errno = 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || errno || n < min || n > max)
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: '%s' must be an integer %" PRIu32 "..%" PRIu32,
			    key, min, max);
	*out = (uint32_t)n;
	return 0;
}

static int param_bool(struct ctl_req *r, const char *key, bool *out)
{
	struct json_object *v = param(r, key);

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(r, NVB_CTL_INVALID_PARAMS, "Invalid params: '%s' must be true or false",
			    key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int param_size(struct ctl_req *r, const char *key, bool required, uint64_t *out)
{
	struct json_object *v = param(r, key);

	if (!v)
		return required ? missing(r, key) : 0;
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
		*out = json_object_get_uint64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string) &&
	    nvb_size_parse(json_object_get_string(v), out) == 0)
		return 0;
	return fail(r, NVB_CTL_INVALID_PARAMS,
		    "Invalid params: '%s' must be a byte count or a size like \"2G\"", key);
}

static int param_hex_id(struct ctl_req *r, const char *key, uint8_t *out, size_t n)
{
	const char *s = NULL;
	int rc = param_str(r, key, false, &s);

	if (rc || !s)
		return rc;
	if (nvb_id_parse(s, out, n) != 0)
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: '%s' must be %zu hex digits (dashes allowed)", key, 2 * n);
	return 0;
}

static int param_subsys(struct ctl_req *r, struct nvb_subsys **out)
{
	const char *nqn = NULL;
	int rc = param_str(r, "nqn", true, &nqn);

	if (rc)
		return rc;
	*out = nvb_target_find_subsys(nqn);
	if (!*out || (*out)->is_discovery)
		return fail(r, NVB_CTL_FAILED, "no subsystem %s", nqn);
	return 0;
}

static int param_nsid(struct ctl_req *r, uint32_t *nsid)
{
	return param_u32(r, "nsid", true, 1, NVB_MAX_NSID, nsid);
}

/* ---- JSON building ---------------------------------------------------- */

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static void add_bool(struct json_object *o, const char *key, bool v)
{
	json_object_object_add(o, key, json_object_new_boolean(v));
}

static void add_id(struct json_object *o, const char *key, const uint8_t *id, size_t n,
		   bool uuid_style)
{
	char text[2 * 16 + 5];

	nvb_id_format(id, n, uuid_style, text);
	add_str(o, key, text);
}

static const char *backend_name(enum nvb_backend_kind kind)
{
	return kind == NVB_BACKEND_FILE ? "file" : "ram";
}

static struct json_object *ns_json(const struct nvb_ns *ns)
{
	struct json_object *o = json_object_new_object();
	const struct nvb_ns_conf *c = &ns->conf;

	add_str(o, "subsystem", ns->subsys->nqn);
	add_int(o, "nsid", ns->nsid);
	add_str(o, "backend", backend_name(c->backend));
	add_str(o, "path", c->backend == NVB_BACKEND_FILE ? c->path : NULL);
	add_u64(o, "size", atomic_load(&ns->nblocks) << ns->lba_shift);
	add_int(o, "lba_size", 1 << ns->lba_shift);
	add_id(o, "nguid", c->nguid, sizeof(c->nguid), false);
	add_id(o, "uuid", c->uuid, sizeof(c->uuid), true);
	add_id(o, "eui64", c->eui64, sizeof(c->eui64), false);
	add_int(o, "ana_group", c->ana_group);
	add_bool(o, "volatile_write_cache", c->volatile_write_cache);
	return o;
}

/* Call fn on every namespace published in ss, holding a reference. */
static void for_each_ns(struct nvb_subsys *ss, void (*fn)(struct nvb_ns *ns, void *arg),
			void *arg)
{
	uint32_t max = nvb_subsys_max_nsid(ss);

	for (uint32_t nsid = 1; nsid <= max && nsid <= NVB_MAX_NSID; nsid++) {
		struct nvb_ns *ns = nvb_ns_get(ss, nsid);

		if (ns) {
			fn(ns, arg);
			nvb_ns_put(ns);
		}
	}
}

static void count_ns(struct nvb_ns *ns, void *arg)
{
	(*(int *)arg)++;
}

static void append_ns_json(struct nvb_ns *ns, void *arg)
{
	json_object_array_add(arg, ns_json(ns));
}

static struct json_object *strv_json(char *const *v, int n)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *subsys_json(struct nvb_subsys *ss)
{
	struct json_object *o = json_object_new_object();
	int nns = 0;

	add_str(o, "nqn", ss->nqn);
	add_str(o, "serial", ss->serial);
	add_str(o, "model", ss->model);
	pthread_mutex_lock(&ss->lock);
	add_bool(o, "allow_any_host", ss->allow_any_host);
	json_object_object_add(o, "hosts", strv_json(ss->hosts, ss->nhosts));
	pthread_mutex_unlock(&ss->lock);
	for_each_ns(ss, count_ns, &nns);
	add_int(o, "namespaces", nns);
	return o;
}

static struct json_object *ana_group_json(const struct nvb_ana_group *g)
{
	struct nvb_target *t = nvb_target();
	struct json_object *o = json_object_new_object();
	struct json_object *ports = json_object_new_array();

	add_int(o, "id", g->id);
	add_str(o, "state", nvb_ana_state_name((enum nvb_ana_state)atomic_load(&g->state)));
	add_int(o, "change_count", atomic_load(&g->change_count));
	for (int i = 0; i < t->nports; i++)
		if (t->ports[i].ana == g)
			json_object_array_add(ports, json_object_new_int(t->ports[i].conf.id));
	json_object_object_add(o, "ports", ports);
	return o;
}

/* ---- methods: read-only ----------------------------------------------- */

static int m_version(struct ctl_req *r)
{
	r->result = json_object_new_object();
	add_str(r->result, "version", PACKAGE_VERSION);
	return 0;
}

static int m_list_subsystems(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();

	r->result = json_object_new_array();
	for (int i = 0; i < t->nsubsys; i++)
		json_object_array_add(r->result, subsys_json(t->subsys[i]));
	return 0;
}

static int m_list_namespaces(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();
	struct nvb_subsys *only = NULL;
	int rc;

	if (param(r, "nqn") && (rc = param_subsys(r, &only)) != 0)
		return rc;
	r->result = json_object_new_array();
	for (int i = 0; i < t->nsubsys; i++)
		if (!only || t->subsys[i] == only)
			for_each_ns(t->subsys[i], append_ns_json, r->result);
	return 0;
}

static int m_list_ports(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();

	r->result = json_object_new_array();
	for (int i = 0; i < t->nports; i++) {
		const struct nvb_port *p = &t->ports[i];
		struct json_object *o = json_object_new_object();
		struct json_object *subs = json_object_new_array();

		add_int(o, "id", p->conf.id);
		add_str(o, "address", p->conf.addr);
		add_str(o, "port", p->conf.svcid);
		add_str(o, "family", p->conf.family == AF_INET6 ? "ipv6" : "ipv4");
		add_int(o, "ana_group", p->ana->id);
		add_str(o, "ana_state",
			nvb_ana_state_name((enum nvb_ana_state)atomic_load(&p->ana->state)));
		add_str(o, "advertise", p->conf.advertise_addr ? p->conf.advertise_addr
							      : p->conf.addr);
		for (int j = 0; j < t->nsubsys; j++)
			if (nvb_port_exports(p, t->subsys[j]))
				json_object_array_add(subs,
						      json_object_new_string(t->subsys[j]->nqn));
		json_object_object_add(o, "subsystems", subs);
		json_object_array_add(r->result, o);
	}
	return 0;
}

static int m_list_ana_groups(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();

	r->result = json_object_new_array();
	for (int i = 0; i < t->nana_groups; i++)
		json_object_array_add(r->result, ana_group_json(&t->ana_groups[i]));
	return 0;
}

static struct json_object *sessions_json(struct ctl_req *r)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < r->nfrontends; i++)
		if (r->frontends[i]->list_sessions)
			r->frontends[i]->list_sessions(a);
	return a;
}

static int m_list_controllers(struct ctl_req *r)
{
	r->result = sessions_json(r);
	return 0;
}

/* Upper bound in µs of the histogram bucket holding the q-th quantile
 * (bucket i counts latencies below 2^i µs). */
static uint64_t lat_quantile_us(const struct nvb_io_stats *st, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q + 0.999999), seen = 0;
	const int nbuckets = (int)(sizeof(st->lat_hist) / sizeof(st->lat_hist[0]));

	for (int i = 0; i < nbuckets; i++) {
		seen += st->lat_hist[i];
		if (seen >= want)
			return UINT64_C(1) << i;
	}
	return UINT64_C(1) << (nbuckets - 1);
}

static void append_ns_stats(struct nvb_ns *ns, void *arg)
{
	struct json_object *o = json_object_new_object();
	struct nvb_io_stats sum;
	uint64_t cmds, hist_total = 0;
	char avg[32];

	memset(&sum, 0, sizeof(sum));
	nvb_io_stats_sum(&sum, ns->stats, NVB_MAX_REACTORS);
	cmds = sum.reads + sum.writes + sum.others;
	for (size_t i = 0; i < sizeof(sum.lat_hist) / sizeof(sum.lat_hist[0]); i++)
		hist_total += sum.lat_hist[i];
	add_str(o, "subsystem", ns->subsys->nqn);
	add_int(o, "nsid", ns->nsid);
	add_u64(o, "commands", cmds);
	add_u64(o, "reads", sum.reads);
	add_u64(o, "writes", sum.writes);
	add_u64(o, "others", sum.others);
	add_u64(o, "read_bytes", sum.read_bytes);
	add_u64(o, "write_bytes", sum.write_bytes);
	add_u64(o, "errors", sum.errors);
	snprintf(avg, sizeof(avg), "%.1f",
		 cmds ? (double)sum.lat_ns_total / (double)cmds / 1000.0 : 0.0);
	json_object_object_add(o, "avg_latency_us", json_object_new_double_s(atof(avg), avg));
	add_u64(o, "p50_latency_us", hist_total ? lat_quantile_us(&sum, hist_total, 0.50) : 0);
	add_u64(o, "p99_latency_us", hist_total ? lat_quantile_us(&sum, hist_total, 0.99) : 0);
	json_object_array_add(arg, o);
}

static int m_stats(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();
	struct json_object *nss = json_object_new_array();

	for (int i = 0; i < t->nsubsys; i++)
		for_each_ns(t->subsys[i], append_ns_stats, nss);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "namespaces", nss);
	json_object_object_add(r->result, "controllers", sessions_json(r));
	return 0;
}

/* ---- methods: changes ------------------------------------------------- */

static int published_ns_result(struct ctl_req *r, struct nvb_subsys *ss, uint32_t nsid)
{
	struct nvb_ns *ns = nvb_ns_get(ss, nsid);

	if (!ns)
		return fail(r, NVB_CTL_FAILED, "namespace %u vanished", nsid);
	r->result = ns_json(ns);
	nvb_ns_put(ns);
	return 0;
}

static int m_add_namespace(struct ctl_req *r)
{
	struct nvb_ns_conf c = { .lba_size = 512, .volatile_write_cache = true };
	struct nvb_subsys *ss;
	const char *backend = NULL, *path = NULL;
	int rc;

	if ((rc = param_subsys(r, &ss)) || (rc = param_nsid(r, &c.nsid)) ||
	    (rc = param_str(r, "backend", true, &backend)) ||
	    (rc = param_str(r, "path", false, &path)) ||
	    (rc = param_size(r, "size", false, &c.size)) ||
	    (rc = param_u32(r, "lba_size", false, 512, 4096, &c.lba_size)) ||
	    (rc = param_u32(r, "ana_group", false, 0, NVB_MAX_ANA_GROUPS, &c.ana_group)) ||
	    (rc = param_bool(r, "volatile_write_cache", &c.volatile_write_cache)) ||
	    (rc = param_hex_id(r, "nguid", c.nguid, sizeof(c.nguid))) ||
	    (rc = param_hex_id(r, "uuid", c.uuid, sizeof(c.uuid))) ||
	    (rc = param_hex_id(r, "eui64", c.eui64, sizeof(c.eui64))))
		return rc;
	if (strcmp(backend, "file") == 0)
		c.backend = NVB_BACKEND_FILE;
	else if (strcmp(backend, "ram") == 0)
		c.backend = NVB_BACKEND_RAM;
	else
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: 'backend' must be \"file\" or \"ram\"");
	if (path && c.backend != NVB_BACKEND_FILE)
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: 'path' is for the file backend only");
	c.path = (char *)path;
	if (nvb_subsys_add_ns(ss, &c, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	return published_ns_result(r, ss, c.nsid);
}

static int m_remove_namespace(struct ctl_req *r)
{
	struct nvb_subsys *ss;
	uint32_t nsid;
	int rc;

	if ((rc = param_subsys(r, &ss)) || (rc = param_nsid(r, &nsid)))
		return rc;
	if (nvb_subsys_remove_ns(ss, nsid, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	r->result = json_object_new_object();
	add_str(r->result, "subsystem", ss->nqn);
	add_int(r->result, "nsid", nsid);
	add_bool(r->result, "removed", true);
	return 0;
}

static int m_resize_namespace(struct ctl_req *r)
{
	struct nvb_subsys *ss;
	uint32_t nsid;
	uint64_t size;
	int rc;

	if ((rc = param_subsys(r, &ss)) || (rc = param_nsid(r, &nsid)) ||
	    (rc = param_size(r, "size", true, &size)))
		return rc;
	if (nvb_subsys_resize_ns(ss, nsid, size, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	return published_ns_result(r, ss, nsid);
}

static int m_set_ana_state(struct ctl_req *r)
{
	enum nvb_ana_state state;
	const char *name = NULL;
	uint32_t group;
	int rc;

	if ((rc = param_u32(r, "group", true, 1, NVB_MAX_ANA_GROUPS, &group)) ||
	    (rc = param_str(r, "state", true, &name)))
		return rc;
	if (nvb_ana_state_parse(name, &state) != 0)
		return fail(r, NVB_CTL_INVALID_PARAMS, "Invalid params: unknown ANA state '%s' "
			    "(optimized, non-optimized, inaccessible, persistent-loss)",
			    name);
	if (nvb_ana_group_set_state(group, state, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	r->result = ana_group_json(nvb_target_find_ana_group(group));
	return 0;
}

static int change_host(struct ctl_req *r, bool allow)
{
	struct nvb_subsys *ss;
	const char *host = NULL;
	int rc;

	if ((rc = param_subsys(r, &ss)) || (rc = param_str(r, "host", true, &host)))
		return rc;
	if (nvb_subsys_allow_host(ss, host, allow, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	r->result = subsys_json(ss);
	return 0;
}

static int m_allow_host(struct ctl_req *r)
{
	return change_host(r, true);
}

static int m_deny_host(struct ctl_req *r)
{
	return change_host(r, false);
}

/* Write to a temporary file beside the target, make it durable, then
 * rename it over: a crash leaves the old file or the new one, never half. */
static int write_config_atomically(const struct nvb_config *cfg, const char *path,
				   char *err, size_t errlen)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".tmp.XXXXXX"));
	char *dircopy = strdup(path);
	mode_t mode = 0644;
	struct stat st;
	FILE *f = NULL;
	int fd = -1, dfd, rc = -1;

	if (!tmp || !dircopy) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file beside %s: %s", path,
			 strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f || fchmod(fd, mode) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	errno = 0;
	if (nvb_config_write(cfg, f) != 0 || fflush(f) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, errno ? strerror(errno) :
			 "configuration writer failed");
		goto out_unlink;
	}
	rc = fclose(f);
	f = NULL;
	fd = -1;
	if (rc != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		rc = -1;
		goto out_unlink;
	}
	/* The rename itself is durable only once the directory is synced. */
	dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	free(tmp);
	free(dircopy);
	return rc;
}

static int m_save(struct ctl_req *r)
{
	struct nvb_target *t = nvb_target();
	const char *path = t->cfg->path;
	int rc;

	if ((rc = param_str(r, "path", false, &path)))
		return rc;
	if (!path)
		return fail(r, NVB_CTL_INVALID_PARAMS,
			    "Invalid params: the running config has no file; give 'path'");
	if (write_config_atomically(t->cfg, path, r->err, r->errlen) != 0)
		return NVB_CTL_FAILED;
	nvb_info("running configuration saved to %s", path);
	r->result = json_object_new_object();
	add_str(r->result, "path", path);
	return 0;
}

/* ---- the table -------------------------------------------------------- */

struct ctl_method {
	const char *name;
	int (*fn)(struct ctl_req *r);
	const char *const *params;      /* the names it accepts, NULL-terminated */
	const char *help;
};

static int m_help(struct ctl_req *r);

#define PARAMS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_PARAMS ((const char *const[]){ NULL })

static const struct ctl_method methods[] = {
	{ "version", m_version, NO_PARAMS, "the daemon's version" },
	{ "help", m_help, NO_PARAMS, "the methods, their parameters and what they do" },
	{ "list-subsystems", m_list_subsystems, NO_PARAMS,
	  "subsystems: NQN, serial, model, host access, namespace count" },
	{ "list-namespaces", m_list_namespaces, PARAMS("nqn"),
	  "namespaces (of one subsystem if nqn is given)" },
	{ "list-ports", m_list_ports, NO_PARAMS, "listening ports and their ANA groups" },
	{ "list-ana-groups", m_list_ana_groups, NO_PARAMS, "ANA groups and their states" },
	{ "list-controllers", m_list_controllers, NO_PARAMS,
	  "connected controllers/sessions of every front end, with per-queue statistics" },
	{ "add-namespace", m_add_namespace,
	  PARAMS("nqn", "nsid", "backend", "path", "size", "lba_size", "nguid", "uuid",
		 "eui64", "ana_group", "volatile_write_cache"),
	  "add a namespace at run time; connected hosts get a namespace-changed event" },
	{ "remove-namespace", m_remove_namespace, PARAMS("nqn", "nsid"),
	  "remove a namespace; connected hosts get a namespace-changed event" },
	{ "resize-namespace", m_resize_namespace, PARAMS("nqn", "nsid", "size"),
	  "grow or shrink a namespace (size in bytes or like \"2G\")" },
	{ "set-ana-state", m_set_ana_state, PARAMS("group", "state"),
	  "set an ANA group's state; connected hosts get an ANA-change event" },
	{ "allow-host", m_allow_host, PARAMS("nqn", "host"),
	  "add a host NQN to a subsystem's allowed hosts" },
	{ "deny-host", m_deny_host, PARAMS("nqn", "host"),
	  "remove a host NQN from the allowed hosts and drop its controllers" },
	{ "stats", m_stats, NO_PARAMS,
	  "I/O statistics per namespace and per controller queue" },
	{ "save", m_save, PARAMS("path"),
	  "write the running configuration (to path, default the daemon's config file)" },
};

static int m_help(struct ctl_req *r)
{
	r->result = json_object_new_array();
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct json_object *o = json_object_new_object();
		struct json_object *ps = json_object_new_array();

		for (const char *const *p = methods[i].params; *p; p++)
			json_object_array_add(ps, json_object_new_string(*p));
		add_str(o, "method", methods[i].name);
		json_object_object_add(o, "params", ps);
		add_str(o, "help", methods[i].help);
		json_object_array_add(r->result, o);
	}
	return 0;
}

static int check_param_names(struct ctl_req *r, const struct ctl_method *m)
{
	if (!r->params)
		return 0;
	json_object_object_foreach(r->params, key, val) {
		const char *const *p = m->params;

		(void)val;
		while (*p && strcmp(*p, key) != 0)
			p++;
		if (!*p)
			return fail(r, NVB_CTL_INVALID_PARAMS,
				    "Invalid params: %s takes no parameter '%s'", m->name, key);
	}
	return 0;
}

int nvb_ctl_dispatch(const char *method, struct json_object *params,
		     const struct nvb_frontend_ops *const *frontends, int nfrontends,
		     struct json_object **result, char *err, size_t errlen)
{
	struct ctl_req r = {
		.params = params, .frontends = frontends, .nfrontends = nfrontends,
		.err = err, .errlen = errlen,
	};
	const struct ctl_method *m = NULL;
	int rc;

	*result = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, method) == 0)
			m = &methods[i];
	if (!m) {
		snprintf(err, errlen, "Method not found: %s", method);
		return NVB_CTL_METHOD_NOT_FOUND;
	}
	if (!nvb_target() && m->fn != m_version && m->fn != m_help) {
		snprintf(err, errlen, "the target is not running");
		return NVB_CTL_FAILED;
	}
	rc = check_param_names(&r, m);
	if (rc == 0)
		rc = m->fn(&r);
	if (rc != 0) {
		json_object_put(r.result);
		return rc;
	}
	*result = r.result;
	return 0;
}

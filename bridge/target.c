/* SPDX-License-Identifier: MIT */
/*
 * The running target: built once from the config, then changed only by the
 * control thread (the control socket). Reactors read namespaces through the
 * published atomic pointers and ANA states through atomics; host lists and
 * controller IDs, which Connect reads on a reactor, sit under the
 * subsystem's mutex.
 *
 * Every change is mirrored into the running config (t->cfg) so that `save`
 * writes what is actually being served.
 */
#include "bridge/target.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/log.h"

static struct nvb_target *the_target;

static pthread_mutex_t listeners_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvb_listener *listeners;

struct nvb_target *nvb_target(void)
{
	return the_target;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- events ---------------------------------------------------------- */

void nvb_target_listen(struct nvb_listener *l)
{
	pthread_mutex_lock(&listeners_lock);
	l->next = listeners;
	listeners = l;
	pthread_mutex_unlock(&listeners_lock);
}

void nvb_target_unlisten(struct nvb_listener *l)
{
	pthread_mutex_lock(&listeners_lock);
	for (struct nvb_listener **pp = &listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	l->next = NULL;
	pthread_mutex_unlock(&listeners_lock);
}

static void fire(enum nvb_event ev, struct nvb_subsys *ss, uint32_t arg)
{
	pthread_mutex_lock(&listeners_lock);
	for (struct nvb_listener *l = listeners; l; l = l->next)
		l->fn(l, ev, ss, arg);
	pthread_mutex_unlock(&listeners_lock);
}

/* ---- string vectors (host lists, here and in the running config) ------- */

static int strv_find(char *const *v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return i;
	return -1;
}

static int strv_add(char ***v, int *n, const char *s)
{
	char **nv = realloc(*v, (size_t)(*n + 1) * sizeof(*nv));
	char *copy;

	if (!nv)
		return -1;
	*v = nv;
	copy = strdup(s);
	if (!copy)
		return -1;
	nv[(*n)++] = copy;
	return 0;
}

static void strv_remove(char **v, int *n, int idx)
{
	free(v[idx]);
	memmove(&v[idx], &v[idx + 1], (size_t)(*n - idx - 1) * sizeof(*v));
	(*n)--;
}

static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- lookups ---------------------------------------------------------- */

struct nvb_subsys *nvb_target_find_subsys(const char *nqn)
{
	struct nvb_target *t = the_target;

	if (!t || !nqn)
		return NULL;
	if (strcmp(nqn, NVB_DISCOVERY_NQN) == 0)
		return t->discovery;
	for (int i = 0; i < t->nsubsys; i++)
		if (strcmp(t->subsys[i]->nqn, nqn) == 0)
			return t->subsys[i];
	return NULL;
}

struct nvb_ana_group *nvb_target_find_ana_group(uint32_t id)
{
	struct nvb_target *t = the_target;

	if (!t)
		return NULL;
	for (int i = 0; i < t->nana_groups; i++)
		if (t->ana_groups[i].id == id)
			return &t->ana_groups[i];
	return NULL;
}

bool nvb_port_exports(const struct nvb_port *port, const struct nvb_subsys *ss)
{
	/* Discovery is reachable on every port (NVMe-oF 1.1 §5: a host finds
	 * the subsystems behind a port by asking the port). */
	if (ss->is_discovery || !port->conf.subsystems)
		return true;
	return strv_find(port->conf.subsystems, port->conf.nsubsystems, ss->nqn) >= 0;
}

static struct nvb_subsys_conf *running_subsys_conf(const struct nvb_subsys *ss)
{
	struct nvb_config *cfg = the_target ? the_target->cfg : NULL;

	if (!cfg)
		return NULL;
	for (int i = 0; i < cfg->nsubsys; i++)
		if (strcmp(cfg->subsys[i].nqn, ss->nqn) == 0)
			return &cfg->subsys[i];
	return NULL;
}

static int running_ns_index(const struct nvb_subsys_conf *sc, uint32_t nsid)
{
	for (int i = 0; sc && i < sc->nns; i++)
		if (sc->ns[i].nsid == nsid)
			return i;
	return -1;
}

/* ---- hosts and controller IDs ----------------------------------------- */

bool nvb_subsys_host_allowed(struct nvb_subsys *ss, const char *hostnqn)
{
	bool ok;

	pthread_mutex_lock(&ss->lock);
	ok = ss->allow_any_host || strv_find(ss->hosts, ss->nhosts, hostnqn) >= 0;
	pthread_mutex_unlock(&ss->lock);
	return ok;
}

int nvb_subsys_allow_host(struct nvb_subsys *ss, const char *hostnqn, bool allow,
			  char *err, size_t errlen)
{
	struct nvb_subsys_conf *sc = running_subsys_conf(ss);
	char why[256];
	int idx, rc = 0;

	if (ss->is_discovery) {
		set_err(err, errlen, "the discovery subsystem admits every host");
		return -1;
	}
	if (nvb_nqn_check(hostnqn, why, sizeof(why)) != 0) {
		set_err(err, errlen, "host NQN '%s': %s", hostnqn, why);
		return -1;
	}
	pthread_mutex_lock(&ss->lock);
	idx = strv_find(ss->hosts, ss->nhosts, hostnqn);
	if (allow && idx < 0) {
		rc = strv_add(&ss->hosts, &ss->nhosts, hostnqn);
		if (rc == 0 && sc && strv_add(&sc->hosts, &sc->nhosts, hostnqn) != 0) {
			strv_remove(ss->hosts, &ss->nhosts, ss->nhosts - 1);
			rc = -1;
		}
		if (rc != 0)
			set_err(err, errlen, "out of memory");
	} else if (!allow && idx >= 0) {
		strv_remove(ss->hosts, &ss->nhosts, idx);
		if (sc && (idx = strv_find(sc->hosts, sc->nhosts, hostnqn)) >= 0)
			strv_remove(sc->hosts, &sc->nhosts, idx);
	} else if (!allow) {
		set_err(err, errlen, "host %s is not in the allowed list of %s%s", hostnqn,
			ss->nqn, ss->allow_any_host ? " (the subsystem allows any host)" : "");
		rc = -1;
	}
	pthread_mutex_unlock(&ss->lock);
	if (rc == 0 && !allow) {
		nvb_info("subsystem %s: host %s denied", ss->nqn, hostnqn);
		fire(NVB_EV_HOSTS_CHANGED, ss, 0);
	} else if (rc == 0) {
		nvb_info("subsystem %s: host %s allowed", ss->nqn, hostnqn);
	}
	return rc;
}

static bool cntlid_in_use(const struct nvb_subsys *ss, unsigned id)
{
	return ss->cntlid_used[id / 64] & (UINT64_C(1) << (id % 64));
}

uint16_t nvb_subsys_alloc_cntlid(struct nvb_subsys *ss)
{
	uint16_t id = 0;

	pthread_mutex_lock(&ss->lock);
	for (unsigned tries = 0; tries < NVB_MAX_CNTLID; tries++) {
		unsigned cand = ss->next_cntlid;

		if (cand < 1 || cand > NVB_MAX_CNTLID)
			cand = 1;
		ss->next_cntlid = (uint16_t)(cand == NVB_MAX_CNTLID ? 1 : cand + 1);
		if (!cntlid_in_use(ss, cand)) {
			ss->cntlid_used[cand / 64] |= UINT64_C(1) << (cand % 64);
			id = (uint16_t)cand;
			break;
		}
	}
	pthread_mutex_unlock(&ss->lock);
	return id;
}

void nvb_subsys_free_cntlid(struct nvb_subsys *ss, uint16_t cntlid)
{
	if (cntlid < 1 || cntlid > NVB_MAX_CNTLID)
		return;
	pthread_mutex_lock(&ss->lock);
	ss->cntlid_used[cntlid / 64] &= ~(UINT64_C(1) << (cntlid % 64));
	pthread_mutex_unlock(&ss->lock);
}

/* ---- namespaces ------------------------------------------------------- */

uint32_t nvb_subsys_max_nsid(struct nvb_subsys *ss)
{
	uint32_t max = atomic_load(&ss->max_nsid);

	return max ? max : 1;
}

static void publish_ns(struct nvb_subsys *ss, struct nvb_ns *ns)
{
	uint32_t max = atomic_load(&ss->max_nsid);

	atomic_store_explicit(&ss->ns[ns->nsid], ns, memory_order_release);
	while (ns->nsid > max &&
	       !atomic_compare_exchange_weak(&ss->max_nsid, &max, ns->nsid))
		;
}

/* Unpublish, wait until no reactor can still be using the pointer it read,
 * then drop the published reference. */
static void unpublish_ns(struct nvb_subsys *ss, uint32_t nsid)
{
	struct nvb_ns *ns = atomic_exchange(&ss->ns[nsid], NULL);

	if (!ns)
		return;
	if (nvb_reactor_count() > 0)
		nvb_reactors_barrier();
	nvb_ns_put(ns);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The same checks the config parser makes, for a namespace added at run time. */
static int check_ns_conf(const struct nvb_ns_conf *c, char *err, size_t errlen)
{
	if (c->nsid < 1 || c->nsid > NVB_MAX_NSID) {
		set_err(err, errlen, "namespace %u: NSID must be 1..%d", c->nsid, NVB_MAX_NSID);
		return -1;
	}
	if (c->lba_size != 512 && c->lba_size != 4096) {
		set_err(err, errlen, "namespace %u: lba_size must be 512 or 4096, not %u",
			c->nsid, c->lba_size);
		return -1;
	}
	if (c->backend == NVB_BACKEND_RAM && c->size == 0) {
		set_err(err, errlen, "namespace %u: a ram backend needs a size", c->nsid);
		return -1;
	}
	if (c->backend == NVB_BACKEND_FILE && (!c->path || !*c->path)) {
		set_err(err, errlen, "namespace %u: a file backend needs a path", c->nsid);
		return -1;
	}
	if (c->backend != NVB_BACKEND_FILE && c->backend != NVB_BACKEND_RAM) {
		set_err(err, errlen, "namespace %u: unknown backend", c->nsid);
		return -1;
	}
	if (c->size % c->lba_size) {
		set_err(err, errlen, "namespace %u: size %llu is not a multiple of lba_size %u",
			c->nsid, (unsigned long long)c->size, c->lba_size);
		return -1;
	}
	if (c->ana_group && !nvb_target_find_ana_group(c->ana_group)) {
		set_err(err, errlen, "namespace %u: unknown ANA group %u", c->nsid, c->ana_group);
		return -1;
	}
	return 0;
}

static int ns_conf_append(struct nvb_subsys_conf *sc, const struct nvb_ns_conf *c)
{
	struct nvb_ns_conf *v = realloc(sc->ns, (size_t)(sc->nns + 1) * sizeof(*v));

	if (!v)
		return -1;
	sc->ns = v;
	if (nvb_ns_conf_copy(&v[sc->nns], c) != 0)
		return -1;
	sc->nns++;
	return 0;
}

int nvb_subsys_add_ns(struct nvb_subsys *ss, const struct nvb_ns_conf *conf,
		      char *err, size_t errlen)
{
	struct nvb_target *t = the_target;
	struct nvb_subsys_conf *sc = running_subsys_conf(ss);
	struct nvb_ns_conf c;
	struct nvb_ns *ns;

	if (!t || ss->is_discovery) {
		set_err(err, errlen, "%s cannot hold namespaces", ss->nqn);
		return -1;
	}
	if (check_ns_conf(conf, err, errlen) != 0)
		return -1;
	if (atomic_load(&ss->ns[conf->nsid]) || running_ns_index(sc, conf->nsid) >= 0) {
		set_err(err, errlen, "namespace %u already exists in %s", conf->nsid, ss->nqn);
		return -1;
	}
	if (nvb_ns_conf_copy(&c, conf) != 0) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	c.line = 0;
	nvb_ns_conf_derive_ids(&c, ss->nqn, !all_zero(c.nguid, sizeof(c.nguid)),
			       !all_zero(c.uuid, sizeof(c.uuid)),
			       !all_zero(c.eui64, sizeof(c.eui64)));
	/* Line 0: no "FILE:LINE: " in messages about a namespace added at run time. */
	ns = nvb_ns_create(ss, &c, t->cfg->path, err, errlen);
	if (!ns) {
		nvb_ns_conf_clear(&c);
		return -1;
	}
	if (sc && ns_conf_append(sc, &c) != 0) {
		set_err(err, errlen, "out of memory");
		nvb_ns_put(ns);
		nvb_ns_conf_clear(&c);
		return -1;
	}
	nvb_ns_conf_clear(&c);
	publish_ns(ss, ns);
	atomic_fetch_add(&ss->ns_change_count, 1);
	nvb_info("subsystem %s: namespace %u added (%llu bytes, %u-byte blocks)", ss->nqn,
		 ns->nsid, (unsigned long long)(atomic_load(&ns->nblocks) << ns->lba_shift),
		 1u << ns->lba_shift);
	fire(NVB_EV_NS_CHANGED, ss, ns->nsid);
	return 0;
}

int nvb_subsys_remove_ns(struct nvb_subsys *ss, uint32_t nsid, char *err, size_t errlen)
{
	struct nvb_subsys_conf *sc = running_subsys_conf(ss);
	int idx;

	if (nsid < 1 || nsid > NVB_MAX_NSID || !atomic_load(&ss->ns[nsid])) {
		set_err(err, errlen, "%s has no namespace %u", ss->nqn, nsid);
		return -1;
	}
	unpublish_ns(ss, nsid);
	idx = running_ns_index(sc, nsid);
	if (idx >= 0) {
		nvb_ns_conf_clear(&sc->ns[idx]);
		memmove(&sc->ns[idx], &sc->ns[idx + 1],
			(size_t)(sc->nns - idx - 1) * sizeof(sc->ns[0]));
		sc->nns--;
	}
	atomic_fetch_add(&ss->ns_change_count, 1);
	nvb_info("subsystem %s: namespace %u removed", ss->nqn, nsid);
	fire(NVB_EV_NS_CHANGED, ss, nsid);
	return 0;
}

int nvb_subsys_resize_ns(struct nvb_subsys *ss, uint32_t nsid, uint64_t bytes,
			 char *err, size_t errlen)
{
	struct nvb_subsys_conf *sc = running_subsys_conf(ss);
	struct nvb_ns *ns = nsid >= 1 && nsid <= NVB_MAX_NSID ? nvb_ns_get(ss, nsid) : NULL;
	uint64_t lba_size, old_bytes;
	int idx;

	if (!ns) {
		set_err(err, errlen, "%s has no namespace %u", ss->nqn, nsid);
		return -1;
	}
	lba_size = UINT64_C(1) << ns->lba_shift;
	if (bytes == 0 || bytes % lba_size) {
		set_err(err, errlen, "namespace %u: size %llu is not a positive multiple of "
			"the %llu-byte LBA size", nsid, (unsigned long long)bytes,
			(unsigned long long)lba_size);
		goto fail;
	}
	if (!ns->be->ops->resize) {
		set_err(err, errlen, "namespace %u: the %s backend cannot be resized", nsid,
			ns->be->ops->name);
		goto fail;
	}
	old_bytes = atomic_load(&ns->nblocks) << ns->lba_shift;
	if (bytes < old_bytes) {
		/* Shrink: stop admitting I/O past the new end first, and let every
		 * reactor finish the iteration in which it may have admitted some,
		 * so the backend is cut only once nothing new can write beyond it. */
		atomic_store(&ns->nblocks, bytes >> ns->lba_shift);
		if (nvb_reactor_count() > 0)
			nvb_reactors_barrier();
		if (ns->be->ops->resize(ns->be, bytes, err, errlen) != 0) {
			atomic_store(&ns->nblocks, old_bytes >> ns->lba_shift);
			goto fail;
		}
		nvb_warn("subsystem %s: namespace %u shrunk from %llu to %llu bytes: data past "
			 "the new end is gone", ss->nqn, nsid, (unsigned long long)old_bytes,
			 (unsigned long long)bytes);
	} else {
		/* Grow: the backend must have the room before hosts may address it. */
		if (ns->be->ops->resize(ns->be, bytes, err, errlen) != 0)
			goto fail;
		atomic_store(&ns->nblocks, bytes >> ns->lba_shift);
	}
	idx = running_ns_index(sc, nsid);
	if (idx >= 0)
		sc->ns[idx].size = bytes;
	atomic_fetch_add(&ss->ns_change_count, 1);
	nvb_ns_put(ns);
	nvb_info("subsystem %s: namespace %u resized to %llu bytes", ss->nqn, nsid,
		 (unsigned long long)bytes);
	fire(NVB_EV_NS_CHANGED, ss, nsid);
	return 0;
fail:
	nvb_ns_put(ns);
	return -1;
}

/* ---- ANA -------------------------------------------------------------- */

int nvb_ana_group_set_state(uint32_t id, enum nvb_ana_state state, char *err, size_t errlen)
{
	struct nvb_ana_group *g = nvb_target_find_ana_group(id);
	struct nvb_config *cfg = the_target ? the_target->cfg : NULL;

	if (!g) {
		set_err(err, errlen, "no ANA group %u", id);
		return -1;
	}
	if (!nvb_ana_state_settable(state)) {
		if (state == NVB_ANA_CHANGE)
			set_err(err, errlen, "ANA group %u: " NVB_ANA_CHANGE_REFUSED, id);
		else
			set_err(err, errlen, "invalid ANA state %#x", (unsigned)state);
		return -1;
	}
	atomic_store(&g->state, (uint8_t)state);
	atomic_fetch_add(&g->change_count, 1);
	for (int i = 0; cfg && i < cfg->nana_groups; i++)
		if (cfg->ana_groups[i].id == id)
			cfg->ana_groups[i].state = state;
	nvb_info("ANA group %u: %s", id, nvb_ana_state_name(state));
	fire(NVB_EV_ANA_CHANGED, NULL, id);
	return 0;
}

/* ---- building and tearing down ---------------------------------------- */

static void subsys_free(struct nvb_subsys *ss)
{
	if (!ss)
		return;
	for (uint32_t nsid = 1; nsid <= NVB_MAX_NSID; nsid++)
		unpublish_ns(ss, nsid);
	strv_free(ss->hosts, ss->nhosts);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
}

static struct nvb_subsys *subsys_new(const char *nqn)
{
	struct nvb_subsys *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return NULL;
	snprintf(ss->nqn, sizeof(ss->nqn), "%s", nqn);
	pthread_mutex_init(&ss->lock, NULL);
	ss->next_cntlid = 1;
	return ss;
}

static struct nvb_subsys *subsys_from_conf(const struct nvb_config *cfg,
					   const struct nvb_subsys_conf *sc,
					   char *err, size_t errlen)
{
	struct nvb_subsys *ss;

	if (strlen(sc->nqn) > NVB_NQN_MAX || strcmp(sc->nqn, NVB_DISCOVERY_NQN) == 0) {
		set_err(err, errlen, "%s:%d: subsystem NQN '%s' is reserved or too long",
			cfg->path, sc->line, sc->nqn);
		return NULL;
	}
	ss = subsys_new(sc->nqn);
	if (!ss)
		goto oom;
	memcpy(ss->serial, sc->serial, sizeof(ss->serial));
	memcpy(ss->model, sc->model, sizeof(ss->model));
	ss->serial[sizeof(ss->serial) - 1] = '\0';
	ss->model[sizeof(ss->model) - 1] = '\0';
	ss->allow_any_host = sc->allow_any_host;
	for (int i = 0; i < sc->nhosts; i++)
		if (strv_add(&ss->hosts, &ss->nhosts, sc->hosts[i]) != 0)
			goto oom;
	return ss;
oom:
	subsys_free(ss);
	set_err(err, errlen, "%s:%d: out of memory", cfg->path, sc->line);
	return NULL;
}

static int subsys_open_namespaces(struct nvb_subsys *ss, const struct nvb_config *cfg,
				  const struct nvb_subsys_conf *sc, char *err, size_t errlen)
{
	for (int i = 0; i < sc->nns; i++) {
		struct nvb_ns *ns = nvb_ns_create(ss, &sc->ns[i], cfg->path, err, errlen);

		if (!ns)
			return -1;
		publish_ns(ss, ns);
	}
	return 0;
}

static void port_conf_clear(struct nvb_port_conf *pc)
{
	free(pc->addr);
	free(pc->svcid);
	free(pc->advertise_addr);
	strv_free(pc->subsystems, pc->nsubsystems);
	memset(pc, 0, sizeof(*pc));
}

static int port_conf_copy(struct nvb_port_conf *dst, const struct nvb_port_conf *src)
{
	*dst = *src;
	dst->addr = dst->svcid = dst->advertise_addr = NULL;
	dst->subsystems = NULL;
	dst->nsubsystems = 0;
	if (!(dst->addr = strdup(src->addr)) || !(dst->svcid = strdup(src->svcid)) ||
	    (src->advertise_addr && !(dst->advertise_addr = strdup(src->advertise_addr))))
		goto oom;
	if (src->subsystems) {
		/* Keep "a list" distinct from NULL ("every subsystem"), even if empty. */
		dst->subsystems = calloc(1, sizeof(char *));
		if (!dst->subsystems)
			goto oom;
		for (int i = 0; i < src->nsubsystems; i++)
			if (strv_add(&dst->subsystems, &dst->nsubsystems, src->subsystems[i]))
				goto oom;
	}
	return 0;
oom:
	port_conf_clear(dst);
	return -1;
}

static void target_free(struct nvb_target *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nsubsys; i++)
		subsys_free(t->subsys[i]);
	free(t->subsys);
	subsys_free(t->discovery);
	for (int i = 0; i < t->nports; i++)
		port_conf_clear(&t->ports[i].conf);
	free(t->ports);
	free(t->ana_groups);
	nvb_config_free(t->cfg);
	free(t);
}

static int build_ana_groups(struct nvb_target *t, char *err, size_t errlen)
{
	const struct nvb_config *cfg = t->cfg;

	t->ana_groups = calloc((size_t)cfg->nana_groups + 1, sizeof(*t->ana_groups));
	if (!t->ana_groups) {
		set_err(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	for (int i = 0; i < cfg->nana_groups; i++) {
		struct nvb_ana_group *g = &t->ana_groups[i];

		g->id = cfg->ana_groups[i].id;
		atomic_store(&g->state, (uint8_t)cfg->ana_groups[i].state);
		atomic_store(&g->change_count, 0);
		t->nana_groups++;
	}
	return 0;
}

static int build_ports(struct nvb_target *t, char *err, size_t errlen)
{
	const struct nvb_config *cfg = t->cfg;

	t->ports = calloc((size_t)cfg->nports + 1, sizeof(*t->ports));
	if (!t->ports) {
		set_err(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	for (int i = 0; i < cfg->nports; i++) {
		const struct nvb_port_conf *pc = &cfg->ports[i];
		struct nvb_port *p = &t->ports[i];

		if (port_conf_copy(&p->conf, pc) != 0) {
			set_err(err, errlen, "%s:%d: out of memory", cfg->path, pc->line);
			return -1;
		}
		t->nports++;
		p->ana = nvb_target_find_ana_group(pc->ana_group);
		if (!p->ana) {
			set_err(err, errlen, "%s:%d: port %u: unknown ANA group %u", cfg->path,
				pc->line, pc->id, pc->ana_group);
			return -1;
		}
	}
	return 0;
}

static int build_subsystems(struct nvb_target *t, char *err, size_t errlen)
{
	const struct nvb_config *cfg = t->cfg;

	t->discovery = subsys_new(NVB_DISCOVERY_NQN);
	t->subsys = calloc((size_t)cfg->nsubsys + 1, sizeof(*t->subsys));
	if (!t->discovery || !t->subsys) {
		set_err(err, errlen, "%s: out of memory", cfg->path);
		return -1;
	}
	t->discovery->is_discovery = true;
	t->discovery->allow_any_host = true;
	snprintf(t->discovery->model, sizeof(t->discovery->model), "nvbridge discovery");
	nvb_subsys_derive_serial(NVB_DISCOVERY_NQN, t->discovery->serial);
	for (int i = 0; i < cfg->nsubsys; i++) {
		struct nvb_subsys *ss = subsys_from_conf(cfg, &cfg->subsys[i], err, errlen);

		if (!ss)
			return -1;
		t->subsys[t->nsubsys++] = ss;
		if (subsys_open_namespaces(ss, cfg, &cfg->subsys[i], err, errlen) != 0)
			return -1;
	}
	return 0;
}

int nvb_target_init(struct nvb_config *cfg, char *err, size_t errlen)
{
	struct nvb_target *t;

	if (the_target) {
		set_err(err, errlen, "the target is already running");
		nvb_config_free(cfg);
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "%s: out of memory", cfg->path);
		nvb_config_free(cfg);
		return -1;
	}
	t->cfg = cfg;
	/* Lookups during the build (ANA groups for ports and namespaces) go
	 * through the singleton, so publish it first; withdraw it on failure. */
	the_target = t;
	if (build_ana_groups(t, err, errlen) != 0 || build_ports(t, err, errlen) != 0 ||
	    build_subsystems(t, err, errlen) != 0) {
		the_target = NULL;
		target_free(t);
		return -1;
	}
	return 0;
}

void nvb_target_shutdown(void)
{
	struct nvb_target *t = the_target;

	if (!t)
		return;
	for (int i = 0; i < t->nsubsys; i++) {
		struct nvb_subsys *ss = t->subsys[i];

		for (uint32_t nsid = 1; nsid <= NVB_MAX_NSID; nsid++) {
			struct nvb_ns *ns = atomic_load(&ss->ns[nsid]);
			int rc;

			if (!ns || !ns->be->ops->flush_sync)
				continue;
			rc = ns->be->ops->flush_sync(ns->be);
			if (rc != 0)
				nvb_err("subsystem %s: namespace %u: flush failed: %s", ss->nqn,
					nsid, strerror(-rc));
		}
	}
	the_target = NULL;
	target_free(t);
}

/* SPDX-License-Identifier: MIT */
/*
 * Namespace lifetime. A namespace is created from its config, published in
 * its subsystem's array by the target, looked up per command by reactors
 * (a reference each, so a removal waits for commands in flight), and freed
 * with its backend when the last reference goes.
 *
 * Creating one also loads its reservation state (bridge/resv.h) when
 * Persist Through Power Loss left a state file (docs/reservations.md):
 *   - file backend, regular file: "<path>.resv" next to it;
 *   - file backend, block device: "<config directory>/nvbridge-<NGUID>.resv"
 *     (nothing can live next to /dev/sdX), none without a config path;
 *   - ram: none (its data does not outlive the process either).
 */
#include "bridge/executor.h"
#include "bridge/log.h"
#include "bridge/resv.h"
#include "bridge/target.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "CFG:LINE: " when the namespace came from a config file line. */
static void where(char *buf, size_t len, const char *cfg_path, int line)
{
	if (cfg_path && line > 0)
		snprintf(buf, len, "%s:%d: ", cfg_path, line);
	else
		buf[0] = '\0';
}

static int lba_shift_of(uint32_t lba_size)
{
	switch (lba_size) {
	case 512:
		return 9;
	case 4096:
		return 12;
	default:
		return -1;
	}
}

/* Where the reservation state of a namespace lives (NULL: nowhere). */
static char *resv_state_path(const struct nvb_ns_conf *conf, const char *cfg_path)
{
	char *path = NULL, *dir, nguid[33];
	struct stat st;

	if (conf->backend != NVB_BACKEND_FILE || !conf->path)
		return NULL;
	if (stat(conf->path, &st) == 0 && S_ISBLK(st.st_mode)) {
		if (!cfg_path || !(dir = strdup(cfg_path)))
			return NULL;
		for (size_t i = 0; i < 16; i++)
			snprintf(nguid + 2 * i, 3, "%02x", conf->nguid[i]);
		if (asprintf(&path, "%s/nvbridge-%s.resv", dirname(dir), nguid) < 0)
			path = NULL;
		free(dir);
		return path;
	}
	if (asprintf(&path, "%s.resv", conf->path) < 0)
		return NULL;
	return path;
}

/* The reservation model and the fused-operation gate. */
static int resv_setup(struct nvb_ns *ns, const struct nvb_ns_conf *conf, const char *cfg_path,
		      char *err, size_t errlen)
{
	char *path = resv_state_path(conf, cfg_path);
	int ret;

	ns->gate = nvb_exec_gate_create();
	if (!ns->gate) {
		free(path);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ret = nvb_resv_create(&ns->resv, ns, path, err, errlen);
	free(path);
	if (ret < 0) {
		nvb_exec_gate_free(ns->gate);
		ns->gate = NULL;
	}
	return ret;
}

struct nvb_ns *nvb_ns_create(struct nvb_subsys *ss, const struct nvb_ns_conf *conf,
			     const char *cfg_path, char *err, size_t errlen)
{
	char prefix[512], reason[768];
	struct nvb_ns *ns;
	int shift = lba_shift_of(conf->lba_size);
	uint64_t nblocks;

	where(prefix, sizeof(prefix), cfg_path, conf->line);
	if (shift < 0) {
		snprintf(err, errlen, "%snamespace %u: lba_size %u is not 512 or 4096",
			 prefix, conf->nsid, conf->lba_size);
		return NULL;
	}
	if (conf->nsid == 0 || conf->nsid > NVB_MAX_NSID) {
		snprintf(err, errlen, "%snamespace %u: nsid must be 1..%d",
			 prefix, conf->nsid, NVB_MAX_NSID);
		return NULL;
	}
	ns = calloc(1, sizeof(*ns));
	if (!ns || nvb_ns_conf_copy(&ns->conf, conf) != 0) {
		free(ns);
		snprintf(err, errlen, "%snamespace %u: out of memory", prefix, conf->nsid);
		return NULL;
	}
	/* nvb_backend_open's reason already names the namespace. */
	if (nvb_backend_open(conf, &ns->be, reason, sizeof(reason)) < 0) {
		snprintf(err, errlen, "%s%s", prefix, reason);
		goto fail;
	}
	nblocks = ns->be->size >> shift;
	if (nblocks == 0) {
		snprintf(err, errlen, "%snamespace %u: size %llu is smaller than one %u-byte block",
			 prefix, conf->nsid, (unsigned long long)ns->be->size, conf->lba_size);
		ns->be->ops->close(ns->be);
		goto fail;
	}
	ns->nsid = conf->nsid;
	ns->subsys = ss;
	ns->lba_shift = (uint32_t)shift;
	atomic_init(&ns->nblocks, nblocks);
	atomic_init(&ns->refs, 1);
	if (resv_setup(ns, conf, cfg_path, reason, sizeof(reason)) < 0) {
		snprintf(err, errlen, "%snamespace %u: %s", prefix, conf->nsid, reason);
		ns->be->ops->close(ns->be);
		goto fail;
	}
	return ns;
fail:
	nvb_ns_conf_clear(&ns->conf);
	free(ns);
	return NULL;
}

struct nvb_ns *nvb_ns_get(struct nvb_subsys *ss, uint32_t nsid)
{
	struct nvb_ns *ns;

	if (!ss || nsid == 0 || nsid > NVB_MAX_NSID)
		return NULL;
	/* Pairs with the release store that publishes the namespace; the
	 * grace period (nvb_reactors_barrier) keeps it alive until refs++. */
	ns = atomic_load_explicit(&ss->ns[nsid], memory_order_acquire);
	if (ns)
		atomic_fetch_add_explicit(&ns->refs, 1, memory_order_relaxed);
	return ns;
}

void nvb_ns_put(struct nvb_ns *ns)
{
	if (!ns || atomic_fetch_sub_explicit(&ns->refs, 1, memory_order_acq_rel) != 1)
		return;
	ns->be->ops->close(ns->be);
	nvb_resv_destroy(ns->resv);
	nvb_exec_gate_free(ns->gate);
	nvb_ns_conf_clear(&ns->conf);
	free(ns);
}

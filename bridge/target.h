/* SPDX-License-Identifier: MIT */
/*
 * The running target: subsystems, their namespaces, ANA groups and ports,
 * built from a config and changed at run time by the control socket.
 *
 * Threading: the control thread (main thread: config, control socket)
 * changes this state; reactors read it. Namespaces are published in an array
 * of atomic pointers; a removed one is unpublished, then released after
 * nvb_reactors_barrier(), and freed when its last reference goes.
 * Front ends learn of changes through listeners, called on the control thread.
 */
#ifndef NVB_TARGET_H
#define NVB_TARGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bridge/backend.h"
#include "bridge/config.h"
#include "bridge/nvme.h"
#include "bridge/reactor.h"

/* Per-reactor counters, written only by their reactor (no lock, no atomics
 * on the I/O path), summed by the control thread. */
struct nvb_io_stats {
	uint64_t reads, writes, others;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;
	uint64_t lat_ns_total;          /* sum of command latencies */
	uint64_t lat_hist[32];          /* bucket i: latency < 2^i microseconds */
} __attribute__((aligned(64)));

void nvb_io_stats_account(struct nvb_io_stats *st, uint8_t opcode, uint64_t bytes,
			  nvb_status status, uint64_t lat_ns);
void nvb_io_stats_sum(struct nvb_io_stats *sum, const struct nvb_io_stats *parts, int n);

struct nvb_subsys;
struct nvb_resv;                /* bridge/resv.h */
struct nvb_exec_gate;           /* bridge/executor.c: fused-operation ordering */

struct nvb_ns {
	uint32_t nsid;
	struct nvb_subsys *subsys;
	struct nvb_ns_conf conf;        /* the config it runs from (ids filled in) */
	uint32_t lba_shift;             /* 9 or 12 */
	_Atomic uint64_t nblocks;       /* capacity in logical blocks */
	struct nvb_backend *be;
	atomic_int refs;
	struct nvb_io_stats stats[NVB_MAX_REACTORS];
	/* Set by nvb_ns_create, freed with the namespace. NULL in a namespace
	 * built by hand (tests): no reservations, no fused operations. */
	struct nvb_resv *resv;          /* reservation state shared by every front end */
	struct nvb_exec_gate *gate;     /* orders writes around fused Compare and Write */
};

/* Create a namespace from its config (ids already filled in): open the
 * backend, size it, refs = 1. Does not publish it. NULL with a reason in err
 * ("FILE:LINE: namespace N: ..." using conf->line and the config path). */
struct nvb_ns *nvb_ns_create(struct nvb_subsys *ss, const struct nvb_ns_conf *conf,
			     const char *cfg_path, char *err, size_t errlen);

/* Take a reference on the namespace published at nsid (reactor thread or
 * control thread); NULL when there is none. Release with nvb_ns_put. */
struct nvb_ns *nvb_ns_get(struct nvb_subsys *ss, uint32_t nsid);
void nvb_ns_put(struct nvb_ns *ns);

struct nvb_ana_group {
	uint32_t id;
	_Atomic uint8_t state;          /* enum nvb_ana_state */
	atomic_uint change_count;       /* bumps on each state change */
};

struct nvb_port {
	struct nvb_port_conf conf;      /* id, addr, svcid, family, ana_group */
	struct nvb_ana_group *ana;
};

/* Dynamic controller IDs are 1..FFEFh (NVMe 2.0: CNTLID FFF0h-FFFFh are reserved). */
#define NVB_MAX_CNTLID 0xFFEF

struct nvb_subsys {
	char nqn[NVB_NQN_MAX + 1];
	char serial[21];
	char model[41];
	bool is_discovery;
	pthread_mutex_t lock;           /* control path: hosts, cntlid allocation */
	bool allow_any_host;
	char **hosts;
	int nhosts;
	uint16_t next_cntlid;
	_Atomic(struct nvb_ns *) ns[NVB_MAX_NSID + 1];   /* index = NSID */
	atomic_uint ns_change_count;    /* bumps on namespace add/remove/resize */
	atomic_uint max_nsid;           /* highest NSID ever published (NN) */
	/* Controller IDs in use (bit n = CNTLID n), under lock. */
	uint64_t cntlid_used[(NVB_MAX_CNTLID + 64) / 64];
};

struct nvb_target {
	struct nvb_config *cfg;         /* the running config (kept in step for `save`) */
	struct nvb_subsys **subsys;
	int nsubsys;
	struct nvb_port *ports;
	int nports;
	struct nvb_ana_group *ana_groups;
	int nana_groups;
	struct nvb_subsys *discovery;   /* nqn.2014-08.org.nvmexpress.discovery */
};

/* Build the target from a validated config: open every backend. On error
 * -1 with "FILE:LINE: reason" in err. The target takes ownership of cfg,
 * also on failure (it is freed then). */
int nvb_target_init(struct nvb_config *cfg, char *err, size_t errlen);
/* Flush every backend (blocking) and free everything. */
void nvb_target_shutdown(void);
struct nvb_target *nvb_target(void);

struct nvb_subsys *nvb_target_find_subsys(const char *nqn);
struct nvb_ana_group *nvb_target_find_ana_group(uint32_t id);
/* Is `port` configured to export `ss`? */
bool nvb_port_exports(const struct nvb_port *port, const struct nvb_subsys *ss);

bool nvb_subsys_host_allowed(struct nvb_subsys *ss, const char *hostnqn);
int nvb_subsys_allow_host(struct nvb_subsys *ss, const char *hostnqn, bool allow,
			  char *err, size_t errlen);
/* A controller ID unique within the subsystem, 1..0xFFEF (NVMe 2.0 §3.1.3.x),
 * or 0 when every ID is in use. Give it back with nvb_subsys_free_cntlid when
 * the controller goes away. Any thread. */
uint16_t nvb_subsys_alloc_cntlid(struct nvb_subsys *ss);
void nvb_subsys_free_cntlid(struct nvb_subsys *ss, uint16_t cntlid);
/* Highest NSID that is (or was) published, for NN. */
uint32_t nvb_subsys_max_nsid(struct nvb_subsys *ss);

/* Control thread: change namespaces; each fires NVB_EV_NS_CHANGED. */
int nvb_subsys_add_ns(struct nvb_subsys *ss, const struct nvb_ns_conf *conf,
		      char *err, size_t errlen);
int nvb_subsys_remove_ns(struct nvb_subsys *ss, uint32_t nsid, char *err, size_t errlen);
int nvb_subsys_resize_ns(struct nvb_subsys *ss, uint32_t nsid, uint64_t bytes,
			 char *err, size_t errlen);
/* Control thread: fires NVB_EV_ANA_CHANGED. */
int nvb_ana_group_set_state(uint32_t id, enum nvb_ana_state state, char *err, size_t errlen);

enum nvb_event {
	NVB_EV_NS_CHANGED,      /* subsys, nsid: added, removed or resized */
	NVB_EV_ANA_CHANGED,     /* subsys NULL, arg = ANA group id */
	NVB_EV_HOSTS_CHANGED,   /* subsys: a host was denied; drop its controllers */
};
struct nvb_listener {
	void (*fn)(struct nvb_listener *l, enum nvb_event ev, struct nvb_subsys *ss,
		   uint32_t arg);
	struct nvb_listener *next;
};
/* Listeners run on the control thread that made the change, under the
 * listener list's lock: they must not call nvb_target_listen/unlisten. */
void nvb_target_listen(struct nvb_listener *l);
void nvb_target_unlisten(struct nvb_listener *l);

#endif

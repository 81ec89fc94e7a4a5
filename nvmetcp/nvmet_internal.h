/* SPDX-License-Identifier: MIT */
/*
 * Private to the NVMe-oF controller core (ctrl.c, fabrics.c, admin.c,
 * discovery.c, io.c): the controller object and the helpers those files
 * share. The transport sees only nvmet.h.
 *
 * Threading:
 *  - A controller's admin queue lives on one reactor (admin_reactor). The
 *    admin-only state below (AERs, pending events, changed-NS list, error
 *    log, keep-alive tick) is touched only there, so it needs no lock.
 *  - I/O queues live on other reactors and read only the immutable fields
 *    and a few atomics (csts, vwc, traffic).
 *  - The registry, refs and sqs[] are guarded by one mutex (nvmet_lock):
 *    they change only on Connect, queue teardown and control-thread events.
 */
#ifndef NVMETCP_NVMET_INTERNAL_H
#define NVMETCP_NVMET_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/resv.h"
#include "nvmetcp/nvmet.h"

#define NVMET_ERROR_LOG_SLOTS   64
#define NVMET_MAX_CHANGED_NS    1024    /* NVMe 2.0 §5.16.1.5: 1024 entries */
#define NVMET_DISC_KATO_MS      120000  /* discovery controller, KATO 0 (see ctrl.c) */
#define NVMET_KA_SLACK_MS       250     /* grace on top of KATO before giving up */
#define NVMET_VS                0x00020000u     /* NVMe 2.0 */
#define NVMET_FUSED_WAIT_MS     1000    /* longest a fused command waits for its partner */

/* CC / CSTS fields (NVMe 2.0 §3.1.3.5, §3.1.3.6). */
#define NVMET_CC_EN             (1u << 0)
#define NVMET_CC_CSS(cc)        (((cc) >> 4) & 0x7)
#define NVMET_CC_MPS(cc)        (((cc) >> 7) & 0xf)
#define NVMET_CC_AMS(cc)        (((cc) >> 11) & 0x7)
#define NVMET_CC_SHN(cc)        (((cc) >> 14) & 0x3)
#define NVMET_CC_IOSQES(cc)     (((cc) >> 16) & 0xf)
#define NVMET_CC_IOCQES(cc)     (((cc) >> 20) & 0xf)
#define NVMET_CSTS_RDY          (1u << 0)
#define NVMET_CSTS_CFS          (1u << 1)
#define NVMET_CSTS_SHST_CMPLT   (2u << 2)

/*
 * A fused command (NVMe 2.0 "Fused Operations") waiting on its I/O queue
 * for its partner (io.c). One per queue, touched only by that queue's
 * reactor; the tick bounds the wait so that a host that never sends the
 * partner cannot pin the command (and the queue's teardown) for ever.
 */
struct nvmet_fused_slot {
	struct nvmet_req *held;
	uint64_t since_ms;
	struct nvb_tick tick;
};

/* Asynchronous events this core raises (all Notices, NVMe 2.0 §5.2). */
enum nvmet_event {
	NVMET_EVENT_NS_ATTR,    /* info 00h, log 04h, AEC bit 8 */
	NVMET_EVENT_ANA,        /* info 03h, log 0Ch, AEC bit 11 */
	NVMET_NR_EVENTS,
};

struct nvmet_ctrl {
	/* Immutable after Connect. */
	uint16_t cntlid;
	bool discovery;
	struct nvb_subsys *subsys;
	struct nvb_port *port;
	struct nvb_reactor *admin_reactor;
	char hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	/* The reservation registrant identity (bridge/resv.h) of the Host
	 * Identifier; has_host false for the all-zero one, which names no
	 * host: no reservation commands then. */
	bool has_host;
	struct nvb_host_id host;

	/* Read on I/O reactors, written on the admin reactor. */
	_Atomic uint32_t cc;
	_Atomic uint32_t csts;
	atomic_bool vwc_enabled;        /* Set Features 06h */
	_Atomic uint32_t kato_ms;       /* 0 = no keep-alive timeout */

	/* Admin reactor only. */
	uint32_t aen_enabled;           /* Set Features 0Bh */
	uint32_t write_atomicity;       /* Set Features 0Ah */
	struct nvmet_sq *admin_sq;
	struct nvmet_req *aers;         /* outstanding AERs, FIFO via aer_next */
	int naers;
	uint8_t event_queue[NVMET_NR_EVENTS];   /* raised, not yet delivered */
	int nevents;
	uint32_t event_masked;          /* bit per enum nvmet_event: sent, log unread */
	uint32_t changed_ns[NVMET_MAX_CHANGED_NS];
	int nr_changed_ns;
	bool changed_ns_overflow;
	struct nvme_error_log_page errlog[NVMET_ERROR_LOG_SLOTS];
	uint64_t error_count;
	struct nvb_tick ka_tick;
	uint64_t ka_last_ms;            /* last time traffic was seen */
	bool ka_expired;

	/* Guarded by nvmet_lock. */
	int refs;
	bool dead;                      /* no new queues: killed or admin gone */
	uint16_t nr_io_queues;          /* granted by Number of Queues */
	int nr_io_sqs;                  /* connected I/O queues */
	struct nvmet_sq *sqs[NVMET_MAX_QUEUES + 1];
	struct nvmet_ctrl *next;        /* registry */

	/* Slot qid: I/O queue qid's reactor only. */
	struct nvmet_fused_slot fused[NVMET_MAX_QUEUES + 1];

	/* Written by every queue's reactor; its own cache line. */
	atomic_bool traffic __attribute__((aligned(64)));
};

/* ctrl.c: registry and lifecycle. */
extern pthread_mutex_t nvmet_lock;
struct nvmet_ctrl *nvmet_ctrl_create(struct nvmet_sq *sq, struct nvb_subsys *ss,
				     const char *hostnqn, const uint8_t hostid[16],
				     uint32_t kato_ms, uint16_t cntlid);
/* Find the live controller cntlid of ss reached through port and take a
 * reference (NULL if none). */
struct nvmet_ctrl *nvmet_ctrl_find_get(struct nvb_subsys *ss, struct nvb_port *port,
				       uint16_t cntlid);
void nvmet_ctrl_put(struct nvmet_ctrl *ctrl);
/* Tear down every queue of the controller (any thread). */
void nvmet_ctrl_kill(struct nvmet_ctrl *ctrl, const char *why);
/* Keep-alive timer value to use for a KATO the host asked for. */
uint32_t nvmet_ctrl_kato(const struct nvmet_ctrl *ctrl, uint32_t kato_ms);
void nvmet_ctrl_restart_keep_alive(struct nvmet_ctrl *ctrl);

/* Note that the host is alive (every command, any queue: CTRATT.TBKAS). */
static inline void nvmet_ctrl_touch(struct nvmet_ctrl *ctrl)
{
	/* Read first: the line stays shared while the flag is already set. */
	if (!atomic_load_explicit(&ctrl->traffic, memory_order_relaxed))
		atomic_store_explicit(&ctrl->traffic, true, memory_order_relaxed);
}

static inline bool nvmet_ctrl_ready(const struct nvmet_ctrl *ctrl)
{
	return atomic_load_explicit(&ctrl->csts, memory_order_relaxed) & NVMET_CSTS_RDY;
}

/* ctrl.c: asynchronous events (admin reactor). */
void nvmet_aer_submit(struct nvmet_req *req);
/* The host read the log page behind `ev` with RAE clear: unmask it. */
void nvmet_event_log_read(struct nvmet_ctrl *ctrl, enum nvmet_event ev);

/* ANA: the group a namespace belongs to as seen by ctrl (ANA model: the
 * port's group unless the namespace names its own). */
struct nvb_ana_group *nvmet_ns_ana_group(const struct nvmet_ctrl *ctrl, const struct nvb_ns *ns);
enum nvb_ana_state nvmet_ana_group_state(const struct nvb_ana_group *g);

/* Command handlers, each completing the request (possibly later). */
void nvmet_fabrics_execute(struct nvmet_req *req);
void nvmet_admin_execute(struct nvmet_req *req);
void nvmet_io_execute(struct nvmet_req *req);
/* The queue is going away: complete a fused command it still holds. */
void nvmet_io_fused_drop(struct nvmet_sq *sq);

/* The identity reservation checks use for the controller's commands. */
static inline const struct nvb_host_id *nvmet_ctrl_host(const struct nvmet_ctrl *ctrl)
{
	return ctrl->has_host ? &ctrl->host : NULL;
}

/* Data buffers of a request. */
void nvmet_copy_to_req(struct nvmet_req *req, size_t off, const void *src, size_t len);
size_t nvmet_copy_from_req(struct nvmet_req *req, size_t off, void *dst, size_t len);
void nvmet_zero_req(struct nvmet_req *req, size_t off, size_t len);

/*
 * Log pages are produced front to back through a writer that keeps only the
 * bytes the host asked for (offset LPO, length NUMD), so a generator never
 * needs the whole page in memory and partial reads come for free.
 */
struct nvmet_log_writer {
	struct nvmet_req *req;
	uint64_t offset;        /* first byte the host wants */
	uint64_t len;           /* bytes the host wants */
	uint64_t pos;           /* bytes produced so far = log size at the end */
};
void nvmet_log_put(struct nvmet_log_writer *w, const void *data, size_t len);

/* discovery.c */
void nvmet_discovery_log(struct nvmet_log_writer *w, struct nvmet_ctrl *ctrl);
void nvmet_discovery_changed(void);

/* Fixed-width, space-padded ASCII fields (SN, MN, FR, TRADDR, TRSVCID). */
void nvmet_strpad(char *dst, size_t width, const char *src);

#endif

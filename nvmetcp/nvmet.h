/* SPDX-License-Identifier: MIT */
/*
 * The NVMe-oF controller core of the NVMe/TCP front end, independent of the
 * transport below it (compare the Linux nvmet core vs. nvmet-tcp):
 * controllers, Fabrics commands, Admin commands, the discovery controller,
 * AENs and keep-alive, and I/O handed to the bridge executor.
 *
 * The transport (tcp.c) owns sockets and buffers. For each command capsule it
 * fills a struct nvmet_req — the SQE, and for host-to-controller commands the
 * data already received (in-capsule or via R2T/H2CData) — and calls
 * nvmet_req_execute() on the queue's reactor. The core answers through
 * nvmet_req_complete(), which fills the CQE and calls req->complete(): the
 * transport then sends req->xfer_len bytes of C2H data (if any) and the
 * response. Completion always happens on the queue's reactor thread.
 */
#ifndef NVMETCP_NVMET_H
#define NVMETCP_NVMET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bridge/executor.h"
#include "bridge/nvme.h"
#include "bridge/reactor.h"
#include "bridge/target.h"

/* Limits we advertise (and enforce). */
#define NVMET_MDTS_SHIFT     8          /* MDTS = 2^8 × 4 KiB (CAP.MPSMIN) = 1 MiB */
#define NVMET_MAX_XFER       (4096u << NVMET_MDTS_SHIFT)
#define NVMET_MAX_QUEUES     128        /* I/O queues per controller */
#define NVMET_MAX_QSIZE      1024       /* CAP.MQES + 1 */
#define NVMET_AQ_DEPTH       32
#define NVMET_IO_ICDOFF_SIZE 8192       /* in-capsule data for I/O queues (IOCCSZ) */
#define NVMET_ADMIN_INCAPSULE 8192      /* the Linux host puts up to 8 KiB in admin capsules */
#define NVMET_MAX_AERS       4          /* AERL + 1 */
#define NVMET_KAS_100MS      1          /* KAS: keep-alive granularity 100 ms */
#define NVMET_ANATT_S        10         /* ANA transition time */

struct nvmet_ctrl;
struct nvmet_sq;
struct nvmet_req;

/* What the transport offers the core for a queue. */
struct nvmet_sq_ops {
	/* Tear the connection down (any thread; asynchronous). The transport
	 * later calls nvmet_sq_destroy() from the queue's reactor. */
	void (*kill)(struct nvmet_sq *sq);
	/* Transport-specific text for the control socket ("127.0.0.1:4420 <- 127.0.0.1:51234"). */
	void (*describe)(struct nvmet_sq *sq, char *buf, size_t len);
};

/* A submission queue as the core sees it; embedded in the transport's queue. */
struct nvmet_sq {
	const struct nvmet_sq_ops *ops;
	struct nvb_port *port;          /* the port the connection arrived on */
	struct nvb_reactor *reactor;    /* where every command of this queue runs */
	struct nvmet_ctrl *ctrl;        /* NULL until Connect succeeds */
	uint16_t qid;
	uint16_t size;                  /* entries (1's based) */
	uint16_t sqhd;
	bool sq_flow_control_disabled;  /* Connect CATTR bit 2 */
	struct nvb_io_stats stats;      /* this queue's own counters */
};

struct nvmet_req {
	struct nvb_sqe cmd;
	struct nvb_cqe rsp;
	struct nvmet_sq *sq;
	/* Data buffers the transport owns: host-to-controller data already
	 * received, or room for controller-to-host data. */
	struct iovec *iov;
	int iovcnt;
	size_t data_len;                /* SGL length from the command */
	size_t xfer_len;                /* C2H bytes to send, set by the core */
	void (*complete)(struct nvmet_req *req);
	/* Core private. */
	struct nvb_io io;
	struct nvmet_req *aer_next;
	uint64_t start_ns;              /* I/O submit time, for sq->stats latency */
};

/* Transport → core (on the queue's reactor). */
void nvmet_sq_init(struct nvmet_sq *sq, const struct nvmet_sq_ops *ops,
		   struct nvb_port *port, struct nvb_reactor *reactor);
void nvmet_req_execute(struct nvmet_req *req);
/* The connection is gone: drop the controller's reference, fail held AERs
 * (without calling complete: the transport frees them). */
void nvmet_sq_destroy(struct nvmet_sq *sq);
/* A command the transport rejects itself (bad SGL, too long): complete it. */
void nvmet_req_complete(struct nvmet_req *req, nvb_status status);

/* Start/stop the core: event listeners, controller registry. */
int nvmet_core_init(void);
void nvmet_core_exit(void);
/* Kill every controller's queues (shutdown). */
void nvmet_core_kill_all(void);
/* Append controllers (JSON objects) to `out` (control thread). */
struct json_object;
void nvmet_core_list(struct json_object *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP transport of the target (NVMe/TCP Transport Specification
 * 1.0): listeners, one TCP connection per NVMe queue, the PDU receive state
 * machine, R2T/H2CData and C2HData data movement, digests, and the queue's
 * lifecycle. The controller core (nvmet.h) sees each connection as a
 * struct nvmet_sq and each command as a struct nvmet_req.
 *
 * Files: frontend.c (listeners, accept, the front end table), tcp.c (queue
 * lifecycle, request pool, timers), tcp_rx.c (receive path and PDU
 * handlers), tcp_tx.c (send path and PDU builders).
 *
 * Threading: a queue lives on one reactor and everything below runs on that
 * reactor's thread, except nvmetcp_kill_all()/nvmetcp_inflight()/
 * nvmetcp_queue_count() (control thread) and the sq kill op (any thread).
 */
#ifndef NVMETCP_TCP_H
#define NVMETCP_TCP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bridge/frontend.h"
#include "bridge/reactor.h"
#include "bridge/target.h"
#include "nvmetcp/nvmet.h"
#include "nvmetcp/pdu.h"

/* The NVMe/TCP front end (nvbridged's main names it). */
extern const struct nvb_frontend_ops nvmetcp_frontend;

/* ---- transport internals, shared by tcp.c, tcp_rx.c, tcp_tx.c, frontend.c ---- */

/* What we advertise in ICResp: the most data one H2CData PDU may carry.
 * MDTS: every R2T's data can come in one PDU. */
#define NVMETCP_MAXH2CDATA      NVMET_MAX_XFER
/* Requests a queue has before Fabrics Connect tells its size. */
#define NVMETCP_BOOT_REQS       2
/* Commands per queue waiting for host data at once (each holds a buffer). */
#define NVMETCP_MAX_ACTIVE_R2T  32
/* Receive staging: small until Connect succeeds, then a pool buffer. */
#define NVMETCP_STAGE_SMALL     256
#define NVMETCP_STAGE_BIG       8192
/* iovecs one sendmsg gathers from the send list. */
#define NVMETCP_TX_IOV          32
/* Deadlines (ms): ICReq after accept, Connect after ICResp, a TermReq's
 * linger. (Overridable at build time so tests need not wait 10 s.) */
#ifndef NVMETCP_ICREQ_TIMEOUT_MS
#define NVMETCP_ICREQ_TIMEOUT_MS   10000
#endif
#ifndef NVMETCP_CONNECT_TIMEOUT_MS
#define NVMETCP_CONNECT_TIMEOUT_MS 10000
#endif
#define NVMETCP_LINGER_MS          2000

/* One PDU (or a run of PDUs) on a queue's send list. */
struct nvmetcp_tx {
	struct nvmetcp_tx *next;
	const struct iovec *iov;
	uint32_t iovcnt;
	uint32_t len;                   /* bytes in iov[] */
	uint32_t sent;                  /* bytes already on the wire */
	void (*done)(struct nvmetcp_tx *tx);
};

enum nvmetcp_req_state {
	NVMETCP_REQ_FREE,
	NVMETCP_REQ_NEW,                /* header parsed, data not yet placed */
	NVMETCP_REQ_R2T_WAIT,           /* needs an R2T slot */
	NVMETCP_REQ_R2T,                /* R2T sent, H2CData arriving */
	NVMETCP_REQ_EXEC,               /* with the core */
	NVMETCP_REQ_TX,                 /* response queued or being sent */
	NVMETCP_REQ_DEAD,               /* completed after the queue started closing */
};

struct nvmetcp_queue;

struct nvmetcp_req {
	struct nvmet_req req;
	struct nvmetcp_queue *q;
	struct nvmetcp_req *next;       /* free list, R2T wait list */
	uint16_t ttag;                  /* index in the queue: R2T TTAG */
	uint8_t state;                  /* enum nvmetcp_req_state */
	uint8_t dir;                    /* enum nvb_xfer_dir of the data */
	bool held;                      /* AER: the core may keep it indefinitely */
	bool ddgst_bad;                 /* a data digest failed: complete as transient error */
	void *buf;                      /* data buffer (bufpool), buf_len bytes */
	size_t buf_len;
	struct iovec iov;               /* req.iov points here */
	uint32_t h2c_rcvd;              /* R2T data received so far */
	struct nvmetcp_tx r2t_tx;
	struct nvmetcp_tx rsp_tx;
	struct iovec r2t_iov;
	struct iovec tx_iov[5];         /* [data hdr][pad][data][ddgst][resp] */
	/* R2T or C2HData header (+ digest); the CapsuleResp (+ digest). */
	uint8_t data_hdr[sizeof(struct nvmetcp_data) + NVMETCP_DIGEST_LEN];
	uint8_t rsp_hdr[sizeof(struct nvmetcp_rsp) + NVMETCP_DIGEST_LEN];
	uint8_t ddgst[NVMETCP_DIGEST_LEN];
};

enum nvmetcp_queue_state {
	NVMETCP_Q_WAIT_ICREQ,
	NVMETCP_Q_WAIT_CONNECT,
	NVMETCP_Q_LIVE,
	NVMETCP_Q_CLOSING,
};

enum nvmetcp_rx_step {
	NVMETCP_RX_CH,                  /* the 8-byte common header */
	NVMETCP_RX_HDR,                 /* the rest of the header (+ digest) */
	NVMETCP_RX_PAD,                 /* bytes up to PDO */
	NVMETCP_RX_DATA,                /* payload, into dst (NULL: discarded) */
	NVMETCP_RX_DDGST,               /* data digest */
};

/* What to do once a PDU's data (and digest) is in. */
enum nvmetcp_rx_sink {
	NVMETCP_SINK_DISCARD,
	NVMETCP_SINK_CAPSULE,           /* in-capsule data of rx.req */
	NVMETCP_SINK_H2C,               /* H2CData for rx.req */
};

struct nvmetcp_rx {
	uint8_t step;                   /* enum nvmetcp_rx_step */
	uint8_t sink;                   /* enum nvmetcp_rx_sink */
	bool direct;                    /* the recv in flight targets dst, not staging */
	struct nvmetcp_layout lay;      /* of the PDU being received */
	uint32_t pad_left;
	uint32_t data_off;              /* payload bytes already placed */
	uint8_t *dst;
	uint32_t crc;                   /* running data digest */
	uint32_t ddgst_have;
	uint8_t ddgst[NVMETCP_DIGEST_LEN];
	struct nvmetcp_req *req;
	/* Staging: bytes [head, tail) of stage[cap] are received, unparsed. */
	uint8_t *stage;
	uint32_t cap, head, tail;
};

struct nvmetcp_queue {
	struct nvmet_sq sq;
	int fd;
	uint8_t state;                  /* enum nvmetcp_queue_state */
	struct nvb_reactor *reactor;
	int rindex;                     /* its index (valid after reactors stop) */
	struct nvmetcp_queue *prev, *next;      /* the reactor's queue list */
	struct nvmetcp_queue *tprev, *tnext;    /* the reactor's timed list */
	bool timed;
	uint64_t deadline_ms;

	struct nvmetcp_params params;   /* what we receive */
	uint32_t tx_pda;                /* alignment of PDU data we send (host's HPDA) */
	uint32_t maxr2t;                /* host's MAXR2T, 0's based */

	/* Receive. */
	struct nvb_uring_op rx_op;
	bool rx_inflight;
	bool rx_stalled;                /* waiting for a free request */
	struct nvmetcp_rx rx;
	uint8_t stage_small[NVMETCP_STAGE_SMALL];

	/* Send. */
	struct nvb_uring_op tx_op;
	bool tx_inflight;
	uint32_t tx_inflight_len;
	struct nvmetcp_tx *tx_head, **tx_tail;
	struct msghdr tx_msg;
	struct iovec tx_iov[NVMETCP_TX_IOV];
	struct nvmetcp_tx ctl_tx;       /* ICResp or C2HTermReq */
	struct iovec ctl_iov;
	uint8_t *ctl_pdu;               /* malloc'd while in use: rare path */
	bool term_queued;               /* a C2HTermReq is on the send list */
	bool term_done;                 /* ... and went out (or never will) */

	/* Requests: NVMETCP_BOOT_REQS fixed ones, then sq.size after Connect. */
	struct nvmetcp_req boot[NVMETCP_BOOT_REQS];
	struct nvmetcp_req *reqs;
	uint32_t nreqs;
	struct nvmetcp_req *free_reqs;
	uint32_t tx_reqs;               /* requests in NVMETCP_REQ_TX */
	struct nvmetcp_req *r2t_wait, **r2t_wait_tail;
	uint32_t r2t_active;
	uint32_t exec;                  /* with the core, excluding held AERs */

	/* Teardown. */
	atomic_int kill_refs;           /* kill messages posted, not yet run */
	bool teardown_posted;
	bool torn_down;
	char desc[128];                 /* "local <- peer" */
};

/* tcp.c: lifecycle. */
/* A new connection accepted on `port`; set up on reactor r (posted). */
void nvmetcp_queue_accepted(int fd, struct nvb_port *port, struct nvb_reactor *r);
/* Stop serving the queue: no more receives; tear down once quiet. */
void nvmetcp_queue_close(struct nvmetcp_queue *q, const char *why);
/* Tear down when nothing is in flight any more (posted, never re-entrant). */
void nvmetcp_queue_maybe_teardown(struct nvmetcp_queue *q);
/* After the ICReq exchange: wait for Connect. */
void nvmetcp_queue_established(struct nvmetcp_queue *q);
struct nvmetcp_req *nvmetcp_req_get(struct nvmetcp_queue *q);
struct nvmetcp_req *nvmetcp_req_by_ttag(struct nvmetcp_queue *q, uint16_t ttag);
void nvmetcp_req_put(struct nvmetcp_req *r);
/* Hand a command whose data is in place to the core. */
void nvmetcp_req_execute(struct nvmetcp_req *r);
/* Complete a command the transport rejects (status without executing). */
void nvmetcp_req_reject(struct nvmetcp_req *r, nvb_status status);
/* A data buffer of len bytes for r (NULL when memory is exhausted). */
void *nvmetcp_req_buf(struct nvmetcp_req *r, size_t len);

/* Control thread: drain support. While stopping, queues read no new
 * commands (those in flight finish) and new connections are refused. */
void nvmetcp_set_stopping(bool stopping);
bool nvmetcp_stopping(void);
void nvmetcp_kill_all(void);
long nvmetcp_inflight(void);
long nvmetcp_queue_count(void);
/* After reactors have stopped: free whatever is left. */
void nvmetcp_queues_cleanup(void);

/* tcp_rx.c */
void nvmetcp_rx_start(struct nvmetcp_queue *q);
void nvmetcp_rx_resume(struct nvmetcp_queue *q);

/* tcp_tx.c */
void nvmetcp_tx_init(struct nvmetcp_queue *q);
void nvmetcp_send_icresp(struct nvmetcp_queue *q);
void nvmetcp_send_r2t(struct nvmetcp_req *r);
void nvmetcp_send_term(struct nvmetcp_queue *q, uint16_t fes, uint32_t fei,
		       const void *hdr, uint32_t hlen);
/* Queue the C2HData and/or CapsuleResp of a completed command. */
void nvmetcp_send_response(struct nvmetcp_req *r);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * nvmeh: a small userspace NVMe/TCP host (initiator) library.
 *
 * Used by the integration tests, the hostile-input tester, the load
 * generator and nvmigrate. It owns no threads and uses plain sockets: every
 * call does its work on the caller's thread.
 *
 * A controller (struct nvmeh_ctrl) is an admin queue (qid 0) plus N I/O
 * queues (qid 1..N), each its own TCP connection. Threading rule: each
 * queue is independent and may be driven by a different thread, but one
 * queue by one thread at a time; the admin helpers all use qid 0.
 *
 * Return values, everywhere unless said otherwise:
 *   0      success
 *   > 0    the NVMe status the controller returned (an nvb_status:
 *          (SCT << 8) | SC, plus NVB_DNR/NVB_MORE; see bridge/nvme.h)
 *   < 0    -errno: a local or transport error. A transport error (the
 *          target closed, timed out, or broke the protocol) leaves the queue
 *          unusable: every command on it fails with the same error.
 *          -ECONNABORTED means the target sent a C2HTermReq.
 *
 * Keep alive: with kato_ms set, the target drops a controller that sends
 * no Keep Alive for kato_ms. Admin calls that wait send one themselves when
 * due; a program that leaves the admin queue idle longer than kato_ms / 2
 * must call nvmeh_keep_alive() (e.g. from its main thread while I/O
 * threads run).
 */
#ifndef NVMETCP_HOST_H
#define NVMETCP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "bridge/nvme.h"
#include "nvmetcp/pdu.h"

#define NVMEH_DEFAULT_PORT      "4420"
#define NVMEH_TEST_HOSTNQN      "nqn.2026-04.io.nvbridge:host:test"
#define NVMEH_ADMIN_DEPTH       32      /* admin queue entries (sqsize 31) */
#define NVMEH_MAX_DEPTH         1024    /* per I/O queue */
#define NVMEH_MAX_IO_QUEUES     128
#define NVMEH_MAX_IOV           64      /* iovec entries per command */

struct nvmeh_opts {
	const char *traddr;             /* IPv4 or IPv6 address (or host name) */
	const char *trsvcid;            /* TCP port; NULL: "4420" */
	const char *subnqn;             /* subsystem NQN (or NVB_DISCOVERY_NQN) */
	const char *hostnqn;            /* NULL: /etc/nvme/hostnqn if present,
					 * else NVMEH_TEST_HOSTNQN */
	uint8_t hostid[16];             /* all zero: /etc/nvme/hostid, else derived from hostnqn */
	unsigned nr_io_queues;          /* 0: admin queue only */
	unsigned queue_depth;           /* per I/O queue (clamped to CAP.MQES + 1) */
	unsigned kato_ms;               /* keep-alive timeout; 0 = none */
	bool hdgst;                     /* ask for header digests */
	bool ddgst;                     /* ask for data digests */
	unsigned connect_timeout_ms;    /* TCP connect + ICResp; 0: 10 s */
	unsigned cmd_timeout_ms;        /* synchronous commands; 0: 30 s */
	bool no_incapsule;              /* I/O writes always wait for R2T */
	uint32_t incapsule_max;         /* cap on in-capsule I/O data; 0: what IOCCSZ allows */
	bool disable_sqflow;            /* Connect CATTR bit 2: no SQ head pointer
					 * updates needed (lets a target use the
					 * C2HData SUCCESS optimisation) */
};

/* Defaults: port 4420, 1 I/O queue of depth 32, KATO 30 s, no digests. */
void nvmeh_opts_init(struct nvmeh_opts *o);

struct nvmeh_ctrl;

/* What the connection set-up learned. */
struct nvmeh_info {
	uint16_t cntlid;                /* from the admin Connect */
	bool discovery;
	bool hdgst, ddgst;              /* negotiated */
	unsigned nr_io_queues;          /* granted (may be less than asked) */
	unsigned queue_depth;           /* per I/O queue, after clamping */
	uint64_t cap;                   /* CAP property */
	uint32_t vs;                    /* VS property */
	uint32_t max_xfer;              /* bytes per command from MDTS; 0 = no limit */
	uint32_t io_incapsule;          /* largest in-capsule write on I/O queues (0 = none) */
	uint32_t maxh2cdata;            /* from the admin queue's ICResp */
	const struct nvme_id_ctrl *id;  /* Identify Controller; NULL for discovery */
};

/*
 * Connect admin + nr_io_queues I/O queues: TCP, ICReq/ICResp, Fabrics
 * Connect on each; for an NVM subsystem also CAP/VS, CC.EN, CSTS.RDY,
 * Identify Controller and Number of Queues; for discovery only Connect and
 * enable. On failure *ctrl is NULL and `err` (if not NULL) says why,
 * including the status when the target refused Connect.
 */
int nvmeh_connect(const struct nvmeh_opts *o, struct nvmeh_ctrl **ctrl,
		  char *err, size_t errlen);
/* Shut the controller down (CC.SHN, briefly awaited) and free everything. */
void nvmeh_disconnect(struct nvmeh_ctrl *ctrl);
const struct nvmeh_info *nvmeh_info(const struct nvmeh_ctrl *ctrl);
/* The socket of queue qid (for tests that watch or break it), or -1. */
int nvmeh_queue_fd(const struct nvmeh_ctrl *ctrl, unsigned qid);
/* 0 while queue qid is usable, else the -errno that broke it. */
int nvmeh_queue_error(const struct nvmeh_ctrl *ctrl, unsigned qid);
/* Text for a return value: strerror for < 0, the status name for > 0. */
const char *nvmeh_status_name(int status);

/* ---- Asynchronous commands (any queue; the admin queue from its thread) ---- */

/* Called from nvmeh_poll (or a synchronous call) on the queue's thread.
 * status: 0, an nvb_status > 0, or -errno when the queue failed. cqe is the
 * controller's completion (synthesised for a C2HData SUCCESS completion;
 * NULL when status < 0). The callback may submit; it must not poll. */
typedef void (*nvmeh_cb)(void *arg, int status, const struct nvb_cqe *cqe);

/*
 * Queue a command on queue qid. The library sets CID, PSDT and the SGL in
 * the SQE copy it keeps; the data direction comes from the opcode (fctype
 * for Fabrics commands). buf/iov stay owned by the caller until the
 * callback (an iov array too). Returns the CID (>= 0), -EBUSY when
 * queue_depth commands are outstanding, or another -errno.
 * Nothing is sent before the next nvmeh_poll() or synchronous call.
 */
int nvmeh_submit(struct nvmeh_ctrl *ctrl, unsigned qid, const struct nvb_sqe *sqe,
		 void *buf, size_t len, nvmeh_cb cb, void *arg);
int nvmeh_submitv(struct nvmeh_ctrl *ctrl, unsigned qid, const struct nvb_sqe *sqe,
		  const struct iovec *iov, int iovcnt, nvmeh_cb cb, void *arg);
/*
 * Send queued PDUs (commands, H2CData for R2Ts) and process what arrives,
 * calling callbacks, until at least min_completions commands completed
 * during this call (or none is outstanding), or timeout_ms passed
 * (-1: no limit, 0: only what is ready now). min_completions 0 just
 * processes what is ready (and so notices a connection the target
 * dropped). Returns the number of completions, or -errno when the queue
 * failed (its callbacks got the same error).
 */
int nvmeh_poll(struct nvmeh_ctrl *ctrl, unsigned qid, unsigned min_completions,
	       int timeout_ms);
/* Commands outstanding on queue qid. */
unsigned nvmeh_outstanding(const struct nvmeh_ctrl *ctrl, unsigned qid);

/* ---- Synchronous passthrough ---- */

/* Run one command on queue qid and wait (cmd_timeout_ms: then the queue
 * fails with -ETIMEDOUT). dir must match the opcode's data direction;
 * cqe (optional) receives the completion. */
int nvmeh_passthru(struct nvmeh_ctrl *ctrl, unsigned qid, const struct nvb_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		   struct nvb_cqe *cqe);
int nvmeh_admin_passthru(struct nvmeh_ctrl *ctrl, const struct nvb_sqe *sqe, void *buf,
			 size_t len, enum nvb_xfer_dir dir, struct nvb_cqe *cqe);

/* ---- Admin helpers (qid 0) ---- */

/* 4096-byte Identify data for CNS cns (NVMe 2.0 §5.17). */
int nvmeh_identify(struct nvmeh_ctrl *ctrl, uint8_t cns, uint32_t nsid, void *buf);
/* Get Log Page, split into MDTS-sized commands; len and offset multiples of 4. */
int nvmeh_get_log_page(struct nvmeh_ctrl *ctrl, uint8_t lid, uint8_t lsp, uint32_t nsid,
		       uint64_t offset, void *buf, size_t len);
int nvmeh_get_features(struct nvmeh_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
		       uint32_t *result);
int nvmeh_set_features(struct nvmeh_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
		       uint32_t *result);
/* Fabrics Property Get/Set (NVMe-oF 1.1 §3.4/3.5); size is 4 or 8. */
int nvmeh_prop_get(struct nvmeh_ctrl *ctrl, uint32_t offset, unsigned size, uint64_t *value);
int nvmeh_prop_set(struct nvmeh_ctrl *ctrl, uint32_t offset, unsigned size, uint64_t value);
int nvmeh_keep_alive(struct nvmeh_ctrl *ctrl);
/* Abort command cid on queue sqid; *result gets CQE dword 0 (bit 0 set:
 * not aborted). */
int nvmeh_abort(struct nvmeh_ctrl *ctrl, uint16_t sqid, uint16_t cid, uint32_t *result);
/* Asynchronous Event Request: submit one (up to AERL + 1 may be pending),
 * then wait for an event: 0 and *result = CQE dword 0, -ETIMEDOUT, a
 * status > 0 when the AER completed with an error, or -errno. Events that
 * complete while another admin command is awaited are kept for later. */
int nvmeh_aer_submit(struct nvmeh_ctrl *ctrl);
int nvmeh_aer_wait(struct nvmeh_ctrl *ctrl, int timeout_ms, uint32_t *result);

/* Namespace facts from Identify Namespace. */
struct nvmeh_ns_info {
	uint64_t nsze, ncap, nuse;      /* blocks */
	uint32_t lba_size;
	unsigned lba_shift;
	uint32_t anagrpid;
	uint8_t nmic;
	uint8_t nguid[16];
	uint8_t eui64[8];
};
int nvmeh_ns_info(struct nvmeh_ctrl *ctrl, uint32_t nsid, struct nvmeh_ns_info *info);
/* The ANA log (LID 0Ch), sized from Identify (NANAGRPID, MNAN); rgo asks
 * for groups only. *log is malloc'd: free() it. */
int nvmeh_get_ana_log(struct nvmeh_ctrl *ctrl, bool rgo, void **log, size_t *len);
/* The discovery log page of a connected discovery controller, whole and
 * consistent (GENCTR re-checked). *log is malloc'd: free() it. */
int nvmeh_get_discovery_log(struct nvmeh_ctrl *ctrl, struct nvmf_discovery_log **log,
			    size_t *len);
/* Connect to the discovery controller at o->traddr/trsvcid (o->subnqn is
 * ignored), read the log, disconnect. */
int nvmeh_discover(const struct nvmeh_opts *o, struct nvmf_discovery_log **log, size_t *len,
		   char *err, size_t errlen);

/* ---- Synchronous I/O on I/O queue qid (1..nr_io_queues) ---- */

/* nlb is the number of blocks (1..65536); len must be nlb × LBA size. */
int nvmeh_read(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid, uint64_t slba,
	       uint32_t nlb, void *buf, size_t len);
int nvmeh_write(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid, uint64_t slba,
		uint32_t nlb, const void *buf, size_t len);
int nvmeh_compare(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid, uint64_t slba,
		  uint32_t nlb, const void *buf, size_t len);
int nvmeh_flush(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid);
/* cdw12_flags: CDW12 bits above NLB (e.g. bit 25 DEAC, bit 30 FUA). */
int nvmeh_write_zeroes(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid, uint64_t slba,
		       uint32_t nlb, uint32_t cdw12_flags);
/* Dataset Management: nr (1..256) ranges in wire (little-endian) format;
 * attributes is CDW11 (bit 2: deallocate). */
int nvmeh_dsm(struct nvmeh_ctrl *ctrl, unsigned qid, uint32_t nsid,
	      const struct nvme_dsm_range *ranges, unsigned nr, uint32_t attributes);

/* ---- Raw access for hostile-input tests ---- */

/* A connected, blocking TCP socket (TCP_NODELAY) to traddr:trsvcid, or -errno. */
int nvmeh_raw_connect(const char *traddr, const char *trsvcid, int timeout_ms);
/* Send an ICReq asking for the given digests and read the ICResp into *rsp
 * (header checked; body not judged: call nvmetcp_icresp_check). Returns 0,
 * -ECONNABORTED on a C2HTermReq, -EPROTO on anything else, or -errno. */
int nvmeh_raw_icreq(int fd, bool hdgst, bool ddgst, struct nvmetcp_icresp *rsp,
		    int timeout_ms);
/* Write all len bytes (returns len or -errno; never raises SIGPIPE). */
ssize_t nvmeh_raw_send(int fd, const void *buf, size_t len);
/* Read up to len bytes, waiting at most timeout_ms for each; returns the
 * bytes read (fewer on EOF), or -ETIMEDOUT / -errno when none arrived. */
ssize_t nvmeh_raw_recv(int fd, void *buf, size_t len, int timeout_ms);

#endif

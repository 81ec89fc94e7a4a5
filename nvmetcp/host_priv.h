/* SPDX-License-Identifier: MIT */
/*
 * Internals of the NVMe/TCP host library shared by its files:
 * host_queue.c (one queue's PDU engine), host.c (connection set-up),
 * host_admin.c (admin helpers), host_io.c (I/O helpers).
 */
#ifndef NVMETCP_HOST_PRIV_H
#define NVMETCP_HOST_PRIV_H

#include <stdint.h>

#include "nvmetcp/host.h"

#define NVMEH_ADMIN_INCAPSULE 8192      /* admin capsules carry up to 8 KiB (as Linux assumes) */
#define NVMEH_TX_IOV_MAX      256       /* iovecs gathered into one sendmsg */
#define NVMEH_TX_PDU_MAX      32        /* PDUs gathered into one sendmsg */
#define NVMEH_RX_BUF          32768     /* staging buffer for received headers and small data */
#define NVMEH_NO_DEADLINE     INT64_MAX

enum nvmeh_req_state {
	REQ_FREE,
	REQ_QUEUED,     /* capsule not yet (fully) sent */
	REQ_ACTIVE,     /* capsule sent: the controller owns the CID */
};

/* One command slot; CID = index in the queue's slot array. */
struct nvmeh_req {
	/* Header of the PDU being sent for this command (CapsuleCmd, then
	 * H2CData per R2T) with room for its header digest. */
	union {
		struct nvmetcp_cmd cmd;
		struct nvmetcp_data data;
		uint8_t raw[sizeof(struct nvmetcp_cmd) + NVMETCP_DIGEST_LEN];
	} tx;
	uint8_t tx_ddgst[NVMETCP_DIGEST_LEN];

	nvmeh_cb cb;
	void *arg;
	const struct iovec *iov;
	int iovcnt;
	struct iovec iov1;              /* single-buffer commands point iov here */
	uint32_t len;                   /* data bytes */
	uint16_t cid;
	uint8_t state;                  /* enum nvmeh_req_state */
	uint8_t dir;                    /* enum nvb_xfer_dir */
	bool incapsule;
	bool in_txq;                    /* waiting in the queue's send list */
	bool in_batch;                  /* a PDU of it is in the current sendmsg batch */
	bool done_pending;              /* completed while a PDU was half sent */

	/* Host-to-controller data requested by the current R2T. */
	bool r2t_active;
	uint16_t ttag;
	uint32_t h2c_off, h2c_end;      /* next offset to send, end of the R2T */
	/* Controller-to-host data: the next DATAO expected. */
	uint32_t c2h_next;

	int done_status;
	struct nvb_cqe done_cqe;
	struct nvmeh_req *tx_next;
	int next_free;
};

struct nvmeh_tx_pdu {
	struct nvmeh_req *req;
	int iov_end;                    /* index after the PDU's last iovec */
};

enum nvmeh_rx_state { RX_CH, RX_HDR, RX_PAD, RX_DATA, RX_DDGST };

struct nvmeh_queue {
	struct nvmeh_ctrl *ctrl;
	int fd;
	uint16_t qid;
	int err;                        /* 0, or the -errno that broke the queue */

	/* Negotiated by ICReq/ICResp. */
	bool hdgst, ddgst;
	uint32_t tx_pda;                /* the controller's CPDA, bytes */
	uint32_t maxh2cdata;
	uint32_t incapsule;             /* largest in-capsule data we send */
	struct nvmetcp_params rx;       /* how received headers are checked */

	unsigned depth;
	unsigned outstanding;
	struct nvmeh_req *reqs;
	int free_head;
	uint64_t ncompleted;

	/* Send side: a FIFO of commands with a PDU to send, and the batch
	 * of PDUs being written by sendmsg. */
	struct nvmeh_req *txq_head, *txq_tail;
	struct iovec tx_iov[NVMEH_TX_IOV_MAX];
	int tx_iov_pos, tx_iov_cnt;
	struct nvmeh_tx_pdu tx_pdu[NVMEH_TX_PDU_MAX];
	int tx_pdu_pos, tx_pdu_cnt;
	bool tx_started;                /* some bytes of the batch are on the wire */

	/* Receive side. */
	uint8_t *rbuf;
	size_t rpos, rlen;
	bool rx_ready;                  /* the socket may have bytes */
	enum nvmeh_rx_state rx_state;
	size_t rx_need, rx_got;
	union {
		struct nvmetcp_hdr hdr;
		uint8_t raw[NVMETCP_MAX_HDR + NVMETCP_DIGEST_LEN];
	} rh;
	struct nvmetcp_layout rl;
	struct nvmeh_req *rreq;
	const struct iovec *rd_iov;     /* where the PDU's data goes */
	int rd_iovcnt;
	size_t rd_off;
	struct iovec term_iov;
	uint32_t rx_crc;
	uint8_t rx_ddgst[NVMETCP_DIGEST_LEN];
	uint8_t term_data[NVMETCP_TERM_MAX_DATA];
	uint16_t term_fes;              /* from a C2HTermReq */
	uint32_t term_fei;
};

#define NVMEH_AER_RING 16

struct nvmeh_ctrl {
	struct nvmeh_opts opts;         /* strings point into the fields below */
	char traddr[256];
	char trsvcid[32];
	char subnqn[NVB_NQN_MAX + 1];
	char hostnqn[NVB_NQN_MAX + 1];

	struct nvmeh_info info;
	struct nvme_id_ctrl *id;
	bool enabled;
	unsigned nr_queues;             /* admin + I/O queues opened */
	struct nvmeh_queue **queues;    /* [0] = admin */

	/* Admin queue only (one thread). */
	int64_t ka_next_ns;
	bool ka_inflight;
	struct {
		int status;
		uint32_t result;
	} aer_ring[NVMEH_AER_RING];
	unsigned aer_head, aer_count, aer_pending;
	bool aer_arrived;
};

int64_t nvmeh_now_ns(void);
int64_t nvmeh_deadline(int timeout_ms);     /* -1: none, 0: now */
int nvmeh_set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* host_queue.c */
struct nvmeh_queue *nvmeh_queue_create(struct nvmeh_ctrl *ctrl, uint16_t qid,
				       unsigned depth, int fd);
void nvmeh_queue_destroy(struct nvmeh_queue *q);
/* force_incapsule: the data goes in the capsule whatever the limit
 * (Fabrics Connect). Returns the CID or -errno. */
int nvmeh_q_submit(struct nvmeh_queue *q, const struct nvb_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		   bool force_incapsule, nvmeh_cb cb, void *arg);
/* Drive the queue until *done (if done) or min completions, or deadline
 * (absolute ns; 0 = don't wait). 0, -ETIMEDOUT or the queue's error. */
int nvmeh_q_run(struct nvmeh_queue *q, const bool *done, unsigned min, int64_t deadline);
/* Submit and wait; a timeout fails the queue. */
int nvmeh_q_exec(struct nvmeh_queue *q, const struct nvb_sqe *sqe,
		 const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		 bool force_incapsule, struct nvb_cqe *cqe, unsigned timeout_ms);
void nvmeh_q_fail(struct nvmeh_queue *q, int err);

/* Completion recorder for synchronous waits. */
struct nvmeh_sync {
	bool done;
	int status;
	struct nvb_cqe cqe;
};
void nvmeh_sync_done(void *arg, int status, const struct nvb_cqe *cqe);

/* host.c */
int nvmeh_tcp_connect(const char *traddr, const char *trsvcid, int timeout_ms);
int nvmeh_icreq_exchange(int fd, bool hdgst, bool ddgst, int64_t deadline,
			 struct nvmetcp_icresp *rsp, uint16_t *term_fes, uint32_t *term_fei);

/* host_admin.c */
int nvmeh_admin_exec(struct nvmeh_ctrl *ctrl, const struct nvb_sqe *sqe,
		     const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		     bool force_incapsule, struct nvb_cqe *cqe);
enum nvb_xfer_dir nvmeh_sqe_dir(const struct nvb_sqe *sqe);
void nvmeh_ka_tick(struct nvmeh_ctrl *ctrl);

#endif

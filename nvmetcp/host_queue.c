/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/TCP queue of the host library: command slots, the send path
 * (CapsuleCmd with in-capsule data, H2CData answering R2Ts, gathered into
 * few sendmsg calls) and the receive state machine (CapsuleResp, C2HData,
 * R2T, C2HTermReq). The socket is non-blocking so a queue never deadlocks
 * sending while the controller is sending to us; nothing here allocates
 * per command.
 */
#include "nvmetcp/host_priv.h"
#include "bridge/iov.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Received data PDUs at least this large go straight into the caller's
 * buffer instead of through the staging buffer. */
#define RX_DIRECT_MIN 2048
#define RX_DIRECT_IOV 16

static const uint8_t zero_pad[256];

int64_t nvmeh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t nvmeh_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return NVMEH_NO_DEADLINE;
	if (timeout_ms == 0)
		return 0;
	return nvmeh_now_ns() + (int64_t)timeout_ms * 1000000;
}

/* ---- iovec helpers ---- */

/* Describe bytes [off, off + len) of iov[] in out[] (at most max entries);
 * returns the entry count and sets *covered to the bytes described. */
static int iov_slice(const struct iovec *iov, int cnt, size_t off, size_t len,
		     struct iovec *out, int max, size_t *covered)
{
	int n = 0;

	*covered = 0;
	for (int i = 0; i < cnt && len > 0 && n < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t take = l - off < len ? l - off : len;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[n].iov_len = take;
		n++;
		off = 0;
		len -= take;
		*covered += take;
	}
	return n;
}

/* ---- command slots ---- */

static struct nvmeh_req *req_alloc(struct nvmeh_queue *q)
{
	struct nvmeh_req *r;

	if (q->free_head < 0)
		return NULL;
	r = &q->reqs[q->free_head];
	q->free_head = r->next_free;
	return r;
}

static void req_free(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	r->state = REQ_FREE;
	r->cb = NULL;
	r->next_free = q->free_head;
	q->free_head = r->cid;
}

/* A command the controller owns, by the CID it sent back. */
static struct nvmeh_req *req_lookup(struct nvmeh_queue *q, uint16_t cid)
{
	if (cid >= q->depth || q->reqs[cid].state != REQ_ACTIVE)
		return NULL;
	return &q->reqs[cid];
}

/* ---- send list ---- */

static void txq_push(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	r->tx_next = NULL;
	if (q->txq_tail)
		q->txq_tail->tx_next = r;
	else
		q->txq_head = r;
	q->txq_tail = r;
	r->in_txq = true;
}

static void txq_remove(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	struct nvmeh_req **pp = &q->txq_head, *prev = NULL;

	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->tx_next;
	}
	if (*pp) {
		*pp = r->tx_next;
		if (q->txq_tail == r)
			q->txq_tail = prev;
	}
	r->in_txq = false;
}

static bool tx_pending(const struct nvmeh_queue *q)
{
	return q->tx_iov_pos < q->tx_iov_cnt || q->txq_head;
}

/* ---- completion ---- */

static void req_complete(struct nvmeh_queue *q, struct nvmeh_req *r, int status,
			 const struct nvb_cqe *cqe)
{
	struct nvb_cqe copy;
	nvmeh_cb cb;
	void *arg;

	if (r->in_batch) {
		/* A PDU of this command is half written: finish it first
		 * (the stream must stay well-formed), complete afterwards. */
		r->done_pending = true;
		r->done_status = status;
		if (cqe)
			r->done_cqe = *cqe;
		else
			memset(&r->done_cqe, 0, sizeof(r->done_cqe));
		return;
	}
	if (r->in_txq)
		txq_remove(q, r);
	if (cqe)
		copy = *cqe;
	cb = r->cb;
	arg = r->arg;
	req_free(q, r);
	q->outstanding--;
	q->ncompleted++;
	if (cb)
		cb(arg, status, status < 0 ? NULL : (cqe ? &copy : NULL));
}

void nvmeh_q_fail(struct nvmeh_queue *q, int err)
{
	if (q->err)
		return;
	q->err = err;
	if (q->fd >= 0)
		shutdown(q->fd, SHUT_RDWR);
	/* Nothing more goes on the wire: forget the send state. */
	q->txq_head = q->txq_tail = NULL;
	q->tx_iov_pos = q->tx_iov_cnt = 0;
	q->tx_pdu_pos = q->tx_pdu_cnt = 0;
	for (unsigned i = 0; i < q->depth; i++) {
		q->reqs[i].in_txq = false;
		q->reqs[i].in_batch = false;
	}
	for (unsigned i = 0; i < q->depth; i++)
		if (q->reqs[i].state != REQ_FREE)
			req_complete(q, &q->reqs[i], err, NULL);
}

/* A protocol violation by the controller: tell it with an H2CTermReq
 * (§3.6.2.4) when the stream is at a PDU boundary, then fail the queue. */
static void q_fatal(struct nvmeh_queue *q, uint16_t fes, uint32_t fei, int err)
{
	uint8_t pdu[NVMETCP_TERM_MAX_PLEN];
	struct nvmetcp_term *t = (struct nvmetcp_term *)pdu;
	size_t have = q->rx_state == RX_CH ? q->rx_got : sizeof(struct nvmetcp_hdr) + q->rx_got;
	size_t echo;

	if (q->rx_state > RX_HDR)
		have = q->rl.hlen + q->rl.hdgst_len;
	if (!q->tx_started) {
		echo = nvmetcp_term_init(t, NVMETCP_ROLE_HOST, fes, fei, have);
		memcpy(pdu + sizeof(*t), q->rh.raw, echo);
		if (send(q->fd, pdu, sizeof(*t) + echo, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* Best effort: the connection is going away anyway. */
		}
	}
	nvmeh_q_fail(q, err);
}

/* ---- send path ---- */

/* Append one PDU of r (header already built in r->tx) to the batch:
 * header [+ digest], padding up to PDO, data slice, data digest. */
static void tx_add_pdu(struct nvmeh_queue *q, struct nvmeh_req *r, uint32_t off, uint32_t len)
{
	struct nvmetcp_layout l;
	struct iovec *iov = q->tx_iov;
	int n = q->tx_iov_cnt;
	size_t covered;

	nvmetcp_pdu_layout(&r->tx.cmd.hdr, &l);
	if (l.hdgst_len)
		nvmetcp_hdgst_put(&r->tx.cmd.hdr);
	iov[n++] = (struct iovec){ r->tx.raw, l.hlen + l.hdgst_len };
	if (len) {
		int first;

		if (l.pad)
			iov[n++] = (struct iovec){ (void *)zero_pad, l.pad };
		first = n;
		n += iov_slice(r->iov, r->iovcnt, off, len, &iov[n], NVMEH_MAX_IOV, &covered);
		if (l.ddgst_len) {
			uint32_t crc = nvmetcp_ddgst_update(NVB_CRC32C_INIT, &iov[first],
							    n - first);

			nvmetcp_digest_put(r->tx_ddgst, nvb_crc32c_final(crc));
			iov[n++] = (struct iovec){ r->tx_ddgst, NVMETCP_DIGEST_LEN };
		}
	}
	q->tx_iov_cnt = n;
	q->tx_pdu[q->tx_pdu_cnt++] = (struct nvmeh_tx_pdu){ r, n };
	r->in_batch = true;
}

static void tx_add_capsule(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	uint32_t dlen = r->incapsule ? r->len : 0;

	nvmetcp_pdu_init(&r->tx.cmd.hdr, NVMETCP_CAPSULE_CMD, 0, q->hdgst, q->ddgst,
			 dlen, q->tx_pda);
	tx_add_pdu(q, r, 0, dlen);
}

/* §3.6.2.8: answer the current R2T with H2CData PDUs of at most
 * MAXH2CDATA bytes each; LAST marks the R2T's final one. */
static void tx_add_h2c(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	struct nvmetcp_data *d = &r->tx.data;
	uint32_t len = r->h2c_end - r->h2c_off;
	bool last;

	if (len > q->maxh2cdata)
		len = q->maxh2cdata;
	last = r->h2c_off + len == r->h2c_end;
	memset(d, 0, sizeof(*d));
	nvmetcp_pdu_init(&d->hdr, NVMETCP_H2C_DATA, last ? NVMETCP_F_DATA_LAST : 0,
			 q->hdgst, q->ddgst, len, q->tx_pda);
	d->cccid = htole16(r->cid);
	d->ttag = htole16(r->ttag);
	d->datao = htole32(r->h2c_off);
	d->datal = htole32(len);
	tx_add_pdu(q, r, r->h2c_off, len);
	r->h2c_off += len;
}

/* Fill an empty batch from the send list. */
static void tx_build(struct nvmeh_queue *q)
{
	q->tx_iov_pos = q->tx_iov_cnt = 0;
	q->tx_pdu_pos = q->tx_pdu_cnt = 0;
	q->tx_started = false;
	while (q->txq_head && q->tx_pdu_cnt < NVMEH_TX_PDU_MAX) {
		struct nvmeh_req *r = q->txq_head;

		/* header, pad, data, digest */
		if (q->tx_iov_cnt + r->iovcnt + 3 > NVMEH_TX_IOV_MAX)
			break;
		q->txq_head = r->tx_next;
		if (!q->txq_head)
			q->txq_tail = NULL;
		r->in_txq = false;
		if (r->state == REQ_QUEUED)
			tx_add_capsule(q, r);
		else if (r->r2t_active && r->h2c_off < r->h2c_end)
			tx_add_h2c(q, r);
	}
}

/* A PDU of r is fully on the wire. */
static void tx_pdu_sent(struct nvmeh_queue *q, struct nvmeh_req *r)
{
	r->in_batch = false;
	if (r->state == REQ_QUEUED)
		r->state = REQ_ACTIVE;
	if (r->done_pending) {
		r->done_pending = false;
		req_complete(q, r, r->done_status, &r->done_cqe);
		return;
	}
	if (r->r2t_active) {
		if (r->h2c_off < r->h2c_end)
			txq_push(q, r);
		else
			r->r2t_active = false;
	}
}

static void tx_advance(struct nvmeh_queue *q, size_t n)
{
	q->tx_started = true;
	while (n > 0) {
		struct iovec *v = &q->tx_iov[q->tx_iov_pos];

		if (n >= v->iov_len) {
			n -= v->iov_len;
			q->tx_iov_pos++;
		} else {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			n = 0;
		}
	}
	while (q->tx_pdu_pos < q->tx_pdu_cnt &&
	       q->tx_pdu[q->tx_pdu_pos].iov_end <= q->tx_iov_pos) {
		struct nvmeh_req *r = q->tx_pdu[q->tx_pdu_pos++].req;

		tx_pdu_sent(q, r);
	}
	if (q->tx_iov_pos == q->tx_iov_cnt)
		q->tx_started = false;
}

/* Write as much as the socket takes. Returns true on progress. */
static bool tx_flush(struct nvmeh_queue *q)
{
	bool progress = false;

	while (!q->err) {
		struct msghdr m = { 0 };
		ssize_t n;

		if (q->tx_iov_pos == q->tx_iov_cnt) {
			if (!q->txq_head)
				break;
			tx_build(q);
			if (q->tx_iov_cnt == 0)
				continue;
		}
		m.msg_iov = &q->tx_iov[q->tx_iov_pos];
		m.msg_iovlen = (size_t)(q->tx_iov_cnt - q->tx_iov_pos);
		n = sendmsg(q->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				nvmeh_q_fail(q, -errno);
			break;
		}
		progress = true;
		tx_advance(q, (size_t)n);
	}
	return progress;
}

/* ---- receive path ---- */

static void rx_start(struct nvmeh_queue *q)
{
	q->rx_state = RX_CH;
	q->rx_need = sizeof(struct nvmetcp_hdr);
	q->rx_got = 0;
	q->rreq = NULL;
}

/* Reject the PDU being received: H2CTermReq and queue failure. */
static int rx_reject(struct nvmeh_queue *q, uint16_t fes, uint32_t fei)
{
	q_fatal(q, fes, fei, -EPROTO);
	return -EPROTO;
}

static int rx_rsp_hdr(struct nvmeh_queue *q)
{
	struct nvmetcp_rsp *rsp = (struct nvmetcp_rsp *)q->rh.raw;
	struct nvmeh_req *r = req_lookup(q, le16toh(rsp->cqe.cid));

	if (!r)
		return rx_reject(q, NVMETCP_FES_INVALID_HEADER,
				 offsetof(struct nvmetcp_rsp, cqe.cid));
	req_complete(q, r, le16toh(rsp->cqe.status) >> 1, &rsp->cqe);
	return 0;
}

/* §3.6.2.9: C2HData for a read-type command, in order and in bounds. */
static int rx_c2h_hdr(struct nvmeh_queue *q)
{
	struct nvmetcp_data *d = (struct nvmetcp_data *)q->rh.raw;
	struct nvmeh_req *r = req_lookup(q, le16toh(d->cccid));
	uint32_t datao = le32toh(d->datao), datal = le32toh(d->datal);

	if (!r || r->dir != NVB_XFER_CTRL_TO_HOST)
		return rx_reject(q, NVMETCP_FES_INVALID_HEADER,
				 offsetof(struct nvmetcp_data, cccid));
	if (datal != q->rl.data_len)
		return rx_reject(q, NVMETCP_FES_INVALID_HEADER,
				 offsetof(struct nvmetcp_data, datal));
	if (datao != r->c2h_next)
		return rx_reject(q, NVMETCP_FES_DATA_OUT_OF_RANGE,
				 offsetof(struct nvmetcp_data, datao));
	if ((uint64_t)datao + datal > r->len)
		return rx_reject(q, NVMETCP_FES_DATA_OUT_OF_RANGE,
				 offsetof(struct nvmetcp_data, datal));
	q->rreq = r;
	q->rd_iov = r->iov;
	q->rd_iovcnt = r->iovcnt;
	q->rd_off = datao;
	return 0;
}

static void rx_c2h_done(struct nvmeh_queue *q)
{
	struct nvmeh_req *r = q->rreq;

	r->c2h_next += q->rl.data_len;
	if (q->rh.hdr.flags & NVMETCP_F_DATA_SUCCESS) {
		/* §3.6.2.9: completed successfully, no CapsuleResp follows. */
		struct nvb_cqe cqe = { .cid = htole16(r->cid), .sqid = htole16(q->qid) };

		req_complete(q, r, 0, &cqe);
	}
}

/* §3.6.2.10: the controller asks for [R2TO, R2TO + R2TL) of a write. We
 * advertise MAXR2T 0, so one R2T at a time per command. */
static int rx_r2t_hdr(struct nvmeh_queue *q)
{
	struct nvmetcp_r2t *t = (struct nvmetcp_r2t *)q->rh.raw;
	struct nvmeh_req *r = req_lookup(q, le16toh(t->cccid));
	uint32_t off = le32toh(t->r2to), len = le32toh(t->r2tl);

	if (!r || r->dir != NVB_XFER_HOST_TO_CTRL || r->incapsule)
		return rx_reject(q, NVMETCP_FES_PDU_SEQUENCE, offsetof(struct nvmetcp_r2t, cccid));
	if (r->r2t_active)
		return rx_reject(q, NVMETCP_FES_R2T_LIMIT, offsetof(struct nvmetcp_r2t, cccid));
	if (len == 0 || (uint64_t)off + len > r->len)
		return rx_reject(q, NVMETCP_FES_DATA_OUT_OF_RANGE,
				 offsetof(struct nvmetcp_r2t, r2tl));
	r->ttag = le16toh(t->ttag);
	r->h2c_off = off;
	r->h2c_end = off + len;
	r->r2t_active = true;
	if (!r->in_batch && !r->in_txq)
		txq_push(q, r);
	return 0;
}

static int rx_term_hdr(struct nvmeh_queue *q)
{
	struct nvmetcp_term *t = (struct nvmetcp_term *)q->rh.raw;

	q->term_fes = le16toh(t->fes);
	q->term_fei = le32toh(t->fei);
	q->term_iov = (struct iovec){ q->term_data, sizeof(q->term_data) };
	q->rd_iov = &q->term_iov;
	q->rd_iovcnt = 1;
	q->rd_off = 0;
	return 0;
}

static void rx_term_done(struct nvmeh_queue *q)
{
	nvmeh_q_fail(q, -ECONNABORTED);
}

struct rx_handler {
	int (*hdr)(struct nvmeh_queue *q);      /* header (and digest) received */
	void (*done)(struct nvmeh_queue *q);    /* whole PDU received */
};

/* Only the PDU types nvmetcp_pdu_check lets a host receive once set up. */
static const struct rx_handler rx_handlers[] = {
	[NVMETCP_C2H_TERM]    = { rx_term_hdr, rx_term_done },
	[NVMETCP_CAPSULE_RSP] = { rx_rsp_hdr, NULL },
	[NVMETCP_C2H_DATA]    = { rx_c2h_hdr, rx_c2h_done },
	[NVMETCP_R2T]         = { rx_r2t_hdr, NULL },
};

/* Move to the next phase of the PDU that has bytes, or finish it. */
static void rx_next_phase(struct nvmeh_queue *q, enum nvmeh_rx_state from)
{
	const struct nvmetcp_layout *l = &q->rl;
	const struct rx_handler *h = &rx_handlers[q->rh.hdr.type];

	q->rx_got = 0;
	if (from < RX_PAD && l->pad) {
		q->rx_state = RX_PAD;
		q->rx_need = l->pad;
		return;
	}
	if (from < RX_DATA && l->data_len) {
		q->rx_state = RX_DATA;
		q->rx_need = l->data_len;
		q->rx_crc = NVB_CRC32C_INIT;
		return;
	}
	if (from < RX_DDGST && l->ddgst_len) {
		q->rx_state = RX_DDGST;
		q->rx_need = l->ddgst_len;
		return;
	}
	if (h->done)
		h->done(q);
	if (!q->err)
		rx_start(q);
}

/* The current phase has all its bytes. */
static void rx_phase_done(struct nvmeh_queue *q)
{
	uint16_t fes;
	uint32_t fei;

	switch (q->rx_state) {
	case RX_CH:
		if (nvmetcp_pdu_check(&q->rh.hdr, NVMETCP_ROLE_HOST, &q->rx, &fes, &fei)) {
			q_fatal(q, fes, fei, -EPROTO);
			return;
		}
		nvmetcp_pdu_layout(&q->rh.hdr, &q->rl);
		q->rx_state = RX_HDR;
		q->rx_need = q->rl.hlen + q->rl.hdgst_len - sizeof(struct nvmetcp_hdr);
		q->rx_got = 0;
		return;
	case RX_HDR:
		if (q->rl.hdgst_len && !nvmetcp_hdgst_ok(&q->rh.hdr)) {
			q_fatal(q, NVMETCP_FES_HDR_DIGEST, q->rl.hlen, -EBADMSG);
			return;
		}
		if (rx_handlers[q->rh.hdr.type].hdr(q) < 0)
			return;
		break;
	case RX_DDGST:
		/* A data digest error means the stream can't be trusted. */
		if (nvmetcp_digest_get(q->rx_ddgst) != nvb_crc32c_final(q->rx_crc)) {
			nvmeh_q_fail(q, -EBADMSG);
			return;
		}
		break;
	default:
		break;
	}
	if (!q->err)
		rx_next_phase(q, q->rx_state);
}

static void rx_data_in(struct nvmeh_queue *q, const uint8_t *p, size_t len)
{
	nvb_iov_from_buf(q->rd_iov, q->rd_iovcnt, q->rd_off + q->rx_got, p, len);
	if (q->rl.ddgst_len)
		q->rx_crc = nvb_crc32c_update(q->rx_crc, p, len);
}

/* Consume bytes from the staging buffer; returns how many were used. */
static size_t rx_feed(struct nvmeh_queue *q, const uint8_t *p, size_t n)
{
	size_t used = 0;

	while (used < n && !q->err) {
		size_t take = q->rx_need - q->rx_got;

		if (take > n - used)
			take = n - used;
		switch (q->rx_state) {
		case RX_CH:
			memcpy(q->rh.raw + q->rx_got, p + used, take);
			break;
		case RX_HDR:
			memcpy(q->rh.raw + sizeof(struct nvmetcp_hdr) + q->rx_got, p + used, take);
			break;
		case RX_PAD:
			break;
		case RX_DATA:
			rx_data_in(q, p + used, take);
			break;
		case RX_DDGST:
			memcpy(q->rx_ddgst + q->rx_got, p + used, take);
			break;
		}
		used += take;
		q->rx_got += take;
		if (q->rx_got == q->rx_need)
			rx_phase_done(q);
	}
	return used;
}

/* Receive a large data phase straight into the destination, with the
 * staging buffer behind it to catch the next header in the same call. */
static ssize_t rx_recv_direct(struct nvmeh_queue *q)
{
	struct iovec iov[RX_DIRECT_IOV + 1];
	struct msghdr m = { 0 };
	size_t covered, data;
	ssize_t n;
	int cnt;

	cnt = iov_slice(q->rd_iov, q->rd_iovcnt, q->rd_off + q->rx_got,
			q->rx_need - q->rx_got, iov, RX_DIRECT_IOV, &covered);
	iov[cnt++] = (struct iovec){ q->rbuf, NVMEH_RX_BUF };
	m.msg_iov = iov;
	m.msg_iovlen = (size_t)cnt;
	n = recvmsg(q->fd, &m, MSG_DONTWAIT);
	if (n <= 0)
		return n;
	data = (size_t)n < covered ? (size_t)n : covered;
	if (q->rl.ddgst_len) {
		size_t left = data;

		for (int i = 0; i < cnt - 1 && left; i++) {
			size_t l = iov[i].iov_len < left ? iov[i].iov_len : left;

			q->rx_crc = nvb_crc32c_update(q->rx_crc, iov[i].iov_base, l);
			left -= l;
		}
	}
	q->rx_got += data;
	q->rpos = 0;
	q->rlen = (size_t)n - data;
	if (q->rx_got == q->rx_need)
		rx_phase_done(q);
	return n;
}

/* Receive and process what the socket has. Returns true on progress. */
static bool rx_pump(struct nvmeh_queue *q)
{
	bool progress = false;

	for (int iter = 0; iter < 64 && !q->err; iter++) {
		ssize_t n;

		if (q->rpos < q->rlen) {
			q->rpos += rx_feed(q, q->rbuf + q->rpos, q->rlen - q->rpos);
			progress = true;
			continue;
		}
		if (!q->rx_ready)
			break;
		if (q->rx_state == RX_DATA && q->rx_need - q->rx_got >= RX_DIRECT_MIN) {
			n = rx_recv_direct(q);
		} else {
			n = recv(q->fd, q->rbuf, NVMEH_RX_BUF, MSG_DONTWAIT);
			if (n > 0) {
				q->rpos = 0;
				q->rlen = (size_t)n;
			}
		}
		if (n == 0) {
			nvmeh_q_fail(q, -ECONNRESET);
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				q->rx_ready = false;
			else
				nvmeh_q_fail(q, -errno);
			break;
		}
		progress = true;
	}
	return progress;
}

/* ---- public-facing queue operations ---- */

int nvmeh_q_run(struct nvmeh_queue *q, const bool *done, unsigned min, int64_t deadline)
{
	uint64_t start = q->ncompleted;

	/* Asked only for what is ready now: look at the socket even if the
	 * last recv found it empty (this is how a dropped connection shows). */
	if (!done && !min)
		q->rx_ready = true;
	for (;;) {
		bool progress = false;
		struct pollfd pfd;
		int64_t now;
		int ms, r;

		if (!q->err)
			progress |= tx_flush(q);
		if (!q->err)
			progress |= rx_pump(q);
		if (done ? *done : (q->ncompleted - start >= min || q->outstanding == 0))
			return 0;
		if (q->err)
			return q->err;
		if (progress)
			continue;
		if (deadline == 0)
			return -ETIMEDOUT;
		ms = -1;
		if (deadline != NVMEH_NO_DEADLINE) {
			now = nvmeh_now_ns();
			if (now >= deadline)
				return -ETIMEDOUT;
			int64_t left = (deadline - now + 999999) / 1000000;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd.fd = q->fd;
		pfd.events = POLLIN | (tx_pending(q) ? POLLOUT : 0);
		pfd.revents = 0;
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno != EINTR) {
			nvmeh_q_fail(q, -errno);
			continue;
		}
		if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			q->rx_ready = true;
	}
}

int nvmeh_q_submit(struct nvmeh_queue *q, const struct nvb_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		   bool force_incapsule, nvmeh_cb cb, void *arg)
{
	struct nvmeh_req *r;
	struct nvb_sqe *s;
	size_t len = 0;

	if (q->err)
		return q->err;
	if (iovcnt < 0 || iovcnt > NVMEH_MAX_IOV || (iovcnt && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > NVMETCP_MAX_PLEN)
		return -EINVAL;
	if (len == 0)
		dir = NVB_XFER_NONE;
	else if (dir != NVB_XFER_HOST_TO_CTRL && dir != NVB_XFER_CTRL_TO_HOST)
		return -EINVAL;
	r = req_alloc(q);
	if (!r)
		return -EBUSY;

	r->cb = cb;
	r->arg = arg;
	if (iovcnt == 1) {
		r->iov1 = iov[0];
		r->iov = &r->iov1;
	} else {
		r->iov = iov;
	}
	r->iovcnt = iovcnt;
	r->len = (uint32_t)len;
	r->dir = (uint8_t)dir;
	r->incapsule = dir == NVB_XFER_HOST_TO_CTRL && (force_incapsule || len <= q->incapsule);
	r->in_txq = r->in_batch = r->done_pending = false;
	r->r2t_active = false;
	r->h2c_off = r->h2c_end = 0;
	r->c2h_next = 0;

	/* NVMe/TCP 1.0 §3.3: SGLs only; one descriptor, in-capsule data
	 * (offset 0) or a transport data block the controller fetches by R2T
	 * or fills with C2HData. */
	s = &r->tx.cmd.sqe;
	*s = *sqe;
	s->cid = htole16(r->cid);
	s->flags = (uint8_t)((sqe->flags & 0x3f) | 0x40);       /* PSDT 01b: SGL */
	memset(&s->dptr, 0, sizeof(s->dptr));
	s->dptr.length = htole32((uint32_t)len);
	s->dptr.type = r->incapsule ? NVB_SGL_INCAPSULE : NVB_SGL_TRANSPORT;

	r->state = REQ_QUEUED;
	q->outstanding++;
	txq_push(q, r);
	return r->cid;
}

void nvmeh_sync_done(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct nvmeh_sync *w = arg;

	w->status = status;
	if (cqe)
		w->cqe = *cqe;
	w->done = true;
}

int nvmeh_q_exec(struct nvmeh_queue *q, const struct nvb_sqe *sqe,
		 const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		 bool force_incapsule, struct nvb_cqe *cqe, unsigned timeout_ms)
{
	struct nvmeh_sync w = { 0 };
	int r;

	r = nvmeh_q_submit(q, sqe, iov, iovcnt, dir, force_incapsule, nvmeh_sync_done, &w);
	if (r < 0)
		return r;
	r = nvmeh_q_run(q, &w.done, 0, nvmeh_deadline((int)timeout_ms));
	if (!w.done)
		nvmeh_q_fail(q, r ? r : -EIO);  /* completes w */
	if (!w.done)
		return r ? r : -EIO;
	if (cqe && w.status >= 0)
		*cqe = w.cqe;
	return w.status;
}

struct nvmeh_queue *nvmeh_queue_create(struct nvmeh_ctrl *ctrl, uint16_t qid,
				       unsigned depth, int fd)
{
	struct nvmeh_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->reqs = calloc(depth, sizeof(*q->reqs));
	q->rbuf = malloc(NVMEH_RX_BUF);
	if (!q->reqs || !q->rbuf) {
		free(q->reqs);
		free(q->rbuf);
		free(q);
		return NULL;
	}
	q->ctrl = ctrl;
	q->fd = fd;
	q->qid = qid;
	q->depth = depth;
	q->free_head = -1;
	for (int i = (int)depth - 1; i >= 0; i--) {
		q->reqs[i].cid = (uint16_t)i;
		q->reqs[i].state = REQ_FREE;
		q->reqs[i].next_free = q->free_head;
		q->free_head = i;
	}
	q->rx_ready = true;
	rx_start(q);
	return q;
}

void nvmeh_queue_destroy(struct nvmeh_queue *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->reqs);
	free(q->rbuf);
	free(q);
}

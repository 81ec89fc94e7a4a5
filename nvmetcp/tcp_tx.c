/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP send path: a per-queue FIFO of PDUs, gathered into one
 * io_uring sendmsg at a time (iovecs point at the headers and straight at
 * the command's data buffer: no copy), partial sends resumed where they
 * stopped. Responses go out in completion order; a request is released
 * once its last byte has been handed to the kernel.
 */
#include "nvmetcp/tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/log.h"

/* Padding up to PDO (HPDA is at most 128 bytes). */
static const uint8_t zero_pad[128];

/* Append the header digest when negotiated; the header's length on the wire. */
static uint32_t seal_header(const struct nvmetcp_queue *q, uint8_t *hdr)
{
	struct nvmetcp_hdr *h = (struct nvmetcp_hdr *)hdr;

	if (!q->params.hdgst)
		return h->hlen;
	nvmetcp_hdgst_put(h);
	return h->hlen + NVMETCP_DIGEST_LEN;
}

/* ---- the send list ---- */

static bool tx_may_send(const struct nvmetcp_queue *q)
{
	/* While closing, only what precedes a pending C2HTermReq still goes. */
	if (q->state == NVMETCP_Q_CLOSING)
		return q->term_queued && !q->term_done;
	return true;
}

static void tx_kick(struct nvmetcp_queue *q)
{
	struct io_uring_sqe *sqe;
	uint32_t n = 0;

	if (q->tx_inflight || !q->tx_head || !tx_may_send(q))
		return;
	for (struct nvmetcp_tx *tx = q->tx_head; tx && n < NVMETCP_TX_IOV; tx = tx->next) {
		/* Only the head can be partly sent. */
		uint32_t skip = tx == q->tx_head ? tx->sent : 0;

		for (uint32_t i = 0; i < tx->iovcnt && n < NVMETCP_TX_IOV; i++) {
			const struct iovec *v = &tx->iov[i];

			if (skip >= v->iov_len) {
				skip -= (uint32_t)v->iov_len;
				continue;
			}
			q->tx_iov[n].iov_base = (uint8_t *)v->iov_base + skip;
			q->tx_iov[n].iov_len = v->iov_len - skip;
			skip = 0;
			n++;
		}
	}
	q->tx_msg.msg_iov = q->tx_iov;
	q->tx_msg.msg_iovlen = n;
	sqe = nvb_reactor_sqe(q->reactor);
	io_uring_prep_sendmsg(sqe, q->fd, &q->tx_msg, MSG_NOSIGNAL);
	nvb_sqe_set_op(sqe, &q->tx_op);
	q->tx_inflight = true;
}

static void tx_done(struct nvb_uring_op *op, int res, uint32_t cqe_flags)
{
	struct nvmetcp_queue *q = container_of(op, struct nvmetcp_queue, tx_op);
	struct nvmetcp_tx *done = NULL, **done_tail = &done, *tx;
	uint32_t left;

	q->tx_inflight = false;
	if (res == -EINTR || res == -EAGAIN)
		res = 0;
	if (res < 0) {
		/* Whatever is left on the list is freed with the queue. */
		if (q->state == NVMETCP_Q_CLOSING)
			q->term_done = true;
		nvmetcp_queue_close(q, strerror(-res));
		nvmetcp_queue_maybe_teardown(q);
		return;
	}
	left = (uint32_t)res;
	while (left && (tx = q->tx_head)) {
		uint32_t rest = tx->len - tx->sent;

		if (left < rest) {
			tx->sent += left;
			break;
		}
		left -= rest;
		q->tx_head = tx->next;
		if (!q->tx_head)
			q->tx_tail = &q->tx_head;
		tx->next = NULL;
		*done_tail = tx;
		done_tail = &tx->next;
	}
	/* Callbacks may queue more (and kick): the list is consistent now. */
	while ((tx = done)) {
		done = tx->next;
		tx->next = NULL;
		tx->done(tx);
	}
	if (q->state == NVMETCP_Q_CLOSING && !tx_may_send(q))
		nvmetcp_queue_maybe_teardown(q);
	else
		tx_kick(q);
}

void nvmetcp_tx_init(struct nvmetcp_queue *q)
{
	q->tx_op.cb = tx_done;
	q->tx_head = NULL;
	q->tx_tail = &q->tx_head;
}

static void tx_queue(struct nvmetcp_queue *q, struct nvmetcp_tx *tx)
{
	tx->len = 0;
	for (uint32_t i = 0; i < tx->iovcnt; i++)
		tx->len += (uint32_t)tx->iov[i].iov_len;
	tx->sent = 0;
	tx->next = NULL;
	*q->tx_tail = tx;
	q->tx_tail = &tx->next;
	tx_kick(q);
}

/* ---- control PDUs: ICResp, C2HTermReq ---- */

static void ctl_done(struct nvmetcp_tx *tx)
{
	struct nvmetcp_queue *q = container_of(tx, struct nvmetcp_queue, ctl_tx);

	free(q->ctl_pdu);
	q->ctl_pdu = NULL;
	if (q->term_queued) {
		/* §3.6.2.5: after a C2HTermReq the controller closes the connection. */
		q->term_done = true;
		shutdown(q->fd, SHUT_RDWR);
	}
}

static void ctl_queue(struct nvmetcp_queue *q, uint32_t len)
{
	q->ctl_iov.iov_base = q->ctl_pdu;
	q->ctl_iov.iov_len = len;
	q->ctl_tx.iov = &q->ctl_iov;
	q->ctl_tx.iovcnt = 1;
	q->ctl_tx.done = ctl_done;
	tx_queue(q, &q->ctl_tx);
}

/* §3.6.2.3 ICResp: PFV 0, CPDA 0, the digests the host asked for, MAXH2CDATA. */
void nvmetcp_send_icresp(struct nvmetcp_queue *q)
{
	struct nvmetcp_icresp *icresp = malloc(sizeof(*icresp));

	if (!icresp) {
		nvmetcp_queue_close(q, "out of memory");
		return;
	}
	nvmetcp_icresp_init(icresp, q->params.hdgst, q->params.ddgst, 0, NVMETCP_MAXH2CDATA);
	q->ctl_pdu = (uint8_t *)icresp;
	ctl_queue(q, sizeof(*icresp));
}

/* §3.6.2.5 C2HTermReq: FES, FEI and (part of) the offending header. */
void nvmetcp_send_term(struct nvmetcp_queue *q, uint16_t fes, uint32_t fei,
		       const void *hdr, uint32_t hlen)
{
	size_t echo;

	if (q->ctl_pdu)
		return;                 /* the ICResp is still going out: just close */
	q->ctl_pdu = malloc(NVMETCP_TERM_MAX_PLEN);
	if (!q->ctl_pdu)
		return;
	echo = nvmetcp_term_init((struct nvmetcp_term *)q->ctl_pdu, NVMETCP_ROLE_TARGET,
				 fes, fei, hlen);
	memcpy(q->ctl_pdu + sizeof(struct nvmetcp_term), hdr, echo);
	q->term_queued = true;
	ctl_queue(q, (uint32_t)(sizeof(struct nvmetcp_term) + echo));
}

/* ---- command PDUs ---- */

static void r2t_done(struct nvmetcp_tx *tx)
{
}

/* §3.6.2.10 R2T for the whole transfer (one per command, so MAXR2T 0 suffices). */
void nvmetcp_send_r2t(struct nvmetcp_req *r)
{
	struct nvmetcp_queue *q = r->q;
	struct nvmetcp_r2t *p = (struct nvmetcp_r2t *)r->data_hdr;

	memset(p, 0, sizeof(*p));
	nvmetcp_pdu_init(&p->hdr, NVMETCP_R2T, 0, q->params.hdgst, false, 0, 0);
	p->cccid = r->req.cmd.cid;
	p->ttag = htole16(r->ttag);
	p->r2to = 0;
	p->r2tl = htole32((uint32_t)r->req.data_len);
	r->r2t_iov.iov_base = p;
	r->r2t_iov.iov_len = seal_header(q, r->data_hdr);
	r->r2t_tx.iov = &r->r2t_iov;
	r->r2t_tx.iovcnt = 1;
	r->r2t_tx.done = r2t_done;
	tx_queue(q, &r->r2t_tx);
}

static void rsp_done(struct nvmetcp_tx *tx)
{
	struct nvmetcp_req *r = container_of(tx, struct nvmetcp_req, rsp_tx);
	struct nvmetcp_queue *q = r->q;

	q->tx_reqs--;
	if (q->state == NVMETCP_Q_CLOSING)
		r->state = NVMETCP_REQ_DEAD;    /* freed with the queue */
	else
		nvmetcp_req_put(r);
}

/* Build the C2HData PDU for xfer bytes into r->tx_iov; returns iovecs used. */
static uint32_t build_c2h_data(struct nvmetcp_req *r, uint32_t xfer, uint8_t flags)
{
	struct nvmetcp_queue *q = r->q;
	struct nvmetcp_data *d = (struct nvmetcp_data *)r->data_hdr;
	uint32_t n = 0, hlen, pad;

	memset(d, 0, sizeof(*d));
	nvmetcp_pdu_init(&d->hdr, NVMETCP_C2H_DATA, flags, q->params.hdgst, q->params.ddgst,
			 xfer, q->tx_pda);
	d->cccid = r->req.cmd.cid;
	d->datao = 0;
	d->datal = htole32(xfer);
	hlen = seal_header(q, r->data_hdr);
	r->tx_iov[n++] = (struct iovec){ r->data_hdr, hlen };
	pad = d->hdr.pdo > hlen ? d->hdr.pdo - hlen : 0;
	if (pad)
		r->tx_iov[n++] = (struct iovec){ (void *)zero_pad, pad };
	r->tx_iov[n++] = (struct iovec){ r->buf, xfer };
	if (q->params.ddgst) {
		nvmetcp_digest_put(r->ddgst, nvb_crc32c(r->buf, xfer));
		r->tx_iov[n++] = (struct iovec){ r->ddgst, NVMETCP_DIGEST_LEN };
	}
	return n;
}

/*
 * §3.6.2.9 C2HData then §3.6.2.7 CapsuleResp. With SQ flow control
 * disabled (Connect CATTR), a successful command whose result is all zero
 * ends with LAST_PDU|SUCCESS and no CapsuleResp: the host completes it
 * with a zero result and needs no SQHD.
 */
void nvmetcp_send_response(struct nvmetcp_req *r)
{
	struct nvmetcp_queue *q = r->q;
	const struct nvb_cqe *cqe = &r->req.rsp;
	bool ok = ((le16toh(cqe->status) >> 1) & 0x7ff) == 0;
	uint32_t xfer = 0, n = 0;

	if (r->dir == NVB_XFER_CTRL_TO_HOST && r->buf) {
		xfer = (uint32_t)(r->req.xfer_len < r->req.data_len ?
				  r->req.xfer_len : r->req.data_len);
	}
	if (xfer) {
		bool success = ok && q->sq.sq_flow_control_disabled && cqe->result.u64 == 0;

		n = build_c2h_data(r, xfer, NVMETCP_F_DATA_LAST |
				   (success ? NVMETCP_F_DATA_SUCCESS : 0));
		if (success)
			goto queue;
	}
	{
		struct nvmetcp_rsp *p = (struct nvmetcp_rsp *)r->rsp_hdr;

		nvmetcp_pdu_init(&p->hdr, NVMETCP_CAPSULE_RSP, 0, q->params.hdgst, false, 0, 0);
		p->cqe = *cqe;
		r->tx_iov[n++] = (struct iovec){ r->rsp_hdr, seal_header(q, r->rsp_hdr) };
	}
queue:
	r->state = NVMETCP_REQ_TX;
	q->tx_reqs++;
	r->rsp_tx.iov = r->tx_iov;
	r->rsp_tx.iovcnt = n;
	r->rsp_tx.done = rsp_done;
	tx_queue(q, &r->rsp_tx);
}

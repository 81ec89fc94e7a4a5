/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP receive path: one io_uring recv in flight per queue, feeding a
 * state machine over the PDU stream (NVMe/TCP 1.0 §3.6.1: common header,
 * rest of the header, header digest, padding up to PDO, data, data digest).
 *
 * Bytes land in a small staging buffer, so that one recv usually brings a
 * whole header (or several): headers are parsed in place. Payload goes to
 * the command's data buffer: what the staging already holds is copied (at
 * most the staging size), the rest is received straight into the buffer.
 * The staging starts small and grows to a pool buffer once the queue is
 * connected, so idle and hostile connections stay cheap.
 */
#include "nvmetcp/tcp.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bridge/bufpool.h"
#include "bridge/log.h"

#define NVMETCP_TRANSIENT_ERROR \
	NVB_SC(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR)
#define NVMETCP_SGL_INVALID_TYPE   (NVB_SC(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE) | NVB_DNR)
#define NVMETCP_SGL_INVALID_OFFSET (NVB_SC(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_OFFSET) | NVB_DNR)

/* A header handler: 0 = go on, 1 = stalled (retry the same PDU later),
 * -1 = the queue is closing. */
typedef int (*rx_handler)(struct nvmetcp_queue *q, const struct nvmetcp_hdr *h);

static void rx_process(struct nvmetcp_queue *q);

/* ---- receiving ---- */

static void rx_done(struct nvb_uring_op *op, int res, uint32_t cqe_flags)
{
	struct nvmetcp_queue *q = container_of(op, struct nvmetcp_queue, rx_op);
	struct nvmetcp_rx *rx = &q->rx;

	q->rx_inflight = false;
	if (q->state == NVMETCP_Q_CLOSING) {
		nvmetcp_queue_maybe_teardown(q);
		return;
	}
	if (res == -EINTR || res == -EAGAIN) {
		rx_process(q);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			nvb_debug("nvmetcp: %s: peer closed the connection", q->desc);
		nvmetcp_queue_close(q, res == 0 ? NULL : strerror(-res));
		return;
	}
	if (rx->direct) {
		uint8_t *at = rx->dst + rx->data_off;

		if (rx->lay.ddgst_len)
			rx->crc = nvb_crc32c_update(rx->crc, at, (size_t)res);
		rx->data_off += (uint32_t)res;
	} else {
		rx->tail += (uint32_t)res;
	}
	rx_process(q);
}

/* Once connected, trade the small staging for a pool buffer. */
static void rx_grow_stage(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;
	uint8_t *big;

	if (rx->stage != q->stage_small || q->state != NVMETCP_Q_LIVE)
		return;
	big = nvb_buf_get(q->reactor, NVMETCP_STAGE_BIG);
	if (!big)
		return;                 /* the small one still works */
	memcpy(big, rx->stage + rx->head, rx->tail - rx->head);
	rx->tail -= rx->head;
	rx->head = 0;
	rx->stage = big;
	rx->cap = NVMETCP_STAGE_BIG;
}

static void rx_arm(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;
	struct io_uring_sqe *sqe;

	if (q->rx_inflight || q->state == NVMETCP_Q_CLOSING)
		return;
	sqe = nvb_reactor_sqe(q->reactor);
	if (rx->step == NVMETCP_RX_DATA && rx->dst && rx->head == rx->tail) {
		/* Payload straight into the command's buffer, exactly to its end. */
		io_uring_prep_recv(sqe, q->fd, rx->dst + rx->data_off,
				   rx->lay.data_len - rx->data_off, 0);
		rx->direct = true;
	} else {
		rx_grow_stage(q);
		if (rx->head > 0) {
			memmove(rx->stage, rx->stage + rx->head, rx->tail - rx->head);
			rx->tail -= rx->head;
			rx->head = 0;
		}
		io_uring_prep_recv(sqe, q->fd, rx->stage + rx->tail, rx->cap - rx->tail, 0);
		rx->direct = false;
	}
	nvb_sqe_set_op(sqe, &q->rx_op);
	q->rx_inflight = true;
}

void nvmetcp_rx_start(struct nvmetcp_queue *q)
{
	q->rx_op.cb = rx_done;
	q->rx.stage = q->stage_small;
	q->rx.cap = NVMETCP_STAGE_SMALL;
	q->rx.step = NVMETCP_RX_CH;
	rx_arm(q);
}

void nvmetcp_rx_resume(struct nvmetcp_queue *q)
{
	q->rx_stalled = false;
	if (!q->rx_inflight)
		rx_process(q);
}

/* A fatal transport error (§3.6.2.5): C2HTermReq echoing the offending
 * header (hlen bytes), then close. */
static void rx_fatal(struct nvmetcp_queue *q, uint16_t fes, uint32_t fei,
		     const void *hdr, uint32_t hlen)
{
	char why[96];

	if (q->state == NVMETCP_Q_CLOSING)
		return;
	snprintf(why, sizeof(why), "%s (FES %#x, FEI %u)", nvmetcp_fes_name(fes), fes, fei);
	nvmetcp_send_term(q, fes, fei, hdr, hlen);
	nvmetcp_queue_close(q, why);
}

/* ---- R2T flow (§3.6.2.10): a bounded number of commands receive data ---- */

/* A command got its R2T slot: take its buffer and send the R2T. */
static void r2t_start(struct nvmetcp_req *r)
{
	if (!nvmetcp_req_buf(r, r->req.data_len)) {
		nvmetcp_req_reject(r, NVB_INTERNAL_ERROR);
		return;
	}
	r->q->r2t_active++;
	r->state = NVMETCP_REQ_R2T;
	r->h2c_rcvd = 0;
	nvmetcp_send_r2t(r);
}

static void r2t_queue(struct nvmetcp_req *r)
{
	struct nvmetcp_queue *q = r->q;

	if (q->r2t_active < NVMETCP_MAX_ACTIVE_R2T) {
		r2t_start(r);
		return;
	}
	r->state = NVMETCP_REQ_R2T_WAIT;
	r->next = NULL;
	*q->r2t_wait_tail = r;
	q->r2t_wait_tail = &r->next;
}

/* A command has all its data: let a waiting one have its R2T. */
static void r2t_finish(struct nvmetcp_queue *q)
{
	struct nvmetcp_req *r;

	q->r2t_active--;
	while (q->r2t_active < NVMETCP_MAX_ACTIVE_R2T && (r = q->r2t_wait)) {
		q->r2t_wait = r->next;
		if (!q->r2t_wait)
			q->r2t_wait_tail = &q->r2t_wait;
		r->next = NULL;
		r2t_start(r);
	}
}

/* ---- PDU handlers ---- */

/* §3.6.2.2 ICReq → §3.6.2.3 ICResp. */
static int rx_icreq(struct nvmetcp_queue *q, const struct nvmetcp_hdr *h)
{
	const struct nvmetcp_icreq *ic = (const struct nvmetcp_icreq *)h;
	uint16_t fes;
	uint32_t fei;

	/* PFV 0, HPDA at most 31 (128-byte alignment). */
	if (nvmetcp_icreq_check(ic, &fes, &fei) != 0) {
		rx_fatal(q, fes, fei, h, sizeof(*ic));
		return -1;
	}
	q->tx_pda = nvmetcp_pda_bytes(ic->hpda);
	q->maxr2t = le32toh(ic->maxr2t);
	/* We support both digests: enable exactly what the host asked for. */
	q->params.hdgst = ic->dgst & NVMETCP_DGST_HDR;
	q->params.ddgst = ic->dgst & NVMETCP_DGST_DATA;
	q->params.rx_pda = 0;           /* CPDA 0 */
	q->params.max_data = NVMETCP_MAXH2CDATA;
	nvmetcp_send_icresp(q);
	if (q->state == NVMETCP_Q_CLOSING)
		return -1;
	q->params.established = true;
	nvmetcp_queue_established(q);
	return 0;
}

/* The direction of a command's data; Fabrics commands carry it in FCTYPE
 * bits 1:0 (NVMe-oF 1.1 §3.3) as other commands do in the opcode. */
static enum nvb_xfer_dir cmd_dir(const struct nvb_sqe *cmd)
{
	if (cmd->opcode == NVB_FABRICS_OPCODE)
		return nvb_opcode_dir(((const struct nvb_fabrics_cmd *)cmd)->fctype);
	return nvb_opcode_dir(cmd->opcode);
}

static uint32_t incapsule_limit(const struct nvmetcp_queue *q)
{
	if (q->state != NVMETCP_Q_LIVE)
		return NVMET_ADMIN_INCAPSULE > NVMET_IO_ICDOFF_SIZE ?
		       NVMET_ADMIN_INCAPSULE : NVMET_IO_ICDOFF_SIZE;
	return q->sq.qid == 0 ? NVMET_ADMIN_INCAPSULE : NVMET_IO_ICDOFF_SIZE;
}

/*
 * NVMe/TCP 1.0 §3.3.2: the command's SGL is either one Data Block
 * descriptor with the Offset subtype (in-capsule data, which must be all the
 * PDU carries) or one Transport SGL Data Block descriptor (data moved by
 * R2T/H2CData or C2HData). Sets up r's buffer; a status rejects the command.
 */
static nvb_status cmd_map_data(struct nvmetcp_queue *q, struct nvmetcp_req *r,
			       uint32_t pdu_data_len)
{
	const struct nvb_sgl_desc *sgl = &r->req.cmd.dptr;
	uint32_t len = le32toh(sgl->length);
	enum nvb_xfer_dir dir = cmd_dir(&r->req.cmd);

	if (pdu_data_len) {
		if (sgl->type != NVB_SGL_INCAPSULE)
			return NVMETCP_SGL_INVALID_TYPE;
		if (le64toh(sgl->addr) != 0)
			return NVMETCP_SGL_INVALID_OFFSET;
		if (len != pdu_data_len || len > incapsule_limit(q))
			return NVB_SGL_INVALID_DATA;
		if (dir != NVB_XFER_HOST_TO_CTRL)
			return NVB_INVALID_FIELD;
		if (!nvmetcp_req_buf(r, len))
			return NVB_INTERNAL_ERROR;
		r->dir = dir;
		r->req.data_len = len;
		q->rx.dst = r->buf;
		return NVB_OK;
	}
	if (len == 0)
		return NVB_OK;
	if (sgl->type == NVB_SGL_INCAPSULE)
		return NVB_SGL_INVALID_DATA;    /* claims data the PDU does not carry */
	if (sgl->type != NVB_SGL_TRANSPORT)
		return NVMETCP_SGL_INVALID_TYPE;
	if (len > NVMET_MAX_XFER)
		return NVB_SGL_INVALID_DATA;
	if (dir != NVB_XFER_HOST_TO_CTRL && dir != NVB_XFER_CTRL_TO_HOST)
		return NVB_INVALID_FIELD;
	r->dir = dir;
	r->req.data_len = len;
	/* Host-to-controller buffers are taken when the R2T goes out. */
	if (dir == NVB_XFER_CTRL_TO_HOST && !nvmetcp_req_buf(r, len))
		return NVB_INTERNAL_ERROR;
	return NVB_OK;
}

/* §3.6.2.6 CapsuleCmd. */
static int rx_capsule_cmd(struct nvmetcp_queue *q, const struct nvmetcp_hdr *h)
{
	const struct nvmetcp_cmd *c = (const struct nvmetcp_cmd *)h;
	struct nvmetcp_req *r;
	nvb_status status;

	/* Shutting down: let what is in flight finish, take nothing new. */
	if (nvmetcp_stopping()) {
		q->rx_stalled = true;
		return 1;
	}
	r = nvmetcp_req_get(q);
	if (!r) {
		/* A response is still being sent: its request frees up soon. */
		if (q->tx_reqs > 0) {
			q->rx_stalled = true;
			return 1;
		}
		/* Every request is outstanding: the host broke flow control. */
		rx_fatal(q, NVMETCP_FES_PDU_SEQUENCE, 0, h, h->hlen);
		return -1;
	}
	memcpy(&r->req.cmd, &c->sqe, sizeof(r->req.cmd));
	status = cmd_map_data(q, r, q->rx.lay.data_len);
	if (status != NVB_OK) {
		/* Answer now; any in-capsule data is read and discarded. */
		nvmetcp_req_reject(r, status);
		return 0;
	}
	q->rx.req = r;
	q->rx.sink = NVMETCP_SINK_CAPSULE;
	return 0;
}

/* §3.6.2.8 H2CData: data for an R2T we sent, in order, within its length. */
static int rx_h2c_data(struct nvmetcp_queue *q, const struct nvmetcp_hdr *h)
{
	const struct nvmetcp_data *d = (const struct nvmetcp_data *)h;
	struct nvmetcp_req *r = nvmetcp_req_by_ttag(q, le16toh(d->ttag));
	uint32_t datao = le32toh(d->datao), datal = le32toh(d->datal);
	uint16_t fes = NVMETCP_FES_INVALID_HEADER;
	uint32_t fei;

	if (!r || r->state != NVMETCP_REQ_R2T) {
		fei = offsetof(struct nvmetcp_data, ttag);
		goto fatal;
	}
	if (d->cccid != r->req.cmd.cid) {
		fei = offsetof(struct nvmetcp_data, cccid);
		goto fatal;
	}
	if (datal == 0 || datal != q->rx.lay.data_len) {
		fei = offsetof(struct nvmetcp_data, datal);
		goto fatal;
	}
	if (datao != r->h2c_rcvd || (uint64_t)datao + datal > r->req.data_len) {
		fes = NVMETCP_FES_DATA_OUT_OF_RANGE;
		fei = offsetof(struct nvmetcp_data, datao);
		goto fatal;
	}
	/* LAST_PDU on a PDU that does not complete the transfer. */
	if ((h->flags & NVMETCP_F_DATA_LAST) && datao + datal != r->req.data_len) {
		fei = offsetof(struct nvmetcp_hdr, flags);
		goto fatal;
	}
	q->rx.req = r;
	q->rx.sink = NVMETCP_SINK_H2C;
	q->rx.dst = (uint8_t *)r->buf + datao;
	return 0;
fatal:
	rx_fatal(q, fes, fei, h, h->hlen);
	return -1;
}

/* §3.6.2.4 H2CTermReq: the host gives up on the connection. */
static int rx_h2c_term(struct nvmetcp_queue *q, const struct nvmetcp_hdr *h)
{
	const struct nvmetcp_term *t = (const struct nvmetcp_term *)h;

	nvb_info("nvmetcp: %s: H2CTermReq FES %#x", q->desc, le16toh(t->fes));
	nvmetcp_queue_close(q, "terminated by the host");
	return -1;
}

static const rx_handler rx_handlers[] = {
	[NVMETCP_ICREQ] = rx_icreq,
	[NVMETCP_H2C_TERM] = rx_h2c_term,
	[NVMETCP_CAPSULE_CMD] = rx_capsule_cmd,
	[NVMETCP_H2C_DATA] = rx_h2c_data,
};

/* ---- the state machine ---- */

/* A command whose capsule (and in-capsule data) is in. */
static void cmd_ready(struct nvmetcp_req *r)
{
	if (r->dir == NVB_XFER_HOST_TO_CTRL && !r->buf)
		r2t_queue(r);
	else
		nvmetcp_req_execute(r);
}

/* The current PDU's payload and data digest are in (or it had none). */
static void rx_pdu_done(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;
	struct nvmetcp_req *r = rx->req;
	bool digest_ok = true;

	if (rx->lay.ddgst_len)
		digest_ok = nvb_crc32c_final(rx->crc) == nvmetcp_digest_get(rx->ddgst);
	rx->step = NVMETCP_RX_CH;
	rx->req = NULL;
	rx->dst = NULL;
	/* NVMe/TCP 1.0 §3.6.2.6/8: a data digest error is not fatal; the
	 * command completes with Transient Transport Error. */
	switch (rx->sink) {
	case NVMETCP_SINK_CAPSULE:
		if (!digest_ok)
			nvmetcp_req_reject(r, NVMETCP_TRANSIENT_ERROR);
		else
			cmd_ready(r);
		break;
	case NVMETCP_SINK_H2C:
		r->h2c_rcvd += rx->lay.data_len;
		if (!digest_ok)
			r->ddgst_bad = true;
		if (r->h2c_rcvd < r->req.data_len)
			break;
		r2t_finish(q);
		if (r->ddgst_bad)
			nvmetcp_req_reject(r, NVMETCP_TRANSIENT_ERROR);
		else
			nvmetcp_req_execute(r);
		break;
	default:
		break;
	}
}

/* The 8-byte common header is in: check it before reading the rest. */
static int rx_common_header(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;
	const struct nvmetcp_hdr *h = (const struct nvmetcp_hdr *)(rx->stage + rx->head);
	uint16_t fes = 0;
	uint32_t fei = 0;

	if (h->type == NVMETCP_H2C_TERM)
		return rx_h2c_term(q, h);
	/* §3.6.2.2: ICReq first, and only once. */
	if (q->params.established == (h->type == NVMETCP_ICREQ)) {
		rx_fatal(q, NVMETCP_FES_PDU_SEQUENCE, 0, h, sizeof(*h));
		return -1;
	}
	if (nvmetcp_pdu_check(h, NVMETCP_ROLE_TARGET, &q->params, &fes, &fei) != 0) {
		rx_fatal(q, fes, fei, h, sizeof(*h));
		return -1;
	}
	nvmetcp_pdu_layout(h, &rx->lay);
	if (rx->lay.hlen + rx->lay.hdgst_len > NVMETCP_STAGE_SMALL) {
		/* pdu_check bounds HLEN by type; never trust that blindly. */
		rx_fatal(q, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_hdr, hlen), h, sizeof(*h));
		return -1;
	}
	rx->step = NVMETCP_RX_HDR;
	return 0;
}

/* The whole header (+ digest) is in: verify, dispatch, set up the payload. */
static int rx_header(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;
	const uint8_t *p = rx->stage + rx->head;
	const struct nvmetcp_hdr *h = (const struct nvmetcp_hdr *)p;
	rx_handler fn = NULL;
	int ret;

	if (rx->lay.hdgst_len && !nvmetcp_hdgst_ok(h)) {
		rx_fatal(q, NVMETCP_FES_HDR_DIGEST, 0, p, rx->lay.hlen);
		return -1;
	}
	if (h->type < sizeof(rx_handlers) / sizeof(rx_handlers[0]))
		fn = rx_handlers[h->type];
	if (!fn) {
		rx_fatal(q, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_hdr, type), p, rx->lay.hlen);
		return -1;
	}
	rx->sink = NVMETCP_SINK_DISCARD;
	rx->req = NULL;
	rx->dst = NULL;
	rx->data_off = 0;
	rx->crc = NVB_CRC32C_INIT;
	rx->ddgst_have = 0;
	ret = fn(q, h);
	if (ret != 0)
		return -1;
	rx->head += rx->lay.hlen + rx->lay.hdgst_len;
	if (rx->lay.pad || rx->lay.data_len || rx->lay.ddgst_len) {
		rx->pad_left = rx->lay.pad;
		rx->step = NVMETCP_RX_PAD;
	} else {
		rx_pdu_done(q);
	}
	return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void rx_process(struct nvmetcp_queue *q)
{
	struct nvmetcp_rx *rx = &q->rx;

	while (q->state != NVMETCP_Q_CLOSING && !q->rx_stalled) {
		uint32_t avail = rx->tail - rx->head, n;

		switch (rx->step) {
		case NVMETCP_RX_CH:
			if (avail < sizeof(struct nvmetcp_hdr))
				goto more;
			if (rx_common_header(q) < 0)
				return;
			break;
		case NVMETCP_RX_HDR:
			if (avail < rx->lay.hlen + rx->lay.hdgst_len)
				goto more;
			if (rx_header(q) < 0)
				return;
			break;
		case NVMETCP_RX_PAD:
			n = min_u32(avail, rx->pad_left);
			rx->head += n;
			rx->pad_left -= n;
			if (rx->pad_left)
				goto more;
			rx->step = NVMETCP_RX_DATA;
			break;
		case NVMETCP_RX_DATA:
			if (rx->data_off == rx->lay.data_len) {
				rx->step = NVMETCP_RX_DDGST;
				break;
			}
			if (avail == 0)
				goto more;
			n = min_u32(avail, rx->lay.data_len - rx->data_off);
			if (rx->dst)
				memcpy(rx->dst + rx->data_off, rx->stage + rx->head, n);
			if (rx->lay.ddgst_len)
				rx->crc = nvb_crc32c_update(rx->crc, rx->stage + rx->head, n);
			rx->head += n;
			rx->data_off += n;
			break;
		case NVMETCP_RX_DDGST:
			n = min_u32(avail, rx->lay.ddgst_len - rx->ddgst_have);
			memcpy(rx->ddgst + rx->ddgst_have, rx->stage + rx->head, n);
			rx->head += n;
			rx->ddgst_have += n;
			if (rx->ddgst_have < rx->lay.ddgst_len)
				goto more;
			rx_pdu_done(q);
			break;
		}
	}
	return;
more:
	rx_arm(q);
}

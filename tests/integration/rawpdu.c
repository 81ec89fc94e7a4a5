/* SPDX-License-Identifier: MIT */
/*
 * Hand-built NVMe/TCP PDUs (see rawpdu.h). The PDUs we receive are held to
 * the same header checks the host library applies (nvmetcp_pdu_check), so
 * a target that answers garbage with garbage is caught here too.
 */
#include "tests/integration/rawpdu.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nvmetcp/host.h"

#define CONNECT_DATA_LEN 1024   /* NVMe-oF 1.1 §3.3: Connect command data */

int raw_open(struct raw_conn *c, const char *addr, const char *port, bool icreq,
	     bool hdgst, bool ddgst, int timeout_ms)
{
	struct nvmetcp_icresp rsp;
	int r;

	memset(c, 0, sizeof(*c));
	c->fd = nvmeh_raw_connect(addr, port, timeout_ms);
	if (c->fd < 0)
		return c->fd;
	if (!icreq)
		return 0;
	r = nvmeh_raw_icreq(c->fd, hdgst, ddgst, &rsp, timeout_ms);
	if (r == 0) {
		uint16_t fes;
		uint32_t fei;

		if (nvmetcp_icresp_check(&rsp, hdgst, ddgst, &fes, &fei))
			r = -EPROTO;
	}
	if (r < 0) {
		raw_close(c);
		return r;
	}
	c->hdgst = hdgst;
	c->ddgst = ddgst;
	c->maxh2cdata = le32toh(rsp.maxh2cdata);
	return 0;
}

void raw_close(struct raw_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void raw_sgl_incapsule(struct nvb_sqe *sqe, uint32_t len)
{
	memset(&sqe->dptr, 0, sizeof(sqe->dptr));
	sqe->dptr.length = htole32(len);
	sqe->dptr.type = NVB_SGL_INCAPSULE;
}

void raw_sgl_transport(struct nvb_sqe *sqe, uint32_t len)
{
	memset(&sqe->dptr, 0, sizeof(sqe->dptr));
	sqe->dptr.length = htole32(len);
	sqe->dptr.type = NVB_SGL_TRANSPORT;
}

/* Header (+ its digest), then data (+ its digest), as one buffer. */
static int send_pdu(struct raw_conn *c, struct nvmetcp_hdr *h, const void *data, uint32_t len)
{
	uint8_t hbuf[NVMETCP_MAX_HDR + NVMETCP_DIGEST_LEN];
	struct nvmetcp_layout l;
	uint8_t dd[NVMETCP_DIGEST_LEN];
	ssize_t n;

	nvmetcp_pdu_layout(h, &l);
	memcpy(hbuf, h, l.hlen);
	if (l.hdgst_len)
		nvmetcp_hdgst_put((struct nvmetcp_hdr *)hbuf);
	n = nvmeh_raw_send(c->fd, hbuf, l.hlen + l.hdgst_len);
	if (n >= 0 && l.pad) {
		static const uint8_t zeros[128];

		n = nvmeh_raw_send(c->fd, zeros, l.pad);
	}
	if (n >= 0 && len)
		n = nvmeh_raw_send(c->fd, data, len);
	if (n >= 0 && len && l.ddgst_len) {
		struct iovec iov = { .iov_base = (void *)data, .iov_len = len };

		nvmetcp_digest_put(dd, nvb_crc32c_final(nvmetcp_ddgst_update(NVB_CRC32C_INIT,
									     &iov, 1)));
		n = nvmeh_raw_send(c->fd, dd, sizeof(dd));
	}
	return n < 0 ? (int)n : 0;
}

int raw_send_capsule(struct raw_conn *c, const struct nvb_sqe *sqe, const void *data,
		     uint32_t len)
{
	struct nvmetcp_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	nvmetcp_pdu_init(&cmd.hdr, NVMETCP_CAPSULE_CMD, 0, c->hdgst, c->ddgst, len, 0);
	cmd.sqe = *sqe;
	return send_pdu(c, &cmd.hdr, data, len);
}

static int recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	ssize_t n;

	if (!len)
		return 0;
	n = nvmeh_raw_recv(fd, buf, len, timeout_ms);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 1 : (n == 0 ? 0 : -ECONNRESET);
}

/* Read and check a PDU header (+ digest); the layout says what follows. */
static int recv_header(struct raw_conn *c, struct raw_pdu *p, struct nvmetcp_layout *l,
		       int timeout_ms)
{
	struct nvmetcp_params params = {
		.established = true, .hdgst = c->hdgst, .ddgst = c->ddgst,
		.max_data = NVMETCP_MAX_PLEN,
	};
	uint16_t fes;
	uint32_t fei;
	int r;

	memset(p, 0, sizeof(*p));
	r = recv_exact(c->fd, &p->h.hdr, sizeof(p->h.hdr), timeout_ms);
	if (r <= 0)
		return r;
	/* Everything the target sends must pass the checks the host library
	 * applies (a TermReq is valid in any state). */
	if (nvmetcp_pdu_check(&p->h.hdr, NVMETCP_ROLE_HOST, &params, &fes, &fei))
		return -EPROTO;
	nvmetcp_pdu_layout(&p->h.hdr, l);
	r = recv_exact(c->fd, p->h.raw + sizeof(p->h.hdr),
		       l->hlen + l->hdgst_len - sizeof(p->h.hdr), timeout_ms);
	if (r <= 0)
		return r ? r : -ECONNRESET;
	if (l->hdgst_len && !nvmetcp_hdgst_ok(&p->h.hdr))
		return -EPROTO;
	p->data_len = l->data_len;
	return 1;
}

static int drop_bytes(struct raw_conn *c, uint32_t len, int timeout_ms)
{
	uint8_t sink[4096];

	while (len) {
		uint32_t n = len < sizeof(sink) ? len : (uint32_t)sizeof(sink);
		int r = recv_exact(c->fd, sink, n, timeout_ms);

		if (r <= 0)
			return r ? r : -ECONNRESET;
		len -= n;
	}
	return 1;
}

/* The payload after recv_header: up to `len` bytes into dst, the rest
 * (and the pad and data digest) dropped. */
static int recv_payload(struct raw_conn *c, const struct nvmetcp_layout *l, void *dst,
			size_t len, int timeout_ms)
{
	uint32_t keep = l->data_len < len ? l->data_len : (uint32_t)len;
	int r;

	if ((r = drop_bytes(c, l->pad, timeout_ms)) <= 0)
		return r;
	if (keep && (r = recv_exact(c->fd, dst, keep, timeout_ms)) <= 0)
		return r ? r : -ECONNRESET;
	return drop_bytes(c, l->data_len - keep + l->ddgst_len, timeout_ms);
}

int raw_recv_pdu(struct raw_conn *c, struct raw_pdu *p, void *data, size_t datalen,
		 int timeout_ms)
{
	struct nvmetcp_layout l;
	int r = recv_header(c, p, &l, timeout_ms);

	if (r <= 0)
		return r;
	return recv_payload(c, &l, data, datalen, timeout_ms);
}

/* §3.6.2.8: answer an R2T with one H2CData PDU per MAXH2CDATA bytes. */
static int answer_r2t(struct raw_conn *c, const struct nvmetcp_r2t *r2t, const uint8_t *out,
		      uint32_t out_len)
{
	uint32_t off = le32toh(r2t->r2to), len = le32toh(r2t->r2tl), end = off + len;
	uint32_t chunk = c->maxh2cdata ? c->maxh2cdata : 65536;

	if (end > out_len || end < off)
		return -EPROTO;
	while (off < end) {
		struct nvmetcp_data d;
		uint32_t n = end - off < chunk ? end - off : chunk;
		int r;

		memset(&d, 0, sizeof(d));
		nvmetcp_pdu_init(&d.hdr, NVMETCP_H2C_DATA,
				 off + n == end ? NVMETCP_F_DATA_LAST : 0, c->hdgst, c->ddgst, n, 0);
		d.cccid = r2t->cccid;
		d.ttag = r2t->ttag;
		d.datao = htole32(off);
		d.datal = htole32(n);
		r = send_pdu(c, &d.hdr, out + off, n);
		if (r < 0)
			return r;
		off += n;
	}
	return 0;
}

int raw_exec(struct raw_conn *c, struct nvb_sqe *sqe, const void *out, uint32_t out_len,
	     bool incapsule, void *in, uint32_t in_len, struct nvb_cqe *cqe, int timeout_ms)
{
	struct raw_pdu p;
	uint16_t cid = sqe->cid;
	int r;

	if (out_len && incapsule)
		raw_sgl_incapsule(sqe, out_len);
	else if (out_len || in_len)
		raw_sgl_transport(sqe, out_len ? out_len : in_len);
	r = raw_send_capsule(c, sqe, incapsule ? out : NULL, incapsule ? out_len : 0);
	if (r < 0)
		return r;
	for (;;) {
		struct nvmetcp_layout l;

		r = recv_header(c, &p, &l, timeout_ms);
		if (r <= 0)
			return r ? r : -ENOTCONN;
		if (p.h.hdr.type == NVMETCP_C2H_DATA) {
			uint32_t off = le32toh(p.h.data.datao);

			if (le16toh(p.h.data.cccid) != cid || off > in_len ||
			    l.data_len > in_len - off)
				return -EPROTO;
			r = recv_payload(c, &l, (uint8_t *)in + off, l.data_len, timeout_ms);
			if (r <= 0)
				return r ? r : -ENOTCONN;
			/* §3.6.2.9: SUCCESS stands in for the CapsuleResp. */
			if (p.h.hdr.flags & NVMETCP_F_DATA_SUCCESS) {
				if (cqe) {
					memset(cqe, 0, sizeof(*cqe));
					cqe->cid = htole16(cid);
				}
				return 0;
			}
			continue;
		}
		r = recv_payload(c, &l, NULL, 0, timeout_ms);
		if (r <= 0)
			return r ? r : -ENOTCONN;
		switch (p.h.hdr.type) {
		case NVMETCP_CAPSULE_RSP:
			if (le16toh(p.h.rsp.cqe.cid) != cid)
				return -EPROTO;
			if (cqe)
				*cqe = p.h.rsp.cqe;
			return le16toh(p.h.rsp.cqe.status) >> 1;
		case NVMETCP_C2H_TERM:
			return -ECONNABORTED;
		case NVMETCP_R2T:
			if (le16toh(p.h.r2t.cccid) != cid)
				return -EPROTO;
			r = answer_r2t(c, &p.h.r2t, out, out_len);
			if (r < 0)
				return r;
			break;
		default:
			return -EPROTO;
		}
	}
}

static uint16_t next_cid(struct raw_conn *c)
{
	return c->next_cid++;
}

void raw_connect_build(struct nvb_connect_cmd *cmd, struct nvmf_connect_data *data,
		       uint16_t qid, uint16_t cntlid, const char *subnqn, const char *hostnqn,
		       uint16_t sqsize, uint32_t kato_ms)
{
	_Static_assert(sizeof(*data) == CONNECT_DATA_LEN, "Connect data is 1024 bytes");
	memset(cmd, 0, sizeof(*cmd));
	cmd->opcode = NVB_FABRICS_OPCODE;
	cmd->fctype = nvme_fabrics_type_connect;
	cmd->qid = htole16(qid);
	cmd->sqsize = htole16(sqsize);
	cmd->kato = htole32(kato_ms);
	raw_sgl_incapsule((struct nvb_sqe *)cmd, sizeof(*data));
	memset(data, 0, sizeof(*data));
	for (int i = 0; i < 16; i++)
		data->hostid[i] = (uint8_t)(0xa0 + i);
	data->cntlid = htole16(cntlid);
	snprintf(data->subsysnqn, sizeof(data->subsysnqn), "%s", subnqn);
	snprintf(data->hostnqn, sizeof(data->hostnqn), "%s", hostnqn);
}

int raw_connect(struct raw_conn *c, uint16_t qid, uint16_t cntlid, const char *subnqn,
		const char *hostnqn, uint16_t sqsize, uint32_t kato_ms, uint16_t *cntlid_out,
		int timeout_ms)
{
	struct nvmf_connect_data data;
	struct nvb_connect_cmd cmd;
	struct nvb_cqe cqe;
	int r;

	raw_connect_build(&cmd, &data, qid, cntlid, subnqn, hostnqn, sqsize, kato_ms);
	cmd.cid = htole16(next_cid(c));
	r = raw_exec(c, (struct nvb_sqe *)&cmd, &data, sizeof(data), true, NULL, 0, &cqe,
		     timeout_ms);
	if (r == 0 && cntlid_out)
		*cntlid_out = le16toh(cqe.result.u16);
	return r;
}

int raw_prop_get(struct raw_conn *c, uint32_t offset, unsigned size, uint64_t *value,
		 int timeout_ms)
{
	struct nvb_prop_cmd cmd;
	struct nvb_cqe cqe;
	int r;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = NVB_FABRICS_OPCODE;
	cmd.cid = htole16(next_cid(c));
	cmd.fctype = nvme_fabrics_type_property_get;
	cmd.attrib = size == 8;
	cmd.offset = htole32(offset);
	r = raw_exec(c, (struct nvb_sqe *)&cmd, NULL, 0, false, NULL, 0, &cqe, timeout_ms);
	if (r == 0 && value)
		*value = le64toh(cqe.result.u64);
	return r;
}

int raw_prop_set(struct raw_conn *c, uint32_t offset, unsigned size, uint64_t value,
		 int timeout_ms)
{
	struct nvb_prop_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = NVB_FABRICS_OPCODE;
	cmd.cid = htole16(next_cid(c));
	cmd.fctype = nvme_fabrics_type_property_set;
	cmd.attrib = size == 8;
	cmd.offset = htole32(offset);
	cmd.value = htole64(value);
	return raw_exec(c, (struct nvb_sqe *)&cmd, NULL, 0, false, NULL, 0, NULL, timeout_ms);
}

int raw_enable(struct raw_conn *c, int timeout_ms)
{
	/* CC: IOSQES 6 (64-byte SQEs), IOCQES 4 (16-byte CQEs), EN. */
	const uint64_t cc = (6u << 16) | (4u << 20) | 1u;
	int r = raw_prop_set(c, NVME_REG_CC, 4, cc, timeout_ms);

	for (int waited = 0; r == 0; waited += 10) {
		uint64_t csts = 0;

		r = raw_prop_get(c, NVME_REG_CSTS, 4, &csts, timeout_ms);
		if (r || (csts & 1))
			break;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(10000);
	}
	return r;
}

const char *raw_end_name(enum raw_end e)
{
	static const char *const names[] = {
		[RAW_END_CLOSED] = "closed",
		[RAW_END_TERMREQ] = "C2HTermReq + close",
		[RAW_END_ERROR_CQE] = "error completion",
		[RAW_END_SUCCESS_CQE] = "successful completion",
		[RAW_END_TERM_OPEN] = "C2HTermReq but left open",
		[RAW_END_TIMEOUT] = "no answer (timeout)",
		[RAW_END_OTHER] = "unexpected PDU",
	};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

enum raw_end raw_expect_end(struct raw_conn *c, int timeout_ms, bool cqe_ends,
			    unsigned *status, char *detail, size_t detail_len)
{
	bool termreq = false;
	struct raw_pdu p;

	snprintf(detail, detail_len, "nothing");
	for (;;) {
		int r = raw_recv_pdu(c, &p, NULL, 0, timeout_ms);

		if (r == 0 || r == -ECONNRESET || r == -EPIPE)
			return termreq ? RAW_END_TERMREQ : RAW_END_CLOSED;
		if (r == -ETIMEDOUT)
			return termreq ? RAW_END_TERM_OPEN : RAW_END_TIMEOUT;
		if (r < 0) {
			snprintf(detail, detail_len, "receive error %d (%s)", r, strerror(-r));
			return RAW_END_OTHER;
		}
		switch (p.h.hdr.type) {
		case NVMETCP_C2H_TERM:
			snprintf(detail, detail_len, "C2HTermReq FES %#x (%s) FEI %u",
				 le16toh(p.h.term.fes), nvmetcp_fes_name(le16toh(p.h.term.fes)),
				 le32toh(p.h.term.fei));
			termreq = true;
			break;
		case NVMETCP_CAPSULE_RSP: {
			unsigned st = le16toh(p.h.rsp.cqe.status) >> 1;

			snprintf(detail, detail_len, "CapsuleResp cid %u status %#x",
				 le16toh(p.h.rsp.cqe.cid), st);
			if (status)
				*status = st;
			if (cqe_ends || termreq)
				return st ? RAW_END_ERROR_CQE : RAW_END_SUCCESS_CQE;
			break;
		}
		default:
			snprintf(detail, detail_len, "PDU type %#x plen %u", p.h.hdr.type,
				 le32toh(p.h.hdr.plen));
			if (termreq)
				return RAW_END_OTHER;
			break;
		}
	}
}

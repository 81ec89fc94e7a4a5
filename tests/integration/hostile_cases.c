/* SPDX-License-Identifier: MIT */
/*
 * Hostile exchanges, one connection each. Every case sends complete bytes
 * (or shuts down its write side), so a target that waits for more is
 * within its rights only where the case says so; everything else must end
 * with a C2HTermReq and/or a close, or an error completion, within
 * HOSTILE_TIMEOUT_MS (NVMe/TCP 1.0 §3.6.2.4, §7.4.x fatal errors).
 */
#include "tests/integration/hostile.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "nvmetcp/host.h"
#include "tests/integration/itest.h"

static void finish(struct raw_conn *c, struct hostile_result *r, bool cqe_ends)
{
	r->end = raw_expect_end(c, HOSTILE_TIMEOUT_MS, cqe_ends, &r->status, r->detail,
				sizeof(r->detail));
	raw_close(c);
}

/* Send bytes; a target that already hung up is not an error here (the
 * close is what finish() will see). */
static int send_bytes(struct raw_conn *c, const void *buf, size_t len)
{
	ssize_t n = nvmeh_raw_send(c->fd, buf, len);

	return n < 0 && n != -EPIPE && n != -ECONNRESET ? (int)n : 0;
}

static void random_bytes(struct hostile_ctx *h, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)itest_rand(&h->rng);
}

static int open_conn(struct hostile_ctx *h, struct raw_conn *c, bool icreq, bool hd, bool dd)
{
	return raw_open(c, h->addr, h->port, icreq, hd, dd, HOSTILE_TIMEOUT_MS);
}

/* ICReq + admin Connect (+ CC.EN and one I/O queue pair granted). */
static int open_admin(struct hostile_ctx *h, struct raw_conn *c, bool enable, uint16_t *cntlid)
{
	struct nvb_sqe sqe;
	int r = open_conn(h, c, true, false, false);

	if (r == 0)
		r = raw_connect(c, 0, 0xffff, h->nqn, h->hostnqn, 31, 30000, cntlid,
				HOSTILE_TIMEOUT_MS);
	if (r == 0 && enable)
		r = raw_enable(c, HOSTILE_TIMEOUT_MS);
	if (r == 0 && enable) {
		/* Set Features Number of Queues: one SQ/CQ pair. */
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = nvme_admin_set_features;
		sqe.cid = htole16(900);
		sqe.cdw10 = htole32(NVME_FEAT_FID_NUM_QUEUES);
		r = raw_exec(c, &sqe, NULL, 0, false, NULL, 0, NULL, HOSTILE_TIMEOUT_MS);
	}
	if (r != 0) {
		raw_close(c);
		return r > 0 ? -EPROTO : r;
	}
	return 0;
}

/* An enabled controller and its I/O queue 1 (adm stays open meanwhile). */
static int open_io(struct hostile_ctx *h, struct raw_conn *adm, struct raw_conn *q, bool ddgst)
{
	uint16_t cntlid = 0;
	int r = open_admin(h, adm, true, &cntlid);

	if (r)
		return r;
	r = open_conn(h, q, true, false, ddgst);
	if (r == 0)
		r = raw_connect(q, 1, cntlid, h->nqn, h->hostnqn, 31, 0, NULL, HOSTILE_TIMEOUT_MS);
	if (r != 0) {
		raw_close(q);
		raw_close(adm);
		return r > 0 ? -EPROTO : r;
	}
	return 0;
}

/* ---- before ICReq ---- */

static int h_random_bytes(struct hostile_ctx *h, struct hostile_result *r)
{
	struct raw_conn c;
	uint8_t buf[4096];
	int e = open_conn(h, &c, false, false, false);

	if (e)
		return e;
	random_bytes(h, buf, sizeof(buf));
	buf[0] |= 0x10;         /* never a valid PDU type by accident */
	if ((e = send_bytes(&c, buf, sizeof(buf))))
		return e;
	finish(&c, r, false);
	return 0;
}

static int send_icreq(struct hostile_ctx *h, struct hostile_result *r,
		      void (*mutate)(struct nvmetcp_icreq *), size_t send_len, bool shut)
{
	struct nvmetcp_icreq req;
	struct raw_conn c;
	int e = open_conn(h, &c, false, false, false);

	if (e)
		return e;
	nvmetcp_icreq_init(&req, false, false, 0, 0);
	if (mutate)
		mutate(&req);
	if ((e = send_bytes(&c, &req, send_len)))
		return e;
	if (shut)
		shutdown(c.fd, SHUT_WR);
	finish(&c, r, false);
	return 0;
}

static void m_hlen(struct nvmetcp_icreq *q) { q->hdr.hlen = 0x10; }
static void m_plen_huge(struct nvmetcp_icreq *q) { q->hdr.plen = htole32(0xffffffffu); }
static void m_plen_small(struct nvmetcp_icreq *q) { q->hdr.plen = htole32(8); }
static void m_pfv(struct nvmetcp_icreq *q) { q->pfv = htole16(1); }
static void m_hpda(struct nvmetcp_icreq *q) { q->hpda = 32; }
static void m_type_icresp(struct nvmetcp_icreq *q) { q->hdr.type = NVMETCP_ICRESP; }

static int h_icreq_hlen(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_hlen, 128, false);
}

static int h_icreq_plen_huge(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_plen_huge, 128, false);
}

static int h_icreq_plen_small(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_plen_small, 128, false);
}

static int h_icreq_pfv(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_pfv, 128, false);
}

static int h_icreq_hpda(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_hpda, 128, false);
}

static int h_icresp_from_host(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, m_type_icresp, 128, false);
}

static int h_icreq_truncated(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_icreq(h, r, NULL, 60, true);
}

static int h_icreq_with_data(struct hostile_ctx *h, struct hostile_result *r)
{
	uint8_t buf[128 + 64];
	struct nvmetcp_icreq *q = (struct nvmetcp_icreq *)buf;
	struct raw_conn c;
	int e = open_conn(h, &c, false, false, false);

	if (e)
		return e;
	memset(buf, 0x41, sizeof(buf));
	nvmetcp_icreq_init(q, false, false, 0, 0);
	q->hdr.plen = htole32(sizeof(buf));
	q->hdr.pdo = 128;
	if ((e = send_bytes(&c, buf, sizeof(buf))))
		return e;
	finish(&c, r, false);
	return 0;
}

/* A Fabrics Connect capsule, well formed, in a connection without ICReq. */
static int h_capsule_before_icreq(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvmf_connect_data data;
	struct nvmetcp_cmd cmd;
	struct raw_conn c;
	int e = open_conn(h, &c, false, false, false);

	if (e)
		return e;
	memset(&cmd, 0, sizeof(cmd));
	nvmetcp_pdu_init(&cmd.hdr, NVMETCP_CAPSULE_CMD, 0, false, false, sizeof(data), 0);
	raw_connect_build((struct nvb_connect_cmd *)&cmd.sqe, &data, 0, 0xffff, h->nqn,
			  h->hostnqn, 31, 0);
	if ((e = send_bytes(&c, &cmd, sizeof(cmd))) || (e = send_bytes(&c, &data, sizeof(data))))
		return e;
	finish(&c, r, false);
	return 0;
}

static int h_h2c_term_first(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvmetcp_term t;
	struct raw_conn c;
	int e = open_conn(h, &c, false, false, false);

	if (e)
		return e;
	nvmetcp_term_init(&t, NVMETCP_ROLE_HOST, NVMETCP_FES_INVALID_HEADER, 0, 0);
	if ((e = send_bytes(&c, &t, sizeof(t))))
		return e;
	finish(&c, r, false);
	return 0;
}

/* ---- after ICReq, before Connect ---- */

/* Send a CapsuleCmd header with `mutate` applied, then `extra` bytes. */
static int send_capsule(struct hostile_ctx *h, struct hostile_result *r, bool hd,
			void (*mutate)(struct nvmetcp_cmd *), size_t extra, bool cqe_ends)
{
	uint8_t buf[sizeof(struct nvmetcp_cmd) + NVMETCP_DIGEST_LEN + 1024];
	struct nvmetcp_cmd *cmd = (struct nvmetcp_cmd *)buf;
	size_t len = sizeof(*cmd) + (hd ? NVMETCP_DIGEST_LEN : 0);
	struct raw_conn c;
	int e = open_conn(h, &c, true, hd, false);

	if (e)
		return e;
	memset(buf, 0, sizeof(buf));
	nvmetcp_pdu_init(&cmd->hdr, NVMETCP_CAPSULE_CMD, 0, hd, false, 0, 0);
	cmd->sqe.opcode = nvme_admin_identify;
	cmd->sqe.cid = htole16(1);
	cmd->sqe.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
	raw_sgl_transport(&cmd->sqe, 4096);
	if (hd)
		nvmetcp_hdgst_put(&cmd->hdr);
	if (mutate)
		mutate(cmd);
	random_bytes(h, buf + len, extra);
	if ((e = send_bytes(&c, buf, len + extra)))
		return e;
	finish(&c, r, cqe_ends);
	return 0;
}

static void c_hlen(struct nvmetcp_cmd *c) { c->hdr.hlen = 24; }
static void c_plen_huge(struct nvmetcp_cmd *c) { c->hdr.plen = htole32(0xffffffffu); }
static void c_plen_short(struct nvmetcp_cmd *c) { c->hdr.plen = htole32(40); }
static void c_pdo_low(struct nvmetcp_cmd *c)
{
	c->hdr.plen = htole32(72 + 512);
	c->hdr.pdo = 10;
}
static void c_pdo_beyond(struct nvmetcp_cmd *c)
{
	c->hdr.plen = htole32(180);
	c->hdr.pdo = 252;
}
static void c_pdo_unaligned(struct nvmetcp_cmd *c)
{
	c->hdr.plen = htole32(73 + 512);
	c->hdr.pdo = 73;
}
static void c_bad_hdgst(struct nvmetcp_cmd *c) { ((uint8_t *)c)[72] ^= 0xff; }
static void c_unknown_type(struct nvmetcp_cmd *c)
{
	c->hdr.type = 0x0f;
	c->hdr.hlen = 8;
	c->hdr.plen = htole32(8);
}
static void c_r2t_type(struct nvmetcp_cmd *c)
{
	c->hdr.type = NVMETCP_R2T;
	c->hdr.hlen = 24;
	c->hdr.plen = htole32(24);
}
static void c_second_icreq(struct nvmetcp_cmd *c)
{
	nvmetcp_icreq_init((struct nvmetcp_icreq *)c, false, false, 0, 0);
}
static void c_io_read(struct nvmetcp_cmd *c)
{
	c->sqe.opcode = nvme_cmd_read;
	c->sqe.nsid = htole32(1);
	c->sqe.cdw10 = 0;
	raw_sgl_transport(&c->sqe, 512);
}
static void c_prop_get(struct nvmetcp_cmd *c)
{
	struct nvb_prop_cmd *p = (struct nvb_prop_cmd *)&c->sqe;

	memset(p, 0, sizeof(*p));
	p->opcode = NVB_FABRICS_OPCODE;
	p->cid = htole16(2);
	p->fctype = nvme_fabrics_type_property_get;
	p->offset = htole32(NVME_REG_CSTS);
}

static int h_second_icreq(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_second_icreq, 128 - 72, false);
}

static int h_capsule_hlen(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_hlen, 0, false);
}

static int h_capsule_plen_huge(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_plen_huge, 1024, false);
}

static int h_capsule_plen_short(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_plen_short, 0, false);
}

static int h_capsule_pdo_low(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_pdo_low, 512, false);
}

static int h_capsule_pdo_beyond(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_pdo_beyond, 180 - 72, false);
}

static int h_capsule_pdo_unaligned(struct hostile_ctx *h, struct hostile_result *r)
{
	/* With CPDA 0 a lenient target may take PDO 73 as one pad byte; then
	 * the command itself is wrong (in-capsule data for a transport SGL). */
	return send_capsule(h, r, false, c_pdo_unaligned, 1 + 512, true);
}

static int h_bad_hdgst(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, true, c_bad_hdgst, 0, false);
}

static int h_unknown_type(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_unknown_type, 0, false);
}

static int h_r2t_from_host(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_r2t_type, 0, false);
}

static int h_io_before_connect(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_io_read, 0, true);
}

static int h_admin_before_connect(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, NULL, 0, true);
}

static int h_prop_before_connect(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_capsule(h, r, false, c_prop_get, 0, true);
}

static int h_random_after_icreq(struct hostile_ctx *h, struct hostile_result *r)
{
	uint8_t buf[4096];
	struct raw_conn c;
	int e = open_conn(h, &c, true, false, false);

	if (e)
		return e;
	random_bytes(h, buf, sizeof(buf));
	buf[0] |= 0x10;
	if ((e = send_bytes(&c, buf, sizeof(buf))))
		return e;
	finish(&c, r, false);
	return 0;
}

static int h_capsule_truncated(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvmetcp_cmd cmd;
	struct raw_conn c;
	int e = open_conn(h, &c, true, false, false);

	if (e)
		return e;
	memset(&cmd, 0, sizeof(cmd));
	nvmetcp_pdu_init(&cmd.hdr, NVMETCP_CAPSULE_CMD, 0, false, false, 0, 0);
	if ((e = send_bytes(&c, &cmd, 40)))
		return e;
	shutdown(c.fd, SHUT_WR);
	finish(&c, r, false);
	return 0;
}

/* Connect with the given data (length len, SGL says sgl_len). */
static int send_connect(struct hostile_ctx *h, struct hostile_result *r,
			void (*mutate)(struct hostile_ctx *, struct nvmf_connect_data *),
			uint32_t len, uint32_t sgl_len, bool ddgst_bad)
{
	uint8_t data[sizeof(struct nvmf_connect_data) + 64];
	struct nvmetcp_cmd cmd;
	struct raw_conn c;
	uint8_t dd[4];
	int e = open_conn(h, &c, true, false, ddgst_bad);

	if (e)
		return e;
	memset(&cmd, 0, sizeof(cmd));
	memset(data, 0, sizeof(data));
	nvmetcp_pdu_init(&cmd.hdr, NVMETCP_CAPSULE_CMD, 0, false, ddgst_bad, len, 0);
	raw_connect_build((struct nvb_connect_cmd *)&cmd.sqe, (struct nvmf_connect_data *)data, 0,
			  0xffff, h->nqn, h->hostnqn, 31, 0);
	cmd.sqe.cid = htole16(3);
	cmd.sqe.dptr.length = htole32(sgl_len);
	if (mutate)
		mutate(h, (struct nvmf_connect_data *)data);
	if ((e = send_bytes(&c, &cmd, sizeof(cmd))) || (e = send_bytes(&c, data, len)))
		return e;
	if (ddgst_bad) {
		memset(dd, 0x5a, sizeof(dd));
		if ((e = send_bytes(&c, dd, sizeof(dd))))
			return e;
	}
	finish(&c, r, true);
	return 0;
}

static void d_garbage(struct hostile_ctx *h, struct nvmf_connect_data *d)
{
	random_bytes(h, (uint8_t *)d, sizeof(*d));
}

static void d_unterminated(struct hostile_ctx *h, struct nvmf_connect_data *d)
{
	memset(d->subsysnqn, 'a', sizeof(d->subsysnqn));
	memset(d->hostnqn, 'b', sizeof(d->hostnqn));
}

static int h_connect_garbage(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_connect(h, r, d_garbage, 1024, 1024, false);
}

static int h_connect_unterminated(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_connect(h, r, d_unterminated, 1024, 1024, false);
}

static int h_connect_short(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_connect(h, r, NULL, 100, 100, false);
}

static int h_connect_sgl_mismatch(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_connect(h, r, NULL, 1024, 1088, false);
}

static int h_connect_bad_ddgst(struct hostile_ctx *h, struct hostile_result *r)
{
	return send_connect(h, r, NULL, 1024, 1024, true);
}

/* ---- after Connect ---- */

static int h_h2cdata_unknown_ttag(struct hostile_ctx *h, struct hostile_result *r)
{
	uint8_t buf[sizeof(struct nvmetcp_data) + 512];
	struct nvmetcp_data *d = (struct nvmetcp_data *)buf;
	struct raw_conn c;
	int e = open_admin(h, &c, false, NULL);

	if (e)
		return e;
	memset(buf, 0x33, sizeof(buf));
	memset(d, 0, sizeof(*d));
	nvmetcp_pdu_init(&d->hdr, NVMETCP_H2C_DATA, NVMETCP_F_DATA_LAST, false, false, 512, 0);
	d->cccid = htole16(5);
	d->ttag = htole16(0x1234);
	d->datal = htole32(512);
	if ((e = send_bytes(&c, buf, sizeof(buf))))
		return e;
	finish(&c, r, false);
	return 0;
}

static int admin_cmd(struct hostile_ctx *h, struct hostile_result *r, struct nvb_sqe *sqe,
		     const void *data, uint32_t len)
{
	struct raw_conn c;
	int e = open_admin(h, &c, true, NULL);

	if (e)
		return e;
	if ((e = raw_send_capsule(&c, sqe, data, len)) && e != -EPIPE && e != -ECONNRESET)
		return e;
	finish(&c, r, true);
	return 0;
}

static int h_unknown_fctype(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvb_fabrics_cmd f;

	memset(&f, 0, sizeof(f));
	f.opcode = NVB_FABRICS_OPCODE;
	f.cid = htole16(6);
	f.fctype = 0x55;
	return admin_cmd(h, r, (struct nvb_sqe *)&f, NULL, 0);
}

static int h_keyed_sgl(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvb_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_identify;
	sqe.cid = htole16(7);
	sqe.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
	sqe.dptr.length = htole32(4096);
	sqe.dptr.type = 0x40;   /* Keyed SGL Data Block: RDMA only */
	return admin_cmd(h, r, &sqe, NULL, 0);
}

static int h_incapsule_over_sgl(struct hostile_ctx *h, struct hostile_result *r)
{
	uint8_t data[512];
	struct nvb_sqe sqe;

	memset(data, 0, sizeof(data));
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_set_features;
	sqe.cid = htole16(8);
	sqe.cdw10 = htole32(NVME_FEAT_FID_TIMESTAMP);
	raw_sgl_incapsule(&sqe, 100);   /* the capsule carries 512 */
	return admin_cmd(h, r, &sqe, data, sizeof(data));
}

static int h_incapsule_too_big(struct hostile_ctx *h, struct hostile_result *r)
{
	static uint8_t data[64 * 1024];
	struct nvb_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_set_features;
	sqe.cid = htole16(9);
	sqe.cdw10 = htole32(NVME_FEAT_FID_TIMESTAMP);
	raw_sgl_incapsule(&sqe, sizeof(data));
	return admin_cmd(h, r, &sqe, data, sizeof(data));
}

static int h_create_sq(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvb_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_create_sq;    /* PCIe only */
	sqe.cid = htole16(10);
	sqe.cdw10 = htole32(1 | (31u << 16));
	return admin_cmd(h, r, &sqe, NULL, 0);
}

/* A 4 KiB write on an I/O queue; answer its R2T with H2CData that does
 * not fit it (`skew` bytes off, or longer), or whose data digest is wrong. */
static int bad_h2c(struct hostile_ctx *h, struct hostile_result *r, uint32_t skew,
		   uint32_t extra_len, bool bad_ddgst)
{
	static const uint8_t zeros[8192];
	static const uint8_t wrong_digest[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct raw_conn adm, q;
	struct raw_pdu p;
	struct nvb_sqe sqe;
	struct nvmetcp_data d;
	uint32_t len;
	int e = open_io(h, &adm, &q, bad_ddgst);

	if (e)
		return e;
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.cid = htole16(11);
	sqe.nsid = htole32(1);
	sqe.cdw12 = htole32(4096 / 512 - 1);    /* the driver's namespace 1 has 512-byte LBAs */
	raw_sgl_transport(&sqe, 4096);
	if ((e = raw_send_capsule(&q, &sqe, NULL, 0)))
		goto out;
	e = raw_recv_pdu(&q, &p, NULL, 0, HOSTILE_TIMEOUT_MS);
	if (e <= 0 || p.h.hdr.type != NVMETCP_R2T) {
		snprintf(r->detail, sizeof(r->detail), "no R2T for a 4 KiB write (%d, type %#x)", e,
			 e > 0 ? p.h.hdr.type : 0);
		r->end = RAW_END_OTHER;
		e = 0;
		goto out;
	}
	len = le32toh(p.h.r2t.r2tl) + extra_len;
	memset(&d, 0, sizeof(d));
	nvmetcp_pdu_init(&d.hdr, NVMETCP_H2C_DATA, NVMETCP_F_DATA_LAST, false, bad_ddgst, len, 0);
	d.cccid = p.h.r2t.cccid;
	d.ttag = p.h.r2t.ttag;
	d.datao = htole32(le32toh(p.h.r2t.r2to) + skew);
	d.datal = htole32(len);
	if ((e = send_bytes(&q, &d, sizeof(d))) || (e = send_bytes(&q, zeros, len)))
		goto out;
	if (bad_ddgst && (e = send_bytes(&q, wrong_digest, sizeof(wrong_digest))))
		goto out;
	finish(&q, r, true);
out:
	raw_close(&q);
	raw_close(&adm);
	return e < 0 ? e : 0;
}

static int h_h2cdata_wrong_offset(struct hostile_ctx *h, struct hostile_result *r)
{
	return bad_h2c(h, r, 512, 0, false);
}

static int h_h2cdata_too_long(struct hostile_ctx *h, struct hostile_result *r)
{
	return bad_h2c(h, r, 0, 4096, false);
}

static int h_h2cdata_bad_ddgst(struct hostile_ctx *h, struct hostile_result *r)
{
	return bad_h2c(h, r, 0, 0, true);
}

/* One I/O command on an I/O queue with `len` bytes in the capsule. */
static int io_cmd(struct hostile_ctx *h, struct hostile_result *r, struct nvb_sqe *sqe,
		  const void *data, uint32_t len)
{
	struct raw_conn adm, q;
	int e = open_io(h, &adm, &q, false);

	if (e)
		return e;
	e = raw_send_capsule(&q, sqe, data, len);
	if (e == 0 || e == -EPIPE || e == -ECONNRESET)
		finish(&q, r, true);
	raw_close(&q);
	raw_close(&adm);
	return e == -EPIPE || e == -ECONNRESET ? 0 : e;
}

static int h_io_incapsule_too_big(struct hostile_ctx *h, struct hostile_result *r)
{
	static uint8_t data[64 * 1024];
	struct nvb_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_write;
	sqe.cid = htole16(12);
	sqe.nsid = htole32(1);
	sqe.cdw12 = htole32(sizeof(data) / 512 - 1);
	raw_sgl_incapsule(&sqe, sizeof(data));
	return io_cmd(h, r, &sqe, data, sizeof(data));
}

static int h_read_over_mdts(struct hostile_ctx *h, struct hostile_result *r)
{
	struct nvb_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_read;
	sqe.cid = htole16(13);
	sqe.nsid = htole32(1);
	sqe.cdw12 = htole32(65535);             /* 32 MiB */
	raw_sgl_transport(&sqe, 65536 * 512);
	return io_cmd(h, r, &sqe, NULL, 0);
}

/* A status or -errno from raw_* as an ending. */
static void result_from_rc(struct hostile_result *r, int rc)
{
	r->status = rc > 0 ? (unsigned)rc : 0;
	r->end = rc > 0 ? RAW_END_ERROR_CQE : rc == 0 ? RAW_END_SUCCESS_CQE :
		 rc == -ECONNABORTED ? RAW_END_TERMREQ :
		 rc == -ETIMEDOUT ? RAW_END_TIMEOUT :
		 rc == -EPROTO ? RAW_END_OTHER : RAW_END_CLOSED;
	snprintf(r->detail, sizeof(r->detail), "Connect: %d", rc);
}

/* An I/O queue Connect with odd fields, for an enabled controller. */
static int io_connect(struct hostile_ctx *h, struct hostile_result *r, uint16_t qid,
		      uint16_t sqsize, bool twice)
{
	struct raw_conn adm, q, q2;
	uint16_t cntlid = 0;
	int e = open_admin(h, &adm, true, &cntlid);

	if (e)
		return e;
	e = open_conn(h, &q, true, false, false);
	if (e == 0) {
		e = raw_connect(&q, qid, cntlid, h->nqn, h->hostnqn, sqsize, 0, NULL,
				HOSTILE_TIMEOUT_MS);
		if (twice && e == 0) {
			e = open_conn(h, &q2, true, false, false);
			if (e == 0) {
				e = raw_connect(&q2, qid, cntlid, h->nqn, h->hostnqn, sqsize, 0,
						NULL, HOSTILE_TIMEOUT_MS);
				raw_close(&q2);
			}
		}
		result_from_rc(r, e);
		e = 0;
		raw_close(&q);
	}
	raw_close(&adm);
	return e;
}

static int h_io_connect_sqsize0(struct hostile_ctx *h, struct hostile_result *r)
{
	return io_connect(h, r, 1, 0, false);
}

static int h_io_connect_sqsize_huge(struct hostile_ctx *h, struct hostile_result *r)
{
	return io_connect(h, r, 1, 0xffff, false);
}

static int h_io_connect_qid_beyond(struct hostile_ctx *h, struct hostile_result *r)
{
	return io_connect(h, r, 5, 31, false);
}

static int h_io_connect_twice(struct hostile_ctx *h, struct hostile_result *r)
{
	return io_connect(h, r, 1, 31, true);
}

const struct hostile_case hostile_cases[] = {
	{ "random bytes", h_random_bytes, ENDS_DROP, 0 },
	{ "CapsuleCmd before ICReq", h_capsule_before_icreq, ENDS_DROP, 0 },
	{ "ICReq HLEN 16", h_icreq_hlen, ENDS_DROP, 0 },
	{ "ICReq PLEN 0xffffffff", h_icreq_plen_huge, ENDS_DROP, 0 },
	{ "ICReq PLEN 8", h_icreq_plen_small, ENDS_DROP, 0 },
	{ "ICReq PFV 1", h_icreq_pfv, ENDS_DROP, 0 },
	{ "ICReq HPDA 32", h_icreq_hpda, ENDS_DROP, 0 },
	{ "ICReq with data", h_icreq_with_data, ENDS_DROP, 0 },
	{ "ICReq truncated", h_icreq_truncated, ENDS_DROP, 0 },
	{ "ICResp from the host", h_icresp_from_host, ENDS_DROP, 0 },
	{ "H2CTermReq first", h_h2c_term_first, ENDS_DROP, 0 },
	{ "second ICReq", h_second_icreq, ENDS_DROP, 0 },
	{ "CapsuleCmd HLEN 24", h_capsule_hlen, ENDS_DROP, 0 },
	{ "CapsuleCmd PLEN 0xffffffff", h_capsule_plen_huge, ENDS_DROP, 0 },
	{ "CapsuleCmd PLEN < HLEN", h_capsule_plen_short, ENDS_DROP, 0 },
	{ "CapsuleCmd PDO < HLEN", h_capsule_pdo_low, ENDS_DROP, 0 },
	{ "CapsuleCmd PDO > PLEN", h_capsule_pdo_beyond, ENDS_DROP, 0 },
	{ "CapsuleCmd PDO unaligned", h_capsule_pdo_unaligned, ENDS_REFUSE, 0 },
	{ "bad header digest", h_bad_hdgst, ENDS_DROP, 0 },
	{ "unknown PDU type", h_unknown_type, ENDS_DROP, 0 },
	{ "R2T from the host", h_r2t_from_host, ENDS_DROP, 0 },
	{ "random bytes after ICReq", h_random_after_icreq, ENDS_DROP, 0 },
	{ "CapsuleCmd truncated", h_capsule_truncated, ENDS_DROP, 0 },
	{ "I/O before Connect", h_io_before_connect, ENDS_REFUSE, 0x00c },
	{ "Identify before Connect", h_admin_before_connect, ENDS_REFUSE, 0x00c },
	{ "Property Get before Connect", h_prop_before_connect, ENDS_REFUSE, 0 },
	{ "Connect with random data", h_connect_garbage, ENDS_REFUSE, 0 },
	{ "Connect with unterminated NQNs", h_connect_unterminated, ENDS_REFUSE, 0 },
	{ "Connect with 100 bytes of data", h_connect_short, ENDS_REFUSE, 0 },
	{ "Connect SGL longer than its data", h_connect_sgl_mismatch, ENDS_REFUSE, 0 },
	{ "Connect with a bad data digest", h_connect_bad_ddgst, ENDS_REFUSE, 0 },
	{ "H2CData with unknown TTAG", h_h2cdata_unknown_ttag, ENDS_DROP, 0 },
	{ "unknown Fabrics command", h_unknown_fctype, ENDS_REFUSE, 0 },
	{ "keyed SGL descriptor", h_keyed_sgl, ENDS_REFUSE, 0 },
	{ "in-capsule data beyond the SGL", h_incapsule_over_sgl, ENDS_REFUSE, 0 },
	{ "64 KiB of admin in-capsule data", h_incapsule_too_big, ENDS_REFUSE, 0 },
	{ "Create I/O SQ (PCIe only)", h_create_sq, END(RAW_END_ERROR_CQE), 0 },
	{ "H2CData at the wrong offset", h_h2cdata_wrong_offset, ENDS_DROP, 0 },
	{ "H2CData beyond the R2T", h_h2cdata_too_long, ENDS_DROP, 0 },
	{ "H2CData with a bad data digest", h_h2cdata_bad_ddgst, ENDS_REFUSE, 0 },
	{ "64 KiB of I/O in-capsule data", h_io_incapsule_too_big, ENDS_REFUSE, 0 },
	{ "Read of 32 MiB (over MDTS)", h_read_over_mdts, ENDS_REFUSE, 0 },
	{ "I/O Connect SQSIZE 0", h_io_connect_sqsize0, ENDS_REFUSE, 0 },
	{ "I/O Connect SQSIZE 65535", h_io_connect_sqsize_huge, ENDS_REFUSE, 0 },
	{ "I/O Connect QID 5 (1 granted)", h_io_connect_qid_beyond, ENDS_REFUSE, 0 },
	{ "I/O Connect of a QID twice", h_io_connect_twice, ENDS_REFUSE, 0 },
};
const int hostile_ncases = (int)(sizeof(hostile_cases) / sizeof(hostile_cases[0]));

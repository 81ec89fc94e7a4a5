/* SPDX-License-Identifier: MIT */
/*
 * Tests of the NVMe/TCP host library (nvmetcp/host*.c) against a small
 * fake target that lives in this file: a thread per connection answering
 * ICReq, Connect, Property Get/Set, Identify, logs, features, AERs, and
 * Read/Write/Compare/DSM/Write Zeroes against a RAM disk, with R2T,
 * split C2HData, digests, and switchable misbehaviour.
 * Test-only code: blocking sockets, a mutex around the disk, no pretence
 * of speed.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "nvmetcp/host.h"
#include "nvmetcp/pdu.h"

#define FAKE_BLOCKS   4096              /* 512-byte blocks: 2 MiB */
#define FAKE_LBA      512
#define FAKE_CNTLID   7
#define FAKE_NQN      "nqn.2026-04.io.nvbridge:test-sub"
#define FAKE_MAX_CONN 16
#define FAKE_MAX_CID  1024
#define FAKE_RXBUF    (2u << 20)
#define FAKE_VENDOR_LOG 0xc0

enum misbehave {
	MIS_NONE,
	MIS_C2H_OUT_OF_ORDER,   /* first C2HData at DATAO 512 */
	MIS_TERM_ON_IO,         /* C2HTermReq on the first I/O command */
	MIS_CORRUPT_DDGST,      /* wrong data digest on C2HData */
	MIS_R2T_OUT_OF_RANGE,   /* R2T beyond the command's length */
	MIS_CLOSE_ON_IO,        /* close the connection on the first I/O command */
	MIS_BAD_ICRESP,         /* MAXH2CDATA 1000 */
};

struct fake_cfg {
	uint8_t cpda;
	uint32_t maxh2cdata;
	uint32_t ioccsz;                /* 16-byte units */
	uint8_t mdts;
	uint32_t c2h_chunk;
	uint32_t r2t_chunk;
	bool c2h_success;
	unsigned mqes;                  /* 0's based */
	unsigned grant_queues;
	const char *bad_hostnqn;
	enum misbehave mis;
};

struct fake {
	struct fake_cfg cfg;
	int lfd;
	char port[16];
	pthread_t acceptor;
	pthread_t conns[FAKE_MAX_CONN];
	int nconns;
	atomic_bool stop;
	pthread_mutex_t lock;
	uint8_t *disk;
	uint64_t cc;

	atomic_int admin_ops[256];
	atomic_int io_incapsule, io_r2t, h2c_pdus, c2h_pdus;
	atomic_int hdgst_errors, ddgst_errors, sgl_errors, proto_errors;
	atomic_int h2c_term_fes;
	atomic_int connects;
	atomic_uint last_sqsize;
};

struct pending {
	bool active;
	struct nvb_sqe sqe;
	uint8_t *buf;
	uint32_t len, got, r2t_end;
	uint16_t ttag;
};

struct fconn {
	struct fake *f;
	int fd;
	bool hd, dd;
	uint16_t qid;
	bool connected;
	bool misbehaved;
	struct nvmetcp_params rx;
	uint8_t *data;
	struct pending *pw;
	bool aer_pending;
	uint16_t aer_cid;
};

/* ---- fake target: wire helpers ---- */

static int send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t r = send(fd, b, n, MSG_NOSIGNAL);

		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int recv_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = recv(fd, b, n, 0);

		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Send a PDU whose header (hlen bytes at hdr, with 4 spare bytes) was
 * built by the caller; the fake honours the host's HPDA (0 here). */
static int send_pdu(struct fconn *c, void *hdr, uint8_t type, uint8_t flags,
		    const void *data, uint32_t len, bool corrupt_ddgst)
{
	struct nvmetcp_hdr *h = hdr;
	struct nvmetcp_layout l;
	static const uint8_t pad[256];
	uint8_t dg[4];

	nvmetcp_pdu_init(h, type, flags, c->hd, c->dd, len, 0);
	nvmetcp_pdu_layout(h, &l);
	if (l.hdgst_len)
		nvmetcp_hdgst_put(h);
	if (send_all(c->fd, h, l.hlen + l.hdgst_len) || (l.pad && send_all(c->fd, pad, l.pad)))
		return -1;
	if (len && send_all(c->fd, data, len))
		return -1;
	if (l.ddgst_len) {
		nvmetcp_digest_put(dg, nvb_crc32c(data, len) ^ (corrupt_ddgst ? 1 : 0));
		if (send_all(c->fd, dg, 4))
			return -1;
	}
	return 0;
}

static int send_rsp(struct fconn *c, uint16_t cid, nvb_status st, uint64_t result)
{
	uint8_t buf[sizeof(struct nvmetcp_rsp) + 4] = { 0 };
	struct nvmetcp_rsp *rsp = (struct nvmetcp_rsp *)buf;

	rsp->cqe.cid = htole16(cid);
	rsp->cqe.sqid = htole16(c->qid);
	rsp->cqe.status = htole16((uint16_t)(st << 1));
	rsp->cqe.result.u64 = htole64(result);
	return send_pdu(c, buf, NVMETCP_CAPSULE_RSP, 0, NULL, 0, false);
}

/* C2HData in chunks; with SUCCESS on the last one no response follows. */
static int send_c2h(struct fconn *c, uint16_t cid, const uint8_t *data, uint32_t len)
{
	struct fake *f = c->f;
	uint32_t chunk = f->cfg.c2h_chunk ? f->cfg.c2h_chunk : len;
	bool success = f->cfg.c2h_success;

	for (uint32_t off = 0; off < len; off += chunk) {
		uint8_t buf[sizeof(struct nvmetcp_data) + 4] = { 0 };
		struct nvmetcp_data *d = (struct nvmetcp_data *)buf;
		uint32_t n = len - off < chunk ? len - off : chunk;
		bool last = off + n == len;
		uint32_t datao = off;
		uint8_t flags = last ? NVMETCP_F_DATA_LAST : 0;

		if (f->cfg.mis == MIS_C2H_OUT_OF_ORDER && !c->misbehaved && off == 0 && c->qid) {
			c->misbehaved = true;
			datao = 512;
		}
		d->cccid = htole16(cid);
		d->datao = htole32(datao);
		d->datal = htole32(n);
		f->c2h_pdus++;
		if (last && success)
			flags |= NVMETCP_F_DATA_SUCCESS;
		if (send_pdu(c, buf, NVMETCP_C2H_DATA, flags, data + off, n,
			     f->cfg.mis == MIS_CORRUPT_DDGST && c->qid))
			return -1;
		if (datao != off)
			return 0;       /* wait for the host's H2CTermReq */
	}
	return success ? 0 : send_rsp(c, cid, NVB_OK, 0);
}

static int send_r2t(struct fconn *c, uint16_t cid, struct pending *p)
{
	uint8_t buf[sizeof(struct nvmetcp_r2t) + 4] = { 0 };
	struct nvmetcp_r2t *t = (struct nvmetcp_r2t *)buf;
	uint32_t chunk = c->f->cfg.r2t_chunk ? c->f->cfg.r2t_chunk : p->len;
	uint32_t n = p->len - p->got < chunk ? p->len - p->got : chunk;

	t->cccid = htole16(cid);
	t->ttag = htole16(p->ttag);
	t->r2to = htole32(p->got);
	t->r2tl = htole32(n);
	if (c->f->cfg.mis == MIS_R2T_OUT_OF_RANGE)
		t->r2tl = htole32(p->len + 512);
	p->r2t_end = p->got + n;
	c->f->io_r2t++;
	return send_pdu(c, buf, NVMETCP_R2T, 0, NULL, 0, false);
}

/* ---- fake target: commands ---- */

static void fill_id_ctrl(struct fake *f, struct nvme_id_ctrl *id)
{
	memset(id, 0, sizeof(*id));
	memcpy(id->sn, "FAKE0001            ", 20);
	memcpy(id->mn, "nvmeh fake target                       ", 40);
	id->cntlid = htole16(FAKE_CNTLID);
	id->mdts = f->cfg.mdts;
	id->ver = htole32(0x10400);
	id->aerl = 3;
	id->nn = htole32(1);
	id->mnan = htole32(1);
	id->nanagrpid = htole32(1);
	id->anagrpmax = htole32(1);
	id->ioccsz = htole32(f->cfg.ioccsz);
	id->iorcsz = htole32(1);
	id->kas = 1;
	memcpy(id->subnqn, FAKE_NQN, sizeof(FAKE_NQN));
}

static void fill_id_ns(struct nvme_id_ns *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->nsze = ns->ncap = ns->nuse = htole64(FAKE_BLOCKS);
	ns->lbaf[0].ds = 9;
	ns->nmic = 1;
	ns->anagrpid = htole32(1);
	for (int i = 0; i < 16; i++)
		ns->nguid[i] = (uint8_t)(0xa0 + i);
}

/* Log pages: discovery (2 records), ANA, and a vendor page whose byte at
 * offset o is (o * 7) & 0xff so chunked reads can be checked. */
static void fill_log(uint8_t lid, uint64_t off, uint8_t *out, uint32_t len)
{
	size_t full_len = sizeof(struct nvmf_discovery_log) +
			  2 * sizeof(struct nvmf_disc_log_entry);
	uint8_t *full = calloc(1, full_len);

	if (lid == NVME_LOG_LID_DISCOVER) {
		struct nvmf_discovery_log *d = (struct nvmf_discovery_log *)full;

		d->genctr = htole64(5);
		d->numrec = htole64(2);
		for (int i = 0; i < 2; i++) {
			struct nvmf_disc_log_entry *e = &d->entries[i];

			e->trtype = NVMF_TRTYPE_TCP;
			e->adrfam = NVMF_ADDR_FAMILY_IP4;
			e->subtype = NVME_NQN_NVME;
			e->portid = htole16((uint16_t)(i + 1));
			snprintf(e->trsvcid, sizeof(e->trsvcid), "%d", 4420 + i);
			snprintf(e->traddr, sizeof(e->traddr), "127.0.0.1");
			snprintf(e->subnqn, sizeof(e->subnqn), FAKE_NQN);
		}
	} else if (lid == NVME_LOG_LID_ANA) {
		struct nvme_ana_log *a = (struct nvme_ana_log *)full;

		a->ngrps = htole16(1);
		a->descs[0].grpid = htole32(1);
		a->descs[0].nnsids = htole32(1);
		a->descs[0].state = NVB_ANA_OPTIMIZED;
		a->descs[0].nsids[0] = htole32(1);
		full_len = 16 + 32 + 4;
	}
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		if (lid == FAKE_VENDOR_LOG)
			out[i] = (uint8_t)(o * 7);
		else
			out[i] = o < full_len ? full[o] : 0;
	}
	free(full);
}

static int fabrics_cmd(struct fconn *c, struct nvb_sqe *sqe, uint8_t *data, uint32_t dlen)
{
	struct fake *f = c->f;
	uint16_t cid = le16toh(sqe->cid);
	uint8_t fctype = ((struct nvb_fabrics_cmd *)sqe)->fctype;
	struct nvb_prop_cmd *pc = (struct nvb_prop_cmd *)sqe;

	if (fctype == nvme_fabrics_type_connect) {
		struct nvb_connect_cmd *cc = (struct nvb_connect_cmd *)sqe;
		struct nvmf_connect_data *cd = (struct nvmf_connect_data *)data;

		f->connects++;
		if (dlen != sizeof(*cd) || sqe->dptr.type != NVB_SGL_INCAPSULE)
			return send_rsp(c, cid, NVB_SC(1, 0x82) | NVB_DNR, 0);
		if (f->cfg.bad_hostnqn && !strcmp(cd->hostnqn, f->cfg.bad_hostnqn))
			return send_rsp(c, cid, NVB_SC(1, 0x84) | NVB_DNR, 0);
		if (strcmp(cd->subsysnqn, FAKE_NQN) && strcmp(cd->subsysnqn, NVB_DISCOVERY_NQN))
			return send_rsp(c, cid, NVB_SC(1, 0x82) | NVB_DNR, (uint64_t)1 << 16 | 256);
		if (le16toh(cc->qid) && le16toh(cd->cntlid) != FAKE_CNTLID)
			return send_rsp(c, cid, NVB_SC(1, 0x82) | NVB_DNR, 0);
		c->qid = le16toh(cc->qid);
		f->last_sqsize = le16toh(cc->sqsize);
		c->connected = true;
		return send_rsp(c, cid, NVB_OK, FAKE_CNTLID);
	}
	if (!c->connected)
		return send_rsp(c, cid, NVB_CMD_SEQ_ERROR, 0);
	if (fctype == nvme_fabrics_type_property_get) {
		uint64_t v = 0;

		pthread_mutex_lock(&f->lock);
		switch (le32toh(pc->offset)) {
		case NVME_REG_CAP:
			v = f->cfg.mqes | (uint64_t)1 << 24 /* TO */ | (uint64_t)1 << 37 /* NVM */;
			break;
		case NVME_REG_VS:
			v = 0x10400;
			break;
		case NVME_REG_CC:
			v = f->cc;
			break;
		case NVME_REG_CSTS:
			v = (f->cc & 1) | (((f->cc >> 14) & 3) ? 2u << 2 : 0);
			break;
		}
		pthread_mutex_unlock(&f->lock);
		return send_rsp(c, cid, NVB_OK, v);
	}
	if (fctype == nvme_fabrics_type_property_set) {
		if (le32toh(pc->offset) == NVME_REG_CC) {
			pthread_mutex_lock(&f->lock);
			f->cc = le64toh(pc->value) & 0xffffffff;
			pthread_mutex_unlock(&f->lock);
		}
		return send_rsp(c, cid, NVB_OK, 0);
	}
	return send_rsp(c, cid, NVB_INVALID_OPCODE, 0);
}

static int admin_cmd(struct fconn *c, struct nvb_sqe *sqe)
{
	struct fake *f = c->f;
	uint16_t cid = le16toh(sqe->cid);
	uint32_t len = le32toh(sqe->dptr.length);
	uint8_t *buf;
	int r;

	f->admin_ops[sqe->opcode]++;
	switch (sqe->opcode) {
	case nvme_admin_identify:
		if (len != 4096)
			return send_rsp(c, cid, NVB_SC(0, 0x0f) | NVB_DNR, 0);
		buf = calloc(1, 4096);
		if ((le32toh(sqe->cdw10) & 0xff) == NVME_IDENTIFY_CNS_CTRL)
			fill_id_ctrl(f, (struct nvme_id_ctrl *)buf);
		else if ((le32toh(sqe->cdw10) & 0xff) == NVME_IDENTIFY_CNS_NS &&
			 le32toh(sqe->nsid) == 1)
			fill_id_ns((struct nvme_id_ns *)buf);
		r = send_c2h(c, cid, buf, 4096);
		free(buf);
		return r;
	case nvme_admin_get_log_page: {
		uint32_t cdw10 = le32toh(sqe->cdw10);
		uint32_t numd = (cdw10 >> 16 | le32toh(sqe->cdw11) << 16) + 1;
		uint64_t off = le32toh(sqe->cdw12) | (uint64_t)le32toh(sqe->cdw13) << 32;

		if (numd * 4 != len)
			return send_rsp(c, cid, NVB_SC(0, 0x0f) | NVB_DNR, 0);
		if (f->cfg.mdts && len > (4096u << f->cfg.mdts))
			return send_rsp(c, cid, NVB_INVALID_FIELD, 0);
		buf = malloc(len);
		fill_log((uint8_t)cdw10, off, buf, len);
		r = send_c2h(c, cid, buf, len);
		free(buf);
		return r;
	}
	case nvme_admin_set_features:
		if ((le32toh(sqe->cdw10) & 0xff) == NVME_FEAT_FID_NUM_QUEUES) {
			uint32_t g = f->cfg.grant_queues - 1;

			return send_rsp(c, cid, NVB_OK, g | g << 16);
		}
		if ((le32toh(sqe->cdw10) & 0xff) == NVME_FEAT_FID_ASYNC_EVENT && c->aer_pending) {
			/* An event fires while the host awaits this command. */
			c->aer_pending = false;
			if (send_rsp(c, c->aer_cid, NVB_OK, 0x00030002))
				return -1;
		}
		return send_rsp(c, cid, NVB_OK, 0);
	case nvme_admin_get_features:
		return send_rsp(c, cid, NVB_OK, 0x1234);
	case nvme_admin_keep_alive:
		return send_rsp(c, cid, NVB_OK, 0);
	case nvme_admin_abort_cmd:
		return send_rsp(c, cid, NVB_OK, 1);
	case nvme_admin_async_event:
		c->aer_pending = true;
		c->aer_cid = cid;
		return 0;
	default:
		return send_rsp(c, cid, NVB_INVALID_OPCODE, 0);
	}
}

/* A host-to-controller I/O command with all its data. */
static int io_h2c_done(struct fconn *c, struct nvb_sqe *sqe, uint8_t *data, uint32_t len)
{
	struct fake *f = c->f;
	uint16_t cid = le16toh(sqe->cid);
	uint64_t slba = le32toh(sqe->cdw10) | (uint64_t)le32toh(sqe->cdw11) << 32;
	nvb_status st = NVB_OK;

	pthread_mutex_lock(&f->lock);
	if (sqe->opcode == nvme_cmd_write) {
		memcpy(f->disk + slba * FAKE_LBA, data, len);
	} else if (sqe->opcode == nvme_cmd_compare) {
		if (memcmp(f->disk + slba * FAKE_LBA, data, len))
			st = NVB_COMPARE_FAILED;
	} else if (sqe->opcode == nvme_cmd_dsm) {
		struct nvme_dsm_range *rg = (struct nvme_dsm_range *)data;

		for (uint32_t i = 0; i < len / sizeof(*rg); i++) {
			uint64_t s = le64toh(rg[i].slba), n = le32toh(rg[i].nlb);

			if (s + n <= FAKE_BLOCKS)
				memset(f->disk + s * FAKE_LBA, 0, n * FAKE_LBA);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return send_rsp(c, cid, st, 0);
}

static int io_cmd(struct fconn *c, struct nvb_sqe *sqe, uint8_t *data, uint32_t dlen)
{
	struct fake *f = c->f;
	uint16_t cid = le16toh(sqe->cid);
	uint64_t slba = le32toh(sqe->cdw10) | (uint64_t)le32toh(sqe->cdw11) << 32;
	uint32_t nlb = (le32toh(sqe->cdw12) & 0xffff) + 1;
	uint32_t sgl_len = le32toh(sqe->dptr.length);
	uint32_t bytes = nlb * FAKE_LBA;
	enum nvb_xfer_dir dir = nvb_opcode_dir(sqe->opcode);

	if (f->cfg.mis == MIS_TERM_ON_IO) {
		uint8_t buf[NVMETCP_TERM_MAX_PLEN];
		size_t echo = nvmetcp_term_init((struct nvmetcp_term *)buf, NVMETCP_ROLE_TARGET,
						NVMETCP_FES_INVALID_HEADER, 1, 8);

		memset(buf + 24, 0, echo);
		send_all(c->fd, buf, 24 + echo);
		return -1;
	}
	if (f->cfg.mis == MIS_CLOSE_ON_IO)
		return -1;
	/* The SGL must describe the data exactly as NVMe/TCP §3.3 says. */
	if ((dlen && (sqe->dptr.type != NVB_SGL_INCAPSULE || sgl_len != dlen)) ||
	    (!dlen && sqe->dptr.type != NVB_SGL_TRANSPORT) || (sqe->flags & 0xc0) != 0x40)
		f->sgl_errors++;
	if (sqe->opcode == nvme_cmd_dsm)
		bytes = (le32toh(sqe->cdw10) & 0xff) * 16u + 16;
	if (sqe->opcode == nvme_cmd_flush)
		return send_rsp(c, cid, NVB_OK, 0);
	if (sqe->opcode != nvme_cmd_dsm && slba + nlb > FAKE_BLOCKS)
		return send_rsp(c, cid, NVB_LBA_RANGE, 0);
	if (sqe->opcode == nvme_cmd_write_zeroes) {
		pthread_mutex_lock(&f->lock);
		memset(f->disk + slba * FAKE_LBA, 0, bytes);
		pthread_mutex_unlock(&f->lock);
		return send_rsp(c, cid, NVB_OK, 0);
	}
	if (dir == NVB_XFER_NONE || sgl_len != bytes)
		return send_rsp(c, cid, sgl_len != bytes ? NVB_SC(0, 0x0f) | NVB_DNR :
				NVB_INVALID_OPCODE, 0);
	if (sqe->opcode == nvme_cmd_read) {
		uint8_t *buf = malloc(bytes);
		int r;

		pthread_mutex_lock(&f->lock);
		memcpy(buf, f->disk + slba * FAKE_LBA, bytes);
		pthread_mutex_unlock(&f->lock);
		r = send_c2h(c, cid, buf, bytes);
		free(buf);
		return r;
	}
	if (dlen) {
		f->io_incapsule++;
		return io_h2c_done(c, sqe, data, dlen);
	}
	if (cid >= FAKE_MAX_CID || c->pw[cid].active) {
		f->proto_errors++;
		return -1;
	}
	c->pw[cid] = (struct pending){
		.active = true, .sqe = *sqe, .buf = malloc(bytes), .len = bytes,
		.ttag = (uint16_t)(cid + 0x100),
	};
	return send_r2t(c, cid, &c->pw[cid]);
}

static int h2c_data(struct fconn *c, struct nvmetcp_data *d, uint8_t *data, uint32_t dlen)
{
	uint16_t cid = le16toh(d->cccid);
	struct pending *p = cid < FAKE_MAX_CID ? &c->pw[cid] : NULL;
	uint32_t off = le32toh(d->datao), len = le32toh(d->datal);
	int r;

	c->f->h2c_pdus++;
	if (!p || !p->active || le16toh(d->ttag) != p->ttag || off != p->got || len != dlen ||
	    off + len > p->r2t_end || len > c->f->cfg.maxh2cdata ||
	    !!(d->hdr.flags & NVMETCP_F_DATA_LAST) != (off + len == p->r2t_end)) {
		c->f->proto_errors++;
		return -1;
	}
	memcpy(p->buf + off, data, len);
	p->got += len;
	if (p->got < p->r2t_end)
		return 0;
	if (p->got < p->len)
		return send_r2t(c, cid, p);
	r = io_h2c_done(c, &p->sqe, p->buf, p->len);
	free(p->buf);
	p->buf = NULL;
	p->active = false;
	return r;
}

static int handle_icreq(struct fconn *c)
{
	struct nvmetcp_icreq req;
	struct nvmetcp_icresp rsp;
	struct nvmetcp_params setup = { 0 };
	uint16_t fes;
	uint32_t fei;

	if (recv_all(c->fd, &req, sizeof(req)) ||
	    nvmetcp_pdu_check(&req.hdr, NVMETCP_ROLE_TARGET, &setup, &fes, &fei) ||
	    req.hdr.type != NVMETCP_ICREQ || nvmetcp_icreq_check(&req, &fes, &fei))
		return -1;
	c->hd = req.dgst & NVMETCP_DGST_HDR;
	c->dd = req.dgst & NVMETCP_DGST_DATA;
	nvmetcp_icresp_init(&rsp, c->hd, c->dd, c->f->cfg.cpda,
			    c->f->cfg.mis == MIS_BAD_ICRESP ? 1000 : c->f->cfg.maxh2cdata);
	c->rx = (struct nvmetcp_params){
		.established = true, .hdgst = c->hd, .ddgst = c->dd,
		.rx_pda = nvmetcp_pda_bytes(c->f->cfg.cpda), .max_data = FAKE_RXBUF,
	};
	return send_all(c->fd, &rsp, sizeof(rsp));
}

/* One PDU from the host; -1 ends the connection. */
static int handle_pdu(struct fconn *c)
{
	struct fake *f = c->f;
	union {
		struct nvmetcp_hdr h;
		struct nvmetcp_cmd cmd;
		struct nvmetcp_data data;
		struct nvmetcp_term term;
		uint8_t raw[NVMETCP_MAX_HDR + 4];
	} hb;
	struct nvmetcp_layout l;
	uint8_t pad[256], dg[4];
	uint16_t fes;
	uint32_t fei;

	if (recv_all(c->fd, hb.raw, 8))
		return -1;
	if (nvmetcp_pdu_check(&hb.h, NVMETCP_ROLE_TARGET, &c->rx, &fes, &fei)) {
		f->proto_errors++;
		return -1;
	}
	nvmetcp_pdu_layout(&hb.h, &l);
	if (recv_all(c->fd, hb.raw + 8, l.hlen + l.hdgst_len - 8) ||
	    (l.pad && recv_all(c->fd, pad, l.pad)) ||
	    (l.data_len && recv_all(c->fd, c->data, l.data_len)) ||
	    (l.ddgst_len && recv_all(c->fd, dg, 4)))
		return -1;
	if (l.hdgst_len && !nvmetcp_hdgst_ok(&hb.h))
		f->hdgst_errors++;
	if (l.ddgst_len && nvmetcp_digest_get(dg) != nvb_crc32c(c->data, l.data_len))
		f->ddgst_errors++;

	switch (hb.h.type) {
	case NVMETCP_H2C_TERM:
		f->h2c_term_fes = le16toh(hb.term.fes);
		return -1;
	case NVMETCP_H2C_DATA:
		return h2c_data(c, &hb.data, c->data, l.data_len);
	case NVMETCP_CAPSULE_CMD:
		if (hb.cmd.sqe.opcode == NVB_FABRICS_OPCODE)
			return fabrics_cmd(c, &hb.cmd.sqe, c->data, l.data_len);
		if (!c->connected)
			return send_rsp(c, le16toh(hb.cmd.sqe.cid), NVB_CMD_SEQ_ERROR, 0);
		if (c->qid == 0)
			return admin_cmd(c, &hb.cmd.sqe);
		return io_cmd(c, &hb.cmd.sqe, c->data, l.data_len);
	default:
		f->proto_errors++;
		return -1;
	}
}

static void *conn_thread(void *arg)
{
	struct fconn *c = arg;

	c->data = malloc(FAKE_RXBUF);
	c->pw = calloc(FAKE_MAX_CID, sizeof(*c->pw));
	if (!handle_icreq(c)) {
		/* Until the host hangs up (every test does before
		 * fake_stop), so nothing the host sent goes unread. */
		while (!handle_pdu(c))
			;
	}
	for (int i = 0; i < FAKE_MAX_CID; i++)
		free(c->pw[i].buf);
	free(c->pw);
	free(c->data);
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct timeval tv = { 10, 0 };
		int one = 1, fd = accept(f->lfd, NULL, NULL);
		struct fconn *c;

		if (fd < 0)
			break;
		if (f->nconns == FAKE_MAX_CONN) {
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		c->f = f;
		c->fd = fd;
		pthread_create(&f->conns[f->nconns++], NULL, conn_thread, c);
	}
	return NULL;
}

static struct fake *fake_start(const struct fake_cfg *cfg)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	f->cfg = *cfg;
	if (!f->cfg.maxh2cdata)
		f->cfg.maxh2cdata = 4096;
	if (!f->cfg.ioccsz)
		f->cfg.ioccsz = (64 + 4096) / 16;
	if (!f->cfg.mqes)
		f->cfg.mqes = 127;
	if (!f->cfg.grant_queues)
		f->cfg.grant_queues = 4;
	pthread_mutex_init(&f->lock, NULL);
	f->disk = calloc(FAKE_BLOCKS, FAKE_LBA);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(f->lfd, 16), 0);
	getsockname(f->lfd, (struct sockaddr *)&a, &al);
	snprintf(f->port, sizeof(f->port), "%u", ntohs(a.sin_port));
	pthread_create(&f->acceptor, NULL, accept_thread, f);
	return f;
}

/* Stop the fake; returns how many errors it saw in what the host sent
 * and (optionally) the FES of the last H2CTermReq. */
static int fake_stop(struct fake *f, int *term_fes)
{
	int errors;

	atomic_store(&f->stop, true);
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->acceptor, NULL);
	close(f->lfd);
	for (int i = 0; i < f->nconns; i++)
		pthread_join(f->conns[i], NULL);
	errors = f->hdgst_errors + f->ddgst_errors + f->sgl_errors + f->proto_errors;
	if (term_fes)
		*term_fes = f->h2c_term_fes;
	pthread_mutex_destroy(&f->lock);
	free(f->disk);
	free(f);
	return errors;
}

/* ---- helpers for the tests ---- */

static void opts_for(struct nvmeh_opts *o, struct fake *f)
{
	nvmeh_opts_init(o);
	o->traddr = "127.0.0.1";
	o->trsvcid = f->port;
	o->subnqn = FAKE_NQN;
	o->hostnqn = NVMEH_TEST_HOSTNQN;
	o->nr_io_queues = 2;
	o->queue_depth = 16;
	o->cmd_timeout_ms = 5000;
	o->connect_timeout_ms = 5000;
}

static struct nvmeh_ctrl *connect_ok(const struct nvmeh_opts *o)
{
	struct nvmeh_ctrl *c;
	char err[256];
	int r = nvmeh_connect(o, &c, err, sizeof(err));

	ck_assert_msg(r == 0, "connect: %d %s", r, err);
	return c;
}

static void pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 31 + seed * 17 + (i >> 9)) ^ seed);
}

/* Write then read back len bytes at slba on queue qid, and compare. */
static void roundtrip(struct nvmeh_ctrl *c, unsigned qid, uint64_t slba, size_t len,
		      unsigned seed)
{
	uint8_t *w = malloc(len), *r = malloc(len);

	pattern(w, len, seed);
	memset(r, 0, len);
	ck_assert_int_eq(nvmeh_write(c, qid, 1, slba, (uint32_t)(len / FAKE_LBA), w, len), 0);
	ck_assert_int_eq(nvmeh_read(c, qid, 1, slba, (uint32_t)(len / FAKE_LBA), r, len), 0);
	ck_assert_mem_eq(w, r, len);
	ck_assert_int_eq(nvmeh_compare(c, qid, 1, slba, (uint32_t)(len / FAKE_LBA), w, len), 0);
	free(w);
	free(r);
}

/* ---- tests ---- */

static void basic_io(const struct fake_cfg *cfg, bool hdgst, bool ddgst)
{
	struct fake *f = fake_start(cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	const struct nvmeh_info *info;
	struct nvmeh_ns_info ns;
	uint8_t *buf = calloc(1, 131072);

	opts_for(&o, f);
	o.hdgst = hdgst;
	o.ddgst = ddgst;
	c = connect_ok(&o);
	info = nvmeh_info(c);
	ck_assert_uint_eq(info->cntlid, FAKE_CNTLID);
	ck_assert_uint_eq(info->nr_io_queues, 2);
	ck_assert_uint_eq(info->queue_depth, 16);
	ck_assert_uint_eq(f->last_sqsize, 15);
	ck_assert_uint_eq(info->io_incapsule, 4096);
	ck_assert_uint_eq(info->max_xfer, 4096u << 5);
	ck_assert_uint_eq(info->maxh2cdata, f->cfg.maxh2cdata);
	ck_assert(info->hdgst == hdgst && info->ddgst == ddgst);
	ck_assert_ptr_nonnull(info->id);
	ck_assert_uint_eq(le16toh(info->id->cntlid), FAKE_CNTLID);
	ck_assert_uint_eq(info->vs, 0x10400);

	ck_assert_int_eq(nvmeh_ns_info(c, 1, &ns), 0);
	ck_assert_uint_eq(ns.nsze, FAKE_BLOCKS);
	ck_assert_uint_eq(ns.lba_size, 512);
	ck_assert_uint_eq(ns.anagrpid, 1);
	ck_assert_uint_eq(ns.nguid[0], 0xa0);
	ck_assert_int_eq(nvmeh_ns_info(c, 2, &ns), -ENOENT);

	roundtrip(c, 1, 0, 512, 1);             /* in-capsule */
	roundtrip(c, 2, 8, 4096, 2);            /* in-capsule, at the limit */
	roundtrip(c, 1, 64, 4608, 3);           /* R2T, two H2CData */
	roundtrip(c, 2, 256, 131072, 4);        /* R2T, many H2CData, split C2HData */
	ck_assert_int_gt(f->io_incapsule, 0);
	ck_assert_int_gt(f->io_r2t, 0);

	/* Compare mismatch, out of range, flush, write zeroes, DSM. */
	memset(buf, 0x5a, 512);
	ck_assert_int_eq(nvmeh_compare(c, 1, 1, 0, 1, buf, 512), NVB_COMPARE_FAILED);
	ck_assert_int_eq(nvmeh_read(c, 1, 1, FAKE_BLOCKS - 1, 2, buf, 1024), NVB_LBA_RANGE);
	ck_assert_int_eq(nvmeh_flush(c, 2, 1), 0);
	ck_assert_int_eq(nvmeh_write_zeroes(c, 1, 1, 64, 2, 0), 0);
	ck_assert_int_eq(nvmeh_read(c, 1, 1, 64, 2, buf, 1024), 0);
	for (int i = 0; i < 1024; i++)
		ck_assert_uint_eq(buf[i], 0);
	struct nvme_dsm_range rg = { .nlb = htole32(8), .slba = htole64(256) };
	ck_assert_int_eq(nvmeh_dsm(c, 2, 1, &rg, 1, 1u << 2), 0);
	ck_assert_int_eq(nvmeh_read(c, 2, 1, 256, 8, buf, 4096), 0);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(buf[i], 0);
	/* Bad arguments stay local. */
	ck_assert_int_eq(nvmeh_read(c, 3, 1, 0, 1, buf, 512), -EINVAL);
	ck_assert_int_eq(nvmeh_read(c, 0, 1, 0, 1, buf, 512), -EINVAL);
	ck_assert_int_eq(nvmeh_read(c, 1, 1, 0, 0, buf, 512), -EINVAL);

	ck_assert_int_eq(nvmeh_keep_alive(c), 0);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
	free(buf);
}

START_TEST(test_io_plain)
{
	struct fake_cfg cfg = { .mdts = 5, .c2h_chunk = 3000, .r2t_chunk = 16384 };

	basic_io(&cfg, false, false);
}
END_TEST

START_TEST(test_io_digests)
{
	struct fake_cfg cfg = { .mdts = 5, .c2h_chunk = 5000, .r2t_chunk = 20480, .cpda = 7,
				.maxh2cdata = 8192 };

	basic_io(&cfg, true, true);
}
END_TEST

START_TEST(test_io_hdgst_only_success)
{
	struct fake_cfg cfg = { .mdts = 5, .c2h_chunk = 4096, .c2h_success = true };

	basic_io(&cfg, true, false);
}
END_TEST

START_TEST(test_no_incapsule)
{
	struct fake_cfg cfg = { .mdts = 5 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;

	opts_for(&o, f);
	o.no_incapsule = true;
	c = connect_ok(&o);
	ck_assert_uint_eq(nvmeh_info(c)->io_incapsule, 0);
	roundtrip(c, 1, 0, 512, 9);
	roundtrip(c, 1, 0, 4096, 10);
	ck_assert_int_eq(f->io_incapsule, 0);
	ck_assert_int_eq(f->io_r2t, 4);         /* writes and compares */
	nvmeh_disconnect(c);

	o.no_incapsule = false;
	o.incapsule_max = 1024;
	c = connect_ok(&o);
	ck_assert_uint_eq(nvmeh_info(c)->io_incapsule, 1024);
	roundtrip(c, 2, 0, 1024, 11);           /* in-capsule */
	roundtrip(c, 2, 0, 1536, 12);           /* R2T */
	ck_assert_int_eq(f->io_incapsule, 2);
	ck_assert_int_eq(f->io_r2t, 6);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

struct async_ctx {
	struct nvmeh_ctrl *c;
	unsigned qid;
	int errors;
	int done;
};

static void async_cb(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct async_ctx *a = arg;

	if (status)
		a->errors++;
	a->done++;
}

/* One thread per I/O queue: 64 writes then 64 reads of 4 KiB (R2T half the
 * time), QD 8, through nvmeh_submit/nvmeh_poll. */
static void *async_worker(void *arg)
{
	struct async_ctx *a = arg;
	enum { N = 64, QD = 8, BS = 8192 };
	uint8_t *data = malloc((size_t)N * BS), *back = calloc(N, BS);

	pattern(data, (size_t)N * BS, a->qid);
	for (int phase = 0; phase < 2; phase++) {
		int next = 0;

		a->done = 0;
		while (a->done < N) {
			while (next < N && next - a->done < QD) {
				struct nvb_sqe sqe = {
					.opcode = phase ? nvme_cmd_read : nvme_cmd_write,
					.nsid = htole32(1),
					.cdw10 = htole32(a->qid * 1024 + next * (BS / FAKE_LBA)),
					.cdw12 = htole32(BS / FAKE_LBA - 1),
				};
				uint8_t *p = (phase ? back : data) + (size_t)next * BS;
				int r = nvmeh_submit(a->c, a->qid, &sqe, p, next & 1 ? BS : 4096,
						     async_cb, a);

				if (r < 0) {
					a->errors++;
					a->done = N;
					break;
				}
				next++;
			}
			/* Short buffers (4096 of 8192) get a length error: count them. */
			if (nvmeh_poll(a->c, a->qid, 1, 5000) < 0) {
				a->errors += 1000;
				break;
			}
		}
	}
	/* Odd commands used the full length: their data must match. */
	for (int i = 1; i < N; i += 2)
		if (memcmp(data + (size_t)i * BS, back + (size_t)i * BS, BS))
			a->errors += 10000;
	free(data);
	free(back);
	return NULL;
}

START_TEST(test_async_threads)
{
	struct fake_cfg cfg = { .mdts = 5, .c2h_chunk = 2048, .r2t_chunk = 4096 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	struct async_ctx a[2];
	pthread_t t[2];

	opts_for(&o, f);
	o.queue_depth = 8;
	c = connect_ok(&o);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct async_ctx){ .c = c, .qid = (unsigned)i + 1 };
		pthread_create(&t[i], NULL, async_worker, &a[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		/* 32 of 64 writes and 32 of 64 reads had a wrong length. */
		ck_assert_int_eq(a[i].errors, 64);
	}
	ck_assert_uint_eq(nvmeh_outstanding(c, 1), 0);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

START_TEST(test_submit_limits)
{
	struct fake_cfg cfg = { .mdts = 5 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	struct async_ctx a = { 0 };
	uint8_t buf[512];
	struct nvb_sqe sqe = { .opcode = nvme_cmd_read, .nsid = htole32(1) };
	int cids[4];

	opts_for(&o, f);
	o.queue_depth = 4;
	c = connect_ok(&o);
	a.c = c;
	for (int i = 0; i < 4; i++) {
		cids[i] = nvmeh_submit(c, 1, &sqe, buf, 512, async_cb, &a);
		ck_assert_int_ge(cids[i], 0);
	}
	ck_assert_int_eq(nvmeh_submit(c, 1, &sqe, buf, 512, async_cb, &a), -EBUSY);
	ck_assert_int_eq(nvmeh_submit(c, 9, &sqe, buf, 512, async_cb, &a), -EINVAL);
	ck_assert_uint_eq(nvmeh_outstanding(c, 1), 4);
	ck_assert_int_eq(nvmeh_poll(c, 1, 4, 5000), 4);
	ck_assert_int_eq(a.done, 4);
	ck_assert_int_eq(a.errors, 0);
	ck_assert_int_eq(nvmeh_poll(c, 1, 1, 0), 0);
	nvmeh_disconnect(c);

	/* Depth 1: one command at a time, on a queue of the minimum 2 entries. */
	o.queue_depth = 1;
	c = connect_ok(&o);
	ck_assert_uint_eq(f->last_sqsize, 1);
	ck_assert_uint_eq(nvmeh_info(c)->queue_depth, 1);
	ck_assert_int_ge(nvmeh_submit(c, 1, &sqe, buf, 512, async_cb, &a), 0);
	ck_assert_int_eq(nvmeh_submit(c, 1, &sqe, buf, 512, async_cb, &a), -EBUSY);
	ck_assert_int_eq(nvmeh_poll(c, 1, 1, 5000), 1);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

START_TEST(test_admin_helpers)
{
	struct fake_cfg cfg = { .mdts = 1, .c2h_chunk = 1000 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint8_t *buf = malloc(20480);
	uint32_t res = 0;
	uint64_t v;
	void *ana;
	size_t ana_len;
	int before;

	opts_for(&o, f);
	o.nr_io_queues = 0;
	c = connect_ok(&o);
	ck_assert_uint_eq(nvmeh_info(c)->nr_io_queues, 0);
	ck_assert_uint_eq(nvmeh_info(c)->max_xfer, 8192);

	/* 20 KiB at offset 4 with an 8 KiB MDTS: three commands. */
	before = f->admin_ops[nvme_admin_get_log_page];
	ck_assert_int_eq(nvmeh_get_log_page(c, FAKE_VENDOR_LOG, 0, 0, 4, buf, 20480), 0);
	ck_assert_int_eq(f->admin_ops[nvme_admin_get_log_page] - before, 3);
	for (int i = 0; i < 20480; i++)
		ck_assert_uint_eq(buf[i], (uint8_t)((i + 4) * 7));
	ck_assert_int_eq(nvmeh_get_log_page(c, FAKE_VENDOR_LOG, 0, 0, 0, buf, 6), -EINVAL);

	ck_assert_int_eq(nvmeh_get_ana_log(c, false, &ana, &ana_len), 0);
	ck_assert_uint_eq(ana_len, 16 + 32 + 4);
	ck_assert_uint_eq(((struct nvme_ana_log *)ana)->descs[0].state, NVB_ANA_OPTIMIZED);
	ck_assert_uint_eq(le32toh(((struct nvme_ana_log *)ana)->descs[0].nsids[0]), 1);
	free(ana);

	ck_assert_int_eq(nvmeh_get_features(c, 0x0b, 0, &res), 0);
	ck_assert_uint_eq(res, 0x1234);
	ck_assert_int_eq(nvmeh_abort(c, 1, 3, &res), 0);
	ck_assert_uint_eq(res, 1);
	ck_assert_int_eq(nvmeh_prop_get(c, NVME_REG_CC, 4, &v), 0);
	ck_assert_uint_eq(v & 1, 1);
	ck_assert_uint_eq((v >> 16) & 0xf, 6);
	ck_assert_uint_eq((v >> 20) & 0xf, 4);
	ck_assert_int_eq(nvmeh_prop_get(c, NVME_REG_CC, 3, &v), -EINVAL);
	struct nvb_sqe sqe = { .opcode = 0xc1 };
	ck_assert_int_eq(nvmeh_admin_passthru(c, &sqe, NULL, 0, NVB_XFER_NONE, NULL),
			 NVB_INVALID_OPCODE);
	ck_assert_str_eq(nvmeh_status_name(NVB_INVALID_OPCODE), "invalid opcode");
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
	free(buf);
}
END_TEST

/* An AER that completes while the host waits for another admin command
 * is kept and handed out by nvmeh_aer_wait. */
START_TEST(test_aer_buffered)
{
	struct fake_cfg cfg = { .mdts = 5 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint32_t res = 0;

	opts_for(&o, f);
	o.nr_io_queues = 1;
	c = connect_ok(&o);
	ck_assert_int_eq(nvmeh_aer_wait(c, 0, &res), -ENOENT);
	ck_assert_int_eq(nvmeh_aer_submit(c), 0);
	ck_assert_int_eq(nvmeh_aer_wait(c, 100, &res), -ETIMEDOUT);
	ck_assert_int_eq(nvmeh_set_features(c, NVME_FEAT_FID_ASYNC_EVENT, 0x800, NULL), 0);
	ck_assert_int_eq(nvmeh_aer_wait(c, 0, &res), 0);
	ck_assert_uint_eq(res, 0x00030002);
	ck_assert_int_eq(nvmeh_aer_wait(c, 0, &res), -ENOENT);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

/* Waiting on the admin queue sends Keep Alives every KATO/2. */
START_TEST(test_keep_alive)
{
	struct fake_cfg cfg = { .mdts = 5 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint32_t res;

	opts_for(&o, f);
	o.nr_io_queues = 0;
	o.kato_ms = 200;
	c = connect_ok(&o);
	ck_assert_int_eq(nvmeh_aer_submit(c), 0);
	ck_assert_int_eq(nvmeh_aer_wait(c, 700, &res), -ETIMEDOUT);
	ck_assert_int_ge(f->admin_ops[nvme_admin_keep_alive], 4);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct fake_cfg cfg = { .mdts = 5, .bad_hostnqn = "nqn.2026-04.io.nvbridge:host:bad" };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	char err[256];
	int r;

	opts_for(&o, f);
	o.hostnqn = "nqn.2026-04.io.nvbridge:host:bad";
	r = nvmeh_connect(&o, &c, err, sizeof(err));
	ck_assert_int_eq(r, NVB_SC(1, 0x84) | NVB_DNR);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "sct 0x1 sc 0x84"), "%s", err);
	ck_assert_msg(strstr(err, "invalid host"), "%s", err);

	o.hostnqn = NULL;
	o.subnqn = "nqn.2026-04.io.nvbridge:nope";
	r = nvmeh_connect(&o, &c, err, sizeof(err));
	ck_assert_int_eq(r, NVB_SC(1, 0x82) | NVB_DNR);
	ck_assert_msg(strstr(err, "[data field]"), "%s", err);

	o.subnqn = NULL;
	ck_assert_int_eq(nvmeh_connect(&o, &c, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

START_TEST(test_connect_errors)
{
	struct fake_cfg cfg = { .mis = MIS_BAD_ICRESP };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	char err[256];
	int r;

	opts_for(&o, f);
	r = nvmeh_connect(&o, &c, err, sizeof(err));
	ck_assert_int_eq(r, -EPROTO);
	ck_assert_msg(strstr(err, "byte 12"), "%s", err);
	ck_assert_int_eq(fake_stop(f, NULL), 0);

	/* Nobody listening: refused, quickly. */
	o.trsvcid = "1";
	r = nvmeh_connect(&o, &c, err, sizeof(err));
	ck_assert_int_eq(r, -ECONNREFUSED);
	ck_assert_msg(strstr(err, "connect to 127.0.0.1:1"), "%s", err);
}
END_TEST

START_TEST(test_discovery)
{
	struct fake_cfg cfg = { .c2h_chunk = 1500 };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmf_discovery_log *log;
	char err[256];
	size_t len;

	opts_for(&o, f);
	ck_assert_int_eq(nvmeh_discover(&o, &log, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 3 * 1024);
	ck_assert_uint_eq(le64toh(log->numrec), 2);
	ck_assert_uint_eq(le64toh(log->genctr), 5);
	ck_assert_str_eq(log->entries[1].trsvcid, "4421");
	ck_assert_str_eq(log->entries[0].subnqn, FAKE_NQN);
	/* Discovery does not identify: 4 KiB chunks. Header, 3 KiB, header. */
	ck_assert_int_eq(f->admin_ops[nvme_admin_get_log_page], 3);
	ck_assert_int_eq(f->admin_ops[nvme_admin_identify], 0);
	free(log);
	ck_assert_int_eq(fake_stop(f, NULL), 0);
}
END_TEST

/* A controller that breaks the protocol fails the queue (and only it),
 * with an H2CTermReq where the host can tell it why. */
static void broken_target(enum misbehave mis, bool ddgst, int want, uint16_t want_fes)
{
	struct fake_cfg cfg = { .mdts = 5, .c2h_chunk = 1024, .mis = mis };
	struct fake *f = fake_start(&cfg);
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint8_t buf[8192] = { 0 };
	int r, fes;

	opts_for(&o, f);
	o.ddgst = ddgst;
	c = connect_ok(&o);
	if (mis == MIS_R2T_OUT_OF_RANGE)
		r = nvmeh_write(c, 1, 1, 0, 16, buf, 8192);
	else
		r = nvmeh_read(c, 1, 1, 0, 4, buf, 2048);
	ck_assert_int_eq(r, want);
	ck_assert_int_eq(nvmeh_queue_error(c, 1), want);
	ck_assert_int_eq(nvmeh_read(c, 1, 1, 0, 1, buf, 512), want);
	ck_assert_int_eq(nvmeh_poll(c, 1, 0, 0), want);
	/* The other queues carry on. */
	ck_assert_int_eq(nvmeh_queue_error(c, 2), 0);
	ck_assert_int_eq(nvmeh_keep_alive(c), 0);
	nvmeh_disconnect(c);
	ck_assert_int_eq(fake_stop(f, &fes), 0);
	ck_assert_int_eq(fes, want_fes);
}

START_TEST(test_c2h_out_of_order)
{
	broken_target(MIS_C2H_OUT_OF_ORDER, false, -EPROTO, NVMETCP_FES_DATA_OUT_OF_RANGE);
}
END_TEST

START_TEST(test_c2h_term)
{
	broken_target(MIS_TERM_ON_IO, false, -ECONNABORTED, 0);
}
END_TEST

START_TEST(test_bad_ddgst)
{
	broken_target(MIS_CORRUPT_DDGST, true, -EBADMSG, 0);
}
END_TEST

START_TEST(test_r2t_out_of_range)
{
	broken_target(MIS_R2T_OUT_OF_RANGE, false, -EPROTO, NVMETCP_FES_DATA_OUT_OF_RANGE);
}
END_TEST

START_TEST(test_target_closes)
{
	broken_target(MIS_CLOSE_ON_IO, false, -ECONNRESET, 0);
}
END_TEST

START_TEST(test_raw)
{
	struct fake_cfg cfg = { .maxh2cdata = 65536 };
	struct fake *f = fake_start(&cfg);
	struct nvmetcp_icresp rsp;
	uint16_t fes;
	uint32_t fei;
	uint8_t junk[64], back[8];
	int fd;

	fd = nvmeh_raw_connect("127.0.0.1", f->port, 2000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(nvmeh_raw_icreq(fd, true, false, &rsp, 2000), 0);
	ck_assert_int_eq(nvmetcp_icresp_check(&rsp, true, false, &fes, &fei), 0);
	ck_assert_uint_eq(le32toh(rsp.maxh2cdata), 65536);
	/* Garbage: the fake drops the connection, we see EOF. */
	memset(junk, 0xee, sizeof(junk));
	ck_assert_int_eq(nvmeh_raw_send(fd, junk, sizeof(junk)), sizeof(junk));
	/* EOF, or a reset as the fake closed with our junk unread. */
	ck_assert_int_le(nvmeh_raw_recv(fd, back, sizeof(back), 2000), 0);
	ck_assert_int_ne(nvmeh_raw_recv(fd, back, sizeof(back), 2000), -ETIMEDOUT);
	close(fd);

	/* Nothing arrives: timeout. */
	fd = nvmeh_raw_connect("127.0.0.1", f->port, 2000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(nvmeh_raw_recv(fd, back, sizeof(back), 100), -ETIMEDOUT);
	close(fd);
	ck_assert_int_eq(fake_stop(f, NULL), 1);        /* the junk */
}
END_TEST

static Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_io_plain);
	tcase_add_test(tc, test_io_digests);
	tcase_add_test(tc, test_io_hdgst_only_success);
	tcase_add_test(tc, test_no_incapsule);
	tcase_add_test(tc, test_async_threads);
	tcase_add_test(tc, test_submit_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_admin_helpers);
	tcase_add_test(tc, test_aer_buffered);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_discovery);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile-target");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_c2h_out_of_order);
	tcase_add_test(tc, test_c2h_term);
	tcase_add_test(tc, test_bad_ddgst);
	tcase_add_test(tc, test_r2t_out_of_range);
	tcase_add_test(tc, test_target_closes);
	tcase_add_test(tc, test_raw);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(host_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * Host library: admin queue commands (Fabrics properties, Identify, logs,
 * features, Keep Alive, Abort, AERs) and discovery. Waits on the admin
 * queue send a Keep Alive when one is due, and AER completions that arrive
 * meanwhile are kept in a small ring until nvmeh_aer_wait() takes them.
 */
#include "nvmetcp/host_priv.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LOG_CHUNK 4096          /* when MDTS is unknown (discovery) */
#define MAX_LOG_CHUNK     (1u << 20)
#define MAX_DISC_RECORDS  4096
#define DISC_LOG_RETRIES  4

enum nvb_xfer_dir nvmeh_sqe_dir(const struct nvb_sqe *sqe)
{
	/* Fabrics commands carry the direction in FCTYPE (NVMe-oF 1.1 §3.3). */
	if (sqe->opcode == NVB_FABRICS_OPCODE)
		return (enum nvb_xfer_dir)(((const struct nvb_fabrics_cmd *)sqe)->fctype & 3);
	return nvb_opcode_dir(sqe->opcode);
}

static void ka_done(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct nvmeh_ctrl *c = arg;

	c->ka_inflight = false;
}

/* Send a Keep Alive without waiting for it when half of KATO passed. */
void nvmeh_ka_tick(struct nvmeh_ctrl *c)
{
	struct nvb_sqe sqe = { .opcode = nvme_admin_keep_alive };
	int64_t now;

	if (!c->opts.kato_ms)
		return;
	now = nvmeh_now_ns();
	if (now < c->ka_next_ns)
		return;
	if (c->ka_inflight) {
		/* The last one is still unanswered: look again later rather
		 * than pile them up (or spin). */
		c->ka_next_ns = now + (int64_t)c->opts.kato_ms * 500000;
		return;
	}
	if (nvmeh_q_submit(c->queues[0], &sqe, NULL, 0, NVB_XFER_NONE, false, ka_done, c) >= 0) {
		c->ka_inflight = true;
		c->ka_next_ns = now + (int64_t)c->opts.kato_ms * 500000;
	}
}

/* Drive the admin queue until *done, keeping the association alive. */
static int admin_wait(struct nvmeh_ctrl *c, const bool *done, int64_t deadline)
{
	struct nvmeh_queue *q = c->queues[0];

	for (;;) {
		int64_t until = deadline;
		int r;

		nvmeh_ka_tick(c);
		if (c->opts.kato_ms && c->ka_next_ns < until)
			until = c->ka_next_ns;
		r = nvmeh_q_run(q, done, 0, until);
		if (r != -ETIMEDOUT || *done)
			return r;
		if (until == deadline)
			return -ETIMEDOUT;
	}
}

int nvmeh_admin_exec(struct nvmeh_ctrl *c, const struct nvb_sqe *sqe,
		     const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		     bool force_incapsule, struct nvb_cqe *cqe)
{
	struct nvmeh_queue *q = c->queues[0];
	struct nvmeh_sync w = { 0 };
	int r;

	nvmeh_ka_tick(c);
	r = nvmeh_q_submit(q, sqe, iov, iovcnt, dir, force_incapsule, nvmeh_sync_done, &w);
	if (r < 0)
		return r;
	r = admin_wait(c, &w.done, nvmeh_deadline((int)c->opts.cmd_timeout_ms));
	if (!w.done)
		nvmeh_q_fail(q, r ? r : -EIO);  /* completes w */
	if (!w.done)
		return r ? r : -EIO;
	if (cqe && w.status >= 0)
		*cqe = w.cqe;
	return w.status;
}

static int admin_buf(struct nvmeh_ctrl *c, const struct nvb_sqe *sqe, void *buf, size_t len,
		     enum nvb_xfer_dir dir, struct nvb_cqe *cqe)
{
	struct iovec iov = { buf, len };

	return nvmeh_admin_exec(c, sqe, &iov, len ? 1 : 0, dir, false, cqe);
}

int nvmeh_admin_passthru(struct nvmeh_ctrl *c, const struct nvb_sqe *sqe, void *buf,
			 size_t len, enum nvb_xfer_dir dir, struct nvb_cqe *cqe)
{
	return admin_buf(c, sqe, buf, len, dir, cqe);
}

int nvmeh_passthru(struct nvmeh_ctrl *c, unsigned qid, const struct nvb_sqe *sqe,
		   const struct iovec *iov, int iovcnt, enum nvb_xfer_dir dir,
		   struct nvb_cqe *cqe)
{
	if (qid >= c->nr_queues)
		return -EINVAL;
	if (qid == 0)
		return nvmeh_admin_exec(c, sqe, iov, iovcnt, dir, false, cqe);
	return nvmeh_q_exec(c->queues[qid], sqe, iov, iovcnt, dir, false, cqe,
			    c->opts.cmd_timeout_ms);
}

/* ---- Fabrics properties (NVMe-oF 1.1 §3.4, §3.5) ---- */

int nvmeh_prop_get(struct nvmeh_ctrl *c, uint32_t offset, unsigned size, uint64_t *value)
{
	struct nvb_prop_cmd cmd = {
		.opcode = NVB_FABRICS_OPCODE,
		.fctype = nvme_fabrics_type_property_get,
		.attrib = size == 8 ? 1 : 0,
		.offset = htole32(offset),
	};
	struct nvb_cqe cqe;
	int r;

	if (size != 4 && size != 8)
		return -EINVAL;
	r = admin_buf(c, (struct nvb_sqe *)&cmd, NULL, 0, NVB_XFER_NONE, &cqe);
	if (!r)
		*value = size == 8 ? le64toh(cqe.result.u64) : le32toh(cqe.result.u32);
	return r;
}

int nvmeh_prop_set(struct nvmeh_ctrl *c, uint32_t offset, unsigned size, uint64_t value)
{
	struct nvb_prop_cmd cmd = {
		.opcode = NVB_FABRICS_OPCODE,
		.fctype = nvme_fabrics_type_property_set,
		.attrib = size == 8 ? 1 : 0,
		.offset = htole32(offset),
		.value = htole64(value),
	};

	if (size != 4 && size != 8)
		return -EINVAL;
	return admin_buf(c, (struct nvb_sqe *)&cmd, NULL, 0, NVB_XFER_NONE, NULL);
}

/* ---- Admin commands ---- */

int nvmeh_identify(struct nvmeh_ctrl *c, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvb_sqe sqe = {
		.opcode = nvme_admin_identify,
		.nsid = htole32(nsid),
		.cdw10 = htole32(cns),
	};

	return admin_buf(c, &sqe, buf, NVME_IDENTIFY_DATA_SIZE, NVB_XFER_CTRL_TO_HOST, NULL);
}

static uint32_t log_chunk(const struct nvmeh_ctrl *c)
{
	uint32_t chunk = c->info.max_xfer;

	if (!c->id)
		return DEFAULT_LOG_CHUNK;
	if (!chunk || chunk > MAX_LOG_CHUNK)
		chunk = MAX_LOG_CHUNK;
	return chunk;
}

/* NVMe 2.0 §5.16: NUMD (0's based dwords) split in NUMDL/NUMDU, LPO in
 * CDW12/13; one command per MDTS-sized piece. */
int nvmeh_get_log_page(struct nvmeh_ctrl *c, uint8_t lid, uint8_t lsp, uint32_t nsid,
		       uint64_t offset, void *buf, size_t len)
{
	uint32_t chunk = log_chunk(c);

	if ((len % 4) || (offset % 4) || !len)
		return -EINVAL;
	while (len) {
		uint32_t n = len < chunk ? (uint32_t)len : chunk;
		uint32_t numd = n / 4 - 1;
		struct nvb_sqe sqe = {
			.opcode = nvme_admin_get_log_page,
			.nsid = htole32(nsid),
			.cdw10 = htole32(lid | (uint32_t)(lsp & 0x7f) << 8 | (numd & 0xffff) << 16),
			.cdw11 = htole32(numd >> 16),
			.cdw12 = htole32((uint32_t)offset),
			.cdw13 = htole32((uint32_t)(offset >> 32)),
		};
		int r = admin_buf(c, &sqe, buf, n, NVB_XFER_CTRL_TO_HOST, NULL);

		if (r)
			return r;
		buf = (uint8_t *)buf + n;
		offset += n;
		len -= n;
	}
	return 0;
}

static int features(struct nvmeh_ctrl *c, uint8_t opcode, uint8_t fid, uint32_t cdw11,
		    uint32_t *result)
{
	struct nvb_sqe sqe = {
		.opcode = opcode,
		.cdw10 = htole32(fid),
		.cdw11 = htole32(cdw11),
	};
	struct nvb_cqe cqe;
	int r = admin_buf(c, &sqe, NULL, 0, NVB_XFER_NONE, &cqe);

	if (r >= 0 && result)
		*result = r ? 0 : le32toh(cqe.result.u32);
	return r;
}

int nvmeh_get_features(struct nvmeh_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *result)
{
	return features(c, nvme_admin_get_features, fid, cdw11, result);
}

int nvmeh_set_features(struct nvmeh_ctrl *c, uint8_t fid, uint32_t cdw11, uint32_t *result)
{
	return features(c, nvme_admin_set_features, fid, cdw11, result);
}

int nvmeh_keep_alive(struct nvmeh_ctrl *c)
{
	struct nvb_sqe sqe = { .opcode = nvme_admin_keep_alive };
	int r;

	/* Counts as the due Keep Alive. */
	c->ka_next_ns = nvmeh_now_ns() + (int64_t)c->opts.kato_ms * 500000;
	r = admin_buf(c, &sqe, NULL, 0, NVB_XFER_NONE, NULL);
	return r;
}

int nvmeh_abort(struct nvmeh_ctrl *c, uint16_t sqid, uint16_t cid, uint32_t *result)
{
	struct nvb_sqe sqe = {
		.opcode = nvme_admin_abort_cmd,
		.cdw10 = htole32(sqid | (uint32_t)cid << 16),
	};
	struct nvb_cqe cqe;
	int r = admin_buf(c, &sqe, NULL, 0, NVB_XFER_NONE, &cqe);

	if (!r && result)
		*result = le32toh(cqe.result.u32);
	return r;
}

/* ---- Asynchronous events ---- */

static void aer_done(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct nvmeh_ctrl *c = arg;
	unsigned slot;

	c->aer_pending--;
	if (c->aer_count == NVMEH_AER_RING) {      /* full: drop the oldest */
		c->aer_head = (c->aer_head + 1) % NVMEH_AER_RING;
		c->aer_count--;
	}
	slot = (c->aer_head + c->aer_count) % NVMEH_AER_RING;
	c->aer_ring[slot].status = status;
	c->aer_ring[slot].result = cqe ? le32toh(cqe->result.u32) : 0;
	c->aer_count++;
	c->aer_arrived = true;
}

int nvmeh_aer_submit(struct nvmeh_ctrl *c)
{
	struct nvb_sqe sqe = { .opcode = nvme_admin_async_event };
	int r;

	if (!c->nr_queues)
		return -EINVAL;
	r = nvmeh_q_submit(c->queues[0], &sqe, NULL, 0, NVB_XFER_NONE, false, aer_done, c);
	if (r < 0)
		return r;
	c->aer_pending++;
	/* Put it on the wire now: the event may come while the caller waits
	 * for something else. */
	nvmeh_q_run(c->queues[0], NULL, 0, 0);
	return 0;
}

int nvmeh_aer_wait(struct nvmeh_ctrl *c, int timeout_ms, uint32_t *result)
{
	int status;

	if (!c->aer_count) {
		int r;

		if (!c->aer_pending)
			return c->queues[0]->err ? c->queues[0]->err : -ENOENT;
		c->aer_arrived = false;
		r = admin_wait(c, &c->aer_arrived, nvmeh_deadline(timeout_ms));
		if (!c->aer_count)
			return r ? r : -ETIMEDOUT;
	}
	status = c->aer_ring[c->aer_head].status;
	if (result)
		*result = c->aer_ring[c->aer_head].result;
	c->aer_head = (c->aer_head + 1) % NVMEH_AER_RING;
	c->aer_count--;
	return status;
}

/* ---- Namespaces, ANA, discovery ---- */

int nvmeh_ns_info(struct nvmeh_ctrl *c, uint32_t nsid, struct nvmeh_ns_info *info)
{
	struct nvme_id_ns *ns = aligned_alloc(4096, sizeof(*ns));
	unsigned fmt;
	int r;

	if (!ns)
		return -ENOMEM;
	r = nvmeh_identify(c, NVME_IDENTIFY_CNS_NS, nsid, ns);
	if (r)
		goto out;
	/* FLBAS bits 3:0, and 6:5 as the upper bits when NLBAF > 16. */
	fmt = (ns->flbas & 0xf) | (ns->nlbaf >= 16 ? ((ns->flbas >> 5) & 3) << 4 : 0);
	memset(info, 0, sizeof(*info));
	info->nsze = le64toh(ns->nsze);
	info->ncap = le64toh(ns->ncap);
	info->nuse = le64toh(ns->nuse);
	info->lba_shift = ns->lbaf[fmt].ds;
	info->anagrpid = le32toh(ns->anagrpid);
	info->nmic = ns->nmic;
	memcpy(info->nguid, ns->nguid, sizeof(info->nguid));
	memcpy(info->eui64, ns->eui64, sizeof(info->eui64));
	/* An inactive NSID reads as zeros. */
	if (info->lba_shift < 9 || info->lba_shift > 16 || !info->nsze) {
		r = -ENOENT;
		goto out;
	}
	info->lba_size = 1u << info->lba_shift;
out:
	free(ns);
	return r;
}

int nvmeh_get_ana_log(struct nvmeh_ctrl *c, bool rgo, void **log, size_t *len)
{
	size_t size, nsids;
	void *buf;
	int r;

	*log = NULL;
	*len = 0;
	if (!c->id)
		return -EINVAL;
	nsids = le32toh(c->id->mnan) ? le32toh(c->id->mnan) : le32toh(c->id->nn);
	if (nsids > (size_t)NVB_MAX_NSID * 64)
		return -EPROTO;
	/* NVMe 2.0 §5.16.1.13: header, a descriptor per group, NSIDs. */
	size = sizeof(struct nvme_ana_log) +
	       le32toh(c->id->nanagrpid) * sizeof(struct nvme_ana_group_desc) +
	       (rgo ? 0 : nsids * 4);
	if (le32toh(c->id->nanagrpid) > 65536)
		return -EPROTO;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	r = nvmeh_get_log_page(c, NVME_LOG_LID_ANA, rgo ? 1 : 0, 0, 0, buf, size);
	if (r) {
		free(buf);
		return r;
	}
	*log = buf;
	*len = size;
	return 0;
}

int nvmeh_get_discovery_log(struct nvmeh_ctrl *c, struct nvmf_discovery_log **log, size_t *len)
{
	struct nvmf_discovery_log *hdr;
	int r = -EAGAIN;

	*log = NULL;
	*len = 0;
	hdr = calloc(1, sizeof(*hdr));
	if (!hdr)
		return -ENOMEM;
	/* NVMe-oF 1.1 §5.3: read the header, then all NUMREC records, and
	 * retry if GENCTR moved meanwhile. */
	for (int attempt = 0; attempt < DISC_LOG_RETRIES; attempt++) {
		struct nvmf_discovery_log *all;
		uint64_t genctr, numrec;
		size_t size;

		r = nvmeh_get_log_page(c, NVME_LOG_LID_DISCOVER, 0, 0, 0, hdr, sizeof(*hdr));
		if (r)
			break;
		genctr = le64toh(hdr->genctr);
		numrec = le64toh(hdr->numrec);
		if (numrec > MAX_DISC_RECORDS) {
			r = -EPROTO;
			break;
		}
		size = sizeof(*hdr) + numrec * sizeof(struct nvmf_disc_log_entry);
		all = calloc(1, size);
		if (!all) {
			r = -ENOMEM;
			break;
		}
		r = nvmeh_get_log_page(c, NVME_LOG_LID_DISCOVER, 0, 0, 0, all, size);
		if (!r)
			r = nvmeh_get_log_page(c, NVME_LOG_LID_DISCOVER, 0, 0, 0, hdr,
					       sizeof(*hdr));
		if (r) {
			free(all);
			break;
		}
		if (le64toh(all->genctr) == genctr && le64toh(hdr->genctr) == genctr &&
		    le64toh(all->numrec) == numrec) {
			*log = all;
			*len = size;
			break;
		}
		free(all);
		r = -EAGAIN;
	}
	free(hdr);
	return r;
}

int nvmeh_discover(const struct nvmeh_opts *o, struct nvmf_discovery_log **log, size_t *len,
		   char *err, size_t errlen)
{
	struct nvmeh_opts d = *o;
	struct nvmeh_ctrl *c;
	int r;

	*log = NULL;
	*len = 0;
	d.subnqn = NVB_DISCOVERY_NQN;
	d.nr_io_queues = 0;
	d.kato_ms = 0;          /* a short, non-persistent association */
	r = nvmeh_connect(&d, &c, err, errlen);
	if (r)
		return r;
	r = nvmeh_get_discovery_log(c, log, len);
	if (r)
		nvmeh_set_err(err, errlen, r, "discovery log: %s", nvmeh_status_name(r));
	nvmeh_disconnect(c);
	return r;
}

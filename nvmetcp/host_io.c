/* SPDX-License-Identifier: MIT */
/*
 * Host library: asynchronous submission/polling and the synchronous NVM
 * command set helpers (NVMe NVM Command Set 1.0 §3).
 */
#include "nvmetcp/host_priv.h"

#include <endian.h>
#include <errno.h>

int nvmeh_submitv(struct nvmeh_ctrl *c, unsigned qid, const struct nvb_sqe *sqe,
		  const struct iovec *iov, int iovcnt, nvmeh_cb cb, void *arg)
{
	if (qid >= c->nr_queues)
		return -EINVAL;
	return nvmeh_q_submit(c->queues[qid], sqe, iov, iovcnt, nvmeh_sqe_dir(sqe), false, cb, arg);
}

int nvmeh_submit(struct nvmeh_ctrl *c, unsigned qid, const struct nvb_sqe *sqe,
		 void *buf, size_t len, nvmeh_cb cb, void *arg)
{
	struct iovec iov = { buf, len };

	return nvmeh_submitv(c, qid, sqe, &iov, len ? 1 : 0, cb, arg);
}

int nvmeh_poll(struct nvmeh_ctrl *c, unsigned qid, unsigned min_completions, int timeout_ms)
{
	struct nvmeh_queue *q;
	uint64_t start;
	int r;

	if (qid >= c->nr_queues)
		return -EINVAL;
	q = c->queues[qid];
	if (qid == 0)
		nvmeh_ka_tick(c);
	start = q->ncompleted;
	r = nvmeh_q_run(q, NULL, min_completions, nvmeh_deadline(timeout_ms));
	if (q->err)
		return q->err;  /* the callbacks were told too */
	if (r < 0 && r != -ETIMEDOUT)
		return r;
	return (int)(q->ncompleted - start);
}

/* ---- synchronous NVM commands ---- */

static int io_exec(struct nvmeh_ctrl *c, unsigned qid, const struct nvb_sqe *sqe,
		   const void *buf, size_t len, enum nvb_xfer_dir dir)
{
	struct iovec iov = { (void *)buf, len };

	if (qid == 0 || qid >= c->nr_queues)
		return -EINVAL;
	return nvmeh_q_exec(c->queues[qid], sqe, &iov, len ? 1 : 0, dir, false, NULL,
			    c->opts.cmd_timeout_ms);
}

/* Read/Write/Compare share one layout: SLBA in CDW10/11, NLB (0's based)
 * in CDW12 bits 15:0. */
static int rw(struct nvmeh_ctrl *c, unsigned qid, uint8_t opcode, uint32_t nsid,
	      uint64_t slba, uint32_t nlb, uint32_t cdw12_flags, const void *buf, size_t len)
{
	struct nvb_sqe sqe = {
		.opcode = opcode,
		.nsid = htole32(nsid),
		.cdw10 = htole32((uint32_t)slba),
		.cdw11 = htole32((uint32_t)(slba >> 32)),
		.cdw12 = htole32((nlb - 1) | cdw12_flags),
	};

	if (nlb == 0 || nlb > 0x10000)
		return -EINVAL;
	return io_exec(c, qid, &sqe, buf, len, nvb_opcode_dir(opcode));
}

int nvmeh_read(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
	       uint32_t nlb, void *buf, size_t len)
{
	return rw(c, qid, nvme_cmd_read, nsid, slba, nlb, 0, buf, len);
}

int nvmeh_write(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
		uint32_t nlb, const void *buf, size_t len)
{
	return rw(c, qid, nvme_cmd_write, nsid, slba, nlb, 0, buf, len);
}

int nvmeh_compare(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
		  uint32_t nlb, const void *buf, size_t len)
{
	return rw(c, qid, nvme_cmd_compare, nsid, slba, nlb, 0, buf, len);
}

int nvmeh_write_zeroes(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
		       uint32_t nlb, uint32_t cdw12_flags)
{
	return rw(c, qid, nvme_cmd_write_zeroes, nsid, slba, nlb, cdw12_flags & 0xffff0000u,
		  NULL, 0);
}

int nvmeh_flush(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid)
{
	struct nvb_sqe sqe = { .opcode = nvme_cmd_flush, .nsid = htole32(nsid) };

	return io_exec(c, qid, &sqe, NULL, 0, NVB_XFER_NONE);
}

/* NVM Command Set §3.2.3: NR (0's based) in CDW10, attributes in CDW11. */
int nvmeh_dsm(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid,
	      const struct nvme_dsm_range *ranges, unsigned nr, uint32_t attributes)
{
	struct nvb_sqe sqe = {
		.opcode = nvme_cmd_dsm,
		.nsid = htole32(nsid),
		.cdw10 = htole32(nr - 1),
		.cdw11 = htole32(attributes),
	};

	if (nr == 0 || nr > 256)
		return -EINVAL;
	return io_exec(c, qid, &sqe, ranges, nr * sizeof(*ranges), NVB_XFER_HOST_TO_CTRL);
}

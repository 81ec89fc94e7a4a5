/* SPDX-License-Identifier: MIT */
/*
 * I/O queue commands: handed to the bridge executor as they are, with the
 * ANA state of the path they came on. The executor checks namespace, ANA
 * state, opcode, LBA range and that the transport carries exactly the data
 * the command describes (Data SGL Length Invalid otherwise; DSM may carry
 * fewer ranges), and completes on this reactor. No allocation, no lock.
 *
 * Fused Compare and Write (NVMe 2.0 "Fused Operations"): the first command
 * (FUSE 01b) waits in the queue's fused slot for the second (FUSE 10b) and
 * the pair goes to nvb_exec_fused(), which makes it atomic against every
 * other command on the namespace, from either front end.
 *
 * Pairing happens in execution order, which is capsule order except that
 * the transport executes a command whose data comes by R2T/H2CData only
 * once the data is in, so a later in-capsule command may overtake it.
 * Hence:
 *  - either half may arrive first; the other completes the pair;
 *  - a fused half that does not complement the held one: the held one
 *    completes with Aborted due to Missing Fused Command;
 *  - a plain command ends the wait of a held first that came in-capsule
 *    (its partner, in-capsule too, would have been next: NVMe requires the
 *    two to be adjacent); a first whose data came by R2T, or a lone second,
 *    may be overtaken by in-capsule commands and keeps waiting;
 *  - nothing waits longer than NVMET_FUSED_WAIT_MS, nor past the queue.
 * Whether the two really are a Compare and a Write of one range is the
 * executor's check (Invalid Field on the first, Fused Failed on the second).
 */
#include "nvmetcp/nvmet_internal.h"

#include <endian.h>

#include "bridge/log.h"

#define NVMET_OPC_WRITE        0x01
#define NVMET_OPC_WRITE_ZEROES 0x08
#define NVMET_RW_FUA           (1u << 30)       /* CDW12 bit 30 */
#define NVMET_FUSE(cmd)        ((cmd)->flags & 0x3)
#define NVMET_FUSE_FIRST       0x1
#define NVMET_FUSE_SECOND      0x2

/* ANA state of the namespace's group as seen from this controller. The
 * namespace pointer is read without a reference: we are on a reactor, and
 * a namespace is released only after a reactor grace period (target.h). */
static enum nvb_ana_state nvmet_io_path_state(const struct nvmet_ctrl *ctrl, uint32_t nsid)
{
	const struct nvb_ns *ns = NULL;

	if (nsid >= 1 && nsid <= NVB_MAX_NSID)
		ns = atomic_load_explicit(&ctrl->subsys->ns[nsid], memory_order_acquire);
	if (ns && ns->conf.ana_group)
		return nvmet_ana_group_state(nvmet_ns_ana_group(ctrl, ns));
	return nvmet_ana_group_state(ctrl->port->ana);
}

static void nvmet_io_done(struct nvb_io *io, nvb_status status)
{
	struct nvmet_req *req = container_of(io, struct nvmet_req, io);
	uint64_t bytes;

	if (nvb_opcode_dir(io->cmd.opcode) == NVB_XFER_CTRL_TO_HOST) {
		req->xfer_len = status == NVB_OK ? io->xfer_len : 0;
		bytes = req->xfer_len;
	} else {
		bytes = io->data_len;
	}
	nvb_io_stats_account(&req->sq->stats, io->cmd.opcode, bytes, status,
			     nvb_now_ns() - req->start_ns);
	nvmet_req_complete(req, status);
}

/* Fill the executor's command from the request. */
static void nvmet_io_prepare(struct nvmet_req *req)
{
	struct nvmet_sq *sq = req->sq;
	struct nvmet_ctrl *ctrl = sq->ctrl;
	struct nvb_io *io = &req->io;

	req->start_ns = nvb_now_ns();
	io->cmd = req->cmd;
	/* The host turned the volatile write cache off (Set Features 06h):
	 * every write must be durable when it completes. */
	if ((io->cmd.opcode == NVMET_OPC_WRITE || io->cmd.opcode == NVMET_OPC_WRITE_ZEROES) &&
	    !atomic_load_explicit(&ctrl->vwc_enabled, memory_order_relaxed))
		io->cmd.cdw12 |= htole32(NVMET_RW_FUA);
	io->subsys = ctrl->subsys;
	io->path_state = nvmet_io_path_state(ctrl, le32toh(req->cmd.nsid));
	io->iov = req->iov;
	io->iovcnt = req->iovcnt;
	io->data_len = req->data_len;
	io->reactor = sq->reactor;
	io->done = nvmet_io_done;
	io->host = nvmet_ctrl_host(ctrl);
}

/* ---- fused operations ---- */

static struct nvmet_fused_slot *nvmet_fused_slot(struct nvmet_sq *sq)
{
	return &sq->ctrl->fused[sq->qid];
}

/* The held command gives up waiting: Aborted due to Missing Fused Command. */
static void nvmet_fused_release(struct nvmet_fused_slot *slot, struct nvmet_sq *sq)
{
	struct nvmet_req *held = slot->held;

	slot->held = NULL;
	nvb_reactor_del_tick(sq->reactor, &slot->tick);
	if (held)
		nvmet_io_done(&held->io, NVB_FUSED_MISSING);
}

static void nvmet_fused_tick(struct nvb_tick *t, uint64_t now_ms)
{
	struct nvmet_fused_slot *slot = container_of(t, struct nvmet_fused_slot, tick);

	if (slot->held && now_ms - slot->since_ms >= NVMET_FUSED_WAIT_MS) {
		nvb_debug("nvmet: queue %u: fused command %u without its partner",
			  slot->held->sq->qid, le16toh(slot->held->cmd.cid));
		nvmet_fused_release(slot, slot->held->sq);
	}
}

static void nvmet_fused_hold(struct nvmet_fused_slot *slot, struct nvmet_req *req)
{
	slot->held = req;
	slot->since_ms = nvb_now_ms();
	slot->tick.fn = nvmet_fused_tick;
	nvb_reactor_add_tick(req->sq->reactor, &slot->tick);
}

/* May a plain command overtake the held one without ending its wait? */
static bool nvmet_fused_may_be_overtaken(const struct nvmet_req *held)
{
	return NVMET_FUSE(&held->cmd) == NVMET_FUSE_SECOND ||
	       held->cmd.dptr.type != NVB_SGL_INCAPSULE;
}

/* A fused half arrived (req) or a plain command while one waits. Returns
 * true when req was taken (held or submitted as a pair). */
static bool nvmet_fused_execute(struct nvmet_req *req)
{
	struct nvmet_sq *sq = req->sq;
	struct nvmet_fused_slot *slot = nvmet_fused_slot(sq);
	struct nvmet_req *held = slot->held;
	unsigned fuse = NVMET_FUSE(&req->cmd);
	bool fused = fuse == NVMET_FUSE_FIRST || fuse == NVMET_FUSE_SECOND;

	if (held) {
		unsigned hfuse = NVMET_FUSE(&held->cmd);

		if (fused && fuse != hfuse) {
			slot->held = NULL;
			nvb_reactor_del_tick(sq->reactor, &slot->tick);
			if (hfuse == NVMET_FUSE_FIRST)
				nvb_exec_fused(&held->io, &req->io);
			else
				nvb_exec_fused(&req->io, &held->io);
			return true;
		}
		if (fused || !nvmet_fused_may_be_overtaken(held))
			nvmet_fused_release(slot, sq);
	}
	if (!fused)
		return false;
	nvmet_fused_hold(slot, req);
	return true;
}

void nvmet_io_fused_drop(struct nvmet_sq *sq)
{
	if (sq->ctrl && sq->qid && sq->qid <= NVMET_MAX_QUEUES &&
	    nvmet_fused_slot(sq)->held && nvmet_fused_slot(sq)->held->sq == sq)
		nvmet_fused_release(nvmet_fused_slot(sq), sq);
}

void nvmet_io_execute(struct nvmet_req *req)
{
	nvmet_io_prepare(req);
	if (req->cmd.flags & 0x3 || nvmet_fused_slot(req->sq)->held) {
		if (nvmet_fused_execute(req))
			return;
	}
	nvb_exec_io(&req->io);
}

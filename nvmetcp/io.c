/* SPDX-License-Identifier: MIT */
/*
 * I/O queue commands: handed to the bridge executor as they are, with the
 * ANA state of the path they came on. The executor checks namespace, ANA
 * state, opcode, LBA range and that the transport carries exactly the data
 * the command describes (Data SGL Length Invalid otherwise; DSM may carry
 * fewer ranges), and completes on this reactor. No allocation, no lock.
 */
#include "nvmetcp/nvmet_internal.h"

#include <endian.h>

#define NVMET_OPC_WRITE        0x01
#define NVMET_OPC_WRITE_ZEROES 0x08
#define NVMET_RW_FUA           (1u << 30)       /* CDW12 bit 30 */

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

void nvmet_io_execute(struct nvmet_req *req)
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
	nvb_exec_io(io);
}

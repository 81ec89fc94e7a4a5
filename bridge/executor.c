/* SPDX-License-Identifier: MIT */
/*
 * The NVM command set I/O executor (NVMe NVM Command Set 1.0 §3).
 *
 * Every command runs the same checks in the same order, each answering
 * with the status the spec asks for:
 *   1. namespace (Invalid Namespace or Format),
 *   2. the path's ANA state (NVMe 2.0 §8.1.1.x; path-related status,
 *      SCT 3, without DNR, so the host retries on another path),
 *   3. opcode (Invalid Command Opcode), fused operation (Invalid Field),
 *   4. LBA range (LBA Out of Range),
 *   5. transfer length (Data SGL Length Invalid: the transport is expected
 *      to move exactly nvb_exec_data_len() bytes; DSM may carry fewer),
 * then the opcode's handler drives the backend. The completion path
 * accounts statistics, drops the namespace reference and calls io->done.
 *
 * Flush with the broadcast NSID FFFFFFFFh (NVMe 2.0 §7.1)
 * flushes every namespace of the subsystem, one after the other; no
 * other command accepts the broadcast NSID.
 */
#include "bridge/executor.h"
#include "bridge/bufpool.h"
#include "bridge/log.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

#define NVME_OPC_FLUSH        0x00
#define NVME_OPC_WRITE        0x01
#define NVME_OPC_READ         0x02
#define NVME_OPC_COMPARE      0x05
#define NVME_OPC_WRITE_ZEROES 0x08
#define NVME_OPC_DSM          0x09

#define NVME_NSID_ALL   0xffffffffu
#define NVME_FUSE_MASK  0x03            /* SQE flags bits 1:0 */
#define NVME_RW_FUA     (1u << 30)      /* CDW12: Force Unit Access */
#define NVME_WZ_DEAC    (1u << 25)      /* Write Zeroes CDW12: deallocate */
#define NVME_DSM_AD     (1u << 2)       /* DSM CDW11: attribute deallocate */
#define DSM_RANGE_SIZE  16              /* NVM 1.0 §3.2.3 Figure "DSM range" */

/* One Dataset Management range, little-endian. */
struct dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));

struct io_cmd {
	void (*exec)(struct nvb_io *io);
	/* Bytes of data the command carries (ns looked up, opcode known). */
	uint64_t (*data_len)(const struct nvb_ns *ns, const struct nvb_sqe *cmd);
	bool lba_range;         /* SLBA/NLB in CDW10-12 must lie inside the namespace */
	bool data_may_be_short; /* the transport may carry less than data_len */
	nvb_status error;       /* status for a backend failure */
	const char *name;
};

/* ---- decoding ---- */

static uint64_t cmd_slba(const struct nvb_sqe *cmd)
{
	return (uint64_t)le32toh(cmd->cdw11) << 32 | le32toh(cmd->cdw10);
}

/* CDW12 bits 15:0, a 0's based count. */
static uint32_t cmd_nlb(const struct nvb_sqe *cmd)
{
	return (le32toh(cmd->cdw12) & 0xffff) + 1;
}

static uint32_t dsm_nr(const struct nvb_sqe *cmd)
{
	return (le32toh(cmd->cdw10) & 0xff) + 1;
}

static uint64_t no_data(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return 0;
}

static uint64_t lba_data(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return (uint64_t)cmd_nlb(cmd) << ns->lba_shift;
}

static uint64_t dsm_data(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return (uint64_t)dsm_nr(cmd) * DSM_RANGE_SIZE;
}

static bool lba_in_range(const struct nvb_ns *ns, uint64_t slba, uint64_t nlb)
{
	uint64_t nblocks = atomic_load_explicit(&ns->nblocks, memory_order_relaxed);

	return slba < nblocks && nlb <= nblocks - slba;
}

/* Copy len bytes at offset off out of an iovec; false when it is shorter. */
static bool iov_read(const struct iovec *iov, int iovcnt, size_t off, void *dst, size_t len)
{
	uint8_t *out = dst;

	for (int i = 0; i < iovcnt && len > 0; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		memcpy(out, (const uint8_t *)iov[i].iov_base + off, n);
		out += n;
		len -= n;
		off = 0;
	}
	return len == 0;
}

static bool iov_equals(const struct iovec *iov, int iovcnt, const uint8_t *buf, size_t len)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (memcmp(iov[i].iov_base, buf, n) != 0)
			return false;
		buf += n;
		len -= n;
	}
	return len == 0;
}

/* ---- completion ---- */

static int stats_slot(const struct nvb_io *io)
{
	int i = nvb_reactor_index(io->reactor);

	return i >= 0 && i < NVB_MAX_REACTORS ? i : 0;
}

static void io_complete(struct nvb_io *io, nvb_status status)
{
	struct nvb_ns *ns = io->ns;

	if (ns) {
		nvb_io_stats_account(&ns->stats[stats_slot(io)], io->cmd.opcode, io->data_len,
				     status, nvb_now_ns() - io->start_ns);
		io->ns = NULL;
		nvb_ns_put(ns);
	}
	io->done(io, status);
}

/* A failing backend would flood the log: one line a second per reactor. */
static nvb_status backend_failed(struct nvb_io *io, const struct io_cmd *c, int err)
{
	static __thread uint64_t last_ms;
	static __thread unsigned suppressed;
	uint64_t now = nvb_now_ms();

	char at[48] = "", more[48] = "";

	if (last_ms && now - last_ms < 1000) {
		suppressed++;
		return c->error;
	}
	if (c->lba_range)
		snprintf(at, sizeof(at), " at LBA %llu", (unsigned long long)cmd_slba(&io->cmd));
	if (suppressed)
		snprintf(more, sizeof(more), " (and %u more errors)", suppressed);
	nvb_warn("namespace %u: %s%s failed: %s%s", io->ns ? io->ns->nsid : 0, c->name, at,
		 strerror(-err), more);
	last_ms = now;
	suppressed = 0;
	return c->error;
}

static const struct io_cmd *io_cmd_of(uint8_t opcode);

/* The bio's outcome when nothing follows it. */
static void bio_finished(struct nvb_io *io, int err)
{
	io_complete(io, err ? backend_failed(io, io_cmd_of(io->cmd.opcode), err) : NVB_OK);
}

static void submit_bio(struct nvb_io *io, enum nvb_bio_op op, uint64_t offset, uint64_t len,
		       struct iovec *iov, int iovcnt, bool fua, nvb_bio_done done)
{
	struct nvb_bio *bio = &io->bio;

	bio->op = op;
	bio->offset = offset;
	bio->len = len;
	bio->iov = iov;
	bio->iovcnt = iovcnt;
	bio->fua = fua;
	bio->done = done;
	bio->reactor = io->reactor;
	/* May complete before returning: io is not ours afterwards. */
	io->ns->be->ops->submit(io->ns->be, bio);
}

/* ---- Read, Write ---- */

static void rw_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);

	if (!err && io->cmd.opcode == NVME_OPC_READ)
		io->xfer_len = (size_t)bio->len;
	bio_finished(io, err);
}

static void exec_rw(struct nvb_io *io)
{
	bool write = io->cmd.opcode == NVME_OPC_WRITE;

	submit_bio(io, write ? NVB_BIO_WRITE : NVB_BIO_READ,
		   cmd_slba(&io->cmd) << io->ns->lba_shift, lba_data(io->ns, &io->cmd),
		   io->iov, io->iovcnt, write && (le32toh(io->cmd.cdw12) & NVME_RW_FUA), rw_done);
}

/* ---- Compare (NVM 1.0 §3.2.1) ---- */

static void compare_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);
	size_t len = io->scratch_iov.iov_len;
	bool equal = !err && iov_equals(io->iov, io->iovcnt, io->scratch, len);

	nvb_buf_put(io->reactor, io->scratch, len);
	io->scratch = NULL;
	if (err)
		bio_finished(io, err);
	else
		io_complete(io, equal ? NVB_OK : NVB_COMPARE_FAILED);
}

static void exec_compare(struct nvb_io *io)
{
	uint64_t len = lba_data(io->ns, &io->cmd);

	io->scratch = nvb_buf_get(io->reactor, (size_t)len);
	if (!io->scratch) {
		io_complete(io, NVB_INTERNAL_ERROR);
		return;
	}
	io->scratch_iov.iov_base = io->scratch;
	io->scratch_iov.iov_len = (size_t)len;
	submit_bio(io, NVB_BIO_READ, cmd_slba(&io->cmd) << io->ns->lba_shift, len,
		   &io->scratch_iov, 1, false, compare_done);
}

/* ---- Flush (NVMe 2.0 §7.1) ---- */

static void flush_done(struct nvb_bio *bio, int err)
{
	bio_finished(container_of(bio, struct nvb_io, bio), err);
}

static void exec_flush(struct nvb_io *io)
{
	submit_bio(io, NVB_BIO_FLUSH, 0, 0, NULL, 0, false, flush_done);
}

/* Broadcast flush: io->step is the next NSID to look at. */
static void flush_all_next(struct nvb_io *io);

static void flush_all_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);

	if (err)
		bio_finished(io, err);
	else
		flush_all_next(io);
}

static void flush_all_next(struct nvb_io *io)
{
	if (io->ns) {
		nvb_ns_put(io->ns);
		io->ns = NULL;
	}
	while (io->step <= NVB_MAX_NSID) {
		io->ns = nvb_ns_get(io->subsys, io->step++);
		if (io->ns) {
			submit_bio(io, NVB_BIO_FLUSH, 0, 0, NULL, 0, false, flush_all_done);
			return;
		}
	}
	io_complete(io, NVB_OK);
}

/* ---- Write Zeroes (NVM 1.0 §3.2.8) ---- */

static void write_zeroes_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);

	/* FUA: the zeroes must be durable before we complete. */
	if (!err && io->step == 0 && (le32toh(io->cmd.cdw12) & NVME_RW_FUA)) {
		io->step = 1;
		submit_bio(io, NVB_BIO_FLUSH, 0, 0, NULL, 0, false, write_zeroes_done);
		return;
	}
	bio_finished(io, err);
}

static void exec_write_zeroes(struct nvb_io *io)
{
	/* DEAC: deallocating is allowed, and reads of deallocated blocks return
	 * zeroes on every backend (DLFEAT reports it), so both read back zero. */
	bool deac = le32toh(io->cmd.cdw12) & NVME_WZ_DEAC;

	submit_bio(io, deac ? NVB_BIO_DISCARD : NVB_BIO_WRITE_ZEROES,
		   cmd_slba(&io->cmd) << io->ns->lba_shift, lba_data(io->ns, &io->cmd),
		   NULL, 0, false, write_zeroes_done);
}

/* ---- Dataset Management (NVM 1.0 §3.2.3) ---- */

static uint32_t dsm_ranges(const struct nvb_io *io)
{
	size_t carried = io->data_len / DSM_RANGE_SIZE;
	uint32_t nr = dsm_nr(&io->cmd);

	return carried < nr ? (uint32_t)carried : nr;
}

static void dsm_range_at(const struct nvb_io *io, uint32_t i, uint64_t *slba, uint64_t *nlb)
{
	struct dsm_range r = { 0 };

	iov_read(io->iov, io->iovcnt, (size_t)i * DSM_RANGE_SIZE, &r, sizeof(r));
	*slba = le64toh(r.slba);
	*nlb = le32toh(r.nlb);
}

/* Deallocate the ranges from io->step on, one at a time. */
static void dsm_next(struct nvb_io *io);

static void dsm_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);

	if (err)
		bio_finished(io, err);
	else
		dsm_next(io);
}

static void dsm_next(struct nvb_io *io)
{
	uint32_t n = dsm_ranges(io);
	uint64_t slba, nlb;

	while (io->step < n) {
		dsm_range_at(io, io->step++, &slba, &nlb);
		if (nlb == 0)
			continue;
		submit_bio(io, NVB_BIO_DISCARD, slba << io->ns->lba_shift,
			   nlb << io->ns->lba_shift, NULL, 0, false, dsm_done);
		return;
	}
	io_complete(io, NVB_OK);
}

static void exec_dsm(struct nvb_io *io)
{
	uint32_t n = dsm_ranges(io);
	uint64_t slba, nlb;

	/* Other attributes (integral read/write hints) are advisory. */
	if (!(le32toh(io->cmd.cdw11) & NVME_DSM_AD)) {
		io_complete(io, NVB_OK);
		return;
	}
	/* Check every range before touching any, so a bad one changes nothing. */
	for (uint32_t i = 0; i < n; i++) {
		dsm_range_at(io, i, &slba, &nlb);
		if (nlb && !lba_in_range(io->ns, slba, nlb)) {
			io_complete(io, NVB_LBA_RANGE);
			return;
		}
	}
	io->step = 0;
	dsm_next(io);
}

/* ---- dispatch ---- */

static const struct io_cmd io_cmds[] = {
	[NVME_OPC_FLUSH] = {
		.exec = exec_flush, .data_len = no_data,
		.error = NVB_WRITE_FAULT, .name = "flush",
	},
	[NVME_OPC_WRITE] = {
		.exec = exec_rw, .data_len = lba_data, .lba_range = true,
		.error = NVB_WRITE_FAULT, .name = "write",
	},
	[NVME_OPC_READ] = {
		.exec = exec_rw, .data_len = lba_data, .lba_range = true,
		.error = NVB_READ_ERROR, .name = "read",
	},
	[NVME_OPC_COMPARE] = {
		.exec = exec_compare, .data_len = lba_data, .lba_range = true,
		.error = NVB_READ_ERROR, .name = "compare",
	},
	[NVME_OPC_WRITE_ZEROES] = {
		.exec = exec_write_zeroes, .data_len = no_data, .lba_range = true,
		.error = NVB_WRITE_FAULT, .name = "write zeroes",
	},
	[NVME_OPC_DSM] = {
		.exec = exec_dsm, .data_len = dsm_data, .data_may_be_short = true,
		.error = NVB_INTERNAL_ERROR, .name = "deallocate",
	},
};

static const struct io_cmd *io_cmd_of(uint8_t opcode)
{
	if (opcode >= sizeof(io_cmds) / sizeof(io_cmds[0]) || !io_cmds[opcode].exec)
		return NULL;
	return &io_cmds[opcode];
}

/* Path-related status for I/O on a path that cannot serve it. */
static nvb_status ana_status(enum nvb_ana_state state)
{
	switch (state) {
	case NVB_ANA_INACCESSIBLE:
		return NVB_STATUS_ANA_INACCESSIBLE;
	case NVB_ANA_PERSISTENT_LOSS:
		return NVB_STATUS_ANA_PERSISTENT_LOSS;
	case NVB_ANA_CHANGE:
		return NVB_STATUS_ANA_TRANSITION;
	default:
		return NVB_OK;
	}
}

/* Checks 3-5 of the list at the top, for a command on io->ns. */
static nvb_status io_validate(struct nvb_io *io, const struct io_cmd *c)
{
	uint64_t want;

	if (!c)
		return NVB_INVALID_OPCODE;
	if (io->cmd.flags & NVME_FUSE_MASK)
		return NVB_INVALID_FIELD;       /* no fused operations (FUSES = 0) */
	if (c->lba_range && !lba_in_range(io->ns, cmd_slba(&io->cmd), cmd_nlb(&io->cmd)))
		return NVB_LBA_RANGE;
	want = c->data_len(io->ns, &io->cmd);
	if (c->data_may_be_short ? (io->data_len > want || io->data_len < DSM_RANGE_SIZE)
				 : io->data_len != want)
		return NVB_SGL_INVALID_DATA;
	return NVB_OK;
}

void nvb_exec_io(struct nvb_io *io)
{
	uint32_t nsid = le32toh(io->cmd.nsid);
	const struct io_cmd *c;
	nvb_status status;

	io->start_ns = nvb_now_ns();
	io->xfer_len = 0;
	io->ns = NULL;
	io->scratch = NULL;
	io->step = 0;

	if (nsid == NVME_NSID_ALL) {
		if (io->cmd.opcode != NVME_OPC_FLUSH) {
			io_complete(io, NVB_INVALID_NS);
			return;
		}
		status = ana_status(io->path_state);
		if (status == NVB_OK && io->data_len)
			status = NVB_SGL_INVALID_DATA;
		if (status != NVB_OK) {
			io_complete(io, status);
			return;
		}
		io->step = 1;
		flush_all_next(io);
		return;
	}

	io->ns = nvb_ns_get(io->subsys, nsid);
	if (!io->ns) {
		io_complete(io, NVB_INVALID_NS);
		return;
	}
	status = ana_status(io->path_state);
	c = io_cmd_of(io->cmd.opcode);
	if (status == NVB_OK)
		status = io_validate(io, c);
	if (status != NVB_OK) {
		io_complete(io, status);
		return;
	}
	c->exec(io);
}

nvb_status nvb_exec_data_len(struct nvb_subsys *ss, const struct nvb_sqe *cmd, size_t *len)
{
	uint32_t nsid = le32toh(cmd->nsid);
	const struct io_cmd *c;
	struct nvb_ns *ns;

	*len = 0;
	if (nsid == NVME_NSID_ALL)
		return cmd->opcode == NVME_OPC_FLUSH ? NVB_OK : NVB_INVALID_NS;
	ns = nvb_ns_get(ss, nsid);
	if (!ns)
		return NVB_INVALID_NS;
	c = io_cmd_of(cmd->opcode);
	if (c)
		*len = (size_t)c->data_len(ns, cmd);
	nvb_ns_put(ns);
	return c ? NVB_OK : NVB_INVALID_OPCODE;
}

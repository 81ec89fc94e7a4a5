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
 *      to move exactly nvb_exec_data_len() bytes; DSM may carry fewer,
 *      the reservation commands more),
 *   6. the namespace's reservation (NVMe 2.0 §8.19: Reservation Conflict),
 *   7. write ordering: a write waits while a fused Compare and Write holds
 *      an overlapping range (the "gate" below),
 * then the opcode's handler drives the backend. The completion path
 * leaves the gate, accounts statistics, drops the namespace reference and
 * calls io->done.
 *
 * Flush with the broadcast NSID FFFFFFFFh (NVMe 2.0 §7.1)
 * flushes every namespace of the subsystem, one after the other; no
 * other command accepts the broadcast NSID.
 */
#include "bridge/executor.h"
#include "bridge/bufpool.h"
#include "bridge/iov.h"
#include "bridge/log.h"
#include "bridge/resv.h"

#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVME_OPC_FLUSH        0x00
#define NVME_OPC_WRITE        0x01
#define NVME_OPC_READ         0x02
#define NVME_OPC_COMPARE      0x05
#define NVME_OPC_WRITE_ZEROES 0x08
#define NVME_OPC_DSM          0x09
#define NVME_OPC_RESV_REGISTER 0x0d
#define NVME_OPC_RESV_REPORT   0x0e
#define NVME_OPC_RESV_ACQUIRE  0x11
#define NVME_OPC_RESV_RELEASE  0x15
#define NVME_OPC_MAX           NVME_OPC_RESV_RELEASE

#define NVME_NSID_ALL   0xffffffffu
#define NVME_FUSE_MASK  0x03            /* SQE flags bits 1:0 */
#define NVME_FUSE_FIRST  0x01
#define NVME_FUSE_SECOND 0x02
#define NVME_RW_FUA     (1u << 30)      /* CDW12: Force Unit Access */
#define NVME_WZ_DEAC    (1u << 25)      /* Write Zeroes CDW12: deallocate */
#define NVME_DSM_AD     (1u << 2)       /* DSM CDW11: attribute deallocate */
#define DSM_RANGE_SIZE  16              /* NVM 1.0 §3.2.3 Figure "DSM range" */
/* The most a DSM can carry: 256 ranges. The Linux host always sends a whole
 * 4 KiB range buffer whatever NR says, so anything up to this is accepted
 * and only the first NR ranges are used. */
#define DSM_MAX_DATA    ((size_t)256 * DSM_RANGE_SIZE)
#define DATA_LONG_MAX   4096            /* most a data_may_be_long command may carry */

/* One Dataset Management range, little-endian. */
struct dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));

/* NVMe 2.0 §8.19, Figure "Command Behavior in the Presence of a Reservation". */
enum resv_group {
	RESV_EXEMPT,            /* reservation commands themselves */
	RESV_READ,              /* Read, Compare */
	RESV_WRITE,             /* Write, Write Zeroes, Dataset Management, Flush */
};

struct io_cmd {
	void (*exec)(struct nvb_io *io);
	/* Bytes of data the command carries (ns looked up, opcode known). */
	uint64_t (*data_len)(const struct nvb_ns *ns, const struct nvb_sqe *cmd);
	bool lba_range;         /* SLBA/NLB in CDW10-12 must lie inside the namespace */
	bool data_len_flexible; /* DSM: any length from one range to DSM_MAX_DATA */
	bool data_may_be_long;  /* ... or more, up to a page: hosts differ (see two_keys) */
	bool ordered;           /* changes blocks: waits for overlapping fused pairs */
	bool needs_host;        /* a reservation command: needs io->host */
	enum resv_group resv;
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

/* Reservation Register/Acquire carry two keys (CRKEY + NRKEY/PRKEY),
 * Release one (CRKEY), Report returns NUMD + 1 dwords (NVMe 2.0 §7.2-7.5).
 * The Linux host sends a 16-byte buffer for all three, nvme-cli 8 bytes
 * for Release: the keys are read from the front of what came. */
static uint64_t two_keys(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return 16;
}

static uint64_t one_key(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return 8;
}

static uint64_t report_data(const struct nvb_ns *ns, const struct nvb_sqe *cmd)
{
	return ((uint64_t)le32toh(cmd->cdw10) + 1) * 4;
}

static bool lba_in_range(const struct nvb_ns *ns, uint64_t slba, uint64_t nlb)
{
	uint64_t nblocks = atomic_load_explicit(&ns->nblocks, memory_order_relaxed);

	return slba < nblocks && nlb <= nblocks - slba;
}

/* Offset of the first byte where the iovec differs from buf (len: none;
 * an iovec shorter than len differs where it ends). */
static size_t iov_mismatch(const struct iovec *iov, int iovcnt, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	for (int i = 0; i < iovcnt && off < len; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		if (memcmp(p, buf + off, n) != 0) {
			while (p[0] == buf[off]) {
				p++;
				off++;
			}
			return off;
		}
		off += n;
	}
	return off;
}

static int stats_slot(const struct nvb_io *io)
{
	int i = nvb_reactor_index(io->reactor);

	return i >= 0 && i < NVB_MAX_REACTORS ? i : 0;
}

static const struct io_cmd *io_cmd_of(uint8_t opcode);
static void fused_start(struct nvb_io *first);

/*
 * ---- the write gate: fused Compare and Write atomicity ----
 *
 * A fused pair must see no other change to its range between its compare
 * and its write. Writes (Write, Write Zeroes, Deallocate) normally take the
 * fast path: bump this reactor's counter, check that no fused pair is
 * registered, go. A fused pair registers (g->fused), then waits until the
 * fast-path writes already under way have drained and no earlier
 * overlapping command is queued or running. While any pair is registered,
 * new writes take the slow path: under g->lock they start at once unless
 * they overlap a pair running or queued before them, else they queue and
 * are resubmitted on their own reactor when it completes.
 *
 * The fast path and the registration form a Dekker pair of sequentially
 * consistent operations (counter++ then load fused / fused++ then load
 * counters): at least one side sees the other, so a pair never runs while
 * an overlapping write it did not see is in flight.
 */
enum gate_state { GATE_NONE, GATE_FAST, GATE_RUNNING, GATE_QUEUED };

struct gate_list {
	struct nvb_io *head, *tail;
};

struct gate_counter {
	atomic_long n;
} __attribute__((aligned(64)));

struct nvb_exec_gate {
	struct gate_counter fast[NVB_MAX_REACTORS];     /* fast-path writes in flight */
	pthread_mutex_t lock __attribute__((aligned(64)));
	struct gate_list running, queued;       /* slow-path commands, under lock */
	/* Every write reads it, but it changes only as pairs come and go, and
	 * the lock and lists beside it are written only by the slow path, which
	 * runs only around pairs: sharing their line costs the fast path nothing. */
	atomic_uint fused;                      /* fused pairs queued or running */
};

struct nvb_exec_gate *nvb_exec_gate_create(void)
{
	struct nvb_exec_gate *g = aligned_alloc(64, sizeof(struct nvb_exec_gate));

	if (!g)
		return NULL;
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

void nvb_exec_gate_free(struct nvb_exec_gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static void gate_list_add(struct gate_list *l, struct nvb_io *io)
{
	io->gate_next = NULL;
	io->gate_prev = l->tail;
	if (l->tail)
		l->tail->gate_next = io;
	else
		l->head = io;
	l->tail = io;
}

static void gate_list_del(struct gate_list *l, struct nvb_io *io)
{
	if (io->gate_prev)
		io->gate_prev->gate_next = io->gate_next;
	else
		l->head = io->gate_next;
	if (io->gate_next)
		io->gate_next->gate_prev = io->gate_prev;
	else
		l->tail = io->gate_prev;
	io->gate_prev = io->gate_next = NULL;
}

/* Only a fused pair excludes: plain writes may overlap each other. */
static bool gate_conflict(const struct nvb_io *a, const struct nvb_io *b)
{
	return (a->peer || b->peer) && a->gate_lo <= b->gate_hi && b->gate_lo <= a->gate_hi;
}

static long gate_fast_inflight(struct nvb_exec_gate *g)
{
	long n = 0;

	for (int i = 0; i < NVB_MAX_REACTORS; i++)
		n += atomic_load(&g->fast[i].n);
	return n;
}

/* Under g->lock: may io start, given what runs and what queued before
 * `before` (NULL: everything queued)? */
static bool gate_may_start(struct nvb_exec_gate *g, const struct nvb_io *io,
			   const struct nvb_io *before)
{
	for (const struct nvb_io *a = g->running.head; a; a = a->gate_next)
		if (gate_conflict(io, a))
			return false;
	for (const struct nvb_io *w = g->queued.head; w && w != before; w = w->gate_next)
		if (gate_conflict(io, w))
			return false;
	return !io->peer || gate_fast_inflight(g) == 0;
}

/* A queued command's turn came: run it on its own reactor. */
static void gate_resume(void *arg)
{
	struct nvb_io *io = arg;

	if (io->peer)
		fused_start(io);
	else
		io_cmd_of(io->cmd.opcode)->exec(io);
}

/* Under g->lock: start every queued command that may start now. */
static void gate_dispatch(struct nvb_exec_gate *g)
{
	struct nvb_io *w = g->queued.head, *next;

	for (; w; w = next) {
		next = w->gate_next;
		if (!gate_may_start(g, w, w))
			continue;
		gate_list_del(&g->queued, w);
		gate_list_add(&g->running, w);
		w->gate_state = GATE_RUNNING;
		nvb_reactor_post(w->reactor, gate_resume, w);
	}
}

/* The slow path: start now (true) or queue (false). */
static bool gate_enter_slow(struct nvb_exec_gate *g, struct nvb_io *io)
{
	bool now;

	pthread_mutex_lock(&g->lock);
	now = gate_may_start(g, io, NULL);
	gate_list_add(now ? &g->running : &g->queued, io);
	io->gate_state = now ? GATE_RUNNING : GATE_QUEUED;
	pthread_mutex_unlock(&g->lock);
	return now;
}

static void gate_fast_leave(struct nvb_exec_gate *g, struct gate_counter *c)
{
	atomic_fetch_sub(&c->n, 1);
	/* A pair may be waiting for the writes it saw in flight. */
	if (atomic_load(&g->fused) != 0) {
		pthread_mutex_lock(&g->lock);
		gate_dispatch(g);
		pthread_mutex_unlock(&g->lock);
	}
}

/* A write may go on now (true) or was queued (false: resubmitted later). */
static bool gate_enter_write(struct nvb_io *io, uint64_t lo, uint64_t hi)
{
	struct nvb_exec_gate *g = io->ns->gate;
	struct gate_counter *c;

	if (!g)
		return true;
	c = &g->fast[stats_slot(io)];
	atomic_fetch_add(&c->n, 1);
	if (atomic_load(&g->fused) == 0) {
		io->gate_state = GATE_FAST;
		return true;
	}
	gate_fast_leave(g, c);
	io->gate_lo = lo;
	io->gate_hi = hi;
	return gate_enter_slow(g, io);
}

static void gate_leave(struct nvb_io *io)
{
	struct nvb_exec_gate *g = io->ns->gate;

	/* Cannot be: only gate_enter_* leaves GATE_NONE, and only with a gate,
	 * which the namespace keeps for life. Said for the static analyzer. */
	if (!g) {
		io->gate_state = GATE_NONE;
		return;
	}
	if (io->gate_state == GATE_FAST) {
		gate_fast_leave(g, &g->fast[stats_slot(io)]);
	} else if (io->gate_state == GATE_RUNNING) {
		pthread_mutex_lock(&g->lock);
		gate_list_del(&g->running, io);
		if (io->peer)
			atomic_fetch_sub(&g->fused, 1);
		gate_dispatch(g);
		pthread_mutex_unlock(&g->lock);
	}
	io->gate_state = GATE_NONE;
}

/* ---- completion ---- */

static void io_complete(struct nvb_io *io, nvb_status status)
{
	struct nvb_ns *ns = io->ns;

	if (io->gate_state != GATE_NONE)
		gate_leave(io);
	io->peer = NULL;
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

/* Read the range into a scratch buffer; done() then calls compare_result. */
static bool compare_submit(struct nvb_io *io, nvb_bio_done done)
{
	uint64_t len = lba_data(io->ns, &io->cmd);

	io->scratch = nvb_buf_get(io->reactor, (size_t)len);
	if (!io->scratch)
		return false;
	io->scratch_iov.iov_base = io->scratch;
	io->scratch_iov.iov_len = (size_t)len;
	submit_bio(io, NVB_BIO_READ, cmd_slba(&io->cmd) << io->ns->lba_shift, len,
		   &io->scratch_iov, 1, false, done);
	return true;
}

/* Whether the blocks read equal the host's data; frees the scratch buffer.
 * On a difference, io->xfer_len tells where the first one is (SCSI
 * MISCOMPARE reports it in INFORMATION). */
static bool compare_result(struct nvb_io *io, int err)
{
	size_t len = io->scratch_iov.iov_len, at = len;

	if (!err)
		at = iov_mismatch(io->iov, io->iovcnt, io->scratch, len);
	nvb_buf_put(io->reactor, io->scratch, len);
	io->scratch = NULL;
	if (!err && at < len)
		io->xfer_len = at;
	return !err && at == len;
}

static void compare_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *io = container_of(bio, struct nvb_io, bio);
	bool equal = compare_result(io, err);

	if (err)
		bio_finished(io, err);
	else
		io_complete(io, equal ? NVB_OK : NVB_COMPARE_FAILED);
}

static void exec_compare(struct nvb_io *io)
{
	if (!compare_submit(io, compare_done))
		io_complete(io, NVB_INTERNAL_ERROR);
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

	nvb_iov_to_buf(io->iov, io->iovcnt, (size_t)i * DSM_RANGE_SIZE, &r, sizeof(r));
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

/* ---- Reservations (NVMe 2.0 §7.2-7.5, §8.19; bridge/resv.c) ---- */

/* CDW10 of Register/Acquire/Release: action (2:0), IEKEY (3), RTYPE (15:8),
 * CPTPL (31:30, Register only). */
#define RESV_ACTION(cdw10) ((cdw10) & 0x7)
#define RESV_IEKEY(cdw10)  (((cdw10) >> 3) & 1)
#define RESV_RTYPE(cdw10)  ((uint8_t)((cdw10) >> 8))
#define RESV_CPTPL(cdw10)  ((cdw10) >> 30)
#define RESV_REPORT_EDS    (1u << 0)      /* Report CDW11: extended data structure */
#define RESV_REPORT_MAX    (64 + 64 * NVB_RESV_MAX_REGISTRANTS)

/* The keys the command carries: one (Release) or two (Register, Acquire). */
static void resv_keys(const struct nvb_io *io, uint64_t *first, uint64_t *second)
{
	uint64_t k[2] = { 0, 0 };

	nvb_iov_to_buf(io->iov, io->iovcnt, 0, k, io->data_len < sizeof(k) ? io->data_len : sizeof(k));
	*first = le64toh(k[0]);
	*second = le64toh(k[1]);
}

static void resv_committed(void *arg, int err)
{
	struct nvb_io *io = arg;

	if (err)
		nvb_err("namespace %u: reservation change not persisted: %s", io->ns->nsid,
			strerror(-err));
	io_complete(io, err ? NVB_INTERNAL_ERROR : NVB_OK);
}

/* A change completes once it is durable (PTPL on; resv.h). */
static void resv_finish(struct nvb_io *io, nvb_status status)
{
	if (status == NVB_OK && nvb_resv_commit(io->ns->resv, io->reactor, resv_committed, io))
		return;
	io_complete(io, status);
}

static void exec_resv_register(struct nvb_io *io)
{
	uint32_t cdw10 = le32toh(io->cmd.cdw10);
	uint64_t crkey, nrkey;

	resv_keys(io, &crkey, &nrkey);
	resv_finish(io, nvb_resv_register(io->ns->resv, io->host, RESV_ACTION(cdw10),
					  RESV_IEKEY(cdw10), crkey, nrkey, RESV_CPTPL(cdw10)));
}

static void exec_resv_acquire(struct nvb_io *io)
{
	uint32_t cdw10 = le32toh(io->cmd.cdw10);
	uint64_t crkey, prkey;

	resv_keys(io, &crkey, &prkey);
	resv_finish(io, nvb_resv_acquire(io->ns->resv, io->host, RESV_ACTION(cdw10),
					 RESV_IEKEY(cdw10), RESV_RTYPE(cdw10), crkey, prkey));
}

static void exec_resv_release(struct nvb_io *io)
{
	uint32_t cdw10 = le32toh(io->cmd.cdw10);
	uint64_t crkey, unused;

	resv_keys(io, &crkey, &unused);
	resv_finish(io, nvb_resv_release(io->ns->resv, io->host, RESV_ACTION(cdw10),
					 RESV_IEKEY(cdw10), RESV_RTYPE(cdw10), crkey));
}

static void exec_resv_report(struct nvb_io *io)
{
	uint8_t buf[RESV_REPORT_MAX];
	size_t n = io->data_len < sizeof(buf) ? io->data_len : sizeof(buf);

	/* Fabrics Host Identifiers are 128 bits: only the extended data
	 * structure can carry them (NVMe 2.0 §7.5, EDS). */
	if (!(le32toh(io->cmd.cdw11) & RESV_REPORT_EDS)) {
		io_complete(io, NVB_HOSTID_FORMAT);
		return;
	}
	nvb_resv_report(io->ns->resv, buf, n);
	nvb_iov_from_buf(io->iov, io->iovcnt, 0, buf, n);
	nvb_iov_zero(io->iov, io->iovcnt, n, io->data_len - n);
	io->xfer_len = io->data_len;
	io_complete(io, NVB_OK);
}

/* ---- Fused Compare and Write (NVMe 2.0 "Fused Operations") ---- */

static void fused_finish(struct nvb_io *first, nvb_status s1, nvb_status s2)
{
	struct nvb_io *second = first->peer;

	second->peer = NULL;
	io_complete(first, s1);         /* leaves the gate: the range is free */
	io_complete(second, s2);
}

static void fused_write_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *second = container_of(bio, struct nvb_io, bio);

	fused_finish(second->peer, NVB_OK,
		     err ? backend_failed(second, io_cmd_of(NVME_OPC_WRITE), err) : NVB_OK);
}

static void fused_compare_done(struct nvb_bio *bio, int err)
{
	struct nvb_io *first = container_of(bio, struct nvb_io, bio);
	struct nvb_io *second = first->peer;
	bool equal = compare_result(first, err);

	if (err) {
		fused_finish(first, backend_failed(first, io_cmd_of(NVME_OPC_COMPARE), err),
			     NVB_FUSED_FAIL);
		return;
	}
	if (!equal) {
		fused_finish(first, NVB_COMPARE_FAILED, NVB_FUSED_FAIL);
		return;
	}
	submit_bio(second, NVB_BIO_WRITE, cmd_slba(&second->cmd) << second->ns->lba_shift,
		   lba_data(second->ns, &second->cmd), second->iov, second->iovcnt,
		   le32toh(second->cmd.cdw12) & NVME_RW_FUA, fused_write_done);
}

/* The pair holds its range (gate): compare, then write. */
static void fused_start(struct nvb_io *first)
{
	if (!compare_submit(first, fused_compare_done))
		fused_finish(first, NVB_INTERNAL_ERROR, NVB_FUSED_FAIL);
}

/* ---- dispatch ---- */

static const struct io_cmd io_cmds[NVME_OPC_MAX + 1] = {
	[NVME_OPC_FLUSH] = {
		.exec = exec_flush, .data_len = no_data, .resv = RESV_WRITE,
		.error = NVB_WRITE_FAULT, .name = "flush",
	},
	[NVME_OPC_WRITE] = {
		.exec = exec_rw, .data_len = lba_data, .lba_range = true, .ordered = true,
		.resv = RESV_WRITE, .error = NVB_WRITE_FAULT, .name = "write",
	},
	[NVME_OPC_READ] = {
		.exec = exec_rw, .data_len = lba_data, .lba_range = true,
		.resv = RESV_READ, .error = NVB_READ_ERROR, .name = "read",
	},
	[NVME_OPC_COMPARE] = {
		.exec = exec_compare, .data_len = lba_data, .lba_range = true,
		.resv = RESV_READ, .error = NVB_READ_ERROR, .name = "compare",
	},
	[NVME_OPC_WRITE_ZEROES] = {
		.exec = exec_write_zeroes, .data_len = no_data, .lba_range = true, .ordered = true,
		.resv = RESV_WRITE, .error = NVB_WRITE_FAULT, .name = "write zeroes",
	},
	[NVME_OPC_DSM] = {
		.exec = exec_dsm, .data_len = dsm_data, .data_len_flexible = true, .ordered = true,
		.resv = RESV_WRITE, .error = NVB_INTERNAL_ERROR, .name = "deallocate",
	},
	[NVME_OPC_RESV_REGISTER] = {
		.exec = exec_resv_register, .data_len = two_keys, .needs_host = true,
		.data_may_be_long = true,
		.error = NVB_INTERNAL_ERROR, .name = "reservation register",
	},
	[NVME_OPC_RESV_REPORT] = {
		.exec = exec_resv_report, .data_len = report_data, .needs_host = true,
		.error = NVB_INTERNAL_ERROR, .name = "reservation report",
	},
	[NVME_OPC_RESV_ACQUIRE] = {
		.exec = exec_resv_acquire, .data_len = two_keys, .needs_host = true,
		.data_may_be_long = true,
		.error = NVB_INTERNAL_ERROR, .name = "reservation acquire",
	},
	[NVME_OPC_RESV_RELEASE] = {
		.exec = exec_resv_release, .data_len = one_key, .needs_host = true,
		.data_may_be_long = true,
		.error = NVB_INTERNAL_ERROR, .name = "reservation release",
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

/* Checks 3-6 of the list at the top, for a command on io->ns whose FUSE
 * field must be `fuse`. */
static nvb_status io_validate(struct nvb_io *io, const struct io_cmd *c, uint8_t fuse)
{
	uint64_t want;

	/* Without an identity (or a reservation model) a front end has no
	 * reservations: the commands are as unsupported as ONCS says. */
	if (!c || (c->needs_host && (!io->host || !io->ns->resv)))
		return NVB_INVALID_OPCODE;
	if ((io->cmd.flags & NVME_FUSE_MASK) != fuse)
		return NVB_INVALID_FIELD;       /* fused commands: nvb_exec_fused only */
	if (c->lba_range && !lba_in_range(io->ns, cmd_slba(&io->cmd), cmd_nlb(&io->cmd)))
		return NVB_LBA_RANGE;
	want = c->data_len(io->ns, &io->cmd);
	if (c->data_len_flexible ? (io->data_len > DSM_MAX_DATA || io->data_len < DSM_RANGE_SIZE) :
	    c->data_may_be_long ? (io->data_len < want || io->data_len > DATA_LONG_MAX) :
	    io->data_len != want)
		return NVB_SGL_INVALID_DATA;
	if (c->resv != RESV_EXEMPT)
		return nvb_resv_check(io->ns->resv, io->host, c->resv == RESV_WRITE);
	return NVB_OK;
}

static void io_reset(struct nvb_io *io)
{
	io->start_ns = nvb_now_ns();
	io->xfer_len = 0;
	io->ns = NULL;
	io->scratch = NULL;
	io->step = 0;
	io->peer = NULL;
	io->gate_prev = io->gate_next = NULL;
	io->gate_state = GATE_NONE;
}

/* Checks 1-6 for a command on one namespace (not the broadcast NSID); a
 * reference in io->ns when the namespace exists. */
static nvb_status io_prepare(struct nvb_io *io, uint8_t fuse, const struct io_cmd **cp)
{
	nvb_status status;

	*cp = NULL;
	io->ns = nvb_ns_get(io->subsys, le32toh(io->cmd.nsid));
	if (!io->ns)
		return NVB_INVALID_NS;
	status = ana_status(io->path_state);
	if (status != NVB_OK)
		return status;
	*cp = io_cmd_of(io->cmd.opcode);
	return io_validate(io, *cp, fuse);
}

/* The LBAs a write orders on: its range, or everything for Deallocate. */
static void io_lba_span(const struct nvb_io *io, uint64_t *lo, uint64_t *hi)
{
	if (io->cmd.opcode == NVME_OPC_DSM) {
		*lo = 0;
		*hi = UINT64_MAX;
	} else {
		*lo = cmd_slba(&io->cmd);
		*hi = *lo + cmd_nlb(&io->cmd) - 1;
	}
}

void nvb_exec_io(struct nvb_io *io)
{
	const struct io_cmd *c;
	nvb_status status;
	uint64_t lo, hi;

	io_reset(io);
	if (le32toh(io->cmd.nsid) == NVME_NSID_ALL) {
		/* The broadcast Flush: no single namespace's reservation
		 * applies, and flushing changes no data. */
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

	status = io_prepare(io, 0, &c);
	if (status != NVB_OK) {
		io_complete(io, status);
		return;
	}
	if (c->ordered) {
		io_lba_span(io, &lo, &hi);
		if (!gate_enter_write(io, lo, hi))
			return;         /* queued behind a fused pair: resumed later */
	}
	c->exec(io);
}

/* Both commands of a pair: one Compare, one Write, same namespace, range
 * and reactor. */
static bool fused_pair_matches(const struct nvb_io *first, const struct nvb_io *second)
{
	return first->cmd.opcode == NVME_OPC_COMPARE && second->cmd.opcode == NVME_OPC_WRITE &&
	       first->cmd.nsid == second->cmd.nsid && first->subsys == second->subsys &&
	       cmd_slba(&first->cmd) == cmd_slba(&second->cmd) &&
	       cmd_nlb(&first->cmd) == cmd_nlb(&second->cmd) && first->reactor == second->reactor;
}

void nvb_exec_fused(struct nvb_io *first, struct nvb_io *second)
{
	struct nvb_exec_gate *g;
	const struct io_cmd *c;
	nvb_status s1, s2 = NVB_OK;

	io_reset(first);
	io_reset(second);
	s1 = fused_pair_matches(first, second) ? io_prepare(first, NVME_FUSE_FIRST, &c)
					       : NVB_INVALID_FIELD;
	if (s1 == NVB_OK)
		s2 = io_prepare(second, NVME_FUSE_SECOND, &c);
	if (s1 == NVB_OK && s2 == NVB_OK && !first->ns->gate)
		s1 = NVB_INVALID_FIELD;         /* a namespace built by hand (tests) */
	if (s1 != NVB_OK || s2 != NVB_OK) {
		io_complete(first, s1 != NVB_OK ? s1 : NVB_FUSED_FAIL);
		io_complete(second, s1 != NVB_OK ? NVB_FUSED_FAIL : s2);
		return;
	}

	first->peer = second;
	second->peer = first;
	first->gate_lo = cmd_slba(&first->cmd);
	first->gate_hi = first->gate_lo + cmd_nlb(&first->cmd) - 1;
	g = first->ns->gate;
	atomic_fetch_add(&g->fused, 1);
	if (gate_enter_slow(g, first))
		fused_start(first);
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

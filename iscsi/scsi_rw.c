/* SPDX-License-Identifier: MIT */
/*
 * SBC-4 medium access commands as NVMe I/O commands (NVM Express SCSI
 * Translation Reference, "Command Mappings"):
 *
 *   READ(6/10/12/16)              → Read
 *   WRITE(6/10/12/16)             → Write (FUA, or FUA on every write while
 *                                   the caching page's WCE is clear)
 *   VERIFY(10/12/16)              → BYTCHK 0: Read (medium check), BYTCHK
 *                                   01b/11b: Compare
 *   WRITE AND VERIFY(10/12/16)    → Write with FUA, then Compare (or Read)
 *   SYNCHRONIZE CACHE(10/16)      → Flush
 *   PRE-FETCH(10/16)              → nothing to do once the range is valid
 *   WRITE SAME(10/16)             → UNMAP bit: Write Zeroes with DEAC; zero
 *                                   pattern (or NDOB): Write Zeroes; other
 *                                   patterns: Writes of a replicated block
 *   UNMAP                         → Dataset Management, deallocate
 *   COMPARE AND WRITE             → fused Compare + Write (NVMe 2.0 §3.4.2)
 *   ORWRITE(16)                   → Read, OR, Write
 *
 * A range is cut into NVMe commands of at most SCSI_CHUNK_BYTES (Write
 * Zeroes: 65536 blocks, NLB's limit), SCSI_TASK_IOS of them in flight. The
 * data goes to and from the transport's buffers directly; a chunk is staged
 * in a pool buffer only when its segments do not fit one NVMe command's
 * iovec, or when it ends inside a block (a read cut short by the transfer
 * length).
 */
#include "iscsi/scsi_internal.h"

#include "bridge/bufpool.h"
#include "bridge/iov.h"

/* ---- NVMe command slots ---- */

/* The target's own failure (no staging memory, no free slot). */
static void fail_internal(struct scsi_task *t)
{
	scsi_task_nvme_status(t, NVB_INTERNAL_ERROR);
	scsi_task_complete(t);
}

static struct scsi_io *slot_get(struct scsi_task *t)
{
	for (int i = 0; i < SCSI_TASK_IOS; i++) {
		struct scsi_io *s = &t->priv.ios[i];

		if (!s->busy) {
			memset(&s->io, 0, sizeof(s->io));
			s->busy = true;
			s->task = t;
			s->copy_len = 0;
			s->status = NVB_OK;
			return s;
		}
	}
	return NULL;
}

void scsi_io_release(struct scsi_task *t, struct scsi_io *s)
{
	if (s->bounce) {
		nvb_buf_put(t->reactor, s->bounce, s->bounce_len);
		s->bounce = NULL;
	}
	s->busy = false;
}

static void *slot_bounce(struct scsi_task *t, struct scsi_io *s, size_t len)
{
	s->bounce = nvb_buf_get(t->reactor, len);
	s->bounce_len = len;
	s->iov[0].iov_base = s->bounce;
	s->iov[0].iov_len = len;
	s->io.iov = s->iov;
	s->io.iovcnt = 1;
	return s->bounce;
}

static void slot_set_buf(struct scsi_io *s, void *buf, size_t len)
{
	s->iov[0].iov_base = buf;
	s->iov[0].iov_len = len;
	s->io.iov = s->iov;
	s->io.iovcnt = 1;
}

/*
 * Point slot s at len bytes of the task's data at offset off, of which the
 * first avail are real (fewer than len: a read the transfer length cuts
 * short inside a block). Staged when the segments do not fit one command
 * or avail < len: data-out is copied in now, data-in copied out at
 * completion. False when no staging buffer can be had.
 */
static bool slot_set_task_data(struct scsi_task *t, struct scsi_io *s, size_t off, size_t len,
			       size_t avail, bool to_device)
{
	int n = -1;

	if (avail == len)
		n = scsi_iov_slice(t->iov, t->iovcnt, off, len, s->iov, SCSI_IO_IOVS);
	if (n >= 0) {
		s->io.iov = s->iov;
		s->io.iovcnt = n;
		return true;
	}
	if (!slot_bounce(t, s, len))
		return false;
	if (to_device) {
		nvb_iov_to_buf(t->iov, t->iovcnt, off, s->bounce, avail);
		memset((uint8_t *)s->bounce + avail, 0, len - avail);
	} else {
		s->copy_off = off;
		s->copy_len = avail;
	}
	return true;
}

void scsi_sqe_init(const struct scsi_task *t, struct nvb_sqe *sqe, uint8_t opcode,
		   uint64_t lba, uint32_t nlb, uint32_t cdw12_flags)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->nsid = htole32(t->lu->nsid);
	if (opcode == NVME_OPC_FLUSH)
		return;
	sqe->cdw10 = htole32((uint32_t)lba);
	sqe->cdw11 = htole32((uint32_t)(lba >> 32));
	sqe->cdw12 = htole32(((nlb - 1) & 0xffff) | cdw12_flags);
}

/* The fields every NVMe command of the task shares. */
static void io_prepare(struct scsi_task *t, struct scsi_io *s,
		       void (*done)(struct nvb_io *io, nvb_status status))
{
	struct nvb_io *io = &s->io;

	io->subsys = t->lu->subsys;
	io->path_state = t->path_state;
	io->reactor = t->reactor;
	io->host = t->host;
	io->done = done;
	if (t->hooks && t->hooks->prep_io)
		t->hooks->prep_io(t, io);
}

void scsi_io_submit(struct scsi_task *t, struct scsi_io *s,
		    void (*done)(struct nvb_io *io, nvb_status status))
{
	io_prepare(t, s, done);
	/* May complete before returning. */
	nvb_exec_io(&s->io);
}

static void slot_copy_out(struct scsi_task *t, struct scsi_io *s)
{
	if (s->copy_len)
		nvb_iov_from_buf(t->iov, t->iovcnt, s->copy_off, s->bounce, s->copy_len);
}

/* ---- runs: a block range as a series of NVMe commands ---- */

static uint64_t run_chunk_bytes(const struct scsi_task *t)
{
	return (uint64_t)t->priv.run.chunk_nlb << t->priv.lba_shift;
}

static void run_pump(struct scsi_task *t);

/* Report the failure nearest the start of the range. */
static void run_chunk_failed(struct scsi_task_priv *p, uint64_t chunk, nvb_status status)
{
	if (chunk < p->fail_chunk) {
		p->status = status;
		p->fail_chunk = chunk;
	}
}

static void run_chunk_done(struct nvb_io *io, nvb_status status)
{
	struct scsi_io *s = container_of(io, struct scsi_io, io);
	struct scsi_task *t = s->task;
	struct scsi_task_priv *p = &t->priv;

	if (status == NVB_OK)
		slot_copy_out(t, s);
	else
		run_chunk_failed(p, s->chunk, status);
	scsi_io_release(t, s);
	p->inflight--;
	run_pump(t);
}

static void run_issue(struct scsi_task *t, uint64_t k)
{
	struct scsi_task_priv *p = &t->priv;
	const struct scsi_run *r = &p->run;
	struct scsi_io *s = slot_get(t);
	uint64_t first = k * r->chunk_nlb;
	uint32_t nlb = (uint32_t)(r->nlb - first < r->chunk_nlb ? r->nlb - first : r->chunk_nlb);
	size_t off = (size_t)(k * run_chunk_bytes(t));
	size_t len = (size_t)nlb << p->lba_shift;
	bool ok = true;

	if (!s) {
		run_chunk_failed(p, k, NVB_INTERNAL_ERROR);
		return;
	}
	scsi_sqe_init(t, &s->io.cmd, r->opcode, r->lba + first, nlb, r->cdw12);
	s->chunk = k;
	switch ((enum scsi_run_data)r->data) {
	case RUN_NONE:
		len = 0;
		break;
	case RUN_TASK: {
		size_t avail = r->data_len > off ? r->data_len - off : 0;

		ok = slot_set_task_data(t, s, r->data_off + off, len, avail < len ? avail : len,
					r->opcode != NVME_OPC_READ);
		break;
	}
	case RUN_BUF:
		slot_set_buf(s, (uint8_t *)p->buf + off, len);
		break;
	case RUN_PATTERN:
		slot_set_buf(s, p->buf, len);
		break;
	case RUN_SCRATCH:
		ok = slot_bounce(t, s, len) != NULL;
		break;
	}
	if (!ok) {
		scsi_io_release(t, s);
		run_chunk_failed(p, k, NVB_INTERNAL_ERROR);
		return;
	}
	s->io.data_len = len;
	p->inflight++;
	scsi_io_submit(t, s, run_chunk_done);
}

/* Issue what may be issued; finish the run once nothing is in flight.
 * Completions that come inline while issuing only count down: the loop
 * here carries on, so the stack does not grow with the chunk count. */
static void run_pump(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;

	if (p->pumping)
		return;
	p->pumping = true;
	while (p->inflight < SCSI_TASK_IOS && p->next_chunk < p->nchunks && p->status == NVB_OK)
		run_issue(t, p->next_chunk++);
	p->pumping = false;
	if (p->inflight == 0 && (p->next_chunk == p->nchunks || p->status != NVB_OK))
		p->run.done(t);
}

void scsi_run_start(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	const struct scsi_run *r = &p->run;

	p->status = NVB_OK;
	p->fail_chunk = UINT64_MAX;
	p->next_chunk = 0;
	p->inflight = 0;
	if (r->opcode == NVME_OPC_FLUSH)
		p->nchunks = 1;
	else
		p->nchunks = (r->nlb + r->chunk_nlb - 1) / r->chunk_nlb;
	run_pump(t);
}

static void run_setup(struct scsi_task *t, uint8_t opcode, uint32_t cdw12, uint64_t lba,
		      uint64_t nlb, enum scsi_run_data data, void (*done)(struct scsi_task *t))
{
	struct scsi_run *r = &t->priv.run;

	memset(r, 0, sizeof(*r));
	r->opcode = opcode;
	r->cdw12 = cdw12;
	r->lba = lba;
	r->nlb = nlb;
	r->chunk_nlb = opcode == NVME_OPC_WRITE_ZEROES ? SCSI_ZERO_CHUNK_NLB
						       : SCSI_CHUNK_BYTES >> t->priv.lba_shift;
	r->data = (uint8_t)data;
	r->done = done;
}

/* ---- CDB decoding ---- */

/* Where LOGICAL BLOCK ADDRESS and TRANSFER LENGTH (or NUMBER OF LOGICAL
 * BLOCKS, PRE-FETCH LENGTH) sit, by CDB size (SBC-4 §5). */
struct lba_fields {
	uint64_t lba;
	uint32_t nlb;
	unsigned len_byte;      /* for the field pointer */
};

static struct lba_fields decode_lba(const struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	struct lba_fields f;

	switch (t->priv.cmd->cdb_len) {
	case 6:         /* READ(6)/WRITE(6): 21-bit LBA, 0 blocks means 256 */
		f.lba = get_be24(cdb + 1) & 0x1fffff;
		f.nlb = cdb[4] ? cdb[4] : 256;
		f.len_byte = 4;
		break;
	case 10:
		f.lba = get_be32(cdb + 2);
		f.nlb = get_be16(cdb + 7);
		f.len_byte = 7;
		break;
	case 12:
		f.lba = get_be32(cdb + 2);
		f.nlb = get_be32(cdb + 6);
		f.len_byte = 6;
		break;
	default:
		f.lba = get_be64(cdb + 2);
		f.nlb = get_be32(cdb + 10);
		f.len_byte = 10;
		break;
	}
	return f;
}

static bool has_protect_field(const struct scsi_task *t)
{
	return t->priv.cmd->cdb_len > 6;
}

/* RDPROTECT/WRPROTECT/VRPROTECT/ORPROTECT must be 0 (no protection
 * information), the range inside the medium, the length within MAXIMUM
 * TRANSFER LENGTH. On failure the task has its sense and is completed. */
static bool rw_checks(struct scsi_task *t, const struct lba_fields *f, bool limit_length)
{
	if (has_protect_field(t) && (t->cdb[1] & 0xe0)) {
		scsi_task_invalid_field(t, true, 1, 7);
	} else if (!task_lba_ok(t, f->lba, f->nlb)) {
		scsi_task_lba_out_of_range(t);
	} else if (limit_length && f->nlb > SCSI_MAX_XFER_BYTES >> t->priv.lba_shift) {
		scsi_task_invalid_field(t, true, f->len_byte, -1);
	} else {
		return true;
	}
	scsi_task_complete(t);
	return false;
}

static bool cdb_fua(const struct scsi_task *t)
{
	return has_protect_field(t) && (t->cdb[1] & 0x08);
}

/* FUA for a write: asked by the CDB, or every write while the namespace's
 * volatile write cache is turned off (caching page WCE clear), as the
 * NVMe/TCP front end does after Set Features Volatile Write Cache = 0. A
 * namespace without a volatile cache writes through anyway. */
static uint32_t write_fua(const struct scsi_task *t, bool fua)
{
	bool cache_off = t->priv.ns->conf.volatile_write_cache && !task_wce(t);

	return fua || cache_off ? NVME_RW_FUA : 0;
}

/* Complete with the run's status, data moved as set in xfer_len. */
static void run_finish(struct scsi_task *t)
{
	if (t->priv.status != NVB_OK)
		scsi_task_nvme_status(t, t->priv.status);
	scsi_task_complete(t);
}

/* ---- READ ---- */

void sbc_read(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);
	size_t want, use, bs;

	if (!rw_checks(t, &f, true))
		return;
	bs = task_block_size(t);
	want = (size_t)f.nlb << t->priv.lba_shift;
	use = want < task_data_in_room(t) ? want : task_data_in_room(t);
	t->want_len = want;
	t->xfer_len = use;
	/* The transfer may end inside a block: read the block, send part of it. */
	run_setup(t, NVME_OPC_READ, 0, f.lba, (use + bs - 1) / bs, RUN_TASK, run_finish);
	t->priv.run.data_len = use;
	scsi_run_start(t);
}

/* ---- WRITE ---- */

/* Whole blocks of data-out received, at most nlb (the rest is residual). */
static uint32_t data_out_blocks(const struct scsi_task *t, uint32_t nlb)
{
	size_t have = task_data_out_len(t) >> t->priv.lba_shift;

	return have < nlb ? (uint32_t)have : nlb;
}

void sbc_write(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);
	uint32_t nlb;

	if (!rw_checks(t, &f, true))
		return;
	nlb = data_out_blocks(t, f.nlb);
	t->want_len = (size_t)f.nlb << t->priv.lba_shift;
	t->xfer_len = (size_t)nlb << t->priv.lba_shift;
	run_setup(t, NVME_OPC_WRITE, write_fua(t, cdb_fua(t)), f.lba, nlb, RUN_TASK, run_finish);
	t->priv.run.data_len = t->xfer_len;
	scsi_run_start(t);
}

/* ---- miscompare: where is the first differing byte? ---- */

/*
 * Compare Failure says that, not where; SBC-4 §5.3/§5.34 want the offset
 * of the first byte that differs in the INFORMATION field. Read the failed
 * chunk back and compare it here. Data written since the Compare may hide
 * the difference: then the chunk's first byte is reported.
 */
static size_t first_difference(const struct scsi_task *t, size_t data_off, const uint8_t *buf,
			       size_t len)
{
	const struct scsi_task_priv *p = &t->priv;

	if (p->run.data == RUN_PATTERN)
		for (size_t i = 0; i < len; i++)
			if (buf[i] != ((const uint8_t *)p->buf)[i])
				return i;
	if (p->run.data != RUN_TASK)
		return 0;
	for (size_t i = 0, seg; i < len; i += seg) {
		uint8_t tmp[512];

		seg = len - i < sizeof(tmp) ? len - i : sizeof(tmp);
		nvb_iov_to_buf(t->iov, t->iovcnt, data_off + i, tmp, seg);
		for (size_t j = 0; j < seg; j++)
			if (tmp[j] != buf[i + j])
				return i + j;
	}
	return 0;
}

static void locate_done(struct nvb_io *io, nvb_status status)
{
	struct scsi_io *s = container_of(io, struct scsi_io, io);
	struct scsi_task *t = s->task;
	struct scsi_task_priv *p = &t->priv;
	size_t chunk_off = (size_t)(p->fail_chunk * run_chunk_bytes(t));

	if (status != NVB_OK) {
		scsi_task_nvme_status(t, status);
	} else {
		size_t at = first_difference(t, p->run.data_off + chunk_off, s->bounce,
					     s->bounce_len);

		scsi_task_check_condition_info(t, SCSI_SENSE_MISCOMPARE,
					       SCSI_SENSE_ASCQ_MISCOMPARE_DURING_VERIFY,
					       chunk_off + at);
	}
	scsi_io_release(t, s);
	scsi_task_complete(t);
}

static void locate_miscompare(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	const struct scsi_run *r = &p->run;
	uint64_t first = p->fail_chunk * r->chunk_nlb;
	uint32_t nlb = (uint32_t)(r->nlb - first < r->chunk_nlb ? r->nlb - first : r->chunk_nlb);
	struct scsi_io *s = slot_get(t);

	if (!s || !slot_bounce(t, s, (size_t)nlb << p->lba_shift)) {
		fail_internal(t);
		return;
	}
	scsi_sqe_init(t, &s->io.cmd, NVME_OPC_READ, r->lba + first, nlb, 0);
	s->io.data_len = s->bounce_len;
	scsi_io_submit(t, s, locate_done);
}

static bool is_compare_failure(nvb_status status)
{
	return NVB_STATUS_SCT(status) == NVME_SCT_MEDIA &&
	       NVB_STATUS_SC(status) == NVME_SC_COMPARE_FAILED;
}

/* End of a Compare run. */
static void compare_finish(struct scsi_task *t)
{
	if (is_compare_failure(t->priv.status))
		locate_miscompare(t);
	else
		run_finish(t);
}

/* ---- VERIFY ---- */

#define BYTCHK(cdb) (((cdb)[1] >> 1) & 3)

/* Medium verification (BYTCHK 00b) or a Compare run over [lba, lba+nlb). */
static void verify_range(struct scsi_task *t, unsigned bytchk, uint64_t lba, uint32_t nlb)
{
	if (bytchk == 0)
		run_setup(t, NVME_OPC_READ, 0, lba, nlb, RUN_SCRATCH, run_finish);
	else
		run_setup(t, NVME_OPC_COMPARE, 0, lba, nlb,
			  bytchk == 3 ? RUN_PATTERN : RUN_TASK, compare_finish);
	t->priv.run.data_len = (size_t)nlb << t->priv.lba_shift;
	scsi_run_start(t);
}

/* BYTCHK 11b (SBC-4 §5.34): one block of data-out compared with every block;
 * stage it replicated over one chunk. */
static bool fill_pattern(struct scsi_task *t, uint64_t nlb)
{
	struct scsi_task_priv *p = &t->priv;
	size_t bs = task_block_size(t);
	uint64_t n = nlb < SCSI_CHUNK_BYTES / bs ? nlb : SCSI_CHUNK_BYTES / bs;

	p->buf_len = (size_t)n * bs;
	p->buf = nvb_buf_get(t->reactor, p->buf_len);
	if (!p->buf)
		return false;
	scsi_task_data_out(t, 0, p->buf, bs);
	for (size_t off = bs; off < p->buf_len; off += bs)
		memcpy((uint8_t *)p->buf + off, p->buf, bs);
	return true;
}

void sbc_verify(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);
	unsigned bytchk = BYTCHK(t->cdb);
	size_t bs;
	uint32_t nlb = f.nlb;

	if (bytchk == 2) {
		scsi_task_invalid_field(t, true, 1, 2);
		scsi_task_complete(t);
		return;
	}
	if (!rw_checks(t, &f, true))
		return;
	bs = task_block_size(t);
	if (bytchk == 1) {
		nlb = data_out_blocks(t, f.nlb);
		t->want_len = (size_t)f.nlb * bs;
		t->xfer_len = (size_t)nlb * bs;
	} else if (bytchk == 3 && f.nlb) {
		t->want_len = bs;
		if (task_data_out_len(t) < bs) {
			scsi_task_complete(t);  /* nothing to compare with: residual */
			return;
		}
		t->xfer_len = bs;
		if (!fill_pattern(t, f.nlb)) {
			fail_internal(t);
			return;
		}
	}
	verify_range(t, bytchk, f.lba, nlb);
}

/* ---- WRITE AND VERIFY ---- */

static void write_verify_written(struct scsi_task *t)
{
	struct scsi_run *r = &t->priv.run;

	if (t->priv.status != NVB_OK) {
		run_finish(t);
		return;
	}
	verify_range(t, BYTCHK(t->cdb), r->lba, (uint32_t)r->nlb);
}

void sbc_write_verify(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);
	uint32_t nlb;

	/* SBC-4 §5.45: BYTCHK 00b (medium verification) or 01b (compare). */
	if (BYTCHK(t->cdb) > 1) {
		scsi_task_invalid_field(t, true, 1, 2);
		scsi_task_complete(t);
		return;
	}
	if (!rw_checks(t, &f, true))
		return;
	nlb = data_out_blocks(t, f.nlb);
	t->want_len = (size_t)f.nlb << t->priv.lba_shift;
	t->xfer_len = (size_t)nlb << t->priv.lba_shift;
	/* Verification reads the medium: the data must be there first. */
	run_setup(t, NVME_OPC_WRITE, NVME_RW_FUA, f.lba, nlb, RUN_TASK, write_verify_written);
	t->priv.run.data_len = t->xfer_len;
	scsi_run_start(t);
}

/* ---- SYNCHRONIZE CACHE, PRE-FETCH ---- */

void sbc_sync_cache(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);

	if (!rw_checks(t, &f, false))
		return;
	/* NVMe Flush covers the whole namespace, a superset of the range;
	 * IMMED is honoured by finishing the flush first (allowed). */
	run_setup(t, NVME_OPC_FLUSH, 0, 0, 0, RUN_NONE, run_finish);
	scsi_run_start(t);
}

void sbc_prefetch(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);

	if (!rw_checks(t, &f, false))
		return;
	/* SBC-4 §5.10: GOOD, not CONDITION MET, means "not all of it fits in the
	 * cache"; there is no separate cache to load. */
	scsi_task_complete(t);
}

/* ---- WRITE SAME ---- */

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

void sbc_write_same(struct scsi_task *t)
{
	struct lba_fields f = decode_lba(t);
	bool ndob = t->priv.cmd->cdb_len == 16 && (t->cdb[1] & 0x01);
	bool unmap = t->cdb[1] & 0x08;
	size_t bs = task_block_size(t);
	uint32_t cdw12;

	if (t->cdb[1] & 0xe0) {
		scsi_task_invalid_field(t, true, 1, 7);         /* WRPROTECT */
	} else if (t->cdb[1] & 0x10) {
		scsi_task_invalid_field(t, true, 1, 4);         /* ANCHOR: ANC_SUP is 0 */
	} else if (!task_lba_ok(t, f.lba, f.nlb)) {
		scsi_task_lba_out_of_range(t);
	} else if (f.nlb == 0 || f.nlb > SCSI_MAX_WS_BYTES >> t->priv.lba_shift) {
		/* WSNZ is set: 0 is not "to the end of the medium". */
		scsi_task_invalid_field(t, true, f.len_byte, -1);
	} else if (!ndob && task_data_out_len(t) != bs) {
		/* The Data-Out Buffer is exactly one logical block. */
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
	} else {
		goto run;
	}
	scsi_task_complete(t);
	return;
run:
	t->want_len = t->xfer_len = ndob ? 0 : bs;
	cdw12 = write_fua(t, false);
	if (!ndob && !unmap) {
		if (!fill_pattern(t, f.nlb)) {
			fail_internal(t);
			return;
		}
		if (!all_zero(t->priv.buf, bs)) {
			run_setup(t, NVME_OPC_WRITE, cdw12, f.lba, f.nlb, RUN_PATTERN, run_finish);
			scsi_run_start(t);
			return;
		}
	}
	/* SBC-4 §4.7.3.x: with UNMAP the blocks are deallocated and, LBPRZ
	 * being 1, read back as zeroes whatever the pattern was. */
	run_setup(t, NVME_OPC_WRITE_ZEROES, cdw12 | (unmap ? NVME_WZ_DEAC : 0), f.lba, f.nlb,
		  RUN_NONE, run_finish);
	scsi_run_start(t);
}

/* ---- UNMAP ---- */

struct dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));

static void unmap_done(struct nvb_io *io, nvb_status status)
{
	struct scsi_io *s = container_of(io, struct scsi_io, io);
	struct scsi_task *t = s->task;

	scsi_io_release(t, s);
	scsi_task_nvme_status(t, status);
	scsi_task_complete(t);
}

/* SBC-4 §5.32: the parameter list into Dataset Management ranges; false
 * with sense set on a bad list. */
static bool unmap_ranges(struct scsi_task *t, size_t len, uint32_t *nr)
{
	struct scsi_task_priv *p = &t->priv;
	struct dsm_range *ranges = p->buf;
	uint8_t hdr[8], d[16];
	uint64_t total = 0;
	size_t ndesc;

	scsi_task_data_out(t, 0, hdr, sizeof(hdr));
	ndesc = get_be16(hdr + 2);
	if (ndesc > len - 8)
		ndesc = len - 8;
	ndesc /= 16;
	if (ndesc > SCSI_MAX_UNMAP_DESC) {
		scsi_task_invalid_field(t, false, 2, -1);
		return false;
	}
	*nr = 0;
	for (size_t i = 0; i < ndesc; i++) {
		uint64_t lba;
		uint32_t n;

		scsi_task_data_out(t, 8 + i * 16, d, sizeof(d));
		lba = get_be64(d);
		n = get_be32(d + 8);
		if (n == 0)
			continue;
		if (!task_lba_ok(t, lba, n)) {
			scsi_task_lba_out_of_range(t);
			return false;
		}
		total += n;
		if (total > UINT32_MAX) {       /* MAXIMUM UNMAP LBA COUNT */
			scsi_task_invalid_field(t, false, 8 + i * 16 + 8, -1);
			return false;
		}
		ranges[*nr] = (struct dsm_range){ .nlb = htole32(n), .slba = htole64(lba) };
		(*nr)++;
	}
	return true;
}

void sbc_unmap(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	size_t plen = get_be16(t->cdb + 7);
	size_t len = plen < task_data_out_len(t) ? plen : task_data_out_len(t);
	struct scsi_io *s;
	uint32_t nr;

	t->want_len = plen;
	t->xfer_len = len;
	if (t->cdb[1] & 0x01) {                 /* ANCHOR: ANC_SUP is 0 */
		scsi_task_invalid_field(t, true, 1, 0);
		scsi_task_complete(t);
		return;
	}
	if (plen == 0) {                        /* not an error (SBC-4 §5.32.1) */
		scsi_task_complete(t);
		return;
	}
	if (len < 8) {
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
		scsi_task_complete(t);
		return;
	}
	p->buf_len = SCSI_MAX_UNMAP_DESC * sizeof(struct dsm_range);
	p->buf = nvb_buf_get(t->reactor, p->buf_len);
	if (!p->buf) {
		fail_internal(t);
		return;
	}
	if (!unmap_ranges(t, len, &nr) || nr == 0) {
		scsi_task_complete(t);
		return;
	}
	s = slot_get(t);
	if (!s) {
		fail_internal(t);
		return;
	}
	memset(&s->io.cmd, 0, sizeof(s->io.cmd));
	s->io.cmd.opcode = NVME_OPC_DSM;
	s->io.cmd.nsid = htole32(t->lu->nsid);
	s->io.cmd.cdw10 = htole32(nr - 1);
	s->io.cmd.cdw11 = htole32(NVME_DSM_AD);
	slot_set_buf(s, p->buf, nr * sizeof(struct dsm_range));
	s->io.data_len = nr * sizeof(struct dsm_range);
	scsi_io_submit(t, s, unmap_done);
}

/* ---- COMPARE AND WRITE ---- */

/*
 * SBC-4 §5.3: atomic against every other command on the medium, from any
 * initiator on either front end. The executor provides that for a fused
 * Compare (FUSE 01b) + Write (FUSE 10b) pair (NVMe 2.0 "Fused Operations",
 * nvb_exec_fused): the Write runs only if the Compare succeeded, and
 * nothing else changes the range in between. On a miscompare the Compare
 * completes with Compare Failure and the Write with Aborted due to Failed
 * Fused Command, nothing written.
 */
static void caw_finish(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	nvb_status cmp = p->ios[0].status, wr = p->ios[1].status;

	scsi_io_release(t, &p->ios[0]);
	scsi_io_release(t, &p->ios[1]);
	if (is_compare_failure(cmp)) {
		/* Offsets are counted from the start of the Data-Out Buffer. */
		run_setup(t, NVME_OPC_COMPARE, 0, p->lba, p->nlb, RUN_TASK, NULL);
		p->fail_chunk = 0;
		locate_miscompare(t);
		return;
	}
	scsi_task_nvme_status(t, cmp != NVB_OK ? cmp : wr);
	scsi_task_complete(t);
}

static void caw_done(struct nvb_io *io, nvb_status status)
{
	struct scsi_io *s = container_of(io, struct scsi_io, io);
	struct scsi_task *t = s->task;

	s->status = status;
	if (--t->priv.inflight == 0 && !t->priv.pumping)
		caw_finish(t);
}

void sbc_compare_and_write(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	uint64_t lba = get_be64(t->cdb + 2);
	uint32_t nlb = t->cdb[13];
	size_t half = (size_t)nlb << p->lba_shift;
	struct scsi_io *cmp, *wr;

	if (t->cdb[1] & 0xe0) {
		scsi_task_invalid_field(t, true, 1, 7);         /* WRPROTECT */
	} else if (!task_lba_ok(t, lba, nlb)) {
		scsi_task_lba_out_of_range(t);
	} else if (nlb > SCSI_MAX_CAW_NLB ||
		   (nlb && task_data_out_len(t) != 2 * half)) {
		/* Verify and write instances, nlb blocks each, nothing else. */
		scsi_task_invalid_field(t, true, 13, -1);
	} else {
		goto run;
	}
	scsi_task_complete(t);
	return;
run:
	t->want_len = t->xfer_len = 2 * half;
	if (nlb == 0) {                         /* SBC-4 §5.3: not an error */
		scsi_task_complete(t);
		return;
	}
	p->lba = lba;
	p->nlb = nlb;
	cmp = slot_get(t);
	wr = slot_get(t);
	if (!cmp || !wr || !slot_set_task_data(t, cmp, 0, half, half, true) ||
	    !slot_set_task_data(t, wr, half, half, half, true)) {
		fail_internal(t);
		return;
	}
	scsi_sqe_init(t, &cmp->io.cmd, NVME_OPC_COMPARE, lba, nlb, 0);
	cmp->io.cmd.flags = NVME_FUSE_FIRST;
	cmp->io.data_len = half;
	scsi_sqe_init(t, &wr->io.cmd, NVME_OPC_WRITE, lba, nlb, write_fua(t, cdb_fua(t)));
	wr->io.cmd.flags = NVME_FUSE_SECOND;
	wr->io.data_len = half;
	io_prepare(t, cmp, caw_done);
	io_prepare(t, wr, caw_done);
	p->inflight = 2;
	p->pumping = true;      /* finish only once both are handed over */
	nvb_exec_fused(&cmp->io, &wr->io);
	p->pumping = false;
	if (p->inflight == 0)
		caw_finish(t);
}

/* ---- ORWRITE ---- */

/*
 * SBC-4 §5.9 ORWRITE(16) with BMOP 000b semantics: the data-out is ORed
 * into the blocks. Read into a staging buffer, OR, write back. Not atomic
 * against concurrent writers of the same blocks (the fused pair takes one
 * Compare and one Write, not a read-modify-write).
 */
static void orwrite_written(struct scsi_task *t)
{
	run_finish(t);
}

static void orwrite_read(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	struct scsi_run *r = &p->run;
	uint8_t *buf = p->buf;
	size_t len = (size_t)r->nlb << p->lba_shift;

	if (p->status != NVB_OK) {
		run_finish(t);
		return;
	}
	for (size_t off = 0, seg; off < len; off += seg) {
		uint8_t tmp[512];

		seg = len - off < sizeof(tmp) ? len - off : sizeof(tmp);
		scsi_task_data_out(t, off, tmp, seg);
		for (size_t i = 0; i < seg; i++)
			buf[off + i] |= tmp[i];
	}
	run_setup(t, NVME_OPC_WRITE, write_fua(t, cdb_fua(t)), r->lba, r->nlb, RUN_BUF,
		  orwrite_written);
	scsi_run_start(t);
}

void sbc_orwrite(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	struct lba_fields f = decode_lba(t);
	uint32_t nlb;

	if (!rw_checks(t, &f, true))
		return;
	nlb = data_out_blocks(t, f.nlb);
	t->want_len = (size_t)f.nlb << p->lba_shift;
	t->xfer_len = (size_t)nlb << p->lba_shift;
	if (nlb == 0) {
		scsi_task_complete(t);
		return;
	}
	p->buf_len = t->xfer_len;
	p->buf = nvb_buf_get(t->reactor, p->buf_len);
	if (!p->buf) {
		fail_internal(t);
		return;
	}
	run_setup(t, NVME_OPC_READ, 0, f.lba, nlb, RUN_BUF, orwrite_read);
	scsi_run_start(t);
}

/* SPDX-License-Identifier: MIT */
/*
 * The NVMe I/O executor on ram and file namespaces with 512 and 4096-byte
 * LBAs, driven on a local reactor: data commands, every error status,
 * reference counting and statistics.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testlib.h"
#include "bridge/bufpool.h"
#include "bridge/executor.h"

#define MiB (1u << 20)
#define NS_SIZE (8 * MiB)
#define FAIL_NSID 9

enum { OPC_FLUSH = 0x00, OPC_WRITE = 0x01, OPC_READ = 0x02, OPC_COMPARE = 0x05,
       OPC_WRITE_ZEROES = 0x08, OPC_DSM = 0x09 };
#define FUA  (1u << 30)
#define DEAC (1u << 25)
#define AD   (1u << 2)

struct ns_case {
	uint32_t nsid;
	enum nvb_backend_kind kind;
	uint32_t lba_size;
};

static const struct ns_case cases[] = {
	{ 1, NVB_BACKEND_RAM, 512 },
	{ 2, NVB_BACKEND_RAM, 4096 },
	{ 3, NVB_BACKEND_FILE, 512 },
	{ 4, NVB_BACKEND_FILE, 4096 },
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static char tmpdir[64];
static struct nvb_subsys *ss;
static struct nvb_reactor *reactor;

/* ---- a backend that fails everything ---- */

static void fail_submit(struct nvb_backend *be, struct nvb_bio *bio)
{
	bio->done(bio, -EIO);
}

static void fail_close(struct nvb_backend *be)
{
}

static const struct nvb_backend_ops fail_ops = {
	.name = "fail", .submit = fail_submit, .close = fail_close,
};
static struct nvb_backend fail_be = { .ops = &fail_ops, .size = MiB, .buf_align = 1 };

static void publish_failing_ns(void)
{
	struct nvb_ns *ns = calloc(1, sizeof(*ns));

	ck_assert_ptr_nonnull(ns);
	ns->nsid = FAIL_NSID;
	ns->subsys = ss;
	ns->lba_shift = 9;
	ns->be = &fail_be;
	atomic_init(&ns->nblocks, MiB >> 9);
	atomic_init(&ns->refs, 1);
	atomic_store(&ss->ns[FAIL_NSID], ns);
}

/* ---- fixture ---- */



static void setup(void)
{
	char err[512], path[128];

	strcpy(tmpdir, "/tmp/nvb-exec-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	reactor = nvb_reactor_create_local(64);
	ck_assert_ptr_nonnull(reactor);
	ss = calloc(1, sizeof(*ss));
	ck_assert_ptr_nonnull(ss);

	for (int i = 0; i < NCASES; i++) {
		struct nvb_ns_conf conf = {
			.nsid = cases[i].nsid, .backend = cases[i].kind, .size = NS_SIZE,
			.lba_size = cases[i].lba_size, .volatile_write_cache = true, .line = 10 + i,
		};
		struct nvb_ns *ns;

		if (cases[i].kind == NVB_BACKEND_FILE) {
			snprintf(path, sizeof(path), "%s/ns%u.img", tmpdir, cases[i].nsid);
			close(open(path, O_CREAT | O_RDWR, 0600));      /* empty: gets extended */
			conf.path = path;
		}
		ns = nvb_ns_create(ss, &conf, "test.conf", err, sizeof(err));
		if (!ns)
			ck_abort_msg("nvb_ns_create: %s", err);
		ck_assert_uint_eq(ns->lba_shift, cases[i].lba_size == 512 ? 9 : 12);
		ck_assert_uint_eq(atomic_load(&ns->nblocks), NS_SIZE / cases[i].lba_size);
		atomic_store(&ss->ns[cases[i].nsid], ns);
	}
	publish_failing_ns();
}

static void teardown(void)
{
	test_unpublish_all(ss);
	free(ss);
	nvb_reactor_destroy_local(reactor);
	test_remove_tree(tmpdir);
}

static struct nvb_ns *ns_at(uint32_t nsid)
{
	return atomic_load(&ss->ns[nsid]);
}

/* ---- running commands ---- */

struct io_wait {
	struct nvb_io io;
	int done;
	nvb_status status;
};

static void io_done(struct nvb_io *io, nvb_status status)
{
	struct io_wait *w = container_of(io, struct io_wait, io);

	w->done++;
	w->status = status;
}

static struct nvb_sqe make_cmd(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
			       uint32_t cdw12_flags)
{
	struct nvb_sqe cmd = { .opcode = opcode, .cid = htole16(7), .nsid = htole32(nsid) };

	cmd.cdw10 = htole32((uint32_t)slba);
	cmd.cdw11 = htole32((uint32_t)(slba >> 32));
	cmd.cdw12 = htole32(((nlb - 1) & 0xffff) | cdw12_flags);
	return cmd;
}

static nvb_status exec_full(const struct nvb_sqe *cmd, enum nvb_ana_state path,
			    struct iovec *iov, int iovcnt, size_t data_len, size_t *xfer)
{
	struct io_wait w = {
		.io = { .cmd = *cmd, .subsys = ss, .path_state = path, .iov = iov,
			.iovcnt = iovcnt, .data_len = data_len, .reactor = reactor,
			.done = io_done, .xfer_len = 12345 },
	};

	nvb_exec_io(&w.io);
	for (int i = 0; i < 1000 && !w.done; i++)
		nvb_reactor_run_once(reactor, 1000);
	ck_assert_int_eq(w.done, 1);
	nvb_reactor_run_once(reactor, 0);
	ck_assert_int_eq(w.done, 1);            /* exactly once */
	ck_assert_ptr_null(w.io.ns);
	if (xfer)
		*xfer = w.io.xfer_len;
	return w.status;
}

static nvb_status exec_buf(const struct nvb_sqe *cmd, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return exec_full(cmd, NVB_ANA_OPTIMIZED, buf ? &iov : NULL, buf ? 1 : 0, len, NULL);
}

static nvb_status exec_nodata(const struct nvb_sqe *cmd)
{
	return exec_full(cmd, NVB_ANA_OPTIMIZED, NULL, 0, 0, NULL);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 13 + i * 5 + (i >> 8));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Write blocks [slba, slba+nlb) with a pattern; returns the pattern. */
static uint8_t *write_pattern(const struct ns_case *c, uint64_t slba, uint32_t nlb, unsigned seed)
{
	size_t len = (size_t)nlb * c->lba_size;
	uint8_t *buf = malloc(len);
	struct nvb_sqe cmd = make_cmd(OPC_WRITE, c->nsid, slba, nlb, 0);

	fill(buf, len, seed);
	ck_assert_uint_eq(exec_buf(&cmd, buf, len), NVB_OK);
	return buf;
}

static uint8_t *read_blocks(const struct ns_case *c, uint64_t slba, uint32_t nlb)
{
	size_t len = (size_t)nlb * c->lba_size, xfer;
	uint8_t *buf = malloc(len);
	struct nvb_sqe cmd = make_cmd(OPC_READ, c->nsid, slba, nlb, 0);
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	memset(buf, 0xa5, len);
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, &iov, 1, len, &xfer), NVB_OK);
	ck_assert_uint_eq(xfer, len);
	return buf;
}

/* ---- data commands, on every namespace ---- */

START_TEST(read_write_round_trip)
{
	const struct ns_case *c = &cases[_i];
	uint8_t *w = write_pattern(c, 10, 8, 1), *r = read_blocks(c, 10, 8);
	size_t len = 8 * (size_t)c->lba_size;

	ck_assert_mem_eq(w, r, len);
	free(r);

	/* Read into two segments from the pool, and a 1 MiB transfer. */
	uint8_t *a = nvb_buf_get(reactor, len / 2), *b = nvb_buf_get(reactor, len / 2);
	struct iovec iov[2] = { { a, len / 2 }, { b, len / 2 } };
	struct nvb_sqe cmd = make_cmd(OPC_READ, c->nsid, 10, 8, 0);

	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_NON_OPTIMIZED, iov, 2, len, NULL), NVB_OK);
	ck_assert_mem_eq(a, w, len / 2);
	ck_assert_mem_eq(b, w + len / 2, len / 2);
	nvb_buf_put(reactor, a, len / 2);
	nvb_buf_put(reactor, b, len / 2);
	free(w);

	uint32_t nlb = MiB / c->lba_size;
	w = write_pattern(c, 1000, nlb, 2);
	r = read_blocks(c, 1000, nlb);
	ck_assert_mem_eq(w, r, MiB);
	free(w);
	free(r);
}
END_TEST

START_TEST(fua_write_and_flush)
{
	const struct ns_case *c = &cases[_i];
	size_t len = 4 * (size_t)c->lba_size;
	uint8_t *buf = malloc(len), *r;
	struct nvb_sqe cmd = make_cmd(OPC_WRITE, c->nsid, 0, 4, FUA);

	fill(buf, len, 3);
	ck_assert_uint_eq(exec_buf(&cmd, buf, len), NVB_OK);
	r = read_blocks(c, 0, 4);
	ck_assert_mem_eq(r, buf, len);
	cmd = make_cmd(OPC_FLUSH, c->nsid, 0, 1, 0);
	cmd.cdw10 = cmd.cdw11 = cmd.cdw12 = 0;
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_OK);
	free(buf);
	free(r);
}
END_TEST

START_TEST(write_zeroes_reads_zero)
{
	const struct ns_case *c = &cases[_i];
	static const uint32_t flags[] = { 0, DEAC, FUA, DEAC | FUA };
	size_t lba = c->lba_size;

	for (unsigned f = 0; f < 4; f++) {
		uint8_t *w = write_pattern(c, 100, 16, f), *r;
		struct nvb_sqe cmd = make_cmd(OPC_WRITE_ZEROES, c->nsid, 103, 9, flags[f]);

		ck_assert_uint_eq(exec_nodata(&cmd), NVB_OK);
		r = read_blocks(c, 100, 16);
		ck_assert_mem_eq(r, w, 3 * lba);
		ck_assert(all_zero(r + 3 * lba, 9 * lba));
		ck_assert_mem_eq(r + 12 * lba, w + 12 * lba, 4 * lba);
		free(w);
		free(r);
	}
	/* Out of range. */
	uint64_t nblocks = NS_SIZE / c->lba_size;
	struct nvb_sqe cmd = make_cmd(OPC_WRITE_ZEROES, c->nsid, nblocks - 2, 3, 0);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_LBA_RANGE);
}
END_TEST

struct dsm_range_le {
	uint32_t cattr, nlb;
	uint64_t slba;
} __attribute__((packed));

static struct dsm_range_le dsm_range(uint64_t slba, uint32_t nlb)
{
	return (struct dsm_range_le){ .nlb = htole32(nlb), .slba = htole64(slba) };
}

static struct nvb_sqe dsm_cmd(uint32_t nsid, unsigned nranges, uint32_t cdw11)
{
	struct nvb_sqe cmd = { .opcode = OPC_DSM, .nsid = htole32(nsid) };

	cmd.cdw10 = htole32(nranges - 1);
	cmd.cdw11 = htole32(cdw11);
	return cmd;
}

START_TEST(dsm_deallocate)
{
	const struct ns_case *c = &cases[_i];
	size_t lba = c->lba_size;
	uint64_t nblocks = NS_SIZE / lba;
	struct dsm_range_le ranges[4] = {
		dsm_range(200, 2), dsm_range(205, 0), dsm_range(210, 3), dsm_range(0, 0),
	};
	struct nvb_sqe cmd;
	uint8_t *w = write_pattern(c, 200, 16, 4), *r;

	/* Without AD: nothing happens. */
	cmd = dsm_cmd(c->nsid, 3, 0);
	ck_assert_uint_eq(exec_buf(&cmd, ranges, 3 * sizeof(ranges[0])), NVB_OK);
	r = read_blocks(c, 200, 16);
	ck_assert_mem_eq(r, w, 16 * lba);
	free(r);

	/* One bad range: nothing happens either. */
	ranges[3] = dsm_range(nblocks - 1, 2);
	cmd = dsm_cmd(c->nsid, 4, AD);
	ck_assert_uint_eq(exec_buf(&cmd, ranges, sizeof(ranges)), NVB_LBA_RANGE);
	r = read_blocks(c, 200, 16);
	ck_assert_mem_eq(r, w, 16 * lba);
	free(r);
	ranges[3] = dsm_range(UINT64_MAX, 2);   /* overflow */
	ck_assert_uint_eq(exec_buf(&cmd, ranges, sizeof(ranges)), NVB_LBA_RANGE);

	/* Deallocate: 200-201 and 210-212 read zero, the rest is kept. */
	cmd = dsm_cmd(c->nsid, 3, AD);
	ck_assert_uint_eq(exec_buf(&cmd, ranges, 3 * sizeof(ranges[0])), NVB_OK);
	r = read_blocks(c, 200, 16);
	ck_assert(all_zero(r, 2 * lba));
	ck_assert_mem_eq(r + 2 * lba, w + 2 * lba, 8 * lba);
	ck_assert(all_zero(r + 10 * lba, 3 * lba));
	ck_assert_mem_eq(r + 13 * lba, w + 13 * lba, 3 * lba);
	free(r);
	free(w);

	/* Fewer bytes than NR ranges: the ranges carried are used. */
	w = write_pattern(c, 200, 4, 5);
	cmd = dsm_cmd(c->nsid, 8, AD);
	ck_assert_uint_eq(exec_buf(&cmd, ranges, sizeof(ranges[0])), NVB_OK);
	r = read_blocks(c, 200, 4);
	ck_assert(all_zero(r, 2 * lba));
	ck_assert_mem_eq(r + 2 * lba, w + 2 * lba, 2 * lba);
	free(r);
	free(w);

	/* More bytes than NR ranges (the Linux host always sends a whole 4 KiB
	 * range buffer): only the first NR ranges are used. */
	{
		struct dsm_range_le page[256] = { [0] = dsm_range(200, 1), [1] = dsm_range(202, 1) };

		w = write_pattern(c, 200, 4, 6);
		cmd = dsm_cmd(c->nsid, 1, AD);
		ck_assert_uint_eq(exec_buf(&cmd, page, sizeof(page)), NVB_OK);
		r = read_blocks(c, 200, 4);
		ck_assert(all_zero(r, lba));
		ck_assert_mem_eq(r + lba, w + lba, 3 * lba);     /* range 2 was beyond NR */
		free(r);
		free(w);
	}
	/* More than 256 ranges' worth of data, or less than one range. */
	{
		static struct dsm_range_le too_much[257];

		cmd = dsm_cmd(c->nsid, 1, AD);
		ck_assert_uint_eq(exec_buf(&cmd, too_much, sizeof(too_much)), NVB_SGL_INVALID_DATA);
	}
	ck_assert_uint_eq(exec_buf(&cmd, ranges, 8), NVB_SGL_INVALID_DATA);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_SGL_INVALID_DATA);
}
END_TEST

START_TEST(compare)
{
	const struct ns_case *c = &cases[_i];
	size_t len = 6 * (size_t)c->lba_size;
	uint8_t *w = write_pattern(c, 300, 6, 6);
	struct nvb_sqe cmd = make_cmd(OPC_COMPARE, c->nsid, 300, 6, 0);
	struct iovec iov[2] = { { w, len / 3 }, { w + len / 3, len - len / 3 } };
	size_t xfer;

	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, iov, 2, len, &xfer), NVB_OK);
	ck_assert_uint_eq(xfer, 0);
	w[len - 1] ^= 1;
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, iov, 2, len, &xfer),
			  NVB_COMPARE_FAILED);
	ck_assert_uint_eq(xfer, len - 1);       /* where it differs */
	w[len / 3 + 1] ^= 0x80;
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, iov, 2, len, &xfer),
			  NVB_COMPARE_FAILED);
	ck_assert_uint_eq(xfer, len / 3 + 1);   /* in the second segment */
	ck_assert_uint_eq(NVB_STATUS_SCT(NVB_COMPARE_FAILED), NVME_SCT_MEDIA);
	ck_assert(NVB_COMPARE_FAILED & NVB_DNR);
	/* A large compare takes its scratch buffer past the pool's classes. */
	free(w);
	uint32_t nlb = 2 * MiB / c->lba_size;
	w = write_pattern(c, 0, nlb, 7);
	cmd = make_cmd(OPC_COMPARE, c->nsid, 0, nlb, 0);
	ck_assert_uint_eq(exec_buf(&cmd, w, 2 * MiB), NVB_OK);
	free(w);
}
END_TEST

START_TEST(lba_range)
{
	const struct ns_case *c = &cases[_i];
	uint64_t nblocks = NS_SIZE / c->lba_size;
	uint8_t *buf = calloc(2, c->lba_size);
	struct nvb_sqe cmd;

	cmd = make_cmd(OPC_READ, c->nsid, nblocks - 1, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, c->lba_size), NVB_OK);
	cmd = make_cmd(OPC_WRITE, c->nsid, nblocks - 1, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, c->lba_size), NVB_OK);
	cmd = make_cmd(OPC_READ, c->nsid, nblocks - 1, 2, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 2 * c->lba_size), NVB_LBA_RANGE);
	cmd = make_cmd(OPC_WRITE, c->nsid, nblocks, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, c->lba_size), NVB_LBA_RANGE);
	cmd = make_cmd(OPC_COMPARE, c->nsid, nblocks, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, c->lba_size), NVB_LBA_RANGE);
	/* SLBA + NLB wraps around 2^64. */
	cmd = make_cmd(OPC_READ, c->nsid, UINT64_MAX - 1, 2, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 2 * c->lba_size), NVB_LBA_RANGE);
	cmd = make_cmd(OPC_WRITE, c->nsid, UINT64_MAX, 2, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 2 * c->lba_size), NVB_LBA_RANGE);
	ck_assert(NVB_LBA_RANGE & NVB_DNR);
	free(buf);
}
END_TEST

START_TEST(transfer_length)
{
	const struct ns_case *c = &cases[_i];
	size_t lba = c->lba_size;
	uint8_t *buf = calloc(4, lba);
	struct nvb_sqe cmd = make_cmd(OPC_READ, c->nsid, 0, 2, 0);
	struct iovec iov = { .iov_base = buf, .iov_len = 4 * lba };

	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, &iov, 1, lba, NULL),
			  NVB_SGL_INVALID_DATA);
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, &iov, 1, 3 * lba, NULL),
			  NVB_SGL_INVALID_DATA);
	cmd.opcode = OPC_WRITE;
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, &iov, 1, 0, NULL),
			  NVB_SGL_INVALID_DATA);
	cmd = make_cmd(OPC_FLUSH, c->nsid, 0, 1, 0);
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_OPTIMIZED, &iov, 1, 16, NULL),
			  NVB_SGL_INVALID_DATA);
	ck_assert(NVB_SGL_INVALID_DATA & NVB_DNR);
	free(buf);
}
END_TEST

/* ---- status checks ---- */

START_TEST(invalid_namespace)
{
	uint8_t buf[512];
	static const uint32_t bad[] = { 0, 5, 99, NVB_MAX_NSID, NVB_MAX_NSID + 1, 0xfffffffe };
	struct nvb_sqe cmd;
	size_t len;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = make_cmd(OPC_READ, bad[i], 0, 1, 0);
		ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_INVALID_NS);
		ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_INVALID_NS);
		cmd.opcode = OPC_FLUSH;
		ck_assert_uint_eq(exec_nodata(&cmd), NVB_INVALID_NS);
	}
	/* The broadcast NSID: only Flush takes it, and flushes everything. */
	cmd = make_cmd(OPC_READ, 0xffffffff, 0, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_INVALID_NS);
	cmd = make_cmd(OPC_FLUSH, 0xffffffff, 0, 1, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 0);
	/* The failing namespace makes the broadcast flush fail... */
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_WRITE_FAULT);
	/* ...and without it every namespace flushes fine. */
	nvb_ns_put(atomic_exchange(&ss->ns[FAIL_NSID], NULL));
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_OK);
	ck_assert_uint_eq(exec_full(&cmd, NVB_ANA_INACCESSIBLE, NULL, 0, 0, NULL),
			  NVB_STATUS_ANA_INACCESSIBLE);
	ck_assert(NVB_INVALID_NS & NVB_DNR);
}
END_TEST

START_TEST(invalid_opcode_and_fused)
{
	static const uint8_t bad[] = { 0x04, 0x0c, 0x10, 0x12, 0x7f, 0x80, 0xff };
	uint8_t buf[512] = { 0 };
	struct nvb_sqe cmd;
	size_t len;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = make_cmd(bad[i], 1, 0, 1, 0);
		ck_assert_uint_eq(exec_nodata(&cmd), NVB_INVALID_OPCODE);
		ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_INVALID_OPCODE);
	}
	ck_assert(NVB_INVALID_OPCODE & NVB_DNR);
	/* Fused Compare and Write is not supported. */
	cmd = make_cmd(OPC_COMPARE, 1, 0, 1, 0);
	cmd.flags = 1;
	ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_INVALID_FIELD);
	/* Unknown opcode on a missing namespace: the namespace is checked first. */
	cmd = make_cmd(0x04, 77, 0, 1, 0);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_INVALID_NS);
}
END_TEST

START_TEST(ana_states)
{
	static const struct {
		enum nvb_ana_state state;
		nvb_status status;
	} map[] = {
		{ NVB_ANA_OPTIMIZED, NVB_OK },
		{ NVB_ANA_NON_OPTIMIZED, NVB_OK },
		{ NVB_ANA_INACCESSIBLE, NVB_STATUS_ANA_INACCESSIBLE },
		{ NVB_ANA_PERSISTENT_LOSS, NVB_STATUS_ANA_PERSISTENT_LOSS },
		{ NVB_ANA_CHANGE, NVB_STATUS_ANA_TRANSITION },
	};
	uint8_t buf[4096] = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		struct nvb_sqe cmd = make_cmd(OPC_READ, 2, 0, 1, 0);

		ck_assert_uint_eq(exec_full(&cmd, map[i].state, &iov, 1, 4096, NULL),
				  map[i].status);
		cmd.opcode = OPC_WRITE;
		ck_assert_uint_eq(exec_full(&cmd, map[i].state, &iov, 1, 4096, NULL),
				  map[i].status);
		/* The path state wins over a bad opcode or range. */
		cmd = make_cmd(0x7e, 2, UINT64_MAX, 1, 0);
		if (map[i].status != NVB_OK)
			ck_assert_uint_eq(exec_full(&cmd, map[i].state, NULL, 0, 0, NULL),
					  map[i].status);
		if (map[i].status == NVB_OK)
			continue;
		/* Path errors: SCT 3, retryable elsewhere (no DNR). */
		ck_assert_uint_eq(NVB_STATUS_SCT(map[i].status), 3);
		ck_assert(!(map[i].status & NVB_DNR));
	}
	ck_assert_uint_eq(NVB_STATUS_SC(NVB_STATUS_ANA_PERSISTENT_LOSS), 1);
	ck_assert_uint_eq(NVB_STATUS_SC(NVB_STATUS_ANA_INACCESSIBLE), 2);
	ck_assert_uint_eq(NVB_STATUS_SC(NVB_STATUS_ANA_TRANSITION), 3);
}
END_TEST

START_TEST(backend_errors)
{
	uint8_t buf[512] = { 0 };
	struct nvb_sqe cmd;

	cmd = make_cmd(OPC_READ, FAIL_NSID, 0, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_READ_ERROR);
	cmd.opcode = OPC_COMPARE;
	ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_READ_ERROR);
	cmd.opcode = OPC_WRITE;
	ck_assert_uint_eq(exec_buf(&cmd, buf, 512), NVB_WRITE_FAULT);
	cmd = make_cmd(OPC_WRITE_ZEROES, FAIL_NSID, 0, 1, 0);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_WRITE_FAULT);
	cmd = make_cmd(OPC_FLUSH, FAIL_NSID, 0, 1, 0);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_WRITE_FAULT);

	struct dsm_range_le r = dsm_range(0, 1);
	cmd = dsm_cmd(FAIL_NSID, 1, AD);
	ck_assert_uint_eq(exec_buf(&cmd, &r, sizeof(r)), NVB_INTERNAL_ERROR);
	/* Media errors may succeed on retry: no DNR. */
	ck_assert(!(NVB_READ_ERROR & NVB_DNR));
	ck_assert_uint_eq(ns_at(FAIL_NSID)->stats[0].errors, 6);
}
END_TEST

START_TEST(data_len)
{
	struct nvb_sqe cmd;
	size_t len;

	cmd = make_cmd(OPC_READ, 1, 0, 8, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 8 * 512);
	cmd = make_cmd(OPC_WRITE, 2, 0, 8, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 8 * 4096);
	cmd = make_cmd(OPC_COMPARE, 4, 0, 65536, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 65536ull * 4096);
	cmd = make_cmd(OPC_WRITE_ZEROES, 1, 0, 8, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 0);
	cmd = make_cmd(OPC_FLUSH, 3, 0, 1, 0);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 0);
	cmd = dsm_cmd(3, 256, AD);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &cmd, &len), NVB_OK);
	ck_assert_uint_eq(len, 4096);
	ck_assert_int_eq(atomic_load(&ns_at(3)->refs), 1);
}
END_TEST

START_TEST(stats_counted)
{
	const struct ns_case *c = &cases[_i];
	struct nvb_ns *ns = ns_at(c->nsid);
	struct nvb_io_stats sum;
	size_t lba = c->lba_size;
	uint8_t *buf = calloc(4, lba);
	struct nvb_sqe cmd;
	uint64_t hist = 0;

	memset(ns->stats, 0, sizeof(ns->stats));
	cmd = make_cmd(OPC_WRITE, c->nsid, 0, 4, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 4 * lba), NVB_OK);
	cmd.opcode = OPC_READ;
	ck_assert_uint_eq(exec_buf(&cmd, buf, 4 * lba), NVB_OK);
	ck_assert_uint_eq(exec_buf(&cmd, buf, 4 * lba), NVB_OK);
	cmd = make_cmd(OPC_READ, c->nsid, UINT64_MAX, 1, 0);
	ck_assert_uint_eq(exec_buf(&cmd, buf, lba), NVB_LBA_RANGE);
	cmd = make_cmd(OPC_FLUSH, c->nsid, 0, 1, 0);
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_OK);
	cmd.opcode = 0x7e;
	ck_assert_uint_eq(exec_nodata(&cmd), NVB_INVALID_OPCODE);

	nvb_io_stats_sum(&sum, ns->stats, NVB_MAX_REACTORS);
	ck_assert_uint_eq(sum.writes, 1);
	ck_assert_uint_eq(sum.write_bytes, 4 * lba);
	ck_assert_uint_eq(sum.reads, 3);
	ck_assert_uint_eq(sum.read_bytes, 8 * lba);
	ck_assert_uint_eq(sum.others, 2);
	ck_assert_uint_eq(sum.errors, 2);
	ck_assert_uint_gt(sum.lat_ns_total, 0);
	for (int i = 0; i < 32; i++)
		hist += sum.lat_hist[i];
	ck_assert_uint_eq(hist, 6);
	free(buf);
}
END_TEST

START_TEST(stats_buckets)
{
	static struct nvb_io_stats st[2];
	struct nvb_io_stats sum;

	memset(st, 0, sizeof(st));
	nvb_io_stats_account(&st[0], 0x02, 4096, NVB_OK, 500);                 /* < 1 µs */
	nvb_io_stats_account(&st[0], 0x02, 4096, NVB_OK, 1000);                /* 1 µs */
	nvb_io_stats_account(&st[1], 0x01, 512, NVB_OK, 3500);                 /* 3 µs */
	nvb_io_stats_account(&st[1], 0x01, 512, NVB_WRITE_FAULT, 1000000000000000ull);
	ck_assert_uint_eq(st[0].lat_hist[0], 1);
	ck_assert_uint_eq(st[0].lat_hist[1], 1);
	ck_assert_uint_eq(st[1].lat_hist[2], 1);
	ck_assert_uint_eq(st[1].lat_hist[31], 1);
	nvb_io_stats_sum(&sum, st, 2);
	ck_assert_uint_eq(sum.reads, 2);
	ck_assert_uint_eq(sum.writes, 2);
	ck_assert_uint_eq(sum.read_bytes, 8192);
	ck_assert_uint_eq(sum.write_bytes, 512);   /* failed writes move no bytes */
	ck_assert_uint_eq(sum.errors, 1);
	ck_assert_uint_eq(sum.lat_ns_total, 1000000000005000ull);
}
END_TEST

/* ---- on reactor threads ---- */

#define CHAIN_IOS 200

/* A write → read → verify loop run by one reactor thread, one step per message. */
struct chain {
	struct nvb_io io;
	const struct ns_case *c;
	struct nvb_reactor *r;
	uint64_t slba;
	int left;
	bool reading;
	bool ok;
	uint8_t *wbuf, *rbuf;
	struct iovec iov;
	atomic_int *finished;
};

static void chain_step(void *arg);

static void chain_done(struct nvb_io *io, nvb_status status)
{
	struct chain *ch = container_of(io, struct chain, io);
	size_t len = 8 * (size_t)ch->c->lba_size;

	if (status != NVB_OK || nvb_reactor_current() != ch->r)
		ch->ok = false;
	if (ch->reading && memcmp(ch->rbuf, ch->wbuf, len) != 0)
		ch->ok = false;
	ch->reading = !ch->reading;
	ch->left--;
	/* Next step in a later loop pass: ram completes inline, no deep recursion. */
	nvb_reactor_post(ch->r, chain_step, ch);
}

static void chain_step(void *arg)
{
	struct chain *ch = arg;
	size_t len = 8 * (size_t)ch->c->lba_size;

	if (ch->left == 0) {
		atomic_fetch_add(ch->finished, 1);
		return;
	}
	if (!ch->reading)
		fill(ch->wbuf, len, (unsigned)ch->left);
	ch->iov = (struct iovec){ ch->reading ? ch->rbuf : ch->wbuf, len };
	ch->io = (struct nvb_io){
		.cmd = make_cmd(ch->reading ? OPC_READ : OPC_WRITE, ch->c->nsid, ch->slba, 8, 0),
		.subsys = ss, .path_state = NVB_ANA_OPTIMIZED, .iov = &ch->iov, .iovcnt = 1,
		.data_len = len, .reactor = ch->r, .done = chain_done,
	};
	nvb_exec_io(&ch->io);
}

START_TEST(reactor_threads)
{
	const struct ns_case *c = &cases[_i];
	struct nvb_ns *ns = ns_at(c->nsid);
	static struct chain chains[2];
	atomic_int finished = 0;
	size_t len = 8 * (size_t)c->lba_size;
	uint64_t t0;

	memset(ns->stats, 0, sizeof(ns->stats));
	ck_assert_int_eq(nvb_reactors_start(2), 0);
	for (int i = 0; i < 2; i++) {
		chains[i] = (struct chain){
			.c = c, .r = nvb_reactor_at(i), .slba = 64 + 16 * (uint64_t)i,
			.left = CHAIN_IOS, .ok = true, .wbuf = malloc(len), .rbuf = malloc(len),
			.finished = &finished,
		};
		nvb_reactor_post(chains[i].r, chain_step, &chains[i]);
	}
	t0 = nvb_now_ms();
	while (atomic_load(&finished) < 2 && nvb_now_ms() - t0 < 20000)
		usleep(1000);
	nvb_reactors_stop();
	ck_assert_int_eq(atomic_load(&finished), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert(chains[i].ok);
		free(chains[i].wbuf);
		free(chains[i].rbuf);
		/* Each reactor counted into its own slot. */
		ck_assert_uint_eq(ns->stats[i].writes, CHAIN_IOS / 2);
		ck_assert_uint_eq(ns->stats[i].reads, CHAIN_IOS / 2);
		ck_assert_uint_eq(ns->stats[i].errors, 0);
	}
}
END_TEST

/* ---- namespace creation ---- */

START_TEST(ns_create_errors)
{
	char err[512], want[512], path[128];
	struct nvb_ns_conf conf = {
		.nsid = 5, .backend = NVB_BACKEND_FILE, .lba_size = 512, .line = 12,
	};

	snprintf(path, sizeof(path), "%s/missing.img", tmpdir);
	conf.path = path;
	ck_assert_ptr_null(nvb_ns_create(ss, &conf, "demo.conf", err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "demo.conf:12: namespace 5: backend file '%s': No such file or directory", path);
	ck_assert_str_eq(err, want);

	conf = (struct nvb_ns_conf){ .nsid = 6, .backend = NVB_BACKEND_RAM, .size = MiB,
				     .lba_size = 1024, .line = 3 };
	ck_assert_ptr_null(nvb_ns_create(ss, &conf, "demo.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "demo.conf:3: namespace 6: lba_size 1024 is not 512 or 4096");

	/* Smaller than one block. */
	conf.lba_size = 4096;
	conf.size = 1000;
	ck_assert_ptr_null(nvb_ns_create(ss, &conf, "demo.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "demo.conf:3: namespace 6: size 1000 is smaller than one "
			      "4096-byte block");

	/* Rounded down to whole blocks; no line: no prefix. */
	conf.size = 3 * 4096 + 100;
	conf.line = 0;
	struct nvb_ns *ns = nvb_ns_create(ss, &conf, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(ns);
	ck_assert_uint_eq(atomic_load(&ns->nblocks), 3);
	ck_assert_ptr_null(nvb_ns_get(ss, 6));          /* not published */
	nvb_ns_put(ns);
	conf.size = 0;
	ck_assert_ptr_null(nvb_ns_create(ss, &conf, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "namespace 6: backend ram: a size is required");
}
END_TEST

START_TEST(ns_refs)
{
	struct nvb_ns *ns = nvb_ns_get(ss, 1), *again;

	ck_assert_ptr_nonnull(ns);
	ck_assert_int_eq(atomic_load(&ns->refs), 2);
	again = nvb_ns_get(ss, 1);
	ck_assert_ptr_eq(again, ns);
	ck_assert_int_eq(atomic_load(&ns->refs), 3);
	nvb_ns_put(again);
	nvb_ns_put(ns);
	ck_assert_ptr_null(nvb_ns_get(ss, 0));
	ck_assert_ptr_null(nvb_ns_get(ss, NVB_MAX_NSID + 1));
	ck_assert_ptr_null(nvb_ns_get(NULL, 1));

	/* Unpublished while a command holds it: freed by the last put (ASan). */
	ns = nvb_ns_get(ss, 2);
	atomic_store(&ss->ns[2], NULL);
	nvb_ns_put(ns);
	ck_assert_int_eq(atomic_load(&ns->refs), 1);
	nvb_ns_put(ns);
}
END_TEST

static Suite *executor_suite(void)
{
	Suite *s = suite_create("executor");
	TCase *data = tcase_create("data");
	TCase *status = tcase_create("status");

	tcase_add_checked_fixture(data, setup, teardown);
	tcase_set_timeout(data, 60);
	tcase_add_loop_test(data, read_write_round_trip, 0, NCASES);
	tcase_add_loop_test(data, fua_write_and_flush, 0, NCASES);
	tcase_add_loop_test(data, write_zeroes_reads_zero, 0, NCASES);
	tcase_add_loop_test(data, dsm_deallocate, 0, NCASES);
	tcase_add_loop_test(data, compare, 0, NCASES);
	tcase_add_loop_test(data, lba_range, 0, NCASES);
	tcase_add_loop_test(data, transfer_length, 0, NCASES);
	tcase_add_loop_test(data, stats_counted, 0, NCASES);
	tcase_add_loop_test(data, reactor_threads, 0, NCASES);
	suite_add_tcase(s, data);

	tcase_add_checked_fixture(status, setup, teardown);
	tcase_set_timeout(status, 60);
	tcase_add_test(status, invalid_namespace);
	tcase_add_test(status, invalid_opcode_and_fused);
	tcase_add_test(status, ana_states);
	tcase_add_test(status, backend_errors);
	tcase_add_test(status, data_len);
	tcase_add_test(status, stats_buckets);
	tcase_add_test(status, ns_create_errors);
	tcase_add_test(status, ns_refs);
	suite_add_tcase(s, status);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(executor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

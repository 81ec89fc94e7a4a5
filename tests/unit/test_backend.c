/* SPDX-License-Identifier: MIT */
/*
 * The ram and file backends: data round trips (aligned buffers that take
 * the O_DIRECT path and unaligned ones that take the buffered path),
 * flush, write zeroes, deallocate, resize, sizing and open errors.
 * A block device can be exercised too: NVB_TEST_BLOCKDEV=/dev/loopN.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testlib.h"
#include "bridge/backend.h"
#include "bridge/bufpool.h"

#define MiB (1u << 20)

static char tmpdir[64];
static struct nvb_reactor *reactor;



static void setup(void)
{
	strcpy(tmpdir, "/tmp/nvb-backend-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	reactor = nvb_reactor_create_local(64);
	ck_assert_ptr_nonnull(reactor);
}

static void teardown(void)
{
	nvb_reactor_destroy_local(reactor);
	test_remove_tree(tmpdir);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Create a file of `size` bytes (sparse). */
static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static struct nvb_ns_conf file_conf(const char *path, uint64_t size)
{
	return (struct nvb_ns_conf){
		.nsid = 1, .backend = NVB_BACKEND_FILE, .path = (char *)path, .size = size,
		.lba_size = 512, .volatile_write_cache = true,
	};
}

static struct nvb_ns_conf ram_conf(uint64_t size)
{
	return (struct nvb_ns_conf){
		.nsid = 1, .backend = NVB_BACKEND_RAM, .size = size, .lba_size = 512,
		.volatile_write_cache = true,
	};
}

static struct nvb_backend *open_ok(const struct nvb_ns_conf *conf)
{
	struct nvb_backend *be = NULL;
	char err[512] = "";

	if (nvb_backend_open(conf, &be, err, sizeof(err)) != 0)
		ck_abort_msg("open failed: %s", err);
	ck_assert_ptr_nonnull(be);
	return be;
}

/* ---- running bios ---- */

struct bio_wait {
	struct nvb_bio bio;
	int done;
	int err;
};

static void bio_done(struct nvb_bio *bio, int err)
{
	struct bio_wait *w = container_of(bio, struct bio_wait, bio);

	w->done++;
	w->err = err;
}

static int run_bio(struct nvb_backend *be, enum nvb_bio_op op, uint64_t off, uint64_t len,
		   struct iovec *iov, int iovcnt, bool fua)
{
	struct bio_wait w = {
		.bio = { .op = op, .offset = off, .len = len, .iov = iov, .iovcnt = iovcnt,
			 .fua = fua, .done = bio_done, .reactor = reactor },
	};

	be->ops->submit(be, &w.bio);
	for (int i = 0; i < 1000 && !w.done; i++)
		nvb_reactor_run_once(reactor, 1000);
	ck_assert_int_eq(w.done, 1);
	return w.err;
}

static int rw1(struct nvb_backend *be, enum nvb_bio_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return run_bio(be, op, off, len, &iov, 1, false);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Round trips every backend must pass; buffers from the pool are aligned. */
static void check_round_trips(struct nvb_backend *be)
{
	uint8_t *a = nvb_buf_get(reactor, 256 * 1024), *b = nvb_buf_get(reactor, 256 * 1024);
	uint8_t *raw = malloc(20000), *odd = raw + 3;   /* misaligned on purpose */
	struct iovec iov[3];

	/* Aligned, one segment. */
	fill(a, 128 * 1024, 1);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, 64 * 1024, a, 128 * 1024), 0);
	memset(b, 0xee, 128 * 1024);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 64 * 1024, b, 128 * 1024), 0);
	ck_assert_mem_eq(a, b, 128 * 1024);

	/* Aligned, three segments, FUA. */
	fill(a, 3 * 4096, 2);
	iov[0] = (struct iovec){ a, 4096 };
	iov[1] = (struct iovec){ a + 4096, 8192 };
	ck_assert_int_eq(run_bio(be, NVB_BIO_WRITE, 8192, 3 * 4096, iov, 2, true), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 8192, b, 3 * 4096), 0);
	ck_assert_mem_eq(a, b, 3 * 4096);

	/* Misaligned buffer, offset and length: written buffered, read back
	 * through the aligned (direct) path and through a misaligned one. */
	fill(odd, 10000, 3);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, 300 * 1024 + 17, odd, 10000), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 300 * 1024, b, 16384), 0);
	ck_assert_mem_eq(b + 17, odd, 10000);
	memset(raw + 10010, 0, 9990);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 300 * 1024 + 17, raw + 10010, 9990), 0);
	ck_assert_mem_eq(raw + 10010, odd, 9990);

	/* Mixed segments: aligned then misaligned, and an iovec longer than len. */
	fill(a, 4096, 4);
	fill(odd, 1000, 5);
	iov[0] = (struct iovec){ a, 4096 };
	iov[1] = (struct iovec){ odd, 1000 };
	iov[2] = (struct iovec){ raw + 12000, 5000 };
	ck_assert_int_eq(run_bio(be, NVB_BIO_WRITE, 512 * 1024, 4096 + 1000, iov, 3, false), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 512 * 1024, b, 8192), 0);
	ck_assert_mem_eq(b, a, 4096);
	ck_assert_mem_eq(b + 4096, odd, 1000);

	/* Reads into several segments, the last one longer than needed. */
	memset(raw + 12000, 0, 8000);
	iov[0] = (struct iovec){ b, 4096 };
	iov[1] = (struct iovec){ raw + 12001, 5000 };
	ck_assert_int_eq(run_bio(be, NVB_BIO_READ, 512 * 1024, 4096 + 700, iov, 2, false), 0);
	ck_assert_mem_eq(b, a, 4096);
	ck_assert_mem_eq(raw + 12001, odd, 700);
	ck_assert(all_zero(raw + 12701, 100));
	iov[0] = (struct iovec){ b, 4096 };
	iov[1] = (struct iovec){ b + 4096, 4096 };
	ck_assert_int_eq(run_bio(be, NVB_BIO_READ, 8192, 8192, iov, 2, false), 0);
	fill(a, 3 * 4096, 2);
	ck_assert_mem_eq(b, a, 8192);

	/* Out of range, and an iovec shorter than len. */
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, be->size - 512, b, 1024), -EINVAL);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, be->size, b, 512), -EINVAL);
	iov[0] = (struct iovec){ b, 512 };
	ck_assert_int_eq(run_bio(be, NVB_BIO_READ, 0, 1024, iov, 1, false), -EINVAL);
	/* The last byte is reachable; zero length is a no-op. */
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, be->size - 1, a, 1), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 0, b, 0), 0);

	ck_assert_int_eq(run_bio(be, NVB_BIO_FLUSH, 0, 0, NULL, 0, false), 0);
	ck_assert_int_eq(be->ops->flush_sync(be), 0);

	nvb_buf_put(reactor, a, 256 * 1024);
	nvb_buf_put(reactor, b, 256 * 1024);
	free(raw);
}

/* Zero a range with op, check it reads back zero and its neighbours survive. */
static void check_zeroing(struct nvb_backend *be, enum nvb_bio_op op, uint64_t off, uint64_t len)
{
	size_t span = (size_t)len + 8192;
	uint8_t *pat = malloc(span), *got = malloc(span);
	uint64_t base = off - 4096;

	fill(pat, span, 9);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, base, pat, span), 0);
	ck_assert_int_eq(run_bio(be, op, off, len, NULL, 0, false), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, base, got, span), 0);
	ck_assert_mem_eq(got, pat, 4096);
	ck_assert(all_zero(got + 4096, (size_t)len));
	ck_assert_mem_eq(got + 4096 + len, pat + 4096 + len, 4096);
	free(pat);
	free(got);
}

static void check_zero_ops(struct nvb_backend *be)
{
	static const enum nvb_bio_op ops[] = { NVB_BIO_WRITE_ZEROES, NVB_BIO_DISCARD };

	for (int i = 0; i < 2; i++) {
		check_zeroing(be, ops[i], 64 * 1024, 64 * 1024);          /* whole pages */
		check_zeroing(be, ops[i], 128 * 1024 + 512, 3 * 512);     /* inside a page */
		check_zeroing(be, ops[i], 192 * 1024 + 1536, 20 * 1024);  /* partial ends */
		check_zeroing(be, ops[i], 400 * 1024, 3 * MiB / 2);       /* > zero buffer */
	}
	ck_assert_int_eq(run_bio(be, NVB_BIO_DISCARD, be->size - 4096, 8192, NULL, 0, false),
			 -EINVAL);
}

/* ---- ram ---- */

START_TEST(ram_io)
{
	struct nvb_ns_conf conf = ram_conf(4 * MiB);
	struct nvb_backend *be = open_ok(&conf);

	ck_assert_uint_eq(be->size, 4 * MiB);
	check_round_trips(be);
	check_zero_ops(be);
	be->ops->close(be);
}
END_TEST

START_TEST(ram_resize_and_mapping)
{
	struct nvb_ns_conf conf = ram_conf(MiB);
	struct nvb_backend *be = open_ok(&conf);
	uint8_t buf[8192];
	char err[256];
	bool mapped = false;
	uint64_t run = 0;

	ck_assert_int_eq(be->ops->is_mapped(be, 0, 64 * 1024, &mapped, &run), 0);
	ck_assert(!mapped);
	ck_assert_uint_eq(run, 64 * 1024);

	fill(buf, sizeof(buf), 7);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, MiB - 8192, buf, 8192), 0);
	ck_assert_int_eq(be->ops->is_mapped(be, MiB - 16384, 16384, &mapped, &run), 0);
	ck_assert(!mapped);
	ck_assert_uint_eq(run, 8192);
	ck_assert_int_eq(be->ops->is_mapped(be, MiB - 8192, 8192, &mapped, &run), 0);
	ck_assert(mapped);

	/* Grow: old data kept, new space reads zero and is writable. */
	ck_assert_int_eq(be->ops->resize(be, 3 * MiB, err, sizeof(err)), 0);
	ck_assert_uint_eq(be->size, 3 * MiB);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, MiB - 8192, buf, 8192), 0);
	ck_assert_uint_eq(buf[0], (uint8_t)(7 * 31));
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 2 * MiB, buf, 8192), 0);
	ck_assert(all_zero(buf, 8192));
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, 3 * MiB - 8192, buf, 8192), 0);

	/* Shrink below the data, grow back: the cut part reads zero. */
	fill(buf, sizeof(buf), 8);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, MiB, buf, 8192), 0);
	ck_assert_int_eq(be->ops->resize(be, MiB + 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, MiB, buf, 8192), -EINVAL);
	ck_assert_int_eq(be->ops->resize(be, 2 * MiB, err, sizeof(err)), 0);
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, MiB, buf, 8192), 0);
	ck_assert_uint_eq(buf[0], (uint8_t)(8 * 31));
	ck_assert(all_zero(buf + 1000, 8192 - 1000));

	/* Size 0 is refused. */
	ck_assert_int_ne(be->ops->resize(be, 0, err, sizeof(err)), 0);
	be->ops->close(be);

	/* A 1 GiB namespace costs nothing until touched. */
	conf.size = 1ull << 30;
	be = open_ok(&conf);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, (1ull << 30) - 4096, buf, 4096), 0);
	be->ops->close(be);
}
END_TEST

START_TEST(ram_needs_size)
{
	struct nvb_ns_conf conf = ram_conf(0);
	struct nvb_backend *be = NULL;
	char err[256];

	conf.nsid = 4;
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "namespace 4: backend ram: a size is required");
}
END_TEST

/* ---- file ---- */

START_TEST(file_io)
{
	char path[128];
	struct nvb_ns_conf conf;
	struct nvb_backend *be;

	tmp_path(path, sizeof(path), "disk.img");
	make_file(path, 4 * MiB);
	conf = file_conf(path, 0);
	be = open_ok(&conf);
	ck_assert_uint_eq(be->size, 4 * MiB);
	ck_assert_uint_ge(be->buf_align, 1);
	check_round_trips(be);
	check_zero_ops(be);
	be->ops->close(be);

	/* Data survives close/reopen (it went to the file). */
	be = open_ok(&conf);
	uint8_t *a = nvb_buf_get(reactor, 128 * 1024), *b = nvb_buf_get(reactor, 128 * 1024);
	fill(a, 3 * 4096, 2);           /* check_round_trips' FUA write, untouched since */
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 8192, b, 3 * 4096), 0);
	ck_assert_mem_eq(a, b, 3 * 4096);
	nvb_buf_put(reactor, a, 128 * 1024);
	nvb_buf_put(reactor, b, 128 * 1024);
	be->ops->close(be);
}
END_TEST

START_TEST(file_write_through)
{
	char path[128];
	struct nvb_ns_conf conf;
	struct nvb_backend *be;

	tmp_path(path, sizeof(path), "wt.img");
	make_file(path, 2 * MiB);
	conf = file_conf(path, 0);
	conf.volatile_write_cache = false;
	be = open_ok(&conf);
	check_round_trips(be);
	check_zeroing(be, NVB_BIO_WRITE_ZEROES, 64 * 1024, 64 * 1024);
	check_zeroing(be, NVB_BIO_DISCARD, 64 * 1024, 64 * 1024);
	be->ops->close(be);
}
END_TEST

/* tmpfs has no ZERO_RANGE: Write Zeroes falls back to writing zeroes. */
START_TEST(file_on_tmpfs)
{
	char path[] = "/dev/shm/nvb-backend-XXXXXX";
	int fd = mkstemp(path);
	struct nvb_ns_conf conf;
	struct nvb_backend *be;

	if (fd < 0)
		return;         /* no /dev/shm here: nothing to test */
	ck_assert_int_eq(ftruncate(fd, 4 * MiB), 0);
	close(fd);
	conf = file_conf(path, 0);
	be = open_ok(&conf);
	unlink(path);           /* the open descriptors keep it; nothing left behind */
	check_round_trips(be);
	check_zero_ops(be);
	be->ops->close(be);
}
END_TEST

START_TEST(file_sizing)
{
	char path[128];
	struct nvb_ns_conf conf;
	struct nvb_backend *be;
	char err[512];

	/* A short file is extended to the configured size. */
	tmp_path(path, sizeof(path), "short.img");
	make_file(path, 4096);
	conf = file_conf(path, 2 * MiB);
	be = open_ok(&conf);
	ck_assert_uint_eq(be->size, 2 * MiB);
	ck_assert_int_eq(file_size(path), 2 * MiB);
	be->ops->close(be);

	/* A longer file keeps its length; the namespace uses the configured size. */
	conf.size = MiB;
	be = open_ok(&conf);
	ck_assert_uint_eq(be->size, MiB);
	ck_assert_int_eq(file_size(path), 2 * MiB);

	/* Resize follows with ftruncate. */
	ck_assert_int_eq(be->ops->resize(be, 3 * MiB, err, sizeof(err)), 0);
	ck_assert_uint_eq(be->size, 3 * MiB);
	ck_assert_int_eq(file_size(path), 3 * MiB);
	ck_assert_int_eq(be->ops->resize(be, MiB / 2, err, sizeof(err)), 0);
	ck_assert_int_eq(file_size(path), MiB / 2);
	ck_assert_int_ne(be->ops->resize(be, 0, err, sizeof(err)), 0);

	/* After a resize, mapping: data at 0, hole after. */
	uint8_t buf[4096];
	bool mapped;
	uint64_t run;

	fill(buf, sizeof(buf), 3);
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, 0, buf, 4096), 0);
	ck_assert_int_eq(run_bio(be, NVB_BIO_DISCARD, 4096, MiB / 2 - 4096, NULL, 0, false), 0);
	ck_assert_int_eq(be->ops->is_mapped(be, 0, MiB / 2, &mapped, &run), 0);
	ck_assert(mapped);
	ck_assert_uint_eq(run, 4096);
	ck_assert_int_eq(be->ops->is_mapped(be, 4096, 8192, &mapped, &run), 0);
	ck_assert(!mapped);
	ck_assert_uint_eq(run, 8192);

	/* Cut short behind our back: the missing tail reads as zeroes. */
	ck_assert_int_eq(truncate(path, 4096 + 100), 0);
	memset(buf, 0xaa, sizeof(buf));
	ck_assert_int_eq(rw1(be, NVB_BIO_READ, 4096, buf, 4096), 0);
	ck_assert(all_zero(buf, 4096));
	ck_assert_int_eq(rw1(be, NVB_BIO_WRITE, 8192, buf, 4096), 0);
	ck_assert_int_eq(file_size(path), 12288);
	ck_assert_int_eq(be->ops->resize(be, MiB / 2, err, sizeof(err)), 0);
	be->ops->close(be);

	/* Size 0 = the file's size. */
	conf.size = 0;
	be = open_ok(&conf);
	ck_assert_uint_eq(be->size, MiB / 2);
	be->ops->close(be);
}
END_TEST

START_TEST(file_open_errors)
{
	char path[128], want[512], err[512];
	struct nvb_ns_conf conf;
	struct nvb_backend *be = NULL;

	tmp_path(path, sizeof(path), "missing.img");
	conf = file_conf(path, MiB);
	conf.nsid = 7;
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "namespace 7: backend file '%s': No such file or directory", path);
	ck_assert_str_eq(err, want);

	/* An empty file and no size. */
	tmp_path(path, sizeof(path), "empty.img");
	make_file(path, 0);
	conf = file_conf(path, 0);
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));

	/* Neither a regular file nor a block device. */
	conf = file_conf("/dev/null", 0);
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "namespace 1: backend file '/dev/null': "
			      "not a regular file or block device");
	conf = file_conf(tmpdir, 0);
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);

	conf = file_conf(NULL, MiB);
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "namespace 1: backend file: no path given");

	conf.backend = (enum nvb_backend_kind)42;
	ck_assert_int_eq(nvb_backend_open(&conf, &be, err, sizeof(err)), -1);
	ck_assert_ptr_null(be);
}
END_TEST

/* Optional: a real block device (e.g. a loop device), destroyed by the test. */
START_TEST(blockdev_io)
{
	const char *dev = getenv("NVB_TEST_BLOCKDEV");
	struct nvb_ns_conf conf;
	struct nvb_backend *be;
	char err[512];
	bool mapped;
	uint64_t run;

	if (!dev || !*dev)
		return;
	conf = file_conf(dev, 0);
	be = open_ok(&conf);
	ck_assert_uint_ge(be->size, 4 * MiB);
	check_round_trips(be);
	check_zero_ops(be);
	ck_assert_int_eq(be->ops->is_mapped(be, 0, 4096, &mapped, &run), 0);
	ck_assert(mapped);
	ck_assert_int_ne(be->ops->resize(be, be->size * 2, err, sizeof(err)), 0);
	ck_assert_int_eq(be->ops->resize(be, be->size / 2, err, sizeof(err)), 0);
	be->ops->close(be);
}
END_TEST

static Suite *backend_suite(void)
{
	Suite *s = suite_create("backend");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ram_io);
	tcase_add_test(tc, ram_resize_and_mapping);
	tcase_add_test(tc, ram_needs_size);
	tcase_add_test(tc, file_io);
	tcase_add_test(tc, file_write_through);
	tcase_add_test(tc, file_on_tmpfs);
	tcase_add_test(tc, file_sizing);
	tcase_add_test(tc, file_open_errors);
	tcase_add_test(tc, blockdev_io);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(backend_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

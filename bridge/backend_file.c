/* SPDX-License-Identifier: MIT */
/*
 * The file backend: a regular file or a block device, driven through the
 * submitting reactor's io_uring.
 *
 * Two descriptors: one O_DIRECT (when the file system allows it) for I/O
 * whose buffers, offsets and lengths meet the direct-I/O alignment, and one
 * buffered for everything else, so no request ever needs a bounce copy. The
 * kernel keeps the two coherent (direct I/O writes back and invalidates the
 * page cache over the range it touches).
 *
 * Write Zeroes and Deallocate use fallocate; when the file system or device
 * lacks a mode, we step down (punch hole → zero range → writing zeroes) and
 * remember it so later requests start at the mode that works.
 */
#include "bridge/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX_PIECE   (1u << 30)     /* largest single read/write we issue */
#define ZERO_BUF_SIZE    (1u << 20)     /* source of zero-filling writes */

/* bio->stage bits for reads and writes. */
#define RW_DIRECT        0x1            /* this piece went to the O_DIRECT fd */
#define RW_BUFFERED_ONLY 0x2            /* direct I/O refused it: stay buffered */

/* bio->stage for Write Zeroes / Deallocate: the method being tried. */
enum zero_stage {
	ZERO_PUNCH,                     /* fallocate(PUNCH_HOLE | KEEP_SIZE) */
	ZERO_RANGE,                     /* fallocate(ZERO_RANGE | KEEP_SIZE) */
	ZERO_WRITE,                     /* write from the zero buffer */
	ZERO_SYNC,                      /* write-through namespace: fdatasync */
};

struct file_backend {
	struct nvb_backend be;
	char *path;
	int fd;                         /* buffered */
	int dfd;                        /* O_DIRECT, or -1 */
	uint32_t mem_align;             /* O_DIRECT buffer address alignment */
	uint32_t off_align;             /* O_DIRECT offset and length alignment */
	bool blockdev;
	bool write_through;             /* no volatile write cache: writes are DSYNC */
	atomic_bool no_punch;           /* PUNCH_HOLE unsupported here */
	atomic_bool no_zero_range;      /* ZERO_RANGE unsupported here */
};

static struct file_backend *to_file(struct nvb_backend *be)
{
	return (struct file_backend *)be;
}

/* A read-only view of zeroes that costs no memory (it maps the zero page). */
static void *zero_buf;
static pthread_once_t zero_buf_once = PTHREAD_ONCE_INIT;

static void zero_buf_init(void)
{
	/* Kept for the life of the process: never unmapped. */
	zero_buf = mmap(NULL, ZERO_BUF_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (zero_buf == MAP_FAILED)
		zero_buf = NULL;
}

static void finish(struct nvb_bio *bio, int err)
{
	bio->done(bio, err);
}

/* ---- reads and writes ---- */

static bool piece_direct_ok(const struct file_backend *fb, const struct nvb_bio *bio,
			    uint64_t off, const struct iovec *iov, int n)
{
	if (fb->dfd < 0 || (bio->stage & RW_BUFFERED_ONLY) || off % fb->off_align)
		return false;
	for (int i = 0; i < n; i++) {
		if ((uintptr_t)iov[i].iov_base % fb->mem_align || iov[i].iov_len % fb->off_align)
			return false;
	}
	return true;
}

static void prep_rw_sqe(struct file_backend *fb, struct nvb_bio *bio, bool direct,
			const struct iovec *iov, int n, uint64_t off)
{
	struct io_uring_sqe *sqe = nvb_reactor_sqe(bio->reactor);
	int fd = direct ? fb->dfd : fb->fd;
	bool write = bio->op == NVB_BIO_WRITE;

	/* A single segment needs no iovec import. */
	if (n == 1 && write)
		io_uring_prep_write(sqe, fd, iov->iov_base, (unsigned)iov->iov_len, off);
	else if (n == 1)
		io_uring_prep_read(sqe, fd, iov->iov_base, (unsigned)iov->iov_len, off);
	else if (write)
		io_uring_prep_writev(sqe, fd, iov, (unsigned)n, off);
	else
		io_uring_prep_readv(sqe, fd, iov, (unsigned)n, off);
	if (write && (bio->fua || fb->write_through))
		sqe->rw_flags = RWF_DSYNC;
	bio->stage = (bio->stage & ~RW_DIRECT) | (direct ? RW_DIRECT : 0);
	nvb_sqe_set_op(sqe, &bio->uop);
}

/*
 * Issue what is left of a read or write. Normally that is the whole
 * request in one SQE using the caller's iovec; after a short transfer (or
 * when the iovec holds more than len) it continues from where it stopped,
 * with whole segments when it can and a piece of one segment otherwise,
 * never rewriting the caller's iovec.
 */
static void rw_issue(struct file_backend *fb, struct nvb_bio *bio)
{
	uint64_t skip = bio->done_bytes;
	uint64_t remaining = bio->len - bio->done_bytes;
	uint64_t off = bio->offset + bio->done_bytes;
	uint64_t bytes = 0;
	struct iovec piece;
	int i = 0, n = 0;

	while (i < bio->iovcnt && skip >= bio->iov[i].iov_len) {
		skip -= bio->iov[i].iov_len;
		i++;
	}
	if (i == bio->iovcnt) {
		finish(bio, -EINVAL);   /* the iovec holds fewer than len bytes */
		return;
	}
	if (skip == 0) {
		while (i + n < bio->iovcnt && n < IOV_MAX &&
		       bytes + bio->iov[i + n].iov_len <= remaining &&
		       bytes + bio->iov[i + n].iov_len <= FILE_MAX_PIECE) {
			bytes += bio->iov[i + n].iov_len;
			n++;
		}
		if (n > 0 && bytes > 0) {
			prep_rw_sqe(fb, bio, piece_direct_ok(fb, bio, off, &bio->iov[i], n),
				    &bio->iov[i], n, off);
			return;
		}
	}
	piece.iov_base = (uint8_t *)bio->iov[i].iov_base + skip;
	piece.iov_len = bio->iov[i].iov_len - skip;
	if (piece.iov_len > remaining)
		piece.iov_len = remaining;
	if (piece.iov_len > FILE_MAX_PIECE)
		piece.iov_len = FILE_MAX_PIECE;
	/* The SQE takes base and length by value: piece may live on the stack. */
	prep_rw_sqe(fb, bio, piece_direct_ok(fb, bio, off, &piece, 1), &piece, 1, off);
}

/* Reading past the end of a file that was cut short behind our back:
 * the missing part reads as zeroes, as a hole would. */
static void zero_fill_rest(struct nvb_bio *bio)
{
	uint64_t skip = bio->done_bytes, left = bio->len - bio->done_bytes;

	for (int i = 0; i < bio->iovcnt && left > 0; i++) {
		size_t len = bio->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t n = len - skip < left ? len - skip : (size_t)left;
		memset((uint8_t *)bio->iov[i].iov_base + skip, 0, n);
		left -= n;
		skip = 0;
	}
	bio->done_bytes = bio->len;
}

static void rw_complete(struct file_backend *fb, struct nvb_bio *bio, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		rw_issue(fb, bio);
		return;
	}
	if (res == -EINVAL && (bio->stage & RW_DIRECT)) {
		/* The file system's direct-I/O rules are stricter than it said. */
		bio->stage |= RW_BUFFERED_ONLY;
		rw_issue(fb, bio);
		return;
	}
	if (res < 0) {
		finish(bio, res);
		return;
	}
	if (res == 0) {
		if (bio->op == NVB_BIO_WRITE) {
			finish(bio, -EIO);
			return;
		}
		zero_fill_rest(bio);
	}
	bio->done_bytes += (uint64_t)res;
	if (bio->done_bytes < bio->len)
		rw_issue(fb, bio);
	else
		finish(bio, 0);
}

static void rw_start(struct file_backend *fb, struct nvb_bio *bio)
{
	rw_issue(fb, bio);
}

/* ---- flush ---- */

static void flush_issue(struct file_backend *fb, struct nvb_bio *bio)
{
	struct io_uring_sqe *sqe = nvb_reactor_sqe(bio->reactor);

	io_uring_prep_fsync(sqe, fb->fd, IORING_FSYNC_DATASYNC);
	nvb_sqe_set_op(sqe, &bio->uop);
}

static void flush_complete(struct file_backend *fb, struct nvb_bio *bio, int res)
{
	if (res == -EINTR || res == -EAGAIN)
		flush_issue(fb, bio);
	else
		finish(bio, res < 0 ? res : 0);
}

/* ---- write zeroes and deallocate ---- */

static void zero_issue(struct file_backend *fb, struct nvb_bio *bio)
{
	struct io_uring_sqe *sqe;
	uint64_t off = bio->offset + bio->done_bytes;
	uint64_t left = bio->len - bio->done_bytes;

	/* Skip the methods known not to work here. */
	if (bio->stage == ZERO_PUNCH && atomic_load_explicit(&fb->no_punch, memory_order_relaxed))
		bio->stage = ZERO_RANGE;
	if (bio->stage == ZERO_RANGE &&
	    atomic_load_explicit(&fb->no_zero_range, memory_order_relaxed))
		bio->stage = ZERO_WRITE;
	if (bio->stage == ZERO_WRITE && !zero_buf) {
		finish(bio, -ENOMEM);
		return;
	}

	sqe = nvb_reactor_sqe(bio->reactor);
	switch (bio->stage) {
	case ZERO_PUNCH:
		io_uring_prep_fallocate(sqe, fb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)bio->offset, (off_t)bio->len);
		break;
	case ZERO_RANGE:
		io_uring_prep_fallocate(sqe, fb->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)bio->offset, (off_t)bio->len);
		break;
	case ZERO_WRITE: {
		unsigned n = left < ZERO_BUF_SIZE ? (unsigned)left : ZERO_BUF_SIZE;
		bool direct = fb->dfd >= 0 && off % fb->off_align == 0 &&
			      n % fb->off_align == 0 &&
			      (uintptr_t)zero_buf % fb->mem_align == 0;

		io_uring_prep_write(sqe, direct ? fb->dfd : fb->fd, zero_buf, n, off);
		if (fb->write_through)
			sqe->rw_flags = RWF_DSYNC;
		break;
	}
	default:
		io_uring_prep_fsync(sqe, fb->fd, IORING_FSYNC_DATASYNC);
		break;
	}
	nvb_sqe_set_op(sqe, &bio->uop);
}

static bool mode_unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS || res == -ENOTTY ||
	       res == -EINVAL;  /* block devices want sector-aligned ranges */
}

/* The range is zero now: done, unless the namespace is write-through. */
static void zero_done(struct file_backend *fb, struct nvb_bio *bio)
{
	if (fb->write_through && bio->stage != ZERO_SYNC) {
		bio->stage = ZERO_SYNC;
		zero_issue(fb, bio);
		return;
	}
	finish(bio, 0);
}

static void zero_complete(struct file_backend *fb, struct nvb_bio *bio, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		zero_issue(fb, bio);
		return;
	}
	switch (bio->stage) {
	case ZERO_PUNCH:
	case ZERO_RANGE:
		if (res >= 0) {
			zero_done(fb, bio);
			return;
		}
		if (!mode_unsupported(res))
			break;
		atomic_store_explicit(bio->stage == ZERO_PUNCH ? &fb->no_punch : &fb->no_zero_range,
				      true, memory_order_relaxed);
		bio->stage++;
		zero_issue(fb, bio);
		return;
	case ZERO_WRITE:
		if (res <= 0)
			break;
		bio->done_bytes += (uint64_t)res;
		if (bio->done_bytes < bio->len)
			zero_issue(fb, bio);
		else
			zero_done(fb, bio);
		return;
	default:
		if (res >= 0) {
			finish(bio, 0);
			return;
		}
		break;
	}
	finish(bio, res < 0 ? res : -EIO);
}

static void write_zeroes_start(struct file_backend *fb, struct nvb_bio *bio)
{
	bio->stage = ZERO_RANGE;
	zero_issue(fb, bio);
}

static void discard_start(struct file_backend *fb, struct nvb_bio *bio)
{
	bio->stage = ZERO_PUNCH;
	zero_issue(fb, bio);
}

/* ---- dispatch ---- */

struct file_op {
	void (*start)(struct file_backend *fb, struct nvb_bio *bio);
	void (*complete)(struct file_backend *fb, struct nvb_bio *bio, int res);
	bool ranged;            /* offset/len must lie within the backend */
};

static const struct file_op file_ops[] = {
	[NVB_BIO_READ] = { rw_start, rw_complete, true },
	[NVB_BIO_WRITE] = { rw_start, rw_complete, true },
	[NVB_BIO_FLUSH] = { flush_issue, flush_complete, false },
	[NVB_BIO_WRITE_ZEROES] = { write_zeroes_start, zero_complete, true },
	[NVB_BIO_DISCARD] = { discard_start, zero_complete, true },
};

static void file_uring_done(struct nvb_uring_op *op, int res, uint32_t flags)
{
	struct nvb_bio *bio = container_of(op, struct nvb_bio, uop);

	file_ops[bio->op].complete(to_file(bio->be), bio, res);
}

static void file_submit(struct nvb_backend *be, struct nvb_bio *bio)
{
	struct file_backend *fb = to_file(be);
	const struct file_op *op;

	bio->be = be;
	bio->uop.cb = file_uring_done;
	bio->done_bytes = 0;
	bio->stage = 0;
	if ((unsigned)bio->op >= sizeof(file_ops) / sizeof(file_ops[0])) {
		finish(bio, -EINVAL);
		return;
	}
	op = &file_ops[bio->op];
	if (op->ranged) {
		if (bio->offset > be->size || bio->len > be->size - bio->offset) {
			finish(bio, -EINVAL);
			return;
		}
		if (bio->len == 0) {
			finish(bio, 0);
			return;
		}
	}
	op->start(fb, bio);
}

/* ---- control path ---- */

static void probe_dio_align(struct file_backend *fb)
{
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fb->dfd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (stx.stx_dio_mem_align == 0 || stx.stx_dio_offset_align == 0) {
			/* The file system says it has no direct I/O here. */
			close(fb->dfd);
			fb->dfd = -1;
			return;
		}
		fb->mem_align = stx.stx_dio_mem_align;
		fb->off_align = stx.stx_dio_offset_align;
		return;
	}
#endif
	int lbs;

	if (fb->blockdev && ioctl(fb->fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
		fb->mem_align = fb->off_align = (uint32_t)lbs;
		return;
	}
	fb->mem_align = fb->off_align = 4096;
}

static int blockdev_size(int fd, uint64_t *size)
{
	return ioctl(fd, BLKGETSIZE64, size) == 0 ? 0 : -errno;
}

/* Size the backend from the config: 0 = the file's or device's own size. */
static int file_size_init(struct file_backend *fb, const struct stat *st, uint64_t want,
			  char *err, size_t errlen)
{
	uint64_t have;
	int ret;

	if (fb->blockdev) {
		ret = blockdev_size(fb->fd, &have);
		if (ret < 0) {
			snprintf(err, errlen, "backend file '%s': cannot get the device size: %s",
				 fb->path, strerror(-ret));
			return -1;
		}
		if (want > have) {
			snprintf(err, errlen,
				 "backend file '%s': size %llu is larger than the device (%llu bytes)",
				 fb->path, (unsigned long long)want, (unsigned long long)have);
			return -1;
		}
	} else {
		have = (uint64_t)st->st_size;
		if (want > have && ftruncate(fb->fd, (off_t)want) != 0) {
			snprintf(err, errlen, "backend file '%s': cannot extend to %llu bytes: %s",
				 fb->path, (unsigned long long)want, strerror(errno));
			return -1;
		}
	}
	fb->be.size = want ? want : have;
	if (fb->be.size == 0) {
		snprintf(err, errlen, "backend file '%s': the file is empty and no size is given",
			 fb->path);
		return -1;
	}
	return 0;
}

static void file_close(struct nvb_backend *be)
{
	struct file_backend *fb = to_file(be);

	if (fb->dfd >= 0)
		close(fb->dfd);
	if (fb->fd >= 0)
		close(fb->fd);
	free(fb->path);
	free(fb);
}

static int file_open(const struct nvb_ns_conf *conf, struct nvb_backend **out,
		     char *err, size_t errlen)
{
	struct file_backend *fb;
	struct stat st;

	if (!conf->path || !conf->path[0]) {
		snprintf(err, errlen, "backend file: no path given");
		return -1;
	}
	pthread_once(&zero_buf_once, zero_buf_init);
	fb = calloc(1, sizeof(*fb));
	if (!fb || !(fb->path = strdup(conf->path))) {
		free(fb);
		snprintf(err, errlen, "backend file '%s': out of memory", conf->path);
		return -1;
	}
	fb->be.ops = &nvb_backend_file_ops;
	fb->dfd = -1;
	fb->write_through = !conf->volatile_write_cache;
	fb->fd = open(conf->path, O_RDWR | O_CLOEXEC);
	if (fb->fd < 0) {
		snprintf(err, errlen, "backend file '%s': %s", conf->path, strerror(errno));
		goto fail;
	}
	if (fstat(fb->fd, &st) != 0) {
		snprintf(err, errlen, "backend file '%s': %s", conf->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "backend file '%s': not a regular file or block device",
			 conf->path);
		goto fail;
	}
	fb->blockdev = S_ISBLK(st.st_mode);
	if (file_size_init(fb, &st, conf->size, err, errlen) < 0)
		goto fail;

	/* Direct I/O where the file system takes it (tmpfs, some FUSE do not). */
	fb->dfd = open(conf->path, O_RDWR | O_CLOEXEC | O_DIRECT);
	if (fb->dfd >= 0)
		probe_dio_align(fb);
	fb->be.buf_align = fb->dfd >= 0 ? (fb->mem_align > fb->off_align ?
					   fb->mem_align : fb->off_align) : 1;
	*out = &fb->be;
	return 0;
fail:
	file_close(&fb->be);
	return -1;
}

static int file_resize(struct nvb_backend *be, uint64_t bytes, char *err, size_t errlen)
{
	struct file_backend *fb = to_file(be);
	uint64_t have;
	int ret;

	if (bytes == 0) {
		snprintf(err, errlen, "backend file '%s': size must not be 0", fb->path);
		return -1;
	}
	if (fb->blockdev) {
		/* A device cannot change size from here; within it (e.g. after
		 * the volume was grown) the namespace may take any size. */
		ret = blockdev_size(fb->fd, &have);
		if (ret < 0 || bytes > have) {
			snprintf(err, errlen,
				 "backend file '%s': cannot resize a block device beyond its %llu bytes",
				 fb->path, (unsigned long long)(ret < 0 ? 0 : have));
			return -1;
		}
	} else if (ftruncate(fb->fd, (off_t)bytes) != 0) {
		snprintf(err, errlen, "backend file '%s': cannot resize to %llu bytes: %s",
			 fb->path, (unsigned long long)bytes, strerror(errno));
		return -1;
	}
	be->size = bytes;
	return 0;
}

static int file_flush_sync(struct nvb_backend *be)
{
	return fdatasync(to_file(be)->fd) == 0 ? 0 : -errno;
}

static int file_is_mapped(struct nvb_backend *be, uint64_t offset, uint64_t len, bool *mapped,
			  uint64_t *run_len)
{
	struct file_backend *fb = to_file(be);
	uint64_t end = offset + len;
	off_t data, hole;

	if (len == 0 || offset > be->size || len > be->size - offset)
		return -EINVAL;
	if (fb->blockdev) {
		*mapped = true;
		*run_len = len;
		return 0;
	}
	data = lseek(fb->fd, (off_t)offset, SEEK_DATA);
	if (data < 0 && errno != ENXIO) {
		/* No SEEK_DATA support: everything counts as mapped. */
		*mapped = true;
		*run_len = len;
		return 0;
	}
	if (data < 0 || (uint64_t)data > offset) {
		/* A hole up to the next data (ENXIO: no data up to EOF). */
		*mapped = false;
		*run_len = (data < 0 || (uint64_t)data >= end) ? len : (uint64_t)data - offset;
		return 0;
	}
	hole = lseek(fb->fd, (off_t)offset, SEEK_HOLE);
	*mapped = true;
	*run_len = (hole < 0 || (uint64_t)hole >= end) ? len : (uint64_t)hole - offset;
	return 0;
}

const struct nvb_backend_ops nvb_backend_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.resize = file_resize,
	.submit = file_submit,
	.flush_sync = file_flush_sync,
	.is_mapped = file_is_mapped,
};

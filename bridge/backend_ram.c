/* SPDX-License-Identifier: MIT */
/*
 * The ram backend: blocks live in anonymous memory and every bio completes
 * inline. Pages are only allocated when written, so a 1 GiB demo namespace
 * costs nothing until used, and deallocated pages are handed back.
 *
 * Address space is reserved up front (PROT_NONE) well beyond the size, so
 * a resize never moves the mapping under reactors that are copying from it:
 * growing makes more of the reservation accessible, shrinking only drops
 * the pages (they stay accessible until the namespace is freed).
 */
#include "bridge/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_RESERVE_MIN (64ull << 30)
#define RAM_MINCORE_CHUNK 1024          /* pages examined per mincore call */

struct ram_backend {
	struct nvb_backend be;
	uint8_t *base;
	size_t reserved;        /* bytes of address space reserved at base */
	size_t rw_len;          /* bytes at base currently readable and writable */
	size_t page;
};

static size_t round_up(uint64_t v, size_t to)
{
	return (size_t)((v + to - 1) / to * to);
}

static struct ram_backend *to_ram(struct nvb_backend *be)
{
	return (struct ram_backend *)be;
}

/* Copy between ram and an iovec; -EINVAL when the iovec is shorter than len. */
static int ram_copy(uint8_t *mem, const struct iovec *iov, int iovcnt, uint64_t len,
		    bool to_mem)
{
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

		if (to_mem)
			memcpy(mem, iov[i].iov_base, n);
		else
			memcpy(iov[i].iov_base, mem, n);
		mem += n;
		len -= n;
	}
	return len ? -EINVAL : 0;
}

/* Zero [off, off+len): whole pages are dropped (they read back as zeroes
 * and free their memory), the partial pages at either end are cleared. */
static void ram_zero_range(struct ram_backend *rb, uint64_t off, uint64_t len)
{
	size_t first = round_up(off, rb->page);
	size_t last = (size_t)((off + len) / rb->page * rb->page);

	if (first >= last ||
	    madvise(rb->base + first, last - first, MADV_DONTNEED) != 0) {
		memset(rb->base + off, 0, (size_t)len);
		return;
	}
	memset(rb->base + off, 0, first - (size_t)off);
	memset(rb->base + last, 0, (size_t)(off + len) - last);
}

static int ram_read(struct ram_backend *rb, struct nvb_bio *bio)
{
	return ram_copy(rb->base + bio->offset, bio->iov, bio->iovcnt, bio->len, false);
}

static int ram_write(struct ram_backend *rb, struct nvb_bio *bio)
{
	return ram_copy(rb->base + bio->offset, bio->iov, bio->iovcnt, bio->len, true);
}

static int ram_flush(struct ram_backend *rb, struct nvb_bio *bio)
{
	return 0;
}

static int ram_zero(struct ram_backend *rb, struct nvb_bio *bio)
{
	ram_zero_range(rb, bio->offset, bio->len);
	return 0;
}

static int (*const ram_handlers[])(struct ram_backend *rb, struct nvb_bio *bio) = {
	[NVB_BIO_READ] = ram_read,
	[NVB_BIO_WRITE] = ram_write,
	[NVB_BIO_FLUSH] = ram_flush,
	[NVB_BIO_WRITE_ZEROES] = ram_zero,
	[NVB_BIO_DISCARD] = ram_zero,
};

static void ram_submit(struct nvb_backend *be, struct nvb_bio *bio)
{
	struct ram_backend *rb = to_ram(be);
	uint64_t size = be->size;
	int err;

	bio->be = be;
	if ((unsigned)bio->op >= sizeof(ram_handlers) / sizeof(ram_handlers[0]))
		err = -EINVAL;
	else if (bio->op != NVB_BIO_FLUSH &&
		 (bio->offset > size || bio->len > size - bio->offset))
		err = -EINVAL;
	else
		err = ram_handlers[bio->op](rb, bio);
	bio->done(bio, err);
}

static int ram_open(const struct nvb_ns_conf *conf, struct nvb_backend **out,
		    char *err, size_t errlen)
{
	struct ram_backend *rb;
	long page = sysconf(_SC_PAGESIZE);

	if (conf->size == 0) {
		snprintf(err, errlen, "backend ram: a size is required");
		return -1;
	}
	rb = calloc(1, sizeof(*rb));
	if (!rb) {
		snprintf(err, errlen, "backend ram: out of memory");
		return -1;
	}
	rb->page = page > 0 ? (size_t)page : 4096;
	rb->rw_len = round_up(conf->size, rb->page);
	rb->reserved = rb->rw_len > RAM_RESERVE_MIN ? rb->rw_len : RAM_RESERVE_MIN;
	rb->base = mmap(NULL, rb->reserved, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rb->base == MAP_FAILED) {
		/* Address space limited (ulimit -v): reserve just the size. */
		rb->reserved = rb->rw_len;
		rb->base = mmap(NULL, rb->reserved, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (rb->base == MAP_FAILED ||
	    mprotect(rb->base, rb->rw_len, PROT_READ | PROT_WRITE) != 0) {
		snprintf(err, errlen, "backend ram: cannot map %llu bytes: %s",
			 (unsigned long long)conf->size, strerror(errno));
		if (rb->base != MAP_FAILED)
			munmap(rb->base, rb->reserved);
		free(rb);
		return -1;
	}
	rb->be.ops = &nvb_backend_ram_ops;
	rb->be.size = conf->size;
	rb->be.buf_align = 1;
	*out = &rb->be;
	return 0;
}

static void ram_close(struct nvb_backend *be)
{
	struct ram_backend *rb = to_ram(be);

	munmap(rb->base, rb->reserved);
	free(rb);
}

static int ram_resize(struct nvb_backend *be, uint64_t bytes, char *err, size_t errlen)
{
	struct ram_backend *rb = to_ram(be);
	size_t want = round_up(bytes, rb->page);

	if (bytes == 0) {
		snprintf(err, errlen, "backend ram: size must not be 0");
		return -1;
	}
	if (want > rb->reserved) {
		/* Grow the reservation in place only: moving it would pull the
		 * memory from under reactors still copying. */
		void *p = mremap(rb->base, rb->reserved, want, 0);

		if (p == MAP_FAILED) {
			snprintf(err, errlen, "backend ram: cannot grow to %llu bytes: %s",
				 (unsigned long long)bytes, strerror(errno));
			return -1;
		}
		rb->reserved = want;
	}
	if (want > rb->rw_len) {
		if (mprotect(rb->base + rb->rw_len, want - rb->rw_len,
			     PROT_READ | PROT_WRITE) != 0) {
			snprintf(err, errlen, "backend ram: cannot grow to %llu bytes: %s",
				 (unsigned long long)bytes, strerror(errno));
			return -1;
		}
		rb->rw_len = want;
	}
	if (bytes < be->size) {
		/* Whatever lies past the new end must read as zeroes if it grows back. */
		ram_zero_range(rb, bytes, be->size - bytes);
	}
	be->size = bytes;
	return 0;
}

static int ram_flush_sync(struct nvb_backend *be)
{
	return 0;
}

/* Resident pages are mapped; never-touched and deallocated ones are not. */
static int ram_is_mapped(struct nvb_backend *be, uint64_t offset, uint64_t len, bool *mapped,
			 uint64_t *run_len)
{
	struct ram_backend *rb = to_ram(be);
	unsigned char vec[RAM_MINCORE_CHUNK];
	uint64_t pos = offset / rb->page * rb->page;
	uint64_t end = offset + len;
	bool first = true;

	if (len == 0 || offset > be->size || len > be->size - offset)
		return -EINVAL;
	while (pos < end) {
		size_t pages = (size_t)((end - pos + rb->page - 1) / rb->page);

		if (pages > RAM_MINCORE_CHUNK)
			pages = RAM_MINCORE_CHUNK;
		if (mincore(rb->base + pos, pages * rb->page, vec) != 0)
			return -errno;
		for (size_t i = 0; i < pages; i++, pos += rb->page) {
			bool resident = vec[i] & 1;

			if (first) {
				*mapped = resident;
				first = false;
			} else if (resident != *mapped) {
				*run_len = pos - offset;
				return 0;
			}
		}
	}
	*run_len = len;
	return 0;
}

const struct nvb_backend_ops nvb_backend_ram_ops = {
	.name = "ram",
	.open = ram_open,
	.close = ram_close,
	.resize = ram_resize,
	.submit = ram_submit,
	.flush_sync = ram_flush_sync,
	.is_mapped = ram_is_mapped,
};

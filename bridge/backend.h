/* SPDX-License-Identifier: MIT */
/*
 * Backends store a namespace's blocks. I/O is asynchronous on the calling
 * reactor's io_uring; a backend may also complete a bio inline (ram does),
 * so callers must not touch a bio after submitting it unless its done
 * callback has not yet run.
 */
#ifndef NVB_BACKEND_H
#define NVB_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bridge/config.h"
#include "bridge/reactor.h"

enum nvb_bio_op {
	NVB_BIO_READ,
	NVB_BIO_WRITE,
	NVB_BIO_FLUSH,          /* make every completed write durable */
	NVB_BIO_WRITE_ZEROES,   /* [offset, offset+len) reads back as zeroes */
	NVB_BIO_DISCARD,        /* deallocate; reads back as zeroes afterwards */
};

struct nvb_bio;
typedef void (*nvb_bio_done)(struct nvb_bio *bio, int err);  /* err: 0 or -errno */

struct nvb_bio {
	enum nvb_bio_op op;
	uint64_t offset;        /* bytes */
	uint64_t len;           /* bytes */
	struct iovec *iov;      /* READ/WRITE data; iovec array must outlive the bio */
	int iovcnt;
	bool fua;               /* WRITE: durable before completion */
	nvb_bio_done done;
	struct nvb_reactor *reactor;  /* the reactor submitting (and completing) it */
	/* backend private */
	struct nvb_backend *be;         /* the backend it was submitted to */
	struct nvb_uring_op uop;
	uint64_t done_bytes;
	int stage;
};

struct nvb_backend;
struct nvb_backend_ops {
	const char *name;
	/* Open per the namespace config; on error -1 with a reason in err. */
	int (*open)(const struct nvb_ns_conf *conf, struct nvb_backend **out,
		    char *err, size_t errlen);
	void (*close)(struct nvb_backend *be);
	/* Grow or shrink to `bytes` (control thread). */
	int (*resize)(struct nvb_backend *be, uint64_t bytes, char *err, size_t errlen);
	/* Submit asynchronously from bio->reactor's thread. */
	void (*submit)(struct nvb_backend *be, struct nvb_bio *bio);
	/* Blocking flush for shutdown (control thread). 0 or -errno. */
	int (*flush_sync)(struct nvb_backend *be);
	/* Whether [offset, offset+len) is allocated (for GET LBA STATUS); may be NULL. */
	int (*is_mapped)(struct nvb_backend *be, uint64_t offset, uint64_t len, bool *mapped,
			 uint64_t *run_len);
};

struct nvb_backend {
	const struct nvb_backend_ops *ops;
	uint64_t size;          /* bytes */
	uint32_t buf_align;     /* buffers and lengths aligned to this go the fast path */
};

extern const struct nvb_backend_ops nvb_backend_file_ops;
extern const struct nvb_backend_ops nvb_backend_ram_ops;

/* Open the backend a namespace config names. */
int nvb_backend_open(const struct nvb_ns_conf *conf, struct nvb_backend **out,
		     char *err, size_t errlen);

#endif

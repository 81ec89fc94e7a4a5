/* SPDX-License-Identifier: MIT */
/*
 * Copying between a flat buffer and a scatter-gather list, at a byte offset
 * into the list. Command data lives in iovecs end to end (no gathering copy
 * on the I/O path); these are for the few places that must look at the bytes:
 * DSM ranges, reservation parameters, admin data, SCSI parameter lists and
 * data-in pages. Header-only so the host library can use it without linking
 * the core.
 */
#ifndef NVB_IOV_H
#define NVB_IOV_H

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

enum nvb_iov_op { NVB_IOV_TO_BUF, NVB_IOV_FROM_BUF, NVB_IOV_ZERO };

/* Walk [off, off+len) of the list and copy to/from buf or zero it.
 * Returns the bytes done (fewer when the list ends first). */
static inline size_t nvb_iov_walk(const struct iovec *iov, int iovcnt, size_t off, size_t len,
				  enum nvb_iov_op op, void *buf)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t seg = iov[i].iov_len, n;
		uint8_t *p;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off < len - done ? seg - off : len - done;
		p = (uint8_t *)iov[i].iov_base + off;
		if (op == NVB_IOV_TO_BUF)
			memcpy((uint8_t *)buf + done, p, n);
		else if (op == NVB_IOV_FROM_BUF)
			memcpy(p, (const uint8_t *)buf + done, n);
		else
			memset(p, 0, n);
		done += n;
		off = 0;
	}
	return done;
}

/* len bytes at byte `off` of the list → dst. */
static inline size_t nvb_iov_to_buf(const struct iovec *iov, int iovcnt, size_t off,
				    void *dst, size_t len)
{
	return nvb_iov_walk(iov, iovcnt, off, len, NVB_IOV_TO_BUF, dst);
}

/* len bytes of src → the list at byte `off`. */
static inline size_t nvb_iov_from_buf(const struct iovec *iov, int iovcnt, size_t off,
				      const void *src, size_t len)
{
	return nvb_iov_walk(iov, iovcnt, off, len, NVB_IOV_FROM_BUF, (void *)(uintptr_t)src);
}

/* Zero len bytes of the list at byte `off`. */
static inline size_t nvb_iov_zero(const struct iovec *iov, int iovcnt, size_t off, size_t len)
{
	return nvb_iov_walk(iov, iovcnt, off, len, NVB_IOV_ZERO, NULL);
}

#endif

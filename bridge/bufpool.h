/* SPDX-License-Identifier: MIT */
/*
 * Data buffers for commands: page-aligned (so file backends can use
 * O_DIRECT), taken from a per-reactor free list by size class (4 KiB, 8 KiB,
 * ... 1 MiB and up), so the I/O path neither locks nor mallocs once warm.
 * Get and put on the same reactor's thread.
 */
#ifndef NVB_BUFPOOL_H
#define NVB_BUFPOOL_H

#include <stddef.h>

#include "bridge/reactor.h"

/* A buffer of at least len bytes (len may be 0: returns a 4 KiB buffer).
 * NULL only when memory is exhausted. */
void *nvb_buf_get(struct nvb_reactor *r, size_t len);
/* Return a buffer got with the same len. */
void nvb_buf_put(struct nvb_reactor *r, void *buf, size_t len);

#endif

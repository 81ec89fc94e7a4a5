/* SPDX-License-Identifier: MIT */
/*
 * Between reactor.c and bufpool.c only: the per-reactor buffer pool state
 * lives inside the (opaque) reactor, and the reactor frees it on teardown.
 */
#ifndef NVB_REACTOR_INTERNAL_H
#define NVB_REACTOR_INTERNAL_H

#include "bridge/reactor.h"

/* Size classes 4 KiB << 0 .. 4 KiB << 8 (1 MiB); larger sizes bypass the pool. */
#define NVB_BUF_MIN_SHIFT 12
#define NVB_BUF_CLASSES   9

struct nvb_free_buf {
	struct nvb_free_buf *next;
};

struct nvb_bufpool {
	struct nvb_free_buf *free[NVB_BUF_CLASSES];
	unsigned count[NVB_BUF_CLASSES];
};

/* The pool of reactor r (never NULL for a valid reactor). */
struct nvb_bufpool *nvb_reactor_bufpool(struct nvb_reactor *r);
/* Free every cached buffer (reactor teardown). */
void nvb_bufpool_drain(struct nvb_bufpool *pool);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Per-reactor buffer free lists, one per power-of-two size class. A free
 * buffer's first bytes link it into its list, so the pool needs no memory
 * of its own. Each class keeps a bounded number of buffers (about 22 MiB
 * per reactor at most), so a burst does not pin memory for ever.
 */
#include "bridge/bufpool.h"
#include "bridge/reactor_internal.h"

#include <stdlib.h>

#define BUF_ALIGN 4096

/* Free buffers kept per class: 4K 8K 16K 32K 64K 128K 256K 512K 1M. */
static const unsigned class_cap[NVB_BUF_CLASSES] = {
	256, 128, 64, 32, 32, 16, 8, 8, 8,
};

/* The class holding len bytes, or -1 when len is above the largest class. */
static int size_class(size_t len)
{
	int c = 0;

	while (c < NVB_BUF_CLASSES && ((size_t)1 << (NVB_BUF_MIN_SHIFT + c)) < len)
		c++;
	return c < NVB_BUF_CLASSES ? c : -1;
}

static void *buf_alloc(size_t len)
{
	void *buf;

	if (posix_memalign(&buf, BUF_ALIGN, len) != 0)
		return NULL;
	return buf;
}

void *nvb_buf_get(struct nvb_reactor *r, size_t len)
{
	int c = size_class(len);
	struct nvb_bufpool *pool;
	struct nvb_free_buf *fb;

	if (c < 0)
		return buf_alloc(len);
	if (r) {
		pool = nvb_reactor_bufpool(r);
		fb = pool->free[c];
		if (fb) {
			pool->free[c] = fb->next;
			pool->count[c]--;
			return fb;
		}
	}
	return buf_alloc((size_t)1 << (NVB_BUF_MIN_SHIFT + c));
}

void nvb_buf_put(struct nvb_reactor *r, void *buf, size_t len)
{
	int c = size_class(len);
	struct nvb_bufpool *pool;
	struct nvb_free_buf *fb = buf;

	if (!buf)
		return;
	if (c < 0 || !r) {
		free(buf);
		return;
	}
	pool = nvb_reactor_bufpool(r);
	if (pool->count[c] >= class_cap[c]) {
		free(buf);
		return;
	}
	fb->next = pool->free[c];
	pool->free[c] = fb;
	pool->count[c]++;
}

void nvb_bufpool_drain(struct nvb_bufpool *pool)
{
	for (int c = 0; c < NVB_BUF_CLASSES; c++) {
		while (pool->free[c]) {
			struct nvb_free_buf *fb = pool->free[c];

			pool->free[c] = fb->next;
			free(fb);
		}
		pool->count[c] = 0;
	}
}

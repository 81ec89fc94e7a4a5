/* SPDX-License-Identifier: MIT */
/*
 * Reactors: N threads, each owning one io_uring. A connection (and every
 * backend I/O it issues) lives on exactly one reactor, so the I/O path takes
 * no lock. Other threads talk to a reactor only by posting messages.
 *
 * Every SQE's user_data points at a struct nvb_uring_op; the reactor calls
 * op->cb(op, cqe->res, cqe->flags) for its completion. Embed the op in the
 * object that owns the I/O and recover it with container_of.
 */
#ifndef NVB_REACTOR_H
#define NVB_REACTOR_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define NVB_MAX_REACTORS 64

struct nvb_reactor;
struct nvb_uring_op;
typedef void (*nvb_uring_cb)(struct nvb_uring_op *op, int res, uint32_t cqe_flags);
struct nvb_uring_op {
	nvb_uring_cb cb;
};

/* Start `count` reactor threads (0 = one per online CPU). Returns 0 or -errno. */
int nvb_reactors_start(int count);
/* Ask every loop to exit after running its pending messages; join the threads. */
void nvb_reactors_stop(void);
int nvb_reactor_count(void);
struct nvb_reactor *nvb_reactor_at(int index);
/* The reactor running the calling thread, or NULL outside reactors. */
struct nvb_reactor *nvb_reactor_current(void);
int nvb_reactor_index(const struct nvb_reactor *r);

/* An SQE on r's ring (reactor thread only). Never NULL: submits when full.
 * The caller must set user_data with nvb_sqe_set_op. */
struct io_uring_sqe *nvb_reactor_sqe(struct nvb_reactor *r);
static inline void nvb_sqe_set_op(struct io_uring_sqe *sqe, struct nvb_uring_op *op)
{
	io_uring_sqe_set_data(sqe, op);
}

/* Run fn(arg) on reactor r, from any thread (a reactor may post to itself:
 * fn then runs in a later loop iteration, never re-entrantly). */
typedef void (*nvb_msg_fn)(void *arg);
void nvb_reactor_post(struct nvb_reactor *r, nvb_msg_fn fn, void *arg);
/* Run fn(arg) on r and wait for it to return (non-reactor threads only). */
void nvb_reactor_call(struct nvb_reactor *r, nvb_msg_fn fn, void *arg);
/* Wait until every reactor has finished the loop iteration it was in, so no
 * reactor still holds a pointer it read before the call (a grace period:
 * unpublish, barrier, then release). Non-reactor threads only. */
void nvb_reactors_barrier(void);

/* Periodic work (~every 100 ms) on a reactor: keep-alive timers, etc.
 * add/del on the owning reactor's thread only. */
struct nvb_tick {
	void (*fn)(struct nvb_tick *t, uint64_t now_ms);
	struct nvb_tick *prev, *next;
};
void nvb_reactor_add_tick(struct nvb_reactor *r, struct nvb_tick *t);
void nvb_reactor_del_tick(struct nvb_reactor *r, struct nvb_tick *t);

/* CLOCK_MONOTONIC in milliseconds / nanoseconds. */
uint64_t nvb_now_ms(void);
uint64_t nvb_now_ns(void);

/*
 * For unit tests: a reactor driven by the calling thread, with no thread of
 * its own. nvb_reactor_run_once() submits pending SQEs, waits for at least
 * one event (or timeout_ms), and dispatches completions and messages.
 */
struct nvb_reactor *nvb_reactor_create_local(unsigned entries);
int nvb_reactor_run_once(struct nvb_reactor *r, int timeout_ms);
void nvb_reactor_destroy_local(struct nvb_reactor *r);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Reactor threads: one io_uring each, plus an eventfd that other threads
 * kick after queueing a message, and a ~100 ms timeout driving ticks.
 *
 * The loop is: submit and wait for one completion, take every CQE off the
 * ring (copying it out first, so callbacks may submit freely), dispatch
 * each to its nvb_uring_op, then run the messages posted meanwhile. Messages
 * are the control path and take a mutex; completions never do.
 */
#include "bridge/reactor.h"
#include "bridge/log.h"
#include "bridge/reactor_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define REACTOR_RING_ENTRIES 1024
#define REACTOR_TICK_MS      100
#define REACTOR_CQE_BATCH    64

struct reactor_msg {
	nvb_msg_fn fn;
	void *arg;
};

/* A growable array: posting reuses its capacity, so a warm queue never allocates. */
struct msg_queue {
	struct reactor_msg *items;
	size_t len, cap;
};

/* A completion taken off the ring before its turn (see stash_cqes). */
struct cqe_copy {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
};

struct nvb_reactor {
	int index;
	bool local;
	bool stop;                      /* reactor thread only, set by the stop message */
	struct io_uring ring;
	pthread_t thread;

	pthread_mutex_t msg_lock;
	struct msg_queue pending;       /* msg_lock */
	bool wake_sent;                 /* msg_lock: eventfd written since the last swap */
	struct msg_queue running;       /* reactor thread only */
	int efd;
	uint64_t efd_value;
	struct nvb_uring_op efd_op;
	bool efd_armed;

	struct __kernel_timespec tick_ts;
	struct nvb_uring_op tick_op;
	bool tick_armed;
	struct nvb_tick ticks;          /* list sentinel */
	struct nvb_tick *tick_cursor;   /* next tick to run while running ticks */

	struct cqe_copy *stash;
	size_t nstash, stash_cap;

	struct nvb_bufpool pool;
};

static struct nvb_reactor *reactors[NVB_MAX_REACTORS];
static int nreactors;
static __thread struct nvb_reactor *current_reactor;

uint64_t nvb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t nvb_now_ms(void)
{
	return nvb_now_ns() / 1000000ull;
}

struct nvb_bufpool *nvb_reactor_bufpool(struct nvb_reactor *r)
{
	return &r->pool;
}

/*
 * Ring flags, best first. SINGLE_ISSUER lets the kernel skip submission
 * locking; DEFER_TASKRUN/COOP_TASKRUN run completion work only when we
 * enter the kernel instead of interrupting the thread. Older kernels reject
 * them with -EINVAL, so fall back step by step. The ring must be created on
 * the thread that submits to it (SINGLE_ISSUER binds it to its creator).
 */
static int ring_init(struct io_uring *ring, unsigned entries)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE,
		IORING_SETUP_CQSIZE,
		0,
	};
	struct io_uring_params p;
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i];
		/* Room for bursts: network and backend completions share the CQ. */
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, ring, &p);
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

/* Move every ready CQE into the stash; used when the SQ is full and the
 * kernel refuses more work until completions are reaped. */
static void stash_cqes(struct nvb_reactor *r)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
		if (r->nstash == r->stash_cap) {
			size_t cap = r->stash_cap ? r->stash_cap * 2 : 256;
			struct cqe_copy *s = realloc(r->stash, cap * sizeof(*s));

			if (!s) {
				nvb_err("reactor %d: out of memory stashing completions", r->index);
				abort();
			}
			r->stash = s;
			r->stash_cap = cap;
		}
		r->stash[r->nstash++] = (struct cqe_copy){
			.user_data = cqe->user_data, .res = cqe->res, .flags = cqe->flags,
		};
		io_uring_cqe_seen(&r->ring, cqe);
	}
}

struct io_uring_sqe *nvb_reactor_sqe(struct nvb_reactor *r)
{
	struct io_uring_sqe *sqe;

	for (;;) {
		sqe = io_uring_get_sqe(&r->ring);
		if (sqe)
			return sqe;
		int ret = io_uring_submit(&r->ring);
		if (ret >= 0 || ret == -EINTR)
			continue;
		if (ret == -EBUSY || ret == -EAGAIN) {
			/* CQ overflow: make room, then retry. */
			stash_cqes(r);
			continue;
		}
		nvb_err("reactor %d: io_uring submit: %s", r->index, strerror(-ret));
		abort();
	}
}

static void dispatch_one(const struct cqe_copy *c)
{
	struct nvb_uring_op *op = (struct nvb_uring_op *)(uintptr_t)c->user_data;

	/* Cancel requests and the like carry no op. */
	if (op)
		op->cb(op, c->res, c->flags);
}

/* Dispatch stashed and ready completions; returns how many. */
static int dispatch_completions(struct nvb_reactor *r)
{
	struct io_uring_cqe *cqes[REACTOR_CQE_BATCH];
	struct cqe_copy batch[REACTOR_CQE_BATCH];
	int total = 0;

	/* Stashed ones first (they are older); callbacks may stash more. */
	for (size_t i = 0; i < r->nstash; i++, total++)
		dispatch_one(&r->stash[i]);
	r->nstash = 0;

	for (;;) {
		unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, REACTOR_CQE_BATCH);

		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			batch[i] = (struct cqe_copy){
				.user_data = cqes[i]->user_data,
				.res = cqes[i]->res, .flags = cqes[i]->flags,
			};
		io_uring_cq_advance(&r->ring, n);
		for (unsigned i = 0; i < n; i++)
			dispatch_one(&batch[i]);
		total += (int)n;
		/* Let messages run now and then under a completion flood. */
		if (total >= REACTOR_RING_ENTRIES * 4)
			break;
	}
	return total;
}

static int run_messages(struct nvb_reactor *r)
{
	struct msg_queue tmp;
	int n;

	pthread_mutex_lock(&r->msg_lock);
	tmp = r->pending;
	r->pending = r->running;
	r->running = tmp;
	r->wake_sent = false;
	pthread_mutex_unlock(&r->msg_lock);

	for (size_t i = 0; i < r->running.len; i++)
		r->running.items[i].fn(r->running.items[i].arg);
	n = (int)r->running.len;
	r->running.len = 0;
	return n;
}

static void arm_eventfd(struct nvb_reactor *r)
{
	struct io_uring_sqe *sqe = nvb_reactor_sqe(r);

	io_uring_prep_read(sqe, r->efd, &r->efd_value, sizeof(r->efd_value), 0);
	nvb_sqe_set_op(sqe, &r->efd_op);
	r->efd_armed = true;
}

static void eventfd_done(struct nvb_uring_op *op, int res, uint32_t flags)
{
	struct nvb_reactor *r = container_of(op, struct nvb_reactor, efd_op);

	r->efd_armed = false;
	/* Messages run after this dispatch pass anyway; only re-arm. */
	if (r->stop || res == -ECANCELED)
		return;
	if (res < 0 && res != -EINTR && res != -EAGAIN)
		nvb_warn("reactor %d: eventfd read: %s", r->index, strerror(-res));
	arm_eventfd(r);
}

static void arm_tick(struct nvb_reactor *r)
{
	struct io_uring_sqe *sqe = nvb_reactor_sqe(r);

	r->tick_ts.tv_sec = 0;
	r->tick_ts.tv_nsec = REACTOR_TICK_MS * 1000000ll;
	io_uring_prep_timeout(sqe, &r->tick_ts, 0, 0);
	nvb_sqe_set_op(sqe, &r->tick_op);
	r->tick_armed = true;
}

static void run_ticks(struct nvb_reactor *r)
{
	uint64_t now = nvb_now_ms();
	struct nvb_tick *t = r->ticks.next;

	/* The cursor lets a tick delete itself (or the next one) safely. */
	while (t != &r->ticks) {
		r->tick_cursor = t->next;
		t->fn(t, now);
		t = r->tick_cursor;
	}
	r->tick_cursor = NULL;
}

static void tick_done(struct nvb_uring_op *op, int res, uint32_t flags)
{
	struct nvb_reactor *r = container_of(op, struct nvb_reactor, tick_op);

	r->tick_armed = false;
	if (r->stop || res == -ECANCELED)
		return;
	run_ticks(r);
	arm_tick(r);
}

void nvb_reactor_add_tick(struct nvb_reactor *r, struct nvb_tick *t)
{
	t->next = &r->ticks;
	t->prev = r->ticks.prev;
	r->ticks.prev->next = t;
	r->ticks.prev = t;
}

void nvb_reactor_del_tick(struct nvb_reactor *r, struct nvb_tick *t)
{
	if (!t->next)
		return;
	if (r->tick_cursor == t)
		r->tick_cursor = t->next;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void reactor_enter(struct nvb_reactor *r, int timeout_ms)
{
	unsigned wait_nr = r->nstash ? 0 : 1;
	int ret;

	if (timeout_ms < 0) {
		ret = io_uring_submit_and_wait(&r->ring, wait_nr);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000ll,
		};
		struct io_uring_cqe *cqe;

		ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
	}
	/* -EBUSY: CQ overflow (the caller drains next); the rest are benign. */
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME)
		nvb_warn("reactor %d: io_uring_enter: %s", r->index, strerror(-ret));
}

static void reactor_free(struct nvb_reactor *r)
{
	if (r->efd >= 0)
		close(r->efd);
	pthread_mutex_destroy(&r->msg_lock);
	free(r->pending.items);
	free(r->running.items);
	free(r->stash);
	nvb_bufpool_drain(&r->pool);
	free(r);
}

/* Called on the thread that will drive r. */
static int reactor_setup(struct nvb_reactor *r, unsigned entries)
{
	int ret = ring_init(&r->ring, entries);

	if (ret < 0)
		return ret;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		ret = -errno;
		io_uring_queue_exit(&r->ring);
		return ret;
	}
	arm_eventfd(r);
	arm_tick(r);
	io_uring_submit(&r->ring);
	return 0;
}

static struct nvb_reactor *reactor_alloc(int index, bool local)
{
	struct nvb_reactor *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->index = index;
	r->local = local;
	r->efd = -1;
	r->efd_op.cb = eventfd_done;
	r->tick_op.cb = tick_done;
	r->ticks.next = r->ticks.prev = &r->ticks;
	pthread_mutex_init(&r->msg_lock, NULL);
	return r;
}

/* On r's own thread: cancel our own ops and wait until the kernel is done
 * with their buffers, then tear the ring down. */
static void reactor_teardown_ring(struct nvb_reactor *r)
{
	struct io_uring_sqe *sqe;

	r->stop = true;
	if (r->efd_armed) {
		sqe = nvb_reactor_sqe(r);
		io_uring_prep_cancel(sqe, &r->efd_op, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
	if (r->tick_armed) {
		sqe = nvb_reactor_sqe(r);
		io_uring_prep_cancel(sqe, &r->tick_op, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
	for (int tries = 0; (r->efd_armed || r->tick_armed) && tries < 50; tries++) {
		reactor_enter(r, 100);
		dispatch_completions(r);
	}
	io_uring_queue_exit(&r->ring);
}

void nvb_reactor_post(struct nvb_reactor *r, nvb_msg_fn fn, void *arg)
{
	bool wake;

	pthread_mutex_lock(&r->msg_lock);
	if (r->pending.len == r->pending.cap) {
		size_t cap = r->pending.cap ? r->pending.cap * 2 : 64;
		struct reactor_msg *items = realloc(r->pending.items, cap * sizeof(*items));

		if (!items) {
			pthread_mutex_unlock(&r->msg_lock);
			nvb_err("reactor %d: out of memory posting a message", r->index);
			abort();
		}
		r->pending.items = items;
		r->pending.cap = cap;
	}
	r->pending.items[r->pending.len++] = (struct reactor_msg){ .fn = fn, .arg = arg };
	wake = !r->wake_sent;
	r->wake_sent = true;
	pthread_mutex_unlock(&r->msg_lock);

	if (wake) {
		uint64_t one = 1;

		/* EAGAIN means the counter is saturated: the reactor is awake anyway. */
		while (write(r->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
}

struct call_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int remaining;
	nvb_msg_fn fn;
	void *arg;
};

static void call_wait_init(struct call_wait *w, int remaining, nvb_msg_fn fn, void *arg)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->remaining = remaining;
	w->fn = fn;
	w->arg = arg;
}

static void call_wait_msg(void *arg)
{
	struct call_wait *w = arg;

	if (w->fn)
		w->fn(w->arg);
	/* Signal under the lock: the waiter may free w as soon as it gets it. */
	pthread_mutex_lock(&w->lock);
	if (--w->remaining == 0)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void call_wait_finish(struct call_wait *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->remaining > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

void nvb_reactor_call(struct nvb_reactor *r, nvb_msg_fn fn, void *arg)
{
	struct call_wait w;

	if (current_reactor == r) {
		/* Waiting on ourselves would deadlock; we are already there. */
		fn(arg);
		return;
	}
	call_wait_init(&w, 1, fn, arg);
	nvb_reactor_post(r, call_wait_msg, &w);
	call_wait_finish(&w);
}

void nvb_reactors_barrier(void)
{
	struct call_wait w;

	if (nreactors == 0)
		return;
	if (current_reactor && !current_reactor->local) {
		nvb_err("nvb_reactors_barrier called on reactor %d: would deadlock",
			current_reactor->index);
		abort();
	}
	call_wait_init(&w, nreactors, NULL, NULL);
	for (int i = 0; i < nreactors; i++)
		nvb_reactor_post(reactors[i], call_wait_msg, &w);
	call_wait_finish(&w);
}

struct reactor_start {
	struct nvb_reactor *r;
	int cpu;                        /* -1: no pinning */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready;
	int result;
};

static void *reactor_thread(void *arg)
{
	struct reactor_start *st = arg;
	struct nvb_reactor *r = st->r;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "nvb-reactor-%d", r->index);
	pthread_setname_np(pthread_self(), name);
	if (st->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(st->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	ret = reactor_setup(r, REACTOR_RING_ENTRIES);

	pthread_mutex_lock(&st->lock);
	st->result = ret;
	st->ready = true;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
	/* st is gone from here on. */
	if (ret < 0)
		return NULL;

	current_reactor = r;
	while (!r->stop) {
		reactor_enter(r, -1);
		dispatch_completions(r);
		run_messages(r);
	}
	while (run_messages(r) > 0)
		;
	reactor_teardown_ring(r);
	current_reactor = NULL;
	return NULL;
}

/* The index-th CPU this process may run on, or -1 when there are fewer. */
static int nth_allowed_cpu(const cpu_set_t *allowed, int index)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, allowed) && index-- == 0)
			return cpu;
	}
	return -1;
}

static int reactor_spawn(int index, int cpu)
{
	struct reactor_start st = { .cpu = cpu };
	struct nvb_reactor *r = reactor_alloc(index, false);
	int ret;

	if (!r)
		return -ENOMEM;
	st.r = r;
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	ret = -pthread_create(&r->thread, NULL, reactor_thread, &st);
	if (ret == 0) {
		pthread_mutex_lock(&st.lock);
		while (!st.ready)
			pthread_cond_wait(&st.cond, &st.lock);
		pthread_mutex_unlock(&st.lock);
		ret = st.result;
		if (ret < 0)
			pthread_join(r->thread, NULL);
	}
	pthread_cond_destroy(&st.cond);
	pthread_mutex_destroy(&st.lock);
	if (ret < 0) {
		reactor_free(r);
		return ret;
	}
	reactors[index] = r;
	return 0;
}

int nvb_reactors_start(int count)
{
	cpu_set_t allowed;
	bool pin;
	int ret;

	if (nreactors > 0)
		return -EALREADY;
	if (count <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		count = n > 0 ? (int)n : 1;
	}
	if (count > NVB_MAX_REACTORS) {
		nvb_warn("%d reactors requested; using %d", count, NVB_MAX_REACTORS);
		count = NVB_MAX_REACTORS;
	}
	/* One reactor per CPU we may use: pin each to its own CPU. */
	pin = sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
	      count <= CPU_COUNT(&allowed);

	for (int i = 0; i < count; i++) {
		ret = reactor_spawn(i, pin ? nth_allowed_cpu(&allowed, i) : -1);
		if (ret < 0) {
			nvb_err("cannot start reactor %d: %s", i, strerror(-ret));
			nvb_reactors_stop();
			return ret;
		}
		nreactors = i + 1;
	}
	return 0;
}

static void stop_msg(void *arg)
{
	struct nvb_reactor *r = arg;

	r->stop = true;
}

void nvb_reactors_stop(void)
{
	int n = nreactors;

	for (int i = 0; i < n; i++)
		nvb_reactor_post(reactors[i], stop_msg, reactors[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(reactors[i]->thread, NULL);
		reactor_free(reactors[i]);
		reactors[i] = NULL;
	}
	nreactors = 0;
}

int nvb_reactor_count(void)
{
	return nreactors;
}

struct nvb_reactor *nvb_reactor_at(int index)
{
	if (index < 0 || index >= nreactors)
		return NULL;
	return reactors[index];
}

struct nvb_reactor *nvb_reactor_current(void)
{
	return current_reactor;
}

/* Local (test) reactors share index 0 so per-reactor arrays stay in bounds. */
int nvb_reactor_index(const struct nvb_reactor *r)
{
	return r ? r->index : -1;
}

struct nvb_reactor *nvb_reactor_create_local(unsigned entries)
{
	struct nvb_reactor *r = reactor_alloc(0, true);

	if (!r)
		return NULL;
	if (reactor_setup(r, entries ? entries : 64) < 0) {
		reactor_free(r);
		return NULL;
	}
	return r;
}

int nvb_reactor_run_once(struct nvb_reactor *r, int timeout_ms)
{
	struct nvb_reactor *saved = current_reactor;
	bool have_msgs;
	int n;

	pthread_mutex_lock(&r->msg_lock);
	have_msgs = r->pending.len > 0;
	pthread_mutex_unlock(&r->msg_lock);

	current_reactor = r;
	reactor_enter(r, have_msgs ? 0 : timeout_ms);
	n = dispatch_completions(r);
	n += run_messages(r);
	current_reactor = saved;
	return n;
}

void nvb_reactor_destroy_local(struct nvb_reactor *r)
{
	if (!r)
		return;
	while (run_messages(r) > 0)
		;
	reactor_teardown_ring(r);
	reactor_free(r);
}

/* SPDX-License-Identifier: MIT */
/* Reactor threads, messages, barriers, ticks, local reactors and the buffer pool. */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bufpool.h"
#include "bridge/reactor.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- threads ---- */

static void record_current(void *arg)
{
	*(struct nvb_reactor **)arg = nvb_reactor_current();
}

START_TEST(start_stop)
{
	struct nvb_reactor *seen = NULL;

	ck_assert_int_eq(nvb_reactors_start(2), 0);
	ck_assert_int_eq(nvb_reactors_start(2), -EALREADY);
	ck_assert_int_eq(nvb_reactor_count(), 2);
	ck_assert_ptr_nonnull(nvb_reactor_at(0));
	ck_assert_ptr_nonnull(nvb_reactor_at(1));
	ck_assert_ptr_ne(nvb_reactor_at(0), nvb_reactor_at(1));
	ck_assert_ptr_null(nvb_reactor_at(2));
	ck_assert_ptr_null(nvb_reactor_at(-1));
	ck_assert_int_eq(nvb_reactor_index(nvb_reactor_at(1)), 1);
	ck_assert_ptr_null(nvb_reactor_current());

	for (int i = 0; i < 2; i++) {
		nvb_reactor_call(nvb_reactor_at(i), record_current, &seen);
		ck_assert_ptr_eq(seen, nvb_reactor_at(i));
	}
	nvb_reactors_stop();
	ck_assert_int_eq(nvb_reactor_count(), 0);
	ck_assert_ptr_null(nvb_reactor_at(0));

	/* Start again after a stop, with the default count. */
	ck_assert_int_eq(nvb_reactors_start(0), 0);
	ck_assert_int_ge(nvb_reactor_count(), 1);
	nvb_reactors_barrier();
	nvb_reactors_stop();
}
END_TEST

#define NMSG 20000

struct msg_counter {
	struct nvb_reactor *owner;
	unsigned count;                 /* touched only by the owner's thread */
	unsigned last_seq;
	bool in_order;
	bool wrong_thread;
};

struct seq_msg {
	struct msg_counter *c;
	unsigned seq;
};

static void count_msg(void *arg)
{
	struct seq_msg *m = arg;

	if (nvb_reactor_current() != m->c->owner)
		m->c->wrong_thread = true;
	if (m->seq != m->c->last_seq + 1)
		m->c->in_order = false;
	m->c->last_seq = m->seq;
	m->c->count++;
}

START_TEST(many_messages_and_barrier)
{
	static struct msg_counter counters[2];
	static struct seq_msg msgs[2][NMSG];

	ck_assert_int_eq(nvb_reactors_start(2), 0);
	for (int r = 0; r < 2; r++)
		counters[r] = (struct msg_counter){ .owner = nvb_reactor_at(r), .in_order = true };
	for (unsigned i = 0; i < NMSG; i++) {
		for (int r = 0; r < 2; r++) {
			msgs[r][i] = (struct seq_msg){ .c = &counters[r], .seq = i + 1 };
			nvb_reactor_post(nvb_reactor_at(r), count_msg, &msgs[r][i]);
		}
	}
	/* The barrier runs after everything posted before it. */
	nvb_reactors_barrier();
	for (int r = 0; r < 2; r++) {
		ck_assert_uint_eq(counters[r].count, NMSG);
		ck_assert(counters[r].in_order);
		ck_assert(!counters[r].wrong_thread);
	}
	nvb_reactors_stop();
}
END_TEST

/* A message that hops: reactor 0 → itself → reactor 1 → caller's flag. */
static atomic_int hops;

static void hop_last(void *arg)
{
	atomic_fetch_add(&hops, 1);
}

static void hop_second(void *arg)
{
	atomic_fetch_add(&hops, 1);
	nvb_reactor_post(nvb_reactor_at(1), hop_last, NULL);
}

static void hop_first(void *arg)
{
	atomic_fetch_add(&hops, 1);
	/* Posting to ourselves runs later, not re-entrantly. */
	nvb_reactor_post(nvb_reactor_current(), hop_second, NULL);
	if (atomic_load(&hops) != 1)
		atomic_store(&hops, -1000);
}

START_TEST(post_between_reactors)
{
	ck_assert_int_eq(nvb_reactors_start(2), 0);
	atomic_store(&hops, 0);
	nvb_reactor_post(nvb_reactor_at(0), hop_first, NULL);
	for (int i = 0; i < 500 && atomic_load(&hops) < 3; i++)
		sleep_ms(2);
	ck_assert_int_eq(atomic_load(&hops), 3);
	nvb_reactors_stop();
}
END_TEST

static atomic_int drained;

static void drain_msg(void *arg)
{
	atomic_fetch_add(&drained, 1);
}

START_TEST(stop_runs_pending_messages)
{
	ck_assert_int_eq(nvb_reactors_start(1), 0);
	atomic_store(&drained, 0);
	for (int i = 0; i < 1000; i++)
		nvb_reactor_post(nvb_reactor_at(0), drain_msg, NULL);
	nvb_reactors_stop();
	ck_assert_int_eq(atomic_load(&drained), 1000);
}
END_TEST

/* ---- ticks ---- */

struct counted_tick {
	struct nvb_tick tick;
	struct nvb_reactor *r;
	atomic_int fired;
	int limit;                      /* deletes itself after this many (0: never) */
	uint64_t last_ms;
};

static void tick_fn(struct nvb_tick *t, uint64_t now_ms)
{
	struct counted_tick *ct = container_of(t, struct counted_tick, tick);

	ct->last_ms = now_ms;
	if (atomic_fetch_add(&ct->fired, 1) + 1 == ct->limit)
		nvb_reactor_del_tick(ct->r, t);
}

static void add_tick_msg(void *arg)
{
	struct counted_tick *ct = arg;

	nvb_reactor_add_tick(ct->r, &ct->tick);
}

static void del_tick_msg(void *arg)
{
	struct counted_tick *ct = arg;

	nvb_reactor_del_tick(ct->r, &ct->tick);
}

START_TEST(ticks_fire)
{
	static struct counted_tick a, b, c;
	int seen;

	ck_assert_int_eq(nvb_reactors_start(1), 0);
	a = (struct counted_tick){ .tick.fn = tick_fn, .r = nvb_reactor_at(0) };
	b = (struct counted_tick){ .tick.fn = tick_fn, .r = nvb_reactor_at(0), .limit = 2 };
	c = (struct counted_tick){ .tick.fn = tick_fn, .r = nvb_reactor_at(0) };
	nvb_reactor_call(a.r, add_tick_msg, &a);
	nvb_reactor_call(b.r, add_tick_msg, &b);
	nvb_reactor_call(c.r, add_tick_msg, &c);
	sleep_ms(450);
	/* ~100 ms period: 3-5 ticks in 450 ms on a busy machine, at least 2. */
	ck_assert_int_ge(atomic_load(&a.fired), 2);
	ck_assert_int_le(atomic_load(&a.fired), 6);
	ck_assert_int_ge(atomic_load(&c.fired), 2);
	/* b deleted itself in its second tick; the ones after it kept going. */
	ck_assert_int_eq(atomic_load(&b.fired), 2);
	ck_assert_uint_gt(a.last_ms, 0);

	nvb_reactor_call(a.r, del_tick_msg, &a);
	nvb_reactor_call(c.r, del_tick_msg, &c);
	seen = atomic_load(&a.fired);
	sleep_ms(250);
	ck_assert_int_eq(atomic_load(&a.fired), seen);
	nvb_reactors_stop();
}
END_TEST

/* ---- local reactors ---- */

struct nop_op {
	struct nvb_uring_op op;
	int *done;
	int res;
};

static void nop_done(struct nvb_uring_op *op, int res, uint32_t flags)
{
	struct nop_op *n = container_of(op, struct nop_op, op);

	n->res = res;
	(*n->done)++;
}

static void local_msg(void *arg)
{
	(*(int *)arg)++;
}

START_TEST(local_reactor)
{
	struct nvb_reactor *r = nvb_reactor_create_local(16);
	static struct nop_op nops[200];
	int done = 0, msgs = 0;
	uint64_t t0;

	ck_assert_ptr_nonnull(r);
	/* More SQEs than the ring holds: nvb_reactor_sqe submits to make room. */
	for (int i = 0; i < 200; i++) {
		struct io_uring_sqe *sqe = nvb_reactor_sqe(r);

		nops[i] = (struct nop_op){ .op.cb = nop_done, .done = &done, .res = -1 };
		io_uring_prep_nop(sqe);
		nvb_sqe_set_op(sqe, &nops[i].op);
	}
	for (int i = 0; i < 100 && done < 200; i++)
		nvb_reactor_run_once(r, 1000);
	ck_assert_int_eq(done, 200);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(nops[i].res, 0);

	/* A message posted from the driving thread runs in the next pass. */
	nvb_reactor_post(r, local_msg, &msgs);
	ck_assert_int_eq(msgs, 0);
	ck_assert_int_gt(nvb_reactor_run_once(r, 1000), 0);
	ck_assert_int_eq(msgs, 1);

	/* With nothing to do, run_once returns after about the timeout (or a tick). */
	t0 = nvb_now_ms();
	nvb_reactor_run_once(r, 30);
	ck_assert_uint_lt(nvb_now_ms() - t0, 1000);

	/* Messages left over are run on destroy. */
	nvb_reactor_post(r, local_msg, &msgs);
	nvb_reactor_destroy_local(r);
	ck_assert_int_eq(msgs, 2);
}
END_TEST

START_TEST(local_ticks)
{
	struct nvb_reactor *r = nvb_reactor_create_local(0);
	static struct counted_tick t;
	uint64_t t0 = nvb_now_ms();

	ck_assert_ptr_nonnull(r);
	t = (struct counted_tick){ .tick.fn = tick_fn, .r = r };
	nvb_reactor_add_tick(r, &t.tick);
	while (atomic_load(&t.fired) < 2 && nvb_now_ms() - t0 < 3000)
		nvb_reactor_run_once(r, 500);
	ck_assert_int_ge(atomic_load(&t.fired), 2);
	nvb_reactor_del_tick(r, &t.tick);
	nvb_reactor_del_tick(r, &t.tick);       /* twice is harmless */
	nvb_reactor_destroy_local(r);
}
END_TEST

START_TEST(monotonic_clock)
{
	uint64_t a = nvb_now_ns(), b;

	sleep_ms(5);
	b = nvb_now_ns();
	ck_assert_uint_ge(b - a, 4000000);
	ck_assert_uint_ge(nvb_now_ms(), a / 1000000);
}
END_TEST

/* ---- buffer pool ---- */

START_TEST(bufpool_classes)
{
	struct nvb_reactor *r = nvb_reactor_create_local(0);
	static const size_t sizes[] = { 0, 1, 4096, 4097, 65536, 100000, 1 << 20,
					(1 << 20) + 1, 3u << 20 };

	ck_assert_ptr_nonnull(r);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint8_t *a = nvb_buf_get(r, len), *b;

		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq((uintptr_t)a % 4096, 0);
		/* The whole length (at least 4 KiB) is usable. */
		a[0] = 1;
		a[(len ? len : 4096) - 1] = 2;
		nvb_buf_put(r, a, len);
		b = nvb_buf_get(r, len);
		if (len <= (1 << 20))
			ck_assert_ptr_eq(a, b);         /* reused from the free list */
		nvb_buf_put(r, b, len);
	}
	/* Same class, different lengths. */
	void *x = nvb_buf_get(r, 5000);
	nvb_buf_put(r, x, 5000);
	ck_assert_ptr_eq(nvb_buf_get(r, 8192), x);
	nvb_buf_put(r, x, 8192);
	nvb_reactor_destroy_local(r);
}
END_TEST

START_TEST(bufpool_bounded)
{
	struct nvb_reactor *r = nvb_reactor_create_local(0);
	static void *bufs[1000];

	/* Far more than any class keeps: the excess is freed (ASan checks leaks). */
	for (int i = 0; i < 1000; i++)
		bufs[i] = nvb_buf_get(r, 4096);
	for (int i = 0; i < 1000; i++)
		nvb_buf_put(r, bufs[i], 4096);
	for (int i = 0; i < 40; i++)
		bufs[i] = nvb_buf_get(r, 1 << 20);
	for (int i = 0; i < 40; i++)
		nvb_buf_put(r, bufs[i], 1 << 20);
	nvb_reactor_destroy_local(r);

	/* No reactor: plain allocation. */
	void *p = nvb_buf_get(NULL, 12345);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 4096, 0);
	nvb_buf_put(NULL, p, 12345);
	nvb_buf_put(NULL, NULL, 0);
}
END_TEST

static void buf_on_reactor(void *arg)
{
	struct nvb_reactor *r = nvb_reactor_current();
	void *b = nvb_buf_get(r, 128 * 1024);

	*(bool *)arg = b != NULL && (uintptr_t)b % 4096 == 0;
	nvb_buf_put(r, b, 128 * 1024);
}

START_TEST(bufpool_on_reactor_threads)
{
	bool ok = false;

	ck_assert_int_eq(nvb_reactors_start(2), 0);
	nvb_reactor_call(nvb_reactor_at(1), buf_on_reactor, &ok);
	ck_assert(ok);
	nvb_reactors_stop();            /* frees the cached buffer */
}
END_TEST

static Suite *reactor_suite(void)
{
	Suite *s = suite_create("reactor");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, start_stop);
	tcase_add_test(tc, many_messages_and_barrier);
	tcase_add_test(tc, post_between_reactors);
	tcase_add_test(tc, stop_runs_pending_messages);
	tcase_add_test(tc, ticks_fire);
	tcase_add_test(tc, local_reactor);
	tcase_add_test(tc, local_ticks);
	tcase_add_test(tc, monotonic_clock);
	tcase_add_test(tc, bufpool_classes);
	tcase_add_test(tc, bufpool_bounded);
	tcase_add_test(tc, bufpool_on_reactor_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reactor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

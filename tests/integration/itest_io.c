/* SPDX-License-Identifier: MIT */
/*
 * Scenario "io": two controllers with 4 I/O queues each — A lets small
 * writes travel in the capsule, B (no_incapsule) makes every write wait for
 * an R2T. --mib MiB of pseudo-random data are written in extents of mixed
 * sizes (512 B .. 1 MiB) in random order from all 8 queues in parallel,
 * then read back in a different partition, each extent by a queue other
 * than the one that wrote its first block, and compared.
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define NR_QUEUES       4
#define NR_WORKERS      (2 * NR_QUEUES)
#define WINDOW          8               /* commands in flight per queue */
#define MAX_XFER        (1u << 20)
#define IO_TIMEOUT_MS   30000

struct extent {
	uint32_t nsid;
	uint32_t lba_size;
	uint64_t slba;
	uint32_t nlb;
	uint8_t worker;
};

struct ns_area {
	uint32_t nsid;
	uint32_t lba_size;
	uint64_t nblocks;               /* of this test's area (from LBA 0) */
};

struct worker;

struct slot {
	struct worker *w;
	const struct extent *e;
	uint8_t *buf;
	bool busy;
};

struct worker {
	int id;
	struct nvmeh_ctrl *ctrl;
	unsigned qid;
	bool is_write;
	uint64_t seed;
	const struct extent **jobs;
	size_t njobs;
	struct slot slots[WINDOW];
	uint64_t bytes, cmds, incapsule, r2t, mib_xfers;
	uint32_t incapsule_max;
	bool no_incapsule;
	pthread_t thread;
};

/* Transfer sizes in bytes with weights: many small ones (in-capsule on
 * controller A), the boundaries around the 8 KiB in-capsule limit, and
 * plenty of 1 MiB (MDTS-sized) transfers. */
static const struct { uint32_t bytes, weight; } sizes[] = {
	{ 512, 4 }, { 1536, 3 }, { 4096, 8 }, { 7680, 3 }, { 8192, 6 }, { 8704, 3 },
	{ 16384, 6 }, { 65536, 8 }, { 131072, 8 }, { 262144, 6 }, { 1048576, 20 },
};

static uint32_t pick_nlb(uint64_t *rs, uint32_t lba_size)
{
	uint32_t total = 0, r;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i].weight;
	r = (uint32_t)(itest_rand(rs) % total);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (r < sizes[i].weight)
			return (sizes[i].bytes + lba_size - 1) / lba_size;
		r -= sizes[i].weight;
	}
	return 1;
}

/* Cut each area into extents of random sizes, covering it exactly once. */
static struct extent *partition(const struct ns_area *areas, int nareas, uint64_t *rs,
				size_t *count)
{
	size_t n = 0, cap = 1024;
	struct extent *v = malloc(cap * sizeof(*v));

	CHECK(v != NULL, "out of memory");
	for (int a = 0; a < nareas; a++) {
		for (uint64_t pos = 0; pos < areas[a].nblocks;) {
			uint32_t nlb = pick_nlb(rs, areas[a].lba_size);

			if (nlb > areas[a].nblocks - pos)
				nlb = (uint32_t)(areas[a].nblocks - pos);
			if (n == cap) {
				struct extent *grown = realloc(v, 2 * cap * sizeof(*v));

				CHECK(grown != NULL, "out of memory");
				v = grown;
				cap *= 2;
			}
			v[n++] = (struct extent){ .nsid = areas[a].nsid,
						  .lba_size = areas[a].lba_size,
						  .slba = pos, .nlb = nlb };
			pos += nlb;
		}
	}
	*count = n;
	return v;
}

/* The writer of the block (nsid, lba): extents are sorted by (area, slba). */
static int writer_of(const struct extent *w, size_t n, uint32_t nsid, uint64_t lba)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w[mid].nsid < nsid || (w[mid].nsid == nsid && w[mid].slba + w[mid].nlb <= lba))
			lo = mid + 1;
		else
			hi = mid;
	}
	CHECK(lo < n && w[lo].nsid == nsid && w[lo].slba <= lba, "test bug: no writer for %u/%llu",
	      nsid, (unsigned long long)lba);
	return w[lo].worker;
}

static void shuffle(const struct extent **v, size_t n, uint64_t *rs)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(itest_rand(rs) % i);
		const struct extent *t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void io_done(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct slot *s = arg;
	struct worker *w = s->w;
	const struct extent *e = s->e;
	char why[256];

	if (status != 0)
		FAIL("%s via worker %d (qid %u): nsid %u lba %llu+%u (%u bytes): %s",
		     w->is_write ? "write" : "read", w->id, w->qid, e->nsid,
		     (unsigned long long)e->slba, e->nlb, e->nlb * e->lba_size,
		     itest_status_str(status));
	if (!w->is_write && itest_verify(s->buf, e->lba_size, e->nsid, e->slba, e->nlb, w->seed, 1,
					 why, sizeof(why)))
		FAIL("read via worker %d (qid %u, written by worker %d) differs: %s", w->id, w->qid,
		     e->worker, why);
	s->busy = false;
}

static void submit(struct worker *w, struct slot *s, const struct extent *e)
{
	uint32_t len = e->nlb * e->lba_size;
	struct nvb_sqe sqe;
	int rc;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = w->is_write ? nvme_cmd_write : nvme_cmd_read;
	sqe.nsid = htole32(e->nsid);
	sqe.cdw10 = htole32((uint32_t)e->slba);
	sqe.cdw11 = htole32((uint32_t)(e->slba >> 32));
	sqe.cdw12 = htole32(e->nlb - 1);
	if (w->is_write)
		itest_fill(s->buf, e->lba_size, e->nsid, e->slba, e->nlb, w->seed, 1);
	s->e = e;
	s->busy = true;
	rc = nvmeh_submit(w->ctrl, w->qid, &sqe, s->buf, len, io_done, s);
	if (rc < 0)
		FAIL("submit on worker %d: %s", w->id, itest_status_str(rc));
	w->cmds++;
	w->bytes += len;
	if (len == MAX_XFER)
		w->mib_xfers++;
	if (w->is_write) {
		if (!w->no_incapsule && len <= w->incapsule_max)
			w->incapsule++;
		else
			w->r2t++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t next = 0;

	for (;;) {
		unsigned busy = 0;
		int rc;

		for (int i = 0; i < WINDOW; i++) {
			struct slot *s = &w->slots[i];

			if (!s->busy && next < w->njobs)
				submit(w, s, w->jobs[next++]);
			busy += s->busy;
		}
		if (!busy)
			break;
		rc = nvmeh_poll(w->ctrl, w->qid, 1, IO_TIMEOUT_MS);
		if (rc < 0)
			FAIL("worker %d (qid %u): queue failed: %s", w->id, w->qid,
			     itest_status_str(rc));
		if (rc == 0)
			FAIL("worker %d (qid %u): no completion in %d ms", w->id, w->qid,
			     IO_TIMEOUT_MS);
	}
	return NULL;
}

/* Run one phase on all workers, keeping both admin queues alive. */
static void run_phase(struct worker *ws, struct nvmeh_ctrl *a, struct nvmeh_ctrl *b,
		      const char *name)
{
	double t0 = itest_now(), last_ka = t0;
	uint64_t bytes = 0, cmds = 0, incap = 0, r2t = 0, mib = 0;

	for (int i = 0; i < NR_WORKERS; i++)
		CHECK(pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) == 0,
		      "pthread_create");
	/* The I/O threads own the I/O queues; this thread owns both admin
	 * queues and sends Keep Alive while they work. */
	for (int i = 0; i < NR_WORKERS; i++) {
		for (;;) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_timedjoin_np(ws[i].thread, NULL, &ts) == 0)
				break;
			if (itest_now() - last_ka > 2) {
				CHECK_OK(nvmeh_keep_alive(a), "Keep Alive (controller A)");
				CHECK_OK(nvmeh_keep_alive(b), "Keep Alive (controller B)");
				last_ka = itest_now();
			}
		}
	}
	for (int i = 0; i < NR_WORKERS; i++) {
		bytes += ws[i].bytes;
		cmds += ws[i].cmds;
		incap += ws[i].incapsule;
		r2t += ws[i].r2t;
		mib += ws[i].mib_xfers;
	}
	{
		double dt = itest_now() - t0;

		itest_log("  %s: %.1f MiB in %llu commands over %d queues, %.2f s, %.1f MiB/s; "
			  "1 MiB transfers: %llu%s", name, (double)bytes / 1048576.0,
			  (unsigned long long)cmds, NR_WORKERS, dt,
			  (double)bytes / 1048576.0 / (dt > 0 ? dt : 1e-9), (unsigned long long)mib,
			  ws[0].is_write ? "" : " (every block verified)");
		if (ws[0].is_write)
			itest_log("  %s: in-capsule writes %llu, R2T writes %llu", name,
				  (unsigned long long)incap, (unsigned long long)r2t);
	}
	CHECK(mib > 0, "no 1 MiB transfer was made in the %s phase", name);
	if (ws[0].is_write) {
		CHECK(incap > 0, "no in-capsule write was made");
		CHECK(r2t > 0, "no R2T write was made");
	}
}

static void check_ctrl(struct nvmeh_ctrl *c, const struct itest_args *a, const char *name)
{
	const struct nvmeh_info *in = nvmeh_info(c);

	itest_log("  controller %s: cntlid %u, %u I/O queues of depth %u, hdgst %d ddgst %d, "
		  "max transfer %u, I/O in-capsule %u, MAXH2CDATA %u", name, in->cntlid,
		  in->nr_io_queues, in->queue_depth, in->hdgst, in->ddgst, in->max_xfer,
		  in->io_incapsule, in->maxh2cdata);
	CHECK(in->nr_io_queues == NR_QUEUES, "controller %s got %u I/O queues, asked %d", name,
	      in->nr_io_queues, NR_QUEUES);
	CHECK(in->hdgst == a->hdgst && in->ddgst == a->ddgst,
	      "controller %s negotiated digests h%d/d%d, asked h%d/d%d", name, in->hdgst,
	      in->ddgst, a->hdgst, a->ddgst);
	CHECK(in->max_xfer == 0 || in->max_xfer >= MAX_XFER,
	      "MDTS allows only %u bytes per command; a 1 MiB transfer must fit", in->max_xfer);
}

int scenario_io(const struct itest_args *a)
{
	struct ns_area areas[2];
	struct nvmeh_opts o;
	struct nvmeh_ctrl *ca, *cb;
	struct worker ws[NR_WORKERS];
	uint64_t total = (uint64_t)a->mib << 20, rs = a->seed;
	struct extent *wext, *rext;
	const struct extent **jobs;
	size_t nw, nr;
	int nareas = 0;

	itest_opts(a, &o, 0, NULL);
	o.nr_io_queues = NR_QUEUES;
	o.queue_depth = 32;
	ca = itest_connect(&o, "controller A");
	o.no_incapsule = true;
	cb = itest_connect(&o, "controller B (no in-capsule data)");
	check_ctrl(ca, a, "A");
	check_ctrl(cb, a, "B");
	CHECK(nvmeh_info(ca)->io_incapsule > 0, "controller A allows no in-capsule writes (IOCCSZ)");

	/* 3/4 of the volume on namespace 1, 1/4 on namespace 2 (other backend
	 * and LBA size in the driver's config). */
	for (uint32_t nsid = 1; nsid <= 2; nsid++) {
		struct nvmeh_ns_info ni;
		uint64_t want = nsid == 1 ? total - total / 4 : total / 4;

		CHECK_OK(nvmeh_ns_info(ca, nsid, &ni), "Identify Namespace");
		CHECK(ni.nsze * ni.lba_size >= want, "namespace %u has %llu bytes, need %llu", nsid,
		      (unsigned long long)(ni.nsze * ni.lba_size), (unsigned long long)want);
		areas[nareas++] = (struct ns_area){ nsid, ni.lba_size, want / ni.lba_size };
		itest_log("  namespace %u: %llu blocks of %u bytes; using %llu MiB", nsid,
			  (unsigned long long)ni.nsze, ni.lba_size, (unsigned long long)(want >> 20));
	}

	wext = partition(areas, nareas, &rs, &nw);
	rext = partition(areas, nareas, &rs, &nr);
	jobs = malloc((nw > nr ? nw : nr) * sizeof(*jobs));
	CHECK(jobs != NULL, "out of memory");

	memset(ws, 0, sizeof(ws));
	for (int i = 0; i < NR_WORKERS; i++) {
		ws[i].id = i;
		ws[i].ctrl = i < NR_QUEUES ? ca : cb;
		ws[i].qid = 1 + (unsigned)(i % NR_QUEUES);
		ws[i].seed = a->seed;
		ws[i].no_incapsule = i >= NR_QUEUES;
		ws[i].incapsule_max = nvmeh_info(ws[i].ctrl)->io_incapsule;
		for (int s = 0; s < WINDOW; s++) {
			ws[i].slots[s].w = &ws[i];
			ws[i].slots[s].buf = itest_alloc(MAX_XFER);
		}
	}

	/* Write phase: extents in random order, round-robin over workers. */
	for (size_t i = 0; i < nw; i++)
		jobs[i] = &wext[i];
	shuffle(jobs, nw, &rs);
	for (int i = 0; i < NR_WORKERS; i++) {
		ws[i].is_write = true;
		ws[i].jobs = malloc(nw * sizeof(*jobs));
		ws[i].njobs = 0;
	}
	for (size_t i = 0; i < nw; i++) {
		struct worker *w = &ws[i % NR_WORKERS];

		((struct extent *)jobs[i])->worker = (uint8_t)w->id;
		w->jobs[w->njobs++] = jobs[i];
	}
	run_phase(ws, ca, cb, "write");

	/* Read phase: a new partition; each extent read by a worker other
	 * than the one that wrote its first block. */
	for (size_t i = 0; i < nr; i++)
		jobs[i] = &rext[i];
	shuffle(jobs, nr, &rs);
	for (int i = 0; i < NR_WORKERS; i++) {
		free(ws[i].jobs);
		ws[i].is_write = false;
		ws[i].jobs = malloc(nr * sizeof(*jobs));
		ws[i].njobs = 0;
		ws[i].bytes = ws[i].cmds = ws[i].mib_xfers = 0;
	}
	for (size_t i = 0; i < nr; i++) {
		struct extent *e = (struct extent *)jobs[i];
		int writer = writer_of(wext, nw, e->nsid, e->slba);
		struct worker *w = &ws[(writer + 1 + (int)(i % (NR_WORKERS - 1))) % NR_WORKERS];

		e->worker = (uint8_t)writer;
		w->jobs[w->njobs++] = e;
	}
	run_phase(ws, ca, cb, "read");

	for (int i = 0; i < NR_WORKERS; i++) {
		free(ws[i].jobs);
		for (int s = 0; s < WINDOW; s++)
			free(ws[i].slots[s].buf);
	}
	free(jobs);
	free(wext);
	free(rext);
	nvmeh_disconnect(ca);
	nvmeh_disconnect(cb);
	return 0;
}

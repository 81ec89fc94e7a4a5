/* SPDX-License-Identifier: MIT */
/*
 * Scenarios "sigterm-write" and "sigterm-verify": what a daemon stopped by
 * SIGTERM in the middle of a write stream keeps.
 *
 * sigterm-write writes 64 KiB chunks round the namespace (plain writes, no
 * FUA) with a Flush every FLUSH_EVERY completions, recording per chunk the
 * generation last submitted and last acknowledged, until the target goes
 * away. After the first second it creates STATE.running so the driver knows
 * when to send SIGTERM; on the way out it writes STATE.
 * sigterm-verify (against the restarted daemon, same file backend) checks
 * every block: it must hold the acknowledged generation, or — for the few
 * writes in flight when the daemon stopped — the one submitted after it.
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define CHUNK_BYTES  (64u * 1024)
#define DEPTH        8
#define FLUSH_EVERY  32

struct chunk_state {
	uint32_t acked;                 /* generation last acknowledged (0: none) */
	uint32_t submitted;             /* generation last submitted */
};

struct writer {
	struct nvmeh_ctrl *c;
	uint32_t lba_size, chunk_nlb, nchunks;
	struct chunk_state *st;
	uint64_t seed;
	uint64_t acked, failed_status, flushes, since_flush;
	int queue_err;
	bool flush_busy;
};

struct wslot {
	struct writer *w;
	uint32_t chunk, gen;
	bool busy, is_flush;
	uint8_t *buf;
};

static void done(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct wslot *s = arg;
	struct writer *w = s->w;

	s->busy = false;
	if (s->is_flush)
		w->flush_busy = false;
	if (status < 0) {
		w->queue_err = status;
		return;
	}
	if (status > 0) {
		/* A status instead of a dropped connection while stopping:
		 * not acknowledged, reported at the end. */
		w->failed_status++;
		itest_log("  %s completed with %s", s->is_flush ? "flush" : "write",
			  itest_status_str(status));
		return;
	}
	if (s->is_flush) {
		w->flushes++;
		return;
	}
	w->st[s->chunk].acked = s->gen;
	w->acked++;
	w->since_flush++;
}

static void submit_one(struct writer *w, struct wslot *s, uint64_t *next)
{
	struct nvb_sqe sqe;
	int rc;

	memset(&sqe, 0, sizeof(sqe));
	if (w->since_flush >= FLUSH_EVERY && !w->flush_busy) {
		sqe.opcode = nvme_cmd_flush;
		sqe.nsid = htole32(1);
		s->is_flush = true;
		w->flush_busy = true;
		w->since_flush = 0;
		rc = nvmeh_submit(w->c, 1, &sqe, NULL, 0, done, s);
	} else {
		uint32_t chunk = (uint32_t)(*next % w->nchunks);
		uint64_t slba = (uint64_t)chunk * w->chunk_nlb;

		s->is_flush = false;
		s->chunk = chunk;
		s->gen = (uint32_t)(*next / w->nchunks) + 1;
		(*next)++;
		itest_fill(s->buf, w->lba_size, 1, slba, w->chunk_nlb, w->seed, s->gen);
		sqe.opcode = nvme_cmd_write;
		sqe.nsid = htole32(1);
		sqe.cdw10 = htole32((uint32_t)slba);
		sqe.cdw11 = htole32((uint32_t)(slba >> 32));
		sqe.cdw12 = htole32(w->chunk_nlb - 1);
		w->st[chunk].submitted = s->gen;
		rc = nvmeh_submit(w->c, 1, &sqe, s->buf, CHUNK_BYTES, done, s);
	}
	if (rc < 0) {
		w->queue_err = rc;
		return;
	}
	s->busy = true;
}

static void save_state(const struct itest_args *a, const struct writer *w)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", a->state);
	f = fopen(tmp, "w");
	CHECK(f != NULL, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "%llu %u %u %u\n", (unsigned long long)w->seed, w->lba_size, w->chunk_nlb,
		w->nchunks);
	for (uint32_t i = 0; i < w->nchunks; i++)
		fprintf(f, "%u %u\n", w->st[i].acked, w->st[i].submitted);
	CHECK(fclose(f) == 0 && rename(tmp, a->state) == 0, "cannot save %s", a->state);
}

int scenario_sigterm_write(const struct itest_args *a)
{
	struct wslot slots[DEPTH];
	struct nvmeh_ns_info ni;
	struct nvmeh_opts o;
	struct writer w;
	uint64_t next = 0;
	double t0, last_ka;
	bool marked = false;

	CHECK(a->state, "sigterm-write needs --state");
	memset(&w, 0, sizeof(w));
	itest_opts(a, &o, 0, NULL);
	o.queue_depth = DEPTH + 2;
	w.c = itest_connect(&o, "writer");
	CHECK_OK(nvmeh_ns_info(w.c, 1, &ni), "Identify Namespace 1");
	w.lba_size = ni.lba_size;
	w.chunk_nlb = CHUNK_BYTES / ni.lba_size;
	w.nchunks = (uint32_t)(ni.nsze / w.chunk_nlb);
	w.seed = a->seed;
	w.st = calloc(w.nchunks, sizeof(*w.st));
	CHECK(w.st != NULL, "out of memory");
	for (int i = 0; i < DEPTH; i++)
		slots[i] = (struct wslot){ .w = &w, .buf = itest_alloc(CHUNK_BYTES) };

	t0 = last_ka = itest_now();
	while (!w.queue_err) {
		int rc;

		for (int i = 0; i < DEPTH && !w.queue_err; i++)
			if (!slots[i].busy)
				submit_one(&w, &slots[i], &next);
		if (w.queue_err)
			break;
		rc = nvmeh_poll(w.c, 1, 1, 10000);
		if (rc < 0) {
			w.queue_err = rc;
			break;
		}
		if (rc == 0)
			FAIL("no completion for 10 s and no error: the daemon hangs");
		if (!marked && itest_now() - t0 > 1.0) {
			char mark[4096];
			FILE *f;

			snprintf(mark, sizeof(mark), "%s.running", a->state);
			f = fopen(mark, "w");
			CHECK(f && fclose(f) == 0, "cannot create %s", mark);
			marked = true;
		}
		if (itest_now() - last_ka > 2) {
			rc = nvmeh_keep_alive(w.c);
			if (rc < 0) {
				w.queue_err = rc;
				break;
			}
			last_ka = itest_now();
		}
		if (itest_now() - t0 > a->seconds)
			FAIL("the daemon still serves after %u s: no SIGTERM came, or it was ignored",
			     a->seconds);
	}
	{
		unsigned inflight = 0;

		for (int i = 0; i < DEPTH; i++)
			inflight += slots[i].busy;
		itest_log("  writer stopped after %.2f s by %s: %llu writes (%.1f MiB) "
			  "acknowledged, %llu flushes, %llu error statuses, %u in flight",
			  itest_now() - t0, itest_status_str(w.queue_err),
			  (unsigned long long)w.acked, (double)w.acked * CHUNK_BYTES / 1048576.0,
			  (unsigned long long)w.flushes, (unsigned long long)w.failed_status,
			  inflight);
	}
	CHECK(w.acked > 0 && w.flushes > 0, "nothing was acknowledged before the daemon stopped");
	save_state(a, &w);
	/* The controller is gone; free our side without waiting for it. */
	nvmeh_disconnect(w.c);
	for (int i = 0; i < DEPTH; i++)
		free(slots[i].buf);
	free(w.st);
	return 0;
}

/* Does block `lba` hold generation gen (0: never written, i.e. zeroes)? */
static bool holds(const uint8_t *blk, uint32_t lba_size, uint64_t lba, uint64_t seed,
		  uint32_t gen)
{
	char why[8];

	if (gen == 0)
		return itest_all_zero(blk, lba_size);
	return itest_verify(blk, lba_size, 1, lba, 1, seed, gen, why, sizeof(why)) == 0;
}

int scenario_sigterm_verify(const struct itest_args *a)
{
	unsigned long long seed;
	uint32_t lba_size, chunk_nlb, nchunks;
	uint64_t exact = 0, landed_inflight = 0, blocks = 0;
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint8_t *buf;
	FILE *f;

	CHECK(a->state, "sigterm-verify needs --state");
	f = fopen(a->state, "r");
	CHECK(f != NULL, "cannot read %s: %s", a->state, strerror(errno));
	CHECK(fscanf(f, "%llu %u %u %u", &seed, &lba_size, &chunk_nlb, &nchunks) == 4,
	      "bad state file header");
	itest_opts(a, &o, 0, NULL);
	c = itest_connect(&o, "verifier");
	buf = itest_alloc(CHUNK_BYTES);
	for (uint32_t i = 0; i < nchunks; i++) {
		struct chunk_state s;
		uint64_t slba = (uint64_t)i * chunk_nlb;

		CHECK(fscanf(f, "%u %u", &s.acked, &s.submitted) == 2, "state file truncated");
		if (!s.submitted)
			continue;
		CHECK_OK(nvmeh_read(c, 1, 1, slba, chunk_nlb, buf, CHUNK_BYTES), "read back");
		for (uint32_t b = 0; b < chunk_nlb; b++) {
			const uint8_t *blk = buf + (size_t)b * lba_size;

			blocks++;
			if (holds(blk, lba_size, slba + b, seed, s.acked)) {
				exact++;
			} else if (s.submitted != s.acked &&
				   holds(blk, lba_size, slba + b, seed, s.submitted)) {
				landed_inflight++;
			} else {
				char desc[128];

				itest_describe_block(blk, desc, sizeof(desc));
				FAIL("chunk %u LBA %llu: acknowledged generation %u (submitted %u) "
				     "but it holds %s", i, (unsigned long long)(slba + b), s.acked,
				     s.submitted, desc);
			}
		}
	}
	fclose(f);
	itest_log("  %llu blocks checked: %llu hold the acknowledged data, %llu the data of a "
		  "write that was in flight", (unsigned long long)blocks, (unsigned long long)exact,
		  (unsigned long long)landed_inflight);
	CHECK(blocks > 0, "nothing to verify");
	free(buf);
	nvmeh_disconnect(c);
	return 0;
}

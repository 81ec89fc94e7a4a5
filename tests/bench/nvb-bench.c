/* SPDX-License-Identifier: MIT */
/*
 * nvb-bench: an NVMe/TCP load generator over the host library.
 *
 * One thread per I/O queue (each queue its own TCP connection), each
 * keeping --qd commands in flight with nvmeh_submit/nvmeh_poll and
 * resubmitting from the completion callback. Buffers and per-command
 * contexts are allocated once; latencies go into a log-linear histogram,
 * so the I/O loop never allocates. The main thread keeps the controller
 * alive and stops the workers after --time seconds.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvmetcp/host.h"

/* ---- latency histogram: 32 sub-buckets per power of two (~3 %) ---- */

#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (64u << HIST_SUB_BITS)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t total, sum, max;
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return ((shift + 1) << HIST_SUB_BITS) + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

/* Middle of bucket idx. */
static uint64_t hist_value(unsigned idx)
{
	unsigned shift;

	if (idx < HIST_SUB)
		return idx;
	shift = (idx >> HIST_SUB_BITS) - 1;
	return ((uint64_t)(HIST_SUB + (idx & (HIST_SUB - 1))) << shift) + ((1ull << shift) >> 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->total++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->total += from->total;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}

/* The value below which a fraction permille/1000 of the samples fall. */
static uint64_t hist_percentile(const struct hist *h, unsigned per100k)
{
	uint64_t want = (h->total * per100k + 99999) / 100000, seen = 0;

	if (!h->total)
		return 0;
	if (!want)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_value(i);
	}
	return h->max;
}

/* ---- options ---- */

enum pattern { P_RANDREAD, P_RANDWRITE, P_READ, P_WRITE, P_RANDRW };

static const char *const pattern_names[] = {
	[P_RANDREAD] = "randread", [P_RANDWRITE] = "randwrite",
	[P_READ] = "read", [P_WRITE] = "write", [P_RANDRW] = "randrw",
};

struct bench_opts {
	const char *addr, *port, *nqn, *hostnqn;
	uint32_t nsid;
	unsigned queues, qd;
	uint64_t bs;
	enum pattern rw;
	unsigned mix;                   /* read percentage for randrw */
	unsigned seconds;
	uint64_t size_limit;
	bool hdgst, ddgst, json, disable_sqflow;
};

/* ---- workers ---- */

struct worker;

struct slot {
	struct worker *w;
	uint8_t *buf;
	int64_t start_ns;
};

struct worker {
	pthread_t thread;
	struct nvmeh_ctrl *ctrl;
	const struct bench_opts *o;
	unsigned qid;
	uint32_t lba_shift;
	uint64_t nslots;                /* bs-sized positions in the region */
	uint64_t cursor;                /* sequential position */
	uint64_t rng;
	struct slot *slots;
	uint8_t *bufs;
	atomic_bool *stop;
	int fatal;                      /* transport error that ended the run */
	uint64_t ios, reads, writes, errors, bytes;
	nvb_status first_status;
	struct hist hist;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void complete_io(void *arg, int status, const struct nvb_cqe *cqe);

static int submit_io(struct slot *s)
{
	struct worker *w = s->w;
	const struct bench_opts *o = w->o;
	bool random = o->rw == P_RANDREAD || o->rw == P_RANDWRITE || o->rw == P_RANDRW;
	bool read;
	uint64_t pos, slba;
	uint32_t nlb = (uint32_t)(o->bs >> w->lba_shift);
	struct nvb_sqe sqe;

	switch (o->rw) {
	case P_RANDREAD:
	case P_READ:
		read = true;
		break;
	case P_RANDRW:
		read = xorshift(&w->rng) % 100 < o->mix;
		break;
	default:
		read = false;
		break;
	}
	pos = random ? xorshift(&w->rng) % w->nslots : w->cursor++ % w->nslots;
	slba = pos * nlb;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = read ? nvme_cmd_read : nvme_cmd_write;
	sqe.nsid = htole32(o->nsid);
	sqe.cdw10 = htole32((uint32_t)slba);
	sqe.cdw11 = htole32((uint32_t)(slba >> 32));
	sqe.cdw12 = htole32(nlb - 1);
	s->start_ns = now_ns();
	if (read)
		w->reads++;
	else
		w->writes++;
	return nvmeh_submit(w->ctrl, w->qid, &sqe, s->buf, o->bs, complete_io, s);
}

static void complete_io(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct slot *s = arg;
	struct worker *w = s->w;

	if (status < 0) {
		w->fatal = status;
		return;
	}
	hist_add(&w->hist, (uint64_t)(now_ns() - s->start_ns));
	w->ios++;
	if (status) {
		if (!w->errors)
			w->first_status = (nvb_status)status;
		w->errors++;
	} else {
		w->bytes += w->o->bs;
	}
	if (!atomic_load_explicit(w->stop, memory_order_relaxed) && submit_io(s) < 0)
		w->fatal = -EIO;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int r;

	for (unsigned i = 0; i < w->o->qd; i++) {
		r = submit_io(&w->slots[i]);
		if (r < 0) {
			w->fatal = r;
			break;
		}
	}
	while (!w->fatal && nvmeh_outstanding(w->ctrl, w->qid)) {
		r = nvmeh_poll(w->ctrl, w->qid, 1, 100);
		if (r < 0)
			w->fatal = r;
	}
	return NULL;
}

/* ---- main ---- */

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nvb-bench --addr ADDR --nqn NQN [options]\n"
		"  --addr ADDR        target address (IPv4/IPv6)\n"
		"  --port PORT        TCP port (default 4420)\n"
		"  --nqn NQN          subsystem NQN\n"
		"  --hostnqn NQN      host NQN (default: /etc/nvme/hostnqn or a test NQN)\n"
		"  --nsid N           namespace (default 1)\n"
		"  --queues N         I/O queues = connections = threads (default 1)\n"
		"  --qd D             commands in flight per queue (default 32)\n"
		"  --bs SIZE          block size, e.g. 4k, 128k (default 4k)\n"
		"  --rw PATTERN       randread|randwrite|read|write|randrw (default randread)\n"
		"  --mix PCT          reads in percent for randrw (default 50)\n"
		"  --time SECONDS     duration (default 10)\n"
		"  --size-limit BYTES use only the first BYTES of the namespace\n"
		"  --hdgst, --ddgst   header / data digests\n"
		"  --disable-sqflow   ask for SQ flow control off (Connect CATTR)\n"
		"  --json             also print one JSON line with the results\n");
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "nqn", required_argument, NULL, 'n' },
		{ "hostnqn", required_argument, NULL, 'H' },
		{ "nsid", required_argument, NULL, 'N' },
		{ "queues", required_argument, NULL, 'q' },
		{ "qd", required_argument, NULL, 'd' },
		{ "bs", required_argument, NULL, 'b' },
		{ "rw", required_argument, NULL, 'r' },
		{ "mix", required_argument, NULL, 'm' },
		{ "time", required_argument, NULL, 't' },
		{ "size-limit", required_argument, NULL, 's' },
		{ "hdgst", no_argument, NULL, 'g' },
		{ "ddgst", no_argument, NULL, 'G' },
		{ "disable-sqflow", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned nsid = 1;
	int c;

	*o = (struct bench_opts){
		.port = NVMEH_DEFAULT_PORT, .nsid = 1, .queues = 1, .qd = 32, .bs = 4096,
		.rw = P_RANDREAD, .mix = 50, .seconds = 10,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 'a': o->addr = optarg; break;
		case 'p': o->port = optarg; break;
		case 'n': o->nqn = optarg; break;
		case 'H': o->hostnqn = optarg; break;
		case 'N': ok = !parse_uint(optarg, 1, 0xfffffffe, &nsid); o->nsid = nsid; break;
		case 'q': ok = !parse_uint(optarg, 1, NVMEH_MAX_IO_QUEUES, &o->queues); break;
		case 'd': ok = !parse_uint(optarg, 1, NVMEH_MAX_DEPTH, &o->qd); break;
		case 'b': ok = !parse_size(optarg, &o->bs); break;
		case 'm': ok = !parse_uint(optarg, 0, 100, &o->mix); break;
		case 't': ok = !parse_uint(optarg, 1, 86400, &o->seconds); break;
		case 's': ok = !parse_size(optarg, &o->size_limit); break;
		case 'g': o->hdgst = true; break;
		case 'G': o->ddgst = true; break;
		case 'F': o->disable_sqflow = true; break;
		case 'j': o->json = true; break;
		case 'r':
			ok = false;
			for (unsigned i = 0; i <= P_RANDRW; i++) {
				if (!strcmp(optarg, pattern_names[i])) {
					o->rw = (enum pattern)i;
					ok = true;
				}
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (!ok) {
			for (const struct option *lo = longopts; lo->name; lo++)
				if (lo->val == c)
					fprintf(stderr, "nvb-bench: bad value for --%s: %s\n",
						lo->name, optarg);
			return -1;
		}
	}
	if (optind < argc || !o->addr || !o->nqn) {
		usage(stderr);
		return -1;
	}
	if (!o->bs || o->bs > (16u << 20)) {
		fprintf(stderr, "nvb-bench: --bs must be between 1 and 16M\n");
		return -1;
	}
	return 0;
}

static int setup_workers(struct nvmeh_ctrl *c, const struct bench_opts *o,
			 const struct nvmeh_ns_info *ns, struct worker *w, unsigned n,
			 atomic_bool *stop)
{
	uint64_t region = ns->nsze << ns->lba_shift;

	if (o->size_limit && o->size_limit < region)
		region = o->size_limit;
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct worker){
			.ctrl = c, .o = o, .qid = i + 1, .lba_shift = ns->lba_shift,
			.nslots = region / o->bs, .stop = stop,
			.rng = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)now_ns(),
		};
		if (!w[i].rng)
			w[i].rng = 1;
		w[i].cursor = w[i].nslots / n * i;
		w[i].slots = calloc(o->qd, sizeof(*w[i].slots));
		if (!w[i].slots || posix_memalign((void **)&w[i].bufs, 4096, o->qd * o->bs))
			return -ENOMEM;
		/* Incompressible, not all zero: what a real write carries. */
		for (uint64_t b = 0; b < o->qd * o->bs; b += 8) {
			uint64_t v = xorshift(&w[i].rng);

			memcpy(w[i].bufs + b, &v, o->qd * o->bs - b < 8 ? o->qd * o->bs - b : 8);
		}
		for (unsigned s = 0; s < o->qd; s++)
			w[i].slots[s] = (struct slot){ .w = &w[i], .buf = w[i].bufs + s * o->bs };
	}
	return 0;
}

static void report(const struct bench_opts *o, const struct worker *w, unsigned n,
		   double secs)
{
	struct hist *h = calloc(1, sizeof(*h));
	uint64_t ios = 0, bytes = 0, errors = 0, reads = 0, writes = 0;
	double iops, mibs, avg_us;

	if (!h)
		return;
	for (unsigned i = 0; i < n; i++) {
		hist_merge(h, &w[i].hist);
		ios += w[i].ios;
		bytes += w[i].bytes;
		errors += w[i].errors;
		reads += w[i].reads;
		writes += w[i].writes;
	}
	iops = (double)ios / secs;
	mibs = (double)bytes / secs / (1024.0 * 1024.0);
	avg_us = h->total ? (double)h->sum / (double)h->total / 1000.0 : 0;
	printf("nvb-bench: %s bs=%" PRIu64 " qd=%u queues=%u time=%.2fs hdgst=%d ddgst=%d\n",
	       pattern_names[o->rw], o->bs, o->qd, n, secs, o->hdgst, o->ddgst);
	printf("  IOPS %.0f  MiB/s %.1f  ios %" PRIu64 " (reads %" PRIu64 ", writes %" PRIu64
	       ")  errors %" PRIu64 "\n", iops, mibs, ios, reads, writes, errors);
	printf("  latency us: avg %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", avg_us,
	       hist_percentile(h, 50000) / 1000.0, hist_percentile(h, 99000) / 1000.0,
	       hist_percentile(h, 99900) / 1000.0, h->max / 1000.0);
	if (o->json)
		printf("{\"rw\":\"%s\",\"bs\":%" PRIu64 ",\"qd\":%u,\"queues\":%u,\"time_s\":%.3f,"
		       "\"hdgst\":%s,\"ddgst\":%s,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"iops\":%.0f,\"mib_s\":%.2f,\"lat_us\":{\"avg\":%.2f,\"p50\":%.2f,"
		       "\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}}\n",
		       pattern_names[o->rw], o->bs, o->qd, n, secs, o->hdgst ? "true" : "false",
		       o->ddgst ? "true" : "false", ios, errors, iops, mibs, avg_us,
		       hist_percentile(h, 50000) / 1000.0, hist_percentile(h, 99000) / 1000.0,
		       hist_percentile(h, 99900) / 1000.0, h->max / 1000.0);
	fflush(stdout);
	free(h);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct nvmeh_opts no;
	struct nvmeh_ctrl *c;
	struct nvmeh_ns_info ns;
	struct worker *w = NULL;
	atomic_bool stop = false;
	char err[512];
	unsigned n, started = 0;
	int64_t t0, t1, next_ka;
	int r, rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	nvmeh_opts_init(&no);
	no.traddr = o.addr;
	no.trsvcid = o.port;
	no.subnqn = o.nqn;
	no.hostnqn = o.hostnqn;
	no.nr_io_queues = o.queues;
	no.queue_depth = o.qd;
	no.hdgst = o.hdgst;
	no.ddgst = o.ddgst;
	no.disable_sqflow = o.disable_sqflow;
	r = nvmeh_connect(&no, &c, err, sizeof(err));
	if (r) {
		fprintf(stderr, "nvb-bench: %s\n", err);
		return 1;
	}
	n = nvmeh_info(c)->nr_io_queues;
	if (n < o.queues)
		fprintf(stderr, "nvb-bench: the controller granted %u of %u queues\n", n, o.queues);
	if (nvmeh_info(c)->queue_depth < o.qd) {
		fprintf(stderr, "nvb-bench: queue depth limited to %u by CAP.MQES\n",
			nvmeh_info(c)->queue_depth);
		o.qd = nvmeh_info(c)->queue_depth;
	}
	r = nvmeh_ns_info(c, o.nsid, &ns);
	if (r) {
		fprintf(stderr, "nvb-bench: namespace %u: %s\n", o.nsid, nvmeh_status_name(r));
		goto out;
	}
	if (o.bs % ns.lba_size || (o.bs >> ns.lba_shift) > 0x10000 ||
	    (nvmeh_info(c)->max_xfer && o.bs > nvmeh_info(c)->max_xfer)) {
		fprintf(stderr, "nvb-bench: --bs %" PRIu64 " must be a multiple of the LBA size "
			"%u and at most %u bytes (MDTS)\n", o.bs, ns.lba_size,
			nvmeh_info(c)->max_xfer);
		goto out;
	}
	if ((o.size_limit && o.size_limit < o.bs) || (ns.nsze << ns.lba_shift) < o.bs) {
		fprintf(stderr, "nvb-bench: region smaller than one block of --bs\n");
		goto out;
	}
	w = calloc(n, sizeof(*w));
	if (!w || setup_workers(c, &o, &ns, w, n, &stop)) {
		fprintf(stderr, "nvb-bench: out of memory\n");
		goto out;
	}

	t0 = now_ns();
	for (; started < n; started++)
		if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]))
			break;
	/* Keep the association alive from the admin queue while I/O runs. */
	next_ka = t0 + 2000000000;
	while (now_ns() - t0 < (int64_t)o.seconds * 1000000000) {
		bool all_dead = true;

		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
		for (unsigned i = 0; i < started; i++)
			all_dead &= w[i].fatal != 0;
		if (all_dead)
			break;
		if (now_ns() >= next_ka) {
			nvmeh_keep_alive(c);
			next_ka = now_ns() + 2000000000;
		}
	}
	atomic_store(&stop, true);
	t1 = now_ns();
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);

	rc = 0;
	for (unsigned i = 0; i < started; i++) {
		if (w[i].fatal) {
			fprintf(stderr, "nvb-bench: queue %u failed: %s\n", w[i].qid,
				nvmeh_status_name(w[i].fatal));
			rc = 1;
		}
		if (w[i].errors)
			fprintf(stderr, "nvb-bench: queue %u: %" PRIu64 " commands failed, first "
				"status 0x%x (%s)\n", w[i].qid, w[i].errors, w[i].first_status,
				nvmeh_status_name(w[i].first_status));
	}
	report(&o, w, started, (double)(t1 - t0) / 1e9);
out:
	for (unsigned i = 0; w && i < n; i++) {
		free(w[i].slots);
		free(w[i].bufs);
	}
	free(w);
	nvmeh_disconnect(c);
	return rc;
}

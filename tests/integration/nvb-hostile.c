/* SPDX-License-Identifier: MIT */
/*
 * nvb-hostile: hostile input on many connections at once while a
 * well-behaved host keeps doing verified I/O, then 1,000 concurrent idle
 * connections and what one costs the daemon in memory.
 *
 * Phase 1: every case of hostile_cases.c, --reps times each, over --threads
 * parallel connections, plus slow senders (one byte per 100 ms) and
 * connections that go silent (before and after ICReq). Each hostile
 * connection must end as its case allows within HOSTILE_TIMEOUT_MS; the
 * good host must never see an error.
 * Phase 2: --conns connections, each ICReq + admin Connect, all held open;
 * a sample enables its controller and runs Identify; the daemon's VmRSS
 * before and with them gives "idle connection memory: N KiB".
 */
#include "tests/integration/hostile.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/itest.h"

#define SLOW_BYTE_MS 100

struct opts {
	const char *addr, *port, *nqn, *hostnqn;
	pid_t pid;
	int conns, reps, threads, silent, slow;
	uint64_t seed;
};

static struct opts opt = {
	.addr = "127.0.0.1", .hostnqn = NVMEH_TEST_HOSTNQN,
	.conns = 1000, .reps = 4, .threads = 16, .silent = 8, .slow = 2,
	.seed = 0x686f7374696c65ull,
};

/* ---- results ---- */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int failures;
static atomic_uint counts[64][RAW_END_OTHER + 1];

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	fputs("FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&report_lock);
	failures++;
}

static bool daemon_alive(void)
{
	char path[64], state = '?', line[256];
	FILE *f;

	if (opt.pid <= 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)opt.pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "State: %c", &state) == 1)
			break;
	fclose(f);
	return state != 'Z' && state != 'X' && state != '?';
}

static long vm_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)opt.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Open descriptors of the daemon: sockets it forgets to close show here. */
static int daemon_fds(void)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)opt.pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* ASan inflates per-connection memory (redzones, quarantine): say so. */
static const char *daemon_asan(void)
{
	char path[64], line[512];
	const char *res = "no";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)opt.pid);
	f = fopen(path, "r");
	if (!f)
		return "unknown";
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "libasan")) {
			res = "yes (numbers inflated by AddressSanitizer)";
			break;
		}
	fclose(f);
	return res;
}

/* ---- the well-behaved host ---- */

struct good_host {
	struct nvmeh_ctrl *c;
	atomic_bool stop;
	uint64_t ops, bytes;
	pthread_t thread;
};

static void *good_host_main(void *arg)
{
	struct good_host *g = arg;
	const uint32_t max_nlb = 256;
	struct nvmeh_ns_info ni;
	uint64_t rs = opt.seed, area;
	double last_ka = itest_now();
	uint8_t *buf;
	uint32_t gen = 1;
	char why[256];

	CHECK_OK(nvmeh_ns_info(g->c, 1, &ni), "good host: Identify Namespace");
	buf = itest_alloc((size_t)max_nlb * ni.lba_size);
	area = ni.nsze < 65536 ? ni.nsze : 65536;
	while (!g->stop) {
		unsigned qid = 1 + (unsigned)(g->ops % 2);
		uint32_t nlb = 1 + (uint32_t)(itest_rand(&rs) % max_nlb);
		uint64_t slba = itest_rand(&rs) % (area - nlb);
		size_t len = (size_t)nlb * ni.lba_size;
		int rc;

		itest_fill(buf, ni.lba_size, 1, slba, nlb, opt.seed, gen);
		rc = nvmeh_write(g->c, qid, 1, slba, nlb, buf, len);
		if (rc)
			FAIL("good host: write lba %llu+%u on qid %u: %s", (unsigned long long)slba,
			     nlb, qid, itest_status_str(rc));
		memset(buf, 0, len);
		rc = nvmeh_read(g->c, qid, 1, slba, nlb, buf, len);
		if (rc)
			FAIL("good host: read lba %llu+%u on qid %u: %s", (unsigned long long)slba,
			     nlb, qid, itest_status_str(rc));
		if (itest_verify(buf, ni.lba_size, 1, slba, nlb, opt.seed, gen, why, sizeof(why)))
			FAIL("good host: data differs: %s", why);
		g->ops++;
		g->bytes += 2 * len;
		gen = gen % 60000 + 1;
		if (itest_now() - last_ka > 2) {
			CHECK_OK(nvmeh_keep_alive(g->c), "good host: Keep Alive");
			last_ka = itest_now();
		}
	}
	free(buf);
	return NULL;
}

static void good_host_start(struct good_host *g)
{
	struct nvmeh_opts o;
	struct itest_args a = { .addr = opt.addr, .port = { opt.port }, .nports = 1,
				.nqn = opt.nqn, .hostnqn = opt.hostnqn };

	memset(g, 0, sizeof(*g));
	itest_opts(&a, &o, 0, NULL);
	o.nr_io_queues = 2;
	g->c = itest_connect(&o, "good host");
	CHECK(pthread_create(&g->thread, NULL, good_host_main, g) == 0, "pthread_create");
}

static void good_host_stop(struct good_host *g)
{
	g->stop = true;
	pthread_join(g->thread, NULL);
	nvmeh_disconnect(g->c);
}

/* ---- phase 1: hostile connections ---- */

static atomic_int next_job;

static void run_job(int job)
{
	const struct hostile_case *hc = &hostile_cases[job % hostile_ncases];
	struct hostile_ctx h = { opt.addr, opt.port, opt.nqn, opt.hostnqn,
				 opt.seed ^ ((uint64_t)job << 20) };
	struct hostile_result r;
	int e;

	memset(&r, 0, sizeof(r));
	e = hc->run(&h, &r);
	if (e < 0) {
		failure("%s: the legitimate set-up before the hostile part failed: %s", hc->name,
			itest_status_str(e));
		return;
	}
	counts[job % hostile_ncases][r.end]++;
	if (!(hc->allowed & END(r.end)))
		failure("%s: ended with %s (%s)", hc->name, raw_end_name(r.end), r.detail);
	else if (r.end == RAW_END_ERROR_CQE && hc->want_sc && (r.status & 0x7ff) != hc->want_sc)
		failure("%s: completion status %#x, expected %#x (%s)", hc->name, r.status,
			hc->want_sc, r.detail);
}

static void *hostile_worker(void *arg)
{
	int njobs = hostile_ncases * opt.reps, job;

	while ((job = atomic_fetch_add(&next_job, 1)) < njobs)
		run_job(job);
	return NULL;
}

/* A valid ICReq, one byte every SLOW_BYTE_MS: an ICResp in the end, or a
 * close if the target limits how long ICReq may take. */
static void *slow_sender(void *arg)
{
	struct nvmetcp_icreq req;
	struct nvmetcp_icresp rsp;
	struct raw_conn c;
	double t0 = itest_now();
	ssize_t n = 0;
	size_t i;
	int e = raw_open(&c, opt.addr, opt.port, false, false, false, HOSTILE_TIMEOUT_MS);

	if (e) {
		failure("slow sender: connect: %s", itest_status_str(e));
		return NULL;
	}
	nvmetcp_icreq_init(&req, false, false, 0, 0);
	for (i = 0; i < sizeof(req); i++) {
		if (nvmeh_raw_send(c.fd, (uint8_t *)&req + i, 1) < 0)
			break;
		itest_sleep_ms(SLOW_BYTE_MS);
	}
	if (i == sizeof(req))
		n = nvmeh_raw_recv(c.fd, &rsp, sizeof(rsp), HOSTILE_TIMEOUT_MS);
	if (i == sizeof(req) && n == (ssize_t)sizeof(rsp) && rsp.hdr.type == NVMETCP_ICRESP)
		itest_log("  slow sender: ICResp after %.1f s", itest_now() - t0);
	else if (i < sizeof(req) || n == 0 || n == -ECONNRESET)
		itest_log("  slow sender: dropped after %zu bytes, %.1f s", i, itest_now() - t0);
	else
		failure("slow sender: after the whole ICReq: %zd bytes, type %#x", n,
			n > 0 ? rsp.hdr.type : 0);
	raw_close(&c);
	return NULL;
}

static void phase_hostile(void)
{
	pthread_t threads[64] = { 0 }, slow[8] = { 0 };   /* set by pthread_create */
	struct raw_conn *silent = calloc(2 * (size_t)opt.silent, sizeof(*silent));
	struct good_host g;
	int nthreads = opt.threads < 64 ? opt.threads : 64, nslow = opt.slow < 8 ? opt.slow : 8;
	int still_open = 0;
	double t0 = itest_now();

	CHECK(silent != NULL, "out of memory");
	good_host_start(&g);
	/* Silent connections: some say nothing, some stop after ICReq. */
	for (int i = 0; i < 2 * opt.silent; i++) {
		int e = raw_open(&silent[i], opt.addr, opt.port, i % 2, false, false,
				 HOSTILE_TIMEOUT_MS);

		if (e)
			failure("silent connection %d: %s", i, itest_status_str(e));
	}
	for (int i = 0; i < nslow; i++)
		CHECK(pthread_create(&slow[i], NULL, slow_sender, NULL) == 0, "pthread_create");
	for (int i = 0; i < nthreads; i++)
		CHECK(pthread_create(&threads[i], NULL, hostile_worker, NULL) == 0, "pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < nslow; i++)
		pthread_join(slow[i], NULL);

	for (int i = 0; i < 2 * opt.silent; i++) {
		char b;

		if (silent[i].fd >= 0 && recv(silent[i].fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) < 0 &&
		    errno == EAGAIN)
			still_open++;
		raw_close(&silent[i]);
	}
	free(silent);
	good_host_stop(&g);

	itest_log("hostile phase: %d cases x %d over %d threads, %d slow senders, %d silent "
		  "connections (%d still open at the end), %.1f s", hostile_ncases, opt.reps,
		  nthreads, nslow, 2 * opt.silent, still_open, itest_now() - t0);
	itest_log("good host meanwhile: %llu verified write+read pairs, %.1f MiB, no error",
		  (unsigned long long)g.ops, (double)g.bytes / 1048576.0);
	for (int i = 0; i < hostile_ncases; i++) {
		char line[256];
		size_t pos = 0;

		for (int e = 0; e <= RAW_END_OTHER; e++)
			if (counts[i][e])
				pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "%s%s %u",
							pos ? ", " : "", raw_end_name(e),
							counts[i][e]);
		itest_log("  %-36s %s", hostile_cases[i].name, pos ? line : "-");
	}
	CHECK(g.ops > 0, "the good host did no I/O during the hostile phase");
}

/* ---- phase 2: many idle connections ---- */

/* Returns the soft limit in force afterwards. */
static long raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_max < (rlim_t)want) {
		rl.rlim_max = (rlim_t)want;     /* needs CAP_SYS_RESOURCE; try anyway */
		rl.rlim_cur = (rlim_t)want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return want;
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

static void phase_many(void)
{
	struct raw_conn *c = calloc((size_t)opt.conns, sizeof(*c));
	uint16_t *cntlid = calloc((size_t)opt.conns, sizeof(*cntlid));
	int icreq_ok = 0, connect_ok = 0, samples = 0, first_err = 0;
	long rss0, rss_icreq, rss_conn, rss_after;
	double t0;

	CHECK(c && cntlid, "out of memory");
	{
		long lim = raise_nofile(4096);

		if (lim >= 0 && lim < opt.conns + 64) {
			itest_log("WARNING: descriptor limit %ld (hard limit too low to raise): "
				  "only %ld connections tested instead of %d", lim, lim - 64,
				  opt.conns);
			opt.conns = (int)(lim - 64);
		}
	}
	itest_sleep_ms(1000);          /* let the daemon finish closing phase 1 */
	rss0 = vm_rss_kib();
	t0 = itest_now();
	for (int i = 0; i < opt.conns; i++) {
		int e = raw_open(&c[i], opt.addr, opt.port, true, false, false, HOSTILE_TIMEOUT_MS);

		if (e == 0)
			icreq_ok++;
		else if (!first_err)
			first_err = e;
	}
	itest_log("many: %d of %d connections got an ICResp in %.2f s%s%s", icreq_ok, opt.conns,
		  itest_now() - t0, first_err ? "; first error: " : "",
		  first_err ? itest_status_str(first_err) : "");
	rss_icreq = vm_rss_kib();
	t0 = itest_now();
	for (int i = 0; i < opt.conns; i++) {
		int e;

		if (c[i].fd < 0)
			continue;
		e = raw_connect(&c[i], 0, 0xffff, opt.nqn, opt.hostnqn, 31, 120000, &cntlid[i],
				HOSTILE_TIMEOUT_MS);
		if (e == 0)
			connect_ok++;
		else if (connect_ok == i)
			itest_log("many: Connect %d: %s", i, itest_status_str(e));
	}
	itest_log("many: %d admin Connects succeeded in %.2f s", connect_ok, itest_now() - t0);
	rss_conn = vm_rss_kib();

	/* A sample of them is served: enable, Identify Controller. */
	for (int i = 0; i < opt.conns; i += opt.conns / 10 > 0 ? opt.conns / 10 : 1) {
		struct nvme_id_ctrl *id = itest_alloc(4096);
		struct nvb_sqe sqe;
		int e = raw_enable(&c[i], HOSTILE_TIMEOUT_MS);

		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = nvme_admin_identify;
		sqe.cid = htole16(100);
		sqe.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
		if (e == 0)
			e = raw_exec(&c[i], &sqe, NULL, 0, false, id, 4096, NULL, HOSTILE_TIMEOUT_MS);
		if (e != 0)
			failure("connection %d of %d: enable + Identify: %s", i, opt.conns,
				itest_status_str(e));
		else if (le16toh(id->cntlid) != cntlid[i])
			failure("connection %d: Identify says CNTLID %u, Connect said %u", i,
				le16toh(id->cntlid), cntlid[i]);
		else
			samples++;
		free(id);
	}
	/* And a new host is still served with all of them open. */
	{
		struct itest_args a = { .addr = opt.addr, .port = { opt.port }, .nports = 1,
					.nqn = opt.nqn, .hostnqn = opt.hostnqn };
		struct nvmeh_opts o;
		struct nvmeh_ctrl *h;

		itest_opts(&a, &o, 0, NULL);
		h = itest_connect(&o, "host with 1000 idle connections open");
		itest_write_read(h, 1, 1, 0, 64, opt.seed, "I/O next to the idle connections");
		nvmeh_disconnect(h);
	}

	for (int i = 0; i < opt.conns; i++)
		raw_close(&c[i]);
	itest_sleep_ms(1500);
	rss_after = vm_rss_kib();
	itest_log("many: %d sampled controllers answered Identify", samples);
	itest_log("daemon VmRSS: %ld KiB before, %ld KiB with %d ICReq'd connections, %ld KiB "
		  "once each had an admin controller, %ld KiB after closing them", rss0, rss_icreq,
		  opt.conns, rss_conn, rss_after);
	if (rss0 > 0 && opt.conns > 0)
		itest_log("idle connection memory: %.1f KiB (ICReq + admin Connect; ICReq only: "
			  "%.1f KiB); daemon ASan-instrumented: %s",
			  (double)(rss_conn - rss0) / opt.conns, (double)(rss_icreq - rss0) / opt.conns,
			  daemon_asan());
	if (icreq_ok != opt.conns)
		failure("only %d of %d concurrent connections got an ICResp", icreq_ok, opt.conns);
	if (connect_ok != icreq_ok)
		failure("only %d of %d connections could Connect an admin queue", connect_ok,
			icreq_ok);
	free(c);
	free(cntlid);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "nqn", required_argument, NULL, 'n' },
		{ "hostnqn", required_argument, NULL, 'H' },
		{ "pid", required_argument, NULL, 'P' },
		{ "conns", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "silent", required_argument, NULL, 's' },
		{ "slow", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int o, fds0, fds1;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'a': opt.addr = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'n': opt.nqn = optarg; break;
		case 'H': opt.hostnqn = optarg; break;
		case 'P': opt.pid = (pid_t)atoi(optarg); break;
		case 'c': opt.conns = atoi(optarg); break;
		case 'r': opt.reps = atoi(optarg); break;
		case 't': opt.threads = atoi(optarg); break;
		case 's': opt.silent = atoi(optarg); break;
		case 'S': opt.slow = atoi(optarg); break;
		default:
			fprintf(stderr, "Usage: nvb-hostile --port P --nqn NQN --pid DAEMON_PID "
				"[--addr A] [--conns N] [--reps N] [--threads N] [--silent N] "
				"[--slow N] [--hostnqn H]\n");
			return 2;
		}
	}
	if (!opt.port || !opt.nqn || opt.pid <= 0 || optind != argc) {
		fprintf(stderr, "nvb-hostile: --port, --nqn and --pid are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Enough descriptors for the hostile threads' connections. */
	raise_nofile(4096);

	fds0 = daemon_fds();
	phase_hostile();
	if (!daemon_alive())
		FAIL("the daemon (pid %d) died during the hostile phase", (int)opt.pid);
	if (opt.conns > 0)
		phase_many();
	if (!daemon_alive())
		FAIL("the daemon (pid %d) died with many connections", (int)opt.pid);
	/* Every connection closed: the daemon's descriptors are back. */
	for (int i = 0; i < 50 && daemon_fds() > fds0; i++)
		itest_sleep_ms(100);
	fds1 = daemon_fds();
	itest_log("daemon descriptors: %d before the test, %d after all its connections closed",
		  fds0, fds1);
	if (fds1 > fds0)
		failure("the daemon holds %d more descriptors than before the test", fds1 - fds0);
	if (failures) {
		fprintf(stderr, "nvb-hostile: %d failure(s), see above\n", (int)failures);
		return 1;
	}
	itest_log("nvb-hostile: passed");
	return 0;
}

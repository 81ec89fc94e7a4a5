/* SPDX-License-Identifier: MIT */
/*
 * Integration tests: failure reports, data patterns, connection and
 * control-socket helpers shared by every scenario.
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/ctl.h"

void itest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	/* _exit: other threads may be mid-I/O; nothing to clean that the
	 * kernel will not. */
	_exit(1);
}

void itest_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

double itest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void itest_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const char *itest_status_str(int rc)
{
	static __thread char bufs[4][96];
	static __thread unsigned next;
	char *b = bufs[next++ % 4];

	if (rc == 0)
		snprintf(b, sizeof(bufs[0]), "success");
	else if (rc < 0)
		snprintf(b, sizeof(bufs[0]), "%d (%s)", rc, strerror(-rc));
	else
		snprintf(b, sizeof(bufs[0]), "status %#x (SCT %d SC %#04x%s%s)", rc,
			 NVB_STATUS_SCT(rc), NVB_STATUS_SC(rc), rc & NVB_DNR ? " DNR" : "",
			 rc & NVB_MORE ? " MORE" : "");
	return b;
}

void *itest_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len ? len : 1) != 0)
		FAIL("out of memory allocating %zu bytes", len);
	memset(p, 0, len);
	return p;
}

/* ---- connecting ---- */

void itest_opts(const struct itest_args *a, struct nvmeh_opts *o, int port, const char *subnqn)
{
	nvmeh_opts_init(o);
	o->traddr = a->addr;
	o->trsvcid = a->port[port];
	o->subnqn = subnqn ? subnqn : a->nqn;
	o->hostnqn = a->hostnqn;
	o->hdgst = a->hdgst;
	o->ddgst = a->ddgst;
	o->connect_timeout_ms = 10000;
	o->cmd_timeout_ms = 20000;
}

struct nvmeh_ctrl *itest_connect(const struct nvmeh_opts *o, const char *what)
{
	struct nvmeh_ctrl *c = NULL;
	char err[512] = "";
	int rc = nvmeh_connect(o, &c, err, sizeof(err));

	if (rc != 0 || !c)
		FAIL("%s: connect to %s:%s %s failed: %s (%s)", what, o->traddr, o->trsvcid,
		     o->subnqn, itest_status_str(rc), err);
	return c;
}

/* ---- data patterns ---- */

/* Each block: 16-byte tag (magic|nsid, lba, gen) then splitmix64 words. */
#define TAG_MAGIC 0x4e564254u           /* "NVBT" */

static uint64_t block_seed(uint32_t nsid, uint64_t lba, uint64_t seed, uint32_t gen)
{
	uint64_t s = seed ^ ((uint64_t)nsid << 48) ^ ((uint64_t)gen << 32) ^ lba;

	return itest_rand(&s);
}

static void fill_block(uint64_t *w, uint32_t lba_size, uint32_t nsid, uint64_t lba,
		       uint64_t seed, uint32_t gen)
{
	uint64_t s = block_seed(nsid, lba, seed, gen);

	w[0] = htole64((uint64_t)TAG_MAGIC << 32 | nsid);
	w[1] = htole64(lba ^ ((uint64_t)gen << 48));
	for (uint32_t i = 2; i < lba_size / 8; i++)
		w[i] = itest_rand(&s);
}

void itest_fill(void *buf, uint32_t lba_size, uint32_t nsid, uint64_t slba, uint32_t nlb,
		uint64_t seed, uint32_t gen)
{
	for (uint32_t i = 0; i < nlb; i++)
		fill_block((uint64_t *)((uint8_t *)buf + (size_t)i * lba_size), lba_size, nsid,
			   slba + i, seed, gen);
}

void itest_describe_block(const void *blk, char *out, size_t outlen)
{
	const uint64_t *w = blk;
	uint64_t w0 = le64toh(w[0]), w1 = le64toh(w[1]);

	if (itest_all_zero(blk, 512))
		snprintf(out, outlen, "zeroes");
	else if ((w0 >> 32) == TAG_MAGIC)
		snprintf(out, outlen, "block of nsid %u lba %llu gen %u", (unsigned)(w0 & 0xffffffff),
			 (unsigned long long)(w1 & 0xffffffffffffull), (unsigned)(w1 >> 48));
	else
		snprintf(out, outlen, "untagged data %016llx %016llx", (unsigned long long)w0,
			 (unsigned long long)w1);
}

uint32_t itest_verify(const void *buf, uint32_t lba_size, uint32_t nsid, uint64_t slba,
		      uint32_t nlb, uint64_t seed, uint32_t gen, char *why, size_t whylen)
{
	uint64_t *want = itest_alloc(lba_size);

	for (uint32_t i = 0; i < nlb; i++) {
		const uint8_t *got = (const uint8_t *)buf + (size_t)i * lba_size;

		fill_block(want, lba_size, nsid, slba + i, seed, gen);
		if (memcmp(got, want, lba_size) != 0) {
			char desc[128];
			uint32_t off = 0;

			while (off < lba_size && got[off] == ((uint8_t *)want)[off])
				off++;
			itest_describe_block(got, desc, sizeof(desc));
			snprintf(why, whylen, "nsid %u lba %llu (block %u of %u): first bad byte "
				 "at offset %u; it holds %s", nsid, (unsigned long long)(slba + i),
				 i, nlb, off, desc);
			free(want);
			return i + 1;
		}
	}
	free(want);
	return 0;
}

bool itest_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- control socket ---- */

static struct json_object *ctl_vcall(const char *sock, const char *method, char *err,
				     size_t errlen, const char *fmt, va_list ap)
{
	struct json_object *params = NULL, *res;
	char *text = NULL;

	if (fmt) {
		if (vasprintf(&text, fmt, ap) < 0)
			FAIL("out of memory");
		params = json_tokener_parse(text);
		if (!params)
			FAIL("test bug: bad JSON params for %s: %s", method, text);
	}
	res = nvb_ctl_call(sock, method, params, err, errlen);
	json_object_put(params);
	free(text);
	return res;
}

struct json_object *itest_ctl(const char *sock, const char *method, const char *params_fmt, ...)
{
	struct json_object *res;
	char err[512] = "";
	va_list ap;

	va_start(ap, params_fmt);
	res = ctl_vcall(sock, method, err, sizeof(err), params_fmt, ap);
	va_end(ap);
	if (!res)
		FAIL("control call %s failed: %s", method, err);
	return res;
}

struct json_object *itest_ctl_try(const char *sock, const char *method, char *err,
				  size_t errlen, const char *params_fmt, ...)
{
	struct json_object *res;
	va_list ap;

	va_start(ap, params_fmt);
	res = ctl_vcall(sock, method, err, errlen, params_fmt, ap);
	va_end(ap);
	return res;
}

bool itest_ctl_has_controller(const char *sock, const char *subnqn, int cntlid)
{
	struct json_object *list = itest_ctl(sock, "list-controllers", NULL);
	bool found = false;

	CHECK(json_object_is_type(list, json_type_array), "list-controllers is not an array");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *v;

		if (!json_object_object_get_ex(o, "cntlid", &v) || json_object_get_int(v) != cntlid)
			continue;
		if (json_object_object_get_ex(o, "subsystem", &v) &&
		    strcmp(json_object_get_string(v), subnqn) == 0)
			found = true;
	}
	json_object_put(list);
	return found;
}

/* ---- NVMe helpers ---- */

void itest_expect_aen(struct nvmeh_ctrl *c, int timeout_ms, unsigned type, unsigned info,
		      unsigned lid, const char *what)
{
	uint32_t result = 0;
	double t0 = itest_now();
	int rc = nvmeh_aer_wait(c, timeout_ms, &result);

	if (rc != 0)
		FAIL("%s: no asynchronous event within %d ms: %s", what, timeout_ms,
		     itest_status_str(rc));
	/* NVMe 2.0 §5.2 Figure 150: type 2:0, info 15:8, log page 23:16. */
	if ((result & 7) != type || ((result >> 8) & 0xff) != info ||
	    ((result >> 16) & 0xff) != lid)
		FAIL("%s: AEN result %#010x is type %u info %#x log %#x; expected type %u "
		     "info %#x log %#x", what, result, result & 7, (result >> 8) & 0xff,
		     (result >> 16) & 0xff, type, info, lid);
	itest_log("  %s: AEN %#010x after %.0f ms", what, result, (itest_now() - t0) * 1000);
}

int itest_ana_state(struct nvmeh_ctrl *c, uint32_t grpid, uint32_t *nnsids)
{
	const struct nvme_ana_log *log;
	void *buf = NULL;
	size_t len = 0, off;
	uint32_t prev_grp = 0;
	int state = -1;
	int rc = nvmeh_get_ana_log(c, false, &buf, &len);

	CHECK_OK(rc, "Get Log Page ANA (0x0c)");
	CHECK(len >= sizeof(*log), "ANA log of %zu bytes", len);
	log = buf;
	off = sizeof(*log);
	for (unsigned g = 0; g < le16toh(log->ngrps); g++) {
		const struct nvme_ana_group_desc *d = (const void *)((uint8_t *)buf + off);
		uint32_t id, n;

		CHECK(off + sizeof(*d) <= len, "ANA log: group descriptor %u beyond %zu bytes",
		      g, len);
		id = le32toh(d->grpid);
		n = le32toh(d->nnsids);
		CHECK(off + sizeof(*d) + 4ull * n <= len, "ANA log: group %u NSIDs overrun", id);
		CHECK(id > prev_grp, "ANA log: group %u follows group %u (must ascend)", id,
		      prev_grp);
		for (uint32_t i = 1; i < n; i++)
			CHECK(le32toh(d->nsids[i]) > le32toh(d->nsids[i - 1]),
			      "ANA log: group %u NSIDs not ascending (%u after %u)", id,
			      le32toh(d->nsids[i]), le32toh(d->nsids[i - 1]));
		if (id == grpid) {
			state = d->state & 0x0f;
			if (nnsids)
				*nnsids = n;
		}
		prev_grp = id;
		off += sizeof(*d) + 4ull * n;
	}
	free(buf);
	return state;
}

int itest_active_ns(struct nvmeh_ctrl *c, uint32_t *out, int max)
{
	uint32_t *list = itest_alloc(4096);
	int n = 0;

	CHECK_OK(nvmeh_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, list),
		 "Identify active namespace list");
	for (int i = 0; i < 1024 && list[i] && n < max; i++) {
		uint32_t nsid = le32toh(list[i]);

		CHECK(n == 0 || nsid > out[n - 1], "active namespace list not ascending: %u after %u",
		      nsid, out[n - 1]);
		out[n++] = nsid;
	}
	free(list);
	return n;
}

void itest_write_read(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
		      uint32_t nlb, uint64_t seed, const char *what)
{
	struct nvmeh_ns_info ni;
	char why[256];
	void *buf;
	size_t len;
	int rc;

	CHECK_OK(nvmeh_ns_info(c, nsid, &ni), "Identify Namespace");
	len = (size_t)nlb * ni.lba_size;
	buf = itest_alloc(len);
	itest_fill(buf, ni.lba_size, nsid, slba, nlb, seed, 1);
	rc = nvmeh_write(c, qid, nsid, slba, nlb, buf, len);
	if (rc)
		FAIL("%s: write nsid %u lba %llu+%u: %s", what, nsid, (unsigned long long)slba, nlb,
		     itest_status_str(rc));
	memset(buf, 0, len);
	rc = nvmeh_read(c, qid, nsid, slba, nlb, buf, len);
	if (rc)
		FAIL("%s: read nsid %u lba %llu+%u: %s", what, nsid, (unsigned long long)slba, nlb,
		     itest_status_str(rc));
	if (itest_verify(buf, ni.lba_size, nsid, slba, nlb, seed, 1, why, sizeof(why)))
		FAIL("%s: read back differs: %s", what, why);
	free(buf);
}

/* SPDX-License-Identifier: MIT */
/*
 * Scenario "hosts": --nqn2 names a subsystem with allow_any_host off whose
 * only allowed host is --hostnqn. Another host (--hostnqn2) is refused with
 * Connect Invalid Host (NVMe-oF 1.1 §3.3: SCT 1 SC 84h) and does not see the
 * subsystem in its discovery log; `allow-host` lets it in at run time,
 * `deny-host` drops its controller and refuses it again. An unknown
 * subsystem NQN gets Connect Invalid Parameters (SCT 1 SC 82h).
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define SC_CONNECT_INVALID_PARAM 0x182
#define SC_CONNECT_INVALID_HOST  0x184

static int try_connect(const struct itest_args *a, const char *subnqn, const char *hostnqn,
		       struct nvmeh_ctrl **c, char *err, size_t errlen)
{
	struct nvmeh_opts o;

	itest_opts(a, &o, 0, subnqn);
	o.hostnqn = hostnqn;
	*c = NULL;
	return nvmeh_connect(&o, c, err, errlen);
}

static void expect_refused(const struct itest_args *a, const char *subnqn, const char *hostnqn,
			   int want, const char *what)
{
	struct nvmeh_ctrl *c;
	char err[512] = "";
	int rc = try_connect(a, subnqn, hostnqn, &c, err, sizeof(err));

	itest_log("  %s: %s (%s)", what, itest_status_str(rc), err);
	if (rc == 0)
		nvmeh_disconnect(c);
	CHECK(rc > 0 && itest_status_code(rc) == want,
	      "%s: expected Connect status %#x, got %s", what, want, itest_status_str(rc));
}

static struct nvmeh_ctrl *expect_admitted(const struct itest_args *a, const char *subnqn,
					  const char *hostnqn, const char *what)
{
	struct nvmeh_ctrl *c;
	char err[512] = "";
	int rc = try_connect(a, subnqn, hostnqn, &c, err, sizeof(err));

	if (rc != 0)
		FAIL("%s: connect refused: %s (%s)", what, itest_status_str(rc), err);
	itest_write_read(c, 1, 1, 0, 8, a->seed, what);
	itest_log("  %s: admitted, cntlid %u, I/O ok", what, nvmeh_info(c)->cntlid);
	return c;
}

/* Does the discovery log that `hostnqn` gets list subnqn? */
static bool discovery_lists(const struct itest_args *a, const char *hostnqn, const char *subnqn)
{
	struct nvmf_discovery_log *log = NULL;
	struct nvmeh_opts o;
	char err[512] = "";
	size_t len = 0;
	bool found = false;
	int rc;

	itest_opts(a, &o, 0, NVB_DISCOVERY_NQN);
	o.hostnqn = hostnqn;
	rc = nvmeh_discover(&o, &log, &len, err, sizeof(err));
	if (rc)
		FAIL("discovery as %s: %s (%s)", hostnqn, itest_status_str(rc), err);
	for (uint64_t i = 0; i < le64toh(log->numrec); i++)
		if (strncmp(log->entries[i].subnqn, subnqn, sizeof(log->entries[i].subnqn)) == 0)
			found = true;
	free(log);
	return found;
}

static void ctl_host(const struct itest_args *a, const char *method, const char *host)
{
	struct json_object *r = itest_ctl(a->socket, method, "{\"nqn\": \"%s\", \"host\": \"%s\"}",
					  a->nqn2, host);

	itest_log("  %s %s: %s", method, host, json_object_to_json_string(r));
	json_object_put(r);
}

/* Wait for the target to close fd (EOF or reset); seconds waited or -1. */
static double wait_closed(int fd, int timeout_ms)
{
	double t0 = itest_now();
	char buf[256];

	while (itest_now() - t0 < timeout_ms / 1000.0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
				return itest_now() - t0;
			if (n < 0)
				break;
		}
	}
	return -1;
}

int scenario_hosts(const struct itest_args *a)
{
	struct nvmeh_ctrl *ca, *cb;
	double waited;

	CHECK(a->nqn2 && a->socket, "hosts needs --nqn2 (restricted subsystem) and --socket");
	ca = expect_admitted(a, a->nqn2, a->hostnqn, "allowed host");
	expect_refused(a, a->nqn2, a->hostnqn2, SC_CONNECT_INVALID_HOST, "host not allowed");
	expect_refused(a, "nqn.2026-04.io.nvbridge:no-such-subsystem", a->hostnqn,
		       SC_CONNECT_INVALID_PARAM, "unknown subsystem");
	CHECK(discovery_lists(a, a->hostnqn, a->nqn2),
	      "the allowed host's discovery log does not list %s", a->nqn2);
	CHECK(!discovery_lists(a, a->hostnqn2, a->nqn2),
	      "a host that may not connect sees %s in its discovery log", a->nqn2);
	CHECK(discovery_lists(a, a->hostnqn2, a->nqn),
	      "the open subsystem %s is missing from any host's discovery log", a->nqn);

	ctl_host(a, "allow-host", a->hostnqn2);
	cb = expect_admitted(a, a->nqn2, a->hostnqn2, "host after allow-host");
	CHECK(discovery_lists(a, a->hostnqn2, a->nqn2),
	      "after allow-host the host's discovery log does not list %s", a->nqn2);

	ctl_host(a, "deny-host", a->hostnqn2);
	waited = wait_closed(nvmeh_queue_fd(cb, 0), 5000);
	itest_log("  deny-host: the host's admin queue closed after %.2f s (-1 = not at all)",
		  waited);
	CHECK(waited >= 0, "deny-host left the host's controller connected for 5 s");
	nvmeh_disconnect(cb);
	expect_refused(a, a->nqn2, a->hostnqn2, SC_CONNECT_INVALID_HOST, "host after deny-host");

	itest_write_read(ca, 1, 1, 64, 8, a->seed, "allowed host still served");
	nvmeh_disconnect(ca);
	return 0;
}

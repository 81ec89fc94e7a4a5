/* SPDX-License-Identifier: MIT */
/*
 * Integration tests against a running nvbridged: shared helpers.
 *
 * The shell drivers (the .sh files in tests/integration) start a daemon on ports they
 * choose and run `nvb-itest SCENARIO --port P ...`; each scenario lives in
 * its own itest_*.c file and fails by exiting non-zero after printing what
 * it expected and what it saw. Every number a scenario measures is printed
 * so a log shows what happened even when it passed.
 */
#ifndef NVB_ITEST_H
#define NVB_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nvmetcp/host.h"

#define ITEST_MAX_PORTS 4

/* What the shell driver tells a scenario (see usage() in nvb-itest.c). */
struct itest_args {
	const char *addr;               /* 127.0.0.1 */
	const char *port[ITEST_MAX_PORTS];
	int nports;
	const char *nqn;                /* the NVM subsystem under test */
	const char *nqn2;               /* a second one (host access tests) */
	const char *socket;             /* the daemon's control socket */
	const char *hostnqn;            /* allowed host */
	const char *hostnqn2;           /* a host that is not (yet) allowed */
	const char *state;              /* state file (sigterm scenario) */
	const char *serial;             /* expected serial (nvmetcli import) */
	const char *nguid;              /* expected NGUID, hex or uuid text */
	bool hdgst, ddgst;
	unsigned mib;                   /* data volume of the I/O scenario */
	unsigned seconds;               /* duration for open-ended writers */
	uint64_t seed;
};

/* ---- failing loudly ---- */

void itest_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
#define FAIL(...) itest_fail(__FILE__, __LINE__, __VA_ARGS__)
/* CHECK(cond, "what it means", ...): fails with the condition's text. */
#define CHECK(cond, fmt, ...) do { if (!(cond)) \
	FAIL("check `%s` failed: " fmt, #cond, ##__VA_ARGS__); } while (0)
/* An NVMe call expected to succeed: rc is 0, an nvb_status or -errno. */
#define CHECK_OK(rc, what) do { int rc__ = (rc); \
	if (rc__ != 0) FAIL("%s: %s", (what), itest_status_str(rc__)); } while (0)
/* An NVMe call expected to complete with exactly status `want`. */
#define CHECK_STATUS(rc, want, what) do { int rc__ = (rc); \
	if (rc__ != (int)(want)) FAIL("%s: expected %s, got %s", (what), \
		itest_status_str((int)(want)), itest_status_str(rc__)); } while (0)

/* "0x4002 (SCT 0 SC 0x02 DNR)", "-104 (Connection reset by peer)".
 * Returns a thread-local buffer (a few can be alive at once). */
const char *itest_status_str(int rc);
/* The status without DNR/MORE, to compare against (SCT << 8) | SC. */
static inline int itest_status_code(int rc)
{
	return rc > 0 ? (rc & 0x7ff) : rc;
}

void itest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double itest_now(void);        /* monotonic seconds */
void itest_sleep_ms(unsigned ms);

/* ---- connecting ---- */

/* Options for port index `port` with the common defaults of the tests. */
void itest_opts(const struct itest_args *a, struct nvmeh_opts *o, int port, const char *subnqn);
/* Connect or fail with the library's reason. */
struct nvmeh_ctrl *itest_connect(const struct nvmeh_opts *o, const char *what);

/* ---- data patterns ---- */

/* Block `lba` of namespace `nsid` as written in generation `gen`: a
 * pseudo-random block whose first 16 bytes name (nsid, lba, gen, seed)
 * so a mismatch report shows where misplaced data came from. */
void itest_fill(void *buf, uint32_t lba_size, uint32_t nsid, uint64_t slba, uint32_t nlb,
		uint64_t seed, uint32_t gen);
/* 0 if buf holds exactly that; else the index of the first bad block + 1
 * with a description in why. */
uint32_t itest_verify(const void *buf, uint32_t lba_size, uint32_t nsid, uint64_t slba,
		      uint32_t nlb, uint64_t seed, uint32_t gen, char *why, size_t whylen);
/* Describe what a block actually holds (its tag), for reports. */
void itest_describe_block(const void *blk, char *out, size_t outlen);
bool itest_all_zero(const void *buf, size_t len);

/* A small deterministic PRNG (splitmix64) for choices, not data. */
static inline uint64_t itest_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void *itest_alloc(size_t len);         /* page-aligned, zeroed, or FAIL */

/* ---- the control socket ---- */

struct json_object;
/* Call `method` with params given as printf-formatted JSON text (or NULL):
 * the result (caller puts it), or FAIL with the daemon's message. */
struct json_object *itest_ctl(const char *sock, const char *method, const char *params_fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, but returns NULL with the error in err instead of failing. */
struct json_object *itest_ctl_try(const char *sock, const char *method, char *err,
				  size_t errlen, const char *params_fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Is a controller with this cntlid in `list-controllers`? */
bool itest_ctl_has_controller(const char *sock, const char *subnqn, int cntlid);

/* ---- NVMe helpers over the host library ---- */

/* Wait for one AEN (an AER must be outstanding); FAIL unless it is an
 * asynchronous event of type `type` / info `info` / log page `lid`. */
void itest_expect_aen(struct nvmeh_ctrl *c, int timeout_ms, unsigned type, unsigned info,
		      unsigned lid, const char *what);
/* The ANA state a controller's ANA log gives group `grpid`, and (optional)
 * how many NSIDs the group lists; -1 if the group is absent. Also checks
 * that groups come in ascending order and NSIDs ascend within a group. */
int itest_ana_state(struct nvmeh_ctrl *c, uint32_t grpid, uint32_t *nnsids);
/* The active namespace list (Identify CNS 02h): up to max NSIDs into
 * out; returns how many. */
int itest_active_ns(struct nvmeh_ctrl *c, uint32_t *out, int max);
/* Write then read back `nlb` blocks at slba on queue qid and compare. */
void itest_write_read(struct nvmeh_ctrl *c, unsigned qid, uint32_t nsid, uint64_t slba,
		      uint32_t nlb, uint64_t seed, const char *what);

/* ---- scenarios (one file each) ---- */

int scenario_io(const struct itest_args *a);              /* itest_io.c */
int scenario_discovery(const struct itest_args *a);       /* itest_ana.c */
int scenario_ana(const struct itest_args *a);             /* itest_ana.c */
int scenario_keepalive(const struct itest_args *a);       /* itest_keepalive.c */
int scenario_hosts(const struct itest_args *a);           /* itest_hosts.c */
int scenario_ns_change(const struct itest_args *a);       /* itest_ns.c */
int scenario_errors(const struct itest_args *a);          /* itest_errors.c */
int scenario_imported(const struct itest_args *a);        /* itest_imported.c */
int scenario_sigterm_write(const struct itest_args *a);   /* itest_sigterm.c */
int scenario_sigterm_verify(const struct itest_args *a);  /* itest_sigterm.c */

#endif

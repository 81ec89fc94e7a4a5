/* SPDX-License-Identifier: MIT */
/*
 * Scenario "ns-change": namespaces change under a connected host.
 * resize-namespace grows namespace 1 (and shrinks it back), add-namespace
 * adds NSID 3, remove-namespace removes it. Each change completes an
 * outstanding AER with a Namespace Attribute Changed notice (NVMe 2.0 §5.2:
 * type 2, info 00h, log page 04h), the Changed Namespace List log names the
 * NSID, and Identify shows the new state; I/O follows it.
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <json-c/json.h>
#include <string.h>

#define AEN_TIMEOUT_MS   5000
#define AEN_TYPE_NOTICE  2
#define AEN_INFO_NS_ATTR 0x00
#define LID_CHANGED_NS   0x04
#define NEW_NSID         3

/* The Changed Namespace List (LID 04h) names nsid. Reading it also
 * re-arms the notice (NVMe 2.0 §5.16.1.5). */
static void expect_changed(struct nvmeh_ctrl *c, uint32_t nsid, const char *what)
{
	uint32_t *list = itest_alloc(4096);
	bool found = false;
	char seen[256] = "";
	size_t pos = 0;

	CHECK_OK(nvmeh_get_log_page(c, LID_CHANGED_NS, 0, NVME_NSID_ALL, 0, list, 4096),
		 "Get Log Page Changed Namespace List");
	for (int i = 0; i < 1024 && list[i]; i++) {
		if (le32toh(list[i]) == nsid)
			found = true;
		if (pos < sizeof(seen) - 16)
			pos += (size_t)snprintf(seen + pos, sizeof(seen) - pos, " %u",
						le32toh(list[i]));
	}
	free(list);
	itest_log("  %s: changed namespace list:%s", what, pos ? seen : " (empty)");
	CHECK(found, "%s: the changed namespace list does not name nsid %u", what, nsid);
}

static bool is_active(struct nvmeh_ctrl *c, uint32_t nsid)
{
	uint32_t list[1024];
	int n = itest_active_ns(c, list, 1024);

	for (int i = 0; i < n; i++)
		if (list[i] == nsid)
			return true;
	return false;
}

static void change(const struct itest_args *a, struct nvmeh_ctrl *c, const char *method,
		   const char *params, uint32_t nsid)
{
	struct json_object *r;
	double t0 = itest_now();

	CHECK_OK(nvmeh_aer_submit(c), "Asynchronous Event Request");
	r = itest_ctl(a->socket, method, "%s", params);
	itest_log("  %s %s -> %s (%.0f ms)", method, params, json_object_to_json_string(r),
		  (itest_now() - t0) * 1000);
	json_object_put(r);
	itest_expect_aen(c, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_NS_ATTR, LID_CHANGED_NS,
			 method);
	expect_changed(c, nsid, method);
}

static int read_at(struct nvmeh_ctrl *c, uint32_t nsid, uint64_t lba, uint32_t lba_size)
{
	void *buf = itest_alloc(lba_size);
	int rc = nvmeh_read(c, 1, nsid, lba, 1, buf, lba_size);

	free(buf);
	return rc;
}

int scenario_ns_change(const struct itest_args *a)
{
	struct nvmeh_ns_info before, after, added, ns1;
	struct nvmeh_ctrl *c;
	struct nvmeh_opts o;
	uint64_t new_bytes;
	char params[512];
	int rc;

	CHECK(a->socket, "ns-change needs --socket");
	itest_opts(a, &o, 0, NULL);
	c = itest_connect(&o, "host");
	CHECK(le32toh(nvmeh_info(c)->id->oaes) & (1u << 8),
	      "OAES %#x lacks Namespace Attribute Notices", le32toh(nvmeh_info(c)->id->oaes));
	CHECK_OK(nvmeh_ns_info(c, 1, &before), "Identify Namespace 1");
	CHECK(!is_active(c, NEW_NSID), "nsid %u is active before the test adds it", NEW_NSID);

	/* Grow namespace 1 to twice its size. */
	new_bytes = 2 * before.nsze * before.lba_size;
	snprintf(params, sizeof(params), "{\"nqn\": \"%s\", \"nsid\": 1, \"size\": %llu}", a->nqn,
		 (unsigned long long)new_bytes);
	change(a, c, "resize-namespace", params, 1);
	CHECK_OK(nvmeh_ns_info(c, 1, &after), "Identify Namespace 1 after resize");
	itest_log("  nsid 1: NSZE %llu -> %llu blocks of %u", (unsigned long long)before.nsze,
		  (unsigned long long)after.nsze, after.lba_size);
	CHECK(after.nsze == 2 * before.nsze, "NSZE %llu after growing to %llu bytes; expected %llu",
	      (unsigned long long)after.nsze, (unsigned long long)new_bytes,
	      (unsigned long long)(2 * before.nsze));
	CHECK(after.ncap == after.nsze, "NCAP %llu != NSZE %llu", (unsigned long long)after.ncap,
	      (unsigned long long)after.nsze);
	itest_write_read(c, 1, 1, after.nsze - 16, 16, a->seed, "I/O in the grown part");
	rc = read_at(c, 1, after.nsze, after.lba_size);
	CHECK_STATUS(rc, NVB_LBA_RANGE, "read just past the new end");

	/* Shrink it back: the grown part is out of range again. */
	snprintf(params, sizeof(params), "{\"nqn\": \"%s\", \"nsid\": 1, \"size\": %llu}", a->nqn,
		 (unsigned long long)(before.nsze * before.lba_size));
	change(a, c, "resize-namespace", params, 1);
	CHECK_OK(nvmeh_ns_info(c, 1, &after), "Identify Namespace 1 after shrinking");
	CHECK(after.nsze == before.nsze, "NSZE %llu after shrinking back; expected %llu",
	      (unsigned long long)after.nsze, (unsigned long long)before.nsze);
	rc = read_at(c, 1, before.nsze + 1, after.lba_size);
	CHECK_STATUS(rc, NVB_LBA_RANGE, "read in the part that was cut off");

	/* Add NSID 3: active, identified, usable, with its own NGUID. */
	snprintf(params, sizeof(params), "{\"nqn\": \"%s\", \"nsid\": %d, \"backend\": \"ram\", "
		 "\"size\": \"16M\", \"lba_size\": 4096}", a->nqn, NEW_NSID);
	change(a, c, "add-namespace", params, NEW_NSID);
	CHECK(is_active(c, NEW_NSID), "nsid %u is not in the active list after add-namespace",
	      NEW_NSID);
	CHECK_OK(nvmeh_ns_info(c, NEW_NSID, &added), "Identify the added namespace");
	CHECK_OK(nvmeh_ns_info(c, 1, &ns1), "Identify Namespace 1");
	CHECK(added.nsze == (16u << 20) / 4096 && added.lba_size == 4096,
	      "added namespace: NSZE %llu LBA size %u; expected %u blocks of 4096",
	      (unsigned long long)added.nsze, added.lba_size, (16u << 20) / 4096);
	CHECK(memcmp(added.nguid, ns1.nguid, 16) != 0 && !itest_all_zero(added.nguid, 16),
	      "the added namespace has no NGUID of its own");
	itest_write_read(c, 1, NEW_NSID, 0, 8, a->seed, "I/O on the added namespace");

	/* Remove it: inactive, and I/O to it is Invalid Namespace. */
	snprintf(params, sizeof(params), "{\"nqn\": \"%s\", \"nsid\": %d}", a->nqn, NEW_NSID);
	change(a, c, "remove-namespace", params, NEW_NSID);
	CHECK(!is_active(c, NEW_NSID), "nsid %u still active after remove-namespace", NEW_NSID);
	rc = read_at(c, NEW_NSID, 0, 4096);
	itest_log("  read from the removed namespace: %s", itest_status_str(rc));
	CHECK(itest_status_code(rc) == NVME_SC_INVALID_NS,
	      "read from the removed namespace: %s, expected Invalid Namespace",
	      itest_status_str(rc));

	itest_write_read(c, 1, 1, 0, 8, a->seed, "namespace 1 after all changes");
	nvmeh_disconnect(c);
	return 0;
}

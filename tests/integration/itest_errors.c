/* SPDX-License-Identifier: MIT */
/*
 * Scenario "errors": commands that must fail, and how (NVMe 2.0 Figures
 * 102-104 status codes), plus the data commands whose effect is "zeroes"
 * or "nothing": LBA out of range, invalid opcodes, invalid namespaces,
 * Compare, Write Zeroes, Dataset Management (deallocate), Flush, and I/O
 * queue Connects the controller must refuse (before CC.EN, wrong CNTLID,
 * another host). Runs on every active namespace (the driver configures a
 * ram one and a file one).
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <json-c/json.h>
#include <string.h>

#include "tests/integration/rawpdu.h"

#define RAW_TIMEOUT_MS 10000
#define BAD_OPCODE     0x70             /* neither admin nor NVM command set */

static int rw(struct nvmeh_ctrl *c, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb,
	      uint32_t lba_size)
{
	size_t len = (size_t)nlb * lba_size;
	void *buf = itest_alloc(len);
	int rc = write ? nvmeh_write(c, 1, nsid, slba, nlb, buf, len)
		       : nvmeh_read(c, 1, nsid, slba, nlb, buf, len);

	free(buf);
	return rc;
}

static void check_range_and_ids(struct nvmeh_ctrl *c, uint32_t nsid,
				const struct nvmeh_ns_info *ni)
{
	struct nvb_sqe sqe;
	int rc;

	CHECK_STATUS(rw(c, false, nsid, ni->nsze, 1, ni->lba_size), NVB_LBA_RANGE,
		     "read at LBA NSZE");
	CHECK_STATUS(rw(c, false, nsid, ni->nsze - 1, 2, ni->lba_size), NVB_LBA_RANGE,
		     "read across the end");
	CHECK_STATUS(rw(c, true, nsid, ni->nsze + 1000, 1, ni->lba_size), NVB_LBA_RANGE,
		     "write beyond the end");
	CHECK_STATUS(rw(c, false, nsid, UINT64_MAX - 1, 4, ni->lba_size), NVB_LBA_RANGE,
		     "read whose SLBA + NLB overflows");
	CHECK_OK(rw(c, false, nsid, ni->nsze - 1, 1, ni->lba_size), "read of the last LBA");

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = BAD_OPCODE;
	sqe.nsid = htole32(nsid);
	rc = nvmeh_passthru(c, 1, &sqe, NULL, 0, NVB_XFER_NONE, NULL);
	CHECK_STATUS(rc, NVB_INVALID_OPCODE, "unknown I/O opcode");

	rc = rw(c, false, 99, 0, 1, ni->lba_size);
	CHECK(itest_status_code(rc) == NVME_SC_INVALID_NS,
	      "read from nsid 99: %s, expected Invalid Namespace", itest_status_str(rc));
	rc = rw(c, false, 0, 0, 1, ni->lba_size);
	CHECK(itest_status_code(rc) == NVME_SC_INVALID_NS,
	      "read from nsid 0: %s, expected Invalid Namespace", itest_status_str(rc));
}

static void check_compare(struct nvmeh_ctrl *c, uint32_t nsid, const struct nvmeh_ns_info *ni,
			  uint64_t seed)
{
	uint32_t nlb = 8, len = nlb * ni->lba_size;
	uint8_t *buf = itest_alloc(len);
	int rc;

	itest_fill(buf, ni->lba_size, nsid, 32, nlb, seed, 7);
	CHECK_OK(nvmeh_write(c, 1, nsid, 32, nlb, buf, len), "write for Compare");
	CHECK_OK(nvmeh_compare(c, 1, nsid, 32, nlb, buf, len), "Compare of equal data");
	buf[len - 1] ^= 0x5a;
	rc = nvmeh_compare(c, 1, nsid, 32, nlb, buf, len);
	CHECK(itest_status_code(rc) == 0x285,
	      "Compare of different data: %s, expected Compare Failure (SCT 2 SC 85h)",
	      itest_status_str(rc));
	free(buf);
}

/* Write a pattern over [slba, slba+16), zero the middle 8 blocks with
 * `zero`, read all 16: zeroes in the middle, the pattern around. */
static void check_zeroing(struct nvmeh_ctrl *c, uint32_t nsid, const struct nvmeh_ns_info *ni,
			  uint64_t seed, uint64_t slba, bool dsm)
{
	uint32_t bs = ni->lba_size, len = 16 * bs;
	uint8_t *buf = itest_alloc(len);
	const char *what = dsm ? "Dataset Management (deallocate)" : "Write Zeroes";
	char why[256];

	itest_fill(buf, bs, nsid, slba, 16, seed, 9);
	CHECK_OK(nvmeh_write(c, 1, nsid, slba, 16, buf, len), "write before zeroing");
	if (dsm) {
		struct nvme_dsm_range r = {
			.cattr = 0, .nlb = htole32(8), .slba = htole64(slba + 4),
		};

		CHECK_OK(nvmeh_dsm(c, 1, nsid, &r, 1, NVME_DSMGMT_AD), what);
	} else {
		CHECK_OK(nvmeh_write_zeroes(c, 1, nsid, slba + 4, 8, 0), what);
	}
	memset(buf, 0xee, len);
	CHECK_OK(nvmeh_read(c, 1, nsid, slba, 16, buf, len), "read after zeroing");
	if (itest_verify(buf, bs, nsid, slba, 4, seed, 9, why, sizeof(why)) ||
	    itest_verify(buf + 12 * bs, bs, nsid, slba + 12, 4, seed, 9, why, sizeof(why)))
		FAIL("nsid %u: %s touched blocks outside its range: %s", nsid, what, why);
	for (int i = 4; i < 12; i++) {
		char desc[128];

		itest_describe_block(buf + i * bs, desc, sizeof(desc));
		CHECK(itest_all_zero(buf + i * bs, bs), "nsid %u: after %s, LBA %llu holds %s, "
		      "not zeroes", nsid, what, (unsigned long long)(slba + i), desc);
	}
	free(buf);
}

static void check_admin_errors(struct nvmeh_ctrl *c)
{
	void *buf = itest_alloc(4096);
	struct nvb_sqe sqe;
	uint32_t res;
	int rc;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = BAD_OPCODE;
	rc = nvmeh_admin_passthru(c, &sqe, NULL, 0, NVB_XFER_NONE, NULL);
	CHECK_STATUS(rc, NVB_INVALID_OPCODE, "unknown admin opcode");
	rc = nvmeh_identify(c, 0x55, 0, buf);
	CHECK(itest_status_code(rc) == NVME_SC_INVALID_FIELD,
	      "Identify CNS 55h: %s, expected Invalid Field", itest_status_str(rc));
	rc = nvmeh_get_features(c, 0x55, 0, &res);
	CHECK(itest_status_code(rc) == NVME_SC_INVALID_FIELD,
	      "Get Features FID 55h: %s, expected Invalid Field", itest_status_str(rc));
	/* Abort of a command that is not outstanding: success, "not aborted". */
	res = 0;
	CHECK_OK(nvmeh_abort(c, 1, 0x3ff, &res), "Abort");
	CHECK(res & 1, "Abort of an unknown command reports it aborted (result %#x)", res);
	/* Log pages and features a host reads at start-up. */
	CHECK_OK(nvmeh_get_log_page(c, NVME_LOG_LID_ERROR, 0, NVME_NSID_ALL, 0, buf, 64),
		 "Get Log Page Error Information");
	CHECK_OK(nvmeh_get_log_page(c, NVME_LOG_LID_SMART, 0, NVME_NSID_ALL, 0, buf, 512),
		 "Get Log Page SMART / Health");
	CHECK_OK(nvmeh_get_features(c, NVME_FEAT_FID_VOLATILE_WC, 0, &res),
		 "Get Features Volatile Write Cache");
	CHECK(res & 1, "Volatile Write Cache feature %#x: the cache is on", res);
	CHECK_OK(nvmeh_set_features(c, NVME_FEAT_FID_ASYNC_EVENT, 0x900, NULL),
		 "Set Features Asynchronous Event Configuration");
	CHECK_OK(nvmeh_get_features(c, NVME_FEAT_FID_ASYNC_EVENT, 0, &res),
		 "Get Features Asynchronous Event Configuration");
	CHECK((res & 0x900) == 0x900, "Async Event Configuration %#x after setting 0x900", res);
	rc = nvmeh_get_log_page(c, 0x55, 0, NVME_NSID_ALL, 0, buf, 512);
	CHECK(itest_status_code(rc) == 0x109 || itest_status_code(rc) == NVME_SC_INVALID_FIELD,
	      "Get Log Page LID 55h: %s, expected Invalid Log Page", itest_status_str(rc));
	free(buf);
}

/* I/O queue Connects the target must refuse, with raw PDUs. */
static void check_io_connects(const struct itest_args *a)
{
	struct raw_conn adm, q;
	uint16_t cntlid = 0, got = 0;
	int rc;

	CHECK_OK(raw_open(&adm, a->addr, a->port[0], true, false, false, RAW_TIMEOUT_MS),
		 "raw admin connection");
	CHECK_OK(raw_connect(&adm, 0, 0xffff, a->nqn, a->hostnqn, 31, 30000, &cntlid,
			     RAW_TIMEOUT_MS), "raw admin Connect");
	itest_log("  raw admin queue: cntlid %u (not enabled yet)", cntlid);

	CHECK_OK(raw_open(&q, a->addr, a->port[0], true, false, false, RAW_TIMEOUT_MS),
		 "raw I/O connection");
	rc = raw_connect(&q, 1, cntlid, a->nqn, a->hostnqn, 31, 0, NULL, RAW_TIMEOUT_MS);
	itest_log("  I/O queue Connect before CC.EN: %s", itest_status_str(rc));
	CHECK(rc > 0, "I/O queue Connect before the controller is enabled: %s, expected an "
	      "error status", itest_status_str(rc));
	raw_close(&q);

	CHECK_OK(raw_enable(&adm, RAW_TIMEOUT_MS), "CC.EN on the raw admin queue");
	CHECK_OK(raw_open(&q, a->addr, a->port[0], true, false, false, RAW_TIMEOUT_MS),
		 "raw I/O connection");
	rc = raw_connect(&q, 1, (uint16_t)(cntlid + 1000), a->nqn, a->hostnqn, 31, 0, NULL,
			 RAW_TIMEOUT_MS);
	itest_log("  I/O queue Connect with a wrong CNTLID: %s", itest_status_str(rc));
	CHECK(itest_status_code(rc) == 0x182, "I/O queue Connect with CNTLID %u (no such "
	      "controller): %s, expected Connect Invalid Parameters", cntlid + 1000,
	      itest_status_str(rc));
	raw_close(&q);

	CHECK_OK(raw_open(&q, a->addr, a->port[0], true, false, false, RAW_TIMEOUT_MS),
		 "raw I/O connection");
	rc = raw_connect(&q, 1, cntlid, a->nqn, "nqn.2026-04.io.nvbridge:host:someone-else", 31,
			 0, NULL, RAW_TIMEOUT_MS);
	itest_log("  I/O queue Connect from another host NQN: %s", itest_status_str(rc));
	CHECK(rc > 0, "I/O queue Connect for cntlid %u from another host: %s, expected an "
	      "error status", cntlid, itest_status_str(rc));
	raw_close(&q);

	/* And the same Connect done right works, so the refusals above were
	 * about what was wrong. */
	CHECK_OK(raw_open(&q, a->addr, a->port[0], true, false, false, RAW_TIMEOUT_MS),
		 "raw I/O connection");
	CHECK_OK(raw_connect(&q, 1, cntlid, a->nqn, a->hostnqn, 31, 0, &got, RAW_TIMEOUT_MS),
		 "I/O queue Connect after CC.EN");
	CHECK(got == cntlid, "I/O queue Connect returned cntlid %u, expected %u", got, cntlid);
	{
		/* An SGL that is not the size of the transfer: 1 block, 3 blocks of SGL. */
		struct nvb_sqe sqe;
		uint8_t buf[3 * 4096];

		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = nvme_cmd_read;
		sqe.cid = htole16(77);
		sqe.nsid = htole32(1);
		rc = raw_exec(&q, &sqe, NULL, 0, false, buf, 0, NULL, RAW_TIMEOUT_MS);
		itest_log("  read with no data buffer: %s", itest_status_str(rc));
		CHECK(rc > 0, "read of 1 block with a zero-length SGL: %s, expected an error "
		      "status", itest_status_str(rc));
	}
	raw_close(&q);

	/* Normal shutdown (CC.SHN = 01b) completes: CSTS.SHST = 10b. */
	{
		const uint64_t cc = (6u << 16) | (4u << 20) | (1u << 14) | 1u;
		uint64_t csts = 0;

		CHECK_OK(raw_prop_set(&adm, NVME_REG_CC, 4, cc, RAW_TIMEOUT_MS), "CC.SHN");
		for (int i = 0; i < 100; i++) {
			CHECK_OK(raw_prop_get(&adm, NVME_REG_CSTS, 4, &csts, RAW_TIMEOUT_MS), "CSTS");
			if (((csts >> 2) & 3) == 2)
				break;
			itest_sleep_ms(20);
		}
		itest_log("  shutdown: CSTS %#llx", (unsigned long long)csts);
		CHECK(((csts >> 2) & 3) == 2, "CSTS.SHST %llu 2 s after CC.SHN (expected 2: complete)",
		      (unsigned long long)((csts >> 2) & 3));
	}
	raw_close(&adm);
}

static void check_stats(const struct itest_args *a)
{
	struct json_object *st = itest_ctl(a->socket, "stats", NULL), *nss, *v;
	uint64_t errors = 0, cmds = 0;

	CHECK(json_object_object_get_ex(st, "namespaces", &nss), "stats has no namespaces");
	for (size_t i = 0; i < json_object_array_length(nss); i++) {
		struct json_object *o = json_object_array_get_idx(nss, i);

		if (json_object_object_get_ex(o, "errors", &v))
			errors += (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(o, "commands", &v))
			cmds += (uint64_t)json_object_get_int64(v);
	}
	itest_log("  stats: %llu commands, %llu errors over all namespaces",
		  (unsigned long long)cmds, (unsigned long long)errors);
	CHECK(cmds > 0 && errors > 0, "stats count %llu commands and %llu errors after a run "
	      "full of failing commands", (unsigned long long)cmds, (unsigned long long)errors);
	json_object_put(st);
}

int scenario_errors(const struct itest_args *a)
{
	struct nvmeh_opts o;
	struct nvmeh_ctrl *c;
	uint32_t active[16];
	int n;

	itest_opts(a, &o, 0, NULL);
	c = itest_connect(&o, "host");
	n = itest_active_ns(c, active, 16);
	CHECK(n > 0, "no active namespace");
	for (int i = 0; i < n; i++) {
		struct nvmeh_ns_info ni;
		struct nvme_id_ns *id = itest_alloc(4096);
		uint32_t nsid = active[i];

		CHECK_OK(nvmeh_ns_info(c, nsid, &ni), "Identify Namespace");
		CHECK_OK(nvmeh_identify(c, NVME_IDENTIFY_CNS_NS, nsid, id), "Identify Namespace");
		itest_log("  nsid %u: %llu blocks of %u, DLFEAT %#x", nsid,
			  (unsigned long long)ni.nsze, ni.lba_size, id->dlfeat);
		free(id);
		check_range_and_ids(c, nsid, &ni);
		check_compare(c, nsid, &ni, a->seed);
		check_zeroing(c, nsid, &ni, a->seed, 64, false);
		check_zeroing(c, nsid, &ni, a->seed, 128, true);
		CHECK_OK(nvmeh_flush(c, 1, nsid), "Flush");
		itest_log("  nsid %u: range, opcode, NSID, Compare, Write Zeroes, DSM, Flush ok", nsid);
	}
	check_admin_errors(c);
	check_io_connects(a);
	if (a->socket)
		check_stats(a);
	nvmeh_disconnect(c);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Scenario "imported": the subsystem that `nvbridgectl import-nvmetcli`
 * produced from an nvmetcli JSON config is served as the kernel target
 * served it: listed by discovery, serial number from attr.serial, the NGUID
 * from device.nguid in Identify Namespace and in the Namespace
 * Identification Descriptor list, and data written reads back.
 */
#include "tests/integration/itest.h"

#include <ctype.h>
#include <endian.h>
#include <string.h>

/* NVMe 2.0 §5.17.2.3 Figure 275: NIDT 02h = NGUID (16 bytes). */
#define NIDT_NGUID 2

static void parse_id(const char *text, uint8_t out[16])
{
	int n = 0;

	if (strncmp(text, "uuid:", 5) == 0)
		text += 5;
	for (; *text && n < 32; text++) {
		if (*text == '-')
			continue;
		CHECK(isxdigit((unsigned char)*text), "bad --nguid '%s'", text);
		out[n / 2] = (uint8_t)(out[n / 2] << 4 |
				       (isdigit((unsigned char)*text) ? *text - '0'
								      : tolower(*text) - 'a' + 10));
		n++;
	}
	CHECK(n == 32 && !*text, "--nguid must have 32 hex digits");
}

static void hex(const uint8_t *id, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

static void check_descriptors(struct nvmeh_ctrl *c, const uint8_t want[16])
{
	uint8_t *buf = itest_alloc(4096);
	bool found = false;

	CHECK_OK(nvmeh_identify(c, NVME_IDENTIFY_CNS_NS_DESC_LIST, 1, buf),
		 "Identify Namespace Identification Descriptors");
	for (size_t off = 0; off + 4 <= 4096 && buf[off];) {
		uint8_t type = buf[off], len = buf[off + 1];

		CHECK(off + 4 + len <= 4096, "descriptor list overruns the page");
		if (type == NIDT_NGUID) {
			CHECK(len == 16, "NGUID descriptor of length %u", len);
			CHECK(memcmp(buf + off + 4, want, 16) == 0,
			      "the NGUID descriptor differs from the imported NGUID");
			found = true;
		}
		off += 4 + len;
	}
	free(buf);
	CHECK(found, "no NGUID in the namespace identification descriptors");
}

int scenario_imported(const struct itest_args *a)
{
	struct nvmf_discovery_log *log = NULL;
	uint8_t want[16] = { 0 };
	struct nvmeh_ns_info ni;
	struct nvmeh_ctrl *c;
	struct nvmeh_opts o;
	char err[512] = "", sn[21], got_hex[33], want_hex[33];
	size_t len = 0;
	bool listed = false;
	int rc;

	CHECK(a->serial && a->nguid, "imported needs --serial and --nguid");
	parse_id(a->nguid, want);

	itest_opts(a, &o, 0, NVB_DISCOVERY_NQN);
	rc = nvmeh_discover(&o, &log, &len, err, sizeof(err));
	if (rc)
		FAIL("discovery: %s (%s)", itest_status_str(rc), err);
	for (uint64_t i = 0; i < le64toh(log->numrec); i++)
		if (!strncmp(log->entries[i].subnqn, a->nqn, sizeof(log->entries[i].subnqn)) &&
		    !strncmp(log->entries[i].trsvcid, a->port[0], strlen(a->port[0])))
			listed = true;
	free(log);
	CHECK(listed, "discovery does not list %s on port %s", a->nqn, a->port[0]);

	itest_opts(a, &o, 0, NULL);
	c = itest_connect(&o, "host");
	memcpy(sn, nvmeh_info(c)->id->sn, 20);
	sn[20] = 0;
	for (int i = 19; i >= 0 && sn[i] == ' '; i--)
		sn[i] = 0;
	itest_log("  serial '%s', model '%.40s'", sn, nvmeh_info(c)->id->mn);
	CHECK(strcmp(sn, a->serial) == 0, "serial number '%s', expected '%s'", sn, a->serial);

	CHECK_OK(nvmeh_ns_info(c, 1, &ni), "Identify Namespace 1");
	hex(ni.nguid, got_hex);
	hex(want, want_hex);
	itest_log("  nsid 1: NGUID %s, %llu blocks of %u", got_hex, (unsigned long long)ni.nsze,
		  ni.lba_size);
	CHECK(memcmp(ni.nguid, want, 16) == 0, "NGUID %s, expected %s", got_hex, want_hex);
	check_descriptors(c, want);

	itest_write_read(c, 1, 1, 0, (1u << 20) / ni.lba_size, a->seed, "1 MiB at the start");
	itest_write_read(c, 1, 1, ni.nsze - 64, 64, a->seed, "the last blocks");
	CHECK_OK(nvmeh_flush(c, 1, 1), "Flush");
	nvmeh_disconnect(c);
	return 0;
}

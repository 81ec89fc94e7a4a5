/* SPDX-License-Identifier: MIT */
/*
 * Scenarios "discovery" and "ana": two ports in two ANA groups (port 1 in
 * group 1 optimized, port 2 in group 2 non-optimized, as the driver's
 * config says).
 *
 * discovery: the discovery log read through each port lists the subsystem
 * on both ports with the right TRTYPE/ADRFAM/TRADDR/TRSVCID/SUBNQN/PORTID.
 * ana: the ANA log through each port, then `set-ana-state 1 inaccessible`
 * over the control socket: every controller gets the ANA-change AEN, the
 * log shows the new state, I/O through port 1 fails with ANA Inaccessible
 * (SCT 3 SC 02h) while port 2 still works; and back again. The change
 * (transition) state is refused over the control socket and nothing
 * changes (its SCT 3 SC 03h is covered by test_executor, which sets the
 * state directly); persistent-loss gives SCT 3 SC 01h.
 */
#include "tests/integration/itest.h"

#include <endian.h>
#include <json-c/json.h>
#include <string.h>

#define AEN_TIMEOUT_MS   5000
#define AEN_TYPE_NOTICE  2
#define AEN_INFO_ANA     0x03
#define LID_ANA          0x0c

/* A space- or NUL-padded ASCII field as a C string. */
static void field_str(const char *f, size_t len, char *out)
{
	memcpy(out, f, len);
	out[len] = 0;
	for (size_t i = len; i > 0 && (out[i - 1] == ' ' || out[i - 1] == 0); i--)
		out[i - 1] = 0;
}

/* Port id of the port listening on `svcid`, from list-ports; -1 if none. */
static int ctl_port_id(const char *sock, const char *svcid)
{
	struct json_object *ports = itest_ctl(sock, "list-ports", NULL), *v;
	int id = -1;

	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		if (json_object_object_get_ex(p, "port", &v) &&
		    strcmp(json_object_get_string(v), svcid) == 0 &&
		    json_object_object_get_ex(p, "id", &v))
			id = json_object_get_int(v);
	}
	json_object_put(ports);
	return id;
}

int scenario_discovery(const struct itest_args *a)
{
	CHECK(a->nports >= 2, "discovery needs two --port");
	for (int via = 0; via < a->nports; via++) {
		struct nvmf_discovery_log *log = NULL;
		bool seen[ITEST_MAX_PORTS] = { false };
		struct nvmeh_opts o;
		char err[512] = "";
		size_t len = 0;
		uint64_t n;
		int rc;

		itest_opts(a, &o, via, NVB_DISCOVERY_NQN);
		rc = nvmeh_discover(&o, &log, &len, err, sizeof(err));
		if (rc)
			FAIL("discovery through port %s: %s (%s)", a->port[via], itest_status_str(rc),
			     err);
		n = le64toh(log->numrec);
		itest_log("  through port %s: %llu records (genctr %llu)", a->port[via],
			  (unsigned long long)n, (unsigned long long)le64toh(log->genctr));
		CHECK(len >= sizeof(*log) + n * sizeof(log->entries[0]),
		      "discovery log has %zu bytes for %llu records", len, (unsigned long long)n);
		for (uint64_t i = 0; i < n; i++) {
			const struct nvmf_disc_log_entry *e = &log->entries[i];
			char traddr[NVMF_TRADDR_SIZE + 1], svc[NVMF_TRSVCID_SIZE + 1];
			char nqn[NVME_NQN_LENGTH + 1];
			int p;

			field_str(e->traddr, sizeof(e->traddr), traddr);
			field_str(e->trsvcid, sizeof(e->trsvcid), svc);
			field_str(e->subnqn, sizeof(e->subnqn), nqn);
			itest_log("    [%llu] subtype %u trtype %u adrfam %u portid %u %s:%s %s",
				  (unsigned long long)i, e->subtype, e->trtype, e->adrfam,
				  le16toh(e->portid), traddr, svc, nqn);
			if (e->subtype != NVME_NQN_NVME || strcmp(nqn, a->nqn) != 0)
				continue;
			CHECK(e->trtype == NVMF_TRTYPE_TCP, "TRTYPE %u, expected TCP (3)", e->trtype);
			CHECK(e->adrfam == NVMF_ADDR_FAMILY_IP4, "ADRFAM %u, expected IPv4", e->adrfam);
			CHECK(strcmp(traddr, a->addr) == 0, "TRADDR '%s', expected '%s'", traddr,
			      a->addr);
			for (p = 0; p < a->nports; p++)
				if (strcmp(svc, a->port[p]) == 0)
					break;
			CHECK(p < a->nports, "TRSVCID '%s' is none of the daemon's ports", svc);
			CHECK(!seen[p], "port %s listed twice for %s", svc, nqn);
			seen[p] = true;
			if (a->socket) {
				int id = ctl_port_id(a->socket, svc);

				CHECK(id == le16toh(e->portid), "PORTID %u for port %s; list-ports "
				      "says %d", le16toh(e->portid), svc, id);
			}
		}
		for (int p = 0; p < a->nports; p++)
			CHECK(seen[p], "discovery through port %s does not list %s on port %s",
			      a->port[via], a->nqn, a->port[p]);
		free(log);
	}
	return 0;
}

/* What Identify Controller must say for the Linux host to use ANA. */
static void check_ana_identify(struct nvmeh_ctrl *c, const char *name)
{
	const struct nvme_id_ctrl *id = nvmeh_info(c)->id;

	CHECK(id != NULL, "no Identify Controller data");
	itest_log("  %s: CMIC %#x ANACAP %#x ANATT %u ANAGRPMAX %u NANAGRPID %u OAES %#x",
		  name, id->cmic, id->anacap, id->anatt, le32toh(id->anagrpmax),
		  le32toh(id->nanagrpid), le32toh(id->oaes));
	CHECK((id->cmic & 0x0b) == 0x0b, "%s: CMIC %#x lacks multi-port/multi-ctrl/ANA", name,
	      id->cmic);
	CHECK(id->anacap != 0, "%s: ANACAP is 0", name);
	CHECK(le32toh(id->anagrpmax) >= 2 && le32toh(id->nanagrpid) >= 2,
	      "%s: ANAGRPMAX %u NANAGRPID %u cannot hold groups 1 and 2", name,
	      le32toh(id->anagrpmax), le32toh(id->nanagrpid));
	CHECK(le32toh(id->oaes) & (1u << 11), "%s: OAES %#x lacks ANA change notices", name,
	      le32toh(id->oaes));
}

/* The rest of what the Linux host checks in Identify Controller before it
 * uses a controller (see issue 2, "What the Linux host checks"). */
static void check_host_identify(struct nvmeh_ctrl *c, const char *name)
{
	const struct nvme_id_ctrl *id = nvmeh_info(c)->id;
	uint32_t nn = le32toh(id->nn), mnan = le32toh(id->mnan);
	uint64_t ana_log = 16 + 32ull * le32toh(id->nanagrpid) + 4ull * mnan;
	uint32_t max_xfer = nvmeh_info(c)->max_xfer;

	itest_log("  %s: CNTLID %u KAS %u NN %u MNAN %u SGLS %#x IOCCSZ %u IORCSZ %u VWC %#x "
		  "MDTS %u bytes; ANA log needs %llu bytes", name, le16toh(id->cntlid),
		  le16toh(id->kas), nn, mnan, le32toh(id->sgls), le32toh(id->ioccsz),
		  le32toh(id->iorcsz), id->vwc, max_xfer, (unsigned long long)ana_log);
	CHECK(le16toh(id->cntlid) == nvmeh_info(c)->cntlid, "%s: Identify CNTLID %u, Connect "
	      "returned %u", name, le16toh(id->cntlid), nvmeh_info(c)->cntlid);
	CHECK(le16toh(id->kas) != 0, "%s: KAS is 0", name);
	CHECK(mnan != 0 && mnan <= nn, "%s: MNAN %u must be in 1..NN (%u)", name, mnan, nn);
	CHECK(max_xfer == 0 || ana_log <= max_xfer, "%s: the ANA log (%llu bytes) exceeds MDTS "
	      "(%u bytes)", name, (unsigned long long)ana_log, max_xfer);
	CHECK(le32toh(id->sgls) != 0, "%s: SGLS is 0", name);
	CHECK(le32toh(id->ioccsz) >= 4 && le32toh(id->iorcsz) >= 1,
	      "%s: IOCCSZ %u / IORCSZ %u too small for a 64-byte SQE / 16-byte CQE", name,
	      le32toh(id->ioccsz), le32toh(id->iorcsz));
	CHECK(id->vwc & 1, "%s: VWC %#x: the namespaces have a volatile write cache", name,
	      id->vwc);
	CHECK(le32toh(id->oaes) & (1u << 8), "%s: OAES %#x lacks namespace attribute notices",
	      name, le32toh(id->oaes));
}

/* The ANA log seen through one controller: group `mine` (the port's)
 * has state `want_mine` and lists nns NSIDs, the other group none. */
static void check_log(struct nvmeh_ctrl *c, const char *name, uint32_t mine, int want_mine,
		      uint32_t other, int want_other, uint32_t nns)
{
	uint32_t n_mine = 0, n_other = 0;
	int s_mine = itest_ana_state(c, mine, &n_mine);
	int s_other = itest_ana_state(c, other, &n_other);

	itest_log("  %s ANA log: group %u state %#x (%u NSIDs), group %u state %#x (%u NSIDs)",
		  name, mine, s_mine, n_mine, other, s_other, n_other);
	CHECK(s_mine == want_mine, "%s: group %u state %#x, expected %#x", name, mine, s_mine,
	      want_mine);
	CHECK(s_other == want_other, "%s: group %u state %#x, expected %#x", name, other,
	      s_other, want_other);
	CHECK(n_mine == nns, "%s: group %u lists %u NSIDs, expected %u", name, mine, n_mine, nns);
	CHECK(n_other == 0, "%s: group %u lists %u NSIDs, expected none through this port", name,
	      other, n_other);
}

static void set_ana(const struct itest_args *a, int group, const char *state)
{
	struct json_object *r = itest_ctl(a->socket, "set-ana-state",
					  "{\"group\": %d, \"state\": \"%s\"}", group, state);

	itest_log("  set-ana-state %d %s: %s", group, state, json_object_to_json_string(r));
	json_object_put(r);
}

static int read_one(struct nvmeh_ctrl *c, uint32_t nsid, uint64_t lba)
{
	struct nvmeh_ns_info ni;
	void *buf;
	int rc;

	CHECK_OK(nvmeh_ns_info(c, nsid, &ni), "Identify Namespace");
	buf = itest_alloc(ni.lba_size);
	rc = nvmeh_read(c, 1, nsid, lba, 1, buf, ni.lba_size);
	free(buf);
	return rc;
}

int scenario_ana(const struct itest_args *a)
{
	struct nvmeh_ns_info n1, n2;
	struct nvmeh_ctrl *c1, *c2;
	struct nvmeh_opts o;
	uint32_t nns = 0;
	int rc;

	CHECK(a->nports >= 2 && a->socket, "ana needs two --port and --socket");
	itest_opts(a, &o, 0, NULL);
	c1 = itest_connect(&o, "path 1");
	itest_opts(a, &o, 1, NULL);
	c2 = itest_connect(&o, "path 2");
	itest_log("  path 1: cntlid %u, path 2: cntlid %u", nvmeh_info(c1)->cntlid,
		  nvmeh_info(c2)->cntlid);
	CHECK(nvmeh_info(c1)->cntlid != nvmeh_info(c2)->cntlid,
	      "both paths got CNTLID %u (must be unique in the subsystem)", nvmeh_info(c1)->cntlid);
	check_ana_identify(c1, "path 1");
	check_ana_identify(c2, "path 2");
	check_host_identify(c1, "path 1");
	check_host_identify(c2, "path 2");

	/* Every namespace: the same NGUID through both paths (the host joins
	 * paths by it), shared (NMIC), in the group of the path's port. */
	uint32_t active[64];
	int nactive = itest_active_ns(c1, active, 64);

	for (int i = 0; i < nactive; i++) {
		uint32_t nsid = active[i];

		CHECK_OK(nvmeh_ns_info(c1, nsid, &n1), "Identify Namespace (path 1)");
		CHECK_OK(nvmeh_ns_info(c2, nsid, &n2), "Identify Namespace (path 2)");
		CHECK(memcmp(n1.nguid, n2.nguid, 16) == 0, "nsid %u: NGUID differs between paths",
		      nsid);
		CHECK(n1.nmic & 1, "nsid %u: NMIC %#x not shared", nsid, n1.nmic);
		CHECK(n1.anagrpid == 1 && n2.anagrpid == 2,
		      "nsid %u: ANAGRPID %u via port 1, %u via port 2; expected 1 and 2", nsid,
		      n1.anagrpid, n2.anagrpid);
		nns++;
	}
	CHECK(nns > 0, "no active namespace");
	CHECK_OK(nvmeh_ns_info(c1, 1, &n1), "Identify Namespace 1");

	check_log(c1, "path 1", 1, NVB_ANA_OPTIMIZED, 2, NVB_ANA_NON_OPTIMIZED, nns);
	check_log(c2, "path 2", 2, NVB_ANA_NON_OPTIMIZED, 1, NVB_ANA_OPTIMIZED, nns);
	itest_write_read(c1, 1, 1, 100, 8, a->seed, "I/O via port 1 (optimized)");
	itest_write_read(c2, 1, 1, 200, 8, a->seed, "I/O via port 2 (non-optimized)");

	/* Group 1 goes inaccessible: both controllers hear about it. */
	CHECK_OK(nvmeh_aer_submit(c1), "AER (path 1)");
	CHECK_OK(nvmeh_aer_submit(c2), "AER (path 2)");
	set_ana(a, 1, "inaccessible");
	itest_expect_aen(c1, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_ANA, LID_ANA,
			 "ANA change on path 1");
	itest_expect_aen(c2, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_ANA, LID_ANA,
			 "ANA change on path 2");
	check_log(c1, "path 1", 1, NVB_ANA_INACCESSIBLE, 2, NVB_ANA_NON_OPTIMIZED, nns);
	check_log(c2, "path 2", 2, NVB_ANA_NON_OPTIMIZED, 1, NVB_ANA_INACCESSIBLE, nns);

	rc = read_one(c1, 1, 100);
	itest_log("  read via port 1 (inaccessible): %s", itest_status_str(rc));
	CHECK_STATUS(rc, NVB_STATUS_ANA_INACCESSIBLE, "read through the inaccessible path");
	{
		void *buf = itest_alloc(4096);

		rc = nvmeh_write(c1, 1, 1, 100, 4096 / n1.lba_size, buf, 4096);
		free(buf);
		CHECK_STATUS(rc, NVB_STATUS_ANA_INACCESSIBLE, "write through the inaccessible path");
	}
	itest_write_read(c2, 1, 1, 300, 8, a->seed, "I/O via port 2 while port 1 is inaccessible");

	/* And back: port 1 works again. */
	CHECK_OK(nvmeh_aer_submit(c1), "AER (path 1)");
	CHECK_OK(nvmeh_aer_submit(c2), "AER (path 2)");
	set_ana(a, 1, "optimized");
	itest_expect_aen(c1, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_ANA, LID_ANA,
			 "ANA change back on path 1");
	itest_expect_aen(c2, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_ANA, LID_ANA,
			 "ANA change back on path 2");
	check_log(c1, "path 1", 1, NVB_ANA_OPTIMIZED, 2, NVB_ANA_NON_OPTIMIZED, nns);
	check_log(c2, "path 2", 2, NVB_ANA_NON_OPTIMIZED, 1, NVB_ANA_OPTIMIZED, nns);
	itest_write_read(c1, 1, 1, 100, 8, a->seed + 1, "I/O via port 1 after recovery");

	/* The change (transition) state cannot be set: hosts reset controllers
	 * left in it, and nothing would take the group out. Nothing changes. */
	{
		char err[512] = "";
		struct json_object *r = itest_ctl_try(a->socket, "set-ana-state", err, sizeof(err),
						      "{\"group\": 1, \"state\": \"change\"}");

		itest_log("  set-ana-state 1 change: %s", r ? json_object_to_json_string(r) : err);
		CHECK(!r, "set-ana-state 1 change succeeded: %s", json_object_to_json_string(r));
		CHECK(strstr(err, "ANA group 1: state \"change\" is transient") &&
		      strstr(err, "2×ANATT"), "set-ana-state 1 change: wrong error '%s'", err);
	}
	check_log(c1, "path 1", 1, NVB_ANA_OPTIMIZED, 2, NVB_ANA_NON_OPTIMIZED, nns);
	CHECK_OK(read_one(c1, 1, 100), "read through port 1 after the refused transition");

	/* Group 2 persistent loss: port 2's I/O gets SCT 3 SC 01h. */
	CHECK_OK(nvmeh_aer_submit(c2), "AER (path 2)");
	set_ana(a, 2, "persistent-loss");
	itest_expect_aen(c2, AEN_TIMEOUT_MS, AEN_TYPE_NOTICE, AEN_INFO_ANA, LID_ANA,
			 "ANA persistent loss on path 2");
	rc = read_one(c2, 1, 100);
	CHECK_STATUS(rc, NVB_STATUS_ANA_PERSISTENT_LOSS, "read through the lost path");
	set_ana(a, 2, "non-optimized");
	itest_write_read(c2, 1, 1, 400, 8, a->seed, "I/O via port 2 after recovery");

	nvmeh_disconnect(c1);
	nvmeh_disconnect(c2);
	return 0;
}

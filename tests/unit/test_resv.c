/* SPDX-License-Identifier: MIT */
/*
 * Namespace reservations (bridge/resv.c) through the executor's NVMe
 * reservation commands and the SCSI helpers: register/acquire/release/
 * preempt/clear/report flows for several hosts, the access matrix of every
 * reservation type, notifications, cross-protocol identities, SPC-2
 * RESERVE, persistence (PTPL) across namespace re-creation; and fused
 * Compare and Write: results, errors, ordering against writes (held bios)
 * and a race of fused pairs against plain writes on two reactor threads
 * checked by an instrumented backend.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testlib.h"
#include "bridge/bufpool.h"
#include "bridge/executor.h"
#include "bridge/resv.h"

#define MiB (1u << 20)
#define NS_SIZE (4 * MiB)
#define NS_RAM 1                /* ram, 512-byte blocks */
#define NS_FILE 2               /* file, 4096-byte blocks */

enum { OPC_FLUSH = 0x00, OPC_WRITE = 0x01, OPC_READ = 0x02, OPC_COMPARE = 0x05,
       OPC_WRITE_ZEROES = 0x08, OPC_DSM = 0x09, OPC_RESV_REGISTER = 0x0d,
       OPC_RESV_REPORT = 0x0e, OPC_RESV_ACQUIRE = 0x11, OPC_RESV_RELEASE = 0x15 };

enum { WE = 1, EA = 2, WE_RO = 3, EA_RO = 4, WE_AR = 5, EA_AR = 6 };
enum { REGISTER = 0, UNREGISTER = 1, REPLACE = 2 };
enum { ACQUIRE = 0, PREEMPT = 1, PREEMPT_ABORT = 2 };
enum { RELEASE = 0, CLEAR = 1 };
enum { PTPL_KEEP = 0, PTPL_OFF = 2, PTPL_ON = 3 };

static char tmpdir[64];
static struct nvb_subsys *ss;
static struct nvb_reactor *reactor;
static struct nvb_host_id host_a, host_b, host_c, iscsi_1, iscsi_2;

/* ---- fixture ---- */


static void ns_path(uint32_t nsid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/ns%u.img", tmpdir, nsid);
}

static struct nvb_ns *ns_try_create(uint32_t nsid, char *err, size_t errlen)
{
	char path[128];
	struct nvb_ns_conf conf = {
		.nsid = nsid, .size = NS_SIZE, .volatile_write_cache = true,
		.backend = nsid == NS_FILE ? NVB_BACKEND_FILE : NVB_BACKEND_RAM,
		.lba_size = nsid == NS_FILE ? 4096 : 512,
	};

	conf.nguid[15] = (uint8_t)nsid;
	if (conf.backend == NVB_BACKEND_FILE) {
		ns_path(nsid, path, sizeof(path));
		conf.path = path;
	}
	return nvb_ns_create(ss, &conf, NULL, err, errlen);
}

static struct nvb_ns *ns_publish(uint32_t nsid)
{
	char err[512];
	struct nvb_ns *ns = ns_try_create(nsid, err, sizeof(err));

	if (!ns)
		ck_abort_msg("nvb_ns_create: %s", err);
	atomic_store(&ss->ns[nsid], ns);
	return ns;
}

static void ns_unpublish(uint32_t nsid)
{
	test_unpublish_ns(ss, nsid);
}

static struct nvb_ns *ns_at(uint32_t nsid)
{
	return atomic_load(&ss->ns[nsid]);
}

static void setup(void)
{
	static const uint8_t isid1[6] = { 0x80, 0, 0x02, 0x3d, 0, 1 };
	static const uint8_t isid2[6] = { 0x80, 0, 0x02, 0x3d, 0, 2 };
	uint8_t id[16];
	char path[128];

	strcpy(tmpdir, "/tmp/nvb-resv-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	reactor = nvb_reactor_create_local(64);
	ck_assert_ptr_nonnull(reactor);
	ss = calloc(1, sizeof(*ss));
	ck_assert_ptr_nonnull(ss);

	for (int i = 0; i < 3; i++) {
		memset(id, 0x10 * (i + 1), sizeof(id));
		ck_assert_int_eq(nvb_host_id_nvme(i == 0 ? &host_a : i == 1 ? &host_b : &host_c,
						  id, (uint16_t)(i + 1)), 0);
	}
	/* One initiator, two sessions (ISIDs): two I_T nexuses. */
	ck_assert_int_eq(nvb_host_id_iscsi(&iscsi_1, "iqn.1998-01.com.vmware:esx1", isid1,
					   "iqn.2026-04.io.nvbridge:t1", 1, 1), 0);
	ck_assert_int_eq(nvb_host_id_iscsi(&iscsi_2, "iqn.1998-01.com.vmware:esx1", isid2,
					   "iqn.2026-04.io.nvbridge:t1", 1, 1), 0);

	ns_path(NS_FILE, path, sizeof(path));
	close(open(path, O_CREAT | O_RDWR, 0600));
	ns_publish(NS_RAM);
	ns_publish(NS_FILE);
}

static void teardown(void)
{
	test_unpublish_all(ss);
	free(ss);
	nvb_reactor_destroy_local(reactor);
	test_remove_tree(tmpdir);
}

/* ---- running commands on the local reactor ---- */

struct waiter {
	struct nvb_io io;
	struct iovec iov;
	int done;
	nvb_status status;
};

static void waiter_done(struct nvb_io *io, nvb_status status)
{
	struct waiter *w = container_of(io, struct waiter, io);

	w->done++;
	w->status = status;
}

static void waiter_init(struct waiter *w, const struct nvb_host_id *h, const struct nvb_sqe *cmd,
			void *buf, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	w->io = (struct nvb_io){
		.cmd = *cmd, .subsys = ss, .path_state = NVB_ANA_OPTIMIZED,
		.iov = buf ? &w->iov : NULL, .iovcnt = buf ? 1 : 0, .data_len = len,
		.reactor = reactor, .done = waiter_done, .host = h,
	};
}

/* Run the local reactor until *flag reaches want (commits finish on a
 * helper thread and post back). */
static void wait_for(const int *flag, int want)
{
	uint64_t t0 = nvb_now_ms();

	while (*flag < want && nvb_now_ms() - t0 < 10000)
		nvb_reactor_run_once(reactor, 10);
	ck_assert_int_eq(*flag, want);
}

static nvb_status run_io(const struct nvb_host_id *h, const struct nvb_sqe *cmd, void *buf,
			 size_t len, size_t *xfer)
{
	struct waiter w;

	waiter_init(&w, h, cmd, buf, len);
	nvb_exec_io(&w.io);
	wait_for(&w.done, 1);
	nvb_reactor_run_once(reactor, 0);
	ck_assert_int_eq(w.done, 1);            /* exactly once */
	ck_assert_ptr_null(w.io.ns);
	if (xfer)
		*xfer = w.io.xfer_len;
	return w.status;
}

static struct nvb_sqe rw_cmd(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	struct nvb_sqe c = { .opcode = opcode, .nsid = htole32(nsid) };

	c.cdw10 = htole32((uint32_t)slba);
	c.cdw11 = htole32((uint32_t)(slba >> 32));
	c.cdw12 = htole32((nlb - 1) & 0xffff);
	return c;
}

static size_t lba_size(uint32_t nsid)
{
	return nsid == NS_FILE ? 4096 : 512;
}

/* One block at LBA 100: read or write. */
static nvb_status do_rw(const struct nvb_host_id *h, uint32_t nsid, bool write)
{
	uint8_t buf[4096] = { 0 };
	struct nvb_sqe c = rw_cmd(write ? OPC_WRITE : OPC_READ, nsid, 100, 1);

	return run_io(h, &c, buf, lba_size(nsid), NULL);
}

static nvb_status reg(const struct nvb_host_id *h, uint32_t nsid, unsigned rrega, bool iekey,
		      unsigned cptpl, uint64_t crkey, uint64_t nrkey)
{
	struct nvb_sqe c = { .opcode = OPC_RESV_REGISTER, .nsid = htole32(nsid) };
	uint64_t keys[2] = { htole64(crkey), htole64(nrkey) };

	c.cdw10 = htole32(rrega | (uint32_t)iekey << 3 | cptpl << 30);
	return run_io(h, &c, keys, sizeof(keys), NULL);
}

static nvb_status acq(const struct nvb_host_id *h, uint32_t nsid, unsigned racqa, bool iekey,
		      unsigned rtype, uint64_t crkey, uint64_t prkey)
{
	struct nvb_sqe c = { .opcode = OPC_RESV_ACQUIRE, .nsid = htole32(nsid) };
	uint64_t keys[2] = { htole64(crkey), htole64(prkey) };

	c.cdw10 = htole32(racqa | (uint32_t)iekey << 3 | rtype << 8);
	return run_io(h, &c, keys, sizeof(keys), NULL);
}

static nvb_status rel(const struct nvb_host_id *h, uint32_t nsid, unsigned rrela, bool iekey,
		      unsigned rtype, uint64_t crkey)
{
	struct nvb_sqe c = { .opcode = OPC_RESV_RELEASE, .nsid = htole32(nsid) };
	uint64_t key = htole64(crkey);

	c.cdw10 = htole32(rrela | (uint32_t)iekey << 3 | rtype << 8);
	return run_io(h, &c, &key, sizeof(key), NULL);
}

/* A parsed Reservation Status Extended Data Structure. */
struct report {
	uint32_t gen;
	uint8_t rtype, ptpls;
	uint16_t regctl;
	struct {
		uint16_t cntlid;
		uint8_t rcsts;
		uint64_t rkey;
		uint8_t hostid[16];
	} reg[8];
};

static nvb_status report_raw(const struct nvb_host_id *h, uint32_t nsid, void *buf, size_t len,
			     bool eds, size_t *xfer)
{
	struct nvb_sqe c = { .opcode = OPC_RESV_REPORT, .nsid = htole32(nsid) };

	c.cdw10 = htole32((uint32_t)(len / 4 - 1));
	c.cdw11 = htole32(eds);
	return run_io(h, &c, buf, len, xfer);
}

static void report(uint32_t nsid, struct report *r)
{
	uint8_t buf[64 + 64 * 8];
	size_t xfer;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(report_raw(&host_a, nsid, buf, sizeof(buf), true, &xfer), NVB_OK);
	ck_assert_uint_eq(xfer, sizeof(buf));
	memset(r, 0, sizeof(*r));
	memcpy(&r->gen, buf, 4);
	r->gen = le32toh(r->gen);
	r->rtype = buf[4];
	r->regctl = (uint16_t)(buf[5] | buf[6] << 8);
	r->ptpls = buf[9];
	ck_assert_uint_le(r->regctl, 8);
	for (int i = 0; i < r->regctl; i++) {
		const uint8_t *e = buf + 64 + 64 * i;

		r->reg[i].cntlid = (uint16_t)(e[0] | e[1] << 8);
		r->reg[i].rcsts = e[2];
		memcpy(&r->reg[i].rkey, e + 8, 8);
		r->reg[i].rkey = le64toh(r->reg[i].rkey);
		memcpy(r->reg[i].hostid, e + 16, 16);
	}
	/* Past the registrants: zeroes. */
	for (size_t i = 64 + 64 * (size_t)r->regctl; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0);
}

/* The report entry with key k (-1 if none). */
static int report_find(const struct report *r, uint64_t k)
{
	for (int i = 0; i < r->regctl; i++)
		if (r->reg[i].rkey == k)
			return i;
	return -1;
}

/* ---- identities and type codes ---- */

START_TEST(host_identity)
{
	static const uint8_t zero[16], isid[6] = { 1, 2, 3, 4, 5, 6 };
	struct nvb_host_id h, again;
	char longname[300];
	const char *want_i = "iqn.1998-01.com.vmware:esx1,i,0x8000023d0001";
	const char *want_t = "iqn.2026-04.io.nvbridge:t1,t,0x0001";

	ck_assert_int_eq(nvb_host_id_nvme(&h, zero, 1), -1);
	ck_assert_uint_eq(host_a.kind, NVB_HOST_NVME);
	ck_assert_uint_eq(host_a.len, 16);
	ck_assert(!nvb_host_id_equal(&host_a, &host_b));
	/* The same host through another controller: the same registrant. */
	ck_assert_int_eq(nvb_host_id_nvme(&again, host_a.id, 77), 0);
	ck_assert(nvb_host_id_equal(&again, &host_a));
	ck_assert_uint_eq(again.fp, host_a.fp);

	ck_assert_uint_eq(iscsi_1.kind, NVB_HOST_ISCSI);
	ck_assert_str_eq((const char *)iscsi_1.id, want_i);
	ck_assert_str_eq((const char *)iscsi_1.id + strlen(want_i) + 1, want_t);
	ck_assert_uint_eq(iscsi_1.len, strlen(want_i) + 1 + strlen(want_t));
	/* Another ISID, or another target port: another I_T nexus. */
	ck_assert(!nvb_host_id_equal(&iscsi_1, &iscsi_2));
	ck_assert_int_eq(nvb_host_id_iscsi(&h, "iqn.1998-01.com.vmware:esx1",
					   (const uint8_t[6]){ 0x80, 0, 0x02, 0x3d, 0, 1 },
					   "iqn.2026-04.io.nvbridge:t1", 2, 2), 0);
	ck_assert(!nvb_host_id_equal(&h, &iscsi_1));
	/* A 16-byte iSCSI id never equals an NVMe one (kinds differ). */
	ck_assert(!nvb_host_id_equal(&h, &host_a));

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(nvb_host_id_iscsi(&h, longname, isid, "t", 1, 1), -1);
	ck_assert_int_eq(nvb_host_id_iscsi(&h, "i", isid, longname, 1, 1), -1);
	ck_assert_int_eq(nvb_host_id_iscsi(&h, "", isid, "t", 1, 1), -1);
	/* The longest names fit. */
	longname[223] = '\0';
	ck_assert_int_eq(nvb_host_id_iscsi(&h, longname, isid, longname, 0xffff, 1), 0);
	ck_assert_uint_le(h.len, NVB_HOST_ID_MAX);
}
END_TEST

START_TEST(type_mapping)
{
	static const uint8_t scsi[] = { 0, 1, 3, 5, 6, 7, 8 };

	for (uint8_t t = 1; t <= 6; t++) {
		ck_assert_uint_eq(nvb_resv_type_to_scsi(t), scsi[t]);
		ck_assert_uint_eq(nvb_resv_type_from_scsi(scsi[t]), t);
	}
	ck_assert_uint_eq(nvb_resv_type_from_scsi(0), 0);
	ck_assert_uint_eq(nvb_resv_type_from_scsi(2), 0);       /* obsolete "read shared" */
	ck_assert_uint_eq(nvb_resv_type_from_scsi(4), 0);
	ck_assert_uint_eq(nvb_resv_type_from_scsi(9), 0);
	ck_assert_uint_eq(nvb_resv_type_to_scsi(0), 0);
	ck_assert_uint_eq(nvb_resv_type_to_scsi(7), 0);
	ck_assert_uint_eq(NVB_RESV_RESCAP, 0xff);
}
END_TEST

/* ---- the access matrix ---- */

/* [type][role][write]: role 0 holder, 1 registrant, 2 non-registrant
 * (NVMe 2.0 §8.19, Figure "Command Behavior in the Presence of a Reservation"). */
static const bool allowed[7][3][2] = {
	[WE] = { { 1, 1 }, { 1, 0 }, { 1, 0 } },
	[EA] = { { 1, 1 }, { 0, 0 }, { 0, 0 } },
	[WE_RO] = { { 1, 1 }, { 1, 1 }, { 1, 0 } },
	[EA_RO] = { { 1, 1 }, { 1, 1 }, { 0, 0 } },
	[WE_AR] = { { 1, 1 }, { 1, 1 }, { 1, 0 } },
	[EA_AR] = { { 1, 1 }, { 1, 1 }, { 0, 0 } },
};

static void assert_access(const struct nvb_host_id *h, uint32_t nsid, const bool rw[2])
{
	ck_assert_uint_eq(do_rw(h, nsid, false), rw[0] ? NVB_OK : NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(h, nsid, true), rw[1] ? NVB_OK : NVB_RESERVATION_CONFLICT);
}

START_TEST(access_matrix)
{
	unsigned t = (unsigned)_i;
	uint32_t nsid = NS_RAM;
	static const bool all[2] = { 1, 1 };
	struct report r;

	ck_assert_uint_eq(reg(&host_a, nsid, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, nsid, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(reg(&iscsi_1, nsid, REGISTER, 0, PTPL_KEEP, 0, 0x1), NVB_OK);
	/* Registrations alone restrict nobody. */
	assert_access(&host_c, nsid, all);
	assert_access(NULL, nsid, all);

	ck_assert_uint_eq(acq(&host_a, nsid, ACQUIRE, 0, t, 0xa, 0), NVB_OK);
	report(nsid, &r);
	ck_assert_uint_eq(r.rtype, t);
	ck_assert_uint_eq(r.regctl, 3);
	ck_assert_uint_eq(r.reg[report_find(&r, 0xa)].rcsts, 1);
	/* All Registrants: every registrant holds it. */
	ck_assert_uint_eq(r.reg[report_find(&r, 0xb)].rcsts, t >= WE_AR);

	assert_access(&host_a, nsid, allowed[t][0]);
	assert_access(&host_b, nsid, allowed[t][1]);
	assert_access(&iscsi_1, nsid, allowed[t][1]);   /* a registrant through iSCSI */
	assert_access(&host_c, nsid, allowed[t][2]);
	assert_access(&iscsi_2, nsid, allowed[t][2]);   /* same initiator, other nexus */
	assert_access(NULL, nsid, allowed[t][2]);
	/* The other namespace is not reserved. */
	assert_access(&host_c, NS_FILE, all);

	/* Release: open again. */
	ck_assert_uint_eq(rel(&host_a, nsid, RELEASE, 0, t, 0xa), NVB_OK);
	assert_access(&host_c, nsid, all);
	report(nsid, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_uint_eq(r.regctl, 3);
}
END_TEST

/* Every command of the read and the write group, under Exclusive Access
 * held by A, from B (a registrant, no access). */
START_TEST(access_by_command)
{
	uint8_t buf[512] = { 0 };
	struct {
		uint64_t a, b;
	} range = { htole64(1ull << 32), htole64(50) };   /* NLB 1 at LBA 50 */
	struct nvb_sqe c;

	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA, 0xa, 0), NVB_OK);
	for (int who = 0; who < 2; who++) {
		const struct nvb_host_id *h = who ? &host_b : &host_a;
		nvb_status want = who ? NVB_RESERVATION_CONFLICT : NVB_OK;

		c = rw_cmd(OPC_COMPARE, NS_RAM, 100, 1);
		ck_assert_uint_eq(run_io(h, &c, buf, 512, NULL), want);    /* blocks read zero */
		c = rw_cmd(OPC_WRITE_ZEROES, NS_RAM, 100, 1);
		ck_assert_uint_eq(run_io(h, &c, NULL, 0, NULL), want);
		c = (struct nvb_sqe){ .opcode = OPC_DSM, .nsid = htole32(NS_RAM),
				      .cdw11 = htole32(1u << 2) };
		ck_assert_uint_eq(run_io(h, &c, &range, sizeof(range), NULL), want);
		c = (struct nvb_sqe){ .opcode = OPC_FLUSH, .nsid = htole32(NS_RAM) };
		ck_assert_uint_eq(run_io(h, &c, NULL, 0, NULL), want);
		/* The broadcast Flush belongs to no namespace's reservation. */
		c.nsid = htole32(0xffffffff);
		ck_assert_uint_eq(run_io(h, &c, NULL, 0, NULL), NVB_OK);
	}
	/* Checks before the reservation win: a bad range is a bad range. */
	c = rw_cmd(OPC_READ, NS_RAM, NS_SIZE / 512, 1);
	ck_assert_uint_eq(run_io(&host_b, &c, buf, 512, NULL), NVB_LBA_RANGE);
	ck_assert(NVB_RESERVATION_CONFLICT & NVB_DNR);
	ck_assert_uint_eq(NVB_STATUS_SCT(NVB_RESERVATION_CONFLICT), 0);
	ck_assert_uint_eq(NVB_STATUS_SC(NVB_RESERVATION_CONFLICT), 0x83);
}
END_TEST

START_TEST(no_identity)
{
	uint64_t keys[2] = { 0 };
	struct nvb_sqe c = { .opcode = OPC_RESV_REGISTER, .nsid = htole32(NS_RAM) };
	size_t len;

	/* A front end without identities has no reservations. */
	ck_assert_uint_eq(run_io(NULL, &c, keys, 16, NULL), NVB_INVALID_OPCODE);
	c.opcode = OPC_RESV_REPORT;
	ck_assert_uint_eq(run_io(NULL, &c, keys, 4, NULL), NVB_INVALID_OPCODE);
	/* Too little data, or far too much. The Linux host sends 16 bytes
	 * with Release, nvme-cli 8: both are fine. */
	c.opcode = OPC_RESV_REGISTER;
	ck_assert_uint_eq(run_io(&host_a, &c, keys, 8, NULL), NVB_SGL_INVALID_DATA);
	c.opcode = OPC_RESV_RELEASE;
	ck_assert_uint_eq(run_io(&host_a, &c, keys, 4, NULL), NVB_SGL_INVALID_DATA);
	uint8_t *big = calloc(1, 8192);
	ck_assert_uint_eq(run_io(&host_a, &c, big, 8192, NULL), NVB_SGL_INVALID_DATA);
	free(big);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0), NVB_OK);
	ck_assert_uint_eq(run_io(&host_a, &c, keys, 16, NULL), NVB_OK);
	ck_assert_uint_eq(run_io(&host_a, &c, keys, 8, NULL), NVB_OK);
	/* A fused bit on a reservation command. */
	c.flags = 1;
	ck_assert_uint_eq(run_io(&host_a, &c, keys, 8, NULL), NVB_INVALID_FIELD);
	/* Transports size buffers from nvb_exec_data_len. */
	c = (struct nvb_sqe){ .opcode = OPC_RESV_ACQUIRE, .nsid = htole32(NS_RAM) };
	ck_assert_uint_eq(nvb_exec_data_len(ss, &c, &len), NVB_OK);
	ck_assert_uint_eq(len, 16);
	c.opcode = OPC_RESV_RELEASE;
	ck_assert_uint_eq(nvb_exec_data_len(ss, &c, &len), NVB_OK);
	ck_assert_uint_eq(len, 8);
	c.opcode = OPC_RESV_REPORT;
	c.cdw10 = htole32(1023);
	ck_assert_uint_eq(nvb_exec_data_len(ss, &c, &len), NVB_OK);
	ck_assert_uint_eq(len, 4096);
}
END_TEST

/* ---- Register ---- */

START_TEST(register_flows)
{
	struct report r;

	report(NS_RAM, &r);
	ck_assert_uint_eq(r.gen, 0);
	ck_assert_uint_eq(r.regctl, 0);

	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0x999, 0xa), NVB_OK);
	/* Again with the same key (CRKEY ignored): fine; another key: conflict. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0xa, 0xa2),
			  NVB_RESERVATION_CONFLICT);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.gen, 2);
	ck_assert_uint_eq(r.regctl, 1);
	ck_assert_uint_eq(r.reg[0].rkey, 0xa);
	ck_assert_uint_eq(r.reg[0].cntlid, 1);
	ck_assert_mem_eq(r.reg[0].hostid, host_a.id, 16);

	/* Replace: CRKEY must match unless IEKEY. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REPLACE, 0, PTPL_KEEP, 0xbad, 0xa2),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REPLACE, 0, PTPL_KEEP, 0xa, 0xa2), NVB_OK);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REPLACE, 1, PTPL_KEEP, 0xbad, 0xa3), NVB_OK);
	/* Replace by a non-registrant: conflict, or a registration with IEKEY
	 * (SCSI REGISTER AND IGNORE EXISTING KEY). */
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REPLACE, 0, PTPL_KEEP, 0, 0xb),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REPLACE, 1, PTPL_KEEP, 0, 0xb), NVB_OK);
	/* Unregister: CRKEY must match unless IEKEY; non-registrants conflict. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xa2, 0),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(reg(&host_c, NS_RAM, UNREGISTER, 1, PTPL_KEEP, 0, 0),
			  NVB_RESERVATION_CONFLICT);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_int_ge(report_find(&r, 0xa3), 0);
	ck_assert_int_ge(report_find(&r, 0xb), 0);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xa3, 0), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, UNREGISTER, 1, PTPL_KEEP, 0x777, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.regctl, 0);
	ck_assert_uint_eq(r.gen, 7);    /* successful Registers only */

	/* Bad fields: RREGA 3+, CPTPL 01b. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, 3, 0, PTPL_KEEP, 0, 1), NVB_INVALID_FIELD);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, 7, 0, PTPL_KEEP, 0, 1), NVB_INVALID_FIELD);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, 1, 0, 1), NVB_INVALID_FIELD);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.regctl, 0);
}
END_TEST

START_TEST(registrant_limit)
{
	struct nvb_resv *resv = ns_at(NS_RAM)->resv;
	struct nvb_resv_status st;
	struct nvb_host_id h;
	uint8_t id[16] = { 0x55 };

	for (int i = 0; i < NVB_RESV_MAX_REGISTRANTS; i++) {
		id[1] = (uint8_t)i;
		ck_assert_int_eq(nvb_host_id_nvme(&h, id, 1), 0);
		ck_assert_uint_eq(nvb_resv_register(resv, &h, REGISTER, 0, 0, (uint64_t)i + 1, 0),
				  NVB_OK);
	}
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_CAP_EXCEEDED);
	nvb_resv_read(resv, &st, NULL, 0);
	ck_assert_int_eq(st.nregs, NVB_RESV_MAX_REGISTRANTS);
	/* A full report: header + 128 entries. */
	uint8_t *buf = malloc(64 + 64 * NVB_RESV_MAX_REGISTRANTS);
	ck_assert_uint_eq(report_raw(&host_a, NS_RAM, buf, 64 + 64 * NVB_RESV_MAX_REGISTRANTS,
				     true, NULL), NVB_OK);
	ck_assert_uint_eq(buf[5] | buf[6] << 8, NVB_RESV_MAX_REGISTRANTS);
	free(buf);
	/* Room again after one leaves. */
	ck_assert_uint_eq(nvb_resv_register(resv, &h, UNREGISTER, 1, 0, 0, 0), NVB_OK);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
}
END_TEST

/* ---- Acquire / Release ---- */

START_TEST(acquire_release_flows)
{
	struct report r;

	/* Only registrants with their key acquire. */
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE, 0, 0), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE, 0xb, 0), NVB_RESERVATION_CONFLICT);
	/* Bad type or action. */
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, 0, 0xa, 0), NVB_INVALID_FIELD);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, 7, 0xa, 0), NVB_INVALID_FIELD);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, 3, 0, WE, 0xa, 0), NVB_INVALID_FIELD);

	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 1, WE, 0xbad, 0), NVB_OK);  /* IEKEY */
	/* Acquiring what one holds is fine; another type, or another host: conflict. */
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE, 0xa, 0), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA, 0xa, 0), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(acq(&host_b, NS_RAM, ACQUIRE, 0, WE, 0xb, 0), NVB_RESERVATION_CONFLICT);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.gen, 2);    /* acquire does not bump it */
	ck_assert_uint_eq(r.rtype, WE);

	/* Release: key checked; a non-holder's release does nothing; the
	 * holder must name the type; a bad action is a bad field. */
	ck_assert_uint_eq(rel(&host_c, NS_RAM, RELEASE, 0, WE, 0), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(rel(&host_a, NS_RAM, RELEASE, 0, WE, 0xb), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(rel(&host_b, NS_RAM, RELEASE, 0, WE, 0xb), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, WE);
	ck_assert_uint_eq(rel(&host_a, NS_RAM, RELEASE, 0, EA, 0xa), NVB_INVALID_FIELD);
	ck_assert_uint_eq(rel(&host_a, NS_RAM, 2, 0, WE, 0xa), NVB_INVALID_FIELD);
	ck_assert_uint_eq(rel(&host_a, NS_RAM, RELEASE, 1, WE, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_uint_eq(r.regctl, 2);
	/* Releasing with nothing reserved: fine. */
	ck_assert_uint_eq(rel(&host_a, NS_RAM, RELEASE, 0, WE, 0xa), NVB_OK);
	/* Now B may. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, ACQUIRE, 0, EA_RO, 0xb, 0), NVB_OK);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);
	ck_assert_uint_eq(do_rw(&host_c, NS_RAM, false), NVB_RESERVATION_CONFLICT);
}
END_TEST

START_TEST(unregister_holder)
{
	struct report r;

	/* A single holder unregistering ends the reservation. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA, 0xa, 0), NVB_OK);
	ck_assert_uint_eq(do_rw(&host_b, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xa, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_uint_eq(r.regctl, 1);
	ck_assert_uint_eq(do_rw(&host_b, NS_RAM, true), NVB_OK);

	/* Replacing the key keeps the reservation. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, ACQUIRE, 0, WE, 0xb, 0), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REPLACE, 0, PTPL_KEEP, 0xb, 0xb2), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, WE);
	ck_assert_uint_eq(r.reg[0].rcsts, 1);
	ck_assert_uint_eq(do_rw(&host_b, NS_RAM, true), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xb2, 0), NVB_OK);

	/* All Registrants: the reservation stays while a registrant does. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE_AR, 0xa, 0), NVB_OK);
	/* B holds it too: acquiring the same type is fine. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, ACQUIRE, 0, WE_AR, 0xb, 0), NVB_OK);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xa, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, WE_AR);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_b, NS_RAM, true), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xb, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);
}
END_TEST

/* ---- notifications ---- */

#define MAX_NOTICES 32
static struct {
	struct nvb_host_id host;
	enum nvb_resv_event event;
	bool abort;
	struct nvb_ns *ns;
} notices[MAX_NOTICES];
static int nnotices;

static void record_notice(struct nvb_resv_listener *l, const struct nvb_resv_notice *n)
{
	ck_assert_int_lt(nnotices, MAX_NOTICES);
	notices[nnotices].host = *n->host;
	notices[nnotices].event = n->event;
	notices[nnotices].abort = n->abort;
	notices[nnotices].ns = n->ns;
	nnotices++;
}

static struct nvb_resv_listener listener = { .fn = record_notice };

/* How many notices of event ev went to h (abort: only those with it). */
static int notices_for(const struct nvb_host_id *h, enum nvb_resv_event ev, bool abort)
{
	int n = 0;

	for (int i = 0; i < nnotices; i++)
		if (nvb_host_id_equal(&notices[i].host, h) && notices[i].event == ev &&
		    (!abort || notices[i].abort))
			n++;
	return n;
}

/* ---- Preempt ---- */

START_TEST(preempt_flows)
{
	struct report r;

	nnotices = 0;
	nvb_resv_listen(&listener);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(reg(&host_c, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xc), NVB_OK);
	ck_assert_uint_eq(reg(&iscsi_1, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xc), NVB_OK);

	/* Nothing reserved: preempt removes the registrants with PRKEY. */
	ck_assert_uint_eq(acq(&host_a, NS_RAM, PREEMPT, 0, WE, 0xa, 0x404),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, PREEMPT, 0, WE, 0xa, 0xc), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_int_eq(notices_for(&host_c, NVB_RESV_EV_REGISTRATION_PREEMPTED, false), 1);
	ck_assert_int_eq(notices_for(&iscsi_1, NVB_RESV_EV_REGISTRATION_PREEMPTED, false), 1);
	ck_assert_ptr_eq(notices[0].ns, ns_at(NS_RAM));

	/* A holds WE-RO; C registers again. B preempts A's key with EA:
	 * A is gone, B holds EA, C is told the reservation type changed. */
	ck_assert_uint_eq(reg(&host_c, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xc), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE_RO, 0xa, 0), NVB_OK);
	nnotices = 0;
	ck_assert_uint_eq(acq(&host_b, NS_RAM, PREEMPT_ABORT, 0, EA, 0xb, 0xa), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, EA);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_int_lt(report_find(&r, 0xa), 0);
	ck_assert_uint_eq(r.reg[report_find(&r, 0xb)].rcsts, 1);
	ck_assert_int_eq(notices_for(&host_a, NVB_RESV_EV_REGISTRATION_PREEMPTED, true), 1);
	ck_assert_int_eq(notices_for(&host_c, NVB_RESV_EV_RESERVATION_RELEASED, false), 1);
	ck_assert_int_eq(notices_for(&host_b, NVB_RESV_EV_RESERVATION_RELEASED, false), 0);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_b, NS_RAM, true), NVB_OK);

	/* PRKEY not the holder's and not 0: those registrants go, the
	 * reservation stays. PRKEY 0 for a single-holder type: bad field.
	 * A key nobody has: conflict. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_c, NS_RAM, PREEMPT, 0, EA, 0xc, 0), NVB_INVALID_FIELD);
	ck_assert_uint_eq(acq(&host_c, NS_RAM, PREEMPT, 0, EA, 0xc, 0x404),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(acq(&host_c, NS_RAM, PREEMPT, 0, WE, 0xc, 0xa), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, EA);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_uint_eq(r.reg[report_find(&r, 0xb)].rcsts, 1);
	/* Preempting with one's own key does not remove oneself... */
	ck_assert_uint_eq(acq(&host_c, NS_RAM, PREEMPT, 0, WE, 0xc, 0xc), NVB_OK);
	/* ...and the holder may preempt itself to change the type. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, PREEMPT, 0, WE, 0xb, 0xb), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, WE);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_uint_eq(r.reg[report_find(&r, 0xb)].rcsts, 1);
	/* Non-registrants and wrong keys cannot preempt. */
	ck_assert_uint_eq(acq(&host_a, NS_RAM, PREEMPT, 0, WE, 0xa, 0xb), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(acq(&host_c, NS_RAM, PREEMPT, 0, WE, 0xb, 0xb), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(r.gen, 11);
	nvb_resv_unlisten(&listener);
}
END_TEST

START_TEST(preempt_all_registrants)
{
	struct report r;

	nnotices = 0;
	nvb_resv_listen(&listener);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(reg(&host_c, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xc), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA_AR, 0xa, 0), NVB_OK);

	/* A nonzero PRKEY removes those registrants; the reservation stays. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, PREEMPT, 0, EA_AR, 0xb, 0xc), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, EA_AR);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_uint_eq(do_rw(&host_c, NS_RAM, false), NVB_RESERVATION_CONFLICT);

	/* PRKEY 0: everybody else goes, the preempter holds the new type. */
	ck_assert_uint_eq(acq(&host_b, NS_RAM, PREEMPT, 0, WE, 0xb, 0), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, WE);
	ck_assert_uint_eq(r.regctl, 1);
	ck_assert_uint_eq(r.reg[0].rkey, 0xb);
	ck_assert_uint_eq(r.reg[0].rcsts, 1);
	ck_assert_int_eq(notices_for(&host_a, NVB_RESV_EV_REGISTRATION_PREEMPTED, false), 1);
	ck_assert_int_eq(notices_for(&host_c, NVB_RESV_EV_REGISTRATION_PREEMPTED, false), 1);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, false), NVB_OK);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_RESERVATION_CONFLICT);

	/* Releasing an All Registrants reservation tells the others. */
	ck_assert_uint_eq(rel(&host_b, NS_RAM, RELEASE, 0, WE, 0xb), NVB_OK);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE_AR, 0xa, 0), NVB_OK);
	nnotices = 0;
	ck_assert_uint_eq(rel(&host_b, NS_RAM, RELEASE, 0, WE_AR, 0xb), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_int_eq(notices_for(&host_a, NVB_RESV_EV_RESERVATION_RELEASED, false), 1);
	ck_assert_int_eq(notices_for(&host_b, NVB_RESV_EV_RESERVATION_RELEASED, false), 0);
	nvb_resv_unlisten(&listener);
}
END_TEST

START_TEST(clear_flow)
{
	struct report r;
	uint32_t changes = nvb_resv_change_count(ns_at(NS_RAM)->resv);

	nnotices = 0;
	nvb_resv_listen(&listener);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xb), NVB_OK);
	ck_assert_uint_eq(reg(&host_c, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xc), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA, 0xa, 0), NVB_OK);
	ck_assert_uint_eq(rel(&host_b, NS_RAM, CLEAR, 0, 0, 0xa), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(rel(&host_b, NS_RAM, CLEAR, 0, 0, 0xb), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.rtype, 0);
	ck_assert_uint_eq(r.regctl, 0);
	ck_assert_uint_eq(r.gen, 4);
	ck_assert_int_eq(notices_for(&host_a, NVB_RESV_EV_RESERVATION_PREEMPTED, false), 1);
	ck_assert_int_eq(notices_for(&host_c, NVB_RESV_EV_RESERVATION_PREEMPTED, false), 1);
	ck_assert_int_eq(notices_for(&host_b, NVB_RESV_EV_RESERVATION_PREEMPTED, false), 0);
	ck_assert_uint_eq(do_rw(&host_c, NS_RAM, true), NVB_OK);
	/* Clearing needs a registration. */
	ck_assert_uint_eq(rel(&host_b, NS_RAM, CLEAR, 1, 0, 0), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_ge(nvb_resv_change_count(ns_at(NS_RAM)->resv), changes + 5);
	nvb_resv_unlisten(&listener);
}
END_TEST

/* ---- Report ---- */

START_TEST(report_format)
{
	uint8_t buf[256];
	struct report r;
	size_t xfer;

	ck_assert_uint_eq(reg(&host_b, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0x0102030405060708ull),
			  NVB_OK);
	ck_assert_uint_eq(reg(&iscsi_1, NS_RAM, REGISTER, 0, PTPL_ON, 0, 0x11), NVB_OK);
	ck_assert_uint_eq(acq(&host_b, NS_RAM, ACQUIRE, 0, WE_RO, 0x0102030405060708ull, 0),
			  NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.gen, 2);
	ck_assert_uint_eq(r.rtype, WE_RO);
	ck_assert_uint_eq(r.regctl, 2);
	ck_assert_uint_eq(r.ptpls, 1);
	int b = report_find(&r, 0x0102030405060708ull), i = report_find(&r, 0x11);
	ck_assert_uint_eq(r.reg[b].cntlid, 2);
	ck_assert_uint_eq(r.reg[b].rcsts, 1);
	ck_assert_mem_eq(r.reg[b].hostid, host_b.id, 16);
	/* An iSCSI registrant: no controller, no NVMe Host Identifier. */
	ck_assert_uint_eq(r.reg[i].cntlid, 0xffff);
	ck_assert_uint_eq(r.reg[i].rcsts, 0);
	static const uint8_t zero[16];
	ck_assert_mem_eq(r.reg[i].hostid, zero, 16);

	/* The 64-bit host identifier format does not exist on fabrics. */
	ck_assert_uint_eq(report_raw(&host_a, NS_RAM, buf, sizeof(buf), false, NULL),
			  NVB_HOSTID_FORMAT);
	/* A short buffer gets the structure's beginning. */
	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(report_raw(&host_a, NS_RAM, buf, 80, true, &xfer), NVB_OK);
	ck_assert_uint_eq(xfer, 80);
	ck_assert_uint_eq(buf[4], WE_RO);
	ck_assert_uint_eq(buf[80], 0xee);
	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(report_raw(&host_a, NS_RAM, buf, 4, true, &xfer), NVB_OK);
	ck_assert_uint_eq(buf[0], 2);
	ck_assert_uint_eq(buf[4], 0xee);
}
END_TEST

/* ---- iSCSI identities on the same state ---- */

START_TEST(cross_protocol)
{
	struct nvb_resv *resv = ns_at(NS_RAM)->resv;
	struct nvb_resv_status st;
	struct nvb_resv_reg regs[4];
	uint64_t key;

	/* SPC-5 REGISTER: an unregistered nexus must give key 0; SA key 0
	 * from it is a no-op; APTPL sets PTPL. */
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_1, false, 5, 0x11, false),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_1, false, 0, 0, false), NVB_OK);
	ck_assert(!nvb_resv_key_of(resv, &iscsi_1, NULL));
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_1, false, 0, 0x11, true), NVB_OK);
	ck_assert(nvb_resv_ptpl(resv));
	ck_assert(nvb_resv_key_of(resv, &iscsi_1, &key));
	ck_assert_uint_eq(key, 0x11);
	/* Registered: RESERVATION KEY must match, then the key is replaced. */
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_1, false, 0x99, 0x12, true),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_1, false, 0x11, 0x12, false), NVB_OK);
	ck_assert(!nvb_resv_ptpl(resv));
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_2, true, 0x99, 0x22, false), NVB_OK);

	/* PERSISTENT RESERVE OUT RESERVE (SCSI type 1 = WE) from iSCSI, as
	 * the SCSI layer translates it: blocks NVMe writes, not reads. */
	ck_assert_uint_eq(acq(&iscsi_1, NS_RAM, ACQUIRE, 0, nvb_resv_type_from_scsi(1), 0x12, 0),
			  NVB_OK);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, false), NVB_OK);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&iscsi_2, NS_RAM, true), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&iscsi_1, NS_RAM, true), NVB_OK);

	/* An NVMe host preempts the iSCSI holder (both keyed alike is fine). */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, PREEMPT, 0, EA, 0xa, 0x12), NVB_OK);
	ck_assert_uint_eq(do_rw(&iscsi_1, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);
	nvb_resv_read(resv, &st, regs, 4);
	ck_assert_uint_eq(st.rtype, EA);
	ck_assert_int_eq(st.nregs, 2);
	ck_assert_uint_eq(st.gen, 5);
	for (int i = 0; i < 2; i++) {
		if (regs[i].key == 0xa) {
			ck_assert(regs[i].holder);
			ck_assert(nvb_host_id_equal(&regs[i].host, &host_a));
		} else {
			ck_assert_uint_eq(regs[i].key, 0x22);
			ck_assert(!regs[i].holder);
			ck_assert(nvb_host_id_equal(&regs[i].host, &iscsi_2));
		}
	}
	/* REGISTER AND IGNORE with key 0 unregisters. */
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_2, true, 0, 0, false), NVB_OK);
	ck_assert(!nvb_resv_key_of(resv, &iscsi_2, NULL));
}
END_TEST

START_TEST(legacy_reserve)
{
	struct nvb_resv *resv = ns_at(NS_RAM)->resv;

	/* RESERVE(6) conflicts while persistent registrations exist. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_1), NVB_RESERVATION_CONFLICT);
	/* RELEASE(6) then is GOOD and does nothing. */
	nvb_resv_legacy_release(resv, &iscsi_1);
	ck_assert_uint_eq(reg(&host_a, NS_RAM, UNREGISTER, 0, PTPL_KEEP, 0xa, 0), NVB_OK);

	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, NULL), NVB_INVALID_FIELD);
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_1), NVB_OK);
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_1), NVB_OK);     /* again */
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_2), NVB_RESERVATION_CONFLICT);
	/* Everyone else is shut out, on both protocols, reads too. */
	ck_assert_uint_eq(do_rw(&iscsi_1, NS_RAM, true), NVB_OK);
	ck_assert_uint_eq(do_rw(&iscsi_2, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(NULL, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	/* Persistent reservation commands from others conflict too. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa),
			  NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(nvb_resv_scsi_register(resv, &iscsi_2, false, 0, 0x2, false),
			  NVB_RESERVATION_CONFLICT);
	/* Another nexus's RELEASE: no effect. */
	nvb_resv_legacy_release(resv, &iscsi_2);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, false), NVB_RESERVATION_CONFLICT);
	/* The holder's nexus goes away: released. */
	nvb_resv_legacy_drop(resv, &iscsi_1);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);

	/* A LUN reset (host NULL) drops it whoever holds it; RELEASE by the holder too. */
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_2), NVB_OK);
	nvb_resv_legacy_drop(resv, NULL);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);
	ck_assert_uint_eq(nvb_resv_legacy_reserve(resv, &iscsi_2), NVB_OK);
	nvb_resv_legacy_release(resv, &iscsi_2);
	ck_assert_uint_eq(do_rw(&host_a, NS_RAM, true), NVB_OK);
}
END_TEST

/* ---- persistence ---- */

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void recreate(uint32_t nsid)
{
	ns_unpublish(nsid);
	ns_publish(nsid);
}

START_TEST(persist_ptpl_on)
{
	char path[160], img[128];
	struct report before, after;

	ns_path(NS_FILE, img, sizeof(img));
	snprintf(path, sizeof(path), "%s.resv", img);
	ck_assert_uint_eq(reg(&host_a, NS_FILE, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert(!file_exists(path));                  /* PTPL off: nothing written */
	ck_assert_uint_eq(reg(&host_b, NS_FILE, REGISTER, 0, PTPL_ON, 0, 0xb), NVB_OK);
	ck_assert(file_exists(path));
	ck_assert_uint_eq(reg(&iscsi_1, NS_FILE, REGISTER, 0, PTPL_KEEP, 0, 0x1), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_FILE, ACQUIRE, 0, EA_RO, 0xa, 0), NVB_OK);
	report(NS_FILE, &before);
	ck_assert_uint_eq(before.ptpls, 1);

	/* A daemon restart: the namespace is freed and created again. */
	recreate(NS_FILE);
	report(NS_FILE, &after);
	ck_assert_uint_eq(after.gen, before.gen);
	ck_assert_uint_eq(after.rtype, EA_RO);
	ck_assert_uint_eq(after.ptpls, 1);
	ck_assert_uint_eq(after.regctl, 3);
	for (int i = 0; i < 3; i++) {
		int j = report_find(&after, before.reg[i].rkey);

		ck_assert_int_ge(j, 0);
		ck_assert_uint_eq(after.reg[j].rcsts, before.reg[i].rcsts);
		ck_assert_uint_eq(after.reg[j].cntlid, before.reg[i].cntlid);
		ck_assert_mem_eq(after.reg[j].hostid, before.reg[i].hostid, 16);
	}
	/* And it is enforced as before. */
	ck_assert_uint_eq(do_rw(&host_c, NS_FILE, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&iscsi_1, NS_FILE, true), NVB_OK);
	ck_assert_uint_eq(do_rw(&iscsi_2, NS_FILE, false), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_a, NS_FILE, true), NVB_OK);

	/* Later changes are written too: a preempt survives. */
	ck_assert_uint_eq(acq(&host_b, NS_FILE, PREEMPT, 0, WE, 0xb, 0xa), NVB_OK);
	recreate(NS_FILE);
	report(NS_FILE, &after);
	ck_assert_uint_eq(after.rtype, WE);
	ck_assert_uint_eq(after.regctl, 2);
	ck_assert_uint_eq(after.reg[report_find(&after, 0xb)].rcsts, 1);

	/* PTPL off (Set Features 83h, or CPTPL 10b): the file goes, and a
	 * restart forgets everything. */
	nvb_resv_set_ptpl(ns_at(NS_FILE)->resv, false);
	ck_assert_int_eq(nvb_resv_commit_sync(ns_at(NS_FILE)->resv), 0);
	ck_assert(!file_exists(path));
	nvb_resv_set_ptpl(ns_at(NS_FILE)->resv, true);
	ck_assert_int_eq(nvb_resv_commit_sync(ns_at(NS_FILE)->resv), 0);
	ck_assert(file_exists(path));
	ck_assert_uint_eq(reg(&host_b, NS_FILE, REGISTER, 0, PTPL_OFF, 0, 0xb), NVB_OK);
	ck_assert(!file_exists(path));
	recreate(NS_FILE);
	report(NS_FILE, &after);
	ck_assert_uint_eq(after.regctl, 0);
	ck_assert_uint_eq(after.rtype, 0);
	ck_assert_uint_eq(after.ptpls, 0);
	ck_assert_uint_eq(after.gen, 0);
}
END_TEST

START_TEST(persist_ptpl_off_and_ram)
{
	char path[160], img[128];
	struct report r;

	/* PTPL never on: a restart starts empty. */
	ns_path(NS_FILE, img, sizeof(img));
	snprintf(path, sizeof(path), "%s.resv", img);
	ck_assert_uint_eq(reg(&host_a, NS_FILE, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_FILE, ACQUIRE, 0, WE, 0xa, 0), NVB_OK);
	recreate(NS_FILE);
	ck_assert(!file_exists(path));
	report(NS_FILE, &r);
	ck_assert_uint_eq(r.regctl, 0);
	ck_assert_uint_eq(do_rw(&host_b, NS_FILE, true), NVB_OK);

	/* A ram namespace takes PTPL (and reports it), but nothing outlives it. */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_ON, 0, 0xa), NVB_OK);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.ptpls, 1);
	ck_assert(nvb_resv_ptpl(ns_at(NS_RAM)->resv));
	recreate(NS_RAM);
	report(NS_RAM, &r);
	ck_assert_uint_eq(r.regctl, 0);
	ck_assert_uint_eq(r.ptpls, 0);
}
END_TEST

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static size_t read_file(const char *path, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, len);
	close(fd);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(persist_corrupt)
{
	char path[160], img[128], err[1024];
	uint8_t good[4096], bad[4096];
	size_t len;

	ns_path(NS_FILE, img, sizeof(img));
	snprintf(path, sizeof(path), "%s.resv", img);
	ck_assert_uint_eq(reg(&host_a, NS_FILE, REGISTER, 0, PTPL_ON, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_FILE, ACQUIRE, 0, WE, 0xa, 0), NVB_OK);
	len = read_file(path, good, sizeof(good));
	ns_unpublish(NS_FILE);

	/* Every single-byte change, truncation or garbage is refused with a
	 * reason; nothing crashes or leaks. */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, good, len);
		bad[i] ^= 0x41;
		write_file(path, bad, len);
		ck_assert_ptr_null(ns_try_create(NS_FILE, err, sizeof(err)));
		ck_assert_ptr_nonnull(strstr(err, "namespace 2: reservation state "));
		ck_assert_ptr_nonnull(strstr(err, "is corrupt"));
	}
	for (size_t n = 0; n < len; n += 7) {
		write_file(path, good, n);
		ck_assert_ptr_null(ns_try_create(NS_FILE, err, sizeof(err)));
	}
	memset(bad, 0x5a, sizeof(bad));
	write_file(path, bad, sizeof(bad));
	ck_assert_ptr_null(ns_try_create(NS_FILE, err, sizeof(err)));
	/* An unreadable one (a directory). */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_ptr_null(ns_try_create(NS_FILE, err, sizeof(err)));
	rmdir(path);
	/* The good file again: back as it was. */
	write_file(path, good, len);
	ns_publish(NS_FILE);
	ck_assert_uint_eq(do_rw(&host_b, NS_FILE, true), NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(do_rw(&host_a, NS_FILE, true), NVB_OK);
}
END_TEST

/* ---- fused Compare and Write ---- */

struct fused_wait {
	struct waiter first, second;
};

static void fused_submit(struct fused_wait *f, uint32_t nsid, uint64_t slba, uint32_t nlb,
			 void *cmp, void *data, const struct nvb_host_id *h)
{
	struct nvb_sqe c = rw_cmd(OPC_COMPARE, nsid, slba, nlb), w = rw_cmd(OPC_WRITE, nsid, slba, nlb);
	size_t len = nlb * lba_size(nsid);

	c.flags = 1;
	w.flags = 2;
	waiter_init(&f->first, h, &c, cmp, len);
	waiter_init(&f->second, h, &w, data, len);
	nvb_exec_fused(&f->first.io, &f->second.io);
}

static void fused_wait_done(struct fused_wait *f)
{
	wait_for(&f->second.done, 1);
	ck_assert_int_eq(f->first.done, 1);
	ck_assert_ptr_null(f->first.io.ns);
	ck_assert_ptr_null(f->second.io.ns);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 29 + i * 7 + (i >> 9));
}

static void write_blocks(uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf)
{
	struct nvb_sqe c = rw_cmd(OPC_WRITE, nsid, slba, nlb);

	ck_assert_uint_eq(run_io(NULL, &c, (void *)buf, nlb * lba_size(nsid), NULL), NVB_OK);
}

static void read_blocks(uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf)
{
	struct nvb_sqe c = rw_cmd(OPC_READ, nsid, slba, nlb);

	ck_assert_uint_eq(run_io(NULL, &c, buf, nlb * lba_size(nsid), NULL), NVB_OK);
}

START_TEST(fused_compare_and_write)
{
	uint32_t nsid = _i ? NS_FILE : NS_RAM, nlb = 4;
	size_t len = nlb * lba_size(nsid);
	uint8_t *old = malloc(len), *new = malloc(len), *got = malloc(len);
	struct fused_wait f;

	fill(old, len, 1);
	fill(new, len, 2);
	write_blocks(nsid, 40, nlb, old);

	/* Equal: written. */
	fused_submit(&f, nsid, 40, nlb, old, new, &host_a);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_OK);
	ck_assert_uint_eq(f.second.status, NVB_OK);
	read_blocks(nsid, 40, nlb, got);
	ck_assert_mem_eq(got, new, len);

	/* Different (last byte): nothing written, Compare Failure + Failed Fused. */
	fill(got, len, 3);
	fused_submit(&f, nsid, 40, nlb, old, got, &host_a);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_COMPARE_FAILED);
	ck_assert_uint_eq(f.second.status, NVB_FUSED_FAIL);
	ck_assert_uint_eq(NVB_STATUS_SC(NVB_FUSED_FAIL), 0x09);
	ck_assert_uint_eq(f.first.io.xfer_len, 0);     /* differs from the first byte */
	new[len - 1] ^= 1;
	fused_submit(&f, nsid, 40, nlb, new, old, &host_a);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_COMPARE_FAILED);
	ck_assert_uint_eq(f.first.io.xfer_len, len - 1);   /* the MISCOMPARE offset */
	new[len - 1] ^= 1;
	read_blocks(nsid, 40, nlb, got);
	ck_assert_mem_eq(got, new, len);
	free(old);
	free(new);
	free(got);
}
END_TEST

START_TEST(fused_errors)
{
	uint8_t a[1024] = { 0 }, b[1024] = { 0 };
	struct fused_wait f;
	struct nvb_sqe c = rw_cmd(OPC_COMPARE, NS_RAM, 0, 2), w = rw_cmd(OPC_WRITE, NS_RAM, 0, 2);

	/* Ranges differ: the first gets Invalid Field, the second Failed Fused. */
	c.flags = 1;
	w = rw_cmd(OPC_WRITE, NS_RAM, 1, 2);
	w.flags = 2;
	waiter_init(&f.first, NULL, &c, a, 1024);
	waiter_init(&f.second, NULL, &w, b, 1024);
	nvb_exec_fused(&f.first.io, &f.second.io);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_INVALID_FIELD);
	ck_assert_uint_eq(f.second.status, NVB_FUSED_FAIL);

	/* Wrong FUSE bits on either. */
	w = rw_cmd(OPC_WRITE, NS_RAM, 0, 2);
	waiter_init(&f.first, NULL, &c, a, 1024);
	waiter_init(&f.second, NULL, &w, b, 1024);
	nvb_exec_fused(&f.first.io, &f.second.io);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_FUSED_FAIL);
	ck_assert_uint_eq(f.second.status, NVB_INVALID_FIELD);

	/* Opcodes swapped. */
	w.flags = 2;
	waiter_init(&f.first, NULL, &w, b, 1024);
	waiter_init(&f.second, NULL, &c, a, 1024);
	nvb_exec_fused(&f.first.io, &f.second.io);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_INVALID_FIELD);

	/* Out of range, short data, missing namespace. */
	fused_submit(&f, NS_RAM, NS_SIZE / 512 - 1, 2, a, b, NULL);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_LBA_RANGE);
	ck_assert_uint_eq(f.second.status, NVB_FUSED_FAIL);
	fused_submit(&f, 7, 0, 1, a, b, NULL);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_INVALID_NS);
	ck_assert_uint_eq(f.second.status, NVB_FUSED_FAIL);
	c = rw_cmd(OPC_COMPARE, NS_RAM, 0, 2);
	c.flags = 1;
	w = rw_cmd(OPC_WRITE, NS_RAM, 0, 2);
	w.flags = 2;
	waiter_init(&f.first, NULL, &c, a, 1024);
	waiter_init(&f.second, NULL, &w, b, 512);
	nvb_exec_fused(&f.first.io, &f.second.io);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_FUSED_FAIL);
	ck_assert_uint_eq(f.second.status, NVB_SGL_INVALID_DATA);

	/* Reservations: reading allowed, writing not (WE held by A). */
	ck_assert_uint_eq(reg(&host_a, NS_RAM, REGISTER, 0, PTPL_KEEP, 0, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, WE, 0xa, 0), NVB_OK);
	read_blocks(NS_RAM, 0, 2, a);
	fused_submit(&f, NS_RAM, 0, 2, a, b, &host_b);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_FUSED_FAIL);
	ck_assert_uint_eq(f.second.status, NVB_RESERVATION_CONFLICT);
	fused_submit(&f, NS_RAM, 0, 2, a, b, &host_a);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_OK);
	ck_assert_uint_eq(f.second.status, NVB_OK);
	/* Exclusive Access: the compare (a read) conflicts first. */
	ck_assert_uint_eq(rel(&host_a, NS_RAM, RELEASE, 0, WE, 0xa), NVB_OK);
	ck_assert_uint_eq(acq(&host_a, NS_RAM, ACQUIRE, 0, EA, 0xa, 0), NVB_OK);
	fused_submit(&f, NS_RAM, 0, 2, b, a, &host_b);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_RESERVATION_CONFLICT);
	ck_assert_uint_eq(f.second.status, NVB_FUSED_FAIL);

	/* A plain command with FUSE bits is refused by nvb_exec_io. */
	ck_assert_uint_eq(run_io(NULL, &c, a, 1024, NULL), NVB_INVALID_FIELD);
}
END_TEST

/*
 * ---- an instrumented backend ----
 *
 * Wraps a namespace's backend and watches every bio: a plain write must
 * never be in flight over a range while a fused pair on an overlapping
 * range is between the submission of its compare read and the completion
 * of its write (or the compare's completion when it miscompares), and two
 * such pairs never overlap. It can also hold bios of one class to make
 * orderings deterministic.
 */
enum bio_class { BIO_OTHER, BIO_PLAIN_WRITE, BIO_FUSED_COMPARE, BIO_FUSED_WRITE };

#define TRACK_SLOTS 64

/* A byte range in use: a plain write bio, or a fused pair's span. */
struct track_range {
	const void *owner;              /* the bio, or the pair's first io; NULL: free */
	uint64_t lo, hi;                /* [lo, hi) */
};

struct track {
	struct nvb_backend be;
	struct nvb_backend *inner;
	pthread_mutex_t lock;
	struct {
		struct nvb_bio *bio;
		nvb_bio_done done;
	} fly[TRACK_SLOTS];
	struct track_range plain[TRACK_SLOTS], spans[TRACK_SLOTS];
	enum bio_class hold;            /* BIO_OTHER: hold nothing */
	struct nvb_bio *held[16];
	int nheld;
	int plain_inflight, fused_span;
	int violations;
	long plain_writes, fused_compares, fused_writes;
};

static bool track_overlaps(const struct track_range *set, uint64_t lo, uint64_t hi,
			   const void *except)
{
	for (int i = 0; i < TRACK_SLOTS; i++)
		if (set[i].owner && set[i].owner != except && set[i].lo < hi && lo < set[i].hi)
			return true;
	return false;
}

static void track_add(struct track_range *set, const void *owner, uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < TRACK_SLOTS; i++) {
		if (!set[i].owner) {
			set[i] = (struct track_range){ owner, lo, hi };
			return;
		}
	}
	ck_abort_msg("track: too many ranges");
}

static void track_del(struct track_range *set, const void *owner)
{
	for (int i = 0; i < TRACK_SLOTS; i++) {
		if (set[i].owner == owner) {
			set[i].owner = NULL;
			return;
		}
	}
	ck_abort_msg("track: range not found");
}

/* The pair a fused bio belongs to: its first command. */
static const void *pair_of(struct nvb_bio *bio)
{
	const struct nvb_io *io = container_of(bio, struct nvb_io, bio);

	return (io->cmd.flags & 3) == 1 ? (const void *)io : (const void *)io->peer;
}

static enum bio_class classify(struct nvb_bio *bio)
{
	const struct nvb_io *io = container_of(bio, struct nvb_io, bio);
	unsigned fuse = io->cmd.flags & 3;

	if (bio->op == NVB_BIO_READ && io->cmd.opcode == OPC_COMPARE && fuse == 1)
		return BIO_FUSED_COMPARE;
	if (bio->op == NVB_BIO_WRITE && fuse == 2)
		return BIO_FUSED_WRITE;
	if (bio->op == NVB_BIO_WRITE)
		return BIO_PLAIN_WRITE;
	return BIO_OTHER;
}

/* Would the executor write after this compare read? (Same test it makes.) */
static bool compare_equal(struct nvb_bio *bio, int err)
{
	const struct nvb_io *io = container_of(bio, struct nvb_io, bio);
	size_t off = 0;

	if (err)
		return false;
	for (int i = 0; i < io->iovcnt; i++) {
		if (memcmp((uint8_t *)bio->iov[0].iov_base + off, io->iov[i].iov_base,
			   io->iov[i].iov_len) != 0)
			return false;
		off += io->iov[i].iov_len;
	}
	return true;
}

static struct track *tracked;   /* one at a time */

static void track_bio_done(struct nvb_bio *bio, int err)
{
	struct track *t = tracked;
	nvb_bio_done orig = NULL;

	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < TRACK_SLOTS; i++) {
		if (t->fly[i].bio == bio) {
			orig = t->fly[i].done;
			t->fly[i].bio = NULL;
			break;
		}
	}
	switch (classify(bio)) {
	case BIO_PLAIN_WRITE:
		t->plain_inflight--;
		track_del(t->plain, bio);
		break;
	case BIO_FUSED_WRITE:
		t->fused_span--;
		track_del(t->spans, pair_of(bio));
		break;
	case BIO_FUSED_COMPARE:
		if (!compare_equal(bio, err)) {
			t->fused_span--;
			track_del(t->spans, pair_of(bio));
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&t->lock);
	ck_assert_ptr_nonnull(orig);
	bio->done = orig;
	orig(bio, err);
}

static void track_submit(struct nvb_backend *be, struct nvb_bio *bio)
{
	struct track *t = container_of(be, struct track, be);
	enum bio_class cls = classify(bio);
	uint64_t lo = bio->offset, hi = bio->offset + bio->len;
	bool hold;
	int i;

	pthread_mutex_lock(&t->lock);
	switch (cls) {
	case BIO_PLAIN_WRITE:
		t->violations += track_overlaps(t->spans, lo, hi, NULL);
		track_add(t->plain, bio, lo, hi);
		t->plain_inflight++;
		t->plain_writes++;
		break;
	case BIO_FUSED_COMPARE:
		t->violations += track_overlaps(t->plain, lo, hi, NULL) ||
				 track_overlaps(t->spans, lo, hi, NULL);
		track_add(t->spans, pair_of(bio), lo, hi);
		t->fused_span++;
		t->fused_compares++;
		break;
	case BIO_FUSED_WRITE:
		t->violations += track_overlaps(t->plain, lo, hi, NULL) ||
				 track_overlaps(t->spans, lo, hi, pair_of(bio)) ||
				 !track_overlaps(t->spans, lo, hi, NULL);
		t->fused_writes++;
		break;
	default:
		break;
	}
	for (i = 0; i < TRACK_SLOTS && t->fly[i].bio; i++)
		;
	if (i == TRACK_SLOTS) {
		pthread_mutex_unlock(&t->lock);
		ck_abort_msg("more than %d bios in flight", TRACK_SLOTS);
		return;
	}
	t->fly[i].bio = bio;
	t->fly[i].done = bio->done;
	bio->done = track_bio_done;
	hold = cls != BIO_OTHER && cls == t->hold;
	if (hold) {
		ck_assert_int_lt(t->nheld, 16);
		t->held[t->nheld++] = bio;
	}
	pthread_mutex_unlock(&t->lock);
	if (!hold)
		t->inner->ops->submit(t->inner, bio);
}

static void track_release_held(struct track *t)
{
	struct nvb_bio *held[16];
	int n;

	pthread_mutex_lock(&t->lock);
	n = t->nheld;
	memcpy(held, t->held, sizeof(held));
	t->nheld = 0;
	t->hold = BIO_OTHER;
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n; i++)
		t->inner->ops->submit(t->inner, held[i]);
}

static void track_close(struct nvb_backend *be)
{
	struct track *t = container_of(be, struct track, be);

	t->inner->ops->close(t->inner);
	pthread_mutex_destroy(&t->lock);
	tracked = NULL;
	free(t);
}

static const struct nvb_backend_ops track_ops = {
	.name = "track", .submit = track_submit, .close = track_close,
};

static struct track *track_install(uint32_t nsid)
{
	struct nvb_ns *ns = ns_at(nsid);
	struct track *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->inner = ns->be;
	t->be = (struct nvb_backend){ .ops = &track_ops, .size = ns->be->size,
				      .buf_align = ns->be->buf_align };
	pthread_mutex_init(&t->lock, NULL);
	ns->be = &t->be;
	tracked = t;
	return t;
}

/* Plain writes and fused pairs wait for each other (held bios). */
START_TEST(fused_orders_writes)
{
	uint32_t nsid = _i ? NS_FILE : NS_RAM;
	size_t lba = lba_size(nsid);
	uint8_t *d0 = calloc(8, lba), *d1 = malloc(8 * lba), *d2 = malloc(8 * lba);
	uint8_t *d3 = malloc(lba), *rd = malloc(8 * lba);
	struct track *t = track_install(nsid);
	struct waiter wr, far, rdw;
	struct fused_wait f, g;
	struct nvb_sqe c;

	fill(d1, 8 * lba, 11);
	fill(d2, 8 * lba, 12);
	fill(d3, lba, 13);
	write_blocks(nsid, 0, 8, d0);

	/* 1. A pair holds LBAs 0-7 (its compare read is held). */
	t->hold = BIO_FUSED_COMPARE;
	fused_submit(&f, nsid, 0, 8, d0, d1, NULL);
	nvb_reactor_run_once(reactor, 0);
	ck_assert_int_eq(t->nheld, 1);
	ck_assert_int_eq(f.first.done, 0);
	/* An overlapping write waits, a distant one and a read do not. */
	c = rw_cmd(OPC_WRITE, nsid, 4, 1);
	waiter_init(&wr, NULL, &c, d3, lba);
	nvb_exec_io(&wr.io);
	c = rw_cmd(OPC_WRITE, nsid, 100, 1);
	waiter_init(&far, NULL, &c, d3, lba);
	nvb_exec_io(&far.io);
	wait_for(&far.done, 1);
	ck_assert_uint_eq(far.status, NVB_OK);
	c = rw_cmd(OPC_READ, nsid, 4, 1);
	waiter_init(&rdw, NULL, &c, rd, lba);
	nvb_exec_io(&rdw.io);
	wait_for(&rdw.done, 1);
	/* An overlapping second pair waits too. */
	fused_submit(&g, nsid, 6, 2, d1 + 6 * lba, d2, NULL);
	for (int i = 0; i < 20; i++)
		nvb_reactor_run_once(reactor, 1);
	ck_assert_int_eq(wr.done, 0);
	ck_assert_int_eq(g.first.done, 0);
	ck_assert_int_eq(t->fused_compares, 1);
	ck_assert_int_eq(t->plain_writes, 2);   /* the initial fill and the distant one */
	/* Let the pair go: it writes, then the write, then the second pair
	 * (which compares against the first pair's data). */
	track_release_held(t);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_OK);
	ck_assert_uint_eq(f.second.status, NVB_OK);
	wait_for(&wr.done, 1);
	ck_assert_uint_eq(wr.status, NVB_OK);
	fused_wait_done(&g);
	ck_assert_uint_eq(g.first.status, NVB_OK);
	ck_assert_uint_eq(g.second.status, NVB_OK);
	read_blocks(nsid, 0, 8, rd);
	ck_assert_mem_eq(rd, d1, 4 * lba);
	ck_assert_mem_eq(rd + 4 * lba, d3, lba);
	ck_assert_mem_eq(rd + 5 * lba, d1 + 5 * lba, lba);
	ck_assert_mem_eq(rd + 6 * lba, d2, 2 * lba);

	/* 2. A plain write in flight (held) holds back a pair that arrives. */
	t->hold = BIO_PLAIN_WRITE;
	c = rw_cmd(OPC_WRITE, nsid, 0, 8);
	waiter_init(&wr, NULL, &c, d2, 8 * lba);
	nvb_exec_io(&wr.io);
	ck_assert_int_eq(t->nheld, 1);
	fused_submit(&f, nsid, 0, 8, d2, d1, NULL);
	for (int i = 0; i < 20; i++)
		nvb_reactor_run_once(reactor, 1);
	ck_assert_int_eq(f.first.done, 0);
	ck_assert_int_eq(t->fused_compares, 2);
	/* Deallocate (whole namespace for the gate) waits behind the pair. */
	struct {
		uint32_t cattr, nlb;
		uint64_t slba;
	} __attribute__((packed)) range = { 0, htole32(1), htole64(200) };
	c = (struct nvb_sqe){ .opcode = OPC_DSM, .nsid = htole32(nsid), .cdw11 = htole32(4) };
	waiter_init(&far, NULL, &c, &range, sizeof(range));
	nvb_exec_io(&far.io);
	nvb_reactor_run_once(reactor, 0);
	ck_assert_int_eq(far.done, 0);
	track_release_held(t);
	wait_for(&wr.done, 1);
	fused_wait_done(&f);
	ck_assert_uint_eq(f.first.status, NVB_OK);
	wait_for(&far.done, 1);
	ck_assert_uint_eq(far.status, NVB_OK);
	read_blocks(nsid, 0, 8, rd);
	ck_assert_mem_eq(rd, d1, 8 * lba);
	ck_assert_int_eq(t->violations, 0);
	free(d0);
	free(d1);
	free(d2);
	free(d3);
	free(rd);
}
END_TEST

/*
 * ---- the race: fused pairs against plain writes, two reactor threads ----
 *
 * A region of REGION_BLOCKS blocks holds one 64-bit value repeated. Each
 * reactor runs a worker: read the region; if it reads one value, compare
 * and write it with a value of its own (fused); reactor 0 also writes the
 * region plainly every third step (on one reactor only: two plain writes
 * racing each other may legally mix). The instrumented backend checks the
 * exclusion; a final quiet read checks that the region holds one writer's
 * whole pattern.
 */
#define RACE_STEPS 1500
#define REGION_BYTES 8192

struct worker {
	int id;
	struct nvb_reactor *r;
	uint32_t nsid;
	int left;
	uint64_t seq;
	uint8_t *rbuf, *cbuf, *wbuf;
	struct waiter plain, rd;
	struct fused_wait f;
	int pending;
	long ok, miscompare, torn_reads, plain_writes;
	bool bad;
	atomic_int *finished;
};

static void worker_step(void *arg);

static void region_fill(uint8_t *buf, uint64_t v)
{
	for (size_t i = 0; i < REGION_BYTES; i += 8)
		memcpy(buf + i, &v, 8);
}

/* The value the region holds, or 0 when it is not one value. */
static uint64_t region_value(const uint8_t *buf)
{
	uint64_t v, x;

	memcpy(&v, buf, 8);
	for (size_t i = 8; i < REGION_BYTES; i += 8) {
		memcpy(&x, buf + i, 8);
		if (x != v)
			return 0;
	}
	return v;
}

static void worker_next(struct worker *w)
{
	w->left--;
	nvb_reactor_post(w->r, worker_step, w);
}

static void worker_io_init(struct worker *w, struct waiter *wt, const struct nvb_sqe *c,
			   void *buf, nvb_io_done done)
{
	memset(wt, 0, sizeof(*wt));
	wt->iov = (struct iovec){ buf, REGION_BYTES };
	wt->io = (struct nvb_io){
		.cmd = *c, .subsys = ss, .path_state = NVB_ANA_OPTIMIZED, .iov = &wt->iov,
		.iovcnt = 1, .data_len = REGION_BYTES, .reactor = w->r, .done = done,
	};
}

static void worker_plain_done(struct nvb_io *io, nvb_status st)
{
	struct worker *w = container_of(io, struct worker, plain.io);

	w->bad |= st != NVB_OK;
	w->plain_writes++;
	worker_next(w);
}

static void worker_fused_done(struct worker *w, struct waiter *wt, nvb_status st)
{
	wt->status = st;
	wt->done++;
	if (--w->pending)
		return;
	if (w->f.first.status == NVB_OK && w->f.second.status == NVB_OK)
		w->ok++;
	else if (w->f.first.status == NVB_COMPARE_FAILED && w->f.second.status == NVB_FUSED_FAIL)
		w->miscompare++;
	else
		w->bad = true;
	worker_next(w);
}

static void worker_first_done(struct nvb_io *io, nvb_status st)
{
	struct worker *w = container_of(io, struct worker, f.first.io);

	worker_fused_done(w, &w->f.first, st);
}

static void worker_second_done(struct nvb_io *io, nvb_status st)
{
	struct worker *w = container_of(io, struct worker, f.second.io);

	worker_fused_done(w, &w->f.second, st);
}

static void worker_read_done(struct nvb_io *io, nvb_status st)
{
	struct worker *w = container_of(io, struct worker, rd.io);
	uint32_t nlb = REGION_BYTES / (uint32_t)lba_size(w->nsid);
	struct nvb_sqe c = rw_cmd(OPC_COMPARE, w->nsid, 0, nlb), wr = rw_cmd(OPC_WRITE, w->nsid, 0, nlb);
	uint64_t v = region_value(w->rbuf);

	w->bad |= st != NVB_OK;
	/* A read racing a write may see some of each: legal, retry. */
	if (v == 0) {
		w->torn_reads++;
		worker_next(w);
		return;
	}
	memcpy(w->cbuf, w->rbuf, REGION_BYTES);
	region_fill(w->wbuf, (uint64_t)w->id << 56 | ++w->seq);
	c.flags = 1;
	wr.flags = 2;
	worker_io_init(w, &w->f.first, &c, w->cbuf, worker_first_done);
	worker_io_init(w, &w->f.second, &wr, w->wbuf, worker_second_done);
	w->pending = 2;
	nvb_exec_fused(&w->f.first.io, &w->f.second.io);
}

static void worker_step(void *arg)
{
	struct worker *w = arg;
	uint32_t nlb = REGION_BYTES / (uint32_t)lba_size(w->nsid);
	struct nvb_sqe c;

	if (w->left == 0) {
		atomic_fetch_add(w->finished, 1);
		return;
	}
	if (w->id == 1 && w->left % 3 == 0) {
		c = rw_cmd(OPC_WRITE, w->nsid, 0, nlb);
		region_fill(w->wbuf, (uint64_t)0xff << 56 | ++w->seq);
		worker_io_init(w, &w->plain, &c, w->wbuf, worker_plain_done);
		nvb_exec_io(&w->plain.io);
		return;
	}
	c = rw_cmd(OPC_READ, w->nsid, 0, nlb);
	worker_io_init(w, &w->rd, &c, w->rbuf, worker_read_done);
	nvb_exec_io(&w->rd.io);
}

START_TEST(fused_race)
{
	uint32_t nsid = _i ? NS_FILE : NS_RAM;
	struct track *t = track_install(nsid);
	static struct worker workers[2];
	atomic_int finished = 0;
	uint8_t *buf = malloc(REGION_BYTES);
	uint64_t t0, v;

	region_fill(buf, 1);
	write_blocks(nsid, 0, REGION_BYTES / (uint32_t)lba_size(nsid), buf);
	ck_assert_int_eq(nvb_reactors_start(2), 0);
	for (int i = 0; i < 2; i++) {
		workers[i] = (struct worker){
			.id = i + 1, .r = nvb_reactor_at(i), .nsid = nsid, .left = RACE_STEPS,
			.rbuf = malloc(REGION_BYTES), .cbuf = malloc(REGION_BYTES),
			.wbuf = malloc(REGION_BYTES), .finished = &finished,
		};
		nvb_reactor_post(workers[i].r, worker_step, &workers[i]);
	}
	t0 = nvb_now_ms();
	while (atomic_load(&finished) < 2 && nvb_now_ms() - t0 < 60000)
		usleep(2000);
	nvb_reactors_stop();
	ck_assert_int_eq(atomic_load(&finished), 2);

	long ok = 0, mis = 0, plain = 0;
	for (int i = 0; i < 2; i++) {
		ck_assert(!workers[i].bad);
		ok += workers[i].ok;
		mis += workers[i].miscompare;
		plain += workers[i].plain_writes;
		free(workers[i].rbuf);
		free(workers[i].cbuf);
		free(workers[i].wbuf);
	}
	/* Both sides really ran, and against each other. */
	ck_assert_int_gt(ok, 50);
	ck_assert_int_eq(plain, RACE_STEPS / 3);
	ck_assert_int_eq(t->fused_compares, ok + mis);
	ck_assert_int_eq(t->fused_writes, ok);
	ck_assert_int_eq(t->violations, 0);
	ck_assert_int_eq(t->plain_inflight, 0);
	ck_assert_int_eq(t->fused_span, 0);

	/* Quiet now: one writer's whole pattern, from a writer that exists. */
	read_blocks(nsid, 0, REGION_BYTES / (uint32_t)lba_size(nsid), buf);
	v = region_value(buf);
	ck_assert_uint_ne(v, 0);
	ck_assert(v >> 56 == 1 || v >> 56 == 2 || v >> 56 == 0xff || v == 1);
	free(buf);
	ck_assert_int_eq(atomic_load(&ns_at(nsid)->refs), 1);
}
END_TEST

static Suite *resv_suite(void)
{
	Suite *s = suite_create("reservations");
	TCase *model = tcase_create("model");
	TCase *persist = tcase_create("persistence");
	TCase *fused = tcase_create("fused");

	tcase_add_checked_fixture(model, setup, teardown);
	tcase_set_timeout(model, 60);
	tcase_add_test(model, host_identity);
	tcase_add_test(model, type_mapping);
	tcase_add_loop_test(model, access_matrix, WE, EA_AR + 1);
	tcase_add_test(model, access_by_command);
	tcase_add_test(model, no_identity);
	tcase_add_test(model, register_flows);
	tcase_add_test(model, registrant_limit);
	tcase_add_test(model, acquire_release_flows);
	tcase_add_test(model, unregister_holder);
	tcase_add_test(model, preempt_flows);
	tcase_add_test(model, preempt_all_registrants);
	tcase_add_test(model, clear_flow);
	tcase_add_test(model, report_format);
	tcase_add_test(model, cross_protocol);
	tcase_add_test(model, legacy_reserve);
	suite_add_tcase(s, model);

	tcase_add_checked_fixture(persist, setup, teardown);
	tcase_set_timeout(persist, 60);
	tcase_add_test(persist, persist_ptpl_on);
	tcase_add_test(persist, persist_ptpl_off_and_ram);
	tcase_add_test(persist, persist_corrupt);
	suite_add_tcase(s, persist);

	tcase_add_checked_fixture(fused, setup, teardown);
	tcase_set_timeout(fused, 120);
	tcase_add_loop_test(fused, fused_compare_and_write, 0, 2);
	tcase_add_test(fused, fused_errors);
	tcase_add_loop_test(fused, fused_orders_writes, 0, 2);
	tcase_add_loop_test(fused, fused_race, 0, 2);
	suite_add_tcase(s, fused);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(resv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

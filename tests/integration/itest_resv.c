/* SPDX-License-Identifier: MIT */
/*
 * Reservations and fused Compare and Write through a real nvbridged
 * (docs/reservations.md): two hosts with different Host Identifiers and
 * NQNs, each through its own port, on namespace 1 (a file namespace, so
 * that PTPL has somewhere to live).
 *
 *  resv:       Write Exclusive by A blocks B's writes (Reservation Conflict)
 *              but not its reads; released, B writes again. Fused pairs
 *              succeed on match and fail cleanly on mismatch; concurrent
 *              compare-and-write increments of one block from several
 *              queues lose no update while another queue writes elsewhere.
 *  resv-ptpl-set / resv-ptpl-check: A registers with PTPL on; after a
 *              daemon restart the registration is still there.
 */
#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "tests/integration/itest.h"

/* Scenarios of this file (registered in nvb-itest.c; they belong in
 * itest.h's list). */
int scenario_resv(const struct itest_args *a);
int scenario_resv_ptpl_set(const struct itest_args *a);
int scenario_resv_ptpl_check(const struct itest_args *a);

#define NSID            1
#define LBA_SIZE        512
#define OPC_WRITE       0x01
#define OPC_READ        0x02
#define OPC_COMPARE     0x05
#define OPC_REGISTER    0x0d
#define OPC_REPORT      0x0e
#define OPC_ACQUIRE     0x11
#define OPC_RELEASE     0x15
#define FEAT_RESV_PERSIST 0x83
#define KEY_A           0xa1a1a1a1ull
#define CAS_LBA         50
#define CAS_THREADS     3
#define CAS_PER_THREAD  60
#define PLAIN_LBA       200

#define ST_CONFLICT     0x83
#define ST_COMPARE_FAIL 0x285
#define ST_FUSED_FAIL   0x0009

static struct nvmeh_ctrl *connect_host(const struct itest_args *a, int port, const char *hostnqn,
				       uint8_t id, unsigned queues)
{
	struct nvmeh_opts o;

	itest_opts(a, &o, port, NULL);
	o.hostnqn = hostnqn;
	memset(o.hostid, id, sizeof(o.hostid));
	o.nr_io_queues = queues;
	o.queue_depth = 16;
	return itest_connect(&o, hostnqn);
}

static int resv_cmd(struct nvmeh_ctrl *c, uint8_t opc, uint32_t cdw10, uint64_t k1, uint64_t k2,
		    size_t len)
{
	uint64_t keys[2] = { htole64(k1), htole64(k2) };
	struct iovec iov = { keys, len };
	struct nvb_sqe s;
	struct nvb_cqe cqe;

	memset(&s, 0, sizeof(s));
	s.opcode = opc;
	s.nsid = htole32(NSID);
	s.cdw10 = htole32(cdw10);
	return nvmeh_passthru(c, 1, &s, &iov, 1, NVB_XFER_HOST_TO_CTRL, &cqe);
}

/* Reservation Report (extended): GEN, RTYPE, REGCTL, PTPLS and the key of
 * the registrant with Host Identifier byte `id` (0 if none). */
struct report {
	uint32_t gen;
	uint8_t rtype, ptpls;
	uint16_t regctl;
	uint64_t key;
};

static struct report resv_report(struct nvmeh_ctrl *c, uint8_t id)
{
	uint8_t *buf = itest_alloc(4096);
	struct iovec iov = { buf, 4096 };
	struct report r = { 0 };
	struct nvb_sqe s;
	struct nvb_cqe cqe;

	memset(&s, 0, sizeof(s));
	s.opcode = OPC_REPORT;
	s.nsid = htole32(NSID);
	s.cdw10 = htole32(4096 / 4 - 1);
	s.cdw11 = htole32(1);           /* EDS */
	CHECK_OK(nvmeh_passthru(c, 1, &s, &iov, 1, NVB_XFER_CTRL_TO_HOST, &cqe),
		 "reservation report");
	memcpy(&r.gen, buf, 4);
	r.gen = le32toh(r.gen);
	r.rtype = buf[4];
	r.regctl = (uint16_t)(buf[5] | buf[6] << 8);
	r.ptpls = buf[9];
	for (unsigned i = 0; i < r.regctl && 64 + 64 * (i + 1) <= 4096; i++) {
		const uint8_t *e = buf + 64 + 64 * i;

		if (e[16] == id && e[31] == id) {
			memcpy(&r.key, e + 8, 8);
			r.key = le64toh(r.key);
		}
	}
	itest_log("report: gen %u rtype %u regctl %u ptpls %u key(%#x) %#llx", r.gen, r.rtype,
		  r.regctl, r.ptpls, id, (unsigned long long)r.key);
	free(buf);
	return r;
}

static int set_ptpl(struct nvmeh_ctrl *c, bool on)
{
	struct nvb_sqe s;
	struct nvb_cqe cqe;

	memset(&s, 0, sizeof(s));
	s.opcode = nvme_admin_set_features;
	s.nsid = htole32(NSID);
	s.cdw10 = htole32(FEAT_RESV_PERSIST);
	s.cdw11 = htole32(on);
	return nvmeh_admin_passthru(c, &s, NULL, 0, NVB_XFER_NONE, &cqe);
}

static int block_io(struct nvmeh_ctrl *c, unsigned qid, bool write, uint64_t lba, uint64_t v)
{
	uint64_t *buf = itest_alloc(LBA_SIZE);
	int rc;

	for (unsigned i = 0; i < LBA_SIZE / 8; i++)
		buf[i] = htole64(v);
	rc = write ? nvmeh_write(c, qid, NSID, lba, 1, buf, LBA_SIZE)
		   : nvmeh_read(c, qid, NSID, lba, 1, buf, LBA_SIZE);
	free(buf);
	return rc;
}

static uint64_t block_value(struct nvmeh_ctrl *c, unsigned qid, uint64_t lba)
{
	uint64_t *buf = itest_alloc(LBA_SIZE), v;

	CHECK_OK(nvmeh_read(c, qid, NSID, lba, 1, buf, LBA_SIZE), "read");
	v = le64toh(buf[0]);
	for (unsigned i = 1; i < LBA_SIZE / 8; i++)
		CHECK(buf[i] == buf[0], "block %llu torn at word %u", (unsigned long long)lba, i);
	free(buf);
	return v;
}

/* ---- fused Compare and Write: two SQEs back to back on one queue ---- */

struct fused_done {
	int status[2];
	int n;
};

static void fused_cb(void *arg, int status, const struct nvb_cqe *cqe)
{
	struct fused_done *d = arg;

	if (d->n < 2)
		d->status[d->n] = status;
	d->n++;
}

/* Compare the block with `old` and write `new`, atomically: the statuses
 * of the Compare and the Write in st[0], st[1]. */
static void fused_cas(struct nvmeh_ctrl *c, unsigned qid, uint64_t lba, uint64_t old,
		      uint64_t new, int st[2])
{
	uint64_t *cmp = itest_alloc(LBA_SIZE), *wr = itest_alloc(LBA_SIZE);
	struct fused_done d = { { -1, -1 }, 0 };
	struct nvb_sqe s;
	int rc;

	for (unsigned i = 0; i < LBA_SIZE / 8; i++) {
		cmp[i] = htole64(old);
		wr[i] = htole64(new);
	}
	memset(&s, 0, sizeof(s));
	s.nsid = htole32(NSID);
	s.cdw10 = htole32((uint32_t)lba);
	s.cdw11 = htole32((uint32_t)(lba >> 32));
	s.opcode = OPC_COMPARE;
	s.flags = 0x1;                  /* FUSE 01b: first */
	rc = nvmeh_submit(c, qid, &s, cmp, LBA_SIZE, fused_cb, &d);
	CHECK(rc >= 0, "submit compare: %s", itest_status_str(rc));
	s.opcode = OPC_WRITE;
	s.flags = 0x2;                  /* FUSE 10b: second */
	rc = nvmeh_submit(c, qid, &s, wr, LBA_SIZE, fused_cb, &d);
	CHECK(rc >= 0, "submit write: %s", itest_status_str(rc));
	while (d.n < 2) {
		rc = nvmeh_poll(c, qid, 1, 10000);
		CHECK(rc > 0, "fused pair: poll %s", itest_status_str(rc));
	}
	st[0] = d.status[0];
	st[1] = d.status[1];
	free(cmp);
	free(wr);
}

/* ---- concurrency: compare-and-write increments, ATS style ---- */

struct cas_worker {
	struct nvmeh_ctrl *c;
	unsigned qid;
	int done, retries;
	pthread_t th;
};

static void *cas_thread(void *arg)
{
	struct cas_worker *w = arg;

	while (w->done < CAS_PER_THREAD) {
		uint64_t v = block_value(w->c, w->qid, CAS_LBA);
		int st[2];

		fused_cas(w->c, w->qid, CAS_LBA, v, v + 1, st);
		if (st[0] == 0) {
			CHECK(st[1] == 0, "write half failed: %s", itest_status_str(st[1]));
			w->done++;
		} else {
			CHECK(itest_status_code(st[0]) == ST_COMPARE_FAIL,
			      "compare: %s", itest_status_str(st[0]));
			CHECK(itest_status_code(st[1]) == ST_FUSED_FAIL, "write half: %s",
			      itest_status_str(st[1]));
			w->retries++;
		}
	}
	return NULL;
}

struct plain_worker {
	struct nvmeh_ctrl *c;
	unsigned qid;
	volatile bool stop;
	unsigned writes;
	pthread_t th;
};

static void *plain_thread(void *arg)
{
	struct plain_worker *w = arg;

	while (!w->stop) {
		uint64_t lba = PLAIN_LBA + w->writes % 64;

		CHECK_OK(block_io(w->c, w->qid, true, lba, 0x5000 + w->writes), "plain write");
		CHECK(block_value(w->c, w->qid, lba) == 0x5000 + w->writes, "plain read back");
		w->writes++;
	}
	return NULL;
}

int scenario_resv(const struct itest_args *a)
{
	struct nvmeh_ctrl *ca, *cb;
	struct report r;
	int st[2];

	CHECK(a->nports >= 2 && a->hostnqn && a->hostnqn2, "needs --port twice, --hostnqn[2]");
	ca = connect_host(a, 0, a->hostnqn, 0x11, CAS_THREADS + 1);
	cb = connect_host(a, 1, a->hostnqn2, 0x22, 1);
	CHECK(le16toh(nvmeh_info(ca)->id->oncs) & (1u << 5), "ONCS: reservations");
	CHECK(le16toh(nvmeh_info(ca)->id->fuses) & 1, "FUSES: compare and write");

	/* A registers and takes Write Exclusive. */
	CHECK_OK(resv_cmd(ca, OPC_REGISTER, 0, 0, KEY_A, 16), "A register");
	CHECK_OK(resv_cmd(ca, OPC_ACQUIRE, 1u << 8, KEY_A, 0, 16), "A acquire WE");
	r = resv_report(cb, 0x11);
	CHECK(r.rtype == 1 && r.key == KEY_A, "B sees A's reservation");
	CHECK_STATUS(itest_status_code(block_io(cb, 1, true, 10, 0xb)), ST_CONFLICT,
		     "B writes under A's Write Exclusive");
	CHECK_OK(block_io(cb, 1, false, 10, 0), "B reads under A's Write Exclusive");
	CHECK_OK(block_io(ca, 1, true, 10, 0xa), "A writes");
	/* A releases: B writes. */
	CHECK_OK(resv_cmd(ca, OPC_RELEASE, 1u << 8, KEY_A, 0, 8), "A release");
	CHECK_OK(block_io(cb, 1, true, 10, 0xb), "B writes after the release");
	CHECK_OK(resv_cmd(ca, OPC_REGISTER, 1, KEY_A, 0, 16), "A unregister");
	itest_log("reservation enforced across hosts");

	/* Fused pairs: match, then mismatch (nothing written). */
	CHECK_OK(block_io(ca, 1, true, CAS_LBA, 0), "seed the CAS block");
	fused_cas(ca, 1, CAS_LBA, 0, 7, st);
	CHECK(st[0] == 0 && st[1] == 0, "fused match: %s / %s", itest_status_str(st[0]),
	      itest_status_str(st[1]));
	CHECK(block_value(cb, 1, CAS_LBA) == 7, "fused write landed");
	fused_cas(ca, 1, CAS_LBA, 0, 9, st);
	CHECK(itest_status_code(st[0]) == ST_COMPARE_FAIL, "miscompare: %s",
	      itest_status_str(st[0]));
	CHECK(itest_status_code(st[1]) == ST_FUSED_FAIL, "second aborted: %s",
	      itest_status_str(st[1]));
	CHECK(block_value(cb, 1, CAS_LBA) == 7, "nothing written on miscompare");
	CHECK_OK(block_io(ca, 1, true, CAS_LBA, 0), "reset the CAS block");

	/* Concurrent increments: no lost update. */
	{
		struct cas_worker w[CAS_THREADS];
		struct plain_worker p = { .c = ca, .qid = CAS_THREADS + 1 };
		int retries = 0;
		uint64_t v;

		CHECK(pthread_create(&p.th, NULL, plain_thread, &p) == 0, "thread");
		for (int i = 0; i < CAS_THREADS; i++) {
			w[i] = (struct cas_worker){ .c = ca, .qid = (unsigned)i + 1 };
			CHECK(pthread_create(&w[i].th, NULL, cas_thread, &w[i]) == 0, "thread");
		}
		for (int i = 0; i < CAS_THREADS; i++) {
			pthread_join(w[i].th, NULL);
			retries += w[i].retries;
		}
		p.stop = true;
		pthread_join(p.th, NULL);
		v = block_value(cb, 1, CAS_LBA);
		itest_log("compare-and-write: %d increments, %d retries, %u plain writes, "
			  "final %llu", CAS_THREADS * CAS_PER_THREAD, retries, p.writes,
			  (unsigned long long)v);
		CHECK(v == CAS_THREADS * CAS_PER_THREAD, "lost update: %llu",
		      (unsigned long long)v);
	}
	nvmeh_disconnect(ca);
	nvmeh_disconnect(cb);
	return 0;
}

int scenario_resv_ptpl_set(const struct itest_args *a)
{
	struct nvmeh_ctrl *ca = connect_host(a, 0, a->hostnqn, 0x11, 1);
	struct report r;

	CHECK_OK(resv_cmd(ca, OPC_REGISTER, 0, 0, KEY_A, 16), "A register");
	CHECK_OK(set_ptpl(ca, true), "Set Features 83h PTPL on");
	CHECK_OK(resv_cmd(ca, OPC_ACQUIRE, 1u << 8, KEY_A, 0, 16), "A acquire WE");
	r = resv_report(ca, 0x11);
	CHECK(r.ptpls == 1 && r.key == KEY_A && r.rtype == 1, "state before the restart");
	nvmeh_disconnect(ca);
	return 0;
}

int scenario_resv_ptpl_check(const struct itest_args *a)
{
	struct nvmeh_ctrl *ca = connect_host(a, 0, a->hostnqn, 0x11, 1);
	struct nvmeh_ctrl *cb = connect_host(a, 1, a->hostnqn2, 0x22, 1);
	uint32_t ptpl = 0;
	struct report r;
	struct nvb_sqe s;
	struct nvb_cqe cqe;

	r = resv_report(ca, 0x11);
	CHECK(r.ptpls == 1 && r.key == KEY_A && r.rtype == 1, "registration survived");
	memset(&s, 0, sizeof(s));
	s.opcode = nvme_admin_get_features;
	s.nsid = htole32(NSID);
	s.cdw10 = htole32(FEAT_RESV_PERSIST);
	CHECK_OK(nvmeh_admin_passthru(ca, &s, NULL, 0, NVB_XFER_NONE, &cqe), "Get Features 83h");
	ptpl = le32toh(cqe.result.u32);
	CHECK(ptpl == 1, "PTPL still on");
	CHECK_STATUS(itest_status_code(block_io(cb, 1, true, 10, 0xb)), ST_CONFLICT,
		     "the restored reservation still fences B");
	/* Leave nothing behind. */
	CHECK_OK(resv_cmd(ca, OPC_REGISTER, 1, KEY_A, 0, 16), "A unregister");
	CHECK_OK(set_ptpl(ca, false), "PTPL off");
	CHECK_OK(block_io(cb, 1, true, 10, 0xb), "B writes again");
	nvmeh_disconnect(ca);
	nvmeh_disconnect(cb);
	return 0;
}

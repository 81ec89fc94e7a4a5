/* SPDX-License-Identifier: MIT */
/*
 * The SCSI → NVMe translation (iscsi/scsi*.c) on ram and file namespaces
 * with 512 and 4096-byte logical blocks, driven on a local reactor (ram
 * completes inline, file through io_uring later): every command,
 * good and bad CDBs with their sense (key, ASC/ASCQ, field pointer,
 * INFORMATION), data-in contents, identity, transfer length handling,
 * ALUA sense, hooks and plug-in slots.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/testlib.h"
#include "bridge/bufpool.h"
#include "iscsi/scsi.h"

#define MiB (1u << 20)
#define NS_SIZE (16 * MiB)
#define TARGET "iqn.2026-04.io.nvbridge:unit"

struct ns_case {
	uint32_t nsid;
	enum nvb_backend_kind kind;     /* ram completes inline, file through io_uring */
	uint32_t lba_size;
};

static const struct ns_case cases[] = {
	{ 1, NVB_BACKEND_RAM, 512 },
	{ 2, NVB_BACKEND_RAM, 4096 },
	{ 3, NVB_BACKEND_FILE, 512 },
	{ 4, NVB_BACKEND_FILE, 4096 },
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))
#define NRAM 2          /* cases[0..NRAM): the tests that do not depend on timing */

static struct nvb_reactor *reactor;
static struct nvb_subsys *ss;
static struct scsi_lu_mode modes[NCASES];
static struct scsi_lu lus[NCASES];
/* A 512-byte namespace without a volatile write cache. */
#define NOVWC_NSID 9
static struct scsi_lu_mode novwc_mode;
static struct scsi_lu novwc_lu;
static const struct scsi_port port1 = { .rel_port_id = 1, .tpg_id = 1, .target_name = TARGET };
static const struct scsi_port port2 = { .rel_port_id = 2, .tpg_id = 2, .target_name = TARGET };

/* What the next task is run with. */
static enum nvb_ana_state cur_path;
static const struct scsi_hooks *cur_hooks;
static const struct scsi_port *cur_port;

/* ---- fixture ---- */

static void make_ids(struct nvb_ns_conf *c, uint32_t nsid)
{
	for (int i = 0; i < 16; i++) {
		c->nguid[i] = (uint8_t)(0x10 * nsid + i + 1);
		c->uuid[i] = (uint8_t)(0xa0 + i);
	}
	for (int i = 0; i < 8; i++)
		c->eui64[i] = (uint8_t)(0x50 + nsid + i);
}

static char tmpdir[64];


static void setup(void)
{
	char err[512], path[128];

	strcpy(tmpdir, "/tmp/nvb-scsi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));

	reactor = nvb_reactor_create_local(64);
	ck_assert_ptr_nonnull(reactor);
	ss = calloc(1, sizeof(*ss));
	ck_assert_ptr_nonnull(ss);
	snprintf(ss->nqn, sizeof(ss->nqn), "nqn.2026-04.io.nvbridge:unit");
	snprintf(ss->model, sizeof(ss->model), "Bridge Disk Model X1");
	for (int i = 0; i < NCASES; i++) {
		struct nvb_ns_conf conf = {
			.nsid = cases[i].nsid, .backend = NVB_BACKEND_RAM, .size = NS_SIZE,
			.lba_size = cases[i].lba_size, .volatile_write_cache = true, .line = 1,
		};
		struct nvb_ns *ns;

		if (cases[i].kind == NVB_BACKEND_FILE) {
			snprintf(path, sizeof(path), "%s/ns%u.img", tmpdir, cases[i].nsid);
			close(open(path, O_CREAT | O_RDWR, 0600));      /* empty: gets extended */
			conf.path = path;
		}
		conf.backend = cases[i].kind;
		make_ids(&conf, cases[i].nsid);
		ns = nvb_ns_create(ss, &conf, "unit.conf", err, sizeof(err));
		if (!ns)
			ck_abort_msg("nvb_ns_create: %s", err);
		atomic_store(&ss->ns[cases[i].nsid], ns);
		scsi_lu_mode_init(&modes[i], true);
		lus[i] = (struct scsi_lu){ .subsys = ss, .nsid = cases[i].nsid, .lun = (uint64_t)i,
					   .mode = &modes[i] };
	}
	struct nvb_ns_conf conf = {
		.nsid = NOVWC_NSID, .backend = NVB_BACKEND_RAM, .size = MiB, .lba_size = 512,
		.volatile_write_cache = false, .line = 2,
	};
	struct nvb_ns *ns;

	make_ids(&conf, NOVWC_NSID);
	ns = nvb_ns_create(ss, &conf, "unit.conf", err, sizeof(err));
	if (!ns)
		ck_abort_msg("nvb_ns_create: %s", err);
	atomic_store(&ss->ns[NOVWC_NSID], ns);
	scsi_lu_mode_init(&novwc_mode, false);
	novwc_lu = (struct scsi_lu){ .subsys = ss, .nsid = NOVWC_NSID, .lun = 9,
				     .mode = &novwc_mode };
	cur_path = NVB_ANA_OPTIMIZED;
	cur_hooks = NULL;
	cur_port = &port1;
}

static void teardown(void)
{
	test_unpublish_all(ss);
	free(ss);
	nvb_reactor_destroy_local(reactor);
	test_remove_tree(tmpdir);
}

/* ---- running tasks ---- */

struct run {
	struct scsi_task t;
	int done;
	struct iovec iov[64];
};

static void run_done(struct scsi_task *t)
{
	container_of(t, struct run, t)->done++;
}

static struct scsi_task *exec_iov(struct run *r, const struct scsi_lu *lu, const uint8_t *cdb,
				  size_t cdb_len, int iovcnt, size_t len, bool out)
{
	struct scsi_task *t = &r->t;

	memset(t, 0, offsetof(struct scsi_task, priv));
	memcpy(t->cdb, cdb, cdb_len);
	t->cdb_len = 16;        /* as iSCSI carries it: padded */
	t->lu = lu;
	t->port = cur_port;
	t->path_state = cur_path;
	t->iov = iovcnt ? r->iov : NULL;
	t->iovcnt = iovcnt;
	t->data_len = len;
	t->data_out = out;
	t->reactor = reactor;
	t->hooks = cur_hooks;
	t->done = run_done;
	t->sense_len = 0xff;
	r->done = 0;
	scsi_task_exec(t);
	for (int i = 0; i < 1000 && !r->done; i++)
		nvb_reactor_run_once(reactor, 1000);
	ck_assert_int_eq(r->done, 1);
	nvb_reactor_run_once(reactor, 0);
	ck_assert_int_eq(r->done, 1);           /* exactly once */
	ck_assert_ptr_null(t->priv.ns);         /* reference given back */
	ck_assert(t->xfer_len <= t->data_len);
	if (t->status == SCSI_GOOD)
		ck_assert_uint_eq(t->sense_len, 0);
	return t;
}

static struct scsi_task *exec(struct run *r, const struct scsi_lu *lu, const uint8_t *cdb,
			      size_t cdb_len, void *buf, size_t len, bool out)
{
	r->iov[0].iov_base = buf;
	r->iov[0].iov_len = len;
	return exec_iov(r, lu, cdb, cdb_len, buf ? 1 : 0, len, out);
}

static struct scsi_task *exec_nodata(struct run *r, const struct scsi_lu *lu,
				     const uint8_t *cdb, size_t cdb_len)
{
	return exec(r, lu, cdb, cdb_len, NULL, 0, false);
}

/* ---- sense checks (fixed 70h or descriptor 72h) ---- */

static void sense_of(const struct scsi_task *t, uint8_t *key, uint16_t *asc)
{
	ck_assert_uint_eq(t->status, SCSI_CHECK_CONDITION);
	ck_assert_uint_ge(t->sense_len, 8);
	if ((t->sense[0] & 0x7f) == 0x70) {
		ck_assert_uint_ge(t->sense_len, 18);
		*key = t->sense[2] & 0x0f;
		*asc = (uint16_t)(t->sense[12] << 8 | t->sense[13]);
	} else {
		ck_assert_uint_eq(t->sense[0] & 0x7f, 0x72);
		*key = t->sense[1] & 0x0f;
		*asc = (uint16_t)(t->sense[2] << 8 | t->sense[3]);
		ck_assert_uint_eq(t->sense_len, 8u + t->sense[7]);
	}
}

#define assert_sense(t, k, a) do { \
	uint8_t key_; uint16_t asc_; \
	sense_of((t), &key_, &asc_); \
	ck_assert_uint_eq(key_, (k)); \
	ck_assert_uint_eq(asc_, (a)); \
} while (0)

/* Descriptor type d of descriptor-format sense, or NULL. */
static const uint8_t *sense_desc(const struct scsi_task *t, uint8_t type)
{
	for (size_t off = 8; off + 2 <= t->sense_len; off += 2u + t->sense[off + 1])
		if (t->sense[off] == type)
			return t->sense + off;
	return NULL;
}

static const uint8_t *sense_sks(const struct scsi_task *t)
{
	const uint8_t *d;

	if ((t->sense[0] & 0x7f) == 0x70)
		return t->sense + 15;
	d = sense_desc(t, 0x02);
	ck_assert_ptr_nonnull(d);
	return d + 4;
}

static void assert_field(const struct scsi_task *t, bool cdb, unsigned byte, int bit)
{
	const uint8_t *sks;

	assert_sense(t, SCSI_SENSE_ILLEGAL_REQUEST,
		     cdb ? SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB
			 : SCSI_SENSE_ASCQ_INVALID_FIELD_IN_PARAMETER_LIST);
	sks = sense_sks(t);
	ck_assert_uint_eq(sks[0] & 0x80, 0x80);                 /* SKSV */
	ck_assert_uint_eq(!!(sks[0] & 0x40), cdb);              /* C/D */
	if (bit >= 0) {
		ck_assert_uint_eq(sks[0] & 0x08, 0x08);         /* BPV */
		ck_assert_uint_eq(sks[0] & 0x07, (unsigned)bit);
	} else {
		ck_assert_uint_eq(sks[0] & 0x08, 0);
	}
	ck_assert_uint_eq((unsigned)(sks[1] << 8 | sks[2]), byte);
}

static uint64_t sense_information(const struct scsi_task *t)
{
	const uint8_t *d;
	uint64_t v = 0;

	if ((t->sense[0] & 0x7f) == 0x70) {
		ck_assert_uint_eq(t->sense[0] & 0x80, 0x80);    /* VALID */
		for (int i = 3; i < 7; i++)
			v = v << 8 | t->sense[i];
		return v;
	}
	d = sense_desc(t, 0x00);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d[2] & 0x80, 0x80);
	for (int i = 4; i < 12; i++)
		v = v << 8 | d[i];
	return v;
}

/* ---- CDBs ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A 10-, 12- or 16-byte LBA command. */
static size_t cdb_lba(uint8_t *c, uint8_t op, uint64_t lba, uint32_t nlb, uint8_t byte1)
{
	size_t len = op < 0x80 ? 10 : op < 0xa0 ? 16 : 12;

	memset(c, 0, 16);
	c[0] = op;
	c[1] = byte1;
	if (len == 10) {
		put32(c + 2, (uint32_t)lba);
		put16(c + 7, (uint16_t)nlb);
	} else if (len == 12) {
		put32(c + 2, (uint32_t)lba);
		put32(c + 6, nlb);
	} else {
		put64(c + 2, lba);
		put32(c + 10, nlb);
	}
	return len;
}

static const struct scsi_lu *lu_of(int i)
{
	return &lus[i];
}

static uint64_t nblocks_of(int i)
{
	return NS_SIZE / cases[i].lba_size;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void write_blocks(int i, uint64_t lba, uint32_t nlb, const void *buf)
{
	struct run r;
	uint8_t c[16];
	size_t len = cdb_lba(c, 0x8a, lba, nlb, 0);

	exec(&r, lu_of(i), c, len, (void *)buf, (size_t)nlb * cases[i].lba_size, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
}

static uint8_t *read_blocks(int i, uint64_t lba, uint32_t nlb)
{
	struct run r;
	uint8_t c[16];
	size_t bytes = (size_t)nlb * cases[i].lba_size;
	uint8_t *buf = malloc(bytes);
	size_t len = cdb_lba(c, 0x88, lba, nlb, 0);

	memset(buf, 0xcc, bytes);
	exec(&r, lu_of(i), c, len, buf, bytes, false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, bytes);
	return buf;
}

static uint8_t *write_pattern(int i, uint64_t lba, uint32_t nlb, unsigned seed)
{
	size_t bytes = (size_t)nlb * cases[i].lba_size;
	uint8_t *buf = malloc(bytes);

	fill(buf, bytes, seed);
	write_blocks(i, lba, nlb, buf);
	return buf;
}

/* ---- INQUIRY ---- */

START_TEST(inquiry_standard)
{
	uint8_t c[6] = { 0x12, 0, 0, 0, 255, 0 }, d[256];
	struct run r;
	struct scsi_task *t;
	static const uint16_t want_vd[] = { 0x00a0, 0x05c0, 0x0460, 0x0600, 0x04c0, 0x0960 };

	t = exec(&r, lu_of(0), c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 96);
	ck_assert_uint_eq(t->want_len, 96);
	ck_assert_uint_eq(d[0], 0x00);                  /* connected, direct access */
	ck_assert_uint_eq(d[1] & 0x80, 0);              /* not removable */
	ck_assert_uint_eq(d[2], 0x06);
	ck_assert_uint_eq(d[3] & 0x0f, 2);
	ck_assert_uint_eq(d[4], 96 - 5);
	ck_assert_uint_eq((d[5] >> 4) & 3, 1);          /* TPGS: implicit ALUA */
	ck_assert_uint_eq(d[7] & 0x02, 0x02);           /* CMDQUE */
	ck_assert_mem_eq(d + 8, "NVBRIDGE", 8);
	ck_assert_mem_eq(d + 16, "Bridge Disk Mode", 16);
	for (size_t i = 0; i < sizeof(want_vd) / sizeof(want_vd[0]); i++)
		ck_assert_uint_eq(be16(d + 58 + 2 * i), want_vd[i]);

	/* Every allocation length: at most that much, never an error. */
	for (unsigned alloc = 0; alloc < 256; alloc += 17) {
		uint8_t e[256];

		c[4] = (uint8_t)alloc;
		memset(e, 0xee, sizeof(e));
		t = exec(&r, lu_of(0), c, 6, e, sizeof(e), false);
		ck_assert_uint_eq(t->status, SCSI_GOOD);
		ck_assert_uint_eq(t->xfer_len, alloc < 96 ? alloc : 96);
		ck_assert_mem_eq(e, d, t->xfer_len);
		ck_assert_uint_eq(e[t->xfer_len], 0xee);
	}
	/* 16-bit allocation length (SPC-3+). */
	c[3] = 1;
	c[4] = 0;
	t = exec(&r, lu_of(0), c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->xfer_len, 96);

	/* EVPD 0 with a page code; CMDDT (obsolete). */
	c[3] = 0;
	c[4] = 255;
	c[2] = 0x80;
	assert_field(exec(&r, lu_of(0), c, 6, d, sizeof(d), false), true, 2, -1);
	c[2] = 0;
	c[1] = 0x02;
	assert_field(exec(&r, lu_of(0), c, 6, d, sizeof(d), false), true, 1, 1);

	/* No logical unit: peripheral qualifier 011b, type 1Fh, still GOOD. */
	c[1] = 0;
	t = exec(&r, NULL, c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(d[0], 0x7f);
	c[1] = 1;
	c[2] = 0x83;
	assert_sense(exec(&r, NULL, c, 6, d, sizeof(d), false), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
}
END_TEST

static struct scsi_task *vpd(struct run *r, int i, uint8_t page, uint8_t *d, size_t len)
{
	uint8_t c[6] = { 0x12, 0x01, page, (uint8_t)(len >> 8), (uint8_t)len, 0 };

	return exec(r, lu_of(i), c, 6, d, len, false);
}

START_TEST(inquiry_vpd_pages)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2 };
	uint32_t bs = cases[_i].lba_size;
	uint8_t d[512];
	struct run r;
	struct scsi_task *t;

	t = vpd(&r, _i, 0x00, d, sizeof(d));
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(be16(d + 2), sizeof(pages));
	ck_assert_mem_eq(d + 4, pages, sizeof(pages));
	for (size_t p = 0; p < sizeof(pages); p++) {
		t = vpd(&r, _i, pages[p], d, sizeof(d));
		ck_assert_uint_eq(t->status, SCSI_GOOD);
		ck_assert_uint_eq(d[0], 0);
		ck_assert_uint_eq(d[1], pages[p]);
		ck_assert_uint_eq(t->xfer_len, 4u + be16(d + 2));
	}
	/* B0h: limits as advertised, page length 3Ch. */
	vpd(&r, _i, 0xb0, d, sizeof(d));
	ck_assert_uint_eq(be16(d + 2), 0x3c);
	ck_assert_uint_eq(d[4] & 1, 1);                                 /* WSNZ */
	ck_assert_uint_eq(d[5], 255);                                   /* CAW length */
	ck_assert_uint_eq(be16(d + 6), bs == 512 ? 8 : 1);
	ck_assert_uint_eq(be32(d + 8), (8 * MiB) / bs);                 /* max transfer */
	ck_assert_uint_eq(be32(d + 12), MiB / bs);
	ck_assert_uint_eq(be32(d + 20), 0xffffffffu);                   /* unmap LBAs */
	ck_assert_uint_eq(be32(d + 24), 256);                           /* descriptors */
	ck_assert_uint_eq(be32(d + 28), bs == 512 ? 8 : 1);
	ck_assert_uint_eq(be64(d + 36), (1ull << 30) / bs);             /* write same */
	/* B1h: non-rotating. */
	vpd(&r, _i, 0xb1, d, sizeof(d));
	ck_assert_uint_eq(be16(d + 2), 0x3c);
	ck_assert_uint_eq(be16(d + 4), 1);
	/* B2h: LBPU, LBPWS, LBPWS10, LBPRZ 001b, thin. */
	vpd(&r, _i, 0xb2, d, sizeof(d));
	ck_assert_uint_eq(be16(d + 2), 4);
	ck_assert_uint_eq(d[5], 0xe4);
	ck_assert_uint_eq(d[6] & 7, 2);
	/* 86h: V_SUP with a volatile cache. */
	vpd(&r, _i, 0x86, d, sizeof(d));
	ck_assert_uint_eq(be16(d + 2), 0x3c);
	ck_assert_uint_eq(d[6] & 1, 1);
	/* Unknown page; short allocation length. */
	assert_field(vpd(&r, _i, 0xb7, d, sizeof(d)), true, 2, -1);
	t = vpd(&r, _i, 0x83, d, 6);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 6);
}
END_TEST

/* Walk VPD 83h: the designator of (association, type) number n. */
static const uint8_t *designator(const uint8_t *d, unsigned assoc, unsigned type, int n)
{
	size_t end = 4u + be16(d + 2);

	for (size_t off = 4; off + 4 <= end; off += 4u + d[off + 3]) {
		if (((d[off + 1] >> 4) & 3) == assoc && (d[off + 1] & 0x0f) == type && n-- == 0)
			return d + off;
	}
	return NULL;
}

START_TEST(identity_from_namespace_ids)
{
	const struct nvb_ns_conf *conf = &atomic_load(&ss->ns[cases[_i].nsid])->conf;
	uint8_t a[512], b[512], naa[16];
	const uint8_t *da, *db;
	char serial[40];
	struct run r;

	for (int k = 0; k < 16; k++)
		snprintf(serial + 2 * k, 3, "%02X", conf->nguid[k]);
	/* 80h: the NGUID in hex, whatever the port. */
	vpd(&r, _i, 0x80, a, sizeof(a));
	ck_assert_uint_eq(be16(a + 2), 32);
	ck_assert_mem_eq(a + 4, serial, 32);

	cur_port = &port1;
	vpd(&r, _i, 0x83, a, sizeof(a));
	cur_port = &port2;
	vpd(&r, _i, 0x83, b, sizeof(b));
	/* The logical unit's designators come first and are the same on both
	 * ports (multipath matches them). */
	ck_assert_uint_eq(a[4 + 1] & 0x30, 0);
	da = designator(a, 0, 3, 0);
	db = designator(b, 0, 3, 0);
	ck_assert_ptr_eq(da, a + 4);
	ck_assert_uint_eq(da[3], 16);
	ck_assert_mem_eq(da, db, 20);
	naa[0] = (uint8_t)(0x60 | conf->nguid[0] >> 4);
	for (int k = 1; k < 16; k++)
		naa[k] = (uint8_t)(conf->nguid[k - 1] << 4 | conf->nguid[k] >> 4);
	ck_assert_mem_eq(da + 4, naa, 16);
	da = designator(a, 0, 2, 0);                    /* EUI-64 based, 16 bytes: NGUID */
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(da[3], 16);
	ck_assert_mem_eq(da + 4, conf->nguid, 16);
	da = designator(a, 0, 2, 1);                    /* EUI-64 */
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(da[3], 8);
	ck_assert_mem_eq(da + 4, conf->eui64, 8);
	da = designator(a, 0, 1, 0);                    /* T10 vendor ID + serial */
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(da[0] & 0x0f, 2);
	ck_assert_mem_eq(da + 4, "NVBRIDGE", 8);
	ck_assert_mem_eq(da + 12, serial, 32);
	/* Port designators: relative target port and target port group. */
	da = designator(a, 1, 4, 0);
	db = designator(b, 1, 4, 0);
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(da[0] >> 4, 5);               /* iSCSI */
	ck_assert_uint_eq(da[1] & 0x80, 0x80);          /* PIV */
	ck_assert_uint_eq(be16(da + 6), 1);
	ck_assert_uint_eq(be16(db + 6), 2);
	da = designator(a, 1, 5, 0);
	ck_assert_uint_eq(be16(da + 6), 1);
	ck_assert_uint_eq(be16(designator(b, 1, 5, 0) + 6), 2);
	da = designator(a, 1, 8, 0);                    /* target port name */
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(da[3] % 4, 0);
	ck_assert_str_eq((const char *)da + 4, TARGET ",t,0x0001");
	da = designator(a, 2, 8, 0);                    /* target device name */
	ck_assert_ptr_nonnull(da);
	ck_assert_str_eq((const char *)da + 4, TARGET);

	/* The longest iSCSI name (223 bytes) still fits, twice. */
	char longname[224];
	uint8_t big[1100];
	memset(longname, 'n', 223);
	memcpy(longname, "iqn.2026-04.x:", 14);
	longname[223] = '\0';
	struct scsi_port port3 = { .rel_port_id = 3, .tpg_id = 0x1234, .target_name = longname };
	cur_port = &port3;
	vpd(&r, _i, 0x83, big, sizeof(big));
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	da = designator(big, 1, 8, 0);
	ck_assert_ptr_nonnull(da);
	ck_assert_uint_eq(strlen((const char *)da + 4), 223 + 9);
	ck_assert_str_eq((const char *)da + 4 + 223, ",t,0x1234");
	da = designator(big, 2, 8, 0);
	ck_assert_ptr_nonnull(da);
	ck_assert_str_eq((const char *)da + 4, longname);
	ck_assert_mem_eq(designator(big, 0, 3, 0), a + 4, 20);
}
END_TEST

/* ---- READ CAPACITY ---- */

START_TEST(read_capacity)
{
	uint8_t c10[10] = { 0x25 }, c16[16] = { 0x9e, 0x10 }, d[64];
	struct run r;
	struct scsi_task *t;

	t = exec(&r, lu_of(_i), c10, 10, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 8);
	ck_assert_uint_eq(be32(d), nblocks_of(_i) - 1);
	ck_assert_uint_eq(be32(d + 4), cases[_i].lba_size);
	c10[5] = 1;                                     /* LBA without PMI */
	assert_field(exec(&r, lu_of(_i), c10, 10, d, sizeof(d), false), true, 2, -1);

	put32(c16 + 10, 32);
	memset(d, 0xff, sizeof(d));
	t = exec(&r, lu_of(_i), c16, 16, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 32);
	ck_assert_uint_eq(be64(d), nblocks_of(_i) - 1);
	ck_assert_uint_eq(be32(d + 8), cases[_i].lba_size);
	ck_assert_uint_eq(d[12], 0);                    /* no protection */
	ck_assert_uint_eq(d[13], 0);                    /* LBPPBE 0 */
	ck_assert_uint_eq(d[14] & 0xc0, 0xc0);          /* LBPME, LBPRZ */
	/* Allocation lengths 0..15 are not errors. */
	for (uint32_t alloc = 0; alloc < 16; alloc++) {
		put32(c16 + 10, alloc);
		t = exec(&r, lu_of(_i), c16, 16, d, sizeof(d), false);
		ck_assert_uint_eq(t->status, SCSI_GOOD);
		ck_assert_uint_eq(t->xfer_len, alloc);
	}
}
END_TEST

/* ---- READ / WRITE ---- */

START_TEST(read_write_round_trip)
{
	uint32_t bs = cases[_i].lba_size;
	uint8_t c[16], *w, *rd;
	struct run r;
	size_t len;

	/* Every opcode, 8 blocks at LBA 16. */
	static const uint8_t writes[] = { 0x2a, 0xaa, 0x8a }, reads[] = { 0x28, 0xa8, 0x88 };
	for (size_t k = 0; k < sizeof(writes); k++) {
		w = malloc(8 * bs);
		rd = malloc(8 * bs);
		fill(w, 8 * bs, (unsigned)k + 1);
		len = cdb_lba(c, writes[k], 16, 8, k == 2 ? 0x08 : 0);     /* FUA on one */
		exec(&r, lu_of(_i), c, len, w, 8 * bs, true);
		ck_assert_uint_eq(r.t.status, SCSI_GOOD);
		ck_assert_uint_eq(r.t.xfer_len, 8 * bs);
		len = cdb_lba(c, reads[k], 16, 8, 0x18);                  /* DPO FUA */
		exec(&r, lu_of(_i), c, len, rd, 8 * bs, false);
		ck_assert_uint_eq(r.t.status, SCSI_GOOD);
		ck_assert_mem_eq(w, rd, 8 * bs);
		free(w);
		free(rd);
	}
	/* READ(6)/WRITE(6): 21-bit LBA, 0 means 256 blocks. */
	w = malloc(256 * bs);
	fill(w, 256 * bs, 9);
	uint8_t c6[6] = { 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00 };       /* LBA 256, 256 blocks */
	exec(&r, lu_of(_i), c6, 6, w, 256 * bs, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	rd = read_blocks(_i, 256, 256);
	ck_assert_mem_eq(w, rd, 256 * bs);
	free(rd);
	rd = malloc(bs);
	c6[0] = 0x08;
	c6[3] = 5;
	c6[4] = 1;
	exec(&r, lu_of(_i), c6, 6, rd, bs, false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_mem_eq(rd, w + 5 * bs, bs);
	free(rd);
	free(w);

	/* 3 MiB + 1 block in one command: several NVMe commands. */
	uint32_t nlb = (3 * MiB) / bs + 1;
	w = write_pattern(_i, 1000 % nblocks_of(_i), nlb, 3);
	rd = read_blocks(_i, 1000 % nblocks_of(_i), nlb);
	ck_assert_mem_eq(w, rd, (size_t)nlb * bs);
	free(rd);

	/* Many small segments (more than one NVMe command takes), and segments
	 * that split blocks: the data goes through staging buffers. */
	size_t total = (size_t)nlb * bs;
	uint8_t *seg = malloc(total);
	size_t sizes[64], off = 0;
	int n = 0;
	for (; off < total && n < 63; n++) {
		sizes[n] = n % 3 == 0 ? 1000 : (n % 3 == 1 ? 4096 : 777);
		if (sizes[n] > total - off)
			sizes[n] = total - off;
		r.iov[n].iov_base = seg + off;
		r.iov[n].iov_len = sizes[n];
		off += sizes[n];
	}
	r.iov[n].iov_base = seg + off;
	r.iov[n].iov_len = total - off;
	n++;
	memset(seg, 0, total);
	len = cdb_lba(c, 0x88, 1000 % nblocks_of(_i), nlb, 0);
	exec_iov(&r, lu_of(_i), c, len, n, total, false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_mem_eq(seg, w, total);
	/* ... and writes through them. */
	fill(seg, total, 4);
	len = cdb_lba(c, 0x8a, 2000 % nblocks_of(_i), nlb, 0);
	exec_iov(&r, lu_of(_i), c, len, n, total, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	rd = read_blocks(_i, 2000 % nblocks_of(_i), nlb);
	ck_assert_mem_eq(rd, seg, total);
	free(rd);
	free(seg);
	free(w);

	/* 0 blocks: nothing moved, GOOD. */
	len = cdb_lba(c, 0x28, 0, 0, 0);
	exec_nodata(&r, lu_of(_i), c, len);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
}
END_TEST

START_TEST(read_write_errors)
{
	uint64_t nb = nblocks_of(_i);
	uint32_t bs = cases[_i].lba_size;
	uint8_t c[16], *buf = calloc(2, bs);
	struct run r;
	size_t len;

	/* Beyond the end: LOGICAL BLOCK ADDRESS OUT OF RANGE. */
	static const uint8_t ops[] = { 0x28, 0x2a, 0xa8, 0xaa, 0x88, 0x8a, 0x2f, 0x8f, 0x34, 0x90,
				       0x35, 0x91 };
	for (size_t k = 0; k < sizeof(ops); k++) {
		bool out = ops[k] == 0x2a || ops[k] == 0xaa || ops[k] == 0x8a;

		len = cdb_lba(c, ops[k], nb - 1, 2, 0);
		assert_sense(exec(&r, lu_of(_i), c, len, buf, out ? 2 * bs : 0, out),
			     SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	}
	len = cdb_lba(c, 0x88, UINT64_MAX, 1, 0);
	assert_sense(exec(&r, lu_of(_i), c, len, buf, bs, false), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	len = cdb_lba(c, 0x28, nb + 1, 0, 0);           /* 0 blocks past the end */
	assert_sense(exec_nodata(&r, lu_of(_i), c, len), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	uint8_t c6[6] = { 0x08, 0x1f, 0xff, 0xff, 1, 0 };
	assert_sense(exec(&r, lu_of(_i), c6, 6, buf, bs, false), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);

	/* Protection information fields must be 0. */
	for (uint8_t p = 1; p < 8; p++) {
		len = cdb_lba(c, 0x28, 0, 1, (uint8_t)(p << 5));
		assert_field(exec(&r, lu_of(_i), c, len, buf, bs, false), true, 1, 7);
		len = cdb_lba(c, 0x8a, 0, 1, (uint8_t)(p << 5));
		assert_field(exec(&r, lu_of(_i), c, len, buf, bs, true), true, 1, 7);
	}
	/* Longer than MAXIMUM TRANSFER LENGTH. */
	len = cdb_lba(c, 0x88, 0, (8 * MiB) / bs + 1, 0);
	assert_field(exec(&r, lu_of(_i), c, len, buf, bs, false), true, 10, -1);
	/* RARC (not supported) is a reserved bit here. */
	len = cdb_lba(c, 0x28, 0, 1, 0x04);
	assert_field(exec(&r, lu_of(_i), c, len, buf, bs, false), true, 1, 2);
	free(buf);
}
END_TEST

/* SAM-5 §5.4.3: the transport's length wins; residuals are the transport's. */
START_TEST(transfer_lengths)
{
	uint32_t bs = cases[_i].lba_size;
	uint8_t c[16], *w = write_pattern(_i, 40, 2, 5), *buf = malloc(3 * bs), *rd;
	struct run r;
	size_t len = cdb_lba(c, 0x28, 40, 1, 0);

	/* Room for 200 bytes of a 1-block read: 200 bytes, GOOD, overflow. */
	memset(buf, 0, 3 * bs);
	exec(&r, lu_of(_i), c, len, buf, 200, false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, 200);
	ck_assert_uint_eq(r.t.want_len, bs);
	ck_assert_mem_eq(buf, w, 200);
	ck_assert(all_zero(buf + 200, bs - 200));
	/* No room at all. */
	exec(&r, lu_of(_i), c, len, buf, 0, false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, 0);
	/* More room than asked: underflow. */
	exec(&r, lu_of(_i), c, len, buf, 3 * bs, false);
	ck_assert_uint_eq(r.t.xfer_len, bs);
	ck_assert_uint_eq(r.t.want_len, bs);
	/* A read flagged as a write: no room for data-in. */
	exec(&r, lu_of(_i), c, len, buf, bs, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, 0);

	/* Write of 2 blocks with 1 block of data-out: only that block. */
	memset(buf, 'b', 3 * bs);
	len = cdb_lba(c, 0x2a, 40, 2, 0);
	exec(&r, lu_of(_i), c, len, buf, bs, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, bs);
	ck_assert_uint_eq(r.t.want_len, 2 * bs);
	rd = read_blocks(_i, 40, 2);
	ck_assert_mem_eq(rd, buf, bs);
	ck_assert_mem_eq(rd + bs, w + bs, bs);
	free(rd);
	/* Write of 1 block with 3 blocks of data-out: one block used. */
	memset(buf, 'c', 3 * bs);
	len = cdb_lba(c, 0x2a, 41, 1, 0);
	exec(&r, lu_of(_i), c, len, buf, 3 * bs, true);
	ck_assert_uint_eq(r.t.xfer_len, bs);
	rd = read_blocks(_i, 40, 3);
	ck_assert_uint_eq(rd[bs], 'c');
	ck_assert_uint_ne(rd[2 * bs], 'c');
	free(rd);
	/* 200 bytes of data-out for one block: nothing written, GOOD. */
	len = cdb_lba(c, 0x2a, 40, 1, 0);
	memset(buf, 'd', bs);
	exec(&r, lu_of(_i), c, len, buf, 200, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, 0);
	rd = read_blocks(_i, 40, 1);
	ck_assert_uint_eq(rd[0], 'b');
	free(rd);
	free(buf);
	free(w);
}
END_TEST

/* ---- VERIFY, WRITE AND VERIFY ---- */

START_TEST(verify)
{
	uint32_t bs = cases[_i].lba_size, nlb = (2 * MiB) / bs + 3;
	uint8_t c[16], *w = write_pattern(_i, 0, nlb, 7);
	struct run r;
	size_t len;

	/* BYTCHK 0: medium verification; no data. */
	len = cdb_lba(c, 0x2f, 0, 4, 0x10);             /* DPO */
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	/* BYTCHK 1, equal, over several NVMe commands. */
	len = cdb_lba(c, 0x8f, 0, nlb, 0x02);
	exec(&r, lu_of(_i), c, len, w, (size_t)nlb * bs, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, (size_t)nlb * bs);
	/* A byte differs: MISCOMPARE with its offset in INFORMATION. */
	size_t at[] = { 0, 37, (size_t)nlb * bs - 1, MiB + 5 };
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		w[at[k]] ^= 0x5a;
		len = cdb_lba(c, k & 1 ? 0xaf : 0x8f, 0, nlb, 0x02);
		exec(&r, lu_of(_i), c, len, w, (size_t)nlb * bs, true);
		assert_sense(&r.t, SCSI_SENSE_MISCOMPARE, SCSI_SENSE_ASCQ_MISCOMPARE_DURING_VERIFY);
		ck_assert_uint_eq(sense_information(&r.t), at[k]);
		w[at[k]] ^= 0x5a;
	}
	/* BYTCHK 11b: one block compared with each. */
	uint8_t *blk = malloc(bs), *same = malloc(4 * (size_t)bs);
	fill(blk, bs, 8);
	for (int k = 0; k < 4; k++)
		memcpy(same + (size_t)k * bs, blk, bs);
	write_blocks(_i, 100, 4, same);
	len = cdb_lba(c, 0x2f, 100, 4, 0x06);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, blk, bs, true)->status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.want_len, bs);
	len = cdb_lba(c, 0x2f, 99, 4, 0x06);
	exec(&r, lu_of(_i), c, len, blk, bs, true);
	assert_sense(&r.t, SCSI_SENSE_MISCOMPARE, SCSI_SENSE_ASCQ_MISCOMPARE_DURING_VERIFY);
	/* BYTCHK 10b is reserved; VRPROTECT must be 0. */
	len = cdb_lba(c, 0x2f, 0, 1, 0x04);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 1, 2);
	len = cdb_lba(c, 0x2f, 0, 1, 0x22);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 1, 7);
	free(blk);
	free(same);
	free(w);
}
END_TEST

START_TEST(write_and_verify)
{
	uint32_t bs = cases[_i].lba_size;
	uint8_t c[16], *w = malloc(16 * (size_t)bs), *rd;
	static const uint8_t ops[] = { 0x2e, 0xae, 0x8e };
	struct run r;
	size_t len;

	for (size_t k = 0; k < sizeof(ops); k++) {
		fill(w, 16 * (size_t)bs, 20 + (unsigned)k);
		len = cdb_lba(c, ops[k], 64, 16, k == 1 ? 0x02 : 0x10);   /* BYTCHK / DPO */
		exec(&r, lu_of(_i), c, len, w, 16 * (size_t)bs, true);
		ck_assert_uint_eq(r.t.status, SCSI_GOOD);
		rd = read_blocks(_i, 64, 16);
		ck_assert_mem_eq(rd, w, 16 * (size_t)bs);
		free(rd);
	}
	len = cdb_lba(c, 0x2e, 64, 1, 0x04);
	assert_field(exec(&r, lu_of(_i), c, len, w, bs, true), true, 1, 2);
	free(w);
}
END_TEST

START_TEST(sync_cache_and_prefetch)
{
	uint8_t c[16];
	struct run r;
	size_t len;

	len = cdb_lba(c, 0x35, 0, 0, 0x02);             /* IMMED */
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x91, 10, 10, 0);
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x34, 0, 256, 0x02);
	c[6] = 3;                                       /* GROUP NUMBER */
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x90, nblocks_of(_i) - 1, 1, 0);
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x90, nblocks_of(_i), 1, 0);
	assert_sense(exec_nodata(&r, lu_of(_i), c, len), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
}
END_TEST

/* ---- WRITE SAME, UNMAP, GET LBA STATUS ---- */

static struct scsi_task *get_lba_status(struct run *r, int i, uint64_t lba, uint8_t *d,
					uint32_t alloc)
{
	uint8_t c[16] = { 0x9e, 0x12 };

	put64(c + 2, lba);
	put32(c + 10, alloc);
	return exec(r, lu_of(i), c, 16, d, alloc, false);
}

/* The provisioning status of lba (0 mapped, 1 deallocated), checked to
 * start exactly at lba. */
static unsigned lba_status(int i, uint64_t lba, uint32_t *count)
{
	uint8_t d[24];
	struct run r;

	get_lba_status(&r, i, lba, d, sizeof(d));
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, 24);
	ck_assert_uint_ge(be32(d), 20);
	ck_assert_uint_eq(be64(d + 8), lba);
	if (count)
		*count = be32(d + 16);
	return d[20] & 0x0f;
}

START_TEST(write_same)
{
	uint32_t bs = cases[_i].lba_size;
	uint64_t nb = nblocks_of(_i);
	uint8_t c[16], *blk = malloc(bs), *rd, *w;
	struct run r;
	size_t len;

	/* A pattern over 300 blocks (several NVMe commands at 4 KiB). */
	fill(blk, bs, 11);
	len = cdb_lba(c, 0x93, 500, 300, 0);
	exec(&r, lu_of(_i), c, len, blk, bs, true);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, bs);
	rd = read_blocks(_i, 500, 300);
	for (int k = 0; k < 300; k++)
		ck_assert_mem_eq(rd + (size_t)k * bs, blk, bs);
	free(rd);
	/* WRITE SAME(10) at the last block. */
	len = cdb_lba(c, 0x41, nb - 1, 1, 0);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, blk, bs, true)->status, SCSI_GOOD);
	/* A zero pattern: Write Zeroes. */
	memset(blk, 0, bs);
	len = cdb_lba(c, 0x41, 500, 100, 0);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, blk, bs, true)->status, SCSI_GOOD);
	rd = read_blocks(_i, 500, 300);
	ck_assert(all_zero(rd, 100 * (size_t)bs));
	ck_assert(!all_zero(rd + 100 * (size_t)bs, bs));
	free(rd);
	/* UNMAP bit: deallocated, reads zero (LBPRZ) even with a pattern. */
	w = write_pattern(_i, 1024, 64, 12);
	fill(blk, bs, 13);
	len = cdb_lba(c, 0x93, 1024, 64, 0x08);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, blk, bs, true)->status, SCSI_GOOD);
	/* (Before reading: the ram backend counts a page read as mapped.) */
	ck_assert_uint_eq(lba_status(_i, 1024, NULL), 1);
	rd = read_blocks(_i, 1024, 64);
	ck_assert(all_zero(rd, 64 * (size_t)bs));
	free(rd);
	free(w);
	/* NDOB: no data-out, zeroes. */
	w = write_pattern(_i, 1200, 4, 14);
	len = cdb_lba(c, 0x93, 1200, 4, 0x01);
	ck_assert_uint_eq(exec_nodata(&r, lu_of(_i), c, len)->status, SCSI_GOOD);
	rd = read_blocks(_i, 1200, 4);
	ck_assert(all_zero(rd, 4 * (size_t)bs));
	free(rd);
	free(w);

	/* 0 blocks: WSNZ, so INVALID FIELD IN CDB; but past the end first. */
	len = cdb_lba(c, 0x41, 0, 0, 0);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 7, -1);
	len = cdb_lba(c, 0x93, 0, 0, 0);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 10, -1);
	len = cdb_lba(c, 0x41, nb + 1, 0, 0);
	assert_sense(exec(&r, lu_of(_i), c, len, blk, bs, true), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	len = cdb_lba(c, 0x93, nb - 1, 2, 0x08);
	assert_sense(exec(&r, lu_of(_i), c, len, blk, bs, true), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	/* ANCHOR (not supported), WRPROTECT. */
	len = cdb_lba(c, 0x41, 0, 1, 0x18);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 1, 4);
	len = cdb_lba(c, 0x41, 0, 1, 0x20);
	assert_field(exec(&r, lu_of(_i), c, len, blk, bs, true), true, 1, 7);
	/* The Data-Out Buffer is one block, no more, no less. */
	uint8_t *two = calloc(2, bs);
	len = cdb_lba(c, 0x41, 0, 1, 0x08);
	assert_sense(exec(&r, lu_of(_i), c, len, two, bs / 2, true), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
	assert_sense(exec(&r, lu_of(_i), c, len, two, 2 * bs, true), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
	free(two);
	free(blk);
}
END_TEST

/* An UNMAP parameter list of n descriptors. */
static size_t unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *nlb, int n)
{
	memset(p, 0, 8 + 16 * (size_t)n);
	put16(p, (uint16_t)(6 + 16 * n));
	put16(p + 2, (uint16_t)(16 * n));
	for (int k = 0; k < n; k++) {
		put64(p + 8 + 16 * k, lba[k]);
		put32(p + 16 + 16 * k, nlb[k]);
	}
	return 8 + 16 * (size_t)n;
}

static struct scsi_task *unmap(struct run *r, int i, uint8_t *list, size_t len, uint8_t byte1)
{
	uint8_t c[10] = { 0x42, byte1 };

	put16(c + 7, (uint16_t)len);
	return exec(r, lu_of(i), c, 10, list, len, true);
}

START_TEST(unmap_and_lba_status)
{
	uint32_t bs = cases[_i].lba_size, per_page = 4096 / bs, count;
	uint64_t nb = nblocks_of(_i);
	uint8_t list[8 + 16 * 300], *w, *rd;
	struct run r;
	size_t len;

	/* Written blocks are mapped. */
	w = write_pattern(_i, 2048, 64 * per_page, 15);
	ck_assert_uint_eq(lba_status(_i, 2048, &count), 0);
	ck_assert_uint_ge(count, 64 * per_page);
	/* Unmap two page-aligned ranges (and a 0-length one). */
	uint64_t lbas[3] = { 2048 + 8 * per_page, 2048 + 40 * per_page, 0 };
	uint32_t nlbs[3] = { 8 * per_page, 4 * per_page, 0 };
	len = unmap_list(list, lbas, nlbs, 3);
	unmap(&r, _i, list, len, 0);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(r.t.xfer_len, len);
	/* GET LBA STATUS: mapped, then deallocated for exactly the range
	 * (before reading: the ram backend counts a page read as mapped). */
	ck_assert_uint_eq(lba_status(_i, 2048, &count), 0);
	ck_assert_uint_eq(count, 8 * per_page);
	ck_assert_uint_eq(lba_status(_i, 2048 + 8 * per_page, &count), 1);
	ck_assert_uint_eq(count, 8 * per_page);
	ck_assert_uint_eq(lba_status(_i, 2048 + 16 * per_page, NULL), 0);
	/* Several descriptors in one answer. */
	uint8_t d[8 + 16 * 8];
	get_lba_status(&r, _i, 2048, d, sizeof(d));
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_ge(be32(d), 4 + 16 * 4);
	ck_assert_uint_eq(be64(d + 8 + 16), 2048 + 8 * per_page);
	ck_assert_uint_eq(d[8 + 16 + 12], 1);
	ck_assert_uint_eq(be64(d + 8 + 32), 2048 + 16 * per_page);
	ck_assert_uint_eq(d[8 + 32 + 12], 0);
	rd = read_blocks(_i, 2048, 64 * per_page);
	ck_assert_mem_eq(rd, w, 8 * (size_t)per_page * bs);
	ck_assert(all_zero(rd + 8 * (size_t)per_page * bs, 8 * (size_t)per_page * bs));
	ck_assert_mem_eq(rd + 16 * (size_t)per_page * bs, w + 16 * (size_t)per_page * bs,
			 24 * (size_t)per_page * bs);
	ck_assert(all_zero(rd + 40 * (size_t)per_page * bs, 4 * (size_t)per_page * bs));
	free(rd);
	/* Beyond the end. */
	assert_sense(get_lba_status(&r, _i, nb, d, sizeof(d)), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	lba_status(_i, nb - 1, &count);
	ck_assert_uint_eq(count, 1);

	/* A bad descriptor: LBA OUT OF RANGE and nothing unmapped. */
	lbas[0] = 2048;
	nlbs[0] = per_page;
	lbas[1] = nb - 1;
	nlbs[1] = 2;
	len = unmap_list(list, lbas, nlbs, 2);
	assert_sense(unmap(&r, _i, list, len, 0), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	ck_assert_uint_eq(lba_status(_i, 2048, NULL), 0);
	/* 0 blocks at the end of the medium, no descriptors, no list: GOOD. */
	lbas[0] = nb;
	nlbs[0] = 0;
	len = unmap_list(list, lbas, nlbs, 1);
	ck_assert_uint_eq(unmap(&r, _i, list, len, 0)->status, SCSI_GOOD);
	len = unmap_list(list, lbas, nlbs, 0);
	ck_assert_uint_eq(unmap(&r, _i, list, len, 0)->status, SCSI_GOOD);
	ck_assert_uint_eq(unmap(&r, _i, list, 0, 0)->status, SCSI_GOOD);
	/* A list shorter than its header; ANCHOR; too many descriptors. */
	assert_sense(unmap(&r, _i, list, 4, 0), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
	assert_field(unmap(&r, _i, list, 8, 0x01), true, 1, 0);
	uint64_t many_lba[257];
	uint32_t many_nlb[257];
	for (int k = 0; k < 257; k++) {
		many_lba[k] = (uint64_t)k;
		many_nlb[k] = 1;
	}
	len = unmap_list(list, many_lba, many_nlb, 257);
	assert_field(unmap(&r, _i, list, len, 0), false, 2, -1);
	len = unmap_list(list, many_lba, many_nlb, 256);
	ck_assert_uint_eq(unmap(&r, _i, list, len, 0)->status, SCSI_GOOD);
	free(w);
}
END_TEST

/* ---- COMPARE AND WRITE, ORWRITE ---- */

static struct scsi_task *caw(struct run *r, int i, uint64_t lba, uint8_t nlb, uint8_t *data,
			     size_t len, uint8_t byte1)
{
	uint8_t c[16] = { 0x89, byte1 };

	put64(c + 2, lba);
	c[13] = nlb;
	return exec(r, lu_of(i), c, 16, data, len, true);
}

START_TEST(compare_and_write)
{
	uint32_t bs = cases[_i].lba_size;
	uint64_t nb = nblocks_of(_i);
	uint8_t *data = malloc(2 * 8 * (size_t)bs), *rd;
	struct run r;

	for (uint8_t nlb = 1; nlb <= 8; nlb = (uint8_t)(nlb * 2)) {
		size_t half = (size_t)nlb * bs;
		uint64_t lba = nlb == 8 ? nb - 8 : 300;

		memset(data, 'A', half);
		write_blocks(_i, lba, nlb, data);
		memset(data + half, 'B', half);
		caw(&r, _i, lba, nlb, data, 2 * half, 0x08);            /* FUA */
		ck_assert_uint_eq(r.t.status, SCSI_GOOD);
		ck_assert_uint_eq(r.t.xfer_len, 2 * half);
		rd = read_blocks(_i, lba, nlb);
		for (size_t k = 0; k < half; k++)
			ck_assert_uint_eq(rd[k], 'B');
		free(rd);
		/* Miscompare: nothing written, INFORMATION = first differing byte. */
		memset(data, 'B', half);
		data[half - 27] = 'C';
		memset(data + half, 'D', half);
		caw(&r, _i, lba, nlb, data, 2 * half, 0);
		assert_sense(&r.t, SCSI_SENSE_MISCOMPARE, SCSI_SENSE_ASCQ_MISCOMPARE_DURING_VERIFY);
		ck_assert_uint_eq(sense_information(&r.t), half - 27);
		rd = read_blocks(_i, lba, nlb);
		for (size_t k = 0; k < half; k++)
			ck_assert_uint_eq(rd[k], 'B');
		free(rd);
	}
	/* 0 blocks: GOOD; beyond the end; too long; wrong data-out size. */
	ck_assert_uint_eq(caw(&r, _i, 0, 0, NULL, 0, 0)->status, SCSI_GOOD);
	assert_sense(caw(&r, _i, nb, 1, data, 2 * bs, 0), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	assert_field(caw(&r, _i, 0, 1, data, bs, 0), true, 13, -1);
	assert_field(caw(&r, _i, 0, 1, data, 4 * bs, 0), true, 13, -1);
	assert_field(caw(&r, _i, 0, 1, data, 2 * bs, 0x20), true, 1, 7);
	free(data);
}
END_TEST

START_TEST(orwrite)
{
	uint32_t bs = cases[_i].lba_size;
	uint8_t c[16], *buf = malloc(4 * (size_t)bs), *rd;
	struct run r;
	size_t len;

	memset(buf, 0, 4 * (size_t)bs);
	write_blocks(_i, 700, 4, buf);
	len = cdb_lba(c, 0x8b, 700, 4, 0);
	memset(buf, 0xa5, 4 * (size_t)bs);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, buf, 4 * (size_t)bs, true)->status,
			  SCSI_GOOD);
	memset(buf, 0x5a, 4 * (size_t)bs);
	ck_assert_uint_eq(exec(&r, lu_of(_i), c, len, buf, 4 * (size_t)bs, true)->status,
			  SCSI_GOOD);
	rd = read_blocks(_i, 700, 4);
	for (size_t k = 0; k < 4 * (size_t)bs; k++)
		ck_assert_uint_eq(rd[k], 0xff);
	free(rd);
	len = cdb_lba(c, 0x8b, nblocks_of(_i) - 1, 4, 0);
	assert_sense(exec(&r, lu_of(_i), c, len, buf, 4 * (size_t)bs, true),
		     SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	free(buf);
}
END_TEST

/* ---- MODE SENSE / MODE SELECT ---- */

static struct scsi_task *mode_sense6(struct run *r, int i, uint8_t byte2, uint8_t *d,
				     uint8_t alloc)
{
	uint8_t c[6] = { 0x1a, 0, byte2, 0, alloc, 0 };

	return exec(r, lu_of(i), c, 6, d, alloc, false);
}

/* The page of a MODE SENSE answer, or NULL. */
static const uint8_t *mode_page(const uint8_t *d, size_t len, bool six, uint8_t code)
{
	size_t off = six ? 4u + d[3] : 8u + be16(d + 6);

	for (; off + 2 <= len; off += 2u + d[off + 1])
		if ((d[off] & 0x3f) == code)
			return d + off;
	return NULL;
}

START_TEST(mode_sense)
{
	uint8_t d[255], c10[10] = { 0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255, 0 };
	const uint8_t *pg;
	struct run r;
	struct scsi_task *t;

	/* All pages, block descriptor, device-specific parameter. */
	t = mode_sense6(&r, 0, 0x3f, d, 255);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(d[0] + 1u, t->xfer_len);
	ck_assert_uint_lt(t->xfer_len, 255);            /* underflow for the transport */
	ck_assert_uint_eq(d[2], 0x10);                  /* DPOFUA, not write protected */
	ck_assert_uint_eq(d[3], 8);
	ck_assert_uint_eq(be32(d + 4), nblocks_of(0));
	ck_assert_uint_eq(be32(d + 8) & 0xffffff, 512);
	pg = mode_page(d, t->xfer_len, true, 0x08);
	ck_assert_ptr_nonnull(pg);
	ck_assert_uint_eq(pg[1], 0x12);
	ck_assert_uint_eq(pg[2] & 0x04, 0x04);          /* WCE */
	pg = mode_page(d, t->xfer_len, true, 0x0a);
	ck_assert_ptr_nonnull(pg);
	ck_assert_uint_eq(pg[1], 0x0a);
	ck_assert_uint_eq(pg[2] & 0x04, 0);             /* D_SENSE */
	ck_assert_uint_eq(pg[3] >> 4, 1);
	ck_assert_ptr_nonnull(mode_page(d, t->xfer_len, true, 0x1c));
	/* One page, without block descriptors. */
	uint8_t c6[6] = { 0x1a, 0x08, 0x0a, 0, 255, 0 };
	t = exec(&r, lu_of(0), c6, 6, d, 255, false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 4 + 12);
	ck_assert_uint_eq(d[3], 0);
	ck_assert_uint_eq(d[4], 0x0a);
	/* Changeable values: WCE, D_SENSE, SWP. */
	t = mode_sense6(&r, 0, 0x40 | 0x3f, d, 255);
	ck_assert_uint_eq(mode_page(d, t->xfer_len, true, 0x08)[2], 0x04);
	pg = mode_page(d, t->xfer_len, true, 0x0a);
	ck_assert_uint_eq(pg[2], 0x04);
	ck_assert_uint_eq(pg[3], 0);
	ck_assert_uint_eq(pg[4], 0x08);
	/* Four bytes asked: four bytes, no residual overflow. */
	t = mode_sense6(&r, 0, 0x3f, d, 4);
	ck_assert_uint_eq(t->xfer_len, 4);
	ck_assert_uint_eq(t->want_len, 4);
	/* MODE SENSE(10) with a long LBA block descriptor. */
	c10[1] = 0x10;
	t = exec(&r, lu_of(1), c10, 10, d, 255, false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(be16(d) + 2u, t->xfer_len);
	ck_assert_uint_eq(d[4] & 1, 1);
	ck_assert_uint_eq(be16(d + 6), 16);
	ck_assert_uint_eq(be64(d + 8), nblocks_of(1));
	ck_assert_uint_eq(be32(d + 20), 4096);
	ck_assert_ptr_nonnull(mode_page(d, t->xfer_len, false, 0x08));
	/* Saved values are not supported; unknown page; subpage. */
	assert_sense(mode_sense6(&r, 0, 0xc0 | 0x08, d, 255), SCSI_SENSE_ILLEGAL_REQUEST, 0x3900);
	assert_field(mode_sense6(&r, 0, 0x19, d, 255), true, 2, 5);
	c6[1] = 0;
	c6[3] = 1;
	assert_field(exec(&r, lu_of(0), c6, 6, d, 255, false), true, 3, -1);
	c6[2] = 0x3f;
	c6[3] = 0xff;
	ck_assert_uint_eq(exec(&r, lu_of(0), c6, 6, d, 255, false)->status, SCSI_GOOD);
}
END_TEST

static int mode_changed_calls;
static uint16_t pending_ua;
static bool reservation_conflict_on;

static uint16_t take_ua_hook(struct scsi_task *t)
{
	uint16_t ua = pending_ua;

	pending_ua = 0;
	return ua;
}

static bool conflict_hook(struct scsi_task *t)
{
	return reservation_conflict_on && t->cdb[0] != 0x12;
}

static void mode_changed_hook(struct scsi_task *t)
{
	mode_changed_calls++;
}

static int list_luns_hook(struct scsi_task *t, uint64_t *luns, int max)
{
	static const uint64_t mine[] = { 0, 1, 300, 16383 };

	for (int i = 0; i < 4 && i < max; i++)
		luns[i] = mine[i];
	return 4;
}

static const struct scsi_hooks hooks = {
	.take_ua = take_ua_hook,
	.reservation_conflict = conflict_hook,
	.mode_changed = mode_changed_hook,
	.list_luns = list_luns_hook,
};

/* MODE SELECT(6) with the page as MODE SENSE returned it. */
static struct scsi_task *mode_select_page(struct run *r, int i, const uint8_t *pg, uint8_t byte1)
{
	uint8_t list[4 + 32] = { 0 }, c[6] = { 0x15, byte1 };
	size_t len = 4 + 2u + pg[1];

	memcpy(list + 4, pg, 2u + pg[1]);
	list[4] &= 0x7f;                                /* PS is reserved here */
	c[4] = (uint8_t)len;
	return exec(r, lu_of(i), c, 6, list, len, true);
}

START_TEST(mode_select)
{
	uint8_t d[255], pg[32], c[16], *buf = calloc(1, 512);
	struct run r;
	struct scsi_task *t;
	size_t len;

	cur_hooks = &hooks;
	mode_changed_calls = 0;
	/* Caching page: WCE off, then on. */
	t = mode_sense6(&r, 0, 0x08, d, 255);
	memcpy(pg, mode_page(d, t->xfer_len, true, 0x08), 0x14);
	pg[2] &= (uint8_t)~0x04;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	ck_assert(!atomic_load(&modes[0].wce));
	ck_assert_int_eq(mode_changed_calls, 1);
	t = mode_sense6(&r, 0, 0x08, d, 255);
	ck_assert_uint_eq(mode_page(d, t->xfer_len, true, 0x08)[2] & 0x04, 0);
	/* Writes still work (each with FUA now). */
	write_blocks(0, 0, 1, buf);
	pg[2] |= 0x04;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	ck_assert(atomic_load(&modes[0].wce));
	/* The same values again change nothing. */
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	ck_assert_int_eq(mode_changed_calls, 2);

	/* A bit that is not changeable: INVALID FIELD IN PARAMETER LIST at it. */
	pg[2] |= 0x01;                                  /* RCD */
	assert_field(mode_select_page(&r, 0, pg, 0x10), false, 4 + 2, 0);
	pg[2] &= (uint8_t)~0x01;
	pg[1] = 0x11;                                   /* page length */
	assert_field(mode_select_page(&r, 0, pg, 0x10), false, 4 + 1, -1);
	pg[1] = 0x12;
	/* SP (nothing is saved), PF 0. */
	assert_field(mode_select_page(&r, 0, pg, 0x11), true, 1, 0);
	assert_field(mode_select_page(&r, 0, pg, 0x00), true, 1, 4);
	/* A list cut short. */
	uint8_t cut[6] = { 0x15, 0x10, 0, 0, 10, 0 }, list[10] = { 0, 0, 0, 0, 0x08, 0x12 };
	assert_sense(exec(&r, lu_of(0), cut, 6, list, 10, true), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);

	/* Control page: D_SENSE → descriptor format sense from now on. */
	t = mode_sense6(&r, 0, 0x0a, d, 255);
	memcpy(pg, mode_page(d, t->xfer_len, true, 0x0a), 12);
	pg[2] |= 0x04;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x88, UINT64_MAX, 1, 0);
	t = exec(&r, lu_of(0), c, len, buf, 512, false);
	assert_sense(t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
	ck_assert_uint_eq(t->sense[0], 0x72);
	len = cdb_lba(c, 0x28, 0, 1, 0x04);
	t = exec(&r, lu_of(0), c, len, buf, 512, false);
	ck_assert_uint_eq(t->sense[0], 0x72);
	assert_field(t, true, 1, 2);
	/* ... on the other LU, still fixed format. */
	t = exec(&r, lu_of(1), c, len, buf, 512, false);
	ck_assert_uint_eq(t->sense[0], 0x70);
	pg[2] &= (uint8_t)~0x04;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);

	/* SWP: the medium is write protected; reads still work. */
	pg[4] |= 0x08;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	t = mode_sense6(&r, 0, 0x3f, d, 255);
	ck_assert_uint_eq(d[2] & 0x80, 0x80);           /* WP */
	len = cdb_lba(c, 0x2a, 0, 1, 0);
	assert_sense(exec(&r, lu_of(0), c, len, buf, 512, true), SCSI_SENSE_DATA_PROTECTION,
		     SCSI_SENSE_ASCQ_SOFTWARE_WRITE_PROTECTED);
	uint8_t um[24] = { 0, 22, 0, 16 };
	put32(um + 16, 1);
	assert_sense(unmap(&r, 0, um, sizeof(um), 0), SCSI_SENSE_DATA_PROTECTION,
		     SCSI_SENSE_ASCQ_SOFTWARE_WRITE_PROTECTED);
	len = cdb_lba(c, 0x28, 0, 1, 0);
	ck_assert_uint_eq(exec(&r, lu_of(0), c, len, buf, 512, false)->status, SCSI_GOOD);
	pg[4] &= (uint8_t)~0x08;
	ck_assert_uint_eq(mode_select_page(&r, 0, pg, 0x10)->status, SCSI_GOOD);
	len = cdb_lba(c, 0x2a, 0, 1, 0);
	ck_assert_uint_eq(exec(&r, lu_of(0), c, len, buf, 512, true)->status, SCSI_GOOD);

	/* MODE SELECT(10), with a block descriptor of the right block size. */
	uint8_t c10[10] = { 0x55, 0x10 }, l10[8 + 8 + 0x14] = { 0 };
	put16(l10 + 6, 8);
	put32(l10 + 8 + 4, 4096);
	t = mode_sense6(&r, 1, 0x08, d, 255);
	memcpy(l10 + 16, mode_page(d, t->xfer_len, true, 0x08), 0x14);
	put16(c10 + 7, sizeof(l10));
	ck_assert_uint_eq(exec(&r, lu_of(1), c10, 10, l10, sizeof(l10), true)->status, SCSI_GOOD);
	put32(l10 + 8 + 4, 512);
	assert_field(exec(&r, lu_of(1), c10, 10, l10, sizeof(l10), true), false, 12, -1);

	/* Without a volatile write cache, WCE is 0 and cannot be set. */
	uint8_t ms[6] = { 0x1a, 0x08, 0x08, 0, 255, 0 };
	t = exec(&r, &novwc_lu, ms, 6, d, 255, false);
	memcpy(pg, d + 4, 0x14);
	ck_assert_uint_eq(pg[2] & 0x04, 0);
	ms[2] = 0x48;
	exec(&r, &novwc_lu, ms, 6, d, 255, false);
	ck_assert_uint_eq(d[4 + 2], 0);
	uint8_t msel[6] = { 0x15, 0x10, 0, 0, 4 + 0x14, 0 }, sel[4 + 0x14] = { 0 };
	memcpy(sel + 4, pg, 0x14);
	sel[4 + 2] |= 0x04;
	assert_field(exec(&r, &novwc_lu, msel, 6, sel, sizeof(sel), true), false, 4 + 2, 2);
	len = cdb_lba(c, 0x2a, 0, 1, 0);
	ck_assert_uint_eq(exec(&r, &novwc_lu, c, len, buf, 512, true)->status, SCSI_GOOD);

	/* Without mode storage nothing is changeable. */
	struct scsi_lu fixed = lus[1];
	fixed.mode = NULL;
	uint8_t c6[6] = { 0x1a, 0, 0x48, 0, 255, 0 };
	t = exec(&r, &fixed, c6, 6, d, 255, false);
	ck_assert_uint_eq(mode_page(d, t->xfer_len, true, 0x08)[2], 0);
	free(buf);
}
END_TEST

/* ---- REQUEST SENSE, unit attentions, reservations ---- */

START_TEST(request_sense_and_unit_attention)
{
	uint8_t c[6] = { 0x03, 0, 0, 0, 252, 0 }, d[252], tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0,
										    96, 0 };
	struct run r;
	struct scsi_task *t;

	cur_hooks = &hooks;
	/* Nothing pending: NO SENSE. */
	t = exec(&r, lu_of(0), c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 18);
	ck_assert_uint_eq(d[0], 0x70);
	ck_assert_uint_eq(d[2] & 0x0f, 0);
	/* INQUIRY does not report (or clear) a unit attention, TEST UNIT READY does. */
	pending_ua = 0x2901;
	ck_assert_uint_eq(exec(&r, lu_of(0), inq, 6, d, 96, false)->status, SCSI_GOOD);
	ck_assert_uint_eq(pending_ua, 0x2901);
	assert_sense(exec_nodata(&r, lu_of(0), tur, 6), SCSI_SENSE_UNIT_ATTENTION, 0x2901);
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), tur, 6)->status, SCSI_GOOD);
	/* REQUEST SENSE returns it as data, descriptor format when DESC. */
	pending_ua = 0x2a09;
	c[1] = 1;
	t = exec(&r, lu_of(0), c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(d[0], 0x72);
	ck_assert_uint_eq(d[1], SCSI_SENSE_UNIT_ATTENTION);
	ck_assert_uint_eq(d[2], 0x2a);
	ck_assert_uint_eq(d[3], 0x09);
	ck_assert_uint_eq(pending_ua, 0);
	/* No logical unit: LOGICAL UNIT NOT SUPPORTED as data. */
	c[1] = 0;
	t = exec(&r, NULL, c, 6, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(d[2], SCSI_SENSE_ILLEGAL_REQUEST);
	ck_assert_uint_eq(d[12], 0x25);
	/* Reservation conflicts: status only, no sense. */
	reservation_conflict_on = true;
	t = exec_nodata(&r, lu_of(0), tur, 6);
	ck_assert_uint_eq(t->status, SCSI_RESERVATION_CONFLICT);
	ck_assert_uint_eq(t->sense_len, 0);
	ck_assert_uint_eq(exec(&r, lu_of(0), inq, 6, d, 96, false)->status, SCSI_GOOD);
	reservation_conflict_on = false;
}
END_TEST

/* ---- REPORT LUNS ---- */

START_TEST(report_luns)
{
	uint8_t c[12] = { 0xa0 }, d[64];
	struct run r;
	struct scsi_task *t;

	put32(c + 6, sizeof(d));
	/* Without the hook: the addressed LU. */
	t = exec(&r, lu_of(1), c, 12, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(be32(d), 8);
	ck_assert_uint_eq(t->xfer_len, 16);
	ck_assert_uint_eq(d[9], 1);
	/* From the session's list, also through a LUN without a logical unit. */
	cur_hooks = &hooks;
	t = exec(&r, NULL, c, 12, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(be32(d), 32);
	ck_assert_uint_eq(t->xfer_len, 40);
	ck_assert_uint_eq(be64(d + 8), 0);
	ck_assert_uint_eq(be64(d + 16), 0x0001000000000000ull);
	ck_assert_uint_eq(be64(d + 24), 0x412c000000000000ull);  /* 300, flat space */
	ck_assert_uint_eq(be64(d + 32), 0x7fff000000000000ull);
	/* Short allocation: the list length still tells the whole size. */
	put32(c + 6, 16);
	t = exec(&r, lu_of(0), c, 12, d, sizeof(d), false);
	ck_assert_uint_eq(t->xfer_len, 16);
	ck_assert_uint_eq(t->want_len, 16);
	ck_assert_uint_eq(be32(d), 32);
	put32(c + 6, 15);
	assert_field(exec(&r, lu_of(0), c, 12, d, sizeof(d), false), true, 6, -1);
	/* Well known LUNs only: none; unknown SELECT REPORT. */
	put32(c + 6, sizeof(d));
	c[2] = 1;
	t = exec(&r, lu_of(0), c, 12, d, sizeof(d), false);
	ck_assert_uint_eq(be32(d), 0);
	c[2] = 3;
	assert_field(exec(&r, lu_of(0), c, 12, d, sizeof(d), false), true, 2, -1);
}
END_TEST

START_TEST(lun_encoding)
{
	uint8_t b[8];

	for (uint64_t lun = 0; lun < 16384; lun += 7) {
		scsi_lun_encode(lun, b);
		ck_assert_uint_eq(scsi_lun_decode(b), lun);
	}
	memset(b, 0, 8);
	b[0] = 0x80;
	ck_assert_uint_eq(scsi_lun_decode(b), UINT64_MAX);
	b[0] = 0x01;                                    /* bus 1 */
	ck_assert_uint_eq(scsi_lun_decode(b), UINT64_MAX);
	b[0] = 0;
	b[5] = 1;
	ck_assert_uint_eq(scsi_lun_decode(b), UINT64_MAX);
	uint8_t read10[10] = { 0x28 }, inq[6] = { 0x12 }, bogus[6] = { 0xc5 };
	ck_assert_int_eq(scsi_cdb_dir(read10, 10), SCSI_DIR_IN);
	read10[0] = 0x2a;
	ck_assert_int_eq(scsi_cdb_dir(read10, 10), SCSI_DIR_OUT);
	ck_assert_int_eq(scsi_cdb_dir(inq, 6), SCSI_DIR_IN);
	ck_assert_int_eq(scsi_cdb_dir(bogus, 6), SCSI_DIR_NONE);
}
END_TEST

/* ---- REPORT SUPPORTED OPERATION CODES and the plug-in slots ---- */

static int ext_calls;

static void ext_pr_in(struct scsi_task *t)
{
	uint8_t d[8] = { 0, 0, 0, 1 };

	ext_calls++;
	scsi_task_data_in(t, d, sizeof(d), be16(t->cdb + 7));
	scsi_task_good(t);
	scsi_task_complete(t);
}

struct rsoc_entry {
	uint8_t op;
	uint16_t sa;
	bool servactv;
	uint16_t cdb_len;
};

static int rsoc_all(struct rsoc_entry *e, int max, bool rctd)
{
	uint8_t c[12] = { 0xa3, 0x0c, rctd ? 0x80 : 0 }, d[4096];
	struct run r;
	size_t each = rctd ? 20 : 8;
	int n;

	put32(c + 6, sizeof(d));
	exec(&r, lu_of(0), c, 12, d, sizeof(d), false);
	ck_assert_uint_eq(r.t.status, SCSI_GOOD);
	ck_assert_uint_eq(be32(d) + 4u, r.t.xfer_len);
	n = (int)(be32(d) / each);
	ck_assert_uint_eq(be32(d) % each, 0);
	ck_assert_int_le(n, max);
	for (int k = 0; k < n; k++) {
		const uint8_t *p = d + 4 + each * (size_t)k;

		e[k] = (struct rsoc_entry){ p[0], be16(p + 2), p[5] & 1, be16(p + 6) };
		ck_assert_uint_eq(!!(p[5] & 2), rctd);
		if (!e[k].servactv)
			ck_assert_uint_eq(e[k].sa, 0);
		if (rctd)
			ck_assert_uint_eq(be16(p + 8), 0x0a);
	}
	return n;
}

static struct scsi_task *rsoc_one(struct run *r, uint8_t options, uint8_t op, uint16_t sa,
				  uint8_t *d, size_t len)
{
	uint8_t c[12] = { 0xa3, 0x0c, options, op };

	put16(c + 4, sa);
	put32(c + 6, (uint32_t)len);
	return exec(r, lu_of(0), c, 12, d, len, false);
}

START_TEST(report_opcodes)
{
	static const uint8_t expect[][2] = {
		{ 0x00, 0 }, { 0x03, 0 }, { 0x08, 0 }, { 0x0a, 0 }, { 0x12, 0 }, { 0x15, 0 },
		{ 0x1a, 0 }, { 0x1b, 0 }, { 0x1e, 0 }, { 0x25, 0 }, { 0x28, 0 }, { 0x2a, 0 },
		{ 0x2e, 0 }, { 0x2f, 0 }, { 0x34, 0 }, { 0x35, 0 }, { 0x37, 0 }, { 0x41, 0 },
		{ 0x42, 0 }, { 0x55, 0 }, { 0x5a, 0 }, { 0x88, 0 }, { 0x89, 0 }, { 0x8a, 0 },
		{ 0x8b, 0 }, { 0x8e, 0 }, { 0x8f, 0 }, { 0x90, 0 }, { 0x91, 0 }, { 0x93, 0 },
		{ 0x9e, 0x10 }, { 0x9e, 0x12 }, { 0xa0, 0 }, { 0xa3, 0x0c }, { 0xa3, 0x0d },
		{ 0xa8, 0 }, { 0xaa, 0 }, { 0xae, 0 }, { 0xaf, 0 }, { 0xb7, 0 },
	};
	struct rsoc_entry e[128];
	uint8_t d[256];
	struct run r;
	struct scsi_task *t;
	int n = rsoc_all(e, 128, false);

	/* Exactly the table: every implemented command, nothing else. */
	ck_assert_int_eq(n, (int)(sizeof(expect) / sizeof(expect[0])));
	for (int k = 0; k < n; k++) {
		ck_assert_uint_eq(e[k].op, expect[k][0]);
		ck_assert_uint_eq(e[k].sa, expect[k][1]);
		ck_assert_uint_eq(e[k].servactv, e[k].op == 0x9e || e[k].op == 0xa3);
		/* One-command forms agree with the list. */
		t = rsoc_one(&r, e[k].servactv ? 2 : 1, e[k].op, e[k].sa, d, sizeof(d));
		ck_assert_uint_eq(t->status, SCSI_GOOD);
		ck_assert_uint_eq(d[1] & 7, 3);
		ck_assert_uint_eq(be16(d + 2), e[k].cdb_len);
		ck_assert_uint_eq(d[4], e[k].op);
		if (e[k].servactv)
			ck_assert_uint_eq(d[5] & 0x1f, e[k].sa);
		/* The wrong form is INVALID FIELD IN CDB. */
		assert_field(rsoc_one(&r, e[k].servactv ? 1 : 2, e[k].op, e[k].sa, d, sizeof(d)),
			     true, 2, 2);
		/* The usage data is what the dispatcher enforces: a usage bit
		 * never makes INVALID FIELD because it is reserved. */
		uint8_t usage[16];
		memcpy(usage, d + 4, e[k].cdb_len);
		ck_assert_uint_eq(usage[e[k].cdb_len - 1], 0);  /* NACA, LINK */
	}
	/* READ(10): DPO/FUA usage bits, the usage map itself. */
	static const uint8_t read10[] = { 0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0 };
	t = rsoc_one(&r, 1, 0x28, 0, d, sizeof(d));
	ck_assert_uint_eq(t->xfer_len, 4 + 10);
	ck_assert_mem_eq(d + 4, read10, 10);
	t = rsoc_one(&r, 0x81, 0x89, 0, d, sizeof(d));  /* RCTD */
	ck_assert_uint_eq(d[1], 0x83);
	ck_assert_uint_eq(d[5] & 0x18, 0x18);
	ck_assert_uint_eq(t->xfer_len, 4 + 16 + 12);
	ck_assert_uint_eq(be16(d + 20), 0x0a);
	/* With timeouts, every command. */
	ck_assert_int_eq(rsoc_all(e, 128, true), n);
	/* Not supported: SUPPORT 001b; options 011b take either kind. */
	t = rsoc_one(&r, 1, 0xc7, 0, d, sizeof(d));
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(d[1] & 7, 1);
	t = rsoc_one(&r, 3, 0x9e, 0x10, d, sizeof(d));
	ck_assert_uint_eq(d[1] & 7, 3);
	t = rsoc_one(&r, 2, 0x9e, 0x1f, d, sizeof(d));
	ck_assert_uint_eq(d[1] & 7, 1);
	assert_field(rsoc_one(&r, 5, 0x28, 0, d, sizeof(d)), true, 2, 2);

	/* Plug-in slots: PERSISTENT RESERVE IN is unsupported until plugged,
	 * then listed (every service action) and dispatched. */
	uint8_t prin[10] = { 0x5e, 0x00, 0, 0, 0, 0, 0, 0, 8, 0 };
	assert_sense(exec(&r, lu_of(0), prin, 10, d, 8, false), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE);
	t = rsoc_one(&r, 2, 0x5e, 0, d, sizeof(d));
	ck_assert_uint_eq(d[1] & 7, 1);
	scsi_set_ext_handler(SCSI_EXT_PERSISTENT_RESERVE_IN, ext_pr_in);
	ext_calls = 0;
	t = exec(&r, lu_of(0), prin, 10, d, 8, false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_int_eq(ext_calls, 1);
	ck_assert_uint_eq(d[3], 1);
	ck_assert_int_eq(rsoc_all(e, 128, false), n + 4);
	t = rsoc_one(&r, 2, 0x5e, 3, d, sizeof(d));
	ck_assert_uint_eq(d[1] & 7, 3);
	prin[1] = 0x04;                                 /* unknown service action */
	assert_field(exec(&r, lu_of(0), prin, 10, d, 8, false), true, 1, 4);
	prin[1] = 0x00;
	prin[2] = 0x01;                                 /* reserved bit */
	assert_field(exec(&r, lu_of(0), prin, 10, d, 8, false), true, 2, 0);
	scsi_set_ext_handler(SCSI_EXT_PERSISTENT_RESERVE_IN, NULL);
	ck_assert_int_eq(rsoc_all(e, 128, false), n);
	/* REPORT TARGET PORT GROUPS, RESERVE(6): slots, unplugged. */
	uint8_t rtpg[12] = { 0xa3, 0x0a };
	put32(rtpg + 6, 64);
	assert_field(exec(&r, lu_of(0), rtpg, 12, d, 64, false), true, 1, 4);
	uint8_t resv6[6] = { 0x16 };
	assert_sense(exec_nodata(&r, lu_of(0), resv6, 6), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE);
}
END_TEST

/* ---- dispatcher checks ---- */

START_TEST(cdb_validation)
{
	uint8_t c[16], d[512];
	struct run r;
	size_t len;

	/* Unknown opcode; unknown service action of SERVICE ACTION IN(16). */
	memset(c, 0, 16);
	c[0] = 0xc5;
	assert_sense(exec_nodata(&r, lu_of(0), c, 6), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE);
	c[0] = 0x9e;
	c[1] = 0x11;
	assert_field(exec(&r, lu_of(0), c, 16, d, 32, false), true, 1, 4);
	/* Control byte: NACA and LINK are not supported. */
	len = cdb_lba(c, 0x28, 0, 1, 0);
	c[9] = 0x04;
	assert_field(exec(&r, lu_of(0), c, len, d, 512, false), true, 9, 2);
	c[9] = 0x01;
	assert_field(exec(&r, lu_of(0), c, len, d, 512, false), true, 9, 0);
	/* Reserved bits: TEST UNIT READY byte 2, READ CAPACITY(10) byte 1. */
	uint8_t tur[6] = { 0, 0, 0x10, 0, 0, 0 }, rc10[10] = { 0x25, 0x01 };
	assert_field(exec_nodata(&r, lu_of(0), tur, 6), true, 2, 4);
	assert_field(exec(&r, lu_of(0), rc10, 10, d, 8, false), true, 1, 0);
	/* A CDB shorter than the command's. */
	memset(&r.t, 0, sizeof(r.t));
	r.t.cdb[0] = 0x88;
	r.t.cdb_len = 10;
	r.t.lu = lu_of(0);
	r.t.reactor = reactor;
	r.t.done = run_done;
	r.done = 0;
	scsi_task_exec(&r.t);
	ck_assert_int_eq(r.done, 1);
	assert_field(&r.t, true, 0, -1);
	/* No logical unit at the LUN. */
	uint8_t tur0[6] = { 0 };
	assert_sense(exec_nodata(&r, NULL, tur0, 6), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
	/* A LU whose namespace went away. */
	struct scsi_lu gone = { .subsys = ss, .nsid = 77, .lun = 5 };
	assert_sense(exec_nodata(&r, &gone, tur0, 6), SCSI_SENSE_ILLEGAL_REQUEST,
		     SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
}
END_TEST

START_TEST(ana_states)
{
	static const struct {
		enum nvb_ana_state state;
		uint16_t asc;
	} states[] = {
		{ NVB_ANA_INACCESSIBLE, 0x040b },
		{ NVB_ANA_PERSISTENT_LOSS, 0x040c },
		{ NVB_ANA_CHANGE, 0x040a },
	};
	uint8_t c[16], d[512], tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	struct run r;
	size_t len;

	cur_path = NVB_ANA_NON_OPTIMIZED;
	len = cdb_lba(c, 0x28, 0, 1, 0);
	ck_assert_uint_eq(exec(&r, lu_of(0), c, len, d, 512, false)->status, SCSI_GOOD);
	for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
		cur_path = states[k].state;
		assert_sense(exec(&r, lu_of(0), c, len, d, 512, false), SCSI_SENSE_NOT_READY,
			     states[k].asc);
		assert_sense(exec_nodata(&r, lu_of(0), tur, 6), SCSI_SENSE_NOT_READY,
			     states[k].asc);
		/* Discovery commands still answer. */
		ck_assert_uint_eq(exec(&r, lu_of(0), inq, 6, d, 96, false)->status, SCSI_GOOD);
		ck_assert_uint_eq(mode_sense6(&r, 0, 0x3f, d, 255)->status, SCSI_GOOD);
	}
	ck_assert_uint_eq(scsi_alua_state(NVB_ANA_OPTIMIZED), 0);
	ck_assert_uint_eq(scsi_alua_state(NVB_ANA_NON_OPTIMIZED), 1);
	ck_assert_uint_eq(scsi_alua_state(NVB_ANA_INACCESSIBLE), 2);
	ck_assert_uint_eq(scsi_alua_state(NVB_ANA_PERSISTENT_LOSS), 3);
	ck_assert_uint_eq(scsi_alua_state(NVB_ANA_CHANGE), 0xf);
}
END_TEST

/* NVMe completion statuses as the translation maps them. */
START_TEST(nvme_status_mapping)
{
	static const struct {
		nvb_status status;
		uint8_t scsi;
		uint8_t key;
		uint16_t asc;
	} map[] = {
		{ NVB_OK, SCSI_GOOD, 0, 0 },
		{ NVB_INVALID_OPCODE, SCSI_CHECK_CONDITION, 5, 0x2000 },
		{ NVB_INVALID_FIELD, SCSI_CHECK_CONDITION, 5, 0x2400 },
		{ NVB_INVALID_NS, SCSI_CHECK_CONDITION, 5, 0x2500 },
		{ NVB_LBA_RANGE, SCSI_CHECK_CONDITION, 5, 0x2100 },
		{ NVB_INTERNAL_ERROR, SCSI_CHECK_CONDITION, 4, 0x4400 },
		{ NVB_WRITE_FAULT, SCSI_CHECK_CONDITION, 3, 0x0300 },
		{ NVB_READ_ERROR, SCSI_CHECK_CONDITION, 3, 0x1100 },
		{ NVB_COMPARE_FAILED, SCSI_CHECK_CONDITION, 0x0e, 0x1d00 },
		{ NVB_STATUS_ANA_INACCESSIBLE, SCSI_CHECK_CONDITION, 2, 0x040b },
		{ NVB_STATUS_ANA_PERSISTENT_LOSS, SCSI_CHECK_CONDITION, 2, 0x040c },
		{ NVB_STATUS_ANA_TRANSITION, SCSI_CHECK_CONDITION, 2, 0x040a },
		{ NVB_RESERVATION_CONFLICT, SCSI_RESERVATION_CONFLICT, 0, 0 },
		{ NVB_SC(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ), SCSI_TASK_ABORTED, 0, 0 },
		{ NVB_SC(NVME_SCT_CMD_SPECIFIC, 0x55), SCSI_CHECK_CONDITION, 4, 0x4400 },
	};
	struct scsi_task t;

	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
		memset(&t, 0, sizeof(t));
		t.xfer_len = 5;
		scsi_task_nvme_status(&t, map[k].status);
		ck_assert_uint_eq(t.status, map[k].scsi);
		if (map[k].scsi == SCSI_CHECK_CONDITION) {
			assert_sense(&t, map[k].key, map[k].asc);
			ck_assert_uint_eq(t.xfer_len, 0);
		} else {
			ck_assert_uint_eq(t.sense_len, 0);
		}
	}
	/* The sense builder, both formats. */
	uint8_t s[SCSI_SENSE_BUFFER];
	ck_assert_uint_eq(scsi_build_sense(s, sizeof(s), false, 6, 0x2a01), 18);
	ck_assert_uint_eq(s[0], 0x70);
	ck_assert_uint_eq(s[2], 6);
	ck_assert_uint_eq(s[7], 10);
	ck_assert_uint_eq(s[12], 0x2a);
	ck_assert_uint_eq(s[13], 0x01);
	ck_assert_uint_eq(scsi_build_sense(s, sizeof(s), true, 6, 0x2a01), 8);
	ck_assert_uint_eq(s[0], 0x72);
	ck_assert_uint_eq(s[1], 6);
	ck_assert_uint_eq(s[7], 0);
	ck_assert_uint_eq(scsi_build_sense(s, 10, false, 6, 0x2a01), 0);
}
END_TEST

START_TEST(misc_commands)
{
	uint8_t ssu[6] = { 0x1b, 0x01, 0, 0, 0x01, 0 }, d[64];
	struct run r;
	struct scsi_task *t;

	/* START STOP UNIT: start, stop (flushes), power conditions; no eject. */
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), ssu, 6)->status, SCSI_GOOD);
	ssu[4] = 0x00;
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), ssu, 6)->status, SCSI_GOOD);
	ssu[4] = 0x04;
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), ssu, 6)->status, SCSI_GOOD);
	ssu[4] = 0x30;
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), ssu, 6)->status, SCSI_GOOD);
	ssu[4] = 0x02;
	assert_field(exec_nodata(&r, lu_of(0), ssu, 6), true, 4, 1);
	ssu[4] = 0x03;
	assert_field(exec_nodata(&r, lu_of(0), ssu, 6), true, 4, 1);
	ssu[4] = 0x40;
	assert_field(exec_nodata(&r, lu_of(0), ssu, 6), true, 4, 7);
	uint8_t tur[6] = { 0 };
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), tur, 6)->status, SCSI_GOOD);
	/* PREVENT ALLOW MEDIUM REMOVAL. */
	uint8_t pamr[6] = { 0x1e, 0, 0, 0, 1, 0 };
	ck_assert_uint_eq(exec_nodata(&r, lu_of(0), pamr, 6)->status, SCSI_GOOD);
	/* READ DEFECT DATA(10/12): empty lists in the format asked for. */
	uint8_t rdd10[10] = { 0x37, 0, 0x1d, 0, 0, 0, 0, 0, 64, 0 };
	t = exec(&r, lu_of(0), rdd10, 10, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 4);
	ck_assert_uint_eq(d[1], 0x1d);
	ck_assert_uint_eq(be16(d + 2), 0);
	uint8_t rdd12[12] = { 0xb7, 0x0d };
	put32(rdd12 + 6, 64);
	t = exec(&r, lu_of(0), rdd12, 12, d, sizeof(d), false);
	ck_assert_uint_eq(t->xfer_len, 8);
	ck_assert_uint_eq(d[1], 0x0d);
	/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS. */
	uint8_t tmf[12] = { 0xa3, 0x0d, 0x80 };
	put32(tmf + 6, 16);
	t = exec(&r, lu_of(0), tmf, 12, d, sizeof(d), false);
	ck_assert_uint_eq(t->status, SCSI_GOOD);
	ck_assert_uint_eq(t->xfer_len, 16);
	ck_assert_uint_eq(d[0], 0xda);
	ck_assert_uint_eq(d[3], 0x0c);
}
END_TEST

static Suite *scsi_suite(void)
{
	Suite *s = suite_create("scsi");
	TCase *spc = tcase_create("spc");
	TCase *sbc = tcase_create("sbc");

	tcase_add_checked_fixture(spc, setup, teardown);
	tcase_set_timeout(spc, 60);
	tcase_add_test(spc, inquiry_standard);
	tcase_add_loop_test(spc, inquiry_vpd_pages, 0, NRAM);
	tcase_add_loop_test(spc, identity_from_namespace_ids, 0, NRAM);
	tcase_add_test(spc, mode_sense);
	tcase_add_test(spc, mode_select);
	tcase_add_test(spc, request_sense_and_unit_attention);
	tcase_add_test(spc, report_luns);
	tcase_add_test(spc, lun_encoding);
	tcase_add_test(spc, report_opcodes);
	tcase_add_test(spc, cdb_validation);
	tcase_add_test(spc, ana_states);
	tcase_add_test(spc, nvme_status_mapping);
	tcase_add_test(spc, misc_commands);
	suite_add_tcase(s, spc);

	tcase_add_checked_fixture(sbc, setup, teardown);
	tcase_set_timeout(sbc, 60);
	tcase_add_loop_test(sbc, read_capacity, 0, NRAM);
	tcase_add_loop_test(sbc, read_write_round_trip, 0, NCASES);
	tcase_add_loop_test(sbc, read_write_errors, 0, NRAM);
	tcase_add_loop_test(sbc, transfer_lengths, 0, NCASES);
	tcase_add_loop_test(sbc, verify, 0, NCASES);
	tcase_add_loop_test(sbc, write_and_verify, 0, NRAM);
	tcase_add_loop_test(sbc, sync_cache_and_prefetch, 0, NRAM);
	tcase_add_loop_test(sbc, write_same, 0, NRAM);
	tcase_add_loop_test(sbc, unmap_and_lba_status, 0, NCASES);
	tcase_add_loop_test(sbc, compare_and_write, 0, NCASES);
	tcase_add_loop_test(sbc, orwrite, 0, NRAM);
	suite_add_tcase(s, sbc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scsi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

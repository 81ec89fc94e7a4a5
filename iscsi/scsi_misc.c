/* SPDX-License-Identifier: MIT */
/*
 * SPC-5/SBC-4 commands answered from the namespace's properties and the
 * logical unit's mode parameters: TEST UNIT READY, REQUEST SENSE, READ
 * CAPACITY(10/16), MODE SENSE/SELECT(6/10), REPORT SUPPORTED OPERATION
 * CODES, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS, START STOP UNIT,
 * PREVENT ALLOW MEDIUM REMOVAL, GET LBA STATUS, READ DEFECT DATA.
 */
#include "iscsi/scsi_internal.h"

#define ASC_SAVING_NOT_SUPPORTED 0x3900         /* SAVING PARAMETERS NOT SUPPORTED */

/* Flush the namespace (SYNCHRONIZE CACHE semantics), then GOOD. */
static void flush_done(struct scsi_task *t)
{
	if (t->priv.status != NVB_OK)
		scsi_task_nvme_status(t, t->priv.status);
	scsi_task_complete(t);
}

static void flush_then_complete(struct scsi_task *t)
{
	struct scsi_run *r = &t->priv.run;

	memset(r, 0, sizeof(*r));
	r->opcode = NVME_OPC_FLUSH;
	r->chunk_nlb = 1;
	r->data = RUN_NONE;
	r->done = flush_done;
	scsi_run_start(t);
}

/* ---- TEST UNIT READY, REQUEST SENSE ---- */

void spc_test_unit_ready(struct scsi_task *t)
{
	/* The dispatcher has reported unit attentions and the path state. */
	scsi_task_complete(t);
}

/* SPC-5 §6.39: the sense data is returned as parameter data, status GOOD. */
void spc_request_sense(struct scsi_task *t)
{
	bool desc = t->cdb[1] & 0x01;
	uint8_t sense[SCSI_SENSE_BUFFER];
	uint8_t key = SCSI_SENSE_NO_SENSE;
	uint16_t asc = SCSI_SENSE_ASCQ_NO_ADDL_SENSE, ua;
	size_t n;

	if (!t->lu) {
		key = SCSI_SENSE_ILLEGAL_REQUEST;
		asc = SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED;
	} else if (t->hooks && t->hooks->take_ua && (ua = t->hooks->take_ua(t)) != 0) {
		key = SCSI_SENSE_UNIT_ATTENTION;
		asc = ua;
	}
	n = scsi_build_sense(sense, sizeof(sense), desc, key, asc);
	scsi_task_data_in(t, sense, n, t->cdb[4]);
	scsi_task_complete(t);
}

/* ---- READ CAPACITY ---- */

/* SBC-3 §5.16: PMI 0 with a non-zero LBA is invalid (both obsolete in SBC-4). */
static bool pmi_ok(struct scsi_task *t, uint64_t lba, bool pmi, unsigned lba_byte)
{
	if (pmi || lba == 0)
		return true;
	scsi_task_invalid_field(t, true, lba_byte, -1);
	scsi_task_complete(t);
	return false;
}

void sbc_read_capacity10(struct scsi_task *t)
{
	uint64_t last = t->priv.nblocks ? t->priv.nblocks - 1 : 0;
	uint8_t d[8];

	if (!pmi_ok(t, get_be32(t->cdb + 2), t->cdb[8] & 0x01, 2))
		return;
	/* More than 2^32 blocks: FFFFFFFFh sends the initiator to READ CAPACITY(16). */
	put_be32(d, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	put_be32(d + 4, task_block_size(t));
	scsi_task_data_in(t, d, sizeof(d), sizeof(d));
	scsi_task_complete(t);
}

void sbc_read_capacity16(struct scsi_task *t)
{
	uint8_t d[32] = { 0 };

	if (!pmi_ok(t, get_be64(t->cdb + 2), t->cdb[14] & 0x01, 2))
		return;
	put_be64(d, t->priv.nblocks ? t->priv.nblocks - 1 : 0);
	put_be32(d + 8, task_block_size(t));
	/* No protection information; one logical block per physical block
	 * (LBPPBE 0: GET LBA STATUS reports whole logical blocks); LBPME and
	 * LBPRZ as in the Logical Block Provisioning VPD page. */
	put_be16(d + 14, 0x8000 | 0x4000);
	scsi_task_data_in(t, d, sizeof(d), get_be32(t->cdb + 10));
	scsi_task_complete(t);
}

/* ---- mode pages (SPC-5 §7.5, SBC-4 §6.5) ---- */

struct mode_values {
	bool wce, d_sense, swp;
};

/* Page bytes from 0; mask: only the changeable bits, the rest 0. */
static void page_caching(uint8_t *pg, const struct mode_values *v, bool mask)
{
	pg[0] = SCSI_MODEPAGE_CACHING;
	pg[1] = 0x12;
	pg[2] = v->wce ? 0x04 : 0;                      /* WCE */
	(void)mask;
}

static void page_control(uint8_t *pg, const struct mode_values *v, bool mask)
{
	pg[0] = SCSI_MODEPAGE_CONTROL;
	pg[1] = 0x0a;
	pg[2] = v->d_sense ? 0x04 : 0;                  /* D_SENSE */
	pg[4] = v->swp ? 0x08 : 0;                      /* SWP */
	if (mask)
		return;
	pg[3] = 0x10;   /* QUEUE ALGORITHM MODIFIER 1: unrestricted reordering */
	put_be16(pg + 8, 0xffff);                       /* BUSY TIMEOUT PERIOD: unlimited */
}

static void page_iec(uint8_t *pg, const struct mode_values *v, bool mask)
{
	pg[0] = SCSI_MODEPAGE_INFORMATIONAL_EXCEPTIONS_CONTROL;
	pg[1] = 0x0a;
	if (!mask)
		pg[2] = 0x08;   /* DEXCPT: no informational exceptions reported */
}

struct mode_page {
	uint8_t code;
	uint8_t len;            /* bytes in the page, header included */
	void (*fill)(uint8_t *pg, const struct mode_values *v, bool mask);
};

static const struct mode_page mode_pages[] = {
	{ SCSI_MODEPAGE_CACHING, 0x14, page_caching },
	{ SCSI_MODEPAGE_CONTROL, 0x0c, page_control },
	{ SCSI_MODEPAGE_INFORMATIONAL_EXCEPTIONS_CONTROL, 0x0c, page_iec },
};
#define NPAGES (sizeof(mode_pages) / sizeof(mode_pages[0]))

static const struct mode_page *mode_page_find(uint8_t code)
{
	for (size_t i = 0; i < NPAGES; i++)
		if (mode_pages[i].code == code)
			return &mode_pages[i];
	return NULL;
}

static bool lu_has_vwc(const struct scsi_task *t)
{
	return t->priv.ns->conf.volatile_write_cache;
}

/* The values MODE SENSE reports for a page control (PC) value. */
static struct mode_values mode_values_for(const struct scsi_task *t, unsigned pc)
{
	bool settable = t->lu->mode != NULL;

	switch (pc) {
	case SCSI_MODESENSE_PC_CURRENT:
		return (struct mode_values){ task_wce(t), task_d_sense(t), task_swp(t) };
	case SCSI_MODESENSE_PC_CHANGEABLE:
		return (struct mode_values){ settable && lu_has_vwc(t), settable, settable };
	default:                                        /* power-on defaults */
		return (struct mode_values){ lu_has_vwc(t), false, false };
	}
}

void spc_mode_sense(struct scsi_task *t)
{
	bool six = t->cdb[0] == SCSI_OPCODE_MODESENSE6;
	bool dbd = t->cdb[1] & 0x08, llbaa = !six && (t->cdb[1] & 0x10);
	unsigned pc = t->cdb[2] >> 6, code = t->cdb[2] & 0x3f, subpage = t->cdb[3];
	size_t alloc = six ? t->cdb[4] : get_be16(t->cdb + 7);
	size_t hdr = six ? 4 : 8, bdlen = dbd ? 0 : llbaa ? 16 : 8, n;
	uint8_t d[8 + 16 + 3 * 0x14] = { 0 };
	struct mode_values v;

	if (pc == SCSI_MODESENSE_PC_SAVED) {
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		goto out;
	}
	/* Subpages: none, except "all subpages" (FFh) of "all pages". */
	if (code == SCSI_MODEPAGE_RETURN_ALL_PAGES ? subpage != 0 && subpage != 0xff : subpage) {
		scsi_task_invalid_field(t, true, 3, -1);
		goto out;
	}
	if (code != SCSI_MODEPAGE_RETURN_ALL_PAGES && !mode_page_find((uint8_t)code)) {
		scsi_task_invalid_field(t, true, 2, 5);
		goto out;
	}
	v = mode_values_for(t, pc);
	n = hdr;
	/* Block descriptor (SPC-5 §7.5.6 short, §7.5.7 long). */
	if (bdlen == 8) {
		put_be32(d + n, t->priv.nblocks > UINT32_MAX ? UINT32_MAX : (uint32_t)t->priv.nblocks);
		put_be32(d + n + 4, task_block_size(t));        /* byte 4: density 0 */
	} else if (bdlen == 16) {
		put_be64(d + n, t->priv.nblocks);
		put_be32(d + n + 12, task_block_size(t));
	}
	n += bdlen;
	for (size_t i = 0; i < NPAGES; i++) {
		if (code != SCSI_MODEPAGE_RETURN_ALL_PAGES && mode_pages[i].code != code)
			continue;
		mode_pages[i].fill(d + n, &v, pc == SCSI_MODESENSE_PC_CHANGEABLE);
		n += mode_pages[i].len;
	}
	/* Header; DEVICE-SPECIFIC PARAMETER (SBC-4 §6.5.1): WP, DPOFUA. */
	if (six) {
		d[0] = (uint8_t)(n - 1);
		d[2] = (task_swp(t) ? 0x80 : 0) | 0x10;
		d[3] = (uint8_t)bdlen;
	} else {
		put_be16(d, (uint16_t)(n - 2));
		d[3] = (task_swp(t) ? 0x80 : 0) | 0x10;
		d[4] = llbaa ? 0x01 : 0;                /* LONGLBA */
		put_be16(d + 6, (uint16_t)bdlen);
	}
	scsi_task_data_in(t, d, n, alloc);
out:
	scsi_task_complete(t);
}

#define MODE_SELECT_MAX 512

/* Check one page of a MODE SELECT list against the current values: a bit
 * outside the changeable mask must keep its value. False with sense set. */
static bool mode_page_check(struct scsi_task *t, const struct mode_page *mp, const uint8_t *pg,
			    size_t at, struct mode_values *nv)
{
	struct mode_values cur = mode_values_for(t, SCSI_MODESENSE_PC_CURRENT);
	struct mode_values chg = mode_values_for(t, SCSI_MODESENSE_PC_CHANGEABLE);
	uint8_t c[0x14] = { 0 }, m[0x14] = { 0 };

	mp->fill(c, &cur, false);
	mp->fill(m, &chg, true);
	for (unsigned i = 2; i < mp->len; i++) {
		uint8_t bad = (uint8_t)((pg[i] ^ c[i]) & ~m[i]);

		if (bad) {
			int bit = 7;

			while (!(bad & (1u << bit)))
				bit--;
			scsi_task_invalid_field(t, false, (unsigned)(at + i), bit);
			return false;
		}
	}
	if (mp->code == SCSI_MODEPAGE_CACHING)
		nv->wce = pg[2] & 0x04;
	else if (mp->code == SCSI_MODEPAGE_CONTROL) {
		nv->d_sense = pg[2] & 0x04;
		nv->swp = pg[4] & 0x08;
	}
	return true;
}

/* Parse and check the whole list before changing anything. */
static bool mode_select_parse(struct scsi_task *t, const uint8_t *d, size_t len, bool six,
			      struct mode_values *nv)
{
	size_t hdr = six ? 4 : 8;
	size_t bdlen, off;

	if (len < hdr) {
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	bdlen = six ? d[3] : get_be16(d + 6);
	if (bdlen != 0 && bdlen != ((!six && (d[4] & 0x01)) ? 16 : 8)) {
		scsi_task_invalid_field(t, false, six ? 3 : 6, -1);
		return false;
	}
	if (hdr + bdlen > len) {
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	/* The block length cannot change (the namespace's LBA format); 0 keeps
	 * it. Short descriptor: 3 bytes at 5, long: 4 bytes at 12. */
	if (bdlen) {
		uint32_t bl = bdlen == 8 ? get_be24(d + hdr + 5) : get_be32(d + hdr + 12);

		if (bl && bl != task_block_size(t)) {
			scsi_task_invalid_field(t, false, (unsigned)(hdr + bdlen - 4), -1);
			return false;
		}
	}
	for (off = hdr + bdlen; off < len;) {
		const struct mode_page *mp;

		if (len - off < 2) {
			scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
						  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
			return false;
		}
		/* PS (bit 7) is reserved here and ignored; SPF (bit 6): no subpages. */
		mp = (d[off] & 0x40) ? NULL : mode_page_find(d[off] & 0x3f);
		if (!mp) {
			scsi_task_invalid_field(t, false, (unsigned)off, (d[off] & 0x40) ? 6 : 5);
			return false;
		}
		if (d[off + 1] != mp->len - 2) {
			scsi_task_invalid_field(t, false, (unsigned)off + 1, -1);
			return false;
		}
		if (off + mp->len > len) {
			scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
						  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
			return false;
		}
		if (!mode_page_check(t, mp, d + off, off, nv))
			return false;
		off += mp->len;
	}
	return true;
}

void spc_mode_select(struct scsi_task *t)
{
	bool six = t->cdb[0] == SCSI_OPCODE_MODESELECT6;
	size_t plen = six ? t->cdb[4] : get_be16(t->cdb + 7);
	size_t len = plen < task_data_out_len(t) ? plen : task_data_out_len(t);
	struct scsi_lu_mode *m = t->lu->mode;
	uint8_t d[MODE_SELECT_MAX];
	struct mode_values nv;
	bool was_wce;

	t->want_len = plen;
	t->xfer_len = len;
	if (t->cdb[1] & 0x01) {                         /* SP: nothing is saved */
		scsi_task_invalid_field(t, true, 1, 0);
		goto out;
	}
	if (plen == 0)
		goto out;
	if (!(t->cdb[1] & 0x10)) {                      /* PF 0: vendor page format */
		scsi_task_invalid_field(t, true, 1, 4);
		goto out;
	}
	if (len > sizeof(d)) {
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_PARAMETER_LIST_LENGTH_ERROR);
		goto out;
	}
	scsi_task_data_out(t, 0, d, len);
	nv = mode_values_for(t, SCSI_MODESENSE_PC_CURRENT);
	was_wce = nv.wce;
	if (!mode_select_parse(t, d, len, six, &nv) || !m)
		goto out;               /* without mode storage nothing is changeable */
	if (nv.wce == was_wce && nv.d_sense == task_d_sense(t) && nv.swp == task_swp(t))
		goto out;
	atomic_store_explicit(&m->wce, nv.wce, memory_order_relaxed);
	atomic_store_explicit(&m->d_sense, nv.d_sense, memory_order_relaxed);
	atomic_store_explicit(&m->swp, nv.swp, memory_order_relaxed);
	if (t->hooks && t->hooks->mode_changed)
		t->hooks->mode_changed(t);
	/* Turning the write cache off: what it held must be durable now. */
	if (was_wce && !nv.wce) {
		flush_then_complete(t);
		return;
	}
out:
	scsi_task_complete(t);
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-5 §6.35) ---- */

#define TIMEOUT_DESC_LEN 12
#define NOMINAL_TIMEOUT_S 1
#define RECOMMENDED_TIMEOUT_S 30

/* SPC-5 §6.35.4 command timeouts descriptor. */
static void put_timeouts(uint8_t *p)
{
	put_be16(p, TIMEOUT_DESC_LEN - 2);
	put_be32(p + 4, NOMINAL_TIMEOUT_S);
	put_be32(p + 8, RECOMMENDED_TIMEOUT_S);
}

static size_t rsoc_all(uint8_t *d, size_t cap, bool rctd)
{
	size_t n = 4, each = 8 + (rctd ? TIMEOUT_DESC_LEN : 0);
	const struct scsi_cmd *c;

	for (unsigned i = 0; (c = scsi_cmd_at(i)) != NULL && n + each <= cap; i++) {
		uint8_t *p = d + n;

		memset(p, 0, each);
		p[0] = c->opcode;
		if (c->has_sa)
			put_be16(p + 2, c->sa);
		p[5] = (rctd ? 0x02 : 0) | (c->has_sa ? 0x01 : 0);      /* CTDP, SERVACTV */
		put_be16(p + 6, c->cdb_len);
		if (rctd)
			put_timeouts(p + 8);
		n += each;
	}
	put_be32(d, (uint32_t)(n - 4));
	return n;
}

static size_t rsoc_one(const struct scsi_cmd *c, uint8_t *d, bool rctd)
{
	size_t n;

	if (!c) {
		memset(d, 0, 4);
		d[1] = 0x01;                    /* SUPPORT 001b: not supported */
		return 4;
	}
	d[0] = 0;
	d[1] = (rctd ? 0x80 : 0) | 0x03;        /* CTDP, SUPPORT 011b: as the standard says */
	put_be16(d + 2, c->cdb_len);
	memcpy(d + 4, c->usage, c->cdb_len);
	/* SPC-5 §6.35.3: the service action code sits in its field. */
	if (c->has_sa)
		d[5] = (uint8_t)((c->usage[1] & ~0x1f) | c->sa);
	n = 4 + c->cdb_len;
	if (rctd) {
		memset(d + n, 0, TIMEOUT_DESC_LEN);
		put_timeouts(d + n);
		n += TIMEOUT_DESC_LEN;
	}
	return n;
}

void spc_report_opcodes(struct scsi_task *t)
{
	bool rctd = t->cdb[2] & 0x80;
	unsigned options = t->cdb[2] & 0x07;
	uint8_t opcode = t->cdb[3];
	uint16_t sa = get_be16(t->cdb + 4);
	size_t alloc = get_be32(t->cdb + 6);
	uint8_t d[4 + 96 * (8 + TIMEOUT_DESC_LEN)];
	const struct scsi_cmd *c;
	bool has_sa;
	size_t n;

	if (options == 0) {
		n = rsoc_all(d, sizeof(d), rctd);
	} else if (options <= 3) {
		c = scsi_cmd_find(opcode, sa, &has_sa);
		/* 001b: opcodes without service actions; 010b: with; 011b: either. */
		if ((options == 1 && has_sa) || (options == 2 && !has_sa)) {
			scsi_task_invalid_field(t, true, 2, 2);
			goto out;
		}
		if (options == 1 && sa) {
			scsi_task_invalid_field(t, true, 4, -1);
			goto out;
		}
		n = rsoc_one(c, d, rctd);
	} else {
		scsi_task_invalid_field(t, true, 2, 2);
		goto out;
	}
	scsi_task_data_in(t, d, n, alloc);
out:
	scsi_task_complete(t);
}

/* SPC-5 §6.36: what the iSCSI front end's task management offers. */
void spc_report_tmfs(struct scsi_task *t)
{
	bool repd = t->cdb[2] & 0x80;
	uint8_t d[16] = { 0 };

	/* ATS, ATSS, CTSS, LURS, TRS: ABORT TASK, ABORT TASK SET, CLEAR TASK
	 * SET, LOGICAL UNIT RESET, I_T NEXUS / TARGET RESET (RFC 7143 §11.5). */
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;
	if (repd)
		d[3] = 0x0c;
	scsi_task_data_in(t, d, repd ? 16 : 4, get_be32(t->cdb + 6));
	scsi_task_complete(t);
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---- */

void sbc_start_stop_unit(struct scsi_task *t)
{
	unsigned pc = t->cdb[4] >> 4;
	bool no_flush = t->cdb[4] & 0x04, loej = t->cdb[4] & 0x02, start = t->cdb[4] & 0x01;

	/* SBC-4 §5.25 Table 85: START_VALID, ACTIVE, IDLE, STANDBY, LU_CONTROL,
	 * FORCE_IDLE_0, FORCE_STANDBY_0. */
	if (!((1u << pc) & 0x0c8f)) {
		scsi_task_invalid_field(t, true, 4, 7);
	} else if (loej) {
		/* No removable medium to load or eject. */
		scsi_task_invalid_field(t, true, 4, 1);
	} else if (pc == 0 && !start && !no_flush) {
		/* Stopping: a device server makes cached data durable first.
		 * There is no stopped state to keep: the namespace stays ready. */
		flush_then_complete(t);
		return;
	}
	scsi_task_complete(t);
}

void sbc_prevent_allow(struct scsi_task *t)
{
	/* Nothing to lock in: the medium is not removable (RMB 0). */
	scsi_task_complete(t);
}

/* ---- GET LBA STATUS (SBC-4 §5.8) ---- */

#define LBA_STATUS_MAX_DESC 64

void sbc_get_lba_status(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;
	struct nvb_backend *be = p->ns->be;
	uint64_t lba = get_be64(t->cdb + 2), end = p->nblocks;
	size_t alloc = get_be32(t->cdb + 10);
	size_t max = alloc >= 24 ? (alloc - 8) / 16 : 1;
	uint8_t d[8 + 16 * LBA_STATUS_MAX_DESC] = { 0 };
	size_t n = 0;

	if (lba >= end) {
		scsi_task_lba_out_of_range(t);
		scsi_task_complete(t);
		return;
	}
	if (max > LBA_STATUS_MAX_DESC)
		max = LBA_STATUS_MAX_DESC;
	while (n < max && lba < end) {
		uint64_t span = end - lba < UINT32_MAX ? end - lba : UINT32_MAX, run = span;
		bool mapped = true;
		uint8_t *desc = d + 8 + 16 * n;

		if (be->ops->is_mapped) {
			uint64_t bytes = 0;

			if (be->ops->is_mapped(be, lba << p->lba_shift, span << p->lba_shift, &mapped,
					       &bytes) == 0) {
				run = bytes >> p->lba_shift;
				if (run == 0)
					run = 1;
				if (run > span)
					run = span;
			} else {
				mapped = true;
			}
		}
		put_be64(desc, lba);
		put_be32(desc + 8, (uint32_t)run);
		desc[12] = mapped ? 0x00 : 0x01;        /* PROVISIONING STATUS: mapped/deallocated */
		lba += run;
		n++;
	}
	put_be32(d, (uint32_t)(4 + 16 * n));            /* PARAMETER DATA LENGTH */
	scsi_task_data_in(t, d, 8 + 16 * n, alloc);
	scsi_task_complete(t);
}

/* ---- READ DEFECT DATA (SBC-4 §5.17, §5.18) ---- */

void sbc_read_defect_data(struct scsi_task *t)
{
	bool twelve = t->cdb[0] == SCSI_OPCODE_READ_DEFECT_DATA12;
	uint8_t req = twelve ? t->cdb[1] : t->cdb[2];
	uint8_t d[8] = { 0 };

	/* The lists asked for exist and are empty, in the format asked for. */
	d[1] = req & 0x1f;                      /* PLISTV, GLISTV, DEFECT LIST FORMAT */
	scsi_task_data_in(t, d, twelve ? 8 : 4, twelve ? get_be32(t->cdb + 6)
						       : get_be16(t->cdb + 7));
	scsi_task_complete(t);
}

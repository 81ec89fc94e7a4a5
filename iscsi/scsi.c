/* SPDX-License-Identifier: MIT */
/*
 * The SCSI device server's dispatcher: CDB opcode (+ service action) →
 * command table entry, and the checks every command goes through, in the
 * order SAM-5 and SPC-5 ask for:
 *   1. logical unit (SPC-5 §4.6: ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED
 *      for anything but INQUIRY, REPORT LUNS and REQUEST SENSE),
 *   2. a pending unit attention (SAM-5 §5.14),
 *   3. opcode / service action (INVALID COMMAND OPERATION CODE, or INVALID
 *      FIELD IN CDB pointing at the service action, SPC-5 §4.4.2.4.2),
 *   4. reserved bits and the control byte (NACA, LINK are not supported):
 *      any bit outside the command's CDB usage data is INVALID FIELD IN CDB
 *      with its byte and bit — the same usage data REPORT SUPPORTED
 *      OPERATION CODES reports, so the two cannot disagree,
 *   5. the ALUA state of the path (SPC-5 §5.16.2.4: NOT READY 04/0Ah..0Ch),
 *   6. reservations (hooks->reservation_conflict),
 *   7. software write protection (control page SWP: DATA PROTECT 27/02),
 * then the handler, which completes the task exactly once.
 */
#include "iscsi/scsi_internal.h"

#include "bridge/bufpool.h"
#include "bridge/iov.h"

/* ---- CDB usage data (SPC-5 §6.35.3), byte 0 is the opcode ---- */

/* SPC-5 */
static const uint8_t u_tur[]       = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t u_req_sense[] = { 0x03, 0x01, 0x00, 0x00, 0xff, 0x00 };
static const uint8_t u_inquiry[]   = { 0x12, 0x01, 0xff, 0xff, 0xff, 0x00 };
static const uint8_t u_msel6[]     = { 0x15, 0x11, 0x00, 0x00, 0xff, 0x00 };
static const uint8_t u_resv6[]     = { 0x16, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t u_rel6[]      = { 0x17, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t u_msense6[]   = { 0x1a, 0x08, 0xff, 0xff, 0xff, 0x00 };
static const uint8_t u_msel10[]    = { 0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
				       0x00 };
static const uint8_t u_resv10[]    = { 0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				       0x00 };
static const uint8_t u_rel10[]     = { 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				       0x00 };
static const uint8_t u_msense10[]  = { 0x5a, 0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff,
				       0x00 };
static const uint8_t u_prin[]      = { 0x5e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
				       0x00 };
static const uint8_t u_prout[]     = { 0x5f, 0x1f, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
				       0x00 };
static const uint8_t u_rep_luns[]  = { 0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00 };
static const uint8_t u_rtpg[]      = { 0xa3, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00 };
static const uint8_t u_rsoc[]      = { 0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00 };
static const uint8_t u_rstmf[]     = { 0xa3, 0x1f, 0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00 };
/* SBC-4. Byte 1 of READ/WRITE: xxPROTECT (7:5), DPO, FUA, FUA_NV (obsolete,
 * accepted); GROUP NUMBER is 6 bits. */
static const uint8_t u_read6[]     = { 0x08, 0x1f, 0xff, 0xff, 0xff, 0x00 };
static const uint8_t u_write6[]    = { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0x00 };
static const uint8_t u_ssu[]       = { 0x1b, 0x01, 0x00, 0x0f, 0xf7, 0x00 };
static const uint8_t u_pamr[]      = { 0x1e, 0x00, 0x00, 0x00, 0x03, 0x00 };
static const uint8_t u_rc10[]      = { 0x25, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01,
				       0x00 };
static const uint8_t u_read10[]    = { 0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_write10[]   = { 0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_wv10[]      = { 0x2e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_verify10[]  = { 0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_pref10[]    = { 0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_sync10[]    = { 0x35, 0x06, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_rdd10[]     = { 0x37, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
				       0x00 };
static const uint8_t u_ws10[]      = { 0x41, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_unmap[]     = { 0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xff, 0xff,
				       0x00 };
static const uint8_t u_read16[]    = { 0x88, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_caw[]       = { 0x89, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00, 0x00, 0xff, 0x3f, 0x00 };
static const uint8_t u_write16[]   = { 0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_orwrite[]   = { 0x8b, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_wv16[]      = { 0x8e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_verify16[]  = { 0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_pref16[]    = { 0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_sync16[]    = { 0x91, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_ws16[]      = { 0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00 };
static const uint8_t u_rc16[]      = { 0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00 };
static const uint8_t u_glbas[]     = { 0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00 };
static const uint8_t u_read12[]    = { 0xa8, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x3f, 0x00 };
static const uint8_t u_write12[]   = { 0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x3f, 0x00 };
static const uint8_t u_wv12[]      = { 0xae, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x3f, 0x00 };
static const uint8_t u_verify12[]  = { 0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x3f, 0x00 };
static const uint8_t u_rdd12[]     = { 0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0x00, 0x00 };

#define IN   SCSI_DIR_IN
#define OUT  SCSI_DIR_OUT
#define NONE SCSI_DIR_NONE

#define CMD(op, nm, u, fn, d, fl) \
	{ .name = (nm), .opcode = (op), .cdb_len = sizeof(u), .usage = (u), .exec = (fn), \
	  .dir = (d), .flags = (fl) }
#define SA_CMD(op, s, nm, u, fn, d, fl) \
	{ .name = (nm), .opcode = (op), .sa = (s), .has_sa = true, .cdb_len = sizeof(u), \
	  .usage = (u), .exec = (fn), .dir = (d), .flags = (fl) }
#define EXT(op, nm, u, slot, d, fl) \
	{ .name = (nm), .opcode = (op), .cdb_len = sizeof(u), .usage = (u), .ext = (slot), \
	  .dir = (d), .flags = (fl) }
#define EXT_SA(op, s, nm, u, slot, d, fl) \
	{ .name = (nm), .opcode = (op), .sa = (s), .has_sa = true, .cdb_len = sizeof(u), \
	  .usage = (u), .ext = (slot), .dir = (d), .flags = (fl) }

enum {
	NO_LU = SCSI_CMD_NO_LU,
	NO_UA = SCSI_CMD_NO_UA,
	ANY_PATH = SCSI_CMD_ANY_PATH,
	WRITES = SCSI_CMD_WRITES,
};

/* Sorted by opcode, then service action (scsi_cmd_find searches it). */
static const struct scsi_cmd cmds[] = {
	CMD(0x00, "TEST UNIT READY", u_tur, spc_test_unit_ready, NONE, 0),
	CMD(0x03, "REQUEST SENSE", u_req_sense, spc_request_sense, IN,
	    NO_LU | NO_UA | ANY_PATH),
	CMD(0x08, "READ(6)", u_read6, sbc_read, IN, 0),
	CMD(0x0a, "WRITE(6)", u_write6, sbc_write, OUT, WRITES),
	CMD(0x12, "INQUIRY", u_inquiry, spc_inquiry, IN, NO_LU | NO_UA | ANY_PATH),
	CMD(0x15, "MODE SELECT(6)", u_msel6, spc_mode_select, OUT, ANY_PATH),
	EXT(0x16, "RESERVE(6)", u_resv6, SCSI_EXT_RESERVE, NONE, 0),
	EXT(0x17, "RELEASE(6)", u_rel6, SCSI_EXT_RELEASE, NONE, 0),
	CMD(0x1a, "MODE SENSE(6)", u_msense6, spc_mode_sense, IN, ANY_PATH),
	CMD(0x1b, "START STOP UNIT", u_ssu, sbc_start_stop_unit, NONE, 0),
	CMD(0x1e, "PREVENT ALLOW MEDIUM REMOVAL", u_pamr, sbc_prevent_allow, NONE, 0),
	CMD(0x25, "READ CAPACITY(10)", u_rc10, sbc_read_capacity10, IN, 0),
	CMD(0x28, "READ(10)", u_read10, sbc_read, IN, 0),
	CMD(0x2a, "WRITE(10)", u_write10, sbc_write, OUT, WRITES),
	CMD(0x2e, "WRITE AND VERIFY(10)", u_wv10, sbc_write_verify, OUT, WRITES),
	CMD(0x2f, "VERIFY(10)", u_verify10, sbc_verify, OUT, 0),
	CMD(0x34, "PRE-FETCH(10)", u_pref10, sbc_prefetch, NONE, 0),
	CMD(0x35, "SYNCHRONIZE CACHE(10)", u_sync10, sbc_sync_cache, NONE, 0),
	CMD(0x37, "READ DEFECT DATA(10)", u_rdd10, sbc_read_defect_data, IN, 0),
	CMD(0x41, "WRITE SAME(10)", u_ws10, sbc_write_same, OUT, WRITES),
	CMD(0x42, "UNMAP", u_unmap, sbc_unmap, OUT, WRITES),
	CMD(0x55, "MODE SELECT(10)", u_msel10, spc_mode_select, OUT, ANY_PATH),
	EXT(0x56, "RESERVE(10)", u_resv10, SCSI_EXT_RESERVE, NONE, 0),
	EXT(0x57, "RELEASE(10)", u_rel10, SCSI_EXT_RELEASE, NONE, 0),
	CMD(0x5a, "MODE SENSE(10)", u_msense10, spc_mode_sense, IN, ANY_PATH),
	/* One entry per service action: READ KEYS .. READ FULL STATUS (SPC-5
	 * §6.16.1), REGISTER .. REPLACE LOST RESERVATION (§6.17.1). */
	EXT_SA(0x5e, 0x00, "PERSISTENT RESERVE IN", u_prin, SCSI_EXT_PERSISTENT_RESERVE_IN,
	       IN, ANY_PATH),
	EXT_SA(0x5e, 0x01, "PERSISTENT RESERVE IN", u_prin, SCSI_EXT_PERSISTENT_RESERVE_IN,
	       IN, ANY_PATH),
	EXT_SA(0x5e, 0x02, "PERSISTENT RESERVE IN", u_prin, SCSI_EXT_PERSISTENT_RESERVE_IN,
	       IN, ANY_PATH),
	EXT_SA(0x5e, 0x03, "PERSISTENT RESERVE IN", u_prin, SCSI_EXT_PERSISTENT_RESERVE_IN,
	       IN, ANY_PATH),
	EXT_SA(0x5f, 0x00, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x01, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x02, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x03, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x04, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x05, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x06, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x07, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	EXT_SA(0x5f, 0x08, "PERSISTENT RESERVE OUT", u_prout, SCSI_EXT_PERSISTENT_RESERVE_OUT,
	       OUT, ANY_PATH),
	CMD(0x88, "READ(16)", u_read16, sbc_read, IN, 0),
	CMD(0x89, "COMPARE AND WRITE", u_caw, sbc_compare_and_write, OUT, WRITES),
	CMD(0x8a, "WRITE(16)", u_write16, sbc_write, OUT, WRITES),
	CMD(0x8b, "ORWRITE(16)", u_orwrite, sbc_orwrite, OUT, WRITES),
	CMD(0x8e, "WRITE AND VERIFY(16)", u_wv16, sbc_write_verify, OUT, WRITES),
	CMD(0x8f, "VERIFY(16)", u_verify16, sbc_verify, OUT, 0),
	CMD(0x90, "PRE-FETCH(16)", u_pref16, sbc_prefetch, NONE, 0),
	CMD(0x91, "SYNCHRONIZE CACHE(16)", u_sync16, sbc_sync_cache, NONE, 0),
	CMD(0x93, "WRITE SAME(16)", u_ws16, sbc_write_same, OUT, WRITES),
	SA_CMD(0x9e, 0x10, "READ CAPACITY(16)", u_rc16, sbc_read_capacity16, IN, 0),
	SA_CMD(0x9e, 0x12, "GET LBA STATUS", u_glbas, sbc_get_lba_status, IN, 0),
	CMD(0xa0, "REPORT LUNS", u_rep_luns, spc_report_luns, IN, NO_LU | NO_UA | ANY_PATH),
	EXT_SA(0xa3, 0x0a, "REPORT TARGET PORT GROUPS", u_rtpg,
	       SCSI_EXT_REPORT_TARGET_PORT_GROUPS, IN, ANY_PATH),
	SA_CMD(0xa3, 0x0c, "REPORT SUPPORTED OPERATION CODES", u_rsoc, spc_report_opcodes, IN,
	       ANY_PATH),
	SA_CMD(0xa3, 0x0d, "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", u_rstmf,
	       spc_report_tmfs, IN, ANY_PATH),
	CMD(0xa8, "READ(12)", u_read12, sbc_read, IN, 0),
	CMD(0xaa, "WRITE(12)", u_write12, sbc_write, OUT, WRITES),
	CMD(0xae, "WRITE AND VERIFY(12)", u_wv12, sbc_write_verify, OUT, WRITES),
	CMD(0xaf, "VERIFY(12)", u_verify12, sbc_verify, OUT, 0),
	CMD(0xb7, "READ DEFECT DATA(12)", u_rdd12, sbc_read_defect_data, IN, 0),
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* ---- plug-in slots ---- */

/* Written at start-up only, read by every reactor afterwards. */
static scsi_ext_fn ext_fns[SCSI_EXT_COUNT];

void scsi_set_ext_handler(enum scsi_ext_cmd slot, scsi_ext_fn fn)
{
	if (slot > SCSI_EXT_NONE && slot < SCSI_EXT_COUNT)
		ext_fns[slot] = fn;
}

static bool cmd_supported(const struct scsi_cmd *c)
{
	return c->ext == SCSI_EXT_NONE ? c->exec != NULL : ext_fns[c->ext] != NULL;
}

/* ---- lookup ---- */

static const struct scsi_cmd *first_with_opcode(uint8_t opcode)
{
	size_t lo = 0, hi = NCMDS;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmds[mid].opcode < opcode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < NCMDS && cmds[lo].opcode == opcode ? &cmds[lo] : NULL;
}

/* The entry for the opcode or service action, supported or not. */
static const struct scsi_cmd *cmd_lookup(uint8_t opcode, uint16_t sa, bool *has_sa)
{
	const struct scsi_cmd *c = first_with_opcode(opcode);

	*has_sa = c && c->has_sa;
	if (!c || !c->has_sa)
		return c;
	for (; c < cmds + NCMDS && c->opcode == opcode; c++)
		if (c->sa == sa)
			return c;
	return NULL;
}

/* Does any supported command use this opcode? (An unsupported service
 * action of a supported opcode is INVALID FIELD IN CDB, of an unsupported
 * opcode INVALID COMMAND OPERATION CODE.) */
static bool opcode_supported(uint8_t opcode)
{
	for (const struct scsi_cmd *c = first_with_opcode(opcode);
	     c && c < cmds + NCMDS && c->opcode == opcode; c++)
		if (cmd_supported(c))
			return true;
	return false;
}

const struct scsi_cmd *scsi_cmd_find(uint8_t opcode, uint16_t sa, bool *has_sa)
{
	const struct scsi_cmd *c = cmd_lookup(opcode, sa, has_sa);

	return c && cmd_supported(c) ? c : NULL;
}

const struct scsi_cmd *scsi_cmd_at(unsigned index)
{
	for (size_t i = 0; i < NCMDS; i++) {
		if (!cmd_supported(&cmds[i]))
			continue;
		if (index-- == 0)
			return &cmds[i];
	}
	return NULL;
}

/* The service action field: 5 bits of byte 1 (SPC-5 §4.2.5.1). */
static uint16_t cdb_sa(const uint8_t *cdb)
{
	return cdb[1] & 0x1f;
}

enum scsi_data_dir scsi_cdb_dir(const uint8_t *cdb, size_t cdb_len)
{
	const struct scsi_cmd *c;
	bool has_sa;

	if (cdb_len < 1)
		return SCSI_DIR_NONE;
	c = scsi_cmd_find(cdb[0], cdb_len > 1 ? cdb_sa(cdb) : 0, &has_sa);
	return c ? c->dir : SCSI_DIR_NONE;
}

/* ---- mode parameters and buffers ---- */

void scsi_lu_mode_init(struct scsi_lu_mode *m, bool volatile_write_cache)
{
	atomic_init(&m->wce, volatile_write_cache);
	atomic_init(&m->d_sense, false);
	atomic_init(&m->swp, false);
}

bool task_wce(const struct scsi_task *t)
{
	const struct scsi_lu_mode *m = t->lu ? t->lu->mode : NULL;

	if (m)
		return atomic_load_explicit(&m->wce, memory_order_relaxed);
	return t->priv.ns && t->priv.ns->conf.volatile_write_cache;
}

bool task_d_sense(const struct scsi_task *t)
{
	const struct scsi_lu_mode *m = t->lu ? t->lu->mode : NULL;

	return m && atomic_load_explicit(&m->d_sense, memory_order_relaxed);
}

bool task_swp(const struct scsi_task *t)
{
	const struct scsi_lu_mode *m = t->lu ? t->lu->mode : NULL;

	return m && atomic_load_explicit(&m->swp, memory_order_relaxed);
}

size_t task_data_out_len(const struct scsi_task *t)
{
	return t->data_out ? t->data_len : 0;
}

size_t task_data_in_room(const struct scsi_task *t)
{
	return t->data_out ? 0 : t->data_len;
}

int scsi_iov_slice(const struct iovec *src, int srccnt, size_t off, size_t len,
		   struct iovec *dst, int dstmax)
{
	int n = 0;

	for (int i = 0; i < srccnt && len > 0; i++) {
		size_t seg = src[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		if (n == dstmax)
			return -1;
		dst[n].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[n].iov_len = seg - off < len ? seg - off : len;
		len -= dst[n].iov_len;
		off = 0;
		n++;
	}
	return len ? -1 : n;
}

size_t scsi_task_data_in(struct scsi_task *t, const void *buf, size_t len, size_t alloc_len)
{
	size_t want = len < alloc_len ? len : alloc_len;
	size_t room = task_data_in_room(t);
	size_t n = want < room ? want : room;

	t->want_len = want;
	t->xfer_len = nvb_iov_from_buf(t->iov, t->iovcnt, 0, buf, n);
	return t->xfer_len;
}

size_t scsi_task_data_out(struct scsi_task *t, size_t off, void *buf, size_t len)
{
	size_t have = task_data_out_len(t);

	if (off >= have)
		return 0;
	if (len > have - off)
		len = have - off;
	return nvb_iov_to_buf(t->iov, t->iovcnt, off, buf, len);
}

/* ---- completion ---- */

void scsi_task_complete(struct scsi_task *t)
{
	struct scsi_task_priv *p = &t->priv;

	for (int i = 0; i < SCSI_TASK_IOS; i++)
		scsi_io_release(t, &p->ios[i]);
	if (p->buf) {
		nvb_buf_put(t->reactor, p->buf, p->buf_len);
		p->buf = NULL;
	}
	if (p->ns) {
		nvb_ns_put(p->ns);
		p->ns = NULL;
	}
	t->done(t);
}

/* ---- dispatch ---- */

/* Check 4: a set bit the command does not use → its byte and highest bit. */
static bool cdb_reserved_bits_ok(struct scsi_task *t, const struct scsi_cmd *c)
{
	for (unsigned i = 1; i < c->cdb_len; i++) {
		uint8_t bad = t->cdb[i] & (uint8_t)~c->usage[i];

		if (bad) {
			int bit = 7;

			while (!(bad & (1u << bit)))
				bit--;
			scsi_task_invalid_field(t, true, i, bit);
			return false;
		}
	}
	return true;
}

/* Check 5: SPC-5 §5.16.2.4.x, commands refused outside the active states. */
static bool path_ok(struct scsi_task *t)
{
	static const uint16_t not_ready[16] = {
		[0x2] = 0x040b,         /* TARGET PORT IN STANDBY STATE */
		[0x3] = 0x040c,         /* TARGET PORT IN UNAVAILABLE STATE */
		[0xf] = 0x040a,         /* ASYMMETRIC ACCESS STATE TRANSITION */
	};
	uint8_t state = scsi_alua_state(t->path_state);

	if (!not_ready[state & 0xf])
		return true;
	scsi_task_check_condition(t, SCSI_SENSE_NOT_READY, not_ready[state & 0xf]);
	return false;
}

static void fail(struct scsi_task *t)
{
	scsi_task_complete(t);
}

void scsi_task_exec(struct scsi_task *t)
{
	const struct scsi_hooks *h = t->hooks;
	const struct scsi_cmd *c;
	bool has_sa;
	uint16_t ua;

	memset(&t->priv, 0, offsetof(struct scsi_task_priv, ios));
	for (int i = 0; i < SCSI_TASK_IOS; i++) {
		t->priv.ios[i].busy = false;
		t->priv.ios[i].bounce = NULL;
	}
	t->status = SCSI_GOOD;
	t->sense_len = 0;
	t->xfer_len = 0;
	t->want_len = 0;

	if (t->cdb_len < 1 || t->cdb_len > sizeof(t->cdb)) {
		scsi_task_invalid_field(t, true, 0, -1);
		fail(t);
		return;
	}
	c = cmd_lookup(t->cdb[0], t->cdb_len > 1 ? cdb_sa(t->cdb) : 0, &has_sa);
	if (c && !cmd_supported(c))
		c = NULL;

	/* 1. The logical unit and its namespace. */
	if (!t->lu) {
		if (!c || !(c->flags & SCSI_CMD_NO_LU)) {
			scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
						  SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
			fail(t);
			return;
		}
	} else {
		t->priv.ns = nvb_ns_get(t->lu->subsys, t->lu->nsid);
		if (!t->priv.ns) {
			scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
						  SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
			fail(t);
			return;
		}
		t->priv.lba_shift = t->priv.ns->lba_shift;
		t->priv.nblocks = atomic_load_explicit(&t->priv.ns->nblocks,
						       memory_order_relaxed);
	}

	/* 2. Unit attention. */
	if (t->lu && (!c || !(c->flags & SCSI_CMD_NO_UA)) && h && h->take_ua &&
	    (ua = h->take_ua(t)) != 0) {
		scsi_task_check_condition(t, SCSI_SENSE_UNIT_ATTENTION, ua);
		fail(t);
		return;
	}

	/* 3. Opcode and service action. */
	if (!c) {
		if (has_sa && opcode_supported(t->cdb[0]))
			scsi_task_invalid_field(t, true, 1, 4);
		else
			scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
						  SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE);
		fail(t);
		return;
	}
	t->priv.cmd = c;

	/* 4. CDB length, reserved bits, control byte. */
	if (t->cdb_len < c->cdb_len) {
		scsi_task_invalid_field(t, true, 0, -1);
		fail(t);
		return;
	}
	if (!cdb_reserved_bits_ok(t, c)) {
		fail(t);
		return;
	}

	if (t->lu) {
		/* 5. ALUA state of the path. */
		if (!(c->flags & SCSI_CMD_ANY_PATH) && !path_ok(t)) {
			fail(t);
			return;
		}
		/* 6. Reservations. */
		if (h && h->reservation_conflict && h->reservation_conflict(t)) {
			scsi_task_set_status(t, SCSI_RESERVATION_CONFLICT);
			fail(t);
			return;
		}
		/* 7. SBC-4 §4.12 / SPC-5 §7.5.8: software write protect. */
		if ((c->flags & SCSI_CMD_WRITES) && task_swp(t)) {
			scsi_task_check_condition(t, SCSI_SENSE_DATA_PROTECTION,
						  SCSI_SENSE_ASCQ_SOFTWARE_WRITE_PROTECTED);
			fail(t);
			return;
		}
	}

	if (c->ext != SCSI_EXT_NONE)
		ext_fns[c->ext](t);
	else
		c->exec(t);
}

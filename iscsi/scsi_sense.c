/* SPDX-License-Identifier: MIT */
/*
 * Sense data (SPC-5 §4.4) and the NVMe status → SCSI status/sense mapping
 * (NVM Express SCSI Translation Reference, "Status Mappings").
 *
 * Sense data is fixed format (70h) unless the logical unit's control mode
 * page sets D_SENSE, then descriptor format (72h) (SPC-5 §7.5.8).
 */
#include "iscsi/scsi_internal.h"

/* SPC-5 §4.4.2.4.2 sense-key specific bytes (SKSV set). */
struct sense_sks {
	bool valid;
	uint8_t bytes[3];
};

struct sense_info {
	bool valid;
	uint64_t value;
};

/* Fixed format (SPC-5 §4.4.3): 18 bytes. */
static size_t sense_fixed(uint8_t *b, size_t len, uint8_t key, uint16_t asc_ascq,
			  const struct sense_info *info, const struct sense_sks *sks)
{
	if (len < 18)
		return 0;
	memset(b, 0, 18);
	b[0] = 0x70;                            /* current error */
	b[2] = key & 0x0f;
	/* INFORMATION is 4 bytes here: VALID only when the value fits. */
	if (info->valid && info->value <= UINT32_MAX) {
		b[0] |= 0x80;
		put_be32(b + 3, (uint32_t)info->value);
	}
	b[7] = 10;                              /* additional sense length */
	b[12] = (uint8_t)(asc_ascq >> 8);
	b[13] = (uint8_t)asc_ascq;
	if (sks->valid)
		memcpy(b + 15, sks->bytes, 3);
	return 18;
}

/* Descriptor format (SPC-5 §4.4.2): header, information and sense-key
 * specific descriptors as needed; at most 8 + 12 + 8 bytes. */
static size_t sense_descriptor(uint8_t *b, size_t len, uint8_t key, uint16_t asc_ascq,
			       const struct sense_info *info, const struct sense_sks *sks)
{
	size_t n = 8;

	if (len < 8 + 12 + 8)
		return 0;
	memset(b, 0, 8 + 12 + 8);
	b[0] = 0x72;
	b[1] = key & 0x0f;
	b[2] = (uint8_t)(asc_ascq >> 8);
	b[3] = (uint8_t)asc_ascq;
	if (info->valid) {                      /* §4.4.2.2 information descriptor */
		b[n] = 0x00;
		b[n + 1] = 0x0a;
		b[n + 2] = 0x80;                /* VALID */
		put_be64(b + n + 4, info->value);
		n += 12;
	}
	if (sks->valid) {                       /* §4.4.2.3 sense key specific descriptor */
		b[n] = 0x02;
		b[n + 1] = 0x06;
		memcpy(b + n + 4, sks->bytes, 3);
		n += 8;
	}
	b[7] = (uint8_t)(n - 8);
	return n;
}

static size_t sense_build(uint8_t *buf, size_t len, bool desc, uint8_t key, uint16_t asc_ascq,
			  const struct sense_info *info, const struct sense_sks *sks)
{
	return desc ? sense_descriptor(buf, len, key, asc_ascq, info, sks)
		    : sense_fixed(buf, len, key, asc_ascq, info, sks);
}

size_t scsi_build_sense(uint8_t *buf, size_t len, bool desc, uint8_t key, uint16_t asc_ascq)
{
	static const struct sense_info no_info;
	static const struct sense_sks no_sks;

	return sense_build(buf, len, desc, key, asc_ascq, &no_info, &no_sks);
}

static void task_sense(struct scsi_task *t, uint8_t key, uint16_t asc_ascq,
		       const struct sense_info *info, const struct sense_sks *sks)
{
	t->status = SCSI_CHECK_CONDITION;
	t->xfer_len = 0;
	t->sense_len = (uint8_t)sense_build(t->sense, sizeof(t->sense), task_d_sense(t), key,
					    asc_ascq, info, sks);
}

void scsi_task_check_condition(struct scsi_task *t, uint8_t key, uint16_t asc_ascq)
{
	static const struct sense_info no_info;
	static const struct sense_sks no_sks;

	task_sense(t, key, asc_ascq, &no_info, &no_sks);
}

void scsi_task_check_condition_info(struct scsi_task *t, uint8_t key, uint16_t asc_ascq,
				    uint64_t information)
{
	static const struct sense_sks no_sks;
	const struct sense_info info = { .valid = true, .value = information };

	task_sense(t, key, asc_ascq, &info, &no_sks);
}

void scsi_task_invalid_field(struct scsi_task *t, bool in_cdb, unsigned byte, int bit)
{
	static const struct sense_info no_info;
	struct sense_sks sks = { .valid = true };

	/* SKSV, C/D (1: CDB), BPV and BIT POINTER; FIELD POINTER. */
	sks.bytes[0] = 0x80 | (in_cdb ? 0x40 : 0) | (bit >= 0 ? 0x08 | (bit & 7) : 0);
	sks.bytes[1] = (uint8_t)(byte >> 8);
	sks.bytes[2] = (uint8_t)byte;
	task_sense(t, SCSI_SENSE_ILLEGAL_REQUEST,
		   in_cdb ? SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB
			  : SCSI_SENSE_ASCQ_INVALID_FIELD_IN_PARAMETER_LIST,
		   &no_info, &sks);
}

void scsi_task_lba_out_of_range(struct scsi_task *t)
{
	scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE);
}

void scsi_task_set_status(struct scsi_task *t, uint8_t status)
{
	t->status = status;
	t->sense_len = 0;
	if (status != SCSI_GOOD)
		t->xfer_len = 0;
}

void scsi_task_good(struct scsi_task *t)
{
	t->status = SCSI_GOOD;
	t->sense_len = 0;
}

/* ---- ALUA ---- */

/* SPC-5 §6.37 asymmetric access state values. */
#define ALUA_AO             0x0
#define ALUA_ANO            0x1
#define ALUA_STANDBY        0x2
#define ALUA_UNAVAILABLE    0x3
#define ALUA_TRANSITIONING  0xf

uint8_t scsi_alua_state(enum nvb_ana_state state)
{
	switch (state) {
	case NVB_ANA_OPTIMIZED:
		return ALUA_AO;
	case NVB_ANA_NON_OPTIMIZED:
		return ALUA_ANO;
	case NVB_ANA_INACCESSIBLE:
		return ALUA_STANDBY;
	case NVB_ANA_CHANGE:
		return ALUA_TRANSITIONING;
	case NVB_ANA_PERSISTENT_LOSS:
	default:
		return ALUA_UNAVAILABLE;
	}
}

/* ---- NVMe status → SCSI ---- */

#define ASC(asc, ascq) ((uint16_t)((asc) << 8 | (ascq)))

struct status_map {
	uint8_t sct, sc;
	uint8_t status;         /* SCSI status */
	uint8_t key;            /* sense key, with CHECK CONDITION */
	uint16_t asc_ascq;
};

/*
 * The SCSI Translation Reference's status table, with the path-related
 * statuses as ALUA sense (SPC-5 §5.16.2.4): an initiator fails over on
 * NOT READY 04/0Ah..0Ch, never on ILLEGAL REQUEST.
 */
static const struct status_map status_map[] = {
	/* Generic command status (SCT 0) */
	{ NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE },
	{ NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB },
	{ NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_MEDIUM_ERROR, SCSI_SENSE_ASCQ_NO_ADDL_SENSE },
	{ NVME_SCT_GENERIC, NVME_SC_POWER_LOSS, SCSI_TASK_ABORTED, 0, 0 },
	{ NVME_SCT_GENERIC, NVME_SC_INTERNAL, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_HARDWARE_ERROR, SCSI_SENSE_ASCQ_INTERNAL_TARGET_FAILURE },
	{ NVME_SCT_GENERIC, NVME_SC_ABORT_REQ, SCSI_TASK_ABORTED, 0, 0 },
	{ NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE, SCSI_TASK_ABORTED, 0, 0 },
	{ NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL, SCSI_TASK_ABORTED, 0, 0 },
	{ NVME_SCT_GENERIC, NVME_SC_INVALID_NS, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED },
	{ NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, ASC(0x2c, 0x00) },   /* COMMAND SEQUENCE ERROR */
	{ NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB },
	{ NVME_SCT_GENERIC, NVME_SC_LBA_RANGE, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_ILLEGAL_REQUEST, SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE },
	{ NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_DATA_PROTECTION, ASC(0x27, 0x07) },   /* SPACE ALLOCATION FAILED WRITE PROTECT */
	{ NVME_SCT_GENERIC, NVME_SC_NS_NOT_READY, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, ASC(0x04, 0x00) },         /* NOT READY, CAUSE NOT REPORTABLE */
	{ NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT, SCSI_RESERVATION_CONFLICT, 0, 0 },
	{ NVME_SCT_GENERIC, NVME_SC_FORMAT_IN_PROGRESS, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, ASC(0x04, 0x04) },         /* FORMAT IN PROGRESS */
	{ NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_DATA_PROTECTION, SCSI_SENSE_ASCQ_WRITE_PROTECTED },
	{ NVME_SCT_GENERIC, NVME_SC_SANITIZE_IN_PROGRESS, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, SCSI_SENSE_ASCQ_SANITIZE_IN_PROGRESS },
	/* Media and data integrity errors (SCT 2) */
	{ NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_MEDIUM_ERROR, ASC(0x03, 0x00) },      /* PERIPHERAL DEVICE WRITE FAULT */
	{ NVME_SCT_MEDIA, NVME_SC_READ_ERROR, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_MEDIUM_ERROR, ASC(0x11, 0x00) },      /* UNRECOVERED READ ERROR */
	{ NVME_SCT_MEDIA, NVME_SC_GUARD_CHECK, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_COMMAND_ABORTED, ASC(0x10, 0x01) },
	{ NVME_SCT_MEDIA, NVME_SC_APPTAG_CHECK, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_COMMAND_ABORTED, ASC(0x10, 0x02) },
	{ NVME_SCT_MEDIA, NVME_SC_REFTAG_CHECK, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_COMMAND_ABORTED, ASC(0x10, 0x03) },
	{ NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_MISCOMPARE, SCSI_SENSE_ASCQ_MISCOMPARE_DURING_VERIFY },
	{ NVME_SCT_MEDIA, NVME_SC_ACCESS_DENIED, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_DATA_PROTECTION, ASC(0x20, 0x02) },   /* ACCESS DENIED - NO ACCESS RIGHTS */
	{ NVME_SCT_MEDIA, NVME_SC_UNWRITTEN_BLOCK, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_MEDIUM_ERROR, ASC(0x11, 0x00) },
	/* Path related status (SCT 3) → ALUA */
	{ NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, ASC(0x04, 0x0c) },         /* TARGET PORT IN UNAVAILABLE STATE */
	{ NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, ASC(0x04, 0x0b) },         /* TARGET PORT IN STANDBY STATE */
	{ NVME_SCT_PATH, NVME_SC_ANA_TRANSITION, SCSI_CHECK_CONDITION,
	  SCSI_SENSE_NOT_READY, ASC(0x04, 0x0a) },         /* ASYMMETRIC ACCESS STATE TRANSITION */
};

void scsi_task_nvme_status(struct scsi_task *t, nvb_status status)
{
	unsigned sct = NVB_STATUS_SCT(status), sc = NVB_STATUS_SC(status);

	if (sct == NVME_SCT_GENERIC && sc == NVME_SC_SUCCESS) {
		scsi_task_good(t);
		return;
	}
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++) {
		const struct status_map *m = &status_map[i];

		if (m->sct != sct || m->sc != sc)
			continue;
		if (m->status == SCSI_CHECK_CONDITION)
			scsi_task_check_condition(t, m->key, m->asc_ascq);
		else
			scsi_task_set_status(t, m->status);
		return;
	}
	/* Anything else is the target's own failure. */
	scsi_task_check_condition(t, SCSI_SENSE_HARDWARE_ERROR,
				  SCSI_SENSE_ASCQ_INTERNAL_TARGET_FAILURE);
}

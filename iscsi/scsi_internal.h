/* SPDX-License-Identifier: MIT */
/*
 * Shared by the SCSI device server files (iscsi/scsi*.c): the command table
 * entry, CDB and buffer helpers, the sense builder and the NVMe run engine.
 */
#ifndef NVB_ISCSI_SCSI_INTERNAL_H
#define NVB_ISCSI_SCSI_INTERNAL_H

#include <endian.h>
#include <string.h>

#include "iscsi/scsi.h"

/* ---- identity and limits advertised (INQUIRY, VPD B0h) ---- */

#define SCSI_VENDOR_ID          "NVBRIDGE"      /* T10 vendor identification */
#define SCSI_PRODUCT_REV        "0001"
#define SCSI_MAX_XFER_BYTES     (8u << 20)      /* MAXIMUM TRANSFER LENGTH */
#define SCSI_OPT_XFER_BYTES     (1u << 20)      /* OPTIMAL TRANSFER LENGTH */
#define SCSI_CHUNK_BYTES        (1u << 20)      /* data per NVMe command */
#define SCSI_ZERO_CHUNK_NLB     65536u          /* NVMe NLB is 16 bits (0's based) */
#define SCSI_MAX_WS_BYTES       (1ull << 30)    /* MAXIMUM WRITE SAME LENGTH */
#define SCSI_MAX_CAW_NLB        255u            /* MAXIMUM COMPARE AND WRITE LENGTH */
#define SCSI_MAX_UNMAP_DESC     256u            /* one Dataset Management command */
#define SCSI_PHYS_BLOCK         4096u           /* granularity worth aligning to */

/* NVM command set opcodes and fields (NVM Command Set 1.0 §3). */
#define NVME_OPC_FLUSH          0x00
#define NVME_OPC_WRITE          0x01
#define NVME_OPC_READ           0x02
#define NVME_OPC_COMPARE        0x05
#define NVME_OPC_WRITE_ZEROES   0x08
#define NVME_OPC_DSM            0x09
#define NVME_RW_FUA             (1u << 30)
#define NVME_WZ_DEAC            (1u << 25)
#define NVME_DSM_AD             (1u << 2)
#define NVME_FUSE_FIRST         0x01    /* SQE flags FUSE 01b: first of a fused pair */
#define NVME_FUSE_SECOND        0x02    /* FUSE 10b: second */

/* ---- the command table ---- */

typedef void (*scsi_handler)(struct scsi_task *t);

enum scsi_cmd_flags {
	SCSI_CMD_NO_LU    = 1u << 0,    /* answered without a logical unit */
	SCSI_CMD_NO_UA    = 1u << 1,    /* never reports a unit attention (SAM-5 §5.14) */
	SCSI_CMD_ANY_PATH = 1u << 2,    /* allowed in every ALUA state (SPC-5 §5.16.2.4) */
	SCSI_CMD_WRITES   = 1u << 3,    /* changes the medium: refused while SWP is set */
	SCSI_CMD_NO_NS    = 1u << 4,    /* needs the LU but not its namespace */
};

struct scsi_cmd {
	const char *name;
	uint8_t opcode;
	uint8_t sa;                     /* service action, when has_sa */
	bool has_sa;
	uint8_t cdb_len;
	/* CDB USAGE DATA (SPC-5 §6.35.3): the bits this command examines. A set
	 * bit outside it is a reserved bit: INVALID FIELD IN CDB. The control
	 * byte's NACA and LINK are not supported, so never in it. */
	const uint8_t *usage;
	scsi_handler exec;
	enum scsi_ext_cmd ext;          /* plug-in slot; exec is then unused */
	enum scsi_data_dir dir;
	unsigned flags;
};

/* Entries with a handler (or a plugged slot), in opcode/SA order; for
 * REPORT SUPPORTED OPERATION CODES. Returns NULL past the end. */
const struct scsi_cmd *scsi_cmd_at(unsigned index);
/* The entry for (opcode, sa) if supported, else NULL. *has_sa tells
 * whether the opcode has service actions at all. */
const struct scsi_cmd *scsi_cmd_find(uint8_t opcode, uint16_t sa, bool *has_sa);

/* ---- handlers, by file ---- */

/* scsi_inquiry.c */
void spc_inquiry(struct scsi_task *t);
void spc_report_luns(struct scsi_task *t);
/* scsi_misc.c */
void spc_test_unit_ready(struct scsi_task *t);
void spc_request_sense(struct scsi_task *t);
void spc_mode_sense(struct scsi_task *t);
void spc_mode_select(struct scsi_task *t);
void spc_report_opcodes(struct scsi_task *t);
void spc_report_tmfs(struct scsi_task *t);
void sbc_read_capacity10(struct scsi_task *t);
void sbc_read_capacity16(struct scsi_task *t);
void sbc_start_stop_unit(struct scsi_task *t);
void sbc_prevent_allow(struct scsi_task *t);
void sbc_get_lba_status(struct scsi_task *t);
void sbc_read_defect_data(struct scsi_task *t);
/* scsi_rw.c */
void sbc_read(struct scsi_task *t);
void sbc_write(struct scsi_task *t);
void sbc_verify(struct scsi_task *t);
void sbc_write_verify(struct scsi_task *t);
void sbc_sync_cache(struct scsi_task *t);
void sbc_prefetch(struct scsi_task *t);
void sbc_write_same(struct scsi_task *t);
void sbc_unmap(struct scsi_task *t);
void sbc_compare_and_write(struct scsi_task *t);
void sbc_orwrite(struct scsi_task *t);

/* ---- big-endian fields ---- */

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- task state ---- */

static inline uint32_t task_block_size(const struct scsi_task *t)
{
	return 1u << t->priv.lba_shift;
}

/* SBC-4 §4.5: is [lba, lba + nlb) inside the medium? (nlb may be 0) */
static inline bool task_lba_ok(const struct scsi_task *t, uint64_t lba, uint64_t nlb)
{
	return lba <= t->priv.nblocks && nlb <= t->priv.nblocks - lba;
}

/* The mode parameters in force (power-on values when the LU has none). */
bool task_wce(const struct scsi_task *t);
bool task_d_sense(const struct scsi_task *t);
bool task_swp(const struct scsi_task *t);

/* Bytes of data-out received / data-in room, by the transport's direction. */
size_t task_data_out_len(const struct scsi_task *t);
size_t task_data_in_room(const struct scsi_task *t);

/* Sense with an INFORMATION field (SPC-5 §4.4.2.1 / §4.4.3), e.g. the
 * offset of a miscompare. */
void scsi_task_check_condition_info(struct scsi_task *t, uint8_t key, uint16_t asc_ascq,
				    uint64_t information);
/* LOGICAL BLOCK ADDRESS OUT OF RANGE (SBC-4 §4.5). */
void scsi_task_lba_out_of_range(struct scsi_task *t);

/* ---- NVMe commands ---- */

enum scsi_run_data {
	RUN_NONE,               /* no data (Flush, Write Zeroes) */
	RUN_TASK,               /* the task's own buffers (data_off/data_len) */
	RUN_BUF,                /* priv.buf, chunk k at k × chunk bytes */
	RUN_PATTERN,            /* priv.buf holds one chunk, used for every chunk */
	RUN_SCRATCH,            /* a staging buffer per command, then dropped */
};

/* Start priv.run: chunks in flight SCSI_TASK_IOS at a time; run.done is
 * called once all have completed or one failed (priv.status, fail_chunk). */
void scsi_run_start(struct scsi_task *t);
/* An SQE for the task's namespace with the common fields set. */
void scsi_sqe_init(const struct scsi_task *t, struct nvb_sqe *sqe, uint8_t opcode,
		   uint64_t lba, uint32_t nlb, uint32_t cdw12_flags);
/* Issue one NVMe command on slot s (data iov/len already set up); done is
 * called with its status. */
void scsi_io_submit(struct scsi_task *t, struct scsi_io *s, void (*done)(struct nvb_io *io,
		    nvb_status status));
/* Give back a slot's staging buffer. */
void scsi_io_release(struct scsi_task *t, struct scsi_io *s);

/* Iovec helpers. */
int scsi_iov_slice(const struct iovec *src, int srccnt, size_t off, size_t len,
		   struct iovec *dst, int dstmax);
/* Copies to and from iovecs: bridge/iov.h. */

#endif

/* SPDX-License-Identifier: MIT */
/*
 * iSCSI PDUs (RFC 7143 §11): the 48-byte Basic Header Segment of every
 * opcode as a packed struct, opcode/flag/status constants, field accessors,
 * LUN and serial-number arithmetic, CRC32C digests, the checks the target
 * applies to a received BHS, and builders for the PDUs the target sends.
 *
 * Multi-byte fields are big-endian on the wire ("network order", §11.1);
 * the uint16_t/uint32_t members below hold wire bytes, convert with
 * be16toh/be32toh (or the helpers). DataSegmentLength is 24 bits.
 */
#ifndef ISCSI_PDU_H
#define ISCSI_PDU_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "bridge/crc32c.h"

#define ISCSI_BHS_LEN        48
#define ISCSI_DIGEST_LEN     4
#define ISCSI_RSVD_TAG       0xffffffffu   /* ITT/TTT "no tag" value */
#define ISCSI_MAX_DSL        0xffffffu     /* 24-bit DataSegmentLength */
/* §13.12: MaxRecvDataSegmentLength keeps its default until login completes. */
#define ISCSI_LOGIN_MAX_DSL  8192
#define ISCSI_VERSION        0x00          /* Version-max / Version-active (§11.12.4) */

/* §11.2.1.2: byte 0 = reserved(1) | I(1) | opcode(6). */
#define ISCSI_OPCODE_MASK    0x3f
#define ISCSI_OP_IMMEDIATE   0x40

/* Initiator opcodes (§11.2.1.2). */
enum iscsi_initiator_opcode {
	ISCSI_OP_NOP_OUT      = 0x00,
	ISCSI_OP_SCSI_CMD     = 0x01,
	ISCSI_OP_TMF_REQ      = 0x02,
	ISCSI_OP_LOGIN_REQ    = 0x03,
	ISCSI_OP_TEXT_REQ     = 0x04,
	ISCSI_OP_DATA_OUT     = 0x05,
	ISCSI_OP_LOGOUT_REQ   = 0x06,
	ISCSI_OP_SNACK_REQ    = 0x10,
	/* 0x1c-0x1e: vendor specific initiator opcodes */
};

/* Target opcodes (§11.2.1.2). */
enum iscsi_target_opcode {
	ISCSI_OP_NOP_IN       = 0x20,
	ISCSI_OP_SCSI_RSP     = 0x21,
	ISCSI_OP_TMF_RSP      = 0x22,
	ISCSI_OP_LOGIN_RSP    = 0x23,
	ISCSI_OP_TEXT_RSP     = 0x24,
	ISCSI_OP_DATA_IN      = 0x25,
	ISCSI_OP_LOGOUT_RSP   = 0x26,
	ISCSI_OP_R2T          = 0x31,
	ISCSI_OP_ASYNC_MSG    = 0x32,
	ISCSI_OP_REJECT       = 0x3f,
};

/* Byte 1 flags. */
#define ISCSI_FLAG_FINAL        0x80   /* F: every opcode that has it */
/* SCSI Command (§11.3.1) */
#define ISCSI_CMD_FLAG_READ     0x40
#define ISCSI_CMD_FLAG_WRITE    0x20
#define ISCSI_CMD_ATTR_MASK     0x07
enum iscsi_task_attr {
	ISCSI_ATTR_UNTAGGED = 0, ISCSI_ATTR_SIMPLE = 1, ISCSI_ATTR_ORDERED = 2,
	ISCSI_ATTR_HEAD_OF_QUEUE = 3, ISCSI_ATTR_ACA = 4,   /* 5-7 reserved */
};
/* SCSI Response (§11.4.1) and Data-In (§11.7.1) residual flags */
#define ISCSI_RSP_FLAG_BIDI_OVERFLOW  0x10   /* o */
#define ISCSI_RSP_FLAG_BIDI_UNDERFLOW 0x08   /* u */
#define ISCSI_FLAG_OVERFLOW     0x04   /* O */
#define ISCSI_FLAG_UNDERFLOW    0x02   /* U */
/* Data-In (§11.7) */
#define ISCSI_DATAIN_FLAG_ACK   0x40   /* A (ERL >= 1 only) */
#define ISCSI_DATAIN_FLAG_STATUS 0x01  /* S */
/* Login (§11.12) and Text (§11.10) */
#define ISCSI_LOGIN_FLAG_TRANSIT 0x80  /* T */
#define ISCSI_FLAG_CONTINUE     0x40   /* C */
#define ISCSI_LOGIN_CSG_SHIFT   2
#define ISCSI_LOGIN_CSG_MASK    0x0c
#define ISCSI_LOGIN_NSG_MASK    0x03
enum iscsi_login_stage {
	ISCSI_STAGE_SECURITY = 0,
	ISCSI_STAGE_OPERATIONAL = 1,
	/* 2 is reserved */
	ISCSI_STAGE_FULL_FEATURE = 3,
};
#define ISCSI_TMF_FUNC_MASK     0x7f
#define ISCSI_LOGOUT_REASON_MASK 0x7f
#define ISCSI_SNACK_TYPE_MASK   0x0f

/* Login Response Status-Class / Status-Detail (§11.13.5), as (class << 8) | detail. */
enum iscsi_login_status {
	ISCSI_LOGIN_OK                 = 0x0000,
	ISCSI_LOGIN_TARGET_MOVED_TEMP  = 0x0101,
	ISCSI_LOGIN_TARGET_MOVED_PERM  = 0x0102,
	ISCSI_LOGIN_INITIATOR_ERROR    = 0x0200,
	ISCSI_LOGIN_AUTH_FAILED        = 0x0201,
	ISCSI_LOGIN_AUTHORIZATION_FAILED = 0x0202,
	ISCSI_LOGIN_NOT_FOUND          = 0x0203,
	ISCSI_LOGIN_TARGET_REMOVED     = 0x0204,
	ISCSI_LOGIN_UNSUPPORTED_VERSION = 0x0205,
	ISCSI_LOGIN_TOO_MANY_CONNECTIONS = 0x0206,
	ISCSI_LOGIN_MISSING_PARAMETER  = 0x0207,
	ISCSI_LOGIN_CANT_INCLUDE_IN_SESSION = 0x0208,
	ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED = 0x0209,
	ISCSI_LOGIN_SESSION_DOES_NOT_EXIST = 0x020a,
	ISCSI_LOGIN_INVALID_DURING_LOGIN = 0x020b,
	ISCSI_LOGIN_TARGET_ERROR       = 0x0300,
	ISCSI_LOGIN_SERVICE_UNAVAILABLE = 0x0301,
	ISCSI_LOGIN_OUT_OF_RESOURCES   = 0x0302,
};

/* Reject reasons (§11.17.1). */
enum iscsi_reject_reason {
	ISCSI_REJECT_DATA_DIGEST       = 0x02,
	ISCSI_REJECT_SNACK             = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR    = 0x04,
	ISCSI_REJECT_CMD_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMMEDIATE_CMD     = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS  = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK  = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_LONG_OP           = 0x0a,   /* out of resources */
	ISCSI_REJECT_WAITING_FOR_LOGOUT = 0x0c,
};

/* SCSI Response "Response" field (§11.4.3). */
#define ISCSI_RESPONSE_COMPLETED 0x00
#define ISCSI_RESPONSE_TARGET_FAILURE 0x01

/* Task Management functions (§11.5.1; 9-12 from RFC 7144) and responses (§11.6.1). */
enum iscsi_tmf_function {
	ISCSI_TMF_ABORT_TASK = 1, ISCSI_TMF_ABORT_TASK_SET = 2, ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4, ISCSI_TMF_LUN_RESET = 5, ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7, ISCSI_TMF_TASK_REASSIGN = 8,
	ISCSI_TMF_QUERY_TASK = 9, ISCSI_TMF_QUERY_TASK_SET = 10,
	ISCSI_TMF_IT_NEXUS_RESET = 11, ISCSI_TMF_QUERY_ASYNC_EVENT = 12,
};
enum iscsi_tmf_response {
	ISCSI_TMF_RSP_COMPLETE = 0, ISCSI_TMF_RSP_NO_TASK = 1, ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_TASK_ALLEGIANT = 3, ISCSI_TMF_RSP_NO_REASSIGN = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5, ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_REJECTED = 255,
};

/* Logout reasons (§11.14.1) and responses (§11.15.1). */
enum iscsi_logout_reason {
	ISCSI_LOGOUT_CLOSE_SESSION = 0, ISCSI_LOGOUT_CLOSE_CONNECTION = 1,
	ISCSI_LOGOUT_REMOVE_FOR_RECOVERY = 2,
};
enum iscsi_logout_response {
	ISCSI_LOGOUT_RSP_OK = 0, ISCSI_LOGOUT_RSP_CID_NOT_FOUND = 1,
	ISCSI_LOGOUT_RSP_RECOVERY_UNSUPPORTED = 2, ISCSI_LOGOUT_RSP_CLEANUP_FAILED = 3,
};

/* Async events (§11.9.1). */
enum iscsi_async_event {
	ISCSI_ASYNC_SCSI_EVENT = 0, ISCSI_ASYNC_REQUEST_LOGOUT = 1,
	ISCSI_ASYNC_DROP_CONNECTION = 2, ISCSI_ASYNC_DROP_ALL_CONNECTIONS = 3,
	ISCSI_ASYNC_REQUEST_NEGOTIATION = 4, ISCSI_ASYNC_TASK_TERMINATION = 5,
	ISCSI_ASYNC_VENDOR = 255,
};

/* AHS types (§11.2.2). */
#define ISCSI_AHS_EXTENDED_CDB 0x01
#define ISCSI_AHS_BIDI_READ_LEN 0x02

/* ---- Basic Header Segments (§11.2.1 and each opcode's section) ---- */

/* Fields every BHS shares. */
struct iscsi_bhs {
	uint8_t  opcode;        /* I bit + opcode */
	uint8_t  flags;
	uint8_t  spec2[2];
	uint8_t  total_ahs_len; /* 4-byte words */
	uint8_t  dlength[3];    /* DataSegmentLength, big-endian 24 bits */
	uint8_t  lun[8];        /* LUN or opcode specific */
	uint32_t itt;
	uint8_t  spec20[28];
} __attribute__((packed));

/* §11.18 / §11.19: NOP-Out, NOP-In */
struct iscsi_nop_out {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, cmdsn, expstatsn;
	uint8_t  rsvd32[16];
} __attribute__((packed));

struct iscsi_nop_in {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn;
	uint8_t  rsvd36[12];
} __attribute__((packed));

/* §11.3: SCSI Command */
struct iscsi_scsi_cmd {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt;
	uint32_t edtl;          /* Expected Data Transfer Length */
	uint32_t cmdsn, expstatsn;
	uint8_t  cdb[16];
} __attribute__((packed));

/* §11.4: SCSI Response */
struct iscsi_scsi_rsp {
	uint8_t  opcode, flags, response, status;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  rsvd8[8];
	uint32_t itt, snack_tag, statsn, expcmdsn, maxcmdsn, expdatasn;
	uint32_t bidi_residual, residual;
} __attribute__((packed));

/* §11.5 / §11.6: Task Management Function Request / Response */
struct iscsi_tmf_req {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, rtt, cmdsn, expstatsn, refcmdsn, expdatasn;
	uint8_t  rsvd40[8];
} __attribute__((packed));

struct iscsi_tmf_rsp {
	uint8_t  opcode, flags, response, rsvd3;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  rsvd8[8];
	uint32_t itt, rsvd20, statsn, expcmdsn, maxcmdsn;
	uint8_t  rsvd36[12];
} __attribute__((packed));

/* §11.7: SCSI Data-Out / Data-In */
struct iscsi_data_out {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, rsvd24, expstatsn, rsvd32, datasn, offset, rsvd44;
} __attribute__((packed));

struct iscsi_data_in {
	uint8_t  opcode, flags, rsvd2, status;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn, datasn, offset, residual;
} __attribute__((packed));

/* §11.8: Ready To Transfer */
struct iscsi_r2t {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn, r2tsn, offset, desired_len;
} __attribute__((packed));

/* §11.9: Asynchronous Message */
struct iscsi_async_msg {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, rsvd20, statsn, expcmdsn, maxcmdsn;
	uint8_t  event, vcode;
	uint16_t param1, param2, param3;
	uint8_t  rsvd44[4];
} __attribute__((packed));

/* §11.10 / §11.11: Text Request / Response */
struct iscsi_text_req {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, cmdsn, expstatsn;
	uint8_t  rsvd32[16];
} __attribute__((packed));

struct iscsi_text_rsp {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, statsn, expcmdsn, maxcmdsn;
	uint8_t  rsvd36[12];
} __attribute__((packed));

/* §11.12 / §11.13: Login Request / Response */
struct iscsi_login_req {
	uint8_t  opcode, flags, version_max, version_min;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  isid[6];
	uint16_t tsih;
	uint32_t itt;
	uint16_t cid;
	uint8_t  rsvd22[2];
	uint32_t cmdsn, expstatsn;
	uint8_t  rsvd32[16];
} __attribute__((packed));

struct iscsi_login_rsp {
	uint8_t  opcode, flags, version_max, version_active;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  isid[6];
	uint16_t tsih;
	uint32_t itt, rsvd20, statsn, expcmdsn, maxcmdsn;
	uint8_t  status_class, status_detail, rsvd38[2];
	uint8_t  rsvd40[8];
} __attribute__((packed));

/* §11.14 / §11.15: Logout Request / Response */
struct iscsi_logout_req {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  rsvd8[8];
	uint32_t itt;
	uint16_t cid;
	uint8_t  rsvd22[2];
	uint32_t cmdsn, expstatsn;
	uint8_t  rsvd32[16];
} __attribute__((packed));

struct iscsi_logout_rsp {
	uint8_t  opcode, flags, response, rsvd3;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  rsvd8[8];
	uint32_t itt, rsvd20, statsn, expcmdsn, maxcmdsn, rsvd36;
	uint16_t time2wait, time2retain;
	uint8_t  rsvd44[4];
} __attribute__((packed));

/* §11.16: SNACK Request */
struct iscsi_snack_req {
	uint8_t  opcode, flags, rsvd2[2];
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  lun[8];
	uint32_t itt, ttt, rsvd24, expstatsn;
	uint8_t  rsvd32[8];
	uint32_t begrun, runlength;
} __attribute__((packed));

/* §11.17: Reject (data segment: the rejected PDU's 48-byte header) */
struct iscsi_reject {
	uint8_t  opcode, flags, reason, rsvd3;
	uint8_t  total_ahs_len, dlength[3];
	uint8_t  rsvd8[8];
	uint32_t itt, rsvd20, statsn, expcmdsn, maxcmdsn, datasn;
	uint8_t  rsvd40[8];
} __attribute__((packed));

_Static_assert(sizeof(struct iscsi_bhs) == ISCSI_BHS_LEN, "BHS");
_Static_assert(sizeof(struct iscsi_nop_out) == ISCSI_BHS_LEN, "NOP-Out");
_Static_assert(sizeof(struct iscsi_nop_in) == ISCSI_BHS_LEN, "NOP-In");
_Static_assert(sizeof(struct iscsi_scsi_cmd) == ISCSI_BHS_LEN, "SCSI Command");
_Static_assert(sizeof(struct iscsi_scsi_rsp) == ISCSI_BHS_LEN, "SCSI Response");
_Static_assert(sizeof(struct iscsi_tmf_req) == ISCSI_BHS_LEN, "TMF Request");
_Static_assert(sizeof(struct iscsi_tmf_rsp) == ISCSI_BHS_LEN, "TMF Response");
_Static_assert(sizeof(struct iscsi_data_out) == ISCSI_BHS_LEN, "Data-Out");
_Static_assert(sizeof(struct iscsi_data_in) == ISCSI_BHS_LEN, "Data-In");
_Static_assert(sizeof(struct iscsi_r2t) == ISCSI_BHS_LEN, "R2T");
_Static_assert(sizeof(struct iscsi_async_msg) == ISCSI_BHS_LEN, "Async Message");
_Static_assert(sizeof(struct iscsi_text_req) == ISCSI_BHS_LEN, "Text Request");
_Static_assert(sizeof(struct iscsi_text_rsp) == ISCSI_BHS_LEN, "Text Response");
_Static_assert(sizeof(struct iscsi_login_req) == ISCSI_BHS_LEN, "Login Request");
_Static_assert(sizeof(struct iscsi_login_rsp) == ISCSI_BHS_LEN, "Login Response");
_Static_assert(sizeof(struct iscsi_logout_req) == ISCSI_BHS_LEN, "Logout Request");
_Static_assert(sizeof(struct iscsi_logout_rsp) == ISCSI_BHS_LEN, "Logout Response");
_Static_assert(sizeof(struct iscsi_snack_req) == ISCSI_BHS_LEN, "SNACK Request");
_Static_assert(sizeof(struct iscsi_reject) == ISCSI_BHS_LEN, "Reject");

/* ---- Field accessors ---- */

static inline uint8_t iscsi_bhs_opcode(const void *bhs)
{
	return ((const uint8_t *)bhs)[0] & ISCSI_OPCODE_MASK;
}
static inline bool iscsi_bhs_immediate(const void *bhs)
{
	return ((const uint8_t *)bhs)[0] & ISCSI_OP_IMMEDIATE;
}
static inline uint32_t iscsi_bhs_dlength(const void *bhs)
{
	const uint8_t *p = (const uint8_t *)bhs + 5;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline void iscsi_bhs_set_dlength(void *bhs, uint32_t len)
{
	uint8_t *p = (uint8_t *)bhs + 5;
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
}
/* TotalAHSLength in bytes. */
static inline uint32_t iscsi_bhs_ahs_len(const void *bhs)
{
	return 4u * ((const uint8_t *)bhs)[4];
}
/* §11.12.3 / §11.13.3: CSG and NSG of a Login PDU. */
static inline uint8_t iscsi_login_csg(uint8_t flags)
{
	return (flags & ISCSI_LOGIN_CSG_MASK) >> ISCSI_LOGIN_CSG_SHIFT;
}
static inline uint8_t iscsi_login_nsg(uint8_t flags)
{
	return flags & ISCSI_LOGIN_NSG_MASK;
}

/* §11.1.1 (padding): segments are padded to a multiple of 4 bytes. */
static inline uint32_t iscsi_pad_len(uint32_t len)
{
	return (4u - (len & 3u)) & 3u;
}
static inline uint32_t iscsi_padded_len(uint32_t len)
{
	return len + iscsi_pad_len(len);
}

/* ---- LUN (§11.2.1.3 -> SAM-5 §4.7) ---- */

/* Encode LUN `lun` as a single-level 8-byte LUN: peripheral device
 * addressing below 256, flat space addressing up to 16383. Returns 0, or
 * -1 if the LUN cannot be represented. */
int iscsi_lun_encode(uint32_t lun, uint8_t out[8]);
/* Decode a single-level peripheral or flat-space LUN. Returns 0, or -1 for
 * other addressing methods / multi-level LUNs (the caller reports "logical
 * unit not supported"). */
int iscsi_lun_decode(const uint8_t in[8], uint32_t *lun);

/* ---- Serial number arithmetic (RFC 1982, SERIAL_BITS = 32; §4.2.2.1) ---- */

/* a < b in serial arithmetic; false when a and b are exactly 2^31 apart
 * (undefined in RFC 1982 §3.2), so neither sn_lt nor sn_gt holds then. */
static inline bool sn_lt(uint32_t a, uint32_t b)
{
	uint32_t d = b - a;
	return d != 0 && d < 0x80000000u;
}
static inline bool sn_gt(uint32_t a, uint32_t b) { return sn_lt(b, a); }
static inline bool sn_le(uint32_t a, uint32_t b) { return a == b || sn_lt(a, b); }
static inline bool sn_ge(uint32_t a, uint32_t b) { return a == b || sn_gt(a, b); }
/* lo <= sn <= hi (serial). An empty window (hi == lo - 1, §4.2.2.1: MaxCmdSN
 * = ExpCmdSN - 1) contains nothing. */
static inline bool sn_in_window(uint32_t sn, uint32_t lo, uint32_t hi)
{
	return sn_le(lo, sn) && sn_le(sn, hi);
}

/* ---- Digests (§13.1, CRC32C; sent little-endian, RFC 3720 App. B.4) ---- */

/* Header digest over the BHS and `ahs_len` bytes of AHS that follow it in
 * the same buffer. */
uint32_t iscsi_hdgst(const void *bhs, uint32_t ahs_len);
/* Data digest over a data segment and its zero padding (§13.1: padding is
 * covered). */
uint32_t iscsi_ddgst(const void *data, uint32_t len);
/* The same over an iovec array holding `len` data bytes (no padding). */
uint32_t iscsi_ddgst_iov(const struct iovec *iov, int iovcnt, uint32_t len);
static inline void iscsi_digest_put(void *p, uint32_t crc)
{
	uint8_t *b = p;
	b[0] = (uint8_t)crc;
	b[1] = (uint8_t)(crc >> 8);
	b[2] = (uint8_t)(crc >> 16);
	b[3] = (uint8_t)(crc >> 24);
}
static inline uint32_t iscsi_digest_get(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* ---- Checks on a received BHS (target role) ---- */

/* What the connection has negotiated so far. */
struct iscsi_conn_limits {
	bool full_feature;          /* false: login phase (only Login Requests) */
	bool discovery;             /* SessionType=Discovery */
	uint32_t max_recv_dsl;      /* our MaxRecvDataSegmentLength (8192 in login) */
	uint32_t max_ahs_len;       /* AHS bytes accepted on a SCSI Command */
	bool initial_r2t;           /* InitialR2T=Yes */
	bool immediate_data;        /* ImmediateData=Yes */
	uint32_t first_burst_length;
	uint8_t error_recovery_level;
};

/* Why a BHS was refused. */
struct iscsi_bhs_verdict {
	uint8_t reason;             /* Reject reason (FFP) */
	uint16_t login_status;      /* Login Response status to use in the login phase */
	bool drop;                  /* close the connection after answering */
	const char *why;            /* for the log */
};

/*
 * Check a received BHS before reading the rest of the PDU: opcode known and
 * legal for the phase and session type, AHS / DataSegmentLength within the
 * negotiated limits, reserved code values (§11.2: "receipt of reserved code
 * values in defined fields MUST be reported as a protocol error"), Login and
 * Text F/C/T bit combinations, CSG/NSG, immediate data rules (§11.3.1,
 * §13.11, §13.14). Reserved *bits* are ignored as §11.2 requires.
 * Returns 0, or a Reject reason with *v filled (v may be NULL).
 */
int iscsi_bhs_check(const void *bhs, const struct iscsi_conn_limits *lim,
		    struct iscsi_bhs_verdict *v);

const char *iscsi_opcode_name(uint8_t opcode);
const char *iscsi_reject_reason_name(uint8_t reason);
const char *iscsi_login_status_name(uint16_t status);

/* Walk the AHS of a SCSI Command (§11.2.2): returns 0 with the extended CDB
 * bytes (*ext_cdb, *ext_cdb_len; NULL/0 if none) and bidirectional read
 * length (*bidi_len, 0 if none), or -1 if the AHS is malformed. */
int iscsi_ahs_parse(const uint8_t *ahs, uint32_t ahs_len, const uint8_t **ext_cdb,
		    uint32_t *ext_cdb_len, uint32_t *bidi_len);

/* ---- Builders for target PDUs ----
 * Initiator Task Tags are opaque to the target: `itt` arguments are passed
 * exactly as received (wire order). Every other number is in host order. */

/* The sequence numbers every target PDU carries (§11.x: StatSN, ExpCmdSN, MaxCmdSN). */
struct iscsi_sn {
	uint32_t statsn;
	uint32_t expcmdsn;
	uint32_t maxcmdsn;
};

/* §11.13: Login Response answering `req`. flags: T/C/CSG/NSG. */
void iscsi_build_login_rsp(struct iscsi_login_rsp *rsp, const struct iscsi_login_req *req,
			   uint8_t flags, uint16_t tsih, const struct iscsi_sn *sn,
			   uint16_t status, uint32_t dlength);
static inline uint8_t iscsi_login_flags(bool transit, bool cont, uint8_t csg, uint8_t nsg)
{
	return (transit ? ISCSI_LOGIN_FLAG_TRANSIT : 0) | (cont ? ISCSI_FLAG_CONTINUE : 0) |
	       (uint8_t)((csg & 3) << ISCSI_LOGIN_CSG_SHIFT) | (transit ? (nsg & 3) : 0);
}
/* §11.11: Text Response to `req`; final=F, cont=C (never both). */
void iscsi_build_text_rsp(struct iscsi_text_rsp *rsp, const struct iscsi_text_req *req,
			  bool final, bool cont, uint32_t ttt, const struct iscsi_sn *sn,
			  uint32_t dlength);
/* §11.4: SCSI Response. residual_flags: ISCSI_FLAG_OVERFLOW/UNDERFLOW (and
 * the bidi ones); sense_seg_len: length of the data segment built with
 * iscsi_sense_segment (0 if none). */
void iscsi_build_scsi_rsp(struct iscsi_scsi_rsp *rsp, uint32_t itt, uint8_t response,
			  uint8_t status, uint8_t residual_flags, uint32_t residual,
			  const struct iscsi_sn *sn, uint32_t sense_seg_len);
/* §11.4.7: the SCSI Response data segment = 2-byte SenseLength + sense.
 * Writes into out (room for 2 + sense_len bytes); returns the segment length. */
uint32_t iscsi_sense_segment(uint8_t *out, const uint8_t *sense, uint16_t sense_len);
/* §11.7: Data-In. With `with_status`, F and S are set and status, StatSN and
 * the residual are sent; otherwise StatSN and residual are 0 (reserved).
 * sn->expcmdsn/maxcmdsn are always sent. */
void iscsi_build_data_in(struct iscsi_data_in *d, const uint8_t lun[8], uint32_t itt,
			 uint32_t datasn, uint32_t offset, uint32_t len, bool final,
			 bool with_status, uint8_t status, uint8_t residual_flags,
			 uint32_t residual, const struct iscsi_sn *sn);
/* §11.8: R2T (StatSN carries the next StatSN, not incremented). */
void iscsi_build_r2t(struct iscsi_r2t *r, const uint8_t lun[8], uint32_t itt, uint32_t ttt,
		     uint32_t r2tsn, uint32_t offset, uint32_t desired_len,
		     const struct iscsi_sn *sn);
/* §11.19: NOP-In. An answer to a NOP-Out echoes its ITT and LUN with TTT
 * 0xffffffff; a target ping uses ITT 0xffffffff and a real TTT. */
void iscsi_build_nop_in(struct iscsi_nop_in *n, const uint8_t lun[8], uint32_t itt,
			uint32_t ttt, const struct iscsi_sn *sn, uint32_t dlength);
/* §11.17: Reject; the data segment (ISCSI_BHS_LEN bytes) is the rejected header. */
void iscsi_build_reject(struct iscsi_reject *r, uint8_t reason, const struct iscsi_sn *sn);
/* A whole Reject PDU (header + the echoed header, 4-byte aligned, no digests). */
struct iscsi_reject_pdu {
	struct iscsi_reject hdr;
	uint8_t rejected[ISCSI_BHS_LEN];
} __attribute__((packed));
void iscsi_build_reject_pdu(struct iscsi_reject_pdu *p, uint8_t reason, const void *bad_bhs,
			    const struct iscsi_sn *sn);
/* §11.15: Logout Response. */
void iscsi_build_logout_rsp(struct iscsi_logout_rsp *r, uint32_t itt, uint8_t response,
			    uint16_t time2wait, uint16_t time2retain, const struct iscsi_sn *sn);
/* §11.6: Task Management Function Response. */
void iscsi_build_tmf_rsp(struct iscsi_tmf_rsp *r, uint32_t itt, uint8_t response,
			 const struct iscsi_sn *sn);
/* §11.9: Asynchronous Message (data segment: sense data for SCSI events,
 * built with iscsi_sense_segment). */
void iscsi_build_async(struct iscsi_async_msg *a, const uint8_t lun[8], uint8_t event,
		       uint16_t param1, uint16_t param2, uint16_t param3,
		       const struct iscsi_sn *sn, uint32_t dlength);

#endif

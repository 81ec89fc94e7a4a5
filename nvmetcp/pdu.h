/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDUs (NVMe/TCP Transport Specification 1.0, §3.6): wire layouts
 * and the checks both ends apply to a received header, so the target, the
 * host library and the tests agree on one definition. Little-endian fields.
 */
#ifndef NVMETCP_PDU_H
#define NVMETCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bridge/crc32c.h"
#include "bridge/nvme.h"

/* §3.6.1: PDU types. */
enum nvmetcp_pdu_type {
	NVMETCP_ICREQ       = 0x00,
	NVMETCP_ICRESP      = 0x01,
	NVMETCP_H2C_TERM    = 0x02,
	NVMETCP_C2H_TERM    = 0x03,
	NVMETCP_CAPSULE_CMD = 0x04,
	NVMETCP_CAPSULE_RSP = 0x05,
	NVMETCP_H2C_DATA    = 0x06,
	NVMETCP_C2H_DATA    = 0x07,
	NVMETCP_R2T         = 0x09,
};

/* §3.6.2: common header flags. */
#define NVMETCP_F_HDGST     0x01
#define NVMETCP_F_DDGST     0x02
#define NVMETCP_F_DATA_LAST 0x04    /* H2CData/C2HData: last PDU of the transfer */
#define NVMETCP_F_DATA_SUCCESS 0x08 /* C2HData: no CapsuleResp follows */

/* ICReq/ICResp DGST field bits. */
#define NVMETCP_DGST_HDR  0x01
#define NVMETCP_DGST_DATA 0x02

#define NVMETCP_DIGEST_LEN 4
#define NVMETCP_PFV_1_0    0

/* §3.6.2.1: common header. */
struct nvmetcp_hdr {
	uint8_t  type;
	uint8_t  flags;
	uint8_t  hlen;
	uint8_t  pdo;
	uint32_t plen;
} __attribute__((packed));

/* §3.6.2.2: ICReq, §3.6.2.3: ICResp (128 bytes each). */
struct nvmetcp_icreq {
	struct nvmetcp_hdr hdr;
	uint16_t pfv;
	uint8_t  hpda;          /* host PDU data alignment, 0's based dwords */
	uint8_t  dgst;
	uint32_t maxr2t;        /* 0's based */
	uint8_t  rsvd[112];
} __attribute__((packed));

struct nvmetcp_icresp {
	struct nvmetcp_hdr hdr;
	uint16_t pfv;
	uint8_t  cpda;
	uint8_t  dgst;
	uint32_t maxh2cdata;    /* bytes, multiple of 4, >= 4096 */
	uint8_t  rsvd[112];
} __attribute__((packed));

/* §3.6.2.4/5: H2CTermReq/C2HTermReq header (data = the offending header). */
struct nvmetcp_term {
	struct nvmetcp_hdr hdr;
	uint16_t fes;
	uint32_t fei;
	uint8_t  rsvd[10];
} __attribute__((packed));

/* Fatal error status values (§3.6.2.4). */
enum nvmetcp_fes {
	NVMETCP_FES_INVALID_HEADER   = 0x01,
	NVMETCP_FES_PDU_SEQUENCE     = 0x02,
	NVMETCP_FES_HDR_DIGEST       = 0x03,
	NVMETCP_FES_DATA_OUT_OF_RANGE = 0x04,
	NVMETCP_FES_R2T_LIMIT        = 0x05,   /* C2HTermReq: data transfer limit exceeded */
	NVMETCP_FES_DATA_LIMIT       = 0x05,
	NVMETCP_FES_UNSUPPORTED_PARAM = 0x06,
};
#define NVMETCP_TERM_MAX_DATA 152      /* header bytes echoed in a TermReq */

/* §3.6.2.6/7: CapsuleCmd (hlen 72), CapsuleResp (hlen 24). */
struct nvmetcp_cmd {
	struct nvmetcp_hdr hdr;
	struct nvb_sqe sqe;
} __attribute__((packed));

struct nvmetcp_rsp {
	struct nvmetcp_hdr hdr;
	struct nvb_cqe cqe;
} __attribute__((packed));

/* §3.6.2.8: H2CData, §3.6.2.9: C2HData, §3.6.2.10: R2T (hlen 24 each). */
struct nvmetcp_data {
	struct nvmetcp_hdr hdr;
	uint16_t cccid;
	uint16_t ttag;          /* H2CData: from the R2T; C2HData: reserved */
	uint32_t datao;
	uint32_t datal;
	uint8_t  rsvd[4];
} __attribute__((packed));

struct nvmetcp_r2t {
	struct nvmetcp_hdr hdr;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint8_t  rsvd[4];
} __attribute__((packed));

_Static_assert(sizeof(struct nvmetcp_hdr) == 8, "common header");
_Static_assert(sizeof(struct nvmetcp_icreq) == 128, "ICReq");
_Static_assert(sizeof(struct nvmetcp_icresp) == 128, "ICResp");
_Static_assert(sizeof(struct nvmetcp_term) == 24, "TermReq");
_Static_assert(sizeof(struct nvmetcp_cmd) == 72, "CapsuleCmd");
_Static_assert(sizeof(struct nvmetcp_rsp) == 24, "CapsuleResp");
_Static_assert(sizeof(struct nvmetcp_data) == 24, "H2C/C2HData");
_Static_assert(sizeof(struct nvmetcp_r2t) == 24, "R2T");

/* The largest PDU header (ICReq/ICResp) and header+digest. */
#define NVMETCP_MAX_HDR 128

/* Which side is receiving: the target receives H2C PDUs, the host C2H. */
enum nvmetcp_role { NVMETCP_ROLE_TARGET, NVMETCP_ROLE_HOST };

/* What was negotiated on a connection (ICReq/ICResp). Before the exchange
 * completes, `established` is false and only ICReq/ICResp are allowed
 * (and a TermReq, which either side may send at any time). */
struct nvmetcp_params {
	bool established;
	bool hdgst;
	bool ddgst;
	uint32_t rx_pda;        /* required data alignment of PDUs we receive, bytes (0 = none) */
	uint32_t max_data;      /* largest data a received PDU may carry, bytes */
};

/* The fixed header length (HLEN) a PDU type must carry; 0 for unknown types. */
uint8_t nvmetcp_pdu_hlen(uint8_t type);

/*
 * Check a received common header (the first 8 bytes) before reading the
 * rest: known type allowed for the role and state, HLEN exact for the type,
 * digest flags as negotiated, PDO/PLEN consistent (PDO >= HLEN + header
 * digest, aligned to rx_pda, PLEN >= PDO when data is present, data length
 * within max_data; PLEN == HLEN [+ digest] when no data may follow).
 * Returns 0, or a FES with *fei set to the byte offset of the offending field.
 */
int nvmetcp_pdu_check(const struct nvmetcp_hdr *h, enum nvmetcp_role role,
		      const struct nvmetcp_params *p, uint16_t *fes, uint32_t *fei);

/* Layout of a PDU whose header passed nvmetcp_pdu_check. */
struct nvmetcp_layout {
	uint32_t hlen;          /* header bytes */
	uint32_t hdgst_len;     /* 0 or 4 */
	uint32_t pad;           /* bytes between header(+digest) and data (PDO alignment) */
	uint32_t data_len;      /* payload bytes */
	uint32_t ddgst_len;     /* 0 or 4 */
};
void nvmetcp_pdu_layout(const struct nvmetcp_hdr *h, struct nvmetcp_layout *l);

/* Build a common header for an outgoing PDU; data_len 0 means no data.
 * pda: the peer's required data alignment in bytes (0 = none). */
void nvmetcp_pdu_init(struct nvmetcp_hdr *h, uint8_t type, uint8_t flags, bool hdgst,
		      bool ddgst, uint32_t data_len, uint32_t pda);

/* ---- Helpers shared by the target and the host library (additive) ---- */

/* §3.6.2.4: a TermReq PDU is at most 152 bytes (the Linux host rejects
 * more), so at most 128 bytes of the offending header are echoed. */
#define NVMETCP_TERM_MAX_PLEN 152
#define NVMETCP_TERM_MAX_ECHO (NVMETCP_TERM_MAX_PLEN - sizeof(struct nvmetcp_term))
/* Sanity bound on PLEN of any received PDU (nvmetcp_pdu_check rejects more). */
#define NVMETCP_MAX_PLEN (16u << 20)
/* ICResp MAXH2CDATA lower bound (§3.6.2.3). */
#define NVMETCP_MIN_MAXH2CDATA 4096

/* HPDA/CPDA (0's based dwords, 0..31) to bytes; 0 for 0 (no constraint
 * beyond the dword alignment every header already has). */
uint32_t nvmetcp_pda_bytes(uint8_t pda);

/* Fill an ICReq (§3.6.2.2) / ICResp (§3.6.2.3), header included. */
void nvmetcp_icreq_init(struct nvmetcp_icreq *req, bool hdgst, bool ddgst,
			uint8_t hpda, uint32_t maxr2t);
void nvmetcp_icresp_init(struct nvmetcp_icresp *rsp, bool hdgst, bool ddgst,
			 uint8_t cpda, uint32_t maxh2cdata);
/* Body checks once nvmetcp_pdu_check accepted the common header.
 * ICReq: PFV 0, HPDA <= 31. ICResp: PFV 0, CPDA <= 31, digests exactly as
 * requested, MAXH2CDATA >= 4096 and a multiple of 4.
 * Return 0 or a FES with *fei = byte offset of the offending field. */
int nvmetcp_icreq_check(const struct nvmetcp_icreq *req, uint16_t *fes, uint32_t *fei);
int nvmetcp_icresp_check(const struct nvmetcp_icresp *rsp, bool hdgst, bool ddgst,
			 uint16_t *fes, uint32_t *fei);

/* Build a TermReq sent by `sender` (HOST: H2CTermReq, TARGET: C2HTermReq)
 * that will echo `hdr_len` bytes of the offending header; returns how many
 * bytes to send after the 24-byte TermReq header (<= NVMETCP_TERM_MAX_ECHO). */
size_t nvmetcp_term_init(struct nvmetcp_term *t, enum nvmetcp_role sender,
			 uint16_t fes, uint32_t fei, size_t hdr_len);
const char *nvmetcp_fes_name(uint16_t fes);

/* Digests (§3.6.1.x): CRC32C, sent little-endian right after what they cover.
 * The header digest covers HLEN bytes of the header; the caller's buffer
 * holds HLEN + 4 bytes. */
uint32_t nvmetcp_hdgst(const struct nvmetcp_hdr *h);
void nvmetcp_hdgst_put(struct nvmetcp_hdr *h);
bool nvmetcp_hdgst_ok(const struct nvmetcp_hdr *h);
/* Running data digest over an iovec array (start from NVB_CRC32C_INIT,
 * finish with nvb_crc32c_final). */
uint32_t nvmetcp_ddgst_update(uint32_t crc, const struct iovec *iov, int iovcnt);
static inline void nvmetcp_digest_put(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}
static inline uint32_t nvmetcp_digest_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif

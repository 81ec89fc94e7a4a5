/* SPDX-License-Identifier: MIT */
/*
 * NVMe submission/completion queue entries and status helpers.
 *
 * Everything inside nvbridge is an NVMe command: the NVMe/TCP front end hands
 * these to the executor as they arrive, the iSCSI front end builds them from
 * CDBs. NVMe data structures (Identify, log pages, discovery log, status code
 * values) come from libnvme's <nvme/types.h>; libnvme has no SQE/CQE layout,
 * so the 64-byte SQE and 16-byte CQE are defined here, once.
 * All multi-byte fields are little-endian as on the wire (NVMe 2.0 §4.1, §4.2).
 */
#ifndef NVB_NVME_H
#define NVB_NVME_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <nvme/types.h>

/* NVMe 2.0 §4.3.2: SGL descriptor (16 bytes). */
struct nvb_sgl_desc {
	uint64_t addr;
	uint32_t length;
	uint8_t  rsvd[3];
	uint8_t  type;          /* descriptor type (7:4) | subtype (3:0) */
} __attribute__((packed));

/* SGL descriptor types/subtypes used by NVMe/TCP (NVMe/TCP 1.0 §3.3.2). */
#define NVB_SGL_TYPE_DATA_BLOCK       0x0
#define NVB_SGL_TYPE_TRANSPORT_DATA   0x5
#define NVB_SGL_SUBTYPE_ADDRESS       0x0
#define NVB_SGL_SUBTYPE_OFFSET        0x1
#define NVB_SGL_SUBTYPE_TRANSPORT     0xA
/* In-capsule data: Data Block, Offset. Host-memory data: Transport Data Block. */
#define NVB_SGL_INCAPSULE  ((NVB_SGL_TYPE_DATA_BLOCK << 4) | NVB_SGL_SUBTYPE_OFFSET)
#define NVB_SGL_TRANSPORT  ((NVB_SGL_TYPE_TRANSPORT_DATA << 4) | NVB_SGL_SUBTYPE_TRANSPORT)

/* NVMe 2.0 §4.2: submission queue entry, 64 bytes. */
struct nvb_sqe {
	uint8_t  opcode;
	uint8_t  flags;         /* FUSE (1:0), PSDT (7:6) */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	struct nvb_sgl_desc dptr;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
} __attribute__((packed));

/* NVMe-oF 1.1 §3.3: Fabrics command layout (opcode 7Fh), same 64 bytes. */
struct nvb_fabrics_cmd {
	uint8_t  opcode;        /* 0x7f */
	uint8_t  rsvd1;
	uint16_t cid;
	uint8_t  fctype;
	uint8_t  rsvd2[19];
	struct nvb_sgl_desc dptr;
	uint8_t  specific[24];
} __attribute__((packed));

/* Connect command specific fields (NVMe-oF 1.1 §3.3). */
struct nvb_connect_cmd {
	uint8_t  opcode;
	uint8_t  rsvd1;
	uint16_t cid;
	uint8_t  fctype;
	uint8_t  rsvd2[19];
	struct nvb_sgl_desc dptr;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize;        /* 0's based */
	uint8_t  cattr;
	uint8_t  rsvd3;
	uint32_t kato;          /* milliseconds */
	uint8_t  rsvd4[12];
} __attribute__((packed));

/* Property Get/Set (NVMe-oF 1.1 §3.4, §3.5). */
struct nvb_prop_cmd {
	uint8_t  opcode;
	uint8_t  rsvd1;
	uint16_t cid;
	uint8_t  fctype;
	uint8_t  rsvd2[35];
	uint8_t  attrib;        /* bit 0: 0 = 4 bytes, 1 = 8 bytes */
	uint8_t  rsvd3[3];
	uint32_t offset;
	uint64_t value;         /* Property Set only */
	uint8_t  rsvd4[8];
} __attribute__((packed));

/* NVMe 2.0 §4.6: completion queue entry, 16 bytes. */
struct nvb_cqe {
	union {
		uint64_t u64;
		uint32_t u32;
		uint16_t u16;
	} result;
	uint16_t sqhd;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;        /* phase (bit 0) | status field (15:1) */
} __attribute__((packed));

_Static_assert(sizeof(struct nvb_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct nvb_fabrics_cmd) == 64, "fabrics SQE is 64 bytes");
_Static_assert(sizeof(struct nvb_connect_cmd) == 64, "connect SQE is 64 bytes");
_Static_assert(sizeof(struct nvb_prop_cmd) == 64, "property SQE is 64 bytes");
_Static_assert(sizeof(struct nvb_cqe) == 16, "CQE is 16 bytes");

#define NVB_FABRICS_OPCODE 0x7f

/*
 * A status as it travels inside nvbridge: (SCT << 8) | SC, plus NVB_DNR.
 * This is the 15-bit Status Field of the CQE without the phase bit; the
 * wire value is (status << 1) (NVMe 2.0 §4.6.1).
 */
typedef uint16_t nvb_status;
#define NVB_SC(sct, sc)   ((nvb_status)((((sct) & 0x7) << 8) | ((sc) & 0xff)))
#define NVB_DNR           ((nvb_status)0x4000)
#define NVB_MORE          ((nvb_status)0x2000)
#define NVB_STATUS_SCT(s) (((s) >> 8) & 0x7)
#define NVB_STATUS_SC(s)  ((s) & 0xff)

#define NVB_OK                 NVB_SC(NVME_SCT_GENERIC, NVME_SC_SUCCESS)
#define NVB_INVALID_OPCODE     (NVB_SC(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE) | NVB_DNR)
#define NVB_INVALID_FIELD      (NVB_SC(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD) | NVB_DNR)
#define NVB_INVALID_NS         (NVB_SC(NVME_SCT_GENERIC, NVME_SC_INVALID_NS) | NVB_DNR)
#define NVB_LBA_RANGE          (NVB_SC(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE) | NVB_DNR)
#define NVB_DATA_XFER_ERROR    NVB_SC(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR)
#define NVB_INTERNAL_ERROR     NVB_SC(NVME_SCT_GENERIC, NVME_SC_INTERNAL)
#define NVB_SGL_INVALID_DATA   (NVB_SC(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA) | NVB_DNR)
#define NVB_CMD_SEQ_ERROR      (NVB_SC(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR) | NVB_DNR)
#define NVB_COMPARE_FAILED     (NVB_SC(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED) | NVB_DNR)
#define NVB_WRITE_FAULT        NVB_SC(NVME_SCT_MEDIA, 0x80)
#define NVB_READ_ERROR         NVB_SC(NVME_SCT_MEDIA, 0x81)
/* Reservations (NVMe 2.0 §8.19) and fused operations (§4.x "Fused Operations"). */
#define NVB_RESERVATION_CONFLICT \
	(NVB_SC(NVME_SCT_GENERIC, NVME_SC_RESERVATION_CONFLICT) | NVB_DNR)
#define NVB_CAP_EXCEEDED       (NVB_SC(NVME_SCT_GENERIC, NVME_SC_CAP_EXCEEDED) | NVB_DNR)
#define NVB_HOSTID_FORMAT      (NVB_SC(NVME_SCT_GENERIC, NVME_SC_HOSTID_FORMAT) | NVB_DNR)
#define NVB_FUSED_FAIL         NVB_SC(NVME_SCT_GENERIC, NVME_SC_FUSED_FAIL)
#define NVB_FUSED_MISSING      NVB_SC(NVME_SCT_GENERIC, NVME_SC_FUSED_MISSING)
/* Path-related statuses (SCT 3, no DNR: the host retries on another path).
 * Named NVB_STATUS_ANA_* because NVB_ANA_INACCESSIBLE/PERSISTENT_LOSS are
 * the ANA state enum constants below. */
#define NVB_STATUS_ANA_PERSISTENT_LOSS NVB_SC(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS)
#define NVB_STATUS_ANA_INACCESSIBLE    NVB_SC(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE)
#define NVB_STATUS_ANA_TRANSITION      NVB_SC(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION)
#define NVB_ANA_TRANSITION     NVB_STATUS_ANA_TRANSITION

/* Opcode bits 1:0 give the data direction (NVMe 2.0 §5, Figure "Opcodes"). */
enum nvb_xfer_dir {
	NVB_XFER_NONE = 0,
	NVB_XFER_HOST_TO_CTRL = 1,
	NVB_XFER_CTRL_TO_HOST = 2,
	NVB_XFER_BIDIR = 3,
};
static inline enum nvb_xfer_dir nvb_opcode_dir(uint8_t opcode)
{
	return (enum nvb_xfer_dir)(opcode & 3);
}

/* ANA states (NVMe 2.0 §8.1.1.x / ANA log page); values are the wire values. */
enum nvb_ana_state {
	NVB_ANA_OPTIMIZED       = 0x01,
	NVB_ANA_NON_OPTIMIZED   = 0x02,
	NVB_ANA_INACCESSIBLE    = 0x03,
	NVB_ANA_PERSISTENT_LOSS = 0x04,
	NVB_ANA_CHANGE          = 0x0f,
};
const char *nvb_ana_state_name(enum nvb_ana_state s);
/* Returns 0 and sets *out on a known name ("optimized", "non-optimized",
 * "inaccessible", "persistent-loss", "change"), -1 otherwise. */
int nvb_ana_state_parse(const char *name, enum nvb_ana_state *out);
/*
 * Whether an administrator may put an ANA group in state s (config file,
 * control socket, import). "change" is parsed but never settable: it is a
 * transition state (NVMe 2.0 §8.1, ANA Change state), nvbridged's state
 * changes are instantaneous, and the Linux host resets a controller whose
 * group stays in it longer than 2×ANATT. The executor and the ANA log still
 * handle it.
 */
bool nvb_ana_state_settable(enum nvb_ana_state s);
/* The reason given when "change" is refused (ANATT is NVMET_ANATT_S = 10 s). */
#define NVB_ANA_CHANGE_REFUSED \
	"state \"change\" is transient: hosts reset controllers left in it longer " \
	"than 2×ANATT (20 s); give the state the group should be in"

#define NVB_NQN_MAX 223            /* NVMe 2.0 §4.5: NQN up to 223 bytes */
#define NVB_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define NVB_MAX_NSID 1024          /* namespaces per subsystem (MNAN/NN) */
#define NVB_MAX_ANA_GROUPS 128     /* ANAGRPMAX */

#endif

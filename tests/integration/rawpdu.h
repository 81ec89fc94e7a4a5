/* SPDX-License-Identifier: MIT */
/*
 * Hand-built NVMe/TCP PDUs for tests that must say things the host library
 * never would: commands out of order, Connects with wrong fields, broken
 * headers. One connection = one struct raw_conn; everything blocks with a
 * timeout so a target that says nothing makes a test fail, never hang.
 */
#ifndef NVB_RAWPDU_H
#define NVB_RAWPDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/nvme.h"
#include "nvmetcp/pdu.h"

struct raw_conn {
	int fd;
	bool hdgst, ddgst;              /* negotiated by raw_open's ICReq */
	uint32_t maxh2cdata;
	uint16_t next_cid;
};

/* A received PDU: its header (with digest, if any) and the first bytes of
 * its data. */
struct raw_pdu {
	union {
		struct nvmetcp_hdr hdr;
		struct nvmetcp_rsp rsp;
		struct nvmetcp_data data;
		struct nvmetcp_r2t r2t;
		struct nvmetcp_term term;
		struct nvmetcp_icresp icresp;
		uint8_t raw[NVMETCP_MAX_HDR + NVMETCP_DIGEST_LEN];
	} h;
	uint32_t data_len;              /* payload bytes the PDU carried */
};

/* TCP connect to addr:port and, with icreq, the ICReq/ICResp exchange.
 * Returns 0 or -errno (-ECONNABORTED: the target sent a C2HTermReq). */
int raw_open(struct raw_conn *c, const char *addr, const char *port, bool icreq,
	     bool hdgst, bool ddgst, int timeout_ms);
void raw_close(struct raw_conn *c);

/* Send a CapsuleCmd carrying `len` bytes of in-capsule data (0: none).
 * The SQE is sent as given (set its SGL with raw_sgl_*). 0 or -errno. */
int raw_send_capsule(struct raw_conn *c, const struct nvb_sqe *sqe, const void *data,
		     uint32_t len);
/* Read one whole PDU: 1, 0 on a clean EOF before any byte, or -errno
 * (-ETIMEDOUT, -EPROTO for a header the checks in pdu.h reject). Up to
 * datalen bytes of the payload go to data (more are read and dropped). */
int raw_recv_pdu(struct raw_conn *c, struct raw_pdu *p, void *data, size_t datalen,
		 int timeout_ms);

void raw_sgl_incapsule(struct nvb_sqe *sqe, uint32_t len);
void raw_sgl_transport(struct nvb_sqe *sqe, uint32_t len);

/*
 * Run one command: send the capsule (out/out_len as in-capsule data;
 * R2Ts are answered from `out` too), collect C2HData into in/in_len, and
 * return the completion's status (an nvb_status, 0 for success), or
 * -ECONNABORTED (C2HTermReq), -ENOTCONN (closed), -ETIMEDOUT, -EPROTO.
 * cqe (optional) receives the completion.
 */
int raw_exec(struct raw_conn *c, struct nvb_sqe *sqe, const void *out, uint32_t out_len,
	     bool incapsule, void *in, uint32_t in_len, struct nvb_cqe *cqe, int timeout_ms);

/* A Connect command and its 1024 bytes of data (in-capsule SGL set). */
struct nvmf_connect_data;
struct nvb_connect_cmd;
void raw_connect_build(struct nvb_connect_cmd *cmd, struct nvmf_connect_data *data,
		       uint16_t qid, uint16_t cntlid, const char *subnqn, const char *hostnqn,
		       uint16_t sqsize, uint32_t kato_ms);
/* Fabrics Connect (NVMe-oF 1.1 §3.3) for queue qid of controller cntlid
 * (0xffff: a new one); *cntlid_out gets the CNTLID on success. */
int raw_connect(struct raw_conn *c, uint16_t qid, uint16_t cntlid, const char *subnqn,
		const char *hostnqn, uint16_t sqsize, uint32_t kato_ms, uint16_t *cntlid_out,
		int timeout_ms);
int raw_prop_get(struct raw_conn *c, uint32_t offset, unsigned size, uint64_t *value,
		 int timeout_ms);
int raw_prop_set(struct raw_conn *c, uint32_t offset, unsigned size, uint64_t value,
		 int timeout_ms);
/* CC.EN = 1 with the queue entry sizes every host uses, then wait for
 * CSTS.RDY. 0, an nvb_status or -errno. */
int raw_enable(struct raw_conn *c, int timeout_ms);

/* How a connection ended after something hostile was sent. */
enum raw_end {
	RAW_END_CLOSED,         /* EOF (or reset) with nothing before it */
	RAW_END_TERMREQ,        /* C2HTermReq, then EOF */
	RAW_END_ERROR_CQE,      /* a CapsuleResp with a non-zero status */
	RAW_END_SUCCESS_CQE,    /* a CapsuleResp with status 0 (the target accepted it) */
	RAW_END_TERM_OPEN,      /* C2HTermReq but the connection stayed open */
	RAW_END_TIMEOUT,        /* nothing at all within the timeout: a hang */
	RAW_END_OTHER,          /* some other PDU */
};
const char *raw_end_name(enum raw_end e);
/* Read until the target ends the exchange (see enum raw_end); with
 * cqe_ends, a CapsuleResp ends it at once (*status, if not NULL, gets its
 * status field). `detail` describes what came. */
enum raw_end raw_expect_end(struct raw_conn *c, int timeout_ms, bool cqe_ends,
			    unsigned *status, char *detail, size_t detail_len);

#endif

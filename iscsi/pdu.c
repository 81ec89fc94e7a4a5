/* SPDX-License-Identifier: MIT */
/*
 * iSCSI PDU rules (RFC 7143 §11): received-BHS checks for the target role,
 * LUN codec, digests and builders for the PDUs the target sends.
 */
#include "iscsi/pdu.h"

/* ---- Received BHS checks ---- */

typedef int (*bhs_check_fn)(const void *bhs, const struct iscsi_conn_limits *lim,
			    const char **why);

/* What the target accepts for each opcode it may receive. */
struct opcode_rule {
	const char *name;
	bool from_initiator;    /* the target may receive it */
	bool discovery_ok;      /* allowed in a Discovery session (§4.3: text and logout;
				 * NOP-Out tolerated as a keep-alive) */
	bool ahs_ok;            /* may carry AHS (only SCSI Command, §11.2.2) */
	bool data_ok;           /* may carry a data segment */
	bhs_check_fn check;     /* opcode-specific rules, may be NULL */
};

static int check_nop_out(const void *bhs, const struct iscsi_conn_limits *lim,
			 const char **why)
{
	const struct iscsi_nop_out *n = bhs;

	/* §11.18.2/3: ITT 0xffffffff only answers a target ping, whose TTT it
	 * must echo; an initiator ping has a real ITT and TTT 0xffffffff. */
	if (n->itt == ISCSI_RSVD_TAG && n->ttt == ISCSI_RSVD_TAG) {
		*why = "NOP-Out with reserved ITT and TTT";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

static int check_scsi_cmd(const void *bhs, const struct iscsi_conn_limits *lim,
			  const char **why)
{
	const struct iscsi_scsi_cmd *c = bhs;
	uint32_t dsl = iscsi_bhs_dlength(bhs);
	uint32_t edtl = be32toh(c->edtl);
	bool rd = c->flags & ISCSI_CMD_FLAG_READ, wr = c->flags & ISCSI_CMD_FLAG_WRITE;

	if ((c->flags & ISCSI_CMD_ATTR_MASK) > ISCSI_ATTR_ACA) {
		*why = "reserved task attribute";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	/* §11.3.1.1/2: R and W MUST NOT both be 0 when data is expected. */
	if (edtl && !rd && !wr) {
		*why = "Expected Data Transfer Length without R or W";
		return ISCSI_REJECT_INVALID_PDU_FIELD;
	}
	/* §11.3.1.2: W=1 with F=0 announces unsolicited Data-Out, which
	 * InitialR2T=Yes forbids (§13.10). */
	if (wr && !(c->flags & ISCSI_FLAG_FINAL) && lim->initial_r2t) {
		*why = "unsolicited data announced with InitialR2T=Yes";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	if (!dsl)
		return 0;
	/* Immediate data (§13.11) is write data only. */
	if (!wr) {
		*why = "data segment on a command without W";
		return ISCSI_REJECT_INVALID_PDU_FIELD;
	}
	if (!lim->immediate_data) {
		*why = "immediate data with ImmediateData=No";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	if (dsl > edtl) {
		*why = "immediate data beyond Expected Data Transfer Length";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	/* §13.14: unsolicited data (immediate included) <= FirstBurstLength. */
	if (dsl > lim->first_burst_length) {
		*why = "immediate data beyond FirstBurstLength";
		return ISCSI_REJECT_INVALID_PDU_FIELD;
	}
	return 0;
}

static int check_tmf_req(const void *bhs, const struct iscsi_conn_limits *lim,
			 const char **why)
{
	uint8_t fn = ((const struct iscsi_tmf_req *)bhs)->flags & ISCSI_TMF_FUNC_MASK;

	/* Functions the RFCs do not define are reserved code values. Defined
	 * but unsupported ones get "function not supported" from the TMF layer. */
	if (fn < ISCSI_TMF_ABORT_TASK || fn > ISCSI_TMF_QUERY_ASYNC_EVENT) {
		*why = "reserved task management function";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

static int check_login_req(const void *bhs, const struct iscsi_conn_limits *lim,
			   const char **why)
{
	uint8_t f = ((const struct iscsi_login_req *)bhs)->flags;
	uint8_t csg = iscsi_login_csg(f), nsg = iscsi_login_nsg(f);

	/* §11.12.2: if T is 1, C MUST be 0. */
	if ((f & ISCSI_LOGIN_FLAG_TRANSIT) && (f & ISCSI_FLAG_CONTINUE)) {
		*why = "Login Request with both T and C";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	/* §11.12.3: stage 2 is reserved, and login cannot *be* in FFP. */
	if (csg != ISCSI_STAGE_SECURITY && csg != ISCSI_STAGE_OPERATIONAL) {
		*why = "invalid login CSG";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	/* §6.3: transitions only go forward, to a defined stage. */
	if ((f & ISCSI_LOGIN_FLAG_TRANSIT) && (nsg == 2 || nsg <= csg)) {
		*why = "invalid login NSG";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

static int check_text_req(const void *bhs, const struct iscsi_conn_limits *lim,
			  const char **why)
{
	uint8_t f = ((const struct iscsi_text_req *)bhs)->flags;

	/* §11.10.2: if C is 1, F MUST be 0. */
	if ((f & ISCSI_FLAG_FINAL) && (f & ISCSI_FLAG_CONTINUE)) {
		*why = "Text Request with both F and C";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

static int check_logout_req(const void *bhs, const struct iscsi_conn_limits *lim,
			    const char **why)
{
	uint8_t reason = ((const struct iscsi_logout_req *)bhs)->flags & ISCSI_LOGOUT_REASON_MASK;

	if (reason > ISCSI_LOGOUT_REMOVE_FOR_RECOVERY) {
		*why = "reserved logout reason";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

static int check_snack_req(const void *bhs, const struct iscsi_conn_limits *lim,
			   const char **why)
{
	/* §11.16, §13.20: SNACK is an ErrorRecoveryLevel >= 1 mechanism. */
	if (lim->error_recovery_level == 0) {
		*why = "SNACK at ErrorRecoveryLevel 0";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	if ((((const struct iscsi_snack_req *)bhs)->flags & ISCSI_SNACK_TYPE_MASK) > 3) {
		*why = "reserved SNACK type";
		return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	return 0;
}

#define RX(nm, disc, ahs, data, fn) \
	{ .name = (nm), .from_initiator = true, .discovery_ok = (disc), .ahs_ok = (ahs), \
	  .data_ok = (data), .check = (fn) }
#define TX(nm) { .name = (nm) }

static const struct opcode_rule opcode_rules[ISCSI_OPCODE_MASK + 1] = {
	[ISCSI_OP_NOP_OUT]    = RX("NOP-Out",         true,  false, true,  check_nop_out),
	[ISCSI_OP_SCSI_CMD]   = RX("SCSI Command",    false, true,  true,  check_scsi_cmd),
	[ISCSI_OP_TMF_REQ]    = RX("Task Management Request", false, false, false, check_tmf_req),
	[ISCSI_OP_LOGIN_REQ]  = RX("Login Request",   true,  false, true,  check_login_req),
	[ISCSI_OP_TEXT_REQ]   = RX("Text Request",    true,  false, true,  check_text_req),
	[ISCSI_OP_DATA_OUT]   = RX("SCSI Data-Out",   false, false, true,  NULL),
	[ISCSI_OP_LOGOUT_REQ] = RX("Logout Request",  true,  false, false, check_logout_req),
	[ISCSI_OP_SNACK_REQ]  = RX("SNACK Request",   false, false, false, check_snack_req),
	[ISCSI_OP_NOP_IN]     = TX("NOP-In"),
	[ISCSI_OP_SCSI_RSP]   = TX("SCSI Response"),
	[ISCSI_OP_TMF_RSP]    = TX("Task Management Response"),
	[ISCSI_OP_LOGIN_RSP]  = TX("Login Response"),
	[ISCSI_OP_TEXT_RSP]   = TX("Text Response"),
	[ISCSI_OP_DATA_IN]    = TX("SCSI Data-In"),
	[ISCSI_OP_LOGOUT_RSP] = TX("Logout Response"),
	[ISCSI_OP_R2T]        = TX("R2T"),
	[ISCSI_OP_ASYNC_MSG]  = TX("Async Message"),
	[ISCSI_OP_REJECT]     = TX("Reject"),
};

const char *iscsi_opcode_name(uint8_t opcode)
{
	const char *n = opcode_rules[opcode & ISCSI_OPCODE_MASK].name;
	return n ? n : "unknown";
}

static int refuse(struct iscsi_bhs_verdict *v, const struct iscsi_conn_limits *lim,
		  uint8_t reason, uint16_t login_status, bool drop, const char *why)
{
	if (v) {
		v->reason = reason;
		/* §11.13.5: during login every error is a login reject. */
		v->login_status = login_status;
		v->drop = drop || !lim->full_feature;
		v->why = why;
	}
	return reason;
}

int iscsi_bhs_check(const void *bhs, const struct iscsi_conn_limits *lim,
		    struct iscsi_bhs_verdict *v)
{
	uint8_t op = iscsi_bhs_opcode(bhs);
	const struct opcode_rule *r = &opcode_rules[op];
	uint32_t dsl = iscsi_bhs_dlength(bhs), ahs = iscsi_bhs_ahs_len(bhs);
	const char *why = NULL;
	int reason;

	if (!r->name)
		return refuse(v, lim, ISCSI_REJECT_CMD_NOT_SUPPORTED,
			      ISCSI_LOGIN_INVALID_DURING_LOGIN, false, "unknown opcode");
	if (!r->from_initiator)
		return refuse(v, lim, ISCSI_REJECT_PROTOCOL_ERROR,
			      ISCSI_LOGIN_INVALID_DURING_LOGIN, false, "target opcode from initiator");
	if (!lim->full_feature && op != ISCSI_OP_LOGIN_REQ)
		return refuse(v, lim, ISCSI_REJECT_PROTOCOL_ERROR,
			      ISCSI_LOGIN_INVALID_DURING_LOGIN, true, "non-login PDU during login");
	if (lim->full_feature && op == ISCSI_OP_LOGIN_REQ)
		return refuse(v, lim, ISCSI_REJECT_PROTOCOL_ERROR, ISCSI_LOGIN_INITIATOR_ERROR,
			      false, "Login Request in full feature phase");
	if (lim->discovery && !r->discovery_ok)
		return refuse(v, lim, ISCSI_REJECT_PROTOCOL_ERROR, ISCSI_LOGIN_INITIATOR_ERROR,
			      false, "opcode not allowed in a discovery session");
	if (ahs && (!r->ahs_ok || ahs > lim->max_ahs_len))
		return refuse(v, lim, ISCSI_REJECT_INVALID_PDU_FIELD, ISCSI_LOGIN_INITIATOR_ERROR,
			      false, "unexpected or oversized AHS");
	/* §13.12: a data segment beyond our MaxRecvDataSegmentLength is a
	 * protocol error; we do not read it, so the connection goes. */
	if (dsl > lim->max_recv_dsl)
		return refuse(v, lim, ISCSI_REJECT_PROTOCOL_ERROR, ISCSI_LOGIN_INITIATOR_ERROR,
			      true, "DataSegmentLength beyond MaxRecvDataSegmentLength");
	if (dsl && !r->data_ok)
		return refuse(v, lim, ISCSI_REJECT_INVALID_PDU_FIELD, ISCSI_LOGIN_INITIATOR_ERROR,
			      false, "data segment on a PDU that carries none");
	if (r->check) {
		reason = r->check(bhs, lim, &why);
		if (reason)
			return refuse(v, lim, (uint8_t)reason, ISCSI_LOGIN_INITIATOR_ERROR,
				      false, why);
	}
	return 0;
}

const char *iscsi_reject_reason_name(uint8_t reason)
{
	static const char *const names[] = {
		[ISCSI_REJECT_DATA_DIGEST] = "data digest error",
		[ISCSI_REJECT_SNACK] = "SNACK reject",
		[ISCSI_REJECT_PROTOCOL_ERROR] = "protocol error",
		[ISCSI_REJECT_CMD_NOT_SUPPORTED] = "command not supported",
		[ISCSI_REJECT_IMMEDIATE_CMD] = "immediate command reject",
		[ISCSI_REJECT_TASK_IN_PROGRESS] = "task in progress",
		[ISCSI_REJECT_INVALID_DATA_ACK] = "invalid data ack",
		[ISCSI_REJECT_INVALID_PDU_FIELD] = "invalid PDU field",
		[ISCSI_REJECT_LONG_OP] = "long op reject",
		[ISCSI_REJECT_WAITING_FOR_LOGOUT] = "waiting for logout",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown reason";
}

const char *iscsi_login_status_name(uint16_t status)
{
	static const struct { uint16_t status; const char *name; } names[] = {
		{ ISCSI_LOGIN_OK, "success" },
		{ ISCSI_LOGIN_TARGET_MOVED_TEMP, "target moved temporarily" },
		{ ISCSI_LOGIN_TARGET_MOVED_PERM, "target moved permanently" },
		{ ISCSI_LOGIN_INITIATOR_ERROR, "initiator error" },
		{ ISCSI_LOGIN_AUTH_FAILED, "authentication failure" },
		{ ISCSI_LOGIN_AUTHORIZATION_FAILED, "authorization failure" },
		{ ISCSI_LOGIN_NOT_FOUND, "not found" },
		{ ISCSI_LOGIN_TARGET_REMOVED, "target removed" },
		{ ISCSI_LOGIN_UNSUPPORTED_VERSION, "unsupported version" },
		{ ISCSI_LOGIN_TOO_MANY_CONNECTIONS, "too many connections" },
		{ ISCSI_LOGIN_MISSING_PARAMETER, "missing parameter" },
		{ ISCSI_LOGIN_CANT_INCLUDE_IN_SESSION, "can't include in session" },
		{ ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED, "session type not supported" },
		{ ISCSI_LOGIN_SESSION_DOES_NOT_EXIST, "session does not exist" },
		{ ISCSI_LOGIN_INVALID_DURING_LOGIN, "invalid during login" },
		{ ISCSI_LOGIN_TARGET_ERROR, "target error" },
		{ ISCSI_LOGIN_SERVICE_UNAVAILABLE, "service unavailable" },
		{ ISCSI_LOGIN_OUT_OF_RESOURCES, "out of resources" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].status == status)
			return names[i].name;
	return "unknown status";
}

int iscsi_ahs_parse(const uint8_t *ahs, uint32_t ahs_len, const uint8_t **ext_cdb,
		    uint32_t *ext_cdb_len, uint32_t *bidi_len)
{
	uint32_t off = 0;
	bool seen_ext = false, seen_bidi = false;

	*ext_cdb = NULL;
	*ext_cdb_len = 0;
	*bidi_len = 0;
	while (off < ahs_len) {
		uint32_t alen, total;
		uint8_t type;

		if (ahs_len - off < 4)
			return -1;
		/* §11.2.2.1: AHSLength counts the AHS-specific bytes after
		 * AHSType (the reserved byte included), padding excluded. */
		alen = (uint32_t)ahs[off] << 8 | ahs[off + 1];
		type = ahs[off + 2] & 0x3f;
		total = iscsi_padded_len(alen + 3);
		if (alen == 0 || total > ahs_len - off)
			return -1;
		if (type == ISCSI_AHS_EXTENDED_CDB && !seen_ext) {
			/* §11.2.2.3: AHSLength = CDB length - 15. */
			*ext_cdb = ahs + off + 4;
			*ext_cdb_len = alen - 1;
			seen_ext = true;
		} else if (type == ISCSI_AHS_BIDI_READ_LEN && !seen_bidi && alen == 5) {
			const uint8_t *p = ahs + off + 4;
			*bidi_len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				    (uint32_t)p[2] << 8 | p[3];
			seen_bidi = true;
		} else {
			return -1;
		}
		off += total;
	}
	return 0;
}

/* ---- LUN ---- */

/* SAM-5 §4.7.7: address method in the top two bits of byte 0. */
#define LUN_METHOD_PERIPHERAL 0x00
#define LUN_METHOD_FLAT       0x40
#define LUN_FLAT_MAX          0x3fff

int iscsi_lun_encode(uint32_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;          /* peripheral, bus 0 */
		return 0;
	}
	if (lun <= LUN_FLAT_MAX) {
		out[0] = LUN_METHOD_FLAT | (uint8_t)(lun >> 8);
		out[1] = (uint8_t)lun;
		return 0;
	}
	return -1;
}

int iscsi_lun_decode(const uint8_t in[8], uint32_t *lun)
{
	/* Single level only: the second to fourth levels must be empty. */
	for (int i = 2; i < 8; i++)
		if (in[i])
			return -1;
	switch (in[0] & 0xc0) {
	case LUN_METHOD_PERIPHERAL:
		if (in[0] & 0x3f)       /* a bus number: not one of our LUNs */
			return -1;
		*lun = in[1];
		return 0;
	case LUN_METHOD_FLAT:
		*lun = (uint32_t)(in[0] & 0x3f) << 8 | in[1];
		return 0;
	default:
		return -1;
	}
}

/* ---- Digests ---- */

static const uint8_t zero_pad[4];

uint32_t iscsi_hdgst(const void *bhs, uint32_t ahs_len)
{
	return nvb_crc32c(bhs, ISCSI_BHS_LEN + ahs_len);
}

uint32_t iscsi_ddgst(const void *data, uint32_t len)
{
	uint32_t crc = nvb_crc32c_update(NVB_CRC32C_INIT, data, len);
	crc = nvb_crc32c_update(crc, zero_pad, iscsi_pad_len(len));
	return nvb_crc32c_final(crc);
}

uint32_t iscsi_ddgst_iov(const struct iovec *iov, int iovcnt, uint32_t len)
{
	uint32_t crc = NVB_CRC32C_INIT, left = len;

	for (int i = 0; i < iovcnt && left; i++) {
		uint32_t n = iov[i].iov_len < left ? (uint32_t)iov[i].iov_len : left;
		crc = nvb_crc32c_update(crc, iov[i].iov_base, n);
		left -= n;
	}
	crc = nvb_crc32c_update(crc, zero_pad, iscsi_pad_len(len));
	return nvb_crc32c_final(crc);
}

/* ---- Builders ---- */

/* StatSN, ExpCmdSN, MaxCmdSN: in every target PDU at bytes 24..35. */
#define PUT_SN(pdu, sn) do { \
	(pdu)->statsn = htobe32((sn)->statsn); \
	(pdu)->expcmdsn = htobe32((sn)->expcmdsn); \
	(pdu)->maxcmdsn = htobe32((sn)->maxcmdsn); \
} while (0)

static void bhs_init(void *bhs, uint8_t opcode, uint8_t flags, uint32_t dlength)
{
	struct iscsi_bhs *h = bhs;

	memset(h, 0, ISCSI_BHS_LEN);
	h->opcode = opcode;
	h->flags = flags;
	iscsi_bhs_set_dlength(h, dlength);
}

void iscsi_build_login_rsp(struct iscsi_login_rsp *rsp, const struct iscsi_login_req *req,
			   uint8_t flags, uint16_t tsih, const struct iscsi_sn *sn,
			   uint16_t status, uint32_t dlength)
{
	bhs_init(rsp, ISCSI_OP_LOGIN_RSP, flags, dlength);
	rsp->version_max = ISCSI_VERSION;
	rsp->version_active = ISCSI_VERSION;
	memcpy(rsp->isid, req->isid, sizeof(rsp->isid));
	rsp->tsih = htobe16(tsih);
	rsp->itt = req->itt;
	PUT_SN(rsp, sn);
	rsp->status_class = (uint8_t)(status >> 8);
	rsp->status_detail = (uint8_t)status;
}

void iscsi_build_text_rsp(struct iscsi_text_rsp *rsp, const struct iscsi_text_req *req,
			  bool final, bool cont, uint32_t ttt, const struct iscsi_sn *sn,
			  uint32_t dlength)
{
	bhs_init(rsp, ISCSI_OP_TEXT_RSP, (final ? ISCSI_FLAG_FINAL : 0) |
		 (cont ? ISCSI_FLAG_CONTINUE : 0), dlength);
	memcpy(rsp->lun, req->lun, sizeof(rsp->lun));
	rsp->itt = req->itt;
	rsp->ttt = htobe32(ttt);
	PUT_SN(rsp, sn);
}

void iscsi_build_scsi_rsp(struct iscsi_scsi_rsp *rsp, uint32_t itt, uint8_t response,
			  uint8_t status, uint8_t residual_flags, uint32_t residual,
			  const struct iscsi_sn *sn, uint32_t sense_seg_len)
{
	bhs_init(rsp, ISCSI_OP_SCSI_RSP, ISCSI_FLAG_FINAL | (residual_flags & 0x1e),
		 sense_seg_len);
	rsp->response = response;
	rsp->status = status;
	rsp->itt = itt;
	PUT_SN(rsp, sn);
	if (residual_flags & (ISCSI_FLAG_OVERFLOW | ISCSI_FLAG_UNDERFLOW))
		rsp->residual = htobe32(residual);
}

uint32_t iscsi_sense_segment(uint8_t *out, const uint8_t *sense, uint16_t sense_len)
{
	out[0] = (uint8_t)(sense_len >> 8);
	out[1] = (uint8_t)sense_len;
	if (sense_len)
		memcpy(out + 2, sense, sense_len);
	return 2u + sense_len;
}

void iscsi_build_data_in(struct iscsi_data_in *d, const uint8_t lun[8], uint32_t itt,
			 uint32_t datasn, uint32_t offset, uint32_t len, bool final,
			 bool with_status, uint8_t status, uint8_t residual_flags,
			 uint32_t residual, const struct iscsi_sn *sn)
{
	uint8_t flags = final || with_status ? ISCSI_FLAG_FINAL : 0;

	if (with_status)
		flags |= ISCSI_DATAIN_FLAG_STATUS |
			 (residual_flags & (ISCSI_FLAG_OVERFLOW | ISCSI_FLAG_UNDERFLOW));
	bhs_init(d, ISCSI_OP_DATA_IN, flags, len);
	if (lun)
		memcpy(d->lun, lun, sizeof(d->lun));
	d->itt = itt;
	d->ttt = ISCSI_RSVD_TAG;
	PUT_SN(d, sn);
	if (with_status) {
		d->status = status;
		if (flags & (ISCSI_FLAG_OVERFLOW | ISCSI_FLAG_UNDERFLOW))
			d->residual = htobe32(residual);
	} else {
		d->statsn = 0;  /* §11.7.4: reserved without S */
	}
	d->datasn = htobe32(datasn);
	d->offset = htobe32(offset);
}

void iscsi_build_r2t(struct iscsi_r2t *r, const uint8_t lun[8], uint32_t itt, uint32_t ttt,
		     uint32_t r2tsn, uint32_t offset, uint32_t desired_len,
		     const struct iscsi_sn *sn)
{
	bhs_init(r, ISCSI_OP_R2T, ISCSI_FLAG_FINAL, 0);
	if (lun)
		memcpy(r->lun, lun, sizeof(r->lun));
	r->itt = itt;
	r->ttt = htobe32(ttt);
	PUT_SN(r, sn);
	r->r2tsn = htobe32(r2tsn);
	r->offset = htobe32(offset);
	r->desired_len = htobe32(desired_len);
}

void iscsi_build_nop_in(struct iscsi_nop_in *n, const uint8_t lun[8], uint32_t itt,
			uint32_t ttt, const struct iscsi_sn *sn, uint32_t dlength)
{
	bhs_init(n, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, dlength);
	if (lun)
		memcpy(n->lun, lun, sizeof(n->lun));
	n->itt = itt;
	n->ttt = htobe32(ttt);
	PUT_SN(n, sn);
}

void iscsi_build_reject(struct iscsi_reject *r, uint8_t reason, const struct iscsi_sn *sn)
{
	bhs_init(r, ISCSI_OP_REJECT, ISCSI_FLAG_FINAL, ISCSI_BHS_LEN);
	r->reason = reason;
	r->itt = ISCSI_RSVD_TAG;
	PUT_SN(r, sn);
}

void iscsi_build_reject_pdu(struct iscsi_reject_pdu *p, uint8_t reason, const void *bad_bhs,
			    const struct iscsi_sn *sn)
{
	iscsi_build_reject(&p->hdr, reason, sn);
	memcpy(p->rejected, bad_bhs, ISCSI_BHS_LEN);
}

void iscsi_build_logout_rsp(struct iscsi_logout_rsp *r, uint32_t itt, uint8_t response,
			    uint16_t time2wait, uint16_t time2retain, const struct iscsi_sn *sn)
{
	bhs_init(r, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, 0);
	r->response = response;
	r->itt = itt;
	PUT_SN(r, sn);
	r->time2wait = htobe16(time2wait);
	r->time2retain = htobe16(time2retain);
}

void iscsi_build_tmf_rsp(struct iscsi_tmf_rsp *r, uint32_t itt, uint8_t response,
			 const struct iscsi_sn *sn)
{
	bhs_init(r, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0);
	r->response = response;
	r->itt = itt;
	PUT_SN(r, sn);
}

void iscsi_build_async(struct iscsi_async_msg *a, const uint8_t lun[8], uint8_t event,
		       uint16_t param1, uint16_t param2, uint16_t param3,
		       const struct iscsi_sn *sn, uint32_t dlength)
{
	bhs_init(a, ISCSI_OP_ASYNC_MSG, ISCSI_FLAG_FINAL, dlength);
	if (lun)
		memcpy(a->lun, lun, sizeof(a->lun));
	a->itt = ISCSI_RSVD_TAG;
	PUT_SN(a, sn);
	a->event = event;
	a->param1 = htobe16(param1);
	a->param2 = htobe16(param2);
	a->param3 = htobe16(param3);
}

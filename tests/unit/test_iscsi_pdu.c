/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for iscsi/pdu.c: BHS layouts, the received-BHS checks (every
 * reject reason they produce, login phase and discovery rules), LUN codec,
 * serial number arithmetic across the wrap, CRC32C digests against the RFC
 * 3720 Appendix B.4 vectors, AHS parsing and the target PDU builders.
 */
#include <check.h>
#include <endian.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/pdu.h"

/* ---- Layouts ---- */

START_TEST(test_layout_offsets)
{
	/* Spot checks of field offsets against RFC 7143 §11 diagrams. */
	ck_assert_uint_eq(offsetof(struct iscsi_bhs, total_ahs_len), 4);
	ck_assert_uint_eq(offsetof(struct iscsi_bhs, lun), 8);
	ck_assert_uint_eq(offsetof(struct iscsi_bhs, itt), 16);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_cmd, edtl), 20);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_cmd, cmdsn), 24);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_cmd, cdb), 32);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_rsp, status), 3);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_rsp, statsn), 24);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_rsp, expdatasn), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_scsi_rsp, residual), 44);
	ck_assert_uint_eq(offsetof(struct iscsi_tmf_req, rtt), 20);
	ck_assert_uint_eq(offsetof(struct iscsi_tmf_req, refcmdsn), 32);
	ck_assert_uint_eq(offsetof(struct iscsi_tmf_rsp, response), 2);
	ck_assert_uint_eq(offsetof(struct iscsi_data_out, ttt), 20);
	ck_assert_uint_eq(offsetof(struct iscsi_data_out, datasn), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_data_out, offset), 40);
	ck_assert_uint_eq(offsetof(struct iscsi_data_in, status), 3);
	ck_assert_uint_eq(offsetof(struct iscsi_data_in, residual), 44);
	ck_assert_uint_eq(offsetof(struct iscsi_r2t, r2tsn), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_r2t, desired_len), 44);
	ck_assert_uint_eq(offsetof(struct iscsi_async_msg, event), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_async_msg, param3), 42);
	ck_assert_uint_eq(offsetof(struct iscsi_text_req, cmdsn), 24);
	ck_assert_uint_eq(offsetof(struct iscsi_text_rsp, maxcmdsn), 32);
	ck_assert_uint_eq(offsetof(struct iscsi_login_req, isid), 8);
	ck_assert_uint_eq(offsetof(struct iscsi_login_req, tsih), 14);
	ck_assert_uint_eq(offsetof(struct iscsi_login_req, cid), 20);
	ck_assert_uint_eq(offsetof(struct iscsi_login_rsp, status_class), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_logout_req, cid), 20);
	ck_assert_uint_eq(offsetof(struct iscsi_logout_rsp, time2wait), 40);
	ck_assert_uint_eq(offsetof(struct iscsi_snack_req, begrun), 40);
	ck_assert_uint_eq(offsetof(struct iscsi_reject, datasn), 36);
	ck_assert_uint_eq(offsetof(struct iscsi_nop_in, maxcmdsn), 32);
	ck_assert_uint_eq(offsetof(struct iscsi_nop_out, expstatsn), 28);
}
END_TEST

START_TEST(test_accessors)
{
	uint8_t b[ISCSI_BHS_LEN] = { 0 };

	iscsi_bhs_set_dlength(b, 0xabcdef);
	ck_assert_uint_eq(b[5], 0xab);
	ck_assert_uint_eq(b[6], 0xcd);
	ck_assert_uint_eq(b[7], 0xef);
	ck_assert_uint_eq(iscsi_bhs_dlength(b), 0xabcdef);
	b[4] = 3;
	ck_assert_uint_eq(iscsi_bhs_ahs_len(b), 12);
	b[0] = ISCSI_OP_IMMEDIATE | ISCSI_OP_TEXT_REQ;
	ck_assert_uint_eq(iscsi_bhs_opcode(b), ISCSI_OP_TEXT_REQ);
	ck_assert(iscsi_bhs_immediate(b));
	ck_assert_uint_eq(iscsi_pad_len(0), 0);
	ck_assert_uint_eq(iscsi_pad_len(1), 3);
	ck_assert_uint_eq(iscsi_pad_len(4), 0);
	ck_assert_uint_eq(iscsi_pad_len(7), 1);
	ck_assert_uint_eq(iscsi_padded_len(13), 16);
	ck_assert_uint_eq(iscsi_login_flags(true, false, 1, 3), 0x87);
	ck_assert_uint_eq(iscsi_login_flags(false, true, 0, 1), 0x40);  /* NSG only with T */
	ck_assert_uint_eq(iscsi_login_csg(0x87), 1);
	ck_assert_uint_eq(iscsi_login_nsg(0x87), 3);
}
END_TEST

/* ---- BHS checks ---- */

enum lim_id { L_LOGIN, L_FFP, L_NOIMM, L_SMALL_FB, L_DISC, L_ERL1 };
static const struct iscsi_conn_limits limits[] = {
	[L_LOGIN]    = { .full_feature = false, .max_recv_dsl = 8192 },
	[L_FFP]      = { .full_feature = true, .max_recv_dsl = 65536, .max_ahs_len = 256,
			 .immediate_data = true, .first_burst_length = 65536 },
	[L_NOIMM]    = { .full_feature = true, .max_recv_dsl = 65536, .max_ahs_len = 256,
			 .initial_r2t = true, .first_burst_length = 65536 },
	[L_SMALL_FB] = { .full_feature = true, .max_recv_dsl = 65536, .max_ahs_len = 256,
			 .immediate_data = true, .first_burst_length = 4096 },
	[L_DISC]     = { .full_feature = true, .discovery = true, .max_recv_dsl = 65536 },
	[L_ERL1]     = { .full_feature = true, .max_recv_dsl = 65536,
			 .error_recovery_level = 1 },
};

#define F  ISCSI_FLAG_FINAL
#define R  ISCSI_CMD_FLAG_READ
#define W  ISCSI_CMD_FLAG_WRITE
#define T  ISCSI_LOGIN_FLAG_TRANSIT
#define C  ISCSI_FLAG_CONTINUE
#define RSVD ISCSI_RSVD_TAG
#define PE ISCSI_REJECT_PROTOCOL_ERROR
#define NS ISCSI_REJECT_CMD_NOT_SUPPORTED
#define IF ISCSI_REJECT_INVALID_PDU_FIELD
#define LOGIN_FLAGS(csg, nsg) (((csg) << 2) | (nsg))

struct bhs_case {
	const char *name;
	uint8_t op, flags, ahs_words;
	uint32_t dsl;
	uint32_t word20;        /* EDTL / TTT / RTT at byte 20 */
	uint32_t itt;
	enum lim_id lim;
	uint8_t reason;         /* 0: accepted */
	bool drop;
	uint16_t login_status;  /* checked when non-zero */
};

static const struct bhs_case bhs_cases[] = {
	/* NOP-Out */
	{ "nop ping",           0x00, F, 0, 0,    RSVD, 1,    L_FFP, 0, false, 0 },
	{ "nop ping data",      0x00, F, 0, 100,  RSVD, 1,    L_FFP, 0, false, 0 },
	{ "nop answer",         0x40, F, 0, 0,    7,    RSVD, L_FFP, 0, false, 0 },
	{ "nop no tags",        0x40, F, 0, 0,    RSVD, RSVD, L_FFP, PE, false, 0 },
	{ "nop ahs",            0x00, F, 1, 0,    RSVD, 1,    L_FFP, IF, false, 0 },
	/* SCSI Command */
	{ "read",               0x01, F | R, 0, 0, 4096, 1,   L_FFP, 0, false, 0 },
	{ "write imm",          0x01, F | W, 0, 512, 4096, 1, L_FFP, 0, false, 0 },
	{ "write unsolicited",  0x01, W, 0, 512, 4096, 1,     L_FFP, 0, false, 0 },
	{ "no data cmd",        0x01, F, 0, 0, 0, 1,          L_FFP, 0, false, 0 },
	{ "write F0 initr2t",   0x01, W, 0, 0, 4096, 1,       L_NOIMM, PE, false, 0 },
	{ "reserved attr",      0x01, F | R | 5, 0, 0, 512, 1, L_FFP, PE, false, 0 },
	{ "edtl no R/W",        0x01, F, 0, 0, 512, 1,        L_FFP, IF, false, 0 },
	{ "read with data",     0x01, F | R, 0, 16, 512, 1,   L_FFP, IF, false, 0 },
	{ "imm data disabled",  0x01, F | W, 0, 16, 512, 1,   L_NOIMM, PE, false, 0 },
	{ "imm beyond edtl",    0x01, F | W, 0, 1024, 512, 1, L_FFP, PE, false, 0 },
	{ "imm beyond fburst",  0x01, F | W, 0, 8192, 16384, 1, L_SMALL_FB, IF, false, 0 },
	{ "dsl beyond mrdsl",   0x01, F | W, 0, 70000, 1 << 20, 1, L_FFP, PE, true, 0 },
	{ "ext cdb ahs",        0x01, F | R, 5, 0, 512, 1,    L_FFP, 0, false, 0 },
	{ "ahs too long",       0x01, F | R, 255, 0, 512, 1,  L_FFP, IF, false, 0 },
	/* Task management */
	{ "abort task",         0x42, F | 1, 0, 0, 5, 1,      L_FFP, 0, false, 0 },
	{ "lun reset",          0x42, F | 5, 0, 0, RSVD, 1,   L_FFP, 0, false, 0 },
	{ "tmf func 0",         0x42, F | 0, 0, 0, RSVD, 1,   L_FFP, PE, false, 0 },
	{ "tmf func 13",        0x42, F | 13, 0, 0, RSVD, 1,  L_FFP, PE, false, 0 },
	{ "tmf with data",      0x42, F | 1, 0, 8, 5, 1,      L_FFP, IF, false, 0 },
	/* Text */
	{ "text",               0x04, F, 0, 16, RSVD, 1,      L_FFP, 0, false, 0 },
	{ "text continue",      0x04, C, 0, 16, RSVD, 1,      L_FFP, 0, false, 0 },
	{ "text F and C",       0x04, F | C, 0, 16, RSVD, 1,  L_FFP, PE, false, 0 },
	/* Data-Out */
	{ "data-out",           0x05, F, 0, 8192, 9, 1,       L_FFP, 0, false, 0 },
	{ "data-out too big",   0x05, F, 0, 65537, 9, 1,      L_FFP, PE, true, 0 },
	/* Logout */
	{ "logout session",     0x46, F | 0, 0, 0, 0, 1,      L_FFP, 0, false, 0 },
	{ "logout recovery",    0x46, F | 2, 0, 0, 0, 1,      L_FFP, 0, false, 0 },
	{ "logout reason 3",    0x46, F | 3, 0, 0, 0, 1,      L_FFP, PE, false, 0 },
	{ "logout with data",   0x46, F, 0, 4, 0, 1,          L_FFP, IF, false, 0 },
	/* SNACK */
	{ "snack erl0",         0x10, F, 0, 0, 0, 1,          L_FFP, PE, false, 0 },
	{ "snack erl1",         0x10, F | 1, 0, 0, 0, 1,      L_ERL1, 0, false, 0 },
	{ "snack bad type",     0x10, F | 9, 0, 0, 0, 1,      L_ERL1, PE, false, 0 },
	/* Opcodes */
	{ "unknown opcode",     0x07, F, 0, 0, 0, 1,          L_FFP, NS, false, 0 },
	{ "vendor opcode",      0x1c, F, 0, 0, 0, 1,          L_FFP, NS, false, 0 },
	{ "target opcode",      0x21, F, 0, 0, 0, 1,          L_FFP, PE, false, 0 },
	{ "login in ffp",       0x43, T | LOGIN_FLAGS(1, 3), 0, 0, 0, 1, L_FFP, PE, false, 0 },
	/* Discovery session: text, NOP-Out and logout only */
	{ "disc text",          0x04, F, 0, 16, RSVD, 1,      L_DISC, 0, false, 0 },
	{ "disc nop",           0x00, F, 0, 0, RSVD, 1,       L_DISC, 0, false, 0 },
	{ "disc logout",        0x46, F, 0, 0, 0, 1,          L_DISC, 0, false, 0 },
	{ "disc scsi",          0x01, F | R, 0, 0, 512, 1,    L_DISC, PE, false, 0 },
	{ "disc tmf",           0x42, F | 1, 0, 0, 5, 1,      L_DISC, PE, false, 0 },
	{ "disc data-out",      0x05, F, 0, 512, 9, 1,        L_DISC, PE, false, 0 },
	/* Login phase */
	{ "login sec->op",      0x43, T | LOGIN_FLAGS(0, 1), 0, 100, 0, 1, L_LOGIN, 0, false, 0 },
	{ "login op->ffp",      0x43, T | LOGIN_FLAGS(1, 3), 0, 100, 0, 1, L_LOGIN, 0, false, 0 },
	{ "login sec->ffp",     0x43, T | LOGIN_FLAGS(0, 3), 0, 100, 0, 1, L_LOGIN, 0, false, 0 },
	{ "login stay",         0x43, LOGIN_FLAGS(0, 2), 0, 100, 0, 1, L_LOGIN, 0, false, 0 },
	{ "login continue",     0x43, C | LOGIN_FLAGS(0, 0), 0, 100, 0, 1, L_LOGIN, 0, false, 0 },
	{ "login T and C",      0x43, T | C | LOGIN_FLAGS(0, 1), 0, 100, 0, 1, L_LOGIN, PE,
	  true, ISCSI_LOGIN_INITIATOR_ERROR },
	{ "login csg 2",        0x43, LOGIN_FLAGS(2, 0), 0, 0, 0, 1, L_LOGIN, PE, true,
	  ISCSI_LOGIN_INITIATOR_ERROR },
	{ "login csg ffp",      0x43, LOGIN_FLAGS(3, 0), 0, 0, 0, 1, L_LOGIN, PE, true, 0 },
	{ "login nsg 2",        0x43, T | LOGIN_FLAGS(0, 2), 0, 0, 0, 1, L_LOGIN, PE, true, 0 },
	{ "login backwards",    0x43, T | LOGIN_FLAGS(1, 0), 0, 0, 0, 1, L_LOGIN, PE, true, 0 },
	{ "login same stage",   0x43, T | LOGIN_FLAGS(1, 1), 0, 0, 0, 1, L_LOGIN, PE, true, 0 },
	{ "login huge text",    0x43, LOGIN_FLAGS(0, 0), 0, 8193, 0, 1, L_LOGIN, PE, true,
	  ISCSI_LOGIN_INITIATOR_ERROR },
	{ "scsi during login",  0x01, F | R, 0, 0, 512, 1,    L_LOGIN, PE, true,
	  ISCSI_LOGIN_INVALID_DURING_LOGIN },
	{ "unknown in login",   0x3a, F, 0, 0, 0, 1,          L_LOGIN, NS, true,
	  ISCSI_LOGIN_INVALID_DURING_LOGIN },
};

START_TEST(test_bhs_check)
{
	const struct bhs_case *tc = &bhs_cases[_i];
	uint8_t b[ISCSI_BHS_LEN] = { 0 };
	struct iscsi_bhs_verdict v = { 0 };
	uint32_t w20 = htobe32(tc->word20);
	int rc;

	b[0] = tc->op;
	b[1] = tc->flags;
	b[4] = tc->ahs_words;
	iscsi_bhs_set_dlength(b, tc->dsl);
	memcpy(b + 16, &tc->itt, 4);
	memcpy(b + 20, &w20, 4);
	rc = iscsi_bhs_check(b, &limits[tc->lim], &v);
	ck_assert_msg(rc == tc->reason, "%s: got reason %d, want %d (%s)", tc->name, rc,
		      tc->reason, rc ? v.why : "accepted");
	if (rc) {
		ck_assert_uint_eq(v.reason, rc);
		ck_assert_ptr_nonnull(v.why);
		ck_assert_msg(v.drop == tc->drop, "%s: drop %d", tc->name, v.drop);
		if (tc->login_status)
			ck_assert_uint_eq(v.login_status, tc->login_status);
	}
	/* The verdict is optional. */
	ck_assert_int_eq(iscsi_bhs_check(b, &limits[tc->lim], NULL), rc);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(iscsi_opcode_name(ISCSI_OP_SCSI_CMD), "SCSI Command");
	ck_assert_str_eq(iscsi_opcode_name(ISCSI_OP_IMMEDIATE | ISCSI_OP_LOGIN_REQ), "Login Request");
	ck_assert_str_eq(iscsi_opcode_name(ISCSI_OP_REJECT), "Reject");
	ck_assert_str_eq(iscsi_opcode_name(0x3a), "unknown");
	ck_assert_str_eq(iscsi_reject_reason_name(ISCSI_REJECT_DATA_DIGEST), "data digest error");
	ck_assert_str_eq(iscsi_reject_reason_name(ISCSI_REJECT_PROTOCOL_ERROR), "protocol error");
	ck_assert_str_eq(iscsi_reject_reason_name(ISCSI_REJECT_INVALID_PDU_FIELD), "invalid PDU field");
	ck_assert_str_eq(iscsi_reject_reason_name(0x01), "unknown reason");
	ck_assert_str_eq(iscsi_reject_reason_name(0xff), "unknown reason");
	ck_assert_str_eq(iscsi_login_status_name(0x0201), "authentication failure");
	ck_assert_str_eq(iscsi_login_status_name(0x0207), "missing parameter");
	ck_assert_str_eq(iscsi_login_status_name(0x0999), "unknown status");
}
END_TEST

/* ---- LUN ---- */

START_TEST(test_lun_codec)
{
	static const struct { uint32_t lun; uint8_t b0, b1; } enc[] = {
		{ 0, 0x00, 0x00 }, { 5, 0x00, 0x05 }, { 255, 0x00, 0xff },
		{ 256, 0x41, 0x00 }, { 0x1234, 0x52, 0x34 }, { 16383, 0x7f, 0xff },
	};
	uint8_t b[8];
	uint32_t lun;

	for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
		ck_assert_int_eq(iscsi_lun_encode(enc[i].lun, b), 0);
		ck_assert_uint_eq(b[0], enc[i].b0);
		ck_assert_uint_eq(b[1], enc[i].b1);
		for (int j = 2; j < 8; j++)
			ck_assert_uint_eq(b[j], 0);
	}
	ck_assert_int_eq(iscsi_lun_encode(16384, b), -1);
	/* Every LUN round-trips (plain checks: ck_assert is slow in loops). */
	for (uint32_t l = 0; l <= 16383; l++) {
		if (iscsi_lun_encode(l, b) || iscsi_lun_decode(b, &lun) || lun != l)
			ck_abort_msg("LUN %u does not round-trip", l);
	}
}
END_TEST

START_TEST(test_lun_decode_unsupported)
{
	static const uint8_t bad[][8] = {
		{ 0x01, 0x05 },                         /* peripheral, bus 1 */
		{ 0x00, 0x05, 0x00, 0x01 },             /* second level present */
		{ 0x40, 0x01, 0, 0, 0, 0, 0, 0x01 },    /* trailing byte */
		{ 0x80, 0x01 },                         /* logical unit addressing */
		{ 0xc1, 0x00 },                         /* extended addressing */
	};
	uint32_t lun = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(iscsi_lun_decode(bad[i], &lun), -1);
	ck_assert_uint_eq(lun, 77);
}
END_TEST

/* ---- Serial numbers (RFC 1982) ---- */

START_TEST(test_serial)
{
	ck_assert(sn_lt(1, 2));
	ck_assert(!sn_lt(2, 1));
	ck_assert(!sn_lt(5, 5));
	ck_assert(sn_le(5, 5));
	ck_assert(sn_ge(5, 5));
	/* Wrap: 0xffffffff < 0 < 1. */
	ck_assert(sn_lt(0xffffffffu, 0));
	ck_assert(sn_gt(0, 0xffffffffu));
	ck_assert(sn_lt(0xfffffff0u, 0x10));
	ck_assert(sn_gt(0x10, 0xfffffff0u));
	/* Distance 2^31 - 1 is still ordered; 2^31 is undefined (neither). */
	ck_assert(sn_lt(0, 0x7fffffffu));
	ck_assert(sn_gt(0x7fffffffu, 0));
	ck_assert(!sn_lt(0, 0x80000000u));
	ck_assert(!sn_gt(0, 0x80000000u));
	ck_assert(!sn_lt(0x80000000u, 0));
	ck_assert(!sn_le(0, 0x80000000u));
	/* Beyond 2^31 the order flips. */
	ck_assert(sn_gt(0, 0x80000001u));
	ck_assert(sn_lt(0x80000001u, 0));
}
END_TEST

START_TEST(test_serial_window)
{
	/* A window across the wrap. */
	ck_assert(sn_in_window(0xfffffff0u, 0xfffffff0u, 0x10));
	ck_assert(sn_in_window(0, 0xfffffff0u, 0x10));
	ck_assert(sn_in_window(0x10, 0xfffffff0u, 0x10));
	ck_assert(!sn_in_window(0x11, 0xfffffff0u, 0x10));
	ck_assert(!sn_in_window(0xffffffefu, 0xfffffff0u, 0x10));
	/* §4.2.2.1: MaxCmdSN = ExpCmdSN - 1 is an empty window. */
	ck_assert(!sn_in_window(100, 100, 99));
	ck_assert(!sn_in_window(99, 100, 99));
	ck_assert(!sn_in_window(101, 100, 99));
	ck_assert(!sn_in_window(0, 0, 0xffffffffu));
	/* A one-command window. */
	ck_assert(sn_in_window(100, 100, 100));
	ck_assert(!sn_in_window(101, 100, 100));
	/* A deep queue of 128. */
	ck_assert(sn_in_window(0xffffffc0u + 127, 0xffffffc0u, 0xffffffc0u + 127));
	ck_assert(!sn_in_window(0xffffffc0u + 128, 0xffffffc0u, 0xffffffc0u + 127));
}
END_TEST

/* ---- Digests ---- */

static void check_vector(const uint8_t *data, size_t len, const uint8_t want[4])
{
	uint8_t got[4];

	iscsi_digest_put(got, nvb_crc32c(data, len));
	ck_assert_mem_eq(got, want, 4);
	ck_assert_uint_eq(iscsi_digest_get(want), nvb_crc32c(data, len));
}

START_TEST(test_digest_vectors)
{
	/* RFC 3720 Appendix B.4 (bytes as transmitted). */
	static const uint8_t zeros_crc[4] = { 0xaa, 0x36, 0x91, 0x8a };
	static const uint8_t ones_crc[4] = { 0x43, 0xab, 0xa8, 0x62 };
	static const uint8_t inc_crc[4] = { 0x4e, 0x79, 0xdd, 0x46 };
	static const uint8_t dec_crc[4] = { 0x5c, 0xdb, 0x3f, 0x11 };
	static const uint8_t read_pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t read_crc[4] = { 0x56, 0x3a, 0x96, 0xd9 };
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	check_vector(buf, sizeof(buf), zeros_crc);
	memset(buf, 0xff, sizeof(buf));
	check_vector(buf, sizeof(buf), ones_crc);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	check_vector(buf, sizeof(buf), inc_crc);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	check_vector(buf, sizeof(buf), dec_crc);
	check_vector(read_pdu, sizeof(read_pdu), read_crc);
	/* The header digest of that PDU (no AHS) is the same CRC. */
	ck_assert_uint_eq(iscsi_hdgst(read_pdu, 0), iscsi_digest_get(read_crc));
}
END_TEST

START_TEST(test_digest_padding_and_iov)
{
	uint8_t data[13], padded[16] = { 0 }, hdr[ISCSI_BHS_LEN + 8];
	struct iovec iov[3];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	memcpy(padded, data, sizeof(data));
	/* §13.1: padding bytes are covered. */
	ck_assert_uint_eq(iscsi_ddgst(data, sizeof(data)), nvb_crc32c(padded, sizeof(padded)));
	ck_assert_uint_eq(iscsi_ddgst(data, 12), nvb_crc32c(data, 12));
	iov[0] = (struct iovec){ data, 5 };
	iov[1] = (struct iovec){ data + 5, 1 };
	iov[2] = (struct iovec){ data + 6, 100 };       /* longer than the data */
	ck_assert_uint_eq(iscsi_ddgst_iov(iov, 3, sizeof(data)), iscsi_ddgst(data, sizeof(data)));
	/* Header digest covers BHS and AHS. */
	for (size_t i = 0; i < sizeof(hdr); i++)
		hdr[i] = (uint8_t)i;
	ck_assert_uint_eq(iscsi_hdgst(hdr, 8), nvb_crc32c(hdr, sizeof(hdr)));
	ck_assert_uint_ne(iscsi_hdgst(hdr, 8), iscsi_hdgst(hdr, 0));
}
END_TEST

/* ---- AHS ---- */

START_TEST(test_ahs_parse)
{
	/* A 32-byte CDB (16 extra bytes) and a bidirectional read length. */
	uint8_t ahs[28] = { 0 };
	const uint8_t *ext;
	uint32_t ext_len, bidi;

	ahs[0] = 0; ahs[1] = 17; ahs[2] = ISCSI_AHS_EXTENDED_CDB;
	for (int i = 0; i < 16; i++)
		ahs[4 + i] = (uint8_t)(0xa0 + i);
	ahs[20] = 0; ahs[21] = 5; ahs[22] = ISCSI_AHS_BIDI_READ_LEN;
	ahs[24] = 0x00; ahs[25] = 0x01; ahs[26] = 0x02; ahs[27] = 0x03;
	ck_assert_int_eq(iscsi_ahs_parse(ahs, sizeof(ahs), &ext, &ext_len, &bidi), 0);
	ck_assert_ptr_eq(ext, ahs + 4);
	ck_assert_uint_eq(ext_len, 16);
	ck_assert_uint_eq(bidi, 0x010203);
	ck_assert_int_eq(iscsi_ahs_parse(ahs, 0, &ext, &ext_len, &bidi), 0);
	ck_assert_ptr_null(ext);
	/* Truncated, zero length, unknown type, duplicate, bad bidi length. */
	ck_assert_int_eq(iscsi_ahs_parse(ahs, 16, &ext, &ext_len, &bidi), -1);
	ck_assert_int_eq(iscsi_ahs_parse(ahs, 22, &ext, &ext_len, &bidi), -1);
	ahs[22] = 0x07;
	ck_assert_int_eq(iscsi_ahs_parse(ahs, sizeof(ahs), &ext, &ext_len, &bidi), -1);
	ahs[22] = ISCSI_AHS_EXTENDED_CDB;
	ck_assert_int_eq(iscsi_ahs_parse(ahs, sizeof(ahs), &ext, &ext_len, &bidi), -1);
	ahs[22] = ISCSI_AHS_BIDI_READ_LEN;
	ahs[21] = 4;
	ck_assert_int_eq(iscsi_ahs_parse(ahs, sizeof(ahs), &ext, &ext_len, &bidi), -1);
	ahs[1] = 0;
	ck_assert_int_eq(iscsi_ahs_parse(ahs, sizeof(ahs), &ext, &ext_len, &bidi), -1);
}
END_TEST

/* ---- Builders ---- */

static const struct iscsi_sn sn = { .statsn = 0x11223344, .expcmdsn = 0x55, .maxcmdsn = 0xd4 };

static void check_sn(const void *pdu, bool statsn)
{
	const uint8_t *p = pdu;
	uint32_t v;

	memcpy(&v, p + 24, 4);
	ck_assert_uint_eq(be32toh(v), statsn ? sn.statsn : 0);
	memcpy(&v, p + 28, 4);
	ck_assert_uint_eq(be32toh(v), sn.expcmdsn);
	memcpy(&v, p + 32, 4);
	ck_assert_uint_eq(be32toh(v), sn.maxcmdsn);
}

START_TEST(test_build_login_text)
{
	struct iscsi_login_req req = { 0 };
	struct iscsi_login_rsp rsp;
	struct iscsi_text_req treq = { 0 };
	struct iscsi_text_rsp trsp;

	req.opcode = ISCSI_OP_IMMEDIATE | ISCSI_OP_LOGIN_REQ;
	memcpy(req.isid, "\x80\x12\x34\x56\x78\x9a", 6);
	req.itt = htobe32(0xcafe);
	iscsi_build_login_rsp(&rsp, &req, iscsi_login_flags(true, false, 1, 3), 0x0102, &sn,
			      ISCSI_LOGIN_OK, 300);
	ck_assert_uint_eq(rsp.opcode, ISCSI_OP_LOGIN_RSP);
	ck_assert_uint_eq(rsp.flags, 0x87);
	ck_assert_uint_eq(iscsi_bhs_dlength(&rsp), 300);
	ck_assert_mem_eq(rsp.isid, req.isid, 6);
	ck_assert_uint_eq(be16toh(rsp.tsih), 0x0102);
	ck_assert_uint_eq(rsp.itt, req.itt);
	ck_assert_uint_eq(rsp.version_max, 0);
	ck_assert_uint_eq(rsp.status_class, 0);
	check_sn(&rsp, true);
	iscsi_build_login_rsp(&rsp, &req, 0, 0, &sn, ISCSI_LOGIN_AUTH_FAILED, 0);
	ck_assert_uint_eq(rsp.status_class, 2);
	ck_assert_uint_eq(rsp.status_detail, 1);

	treq.opcode = ISCSI_OP_TEXT_REQ;
	treq.itt = htobe32(9);
	treq.lun[1] = 3;
	iscsi_build_text_rsp(&trsp, &treq, false, true, 0x77, &sn, 8192);
	ck_assert_uint_eq(trsp.opcode, ISCSI_OP_TEXT_RSP);
	ck_assert_uint_eq(trsp.flags, ISCSI_FLAG_CONTINUE);
	ck_assert_uint_eq(be32toh(trsp.ttt), 0x77);
	ck_assert_uint_eq(trsp.itt, treq.itt);
	ck_assert_uint_eq(trsp.lun[1], 3);
	ck_assert_uint_eq(iscsi_bhs_dlength(&trsp), 8192);
	check_sn(&trsp, true);
}
END_TEST

START_TEST(test_build_scsi_rsp_and_sense)
{
	static const uint8_t sense[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24 };
	struct iscsi_scsi_rsp r;
	uint8_t seg[2 + sizeof(sense)];
	uint32_t len;

	len = iscsi_sense_segment(seg, sense, sizeof(sense));
	ck_assert_uint_eq(len, 20);
	ck_assert_uint_eq(seg[0], 0);
	ck_assert_uint_eq(seg[1], 18);
	ck_assert_mem_eq(seg + 2, sense, sizeof(sense));
	iscsi_build_scsi_rsp(&r, htobe32(42), ISCSI_RESPONSE_COMPLETED, 0x02,
			     ISCSI_FLAG_UNDERFLOW, 512, &sn, len);
	ck_assert_uint_eq(r.opcode, ISCSI_OP_SCSI_RSP);
	ck_assert_uint_eq(r.flags, ISCSI_FLAG_FINAL | ISCSI_FLAG_UNDERFLOW);
	ck_assert_uint_eq(r.status, 0x02);
	ck_assert_uint_eq(be32toh(r.residual), 512);
	ck_assert_uint_eq(be32toh(r.itt), 42);
	ck_assert_uint_eq(iscsi_bhs_dlength(&r), 20);
	check_sn(&r, true);
	/* No residual flag: the count stays 0. */
	iscsi_build_scsi_rsp(&r, htobe32(42), 0, 0, 0, 512, &sn, 0);
	ck_assert_uint_eq(r.flags, ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(r.residual, 0);
	ck_assert_uint_eq(iscsi_sense_segment(seg, NULL, 0), 2);
}
END_TEST

START_TEST(test_build_data_in_r2t)
{
	static const uint8_t lun[8] = { 0, 1 };
	struct iscsi_data_in d;
	struct iscsi_r2t r;

	iscsi_build_data_in(&d, lun, htobe32(5), 3, 8192, 4096, false, false, 0, 0, 0, &sn);
	ck_assert_uint_eq(d.opcode, ISCSI_OP_DATA_IN);
	ck_assert_uint_eq(d.flags, 0);
	ck_assert_uint_eq(be32toh(d.datasn), 3);
	ck_assert_uint_eq(be32toh(d.offset), 8192);
	ck_assert_uint_eq(iscsi_bhs_dlength(&d), 4096);
	ck_assert_uint_eq(d.ttt, ISCSI_RSVD_TAG);
	ck_assert_mem_eq(d.lun, lun, 8);
	check_sn(&d, false);
	iscsi_build_data_in(&d, lun, htobe32(5), 4, 12288, 100, true, true, 0, ISCSI_FLAG_UNDERFLOW,
			    412, &sn);
	ck_assert_uint_eq(d.flags, ISCSI_FLAG_FINAL | ISCSI_DATAIN_FLAG_STATUS | ISCSI_FLAG_UNDERFLOW);
	ck_assert_uint_eq(be32toh(d.residual), 412);
	check_sn(&d, true);
	iscsi_build_data_in(&d, lun, htobe32(5), 4, 0, 100, true, false, 0, 0, 0, &sn);
	ck_assert_uint_eq(d.flags, ISCSI_FLAG_FINAL);

	iscsi_build_r2t(&r, lun, htobe32(5), 0x1000, 2, 65536, 262144, &sn);
	ck_assert_uint_eq(r.opcode, ISCSI_OP_R2T);
	ck_assert_uint_eq(r.flags, ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(be32toh(r.ttt), 0x1000);
	ck_assert_uint_eq(be32toh(r.r2tsn), 2);
	ck_assert_uint_eq(be32toh(r.offset), 65536);
	ck_assert_uint_eq(be32toh(r.desired_len), 262144);
	ck_assert_uint_eq(iscsi_bhs_dlength(&r), 0);
	check_sn(&r, true);
}
END_TEST

START_TEST(test_build_misc)
{
	struct iscsi_nop_in n;
	struct iscsi_reject rj;
	struct iscsi_logout_rsp lo;
	struct iscsi_tmf_rsp tm;
	struct iscsi_async_msg am;
	static const uint8_t lun[8] = { 0x40, 0x20 };

	/* Answer to a NOP-Out ping: ITT echoed, TTT reserved. */
	iscsi_build_nop_in(&n, lun, htobe32(8), ISCSI_RSVD_TAG, &sn, 8);
	ck_assert_uint_eq(n.opcode, ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(n.ttt, ISCSI_RSVD_TAG);
	ck_assert_uint_eq(be32toh(n.itt), 8);
	ck_assert_uint_eq(iscsi_bhs_dlength(&n), 8);
	/* Target ping: ITT reserved, real TTT. */
	iscsi_build_nop_in(&n, NULL, ISCSI_RSVD_TAG, 0x99, &sn, 0);
	ck_assert_uint_eq(n.itt, ISCSI_RSVD_TAG);
	ck_assert_uint_eq(be32toh(n.ttt), 0x99);

	iscsi_build_reject(&rj, ISCSI_REJECT_PROTOCOL_ERROR, &sn);
	ck_assert_uint_eq(rj.opcode, ISCSI_OP_REJECT);
	ck_assert_uint_eq(rj.flags, ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(rj.reason, ISCSI_REJECT_PROTOCOL_ERROR);
	ck_assert_uint_eq(rj.itt, ISCSI_RSVD_TAG);
	ck_assert_uint_eq(iscsi_bhs_dlength(&rj), ISCSI_BHS_LEN);
	check_sn(&rj, true);

	{
		struct iscsi_reject_pdu rp;
		uint8_t bad[ISCSI_BHS_LEN];

		_Static_assert(sizeof(rp) == 2 * ISCSI_BHS_LEN, "reject PDU");
		for (size_t i = 0; i < sizeof(bad); i++)
			bad[i] = (uint8_t)(0x80 + i);
		iscsi_build_reject_pdu(&rp, ISCSI_REJECT_CMD_NOT_SUPPORTED, bad, &sn);
		ck_assert_uint_eq(rp.hdr.reason, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		ck_assert_uint_eq(iscsi_bhs_dlength(&rp.hdr), sizeof(rp.rejected));
		ck_assert_mem_eq(rp.rejected, bad, sizeof(bad));
	}

	iscsi_build_logout_rsp(&lo, htobe32(3), ISCSI_LOGOUT_RSP_OK, 2, 20, &sn);
	ck_assert_uint_eq(lo.opcode, ISCSI_OP_LOGOUT_RSP);
	ck_assert_uint_eq(lo.response, 0);
	ck_assert_uint_eq(be16toh(lo.time2wait), 2);
	ck_assert_uint_eq(be16toh(lo.time2retain), 20);
	check_sn(&lo, true);

	iscsi_build_tmf_rsp(&tm, htobe32(4), ISCSI_TMF_RSP_NO_TASK, &sn);
	ck_assert_uint_eq(tm.opcode, ISCSI_OP_TMF_RSP);
	ck_assert_uint_eq(tm.flags, ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(tm.response, 1);
	check_sn(&tm, true);

	iscsi_build_async(&am, lun, ISCSI_ASYNC_SCSI_EVENT, 1, 2, 3, &sn, 20);
	ck_assert_uint_eq(am.opcode, ISCSI_OP_ASYNC_MSG);
	ck_assert_uint_eq(am.itt, ISCSI_RSVD_TAG);
	ck_assert_uint_eq(am.event, 0);
	ck_assert_uint_eq(be16toh(am.param1), 1);
	ck_assert_uint_eq(be16toh(am.param3), 3);
	ck_assert_mem_eq(am.lun, lun, 8);
	ck_assert_uint_eq(iscsi_bhs_dlength(&am), 20);
	check_sn(&am, true);
}
END_TEST

START_TEST(test_built_pdus_are_target_pdus)
{
	/* Whatever the target builds, it must never accept back from an
	 * initiator: a reflected target PDU is a protocol error. */
	struct iscsi_reject rj;
	struct iscsi_bhs_verdict v;

	iscsi_build_reject(&rj, ISCSI_REJECT_INVALID_PDU_FIELD, &sn);
	ck_assert_int_eq(iscsi_bhs_check(&rj, &limits[L_FFP], &v), ISCSI_REJECT_PROTOCOL_ERROR);
	ck_assert_str_eq(iscsi_opcode_name(rj.opcode), "Reject");
}
END_TEST

/* Random headers against every limit set: never a crash, and every
 * refusal comes with a reason and an explanation. */
START_TEST(test_bhs_random)
{
	unsigned int seed = 4242;
	uint8_t b[ISCSI_BHS_LEN];
	struct iscsi_bhs_verdict v;

	for (int iter = 0; iter < 20000; iter++) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)rand_r(&seed);
		if (iter & 1)
			b[0] &= 0x47;   /* mostly initiator opcodes */
		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
			int rc = iscsi_bhs_check(b, &limits[l], &v);
			if (rc && (v.reason != rc || !v.why || !v.login_status))
				ck_abort_msg("iteration %d: incomplete verdict", iter);
			if (!rc && !limits[l].full_feature &&
			    iscsi_bhs_opcode(b) != ISCSI_OP_LOGIN_REQ)
				ck_abort_msg("iteration %d: non-login PDU accepted in login", iter);
		}
	}
}
END_TEST

static Suite *pdu_suite(void)
{
	Suite *s = suite_create("iscsi_pdu");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_layout_offsets);
	tcase_add_test(tc, test_accessors);
	tcase_add_loop_test(tc, test_bhs_check, 0, sizeof(bhs_cases) / sizeof(bhs_cases[0]));
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_lun_codec);
	tcase_add_test(tc, test_lun_decode_unsupported);
	tcase_add_test(tc, test_serial);
	tcase_add_test(tc, test_serial_window);
	tcase_add_test(tc, test_digest_vectors);
	tcase_add_test(tc, test_digest_padding_and_iov);
	tcase_add_test(tc, test_ahs_parse);
	tcase_add_test(tc, test_build_login_text);
	tcase_add_test(tc, test_build_scsi_rsp_and_sense);
	tcase_add_test(tc, test_build_data_in_r2t);
	tcase_add_test(tc, test_build_misc);
	tcase_add_test(tc, test_built_pdus_are_target_pdus);
	tcase_add_test(tc, test_bhs_random);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pdu_suite());
	int failed;

	/* Pure functions on local state: one process is enough, and forking
	 * an ASan process per test costs far more than the tests (CK_FORK=yes
	 * still isolates them). */
	if (!getenv("CK_FORK"))
		srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for nvmetcp/pdu.c: the header checks both ends apply to every
 * received PDU (good, truncated, wrong lengths, bad PDO, digest flags, wrong
 * direction or state, oversized data), the layout math, PDU construction and
 * the CRC32C digests.
 */
#include <check.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmetcp/pdu.h"

#define T NVMETCP_ROLE_TARGET
#define H NVMETCP_ROLE_HOST
#define HD NVMETCP_F_HDGST
#define DD NVMETCP_F_DDGST
#define LAST NVMETCP_F_DATA_LAST
#define SUCC NVMETCP_F_DATA_SUCCESS

/* Connection states the cases run against. */
enum pstate { P_SETUP, P_PLAIN, P_DIGESTS, P_PDA, P_SMALL };
static const struct nvmetcp_params params[] = {
	[P_SETUP]   = { .established = false, .max_data = 0 },
	[P_PLAIN]   = { .established = true, .max_data = 65536 },
	[P_DIGESTS] = { .established = true, .hdgst = true, .ddgst = true, .max_data = 65536 },
	[P_PDA]     = { .established = true, .rx_pda = 32, .max_data = 65536 },
	[P_SMALL]   = { .established = true, .max_data = 4096 },
};

struct hdr_case {
	const char *name;
	uint8_t type, flags, hlen, pdo;
	uint32_t plen;
	enum nvmetcp_role role;
	enum pstate state;
	uint16_t fes;           /* 0: must pass */
	uint32_t fei;
};

#define OK 0
#define BADH NVMETCP_FES_INVALID_HEADER
#define SEQ NVMETCP_FES_PDU_SEQUENCE
#define LIM NVMETCP_FES_DATA_LIMIT

static const struct hdr_case hdr_cases[] = {
	/* ICReq (target receives, only before the exchange). */
	{ "icreq good",            0x00, 0,  128, 0,   128, T, P_SETUP,   OK,   0 },
	{ "icreq short hlen",      0x00, 0,  127, 0,   128, T, P_SETUP,   BADH, 2 },
	{ "icreq plen short",      0x00, 0,  128, 0,   120, T, P_SETUP,   BADH, 4 },
	{ "icreq plen long",       0x00, 0,  128, 0,   132, T, P_SETUP,   BADH, 4 },
	{ "icreq pdo set",         0x00, 0,  128, 128, 128, T, P_SETUP,   BADH, 3 },
	{ "icreq hdgst flag",      0x00, HD, 128, 0,   132, T, P_SETUP,   BADH, 1 },
	{ "icreq after ic",        0x00, 0,  128, 0,   128, T, P_PLAIN,   SEQ,  0 },
	{ "icreq at host",         0x00, 0,  128, 0,   128, H, P_SETUP,   SEQ,  0 },
	/* ICResp (host receives, only before the exchange). */
	{ "icresp good",           0x01, 0,  128, 0,   128, H, P_SETUP,   OK,   0 },
	{ "icresp hlen 24",        0x01, 0,  24,  0,   128, H, P_SETUP,   BADH, 2 },
	{ "icresp truncated plen", 0x01, 0,  128, 0,   8,   H, P_SETUP,   BADH, 4 },
	{ "icresp ddgst flag",     0x01, DD, 128, 0,   128, H, P_SETUP,   BADH, 1 },
	{ "icresp after ic",       0x01, 0,  128, 0,   128, H, P_PLAIN,   SEQ,  0 },
	{ "icresp at target",      0x01, 0,  128, 0,   128, T, P_SETUP,   SEQ,  0 },
	/* H2CTermReq / C2HTermReq: any time, never digests, <= 152 data bytes. */
	{ "h2cterm good",          0x02, 0,  24,  0,   48,  T, P_PLAIN,   OK,   0 },
	{ "h2cterm before ic",     0x02, 0,  24,  0,   152, T, P_SETUP,   OK,   0 },
	{ "h2cterm no data",       0x02, 0,  24,  0,   24,  T, P_DIGESTS, OK,   0 },
	{ "h2cterm pdo=hlen",      0x02, 0,  24,  24,  48,  T, P_PLAIN,   OK,   0 },
	{ "h2cterm bad pdo",       0x02, 0,  24,  28,  48,  T, P_PLAIN,   BADH, 3 },
	{ "h2cterm too much data", 0x02, 0,  24,  0,   24 + NVMETCP_TERM_MAX_DATA + 1,
	  T, P_PLAIN, BADH, 4 },
	{ "h2cterm hdgst flag",    0x02, HD, 24,  0,   28,  T, P_DIGESTS, BADH, 1 },
	{ "h2cterm hlen",          0x02, 0,  72,  0,   72,  T, P_PLAIN,   BADH, 2 },
	{ "h2cterm at host",       0x02, 0,  24,  0,   24,  H, P_PLAIN,   SEQ,  0 },
	{ "c2hterm good",          0x03, 0,  24,  0,   152, H, P_PLAIN,   OK,   0 },
	{ "c2hterm before ic",     0x03, 0,  24,  0,   48,  H, P_SETUP,   OK,   0 },
	{ "c2hterm truncated",     0x03, 0,  24,  0,   20,  H, P_PLAIN,   BADH, 4 },
	{ "c2hterm at target",     0x03, 0,  24,  0,   24,  T, P_PLAIN,   SEQ,  0 },
	/* CapsuleCmd (target receives), optional in-capsule data. */
	{ "cmd good",              0x04, 0,  72,  0,   72,  T, P_PLAIN,   OK,   0 },
	{ "cmd incapsule",         0x04, 0,  72,  72,  4168, T, P_PLAIN,  OK,   0 },
	{ "cmd digests",           0x04, HD, 72,  0,   76,  T, P_DIGESTS, OK,   0 },
	{ "cmd digests + data",    0x04, HD | DD, 72, 76, 76 + 512 + 4, T, P_DIGESTS, OK, 0 },
	{ "cmd before ic",         0x04, 0,  72,  0,   72,  T, P_SETUP,   SEQ,  0 },
	{ "cmd at host",           0x04, 0,  72,  0,   72,  H, P_PLAIN,   SEQ,  0 },
	{ "cmd hlen 24",           0x04, 0,  24,  0,   72,  T, P_PLAIN,   BADH, 2 },
	{ "cmd hlen 0",            0x04, 0,  0,   0,   72,  T, P_PLAIN,   BADH, 2 },
	{ "cmd truncated plen",    0x04, 0,  72,  0,   64,  T, P_PLAIN,   BADH, 4 },
	{ "cmd plen absurd",       0x04, 0,  72,  72,  (16u << 20) + 1, T, P_PLAIN, BADH, 4 },
	{ "cmd data no pdo",       0x04, 0,  72,  0,   100, T, P_PLAIN,   BADH, 3 },
	{ "cmd pdo below hlen",    0x04, 0,  72,  64,  200, T, P_PLAIN,   BADH, 3 },
	{ "cmd pdo inside hdgst",  0x04, HD | DD, 72, 72, 200, T, P_DIGESTS, BADH, 3 },
	{ "cmd pdo past plen",     0x04, 0,  72,  200, 100, T, P_PLAIN,   BADH, 4 },
	{ "cmd pdo = plen",        0x04, 0,  72,  100, 100, T, P_PLAIN,   BADH, 4 },
	{ "cmd pdo misaligned",    0x04, 0,  72,  72,  200, T, P_PDA,     BADH, 3 },
	{ "cmd pdo aligned",       0x04, 0,  72,  96,  200, T, P_PDA,     OK,   0 },
	{ "cmd no hdgst flag",     0x04, 0,  72,  0,   72,  T, P_DIGESTS, BADH, 1 },
	{ "cmd hdgst unasked",     0x04, HD, 72,  0,   76,  T, P_PLAIN,   BADH, 1 },
	{ "cmd ddgst no data",     0x04, HD | DD, 72, 0, 76, T, P_DIGESTS, BADH, 1 },
	{ "cmd data no ddgst",     0x04, HD, 72,  76,  200, T, P_DIGESTS, BADH, 1 },
	{ "cmd ddgst unasked",     0x04, DD, 72,  72,  200, T, P_PLAIN,   BADH, 1 },
	{ "cmd pdo without data",  0x04, 0,  72,  72,  72,  T, P_PLAIN,   BADH, 3 },
	{ "cmd data = max",        0x04, 0,  72,  72,  72 + 4096, T, P_SMALL, OK, 0 },
	{ "cmd data over max",     0x04, 0,  72,  72,  72 + 4097, T, P_SMALL, LIM, 4 },
	/* CapsuleResp (host receives), never data. */
	{ "rsp good",              0x05, 0,  24,  0,   24,  H, P_PLAIN,   OK,   0 },
	{ "rsp hdgst",             0x05, HD, 24,  0,   28,  H, P_DIGESTS, OK,   0 },
	{ "rsp ddgst flag",        0x05, HD | DD, 24, 0, 28, H, P_DIGESTS, BADH, 1 },
	{ "rsp with data",         0x05, 0,  24,  24,  40,  H, P_PLAIN,   BADH, 4 },
	{ "rsp plen short",        0x05, 0,  24,  0,   16,  H, P_PLAIN,   BADH, 4 },
	{ "rsp plen no hdgst",     0x05, HD, 24,  0,   24,  H, P_DIGESTS, BADH, 4 },
	{ "rsp pdo set",           0x05, 0,  24,  24,  24,  H, P_PLAIN,   BADH, 3 },
	{ "rsp hlen",              0x05, 0,  72,  0,   72,  H, P_PLAIN,   BADH, 2 },
	{ "rsp at target",         0x05, 0,  24,  0,   24,  T, P_PLAIN,   SEQ,  0 },
	{ "rsp before ic",         0x05, 0,  24,  0,   24,  H, P_SETUP,   SEQ,  0 },
	/* H2CData (target receives), data required. */
	{ "h2c good",              0x06, LAST, 24, 24, 24 + 4096, T, P_PLAIN, OK, 0 },
	{ "h2c digests",           0x06, HD | DD, 24, 28, 28 + 4096 + 4, T, P_DIGESTS, OK, 0 },
	{ "h2c no data",           0x06, 0,  24,  0,   24,  T, P_PLAIN,   BADH, 4 },
	{ "h2c hlen",              0x06, 0,  25,  24,  100, T, P_PLAIN,   BADH, 2 },
	{ "h2c pdo low",           0x06, 0,  24,  16,  100, T, P_PLAIN,   BADH, 3 },
	{ "h2c pdo misaligned",    0x06, 0,  24,  24,  100, T, P_PDA,     BADH, 3 },
	{ "h2c pdo aligned",       0x06, 0,  24,  64,  100, T, P_PDA,     OK,   0 },
	{ "h2c plen = pdo",        0x06, 0,  24,  24,  24,  T, P_PLAIN,   BADH, 4 },
	{ "h2c plen < pdo",        0x06, 0,  24,  64,  40,  T, P_PLAIN,   BADH, 4 },
	{ "h2c over max",          0x06, 0,  24,  24,  24 + 4100, T, P_SMALL, LIM, 4 },
	{ "h2c missing ddgst",     0x06, HD, 24,  28,  28 + 64, T, P_DIGESTS, BADH, 1 },
	{ "h2c only ddgst len",    0x06, HD | DD, 24, 28, 32, T, P_DIGESTS, BADH, 4 },
	{ "h2c at host",           0x06, 0,  24,  24,  100, H, P_PLAIN,   SEQ,  0 },
	{ "h2c before ic",         0x06, 0,  24,  24,  100, T, P_SETUP,   SEQ,  0 },
	/* C2HData (host receives), data required, SUCCESS needs LAST. */
	{ "c2h good",              0x07, 0,  24,  24,  24 + 512, H, P_PLAIN, OK, 0 },
	{ "c2h success",           0x07, LAST | SUCC, 24, 24, 100, H, P_PLAIN, OK, 0 },
	{ "c2h success not last",  0x07, SUCC, 24, 24, 100, H, P_PLAIN,  BADH, 1 },
	{ "c2h digests",           0x07, HD | DD | LAST, 24, 28, 28 + 8 + 4, H, P_DIGESTS, OK, 0 },
	{ "c2h no data",           0x07, 0,  24,  0,   24,  H, P_PLAIN,   BADH, 4 },
	{ "c2h pdo low",           0x07, 0,  24,  20,  100, H, P_PLAIN,   BADH, 3 },
	{ "c2h over max",          0x07, 0,  24,  24,  24 + 65537, H, P_PLAIN, LIM, 4 },
	{ "c2h at target",         0x07, 0,  24,  24,  100, T, P_PLAIN,   SEQ,  0 },
	{ "c2h hdgst unasked",     0x07, HD, 24,  28,  100, H, P_PLAIN,   BADH, 1 },
	/* R2T (host receives), never data. */
	{ "r2t good",              0x09, 0,  24,  0,   24,  H, P_PLAIN,   OK,   0 },
	{ "r2t hdgst",             0x09, HD, 24,  0,   28,  H, P_DIGESTS, OK,   0 },
	{ "r2t ddgst",             0x09, HD | DD, 24, 0, 28, H, P_DIGESTS, BADH, 1 },
	{ "r2t with data",         0x09, 0,  24,  24,  28,  H, P_PLAIN,   BADH, 4 },
	{ "r2t hlen",              0x09, 0,  28,  0,   28,  H, P_PLAIN,   BADH, 2 },
	{ "r2t at target",         0x09, 0,  24,  0,   24,  T, P_PLAIN,   SEQ,  0 },
	/* Unknown types. */
	{ "type 8",                0x08, 0,  24,  0,   24,  T, P_PLAIN,   BADH, 0 },
	{ "type 0x0a",             0x0a, 0,  24,  0,   24,  H, P_PLAIN,   BADH, 0 },
	{ "type 0xff",             0xff, 0,  24,  0,   24,  T, P_SETUP,   BADH, 0 },
};
#define N_HDR_CASES ((int)(sizeof(hdr_cases) / sizeof(hdr_cases[0])))

static void make_hdr(struct nvmetcp_hdr *h, uint8_t type, uint8_t flags, uint8_t hlen,
		     uint8_t pdo, uint32_t plen)
{
	h->type = type;
	h->flags = flags;
	h->hlen = hlen;
	h->pdo = pdo;
	h->plen = htole32(plen);
}

START_TEST(test_header_cases)
{
	const struct hdr_case *c = &hdr_cases[_i];
	struct nvmetcp_hdr h;
	uint16_t fes = 0xdead;
	uint32_t fei = 0xdead;
	int r;

	make_hdr(&h, c->type, c->flags, c->hlen, c->pdo, c->plen);
	r = nvmetcp_pdu_check(&h, c->role, &params[c->state], &fes, &fei);
	if (c->fes == OK) {
		ck_assert_msg(r == 0, "%s: rejected with FES %u FEI %u", c->name, fes, fei);
	} else {
		ck_assert_msg(r == c->fes && fes == c->fes,
			      "%s: got %d/FES %u, want FES %u", c->name, r, fes, c->fes);
		ck_assert_msg(fei == c->fei, "%s: FEI %u, want %u", c->name, fei, c->fei);
	}
}
END_TEST

/* Every type the table knows has its fixed HLEN; others report 0. */
START_TEST(test_hlen_table)
{
	static const uint8_t want[256] = {
		[0x00] = 128, [0x01] = 128, [0x02] = 24, [0x03] = 24, [0x04] = 72,
		[0x05] = 24, [0x06] = 24, [0x07] = 24, [0x09] = 24,
	};
	for (int t = 0; t < 256; t++)
		ck_assert_uint_eq(nvmetcp_pdu_hlen((uint8_t)t), want[t]);
}
END_TEST

/* A PDU built by nvmetcp_pdu_init passes the receiver's check with the same
 * negotiation, and its layout adds up to PLEN; for all types, digest
 * combinations, alignments and data sizes. */
START_TEST(test_init_roundtrip)
{
	static const uint8_t types[] = { 0x04, 0x05, 0x06, 0x07, 0x09, 0x02, 0x03 };
	static const uint32_t pdas[] = { 0, 8, 32, 128 };
	static const uint32_t sizes[] = { 0, 1, 512, 4096, 65536 };

	for (size_t t = 0; t < sizeof(types); t++)
	for (int dg = 0; dg < 4; dg++)
	for (size_t a = 0; a < sizeof(pdas) / sizeof(pdas[0]); a++)
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint8_t type = types[t];
		bool term = type == 0x02 || type == 0x03;
		bool nodata = type == 0x05 || type == 0x09;
		bool needdata = type == 0x06 || type == 0x07;
		uint32_t len = sizes[s];
		struct nvmetcp_params p = {
			.established = true, .hdgst = dg & 1, .ddgst = dg & 2,
			.rx_pda = term ? 0 : pdas[a], .max_data = 65536,
		};
		enum nvmetcp_role role = (type & 1) ? H : T;
		struct nvmetcp_layout l;
		struct nvmetcp_hdr h;
		uint16_t fes;
		uint32_t fei;

		if ((nodata && len) || (needdata && !len) || (term && len > 128))
			continue;
		nvmetcp_pdu_init(&h, type, type == 0x07 ? LAST : 0, p.hdgst, p.ddgst,
				 len, p.rx_pda);
		ck_assert_msg(nvmetcp_pdu_check(&h, role, &p, &fes, &fei) == 0,
			      "type %u dg %d pda %u len %u: FES %u FEI %u",
			      type, dg, p.rx_pda, len, fes, fei);
		nvmetcp_pdu_layout(&h, &l);
		ck_assert_uint_eq(l.hlen, nvmetcp_pdu_hlen(type));
		ck_assert_uint_eq(l.data_len, len);
		ck_assert_uint_eq(l.hlen + l.hdgst_len + l.pad + l.data_len + l.ddgst_len,
				  le32toh(h.plen));
		ck_assert_uint_eq(l.hdgst_len, (!term && p.hdgst) ? 4 : 0);
		ck_assert_uint_eq(l.ddgst_len, (!term && p.ddgst && len) ? 4 : 0);
		if (len && !term && p.rx_pda)
			ck_assert_uint_eq(h.pdo % p.rx_pda, 0);
		if (!len)
			ck_assert_uint_eq(h.pdo, 0);
	}
}
END_TEST

/* ICReq/ICResp never carry digests whatever the caller asks. */
START_TEST(test_init_ic_no_digests)
{
	struct nvmetcp_hdr h;

	nvmetcp_pdu_init(&h, NVMETCP_ICREQ, 0, true, true, 0, 64);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_uint_eq(h.hlen, 128);
	ck_assert_uint_eq(h.pdo, 0);
	ck_assert_uint_eq(le32toh(h.plen), 128);
}
END_TEST

START_TEST(test_layout_math)
{
	struct nvmetcp_layout l;
	struct nvmetcp_hdr h;

	/* CapsuleCmd, both digests, 128-byte alignment: 72 + 4 + 52 pad. */
	make_hdr(&h, 0x04, HD | DD, 72, 128, 128 + 8192 + 4);
	nvmetcp_pdu_layout(&h, &l);
	ck_assert_uint_eq(l.hlen, 72);
	ck_assert_uint_eq(l.hdgst_len, 4);
	ck_assert_uint_eq(l.pad, 52);
	ck_assert_uint_eq(l.data_len, 8192);
	ck_assert_uint_eq(l.ddgst_len, 4);

	/* CapsuleCmd without data: everything but the header is zero. */
	make_hdr(&h, 0x04, HD, 72, 0, 76);
	nvmetcp_pdu_layout(&h, &l);
	ck_assert_uint_eq(l.hdgst_len, 4);
	ck_assert_uint_eq(l.pad + l.data_len + l.ddgst_len, 0);

	/* C2HData without digests, no padding. */
	make_hdr(&h, 0x07, LAST, 24, 24, 24 + 1000);
	nvmetcp_pdu_layout(&h, &l);
	ck_assert_uint_eq(l.pad, 0);
	ck_assert_uint_eq(l.data_len, 1000);
	ck_assert_uint_eq(l.ddgst_len, 0);

	/* TermReq: data right after the header, no digests. */
	make_hdr(&h, 0x03, 0, 24, 0, 24 + 72);
	nvmetcp_pdu_layout(&h, &l);
	ck_assert_uint_eq(l.pad, 0);
	ck_assert_uint_eq(l.data_len, 72);

	/* Garbage that was never checked must not underflow. */
	make_hdr(&h, 0x07, HD | DD, 24, 10, 12);
	nvmetcp_pdu_layout(&h, &l);
	ck_assert_uint_eq(l.pad, 0);
	ck_assert_uint_eq(l.data_len, 0);
}
END_TEST

/* Bit-at-a-time reflected CRC32C: an independent reference. */
static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* RFC 3720 §B.4 CRC32C vectors (the iSCSI/NVMe-TCP digest). */
START_TEST(test_crc_vectors)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(nvb_crc32c(buf, 32), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(nvb_crc32c(buf, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	ck_assert_uint_eq(nvb_crc32c(buf, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(nvb_crc32c(buf, 32), 0x113fdb5c);
	ck_assert_uint_eq(nvb_crc32c("123456789", 9), 0xe3069283);
}
END_TEST

START_TEST(test_header_digest)
{
	uint8_t buf[24 + 4];
	struct nvmetcp_rsp *rsp = (struct nvmetcp_rsp *)buf;

	memset(buf, 0, sizeof(buf));
	nvmetcp_pdu_init(&rsp->hdr, NVMETCP_CAPSULE_RSP, 0, true, false, 0, 0);
	rsp->cqe.cid = htole16(0x1234);
	rsp->cqe.result.u32 = htole32(0xdeadbeef);
	nvmetcp_hdgst_put(&rsp->hdr);

	/* Known vector: this exact CapsuleResp header. */
	static const uint8_t vec[24] = {
		0x05, 0x01, 0x18, 0x00, 0x1c, 0x00, 0x00, 0x00,
		0xef, 0xbe, 0xad, 0xde, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00,
	};
	ck_assert_mem_eq(buf, vec, 24);
	ck_assert_uint_eq(nvmetcp_hdgst(&rsp->hdr), 0x29e83544);
	ck_assert_uint_eq(nvmetcp_hdgst(&rsp->hdr), ref_crc32c(vec, 24));
	/* Stored little-endian right after HLEN. */
	ck_assert_uint_eq(nvmetcp_digest_get(buf + 24), ref_crc32c(vec, 24));
	ck_assert_uint_eq(buf[24], ref_crc32c(vec, 24) & 0xff);
	ck_assert(nvmetcp_hdgst_ok(&rsp->hdr));

	buf[12] ^= 0x10;        /* corrupt the header */
	ck_assert(!nvmetcp_hdgst_ok(&rsp->hdr));
	buf[12] ^= 0x10;
	buf[26] ^= 0x01;        /* corrupt the digest */
	ck_assert(!nvmetcp_hdgst_ok(&rsp->hdr));
}
END_TEST

START_TEST(test_data_digest)
{
	uint8_t data[5000];
	struct iovec iov[3];
	uint32_t crc;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	iov[0] = (struct iovec){ data, 1 };
	iov[1] = (struct iovec){ data + 1, 2999 };
	iov[2] = (struct iovec){ data + 3000, 2000 };
	crc = nvb_crc32c_final(nvmetcp_ddgst_update(NVB_CRC32C_INIT, iov, 3));
	ck_assert_uint_eq(crc, ref_crc32c(data, sizeof(data)));
	/* Chained over two calls (data split across PDUs of a receiver). */
	crc = nvmetcp_ddgst_update(NVB_CRC32C_INIT, iov, 2);
	crc = nvb_crc32c_final(nvmetcp_ddgst_update(crc, iov + 2, 1));
	ck_assert_uint_eq(crc, ref_crc32c(data, sizeof(data)));
	ck_assert_uint_eq(nvb_crc32c_final(nvmetcp_ddgst_update(NVB_CRC32C_INIT, iov, 0)), 0);
}
END_TEST

START_TEST(test_icreq_icresp)
{
	struct nvmetcp_icreq req;
	struct nvmetcp_icresp rsp;
	struct nvmetcp_params setup_t = { .established = false };
	uint16_t fes;
	uint32_t fei;

	nvmetcp_icreq_init(&req, true, false, 3, 0);
	ck_assert_uint_eq(req.hdr.type, NVMETCP_ICREQ);
	ck_assert_uint_eq(req.dgst, NVMETCP_DGST_HDR);
	ck_assert_uint_eq(req.hpda, 3);
	ck_assert_int_eq(nvmetcp_pdu_check(&req.hdr, T, &setup_t, &fes, &fei), 0);
	ck_assert_int_eq(nvmetcp_icreq_check(&req, &fes, &fei), 0);
	req.pfv = htole16(1);
	ck_assert_int_eq(nvmetcp_icreq_check(&req, &fes, &fei), NVMETCP_FES_UNSUPPORTED_PARAM);
	ck_assert_uint_eq(fei, 8);
	req.pfv = 0;
	req.hpda = 32;
	ck_assert_int_eq(nvmetcp_icreq_check(&req, &fes, &fei), NVMETCP_FES_INVALID_HEADER);
	ck_assert_uint_eq(fei, 10);

	nvmetcp_icresp_init(&rsp, true, true, 0, 131072);
	ck_assert_int_eq(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei), 0);
	/* Digests not as asked. */
	ck_assert_int_ne(nvmetcp_icresp_check(&rsp, true, false, &fes, &fei), 0);
	ck_assert_uint_eq(fei, 11);
	ck_assert_int_ne(nvmetcp_icresp_check(&rsp, false, false, &fes, &fei), 0);
	/* MAXH2CDATA too small or not a multiple of 4. */
	rsp.maxh2cdata = htole32(4092);
	ck_assert_int_ne(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei), 0);
	ck_assert_uint_eq(fei, 12);
	rsp.maxh2cdata = htole32(4098);
	ck_assert_int_ne(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei), 0);
	rsp.maxh2cdata = htole32(4096);
	ck_assert_int_eq(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei), 0);
	rsp.cpda = 32;
	ck_assert_int_ne(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei), 0);
	ck_assert_uint_eq(fei, 10);
	rsp.cpda = 0;
	rsp.pfv = htole16(2);
	ck_assert_int_eq(nvmetcp_icresp_check(&rsp, true, true, &fes, &fei),
			 NVMETCP_FES_UNSUPPORTED_PARAM);

	ck_assert_uint_eq(nvmetcp_pda_bytes(0), 0);
	ck_assert_uint_eq(nvmetcp_pda_bytes(1), 8);
	ck_assert_uint_eq(nvmetcp_pda_bytes(31), 128);
}
END_TEST

START_TEST(test_term_init)
{
	struct nvmetcp_term t;
	struct nvmetcp_params est = { .established = true, .hdgst = true, .ddgst = true };
	struct nvmetcp_layout l;
	uint16_t fes;
	uint32_t fei;
	size_t echo;

	echo = nvmetcp_term_init(&t, NVMETCP_ROLE_HOST, NVMETCP_FES_HDR_DIGEST, 72, 76);
	ck_assert_uint_eq(echo, 76);
	ck_assert_uint_eq(t.hdr.type, NVMETCP_H2C_TERM);
	ck_assert_uint_eq(le16toh(t.fes), NVMETCP_FES_HDR_DIGEST);
	ck_assert_uint_eq(le32toh(t.fei), 72);
	ck_assert_int_eq(nvmetcp_pdu_check(&t.hdr, T, &est, &fes, &fei), 0);
	nvmetcp_pdu_layout(&t.hdr, &l);
	ck_assert_uint_eq(l.data_len, 76);

	/* The echo is clamped so the PDU stays within 152 bytes. */
	echo = nvmetcp_term_init(&t, NVMETCP_ROLE_TARGET, NVMETCP_FES_INVALID_HEADER, 2, 132);
	ck_assert_uint_eq(echo, 128);
	ck_assert_uint_eq(t.hdr.type, NVMETCP_C2H_TERM);
	ck_assert_uint_eq(le32toh(t.hdr.plen), NVMETCP_TERM_MAX_PLEN);
	ck_assert_int_eq(nvmetcp_pdu_check(&t.hdr, H, &est, &fes, &fei), 0);

	ck_assert_str_eq(nvmetcp_fes_name(NVMETCP_FES_PDU_SEQUENCE), "PDU sequence error");
	ck_assert_str_eq(nvmetcp_fes_name(0x77), "unknown fatal error");
}
END_TEST

static Suite *pdu_suite(void)
{
	Suite *s = suite_create("pdu");
	TCase *tc = tcase_create("header");

	tcase_add_loop_test(tc, test_header_cases, 0, N_HDR_CASES);
	tcase_add_test(tc, test_hlen_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_init_roundtrip);
	tcase_add_test(tc, test_init_ic_no_digests);
	tcase_add_test(tc, test_layout_math);
	tcase_add_test(tc, test_icreq_icresp);
	tcase_add_test(tc, test_term_init);
	suite_add_tcase(s, tc);

	tc = tcase_create("digest");
	tcase_add_test(tc, test_crc_vectors);
	tcase_add_test(tc, test_header_digest);
	tcase_add_test(tc, test_data_digest);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pdu_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for iscsi/text.c (key=value codec: limits, NUL handling,
 * multi-PDU accumulation, numbers, lists, encoder) and iscsi/params.c (the
 * negotiation engine: every rule type, Reject / Irrelevant / NotUnderstood,
 * stage and sender rules, target declarations and offers), driven by login
 * key sets written after what open-iscsi and libiscsi send.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

/* Text with '\n' separators to the wire form (NUL after every pair). */
static size_t wire(const char *text, char *out, size_t cap)
{
	size_t n = strlen(text);

	ck_assert_uint_lt(n, cap);
	for (size_t i = 0; i < n; i++)
		out[i] = text[i] == '\n' ? '\0' : text[i];
	return n;
}

/* ==== Text codec ==== */

static char tbuf[70000];
static struct iscsi_kv_list kvl;

static int parse(const char *text)
{
	size_t n = wire(text, tbuf, sizeof(tbuf));
	return iscsi_text_parse(tbuf, n, &kvl, NULL);
}

START_TEST(test_text_parse_basic)
{
	ck_assert_int_eq(parse("A=1\nBb=xyz\nEmpty=\nEq=b=c\n"), ISCSI_TEXT_OK);
	ck_assert_uint_eq(kvl.n, 4);
	ck_assert_str_eq(kvl.kv[0].key, "A");
	ck_assert_str_eq(kvl.kv[0].value, "1");
	ck_assert_str_eq(kvl.kv[1].value, "xyz");
	ck_assert_uint_eq(kvl.kv[1].value_len, 3);
	ck_assert_str_eq(kvl.kv[2].value, "");
	/* The value is everything after the first '='. */
	ck_assert_str_eq(kvl.kv[3].value, "b=c");
	ck_assert_ptr_eq(iscsi_kv_find(&kvl, "Bb"), &kvl.kv[1]);
	ck_assert_ptr_null(iscsi_kv_find(&kvl, "B"));
	/* Nothing at all is fine; NUL padding is skipped. */
	ck_assert_int_eq(iscsi_text_parse(tbuf, 0, &kvl, NULL), ISCSI_TEXT_OK);
	ck_assert_uint_eq(kvl.n, 0);
	ck_assert_int_eq(parse("A=1\n\n\nB=2\n\n"), ISCSI_TEXT_OK);
	ck_assert_uint_eq(kvl.n, 2);
	ck_assert_int_eq(parse("iSCSIProtocolLevel=1\nX-com.example.Foo=1\nX#org.ex=2\n"), 0);
	ck_assert_uint_eq(kvl.n, 3);
}
END_TEST

START_TEST(test_text_parse_errors)
{
	char key64[80], val[9000];
	size_t off = 99;
	size_t n;

	ck_assert_int_eq(parse("A=1\nNoEquals\n"), ISCSI_TEXT_ERR_NO_EQUALS);
	ck_assert_int_eq(parse("=value\n"), ISCSI_TEXT_ERR_EMPTY_KEY);
	ck_assert_int_eq(parse("1abc=2\n"), ISCSI_TEXT_ERR_BAD_KEY);
	ck_assert_int_eq(parse("Bad Key=2\n"), ISCSI_TEXT_ERR_BAD_KEY);
	ck_assert_int_eq(parse("A=1\nB=2"), ISCSI_TEXT_ERR_UNTERMINATED);
	/* A NUL inside a key splits it: the first half has no '='. */
	n = wire("Ke\ny=1\n", tbuf, sizeof(tbuf));
	ck_assert_int_eq(iscsi_text_parse(tbuf, n, &kvl, &off), ISCSI_TEXT_ERR_NO_EQUALS);
	ck_assert_uint_eq(off, 0);
	/* Key length: 63 is fine, 64 is not. */
	memset(key64, 'K', 63);
	strcpy(key64 + 63, "=v\n");
	ck_assert_int_eq(parse(key64), ISCSI_TEXT_OK);
	memset(key64, 'K', 64);
	strcpy(key64 + 64, "=v\n");
	ck_assert_int_eq(parse(key64), ISCSI_TEXT_ERR_KEY_TOO_LONG);
	/* Value length: 255 normally, 8192 for CHAP_C/CHAP_R. */
	strcpy(val, "Key=");
	memset(val + 4, 'v', 255);
	strcpy(val + 4 + 255, "\n");
	ck_assert_int_eq(parse(val), ISCSI_TEXT_OK);
	memset(val + 4, 'v', 256);
	strcpy(val + 4 + 256, "\n");
	ck_assert_int_eq(parse(val), ISCSI_TEXT_ERR_VALUE_TOO_LONG);
	strcpy(val, "CHAP_C=0x");
	memset(val + 9, 'a', 2048);
	strcpy(val + 9 + 2048, "\n");
	ck_assert_int_eq(parse(val), ISCSI_TEXT_OK);
	memset(val + 9, 'a', 8191);          /* 8193 bytes with the prefix */
	strcpy(val + 9 + 8191, "\n");
	ck_assert_int_eq(parse(val), ISCSI_TEXT_ERR_VALUE_TOO_LONG);
	/* Too many pairs. */
	n = 0;
	for (int i = 0; i <= ISCSI_TEXT_MAX_KEYS; i++)
		n += (size_t)sprintf(tbuf + n, "K%d=1", i) + 1;
	ck_assert_int_eq(iscsi_text_parse(tbuf, n, &kvl, NULL), ISCSI_TEXT_ERR_TOO_MANY_KEYS);
	ck_assert_str_eq(iscsi_text_err_name(ISCSI_TEXT_ERR_KEY_TOO_LONG), "key longer than 63 bytes");
	ck_assert_str_eq(iscsi_text_err_name(1000), "unknown error");
}
END_TEST

START_TEST(test_text_accum)
{
	struct iscsi_text_accum a;
	static const char part1[] = "InitiatorName=iqn.1994-05.com.re";
	static const char part2[] = "dhat:abc\0TargetN";
	static const char part3[] = "ame=iqn.t\0";

	iscsi_text_accum_init(&a, 0);
	ck_assert_uint_eq(a.cap, ISCSI_TEXT_TOTAL_MAX);
	/* A pair split across three PDUs (C bit). */
	ck_assert_int_eq(iscsi_text_accum_add(&a, part1, sizeof(part1) - 1), 0);
	ck_assert_int_eq(iscsi_text_accum_add(&a, part2, sizeof(part2) - 1), 0);
	ck_assert_int_eq(iscsi_text_accum_add(&a, part3, sizeof(part3) - 1), 0);
	ck_assert_int_eq(iscsi_text_parse(a.buf, a.len, &kvl, NULL), 0);
	ck_assert_uint_eq(kvl.n, 2);
	ck_assert_str_eq(kvl.kv[0].value, "iqn.1994-05.com.redhat:abc");
	ck_assert_str_eq(kvl.kv[1].value, "iqn.t");
	iscsi_text_accum_reset(&a);
	ck_assert_uint_eq(a.len, 0);
	iscsi_text_accum_free(&a);

	/* The cap holds: what does not fit is refused and nothing is added. */
	iscsi_text_accum_init(&a, 100);
	memset(tbuf, 'x', 200);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 60), 0);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 50), ISCSI_TEXT_ERR_TOO_BIG);
	ck_assert_uint_eq(a.len, 60);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 40), 0);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 1), ISCSI_TEXT_ERR_TOO_BIG);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 0), 0);
	iscsi_text_accum_free(&a);

	/* The default 64 KiB cap against a flood of 8 KiB PDUs. */
	iscsi_text_accum_init(&a, 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 8192), 0);
	ck_assert_int_eq(iscsi_text_accum_add(&a, tbuf, 1), ISCSI_TEXT_ERR_TOO_BIG);
	iscsi_text_accum_free(&a);
}
END_TEST

START_TEST(test_text_numbers)
{
	static const struct { const char *s; int rc; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "123", 0, 123 }, { "007", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 }, { "", -1, 0 }, { "-1", -1, 0 },
		{ "+1", -1, 0 }, { " 1", -1, 0 }, { "1 ", -1, 0 }, { "12a", -1, 0 },
		{ "0x10", 0, 16 }, { "0X1f", 0, 31 }, { "0x", -1, 0 }, { "0xg1", -1, 0 },
		{ "0xffffffffffffffff", 0, UINT64_MAX }, { "0x10000000000000000", -1, 0 },
		{ "0x00000000000000000001", 0, 1 },
		{ "0bAAE=", 0, 1 }, { "0BAQ==", 0, 1 }, { "0b////", 0, 0xffffff },
		{ "0bA", -1, 0 }, { "0bAQ=", -1, 0 }, { "0b!!!!", -1, 0 }, { "0b", -1, 0 },
		{ "0bAR==", -1, 0 },    /* non-zero trailing bits */
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 12345;
		ck_assert_msg(iscsi_text_parse_u64(cases[i].s, &v) == cases[i].rc, "%s", cases[i].s);
		if (!cases[i].rc)
			ck_assert_msg(v == cases[i].v, "%s -> %llu", cases[i].s,
				      (unsigned long long)v);
	}
}
END_TEST

START_TEST(test_text_binary_bool_list)
{
	uint8_t b[8];
	size_t len;
	bool yes;
	const char *cur, *item;
	size_t ilen;
	char hex[20];

	ck_assert_int_eq(iscsi_text_parse_binary("0x0102", b, sizeof(b), &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_uint_eq(b[1], 2);
	ck_assert_int_eq(iscsi_text_parse_binary("0x102", b, sizeof(b), &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(b[0], 1);
	ck_assert_int_eq(iscsi_text_parse_binary("0bAQID", b, sizeof(b), &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(b[2], 3);
	ck_assert_int_eq(iscsi_text_parse_binary("0x010203040506070809", b, sizeof(b), &len), -1);
	ck_assert_int_eq(iscsi_text_parse_binary("0bAAAAAAAAAAAA", b, sizeof(b), &len), -1);
	ck_assert_int_eq(iscsi_text_parse_binary("123", b, sizeof(b), &len), -1);
	ck_assert_int_eq(iscsi_text_parse_binary("", b, sizeof(b), &len), -1);

	ck_assert_int_eq(iscsi_text_parse_bool("Yes", &yes), 0);
	ck_assert(yes);
	ck_assert_int_eq(iscsi_text_parse_bool("No", &yes), 0);
	ck_assert(!yes);
	ck_assert_int_eq(iscsi_text_parse_bool("yes", &yes), -1);
	ck_assert_int_eq(iscsi_text_parse_bool("", &yes), -1);

	cur = "CRC32C,,None";
	ck_assert(iscsi_text_list_next(&cur, &item, &ilen));
	ck_assert_uint_eq(ilen, 6);
	ck_assert(!strncmp(item, "CRC32C", ilen));
	ck_assert(iscsi_text_list_next(&cur, &item, &ilen));
	ck_assert_uint_eq(ilen, 0);
	ck_assert(iscsi_text_list_next(&cur, &item, &ilen));
	ck_assert(!strncmp(item, "None", ilen));
	ck_assert(!iscsi_text_list_next(&cur, &item, &ilen));

	ck_assert(iscsi_text_is_answer_constant("Reject"));
	ck_assert(iscsi_text_is_answer_constant("Irrelevant"));
	ck_assert(iscsi_text_is_answer_constant("NotUnderstood"));
	ck_assert(!iscsi_text_is_answer_constant("None"));

	iscsi_text_hex(hex, (const uint8_t *)"\x00\xab\x10", 3);
	ck_assert_str_eq(hex, "0x00ab10");
}
END_TEST

START_TEST(test_text_builder)
{
	struct iscsi_text_buf b;
	char big[300];

	iscsi_text_buf_init(&b, 0);
	ck_assert_int_eq(iscsi_text_add(&b, "A", "1"), 0);
	ck_assert_int_eq(iscsi_text_add_u64(&b, "Num", 262144), 0);
	ck_assert_int_eq(iscsi_text_addf(&b, "F", "%s-%d", "x", 7), 0);
	ck_assert_uint_eq(b.len, 4 + 11 + 6);
	ck_assert_mem_eq(b.data, "A=1\0Num=262144\0F=x-7\0", b.len);
	ck_assert(!b.failed);
	/* Bad key, value too long: refused and flagged. */
	ck_assert_int_eq(iscsi_text_add(&b, "", "1"), -1);
	memset(big, 'v', 256);
	big[256] = '\0';
	ck_assert_int_eq(iscsi_text_add(&b, "Big", big), -1);
	ck_assert_int_eq(iscsi_text_addf(&b, "Big", "%s", big), -1);
	ck_assert(b.failed);
	ck_assert_uint_eq(b.len, 21);
	iscsi_text_buf_reset(&b);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.len, 0);
	iscsi_text_buf_free(&b);

	/* The cap. */
	iscsi_text_buf_init(&b, 10);
	ck_assert_int_eq(iscsi_text_add(&b, "AB", "12345"), 0);     /* 9 bytes */
	ck_assert_int_eq(iscsi_text_add(&b, "C", ""), -1);
	ck_assert(b.failed);
	iscsi_text_buf_free(&b);
}
END_TEST

/* ==== Negotiation ==== */

static struct iscsi_target_prefs prefs;
static struct iscsi_neg neg;
static struct iscsi_text_buf rsp;
static struct iscsi_kv_list rsp_kv;
static char rsp_copy[ISCSI_TEXT_TOTAL_MAX];

static void neg_setup(void)
{
	iscsi_target_prefs_default(&prefs);
	iscsi_neg_init(&neg, &prefs, true);
	iscsi_text_buf_init(&rsp, 0);
}

static void neg_teardown(void)
{
	iscsi_text_buf_free(&rsp);
}

/* Run one request; the response is parsed into rsp_kv. */
static int run(enum iscsi_neg_stage stage, bool transit, const char *text)
{
	static struct iscsi_kv_list req;
	static char buf[ISCSI_TEXT_TOTAL_MAX];
	size_t n = wire(text, buf, sizeof(buf));
	int rc;

	ck_assert_int_eq(iscsi_text_parse(buf, n, &req, NULL), ISCSI_TEXT_OK);
	iscsi_text_buf_reset(&rsp);
	rc = iscsi_neg_process(&neg, stage, transit, &req, &rsp);
	memcpy(rsp_copy, rsp.data ? rsp.data : "", rsp.len);
	ck_assert_int_eq(iscsi_text_parse(rsp_copy, rsp.len, &rsp_kv, NULL), ISCSI_TEXT_OK);
	return rc;
}

#define SEC ISCSI_NEG_SECURITY
#define OPR ISCSI_NEG_OPERATIONAL
#define FFP ISCSI_NEG_FULL_FEATURE

static void expect(const char *key, const char *value)
{
	const struct iscsi_kv *kv = iscsi_kv_find(&rsp_kv, key);

	ck_assert_msg(kv != NULL, "no answer for %s", key);
	ck_assert_msg(!strcmp(kv->value, value), "%s=%s, want %s", key, kv->value, value);
	/* Exactly once. */
	for (unsigned i = 0; i < rsp_kv.n; i++)
		if (&rsp_kv.kv[i] != kv)
			ck_assert_msg(strcmp(rsp_kv.kv[i].key, key), "%s answered twice", key);
}

static void absent(const char *key)
{
	ck_assert_msg(!iscsi_kv_find(&rsp_kv, key), "unexpected %s", key);
}

static void expect_fail(uint16_t status, const char *key)
{
	ck_assert_uint_eq(neg.status, status);
	ck_assert_ptr_nonnull(neg.reason);
	if (key)
		ck_assert_str_eq(neg.error_key, key);
}

#define INAME "InitiatorName=iqn.2004-10.com.ubuntu:01:deadbeef\n"
#define TNAME "TargetName=iqn.2024-01.io.nvbridge:disk1\n"
#define NORMAL INAME TNAME "SessionType=Normal\n"
#define LOGIN_SEC(extra) NORMAL extra

/* What open-iscsi sends in the operational stage (iscsid defaults). */
static const char open_iscsi_op[] =
	"HeaderDigest=None\nDataDigest=None\nDefaultTime2Wait=2\nDefaultTime2Retain=0\n"
	"IFMarker=No\nOFMarker=No\nErrorRecoveryLevel=0\nInitialR2T=No\nImmediateData=Yes\n"
	"MaxBurstLength=16776192\nFirstBurstLength=262144\nMaxOutstandingR2T=1\n"
	"MaxConnections=1\nDataPDUInOrder=Yes\nDataSequenceInOrder=Yes\n"
	"MaxRecvDataSegmentLength=262144\n";

START_TEST(test_neg_open_iscsi)
{
	const struct iscsi_session_params *p;

	ck_assert_int_eq(run(SEC, true, INAME "InitiatorAlias=host1\n" TNAME
			     "SessionType=Normal\nAuthMethod=None\n"), 0);
	expect("AuthMethod", "None");
	expect("TargetPortalGroupTag", "1");
	absent("MaxRecvDataSegmentLength");     /* not in the security stage */
	ck_assert_uint_eq(rsp_kv.n, 2);
	ck_assert(iscsi_neg_complete(&neg));
	ck_assert(!iscsi_neg_needs_operational(&neg));

	ck_assert_int_eq(run(OPR, true, open_iscsi_op), 0);
	expect("HeaderDigest", "None");
	expect("DataDigest", "None");
	expect("DefaultTime2Wait", "2");
	expect("DefaultTime2Retain", "0");
	expect("IFMarker", "No");
	expect("OFMarker", "No");
	expect("ErrorRecoveryLevel", "0");
	expect("InitialR2T", "No");
	expect("ImmediateData", "Yes");
	expect("MaxBurstLength", "1048576");
	expect("FirstBurstLength", "65536");
	expect("MaxOutstandingR2T", "1");
	expect("MaxConnections", "1");
	expect("DataPDUInOrder", "Yes");
	expect("DataSequenceInOrder", "Yes");
	expect("MaxRecvDataSegmentLength", "262144");   /* our declaration */
	absent("TargetPortalGroupTag");                 /* first response only */
	ck_assert_uint_eq(rsp_kv.n, 16);
	ck_assert(iscsi_neg_complete(&neg));

	p = iscsi_neg_finish(&neg);
	ck_assert_str_eq(p->initiator_name, "iqn.2004-10.com.ubuntu:01:deadbeef");
	ck_assert_str_eq(p->target_name, "iqn.2024-01.io.nvbridge:disk1");
	ck_assert_str_eq(p->initiator_alias, "host1");
	ck_assert_uint_eq(p->session_type, ISCSI_STYPE_NORMAL);
	ck_assert_uint_eq(p->auth_method, ISCSI_AUTH_NONE);
	ck_assert_uint_eq(p->header_digest, ISCSI_DIGEST_NONE);
	ck_assert(!p->initial_r2t);
	ck_assert(p->immediate_data);
	ck_assert_uint_eq(p->max_xmit_dsl, 262144);
	ck_assert_uint_eq(p->max_recv_dsl, 262144);
	ck_assert_uint_eq(p->max_burst_length, 1048576);
	ck_assert_uint_eq(p->first_burst_length, 65536);
	ck_assert_uint_eq(p->default_time2retain, 0);
	ck_assert_uint_eq(p->error_recovery_level, 0);
	ck_assert_uint_eq(p->max_outstanding_r2t, 1);
}
END_TEST

START_TEST(test_neg_libiscsi_chap)
{
	/* libiscsi with CHAP: names in the first security PDU, CHAP_A next,
	 * then the names again with every operational key. */
	ck_assert_int_eq(run(SEC, true, "InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test\n"
			     TNAME "SessionType=Normal\nAuthMethod=CHAP,None\n"), 0);
	expect("AuthMethod", "CHAP");
	ck_assert_int_eq(run(SEC, false, "CHAP_A=5\n"), 0);
	ck_assert_uint_eq(rsp_kv.n, 0);         /* iscsi/chap.c answers */
	ck_assert_int_eq(run(SEC, true, "CHAP_N=user\nCHAP_R=0x00\n"), 0);
	ck_assert_int_eq(run(OPR, true, "InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test\n"
			     TNAME "SessionType=Normal\nHeaderDigest=None,CRC32C\nDataDigest=None\n"
			     "InitialR2T=Yes\nImmediateData=Yes\nMaxBurstLength=262144\n"
			     "FirstBurstLength=262144\nDefaultTime2Wait=2\nDefaultTime2Retain=0\n"
			     "MaxOutstandingR2T=1\nErrorRecoveryLevel=0\nIFMarker=No\nOFMarker=No\n"
			     "MaxConnections=1\nMaxRecvDataSegmentLength=262144\nDataPDUInOrder=Yes\n"
			     "DataSequenceInOrder=Yes\n"), 0);
	expect("HeaderDigest", "None");
	expect("InitialR2T", "Yes");
	expect("MaxBurstLength", "262144");
	expect("FirstBurstLength", "65536");
	absent("InitiatorName");
	absent("SessionType");
	ck_assert_uint_eq(neg.params.auth_method, ISCSI_AUTH_CHAP);
	ck_assert(iscsi_neg_complete(&neg));
}
END_TEST

START_TEST(test_neg_list)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "HeaderDigest=CRC32C,None\nDataDigest=foo,CRC32C\n"
			     "TaskReporting=ResponseFence,RFC3720\n"), 0);
	expect("HeaderDigest", "CRC32C");
	expect("DataDigest", "CRC32C");         /* values we do not know are skipped */
	expect("TaskReporting", "RFC3720");
	ck_assert_uint_eq(neg.params.header_digest, ISCSI_DIGEST_CRC32C);
	ck_assert_uint_eq(neg.params.data_digest, ISCSI_DIGEST_CRC32C);

	/* Nothing acceptable but the current value is: Reject. */
	prefs.header_digests = ISCSI_MASK(ISCSI_DIGEST_NONE);
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "HeaderDigest=CRC32C\nTaskReporting=FastAbort\n"), 0);
	expect("HeaderDigest", "Reject");
	expect("TaskReporting", "Reject");
	ck_assert_uint_eq(neg.params.header_digest, ISCSI_DIGEST_NONE);
	/* Nothing acceptable and the default is not: the login fails. */
	prefs.header_digests = ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "HeaderDigest=None\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "HeaderDigest");
}
END_TEST

START_TEST(test_neg_auth_method)
{
	ck_assert(iscsi_neg_auth_acceptable(&neg));     /* default None, allowed */
	prefs.auth_methods = ISCSI_MASK(ISCSI_AUTH_CHAP);
	/* No AuthMethod at all leaves None, which this target refuses. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL), 0);
	ck_assert(!iscsi_neg_auth_acceptable(&neg));
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "AuthMethod=None\n"), -1);
	expect_fail(ISCSI_LOGIN_AUTH_FAILED, "AuthMethod");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "AuthMethod=SRP,KRB5,CHAP,None\n"), 0);
	expect("AuthMethod", "CHAP");
	ck_assert(iscsi_neg_auth_acceptable(&neg));
	/* Renegotiation is an error. */
	ck_assert_int_eq(run(SEC, true, "AuthMethod=CHAP\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "AuthMethod");
}
END_TEST

START_TEST(test_neg_bool_and_or)
{
	prefs.immediate_data = false;
	prefs.initial_r2t = true;
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "ImmediateData=Yes\nInitialR2T=No\n"
			     "DataPDUInOrder=No\nRDMAExtensions=Yes\nOFMarker=Yes\n"), 0);
	expect("ImmediateData", "No");          /* AND */
	expect("InitialR2T", "Yes");            /* OR */
	expect("DataPDUInOrder", "Yes");        /* OR with our Yes */
	expect("RDMAExtensions", "No");
	expect("OFMarker", "No");
	ck_assert(!neg.params.immediate_data);
	ck_assert(neg.params.initial_r2t);
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "ImmediateData=maybe\nInitialR2T=\n"), 0);
	expect("ImmediateData", "Reject");
	expect("InitialR2T", "Reject");
	ck_assert(neg.params.immediate_data);   /* stays at the default */
}
END_TEST

START_TEST(test_neg_numeric)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxBurstLength=2048\nDefaultTime2Wait=1\n"
			     "DefaultTime2Retain=3600\nMaxOutstandingR2T=64\nErrorRecoveryLevel=2\n"
			     "MaxConnections=4\niSCSIProtocolLevel=2\nFirstBurstLength=0x1000\n"), 0);
	expect("MaxBurstLength", "2048");       /* Minimum */
	expect("DefaultTime2Wait", "2");        /* Maximum with our 2 */
	expect("DefaultTime2Retain", "20");     /* Minimum with our 20 */
	expect("MaxOutstandingR2T", "16");
	expect("ErrorRecoveryLevel", "0");      /* we only do ERL 0 */
	expect("MaxConnections", "1");
	expect("iSCSIProtocolLevel", "1");
	expect("FirstBurstLength", "2048");     /* clamped to MaxBurstLength */
	ck_assert_uint_eq(neg.params.first_burst_length, 2048);
	ck_assert_uint_eq(neg.params.error_recovery_level, 0);

	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxBurstLength=100\nFirstBurstLength=16777216\n"
			     "ErrorRecoveryLevel=3\nDefaultTime2Wait=3601\nMaxOutstandingR2T=0\n"
			     "MaxConnections=abc\nDefaultTime2Retain=-1\nIFMarkInt=2048~8192\n"
			     "OFMarkInt=2048\n"), 0);
	expect("MaxBurstLength", "Reject");
	expect("FirstBurstLength", "Reject");
	expect("ErrorRecoveryLevel", "Reject");
	expect("DefaultTime2Wait", "Reject");
	expect("MaxOutstandingR2T", "Reject");
	expect("MaxConnections", "Reject");
	expect("DefaultTime2Retain", "Reject");
	expect("IFMarkInt", "Reject");
	expect("OFMarkInt", "Reject");
	ck_assert_uint_eq(neg.params.max_burst_length, 262144);
}
END_TEST

START_TEST(test_neg_first_burst_irrelevant)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "FirstBurstLength=65536\nInitialR2T=Yes\n"
			     "ImmediateData=No\n"), 0);
	expect("FirstBurstLength", "Irrelevant");
	expect("InitialR2T", "Yes");
	expect("ImmediateData", "No");
}
END_TEST

START_TEST(test_neg_finish_clamps)
{
	neg.params.max_burst_length = 4096;
	neg.params.first_burst_length = 65536;
	ck_assert_uint_eq(iscsi_neg_finish(&neg)->first_burst_length, 4096);
}
END_TEST

START_TEST(test_neg_declarative)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxRecvDataSegmentLength=0x1000000\n"), 0);
	absent("InitiatorName");
	ck_assert_uint_eq(neg.params.max_xmit_dsl, ISCSI_MAX_DSL);      /* clamped */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxRecvDataSegmentLength=511\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "MaxRecvDataSegmentLength");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxRecvDataSegmentLength=lots\n"), -1);
	/* Declared again with the same value (libiscsi): fine; different: not. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "InitiatorAlias=a\nAuthMethod=None\n"), 0);
	ck_assert_int_eq(run(OPR, true, NORMAL "InitiatorAlias=a\n"), 0);
	ck_assert_int_eq(run(OPR, true, "InitiatorName=iqn.other\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "InitiatorName");
	/* Names are bounded. */
	iscsi_neg_init(&neg, &prefs, true);
	{
		char text[400] = "InitiatorName=iqn.";
		memset(text + 18, 'a', 230);
		strcpy(text + 248, "\n" TNAME);
		ck_assert_int_eq(run(SEC, true, text), -1);
		expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "InitiatorName");
	}
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, "InitiatorName=\n" TNAME), -1);
}
END_TEST

START_TEST(test_neg_not_understood)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "X-com.example.Foo=bar\nX#org.example.Key=1\n"
			     "UnknownKey=1\nX-com.example.Foo=bar\n"), 0);
	expect("X-com.example.Foo", "NotUnderstood");   /* once, though sent twice */
	expect("X#org.example.Key", "NotUnderstood");
	expect("UnknownKey", "NotUnderstood");
}
END_TEST

START_TEST(test_neg_duplicates_and_constants)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxBurstLength=1024\nMaxBurstLength=2048\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "MaxBurstLength");
	/* The same negotiable key in a later request. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, false, NORMAL "MaxBurstLength=1024\n"), 0);
	ck_assert_int_eq(run(OPR, true, "MaxBurstLength=1024\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "MaxBurstLength");
	/* Answer constants are never offers. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxBurstLength=Reject\n"), -1);
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "HeaderDigest=Irrelevant\n"), -1);
	/* A repeated identical declaration in one request is harmless, a
	 * conflicting one is not. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL INAME), 0);
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "InitiatorName=iqn.other\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "InitiatorName");
}
END_TEST

START_TEST(test_neg_stage_rules)
{
	ck_assert_int_eq(run(SEC, true, NORMAL "MaxBurstLength=1024\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "MaxBurstLength");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "AuthMethod=None\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "AuthMethod");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "CHAP_A=5\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "CHAP_A");
	/* CHAP keys need AuthMethod=CHAP first. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, false, NORMAL "AuthMethod=None\nCHAP_A=5\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "CHAP_A");
	/* Keys only a target sends. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "TargetPortalGroupTag=1\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "TargetPortalGroupTag");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "TargetAlias=me\n"), -1);
	/* SendTargets belongs to the full feature phase. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, true, NORMAL "SendTargets=All\n"), 0);
	expect("SendTargets", "Irrelevant");
	ck_assert(!neg.send_targets);
}
END_TEST

START_TEST(test_neg_required_keys)
{
	ck_assert_int_eq(run(SEC, true, TNAME "AuthMethod=None\n"), -1);
	expect_fail(ISCSI_LOGIN_MISSING_PARAMETER, "InitiatorName");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, INAME "AuthMethod=None\n"), -1);
	expect_fail(ISCSI_LOGIN_MISSING_PARAMETER, "TargetName");
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, INAME "SessionType=Bogus\n"), -1);
	expect_fail(ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED, "SessionType");
	/* The session type cannot change after the first request. */
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, INAME TNAME "AuthMethod=None\n"), 0);
	ck_assert_int_eq(run(OPR, true, "SessionType=Discovery\n"), -1);
	expect_fail(ISCSI_LOGIN_INITIATOR_ERROR, "SessionType");
}
END_TEST

START_TEST(test_neg_discovery)
{
	ck_assert_int_eq(run(OPR, true, INAME "SessionType=Discovery\nHeaderDigest=None\n"
			     "InitialR2T=No\nImmediateData=Yes\nMaxBurstLength=16776192\n"
			     "FirstBurstLength=262144\nMaxOutstandingR2T=1\nDataPDUInOrder=Yes\n"
			     "DataSequenceInOrder=Yes\nMaxConnections=1\nErrorRecoveryLevel=0\n"
			     "DefaultTime2Wait=2\nMaxRecvDataSegmentLength=32768\n"), 0);
	expect("HeaderDigest", "None");
	expect("InitialR2T", "Irrelevant");
	expect("ImmediateData", "Irrelevant");
	expect("MaxBurstLength", "Irrelevant");
	expect("FirstBurstLength", "Irrelevant");
	expect("MaxOutstandingR2T", "Irrelevant");
	expect("DataPDUInOrder", "Irrelevant");
	expect("DataSequenceInOrder", "Irrelevant");
	expect("MaxConnections", "Irrelevant");
	expect("ErrorRecoveryLevel", "0");
	expect("DefaultTime2Wait", "2");
	expect("MaxRecvDataSegmentLength", "262144");
	absent("TargetPortalGroupTag");         /* Normal sessions only */
	ck_assert_uint_eq(neg.params.session_type, ISCSI_STYPE_DISCOVERY);
	ck_assert_uint_eq(neg.params.max_xmit_dsl, 32768);
}
END_TEST

START_TEST(test_neg_non_leading)
{
	iscsi_neg_init(&neg, &prefs, false);
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxBurstLength=4096\nHeaderDigest=CRC32C\n"
			     "ErrorRecoveryLevel=0\n"), 0);
	expect("MaxBurstLength", "Irrelevant");
	expect("ErrorRecoveryLevel", "Irrelevant");
	expect("HeaderDigest", "CRC32C");       /* connection-only key */
}
END_TEST

START_TEST(test_neg_declarations)
{
	prefs.tpgt = 7;
	prefs.target_alias = "bridge disk";
	prefs.max_recv_dsl = 131072;
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(OPR, false, NORMAL), 0);
	expect("TargetPortalGroupTag", "7");
	expect("TargetAlias", "bridge disk");
	expect("MaxRecvDataSegmentLength", "131072");
	ck_assert_uint_eq(neg.params.max_recv_dsl, 131072);
	ck_assert_int_eq(run(OPR, true, "MaxBurstLength=4096\n"), 0);
	absent("TargetPortalGroupTag");
	absent("MaxRecvDataSegmentLength");
	expect("MaxBurstLength", "4096");
}
END_TEST

START_TEST(test_neg_target_offers)
{
	prefs.header_digests = ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	prefs.immediate_data = false;
	prefs.max_burst_length = 65536;
	prefs.first_burst_length = 32768;
	iscsi_neg_init(&neg, &prefs, true);
	ck_assert_int_eq(run(SEC, true, NORMAL "AuthMethod=None\n"), 0);
	/* Going straight to FFP would leave unacceptable defaults. */
	ck_assert(iscsi_neg_needs_operational(&neg));
	/* No offers before the initiator wants to leave the stage. */
	ck_assert_int_eq(run(OPR, false, "DataDigest=None\n"), 0);
	absent("HeaderDigest");
	ck_assert(iscsi_neg_complete(&neg));
	ck_assert_int_eq(run(OPR, true, "InitialR2T=No\n"), 0);
	expect("HeaderDigest", "CRC32C");
	expect("ImmediateData", "No");
	expect("MaxBurstLength", "65536");
	expect("FirstBurstLength", "32768");
	absent("DataDigest");                   /* already negotiated */
	absent("MaxOutstandingR2T");            /* default is fine */
	ck_assert(!iscsi_neg_complete(&neg));
	ck_assert_int_eq(run(OPR, true, "HeaderDigest=CRC32C\nImmediateData=No\n"
			     "MaxBurstLength=16384\nFirstBurstLength=8192\n"), 0);
	ck_assert_uint_eq(rsp_kv.n, 0);         /* answers are not answered */
	ck_assert(iscsi_neg_complete(&neg));
	ck_assert_uint_eq(neg.params.header_digest, ISCSI_DIGEST_CRC32C);
	ck_assert(!neg.params.immediate_data);
	ck_assert_uint_eq(neg.params.max_burst_length, 16384);
	ck_assert_uint_eq(neg.params.first_burst_length, 8192);
}
END_TEST

START_TEST(test_neg_target_offer_bad_answers)
{
	static const char *const bad[] = {
		"HeaderDigest=None\n",          /* not one of ours */
		"HeaderDigest=Reject\n",        /* default None is unacceptable */
		"ImmediateData=Yes\n",          /* AND with our No must be No */
		"MaxBurstLength=100000\n",      /* Minimum: not above our offer */
		"MaxBurstLength=junk\n",
	};

	prefs.header_digests = ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	prefs.immediate_data = false;
	prefs.max_burst_length = 65536;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iscsi_neg_init(&neg, &prefs, true);
		ck_assert_int_eq(run(OPR, true, NORMAL), 0);
		ck_assert(!iscsi_neg_complete(&neg));
		ck_assert_msg(run(OPR, true, bad[i]) == -1, "%s", bad[i]);
		ck_assert_uint_eq(neg.status, ISCSI_LOGIN_INITIATOR_ERROR);
	}
}
END_TEST

START_TEST(test_neg_full_feature)
{
	ck_assert_int_eq(run(OPR, true, NORMAL "MaxRecvDataSegmentLength=65536\n"), 0);
	iscsi_neg_start_text(&neg);
	ck_assert_int_eq(run(FFP, true, "SendTargets=All\nMaxRecvDataSegmentLength=8192\n"
			     "HeaderDigest=CRC32C\nX-foo=1\nTargetAlias=x\nInitiatorAlias=new\n"), 0);
	ck_assert(neg.send_targets);
	ck_assert_str_eq(neg.send_targets_value, "All");
	ck_assert_uint_eq(neg.params.max_xmit_dsl, 8192);
	ck_assert_str_eq(neg.params.initiator_alias, "new");
	expect("HeaderDigest", "Reject");       /* login only */
	expect("TargetAlias", "Reject");        /* target only */
	expect("X-foo", "NotUnderstood");
	absent("SendTargets");                  /* the discovery layer answers */
	absent("TargetPortalGroupTag");
	absent("MaxRecvDataSegmentLength");
	/* A new exchange may declare again. */
	iscsi_neg_start_text(&neg);
	ck_assert(!neg.send_targets);
	ck_assert_int_eq(run(FFP, true, "MaxRecvDataSegmentLength=16384\nSendTargets=\n"), 0);
	ck_assert_uint_eq(neg.params.max_xmit_dsl, 16384);
	ck_assert(neg.send_targets);
	ck_assert_str_eq(neg.send_targets_value, "");
}
END_TEST

START_TEST(test_neg_response_overflow)
{
	iscsi_text_buf_free(&rsp);
	iscsi_text_buf_init(&rsp, 40);
	{
		static struct iscsi_kv_list req;
		static char buf[4096];
		size_t n = wire(NORMAL "HeaderDigest=None\nDataDigest=None\nMaxBurstLength=4096\n",
				buf, sizeof(buf));
		ck_assert_int_eq(iscsi_text_parse(buf, n, &req, NULL), 0);
		ck_assert_int_eq(iscsi_neg_process(&neg, OPR, true, &req, &rsp), -1);
		expect_fail(ISCSI_LOGIN_OUT_OF_RESOURCES, NULL);
	}
}
END_TEST

START_TEST(test_prefs_check)
{
	char err[128];

	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), 0);
	prefs.first_burst_length = prefs.max_burst_length + 1;
	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "FirstBurstLength"));
	iscsi_target_prefs_default(&prefs);
	prefs.max_recv_dsl = 100;
	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MaxRecvDataSegmentLength"));
	iscsi_target_prefs_default(&prefs);
	prefs.error_recovery_level = 1;
	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), -1);
	iscsi_target_prefs_default(&prefs);
	prefs.header_digests = 0;
	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), -1);
	iscsi_target_prefs_default(&prefs);
	prefs.auth_methods = ISCSI_MASK(ISCSI_AUTH_SRP);
	ck_assert_int_eq(iscsi_target_prefs_check(&prefs, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_key_table)
{
	ck_assert_int_eq(iscsi_key_lookup("MaxBurstLength"), ISCSI_KEY_MAX_BURST);
	ck_assert_int_eq(iscsi_key_lookup("maxburstlength"), -1);      /* case sensitive */
	ck_assert_int_eq(iscsi_key_lookup("X-foo"), -1);
	for (int i = 0; i < ISCSI_KEY_COUNT; i++)
		ck_assert_int_eq(iscsi_key_lookup(iscsi_key_name((enum iscsi_key_id)i)), i);
	ck_assert_str_eq(iscsi_key_name(ISCSI_KEY_COUNT), "?");
	iscsi_session_params_default(&neg.params);
	ck_assert_uint_eq(neg.params.max_burst_length, 262144);
	ck_assert_uint_eq(neg.params.first_burst_length, 65536);
	ck_assert(neg.params.initial_r2t);
	ck_assert(neg.params.immediate_data);
	ck_assert_uint_eq(neg.params.default_time2retain, 20);
	ck_assert_uint_eq(neg.params.max_recv_dsl, 8192);
	ck_assert_uint_eq(neg.params.max_xmit_dsl, 8192);
	ck_assert_uint_eq(neg.params.protocol_level, 1);
}
END_TEST

/* Random text from a fixed seed: whatever the parser accepts, the engine
 * must handle without crashing, leaking or answering a key twice. */
START_TEST(test_neg_random_text)
{
	static const char alphabet[] = "AaXZ_-.=,~\0\0\0019HeaderDigestCRC32CNoneYesMaxBurst";
	static const char *const keys[] = {
		"HeaderDigest", "MaxBurstLength", "AuthMethod", "CHAP_A", "InitiatorName",
		"TargetName", "SessionType", "SendTargets", "X-a", "ImmediateData",
	};
	static char buf[2048];
	static struct iscsi_kv_list req;
	unsigned int seed = 12345;

	for (int iter = 0; iter < 3000; iter++) {
		size_t n = 0;
		int pairs = rand_r(&seed) % 12;

		for (int p = 0; p < pairs && n < sizeof(buf) - 200; p++) {
			if (rand_r(&seed) % 3) {
				n += (size_t)snprintf(buf + n, 80, "%s=", keys[rand_r(&seed) % 10]);
			}
			for (int k = rand_r(&seed) % 20; k > 0; k--)
				buf[n++] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
			buf[n++] = '\0';
		}
		if (iscsi_text_parse(buf, n, &req, NULL) != ISCSI_TEXT_OK)
			continue;
		iscsi_neg_init(&neg, &prefs, rand_r(&seed) % 2);
		for (int r = 0; r < 3; r++) {
			enum iscsi_neg_stage st = (enum iscsi_neg_stage)(rand_r(&seed) % 3);
			iscsi_text_buf_reset(&rsp);
			if (iscsi_neg_process(&neg, st, rand_r(&seed) % 2, &req, &rsp)) {
				if (!neg.status || !neg.reason)
					ck_abort_msg("iteration %d: failure without status", iter);
				break;
			}
			memcpy(rsp_copy, rsp.data ? rsp.data : "", rsp.len);
			if (iscsi_text_parse(rsp_copy, rsp.len, &rsp_kv, NULL))
				ck_abort_msg("iteration %d: malformed response", iter);
			for (unsigned i = 0; i < rsp_kv.n; i++)
				for (unsigned j = i + 1; j < rsp_kv.n; j++)
					if (!strcmp(rsp_kv.kv[i].key, rsp_kv.kv[j].key))
						ck_abort_msg("iteration %d: %s answered twice", iter,
							     rsp_kv.kv[i].key);
		}
	}
}
END_TEST

static Suite *params_suite(void)
{
	Suite *s = suite_create("iscsi_params");
	TCase *text = tcase_create("text");
	TCase *n = tcase_create("negotiation");

	tcase_add_test(text, test_text_parse_basic);
	tcase_add_test(text, test_text_parse_errors);
	tcase_add_test(text, test_text_accum);
	tcase_add_test(text, test_text_numbers);
	tcase_add_test(text, test_text_binary_bool_list);
	tcase_add_test(text, test_text_builder);
	suite_add_tcase(s, text);

	tcase_add_checked_fixture(n, neg_setup, neg_teardown);
	tcase_add_test(n, test_neg_open_iscsi);
	tcase_add_test(n, test_neg_libiscsi_chap);
	tcase_add_test(n, test_neg_list);
	tcase_add_test(n, test_neg_auth_method);
	tcase_add_test(n, test_neg_bool_and_or);
	tcase_add_test(n, test_neg_numeric);
	tcase_add_test(n, test_neg_first_burst_irrelevant);
	tcase_add_test(n, test_neg_finish_clamps);
	tcase_add_test(n, test_neg_declarative);
	tcase_add_test(n, test_neg_not_understood);
	tcase_add_test(n, test_neg_duplicates_and_constants);
	tcase_add_test(n, test_neg_stage_rules);
	tcase_add_test(n, test_neg_required_keys);
	tcase_add_test(n, test_neg_discovery);
	tcase_add_test(n, test_neg_non_leading);
	tcase_add_test(n, test_neg_declarations);
	tcase_add_test(n, test_neg_target_offers);
	tcase_add_test(n, test_neg_target_offer_bad_answers);
	tcase_add_test(n, test_neg_full_feature);
	tcase_add_test(n, test_neg_response_overflow);
	tcase_add_test(n, test_prefs_check);
	tcase_add_test(n, test_key_table);
	tcase_add_test(n, test_neg_random_text);
	suite_add_tcase(s, n);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(params_suite());
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

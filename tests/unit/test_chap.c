/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for bridge/md5.c (RFC 1321 test suite, incremental updates)
 * and iscsi/chap.c (RFC 1994 response vector, full one-way and mutual
 * exchanges, wrong secret, wrong user, missing or malformed responses,
 * reflected challenges, mutual CHAP policy, secret checks).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/md5.h"
#include "iscsi/chap.h"
#include "iscsi/pdu.h"

static void hex_of(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- MD5 ---- */

START_TEST(test_md5_rfc1321)
{
	/* RFC 1321 Appendix A.5. */
	static const struct { const char *in, *out; } v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890123456789012345678901234567890"
		  "1234567890", "57edf4a22be3c955ac49da2e2107b67a" },
	};
	uint8_t d[NVB_MD5_LEN];
	char hex[33];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		nvb_md5(v[i].in, strlen(v[i].in), d);
		hex_of(d, sizeof(d), hex);
		ck_assert_str_eq(hex, v[i].out);
	}
}
END_TEST

START_TEST(test_md5_incremental)
{
	/* Any split of the input gives the one-shot digest (block and
	 * padding boundaries: 55, 56, 63, 64, 65 ...). */
	static const size_t lens[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000 };
	uint8_t msg[1000], one[NVB_MD5_LEN], inc[NVB_MD5_LEN];
	struct nvb_md5 c;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		nvb_md5(msg, lens[l], one);
		for (size_t step = 1; step <= 70; step += 23) {
			nvb_md5_init(&c);
			for (size_t off = 0; off < lens[l]; off += step)
				nvb_md5_update(&c, msg + off, lens[l] - off < step ? lens[l] - off : step);
			nvb_md5_final(&c, inc);
			if (memcmp(one, inc, NVB_MD5_LEN))
				ck_abort_msg("length %zu, step %zu differs", lens[l], step);
		}
	}
}
END_TEST

/* ---- CHAP response vector ---- */

START_TEST(test_chap_vector)
{
	/* Computed independently (coreutils md5sum) over
	 * 0x2a || "0123456789abcdef" || 0x10..0x1f. */
	uint8_t chal[16], r[NVB_MD5_LEN];
	char hex[33];

	for (int i = 0; i < 16; i++)
		chal[i] = (uint8_t)(0x10 + i);
	chap_md5_response(0x2a, "0123456789abcdef", 16, chal, sizeof(chal), r);
	hex_of(r, sizeof(r), hex);
	ck_assert_str_eq(hex, "19358c3be5776352bb060a9d30527893");
	/* 0x07 || "target-secret-0001" || de ad be ef */
	chap_md5_response(7, "target-secret-0001", 18, (const uint8_t *)"\xde\xad\xbe\xef", 4, r);
	hex_of(r, sizeof(r), hex);
	ck_assert_str_eq(hex, "6d67c999cd5863928cc2efa74f21a99f");
}
END_TEST

/* ---- Exchanges ---- */

static const struct chap_cred creds[] = {
	{ "iqn.2004-10.com.ubuntu:01:host1", "initiator-secret-01" },
	{ "alice", "alice-secret-0002" },
};
static const struct chap_cred target_cred = { "iqn.2024-01.io.nvbridge:disk1", "target-secret-0001" };
static struct chap_target_config cfg;
static struct chap_target chap;
static struct iscsi_text_buf rsp;
static struct iscsi_kv_list rsp_kv;
static char rsp_copy[8192];

static void chap_setup(void)
{
	cfg = (struct chap_target_config){ .creds = creds, .ncreds = 2, .mutual = &target_cred };
	chap_target_init(&chap, &cfg);
	iscsi_text_buf_init(&rsp, 0);
}

static void chap_teardown(void)
{
	chap_target_clear(&chap);
	iscsi_text_buf_free(&rsp);
}

static int step(const char *text)
{
	static struct iscsi_kv_list req;
	static char buf[8192];
	size_t n = strlen(text);
	int rc;

	for (size_t i = 0; i < n; i++)
		buf[i] = text[i] == '\n' ? '\0' : text[i];
	ck_assert_int_eq(iscsi_text_parse(buf, n, &req, NULL), 0);
	iscsi_text_buf_reset(&rsp);
	rc = chap_target_step(&chap, &req, &rsp);
	memcpy(rsp_copy, rsp.data ? rsp.data : "", rsp.len);
	ck_assert_int_eq(iscsi_text_parse(rsp_copy, rsp.len, &rsp_kv, NULL), 0);
	return rc;
}

static const char *rsp_value(const char *key)
{
	const struct iscsi_kv *kv = iscsi_kv_find(&rsp_kv, key);
	ck_assert_msg(kv != NULL, "no %s in the response", key);
	return kv->value;
}

/* Run CHAP_A and collect our CHAP_I / CHAP_C. */
static void challenge(uint8_t *id, uint8_t chal[CHAP_CHALLENGE_LEN])
{
	uint64_t i;
	size_t len;

	ck_assert_int_eq(step("CHAP_A=7,5\n"), CHAP_CONTINUE);
	ck_assert_str_eq(rsp_value("CHAP_A"), "5");
	ck_assert_int_eq(iscsi_text_parse_u64(rsp_value("CHAP_I"), &i), 0);
	ck_assert_uint_le(i, 255);
	/* Hex, as libiscsi only parses "0x" challenges. */
	ck_assert(!strncmp(rsp_value("CHAP_C"), "0x", 2));
	ck_assert_uint_eq(strlen(rsp_value("CHAP_C")), 2 + 2 * CHAP_CHALLENGE_LEN);
	ck_assert_int_eq(iscsi_text_parse_binary(rsp_value("CHAP_C"), chal, CHAP_CHALLENGE_LEN,
						 &len), 0);
	ck_assert_uint_eq(len, CHAP_CHALLENGE_LEN);
	*id = (uint8_t)i;
}

/* The initiator's answer: CHAP_N, CHAP_R (hex or base64), extra keys. */
static int respond(const char *user, const char *secret, uint8_t id, const uint8_t *chal,
		   bool base64, const char *extra)
{
	uint8_t r[NVB_MD5_LEN];
	char text[1024], rtext[64];

	chap_md5_response(id, secret, strlen(secret), chal, CHAP_CHALLENGE_LEN, r);
	if (base64) {
		/* 16 bytes in base64 by hand, uppercase hex elsewhere. */
		static const char al[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t o = 0;
		strcpy(rtext, "0b");
		o = 2;
		for (int i = 0; i < 16; i += 3) {
			uint32_t v = (uint32_t)r[i] << 16 | (i + 1 < 16 ? (uint32_t)r[i + 1] << 8 : 0) |
				     (i + 2 < 16 ? r[i + 2] : 0);
			rtext[o++] = al[v >> 18 & 63];
			rtext[o++] = al[v >> 12 & 63];
			rtext[o++] = i + 1 < 16 ? al[v >> 6 & 63] : '=';
			rtext[o++] = i + 2 < 16 ? al[v & 63] : '=';
		}
		rtext[o] = '\0';
	} else {
		strcpy(rtext, "0X");
		for (int i = 0; i < 16; i++)
			sprintf(rtext + 2 + 2 * i, "%02X", r[i]);
	}
	snprintf(text, sizeof(text), "CHAP_N=%s\nCHAP_R=%s\n%s", user, rtext, extra ? extra : "");
	return step(text);
}

START_TEST(test_chap_one_way)
{
	uint8_t id, chal[CHAP_CHALLENGE_LEN];

	challenge(&id, chal);
	ck_assert_int_eq(respond(creds[0].user, creds[0].secret, id, chal, false, NULL),
			 CHAP_SUCCESS);
	ck_assert_uint_eq(rsp_kv.n, 0);
	ck_assert_str_eq(chap.user, creds[0].user);
	ck_assert(!chap.mutual);
	/* Nothing more may come; an empty request is still a success. */
	ck_assert_int_eq(step(""), CHAP_SUCCESS);
	ck_assert_int_eq(step("CHAP_A=5\n"), CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_INITIATOR_ERROR);
}
END_TEST

START_TEST(test_chap_base64_second_user)
{
	uint8_t id, chal[CHAP_CHALLENGE_LEN];

	challenge(&id, chal);
	ck_assert_int_eq(respond("alice", "alice-secret-0002", id, chal, true, NULL), CHAP_SUCCESS);
	ck_assert_str_eq(chap.user, "alice");
}
END_TEST

START_TEST(test_chap_mutual)
{
	uint8_t id, chal[CHAP_CHALLENGE_LEN], want[NVB_MD5_LEN], got[NVB_MD5_LEN];
	size_t len;

	challenge(&id, chal);
	ck_assert_int_eq(respond(creds[0].user, creds[0].secret, id, chal, false,
				 "CHAP_I=7\nCHAP_C=0xdeadbeef\n"), CHAP_SUCCESS);
	ck_assert(chap.mutual);
	ck_assert_str_eq(rsp_value("CHAP_N"), target_cred.user);
	ck_assert_int_eq(iscsi_text_parse_binary(rsp_value("CHAP_R"), got, sizeof(got), &len), 0);
	ck_assert_uint_eq(len, NVB_MD5_LEN);
	chap_md5_response(7, target_cred.secret, strlen(target_cred.secret),
			  (const uint8_t *)"\xde\xad\xbe\xef", 4, want);
	ck_assert_mem_eq(got, want, NVB_MD5_LEN);
	/* The known vector for exactly this exchange. */
	ck_assert_str_eq(rsp_value("CHAP_R"), "0x6d67c999cd5863928cc2efa74f21a99f");
}
END_TEST

START_TEST(test_chap_failures)
{
	static const struct {
		const char *name;
		const char *user, *secret, *extra;
		uint16_t status;
	} cases[] = {
		{ "wrong secret", "alice", "alice-secret-0003", NULL, ISCSI_LOGIN_AUTH_FAILED },
		{ "wrong user", "mallory", "alice-secret-0002", NULL, ISCSI_LOGIN_AUTH_FAILED },
		{ "other user's secret", "alice", "initiator-secret-01", NULL,
		  ISCSI_LOGIN_AUTH_FAILED },
		{ "mutual without CHAP_C", "alice", "alice-secret-0002", "CHAP_I=1\n",
		  ISCSI_LOGIN_AUTH_FAILED },
		{ "mutual without CHAP_I", "alice", "alice-secret-0002", "CHAP_C=0x0102\n",
		  ISCSI_LOGIN_AUTH_FAILED },
		{ "mutual bad CHAP_I", "alice", "alice-secret-0002", "CHAP_I=256\nCHAP_C=0x01\n",
		  ISCSI_LOGIN_AUTH_FAILED },
		{ "mutual bad CHAP_C", "alice", "alice-secret-0002", "CHAP_I=1\nCHAP_C=xyz\n",
		  ISCSI_LOGIN_AUTH_FAILED },
		{ "CHAP_A again", "alice", "alice-secret-0002", "CHAP_A=5\n",
		  ISCSI_LOGIN_INITIATOR_ERROR },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t id, chal[CHAP_CHALLENGE_LEN];

		chap_target_init(&chap, &cfg);
		challenge(&id, chal);
		ck_assert_msg(respond(cases[i].user, cases[i].secret, id, chal, false,
				      cases[i].extra) == CHAP_FAILURE, "%s", cases[i].name);
		ck_assert_msg(chap.status == cases[i].status, "%s: status %#x", cases[i].name,
			      chap.status);
		ck_assert_ptr_nonnull(chap.reason);
		/* The reason never carries a secret. */
		ck_assert_ptr_null(strstr(chap.reason, cases[i].secret));
		ck_assert_ptr_null(strstr(chap.reason, "secret-0"));
		ck_assert_uint_eq(chap.user[0], 0);
		/* Once failed, always failed. */
		ck_assert_int_eq(step(""), CHAP_FAILURE);
	}
}
END_TEST

START_TEST(test_chap_missing_or_malformed_response)
{
	static const char *const bad[] = {
		"CHAP_N=alice\n",                               /* no CHAP_R */
		"CHAP_R=0x00112233445566778899aabbccddeeff\n",  /* no CHAP_N */
		"",                                             /* nothing */
		"CHAP_N=alice\nCHAP_R=0x00112233445566778899aabbccddee\n",     /* 15 bytes */
		"CHAP_N=alice\nCHAP_R=0x00112233445566778899aabbccddeeff00\n", /* 17 bytes */
		"CHAP_N=alice\nCHAP_R=zz\n",
		"CHAP_N=alice\nCHAP_R=\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t id, chal[CHAP_CHALLENGE_LEN];

		chap_target_init(&chap, &cfg);
		challenge(&id, chal);
		ck_assert_msg(step(bad[i]) == CHAP_FAILURE, "case %zu", i);
		ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
	}
}
END_TEST

START_TEST(test_chap_reflected_challenge)
{
	uint8_t id, chal[CHAP_CHALLENGE_LEN];
	char extra[128], hex[2 * CHAP_CHALLENGE_LEN + 3];

	challenge(&id, chal);
	iscsi_text_hex(hex, chal, sizeof(chal));
	snprintf(extra, sizeof(extra), "CHAP_I=%u\nCHAP_C=%s\n", id, hex);
	ck_assert_int_eq(respond("alice", "alice-secret-0002", id, chal, false, extra),
			 CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
	ck_assert_str_eq(chap.reason, "reflected CHAP challenge");
	ck_assert_ptr_null(iscsi_kv_find(&rsp_kv, "CHAP_R"));
}
END_TEST

START_TEST(test_chap_mutual_policy)
{
	uint8_t id, chal[CHAP_CHALLENGE_LEN];

	/* The initiator asks for mutual CHAP but we have no credential. */
	cfg.mutual = NULL;
	chap_target_init(&chap, &cfg);
	challenge(&id, chal);
	ck_assert_int_eq(respond("alice", "alice-secret-0002", id, chal, false,
				 "CHAP_I=3\nCHAP_C=0x0102030405\n"), CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
	ck_assert_str_eq(chap.reason, "mutual CHAP not configured");

	/* We require mutual CHAP and the initiator does not ask for it. */
	cfg.mutual = &target_cred;
	cfg.require_mutual = true;
	chap_target_init(&chap, &cfg);
	challenge(&id, chal);
	ck_assert_int_eq(respond("alice", "alice-secret-0002", id, chal, false, NULL),
			 CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
	ck_assert_str_eq(chap.reason, "initiator did not request mutual CHAP");
}
END_TEST

START_TEST(test_chap_same_secret_both_ways)
{
	/* §9.2.1: an initiator using the target's own secret is refused. */
	static const struct chap_cred shared[] = { { "bob", "target-secret-0001" } };
	uint8_t id, chal[CHAP_CHALLENGE_LEN];

	cfg.creds = shared;
	cfg.ncreds = 1;
	chap_target_init(&chap, &cfg);
	challenge(&id, chal);
	ck_assert_int_eq(respond("bob", "target-secret-0001", id, chal, false, NULL), CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
}
END_TEST

START_TEST(test_chap_algorithm)
{
	ck_assert_int_eq(step(""), CHAP_CONTINUE);              /* AuthMethod leg */
	ck_assert_uint_eq(rsp_kv.n, 0);
	ck_assert_int_eq(step("CHAP_A=6,7,0x81\n"), CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_AUTH_FAILED);
	chap_target_init(&chap, &cfg);
	ck_assert_int_eq(step("CHAP_A=,5x,5\n"), CHAP_CONTINUE);
	ck_assert_str_eq(rsp_value("CHAP_A"), "5");
	/* A response before any challenge. */
	chap_target_init(&chap, &cfg);
	ck_assert_int_eq(step("CHAP_N=alice\nCHAP_R=0x00\n"), CHAP_FAILURE);
	ck_assert_uint_eq(chap.status, ISCSI_LOGIN_INITIATOR_ERROR);
}
END_TEST

START_TEST(test_chap_challenges_differ)
{
	uint8_t id1, id2, c1[CHAP_CHALLENGE_LEN], c2[CHAP_CHALLENGE_LEN];

	challenge(&id1, c1);
	chap_target_init(&chap, &cfg);
	challenge(&id2, c2);
	ck_assert(memcmp(c1, c2, sizeof(c1)) != 0);
}
END_TEST

START_TEST(test_chap_secret_check)
{
	char err[128], big[300];

	ck_assert_int_eq(chap_secret_check("short", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 12"));
	ck_assert_int_eq(chap_secret_check("elevenbytes", err, sizeof(err)), -1);
	ck_assert_int_eq(chap_secret_check(NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(chap_secret_check("twelve-bytes", err, sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, "recommended"));
	ck_assert_int_eq(chap_secret_check("sixteen-bytes-ok", err, sizeof(err)), 0);
	memset(big, 's', 256);
	big[256] = '\0';
	ck_assert_int_eq(chap_secret_check(big, err, sizeof(err)), -1);
	big[255] = '\0';
	ck_assert_int_eq(chap_secret_check(big, err, sizeof(err)), 0);
	/* Messages never echo the secret. */
	ck_assert_int_eq(chap_secret_check("hunter2", err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "hunter2"));
}
END_TEST

START_TEST(test_chap_config_check)
{
	static const struct chap_cred short_cred[] = { { "u", "too-short" } };
	static const struct chap_cred reuse[] = { { "u", "target-secret-0001" } };
	static const struct chap_cred noname[] = { { "", "long-enough-secret" } };
	char err[160];

	ck_assert_int_eq(chap_target_config_check(&cfg, err, sizeof(err)), 0);
	cfg.creds = short_cred;
	cfg.ncreds = 1;
	ck_assert_int_eq(chap_target_config_check(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "too-short"));
	cfg.creds = reuse;
	ck_assert_int_eq(chap_target_config_check(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "differ"));
	cfg.creds = noname;
	ck_assert_int_eq(chap_target_config_check(&cfg, err, sizeof(err)), -1);
	cfg.creds = creds;
	cfg.ncreds = 2;
	cfg.mutual = NULL;
	cfg.require_mutual = true;
	ck_assert_int_eq(chap_target_config_check(&cfg, err, sizeof(err)), -1);
}
END_TEST

static Suite *chap_suite(void)
{
	Suite *s = suite_create("chap");
	TCase *md5 = tcase_create("md5");
	TCase *tc = tcase_create("chap");

	tcase_add_test(md5, test_md5_rfc1321);
	tcase_add_test(md5, test_md5_incremental);
	tcase_add_test(md5, test_chap_vector);
	suite_add_tcase(s, md5);

	tcase_add_checked_fixture(tc, chap_setup, chap_teardown);
	tcase_add_test(tc, test_chap_one_way);
	tcase_add_test(tc, test_chap_base64_second_user);
	tcase_add_test(tc, test_chap_mutual);
	tcase_add_test(tc, test_chap_failures);
	tcase_add_test(tc, test_chap_missing_or_malformed_response);
	tcase_add_test(tc, test_chap_reflected_challenge);
	tcase_add_test(tc, test_chap_mutual_policy);
	tcase_add_test(tc, test_chap_same_secret_both_ways);
	tcase_add_test(tc, test_chap_algorithm);
	tcase_add_test(tc, test_chap_challenges_differ);
	tcase_add_test(tc, test_chap_secret_check);
	tcase_add_test(tc, test_chap_config_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(chap_suite());
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

/* SPDX-License-Identifier: MIT */
/* Unit tests: iSCSI login sequences (as libiscsi and open-iscsi send them),
 * CHAP and mutual CHAP, login failures and their status, SendTargets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/config.h"
#include "iscsi/iscsi_config.h"
#include "iscsi/login.h"

#define INITIATOR "iqn.1993-08.org.debian:01:abc"
#define T_OPEN    "iqn.2026-04.io.nvbridge:open"
#define T_CHAP    "iqn.2026-04.io.nvbridge:chap"
#define T_MUTUAL  "iqn.2026-04.io.nvbridge:mutual"
#define T_ONLY1   "iqn.2026-04.io.nvbridge:only1"
#define T_OTHERS  "iqn.2026-04.io.nvbridge:others"
#define SECRET    "chapsecret012345"
#define MSECRET   "targetsecret0123"

static const char conf[] =
	"ana_groups = ( { id = 1; state = \"optimized\"; }, { id = 2; state = \"non-optimized\"; } );\n"
	"ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420; } );\n"
	"subsystems = ( { nqn = \"nqn.2026-04.io.nvbridge:demo\"; allow_any_host = true; } );\n"
	"iscsi = {\n"
	"  portal_groups = ( { tag = 1; ana_group = 1; portals = [ \"127.0.0.1:3260\", \"[::1]:3260\" ]; },\n"
	"    { tag = 2; ana_group = 2; portals = ( { address = \"127.0.0.1:3261\"; advertise = \"gw.example:3261\"; },\n"
	"                                          \"0.0.0.0:3262\" ); } );\n"
	"  targets = (\n"
	"    { iqn = \"" T_OPEN "\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; },\n"
	"    { iqn = \"" T_CHAP "\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; portal_groups = [ 1 ];\n"
	"      auth = { chap = ( { user = \"u\"; secret = \"" SECRET "\"; } ); }; },\n"
	"    { iqn = \"" T_MUTUAL "\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; portal_groups = [ 1 ];\n"
	"      auth = { chap = ( { user = \"u\"; secret = \"" SECRET "\"; } );\n"
	"               mutual = { user = \"tgt\"; secret = \"" MSECRET "\"; }; }; },\n"
	"    { iqn = \"" T_ONLY1 "\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; portal_groups = [ 1 ]; },\n"
	"    { iqn = \"" T_OTHERS "\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	"      initiators = [ \"iqn.1991-05.com.microsoft:other\" ]; } );\n"
	"};\n";

static struct nvb_config *cfg;
static uint16_t next_tsih;
static char logbuf[8192];

static const struct iscsi_config *env_config(void *ctx)
{
	return iscsi_config_get(cfg);
}

static uint16_t env_tsih(void *ctx)
{
	return ++next_tsih;
}

static void env_log(void *ctx, enum nvb_log_level level, const char *msg)
{
	size_t len = strlen(logbuf);

	snprintf(logbuf + len, sizeof(logbuf) - len, "%s\n", msg);
}

static const struct iscsi_login_env env = {
	.config = env_config, .alloc_tsih = env_tsih, .log = env_log,
};

static struct iscsi_login login;
static struct iscsi_login_pdu out;

static void setup(void)
{
	char err[512];

	ck_assert_int_eq(nvb_config_register_section(&iscsi_config_section), 0);
	ck_assert_msg(nvb_config_parse(conf, "t.conf", &cfg, err, sizeof(err)) == 0, "%s", err);
	next_tsih = 0;
	logbuf[0] = '\0';
}

static void teardown(void)
{
	iscsi_login_free(&login);
	nvb_config_free(cfg);
}

static void start(uint16_t tpgt)
{
	struct iscsi_login_conn c = { .tpgt = tpgt, .local_addr = "192.0.2.7",
				      .initial_statsn = 100 };

	iscsi_login_init(&login, &env, &c);
}

/* One Login Request: flags T/C/CSG/NSG, keys as "k=v" strings. */
static int send_raw(uint8_t flags, uint8_t vmin, uint16_t tsih, const char *const *keys)
{
	struct iscsi_login_req req;
	char data[16384];
	size_t len = 0;

	for (int i = 0; keys && keys[i]; i++) {
		size_t n = strlen(keys[i]) + 1;

		ck_assert(len + n <= sizeof(data));
		memcpy(data + len, keys[i], n);
		len += n;
	}
	memset(&req, 0, sizeof(req));
	req.opcode = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	req.flags = flags;
	req.version_min = vmin;
	iscsi_bhs_set_dlength(&req, (uint32_t)len);
	memcpy(req.isid, "\x40\x00\x01\x37\x00\x00", 6);
	req.tsih = htobe16(tsih);
	req.itt = htobe32(0x1234);
	req.cid = htobe16(1);
	req.cmdsn = htobe32(10);
	return iscsi_login_rx(&login, &req, data, (uint32_t)len, &out);
}

static int send(bool t, int csg, int nsg, const char *const *keys)
{
	return send_raw(iscsi_login_flags(t, false, (uint8_t)csg, (uint8_t)nsg), 0, 0, keys);
}

static uint16_t status(void)
{
	return (uint16_t)(out.bhs.status_class << 8 | out.bhs.status_detail);
}

/* Value of a key in the last response, or NULL. */
static const char *rsp(const char *key)
{
	static char buf[16384];
	static struct iscsi_kv_list kvs;
	const struct iscsi_kv *kv;

	memcpy(buf, out.data ? out.data : "", out.dlen);
	ck_assert_int_eq(iscsi_text_parse(buf, out.dlen, &kvs, NULL), 0);
	kv = iscsi_kv_find(&kvs, key);
	return kv ? kv->value : NULL;
}

#define LOGIN_KEYS(target) "InitiatorName=" INITIATOR, "TargetName=" target, "SessionType=Normal"

static const char *const op_keys[] = {
	"HeaderDigest=None", "DataDigest=None", "MaxRecvDataSegmentLength=65536",
	"ImmediateData=Yes", "InitialR2T=No", "MaxBurstLength=262144",
	"FirstBurstLength=262144", "ErrorRecoveryLevel=0", NULL
};

/* ---- successful logins ---------------------------------------------------- */

START_TEST(normal_auth_none)
{
	const char *const sec[] = { LOGIN_KEYS(T_OPEN), "AuthMethod=None", NULL };
	const struct iscsi_login_result *r;

	start(2);
	ck_assert_int_eq(send(true, 0, 1, sec), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_uint_eq(status(), 0);
	ck_assert_str_eq(rsp("AuthMethod"), "None");
	/* §13.9: the tag of the portal group the login came through. */
	ck_assert_str_eq(rsp("TargetPortalGroupTag"), "2");
	ck_assert_uint_eq(out.bhs.flags, iscsi_login_flags(true, false, 0, 1));
	ck_assert_uint_eq(be32toh(out.bhs.statsn), 100);
	ck_assert_uint_eq(be32toh(out.bhs.expcmdsn), 10);
	ck_assert_uint_eq(be32toh(out.bhs.maxcmdsn), 10 + ISCSI_LOGIN_QUEUE_DEPTH - 1);
	ck_assert_uint_eq(out.bhs.tsih, 0);
	ck_assert_uint_eq(out.bhs.itt, htobe32(0x1234));

	ck_assert_int_eq(send(true, 1, 3, op_keys), ISCSI_LOGIN_RX_DONE);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(out.bhs.flags, iscsi_login_flags(true, false, 1, 3));
	ck_assert_uint_eq(be16toh(out.bhs.tsih), 1);
	ck_assert_uint_eq(be32toh(out.bhs.statsn), 101);
	ck_assert_str_eq(rsp("MaxRecvDataSegmentLength"), "262144");
	ck_assert_str_eq(rsp("InitialR2T"), "No");
	r = iscsi_login_result(&login);
	ck_assert_int_eq(r->kind, ISCSI_STYPE_NORMAL);
	ck_assert_str_eq(r->target->iqn, T_OPEN);
	ck_assert_uint_eq(r->tsih, 1);
	ck_assert_uint_eq(r->statsn, 102);
	ck_assert_uint_eq(r->expcmdsn, 10);
	ck_assert(!r->authenticated);
	ck_assert_str_eq(r->params->initiator_name, INITIATOR);
	ck_assert_uint_eq(r->params->max_xmit_dsl, 65536);
	ck_assert_uint_eq(r->params->max_recv_dsl, 262144);
	ck_assert_uint_eq(r->params->header_digest, ISCSI_DIGEST_NONE);
	ck_assert(r->params->immediate_data && !r->params->initial_r2t);
	ck_assert_uint_eq(r->params->first_burst_length, 65536);
	ck_assert_ptr_nonnull(strstr(logbuf, "logged in to " T_OPEN));
	/* A login PDU after the login is refused. */
	ck_assert_int_eq(send(true, 1, 3, op_keys), ISCSI_LOGIN_RX_FAILED);
}
END_TEST

/* libiscsi without CHAP: security stage straight to full feature phase. */
START_TEST(security_straight_to_ffp)
{
	const char *const k[] = { LOGIN_KEYS(T_OPEN), "AuthMethod=None", "HeaderDigest=None", NULL };

	start(1);
	/* HeaderDigest is an operational key: not in the security stage. */
	ck_assert_int_eq(send(true, 0, 3, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_INITIATOR_ERROR);
	iscsi_login_free(&login);
	start(1);
	{
		const char *const k2[] = { LOGIN_KEYS(T_OPEN), "AuthMethod=None", NULL };

		ck_assert_int_eq(send(true, 0, 3, k2), ISCSI_LOGIN_RX_DONE);
		ck_assert_uint_eq(out.bhs.flags, iscsi_login_flags(true, false, 0, 3));
		ck_assert_uint_eq(iscsi_login_result(&login)->params->max_xmit_dsl, 8192);
	}
}
END_TEST

/* open-iscsi without CHAP may skip the security stage altogether. */
START_TEST(operational_only)
{
	const char *const k[] = { LOGIN_KEYS(T_OPEN), "HeaderDigest=CRC32C,None", NULL };

	start(1);
	ck_assert_int_eq(send(true, 1, 3, k), ISCSI_LOGIN_RX_DONE);
	ck_assert_str_eq(rsp("HeaderDigest"), "CRC32C");
	ck_assert_str_eq(rsp("TargetPortalGroupTag"), "1");
	ck_assert_uint_eq(iscsi_login_result(&login)->params->header_digest, ISCSI_DIGEST_CRC32C);
}
END_TEST

static void chap_response(const char *secret, char hex[2 * NVB_MD5_LEN + 3])
{
	uint8_t chal[ISCSI_TEXT_BINARY_MAX], r[NVB_MD5_LEN];
	uint64_t id;
	size_t len;

	ck_assert_str_eq(rsp("CHAP_A"), "5");
	ck_assert_int_eq(iscsi_text_parse_u64(rsp("CHAP_I"), &id), 0);
	ck_assert_int_eq(iscsi_text_parse_binary(rsp("CHAP_C"), chal, sizeof(chal), &len), 0);
	chap_md5_response((uint8_t)id, secret, strlen(secret), chal, len, r);
	iscsi_text_hex(hex, r, sizeof(r));
}

/* The first two CHAP steps: AuthMethod, then CHAP_A; returns the CHAP_R
 * computed with `secret`. */
static void chap_begin(const char *target, const char *secret, char hex[2 * NVB_MD5_LEN + 3])
{
	char tn[256];
	const char *const k1[] = { "InitiatorName=" INITIATOR, tn, "SessionType=Normal",
				   "AuthMethod=CHAP,None", NULL };
	const char *const k2[] = { "CHAP_A=5", NULL };

	snprintf(tn, sizeof(tn), "TargetName=%s", target);
	start(1);
	ck_assert_int_eq(send(false, 0, 0, k1), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_uint_eq(status(), 0);
	ck_assert_str_eq(rsp("AuthMethod"), "CHAP");
	ck_assert_int_eq(send(false, 0, 0, k2), ISCSI_LOGIN_RX_CONTINUE);
	chap_response(secret, hex);
}

START_TEST(chap_login)
{
	char r[40], rr[48];
	const char *const k3[] = { "CHAP_N=u", rr, NULL };

	chap_begin(T_CHAP, SECRET, r);
	snprintf(rr, sizeof(rr), "CHAP_R=%s", r);
	ck_assert_int_eq(send(true, 0, 1, k3), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(out.bhs.flags, iscsi_login_flags(true, false, 0, 1));
	ck_assert_ptr_null(rsp("CHAP_N"));
	ck_assert_int_eq(send(true, 1, 3, op_keys), ISCSI_LOGIN_RX_DONE);
	ck_assert(iscsi_login_result(&login)->authenticated);
	ck_assert_str_eq(iscsi_login_result(&login)->chap_user, "u");
}
END_TEST

START_TEST(mutual_chap_login)
{
	static const uint8_t chal[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	char r[40], rr[48], hex[40], want[40];
	const char *const k3[] = { "CHAP_N=u", rr, "CHAP_I=7",
				   "CHAP_C=0x0102030405060708090a0b0c0d0e0f10", NULL };
	uint8_t m[NVB_MD5_LEN];

	chap_begin(T_MUTUAL, SECRET, r);
	snprintf(rr, sizeof(rr), "CHAP_R=%s", r);
	ck_assert_int_eq(send(true, 0, 1, k3), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_uint_eq(status(), 0);
	chap_md5_response(7, MSECRET, strlen(MSECRET), chal, sizeof(chal), m);
	iscsi_text_hex(want, m, sizeof(m));
	ck_assert_str_eq(rsp("CHAP_N"), "tgt");
	snprintf(hex, sizeof(hex), "%s", rsp("CHAP_R"));
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(send(true, 1, 3, op_keys), ISCSI_LOGIN_RX_DONE);
}
END_TEST

/* ---- CHAP failures ------------------------------------------------------------ */

static void expect_chap_failure(const char *target, const char *user, const char *secret,
				bool with_r, const char *reason)
{
	char r[40], rr[48], nn[64];
	const char *const k3[] = { nn, with_r ? rr : NULL, NULL };

	chap_begin(target, secret, r);
	snprintf(rr, sizeof(rr), "CHAP_R=%s", r);
	snprintf(nn, sizeof(nn), "CHAP_N=%s", user);
	ck_assert_int_eq(send(true, 0, 1, k3), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_AUTH_FAILED);
	ck_assert_uint_eq(out.dlen, 0);
	/* Logged with the initiator and the reason, never the secret. */
	ck_assert_msg(strstr(logbuf, INITIATOR) && strstr(logbuf, reason), "%s", logbuf);
	ck_assert_ptr_null(strstr(logbuf, SECRET));
	ck_assert_ptr_null(strstr(logbuf, "wrongsecret"));
	ck_assert_uint_eq(next_tsih, 0);
}

START_TEST(chap_wrong_secret)
{
	expect_chap_failure(T_CHAP, "u", "wrongsecret0", true, "wrong CHAP response");
}
END_TEST

START_TEST(chap_unknown_user)
{
	expect_chap_failure(T_CHAP, "nobody", SECRET, true, "unknown CHAP user");
}
END_TEST

START_TEST(chap_missing_response)
{
	expect_chap_failure(T_CHAP, "u", SECRET, false, "missing CHAP_N or CHAP_R");
}
END_TEST

START_TEST(chap_missing_mutual)
{
	/* The target has mutual credentials: it requires mutual CHAP. */
	expect_chap_failure(T_MUTUAL, "u", SECRET, true, "did not request mutual");
}
END_TEST

START_TEST(chap_required_but_none_offered)
{
	const char *const k[] = { LOGIN_KEYS(T_CHAP), "AuthMethod=None", NULL };

	start(1);
	ck_assert_int_eq(send(true, 0, 1, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_AUTH_FAILED);
}
END_TEST

START_TEST(chap_required_but_skipped)
{
	const char *const k[] = { LOGIN_KEYS(T_CHAP), NULL };

	/* Straight to the operational stage, or a transit without AuthMethod. */
	start(1);
	ck_assert_int_eq(send(true, 1, 3, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_AUTH_FAILED);
	iscsi_login_free(&login);
	start(1);
	ck_assert_int_eq(send(true, 0, 3, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_AUTH_FAILED);
}
END_TEST

/* ---- other failures --------------------------------------------------------------- */

static const struct {
	uint16_t tpgt;
	const char *keys[4];
	uint16_t status;
	const char *log;
} failures[] = {
	{ 1, { LOGIN_KEYS("iqn.2026-04.io.nvbridge:nope") }, ISCSI_LOGIN_NOT_FOUND, "no such target" },
	{ 2, { LOGIN_KEYS(T_ONLY1) }, ISCSI_LOGIN_NOT_FOUND, "not reachable through this portal group" },
	{ 1, { LOGIN_KEYS(T_OTHERS) }, ISCSI_LOGIN_AUTHORIZATION_FAILED, "allow-list" },
	{ 1, { "TargetName=" T_OPEN, "SessionType=Normal" }, ISCSI_LOGIN_MISSING_PARAMETER, "InitiatorName" },
	{ 1, { "InitiatorName=" INITIATOR }, ISCSI_LOGIN_MISSING_PARAMETER, "TargetName" },
	{ 1, { "InitiatorName=" INITIATOR, "SessionType=Weird" }, ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED, "SessionType" },
};

START_TEST(login_failures)
{
	start(failures[_i].tpgt);
	ck_assert_int_eq(send(true, 0, 1, failures[_i].keys), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), failures[_i].status);
	ck_assert_uint_eq(out.bhs.opcode, ISCSI_OP_LOGIN_RSP);
	ck_assert_msg(strstr(logbuf, failures[_i].log), "%s", logbuf);
}
END_TEST

START_TEST(unsupported_version)
{
	const char *const k[] = { LOGIN_KEYS(T_OPEN), NULL };

	start(1);
	ck_assert_int_eq(send_raw(iscsi_login_flags(true, false, 0, 1), 1, 0, k),
			 ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_UNSUPPORTED_VERSION);
}
END_TEST

START_TEST(nonzero_tsih)
{
	const char *const k[] = { LOGIN_KEYS(T_OPEN), NULL };

	start(1);
	ck_assert_int_eq(send_raw(iscsi_login_flags(true, false, 0, 1), 0, 5, k),
			 ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_SESSION_DOES_NOT_EXIST);
	ck_assert_uint_eq(be16toh(out.bhs.tsih), 5);
}
END_TEST

START_TEST(huge_key)
{
	char big[300];
	const char *const k[] = { LOGIN_KEYS(T_OPEN), big, NULL };

	memset(big, 'K', sizeof(big));
	memcpy(big + 200, "=v", 3);
	start(1);
	ck_assert_int_eq(send(true, 0, 1, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status() >> 8, 2);
}
END_TEST

START_TEST(out_of_order)
{
	const char *const sec[] = { LOGIN_KEYS(T_OPEN), "AuthMethod=None", NULL };

	start(1);
	ck_assert_int_eq(send(true, 0, 1, sec), ISCSI_LOGIN_RX_CONTINUE);
	/* Moved to the operational stage; a security-stage PDU is out of order. */
	ck_assert_int_eq(send(false, 0, 0, NULL), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_INITIATOR_ERROR);
	/* Reserved stage / T with C: refused by the BHS checks. */
	iscsi_login_free(&login);
	start(1);
	ck_assert_int_eq(send_raw(ISCSI_LOGIN_FLAG_TRANSIT | ISCSI_FLAG_CONTINUE | 1, 0, 0, sec),
			 ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status() >> 8, 2);
}
END_TEST

START_TEST(continued_request)
{
	const char *const part1[] = { "InitiatorName=" INITIATOR, NULL };
	const char *const part2[] = { "TargetName=" T_OPEN, "AuthMethod=None", NULL };

	start(1);
	ck_assert_int_eq(send_raw(iscsi_login_flags(false, true, 0, 0), 0, 0, part1),
			 ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_uint_eq(status(), 0);
	ck_assert_uint_eq(out.dlen, 0);
	ck_assert_int_eq(send(true, 0, 1, part2), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_str_eq(rsp("AuthMethod"), "None");
	ck_assert_ptr_nonnull(rsp("TargetPortalGroupTag"));
}
END_TEST

/* ---- discovery and SendTargets -------------------------------------------------- */

static char text_out[4096];
static size_t text_len;

static int text_request(const char *kv)
{
	struct iscsi_text_buf b;
	int rc;

	iscsi_text_buf_init(&b, 65536);
	rc = iscsi_login_text(&login, kv, (uint32_t)strlen(kv) + 1, &b);
	ck_assert(b.len < sizeof(text_out));
	memcpy(text_out, b.data ? b.data : "", b.len);
	text_len = b.len;
	for (size_t i = 0; i < text_len; i++)
		if (!text_out[i])
			text_out[i] = '\n';
	text_out[text_len] = '\0';
	iscsi_text_buf_free(&b);
	return rc;
}

START_TEST(discovery_send_targets)
{
	const char *const k1[] = { "InitiatorName=" INITIATOR, "SessionType=Discovery",
				   "AuthMethod=None", NULL };
	const char *const k2[] = { "HeaderDigest=None", "DataDigest=None",
				   "MaxRecvDataSegmentLength=32768", NULL };

	start(1);
	ck_assert_int_eq(send(true, 0, 1, k1), ISCSI_LOGIN_RX_CONTINUE);
	ck_assert_ptr_null(rsp("TargetPortalGroupTag"));
	ck_assert_int_eq(send(true, 1, 3, k2), ISCSI_LOGIN_RX_DONE);
	ck_assert_int_eq(iscsi_login_result(&login)->kind, ISCSI_STYPE_DISCOVERY);
	ck_assert_ptr_null(iscsi_login_result(&login)->target);
	ck_assert_int_eq(text_request("SendTargets=All"), 0);
	/* T_OTHERS is hidden by its allow-list; the wildcard portal reports
	 * the connection's local address; advertise replaces the address. */
	ck_assert_str_eq(text_out,
		"TargetName=" T_OPEN "\n"
		"TargetAddress=127.0.0.1:3260,1\n"
		"TargetAddress=[::1]:3260,1\n"
		"TargetAddress=gw.example:3261,2\n"
		"TargetAddress=192.0.2.7:3262,2\n"
		"TargetName=" T_CHAP "\n"
		"TargetAddress=127.0.0.1:3260,1\n"
		"TargetAddress=[::1]:3260,1\n"
		"TargetName=" T_MUTUAL "\n"
		"TargetAddress=127.0.0.1:3260,1\n"
		"TargetAddress=[::1]:3260,1\n"
		"TargetName=" T_ONLY1 "\n"
		"TargetAddress=127.0.0.1:3260,1\n"
		"TargetAddress=[::1]:3260,1\n");
	ck_assert_int_eq(text_request("SendTargets=" T_ONLY1), 0);
	ck_assert_str_eq(text_out, "TargetName=" T_ONLY1 "\nTargetAddress=127.0.0.1:3260,1\n"
			 "TargetAddress=[::1]:3260,1\n");
	ck_assert_int_eq(text_request("SendTargets=" T_OTHERS), 0);
	ck_assert_str_eq(text_out, "");
}
END_TEST

START_TEST(normal_session_send_targets)
{
	const char *const k[] = { LOGIN_KEYS(T_ONLY1), NULL };

	start(1);
	ck_assert_int_eq(send(true, 1, 3, k), ISCSI_LOGIN_RX_DONE);
	ck_assert_int_eq(text_request("SendTargets=All"), 0);
	ck_assert_str_eq(text_out, "SendTargets=Reject\n");
	ck_assert_int_eq(text_request("SendTargets="), 0);
	ck_assert_str_eq(text_out, "TargetName=" T_ONLY1 "\nTargetAddress=127.0.0.1:3260,1\n"
			 "TargetAddress=[::1]:3260,1\n");
	ck_assert_int_eq(text_request("SendTargets=" T_OPEN), 0);
	ck_assert_str_eq(text_out, "");
}
END_TEST

START_TEST(discovery_chap)
{
	/* discovery_auth absent here: CHAP offered alone is refused. */
	const char *const k[] = { "InitiatorName=" INITIATOR, "SessionType=Discovery",
				  "AuthMethod=CHAP", NULL };

	start(1);
	ck_assert_int_eq(send(true, 0, 1, k), ISCSI_LOGIN_RX_FAILED);
	ck_assert_uint_eq(status(), ISCSI_LOGIN_AUTH_FAILED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("iscsi_login");
	TCase *tc = tcase_create("login");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, normal_auth_none);
	tcase_add_test(tc, security_straight_to_ffp);
	tcase_add_test(tc, operational_only);
	tcase_add_test(tc, chap_login);
	tcase_add_test(tc, mutual_chap_login);
	tcase_add_test(tc, chap_wrong_secret);
	tcase_add_test(tc, chap_unknown_user);
	tcase_add_test(tc, chap_missing_response);
	tcase_add_test(tc, chap_missing_mutual);
	tcase_add_test(tc, chap_required_but_none_offered);
	tcase_add_test(tc, chap_required_but_skipped);
	tcase_add_loop_test(tc, login_failures, 0, sizeof(failures) / sizeof(failures[0]));
	tcase_add_test(tc, unsupported_version);
	tcase_add_test(tc, nonzero_tsih);
	tcase_add_test(tc, huge_key);
	tcase_add_test(tc, out_of_order);
	tcase_add_test(tc, continued_request);
	tcase_add_test(tc, discovery_send_targets);
	tcase_add_test(tc, normal_session_send_targets);
	tcase_add_test(tc, discovery_chap);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

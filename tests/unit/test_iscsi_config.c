/* SPDX-License-Identifier: MIT */
/* Unit tests: the `iscsi` config section (parse, errors with lines, write
 * round trip, names, portals, LUN mapping) and the core's section hook. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/config.h"
#include "iscsi/iscsi_config.h"

static char err[1024];

/* Three lines of core config; the iscsi section starts on line 4. */
#define CORE \
	"ana_groups = ( { id = 1; state = \"optimized\"; }, { id = 2; state = \"non-optimized\"; } );\n" \
	"ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420; ana_group = 1; } );\n" \
	"subsystems = ( { nqn = \"nqn.2026-04.io.nvbridge:demo\"; allow_any_host = true; namespaces = ( { nsid = 1; backend = \"ram\"; size = \"1M\"; }, { nsid = 2; backend = \"ram\"; size = \"1M\"; } ); } );\n"

/* The demo target: two portals in two target port groups. */
#define DEMO_PGS \
	"iscsi = {\n" \
	"  portal_groups = ( { tag = 1; ana_group = 1; portals = [ \"127.0.0.1:3260\" ]; },\n" \
	"                    { tag = 2; ana_group = 2; portals = [ \"127.0.0.1:3261\" ]; } );\n"
#define DEMO DEMO_PGS \
	"  targets = ( { iqn = \"iqn.2026-04.io.nvbridge:demo\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n" \
	"};\n"

static const char full[] = CORE
	"iscsi = {\n"
	"  portal_groups = ( { tag = 1; ana_group = 1; portals = [ \"127.0.0.1:3260\", \"[::1]:3260\" ]; },\n"
	"                    { tag = 2; ana_group = 2; portals = ( \"127.0.0.1:3261\",\n"
	"                        { address = \"0.0.0.0:3262\"; advertise = \"10.0.2.2:13262\"; } ); } );\n"
	"  targets = ( { iqn = \"iqn.2026-04.io.nvbridge:demo\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	"                portal_groups = [ 1, 2 ];\n"
	"                luns = ( { lun = 0; nsid = 1; }, { lun = 5; nsid = 2; } );\n"
	"                initiators = [ \"iqn.1993-08.org.debian:01:abc\" ];\n"
	"                auth = { chap = ( { user = \"u\"; secret = \"0123456789ab\"; } );\n"
	"                         mutual = { user = \"target\"; secret = \"fedcba9876543210\"; }; }; },\n"
	"              { iqn = \"eui.0123456789ABCDEF\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	"                portal_groups = [ 2 ]; } );\n"
	"  discovery_auth = { chap = ( { user = \"d\"; secret = \"discoverysecret1\"; } ); require_mutual = false; };\n"
	"};\n";

static void setup(void)
{
	ck_assert_int_eq(nvb_config_register_section(&iscsi_config_section), 0);
}

static struct nvb_config *parse_ok(const char *text)
{
	struct nvb_config *cfg = NULL;

	ck_assert_msg(nvb_config_parse(text, "t.conf", &cfg, err, sizeof(err)) == 0, "%s", err);
	return cfg;
}

START_TEST(demo_section_parses)
{
	struct nvb_config *cfg = parse_ok(CORE DEMO);
	const struct iscsi_config *ic = iscsi_config_get(cfg);
	const struct iscsi_target_conf *t;
	uint32_t v;

	ck_assert_ptr_nonnull(ic);
	ck_assert_int_eq(ic->npgs, 2);
	ck_assert_uint_eq(ic->pgs[1].tag, 2);
	ck_assert_uint_eq(ic->pgs[1].ana_group, 2);
	ck_assert_str_eq(ic->pgs[1].portals[0].addr, "127.0.0.1");
	ck_assert_uint_eq(ic->pgs[1].portals[0].port, 3261);
	ck_assert_int_eq(ic->ntargets, 1);
	t = iscsi_config_find_target(ic, "IQN.2026-04.io.nvbridge:demo");
	ck_assert_ptr_nonnull(t);
	ck_assert(t->all_pgs && t->npg_tags == 2 && iscsi_target_has_pg(t, 2));
	ck_assert(t->default_luns);
	ck_assert(iscsi_target_allows(t, "iqn.x"));
	ck_assert_uint_eq(t->auth.ncreds, 0);
	/* Default mapping: LUN n-1 <-> NSID n, also for later namespaces. */
	ck_assert_int_eq(iscsi_target_lun_to_nsid(t, 0, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(iscsi_target_nsid_to_lun(t, 7, &v), 0);
	ck_assert_uint_eq(v, 6);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(full_section_values)
{
	struct nvb_config *cfg = parse_ok(full);
	const struct iscsi_config *ic = iscsi_config_get(cfg);
	const struct iscsi_target_conf *t = &ic->targets[0];
	const struct iscsi_portal_conf *p = &ic->pgs[1].portals[1];
	uint32_t v;

	ck_assert_str_eq(ic->pgs[0].portals[1].addr, "::1");
	ck_assert_int_eq(ic->pgs[0].portals[1].family, AF_INET6);
	ck_assert_str_eq(p->addr, "0.0.0.0");
	ck_assert_str_eq(p->advertise, "10.0.2.2");
	ck_assert_uint_eq(p->advertise_port, 13262);
	ck_assert(!t->all_pgs && !t->default_luns);
	ck_assert_int_eq(iscsi_target_lun_to_nsid(t, 5, &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(iscsi_target_lun_to_nsid(t, 1, &v), -1);
	ck_assert_int_eq(iscsi_target_nsid_to_lun(t, 3, &v), -1);
	ck_assert(iscsi_target_allows(t, "iqn.1993-08.org.debian:01:abc"));
	ck_assert(!iscsi_target_allows(t, "iqn.1993-08.org.debian:01:xyz"));
	ck_assert_uint_eq(t->auth.ncreds, 1);
	ck_assert_str_eq(t->auth.chap.mutual->user, "target");
	ck_assert(t->auth.require_mutual);
	ck_assert(!ic->discovery_auth.require_mutual);
	ck_assert_int_eq(ic->targets[1].npg_tags, 1);
	nvb_config_free(cfg);
}
END_TEST

static char *write_to_string(const struct nvb_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_int_eq(nvb_config_write(cfg, f), 0);
	fclose(f);
	return text;
}

START_TEST(write_round_trip)
{
	const char *texts[] = { CORE DEMO, full };
	struct nvb_config *a = parse_ok(texts[_i]), *b;
	char *t1 = write_to_string(a), *t2;

	ck_assert_ptr_nonnull(strstr(t1, "iscsi = {"));
	b = parse_ok(t1);
	t2 = write_to_string(b);
	ck_assert_str_eq(t1, t2);
	ck_assert_int_eq(iscsi_config_get(b)->ntargets, iscsi_config_get(a)->ntargets);
	nvb_config_free(a);
	nvb_config_free(b);
	free(t1);
	free(t2);
}
END_TEST

START_TEST(absent_section)
{
	struct nvb_config *cfg = parse_ok(CORE);

	ck_assert_ptr_null(iscsi_config_get(cfg));
	nvb_config_free(cfg);
}
END_TEST

/* Each bad section and the line and words its error must have. */
static const struct {
	const char *iscsi;
	int line;
	const char *words;
} bad[] = {
	{ "iscsi = { portal_group = (); };\n", 4, "unknown setting 'portal_group'" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.NVBRIDGE:demo\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n};\n",
	  7, "lower-case" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-13.io.nvbridge:demo\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n};\n",
	  7, "month" },
	{ DEMO_PGS "  targets = ( { iqn = \"eui.0123\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n};\n",
	  7, "16 hex digits" },
	{ DEMO_PGS "  targets = ( { iqn = \"naa.0123456789abcdef0\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n};\n",
	  7, "16 or 32" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; },\n"
	  "    { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } );\n};\n",
	  8, "duplicate target 'iqn.2026-04.io.x:a' (first at line 7)" },
	{ "iscsi = { portal_groups = ( { tag = 0; portals = [ \"127.0.0.1\" ]; } ); };\n", 4,
	  "'tag' must be between 1 and 65535" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"127.0.0.1\" ]; },\n"
	  "  { tag = 1; portals = [ \"127.0.0.2\" ]; } ); };\n", 5, "duplicate portal group tag 1" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"127.0.0.1:99999\" ]; } ); };\n", 4,
	  "not a numeric" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"localhost:3260\" ]; } ); };\n", 4,
	  "not a numeric" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"[::1\" ]; } ); };\n", 4,
	  "not a numeric" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"127.0.0.1\" ]; },\n"
	  "  { tag = 2; portals = [ \"0.0.0.0:3260\" ]; } ); };\n", 5,
	  "collides with portal 127.0.0.1:3260 of portal group 1 (line 4)" },
	{ "iscsi = { portal_groups = ( { tag = 1; portals = [ \"127.0.0.1:4420\" ]; } ); };\n", 4,
	  "collides with NVMe/TCP port 1" },
	{ "iscsi = { portal_groups = ( { tag = 1; ana_group = 3; portals = [ \"127.0.0.1\" ]; } ); };\n", 4,
	  "ana_group 3 is not defined" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:nope\"; } );\n};\n",
	  7, "subsystem 'nqn.2026-04.io.nvbridge:nope' is not defined" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    portal_groups = [ 3 ]; } );\n};\n", 8, "portal group 3 is not defined" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    luns = ( { lun = 16384; nsid = 1; } ); } );\n};\n", 8, "between 0 and 16383" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    luns = ( { lun = 1; nsid = 1; },\n      { lun = 1; nsid = 2; } ); } );\n};\n", 9,
	  "duplicate LUN 1 (first at line 8)" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    luns = ( { lun = 1; nsid = 3; } ); } );\n};\n", 8, "has no namespace 3" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    initiators = [ \"host1\" ]; } );\n};\n", 8, "not a valid iSCSI name" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    auth = { chap = ( { user = \"u\";\n secret = \"0123456789a\"; } ); }; } );\n};\n", 9,
	  "CHAP secret is 11 bytes, at least 12 are required" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    auth = { chap = ( { user = \"u\"; secret = \"0123456789abcdef\"; } );\n"
	  "      mutual = { user = \"t\"; secret = \"0123456789abcdef\"; }; }; } );\n};\n", 9,
	  "must differ" },
	{ DEMO_PGS "  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\";\n"
	  "    auth = { chap = ( { user = \"u\"; secret = \"0123456789abcdef\"; },\n"
	  "      { user = \"u\"; secret = \"0123456789abcdeX\"; } ); }; } );\n};\n", 9,
	  "listed twice" },
	{ "iscsi = { targets = ( { iqn = \"iqn.2026-04.io.x:a\"; subsystem = \"nqn.2026-04.io.nvbridge:demo\"; } ); };\n",
	  4, "at least one portal group" },
};

START_TEST(rejections)
{
	char text[4096], want[64];
	struct nvb_config *cfg = NULL;

	snprintf(text, sizeof(text), "%s%s", CORE, bad[_i].iscsi);
	ck_assert_int_eq(nvb_config_parse(text, "t.conf", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof(want), "t.conf:%d: iscsi", bad[_i].line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "case %d: got '%s'", _i, err);
	ck_assert_msg(strstr(err, bad[_i].words), "case %d: got '%s'", _i, err);
}
END_TEST

START_TEST(secret_lengths)
{
	static const char *const secrets[] = { "0123456789ab", "0123456789abcdef",
					       "0123456789abcdefXYZ" };
	char text[4096];
	struct nvb_config *cfg;

	snprintf(text, sizeof(text), "%s%s  targets = ( { iqn = \"iqn.2026-04.io.x:a\"; "
		 "subsystem = \"nqn.2026-04.io.nvbridge:demo\"; auth = { chap = ( { user = \"u\"; "
		 "secret = \"%s\"; } ); }; } );\n};\n", CORE, DEMO_PGS, secrets[_i]);
	cfg = parse_ok(text);   /* 12..15 bytes: accepted with a warning */
	ck_assert_str_eq(iscsi_config_get(cfg)->targets[0].auth.creds[0].secret, secrets[_i]);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(unregistered_name_refused)
{
	struct nvb_config *cfg;

	/* A registered section does not open the door to other names. */
	ck_assert_int_eq(nvb_config_parse(CORE "iscsy = { };\n", "t.conf", &cfg, err,
					  sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "t.conf:4: unknown setting 'iscsy'; did you mean 'iscsi'?"));
	ck_assert_int_eq(nvb_config_register_section(&iscsi_config_section), 0);
}
END_TEST

START_TEST(names_and_portals)
{
	char why[96], addr[64];
	uint16_t port;
	int fam;

	ck_assert_int_eq(iscsi_name_check("iqn.1993-08.org.debian:01:abc", why, sizeof(why)), 0);
	ck_assert_int_eq(iscsi_name_check("iqn.2026-04.io.nvbridge", why, sizeof(why)), 0);
	ck_assert_int_eq(iscsi_name_check("eui.02004567A425678D", why, sizeof(why)), 0);
	ck_assert_int_eq(iscsi_name_check("naa.52004567BA64678D0123456789ABCDEF", why, sizeof(why)), 0);
	ck_assert_int_eq(iscsi_name_check("iqn.2026-04", why, sizeof(why)), -1);
	ck_assert_int_eq(iscsi_name_check("iqn.2026-4.io.x", why, sizeof(why)), -1);
	ck_assert_int_eq(iscsi_name_check("iqn.2026-04.io x", why, sizeof(why)), -1);
	ck_assert_int_eq(iscsi_name_check("nqn.2026-04.io.x", why, sizeof(why)), -1);
	ck_assert_int_eq(iscsi_portal_parse("[fe80::1]:3261", addr, sizeof(addr), &port, &fam), 0);
	ck_assert_str_eq(addr, "fe80::1");
	ck_assert_uint_eq(port, 3261);
	ck_assert_int_eq(fam, AF_INET6);
	ck_assert_int_eq(iscsi_portal_parse("::1", addr, sizeof(addr), &port, &fam), 0);
	ck_assert_uint_eq(port, 3260);
	ck_assert_int_eq(iscsi_portal_parse("10.1.2.3", addr, sizeof(addr), &port, &fam), 0);
	ck_assert_uint_eq(port, 3260);
	ck_assert_int_eq(iscsi_portal_parse("10.1.2.3:", addr, sizeof(addr), &port, &fam), -1);
	ck_assert_int_eq(iscsi_portal_parse("[10.1.2.3]x", addr, sizeof(addr), &port, &fam), -1);
	ck_assert_int_eq(iscsi_portal_parse("10.1.2.3:0", addr, sizeof(addr), &port, &fam), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("iscsi_config");
	TCase *tc = tcase_create("config");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, demo_section_parses);
	tcase_add_test(tc, full_section_values);
	tcase_add_loop_test(tc, write_round_trip, 0, 2);
	tcase_add_test(tc, absent_section);
	tcase_add_loop_test(tc, rejections, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_loop_test(tc, secret_lengths, 0, 3);
	tcase_add_test(tc, unregistered_name_refused);
	tcase_add_test(tc, names_and_portals);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

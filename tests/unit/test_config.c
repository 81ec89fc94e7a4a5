/* SPDX-License-Identifier: MIT */
/* Unit tests: config parsing, validation errors, ids, write/parse round trip. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/log.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

static char err[1024];

static struct nvb_config *parse_ok(const char *text, const char *name)
{
	struct nvb_config *cfg = NULL;
	int rc = nvb_config_parse(text, name, &cfg, err, sizeof(err));

	ck_assert_msg(rc == 0, "unexpected error: %s", err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* ---- the demo config -------------------------------------------------- */

START_TEST(demo_conf_parses)
{
	struct nvb_config *cfg = NULL;
	const struct nvb_subsys_conf *ss;
	const struct nvb_ns_conf *ns;

	ck_assert_msg(nvb_config_load(TEST_SRCDIR "/etc/demo.conf", &cfg, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(cfg->reactors, 2);
	ck_assert_int_eq(cfg->log_level, NVB_LOG_INFO);
	ck_assert_str_eq(cfg->ctl_socket, NVB_DEFAULT_CTL_SOCKET);
	ck_assert_int_eq(cfg->nana_groups, 2);
	ck_assert_uint_eq(cfg->ana_groups[0].id, 1);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_OPTIMIZED);
	ck_assert_uint_eq(cfg->ana_groups[1].id, 2);
	ck_assert_int_eq(cfg->ana_groups[1].state, NVB_ANA_NON_OPTIMIZED);

	ck_assert_int_eq(cfg->nports, 2);
	ck_assert_uint_eq(cfg->ports[0].id, 1);
	ck_assert_str_eq(cfg->ports[0].addr, "127.0.0.1");
	ck_assert_str_eq(cfg->ports[0].svcid, "4420");
	ck_assert_int_eq(cfg->ports[0].family, AF_INET);
	ck_assert_uint_eq(cfg->ports[0].ana_group, 1);
	ck_assert_ptr_null(cfg->ports[0].subsystems);
	ck_assert_ptr_null(cfg->ports[0].advertise_addr);
	ck_assert_str_eq(cfg->ports[1].svcid, "4421");
	ck_assert_uint_eq(cfg->ports[1].ana_group, 2);

	ck_assert_int_eq(cfg->nsubsys, 1);
	ss = &cfg->subsys[0];
	ck_assert_str_eq(ss->nqn, "nqn.2026-04.io.nvbridge:demo");
	ck_assert(ss->allow_any_host);
	ck_assert_int_eq(ss->nhosts, 0);
	ck_assert_str_eq(ss->model, "nvbridge");
	ck_assert_int_eq(strncmp(ss->serial, "NVB", 3), 0);
	ck_assert_int_eq(ss->nns, 1);
	ns = &ss->ns[0];
	ck_assert_uint_eq(ns->nsid, 1);
	ck_assert_int_eq(ns->backend, NVB_BACKEND_FILE);
	ck_assert_str_eq(ns->path, "/var/lib/nvbridge/demo.img");
	ck_assert_uint_eq(ns->size, 1ULL << 30);
	ck_assert_uint_eq(ns->lba_size, 512);
	ck_assert(ns->volatile_write_cache);
	ck_assert_uint_eq(ns->ana_group, 0);
	ck_assert_int_gt(ns->line, 0);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(defaults_when_absent)
{
	struct nvb_config *cfg = parse_ok(
		"ports = ( { id = 1; address = \"::1\"; port = 4420; } );\n", "/etc/x.conf");

	ck_assert_int_eq(cfg->reactors, 0);
	ck_assert_int_eq(cfg->log_level, NVB_LOG_INFO);
	ck_assert_str_eq(cfg->ctl_socket, NVB_DEFAULT_CTL_SOCKET);
	ck_assert_str_eq(cfg->path, "/etc/x.conf");
	ck_assert_int_eq(cfg->nana_groups, 1);
	ck_assert_uint_eq(cfg->ana_groups[0].id, 1);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_OPTIMIZED);
	ck_assert_uint_eq(cfg->ports[0].ana_group, 1);
	ck_assert_int_eq(cfg->ports[0].family, AF_INET6);
	ck_assert_int_eq(cfg->nsubsys, 0);
	nvb_config_free(cfg);
}
END_TEST

/* ---- rejections: line number and reason -------------------------------- */

#define PORT1 "ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420; } );\n"
#define SS_A "nqn = \"nqn.2026-04.io.nvbridge:a\";"

static const struct bad_config {
	const char *text;
	int line;               /* 0: the message has no line */
	const char *keyword;
} bad_configs[] = {
	/* libconfig syntax error */
	{ "reactors = 2;\nports = ( { id = = 1; } );\n", 2, "syntax error" },
	/* strings where libconfig 1.5 would fail (and leak them): refused first */
	{ "reactors = 1;\n\n\"ports\" = 1;\n", 3, "syntax error" },
	{ "reactors = 1 \"x\";\n", 1, "syntax error" },
	{ PORT1 "subsystems = ( { " SS_A " model\n \"x\"; } );\n", 3, "syntax error" },
	{ "reactors = 1;\n@include \"other.conf\"\n" PORT1, 2, "@include is not supported" },
	{ "reactors = 1;\n@\n" PORT1, 2, "syntax error" },
	/* unknown top-level key, with a suggestion */
	{ "reactors = 1;\n\nprots = ( { id = 1; address = \"127.0.0.1\"; port = 4420; } );\n",
	  3, "'prots'; did you mean 'ports'" },
	/* unknown key in a port */
	{ "ports = (\n { id = 1;\n   adress = \"127.0.0.1\"; port = 4420; } );\n", 3, "'adress'" },
	/* unknown key without a close match */
	{ PORT1 "subsystems = ( { " SS_A "\n  colour = \"blue\"; } );\n", 3, "unknown setting 'colour'" },
	/* wrong type */
	{ PORT1 "subsystems = ( { " SS_A "\n namespaces = (\n"
	  " { nsid = \"1\"; backend = \"ram\"; size = \"1M\"; } ); } );\n", 4, "'nsid' must be an integer" },
	{ PORT1 "subsystems = ( { " SS_A "\n allow_any_host = 1; } );\n", 3, "true or false" },
	{ "ports = { id = 1; };\n", 1, "must be a list" },
	/* duplicate NSID */
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n"
	  " { nsid = 1; backend = \"ram\"; size = \"1M\"; },\n"
	  " { nsid = 1; backend = \"ram\"; size = \"1M\"; } ); } );\n", 4, "duplicate nsid 1 (first at line 3)" },
	/* duplicate subsystem NQN */
	{ PORT1 "subsystems = (\n { " SS_A " },\n { " SS_A " } );\n", 4, "duplicate subsystem nqn" },
	/* duplicate port id */
	{ "ports = (\n { id = 1; address = \"127.0.0.1\"; port = 4420; },\n"
	  " { id = 1; address = \"127.0.0.1\"; port = 4421; } );\n", 3, "duplicate port id 1" },
	/* two ports on the same address and TCP port */
	{ "ports = (\n { id = 1; address = \"127.0.0.1\"; port = 4420; },\n"
	  " { id = 2; address = \"127.0.0.1\";\n   port = \"4420\"; } );\n", 4, "already used by port 1" },
	/* a wildcard address overlaps every address of its family */
	{ "ports = (\n { id = 1; address = \"0.0.0.0\"; port = 4420; },\n"
	  " { id = 2; address = \"127.0.0.1\"; port = 4420; } );\n", 3, "already used" },
	/* port referencing an unknown ANA group */
	{ "ana_groups = ( { id = 1; state = \"optimized\"; } );\n"
	  "ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420;\n ana_group = 2; } );\n",
	  3, "ana_group 2 is not defined" },
	/* port without ana_group when group 1 does not exist */
	{ "ana_groups = ( { id = 2; state = \"optimized\"; } );\n"
	  "ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420; } );\n", 2, "default group 1" },
	/* port referencing an unknown subsystem */
	{ "subsystems = ( { " SS_A " } );\nports = ( { id = 1; address = \"127.0.0.1\"; port = 4420;\n"
	  " subsystems = [\n \"nqn.2026-04.io.nvbridge:b\" ]; } );\n", 4, "not defined in subsystems" },
	{ "subsystems = ( { " SS_A " } );\nports = ( { id = 1; address = \"127.0.0.1\"; port = 4420;\n"
	  " subsystems = [ ]; } );\n", 3, "'subsystems' is empty" },
	/* duplicate ANA group id */
	{ "ana_groups = (\n { id = 1; state = \"optimized\"; },\n { id = 1; state = \"inaccessible\"; } );\n"
	  PORT1, 3, "duplicate ANA group id 1" },
	/* ANA group id out of range */
	{ "ana_groups = (\n { id = 129; state = \"optimized\"; } );\n" PORT1, 2, "between 1 and 128" },
	{ "ana_groups = (\n { id = 0; state = \"optimized\"; } );\n" PORT1, 2, "between 1 and 128" },
	{ "ana_groups = (\n { id = 1;\n state = \"standby\"; } );\n" PORT1, 3, "unknown ANA state" },
	/* the transition state: nvbridged would never leave it, hosts reset */
	{ "ana_groups = (\n { id = 1; state = \"optimized\"; },\n { id = 3;\n state = \"change\"; } );\n"
	  PORT1, 4, "ANA group 3: " NVB_ANA_CHANGE_REFUSED },
	{ "ana_groups = ( );\n" PORT1, 1, "empty" },
	/* file backend without path, ram without size, path on ram */
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"file\"; } ); } );\n",
	  3, "needs a 'path'" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; } ); } );\n",
	  3, "needs a 'size'" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\";\n"
	  "   path = \"/x\"; size = \"1M\"; } ); } );\n", 4, "only for backend file" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"nbd\"; } ); } );\n",
	  3, "unknown backend 'nbd'" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { size = \"1M\"; backend = \"ram\"; } ); } );\n",
	  3, "missing 'nsid'" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1025; backend = \"ram\"; } ); } );\n",
	  3, "between 1 and 1024" },
	/* sizes and LBA size */
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\";\n"
	  " size = \"1GiB\"; } ); } );\n", 4, "K, M, G or T suffix" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\";\n"
	  " size = 1000; } ); } );\n", 4, "not a multiple of lba_size 512" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " lba_size = 1024; } ); } );\n", 4, "lba_size must be 512 or 4096" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\";\n"
	  " size = 5368709120; } ); } );\n", 4, "does not fit in 32 bits" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\";\n"
	  " size = -4096; } ); } );\n", 4, "'size' must be between 0" },
	/* serial / model */
	{ PORT1 "subsystems = ( { " SS_A "\n serial = \"123456789012345678901\"; } );\n",
	  3, "serial '123456789012345678901' is longer than 20" },
	{ PORT1 "subsystems = ( { " SS_A "\n model = \"bad\\x01model\"; } );\n", 3, "printable ASCII" },
	{ PORT1 "subsystems = ( { " SS_A "\n model = \"0123456789012345678901234567890123456789X\"; } );\n",
	  3, "longer than 40" },
	/* identifiers */
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " nguid = \"23531b79-5cd8-4228-a5ec-9f5e0842db1\"; } ); } );\n", 4, "nguid" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " uuid = \"zz531b79-5cd8-4228-a5ec-9f5e0842db13\"; } ); } );\n", 4, "uuid 'zz53" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " eui64 = \"0123456789abcdef01\"; } ); } );\n", 4, "eui64" },
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " eui64 = \"0000000000000000\"; } ); } );\n", 4, "all zero" },
	/* the same explicit NGUID in two subsystems */
	{ PORT1 "subsystems = (\n { " SS_A " namespaces = ( { nsid = 1; backend = \"ram\"; size = \"1M\";"
	  " nguid = \"23531b795cd84228a5ec9f5e0842db13\"; } ); },\n"
	  " { nqn = \"nqn.2026-04.io.nvbridge:b\";\n namespaces = ( { nsid = 1; backend = \"ram\"; "
	  "size = \"1M\"; nguid = \"23531b795cd84228a5ec9f5e0842db13\"; } ); } );\n", 5, "also used by" },
	/* namespace in an unknown ANA group */
	{ PORT1 "subsystems = ( { " SS_A " namespaces = (\n { nsid = 1; backend = \"ram\"; size = \"1M\";\n"
	  " ana_group = 9; } ); } );\n", 4, "ana_group 9 is not defined" },
	/* no ports at all, an empty list */
	{ "reactors = 1;\n", 0, "no ports" },
	{ "reactors = 1;\nports = ( );\n", 2, "at least one port" },
	/* duplicate host NQN, invalid host NQN */
	{ PORT1 "subsystems = ( { " SS_A " hosts = [\n \"nqn.2014-08.org.nvmexpress:uuid:1\",\n"
	  " \"nqn.2014-08.org.nvmexpress:uuid:1\" ]; } );\n", 4, "duplicate host nqn" },
	{ PORT1 "subsystems = ( { " SS_A " hosts = [\n \"host1\" ]; } );\n", 3, "not a valid NQN" },
	/* subsystem NQN syntax, the discovery NQN */
	{ PORT1 "subsystems = ( {\n nqn = \"iqn.2026-04.io.nvbridge:a\"; } );\n", 3, "not a valid NQN" },
	{ PORT1 "subsystems = ( {\n nqn = \"nqn.2026-04.io.nvbridge: a\"; } );\n", 3, "whitespace" },
	{ PORT1 "subsystems = ( {\n nqn = \"nqn.2014-08.org.nvmexpress.discovery\"; } );\n", 3, "discovery" },
	{ PORT1 "subsystems = ( {\n serial = \"x\"; } );\n", 2, "missing 'nqn'" },
	/* addresses and ports */
	{ "ports = ( { id = 1;\n address = \"localhost\"; port = 4420; } );\n", 2, "numeric IPv4 or IPv6" },
	{ "ports = ( { id = 1; address = \"127.0.0.1\";\n port = 70000; } );\n", 2, "between 1 and 65535" },
	{ "ports = ( { id = 1; address = \"127.0.0.1\";\n port = \"44x\"; } );\n", 2, "TCP port number" },
	{ "ports = ( { id = 1; address = \"127.0.0.1\"; } );\n", 1, "missing 'port'" },
	{ "ports = ( { id = 1; address = \"::\"; port = 4420;\n advertise = \"10.0.2.2\"; } );\n",
	  2, "same address family" },
	/* top-level scalars */
	{ "reactors = 65;\n" PORT1, 1, "'reactors' must be between 0 and 64" },
	{ "\nlog_level = \"verbose\";\n" PORT1, 2, "unknown log_level 'verbose'" },
	{ "ctl_socket = \"/run/" "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789.sock\";\n" PORT1, 1, "Unix socket path" },
};

START_TEST(bad_config_rejected)
{
	const struct bad_config *bc = &bad_configs[_i];
	struct nvb_config *cfg = (void *)1;
	char prefix[64];

	err[0] = '\0';
	ck_assert_int_eq(nvb_config_parse(bc->text, "t.conf", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	if (bc->line)
		snprintf(prefix, sizeof(prefix), "t.conf:%d: ", bc->line);
	else
		snprintf(prefix, sizeof(prefix), "t.conf: ");
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
		      "case %d: expected prefix '%s', got '%s'", _i, prefix, err);
	ck_assert_msg(strstr(err, bc->keyword) != NULL,
		      "case %d: expected '%s' in '%s'", _i, bc->keyword, err);
}
END_TEST

/* The pre-scan that guards libconfig 1.5 must accept every valid form. */
START_TEST(valid_syntax_variants)
{
	struct nvb_config *cfg = parse_ok(
		"# a comment with \"quotes\" and 99999999999\n"
		"// another: size = 5368709120;\n"
		"/* block \"comment\"\n   4294967296 */\n"
		"reactors: 0x2;\n"
		"ports = ( { id = 1; address = \"127.0.0.1\"; port = \"4420\" } ,\n"
		"          { id = 2, address = \"127.0.0.1\", port = 4421 } );\n"
		"subsystems = ( { nqn = \"nqn.2026-04.io.nvbridge:\" \"concat\";\n"
		"  model = \"size = 5368709120 \\\" still a string\";\n"
		"  namespaces = ( { nsid = 1; backend = \"ram\"; size = 5368709120L; } ); } );\n",
		"t.conf");

	ck_assert_int_eq(cfg->reactors, 2);
	ck_assert_int_eq(cfg->nports, 2);
	ck_assert_str_eq(cfg->subsys[0].nqn, "nqn.2026-04.io.nvbridge:concat");
	ck_assert_str_eq(cfg->subsys[0].model, "size = 5368709120 \" still a string");
	ck_assert_uint_eq(cfg->subsys[0].ns[0].size, 5368709120ULL);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(error_names_scope)
{
	struct nvb_config *cfg;

	ck_assert_int_eq(nvb_config_parse(PORT1 "subsystems = ( { " SS_A " namespaces = (\n"
		"{ nsid = 7; backend = \"file\"; } ); } );\n", "t.conf", &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:3: subsystem 'nqn.2026-04.io.nvbridge:a' namespace 7: "
			 "backend file needs a 'path'");
	ck_assert_int_eq(nvb_config_parse("ports = ( { id = 3;\n address = \"x\"; port = 1; } );",
					  "t.conf", &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:2: port 3: address 'x' is not a numeric IPv4 or IPv6 address");
}
END_TEST

START_TEST(load_missing_file)
{
	struct nvb_config *cfg;

	ck_assert_int_eq(nvb_config_load("/nonexistent/nvbridged.conf", &cfg, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "/nonexistent/nvbridged.conf: No such file or directory");
}
END_TEST

START_TEST(small_err_buffer)
{
	struct nvb_config *cfg;
	char small[8];

	ck_assert_int_eq(nvb_config_parse("reactors = 1;\n", "t.conf", &cfg, small, sizeof(small)), -1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(nvb_config_parse("reactors = 1;\n", "t.conf", &cfg, NULL, 0), -1);
}
END_TEST

/* ---- sizes -------------------------------------------------------------- */

START_TEST(size_suffixes)
{
	static const struct { const char *text; uint64_t bytes; } good[] = {
		{ "512", 512 }, { "4K", 4096 }, { "4k", 4096 }, { "1M", 1 << 20 },
		{ "1G", 1ULL << 30 }, { "1g", 1ULL << 30 }, { "3T", 3ULL << 40 },
		{ "18446744073709551615", UINT64_MAX }, { "16777215T", 16777215ULL << 40 },
	};
	static const char *const bad[] = {
		"", "G", "-1", "+1", " 1", "1 ", "1KB", "1GiB", "1.5G", "1X",
		"18446744073709551616", "16777216T", "0x10",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(nvb_size_parse(good[i].text, &v) == 0, "%s", good[i].text);
		ck_assert_uint_eq(v, good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nvb_size_parse(bad[i], &v) == -1, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(size_forms_in_config)
{
	struct nvb_config *cfg = parse_ok(PORT1 "subsystems = ( { " SS_A " namespaces = (\n"
		"{ nsid = 1; backend = \"ram\"; size = \"2G\"; },\n"
		"{ nsid = 2; backend = \"ram\"; size = 1048576; },\n"
		"{ nsid = 3; backend = \"ram\"; size = 8589934592L; lba_size = 4096; },\n"
		"{ nsid = 4; backend = \"ram\"; size = \"64k\"; },\n"
		"{ nsid = 5; backend = \"file\"; path = \"/dev/sdb\"; } ); } );\n", "t.conf");
	const struct nvb_subsys_conf *ss = &cfg->subsys[0];

	ck_assert_uint_eq(ss->ns[0].size, 2ULL << 30);
	ck_assert_uint_eq(ss->ns[1].size, 1048576);
	ck_assert_uint_eq(ss->ns[2].size, 8ULL << 30);
	ck_assert_uint_eq(ss->ns[2].lba_size, 4096);
	ck_assert_uint_eq(ss->ns[3].size, 65536);
	ck_assert_uint_eq(ss->ns[4].size, 0);   /* file: the device's size */
	nvb_config_free(cfg);
}
END_TEST

/* ---- relative paths ----------------------------------------------------- */

#define NS_PATH(p) PORT1 "subsystems = ( { " SS_A " namespaces = ( { nsid = 1; " \
	"backend = \"file\"; path = \"" p "\"; } ); } );\n"

START_TEST(relative_paths)
{
	struct nvb_config *cfg;
	char *cwd = getcwd(NULL, 0), expect[4096];

	cfg = parse_ok(NS_PATH("disk.img"), "/etc/nvbridge/nvbridged.conf");
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, "/etc/nvbridge/disk.img");
	nvb_config_free(cfg);

	cfg = parse_ok(NS_PATH("./img/disk.img"), "/etc/nvbridge/nvbridged.conf");
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, "/etc/nvbridge/img/disk.img");
	nvb_config_free(cfg);

	cfg = parse_ok(NS_PATH("/srv/disk.img"), "/etc/nvbridge/nvbridged.conf");
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, "/srv/disk.img");
	nvb_config_free(cfg);

	cfg = parse_ok(NS_PATH("disk.img"), "/nvbridged.conf");
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, "/disk.img");
	nvb_config_free(cfg);

	/* A relative config name resolves against the working directory. */
	cfg = parse_ok(NS_PATH("disk.img"), "nvbridged.conf");
	snprintf(expect, sizeof(expect), "%s/disk.img", cwd);
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, expect);
	nvb_config_free(cfg);

	cfg = parse_ok("ctl_socket = \"ctl.sock\";\n" NS_PATH("disk.img"), "etc/nvbridged.conf");
	snprintf(expect, sizeof(expect), "%s/etc/disk.img", cwd);
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, expect);
	snprintf(expect, sizeof(expect), "%s/etc/ctl.sock", cwd);
	ck_assert_str_eq(cfg->ctl_socket, expect);
	nvb_config_free(cfg);
	free(cwd);
}
END_TEST

START_TEST(load_resolves_against_file)
{
	char dir[] = "/tmp/nvb-config-test-XXXXXX", path[64];
	struct nvb_config *cfg;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/test.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(NS_PATH("disk.img"), f);
	fclose(f);
	ck_assert_msg(nvb_config_load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_str_eq(cfg->subsys[0].ns[0].path, (snprintf(path, sizeof(path), "%s/disk.img", dir), path));
	nvb_config_free(cfg);

	/* A syntax error in a file names that file. */
	snprintf(path, sizeof(path), "%s/test.conf", dir);
	f = fopen(path, "w");
	fputs("reactors = 1;\nreactors 2;\n", f);
	fclose(f);
	ck_assert_int_eq(nvb_config_load(path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "test.conf:2: ") != NULL, "%s", err);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- identifiers ---------------------------------------------------------- */

static void derive(const char *nqn, uint32_t nsid, struct nvb_ns_conf *ns)
{
	memset(ns, 0, sizeof(*ns));
	ns->nsid = nsid;
	nvb_ns_conf_derive_ids(ns, nqn, false, false, false);
}

START_TEST(ids_stable_and_distinct)
{
	static const char *const nqns[] = { "nqn.2026-04.io.nvbridge:demo", "nqn.2026-04.io.nvbridge:demo2",
					    "nqn.2026-04.io.nvbridge:dem" };
	struct nvb_ns_conf all[3 * 64], again;
	static const uint8_t zero[16];
	int n = 0;

	for (int q = 0; q < 3; q++) {
		for (uint32_t nsid = 1; nsid <= 64; nsid++) {
			struct nvb_ns_conf *ns = &all[n++];

			derive(nqns[q], nsid, ns);
			derive(nqns[q], nsid, &again);
			ck_assert_mem_eq(ns->nguid, again.nguid, 16);
			ck_assert_mem_eq(ns->uuid, again.uuid, 16);
			ck_assert_mem_eq(ns->eui64, again.eui64, 8);
			ck_assert(memcmp(ns->nguid, zero, 16) != 0);
			/* RFC 9562: version 8, variant 10b */
			ck_assert_uint_eq(ns->uuid[6] >> 4, 8);
			ck_assert_uint_eq(ns->uuid[8] >> 6, 2);
			/* EUI-64: locally administered, not a group address */
			ck_assert_uint_eq(ns->eui64[0] & 0x03, 0x02);
			ck_assert(memcmp(ns->nguid, ns->uuid, 16) != 0);
		}
	}
	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			ck_assert(memcmp(all[i].nguid, all[j].nguid, 16) != 0);
			ck_assert(memcmp(all[i].uuid, all[j].uuid, 16) != 0);
			ck_assert(memcmp(all[i].eui64, all[j].eui64, 8) != 0);
		}
	}
}
END_TEST

/* The derivation is a promise to hosts: these values must never change. */
START_TEST(ids_golden_values)
{
	struct nvb_ns_conf ns;
	char text[40], serial[21];

	derive("nqn.2026-04.io.nvbridge:demo", 1, &ns);
	nvb_id_format(ns.nguid, 16, false, text);
	ck_assert_str_eq(text, "d5808b4f623626fa622e1a2334560cd4");
	nvb_id_format(ns.uuid, 16, true, text);
	ck_assert_str_eq(text, "9c15f182-c8cd-80c2-8ded-165b5e3631d2");
	nvb_id_format(ns.eui64, 8, false, text);
	ck_assert_str_eq(text, "06de15e714e918e1");
	nvb_subsys_derive_serial("nqn.2026-04.io.nvbridge:demo", serial);
	ck_assert_str_eq(serial, "NVBBD888B69AC7A7EBD");
}
END_TEST

START_TEST(ids_given_are_kept)
{
	struct nvb_config *cfg = parse_ok(PORT1 "subsystems = ( { " SS_A " namespaces = (\n"
		"{ nsid = 1; backend = \"ram\"; size = \"1M\"; nguid = \"uuid:23531b79-5cd8-4228-a5ec-9f5e0842db13\"; },\n"
		"{ nsid = 2; backend = \"ram\"; size = \"1M\"; uuid = \"23531B79-5CD8-4228-A5EC-9F5E0842DB13\";\n"
		"  eui64 = \"0123456789abcdef\"; } ); } );\n", "t.conf");
	static const uint8_t want[16] = { 0x23, 0x53, 0x1b, 0x79, 0x5c, 0xd8, 0x42, 0x28,
					  0xa5, 0xec, 0x9f, 0x5e, 0x08, 0x42, 0xdb, 0x13 };
	static const uint8_t eui[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	struct nvb_ns_conf d;

	ck_assert_mem_eq(cfg->subsys[0].ns[0].nguid, want, 16);
	ck_assert_mem_eq(cfg->subsys[0].ns[1].uuid, want, 16);
	ck_assert_mem_eq(cfg->subsys[0].ns[1].eui64, eui, 8);
	/* what was not given is derived */
	derive("nqn.2026-04.io.nvbridge:a", 1, &d);
	ck_assert_mem_eq(cfg->subsys[0].ns[0].uuid, d.uuid, 16);
	ck_assert_mem_eq(cfg->subsys[0].ns[0].eui64, d.eui64, 8);
	derive("nqn.2026-04.io.nvbridge:a", 2, &d);
	ck_assert_mem_eq(cfg->subsys[0].ns[1].nguid, d.nguid, 16);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(id_text)
{
	uint8_t id[16];
	char text[40];

	ck_assert_int_eq(nvb_id_parse("23531b795cd84228a5ec9f5e0842db13", id, 16), 0);
	nvb_id_format(id, 16, true, text);
	ck_assert_str_eq(text, "23531b79-5cd8-4228-a5ec-9f5e0842db13");
	ck_assert_int_eq(nvb_id_parse("UUID:23531B79-5CD8-4228-A5EC-9F5E0842DB13", id, 16), 0);
	nvb_id_format(id, 16, false, text);
	ck_assert_str_eq(text, "23531b795cd84228a5ec9f5e0842db13");
	ck_assert_int_eq(nvb_id_parse("23531b795cd84228a5ec9f5e0842db1", id, 16), -1);
	ck_assert_int_eq(nvb_id_parse("23531b795cd84228a5ec9f5e0842db133", id, 16), -1);
	ck_assert_int_eq(nvb_id_parse("g3531b795cd84228a5ec9f5e0842db13", id, 16), -1);
	ck_assert_int_eq(nvb_id_parse("", id, 8), -1);
	ck_assert_int_eq(nvb_id_parse("01:23:45:67:89:ab:cd:ef", id, 8), -1);
	ck_assert_int_eq(nvb_id_parse("01-23-45-67-89-ab-cd-ef", id, 8), 0);
	nvb_id_format(id, 8, false, text);
	ck_assert_str_eq(text, "0123456789abcdef");
}
END_TEST

START_TEST(nqn_rules)
{
	char why[128], longnqn[NVB_NQN_MAX + 2];

	ck_assert_int_eq(nvb_nqn_check("nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
				       why, sizeof(why)), 0);
	ck_assert_int_eq(nvb_nqn_check("nqn.", why, sizeof(why)), -1);
	ck_assert_int_eq(nvb_nqn_check("NQN.2014-08.x:y", why, sizeof(why)), -1);
	ck_assert_int_eq(nvb_nqn_check("nqn.2014-08.x:a\tb", why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "whitespace"));
	memset(longnqn, 'a', sizeof(longnqn));
	memcpy(longnqn, "nqn.", 4);
	longnqn[NVB_NQN_MAX] = '\0';
	ck_assert_int_eq(nvb_nqn_check(longnqn, NULL, 0), 0);
	longnqn[NVB_NQN_MAX] = 'a';
	longnqn[NVB_NQN_MAX + 1] = '\0';
	ck_assert_int_eq(nvb_nqn_check(longnqn, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "223"));
}
END_TEST

START_TEST(ana_state_names)
{
	static const char *const names[] = { "optimized", "non-optimized", "inaccessible",
					     "persistent-loss", "change" };
	static const enum nvb_ana_state states[] = { NVB_ANA_OPTIMIZED, NVB_ANA_NON_OPTIMIZED,
		NVB_ANA_INACCESSIBLE, NVB_ANA_PERSISTENT_LOSS, NVB_ANA_CHANGE };
	enum nvb_ana_state s;

	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(nvb_ana_state_parse(names[i], &s), 0);
		ck_assert_int_eq(s, states[i]);
		ck_assert_str_eq(nvb_ana_state_name(states[i]), names[i]);
	}
	/* "change" parses (the wire knows it) but may not be set. */
	for (int i = 0; i < 4; i++)
		ck_assert(nvb_ana_state_settable(states[i]));
	ck_assert(!nvb_ana_state_settable(NVB_ANA_CHANGE));
	ck_assert(!nvb_ana_state_settable((enum nvb_ana_state)0x07));
	ck_assert_int_eq(nvb_ana_state_parse("standby", &s), -1);
	ck_assert_int_eq(nvb_ana_state_parse("", &s), -1);
	ck_assert_str_eq(nvb_ana_state_name((enum nvb_ana_state)0x07), "unknown");
}
END_TEST

START_TEST(ns_conf_copy_clear)
{
	struct nvb_ns_conf src = { .nsid = 4, .path = (char *)"/srv/x.img", .size = 4096,
				   .lba_size = 512 }, dst;

	ck_assert_int_eq(nvb_ns_conf_copy(&dst, &src), 0);
	ck_assert_ptr_ne(dst.path, src.path);
	ck_assert_str_eq(dst.path, "/srv/x.img");
	ck_assert_uint_eq(dst.nsid, 4);
	nvb_ns_conf_clear(&dst);
	ck_assert_ptr_null(dst.path);
	ck_assert_uint_eq(dst.nsid, 0);
	src.path = NULL;
	ck_assert_int_eq(nvb_ns_conf_copy(&dst, &src), 0);
	ck_assert_ptr_null(dst.path);
	nvb_ns_conf_clear(&dst);
}
END_TEST

/* ---- write / parse round trip ------------------------------------------- */

static void assert_same_config(const struct nvb_config *a, const struct nvb_config *b)
{
	ck_assert_int_eq(a->reactors, b->reactors);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_str_eq(a->ctl_socket, b->ctl_socket);
	ck_assert_int_eq(a->nana_groups, b->nana_groups);
	for (int i = 0; i < a->nana_groups; i++) {
		ck_assert_uint_eq(a->ana_groups[i].id, b->ana_groups[i].id);
		ck_assert_int_eq(a->ana_groups[i].state, b->ana_groups[i].state);
	}
	ck_assert_int_eq(a->nports, b->nports);
	for (int i = 0; i < a->nports; i++) {
		const struct nvb_port_conf *p = &a->ports[i], *q = &b->ports[i];

		ck_assert_uint_eq(p->id, q->id);
		ck_assert_str_eq(p->addr, q->addr);
		ck_assert_str_eq(p->svcid, q->svcid);
		ck_assert_int_eq(p->family, q->family);
		ck_assert_uint_eq(p->ana_group, q->ana_group);
		ck_assert_int_eq(!p->advertise_addr, !q->advertise_addr);
		if (p->advertise_addr)
			ck_assert_str_eq(p->advertise_addr, q->advertise_addr);
		ck_assert_int_eq(!p->subsystems, !q->subsystems);
		ck_assert_int_eq(p->nsubsystems, q->nsubsystems);
		for (int j = 0; j < p->nsubsystems; j++)
			ck_assert_str_eq(p->subsystems[j], q->subsystems[j]);
	}
	ck_assert_int_eq(a->nsubsys, b->nsubsys);
	for (int i = 0; i < a->nsubsys; i++) {
		const struct nvb_subsys_conf *s = &a->subsys[i], *t = &b->subsys[i];

		ck_assert_str_eq(s->nqn, t->nqn);
		ck_assert_str_eq(s->serial, t->serial);
		ck_assert_str_eq(s->model, t->model);
		ck_assert_int_eq(s->allow_any_host, t->allow_any_host);
		ck_assert_int_eq(s->nhosts, t->nhosts);
		for (int j = 0; j < s->nhosts; j++)
			ck_assert_str_eq(s->hosts[j], t->hosts[j]);
		ck_assert_int_eq(s->nns, t->nns);
		for (int j = 0; j < s->nns; j++) {
			const struct nvb_ns_conf *m = &s->ns[j], *n = &t->ns[j];

			ck_assert_uint_eq(m->nsid, n->nsid);
			ck_assert_int_eq(m->backend, n->backend);
			ck_assert_int_eq(!m->path, !n->path);
			if (m->path)
				ck_assert_str_eq(m->path, n->path);
			ck_assert_uint_eq(m->size, n->size);
			ck_assert_uint_eq(m->lba_size, n->lba_size);
			ck_assert_int_eq(m->volatile_write_cache, n->volatile_write_cache);
			ck_assert_mem_eq(m->nguid, n->nguid, 16);
			ck_assert_mem_eq(m->uuid, n->uuid, 16);
			ck_assert_mem_eq(m->eui64, n->eui64, 8);
			ck_assert_uint_eq(m->ana_group, n->ana_group);
		}
	}
}

static char *write_to_string(const struct nvb_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(nvb_config_write(cfg, f), 0);
	fclose(f);
	return text;
}

START_TEST(write_parse_round_trip)
{
	static const char *const files[] = { "/tests/data/full.conf", "/etc/demo.conf" };
	struct nvb_config *a, *b, *c;
	char path[4096];
	char *text1, *text2;

	snprintf(path, sizeof(path), "%s%s", TEST_SRCDIR, files[_i]);
	ck_assert_msg(nvb_config_load(path, &a, err, sizeof(err)) == 0, "%s", err);
	text1 = write_to_string(a);
	/* Written paths are absolute, so the name no longer matters. */
	ck_assert_msg(nvb_config_parse(text1, "/elsewhere/saved.conf", &b, err, sizeof(err)) == 0,
		      "%s\n%s", err, text1);
	assert_same_config(a, b);
	text2 = write_to_string(b);
	ck_assert_str_eq(text1, text2);
	ck_assert_msg(nvb_config_parse(text2, "saved.conf", &c, err, sizeof(err)) == 0, "%s", err);
	assert_same_config(a, c);
	nvb_config_free(a);
	nvb_config_free(b);
	nvb_config_free(c);
	free(text1);
	free(text2);
}
END_TEST

START_TEST(full_conf_values)
{
	struct nvb_config *cfg;
	const struct nvb_ns_conf *ns;

	ck_assert_msg(nvb_config_load(TEST_SRCDIR "/tests/data/full.conf", &cfg, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(cfg->log_level, NVB_LOG_DEBUG);
	ck_assert_ptr_nonnull(strstr(cfg->ctl_socket, "/tests/data/run/ctl.sock"));
	ck_assert_int_eq(cfg->nana_groups, 5);
	ck_assert_uint_eq(cfg->ana_groups[4].id, 128);
	ck_assert_int_eq(cfg->ana_groups[4].state, NVB_ANA_OPTIMIZED);
	ck_assert_str_eq(cfg->ports[1].svcid, "4421");
	ck_assert_int_eq(cfg->ports[1].nsubsystems, 1);
	ck_assert_uint_eq(cfg->ports[2].id, 65535);
	ck_assert_uint_eq(cfg->ports[2].ana_group, 1);
	ck_assert_str_eq(cfg->ports[2].advertise_addr, "192.0.2.1");
	ck_assert_str_eq(cfg->subsys[0].model, "Model \"A\" \\ v1");
	ck_assert_str_eq(cfg->subsys[0].serial, "SERIAL-A");
	ck_assert_int_eq(cfg->subsys[0].nhosts, 2);
	ns = &cfg->subsys[0].ns[1];
	ck_assert_ptr_nonnull(strstr(ns->path, "/tests/data/images/disk\ta \"b\".img"));
	ck_assert_uint_eq(ns->size, 8ULL << 30);
	ck_assert(!ns->volatile_write_cache);
	ck_assert_uint_eq(ns->ana_group, 3);
	ck_assert_uint_eq(ns->uuid[0], 0x0f);
	ck_assert_uint_eq(ns->eui64[7], 0xef);
	ck_assert_int_eq(cfg->subsys[2].nns, 0);
	nvb_config_free(cfg);
}
END_TEST

START_TEST(write_escapes_strings)
{
	struct nvb_config *a = parse_ok(PORT1 "subsystems = ( { " SS_A " namespaces = ( { nsid = 1; "
		"backend = \"file\"; path = \"/srv/odd \\\"name\\\"\\\\\\t\\xc3\\xa9.img\"; } ); } );\n",
		"t.conf"), *b;
	char *text = write_to_string(a);

	ck_assert_str_eq(a->subsys[0].ns[0].path, "/srv/odd \"name\"\\\t\xc3\xa9.img");
	ck_assert_ptr_nonnull(strstr(text, "path = \"/srv/odd \\\"name\\\"\\\\\\x09\\xc3\\xa9.img\";"));
	ck_assert_msg(nvb_config_parse(text, "t.conf", &b, err, sizeof(err)) == 0, "%s", err);
	assert_same_config(a, b);
	nvb_config_free(a);
	nvb_config_free(b);
	free(text);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, demo_conf_parses);
	tcase_add_test(tc, defaults_when_absent);
	tcase_add_loop_test(tc, bad_config_rejected, 0,
			    (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, valid_syntax_variants);
	tcase_add_test(tc, error_names_scope);
	tcase_add_test(tc, load_missing_file);
	tcase_add_test(tc, small_err_buffer);
	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_forms_in_config);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, load_resolves_against_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_add_test(tc, ids_stable_and_distinct);
	tcase_add_test(tc, ids_golden_values);
	tcase_add_test(tc, ids_given_are_kept);
	tcase_add_test(tc, id_text);
	tcase_add_test(tc, nqn_rules);
	tcase_add_test(tc, ana_state_names);
	tcase_add_test(tc, ns_conf_copy_clear);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_loop_test(tc, write_parse_round_trip, 0, 2);
	tcase_add_test(tc, full_conf_values);
	tcase_add_test(tc, write_escapes_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

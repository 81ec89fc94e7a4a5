/* SPDX-License-Identifier: MIT */
/* Unit tests: import of nvmetcli JSON configs. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/config.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

static char err[1024];

static char *read_file(const char *name)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/data/%s", TEST_SRCDIR, name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_ne(getdelim(&text, &len, '\0', f), -1);
	fclose(f);
	return text;
}

static struct nvb_config *import_ok(const char *json, char **warnings)
{
	struct nvb_config *cfg = NULL;

	ck_assert_msg(nvb_import_nvmetcli(json, &cfg, warnings, err, sizeof(err)) == 0,
		      "import failed: %s", err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

static void import_fails(const char *json, const char *keyword)
{
	struct nvb_config *cfg = (void *)1;
	char *warnings = (void *)1;

	err[0] = '\0';
	ck_assert_int_eq(nvb_import_nvmetcli(json, &cfg, &warnings, err, sizeof(err)), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strncmp(err, "nvmetcli: ", 10) == 0, "no prefix: %s", err);
	ck_assert_msg(strstr(err, keyword) != NULL, "expected '%s' in '%s'", keyword, err);
	free(warnings);
}

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* write → parse must give the same config back (ids included). */
static void assert_round_trip(const struct nvb_config *a)
{
	struct nvb_config *b;
	char *text = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_int_eq(nvb_config_write(a, f), 0);
	fclose(f);
	ck_assert_msg(nvb_config_parse(text, "imported.conf", &b, err, sizeof(err)) == 0,
		      "%s\n%s", err, text);
	ck_assert_int_eq(a->nsubsys, b->nsubsys);
	ck_assert_int_eq(a->nports, b->nports);
	ck_assert_int_eq(a->nana_groups, b->nana_groups);
	for (int i = 0; i < a->nsubsys; i++) {
		ck_assert_str_eq(a->subsys[i].nqn, b->subsys[i].nqn);
		ck_assert_str_eq(a->subsys[i].serial, b->subsys[i].serial);
		ck_assert_int_eq(a->subsys[i].nns, b->subsys[i].nns);
		for (int j = 0; j < a->subsys[i].nns; j++) {
			ck_assert_mem_eq(a->subsys[i].ns[j].nguid, b->subsys[i].ns[j].nguid, 16);
			ck_assert_mem_eq(a->subsys[i].ns[j].uuid, b->subsys[i].ns[j].uuid, 16);
			ck_assert_mem_eq(a->subsys[i].ns[j].eui64, b->subsys[i].ns[j].eui64, 8);
			ck_assert_str_eq(a->subsys[i].ns[j].path, b->subsys[i].ns[j].path);
		}
	}
	for (int i = 0; i < a->nports; i++) {
		ck_assert_str_eq(a->ports[i].addr, b->ports[i].addr);
		ck_assert_str_eq(a->ports[i].svcid, b->ports[i].svcid);
		ck_assert_uint_eq(a->ports[i].ana_group, b->ports[i].ana_group);
	}
	/* and writing the re-parsed config gives the same text */
	f = open_memstream(&again, &len2);
	ck_assert_int_eq(nvb_config_write(b, f), 0);
	fclose(f);
	ck_assert_str_eq(text, again);
	nvb_config_free(b);
	free(text);
	free(again);
}

START_TEST(guide_example)
{
	static const uint8_t nguid[16] = { 0x23, 0x53, 0x1b, 0x79, 0x5c, 0xd8, 0x42, 0x28,
					   0xa5, 0xec, 0x9f, 0x5e, 0x08, 0x42, 0xdb, 0x13 };
	char *json = read_file("nvmetcli-guide.json"), *warnings = NULL;
	struct nvb_config *cfg = import_ok(json, &warnings);
	const struct nvb_subsys_conf *ss;
	const struct nvb_ns_conf *ns;

	ck_assert_ptr_null(cfg->path);
	ck_assert_int_eq(cfg->nports, 1);
	ck_assert_uint_eq(cfg->ports[0].id, 1);
	ck_assert_str_eq(cfg->ports[0].addr, "127.0.0.1");
	ck_assert_str_eq(cfg->ports[0].svcid, "4420");
	ck_assert_int_eq(cfg->ports[0].family, AF_INET);
	ck_assert_int_eq(cfg->ports[0].nsubsystems, 1);
	ck_assert_str_eq(cfg->ports[0].subsystems[0], "nqn.2026-04.com.example:storage-node-01");
	ck_assert_uint_eq(cfg->ports[0].ana_group, 1);
	ck_assert_int_eq(cfg->nana_groups, 1);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_OPTIMIZED);

	ck_assert_int_eq(cfg->nsubsys, 1);
	ss = &cfg->subsys[0];
	ck_assert_str_eq(ss->nqn, "nqn.2026-04.com.example:storage-node-01");
	ck_assert_str_eq(ss->serial, "123456789");
	ck_assert(ss->allow_any_host);
	ck_assert_int_eq(ss->nhosts, 0);
	ck_assert_int_eq(ss->nns, 1);
	ns = &ss->ns[0];
	ck_assert_uint_eq(ns->nsid, 1);
	ck_assert_int_eq(ns->backend, NVB_BACKEND_FILE);
	ck_assert_str_eq(ns->path, "/dev/nvme0n1");
	ck_assert_uint_eq(ns->size, 0);
	ck_assert_uint_eq(ns->lba_size, 512);
	ck_assert_mem_eq(ns->nguid, nguid, 16);

	/* the one field it cannot map */
	ck_assert_ptr_nonnull(warnings);
	ck_assert_str_eq(warnings, "warning: subsystem nqn.2026-04.com.example:storage-node-01: "
			 "attr 'version' is not supported, ignored\n");
	assert_round_trip(cfg);
	nvb_config_free(cfg);
	free(warnings);
	free(json);
}
END_TEST

START_TEST(multipath_example)
{
	char *json = read_file("nvmetcli-multipath.json"), *warnings = NULL;
	struct nvb_config *cfg = import_ok(json, &warnings);
	static const uint8_t uuid[16] = { 0xd5, 0x92, 0xcd, 0xf3, 0x5d, 0x1c, 0x44, 0xe0,
					  0x84, 0x12, 0x3f, 0xcf, 0x7d, 0x99, 0xdf, 0x27 };
	const struct nvb_subsys_conf *ss;
	struct nvb_ns_conf derived = { .nsid = 1 };

	ck_assert_int_eq(cfg->nana_groups, 2);
	ck_assert_uint_eq(cfg->ana_groups[0].id, 1);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_OPTIMIZED);
	ck_assert_uint_eq(cfg->ana_groups[1].id, 2);
	ck_assert_int_eq(cfg->ana_groups[1].state, NVB_ANA_NON_OPTIMIZED);
	ck_assert_int_eq(cfg->nports, 2);
	ck_assert_str_eq(cfg->ports[0].addr, "192.0.2.10");
	ck_assert_uint_eq(cfg->ports[0].ana_group, 1);
	ck_assert_uint_eq(cfg->ports[1].id, 2);
	ck_assert_str_eq(cfg->ports[1].addr, "2001:db8::10");
	ck_assert_int_eq(cfg->ports[1].family, AF_INET6);
	ck_assert_str_eq(cfg->ports[1].svcid, "4421");
	ck_assert_uint_eq(cfg->ports[1].ana_group, 2);

	ss = &cfg->subsys[0];
	ck_assert(!ss->allow_any_host);
	ck_assert_int_eq(ss->nhosts, 2);
	ck_assert_str_eq(ss->hosts[1], "nqn.2014-08.org.nvmexpress:uuid:f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f");
	ck_assert_str_eq(ss->model, "Linux");
	ck_assert_str_eq(ss->serial, "a1b2c3d4e5f60718");
	/* enable 0 is skipped */
	ck_assert_int_eq(ss->nns, 2);
	ck_assert_uint_eq(ss->ns[1].nsid, 2);
	ck_assert_str_eq(ss->ns[1].path, "/srv/nvme/db-log.img");
	/* given uuid kept, all-zero nguid replaced by the derived one */
	ck_assert_mem_eq(ss->ns[0].uuid, uuid, 16);
	nvb_ns_conf_derive_ids(&derived, ss->nqn, false, false, false);
	ck_assert_mem_eq(ss->ns[0].nguid, derived.nguid, 16);

	ck_assert_ptr_nonnull(strstr(warnings, "port 1: param 'inline_data_size' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "port 1: param 'pi_enable' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "attr 'cntlid_max' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "attr 'cntlid_min' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "attr 'pi_enable' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "attr 'version' is not supported"));
	ck_assert_ptr_nonnull(strstr(warnings, "namespace 3 is disabled (enable 0), skipped"));
	ck_assert_ptr_null(strstr(warnings, "attr 'serial'"));
	ck_assert_ptr_null(strstr(warnings, "attr 'model'"));
	ck_assert_ptr_null(strstr(warnings, "treq"));
	ck_assert_ptr_null(strstr(warnings, "tsas"));
	ck_assert_int_eq(count_lines(warnings, "warning: "), 7);
	ck_assert_int_eq(count_lines(warnings, "\n"), 7);
	assert_round_trip(cfg);
	nvb_config_free(cfg);
	free(warnings);
	free(json);
}
END_TEST

#define SUBSYS_A "{ \"nqn\": \"nqn.2026-04.io.x:a\", \"attr\": { \"allow_any_host\": \"1\" }, " \
	"\"namespaces\": [ { \"nsid\": 1, \"enable\": 1, \"device\": { \"path\": \"/dev/sdb\" } } ] }"
#define PORT(id, addr, svc, extra) "{ \"portid\": " #id ", \"addr\": { \"adrfam\": \"ipv4\", " \
	"\"traddr\": \"" addr "\", \"trsvcid\": \"" svc "\", \"trtype\": \"tcp\" }, " \
	"\"subsystems\": [ \"nqn.2026-04.io.x:a\" ]" extra " }"

/* The kernel way: every port carries group 1, in its own state. */
START_TEST(same_group_different_states)
{
	char *warnings = NULL;
	struct nvb_config *cfg = import_ok("{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ "
		PORT(1, "127.0.0.1", "4420", ", \"ana_groups\": [ { \"grpid\": 1, \"ana\": { \"state\": \"optimized\" } } ]") ", "
		PORT(2, "127.0.0.1", "4421", ", \"ana_groups\": [ { \"grpid\": 1, \"ana\": { \"state\": \"non-optimized\" } } ]") ", "
		PORT(3, "127.0.0.1", "4422", ", \"ana_groups\": [ { \"grpid\": 1, \"ana\": { \"state\": \"optimized\" } } ]")
		" ] }", &warnings);

	ck_assert_int_eq(cfg->nana_groups, 2);
	ck_assert_uint_eq(cfg->ports[0].ana_group, 1);
	ck_assert_uint_eq(cfg->ports[1].ana_group, 2);
	ck_assert_uint_eq(cfg->ports[2].ana_group, 1);
	ck_assert_uint_eq(cfg->ana_groups[1].id, 2);
	ck_assert_int_eq(cfg->ana_groups[1].state, NVB_ANA_NON_OPTIMIZED);
	ck_assert_ptr_nonnull(strstr(warnings, "port 2: ANA group 1 (non-optimized) becomes group 2"));
	ck_assert_int_eq(count_lines(warnings, "warning: "), 1);
	assert_round_trip(cfg);
	nvb_config_free(cfg);
	free(warnings);
}
END_TEST

START_TEST(unsupported_fields_warn)
{
	char *warnings = NULL;
	struct nvb_config *cfg = import_ok("{ \"subsystems\": [ "
		"{ \"nqn\": \"nqn.2026-04.io.x:a\", \"allowed_hosts\": [], \"passthru\": [],"
		"  \"attr\": { \"allow_any_host\": true, \"cntlid_min\": \"1\", \"qid_max\": \"128\","
		"              \"ieee_oui\": \"0x000000\", \"firmware\": \"6.1\" },"
		"  \"namespaces\": [ { \"nsid\": \"1\", \"device\": { \"path\": \"/dev/sdb\", \"p2pmem\": \"0\" },"
		"                      \"ana_grpid\": 3, \"resv\": { \"enable\": \"0\" }, \"buffered_io\": 0 } ] } ],"
		"  \"hosts\": [ { \"nqn\": \"nqn.2014-08.org.nvmexpress:uuid:1\", \"dhchap\": { \"key\": \"x\" } } ],"
		"  \"extra\": 1,"
		"  \"ports\": [ "
		PORT(1, "127.0.0.1", "4420", ", \"referrals\": [ { \"name\": \"r\" } ], \"misc\": 1,"
		     " \"ana_groups\": [ { \"grpid\": 1 }, { \"grpid\": 2, \"ana\": { \"state\": \"inaccessible\" } } ]") ", "
		"{ \"portid\": 2, \"addr\": { \"trtype\": \"rdma\", \"traddr\": \"10.0.0.1\", \"trsvcid\": \"4420\" },"
		"  \"subsystems\": [ \"nqn.2026-04.io.x:a\" ] },"
		"{ \"portid\": 3, \"addr\": { \"adrfam\": \"ipv6\", \"traddr\": \"::\", \"trsvcid\": 4430,"
		"  \"trtype\": \"tcp\", \"treq\": \"required\", \"tsas\": \"tls1.3\" },"
		"  \"subsystems\": [ \"nqn.2026-04.io.x:a\" ] },"
		"{ \"portid\": 4, \"addr\": { \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4440\" }, \"subsystems\": [] }"
		" ] }", &warnings);
	static const char *const expect[] = {
		"warning: top level: 'extra' is not supported, ignored\n",
		"warning: host nqn.2014-08.org.nvmexpress:uuid:1: dhchap 'key' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: 'passthru' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: attr 'cntlid_min' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: attr 'qid_max' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: attr 'ieee_oui' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: attr 'firmware' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: namespace 1: device 'p2pmem' is not supported, ignored\n",
		"namespace 1: ana_grpid 3 is not mapped",
		"warning: subsystem nqn.2026-04.io.x:a: namespace 1: resv 'enable' is not supported, ignored\n",
		"warning: subsystem nqn.2026-04.io.x:a: namespace 1: 'buffered_io' is not supported, ignored\n",
		"warning: port 1: has 2 ANA groups",
		"warning: port 1: referrals are not supported, ignored\n",
		"warning: port 1: 'misc' is not supported, ignored\n",
		"warning: port 2: trtype \"rdma\" is not supported (nvbridged serves NVMe/TCP), port skipped\n",
		"warning: port 3: addr.treq 'required' is not supported (no secure channel), ignored\n",
		"warning: port 3: addr.tsas 'tls1.3' is not supported (no secure channel), ignored\n",
		"warning: port 4: no addr.trtype, taken as tcp\n",
		"warning: port 4 exports no subsystem, skipped\n",
	};

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		ck_assert_msg(strstr(warnings, expect[i]) != NULL, "missing '%s' in:\n%s", expect[i], warnings);
	ck_assert_int_eq(count_lines(warnings, "\n"), (int)(sizeof(expect) / sizeof(expect[0])));
	ck_assert_int_eq(cfg->nports, 2);
	ck_assert_str_eq(cfg->ports[1].addr, "::");
	ck_assert_str_eq(cfg->ports[1].svcid, "4430");
	ck_assert(cfg->subsys[0].allow_any_host);
	ck_assert_uint_eq(cfg->subsys[0].ns[0].ana_group, 0);
	nvb_config_free(cfg);
	free(warnings);
}
END_TEST

START_TEST(no_warnings_is_null)
{
	char *warnings = (void *)1;
	struct nvb_config *cfg = import_ok("{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ "
					   PORT(1, "127.0.0.1", "4420", ", \"referrals\": []") " ] }",
					   &warnings);

	ck_assert_ptr_null(warnings);
	nvb_config_free(cfg);
	/* warnings may be NULL when the caller does not want them */
	cfg = import_ok("{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ "
			PORT(1, "127.0.0.1", "4420", ", \"x\": 1") " ] }", NULL);
	nvb_config_free(cfg);
}
END_TEST

static const struct {
	const char *json;
	const char *keyword;
} bad_imports[] = {
	/* malformed JSON */
	{ "", "unexpected end" },
	{ "{ \"ports\": [ ", "unexpected end" },
	{ "{\n\"ports\": [\n  { \"portid\": 1, }\n] }", "invalid JSON at line 3" },
	{ "{ \"ports\": [] } trailing", "invalid JSON at line 1" },
	{ "{ \"ports\": [] }\n\n{ }", "invalid JSON at line 3" },
	{ "[ 1, 2 ]", "top level must be a JSON object" },
	{ "\"text\"", "top level must be a JSON object" },
	/* missing required fields */
	{ "{ \"subsystems\": [ { \"attr\": {} } ], \"ports\": [] }", "missing 'nqn'" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ { \"portid\": 1, \"addr\": "
	  "{ \"trsvcid\": \"4420\", \"trtype\": \"tcp\" }, \"subsystems\": [ \"nqn.2026-04.io.x:a\" ] } ] }",
	  "missing 'addr.traddr'" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ { \"portid\": 1, \"addr\": "
	  "{ \"traddr\": \"127.0.0.1\", \"trtype\": \"tcp\" }, \"subsystems\": [ \"nqn.2026-04.io.x:a\" ] } ] }",
	  "missing 'addr.trsvcid'" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"namespaces\": [ { \"device\": "
	  "{ \"path\": \"/x\" } } ] } ], \"ports\": [] }", "missing 'nsid'" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"namespaces\": [ { \"nsid\": 1, "
	  "\"device\": { \"nguid\": \"23531b795cd84228a5ec9f5e0842db13\" } } ] } ], \"ports\": [] }",
	  "missing device.path" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"namespaces\": [ { \"nsid\": 1 } ] } ] }",
	  "missing 'device'" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ { \"addr\": {} } ] }", "missing 'portid'" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ] }", "no 'ports'" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [] }", "no usable port" },
	/* wrong values */
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ " PORT(1, "localhost", "4420", "") " ] }",
	  "not a numeric IPv4 or IPv6 address" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ " PORT(1, "::1", "4420", "") " ] }",
	  "is not an ipv4 address" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ " PORT(1, "127.0.0.1", "44x", "") " ] }",
	  "TCP port number" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ { \"portid\": \"one\", \"addr\": {} } ] }",
	  "'portid' value 'one' is not a number" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"attr\": { \"allow_any_host\": \"yes\" } } ],"
	  " \"ports\": [] }", "allow_any_host' must be 0 or 1" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"attr\": { \"serial\": "
	  "\"123456789012345678901\" } } ], \"ports\": [ " PORT(1, "127.0.0.1", "4420", "") " ] }",
	  "longer than 20" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"namespaces\": [ { \"nsid\": 1, "
	  "\"device\": { \"path\": \"/x\", \"nguid\": \"not-hex\" } } ] } ], \"ports\": [] }",
	  "device.nguid 'not-hex' is not 32 hex digits" },
	{ "{ \"subsystems\": [ " SUBSYS_A ", " SUBSYS_A " ], \"ports\": [ "
	  PORT(1, "127.0.0.1", "4420", "") " ] }", "duplicate subsystem nqn" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ " PORT(1, "127.0.0.1", "4420", "") ", "
	  PORT(1, "127.0.0.1", "4421", "") " ] }", "duplicate port id 1" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ { \"portid\": 1, \"addr\": { \"traddr\": "
	  "\"127.0.0.1\", \"trsvcid\": \"4420\" }, \"subsystems\": [ \"nqn.2026-04.io.x:b\" ] } ] }",
	  "subsystem 'nqn.2026-04.io.x:b' is not defined" },
	{ "{ \"subsystems\": [ " SUBSYS_A " ], \"ports\": [ " PORT(1, "127.0.0.1", "4420",
	  ", \"ana_groups\": [ { \"grpid\": 1, \"ana\": { \"state\": \"standby\" } } ]") " ] }",
	  "unknown state \"standby\"" },
	{ "{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\", \"subnqn\": \"nqn.2026-04.io.x:b\" } ] }",
	  "differ" },
	{ "{ \"subsystems\": { }, \"ports\": [] }", "'subsystems' must be a list" },
	{ "{ \"hosts\": [ 1 ], \"ports\": [] }", "host #1: missing 'nqn'" },
};

START_TEST(bad_import_rejected)
{
	import_fails(bad_imports[_i].json, bad_imports[_i].keyword);
}
END_TEST

START_TEST(values_as_strings_or_ints)
{
	struct nvb_config *cfg = import_ok(
		"{ \"subsystems\": [ { \"subnqn\": \"nqn.2026-04.io.x:a\", \"attr\": { \"allow_any_host\": 0,"
		"  \"serial\": 42 }, \"allowed_hosts\": [ \"nqn.2014-08.org.nvmexpress:uuid:1\" ],"
		"  \"namespaces\": [ { \"nsid\": \"7\", \"enable\": true, \"ana_grpid\": \"1\","
		"  \"device\": { \"path\": \"/dev/sdc\", \"uuid\": \"23531b79-5cd8-4228-a5ec-9f5e0842db13\" } } ] } ],"
		"  \"ports\": [ { \"portid\": \"9\", \"addr\": { \"trtype\": \"tcp\", \"adrfam\": \"ipv4\","
		"  \"traddr\": \"0.0.0.0\", \"trsvcid\": 4420 }, \"subsystems\": [ \"nqn.2026-04.io.x:a\" ],"
		"  \"ana_groups\": [ { \"grpid\": \"5\", \"ana\": { \"state\": \"inaccessible\" } } ] } ] }", NULL);

	ck_assert_str_eq(cfg->subsys[0].nqn, "nqn.2026-04.io.x:a");
	ck_assert_str_eq(cfg->subsys[0].serial, "42");
	ck_assert(!cfg->subsys[0].allow_any_host);
	ck_assert_str_eq(cfg->subsys[0].hosts[0], "nqn.2014-08.org.nvmexpress:uuid:1");
	ck_assert_uint_eq(cfg->subsys[0].ns[0].nsid, 7);
	ck_assert_uint_eq(cfg->subsys[0].ns[0].uuid[15], 0x13);
	ck_assert_uint_eq(cfg->ports[0].id, 9);
	ck_assert_str_eq(cfg->ports[0].addr, "0.0.0.0");
	ck_assert_str_eq(cfg->ports[0].svcid, "4420");
	ck_assert_uint_eq(cfg->ports[0].ana_group, 5);
	ck_assert_int_eq(cfg->nana_groups, 1);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_INACCESSIBLE);
	nvb_config_free(cfg);
}
END_TEST

/* A kernel port caught in the transition state: nvbridged cannot keep a
 * group there (hosts reset controllers left in it), so it comes in as
 * inaccessible, with one warning; the same group id in "change" and
 * "inaccessible" on two ports is then one group. */
START_TEST(change_state_imported_as_inaccessible)
{
	char *warnings = NULL;
	struct nvb_config *cfg = import_ok(
		"{ \"subsystems\": [ { \"nqn\": \"nqn.2026-04.io.x:a\" } ], \"ports\": ["
		"  { \"portid\": 1, \"addr\": { \"trtype\": \"tcp\", \"adrfam\": \"ipv4\","
		"    \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\" },"
		"    \"subsystems\": [ \"nqn.2026-04.io.x:a\" ],"
		"    \"ana_groups\": [ { \"grpid\": 3, \"ana\": { \"state\": \"change\" } } ] },"
		"  { \"portid\": 2, \"addr\": { \"trtype\": \"tcp\", \"adrfam\": \"ipv4\","
		"    \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4421\" },"
		"    \"subsystems\": [ \"nqn.2026-04.io.x:a\" ],"
		"    \"ana_groups\": [ { \"grpid\": 3,"
		"      \"ana\": { \"state\": \"inaccessible\" } } ] } ] }",
		&warnings);

	ck_assert_int_eq(cfg->nana_groups, 1);
	ck_assert_uint_eq(cfg->ana_groups[0].id, 3);
	ck_assert_int_eq(cfg->ana_groups[0].state, NVB_ANA_INACCESSIBLE);
	ck_assert_uint_eq(cfg->ports[0].ana_group, 3);
	ck_assert_uint_eq(cfg->ports[1].ana_group, 3);
	ck_assert_ptr_nonnull(warnings);
	ck_assert_str_eq(warnings, "warning: port 1: ANA group 3 is in state \"change\", which "
			 "nvbridged does not keep (hosts reset controllers left in it longer "
			 "than 2×ANATT); imported as inaccessible\n");
	free(warnings);
	nvb_config_free(cfg);
}
END_TEST

/* Bad input never crashes: chop the guide example at every length. */
START_TEST(truncated_json_everywhere)
{
	char *json = read_file("nvmetcli-guide.json");
	size_t len = strlen(json);

	for (size_t cut = 0; cut + 2 < len; cut++) {
		struct nvb_config *cfg;
		char *warnings;
		char saved = json[cut];

		json[cut] = '\0';
		ck_assert_int_eq(nvb_import_nvmetcli(json, &cfg, &warnings, err, sizeof(err)), -1);
		ck_assert_ptr_null(cfg);
		free(warnings);
		json[cut] = saved;
	}
	free(json);
}
END_TEST

static Suite *nvmetcli_suite(void)
{
	Suite *s = suite_create("nvmetcli");
	TCase *tc = tcase_create("import");

	tcase_add_test(tc, guide_example);
	tcase_add_test(tc, multipath_example);
	tcase_add_test(tc, same_group_different_states);
	tcase_add_test(tc, unsupported_fields_warn);
	tcase_add_test(tc, no_warnings_is_null);
	tcase_add_loop_test(tc, bad_import_rejected, 0,
			    (int)(sizeof(bad_imports) / sizeof(bad_imports[0])));
	tcase_add_test(tc, values_as_strings_or_ints);
	tcase_add_test(tc, change_state_imported_as_inaccessible);
	tcase_add_test(tc, truncated_json_everywhere);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(nvmetcli_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

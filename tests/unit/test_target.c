/* SPDX-License-Identifier: MIT */
/* The running target: lookups, hosts, controller IDs, namespace and ANA
 * changes with their events, and init failures (no reactors running). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/config.h"
#include "bridge/log.h"
#include "bridge/target.h"

#define SS1 "nqn.2026-01.io.nvbridge:one"
#define SS2 "nqn.2026-01.io.nvbridge:two"
#define HOST_A "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"
#define HOST_B "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-0000-0000-000000000002"

static const char test_conf[] =
	"ana_groups = (\n"
	"  { id = 1; state = \"optimized\"; },\n"
	"  { id = 2; state = \"non-optimized\"; }\n"
	");\n"
	"ports = (\n"
	"  { id = 1; address = \"127.0.0.1\"; port = 4420; ana_group = 1; },\n"
	"  { id = 2; address = \"127.0.0.1\"; port = 4421; ana_group = 2;\n"
	"    subsystems = [ \"" SS2 "\" ]; }\n"
	");\n"
	"subsystems = (\n"
	"  { nqn = \"" SS1 "\"; serial = \"SER1\"; allow_any_host = false;\n"
	"    hosts = [ \"" HOST_A "\" ];\n"
	"    namespaces = ( { nsid = 1; backend = \"ram\"; size = \"4M\"; },\n"
	"                   { nsid = 3; backend = \"ram\"; size = \"1M\"; lba_size = 4096; } ); },\n"
	"  { nqn = \"" SS2 "\"; allow_any_host = true; }\n"
	");\n";

static void build(const char *text)
{
	struct nvb_config *cfg;
	char err[1024] = "";

	ck_assert_msg(nvb_config_parse(text, "test.conf", &cfg, err, sizeof(err)) == 0,
		      "parse: %s", err);
	ck_assert_msg(nvb_target_init(cfg, err, sizeof(err)) == 0, "init: %s", err);
}

static void setup(void)
{
	nvb_log_set_level(NVB_LOG_ERR);
	build(test_conf);
}

static void teardown(void)
{
	nvb_target_shutdown();
	ck_assert_ptr_null(nvb_target());
}

/* A listener that records what it was told. */
struct recorder {
	struct nvb_listener l;
	int count;
	enum nvb_event ev;
	struct nvb_subsys *ss;
	uint32_t arg;
};

static void record(struct nvb_listener *l, enum nvb_event ev, struct nvb_subsys *ss, uint32_t arg)
{
	struct recorder *r = (struct recorder *)l;

	r->count++;
	r->ev = ev;
	r->ss = ss;
	r->arg = arg;
}

static struct nvb_subsys_conf *running_conf(const char *nqn)
{
	struct nvb_config *cfg = nvb_target()->cfg;

	for (int i = 0; i < cfg->nsubsys; i++)
		if (strcmp(cfg->subsys[i].nqn, nqn) == 0)
			return &cfg->subsys[i];
	return NULL;
}

static const struct nvb_ns_conf *running_ns(const char *nqn, uint32_t nsid)
{
	struct nvb_subsys_conf *sc = running_conf(nqn);

	for (int i = 0; sc && i < sc->nns; i++)
		if (sc->ns[i].nsid == nsid)
			return &sc->ns[i];
	return NULL;
}

START_TEST(test_lookups)
{
	struct nvb_target *t = nvb_target();
	struct nvb_subsys *ss1 = nvb_target_find_subsys(SS1), *ss2 = nvb_target_find_subsys(SS2);
	struct nvb_subsys *disc = nvb_target_find_subsys(NVB_DISCOVERY_NQN);
	struct nvb_ns *ns;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->nsubsys, 2);
	ck_assert_ptr_nonnull(ss1);
	ck_assert_ptr_nonnull(ss2);
	ck_assert_ptr_null(nvb_target_find_subsys("nqn.2026-01.io.nvbridge:none"));
	ck_assert_ptr_eq(disc, t->discovery);
	ck_assert(disc->is_discovery);
	ck_assert(disc->allow_any_host);
	ck_assert_str_eq(ss1->serial, "SER1");

	ck_assert_int_eq(t->nana_groups, 2);
	ck_assert_int_eq(t->nports, 2);
	ck_assert_ptr_eq(t->ports[0].ana, nvb_target_find_ana_group(1));
	ck_assert_ptr_eq(t->ports[1].ana, nvb_target_find_ana_group(2));
	ck_assert_int_eq(atomic_load(&t->ports[1].ana->state), NVB_ANA_NON_OPTIMIZED);
	ck_assert_ptr_null(nvb_target_find_ana_group(9));
	ck_assert(nvb_port_exports(&t->ports[0], ss1));
	ck_assert(!nvb_port_exports(&t->ports[1], ss1));
	ck_assert(nvb_port_exports(&t->ports[1], ss2));
	ck_assert(nvb_port_exports(&t->ports[1], disc));

	ns = nvb_ns_get(ss1, 1);
	ck_assert_ptr_nonnull(ns);
	ck_assert_uint_eq(atomic_load(&ns->nblocks), (4u << 20) / 512);
	nvb_ns_put(ns);
	ns = nvb_ns_get(ss1, 3);
	ck_assert_ptr_nonnull(ns);
	ck_assert_uint_eq(ns->lba_shift, 12);
	nvb_ns_put(ns);
	ck_assert_ptr_null(nvb_ns_get(ss1, 2));
	ck_assert_uint_eq(nvb_subsys_max_nsid(ss1), 3);
	ck_assert_uint_eq(nvb_subsys_max_nsid(ss2), 1);      /* no namespaces: still 1 */
}
END_TEST

START_TEST(test_hosts)
{
	struct nvb_subsys *ss1 = nvb_target_find_subsys(SS1), *ss2 = nvb_target_find_subsys(SS2);
	struct recorder rec = { .l.fn = record };
	char err[512];

	nvb_target_listen(&rec.l);
	ck_assert(nvb_subsys_host_allowed(ss1, HOST_A));
	ck_assert(!nvb_subsys_host_allowed(ss1, HOST_B));
	ck_assert(nvb_subsys_host_allowed(ss2, HOST_B));     /* allow_any_host */

	ck_assert_int_eq(nvb_subsys_allow_host(ss1, HOST_B, true, err, sizeof(err)), 0);
	ck_assert(nvb_subsys_host_allowed(ss1, HOST_B));
	ck_assert_int_eq(running_conf(SS1)->nhosts, 2);
	ck_assert_int_eq(rec.count, 0);                      /* allowing drops nobody */
	/* Allowing twice is harmless and does not duplicate the entry. */
	ck_assert_int_eq(nvb_subsys_allow_host(ss1, HOST_B, true, err, sizeof(err)), 0);
	ck_assert_int_eq(ss1->nhosts, 2);

	ck_assert_int_eq(nvb_subsys_allow_host(ss1, HOST_A, false, err, sizeof(err)), 0);
	ck_assert(!nvb_subsys_host_allowed(ss1, HOST_A));
	ck_assert_int_eq(running_conf(SS1)->nhosts, 1);
	ck_assert_str_eq(running_conf(SS1)->hosts[0], HOST_B);
	ck_assert_int_eq(rec.count, 1);
	ck_assert_int_eq(rec.ev, NVB_EV_HOSTS_CHANGED);
	ck_assert_ptr_eq(rec.ss, ss1);

	ck_assert_int_eq(nvb_subsys_allow_host(ss1, HOST_A, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not in the allowed list"), "%s", err);
	ck_assert_int_eq(nvb_subsys_allow_host(ss1, "not-an-nqn", true, err, sizeof(err)), -1);
	ck_assert_int_eq(nvb_subsys_allow_host(nvb_target()->discovery, HOST_A, false, err,
					       sizeof(err)), -1);
	ck_assert_int_eq(rec.count, 1);
	nvb_target_unlisten(&rec.l);
}
END_TEST

START_TEST(test_cntlid)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct nvb_subsys *other = nvb_target_find_subsys(SS2);
	uint16_t a, b;

	a = nvb_subsys_alloc_cntlid(ss);
	b = nvb_subsys_alloc_cntlid(ss);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, 2);
	ck_assert_uint_eq(nvb_subsys_alloc_cntlid(other), 1);    /* per subsystem */

	/* Use every ID: all distinct, within 1..FFEFh, then none left. */
	for (unsigned i = 3; i <= NVB_MAX_CNTLID; i++) {
		uint16_t id = nvb_subsys_alloc_cntlid(ss);

		ck_assert_uint_ge(id, 1);
		ck_assert_uint_le(id, NVB_MAX_CNTLID);
		ck_assert_uint_eq(id, i);       /* fresh IDs come in order */
	}
	ck_assert_uint_eq(nvb_subsys_alloc_cntlid(ss), 0);
	/* A freed ID is handed out again, and only that one. */
	nvb_subsys_free_cntlid(ss, 777);
	ck_assert_uint_eq(nvb_subsys_alloc_cntlid(ss), 777);
	ck_assert_uint_eq(nvb_subsys_alloc_cntlid(ss), 0);
	nvb_subsys_free_cntlid(ss, 2);
	nvb_subsys_free_cntlid(ss, 0);          /* out of range: ignored */
	nvb_subsys_free_cntlid(ss, 0xFFFF);
	ck_assert_uint_eq(nvb_subsys_alloc_cntlid(ss), 2);
}
END_TEST

START_TEST(test_cntlid_no_immediate_reuse)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	uint16_t a = nvb_subsys_alloc_cntlid(ss);

	/* A just-freed ID is not the very next one handed out: a host that
	 * reconnects quickly gets a new controller ID. */
	nvb_subsys_free_cntlid(ss, a);
	ck_assert_uint_ne(nvb_subsys_alloc_cntlid(ss), a);
}
END_TEST

START_TEST(test_add_remove_resize)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct recorder rec = { .l.fn = record };
	struct nvb_ns_conf c = { .nsid = 5, .backend = NVB_BACKEND_RAM, .size = 1 << 20,
				 .lba_size = 512, .volatile_write_cache = true };
	const struct nvb_ns_conf *rc;
	unsigned changes = atomic_load(&ss->ns_change_count);
	struct nvb_ns *ns;
	char err[512];
	static const uint8_t zero[16];

	nvb_target_listen(&rec.l);
	ck_assert_msg(nvb_subsys_add_ns(ss, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(rec.count, 1);
	ck_assert_int_eq(rec.ev, NVB_EV_NS_CHANGED);
	ck_assert_ptr_eq(rec.ss, ss);
	ck_assert_uint_eq(rec.arg, 5);
	ck_assert_uint_eq(atomic_load(&ss->ns_change_count), changes + 1);
	ck_assert_uint_eq(nvb_subsys_max_nsid(ss), 5);
	ns = nvb_ns_get(ss, 5);
	ck_assert_ptr_nonnull(ns);
	ck_assert_uint_eq(atomic_load(&ns->nblocks), 2048);
	ck_assert(memcmp(ns->conf.nguid, zero, 16) != 0);       /* derived */
	nvb_ns_put(ns);
	/* The running config has it too, identifiers included (for save). */
	rc = running_ns(SS1, 5);
	ck_assert_ptr_nonnull(rc);
	ck_assert_uint_eq(rc->size, 1 << 20);
	ck_assert(memcmp(rc->nguid, zero, 16) != 0);

	/* Refused: duplicate, bad NSID, bad LBA size, ram without size, unaligned size. */
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "already exists"), "%s", err);
	c.nsid = 0;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.nsid = NVB_MAX_NSID + 1;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.nsid = 6;
	c.lba_size = 1024;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.lba_size = 4096;
	c.size = 4096 * 3 + 512;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.size = 0;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.backend = NVB_BACKEND_FILE;
	c.path = NULL;
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	c.path = (char *)"/nonexistent-dir/nvbridge-test.img";
	ck_assert_int_eq(nvb_subsys_add_ns(ss, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nvbridge-test.img"), "%s", err);
	ck_assert_msg(strncmp(err, "test.conf:", 10) != 0, "no config line at run time: %s", err);
	ck_assert_int_eq(nvb_subsys_add_ns(nvb_target()->discovery, &c, err, sizeof(err)), -1);
	ck_assert_int_eq(rec.count, 1);
	ck_assert_ptr_null(nvb_ns_get(ss, 6));

	/* Resize: grow, shrink, then refuse a partial block and a missing namespace. */
	ck_assert_msg(nvb_subsys_resize_ns(ss, 5, 2 << 20, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(rec.count, 2);
	ck_assert_uint_eq(rec.arg, 5);
	ns = nvb_ns_get(ss, 5);
	ck_assert_uint_eq(atomic_load(&ns->nblocks), 4096);
	nvb_ns_put(ns);
	ck_assert_uint_eq(running_ns(SS1, 5)->size, 2 << 20);
	ck_assert_int_eq(nvb_subsys_resize_ns(ss, 5, 512 * 1024, err, sizeof(err)), 0);
	ck_assert_int_eq(nvb_subsys_resize_ns(ss, 5, 1000, err, sizeof(err)), -1);
	ck_assert_int_eq(nvb_subsys_resize_ns(ss, 5, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(nvb_subsys_resize_ns(ss, 9, 1 << 20, err, sizeof(err)), -1);
	ck_assert_int_eq(rec.count, 3);

	/* Remove: gone from lookups and the running config; NN stays. */
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 5, err, sizeof(err)), 0);
	ck_assert_int_eq(rec.count, 4);
	ck_assert_uint_eq(rec.arg, 5);
	ck_assert_ptr_null(nvb_ns_get(ss, 5));
	ck_assert_ptr_null(running_ns(SS1, 5));
	ck_assert_int_eq(running_conf(SS1)->nns, 2);
	ck_assert_uint_eq(nvb_subsys_max_nsid(ss), 5);
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 5, err, sizeof(err)), -1);
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 0, err, sizeof(err)), -1);
	ck_assert_int_eq(rec.count, 4);
	nvb_target_unlisten(&rec.l);
}
END_TEST

START_TEST(test_remove_keeps_held_reference)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct nvb_ns *ns = nvb_ns_get(ss, 1);
	char err[256];

	/* A command in flight holds a reference: the namespace outlives removal. */
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 1, err, sizeof(err)), 0);
	ck_assert_ptr_null(nvb_ns_get(ss, 1));
	ck_assert_uint_eq(ns->nsid, 1);
	ck_assert_int_eq(atomic_load(&ns->refs), 1);
	nvb_ns_put(ns);
}
END_TEST

START_TEST(test_remove_with_reactors)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct nvb_ns_conf c = { .nsid = 9, .backend = NVB_BACKEND_RAM, .size = 1 << 20,
				 .lba_size = 512 };
	char err[256];

	/* With reactors running, removal waits for a grace period first. */
	ck_assert_int_eq(nvb_reactors_start(2), 0);
	ck_assert_msg(nvb_subsys_add_ns(ss, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 9, err, sizeof(err)), 0);
	ck_assert_int_eq(nvb_subsys_remove_ns(ss, 1, err, sizeof(err)), 0);
	ck_assert_ptr_null(nvb_ns_get(ss, 1));
	nvb_reactors_stop();
}
END_TEST

START_TEST(test_ana_state)
{
	struct recorder rec = { .l.fn = record };
	struct nvb_ana_group *g = nvb_target_find_ana_group(2);
	char err[256];

	nvb_target_listen(&rec.l);
	ck_assert_int_eq(nvb_ana_group_set_state(2, NVB_ANA_INACCESSIBLE, err, sizeof(err)), 0);
	ck_assert_int_eq(atomic_load(&g->state), NVB_ANA_INACCESSIBLE);
	ck_assert_uint_eq(atomic_load(&g->change_count), 1);
	ck_assert_int_eq(rec.count, 1);
	ck_assert_int_eq(rec.ev, NVB_EV_ANA_CHANGED);
	ck_assert_ptr_null(rec.ss);
	ck_assert_uint_eq(rec.arg, 2);
	ck_assert_int_eq(nvb_target()->cfg->ana_groups[1].state, NVB_ANA_INACCESSIBLE);

	ck_assert_int_eq(nvb_ana_group_set_state(7, NVB_ANA_OPTIMIZED, err, sizeof(err)), -1);
	ck_assert_int_eq(nvb_ana_group_set_state(2, (enum nvb_ana_state)9, err, sizeof(err)), -1);
	ck_assert_int_eq(rec.count, 1);
	nvb_target_unlisten(&rec.l);
	/* After unlisten, nothing more arrives. */
	ck_assert_int_eq(nvb_ana_group_set_state(2, NVB_ANA_OPTIMIZED, err, sizeof(err)), 0);
	ck_assert_int_eq(rec.count, 1);
}
END_TEST

START_TEST(test_init_missing_file)
{
	static const char bad[] =
		"ana_groups = ( { id = 1; state = \"optimized\"; } );\n"
		"ports = ( { id = 1; address = \"127.0.0.1\"; port = 4420; ana_group = 1; } );\n"
		"subsystems = (\n"
		"  { nqn = \"" SS1 "\"; allow_any_host = true;\n"
		"    namespaces = ( { nsid = 1; backend = \"ram\"; size = \"1M\"; },\n"
		"      { nsid = 2; backend = \"file\"; path = \"/nonexistent-dir/missing.img\"; } ); }\n"
		");\n";
	struct nvb_config *cfg;
	char err[1024] = "";

	nvb_log_set_level(NVB_LOG_ERR);
	ck_assert_msg(nvb_config_parse(bad, "test.conf", &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(nvb_target_init(cfg, err, sizeof(err)), -1);   /* frees cfg */
	ck_assert_msg(strncmp(err, "test.conf:6:", 12) == 0, "%s", err);
	ck_assert_msg(strstr(err, "missing.img"), "%s", err);
	ck_assert_ptr_null(nvb_target());
	nvb_target_shutdown();          /* harmless with no target */
}
END_TEST

START_TEST(test_init_twice)
{
	struct nvb_config *cfg;
	char err[512];

	ck_assert_int_eq(nvb_config_parse(test_conf, "again.conf", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(nvb_target_init(cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(nvb_target());
}
END_TEST

static Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("running");
	TCase *tc_init = tcase_create("init");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lookups);
	tcase_add_test(tc, test_hosts);
	tcase_add_test(tc, test_cntlid);
	tcase_add_test(tc, test_cntlid_no_immediate_reuse);
	tcase_add_test(tc, test_add_remove_resize);
	tcase_add_test(tc, test_remove_keeps_held_reference);
	tcase_add_test(tc, test_remove_with_reactors);
	tcase_add_test(tc, test_ana_state);
	tcase_add_test(tc, test_init_twice);
	suite_add_tcase(s, tc);
	tcase_add_test(tc_init, test_init_missing_file);
	suite_add_tcase(s, tc_init);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(target_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: MIT */
/*
 * Fixture pieces the unit tests share: removing a test's temporary tree and
 * unpublishing the namespaces a test published by hand. Header-only (static
 * inline), so each test program takes what it uses.
 */
#ifndef NVB_TESTS_UNIT_TESTLIB_H
#define NVB_TESTS_UNIT_TESTLIB_H

#include <check.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include "bridge/target.h"

static inline int test_rm_entry(const char *path, const struct stat *st, int flag,
				struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* rm -rf, without forking a shell from a big (ASan) process. */
static inline void test_remove_tree(const char *dir)
{
	ck_assert_int_eq(nftw(dir, test_rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Unpublish ss->ns[nsid] and drop the table's reference, checking that every
 * command gave its own reference back first. */
static inline void test_unpublish_ns(struct nvb_subsys *ss, uint32_t nsid)
{
	struct nvb_ns *ns = atomic_exchange(&ss->ns[nsid], NULL);

	if (ns) {
		ck_assert_int_eq(atomic_load(&ns->refs), 1);
		nvb_ns_put(ns);
	}
}

static inline void test_unpublish_all(struct nvb_subsys *ss)
{
	for (uint32_t nsid = 1; nsid <= NVB_MAX_NSID; nsid++)
		test_unpublish_ns(ss, nsid);
}

#endif

# `make lint`: cppcheck over bridge/ nvmetcp/ iscsi/ daemon/ tests/ and
# clang-tidy over bridge/ nvmetcp/ iscsi/ daemon/; fails on any finding that
# tests/lint-suppressions.txt does not list (with its reason) as a false
# positive. Not part of `make check`: it needs both tools (Debian packages
# cppcheck and clang-tidy) and takes a minute or two.
CPPCHECK = cppcheck
CLANG_TIDY = clang-tidy
LINT_JOBS = 2
# What clang-tidy must know to compile the sources, as the build does.
LINT_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I$(abs_top_srcdir) -I$(abs_top_builddir) \
	-DNVB_SYSCONFDIR='"$(sysconfdir)"' -DNVB_RUNSTATEDIR='"$(localstatedir)/run"' \
	$(LIBNVME_CFLAGS) $(LIBURING_CFLAGS) $(LIBCONFIG_CFLAGS) $(JSONC_CFLAGS) \
	$(LIBISAL_CFLAGS)

lint:
	CPPCHECK='$(CPPCHECK)' CLANG_TIDY='$(CLANG_TIDY)' LINT_JOBS='$(LINT_JOBS)' \
		$(SHELL) $(srcdir)/tests/lint.sh '$(abs_top_srcdir)' '$(abs_top_builddir)' \
		$(LINT_CFLAGS)
.PHONY: lint

dist_noinst_SCRIPTS += tests/lint.sh
EXTRA_DIST += tests/lint-suppressions.txt

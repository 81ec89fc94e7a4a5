# tests/unit: the running target (bridge/target.c) and the control socket
# (bridge/ctl.c, bridge/ctl_methods.c).
check_PROGRAMS += tests/unit/test_target tests/unit/test_ctl
TESTS += tests/unit/test_target tests/unit/test_ctl

tests_unit_test_target_SOURCES = tests/unit/test_target.c
tests_unit_test_target_CFLAGS = $(TEST_CFLAGS) -DTEST_SRCDIR='"$(srcdir)"'
tests_unit_test_target_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_ctl_SOURCES = tests/unit/test_ctl.c
tests_unit_test_ctl_CFLAGS = $(TEST_CFLAGS) -DTEST_SRCDIR='"$(srcdir)"'
tests_unit_test_ctl_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

# The control protocol's reference (docs/ctl.md) ships with the sources.
EXTRA_DIST += docs/ctl.md

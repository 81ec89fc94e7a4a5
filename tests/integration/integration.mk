# tests/integration/: scenarios against a running nvbridged, through the
# userspace host library. Each .sh driver starts its own daemon (see lib.sh)
# and runs nvb-itest or nvb-hostile against it.
check_PROGRAMS += tests/integration/nvb-itest tests/integration/nvb-hostile

INTEGRATION_COMMON = \
	tests/integration/itest.h tests/integration/itest_common.c \
	tests/integration/rawpdu.h tests/integration/rawpdu.c

tests_integration_nvb_itest_SOURCES = tests/integration/nvb-itest.c \
	$(INTEGRATION_COMMON) \
	tests/integration/itest_io.c tests/integration/itest_ana.c \
	tests/integration/itest_keepalive.c tests/integration/itest_hosts.c \
	tests/integration/itest_ns.c tests/integration/itest_errors.c \
	tests/integration/itest_imported.c tests/integration/itest_sigterm.c \
	tests/integration/itest_resv.c
tests_integration_nvb_itest_CFLAGS = $(TEST_CFLAGS)
tests_integration_nvb_itest_LDADD = nvmetcp/libnvmehost.a $(BRIDGE_LIBS) $(TEST_LIBS)

tests_integration_nvb_hostile_SOURCES = tests/integration/nvb-hostile.c \
	$(INTEGRATION_COMMON) \
	tests/integration/hostile.h tests/integration/hostile_cases.c
tests_integration_nvb_hostile_CFLAGS = $(TEST_CFLAGS)
tests_integration_nvb_hostile_LDADD = nvmetcp/libnvmehost.a $(BRIDGE_LIBS) $(TEST_LIBS)

INTEGRATION_TESTS = \
	tests/integration/bad-config.sh \
	tests/integration/itest-io.sh \
	tests/integration/itest-discovery-ana.sh \
	tests/integration/itest-keepalive.sh \
	tests/integration/itest-hosts.sh \
	tests/integration/itest-ns-change.sh \
	tests/integration/itest-errors.sh \
	tests/integration/nvmetcli-import.sh \
	tests/integration/sigterm.sh \
	tests/integration/itest-resv.sh \
	tests/integration/hostile.sh

TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh

# The drivers find the daemon, the CLI and the test programs through these.
AM_TESTS_ENVIRONMENT = NVB_BUILDDIR='$(abs_top_builddir)' NVB_SRCDIR='$(abs_top_srcdir)'; \
	export NVB_BUILDDIR NVB_SRCDIR;

# Unit tests: config parser/writer, identifiers, nvmetcli import.
check_PROGRAMS += tests/unit/test_config tests/unit/test_nvmetcli
TESTS += tests/unit/test_config tests/unit/test_nvmetcli

tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(TEST_CFLAGS) -DTEST_SRCDIR='"$(srcdir)"'
tests_unit_test_config_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_nvmetcli_SOURCES = tests/unit/test_nvmetcli.c
tests_unit_test_nvmetcli_CFLAGS = $(TEST_CFLAGS) -DTEST_SRCDIR='"$(srcdir)"'
tests_unit_test_nvmetcli_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

EXTRA_DIST += tests/data/full.conf tests/data/nvmetcli-guide.json \
	tests/data/nvmetcli-multipath.json

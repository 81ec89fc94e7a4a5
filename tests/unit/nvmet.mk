# tests/unit: the NVMe-oF controller core (nvmetcp/ctrl.c, fabrics.c, admin.c,
# discovery.c, io.c) through a fake transport, without sockets.
check_PROGRAMS += tests/unit/test_nvmet
TESTS += tests/unit/test_nvmet

tests_unit_test_nvmet_SOURCES = tests/unit/test_nvmet.c
tests_unit_test_nvmet_CFLAGS = $(TEST_CFLAGS) -DTEST_SRCDIR='"$(srcdir)"'
tests_unit_test_nvmet_LDADD = nvmetcp/libnvmetcp.a $(BRIDGE_LIBS) $(TEST_LIBS)

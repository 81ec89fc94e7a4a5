# tests/unit/pdu.mk: NVMe/TCP PDU rules (nvmetcp/pdu.c) and the userspace
# host library (nvmetcp/host*.c, tested against a fake target in-process).
check_PROGRAMS += tests/unit/test_pdu tests/unit/test_host
TESTS += tests/unit/test_pdu tests/unit/test_host

tests_unit_test_pdu_SOURCES = tests/unit/test_pdu.c
tests_unit_test_pdu_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_pdu_LDADD = nvmetcp/libnvmehost.a $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_host_SOURCES = tests/unit/test_host.c
tests_unit_test_host_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_host_LDADD = nvmetcp/libnvmehost.a $(BRIDGE_LIBS) $(TEST_LIBS)

# tests/unit: namespace reservations (bridge/resv.c) and fused Compare and
# Write through the executor.
check_PROGRAMS += tests/unit/test_resv
TESTS += tests/unit/test_resv

tests_unit_test_resv_SOURCES = tests/unit/test_resv.c
tests_unit_test_resv_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_resv_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

# tests/unit: reactors and buffer pool, backends, the I/O executor.
check_PROGRAMS += tests/unit/test_reactor tests/unit/test_backend tests/unit/test_executor
TESTS += tests/unit/test_reactor tests/unit/test_backend tests/unit/test_executor

tests_unit_test_reactor_SOURCES = tests/unit/test_reactor.c
tests_unit_test_reactor_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_reactor_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_backend_SOURCES = tests/unit/test_backend.c
tests_unit_test_backend_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_backend_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_executor_SOURCES = tests/unit/test_executor.c
tests_unit_test_executor_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_executor_LDADD = $(BRIDGE_LIBS) $(TEST_LIBS)

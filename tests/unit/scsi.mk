# tests/unit: the SCSI → NVMe translation (iscsi/scsi*.c) on ram namespaces.
check_PROGRAMS += tests/unit/test_scsi
TESTS += tests/unit/test_scsi

tests_unit_test_scsi_SOURCES = tests/unit/test_scsi.c
tests_unit_test_scsi_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_scsi_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)

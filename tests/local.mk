# tests/: each area keeps its own fragment.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CHECK_LIBS)
EXTRA_DIST += tests/unit/testlib.h

include $(srcdir)/tests/unit/config.mk
include $(srcdir)/tests/unit/pdu.mk
include $(srcdir)/tests/unit/exec.mk
include $(srcdir)/tests/unit/target.mk
include $(srcdir)/tests/unit/nvmet.mk
include $(srcdir)/tests/unit/iscsi.mk
include $(srcdir)/tests/unit/scsi.mk
include $(srcdir)/tests/unit/resv.mk
include $(srcdir)/tests/lint.mk
include $(srcdir)/tests/bench/bench.mk
include $(srcdir)/tests/integration/integration.mk
include $(srcdir)/tests/vm/vm.mk

# The VM tests run in `make check` unless configured with --disable-vm-tests;
# `make check-vm` runs only them.
if VM_TESTS_ENABLED
TESTS += $(VM_TESTS)
endif
check-vm:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(VM_TESTS)'
.PHONY: check-vm

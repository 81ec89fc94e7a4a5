# tests/: each area keeps its own fragment.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CHECK_LIBS)

include $(srcdir)/tests/unit/config.mk
include $(srcdir)/tests/unit/pdu.mk
include $(srcdir)/tests/unit/exec.mk
include $(srcdir)/tests/unit/target.mk
include $(srcdir)/tests/unit/nvmet.mk
include $(srcdir)/tests/bench/bench.mk
include $(srcdir)/tests/integration/integration.mk

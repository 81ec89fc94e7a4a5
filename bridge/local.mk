# bridge/: the transport-independent core (libbridge.a).
noinst_LIBRARIES += bridge/libbridge.a
bridge_libbridge_a_SOURCES = \
	bridge/nvme.h bridge/log.h bridge/log.c \
	bridge/crc32c.h bridge/crc32c.c bridge/iov.h \
	bridge/config.h bridge/config.c bridge/config_write.c bridge/ids.c \
	bridge/nvmetcli_import.c \
	bridge/reactor.h bridge/reactor_internal.h bridge/reactor.c \
	bridge/backend.h bridge/backend.c bridge/backend_file.c bridge/backend_ram.c \
	bridge/bufpool.h bridge/bufpool.c \
	bridge/executor.h bridge/executor.c bridge/ns.c \
	bridge/resv.h bridge/resv.c \
	bridge/target.h bridge/target.c bridge/stats.c \
	bridge/frontend.h \
	bridge/ctl.h bridge/ctl.c bridge/ctl_methods.c

BRIDGE_LIBS = bridge/libbridge.a $(LIBURING_LIBS) $(LIBCONFIG_LIBS) $(JSONC_LIBS) \
	$(LIBISAL_LIBS) $(LIBNVME_LIBS)

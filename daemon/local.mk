# The programs: nvbridged (the daemon) and nvbridgectl (its admin CLI).
sbin_PROGRAMS += daemon/nvbridged
daemon_nvbridged_SOURCES = daemon/nvbridged.c
daemon_nvbridged_LDADD = nvmetcp/libnvmetcp.a iscsi/libiscsitgt.a $(BRIDGE_LIBS)

bin_PROGRAMS += daemon/nvbridgectl
daemon_nvbridgectl_SOURCES = daemon/nvbridgectl.c
daemon_nvbridgectl_LDADD = $(BRIDGE_LIBS)

# etc/: the example config and the systemd unit.
# demo.conf is installed as an example next to where the unit expects the real
# config (/etc/nvbridge/nvbridged.conf); the unit goes under $(prefix) so that
# `make distcheck`, which installs into a temporary prefix, never writes to /.
nvbridgeconfdir = $(sysconfdir)/nvbridge
dist_nvbridgeconf_DATA = etc/demo.conf

systemdunitdir = $(prefix)/lib/systemd/system
dist_systemdunit_DATA = etc/nvbridged.service

EXTRA_DIST += etc/demo.conf etc/nvbridged.service docs/config.md

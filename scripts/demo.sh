#!/bin/sh
# Build nvbridge and run nvbridged in the foreground on etc/demo.conf:
# a 1 GiB namespace on 127.0.0.1, NVMe/TCP ports 4420 (ANA optimized) and
# 4421 (ANA non-optimized), discovery on both. Ctrl-C stops it cleanly.
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh
[ -x configure ] || ./autogen.sh
mkdir -p build
cd build
[ -f Makefile ] || ../configure --quiet
make -j"$(nproc)" >/dev/null
cd ..

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# The demo namespace is a sparse 1 GiB file (see etc/demo.conf).
$SUDO mkdir -p /var/lib/nvbridge
[ -f /var/lib/nvbridge/demo.img ] || $SUDO truncate -s 1G /var/lib/nvbridge/demo.img

NQN=nqn.2026-04.io.nvbridge:demo
cat <<MSG
nvbridged is starting on etc/demo.conf. From an initiator with nvme-cli (modprobe nvme-tcp):
  nvme discover -t tcp -a 127.0.0.1 -s 4420
  nvme connect  -t tcp -a 127.0.0.1 -s 4420 -n $NQN     # ANA optimized path
  nvme connect  -t tcp -a 127.0.0.1 -s 4421 -n $NQN     # ANA non-optimized path
  nvme list-subsys; nvme disconnect -n $NQN
Administer it from another shell:
  build/daemon/nvbridgectl list namespaces
  build/daemon/nvbridgectl set-ana 1 inaccessible
Stop with Ctrl-C (or SIGTERM).
MSG
exec $SUDO build/daemon/nvbridged -c etc/demo.conf

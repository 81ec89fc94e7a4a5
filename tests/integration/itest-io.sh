#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (I/O): admin + 4 I/O queues on two controllers (one with
# in-capsule writes, one R2T only), 256 MiB of random data written in mixed
# sizes up to 1 MiB and read back across queues; without digests, then with
# header and data digests. A ram namespace (512-byte LBAs) and a file one
# (4 KiB LBAs). NVB_IO_MIB changes the volume.
. "$(dirname "$0")/lib.sh"

MIB=${NVB_IO_MIB:-256}

io_conf() {
	nvb_one_port_conf "$1" info \
		"ram 256M 512" "file $T/disk.img 128M 4096"
}

nvb_mkfile "$T/disk.img" 128M
nvb_start_daemon io 1 io_conf
nvb_run "$NVB_ITEST" io --port "$PORT1" --nqn "$NQN" --mib "$MIB" --seed 1
nvb_run "$NVB_ITEST" io --port "$PORT1" --nqn "$NQN" --mib "$MIB" --seed 2 --hdgst --ddgst
nvb_ctl stats || nvb_fail "nvbridgectl stats failed"
nvb_stop_daemon

#!/bin/bash
# SPDX-License-Identifier: MIT
# NVMe error statuses: LBA out of range, invalid opcode, invalid namespace,
# Compare, Write Zeroes, deallocate, Flush, refused I/O queue Connects, on a
# ram and a file namespace; the statistics count the errors.
. "$(dirname "$0")/lib.sh"

err_conf() {
	nvb_one_port_conf "$1" info \
		"ram 16M 512" "file $T/disk.img 16M 4096"
}

nvb_mkfile "$T/disk.img" 16M
nvb_start_daemon errors 1 err_conf
nvb_run "$NVB_ITEST" errors --port "$PORT1" --nqn "$NQN" --socket "$SOCK"
nvb_stop_daemon

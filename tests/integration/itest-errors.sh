#!/bin/bash
# SPDX-License-Identifier: MIT
# NVMe error statuses: LBA out of range, invalid opcode, invalid namespace,
# Compare, Write Zeroes, deallocate, Flush, refused I/O queue Connects, on a
# ram and a file namespace; the statistics count the errors.
. "$(dirname "$0")/lib.sh"

err_conf() {
	cat >"$1" <<CONF
reactors = 2;
log_level = "info";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; } );
ports = ( { id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; } );
subsystems = ( {
	nqn = "$NQN";
	allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; size = "16M"; lba_size = 512; },
		{ nsid = 2; backend = "file"; path = "$T/disk.img"; size = "16M"; lba_size = 4096; }
	);
} );
CONF
}

nvb_mkfile "$T/disk.img" 16M
nvb_start_daemon errors 1 err_conf
nvb_run "$NVB_ITEST" errors --port "$PORT1" --nqn "$NQN" --socket "$SOCK"
nvb_stop_daemon

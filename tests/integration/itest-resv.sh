#!/bin/bash
# SPDX-License-Identifier: MIT
# Reservations on the NVMe/TCP front end (docs/reservations.md): two hosts
# (different Host Identifiers and NQNs) through two ports; Write Exclusive
# by one fences the other's writes; fused Compare and Write pairs, with
# concurrent compare-and-write increments and plain writes; PTPL keeps the
# reservation across a daemon restart (a file namespace: <image>.resv).
. "$(dirname "$0")/lib.sh"

HOSTA=nqn.2026-04.io.nvbridge:host:resv-a
HOSTB=nqn.2026-04.io.nvbridge:host:resv-b

resv_conf() {
	cat >"$1" <<CONF
reactors = 2;
log_level = "info";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; } );
ports = (
	{ id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; },
	{ id = 2; address = "127.0.0.1"; port = $PORT2; ana_group = 1; }
);
subsystems = ( {
	nqn = "$NQN";
	allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "file"; path = "$T/disk.img"; size = "16M"; lba_size = 512; } );
} );
CONF
}

nvb_mkfile "$T/disk.img" 16M
nvb_start_daemon resv 2 resv_conf
nvb_run "$NVB_ITEST" resv --port "$PORT1" --port "$PORT2" --nqn "$NQN" \
	--hostnqn "$HOSTA" --hostnqn2 "$HOSTB"
nvb_run "$NVB_ITEST" resv-ptpl-set --port "$PORT1" --port "$PORT2" --nqn "$NQN" \
	--hostnqn "$HOSTA" --hostnqn2 "$HOSTB"
[ -s "$T/disk.img.resv" ] || nvb_fail "no reservation state file next to the image"
nvb_stop_daemon

nvb_start_daemon resv2 2 resv_conf
nvb_run "$NVB_ITEST" resv-ptpl-check --port "$PORT1" --port "$PORT2" --nqn "$NQN" \
	--hostnqn "$HOSTA" --hostnqn2 "$HOSTB"
[ -e "$T/disk.img.resv" ] && nvb_fail "PTPL off left the state file behind"
nvb_stop_daemon

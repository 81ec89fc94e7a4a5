#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (keep-alive): a host that stops sending Keep Alive (KATO 2 s)
# is dropped within about 2 x KATO and disappears from list-controllers,
# while a host that keeps talking is served throughout.
. "$(dirname "$0")/lib.sh"

ka_conf() {
	cat >"$1" <<CONF
reactors = 2;
log_level = "info";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; } );
ports = ( { id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; } );
subsystems = ( {
	nqn = "$NQN";
	allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "16M"; lba_size = 512; } );
} );
CONF
}

nvb_start_daemon ka 1 ka_conf
nvb_run "$NVB_ITEST" keepalive --port "$PORT1" --nqn "$NQN" --socket "$SOCK"
nvb_ctl list controllers || nvb_fail "nvbridgectl list controllers failed"
nvb_stop_daemon

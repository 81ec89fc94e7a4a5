#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (resize): resize-namespace makes the new size visible with a
# namespace-changed AEN; add-namespace and remove-namespace likewise.
. "$(dirname "$0")/lib.sh"

ns_conf() {
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
		{ nsid = 1; backend = "ram"; size = "32M"; lba_size = 512; },
		{ nsid = 2; backend = "file"; path = "$T/disk.img"; size = "16M"; lba_size = 4096; }
	);
} );
CONF
}

nvb_mkfile "$T/disk.img" 16M
nvb_start_daemon ns 1 ns_conf
nvb_run "$NVB_ITEST" ns-change --port "$PORT1" --nqn "$NQN" --socket "$SOCK"

# The CLI's version of the same: add, list, resize, remove.
nvb_ctl add-ns "$NQN" 5 --backend ram --size 8M || nvb_fail "add-ns failed"
nvb_ctl list namespaces | tee "$T/ns.txt" || nvb_fail "list namespaces failed"
grep -qE '(^| )5 ' "$T/ns.txt" || nvb_fail "list namespaces does not show nsid 5"
nvb_ctl resize-ns "$NQN" 5 16M || nvb_fail "resize-ns failed"
nvb_ctl remove-ns "$NQN" 5 || nvb_fail "remove-ns failed"
nvb_ctl remove-ns "$NQN" 5 && nvb_fail "removing a namespace twice succeeded"
nvb_stop_daemon

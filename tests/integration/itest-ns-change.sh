#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (resize): resize-namespace makes the new size visible with a
# namespace-changed AEN; add-namespace and remove-namespace likewise.
. "$(dirname "$0")/lib.sh"

ns_conf() {
	nvb_one_port_conf "$1" info \
		"ram 32M 512" "file $T/disk.img 16M 4096"
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

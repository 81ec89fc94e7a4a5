#!/bin/bash
# tests/vm/test-nschange.sh: namespace add and resize under a connected Linux host (guest side:
# nschange.sh). The guest asks for `nvbridgectl add-ns` (a 64 MiB ram namespace 2),
# `nvbridgectl resize-ns` (file namespace 1 from 128 MiB to 192 MiB) and `nvbridgectl remove-ns`
# (namespace 2 again) through its requests.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
vm_use_nvbridged
export TIMEOUT=${TIMEOUT:-240}

SUBNQN=nqn.2026-04.io.nvbridge:vm-nschange
SIZE=$((128 * 1024 * 1024))
NEW_SIZE=$((192 * 1024 * 1024))
NS2_SIZE=$((64 * 1024 * 1024))

nschange_conf() {
	vm_conf_head "$1"
	cat >>"$1" <<EOF
ports = ( $(vm_conf_port 1 "$PORT1" 1) );
subsystems = ( { nqn = "$SUBNQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "file"; path = "$T/disk.img"; size = $SIZE; } ); } );
EOF
}

nvb_mkfile "$T/disk.img" "$SIZE"
nvb_start_daemon nschange 1 nschange_conf
vm_ctl_start
vm_run_start -e NVB_PORT="$PORT1" -e NVB_NQN="$SUBNQN" -e NVB_CTL_PORT="$VM_CTL_PORT" \
	-e NVB_SIZE="$SIZE" -e NVB_NEW_SIZE="$NEW_SIZE" -e NVB_NS2_SIZE="$NS2_SIZE" \
	"$VM_DIR/nschange.sh"
vm_ctl_serve vm_ctl_default
vm_run_finish

vm_expect '^measured: namespace 2 appeared' "the new namespace appeared without a reconnect"
vm_expect "^ok: blockdev --getsize64 /dev/nvme[0-9]+n[0-9]+ = '$NEW_SIZE'" "the new size is visible"
vm_expect '^measured: /dev/nvme[0-9]+n[0-9]+ disappeared' "the removed namespace disappeared"
vm_expect '^ok: controller id \(same controller\)' "no reconnect"
vm_expect '^nschange: all checks passed$' "guest checks"
actual=$(stat -c %s "$T/disk.img")
[ "$actual" = "$NEW_SIZE" ] || vm_fail "the backing file is $actual bytes, expected $NEW_SIZE"
vm_log "ok: the backing file grew to $actual bytes"
nvb_ctl list namespaces
nvb_stop_daemon "$DAEMON_PID" nvbridged
vm_measured
vm_pass

#!/bin/bash
# tests/vm/test-seed.sh: the seed guide's walk-through with the Linux NVMe/TCP initiator (guest
# side: seed.sh) against an nvbridged on the host serving one 256 MiB file namespace: discovery,
# connect, lsblk / nvme list, ext4 round trip, disconnect, poll queues.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
vm_use_nvbridged
export TIMEOUT=${TIMEOUT:-240}

SUBNQN=nqn.2026-04.io.nvbridge:vm-seed
SIZE=$((256 * 1024 * 1024))

seed_conf() {
	vm_conf_head "$1"
	cat >>"$1" <<EOF
ports = ( $(vm_conf_port 1 "$PORT1" 1) );
subsystems = ( { nqn = "$SUBNQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "file"; path = "$T/disk.img"; size = $SIZE; } ); } );
EOF
}

nvb_mkfile "$T/disk.img" "$SIZE"
nvb_start_daemon seed 1 seed_conf
vm_ctl_start
vm_run_start -e NVB_PORT="$PORT1" -e NVB_NQN="$SUBNQN" -e NVB_SIZE="$SIZE" \
	-e NVB_CTL_PORT="$VM_CTL_PORT" "$VM_DIR/seed.sh"
vm_ctl_serve vm_ctl_default
vm_run_finish

vm_expect '^ok: discovery entry: traddr' "nvme discover lists the subsystem at 10.0.2.2"
vm_expect '^ok: lsblk shows' "nvme connect gives a block device"
vm_expect '^ok: checksum after remount' "ext4 data survives a remount"
vm_expect '^ok: a poll queue is mapped' "--nr-poll-queues=1 maps a poll queue"
vm_expect '^seed: all checks passed$' "guest checks"
nvb_ctl stats
nvb_stop_daemon "$DAEMON_PID" nvbridged
vm_measured
vm_pass

#!/bin/bash
# tests/vm/test-reconnect.sh: keep-alive / reconnect with the Linux host (guest side:
# reconnect.sh). When the guest asks, nvbridged is stopped with SIGTERM while the guest's I/O
# loop runs (it must exit 0), stays down NVB_VM_DOWNTIME seconds (default 2: the kernel's
# reconnect attempts meet a closed port) and starts again on the same ports with the same file.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
vm_use_nvbridged
export TIMEOUT=${TIMEOUT:-240}

SUBNQN=nqn.2026-04.io.nvbridge:vm-reconnect
DOWNTIME=${NVB_VM_DOWNTIME:-2}

reconnect_conf() {
	vm_conf_head "$1"
	cat >>"$1" <<EOF
ports = ( $(vm_conf_port 1 "$PORT1" 1) );
subsystems = ( { nqn = "$SUBNQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "file"; path = "$T/disk.img"; size = "128M"; } ); } );
EOF
}

RESTARTS=0
reconnect_request() {
	case $1 in
	restart)
		local t0
		t0=$(nvb_now)
		nvb_stop_daemon "$DAEMON_PID" nvbridged
		vm_log "nvbridged stopped; starting it again in $DOWNTIME s"
		sleep "$DOWNTIME"
		vm_daemon_again reconnect
		RESTARTS=$((RESTARTS + 1))
		VM_CTL_REPLY="ok nvbridged restarted, down for $(nvb_elapsed "$t0") s"
		;;
	*)
		vm_ctl_default "$@"
		;;
	esac
}

nvb_mkfile "$T/disk.img" 128M
nvb_start_daemon reconnect 1 reconnect_conf
vm_ctl_start
vm_run_start -e NVB_PORT="$PORT1" -e NVB_NQN="$SUBNQN" -e NVB_CTL_PORT="$VM_CTL_PORT" \
	"$VM_DIR/reconnect.sh"
vm_ctl_serve reconnect_request
vm_run_finish

[ "$RESTARTS" = 1 ] || vm_fail "nvbridged was restarted $RESTARTS times, expected once"
vm_expect '^ok: nvme[0-9]+ went .*and is live again' "the controller reconnected by itself"
vm_expect '^ok: the I/O loop goes on after the reconnect' "I/O resumed"
vm_expect '^ok: I/O loop: .* 0 errors' "no I/O errors across the restart"
vm_expect '^ok: checksum of the 16 MiB written before the restart' "flushed data survived"
vm_expect '^reconnect: all checks passed$' "guest checks"
nvb_ctl stats
nvb_stop_daemon "$DAEMON_PID" nvbridged
vm_measured
vm_pass

#!/bin/bash
# tests/vm/test-ana.sh: ANA multipath with the Linux host (guest side: ana.sh). nvbridged serves
# one namespace through two ports: port 1 in ANA group 1 (optimized), port 2 in group 2
# (non-optimized). When the guest asks, this script flips the groups with nvbridgectl set-ana
# (failover: 1 inaccessible + 2 optimized; failback: the reverse) while the guest's I/O loop runs.
# Policies: NVB_VM_ANA_POLICIES (default "numa round-robin queue-depth").
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
vm_use_nvbridged
export TIMEOUT=${TIMEOUT:-300}

SUBNQN=nqn.2026-04.io.nvbridge:vm-ana
POLICIES=${NVB_VM_ANA_POLICIES:-numa round-robin queue-depth}

ana_conf() {
	vm_conf_head "$1"
	cat >>"$1" <<EOF
ana_groups = ( { id = 1; state = "optimized"; }, { id = 2; state = "non-optimized"; } );
ports = ( $(vm_conf_port 1 "$PORT1" 1), $(vm_conf_port 2 "$PORT2" 2) );
subsystems = ( { nqn = "$SUBNQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "file"; path = "$T/disk.img"; size = "128M"; } ); } );
EOF
}

FLIPS=0
ana_request() {
	case $1 in
	failover)
		nvb_ctl set-ana 1 inaccessible && nvb_ctl set-ana 2 optimized ||
			vm_fail "nvbridgectl set-ana failed"
		FLIPS=$((FLIPS + 1))
		;;
	failback)
		nvb_ctl set-ana 1 optimized && nvb_ctl set-ana 2 non-optimized ||
			vm_fail "nvbridgectl set-ana failed"
		FLIPS=$((FLIPS + 1))
		;;
	*)
		vm_ctl_default "$@"
		;;
	esac
}

nvb_mkfile "$T/disk.img" 128M
nvb_start_daemon ana 2 ana_conf
vm_ctl_start
vm_run_start -e NVB_PORT1="$PORT1" -e NVB_PORT2="$PORT2" -e NVB_NQN="$SUBNQN" \
	-e NVB_CTL_PORT="$VM_CTL_PORT" -e NVB_POLICIES="$POLICIES" "$VM_DIR/ana.sh"
vm_ctl_serve ana_request
vm_run_finish

vm_expect '^ok: exactly one head device' "one head device for two paths"
vm_expect '^ok: nvme list-subsys: .* live non-optimized' "nvme list-subsys shows both paths"
expected=0
for p in $POLICIES; do
	# ana.sh skips a policy only on a kernel older than the policy (queue-depth: 6.11).
	if grep -q "^measured: iopolicy $p: not in kernel" "$VM_OUT"; then
		vm_log "iopolicy $p: not in this guest kernel, skipped"
		continue
	fi
	vm_expect "^measured: $p failback:" "iopolicy $p: failover and failback without I/O errors"
	expected=$((expected + 2))
done
[ "$expected" -gt 0 ] || vm_fail "no iopolicy was tested"
vm_expect '^ok: no ANATT timeout' "no ANATT timeout or controller reset"
vm_expect '^ana: all checks passed$' "guest checks"
[ "$FLIPS" = "$expected" ] || vm_fail "the host flipped ANA states $FLIPS times, expected $expected"
vm_log "ok: $FLIPS ANA flips done by the host"
nvb_ctl list ana-groups
nvb_ctl stats
nvb_stop_daemon "$DAEMON_PID" nvbridged
vm_measured
vm_pass

#!/bin/bash
# tests/vm/test-hostnqn.sh: host NQN access control with the Linux host (guest side:
# hostnqn.sh). The subsystem allows only another host; the guest's connect must be refused until
# the guest asks for `nvbridgectl allow-host`, and `nvbridgectl deny-host` must cut it off again.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
vm_use_nvbridged
export TIMEOUT=${TIMEOUT:-240}

SUBNQN=nqn.2026-04.io.nvbridge:vm-hostnqn
OTHER_HOST=nqn.2014-08.org.nvmexpress:uuid:6e766272-6964-4765-8000-0000000000ff

hostnqn_conf() {
	vm_conf_head "$1"
	cat >>"$1" <<EOF2
ports = ( $(vm_conf_port 1 "$PORT1" 1) );
subsystems = ( { nqn = "$SUBNQN"; allow_any_host = false; hosts = [ "$OTHER_HOST" ];
	namespaces = ( { nsid = 1; backend = "ram"; size = "64M"; } ); } );
EOF2
}

nvb_start_daemon hostnqn 1 hostnqn_conf
vm_ctl_start
vm_run_start -e NVB_PORT="$PORT1" -e NVB_NQN="$SUBNQN" -e NVB_CTL_PORT="$VM_CTL_PORT" \
	"$VM_DIR/hostnqn.sh"
vm_ctl_serve vm_ctl_default
vm_run_finish

vm_expect '^ok: the kernel reports Connect Invalid Host' "connect refused with Connect Invalid Host"
vm_expect '^ok: no controller and no block device after the refused connect' "nothing left behind"
vm_expect '^ok: data written and read back' "connect works after allow-host"
vm_expect '^ok: reconnects after deny-host are refused' "deny-host cuts the host off"
vm_expect '^hostnqn: all checks passed$' "guest checks"
grep -q "Connect Invalid Host\|not allowed\|refus" "$T"/hostnqn.log &&
	vm_log "the daemon logged the refusal: $(grep -m1 "Invalid Host\|not allowed\|refus" "$T"/hostnqn.log)"
nvb_ctl list subsystems
nvb_stop_daemon "$DAEMON_PID" nvbridged
vm_measured
vm_pass

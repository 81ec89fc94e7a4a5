#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (discovery, ANA): two ports in two ANA groups. The discovery
# log through either port lists both; the ANA log before and after
# set-ana-state makes group 1 inaccessible, with the AEN arriving on every
# controller; I/O on the inaccessible path fails with ANA Inaccessible and
# succeeds on the other; then back. Also the CLI's view of it, and its
# refusal of the transient "change" state.
. "$(dirname "$0")/lib.sh"

ana_conf() {
	cat >"$1" <<CONF
reactors = 2;
log_level = "info";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; }, { id = 2; state = "non-optimized"; } );
ports = (
	{ id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; },
	{ id = 2; address = "127.0.0.1"; port = $PORT2; ana_group = 2; }
);
subsystems = ( {
	nqn = "$NQN";
	allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; size = "64M"; lba_size = 512; },
		{ nsid = 2; backend = "file"; path = "$T/disk.img"; size = "32M"; lba_size = 4096; }
	);
} );
CONF
}

nvb_mkfile "$T/disk.img" 32M
nvb_start_daemon ana 2 ana_conf
nvb_run "$NVB_ITEST" discovery --port "$PORT1" --port "$PORT2" --nqn "$NQN" --socket "$SOCK"
nvb_run "$NVB_ITEST" ana --port "$PORT1" --port "$PORT2" --nqn "$NQN" --socket "$SOCK"

# The same change through the CLI shows in its listings.
nvb_ctl set-ana 2 inaccessible || nvb_fail "nvbridgectl set-ana failed"
out=$(nvb_ctl list ana-groups) || nvb_fail "nvbridgectl list ana-groups failed"
echo "$out"
echo "$out" | grep -E '^ *2 .*inaccessible' >/dev/null ||
	nvb_fail "list ana-groups does not show group 2 inaccessible"
nvb_ctl set-ana 2 bogus-state && nvb_fail "set-ana accepted an unknown state"
# The transition state is refused with its reason (exit 1), nothing changes.
nvb_ctl set-ana 1 change 2>"$T/set-ana-change.err"
rc=$?
cat "$T/set-ana-change.err"
[ "$rc" -eq 1 ] || nvb_fail "set-ana 1 change: exit $rc, expected 1"
grep -q 'ANA group 1: state "change" is transient' "$T/set-ana-change.err" ||
	nvb_fail "set-ana 1 change: the reason is missing"
out=$(nvb_ctl list ana-groups) || nvb_fail "nvbridgectl list ana-groups failed"
echo "$out" | grep -E '^ *1 +optimized +2 ' >/dev/null ||
	nvb_fail "group 1 changed (state or change count) after the refused change"
nvb_ctl list ports || nvb_fail "nvbridgectl list ports failed"
nvb_stop_daemon

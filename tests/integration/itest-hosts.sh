#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (host access): with allow_any_host off, an unknown host NQN is
# refused with Connect Invalid Host; allow-host admits it at run time,
# deny-host drops it. Then `save` writes a config that reads back.
. "$(dirname "$0")/lib.sh"

NQN2=nqn.2026-04.io.nvbridge:restricted
HOSTA=nqn.2026-04.io.nvbridge:host:alpha
HOSTB=nqn.2026-04.io.nvbridge:host:bravo

hosts_conf() {
	cat >"$1" <<CONF
reactors = 2;
log_level = "info";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; } );
ports = ( { id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; } );
subsystems = (
	{
		nqn = "$NQN";
		allow_any_host = true;
		namespaces = ( { nsid = 1; backend = "ram"; size = "16M"; lba_size = 512; } );
	},
	{
		nqn = "$NQN2";
		allow_any_host = false;
		hosts = [ "$HOSTA" ];
		namespaces = ( { nsid = 1; backend = "ram"; size = "16M"; lba_size = 512; } );
	}
);
CONF
}

nvb_start_daemon hosts 1 hosts_conf
nvb_run "$NVB_ITEST" hosts --port "$PORT1" --nqn "$NQN" --nqn2 "$NQN2" --socket "$SOCK" \
	--hostnqn "$HOSTA" --hostnqn2 "$HOSTB"

# The running configuration saves and parses back, with the host list as
# deny-host left it.
nvb_ctl save "$T/saved.conf" || nvb_fail "nvbridgectl save failed"
"$NVBRIDGED" -t -c "$T/saved.conf" || nvb_fail "the saved config does not parse: $(cat "$T/saved.conf")"
grep -q "$HOSTA" "$T/saved.conf" || nvb_fail "the saved config lost allowed host $HOSTA"
grep -q "$HOSTB" "$T/saved.conf" && nvb_fail "the saved config still allows denied host $HOSTB"
nvb_stop_daemon

#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 2 (keep-alive): a host that stops sending Keep Alive (KATO 2 s)
# is dropped within about 2 x KATO and disappears from list-controllers,
# while a host that keeps talking is served throughout.
. "$(dirname "$0")/lib.sh"

ka_conf() {
	nvb_one_port_conf "$1" info \
		"ram 16M 512"
}

nvb_start_daemon ka 1 ka_conf
nvb_run "$NVB_ITEST" keepalive --port "$PORT1" --nqn "$NQN" --socket "$SOCK"
nvb_ctl list controllers || nvb_fail "nvbridgectl list controllers failed"
nvb_stop_daemon

#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 3: malformed and truncated PDUs, oversized lengths, CapsuleCmd
# before ICReq, I/O before Connect, random bytes, slow and silent senders,
# many connections in parallel, while a well-behaved host does verified I/O;
# then 1,000 concurrent connections, and the memory an idle one costs
# ("idle connection memory: N KiB", recorded in BENCHMARKS.md). The daemon
# must survive and exit 0 on SIGTERM (no leak under ASan).
# NVB_HOSTILE_CONNS / NVB_HOSTILE_REPS change the sizes.
. "$(dirname "$0")/lib.sh"

# 1,000 connections need more descriptors than the usual 1024.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
nvb_log "descriptor limit: $(ulimit -n)"

hostile_conf() {
	nvb_one_port_conf "$1" warning \
		"ram 64M 512"
}

nvb_start_daemon hostile 1 hostile_conf
nvb_run "$NVB_HOSTILE" --port "$PORT1" --nqn "$NQN" --pid "$DAEMON_PID" \
	--conns "${NVB_HOSTILE_CONNS:-1000}" --reps "${NVB_HOSTILE_REPS:-4}"
nvb_ctl list controllers >/dev/null || nvb_fail "the control socket no longer answers"
nvb_stop_daemon

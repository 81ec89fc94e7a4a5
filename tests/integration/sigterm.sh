#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGTERM in the middle of a write stream: the daemon stops accepting,
# finishes in-flight I/O, flushes and exits 0 within a few seconds;
# restarted on the same file backend, every write it acknowledged reads
# back (and writes in flight hold either the old or the new data).
. "$(dirname "$0")/lib.sh"

sig_conf() {
	nvb_one_port_conf "$1" info \
		"file $T/disk.img 32M 4096"
}

nvb_mkfile "$T/disk.img" 32M
nvb_start_daemon sigterm 1 sig_conf
first_pid=$DAEMON_PID

"$NVB_ITEST" sigterm-write --port "$PORT1" --nqn "$NQN" --state "$T/state" --seconds 60 &
writer=$!
for _ in $(seq 1 300); do
	[ -e "$T/state.running" ] && break
	nvb_alive "$writer" || break
	sleep 0.1
done
[ -e "$T/state.running" ] || nvb_fail "the writer never got going"
sleep 0.5
nvb_stop_daemon "$first_pid" "nvbridged under write load"
awk -v s="$STOP_SECONDS" 'BEGIN { exit !(s < 10) }' ||
	nvb_fail "stopping took $STOP_SECONDS s (more than 10)"
wait "$writer" || nvb_fail "the writer failed"

# Same config, same file: what was acknowledged is there.
nvb_start_daemon sigterm-restart 1 sig_conf
nvb_run "$NVB_ITEST" sigterm-verify --port "$PORT1" --nqn "$NQN" --state "$T/state"
nvb_stop_daemon

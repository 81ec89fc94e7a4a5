#!/bin/sh
# tests/vm/reconnect.sh: guest side of test-reconnect.sh: keep-alive, and the Linux host riding
# out an nvbridged restart. Connect with --ctrl-loss-tmo 60 --reconnect-delay 1; stay idle for
# longer than the keep-alive timeout (the controller must stay live); write and flush data;
# start a verified I/O loop; have the host stop nvbridged (SIGTERM) and start it again on the
# same ports. The controller must come back to "live" by itself, the loop must go on without an
# error and the data written before the restart must read back unchanged.
#
# nvb-vm-env: NVB_PORT NVB_NQN NVB_CTL_PORT
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

for v in NVB_PORT NVB_NQN NVB_CTL_PORT; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set"
done
dmesg_mark reconnect

head_present() { [ -n "$(nvme_head 1 "$NVB_NQN")" ]; }

nvb_section "connect with --ctrl-loss-tmo 60 --reconnect-delay 1"
run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT" -n "$NVB_NQN" \
	--ctrl-loss-tmo 60 --reconnect-delay 1
CTRL=$(nvme_ctrl_by_port "$NVB_PORT" "$NVB_NQN")
[ -n "$CTRL" ] || fail "no controller for $NVB_NQN"
wait_for 20 head_present
DEV=/dev/$(nvme_head 1 "$NVB_NQN")
wait_block "$DEV"
expect_eq "$(cat "/sys/class/nvme/$CTRL/ctrl_loss_tmo")" 60 "ctrl_loss_tmo"
expect_eq "$(cat "/sys/class/nvme/$CTRL/reconnect_delay")" 1 "reconnect_delay"
expect_eq "$(nvme_ctrl_state "$CTRL")" live "$CTRL state"
kato=$(cat "/sys/class/nvme/$CTRL/kato")
cntlid=$(cat "/sys/class/nvme/$CTRL/cntlid")

nvb_section "idle for longer than the keep-alive timeout"
# The kernel keeps the association alive with Keep Alive commands; the target must answer them
# and must not time the host out while it sends them.
dmesg_mark idle
sleep $((kato + 2))
expect_eq "$(nvme_ctrl_state "$CTRL") $(cat "/sys/class/nvme/$CTRL/cntlid")" "live $cntlid" \
	"after $((kato + 2)) s idle: state and controller id"
expect_no_dmesg idle 'error recovery|keep.alive|reconnect|timeout' \
	"no keep-alive timeout or error recovery while idle"

nvb_section "write and flush data before the restart"
run dd if=/dev/urandom of=/tmp/before bs=1M count=16 status=none
sum=$(md5sum </tmp/before)
# 64..80 MiB: outside the loop's 0..32 MiB. conv=fsync: a Flush after the writes.
run dd if=/tmp/before of="$DEV" bs=1M seek=64 oflag=direct conv=fsync status=none
pass "16 MiB written at 64 MiB and flushed"

io_loop_prepare "$DEV" 0 8 4
io_loop_start
io_loop_wait_ops 2

# Record every state the controller goes through, with the time.
watch_states() {
	prev=""
	while [ ! -e /tmp/watch.stop ]; do
		read -r st <"/sys/class/nvme/$CTRL/state" || st=gone
		if [ "$st" != "$prev" ]; then
			echo "$(now_cs) $st" >>/tmp/states
			prev=$st
		fi
		sleep 0.1
	done
}
: >/tmp/states
watch_states </dev/null &
WATCH_PID=$!

nvb_section "the host restarts nvbridged"
t0=$(now_cs)
ops0=$(cut -d' ' -f1 "$IO_DIR/count")
host_request restart
echo "host reply after $(seconds_since "$t0") s"
went_away() { grep -qv ' live$' /tmp/states; }
back_live() { went_away && [ "$(tail -n 1 /tmp/states | cut -d' ' -f2)" = live ]; }
wait_for 60 back_live
live_s=$(seconds_since "$t0")
touch /tmp/watch.stop
wait "$WATCH_PID"
echo "controller states (centiseconds since boot):"
sed 's/^/  /' /tmp/states
pass "$CTRL went $(grep -v ' live$' /tmp/states | cut -d' ' -f2 | sort -u | tr '\n' ' ')and is live again"
io_loop_wait_ops 3 60
pass "the I/O loop goes on after the reconnect"
io_loop_stop
echo "measured: restart request to controller live again: $live_s s (keep-alive timeout $kato s)"
echo "measured: I/O loop: $IO_OPS verified 4 MiB steps, $((IO_OPS - ops0)) of them from the restart on, 0 errors, $IO_MIBS MiB/s"
echo "measured: controller id $cntlid before, $(cat "/sys/class/nvme/$CTRL/cntlid") after the reconnect"

nvb_section "data written before the restart"
run dd if="$DEV" of=/tmp/after bs=1M skip=64 count=16 iflag=direct status=none
expect_eq "$(md5sum </tmp/after)" "$sum" "checksum of the 16 MiB written before the restart"
io_loop_verify_all

nvb_section "kernel messages"
dmesg_since reconnect | grep -E 'nvme' | tail -n 20
expect_match "$(dmesg_since reconnect)" 'Successfully reconnected|reconnect' \
	"the kernel logged the reconnect"
expect_no_dmesg reconnect 'I/O error|Removing ctrl|timeout|Buffer I/O' \
	"no I/O errors, timeouts or controller removal in dmesg"
out=$(nvme disconnect -n "$NVB_NQN" 2>&1) || fail "nvme disconnect: $out"
expect_match "$out" "disconnected 1 controller" "nvme disconnect -n $NVB_NQN"
echo "reconnect: all checks passed"

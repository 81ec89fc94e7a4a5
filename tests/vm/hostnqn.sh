#!/bin/sh
# tests/vm/hostnqn.sh: guest side of test-hostnqn.sh: host NQN access control as the Linux host
# meets it. The subsystem does not list this guest's host NQN: nvme connect must fail with the
# kernel reporting the refusal and leave no controller or device behind. After the host runs
# nvbridgectl allow-host, the same connect works; after deny-host the controller is disconnected
# and its reconnects are refused.
#
# nvb-vm-env: NVB_PORT NVB_NQN NVB_CTL_PORT
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

for v in NVB_PORT NVB_NQN NVB_CTL_PORT; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set"
done
HOSTNQN=$(cat /etc/nvme/hostnqn)
echo "this host: $HOSTNQN"

head_present() { [ -n "$(nvme_head 1 "$NVB_NQN")" ]; }
no_nvme_left() {
	[ -z "$(nvme_ctrl_by_port "$NVB_PORT" "$NVB_NQN")" ] && ! head_present
}

nvb_section "discovery as a host that is not allowed"
out=$(nvme discover -t tcp -a "$NVB_HOST" -s "$NVB_PORT" 2>&1) || fail "nvme discover: $out"
if echo "$out" | grep -q "subnqn: *$NVB_NQN\$"; then
	echo "measured: the discovery log lists $NVB_NQN to a host it does not allow"
else
	echo "measured: the discovery log hides $NVB_NQN from a host it does not allow"
fi

nvb_section "nvme connect is refused"
dmesg_mark refused
out=$(nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT" -n "$NVB_NQN" 2>&1)
rc=$?
echo "$out"
[ "$rc" != 0 ] || fail "nvme connect succeeded for a host the subsystem does not allow"
echo "measured: nvme connect exit status $rc"
no_nvme_left || fail "a controller or device is left after the refused connect"
pass "no controller and no block device after the refused connect"
kmsg=$(dmesg_since refused)
echo "$kmsg"
expect_match "$kmsg" "Connect for subsystem $NVB_NQN is not allowed, hostnqn: $HOSTNQN" \
	"the kernel reports Connect Invalid Host"

nvb_section "the host allows this host"
host_request ctl allow-host "$NVB_NQN" "$HOSTNQN"
dmesg_mark allowed
run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT" -n "$NVB_NQN" --ctrl-loss-tmo 2 \
	--reconnect-delay 1
CTRL=$(nvme_ctrl_by_port "$NVB_PORT" "$NVB_NQN")
[ -n "$CTRL" ] || fail "no controller after nvme connect"
wait_for 20 head_present
DEV=/dev/$(nvme_head 1 "$NVB_NQN")
wait_block "$DEV"
expect_eq "$(nvme_ctrl_state "$CTRL")" live "$CTRL state"
run dd if=/dev/urandom of=/tmp/data bs=1M count=4 status=none
run dd if=/tmp/data of="$DEV" bs=1M oflag=direct status=none
run dd if="$DEV" of=/tmp/back bs=1M count=4 iflag=direct status=none
expect_eq "$(md5sum </tmp/back)" "$(md5sum </tmp/data)" "data written and read back"

nvb_section "the host denies this host again"
t0=$(now_cs)
host_request ctl deny-host "$NVB_NQN" "$HOSTNQN"
# deny-host disconnects the controller; with --ctrl-loss-tmo 2 the kernel gives up after its
# reconnects are refused, and removes the controller and the device.
wait_for 30 no_nvme_left
echo "measured: controller and device gone $(seconds_since "$t0") s after deny-host"
kmsg=$(dmesg_since allowed)
echo "$kmsg" | grep nvme | tail -n 12
expect_match "$kmsg" "Connect for subsystem $NVB_NQN is not allowed" \
	"reconnects after deny-host are refused as Connect Invalid Host"
echo "hostnqn: all checks passed"

#!/bin/sh
# tests/vm/nschange.sh: guest side of test-nschange.sh: namespaces change under a connected
# Linux host. The host adds a namespace (nvbridgectl add-ns), grows namespace 1
# (nvbridgectl resize-ns) and removes the new one again (remove-ns); the guest must see the new
# block device, the new size and the removal through the Namespace Attribute Changed event
# alone, without reconnecting, and use what it sees.
#
# nvb-vm-env: NVB_PORT NVB_NQN NVB_CTL_PORT NVB_SIZE NVB_NEW_SIZE NVB_NS2_SIZE
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

for v in NVB_PORT NVB_NQN NVB_CTL_PORT NVB_SIZE NVB_NEW_SIZE NVB_NS2_SIZE; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set"
done
dmesg_mark nschange

head_present() { [ -n "$(nvme_head "$1" "$NVB_NQN")" ]; }

nvb_section "connect"
run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT" -n "$NVB_NQN"
CTRL=$(nvme_ctrl_by_port "$NVB_PORT" "$NVB_NQN")
[ -n "$CTRL" ] || fail "no controller for $NVB_NQN"
wait_for 20 head_present 1
NS1=$(nvme_head 1 "$NVB_NQN")
wait_block "/dev/$NS1"
expect_eq "$(size_bytes "$NS1")" "$NVB_SIZE" "size of $NS1"
[ -z "$(nvme_head 2 "$NVB_NQN")" ] || fail "namespace 2 exists before it was added"
cntlid=$(cat "/sys/class/nvme/$CTRL/cntlid")
# Data near the end of namespace 1, to find again after it grows.
run dd if=/dev/urandom of=/tmp/tail bs=1M count=4 status=none
tail_sum=$(md5sum </tmp/tail)
tail_mib=$((NVB_SIZE / 1048576 - 4))
run dd if=/tmp/tail of="/dev/$NS1" bs=1M seek="$tail_mib" oflag=direct conv=fsync status=none

nvb_section "the host adds namespace 2"
t0=$(now_cs)
host_request ctl add-ns "$NVB_NQN" 2 --backend ram --size "$NVB_NS2_SIZE"
wait_for 30 head_present 2
NS2=$(nvme_head 2 "$NVB_NQN")
wait_block "/dev/$NS2"
echo "measured: namespace 2 appeared as /dev/$NS2 $(seconds_since "$t0") s after the request"
expect_eq "$(size_bytes "$NS2")" "$NVB_NS2_SIZE" "size of $NS2"
expect_eq "$(blockdev --getsize64 "/dev/$NS2")" "$NVB_NS2_SIZE" "blockdev --getsize64 /dev/$NS2"
run dd if=/tmp/tail of="/dev/$NS2" bs=1M oflag=direct status=none
run dd if="/dev/$NS2" of=/tmp/ns2 bs=1M count=4 iflag=direct status=none
expect_eq "$(md5sum </tmp/ns2)" "$tail_sum" "data written to and read from the new namespace"

nvb_section "the host grows namespace 1"
t0=$(now_cs)
host_request ctl resize-ns "$NVB_NQN" 1 "$NVB_NEW_SIZE"
grown() { [ "$(size_bytes "$NS1")" = "$NVB_NEW_SIZE" ]; }
wait_for 30 grown
echo "measured: $NS1 grew to $NVB_NEW_SIZE bytes $(seconds_since "$t0") s after the request"
expect_eq "$(blockdev --getsize64 "/dev/$NS1")" "$NVB_NEW_SIZE" "blockdev --getsize64 /dev/$NS1"
out=$(nvme id-ns "/dev/$NS1" 2>&1) || fail "nvme id-ns: $out"
expect_match "$out" "^nsze +: (0x)?0*$(printf '%x' $((NVB_NEW_SIZE / 512)))\$|^nsze +: $((NVB_NEW_SIZE / 512))\$" \
	"nvme id-ns: nsze is the new size in blocks"
run dd if="/dev/$NS1" of=/tmp/tail2 bs=1M skip="$tail_mib" count=4 iflag=direct status=none
expect_eq "$(md5sum </tmp/tail2)" "$tail_sum" "data written before the resize"
# Use the new space: the last MiB.
last_mib=$((NVB_NEW_SIZE / 1048576 - 1))
run dd if=/tmp/tail of="/dev/$NS1" bs=1M count=1 seek="$last_mib" oflag=direct status=none
run dd if="/dev/$NS1" of=/tmp/last bs=1M count=1 skip="$last_mib" iflag=direct status=none
expect_eq "$(md5sum </tmp/last)" "$(head -c 1048576 /tmp/tail | md5sum)" "data in the grown part"

nvb_section "the host removes namespace 2"
t0=$(now_cs)
host_request ctl remove-ns "$NVB_NQN" 2
ns2_gone() { [ -z "$(nvme_head 2 "$NVB_NQN")" ] && [ ! -b "/dev/$NS2" ]; }
wait_for 30 ns2_gone
echo "measured: /dev/$NS2 disappeared $(seconds_since "$t0") s after the request"
expect_eq "$(size_bytes "$NS1")" "$NVB_NEW_SIZE" "namespace 1 is still there, size"

nvb_section "no reconnect"
expect_eq "$(nvme_ctrl_state "$CTRL")" live "$CTRL state"
expect_eq "$(cat "/sys/class/nvme/$CTRL/cntlid")" "$cntlid" "controller id (same controller)"
expect_no_dmesg nschange 'I/O error|resetting controller|reconnect|Removing ctrl|timeout' \
	"no reset, reconnect or I/O error in dmesg"
dmesg_since nschange | grep -E 'nvme|capacity' | tail -n 10
out=$(nvme disconnect -n "$NVB_NQN" 2>&1) || fail "nvme disconnect: $out"
expect_match "$out" "disconnected 1 controller" "nvme disconnect -n $NVB_NQN"
echo "nschange: all checks passed"

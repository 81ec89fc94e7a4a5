#!/bin/sh
# tests/vm/seed.sh: guest side of test-seed.sh, the seed guide's walk-through (Phase 2 and the
# poll-queue tuning of Phase 3) with the Linux NVMe/TCP initiator against nvbridged:
# nvme discover, nvme connect, lsblk / nvme list, ext4 (mkfs, mount, write, remount, verify),
# disconnect; then connect again with --nr-poll-queues and find the data unchanged.
#
# nvb-vm-env: NVB_PORT NVB_NQN NVB_SIZE NVB_CTL_PORT
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

for v in NVB_PORT NVB_NQN NVB_SIZE NVB_CTL_PORT; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set"
done
dmesg_mark seed
MNT=/mnt/seed
mkdir -p "$MNT"

head_present() { [ -n "$(nvme_head 1 "$NVB_NQN")" ]; }
head_absent() { ! head_present; }

# connect [OPTIONS]: nvme connect to the subsystem; sets CTRL and DEV (the block device).
connect() {
	t0=$(now_cs)
	run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT" -n "$NVB_NQN" "$@"
	CTRL=$(nvme_ctrl_by_port "$NVB_PORT" "$NVB_NQN")
	[ -n "$CTRL" ] || fail "no controller for $NVB_NQN after nvme connect"
	wait_for 20 head_present
	DEV=/dev/$(nvme_head 1 "$NVB_NQN")
	wait_block "$DEV"
	echo "measured: nvme connect $* -> $DEV in $(seconds_since "$t0") s"
	expect_eq "$(nvme_ctrl_state "$CTRL")" live "$CTRL state"
}

disconnect() {
	out=$(nvme disconnect -n "$NVB_NQN" 2>&1) || fail "nvme disconnect: $out"
	expect_match "$out" "disconnected 1 controller" "nvme disconnect -n $NVB_NQN"
	wait_for 10 head_absent
	pass "the block device is gone"
}

nvb_section "nvme discover -t tcp -a $NVB_HOST -s $NVB_PORT"
out=$(nvme discover -t tcp -a "$NVB_HOST" -s "$NVB_PORT" 2>&1) || fail "nvme discover: $out"
echo "$out"
# One entry per subsystem and port; ours must name the address the guest can reach.
entry=$(echo "$out" | awk -v nqn="$NVB_NQN" '
	/^=====Discovery Log Entry/ { if (sub_ok) print rec; rec = ""; sub_ok = 0; next }
	{ rec = rec $0 "\n" }
	$1 == "subnqn:" && $2 == nqn { sub_ok = 1 }
	END { if (sub_ok) print rec }')
[ -n "$entry" ] || fail "the discovery log has no entry for $NVB_NQN"
expect_match "$entry" "trtype: +tcp" "discovery entry: trtype tcp"
expect_match "$entry" "traddr: +$NVB_HOST" "discovery entry: traddr $NVB_HOST (the advertised address)"
expect_match "$entry" "trsvcid: +$NVB_PORT" "discovery entry: trsvcid $NVB_PORT"
expect_match "$entry" "subtype: +nvme subsystem" "discovery entry: subtype nvme subsystem"
echo "measured: discovery log records: $(echo "$out" | sed -n 's/.*Number of Records \([0-9]*\).*/\1/p')"

nvb_section "nvme connect -t tcp -a $NVB_HOST -s $NVB_PORT -n $NVB_NQN"
connect
expect_eq "$(blockdev --getsize64 "$DEV")" "$NVB_SIZE" "blockdev --getsize64 $DEV"
out=$(lsblk -b -n -o NAME,SIZE,TYPE "$DEV")
echo "$out"
expect_match "$out" "^${DEV#/dev/} +$NVB_SIZE +disk\$" "lsblk shows ${DEV#/dev/}"
out=$(nvme list 2>&1)
echo "$out"
expect_match "$out" "^$DEV .* nvbridge " "nvme list shows $DEV, model nvbridge"
out=$(nvme id-ctrl "/dev/$CTRL" 2>&1) || fail "nvme id-ctrl: $out"
expect_match "$out" "^subnqn +: $NVB_NQN\$" "nvme id-ctrl: subnqn"
expect_match "$out" "^mn +: nvbridge" "nvme id-ctrl: model"
host_request ctl --json list controllers
expect_match "$HOST_REPLY" "$(cat /etc/nvme/hostnqn)" "nvbridgectl list controllers shows this host"

nvb_section "raw O_DIRECT throughput"
t0=$(now_cs)
run dd if=/dev/zero of="$DEV" bs=1M count=32 oflag=direct status=none
echo "measured: O_DIRECT write 32 MiB (bs=1M): $(mib_per_s 33554432 "$t0") MiB/s"
t0=$(now_cs)
run dd if="$DEV" of=/dev/null bs=1M count=32 iflag=direct status=none
echo "measured: O_DIRECT read 32 MiB (bs=1M): $(mib_per_s 33554432 "$t0") MiB/s"

nvb_section "discard (Dataset Management, deallocate), as mkfs.ext4 and fstrim issue it"
dmesg_mark discard
if out=$(blkdiscard -o 0 -l 1048576 "$DEV" 2>&1); then
	pass "blkdiscard of the first MiB"
else
	later_fail "blkdiscard of the first MiB: $out; kernel: $(dmesg_since discard | tr '\n' ' ')"
fi

nvb_section "ext4: mkfs, mount, write, remount, verify"
t0=$(now_cs)
run mkfs.ext4 -q -F "$DEV"
run mount -t ext4 "$DEV" "$MNT"
run dd if=/dev/urandom of=/tmp/file bs=1M count=8 status=none
sum=$(md5sum </tmp/file)
run cp /tmp/file "$MNT/file"
run sync
run umount "$MNT"
run e2fsck -fn "$DEV"
run mount -t ext4 "$DEV" "$MNT"
expect_eq "$(md5sum <"$MNT/file")" "$sum" "checksum after remount"
run umount "$MNT"
echo "measured: mkfs + mount + 8 MiB file + fsck + remount + verify: $(seconds_since "$t0") s"

nvb_section "disconnect"
disconnect

nvb_section "poll queues: nvme connect ... --nr-poll-queues=1"
dmesg_mark poll1
connect --nr-poll-queues=1
mapped=$(dmesg_since poll1 | sed -n 's/.*mapped \([0-9/]*\) default\/read\/poll queues.*/\1/p')
echo "measured: --nr-poll-queues=1: the kernel mapped $mapped default/read/poll queues" \
	"($(cat "/sys/class/nvme/$CTRL/queue_count") queues with the admin queue, $(nproc) CPU)"
expect_match "$mapped" '^[0-9]+/[0-9]+/1$' "a poll queue is mapped"
run mount -t ext4 "$DEV" "$MNT"
expect_eq "$(md5sum <"$MNT/file")" "$sum" "checksum through a new controller with a poll queue"
run umount "$MNT"
disconnect

nvb_section "poll queues as in the guide: --nr-poll-queues=4"
dmesg_mark poll4
connect --nr-poll-queues=4
mapped=$(dmesg_since poll4 | sed -n 's/.*mapped \([0-9/]*\) default\/read\/poll queues.*/\1/p')
echo "measured: --nr-poll-queues=4: the kernel mapped $mapped default/read/poll queues" \
	"(it takes at most one poll queue per CPU)"
run dd if="$DEV" of=/dev/null bs=1M count=4 iflag=direct status=none
disconnect

nvb_section "kernel messages"
later_fail_check
expect_no_dmesg seed 'I/O error|resetting controller|timeout|Connect command failed|reconnect' \
	"no I/O errors, resets, timeouts or failed connects in dmesg"
echo "seed: all checks passed"

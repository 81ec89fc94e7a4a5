#!/bin/sh
# tests/vm/smoke.sh: guest side of the VM smoke test (run by test-smoke.sh through
# run-guest.sh). Proves the guest has what the real-initiator tests need: nvme-cli, open-iscsi
# with a working iscsid, the NVMe/TCP and iSCSI initiator modules with native NVMe multipath,
# e2fsprogs on a working ext4, and a TCP path to the host's 127.0.0.1.
#
# nvb-vm-env: NVB_PORT
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

[ -n "${NVB_PORT:-}" ] || fail "NVB_PORT (the host listener's port) is not set"

nvb_section "guest"
echo "kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s, shell $(readlink /proc/$$/exe)"

nvb_section "tools"
expect_match "$(nvme version 2>&1 | head -n1)" '^nvme version [0-9]' "nvme version"
expect_match "$(iscsiadm --version 2>&1)" '^iscsiadm version [0-9]' "iscsiadm --version"
expect_match "$(mke2fs -V 2>&1 | head -n1)" '^mke2fs 1\.[0-9]' "mke2fs -V (e2fsprogs, not busybox)"
expect_match "$(lsblk --version 2>&1)" 'util-linux' "lsblk --version"
expect_match "$(modprobe --version 2>&1 | head -n1)" '^kmod version' "modprobe is kmod"
expect_eq "$(nvme show-hostnqn 2>&1)" "$(cat /etc/nvme/hostnqn)" "nvme show-hostnqn"
expect_match "$(cat /etc/nvme/hostid)" '^[0-9a-f-]{36}$' "/etc/nvme/hostid"
expect_match "$(cat /etc/iscsi/initiatorname.iscsi)" '^InitiatorName=iqn\.' "initiator name"

nvb_section "modules"
for m in nvme_core nvme_fabrics nvme_tcp scsi_transport_iscsi libiscsi_tcp iscsi_tcp sd_mod \
	ext4 crc32c_generic; do
	[ -d "/sys/module/$m" ] || fail "module $m is not loaded"
done
pass "nvme_tcp, iscsi_tcp, sd_mod, ext4 and their dependencies are loaded"
expect_eq "$(cat /sys/module/nvme_core/parameters/multipath)" Y "nvme_core multipath"
[ -c /dev/nvme-fabrics ] || fail "/dev/nvme-fabrics is missing"
pass "/dev/nvme-fabrics exists"

nvb_section "iscsid"
start_iscsid
out=$(iscsiadm -m session 2>&1)
expect_match "$out" 'No active sessions' "iscsid answers iscsiadm"

nvb_section "ext4 on a loop device"
t0=$(now_cs)
run modprobe loop
run dd if=/dev/zero of=/tmp/ext4.img bs=1M count=32 status=none
dev=$(losetup -f)
run losetup "$dev" /tmp/ext4.img
run mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/t
run mount -t ext4 "$dev" /mnt/t
run dd if=/dev/urandom of=/mnt/t/data bs=1M count=4 status=none
sum1=$(md5sum </mnt/t/data)
run umount /mnt/t
run e2fsck -fn "$dev"
run mount -t ext4 "$dev" /mnt/t
expect_eq "$(md5sum </mnt/t/data)" "$sum1" "checksum after remount"
run umount /mnt/t
run losetup -d "$dev"
echo "measured: mkfs+mount+write+fsck+verify on a 32 MiB ext4 took $(seconds_since "$t0") s"

nvb_section "host reachable through QEMU user networking"
t0=$(now_cs)
reply=$(echo "ping from nvb-guest" | nc -w 10 "$NVB_HOST" "$NVB_PORT")
expect_eq "$reply" "pong: ping from nvb-guest" "reply from $NVB_HOST:$NVB_PORT (host 127.0.0.1)"
echo "measured: TCP round trip to the host took $(seconds_since "$t0") s"

echo "smoke: all checks passed"

#!/bin/sh
# tests/vm/init.sh: /init of the nvbridge test guest (PID 1; /bin/sh is dash).
#
# run-guest.sh puts this file, guest-lib.sh and the test (/test/test.sh, /test/env, extra
# files) into a small cpio appended to the cached initramfs, so editing them needs no rebuild.
#
# Serial ports: ttyS0 is the kernel console (boot messages, this script's diagnostics);
# ttyS1 carries only the test: "NVB-VM-BEGIN ...", the script's stdout+stderr, the dmesg tail
# when it failed, and "NVB-VM-END rc=N ...". Without /test/test.sh, a shell runs on ttyS0.
export PATH=/usr/sbin:/usr/bin
export HOME=/root
umask 022

say() { echo "nvb-init: [$(cut -d' ' -f1 /proc/uptime)] $*"; }

mount -t proc proc /proc
# The kernel used /sbin/modprobe (busybox: cheap to start) while booting; from now on it
# gets kmod's, as on any Debian system (see build-guest.sh).
echo /usr/sbin/modprobe >/proc/sys/kernel/modprobe
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t configfs configfs /sys/kernel/config 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# devtmpfs has none of these; shells need /dev/fd for some redirections.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /run/lock/iscsi /run/nvb
hostname nvb-guest

# Modules in dependency order (build-guest.sh wrote the list); nvme_core gets multipath=Y
# from /etc/modprobe.d/nvbridge.conf. Busybox's modprobe reads the same modules.dep and
# modprobe.d and starts faster than kmod under emulation (~0.5 s for the lot). One call for
# all; it stops at the first failure, so then retry one by one and name the culprit.
# shellcheck disable=SC2046 # one module name per line
if ! busybox modprobe -a $(cat /etc/nvb/modules) 2>/dev/null; then
	for mod in $(cat /etc/nvb/modules); do
		modprobe "$mod" || say "modprobe $mod failed (ignored)"
	done
fi

say "modules loaded"

# QEMU user networking: the guest is 10.0.2.15, QEMU's gateway 10.0.2.2 is the host's loopback.
ip link set lo up
IFACE=""
for dev in /sys/class/net/*; do
	name=${dev##*/}
	[ "$name" = lo ] && continue
	IFACE=$name
	break
done
if [ -n "$IFACE" ]; then
	ip addr add 10.0.2.15/24 dev "$IFACE"
	ip link set "$IFACE" up
	ip route add default via 10.0.2.2
else
	say "no network interface"
fi

say "network up on ${IFACE:-nothing}"

if [ ! -f /test/test.sh ]; then
	say "no /test/test.sh: interactive shell (exit it to power off)"
	setsid cttyhack bash -l
	poweroff -f
fi

# From here on, kernel messages of level info and above (the NVMe and iSCSI initiators' "new
# ctrl", "reconnecting", "ANATT timeout"...) also go to the console, ttyS0, as they happen:
# the host keeps them even if the guest hangs and has to be killed.
dmesg -n 7

OUT=/dev/console
[ -c /dev/ttyS1 ] && OUT=/dev/ttyS1
stty -F "$OUT" raw -echo 2>/dev/null

guest_uptime() { cut -d' ' -f1 /proc/uptime; }

if [ -f /test/env ]; then
	set -a
	. /test/env
	set +a
fi
cd /test || exit 1
echo "NVB-VM-BEGIN uptime=$(guest_uptime) kernel=$(uname -r)" >"$OUT"
# Executed, so that its #! line picks the shell (/bin/sh is dash; /bin/bash exists too).
/test/test.sh >"$OUT" 2>&1 </dev/null
rc=$?
if [ "$rc" != 0 ]; then
	{
		echo "--- guest dmesg (last 50 lines) ---"
		dmesg | tail -n 50
	} >"$OUT" 2>&1
fi
echo "NVB-VM-END rc=$rc uptime=$(guest_uptime)" >"$OUT"
sync
poweroff -f

# tests/vm/guest-lib.sh: helpers for guest test scripts (POSIX sh: dash or bash).
# A guest script loads them with:  . /usr/lib/nvb/guest-lib.sh
#
# Any non-zero exit of the script makes /init print the guest's dmesg tail after the script's
# output, so `fail` only has to say what went wrong.

# The host's 127.0.0.1 as seen through QEMU user networking.
NVB_HOST=${NVB_HOST:-10.0.2.2}

fail() {
	echo "FAIL: $*"
	exit 1
}

pass() {
	echo "ok: $*"
}

# run CMD...: echo the command, run it, fail the test if it exits non-zero.
run() {
	echo "+ $*"
	"$@"
	_nvb_rc=$?
	[ "$_nvb_rc" = 0 ] || fail "'$*' exited with $_nvb_rc"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
	pass "$3 = '$1'"
}

# expect_match TEXT EXTENDED-REGEX WHAT
expect_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match /$2/"
	pass "$3"
}

# Time in centiseconds since boot (the guest clock has no better resolution to offer
# busybox, and test phases take seconds).
now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

# seconds_since START_CS -> "12.34"
seconds_since() {
	awk -v s="$1" '{ printf "%.2f\n", ($1 * 100 - s) / 100 }' /proc/uptime
}

# mib_per_s BYTES START_CS -> throughput since START_CS, e.g. "41.7"
mib_per_s() {
	awk -v b="$1" -v s="$2" '{ t = ($1 * 100 - s) / 100; if (t <= 0) t = 0.01;
		printf "%.1f\n", b / 1048576 / t }' /proc/uptime
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds; fail after SECONDS.
wait_for() {
	_nvb_limit=$(($1 * 10))
	shift
	_nvb_i=0
	until "$@" >/dev/null 2>&1; do
		_nvb_i=$((_nvb_i + 1))
		[ "$_nvb_i" -ge "$_nvb_limit" ] && fail "timed out waiting for: $*"
		sleep 0.1
	done
}

# wait_block DEV [SECONDS]: wait until DEV is a block device.
wait_block() {
	wait_for "${2:-20}" test -b "$1"
}

# start_iscsid: open-iscsi's daemon, in its own session so that stopping it (or a test killing
# its process group) never takes the test script down with it. Waits until it answers.
_nvb_iscsid_ready() {
	iscsiadm -m session >/dev/null 2>&1
	_nvb_rc=$?
	# 0: sessions listed; 21: "No active sessions" -- either way iscsid answered.
	[ "$_nvb_rc" = 0 ] || [ "$_nvb_rc" = 21 ]
}
start_iscsid() {
	setsid iscsid -f </dev/null >/run/nvb/iscsid.log 2>&1 &
	wait_for 10 _nvb_iscsid_ready
}

# nvb_section TITLE: a visible separator in the test output.
nvb_section() {
	echo "=== $*"
}

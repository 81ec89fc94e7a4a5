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

# later_fail MSG: a failure that should not hide what the rest of the test finds: the test goes
# on, and later_fail_check (call it at the end) fails it with every such message.
NVB_LATER_FAILS=""
later_fail() {
	echo "FAIL (reported at the end): $*"
	NVB_LATER_FAILS="$NVB_LATER_FAILS
  $*"
}
later_fail_check() {
	[ -z "$NVB_LATER_FAILS" ] || fail "earlier failures:$NVB_LATER_FAILS"
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

# --- asking the host ------------------------------------------------------------------------

# host_request WORDS...: ask the host-side test (lib.sh: vm_ctl_serve) to do something now, e.g.
# `host_request ctl set-ana 1 inaccessible`; waits for it to be done. The reply is left in
# HOST_REPLY; anything but "ok ..." fails the test.
host_request() {
	[ -n "${NVB_CTL_PORT:-}" ] || fail "host_request: NVB_CTL_PORT is not set"
	HOST_REPLY=$(echo "$*" | nc -w 120 "$NVB_HOST" "$NVB_CTL_PORT")
	case $HOST_REPLY in
	ok*) echo "host did '$*': $HOST_REPLY" ;;
	*) fail "host request '$*' failed: ${HOST_REPLY:-no reply}" ;;
	esac
}

# --- kernel messages ------------------------------------------------------------------------

# dmesg_mark NAME: put a marker into the kernel log; dmesg_since NAME prints what follows it.
dmesg_mark() {
	echo "nvb-mark: $1" >/dev/kmsg
}
dmesg_since() {
	dmesg | sed -n "/nvb-mark: $1\$/,\$p" | sed 1d
}

# expect_no_dmesg MARK EXTENDED-REGEX WHAT: no kernel message since MARK matches.
expect_no_dmesg() {
	_nvb_hits=$(dmesg_since "$1" | grep -E -- "$2")
	[ -z "$_nvb_hits" ] || fail "$3: kernel said:
$_nvb_hits"
	pass "$3"
}

# --- NVMe devices ---------------------------------------------------------------------------

# nvme_ctrl_by_port PORT [NQN]: the controller (nvmeN) connected to the host's PORT (and
# subsystem NQN); prints nothing if there is none.
nvme_ctrl_by_port() {
	for _nvb_c in /sys/class/nvme/nvme*; do
		[ -e "$_nvb_c/address" ] || continue
		case ",$(cat "$_nvb_c/address")," in *",trsvcid=$1,"*) ;; *) continue ;; esac
		[ -z "${2:-}" ] || [ "$(cat "$_nvb_c/subsysnqn")" = "$2" ] || continue
		echo "${_nvb_c##*/}"
		return 0
	done
}

# nvme_ctrl_state CTRL: "live", "connecting", "resetting", ... ("gone" once deleted).
nvme_ctrl_state() {
	cat "/sys/class/nvme/$1/state" 2>/dev/null || echo gone
}

# nvme_head NSID [NQN]: the multipath head block device (nvmeXnY) of namespace NSID.
nvme_head() {
	for _nvb_b in /sys/block/nvme*; do
		case ${_nvb_b##*/} in *c*) continue ;; esac
		[ "$(cat "$_nvb_b/nsid" 2>/dev/null)" = "$1" ] || continue
		[ -z "${2:-}" ] || [ "$(cat "$_nvb_b/device/subsysnqn" 2>/dev/null)" = "$2" ] || continue
		echo "${_nvb_b##*/}"
		return 0
	done
}

# nvme_path CTRL NSID: the hidden per-controller path device (nvmeXcYnZ) of namespace NSID.
nvme_path() {
	for _nvb_b in /sys/class/nvme/"$1"/nvme*c*n*; do
		[ -e "$_nvb_b/nsid" ] || continue
		[ "$(cat "$_nvb_b/nsid")" = "$2" ] || continue
		echo "${_nvb_b##*/}"
		return 0
	done
}

# path_ios PATH: I/O requests completed through a path device (reads + writes, /sys/block stat).
path_ios() {
	awk '{ print $1 + $5 }' "/sys/block/$1/stat"
}

# ana_state PATH: the path's ANA state as the kernel sees it.
ana_state() {
	cat "/sys/block/$1/ana_state"
}

# size_bytes BLOCKDEV: the device's size in bytes, from sysfs (512-byte sectors).
size_bytes() {
	echo $(($(cat "/sys/block/$1/size") * 512))
}

# --- a verified read/write loop in the background ---------------------------------------------
#
# io_loop_prepare DEV FIRST_CHUNK CHUNKS [CHUNK_MIB]: set up a loop over CHUNKS chunks of
# CHUNK_MIB MiB (default 4) from chunk FIRST_CHUNK of DEV. Each step writes one chunk with
# O_DIRECT, reads it back with O_DIRECT and verifies it. A chunk's data is a 4 KiB header naming
# the chunk and the parity of the pass, then a random body shared by all chunks: a lost write,
# a stale read or data from the wrong offset shows as the wrong header, corruption as the wrong
# body checksum. io_loop_start starts it (going on where the last loop stopped), io_loop_check
# sets IO_OPS (verified steps), io_loop_wait_ops N [SECONDS] waits for N more, io_loop_stop
# stops it; all three fail the test on any error. IO_OPS, IO_MIBS (MiB/s of writes + reads) say
# what it did. io_loop_verify_all reads back every chunk written so far.
IO_DIR=/tmp/nvb-io
io_loop_prepare() {
	IO_DEV=$1
	IO_FIRST=$2
	IO_CHUNKS=$3
	IO_MIB=${4:-4}
	rm -rf "$IO_DIR"
	mkdir -p "$IO_DIR"
	_nvb_i=0
	while [ "$_nvb_i" -lt "$IO_CHUNKS" ]; do
		for _nvb_p in 0 1; do
			printf 'nvbridge vm test: chunk %d of %s parity %d\n' "$_nvb_i" "$IO_DEV" "$_nvb_p" |
				dd of="$IO_DIR/h$_nvb_i.$_nvb_p" bs=4096 conv=sync status=none
		done
		_nvb_i=$((_nvb_i + 1))
	done
	dd if=/dev/urandom of="$IO_DIR/body" bs=4096 count=$((IO_MIB * 256 - 1)) status=none ||
		fail "cannot make the loop's data"
	md5sum <"$IO_DIR/body" | cut -d' ' -f1 >"$IO_DIR/body.md5"
	echo "0 0" >"$IO_DIR/pos"
}

# _nvb_io_verify CHUNK PARITY: read a chunk back and check it. Status 0 ok, 1 I/O error,
# 2 wrong data.
_nvb_io_verify() {
	if ! dd if="$IO_DEV" of="$IO_DIR/rb" bs="${IO_MIB}M" count=1 skip=$((IO_FIRST + $1)) \
		iflag=direct status=none 2>>"$IO_DIR/log"; then
		echo "read of chunk $1 failed" >>"$IO_DIR/log"
		return 1
	fi
	if ! dd if="$IO_DIR/rb" bs=4096 count=1 status=none | cmp -s - "$IO_DIR/h$1.$2"; then
		echo "chunk $1 parity $2: wrong header: $(head -c 60 "$IO_DIR/rb" | tr -c '[:print:]' .)" \
			>>"$IO_DIR/log"
		return 2
	fi
	if [ "$(dd if="$IO_DIR/rb" bs=4096 skip=1 status=none | md5sum | cut -d' ' -f1)" != \
		"$(cat "$IO_DIR/body.md5")" ]; then
		echo "chunk $1 parity $2: body checksum differs" >>"$IO_DIR/log"
		return 2
	fi
	return 0
}

# One step: write chunk $1 with parity $2, read it back, verify. Status as _nvb_io_verify.
_nvb_io_step() {
	if ! { cat "$IO_DIR/h$1.$2" "$IO_DIR/body"; } |
		dd of="$IO_DEV" bs="${IO_MIB}M" count=1 seek=$((IO_FIRST + $1)) iflag=fullblock \
			oflag=direct status=none 2>>"$IO_DIR/log"; then
		echo "write of chunk $1 failed" >>"$IO_DIR/log"
		return 1
	fi
	echo "$2" >"$IO_DIR/last$1"
	_nvb_io_verify "$1" "$2"
}

# The loop goes on from where the last one stopped (pass and chunk in $IO_DIR/pos), so that
# every write changes the chunk's contents, however often the loop is stopped and started.
_nvb_io_loop() {
	read -r _l_pass _l_i <"$IO_DIR/pos"
	_l_ops=0
	_l_err=0
	_l_bad=0
	while [ ! -e "$IO_DIR/stop" ]; do
		_nvb_io_step "$_l_i" $(((_l_pass + _l_i) % 2))
		case $? in
		0) _l_ops=$((_l_ops + 1)) ;;
		1) _l_err=$((_l_err + 1)) ;;
		*) _l_bad=$((_l_bad + 1)) ;;
		esac
		echo "$_l_ops $_l_err $_l_bad" >"$IO_DIR/count.tmp"
		mv "$IO_DIR/count.tmp" "$IO_DIR/count"
		_l_i=$((_l_i + 1))
		if [ "$_l_i" -ge "$IO_CHUNKS" ]; then
			_l_i=0
			_l_pass=$((_l_pass + 1))
		fi
	done
	echo "$_l_pass $_l_i" >"$IO_DIR/pos"
}

# io_loop_verify_all: read back every chunk the loop has written and check it holds what was
# written last. Fails the test otherwise; sets IO_VERIFIED (chunks).
io_loop_verify_all() {
	IO_VERIFIED=0
	_v_i=0
	while [ "$_v_i" -lt "$IO_CHUNKS" ]; do
		if [ -e "$IO_DIR/last$_v_i" ]; then
			_nvb_io_verify "$_v_i" "$(cat "$IO_DIR/last$_v_i")" || {
				cat "$IO_DIR/log"
				fail "chunk $_v_i of $IO_DEV does not hold what was written last"
			}
			IO_VERIFIED=$((IO_VERIFIED + 1))
		fi
		_v_i=$((_v_i + 1))
	done
	pass "all $IO_VERIFIED chunks written hold their last data"
}

io_loop_start() {
	rm -f "$IO_DIR/stop" "$IO_DIR/done" "$IO_DIR/log"
	echo "0 0 0" >"$IO_DIR/count"
	IO_T0=$(now_cs)
	_nvb_io_loop </dev/null &
	IO_PID=$!
}

# io_loop_check: IO_OPS = verified steps so far; any failed step fails the test at once.
io_loop_check() {
	read -r IO_OPS IO_ERRORS IO_BAD <"$IO_DIR/count"
	if [ "$IO_ERRORS" != 0 ] || [ "$IO_BAD" != 0 ]; then
		cat "$IO_DIR/log"
		fail "the I/O loop saw $IO_ERRORS I/O error(s) and $IO_BAD bad chunk(s) in $IO_OPS steps"
	fi
}

# io_loop_wait_ops N [SECONDS]: wait until the loop has verified N more steps.
io_loop_wait_ops() {
	io_loop_check
	_w_goal=$((IO_OPS + $1))
	_w_limit=$((${2:-60} * 10))
	_w_i=0
	while :; do
		io_loop_check
		[ "$IO_OPS" -ge "$_w_goal" ] && return 0
		_w_i=$((_w_i + 1))
		[ "$_w_i" -ge "$_w_limit" ] &&
			fail "the I/O loop made no progress for ${2:-60} s ($IO_OPS steps, wanted $_w_goal)"
		sleep 0.1
	done
}

io_loop_stop() {
	touch "$IO_DIR/stop"
	wait "$IO_PID"
	IO_MIBS=$(mib_per_s $(($(cut -d' ' -f1 "$IO_DIR/count") * IO_MIB * 2 * 1048576)) "$IO_T0")
	io_loop_check
	pass "I/O loop: $IO_OPS steps (write + read + verify of $IO_MIB MiB), 0 errors, data verified"
}

# tests/vm/lib.sh: helpers for the host side of the VM tests (bash).
#
#   . "$(dirname "$0")/lib.sh"
#   vm_init                          # root check (else SKIP), build or reuse the guest
#   vm_bg "$VM_TMP/d.log" nvbridged -c "$VM_TMP/t.conf"   # stopped when the test exits
#   vm_run -e NVB_PORT="$port" "$VM_DIR/my-guest-test.sh"
#   vm_expect '^ok: data verified' "data verified"
#   vm_pass
#
# vm_run prints the guest script's output; on any failure the guest's dmesg tail (printed by the
# guest's /init when its script fails) and the kernel console tail end up in the test log.
# Exit codes follow automake: 0 pass, 1 fail, 77 skip.

VM_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
VM_NAME=$(basename "$0" .sh)
VM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nvb-$VM_NAME.XXXXXX")
VM_OUT=$VM_TMP/guest-output.txt
VM_RC=""
VM_FAILED=0
VM_T0=$(date +%s.%N)
declare -a VM_BG_PIDS=()
declare -a VM_ON_EXIT=()

vm_log() {
	echo "[$VM_NAME] $*"
}

vm_now() {
	date +%s.%N
}

# vm_since START -> seconds since START (from vm_now), one decimal
vm_since() {
	awk -v a="$1" -v b="$(vm_now)" 'BEGIN { printf "%.1f", b - a }'
}

vm_cleanup() {
	local pid cmd
	for cmd in "${VM_ON_EXIT[@]}"; do
		eval "$cmd" || true
	done
	for pid in "${VM_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$VM_FAILED" = 0 ] && [ "${NVB_VM_KEEP:-0}" != 1 ]; then
		rm -rf "$VM_TMP"
	else
		echo "[$VM_NAME] files kept in $VM_TMP"
	fi
}
trap vm_cleanup EXIT
trap 'VM_FAILED=1; exit 130' INT TERM HUP

vm_skip() {
	echo "SKIP: $VM_NAME: $*"
	exit 77
}

# vm_fail MESSAGE: fail the test, showing the end of the guest's kernel console.
vm_fail() {
	VM_FAILED=1
	echo "FAIL: $VM_NAME: $*"
	if [ -s "$VM_TMP/guest/console.log" ]; then
		echo "--- guest kernel console (last 30 lines) ---"
		tr -d '\r' <"$VM_TMP/guest/console.log" | tail -n 30
	fi
	exit 1
}

vm_pass() {
	vm_log "PASS in $(vm_since "$VM_T0") s"
	exit 0
}

# vm_init: what every VM test needs first. Building needs root (apt-get, chroot); a second
# build is a cache hit that takes well under a second.
vm_init() {
	[ "$(id -u)" = 0 ] || vm_skip "needs root (builds the guest with apt-get and chroot)"
	local t
	t=$(vm_now)
	VM_GUEST=$("$VM_DIR/build-guest.sh" --quiet) || vm_fail "building the guest failed"
	vm_log "guest $(cat "$VM_GUEST/kver") ready in $(vm_since "$t") s ($VM_GUEST)"
}

# vm_run [-e NAME=VALUE]... GUEST_SCRIPT [FILE...]: boot the guest, run the script, print its
# output. Sets VM_RC to its status and keeps the output in $VM_OUT. Fails the test when the
# status is not 0, unless VM_ALLOW_FAIL=1.
vm_run() {
	mkdir -p "$VM_TMP/guest"
	NVB_VM_LOGDIR=$VM_TMP/guest "$VM_DIR/run-guest.sh" "$@" >"$VM_OUT" 2>"$VM_TMP/guest/run.err"
	VM_RC=$?
	sed 's/^/  | /' "$VM_OUT"
	cat "$VM_TMP/guest/run.err"
	if [ "$VM_RC" != 0 ] && [ "${VM_ALLOW_FAIL:-0}" != 1 ]; then
		case $VM_RC in
		124) vm_fail "guest timed out" ;;
		125) vm_fail "guest died before its script finished" ;;
		*) vm_fail "guest script exited with status $VM_RC" ;;
		esac
	fi
	return 0
}

# vm_expect EXTENDED-REGEX WHAT: the last guest output must contain a matching line.
vm_expect() {
	grep -Eq -- "$1" "$VM_OUT" || vm_fail "$2: no line of the guest output matches /$1/"
	vm_log "ok: $2"
}

# vm_measured: the guest's "measured: ..." lines, repeated at the end of the test log.
vm_measured() {
	grep '^measured: ' "$VM_OUT" | sed "s/^/[$VM_NAME] /" || true
	grep -h 'boot-to-script' "$VM_TMP/guest/run.err" 2>/dev/null | sed "s/^run-guest: /[$VM_NAME] /" || true
}

# vm_free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
vm_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_bg LOGFILE CMD...: start a host process in the background (e.g. nvbridged); it is
# stopped by PID (SIGTERM, then SIGKILL) when the test exits. Sets VM_BG_PID.
vm_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	VM_BG_PID=$!
	VM_BG_PIDS+=("$VM_BG_PID")
}

# vm_on_exit 'SHELL CODE': run it when the test exits (before background processes are
# stopped). lib.sh owns the EXIT trap: use this instead of setting another one.
vm_on_exit() {
	VM_ON_EXIT+=("$1")
}

# vm_wait_port PORT [SECONDS]: wait until something accepts TCP connections on 127.0.0.1:PORT.
vm_wait_port() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	vm_fail "nothing listens on 127.0.0.1:$1"
}

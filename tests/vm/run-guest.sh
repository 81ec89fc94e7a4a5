#!/bin/bash
# tests/vm/run-guest.sh: boot the test guest under QEMU (TCG), run one guest script in it,
# print the script's output and exit with the script's status.
#
# Usage: run-guest.sh [-e NAME=VALUE]... GUEST_SCRIPT [FILE...]
#        run-guest.sh --shell [FILE...]        (interactive guest shell on this terminal)
#   GUEST_SCRIPT runs as /test/test.sh (its #! line picks dash or bash), in /test, with the
#   FILEs beside it; busybox provides the usual commands.
#   A header line "# nvb-vm-env: NAME..." in GUEST_SCRIPT copies those variables from this
#   environment into the guest's; -e NAME=VALUE sets one explicitly. NVB_HOST=10.0.2.2 (the
#   host's 127.0.0.1 as the guest reaches it) is always set.
# Environment:
#   TIMEOUT          seconds before the guest is killed and the run fails (default 300)
#   NVB_VM_LOGDIR    keep console.log (kernel console), output.log (test serial port) and
#                    qemu.log there; by default a temporary directory, kept only on failure
#   NVB_VM_VERBOSE=1 also print the whole kernel console log afterwards
#   NVB_VM_APPEND    extra kernel command-line arguments
#   NVB_VM_MEM       guest memory in MiB (default 1024)
#   NVB_VM_CACHE, NVB_VM_KERNEL  passed to build-guest.sh
# Exit status: the guest script's; 124 if the guest timed out; 125 if the guest died before
# reporting a status (panic, QEMU failure); 2 for usage errors.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
TIMEOUT=${TIMEOUT:-300}
MEM=${NVB_VM_MEM:-1024}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
say() { echo "run-guest: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

SHELL_MODE=0
declare -a ENV_SET=()
while [ $# -gt 0 ]; do
	case $1 in
	-e) [ $# -ge 2 ] || usage; ENV_SET+=("$2"); shift 2 ;;
	-e*) ENV_SET+=("${1#-e}"); shift ;;
	--shell) SHELL_MODE=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) say "unknown option $1"; usage ;;
	*) break ;;
	esac
done
if [ "$SHELL_MODE" = 0 ]; then
	[ $# -ge 1 ] || usage
	SCRIPT=$1
	shift
	[ -f "$SCRIPT" ] || { say "no such guest script: $SCRIPT"; exit 2; }
fi
for f in "$@"; do
	[ -e "$f" ] || { say "no such file: $f"; exit 2; }
done
case $TIMEOUT in ''|*[!0-9]*) say "TIMEOUT must be a number of seconds"; exit 2 ;; esac

T_START=$(now)
GUEST=$("$HERE/build-guest.sh" --quiet) || { say "building the guest failed"; exit 125; }
KVER=$(cat "$GUEST/kver")

RUN=$(mktemp -d "${TMPDIR:-/tmp}/nvb-vm.XXXXXX")
LOGDIR=${NVB_VM_LOGDIR:-$RUN}
mkdir -p "$LOGDIR"
QEMU_PID=""
KEEP_RUN=0
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		{ kill -KILL "$QEMU_PID"; wait "$QEMU_PID"; } 2>/dev/null || true
	fi
	if [ "$KEEP_RUN" = 1 ] && [ "$LOGDIR" = "$RUN" ]; then
		rm -rf "$RUN/stage" "$RUN/initrd.cpio" "$RUN/test.cpio"
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

# --- the per-run cpio: /init, the guest helpers, the test and its environment ---------------

STAGE=$RUN/stage
mkdir -p "$STAGE/test" "$STAGE/usr/lib/nvb"
install -m 755 "$HERE/init.sh" "$STAGE/init"
install -m 644 "$HERE/guest-lib.sh" "$STAGE/usr/lib/nvb/guest-lib.sh"
for f in "$@"; do
	cp -a "$f" "$STAGE/test/"
done

shell_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	echo "NVB_HOST=10.0.2.2"
	if [ "$SHELL_MODE" = 0 ]; then
		for name in $(sed -n 's/^#[[:space:]]*nvb-vm-env:\(.*\)$/\1/p' "$SCRIPT"); do
			[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { say "bad variable name '$name'"; exit 2; }
			[ -n "${!name+set}" ] && echo "$name=$(shell_quote "${!name}")"
		done
	fi
	for kv in "${ENV_SET[@]}"; do
		name=${kv%%=*}
		[[ $kv == *=* && $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { say "bad -e '$kv'"; exit 2; }
		echo "$name=$(shell_quote "${kv#*=}")"
	done
} >"$STAGE/test/env"
[ "$SHELL_MODE" = 1 ] || install -m 755 "$SCRIPT" "$STAGE/test/test.sh"

# The kernel unpacks concatenated newc archives in order; later entries add to the image.
(cd "$STAGE" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
	cpio -o -H newc --owner=0:0 --quiet) >"$RUN/test.cpio"
cat "$GUEST/initramfs.cpio" "$RUN/test.cpio" >"$RUN/initrd.cpio"

# --- boot -----------------------------------------------------------------------------------

# mitigations=off: speculation workarounds cost much under emulation and buy nothing here;
# cryptomgr.notests: the crypto self-tests of every algorithm registered at boot or module load
# cost about a second of emulated CPU.
APPEND="console=ttyS0 panic=-1 quiet mitigations=off cryptomgr.notests 8250.nr_uarts=2"
APPEND="$APPEND ${NVB_VM_APPEND:-}"
# shellcheck disable=SC2054 # commas inside -device options are QEMU's
QEMU=(qemu-system-x86_64 -accel tcg -M pc -cpu max -smp 1 -m "$MEM"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$GUEST/vmlinux" -initrd "$RUN/initrd.cpio" -append "$APPEND"
	-netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile=)

if [ "$SHELL_MODE" = 1 ]; then
	# Interactive: console and monitor on this terminal (Ctrl-A X quits QEMU).
	trap - EXIT
	"${QEMU[@]}" -serial mon:stdio -serial null
	rm -rf "$RUN"
	exit 0
fi

CONSOLE=$LOGDIR/console.log
OUTPUT=$LOGDIR/output.log
: >"$CONSOLE"
: >"$OUTPUT"
# CPU seconds used by finished children so far (bash `times`, second line): QEMU's CPU time,
# unlike wall time, does not depend on what else the machine is doing.
# (`times` must run in this shell, not in a $(...) subshell, to see QEMU.)
child_cpu() {
	sed -n 2p "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/);
		t += a[1] * 60 + a[2] } printf "%.2f", t }'
}
times >"$RUN/times0"
T_QEMU=$(now)
"${QEMU[@]}" -monitor none -serial "file:$CONSOLE" -serial "file:$OUTPUT" \
	</dev/null >"$LOGDIR/qemu.log" 2>&1 &
QEMU_PID=$!

DEADLINE=$(($(date +%s) + TIMEOUT))
T_BEGIN=""
TIMED_OUT=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
	if [ -z "$T_BEGIN" ] && grep -q '^NVB-VM-BEGIN' "$OUTPUT" 2>/dev/null; then
		T_BEGIN=$(now)
	fi
	if [ "$(date +%s)" -ge "$DEADLINE" ]; then
		TIMED_OUT=1
		kill -TERM "$QEMU_PID" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$QEMU_PID" 2>/dev/null || true
		break
	fi
	sleep 0.1
done
QEMU_RC=0
wait "$QEMU_PID" || QEMU_RC=$?
QEMU_PID=""
T_END=$(now)
times >"$RUN/times1"
CPU_QEMU=$(awk -v a="$(child_cpu "$RUN/times0")" -v b="$(child_cpu "$RUN/times1")" \
	'BEGIN { printf "%.1f", b - a }')

# --- results --------------------------------------------------------------------------------

tr -d '\r' <"$OUTPUT" >"$RUN/output.txt"
sed -n '/^NVB-VM-BEGIN/,/^NVB-VM-END/{/^NVB-VM-/!p}' "$RUN/output.txt"
END_LINE=$(grep -a '^NVB-VM-END' "$RUN/output.txt" | tail -n 1 || true)
BEGIN_LINE=$(grep -a '^NVB-VM-BEGIN' "$RUN/output.txt" | head -n 1 || true)
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

if [ "$TIMED_OUT" = 1 ]; then
	say "guest timed out after $TIMEOUT s"
	RC=124
elif [ -z "$END_LINE" ]; then
	say "guest ended without reporting a status (QEMU exit $QEMU_RC)"
	RC=125
else
	RC=$(field rc "$END_LINE")
	case $RC in ''|*[!0-9]*) say "garbled status line: $END_LINE"; RC=125 ;; esac
fi

if [ -n "$BEGIN_LINE" ]; then
	boot_host=$(secs "$T_QEMU" "${T_BEGIN:-$T_END}")
	boot_guest=$(field uptime "$BEGIN_LINE")
	end_guest=$(field uptime "$END_LINE")
	script_s=$( [ -n "$end_guest" ] && awk -v a="$boot_guest" -v b="$end_guest" \
		'BEGIN { printf "%.1f", b - a }' || echo "?")
	say "kernel $KVER: boot-to-script ${boot_host} s (guest uptime ${boot_guest} s)," \
		"script ${script_s} s, total $(secs "$T_START" "$T_END") s (QEMU used ${CPU_QEMU} s CPU)," \
		"status $RC"
else
	say "kernel $KVER: the test never started ($(secs "$T_START" "$T_END") s)"
fi

if [ "$RC" != 0 ] || [ "${NVB_VM_VERBOSE:-0}" = 1 ]; then
	lines=40
	[ "${NVB_VM_VERBOSE:-0}" = 1 ] && lines=100000
	echo "--- guest console (last $lines lines of $CONSOLE) ---" >&2
	tr -d '\r' <"$CONSOLE" | tail -n "$lines" >&2
	[ -s "$LOGDIR/qemu.log" ] && { echo "--- qemu.log ---" >&2; cat "$LOGDIR/qemu.log" >&2; }
	if [ "$RC" != 0 ]; then
		KEEP_RUN=1
		say "logs kept in $LOGDIR"
	fi
fi
exit "$RC"

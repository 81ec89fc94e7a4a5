# tests/vm/lib.sh: helpers for the host side of the VM tests (bash).
#
#   . "$(dirname "$0")/lib.sh"
#   vm_init                          # root check (else SKIP), build or reuse the guest
#   vm_use_nvbridged                 # nvb_start_daemon & co. from tests/integration/lib.sh
#   nvb_start_daemon NAME 1 my_conf_function
#   vm_ctl_start                     # listener for the guest's host_request
#   vm_run_start -e NVB_PORT="$PORT1" -e NVB_CTL_PORT="$VM_CTL_PORT" "$VM_DIR/my-guest-test.sh"
#   vm_ctl_serve my_handler          # until the guest is done (vm_run = start + finish)
#   vm_run_finish
#   vm_expect '^ok: data verified' "data verified"
#   nvb_stop_daemon "$DAEMON_PID" nvbridged
#   vm_pass
#
# vm_run prints the guest script's output; on any failure the guest's dmesg tail (printed by the
# guest's /init when its script fails), the kernel console tail and the daemon's log end up in
# the test log. Exit codes follow automake: 0 pass, 1 fail, 77 skip.

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

# vm_fail MESSAGE: fail the test, showing the end of the guest's kernel console (where /init
# sends every kernel message of level info and above once the test script starts).
vm_fail() {
	VM_FAILED=1
	echo "FAIL: $VM_NAME: $*"
	vm_show_console
	exit 1
}

VM_CONSOLE_SHOWN=0
vm_show_console() {
	[ "$VM_CONSOLE_SHOWN" = 0 ] && [ -s "$VM_TMP/guest/console.log" ] || return 0
	VM_CONSOLE_SHOWN=1
	echo "--- guest kernel messages (last 40 lines of the console) ---"
	tr -d '\r' <"$VM_TMP/guest/console.log" | tail -n 40
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
	vm_run_start "$@"
	vm_run_finish
}

# vm_run_start ARGS...: vm_run's first half: boot the guest in the background (sets
# VM_RUN_PID), so that the test can serve the guest's requests meanwhile (vm_ctl_serve).
vm_run_start() {
	mkdir -p "$VM_TMP/guest"
	NVB_VM_LOGDIR=$VM_TMP/guest "$VM_DIR/run-guest.sh" "$@" >"$VM_OUT" 2>"$VM_TMP/guest/run.err" &
	VM_RUN_PID=$!
	VM_BG_PIDS+=("$VM_RUN_PID")
}

# vm_run_finish: vm_run's second half: wait for the guest started by vm_run_start.
vm_run_finish() {
	wait "$VM_RUN_PID"
	VM_RC=$?
	vm_forget_pid "$VM_RUN_PID"
	# run-guest.sh has printed the end of the console itself when the guest failed.
	[ "$VM_RC" = 0 ] || VM_CONSOLE_SHOWN=1
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

# vm_forget_pid PID: a background process the test has waited for: not to be stopped at exit
# (its PID may belong to someone else by then).
vm_forget_pid() {
	local i
	for i in "${!VM_BG_PIDS[@]}"; do
		[ "${VM_BG_PIDS[$i]}" = "$1" ] && unset "VM_BG_PIDS[$i]"
	done
	return 0
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

# --- nvbridged on the host ------------------------------------------------------------------
#
# The daemon is started and stopped by tests/integration/lib.sh (nvb_start_daemon: random free
# ports PORT1..n, config $CONF, control socket $SOCK, stderr in $T/NAME.log; nvb_stop_daemon:
# SIGTERM by PID, exit status 0 required; nvb_ctl: nvbridgectl on $SOCK). Binaries come from
# NVB_BUILDDIR (set by `make check`; by hand: NVB_BUILDDIR=/path/to/build tests/vm/test-x.sh).

# vm_use_nvbridged: load tests/integration/lib.sh; both libraries' exit handlers then run.
vm_use_nvbridged() {
	[ "${NVB_VM_KEEP:-0}" = 1 ] && export NVB_KEEP_TMP=1
	# shellcheck source=../integration/lib.sh
	. "$VM_DIR/../integration/lib.sh"
	trap vm_exit EXIT
	trap 'VM_FAILED=1; exit 130' INT TERM HUP
	vm_log "daemon: $NVBRIDGED"
}

# Exit handler once the daemon library is loaded: the guest and the helpers go first (vm_cleanup),
# then any daemon still running is killed and its log shown on failure (nvb_cleanup, which
# exits with the status it is given).
vm_exit() {
	local rc=$?
	if [ "$rc" != 0 ]; then
		VM_FAILED=1
		vm_show_console # a failure on the host side, after the guest finished
	fi
	vm_cleanup
	(exit "$rc")
	nvb_cleanup
}

# vm_conf_head FILE: the top of a daemon config: 2 reactors, the control socket $SOCK.
vm_conf_head() {
	printf 'reactors = 2;\nlog_level = "info";\nctl_socket = "%s";\n' "$SOCK" >"$1"
}

# vm_conf_port ID PORT ANA_GROUP: one `ports` list entry on 127.0.0.1 that advertises 10.0.2.2
# (the host as the guest reaches it) in the discovery log.
vm_conf_port() {
	printf '{ id = %d; address = "127.0.0.1"; port = %d; ana_group = %d; advertise = "10.0.2.2"; }' \
		"$1" "$2" "$3"
}

# vm_daemon_again NAME: start nvbridged again with the config of the last nvb_start_daemon
# (so on the same ports, with the same files) and wait until it answers. Sets DAEMON_PID.
vm_daemon_again() {
	local name=$1 t0 rc log
	t0=$(nvb_now)
	log=$T/$name.again${#NVB_PIDS[@]}.log
	"$NVBRIDGED" -c "$CONF" 2>"$log" &
	DAEMON_PID=$!
	NVB_PIDS+=("$DAEMON_PID")
	until "$NVBRIDGECTL" -s "$SOCK" version >/dev/null 2>&1; do
		if ! nvb_alive "$DAEMON_PID"; then
			wait "$DAEMON_PID"
			rc=$?
			nvb_fail "nvbridged exited with $rc when started again on the same ports: $(tail -n 3 "$log")"
		fi
		[ "$(nvb_elapsed "$t0" | cut -d. -f1)" -ge 30 ] && nvb_fail "nvbridged not ready 30 s after starting it again"
		sleep 0.05
	done
	vm_log "nvbridged started again (pid $DAEMON_PID) on the same ports, ready in $(nvb_elapsed "$t0") s"
}

# --- requests from the guest ----------------------------------------------------------------
#
# A guest script asks the host to act at a given point (flip an ANA state, restart the daemon)
# with host_request (guest-lib.sh): one TCP connection to NVB_CTL_PORT, one line each way. The
# listener is a small Perl script (perl-base is on every Debian system); the test serves it in
# its own shell, so its handlers can change the daemon and the test's variables:
#
#   vm_ctl_start
#   vm_run_start -e NVB_CTL_PORT="$VM_CTL_PORT" "$VM_DIR/guest.sh"
#   vm_ctl_serve my_handler        # until the guest is done
#   vm_run_finish
#
# my_handler WORDS... sets VM_CTL_REPLY (default "ok"; the guest fails on anything not starting
# with "ok") and passes requests it does not know to vm_ctl_default.

vm_ctl_start() {
	cat >"$VM_TMP/ctl-listener.pl" <<'PERL'
use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
	Listen => 4, ReuseAddr => 1) or die "listen: $!\n";
print "PORT ", $srv->sockport, "\n";
while (my $conn = $srv->accept) {
	my $line = <$conn>;
	$line = '' unless defined $line;
	$line =~ s/[\r\n]+$//;
	$line =~ s/[^\x20-\x7e]/?/g;
	print "REQ $line\n";
	my $reply = <STDIN>;
	last unless defined $reply;
	print $conn $reply;
	close $conn;
}
PERL
	coproc VM_CTL { exec perl "$VM_TMP/ctl-listener.pl" 2>"$VM_TMP/ctl-listener.err"; }
	VM_BG_PIDS+=("$VM_CTL_PID")
	local word
	read -r -t 10 -u "${VM_CTL[0]}" word VM_CTL_PORT ||
		vm_fail "the request listener did not start: $(cat "$VM_TMP/ctl-listener.err")"
	[ "$word" = PORT ] || vm_fail "the request listener said '$word $VM_CTL_PORT'"
	vm_log "guest requests on 127.0.0.1:$VM_CTL_PORT"
}

# vm_alive PID: running, and not a zombie (kill -0 succeeds on a zombie).
vm_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# vm_ctl_serve HANDLER: answer the guest's requests until the guest (vm_run_start) is done.
vm_ctl_serve() {
	local handler=$1 line req
	VM_CTL_COUNT=0
	while vm_alive "$VM_RUN_PID"; do
		# Poll, then read the whole line: the listener writes it at once, whereas `read -t`
		# could time out in the middle of a line on a loaded machine and split it.
		if ! read -r -t 0 -u "${VM_CTL[0]}"; then
			sleep 0.2
			continue
		fi
		read -r -u "${VM_CTL[0]}" line ||
			vm_fail "the request listener stopped: $(cat "$VM_TMP/ctl-listener.err")"
		req=${line#REQ }
		VM_CTL_COUNT=$((VM_CTL_COUNT + 1))
		vm_log "guest asks: $req"
		VM_CTL_REPLY=ok
		# shellcheck disable=SC2086 # the request is a list of words
		"$handler" $req
		vm_log "reply: $VM_CTL_REPLY"
		printf '%s\n' "${VM_CTL_REPLY//$'\n'/ | }" >&"${VM_CTL[1]}"
	done
}

# vm_ctl_default WORDS...: the requests every test understands:
#   ctl ARGS...   run `nvbridgectl ARGS...` on the daemon; reply "ok <output>" or "err ..."
#   log TEXT...   write TEXT into the test log
vm_ctl_default() {
	local out rc
	case ${1:-} in
	ctl)
		shift
		out=$(nvb_ctl "$@" 2>&1)
		rc=$?
		printf '%s\n' "$out" | sed 's/^/    /'
		if [ "$rc" = 0 ]; then
			VM_CTL_REPLY="ok $(printf '%s' "$out" | tail -n +2 | tr '\n' ' ')"
		else
			VM_CTL_REPLY="err nvbridgectl exited with $rc: $(printf '%s' "$out" | tail -n 1)"
		fi
		;;
	log)
		shift
		vm_log "guest: $*"
		;;
	*)
		VM_CTL_REPLY="err unknown request '$*'"
		;;
	esac
}

# SPDX-License-Identifier: MIT
# Shared by the integration drivers in this directory (sourced, bash).
#
# Each driver gets its own temporary directory ($T), starts its own nvbridged
# on ports it picks at random (20000-60000, again if one is in use), waits
# until the control socket answers, runs a scenario, and stops the daemon BY
# PID with SIGTERM, which must make it exit 0 — under ASan a leak makes that
# non-zero. On any failure the daemon's stderr is shown, every daemon this
# driver started is killed by its PID, and $T is removed
# (NVB_KEEP_TMP=1 keeps it).
#
# Binaries come from NVB_BUILDDIR (set by `make check` through
# AM_TESTS_ENVIRONMENT); run by hand: NVB_BUILDDIR=/path/to/build tests/...sh

set -u

NVB_BUILDDIR=${NVB_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NVB_SRCDIR=${NVB_SRCDIR:-$NVB_BUILDDIR}
NVBRIDGED=$NVB_BUILDDIR/daemon/nvbridged
NVBRIDGECTL=$NVB_BUILDDIR/daemon/nvbridgectl
NVB_ITEST=$NVB_BUILDDIR/tests/integration/nvb-itest
NVB_HOSTILE=$NVB_BUILDDIR/tests/integration/nvb-hostile

# Leaks fail the daemon's exit status; UBSan reports stop it.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

NVB_TEST=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/nvb-$NVB_TEST.XXXXXX") || exit 99
NVB_PIDS=()             # every daemon started, for the cleanup
DAEMON_PID=             # the one started last
NQN=nqn.2026-04.io.nvbridge:itest

for bin in "$NVBRIDGED" "$NVBRIDGECTL" "$NVB_ITEST" "$NVB_HOSTILE"; do
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin not built (NVB_BUILDDIR=$NVB_BUILDDIR)" >&2
		exit 99         # hard error: the build is incomplete
	fi
done

nvb_log() {
	echo "[$(date +%T.%3N)] $*"
}

nvb_now() {
	echo "${EPOCHREALTIME/,/.}"
}

nvb_elapsed() {         # seconds since $1, 2 decimals
	awk -v a="$1" -v b="$(nvb_now)" 'BEGIN { printf "%.2f", b - a }'
}

nvb_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Running and not a zombie (kill -0 succeeds on a zombie).
nvb_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

nvb_show_logs() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") (last 60 lines) ----" >&2
		tail -n 60 "$f" >&2
	done
}

nvb_cleanup() {
	local rc=$? pid
	for pid in "${NVB_PIDS[@]}"; do
		if nvb_alive "$pid"; then
			echo "cleanup: killing daemon $pid" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	done
	if [ "$rc" -ne 0 ]; then
		nvb_show_logs
		echo "$NVB_TEST: FAILED (exit $rc); files in $T" >&2
	fi
	if [ "${NVB_KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap nvb_cleanup EXIT
trap 'exit 130' INT TERM

nvb_random_port() {
	echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000))
}

# nvb_start_daemon NAME NPORTS CONFIG_FUNCTION
# Picks PORT1..PORTn, sets SOCK=$T/NAME.sock and CONF=$T/NAME.conf, calls
# CONFIG_FUNCTION "$CONF" to write the config, starts nvbridged with its
# stderr in $T/NAME.log and waits until `nvbridgectl version` answers.
# Sets DAEMON_PID. Retries with new ports when one is already in use.
nvb_start_daemon() {
	local name=$1 nports=$2 confunc=$3 attempt i t0 rc ports
	SOCK=$T/$name.sock
	CONF=$T/$name.conf
	for attempt in 1 2 3 4 5 6 7 8; do
		ports=
		for i in $(seq 1 "$nports"); do
			local p
			p=$(nvb_random_port)
			while [[ " $ports " == *" $p "* ]]; do
				p=$((p + 1))
			done
			printf -v "PORT$i" '%s' "$p"
			ports="$ports $p"
		done
		"$confunc" "$CONF" || nvb_fail "writing $CONF failed"
		t0=$(nvb_now)
		"$NVBRIDGED" -c "$CONF" 2>"$T/$name.log" &
		DAEMON_PID=$!
		NVB_PIDS+=("$DAEMON_PID")
		while :; do
			if ! nvb_alive "$DAEMON_PID"; then
				wait "$DAEMON_PID"
				rc=$?
				if grep -qi 'in use' "$T/$name.log"; then
					nvb_log "port in use, retrying: $(tail -n 1 "$T/$name.log")"
					mv "$T/$name.log" "$T/$name.attempt$attempt.txt"
					continue 2
				fi
				nvb_fail "nvbridged exited with $rc while starting: $(tail -n 5 "$T/$name.log")"
			fi
			if "$NVBRIDGECTL" -s "$SOCK" version >/dev/null 2>&1; then
				nvb_log "nvbridged $name (pid $DAEMON_PID) ready in $(nvb_elapsed "$t0") s, port(s)$ports"
				return 0
			fi
			if [ "$(nvb_elapsed "$t0" | cut -d. -f1)" -ge 30 ]; then
				nvb_fail "nvbridged $name not ready after 30 s"
			fi
			sleep 0.1
		done
	done
	nvb_fail "no free port after 8 attempts"
}

# nvb_stop_daemon [PID [NAME]]: SIGTERM, wait (at most 30 s), expect exit 0.
nvb_stop_daemon() {
	local pid=${1:-$DAEMON_PID} name=${2:-daemon} t0 rc
	nvb_alive "$pid" || nvb_fail "$name (pid $pid) died before it was stopped"
	t0=$(nvb_now)
	kill -TERM "$pid"
	while nvb_alive "$pid"; do
		if [ "$(nvb_elapsed "$t0" | cut -d. -f1)" -ge 30 ]; then
			nvb_fail "$name (pid $pid) still running 30 s after SIGTERM"
		fi
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	STOP_SECONDS=$(nvb_elapsed "$t0")
	nvb_log "$name (pid $pid) exited with $rc, $STOP_SECONDS s after SIGTERM"
	if grep -q 'Sanitizer' "$T"/*.log 2>/dev/null; then
		nvb_fail "sanitizer report in the daemon's stderr"
	fi
	[ "$rc" -eq 0 ] || nvb_fail "$name exited with $rc after SIGTERM (ASan leak report or error: see its log)"
}

# nvb_ctl ARGS...: nvbridgectl on the current socket, echoed to the log.
nvb_ctl() {
	echo "\$ nvbridgectl $*"
	"$NVBRIDGECTL" -s "$SOCK" "$@"
}

# nvb_run PROGRAM ARGS...: run a test program, fail the driver if it fails.
nvb_run() {
	local t0 rc
	t0=$(nvb_now)
	"$@"
	rc=$?
	[ "$rc" -eq 0 ] || nvb_fail "$(basename "$1") $2 failed with $rc after $(nvb_elapsed "$t0") s"
	nvb_alive "$DAEMON_PID" || nvb_fail "the daemon died during $(basename "$1") $2"
}

# A file for the file backend (sparse).
# Write the config most scenarios use to file $1: one port ($PORT1, ANA group 1
# optimized), one subsystem $NQN open to any host, log level $2, then one
# namespace per further argument, NSIDs 1, 2, ... in order:
#   "ram SIZE LBA_SIZE"  or  "file PATH SIZE LBA_SIZE"
# A confunc for nvb_start_daemon: my_conf() { nvb_one_port_conf "$1" info "ram 16M 512"; }
nvb_one_port_conf() {
	local file=$1 level=$2 nsid=0 spec entries=
	shift 2
	for spec in "$@"; do
		local -a f
		read -r -a f <<<"$spec"
		nsid=$((nsid + 1))
		[ -n "$entries" ] && entries+=$',\n\t\t'
		case ${f[0]} in
		ram)  entries+="{ nsid = $nsid; backend = \"ram\"; size = \"${f[1]}\"; lba_size = ${f[2]}; }" ;;
		file) entries+="{ nsid = $nsid; backend = \"file\"; path = \"${f[1]}\"; size = \"${f[2]}\"; lba_size = ${f[3]}; }" ;;
		*)    nvb_fail "nvb_one_port_conf: bad namespace spec '$spec'" ;;
		esac
	done
	cat >"$file" <<CONF
reactors = 2;
log_level = "$level";
ctl_socket = "$SOCK";
ana_groups = ( { id = 1; state = "optimized"; } );
ports = ( { id = 1; address = "127.0.0.1"; port = $PORT1; ana_group = 1; } );
subsystems = ( {
	nqn = "$NQN";
	allow_any_host = true;
	namespaces = (
		$entries
	);
} );
CONF
}

nvb_mkfile() {
	truncate -s "$2" "$1" || nvb_fail "cannot create $1"
}

#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run the standard NVMe/TCP benchmark set with nvb-bench and append the
# results, with a description of the machine, to BENCHMARKS.md:
#   4K random read QD1, 4K random read QD32, 4K random write QD32,
#   128K sequential read QD8 (one I/O queue each).
#
# usage: run-standard.sh [ADDR [PORT [NQN [BENCHMARKS.md]]]]
#   defaults: 127.0.0.1 4420 nqn.2026-04.io.nvbridge:demo ./BENCHMARKS.md
# environment:
#   BENCH_SECONDS  seconds per test (default 10)
#   NVB_BENCH      the nvb-bench binary (default: next to this script, then
#                  ./tests/bench/nvb-bench, then $PATH)
#   BENCH_ARGS     extra nvb-bench arguments (e.g. "--hdgst --ddgst")
set -eu

addr=${1:-127.0.0.1}
port=${2:-4420}
nqn=${3:-nqn.2026-04.io.nvbridge:demo}
out=${4:-./BENCHMARKS.md}
secs=${BENCH_SECONDS:-10}
extra=${BENCH_ARGS:-}
here=$(cd "$(dirname "$0")" && pwd)

find_bench() {
	if [ -n "${NVB_BENCH:-}" ]; then
		echo "$NVB_BENCH"
	elif [ -x "$here/nvb-bench" ]; then
		echo "$here/nvb-bench"
	elif [ -x ./tests/bench/nvb-bench ]; then
		echo ./tests/bench/nvb-bench
	elif command -v nvb-bench >/dev/null 2>&1; then
		command -v nvb-bench
	else
		echo "run-standard.sh: nvb-bench not found (build it with make, or set NVB_BENCH)" >&2
		exit 2
	fi
}
bench=$(find_bench)

# A field of the JSON line nvb-bench prints with --json.
json_field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"
}

cpu_model() {
	sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1
}

commit() {
	git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown
}

rows=""
failed=0
run() {
	name=$1
	shift
	echo "== $name ($secs s)" >&2
	# shellcheck disable=SC2086
	if result=$("$bench" --addr "$addr" --port "$port" --nqn "$nqn" --time "$secs" \
			--json $extra "$@"); then
		printf '%s\n' "$result" | grep -v '^{' >&2
		line=$(printf '%s\n' "$result" | grep '^{' | tail -n 1)
		row=$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$name" \
			"$(json_field "$line" qd)" "$(json_field "$line" iops)" \
			"$(json_field "$line" mib_s)" "$(json_field "$line" p50)" \
			"$(json_field "$line" p99)" "$(json_field "$line" p999)")
	else
		failed=1
		row="| $name | - | failed | - | - | - | - |"
	fi
	rows="$rows$row
"
}

run "4K random read" --rw randread --bs 4k --qd 1
run "4K random read" --rw randread --bs 4k --qd 32
run "4K random write" --rw randwrite --bs 4k --qd 32
run "128K sequential read" --rw read --bs 128k --qd 8

{
	echo
	echo "## NVMe/TCP standard set, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- Target: $addr:$port $nqn, $secs s per test, 1 I/O queue${extra:+, nvb-bench $extra}"
	echo "- Machine: \`$(uname -a)\`"
	echo "- CPU: $(cpu_model), $(nproc) cores online"
	echo "- Commit: $(commit)"
	echo
	echo "| Test | QD | IOPS | MiB/s | p50 µs | p99 µs | p99.9 µs |"
	echo "|------|---:|-----:|------:|-------:|-------:|---------:|"
	printf '%s' "$rows"
} >>"$out"
echo "results appended to $out" >&2
exit $failed

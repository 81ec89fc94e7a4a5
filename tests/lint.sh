#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/lint.sh SRCDIR BUILDDIR CFLAGS...: the `make lint` target.
#
# Runs cppcheck over bridge/ nvmetcp/ iscsi/ daemon/ tests/ and clang-tidy over
# the .c files of bridge/ nvmetcp/ iscsi/ daemon/ (CFLAGS are the compile flags
# clang-tidy needs), then drops the findings listed in tests/lint-suppressions.txt.
# Exits 1 if any finding is left, 2 if a tool is missing or fails to run.
#
# Environment: CPPCHECK, CLANG_TIDY (the programs), LINT_JOBS (clang-tidy
# processes at once, default 2).
set -u

srcdir=$1
builddir=$2
shift 2
CPPCHECK=${CPPCHECK:-cppcheck}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
LINT_JOBS=${LINT_JOBS:-2}
suppressions=$srcdir/tests/lint-suppressions.txt

# The clang-tidy checks: bug finders, less the ones that only argue style.
TIDY_CHECKS='-*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-assignment-in-if-condition'

# Internal: one clang-tidy run, for xargs (tests/lint.sh --tidy-one OUTDIR FILE CFLAGS...).
if [ "$srcdir" = --tidy-one ]; then
	out=$builddir/$(echo "$1" | tr / _)
	file=$1
	shift
	"$CLANG_TIDY" --quiet -checks="$TIDY_CHECKS" "$file" -- "$@" >"$out.out" 2>"$out.err"
	echo $? >"$out.rc"
	exit 0
fi

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
for tool in "$CPPCHECK" "$CLANG_TIDY"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "lint: $tool not found (Debian: apt-get install cppcheck clang-tidy)" >&2
		exit 2
	fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nvb-lint.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$srcdir" || exit 2

# cppcheck cannot expand json-c's json_object_object_foreach (it declares
# its loop variables) and gives up on the whole file; model it as a loop
# over values it cannot predict, so the loop body is still checked.
cat >"$tmp/nvbridge.cfg" <<'CFG'
<?xml version="1.0"?>
<def format="2">
  <define name="json_object_object_foreach(obj,key,val)" value="for (char *key = lint_foreach_key(obj); key; key = NULL) for (struct json_object *val = lint_foreach_val(obj); val; val = NULL)"/>
</def>
CFG

echo "lint: cppcheck $("$CPPCHECK" --version | sed 's/^Cppcheck //')"
"$CPPCHECK" --quiet --enable=warning,performance,portability --std=c11 -D_GNU_SOURCE \
	-I. -I"$builddir" --suppress=missingIncludeSystem --library=posix \
	--library="$tmp/nvbridge.cfg" \
	--template='cppcheck|{id}|{file}|{line}|{message}' \
	bridge nvmetcp iscsi daemon tests 2>"$tmp/cppcheck.txt"
rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$tmp/cppcheck.txt" >&2
	echo "lint: cppcheck failed (exit $rc)" >&2
	exit 2
fi

echo "lint: $("$CLANG_TIDY" --version | grep -i 'llvm version' | sed 's/^ *//')"
mkdir "$tmp/tidy" || exit 2
ls bridge/*.c nvmetcp/*.c iscsi/*.c daemon/*.c |
	xargs -P "$LINT_JOBS" -I{} sh "$self" --tidy-one "$tmp/tidy" {} "$@"
failed=0
for rc in "$tmp"/tidy/*.rc; do
	if [ "$(cat "$rc")" -ne 0 ]; then
		# Compile errors are findings below; anything else is reported here.
		grep -q 'error:' "${rc%.rc}.out" || { cat "${rc%.rc}.err" >&2; failed=1; }
	fi
done
[ "$failed" -eq 0 ] || { echo "lint: clang-tidy failed to run" >&2; exit 2; }

# clang-tidy: "FILE:LINE:COL: warning: MESSAGE [CHECK]", the [CHECK] maybe
# lines later when the message spans lines (optin.performance.Padding);
# notes and source excerpts in between are skipped.
cat "$tmp"/tidy/*.out | awk -v root="$PWD/" '
function emit(check) {
	sub(/^\[/, "", check); sub(/\]$/, "", check)
	print "clang-tidy|" check "|" file "|" line "|" msg
	pending = 0
}
/^[^ ]+:[0-9]+:[0-9]+: (warning|error): / {
	split($0, f, ":")
	file = f[1]; line = f[2]
	if (index(file, root) == 1)
		file = substr(file, length(root) + 1)
	msg = $0
	sub(/^[^ ]+:[0-9]+:[0-9]+: (warning|error): /, "", msg)
	pending = 1
}
pending && match($0, /\[[A-Za-z0-9_.,-]+\]$/) {
	check = substr($0, RSTART)
	sub(/ *\[[A-Za-z0-9_.,-]+\]$/, "", msg)
	emit(check)
}
END { if (pending) print "clang-tidy|unparsed|" file "|" line "|" msg }
' >"$tmp/tidy.txt"

# Each finding: listed (tool, check, file, and a text on the reported
# line), or reported. Entries that matched nothing are pointed out too.
cat "$tmp/cppcheck.txt" "$tmp/tidy.txt" | awk -v supfile="$suppressions" '
BEGIN {
	FS = "|"
	n = 0
	while ((getline s < supfile) > 0) {
		lineno++
		if (s ~ /^[ \t]*(#|$)/)
			continue
		# TOOL CHECK FILE "TEXT" -- REASON
		q1 = index(s, "\""); rest = substr(s, q1 + 1); q2 = index(rest, "\"")
		reason = substr(rest, q2 + 1)
		split(substr(s, 1, q1 - 1), w, " ")
		if (!q1 || !q2 || w[1] == "" || w[2] == "" || w[3] == "" ||
		    reason !~ /^[ \t]*--[ \t]*[^ \t]/) {
			printf "%s:%d: malformed entry (TOOL CHECK FILE \"TEXT\" -- REASON)\n",
			       supfile, lineno
			bad = 1
			continue
		}
		n++
		stool[n] = w[1]; scheck[n] = w[2]; sfile[n] = w[3]
		stext[n] = substr(rest, 1, q2 - 1); sline[n] = lineno; used[n] = 0
	}
	close(supfile)
}
function source_line(file, nr,    l, i) {
	if (!((file, 0) in src)) {
		src[file, 0] = 1
		i = 0
		while ((getline l < file) > 0)
			src[file, ++i] = l
		close(file)
	}
	return ((file, nr) in src) ? src[file, nr] : ""
}
NF >= 5 {
	tool = $1; check = $2; file = $3; nr = $4
	msg = $0; sub(/^[^|]*\|[^|]*\|[^|]*\|[^|]*\|/, "", msg)
	text = source_line(file, nr)
	for (i = 1; i <= n; i++) {
		if (stool[i] == tool && sfile[i] == file &&
		    index("," check ",", "," scheck[i] ",") && stext[i] != "" &&
		    index(text, stext[i])) {
			used[i]++
			suppressed++
			next
		}
	}
	printf "%s:%s: %s: %s [%s]\n", file, nr, tool, msg, check
	found++
	next
}
{ printf "unparsed tool output: %s\n", $0; found++ }
END {
	for (i = 1; i <= n; i++)
		if (!used[i])
			printf "%s:%d: note: this suppression matched nothing (stale?)\n",
			       supfile, sline[i]
	printf "lint: %d finding(s), %d suppressed as false positives\n", found, suppressed
	exit ((found || bad) ? 1 : 0)
}
'

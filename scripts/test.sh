#!/bin/sh
# Install what is missing, build nvbridge with ASan+UBSan and run the whole
# test suite (make check: unit, integration, hostile input, VM tests), then
# `make distcheck` (a normal build from the release tarball).
set -eu
cd "$(dirname "$0")/.."

./scripts/deps.sh --test
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
rm -rf build-check
mkdir -p build-check
cd build-check
../configure --quiet --enable-sanitizers
make -j"$(nproc)" >/dev/null
status=0
make -j"$(nproc)" check || status=$?
if [ "$status" -ne 0 ]; then
	for f in $(find . -name '*.log' ! -name config.log ! -name test-suite.log); do
		if grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null; then
			echo "===== $f"; tail -n 80 "$f"
		fi
	done
	exit "$status"
fi
if [ "${NVB_SKIP_DISTCHECK:-0}" != 1 ]; then
	make -j"$(nproc)" distcheck >distcheck.log 2>&1 || { tail -n 60 distcheck.log; exit 1; }
	echo "make distcheck: OK"
fi

#!/bin/sh
# Install the Debian 12 packages nvbridge needs to build, run and test.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -eu

BUILD="build-essential autoconf automake libtool pkg-config
       libnvme-dev liburing-dev libconfig-dev libjson-c-dev libisal-dev libiscsi-dev check"
TEST="libiscsi-bin nvme-cli procps iproute2 cppcheck"

want="$BUILD"
[ "${1:-}" = "--test" ] && want="$BUILD $TEST"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing

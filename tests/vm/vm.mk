# tests/vm: tests against the real Linux NVMe/TCP and iSCSI initiators, in a QEMU guest that
# boots Debian 12's kernel (see tests/vm/README.md). They need root and take tens of seconds
# each, so they are not in TESTS here: the top level runs $(VM_TESTS) from `make check-vm`.

# Host-side test programs (automake exit codes: 0 pass, 1 fail, 77 skip).
VM_TESTS = tests/vm/test-smoke.sh

dist_noinst_SCRIPTS += \
	tests/vm/build-guest.sh \
	tests/vm/run-guest.sh \
	$(VM_TESTS)

# Sourced or copied into the guest, not run from the build tree.
EXTRA_DIST += \
	tests/vm/README.md \
	tests/vm/init.sh \
	tests/vm/guest-lib.sh \
	tests/vm/lib.sh \
	tests/vm/smoke.sh

# tests/vm: tests against the real Linux NVMe/TCP and iSCSI initiators, in a QEMU guest that
# boots Debian 12's kernel (see tests/vm/README.md). They need root (else they skip) and take
# 10-60 s each. tests/local.mk adds $(VM_TESTS) to TESTS unless configured with
# --disable-vm-tests; `make check-vm` runs only them.

# Host-side test programs (automake exit codes: 0 pass, 1 fail, 77 skip). The slowest first, so
# that a parallel `make check` finishes sooner.
VM_TESTS = \
	tests/vm/test-ana.sh \
	tests/vm/test-reconnect.sh \
	tests/vm/test-seed.sh \
	tests/vm/test-nschange.sh \
	tests/vm/test-hostnqn.sh \
	tests/vm/test-smoke.sh

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
	tests/vm/smoke.sh \
	tests/vm/seed.sh \
	tests/vm/ana.sh \
	tests/vm/reconnect.sh \
	tests/vm/nschange.sh \
	tests/vm/hostnqn.sh

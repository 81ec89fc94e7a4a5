#!/bin/sh
# tests/vm/ana.sh: guest side of test-ana.sh: Linux native NVMe multipath over two nvbridged
# ports in two ANA groups. One head device, two paths; a verified O_DIRECT write/read loop runs
# while the host makes group 1 inaccessible and group 2 optimized, then puts them back. The loop
# must see no error, the I/O must follow the optimized path (per-path request counters), and the
# kernel must neither time out on ANA (ANATT) nor reset a controller. Once per iopolicy.
#
# nvb-vm-env: NVB_PORT1 NVB_PORT2 NVB_NQN NVB_CTL_PORT NVB_POLICIES
# shellcheck source=/dev/null # the guest's copy of tests/vm/guest-lib.sh
. /usr/lib/nvb/guest-lib.sh

for v in NVB_PORT1 NVB_PORT2 NVB_NQN NVB_CTL_PORT NVB_POLICIES; do
	eval "[ -n \"\${$v:-}\" ]" || fail "$v is not set"
done
dmesg_mark ana

head_present() { [ -n "$(nvme_head 1 "$NVB_NQN")" ]; }

nvb_section "connect through both ports"
t0=$(now_cs)
run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT1" -n "$NVB_NQN"
run nvme connect -t tcp -a "$NVB_HOST" -s "$NVB_PORT2" -n "$NVB_NQN"
C1=$(nvme_ctrl_by_port "$NVB_PORT1" "$NVB_NQN")
C2=$(nvme_ctrl_by_port "$NVB_PORT2" "$NVB_NQN")
[ -n "$C1" ] && [ -n "$C2" ] || fail "expected a controller per port, got '$C1' and '$C2'"
wait_for 20 head_present
HEAD=$(nvme_head 1 "$NVB_NQN")
wait_block "/dev/$HEAD"
P1=$(nvme_path "$C1" 1)
P2=$(nvme_path "$C2" 1)
[ -n "$P1" ] && [ -n "$P2" ] || fail "expected a path per controller, got '$P1' and '$P2'"
echo "measured: two connects -> one head /dev/$HEAD with paths $P1 ($C1, port $NVB_PORT1)" \
	"and $P2 ($C2, port $NVB_PORT2) in $(seconds_since "$t0") s"
heads=$(for b in /sys/block/nvme*; do case ${b##*/} in *c*) ;; *) echo "${b##*/}" ;; esac; done)
expect_eq "$heads" "$HEAD" "exactly one head device"

SUBSYS=""
for s in /sys/class/nvme-subsystem/*; do
	[ "$(cat "$s/subsysnqn")" = "$NVB_NQN" ] && SUBSYS=$s
done
[ -n "$SUBSYS" ] || fail "no nvme-subsystem for $NVB_NQN"

out=$(nvme list-subsys "/dev/$HEAD" 2>&1) || fail "nvme list-subsys: $out"
echo "$out"
expect_match "$out" "$C1 tcp traddr=$NVB_HOST,trsvcid=$NVB_PORT1.* live optimized" \
	"nvme list-subsys: $C1 live optimized"
expect_match "$out" "$C2 tcp traddr=$NVB_HOST,trsvcid=$NVB_PORT2.* live non-optimized" \
	"nvme list-subsys: $C2 live non-optimized"
expect_eq "$(ana_state "$P1")" optimized "$P1 ana_state"
expect_eq "$(ana_state "$P2")" non-optimized "$P2 ana_state"

states_are() {
	[ "$(ana_state "$P1")" = "$1" ] && [ "$(ana_state "$P2")" = "$2" ]
}

# phase NAME REQUEST STATE1 STATE2 BUSY IDLE: the host does REQUEST; wait until the kernel shows
# the new states; then the loop's I/O must go through BUSY and none through IDLE.
phase() {
	_t=$(now_cs)
	host_request "$2"
	wait_for 30 states_are "$3" "$4"
	_seen=$(seconds_since "$_t")
	echo "$P1 $(ana_state "$P1"), $P2 $(ana_state "$P2") after $_seen s"
	# The step in flight may have started on the old path: let it finish.
	io_loop_wait_ops 1
	_b0=$(path_ios "$5")
	_i0=$(path_ios "$6")
	io_loop_wait_ops 3
	_b1=$(path_ios "$5")
	_i1=$(path_ios "$6")
	[ "$_b1" -gt "$_b0" ] || fail "$1: no I/O went through $5 ($3/$4)"
	expect_eq "$((_i1 - _i0))" 0 "$1: requests through $6 while it is not optimized"
	echo "measured: $POLICY $1: ANA change seen in $_seen s; then $((_b1 - _b0)) requests through $5, none through $6"
}

io_loop_prepare "/dev/$HEAD" 0 16 4
for POLICY in $NVB_POLICIES; do
	nvb_section "iopolicy $POLICY"
	if ! echo "$POLICY" >"$SUBSYS/iopolicy"; then
		# queue-depth came with Linux 6.11; the 6.12 kernel (the default guest) must take all.
		kver=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
		[ "$kver" -lt 6011 ] || fail "the kernel refuses iopolicy $POLICY"
		echo "measured: iopolicy $POLICY: not in kernel $(uname -r), skipped"
		continue
	fi
	expect_eq "$(cat "$SUBSYS/iopolicy")" "$POLICY" "iopolicy"
	io_loop_start
	io_loop_wait_ops 2
	s1=$(path_ios "$P1")
	s2=$(path_ios "$P2")
	io_loop_wait_ops 2
	[ "$(path_ios "$P1")" -gt "$s1" ] || fail "no I/O through the optimized path $P1"
	expect_eq "$(($(path_ios "$P2") - s2))" 0 "requests through the non-optimized $P2"
	phase failover failover inaccessible optimized "$P2" "$P1"
	phase failback failback optimized non-optimized "$P1" "$P2"
	io_loop_stop
	echo "measured: $POLICY: $IO_OPS verified 4 MiB steps at $IO_MIBS MiB/s (writes + reads)," \
		"0 I/O errors; requests per path: $P1 $(path_ios "$P1"), $P2 $(path_ios "$P2")"
done

nvb_section "after"
t0=$(now_cs)
io_loop_verify_all
echo "measured: read back and verified $IO_VERIFIED chunks of 4 MiB in $(seconds_since "$t0") s"
expect_eq "$(nvme_ctrl_state "$C1") $(nvme_ctrl_state "$C2")" "live live" "controller states"
expect_no_dmesg ana 'ANATT|resetting controller|I/O error|timeout|reconnect|Connect command failed' \
	"no ANATT timeout, controller reset or I/O error in dmesg"
echo "kernel messages about the paths:"
dmesg_since ana | grep -E 'nvme|ANA' | tail -n 20
out=$(nvme disconnect -n "$NVB_NQN" 2>&1) || fail "nvme disconnect: $out"
expect_match "$out" "disconnected 2 controller" "nvme disconnect -n $NVB_NQN"
echo "ana: all checks passed"

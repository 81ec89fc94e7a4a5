#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 4: a bad config makes nvbridged exit non-zero with
# "FILE:LINE: reason" naming the offending line: a namespace whose file is
# missing, a duplicate NSID, a port already in use (held by another
# nvbridged), an unknown key, an unknown ANA group, and more. Each bad line
# carries the marker "# BAD" so the expected line number is found, not
# hard-coded. The error paths must not leak either (ASan).
. "$(dirname "$0")/lib.sh"

failures=0

# conf_with NAME BODY: a complete config whose subsystem/ports come from BODY
# (text with the placeholders below already expanded by the caller).
conf_head() {
	cat <<CONF
reactors = 1;
log_level = "info";
ctl_socket = "$T/$1.sock";
ana_groups = ( { id = 1; state = "optimized"; } );
CONF
}

# expect_bad NAME REGEX: run nvbridged on $T/NAME.conf; it must fail, and
# its stderr must name NAME.conf:LINE (the "# BAD" line) and match REGEX.
expect_bad() {
	local name=$1 regex=$2 conf=$T/$1.conf line rc err
	line=$(grep -n '# BAD' "$conf" | head -n 1 | cut -d: -f1)
	[ -n "$line" ] || nvb_fail "test bug: no '# BAD' line in $conf"
	timeout 30 "$NVBRIDGED" -c "$conf" >"$T/$name.out.txt" 2>"$T/$name.err.txt"
	rc=$?
	err=$(cat "$T/$name.err.txt")
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		echo "FAIL $name: nvbridged exited with $rc (expected a refusal); stderr: $err"
		failures=$((failures + 1))
	elif ! grep -q "$name\.conf:$line: " "$T/$name.err.txt"; then
		echo "FAIL $name: stderr does not name $name.conf:$line: $err"
		failures=$((failures + 1))
	elif ! grep -Eqi "$regex" "$T/$name.err.txt"; then
		echo "FAIL $name: the reason does not match /$regex/: $err"
		failures=$((failures + 1))
	elif grep -q 'Sanitizer' "$T/$name.err.txt"; then
		echo "FAIL $name: sanitizer report on the error path: $err"
		failures=$((failures + 1))
	else
		echo "ok   $name (exit $rc): $(grep "$name\.conf:$line: " "$T/$name.err.txt" | head -n 1)"
	fi
	[ -e "$T/$name.sock" ] && { echo "FAIL $name: left its control socket behind"; failures=$((failures + 1)); }
}

port_line() {           # a valid port on $1
	echo "ports = ( { id = 1; address = \"127.0.0.1\"; port = $1; ana_group = 1; } );"
}

# A daemon that holds a port, for "port in use".
hold_conf() {
	cat >"$1" <<CONF
$(conf_head hold)
$(port_line "$PORT1")
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
}
nvb_start_daemon hold 1 hold_conf
SOCK=$T/hold.sock
FREE_PORT=$((PORT1 + 1))

{
	conf_head missing_file
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "file"; path = "$T/no-such-file.img"; size = "16M"; } # BAD
	); } );
CONF
} >"$T/missing_file.conf"
expect_bad missing_file 'no-such-file|no such file|not exist|missing'

{
	conf_head dup_nsid
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; size = "1M"; },
		{ nsid = 1; backend = "ram"; size = "1M"; } # BAD
	); } );
CONF
} >"$T/dup_nsid.conf"
expect_bad dup_nsid 'duplicate|twice|already|more than once'

{
	conf_head port_in_use
	echo "ports = ( { id = 1; address = \"127.0.0.1\"; port = $PORT1; ana_group = 1; } ); # BAD"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/port_in_use.conf"
expect_bad port_in_use 'in use'

{
	conf_head unknown_key
	echo "colour_of_the_box = \"blue\"; # BAD"
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/unknown_key.conf"
expect_bad unknown_key 'colour_of_the_box'

{
	conf_head unknown_ns_key
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; size = "1M"; sise = "2M"; } # BAD
	); } );
CONF
} >"$T/unknown_ns_key.conf"
expect_bad unknown_ns_key 'sise'

{
	conf_head bad_ana_group
	echo "ports = ( { id = 1; address = \"127.0.0.1\"; port = $FREE_PORT; ana_group = 7; } ); # BAD"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/bad_ana_group.conf"
expect_bad bad_ana_group 'ana|group'

# The transient ANA "change" state: hosts reset controllers left in it.
{
	conf_head ana_change | grep -v '^ana_groups'
	cat <<CONF
ana_groups = ( { id = 1; state = "optimized"; },
	{ id = 3; state = "change"; } ); # BAD
CONF
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/ana_change.conf"
expect_bad ana_change 'ANA group 3: state "change" is transient: hosts reset controllers'

{
	conf_head bad_lba_size
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; size = "1M"; lba_size = 1000; } # BAD
	); } );
CONF
} >"$T/bad_lba_size.conf"
expect_bad bad_lba_size 'lba_size|512|4096'

{
	conf_head bad_nqn
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( {
	nqn = "storage-without-prefix"; # BAD
	allow_any_host = true;
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/bad_nqn.conf"
expect_bad bad_nqn 'nqn'

{
	conf_head ram_no_size
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = true;
	namespaces = (
		{ nsid = 1; backend = "ram"; } # BAD
	); } );
CONF
} >"$T/ram_no_size.conf"
expect_bad ram_no_size 'size'

{
	conf_head syntax
	port_line "$FREE_PORT"
	cat <<CONF
subsystems = ( { nqn = "$NQN"; allow_any_host = = true; # BAD
	namespaces = ( { nsid = 1; backend = "ram"; size = "1M"; } ); } );
CONF
} >"$T/syntax.conf"
expect_bad syntax 'syntax|parse|expect'

nvb_stop_daemon "$DAEMON_PID" "the daemon holding port $PORT1"
[ "$failures" -eq 0 ] || nvb_fail "$failures bad config(s) not reported as expected"
echo "all bad configs refused with FILE:LINE: reason"

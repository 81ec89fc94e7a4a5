#!/bin/bash
# tests/vm/test-smoke.sh: the VM harness proves itself. Builds the guest (or reuses the cached
# one), starts a one-shot TCP echo listener on the host's 127.0.0.1, boots the guest with
# smoke.sh, and checks that the guest has its tools and modules and reached the listener as
# 10.0.2.2. Prints the build, boot and total times it measured.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

vm_init
command -v python3 >/dev/null || vm_skip "python3 is needed for the host-side listener"

# One connection, one line in, "pong: <line>" out; gives up after TIMEOUT seconds.
cat >"$VM_TMP/listener.py" <<'EOF'
import socket, sys
port_file, seen_file, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
srv.settimeout(timeout)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
import os
os.rename(port_file + ".tmp", port_file)
conn, peer = srv.accept()
conn.settimeout(30)
line = b""
while not line.endswith(b"\n"):
    chunk = conn.recv(256)
    if not chunk:
        break
    line += chunk
text = line.decode(errors="replace").strip()
conn.sendall(("pong: %s\n" % text).encode())
conn.close()
with open(seen_file, "w") as f:
    f.write("%s from %s\n" % (text, peer[0]))
EOF
vm_bg "$VM_TMP/listener.log" python3 "$VM_TMP/listener.py" "$VM_TMP/port" "$VM_TMP/seen" \
	"${TIMEOUT:-300}"
for _ in $(seq 50); do
	[ -s "$VM_TMP/port" ] && break
	sleep 0.1
done
[ -s "$VM_TMP/port" ] || vm_fail "the host listener did not start: $(cat "$VM_TMP/listener.log")"
port=$(cat "$VM_TMP/port")
vm_log "host listener on 127.0.0.1:$port"

t_run=$(vm_now)
NVB_PORT=$port vm_run "$VM_DIR/smoke.sh"
vm_log "guest run took $(vm_since "$t_run") s"

vm_expect '^smoke: all checks passed$' "guest checks"
[ -s "$VM_TMP/seen" ] || vm_fail "the host listener saw no connection from the guest"
grep -q '^ping from nvb-guest from 127\.0\.0\.1$' "$VM_TMP/seen" ||
	vm_fail "unexpected data at the host listener: $(cat "$VM_TMP/seen")"
vm_log "ok: the host listener got '$(cat "$VM_TMP/seen")'"
vm_measured
vm_pass

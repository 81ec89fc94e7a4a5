#!/bin/bash
# SPDX-License-Identifier: MIT
# Acceptance 5: the nvmetcli JSON of a common NVMe-oF guide (one TCP port on
# 127.0.0.1, subsystem nqn.2026-04.com.example:storage-node-01 open to any
# host, serial 123456789, namespace 1 on a file with a given NGUID) goes
# through `nvbridgectl import-nvmetcli`, and nvbridged serves the result:
# discovery lists it, Identify shows the serial and the NGUID, data written
# reads back and lands in the device file.
. "$(dirname "$0")/lib.sh"

SUBNQN=nqn.2026-04.com.example:storage-node-01
NGUID=23531b79-5cd8-4228-a5ec-9f5e0842db13

nvb_mkfile "$T/storage.img" 64M

import_conf() {
	# As `nvmetcli save` writes it, with the test's port and file.
	cat >"$T/nvmetcli.json" <<JSON
{
  "hosts": [],
  "ports": [
    {
      "addr": {
        "adrfam": "ipv4",
        "traddr": "127.0.0.1",
        "treq": "not specified",
        "trsvcid": "$PORT1",
        "trtype": "tcp"
      },
      "portid": 1,
      "referrals": [],
      "subsystems": [
        "$SUBNQN"
      ]
    }
  ],
  "subsystems": [
    {
      "allowed_hosts": [],
      "attr": {
        "allow_any_host": "1",
        "serial": "123456789"
      },
      "namespaces": [
        {
          "device": {
            "nguid": "uuid:$NGUID",
            "path": "$T/storage.img"
          },
          "enable": 1,
          "nsid": 1
        }
      ],
      "nqn": "$SUBNQN"
    }
  ]
}
JSON
	echo "\$ nvbridgectl import-nvmetcli nvmetcli.json -o $(basename "$1")"
	"$NVBRIDGECTL" import-nvmetcli "$T/nvmetcli.json" -o "$1" || return 1
	# Our own control socket instead of the system default.
	sed -i "s|^ctl_socket = .*|ctl_socket = \"$SOCK\";|" "$1"
	grep -q "^ctl_socket = \"$SOCK\";" "$1"
}

nvb_start_daemon imported 1 import_conf
echo "---- imported configuration ----"
cat "$CONF"
echo "--------------------------------"
nvb_run "$NVB_ITEST" imported --port "$PORT1" --nqn "$SUBNQN" --serial 123456789 --nguid "$NGUID"
nvb_ctl list subsystems || nvb_fail "list subsystems failed"
nvb_ctl --json list namespaces >"$T/ns.json" 2>&1 || nvb_fail "list namespaces failed"
cat "$T/ns.json"
tr -d -- '-' <"$T/ns.json" | grep -qi "${NGUID//-/}" || nvb_fail "list namespaces does not show the NGUID"
nvb_stop_daemon

# The data went to the nvmetcli device path: block 0 carries the test's tag.
tag=$(dd if="$T/storage.img" bs=1 skip=4 count=4 2>/dev/null)
[ "$tag" = "TBVN" ] || nvb_fail "the device file does not hold the written data (tag '$tag')"
echo "the device file holds the data written through NVMe/TCP"

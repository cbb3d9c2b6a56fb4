#!/usr/bin/env bash
# isn.sh - two boots of the bare-metal image choose different initial sequence numbers for the
# same connection (same addresses and ports, both boots seeded as tools/run-qemu.sh seeds them),
# as seen on the wire: the SYN-ACK's sequence number, captured by tshark. (What makes them
# unpredictable is the seeded key, which no observation of the wire can show; docs/porting.md.)
# usage: isn.sh SOURCE_DIR IMAGE_BUILD_DIR [BOARD]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/lib_qemu.sh"
top=$1 build=$2 board=${3:-mps2-an386}
need_qemu
command -v tshark >/dev/null || skip "tshark is not installed"
tmp=$(mktemp -d)
make_ns weir-isn
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap
nsx() { ip netns exec "$WEIR_NS" "$@"; }

# isn_of_boot N: boots, connects from 192.0.2.1:40007 to port 7, and writes the SYN-ACK's raw
# sequence number to $tmp/isnN (empty when there was none).
isn_of_boot() {
	local n=$1 cap=$tmp/boot$1.pcap tpid
	: >"$tmp/isn$n"
	boot "boot$n"
	nsx tshark -q -i weir0 -f "tcp src port 7 and tcp[13] & 0x12 == 0x12" -c 1 -w "$cap" \
		>/dev/null 2>&1 &
	tpid=$!
	WEIR_PIDS+=("$tpid")
	if ! wait_capturing "$cap"; then
		fail "boot $n: tshark did not start"
		halt
		return
	fi
	nsx "$PY" - <<'PY'
import socket
import struct
s = socket.socket()
# Close with RST: no TIME_WAIT, so the next boot's connection can have the same 4-tuple.
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 40007))
s.settimeout(10)
s.connect(("192.0.2.2", 7))
s.close()
PY
	for _ in $(seq 1 50); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
	tshark -r "$cap" -T fields -e tcp.seq_raw 2>/dev/null | head -1 >"$tmp/isn$n"
	halt
}

isn_of_boot 1
isn_of_boot 2
a=$(cat "$tmp/isn1")
b=$(cat "$tmp/isn2")
echo "SYN-ACK sequence numbers: boot 1 $a, boot 2 $b"
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then
	pass "two boots, two initial sequence numbers for the same 4-tuple ($a, $b)"
else
	fail "initial sequence numbers: '$a' and '$b'"
fi
finish

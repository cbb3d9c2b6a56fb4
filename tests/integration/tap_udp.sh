#!/usr/bin/env bash
# tap_udp.sh - weir's UDP sockets against Linux over TAP in a private namespace: 1000 datagrams of
# 0..8000 bytes echoed byte-exact by the appliance's udp-echo service (IP fragmentation both
# ways), and one 4000-byte datagram (3 fragments) echoed to socat.
# usage: tap_udp.sh PATH/TO/weir-appliance   (the appliance must support --serve udp-echo:PORT)
set -u
. "$(dirname "$0")/lib.sh"
app=${1:-}
[ -n "$app" ] && [ -x "$app" ] || skip "usage: tap_udp.sh PATH/TO/weir-appliance (not given or not executable)"
need_root_tap
command -v python3 >/dev/null || skip "python3 is not installed"
command -v socat >/dev/null || skip "socat is not installed"

make_ns weir-tap-udp
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
# For foreground commands only (see tap_tcp.sh: $! of a backgrounded function is a subshell).
nsx() { ip netns exec "$WEIR_NS" "$@"; }

add_tap
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve udp-echo:7 \
	>"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
pass "appliance ready"

# 1. 1000 datagrams, sizes spread over 0..8000 (most above the 1472-byte payload of one 1500-byte
#    frame), each echoed byte-exact. UDP may lose a datagram: each gets one retry after a 1 s
#    timeout, and the retries are reported. Every datagram carries its number, so a late reply to
#    a retried one is recognised and skipped, never mistaken for the next.
cat >"$tmp/client.py" <<'EOF'
import os, socket, struct, sys

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Let Linux fragment datagrams larger than the MTU (no DF, no path-MTU errors).
s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_MTU_DISCOVER", 10), 0)
s.settimeout(1.0)
retries = failed = frags = 0
for i in range(count):
    size = 0 if i == 0 else 8000 if i == count - 1 else (i * 7919) % 8001
    if size > 1472:
        frags += 1
    # Sizes below 4 carry no number: a stale reply of another size is still rejected by length.
    msg = (struct.pack("!I", i) + os.urandom(max(size - 4, 0)))[:size] if size >= 4 else os.urandom(size)
    ok = False
    for attempt in range(2):
        s.sendto(msg, (host, port))
        try:
            while True:
                data, src = s.recvfrom(65536)
                if data == msg and src == (host, port):
                    ok = True
                    break
                if len(data) == len(msg) and len(msg) >= 4 and data[:4] == msg[:4]:
                    print("datagram %d: reply differs (%d bytes)" % (i, size))
                    sys.exit(1)
                # Otherwise a late echo of an earlier (retried) datagram: skip it.
        except socket.timeout:
            pass
        if ok:
            break
        retries += 1
    if not ok:
        failed += 1
        print("datagram %d (%d bytes): no echo after a retry" % (i, size))
print("%d datagrams echoed byte-exact (%d fragmented), %d retried, %d lost"
      % (count - failed, frags, retries, failed))
sys.exit(1 if failed else 0)
EOF
if out=$(nsx "$PY" "$tmp/client.py" 192.0.2.2 7 1000 2>&1); then pass "$out"
else fail "echo: $out"; fi

# 2. socat: one 4000-byte datagram (fragmented by Linux, reassembled by weir, fragmented again by
#    weir's IP_FRAG on the way back) echoed byte-exact.
head -c 4000 /dev/urandom >"$tmp/big"
nsx socat -b65536 -t2 -T2 - UDP:192.0.2.2:7 <"$tmp/big" >"$tmp/big.out" 2>"$tmp/socat.err"
if cmp -s "$tmp/big" "$tmp/big.out"; then pass "4000-byte fragmented datagram echoed byte-exact by socat"
else fail "socat echo differs: $(stat -c %s "$tmp/big.out") bytes back; $(cat "$tmp/socat.err")"; fi

kill -0 "$pid" 2>/dev/null && pass "appliance still running" || fail "appliance died: $(tail -5 "$tmp/log")"
finish

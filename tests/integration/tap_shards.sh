#!/usr/bin/env bash
# tap_shards.sh - the appliance with --shards 2 on one multi-queue TAP device: 64 Linux clients at
# once to echo and to HTTP, byte-exact, served by both shards; a proxy whose connects from either
# shard to a Linux server get their replies (the steering and port choice); ARP learned by one
# shard used by the other; per-shard counters (SIGUSR1, metrics) and their sum; SIGTERM drains
# both shards.
# usage: tap_shards.sh PATH/TO/weir-appliance
set -u
here=$(dirname "$0")
. "$here/lib.sh"
app=$1
need_root_tap
for c in curl socat; do command -v $c >/dev/null || skip "$c is not installed"; done

make_ns weir-tap-shards
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; } # foreground only (see tap_tcp.sh)

# A device made without multi_queue cannot give two queues: one line saying so, exit 2.
ip -n "$WEIR_NS" tuntap add dev weir1 mode tap
err=$(ip netns exec "$WEIR_NS" "$app" --netdev tap:weir1 --ip 192.0.2.2/24 --shards 2 \
	--serve echo:7 2>&1 >/dev/null)
rc=$?
if [ "$rc" = 2 ] && [[ "$err" == *multi_queue* ]]; then pass "a single-queue device refused: $err"
else fail "single-queue device with --shards 2: exit $rc: $err"; fi
ip -n "$WEIR_NS" link del weir1

ip -n "$WEIR_NS" tuntap add dev weir0 mode tap multi_queue
ip -n "$WEIR_NS" addr add 192.0.2.1/24 dev weir0
ip -n "$WEIR_NS" link set weir0 up

mkdir -p "$tmp/www"
head -c $((512 << 10)) /dev/urandom >"$tmp/www/blob"
head -c $((8 << 20)) /dev/urandom >"$tmp/www/big"
# The proxy's backend: a Linux echo server.
ip netns exec "$WEIR_NS" socat TCP-LISTEN:9000,bind=192.0.2.1,fork,reuseaddr EXEC:cat \
	>/dev/null 2>&1 &
WEIR_PIDS+=("$!")

ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --shards 2 --cpus 0-1 \
	--serve echo:7 --serve "http:80:$tmp/www" --serve proxy:8081=192.0.2.1:9000 \
	--serve metrics:9100 --drain-timeout 20 >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
if grep -q '^ready tap:weir0 192.0.2.2/24 .* shards 2$' "$tmp/out"; then pass "ready: $(head -1 "$tmp/out")"
else fail "ready line: $(head -1 "$tmp/out")"; fi

# 64 clients at once: echo (128 KiB each), HTTP (the 512 KiB file), and 16 through the proxy
# (64 KiB each, echoed by the Linux backend), every byte checked.
if out=$(nsx "$PY" - "$tmp/www/blob" <<'PYEOF'
import socket, sys, threading, random
blob = open(sys.argv[1], "rb").read()
errors, lock = [], threading.Lock()

def echo(i, port, n):
    try:
        data = random.Random(i).randbytes(n)
        s = socket.create_connection(("192.0.2.2", port), timeout=30)
        got = bytearray()
        def rd():
            while len(got) < n:
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        t = threading.Thread(target=rd); t.start()
        s.sendall(data)
        t.join(30)
        s.close()
        if bytes(got) != data:
            raise Exception("port %d client %d: %d of %d bytes, %s" % (port, i, len(got), n, "differ" if len(got) == n else "short"))
    except Exception as e:
        with lock: errors.append(str(e))

def http(i):
    try:
        s = socket.create_connection(("192.0.2.2", 80), timeout=30)
        s.sendall(b"GET /blob HTTP/1.0\r\n\r\n")
        resp = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            resp.extend(b)
        s.close()
        body = bytes(resp).split(b"\r\n\r\n", 1)[1]
        if body != blob:
            raise Exception("http client %d: %d bytes, not the file" % (i, len(body)))
    except Exception as e:
        with lock: errors.append(str(e))

ts = [threading.Thread(target=echo, args=(i, 7, 128 << 10)) for i in range(64)]
ts += [threading.Thread(target=http, args=(i,)) for i in range(64)]
ts += [threading.Thread(target=echo, args=(1000 + i, 8081, 64 << 10)) for i in range(16)]
for t in ts: t.start()
for t in ts: t.join(60)
if errors:
    print("%d failed: %s" % (len(errors), "; ".join(errors[:3])))
    sys.exit(1)
print("64 echo (128 KiB), 64 HTTP (512 KiB), 16 proxied (64 KiB) clients at once, byte-exact")
PYEOF
); then pass "$out"; else fail "$out"; fi

# Per-shard counters: both shards served echo, HTTP and the proxy (each proxy flow is a connect
# from the shard that accepted it, and only works if the replies came back to that shard), and
# shard 1 took frames shard 0 shared (the ARP that taught it Linux's MAC: every non-TCP/UDP frame
# arrives on queue 0). A page shows the other shards' counters as of their last snapshot (every
# 250 ms): let them take one.
sleep 0.6
if nsx curl -sf -m 10 -o "$tmp/metrics" http://192.0.2.2:9100/metrics &&
   out=$("$PY" - "$tmp/metrics" <<'PYEOF'
import re, sys
m = {}
for line in open(sys.argv[1]):
    r = re.match(r'^(weir_[a-z_]+)(\{[^}]*\})? ([0-9]+)$', line.strip())
    if r:
        m[r.group(1) + (r.group(2) or "")] = int(r.group(3))
def acc(svc, port, shard):
    return m.get('weir_service_flows_accepted_total{service="%s",port="%d",shard="%d"}' % (svc, port, shard), 0)
msg = []
for svc, port, want in (("echo", 7, 64), ("http", 80, 64), ("proxy", 8081, 16)):
    a = [acc(svc, port, s) for s in (0, 1)]
    total = m.get('weir_service_flows_accepted_total{service="%s",port="%d"}' % (svc, port), -1)
    assert total == sum(a) and total >= want, "%s: total %d, shards %s" % (svc, total, a)
    assert a[0] > 0 and a[1] > 0, "%s: one shard served none: %s" % (svc, a)
    msg.append("%s %d+%d" % (svc, a[0], a[1]))
shin = m.get('weir_shard_frames_total{dir="in",shard="1"}', 0)
assert shin > 0, "shard 1 took no frames from shard 0"
rx = [m['weir_rx_frames_total{shard="%d"}' % s] for s in (0, 1)]
assert m["weir_rx_frames_total"] == sum(rx), "the total is not the sum"
print("flows per shard: %s; frames shared into shard 1: %d; rx frames %d+%d" % (", ".join(msg), shin, rx[0], rx[1]))
PYEOF
   ); then pass "$out"
else fail "metrics: ${out:-curl failed}"; fi

kill -USR1 "$pid"
sleep 0.5
if grep -q 'stats: shard 0: flows' "$tmp/log" && grep -q 'stats: shard 1: flows' "$tmp/log"; then
	pass "SIGUSR1: a stats line per shard"
else fail "SIGUSR1: $(grep 'stats:' "$tmp/log" | tail -2)"; fi

# SIGTERM while downloads are in flight on both shards: 6 clients read the 8 MiB file slowly
# (tcp_client.py slow-get: about 2.6 s each, flow control holding the server back), and the
# signal comes once all 6 have their first bytes. All complete byte-exact, then exit 0 with a
# summary per shard and in total.
cpids=()
for i in 1 2 3 4 5 6; do
	ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" slow-get 192.0.2.2 80 /big \
		"$tmp/www/big" >"$tmp/slow.$i" 2>&1 &
	cpids+=("$!")
	WEIR_PIDS+=("$!")
done
started() { cat "$tmp"/slow.? | grep -c '^started'; }
for _ in $(seq 1 200); do [ "$(started)" -ge 6 ] && break; sleep 0.05; done
[ "$(started)" -ge 6 ] || fail "the 6 downloads did not all start: $(cat "$tmp"/slow.?)"
kill -TERM "$pid"
ok=0
for c in "${cpids[@]}"; do wait "$c" && ok=$((ok + 1)); done
if [ "$ok" = 6 ] && [ "$(cat "$tmp"/slow.? | grep -c '^done byte-exact')" = 6 ]; then
	pass "6 in-flight 8 MiB downloads completed byte-exact after SIGTERM"
else fail "downloads after SIGTERM: $ok of 6 exited 0: $(cat "$tmp"/slow.? | grep '^done')"; fi
wait "$pid"
rc=$?
# The drain waited for the downloads (they had about 2.6 s to go), not a moment.
ms=$(sed -n 's/.*appliance: stopped after \([0-9]*\) ms.*/\1/p' "$tmp/log")
if [ "$rc" = 0 ] && grep -q 'shard 0 stopped after' "$tmp/log" && grep -q 'shard 1 stopped after' "$tmp/log" &&
   [ "${ms:-0}" -ge 500 ]; then
	pass "exit 0 after draining both shards: $(grep 'appliance: stopped after' "$tmp/log" | sed 's/.*appliance: //' | cut -c1-100)"
else fail "exit $rc after SIGTERM: $(tail -3 "$tmp/log")"; fi
grep -q -i 'error\|warn' "$tmp/log" && echo "log: $(grep -i 'error\|warn' "$tmp/log" | head -3)"
finish

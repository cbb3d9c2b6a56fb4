#!/usr/bin/env bash
# tap_appliance.sh - the appliance as an operator runs it: chargen, a proxy to a Linux HTTP server
# (and to one that is down), --service-max-connections, --pcap, SIGUSR1 stats, the counters for a
# Prometheus scraper (--serve metrics:PORT), a config file, and a SIGTERM that drains an in-flight
# 10 MiB download before exiting 0.
# usage: tap_appliance.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
here=$(dirname "$0")
need_root_tap
for c in curl tshark python3; do command -v $c >/dev/null || skip "$c is not installed"; done

make_ns weir-tap-app
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; } # foreground only (see tap_tcp.sh)

add_tap

# A Linux HTTP server in the namespace is the proxy's backend.
mkdir -p "$tmp/backend" "$tmp/www"
head -c $((2 << 20)) /dev/urandom >"$tmp/backend/blob"
head -c $((10 << 20)) /dev/urandom >"$tmp/www/big.bin"
echo '<html>weir</html>' >"$tmp/www/index.html"
ip netns exec "$WEIR_NS" "$PY" -m http.server 8000 --bind 192.0.2.1 --directory "$tmp/backend" \
	>/dev/null 2>&1 &
WEIR_PIDS+=("$!")
# and a DNS server that knows the backend by name (the proxy on 8083 asks it).
have_dns=0
if command -v dnsmasq >/dev/null; then
	ip netns exec "$WEIR_NS" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--listen-address=192.0.2.1 --bind-interfaces --address=/backend.weir.test/192.0.2.1 \
		--pid-file= >"$tmp/dnsmasq.log" 2>&1 &
	WEIR_PIDS+=("$!")
	have_dns=1
fi

cat >"$tmp/weir.conf" <<CONF
# the appliance's config file: flags given on the command line override it
netdev = tap:weir0
ip = 192.0.2.2/24
serve = chargen:19
serve = echo:7
serve = proxy:8081=192.0.2.1:8000
serve = proxy:8082=192.0.2.1:8001   # nothing listens there
serve = proxy:8083=backend.weir.test:8000   # by name, through dnsmasq below
dns = 192.0.2.1
serve = http:8080:$tmp/www
serve = metrics:9100
service-max-connections = 2
log-level = info
CONF
ip netns exec "$WEIR_NS" "$app" --config "$tmp/weir.conf" --pcap "$tmp/cap.pcap" \
	--drain-timeout 20 >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
pass "appliance ready from a config file: $(head -1 "$tmp/out")"
sleep 0.3 # the backend server binds

# 1. chargen (RFC 864)
if out=$(nsx "$PY" "$here/tcp_client.py" chargen 192.0.2.2 19 100000); then pass "$out"
else fail "$out"; fi

# 2. Proxy to the Linux HTTP server, byte-exact; half-close carried both ways (the download
#    ends when the backend's FIN is passed on).
if nsx curl -sf -m 10 -o "$tmp/blob.out" http://192.0.2.2:8081/blob && cmp -s "$tmp/backend/blob" "$tmp/blob.out"; then
	pass "proxy: 2 MiB through weir to the Linux backend, byte-exact"
else fail "proxy download differs or failed"; fi

# 3. Backend down: the client sees a clean close (curl: empty reply), the appliance serves on.
nsx curl -s -m 10 -o /dev/null http://192.0.2.2:8082/blob
rc=$?
if [ "$rc" = 52 ]; then pass "proxy with the backend down: client got a clean close (curl exit 52)"
else fail "proxy with the backend down: curl exit $rc (wanted 52, empty reply)"; fi
if nsx curl -sf -m 10 -o /dev/null http://192.0.2.2:8081/blob; then pass "still proxying afterwards"
else fail "proxy broken after a backend failure"; fi
if [ "$have_dns" = 1 ]; then
	if nsx curl -sf -m 10 -o "$tmp/blob3" http://192.0.2.2:8083/blob && cmp -s "$tmp/blob3" "$tmp/backend/blob"; then
		pass "proxy to a backend by name (DNS): 2 MiB byte-exact"
	else fail "proxy by name failed: $(grep -i proxy "$tmp/log" | tail -2)"; fi
else
	echo "SKIP: proxy by name: dnsmasq is not installed (dnsmasq-base)"
fi

# 4. --service-max-connections 2: a third concurrent flow is closed at once.
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" idle 192.0.2.2 7 4 >"$tmp/idle1" 2>&1 &
WEIR_PIDS+=("$!")
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" idle 192.0.2.2 7 4 >"$tmp/idle2" 2>&1 &
WEIR_PIDS+=("$!")
for _ in $(seq 1 100); do
	grep -q connected "$tmp/idle1" && grep -q connected "$tmp/idle2" && break
	sleep 0.05
done
if out=$(nsx "$PY" "$here/tcp_client.py" expect-eof 192.0.2.2 7); then pass "third flow: $out"
else fail "max-connections not enforced: $out"; fi

# 5. SIGUSR1 prints the counters now (refused is counted).
kill -USR1 "$pid"
sleep 0.3
if grep -q 'stats: flows open .* refused [1-9]' "$tmp/log"; then pass "SIGUSR1: $(grep 'stats:' "$tmp/log" | tail -1 | sed 's/.*stats: //')"
else fail "no stats line after SIGUSR1"; fi

# 5b. The same counters for a scraper: the Prometheus text format (0.0.4), every sample under its
# HELP and TYPE, counters named *_total, and the numbers the traffic above made.
if nsx curl -sf -m 10 -D "$tmp/metrics.hdr" -o "$tmp/metrics" http://192.0.2.2:9100/metrics &&
   out=$("$PY" - "$tmp/metrics" "$tmp/metrics.hdr" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
hdr = open(sys.argv[2]).read().lower()
assert "content-type: text/plain; version=0.0.4" in hdr, "content type: " + hdr
types, helps, samples = {}, set(), {}
sample = re.compile(r'^(weir_[a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? ([0-9]+)$')
for line in text.splitlines():
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
    elif line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        assert kind in ("counter", "gauge"), line
        assert name.endswith("_total") == (kind == "counter"), "counter names end in _total: " + line
        types[name] = kind
    else:
        m = sample.match(line)
        assert m, "not a sample line: %r" % line
        assert m.group(1) in types and m.group(1) in helps, "no HELP/TYPE before: " + line
        samples[m.group(1) + (m.group(2) or "")] = int(m.group(4))
assert samples["weir_rx_frames_total"] > 0 and samples["weir_netdev_tx_frames_total"] > 0
refused = sum(v for k, v in samples.items() if k.startswith("weir_service_flows_refused_total"))
assert refused >= 1, "the refused connection of step 4 is not counted"
assert samples['weir_service_flows_accepted_total{service="chargen",port="19"}'] >= 1
print("metrics: %d samples of %d metrics, rx frames %d, refused %d" %
      (len(samples), len(types), samples["weir_rx_frames_total"], refused))
PYEOF
   ); then pass "$out"
else fail "metrics: ${out:-curl failed}: $(head -c 300 "$tmp/metrics" 2>/dev/null)"; fi
code=$(printf 'POST / HTTP/1.0\r\n\r\n' | nsx socat -T5 - TCP:192.0.2.2:9100 | head -1 | tr -d '\r')
[ "$code" = "HTTP/1.0 400 Bad Request" ] && pass "metrics: a POST gets 400" || fail "metrics: a POST got '$code'"

# 6. SIGTERM while a 10 MiB download is in flight: the client reads slowly (tcp_client.py
#    slow-get: about 3 s for 10 MiB, flow control holding the server back; curl --limit-rate
#    did not slow a download over TAP, which then finished before the signal) and the signal
#    comes once its first bytes are in. The download completes byte-exact, the drain lasted
#    while it did, and the appliance exits 0.
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" slow-get 192.0.2.2 8080 /big.bin \
	"$tmp/www/big.bin" >"$tmp/slow.out" 2>&1 &
cpid=$!
WEIR_PIDS+=("$cpid")
for _ in $(seq 1 200); do grep -q '^started' "$tmp/slow.out" && break; sleep 0.05; done
grep -q '^started' "$tmp/slow.out" || fail "the slow download did not start: $(cat "$tmp/slow.out")"
kill -TERM "$pid"
wait "$cpid"
crc=$?
wait "$pid"
rc=$?
if [ "$crc" = 0 ] && grep -q '^done byte-exact' "$tmp/slow.out"; then
	pass "in-flight 10 MiB download completed after SIGTERM: $(tail -1 "$tmp/slow.out")"
else fail "download after SIGTERM: exit $crc, $(tail -1 "$tmp/slow.out")"; fi
ms=$(sed -n 's/.*appliance: stopped after \([0-9]*\) ms.*/\1/p' "$tmp/log" | tail -1)
if [ "$rc" = 0 ] && [ "${ms:-0}" -ge 500 ]; then
	pass "exit 0 after draining for $ms ms: $(grep 'stopped' "$tmp/log" | tail -1 | sed 's/.*appliance: //')"
else fail "exit $rc, drain ${ms:-?} ms after SIGTERM (want 0, at least 500 ms): $(tail -2 "$tmp/log")"; fi

# 7. A second signal stops at once: a flow that would keep the drain waiting 20 s is cut.
#    (A new instance has a new random MAC: forget the old one's neighbour entry.)
ip -n "$WEIR_NS" neigh flush dev weir0
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve echo:7 \
	--drain-timeout 20 >"$tmp/out2" 2>"$tmp/log2" &
pid2=$!
WEIR_PIDS+=("$pid2")
wait_ready "$tmp/out2" "$pid2" || fail "second appliance not ready: $(cat "$tmp/log2")"
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" idle 192.0.2.2 7 30 >"$tmp/idle.out" 2>&1 &
WEIR_PIDS+=("$!")
# The flow must be open before the first signal, or there is nothing to drain.
for _ in $(seq 1 100); do grep -q connected "$tmp/idle.out" && break; sleep 0.05; done
kill -TERM "$pid2"
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$pid2"
wait "$pid2"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" = 1 ] && [ "$ms" -lt 2000 ] && grep -q 'stopped at once (second signal)' "$tmp/log2"; then
	pass "second signal: stopped after $ms ms with exit 1, one flow cut"
else fail "second signal: exit $rc after $ms ms: $(tail -1 "$tmp/log2")"; fi

# 8. The capture opens in tshark and holds TCP handshakes.
syn=$(tshark -r "$tmp/cap.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' 2>/dev/null | wc -l)
synack=$(tshark -r "$tmp/cap.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==1' 2>/dev/null | wc -l)
if [ "$syn" -ge 1 ] && [ "$synack" -ge 1 ]; then pass "pcap: $syn SYN and $synack SYN-ACK frames (tshark -r)"
else fail "pcap: $syn SYN, $synack SYN-ACK"; fi
finish

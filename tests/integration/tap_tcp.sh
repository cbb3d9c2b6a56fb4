#!/usr/bin/env bash
# tap_tcp.sh - weir's TCP flows against Linux over TAP in a private namespace: echo of 16 MiB
# byte-exact with Linux half-closing first, weir half-closing first, RST from a closed port,
# keepalive probes on the wire and a silenced peer detected, the user timeout ending a flow.
# usage: tap_tcp.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
here=$(dirname "$0")
need_root_tap
command -v socat >/dev/null || skip "socat is not installed"
command -v tshark >/dev/null || skip "tshark is not installed"
command -v tc >/dev/null || skip "tc (iproute2) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"

make_ns weir-tap-tcp
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
# For foreground commands only: a backgrounded shell function is a subshell, and $! would be its
# PID, not the program's (kill and wait must reach the program itself).
nsx() { ip netns exec "$WEIR_NS" "$@"; }
# Silences Linux towards weir: a token bucket whose 1-byte burst no packet fits drops everything
# Linux sends on weir0 (netem is not always available; tbf is).
silence() { nsx tc qdisc add dev weir0 root tbf rate 1kbit burst 1 latency 1ms; }
unsilence() { nsx tc qdisc del dev weir0 root; }

add_tap
KA_AFTER=1000 KA_INTVL=500 KA_PROBES=3 UT=1500
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve echo:7 --serve discard:9 \
	--keepalive $KA_AFTER,$KA_INTVL,$KA_PROBES --user-timeout $UT >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
pass "appliance ready"

# 1. 16 MiB of random data through weir's echo, byte-exact. socat half-closes (shut-down) after
#    sending; weir keeps echoing what is still in flight, then finishes: Linux -> weir half-close.
head -c $((16 << 20)) /dev/urandom >"$tmp/r"
nsx socat -b65536 -T10 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
if cmp -s "$tmp/r" "$tmp/r.out"; then pass "16 MiB echo byte-exact, Linux half-closed first"
else fail "echo differs: $(stat -c %s "$tmp/r.out") bytes back; $(cat "$tmp/socat.err")"; fi

# 2. weir -> Linux half-close: weir's discard service half-closes at once (it never sends); Linux
#    sees EOF and still sends 4 MiB, all of which weir takes.
if out=$(nsx "$PY" "$here/tcp_client.py" weir-halfclose 192.0.2.2 9 4194304); then
	sleep 0.3
	if grep -q 'discard: flow .* (in 4194304 B, out 0 B' "$tmp/log"; then
		pass "weir half-closed first and still received everything: $out"
	else fail "weir did not log 4194304 bytes received: $(grep discard "$tmp/log" | tail -1)"; fi
else fail "weir half-close: $out"; fi

# 3. A closed port answers RST.
if out=$(nsx "$PY" "$here/tcp_client.py" refused 192.0.2.2 1234); then pass "$out"
else fail "$out"; fi

# 4. Keepalive: probes on the wire every KA_AFTER ms while Linux answers; once Linux is silenced
#    (all its frames dropped), weir gives up within after + interval x probes.
ip netns exec "$WEIR_NS" tshark -i weir0 -w "$tmp/ka.pcap" -f "tcp port 7" >/dev/null 2>&1 &
tpid=$!
WEIR_PIDS+=("$tpid")
wait_capturing "$tmp/ka.pcap" || fail "tshark did not start capturing"
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" idle 192.0.2.2 7 30 >/dev/null 2>&1 &
cpid=$!
WEIR_PIDS+=("$cpid")
wait_established 7 || fail "the idle client did not connect"
sleep 3.4
silence
t0=$(date +%s%N)
det=""
for _ in $(seq 1 100); do
	if grep -q 'echo: flow .* keepalive probes unanswered' "$tmp/log"; then det=$(date +%s%N); break; fi
	sleep 0.05
done
unsilence
kill "$cpid" 2>/dev/null
sleep 0.5
kill -TERM "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
if [ -n "$det" ]; then
	ms=$(( (det - t0) / 1000000 ))
	limit=$((KA_AFTER + KA_INTVL * KA_PROBES + 1000))
	if [ "$ms" -le "$limit" ]; then pass "silenced peer detected by keepalive after $ms ms (limit $limit)"
	else fail "keepalive detection took $ms ms (limit $limit)"; fi
else fail "keepalive never ended the flow: $(grep -v "weir\[debug\]" "$tmp/log" | tail -4)"; fi
probes=$(tshark -r "$tmp/ka.pcap" -Y "tcp.analysis.keep_alive && ip.src==192.0.2.2" \
	-T fields -e frame.time_relative 2>/dev/null)
n=$(echo "$probes" | grep -c .)
gaps=$(echo "$probes" | awk 'NR > 1 { printf "%.2f ", $1 - prev } { prev = $1 }')
# While answered: one probe per KA_AFTER (1.0 s); once silenced: one per KA_INTVL (0.5 s).
answered=$(echo "$gaps" | tr ' ' '\n' | awk '$1 >= 0.8 && $1 <= 1.3' | wc -l)
unanswered=$(echo "$gaps" | tr ' ' '\n' | awk '$1 >= 0.35 && $1 <= 0.7' | wc -l)
if [ "$n" -ge 4 ] && [ "$answered" -ge 2 ] && [ "$unanswered" -ge 1 ]; then
	pass "capture: $n keepalive probes from weir, gaps (s): $gaps"
else fail "capture: $n probes, gaps: $gaps (wanted >= 2 gaps of ~1.0 s and >= 1 of ~0.5 s)"; fi

# 5. User timeout: data in flight when Linux goes silent ends the flow within UT ms.
ip netns exec "$WEIR_NS" "$PY" "$here/tcp_client.py" stream 192.0.2.2 7 8 >"$tmp/stream.out" 2>&1 &
cpid=$!
WEIR_PIDS+=("$cpid")
wait_established 7 || fail "the streaming client did not connect"
sleep 1
silence
t0=$(date +%s%N)
det=""
for _ in $(seq 1 100); do
	if grep -q 'echo: flow .* user timeout' "$tmp/log"; then det=$(date +%s%N); break; fi
	sleep 0.05
done
unsilence
if [ -n "$det" ]; then
	ms=$(( (det - t0) / 1000000 ))
	if [ "$ms" -ge $((UT - 100)) ] && [ "$ms" -le $((UT + 1000)) ]; then
		pass "user timeout ended the flow $ms ms after the peer went silent (timeout $UT)"
	else fail "user timeout after $ms ms (timeout $UT)"; fi
else fail "user timeout never ended the flow: $(tail -3 "$tmp/log")"; fi
kill "$cpid" 2>/dev/null

# 6. Still serving afterwards, and a clean exit.
echo hello | nsx socat -T5 - TCP:192.0.2.2:7,shut-down >"$tmp/h" 2>/dev/null
if [ "$(cat "$tmp/h")" = hello ]; then pass "still serving after the silenced flows"
else fail "no echo after the silenced flows"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=("${WEIR_PIDS[@]/$pid}")
if [ "$rc" = 0 ]; then pass "SIGTERM: exit 0"; else fail "SIGTERM: exit $rc: $(tail -3 "$tmp/log")"; fi
finish

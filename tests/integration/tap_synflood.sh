#!/usr/bin/env bash
# tap_synflood.sh - SYN-flood containment: while hping3 floods weir's echo port with SYNs from
# random source addresses (none of which ever answers), an established flow keeps transferring,
# legitimate clients still connect and get their echo, memory stays bounded, and afterwards
# everything works as before. Prints the flood rate, the flow's throughput before and during the
# flood, the connect success rate and the SYN-cookie counters.
# usage: tap_synflood.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
need_root_tap
command -v hping3 >/dev/null || skip "hping3 is not installed"
command -v socat >/dev/null || skip "socat is not installed"

FLOOD_S=${WEIR_FLOOD_S:-6}
make_ns weir-synflood
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap
# Under ASan, freed memory waits in a quarantine (256 MiB by default) to catch use-after-free:
# with a flood's allocation churn the RSS would measure that, not weir. A small quarantine keeps
# the check meaningful (no effect on a build without ASan).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve echo:7 \
	--serve discard:9 >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
stat_field() { # NAME: the appliance's last stats line's value for NAME
	kill -USR1 "$pid"; sleep 0.3
	grep 'stats:' "$tmp/log" | tail -1 | sed -nE "s/.* $1 ([0-9]+).*/\1/p"
}
# One legitimate client: connect (Linux retransmits a lost SYN after 1 s), send a line, get it
# echoed. Exit 0 on success.
client() {
	local word="weir-$1-$RANDOM"
	out=$(echo "$word" | ip netns exec "$WEIR_NS" timeout 8 socat -T3 - \
		TCP:192.0.2.2:7,connect-timeout=6 2>>"$tmp/clients.err")
	[ "$out" = "$word" ]
}
# Bytes the discard service took on flow N (from its end-of-flow log line).
flow_bytes() { sed -nE "s/.*discard: flow $1 .*\(in ([0-9]+) B.*/\1/p" "$tmp/log" | tail -1; }

# 1. Baseline: a 2-second stream into discard with nothing else going on.
ip netns exec "$WEIR_NS" timeout 2 socat -u /dev/zero TCP:192.0.2.2:9 2>/dev/null
sleep 0.3
base=$(flow_bytes 1)
rss0=$(rss_kib)

# 2. The flood, with a stream into discard running through it and clients connecting during it.
ip netns exec "$WEIR_NS" timeout $((FLOOD_S + 3)) socat -u /dev/zero TCP:192.0.2.2:9 2>/dev/null &
spid=$!
WEIR_PIDS+=("$spid")
sleep 1
ip netns exec "$WEIR_NS" timeout "$FLOOD_S" hping3 --flood -S -p 7 --rand-source 192.0.2.2 \
	>"$tmp/hping" 2>&1 &
hpid=$!
WEIR_PIDS+=("$hpid")
sleep 1
# Ten clients, started 0.2 s apart while the flood runs (each bounded by its own timeouts).
tries=10 cpids=()
for i in $(seq 1 $tries); do
	{ start=$(date +%s%N); client "during$i" && echo "ok $(( ($(date +%s%N) - start) / 1000000 ))" \
		>"$tmp/client.$i"; } &
	cpids+=("$!")
	WEIR_PIDS+=("$!")
	sleep 0.2
done
for p in "${cpids[@]}"; do wait "$p"; done
ok=$(cat "$tmp"/client.* 2>/dev/null | grep -c '^ok')
times=$(cat "$tmp"/client.* 2>/dev/null | awk '{ print $2 }' | sort -n | tr '\n' ' ')
rss1=$(rss_kib)
sent_during=$(stat_field "syn-cookies sent")
wait "$hpid"
wait "$spid"
sleep 0.3
during=$(flow_bytes 2)
flood=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' "$tmp/hping")

echo "flood: ${flood:-?} SYNs in ${FLOOD_S} s ($(( ${flood:-0} / FLOOD_S )) per second), random sources"
echo "established flow: $(( ${base:-0} / 2 / 1048576 )) MiB/s alone, $(( ${during:-0} / (FLOOD_S + 2) / 1048576 )) MiB/s through the flood"
echo "legitimate clients during the flood: $ok of $tries connected and got their echo (ms each: $times)"
echo "memory: VmRSS $rss0 KiB before, $rss1 KiB during"

[ -n "$flood" ] && [ "$flood" -gt 1000 ] && pass "hping3 sent $flood SYNs" ||
	fail "the flood did not run: $(tail -2 "$tmp/hping")"
[ -n "$sent_during" ] && [ "$sent_during" -gt 0 ] && pass "SYN cookies in use: $sent_during sent" ||
	fail "no SYN cookies were sent (stats: $(grep 'stats:' "$tmp/log" | tail -1))"
[ -n "$during" ] && [ "$during" -gt 0 ] && pass "the established flow kept transferring ($during B) and ended cleanly" ||
	fail "the established flow stalled or broke: $(grep 'discard: flow 2' "$tmp/log")"
[ "$ok" -ge 9 ] && pass "$ok of $tries clients connected during the flood" ||
	fail "only $ok of $tries clients connected during the flood"
[ $((rss1 - rss0)) -lt 65536 ] && pass "memory bounded: VmRSS grew $((rss1 - rss0)) KiB" ||
	fail "VmRSS grew $((rss1 - rss0)) KiB during the flood"

# 3. After the flood: every client connects, the appliance is healthy.
ok=0
for i in $(seq 1 10); do client after && ok=$((ok + 1)); done
[ "$ok" = 10 ] && pass "10 of 10 clients connected after the flood" ||
	fail "only $ok of 10 clients connected after the flood"
grep 'stats:' "$tmp/log" | tail -1
[ -s "$tmp/clients.err" ] && { echo "client errors:"; cat "$tmp/clients.err"; }
kill -0 "$pid" 2>/dev/null && pass "appliance still running" || fail "appliance died: $(tail -3 "$tmp/log")"
finish

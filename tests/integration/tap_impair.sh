#!/usr/bin/env bash
# tap_impair.sh - the appliance as a lossy peer for Linux programs: --impair on a TAP device
# (loss, reordering, duplication, corruption and delay, both ways, seeded). Linux's socat sends
# WEIR_IMPAIR_MIB (default 8) MiB through weir's echo and curl fetches a file, both byte-exact;
# the appliance's counters show every impairment in both directions; the capture (--pcap, the
# wire) holds the duplicates Linux received; a ping sees the delay.
# usage: tap_impair.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
mib=${WEIR_IMPAIR_MIB:-8}
need_root_tap
for c in socat curl tshark; do command -v $c >/dev/null || skip "$c is not installed"; done

make_ns weir-tap-imp
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; } # foreground only: $! of a function is its subshell
add_tap

mkdir -p "$tmp/www"
head -c $((4 << 20)) /dev/urandom >"$tmp/www/blob"
spec="loss=0.02,reorder=0.01,dup=0.01,corrupt=0.002,delay=2ms,seed=7"
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0,offload=0 --ip 192.0.2.2/24 --serve echo:7 \
	--serve "http:80:$tmp/www" --impair "$spec" --pcap "$tmp/wire.pcap" \
	>"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(tail -3 "$tmp/log")"; finish; exit; }
pass "appliance ready with --impair $spec"

# 1. Delay: 2 ms each way, so a round trip takes at least 4 ms.
rtt=$(nsx ping -c 5 -i 0.2 -W 2 192.0.2.2 | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
if [ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 4.0) }'; then pass "ping: mean RTT $rtt ms (2 ms each way)"
else fail "ping RTT '$rtt' ms, wanted at least 4"; fi

# 2. Bulk both ways through the echo, byte-exact.
head -c $((mib << 20)) /dev/urandom >"$tmp/r"
t0=$(date +%s%N)
nsx socat -b65536 -T60 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
ms=$((($(date +%s%N) - t0) / 1000000))
if cmp -s "$tmp/r" "$tmp/r.out"; then pass "$mib MiB each way through the echo byte-exact in $ms ms"
else
	# The appliance's account of the flow (bytes in and out, how it ended) says which side lost
	# bytes; the test's directory goes at exit.
	fail "echo differs: $(stat -c %s "$tmp/r.out") of $((mib << 20)) bytes back; $(cat "$tmp/socat.err")" \
		"cmp: $(cmp "$tmp/r" "$tmp/r.out" 2>&1 | head -1)" \
		"appliance: $(grep -E 'echo: flow|warn|error' "$tmp/log" | tail -3)"
fi

# 3. HTTP.
if nsx curl -sf -m 60 -o "$tmp/blob.out" http://192.0.2.2/blob && cmp -s "$tmp/blob.out" "$tmp/www/blob"; then
	pass "curl: 4 MiB byte-exact"
else fail "curl through the impairment failed or differs"; fi

# 4. The counters: every impairment happened in both directions.
kill -USR1 "$pid"
sleep 0.3
ok=1
for d in tx rx; do
	line=$(grep "impair $d:" "$tmp/log" | tail -1)
	for k in dropped corrupted duplicated reordered delayed; do
		v=$(echo "$line" | sed -n "s/.* $k \([0-9]*\).*/\1/p")
		[ "${v:-0}" -gt 0 ] || { ok=0; fail "impair $d: no $k: '$line'"; }
	done
	[ "$ok" = 1 ] && pass "$(echo "$line" | sed 's/.*\(impair .*\)/\1/')"
done

# 5. The capture is the wire: Linux received some TCP segments twice.
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=("${WEIR_PIDS[@]/$pid}")
[ "$rc" = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
dups=$(tshark -r "$tmp/wire.pcap" -Y "ip.src==192.0.2.2 && tcp.len>0" -T fields \
	-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.len 2>/dev/null | sort | uniq -d | wc -l)
if [ "$dups" -gt 0 ]; then pass "the capture shows $dups data segments sent twice (duplicated on the wire)"
else fail "no duplicate in the capture"; fi
finish

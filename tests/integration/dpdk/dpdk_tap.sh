#!/usr/bin/env bash
# dpdk_tap.sh - weir-appliance on DPDK's net_tap PMD in a private namespace, against Linux: every
# ping answered, a 16 MiB TCP echo byte-exact (sent as TSO super-frames the PMD cuts), the loop
# sleeping when idle (idle_sleep_us), a clean SIGTERM exit and nothing left in /var/run/dpdk;
# then tso=0: MSS-sized frames, byte-exact.
# usage: dpdk_tap.sh PATH/TO/weir-appliance
set -u
here=$(dirname "$0")
. "$here/../lib.sh"
. "$here/dpdk_lib.sh"
app=$1
need_dpdk tap
command -v socat >/dev/null || skip "socat is not installed"
command -v ping >/dev/null || skip "ping is not installed"

before=$(dpdk_runtime_snapshot)
make_ns weir-dpdk-tap
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; }

# net_tap creates the Linux interface dtap0 inside the namespace the appliance runs in.
spec="dpdk:$DPDK_EAL --vdev=net_tap0,iface=dtap0,mac=02:00:5e:00:53:02,idle_sleep_us=1000"
ip netns exec "$WEIR_NS" "$app" --netdev "$spec" --ip 192.0.2.2/24 --serve echo:7 \
	>"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
if ! wait_ready "$tmp/out" "$pid"; then
	fail "appliance not ready: $(cat "$tmp/log")"
	finish
	exit
fi
pass "appliance ready on net_tap: $(grep -o 'dpdk:port0 (net_tap).*' "$tmp/log" | head -1)"
nsx ip addr add 192.0.2.1/24 dev dtap0
nsx ip link set dtap0 up

# 1. Linux pings weir: every request answered.
if out=$(nsx ping -c 20 -i 0.05 -W 2 192.0.2.2 2>&1) && echo "$out" | grep -q ' 20 received'; then
	pass "ping: 20 of 20 answered ($(echo "$out" | grep -o 'rtt.*'))"
else fail "ping: $(echo "$out" | tail -2 | tr '\n' ' ')"; fi

# 2. 16 MiB through weir's echo service, byte-exact (Linux half-closes after sending).
head -c $((16 << 20)) /dev/urandom >"$tmp/r"
t0=$(date +%s%N)
nsx socat -b65536 -T10 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
t1=$(date +%s%N)
if cmp -s "$tmp/r" "$tmp/r.out"; then
	pass "16 MiB echo byte-exact in $(( (t1 - t0) / 1000000 )) ms"
else fail "echo differs: $(stat -c %s "$tmp/r.out") bytes back; $(cat "$tmp/socat.err")"; fi

# 3. Idle: with idle_sleep_us the poll-mode loop sleeps instead of spinning a core.
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
sleep 1.2 # past the busy window after the transfer
c0=$(cpu)
sleep 2
c1=$(cpu)
pct=$(( (c1 - c0) * 100 / hz / 2 ))
if [ "$pct" -lt 50 ]; then pass "idle: the appliance used ${pct}% of a core over 2 s"
else fail "idle: the appliance used ${pct}% of a core over 2 s (idle_sleep_us=1000)"; fi

# 4. Still answering after the idle time (the sleeping loop wakes for traffic).
echo hello | nsx socat -T5 - TCP:192.0.2.2:7,shut-down >"$tmp/h" 2>/dev/null
if [ "$(cat "$tmp/h")" = hello ]; then pass "answers after sleeping"
else fail "no echo after the idle time"; fi

# 5. SIGTERM: exit 0; the EAL is cleaned up and nothing is left in /var/run/dpdk.
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=()
if [ "$rc" = 0 ]; then pass "SIGTERM: exit 0"; else fail "SIGTERM: exit $rc: $(tail -3 "$tmp/log")"; fi
left=$(dpdk_runtime_new "$before")
if [ -z "$left" ]; then pass "nothing left in /var/run/dpdk"
else fail "left in /var/run/dpdk: $left"; fi
if grep -q 'frames still held' "$tmp/log"; then fail "closed with frames held: $(grep held "$tmp/log")"
else pass "no frames held at close"; fi
# net_tap offers TSO: the echo went out as super-frames the PMD cut (the stop line counts them).
tso=$(grep 'stopped' "$tmp/log" | sed -n 's/.*TSO frames \([0-9][0-9]*\).*/\1/p')
if grep -q 'TSO on' "$tmp/log" && [ "${tso:-0}" -gt 0 ]; then pass "TSO: $tso super-frames cut by net_tap"
else fail "TSO: '$(grep -o 'TSO [a-z]*' "$tmp/log" | head -1)', super-frames '${tso}'"; fi

# 6. tso=0: MSS-sized frames only, still byte-exact.
ip netns exec "$WEIR_NS" "$app" --netdev "$spec,tso=0" --ip 192.0.2.2/24 --serve echo:7 \
	>"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
if wait_ready "$tmp/out" "$pid"; then
	nsx ip addr add 192.0.2.1/24 dev dtap0 2>/dev/null
	nsx ip link set dtap0 up
	head -c $((4 << 20)) /dev/urandom >"$tmp/r"
	nsx socat -b65536 -T10 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
	kill -TERM "$pid"
	wait "$pid"
	WEIR_PIDS=()
	tso=$(grep 'stopped' "$tmp/log" | sed -n 's/.*TSO frames \([0-9][0-9]*\).*/\1/p')
	if cmp -s "$tmp/r" "$tmp/r.out" && grep -q 'TSO off' "$tmp/log" && [ "$tso" = 0 ]; then
		pass "tso=0: TSO off, 4 MiB echo byte-exact, no super-frames"
	else fail "tso=0: echo $(stat -c %s "$tmp/r.out") bytes, '$(grep -o 'TSO [a-z]*' "$tmp/log" | head -1)', super-frames '$tso'"; fi
else fail "tso=0: appliance not ready: $(tail -2 "$tmp/log")"; fi
finish

#!/usr/bin/env bash
# tap_ping.sh - weir-appliance on a TAP device in a private namespace answers Linux's ping and ARP.
# usage: tap_ping.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
need_root_tap
command -v ping >/dev/null || skip "ping (iputils-ping) is not installed"

make_ns weir-tap-ping
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

add_tap
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --mac 02:00:5e:00:53:02 \
	>"$tmp/out" 2>"$tmp/err" &
pid=$!
WEIR_PIDS+=("$pid")
if wait_ready "$tmp/out" "$pid"; then pass "appliance printed: $(head -1 "$tmp/out")"
else fail "appliance not ready: $(cat "$tmp/err")"; finish; exit; fi

# 1. ping -c 20 gets every reply.
out=$(ip netns exec "$WEIR_NS" ping -c 20 -i 0.05 -W 2 192.0.2.2 2>&1)
if echo "$out" | grep -q '20 packets transmitted, 20 received'; then pass "ping -c 20: all replies"
else fail "ping -c 20: $(echo "$out" | tail -2 | head -1)"; fi

# 2. Large echo: ping -s 1400 -c 20 gets every reply.
out=$(ip netns exec "$WEIR_NS" ping -c 20 -i 0.05 -s 1400 -W 2 192.0.2.2 2>&1)
if echo "$out" | grep -q '20 packets transmitted, 20 received'; then pass "ping -s 1400 -c 20: all replies"
else fail "ping -s 1400: $(echo "$out" | tail -2 | head -1)"; fi

# 3. Linux's ARP entry for weir resolved to the MAC weir was given.
neigh=$(ip -n "$WEIR_NS" neigh show 192.0.2.2 dev weir0)
if echo "$neigh" | grep -q 'lladdr 02:00:5e:00:53:02'; then pass "ARP entry: $neigh"
else fail "ARP entry not resolved: '$neigh'"; fi

# 4. A broken ICMP flood of runt-sized and odd frames does not kill it (answers after).
ip netns exec "$WEIR_NS" ping -c 200 -i 0 -s 0 -q 192.0.2.2 >/dev/null 2>&1
out=$(ip netns exec "$WEIR_NS" ping -c 3 -i 0.05 -W 2 192.0.2.2 2>&1)
if echo "$out" | grep -q '3 packets transmitted, 3 received'; then pass "still answers after a burst of minimum-size pings"
else fail "no answer after burst"; fi

# 5. Short frames are padded (not dropped): an unpadded 42-byte ARP request is answered.
if ip netns exec "$WEIR_NS" "$PY" "$(dirname "$0")/rawframes.py" weir0 192.0.2.2; then
	pass "unpadded ARP request answered"
else fail "unpadded ARP request not answered"; fi

# 6. SIGTERM: exits 0.
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=()
if [ "$rc" = 0 ]; then pass "SIGTERM: exit 0 ($(tail -1 "$tmp/err"))"
else fail "SIGTERM: exit $rc: $(cat "$tmp/err")"; fi
if grep -q 'runts 0, padded [1-9]' "$tmp/err"; then pass "device padded the short frames"
else fail "padding counters wrong: $(tail -1 "$tmp/err")"; fi

cleanup
if ip netns list | grep -q "weir-tap-ping-$$"; then fail "namespace left behind"
else pass "namespace removed"; fi
finish

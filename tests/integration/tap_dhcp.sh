#!/usr/bin/env bash
# tap_dhcp.sh - weir-appliance --dhcp leases an address from dnsmasq inside the test's namespace,
# answers ping on it, and releases the lease when stopped.
# usage: tap_dhcp.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
need_root_tap
command -v dnsmasq >/dev/null || skip "dnsmasq is not installed (dnsmasq-base)"
make_ns weir-tap-dhcp
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap
ip netns exec "$WEIR_NS" dnsmasq --no-daemon --conf-file=/dev/null --interface=weir0 \
	--bind-interfaces --port=0 --dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,1h \
	--dhcp-option=option:router,192.0.2.1 --dhcp-leasefile="$tmp/leases" --pid-file= \
	>"$tmp/dnsmasq.log" 2>&1 &
WEIR_PIDS+=("$!")
sleep 0.3
ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --dhcp --serve echo:7 >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
for _ in $(seq 1 200); do grep -q '^ready' "$tmp/out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
line=$(grep '^ready' "$tmp/out")
addr=$(echo "$line" | awk '{print $3}' | cut -d/ -f1)
case "$addr" in
192.0.2.5[0-9] | 192.0.2.60) pass "leased: $line" ;;
*) fail "no lease from the range: '$line' $(tail -2 "$tmp/log")"; finish; exit ;;
esac
if echo "$line" | grep -q 'gw 192.0.2.1'; then pass "gateway from DHCP"; else fail "no gateway in '$line'"; fi
out=$(ip netns exec "$WEIR_NS" ping -c 5 -i 0.1 -W 2 "$addr" 2>&1)
if echo "$out" | grep -q '5 packets transmitted, 5 received'; then pass "ping $addr: all replies"
else fail "ping $addr: $(echo "$out" | tail -2 | head -1)"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=("${WEIR_PIDS[@]/$pid}")
[ "$rc" = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM: exit $rc"
sleep 0.3
if grep -q "DHCPRELEASE(weir0) $addr" "$tmp/dnsmasq.log"; then pass "lease released on exit"
else fail "no DHCPRELEASE in dnsmasq's log"; fi
finish

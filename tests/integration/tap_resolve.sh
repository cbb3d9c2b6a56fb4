#!/usr/bin/env bash
# tap_resolve.sh - weir resolves names through dnsmasq inside the test's namespace and connects by
# name, falling through a refusing address and a black hole to one that accepts; a name with two A
# records gives both (one refuses, one accepts) and the addresses have PTR names.
# usage: tap_resolve.sh PATH/TO/resolve-probe
set -u
. "$(dirname "$0")/lib.sh"
probe=$1
need_root_tap
command -v dnsmasq >/dev/null || skip "dnsmasq is not installed (dnsmasq-base)"
command -v socat >/dev/null || skip "socat is not installed"
make_ns weir-tap-dns
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap 192.0.2.3/24
ip netns exec "$WEIR_NS" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
	--listen-address=192.0.2.1 --bind-interfaces --address=/weir.test/192.0.2.3 \
	--host-record=multi.weir.test,192.0.2.1 --host-record=multi.weir.test,192.0.2.3 \
	--pid-file= >"$tmp/dnsmasq.log" 2>&1 &
WEIR_PIDS+=("$!")
# Only 192.0.2.3 accepts on the port; 192.0.2.1 answers it with RST.
ip netns exec "$WEIR_NS" socat TCP-LISTEN:8000,bind=192.0.2.3,fork,reuseaddr OPEN:/dev/null \
	>/dev/null 2>&1 &
WEIR_PIDS+=("$!")
sleep 0.5
out=$(timeout 60 ip netns exec "$WEIR_NS" "$probe" weir0 8000 2>&1)
rc=$?
echo "$out" | grep -E '^(ok|FAIL):'
T_PASS=$(echo "$out" | grep -c '^ok:')
T_FAIL=$(echo "$out" | grep -c '^FAIL:')
[ "$rc" = 0 ] || [ "$T_FAIL" -gt 0 ] || { T_FAIL=1; echo "FAIL: probe exited $rc: $out"; }
finish

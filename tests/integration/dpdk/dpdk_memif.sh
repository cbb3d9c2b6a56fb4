#!/usr/bin/env bash
# dpdk_memif.sh - two weir processes (server and client role) over DPDK's net_memif PMD: 256 MiB
# each way byte-exact, the receive mbuf pools back at their baseline on both sides after the
# close, nothing left behind. Prints the throughput next to Linux loopback iperf3 from the same
# run (a figure, not a pass/fail). WEIR_DPDK_MIB changes the size.
# usage: dpdk_memif.sh PATH/TO/dpdk-pair
set -u
here=$(dirname "$0")
. "$here/../lib.sh"
. "$here/dpdk_lib.sh"
pair=$1
mib=${WEIR_DPDK_MIB:-256}
need_dpdk memif

before=$(dpdk_runtime_snapshot)
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
sock="$tmp/memif.sock"

"$pair" server "dpdk:$DPDK_EAL --vdev=net_memif0,role=server,socket=$sock" 192.0.2.1/24 \
	192.0.2.2 "$mib" >"$tmp/server" 2>&1 &
spid=$!
WEIR_PIDS+=("$spid")
for _ in $(seq 1 100); do
	grep -q '^ready' "$tmp/server" && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.05
done
if ! grep -q '^ready' "$tmp/server"; then
	fail "server not ready: $(cat "$tmp/server")"
	finish
	exit
fi
"$pair" client "dpdk:$DPDK_EAL --vdev=net_memif0,role=client,socket=$sock" 192.0.2.2/24 \
	192.0.2.1 "$mib" >"$tmp/client" 2>&1 &
cpid=$!
WEIR_PIDS+=("$cpid")
wait "$cpid"
crc=$?
wait "$spid"
src=$?
WEIR_PIDS=()
echo "--- server"; grep -v '^weir\[debug\]' "$tmp/server"
echo "--- client"; grep -v '^weir\[debug\]' "$tmp/client"

for side in server client; do
	out="$tmp/$side"
	if [ "$(grep -c "^ok: .*->.*: $((mib << 20)) bytes byte-exact" "$out")" = 1 ]; then
		pass "$side: $(grep '^ok: .*byte-exact' "$out")"
	else fail "$side: transfer: $(grep FAIL "$out" | head -2)"; fi
	if grep -q '^ok: net_memif port .*receive mbufs in use' "$out"; then
		pass "$side: mbufs back at baseline: $(grep -o 'receive mbufs in use.*' "$out")"
	else fail "$side: mbuf accounting: $(grep 'receive mbufs in use' "$out")"; fi
done
[ "$crc" = 0 ] && [ "$src" = 0 ] && pass "both exit 0" || fail "exit status client $crc server $src"
[ -e "$sock" ] && fail "memif socket $sock left behind" || pass "memif socket removed"
after=$(dpdk_runtime_snapshot)
if [ "$before" = "$after" ]; then pass "nothing left in /var/run/dpdk"
else fail "left in /var/run/dpdk: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"; fi

# The figure to compare with: Linux TCP over loopback in a private namespace, same machine, now.
if command -v iperf3 >/dev/null; then
	make_ns weir-dpdk-iperf
	ip netns exec "$WEIR_NS" iperf3 -s -1 -B 127.0.0.1 >/dev/null 2>&1 &
	WEIR_PIDS+=("$!")
	sleep 0.3
	bw=$(ip netns exec "$WEIR_NS" iperf3 -c 127.0.0.1 -t 3 -f m 2>/dev/null |
		awk '/receiver/ { print $(NF-2), $(NF-1) }')
	echo "figure: weir over net_memif: $(grep -ho '= [0-9]* Mbit/s' "$tmp/server" "$tmp/client" |
		tr '\n' ' ')(client->server, server->client); Linux loopback iperf3: ${bw:-?}"
fi
finish

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
# run_pair NAME MIB SERVER_KEYS [slow]: a server and a client dpdk-pair over a fresh memif socket;
# sets crc/src to their exit codes, output in $tmp/NAME.server and $tmp/NAME.client.
run_pair() {
	local name=$1 mib=$2 keys=$3 slow=${4:-} sock="$tmp/$1.sock" so="$tmp/$1.server" co="$tmp/$1.client"
	local spid cpid
	"$pair" server "dpdk:$DPDK_EAL --vdev=net_memif0,role=server,socket=$sock$keys" 192.0.2.1/24 \
		192.0.2.2 "$mib" $slow >"$so" 2>&1 &
	spid=$!
	WEIR_PIDS+=("$spid")
	for _ in $(seq 1 100); do
		grep -q '^ready' "$so" && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	"$pair" client "dpdk:$DPDK_EAL --vdev=net_memif0,role=client,socket=$sock" 192.0.2.2/24 \
		192.0.2.1 "$mib" >"$co" 2>&1 &
	cpid=$!
	WEIR_PIDS+=("$cpid")
	# Each side prints its pool line and then waits, not polling, for SIGTERM (see dpdk_pair.c):
	# end the client first, then the server.
	for _ in $(seq 1 1800); do
		{ grep -q 'receive mbufs in use' "$so" || ! kill -0 "$spid" 2>/dev/null; } &&
		{ grep -q 'receive mbufs in use' "$co" || ! kill -0 "$cpid" 2>/dev/null; } && break
		sleep 0.1
	done
	kill -TERM "$cpid" 2>/dev/null
	wait "$cpid"
	crc=$?
	kill -TERM "$spid" 2>/dev/null
	wait "$spid"
	src=$?
	WEIR_PIDS=()
	echo "--- $name: server"; grep -v '^weir\[debug\]' "$so"
	echo "--- $name: client"; grep -v '^weir\[debug\]' "$co"
}

# 1. The full transfer both ways, default pools.
run_pair big "$mib" ""
for side in server client; do
	out="$tmp/big.$side"
	if [ "$(grep -c "^ok: .*->.*: $((mib << 20)) bytes byte-exact" "$out")" = 1 ]; then
		pass "$side: $(grep '^ok: .*byte-exact' "$out")"
	else fail "$side: transfer: $(grep FAIL "$out" | head -2)"; fi
	if grep -q '^ok: net_memif port .*receive mbufs in use' "$out"; then
		pass "$side: mbufs back at baseline: $(grep -o 'receive mbufs in use.*' "$out")"
	else fail "$side: mbuf accounting: $(grep 'receive mbufs in use' "$out")"; fi
done
[ "$crc" = 0 ] && [ "$src" = 0 ] && pass "both exit 0" || fail "exit status client $crc server $src"

# 2. A server that reads nothing for 2 s with a pool (767 mbufs) barely larger than one receive
#    window (~720 frames): the driver must report the pool low, the transfer must still be exact
#    and the pool back at its baseline.
run_pair small 32 ",rx_desc=256,mbufs=767" slow
if [ "$crc" = 0 ] && [ "$src" = 0 ] && grep -q '^ok: net_memif .*low-buffer events [1-9]' "$tmp/small.server"; then
	pass "small pool, slow reader: 32 MiB each way exact, $(grep -o 'at most .*events [0-9]*' "$tmp/small.server")"
else fail "small pool, slow reader: exit client $crc server $src; $(grep -h 'FAIL\|receive mbufs in use' "$tmp"/small.*)"; fi
if ls "$tmp"/*.sock >/dev/null 2>&1; then fail "memif sockets left behind: $(ls "$tmp"/*.sock)"
else pass "memif sockets removed"; fi
left=$(dpdk_runtime_new "$before")
if [ -z "$left" ]; then pass "nothing left in /var/run/dpdk"
else fail "left in /var/run/dpdk: $left"; fi

# The figure to compare with: Linux TCP over loopback in a private namespace, same machine, now.
if command -v iperf3 >/dev/null; then
	make_ns weir-dpdk-iperf
	ip netns exec "$WEIR_NS" iperf3 -s -1 -B 127.0.0.1 >/dev/null 2>&1 &
	WEIR_PIDS+=("$!")
	sleep 0.3
	bw=$(ip netns exec "$WEIR_NS" iperf3 -c 127.0.0.1 -t 3 -f m 2>/dev/null |
		awk '/receiver/ { print $(NF-2), $(NF-1) }')
	echo "figure: weir over net_memif: $(grep -ho '= [0-9]* Mbit/s' "$tmp/big.server" "$tmp/big.client" |
		tr '\n' ' ')(client->server, server->client); Linux loopback iperf3: ${bw:-?}"
fi
finish

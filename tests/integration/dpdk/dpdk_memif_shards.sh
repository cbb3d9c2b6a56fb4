#!/usr/bin/env bash
# dpdk_memif_shards.sh - two weir processes with 2 shards each over DPDK's net_memif with 2 queue
# pairs (weir-bench --shards 2 on both sides): queue i of one pairs with queue i of the other, so
# each client shard's connections are served by the server shard of the same number. crr checks
# every echo; bulk's byte count at the server equals what the client sent; both server shards
# serve; nothing is left in /var/run/dpdk.
# usage: dpdk_memif_shards.sh PATH/TO/weir-bench
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/dpdk_lib.sh"
bench=$1
need_dpdk memif

before=$(dpdk_runtime_snapshot)
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

# run NAME TEST FLOWS: server and client over a fresh memif socket; client output in $tmp/NAME.c,
# the server's per-shard lines in $tmp/NAME.s.
run() {
	local name=$1 test=$2 flows=$3 sock="$tmp/$1.sock" spid
	"$bench" server --shards 2 --ip 192.0.2.2/24 \
		--netdev "dpdk:$DPDK_EAL --vdev=net_memif0,role=server,socket=$sock,idle_sleep_us=200" \
		>"$tmp/$name.s" 2>&1 &
	spid=$!
	WEIR_PIDS+=("$spid")
	wait_ready "$tmp/$name.s" "$spid"
	timeout 60 "$bench" client --shards 2 --ip 192.0.2.1/24 --peer 192.0.2.2 --test "$test" \
		--flows "$flows" --duration 1 \
		--netdev "dpdk:$DPDK_EAL --vdev=net_memif0,role=client,socket=$sock,idle_sleep_us=200" \
		>"$tmp/$name.c" 2>&1
	kill -TERM "$spid"
	wait "$spid"
}

run crr crr 1
r=$(grep '^result' "$tmp/crr.c")
s0=$(sed -n 's/^shard 0 conns=\([0-9]*\).*/\1/p' "$tmp/crr.s")
s1=$(sed -n 's/^shard 1 conns=\([0-9]*\).*/\1/p' "$tmp/crr.s")
if [[ "$r" == *" errors=0 "* ]] && [ "${s0:-0}" -gt 10 ] && [ "${s1:-0}" -gt 10 ]; then
	pass "crr over 2 memif queue pairs: $(echo "$r" | sed 's/.*conns=/conns=/'), server shards $s0 + $s1, every echo byte-exact"
else fail "crr: '$r', server shards '${s0:-}' '${s1:-}': $(tail -3 "$tmp/crr.c" "$tmp/crr.s")"; fi

run bulk bulk 8
sent=$(sed -n 's/^result .* bytes=\([0-9]*\) .*/\1/p' "$tmp/bulk.c")
got=$(sed -n 's/^shards n=2 conns=[0-9]* bytes=\([0-9]*\) .*/\1/p' "$tmp/bulk.s")
b0=$(sed -n 's/^shard 0 conns=[0-9]* bytes=\([0-9]*\) .*/\1/p' "$tmp/bulk.s")
b1=$(sed -n 's/^shard 1 conns=[0-9]* bytes=\([0-9]*\) .*/\1/p' "$tmp/bulk.s")
if [ -n "$sent" ] && [ "$sent" = "$got" ] && [ "${b0:-0}" -gt 0 ] && [ "${b1:-0}" -gt 0 ]; then
	pass "bulk x8 over 2 queue pairs: $sent bytes sent, all received (shard 0 $b0, shard 1 $b1)"
else fail "bulk: sent '${sent:-}', received '${got:-}' ($b0 + $b1): $(tail -3 "$tmp/bulk.c" "$tmp/bulk.s")"; fi

after=$(dpdk_runtime_snapshot)
[ "$before" = "$after" ] && pass "nothing left in /var/run/dpdk" || fail "runtime left: $after"
finish

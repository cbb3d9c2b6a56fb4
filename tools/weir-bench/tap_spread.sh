#!/usr/bin/env bash
# tap_spread.sh - weir-bench client --kernel --spread N puts its bulk flows evenly on the shards of
# a weir-bench server on a multi-queue TAP: flow i connects from a port that weir's steering
# program (weir_tap_steer_queue) sends to queue i % N. With 2 shards and 8 flows each shard
# serves 4; with 3 shards, 3, 3 and 2. Every byte the client wrote reached the server. Asserts
# the placement and the byte counts, never a figure of speed. (Misuse of --spread: smoke.sh.)
# usage: tap_spread.sh PATH/TO/weir-bench
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/integration/lib.sh"
bench=${1:?usage: tap_spread.sh PATH/TO/weir-bench}
need_root_tap

make_ns weir-spread
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
ip -n "$WEIR_NS" tuntap add dev wb0 mode tap multi_queue
ip -n "$WEIR_NS" addr add 192.0.2.1/24 dev wb0
ip -n "$WEIR_NS" link set wb0 up

# run_spread SHARDS WANT...: a server with SHARDS shards, 8 spread flows; shard i must report
# WANT[i] connections and the shards' bytes must add up to what the client sent.
run_spread() {
	local n=$1 pid res sent got i want
	shift
	ip netns exec "$WEIR_NS" "$bench" server --netdev tap:wb0 --ip 192.0.2.2/24 --shards "$n" \
		>"$tmp/s$n" 2>&1 &
	pid=$!
	WEIR_PIDS+=("$pid")
	wait_ready "$tmp/s$n" "$pid" || { fail "$n shards: server not ready: $(cat "$tmp/s$n")"; return; }
	if grep -q "no steering program" "$tmp/s$n"; then
		skip "the TAP steering program did not load (needs CAP_BPF or root): $(grep -m1 steering "$tmp/s$n")"
	fi
	res=$(ip netns exec "$WEIR_NS" timeout 60 "$bench" client --kernel --peer 192.0.2.2 \
		--test bulk --flows 8 --duration 0.5 --spread "$n" 2>&1)
	echo "$res"
	kill -TERM "$pid"
	if wait "$pid"; then pass "$n shards: the server stopped cleanly on SIGTERM"
	else fail "$n shards: the server exited $? on SIGTERM: $(tail -3 "$tmp/s$n")"; fi
	forget_pid "$pid"
	grep '^shard' "$tmp/s$n"
	sent=$(sed -n 's/^result .* bytes=\([0-9]*\) .*/\1/p' <<<"$res")
	got=$(sed -n 's/^shards n=[0-9]* conns=[0-9]* bytes=\([0-9]*\) .*/\1/p' "$tmp/s$n")
	if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$got" ]; then
		pass "$n shards: the client's $sent bytes all reached the shards"
	else
		fail "$n shards: client sent '$sent' bytes, shards got '$got'"
	fi
	i=0
	for want in "$@"; do
		if grep -q "^shard $i conns=$want " "$tmp/s$n"; then
			pass "$n shards: shard $i served $want of the 8 flows"
		else
			fail "$n shards: shard $i: $(grep "^shard $i " "$tmp/s$n"), want conns=$want"
		fi
		i=$((i + 1))
	done
}
run_spread 2 4 4
run_spread 3 3 3 2

finish

#!/usr/bin/env bash
# example_echo.sh - examples/out-of-tree/echo.c on a TAP device in a namespace echoes what Linux sends.
# usage: example_echo.sh PATH/TO/weir-example-echo
set -u
. "$(dirname "$0")/lib.sh"
ex=$1
need_root_tap
command -v socat >/dev/null || skip "socat is not installed"
make_ns weir-example
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap
ip netns exec "$WEIR_NS" "$ex" tap:weir0 192.0.2.2/24 7 >"$tmp/out" 2>"$tmp/err" &
pid=$!
WEIR_PIDS+=("$pid")
for _ in $(seq 1 100); do grep -q serving "$tmp/out" && break; sleep 0.05; done
head -c 1048576 /dev/urandom >"$tmp/r"
ip netns exec "$WEIR_NS" socat -T5 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>/dev/null
if cmp -s "$tmp/r" "$tmp/r.out"; then pass "examples/out-of-tree/echo.c echoed 1 MiB byte-exact"
else fail "echo differs ($(stat -c %s "$tmp/r.out") bytes back): $(cat "$tmp/err")"; fi
finish

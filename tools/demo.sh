#!/usr/bin/env bash
# demo.sh - set everything up, then run weir-appliance on a TAP device in a private network
# namespace ("weir-demo") and show Linux talking to it. `tools/demo.sh stop` removes it all.
#
# Inside the namespace: Linux is 192.0.2.1 on TAP device weir0, weir is 192.0.2.2. Nothing in the
# namespace routes anywhere else.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ns=weir-demo
state=$top/build/demo

stop() {
	if [ -f "$state/appliance.pid" ]; then
		pid=$(cat "$state/appliance.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$state/appliance.pid"
	fi
	ip netns del "$ns" 2>/dev/null || true
}

if [ "${1:-}" = stop ]; then
	stop
	echo "demo: stopped; namespace $ns removed"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates a network namespace and a TAP device)" >&2; exit 1; }

"$top/tools/setup.sh"
cmake -S "$top" -B "$top/build" >/dev/null
cmake --build "$top/build" -j"$(nproc)" --target weir-appliance >/dev/null
app=$top/build/tools/weir-appliance

stop
mkdir -p "$state"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev weir0 mode tap
ip -n "$ns" addr add 192.0.2.1/24 dev weir0
ip -n "$ns" link set weir0 up
nohup ip netns exec "$ns" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 \
	--serve echo:7 --serve discard:9 \
	>"$state/appliance.out" 2>"$state/appliance.log" </dev/null &
echo $! >"$state/appliance.pid"
for _ in $(seq 1 100); do grep -q '^ready' "$state/appliance.out" 2>/dev/null && break; sleep 0.05; done
grep '^ready' "$state/appliance.out" || { echo "demo: appliance did not start:"; cat "$state/appliance.log"; stop; exit 1; }

echo
echo "demo: Linux (192.0.2.1) pings weir (192.0.2.2) inside namespace $ns:"
ip netns exec "$ns" ping -c 3 -i 0.2 192.0.2.2
echo
if command -v socat >/dev/null; then
	echo "demo: an echo round trip through weir's TCP (port 7):"
	echo "hello from Linux" | ip netns exec "$ns" socat -T5 - TCP:192.0.2.2:7,shut-down
fi
echo
echo "demo: weir-appliance is running (pid $(cat "$state/appliance.pid"), log $state/appliance.log)."
echo "  try:   ip netns exec $ns ping 192.0.2.2"
echo "         ip netns exec $ns socat - TCP:192.0.2.2:7      (echo; type, then Ctrl-D)"
echo "  stop:  tools/demo.sh stop"

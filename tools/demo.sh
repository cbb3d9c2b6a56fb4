#!/usr/bin/env bash
# demo.sh - set everything up, then run weir-appliance on a TAP device in a private network
# namespace ("weir-demo") serving HTTP, echo, discard and a proxy, and show Linux talking to it:
# ping, curl of a page, an echo round trip, a request through the proxy. `tools/demo.sh stop`
# removes it all.
#
# Inside the namespace: Linux is 192.0.2.1 on TAP device weir0, weir is 192.0.2.2. Nothing in the
# namespace routes anywhere else.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
ns=weir-demo
state=$top/build/demo

stop() {
	if [ -f "$state/backend.pid" ]; then
		kill "$(cat "$state/backend.pid")" 2>/dev/null || true
		rm -f "$state/backend.pid"
	fi
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
mkdir -p "$state/www" "$state/backend"
cat >"$state/www/index.html" <<HTML
<!doctype html>
<title>weir</title>
<h1>Hello from weir</h1>
<p>This page was served by weir's own TCP/IP stack (lwIP core, fibers, flows) on a TAP device.</p>
HTML
echo "Hello from the Linux backend, through weir's proxy." >"$state/backend/index.html"
# The proxy's backend: a Linux HTTP server inside the same namespace.
nohup ip netns exec "$ns" python3 -m http.server 8000 --bind 192.0.2.1 \
	--directory "$state/backend" >/dev/null 2>&1 </dev/null &
echo $! >"$state/backend.pid"
nohup ip netns exec "$ns" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 \
	--serve http:80:"$state/www" --serve echo:7 --serve discard:9 \
	--serve proxy:8080=192.0.2.1:8000 --stats-interval 60 \
	>"$state/appliance.out" 2>"$state/appliance.log" </dev/null &
echo $! >"$state/appliance.pid"
for _ in $(seq 1 100); do grep -q '^ready' "$state/appliance.out" 2>/dev/null && break; sleep 0.05; done
grep '^ready' "$state/appliance.out" || { echo "demo: appliance did not start:"; cat "$state/appliance.log"; stop; exit 1; }

echo
echo "demo: Linux (192.0.2.1) pings weir (192.0.2.2) inside namespace $ns:"
ip netns exec "$ns" ping -c 3 -i 0.2 192.0.2.2
echo
echo "demo: curl of weir's web page (http://192.0.2.2/):"
ip netns exec "$ns" curl -s -m 5 http://192.0.2.2/
echo
echo "demo: an echo round trip through weir's TCP (port 7):"
echo "hello from Linux" | ip netns exec "$ns" socat -T5 - TCP:192.0.2.2:7,shut-down
echo
echo "demo: through weir's proxy (port 8080) to the Linux server at 192.0.2.1:8000:"
sleep 0.3
ip netns exec "$ns" curl -s -m 5 http://192.0.2.2:8080/
echo
echo "demo: weir-appliance is running (pid $(cat "$state/appliance.pid"), log $state/appliance.log)."
echo "  try:   ip netns exec $ns curl http://192.0.2.2/"
echo "         ip netns exec $ns ping 192.0.2.2"
echo "         ip netns exec $ns socat - TCP:192.0.2.2:7      (echo; type, then Ctrl-D)"
echo "  stop:  tools/demo.sh stop"

#!/bin/bash
# bench-conns.sh - many idle connections: the appliance's memory per connection next to Linux's
# (nginx) for the same clients, and connect/request/reply/close with and without them open.
#
#   tools/bench-conns.sh [--build DIR] [--conns N] [--duration S]
#
# weir: the appliance (echo:7, http:80) on TAP in a namespace; N idle connections to its echo
# service from four source addresses (192.0.2.10-13), held by four client processes (this
# machine allows 20,000 open files per process). Printed: the appliance's RSS growth per
# connection and the kernel's slab growth (the clients' sockets); its CPU time while the N sit
# idle (ms per s over 3 s); crr (weir-bench --kernel, a Linux client) before and while the N are
# open; a sample of them echoes; an HTTP request
# answered while they are open.
# Linux: nginx (Debian's nginx-light, 4 workers, reuseport) in a namespace behind a veth pair,
# the same N idle clients (to HTTP: nginx holds an idle connection until client_header_timeout,
# set to 10 minutes). Printed: nginx's RSS growth, the slab growth (clients' and nginx's
# sockets) and nginx's CPU time while they sit idle. Linux's server-side kernel memory per connection is the slab growth of its run minus
# that of weir's run (the same clients), divided by N.
# Default N 50,000 (tests/integration/tap_conns.sh runs 5,000 in CI). Both ends share this
# machine's CPUs; memory figures are what matters here. Needs root. Addresses: 192.0.2.0/24.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
N=50000
duration=3
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$(cd "${2:?--build needs a directory}" && pwd) || exit 2; shift ;;
	--conns) N=${2:?}; shift ;;
	--duration) duration=${2:?}; shift ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-conns.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 4 ] && [ "$N" -le 110000 ] ||
	{ echo "bench-conns.sh: --conns must be 4..110000" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-conns.sh: needs root (namespaces, TAP)" >&2; exit 1; }
app="$build/tools/weir-appliance"
bench="$build/tools/weir-bench/weir-bench"
for f in "$app" "$bench"; do
	[ -x "$f" ] || { echo "bench-conns.sh: no $f (build first: cmake --build $build)" >&2; exit 1; }
done
PY=/usr/bin/python3
client="$here/tests/integration/conns_client.py"
per=$(((N + 3) / 4))
ulimit -n $((per + 1024)) 2>/dev/null ||
	{ echo "bench-conns.sh: cannot open $((per + 1024)) files per process (ulimit -n)" >&2; exit 1; }
tmp=$(mktemp -d)
PIDS=()
NSS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	NSS=()
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
slab_kib() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }
cpu_ms() { # cpu_ms PID...: their user + system CPU time so far, in ms, summed
	local t=0 p hz
	hz=$(getconf CLK_TCK)
	for p in "$@"; do
		t=$((t + $(awk -v hz="$hz" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
idle_cpu() { # idle_cpu PID...: their CPU ms per s over 3 s (the N connections sitting idle)
	local c0 c1
	c0=$(cpu_ms "$@")
	sleep 3
	c1=$(cpu_ms "$@")
	echo "$(((c1 - c0) / 3))"
}
rss_kib() { # rss_kib PID...: their RSS summed
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done
	echo "$t"
}
crr() { # crr NS PEER PORT: conn/s of a Linux client
	ip netns exec "$1" "$bench" client --kernel --peer "$2" --port "$3" --test crr \
		--duration "$duration" 2>/dev/null | sed -n 's/.*conn_s=\([0-9.]*\).*/\1/p'
}
hold() { # hold NS PORT SAMPLE: four clients hold N idle connections until $tmp/go
	local i
	rm -f "$tmp/go"
	for i in 0 1 2 3; do
		ip netns exec "$1" "$PY" "$client" hold 192.0.2.2 "$2" "$per" --src "192.0.2.1$i" \
			--go "$tmp/go" --sample "$3" >"$tmp/hold$i" 2>&1 &
		PIDS+=("$!")
		HOLDERS[$i]=$!
	done
	for _ in $(seq 1 3000); do
		[ "$(cat "$tmp"/hold? 2>/dev/null | grep -c '^connected')" = 4 ] && break
		sleep 0.1
	done
	HELD=$(cat "$tmp"/hold? | awk '/^connected/ { s += $2 } END { print s + 0 }')
}
release() { # lets the holders check and close; REPORT: their reports summed
	local i
	touch "$tmp/go"
	for i in 0 1 2 3; do wait "${HOLDERS[$i]}" 2>/dev/null; done
	REPORT=$(cat "$tmp"/hold? | awk '/^alive/ { a += $2; l += $4; split($6, e, "/"); ok += e[1]; k += e[2] }
		END { printf "alive %d lost %d echoed %d/%d", a, l, ok, k }')
}
HOLDERS=()
echo "bench-conns: $N idle connections, 4 source addresses; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs shared by clients and servers"

# ---- weir: the appliance over TAP ----
mkns() { # mkns NAME: lo up, no route out, TIME_WAIT reuse and a wide port range for crr's client
	ip netns add "$1" && NSS+=("$1") || exit 1
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000"
}
ns=wbc-weir-$$
mkns "$ns"
ip -n "$ns" tuntap add dev weir0 mode tap
for a in 192.0.2.1/24 192.0.2.10/24 192.0.2.11/24 192.0.2.12/24 192.0.2.13/24; do
	ip -n "$ns" addr add "$a" dev weir0
done
ip -n "$ns" link set weir0 up
mkdir -p "$tmp/www"
echo 'weir holds the line' >"$tmp/www/index.html"
ip netns exec "$ns" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve echo:7 --serve http:80:"$tmp/www" \
	--max-connections $((N + 1000)) >"$tmp/app.out" 2>"$tmp/app.log" &
apid=$!
PIDS+=("$apid")
for _ in $(seq 1 100); do grep -q '^ready' "$tmp/app.out" && break; sleep 0.05; done
grep -q '^ready' "$tmp/app.out" || { echo "bench-conns: appliance not ready: $(cat "$tmp/app.log")" >&2; exit 1; }
crr0=$(crr "$ns" 192.0.2.2 6)
slab0=$(slab_kib); rss0=$(rss_kib "$apid")
t0=$(date +%s.%N)
hold "$ns" 7 200
t1=$(date +%s.%N)
slab1=$(slab_kib); rss1=$(rss_kib "$apid")
w_idle=$(idle_cpu "$apid")
http=$(ip netns exec "$ns" curl -s -m 10 -o /dev/null -w '%{http_code} in %{time_total} s' http://192.0.2.2/index.html)
crr1=$(crr "$ns" 192.0.2.2 6)
release; wrel=$REPORT
w_rss=$(( (rss1 - rss0) * 1024 / (HELD > 0 ? HELD : 1) ))
w_slab=$((slab1 - slab0))
kill "$apid" 2>/dev/null
ip netns del "$ns"; NSS=()

# ---- Linux: nginx behind a veth pair ----
cns=wbc-cli-$$
sns=wbc-srv-$$
mkns "$cns"
mkns "$sns"
ip link add "wbc$$a" netns "$cns" type veth peer name "wbc$$b" netns "$sns"
for a in 192.0.2.1/24 192.0.2.10/24 192.0.2.11/24 192.0.2.12/24 192.0.2.13/24; do
	ip -n "$cns" addr add "$a" dev "wbc$$a"
done
ip -n "$sns" addr add 192.0.2.2/24 dev "wbc$$b"
ip -n "$cns" link set "wbc$$a" up
ip -n "$sns" link set "wbc$$b" up
l_rss="-"; l_slab="-"; lrel="nginx not run"; lcrr="-"; l_idle="-"
if command -v nginx >/dev/null; then
	mkdir -p "$tmp/nginx/logs"
	cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 4;
worker_rlimit_nofile $((per * 2 + 1024));
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections $((per * 2)); }
http {
	access_log off;
	client_header_timeout 600s;
	keepalive_timeout 600s;
	server { listen 192.0.2.2:80 reuseport backlog=4096; root $tmp/www; }
}
EOF
	ip netns exec "$sns" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' \
		>"$tmp/nginx.out" 2>&1 &
	npid=$!
	PIDS+=("$npid")
	ip netns exec "$sns" "$bench" server --kernel --bind 192.0.2.2 --port 6 >"$tmp/kserv.out" 2>&1 &
	PIDS+=("$!")
	sleep 1
	lcrr=$(crr "$cns" 192.0.2.2 6)
	workers() { echo "$npid" $(pgrep -P "$npid"); }
	slab0=$(slab_kib); rss0=$(rss_kib $(workers))
	hold "$cns" 80 0
	lheld=$HELD
	slab1=$(slab_kib); rss1=$(rss_kib $(workers))
	l_idle=$(idle_cpu $(workers))
	release; lrel=$REPORT
	l_rss=$(( (rss1 - rss0) * 1024 / (lheld > 0 ? lheld : 1) ))
	l_slab=$((slab1 - slab0))
fi

echo
printf '%-44s %s\n' "weir appliance (TAP): held" "$HELD of $N in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s; $wrel"
printf '%-44s %s\n' "  HTTP request while they were open" "$http"
printf '%-44s %s\n' "  appliance RSS per connection" "$w_rss B"
printf '%-44s %s\n' "  kernel slab growth (the clients' sockets)" "$w_slab KiB"
printf '%-44s %s\n' "  appliance CPU while they sit idle" "$w_idle ms per s"
printf '%-44s %s\n' "  crr conn/s (Linux client): none open" "$crr0"
printf '%-44s %s\n' "  crr conn/s with the $N open" "$crr1 ($(echo "scale=2; ${crr1:-0} / ${crr0:-1}" | bc)x)"
if [ "$l_rss" != "-" ]; then
	l_kernel=$(( (l_slab - w_slab) * 1024 / (lheld > 0 ? lheld : 1) ))
	printf '%-44s %s\n' "Linux nginx (veth): held" "$lheld of $N; $lrel"
	printf '%-44s %s\n' "  nginx RSS per connection" "$l_rss B"
	printf '%-44s %s\n' "  kernel slab growth (clients' + nginx's)" "$l_slab KiB"
	printf '%-44s %s\n' "  nginx CPU while they sit idle" "$l_idle ms per s"
	printf '%-44s %s\n' "  server-side kernel memory per connection" "$l_kernel B (slab growth minus weir run's)"
	printf '%-44s %s\n' "  crr conn/s (weir-bench --kernel server)" "$lcrr"
	echo
	echo "memory per connection, server side: weir $w_rss B; Linux $((l_rss + l_kernel)) B (nginx $l_rss + kernel $l_kernel)"
else
	echo "Linux: nginx is not installed (tools/setup.sh installs nginx-light)"
fi

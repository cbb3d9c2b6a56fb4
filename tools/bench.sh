#!/bin/bash
# bench.sh - weir against the Linux kernel on this machine, in one run: one table, JSON and a chart.
#
#   tools/bench.sh [--quick] [--build DIR] [--out DIR] [--duration S] [--reps N] [--note TEXT]
#                  [--only memif,link,tap,linux,http,loss,shards]   (default: every section)
#
# Scenarios (each skipped with a line saying why when its prerequisites are missing):
#   weir-memif   weir <-> weir over DPDK net_memif, poll mode, server on CPU 0, client on CPU 1
#   weir-link    weir <-> weir over the link driver (two processes, a socketpair), one CPU each
#   weir-tap-srv weir server <- Linux client (weir-bench --kernel) over TAP in a namespace
#   weir-tap-cli weir client -> Linux server over TAP in a namespace
#   linux-lo     Linux <-> Linux over loopback (its own namespace): weir-bench --kernel, iperf3
#                (bulk) and sockperf (rr)
#   linux-veth   Linux <-> Linux over a veth pair between two namespaces (weir-bench --kernel)
#   weir-http-tap  curl <- weir-appliance's HTTP service over TAP: a 16 MiB file, 20 times a run
#   nginx-veth     curl <- nginx (Debian's nginx-light) over a veth pair: the same file
# Workloads: bulk (1 and 8 flows), rr (64-byte ping-pong), crr (connect/request/reply/close);
# http (the two HTTP rows).
# Every figure is the median of --reps runs (default 3) of --duration seconds (default 2;
# --quick: 0.5 s). weir rows show their ratio to the matching Linux row: memif and link to
# linux-lo, TAP to linux-veth, HTTP to nginx-veth. Writes OUT/bench.txt, OUT/bench.json and
# OUT/bench.png (no chart when only the loss and shards sections ran; those write and print
# OUT/loss.txt and OUT/shards.txt, after the main table). OUT defaults to BUILD/bench. Needs
# root for namespaces, TAP and DPDK; without it only link and loopback run.
# Namespaces and processes it starts are removed by PID on every exit path. Addresses: 192.0.2.0/24.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build"
out=""
duration=2
reps=3
note=""
quick=0
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; duration=0.5 ;;
	--build) build=$(cd "${2:?--build needs a directory}" && pwd) || exit 2; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--duration) duration=${2:?}; shift ;;
	--reps) reps=${2:?}; shift ;;
	--note) note=${2:?}; shift ;;
	--only) only=${2:?--only needs a list, e.g. memif,http}; shift ;;
	-h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench.sh: bad --duration '$duration'" >&2; exit 2; }
[[ "$reps" =~ ^[1-9]$ ]] || { echo "bench.sh: --reps must be 1..9" >&2; exit 2; }
for o in ${only//,/ }; do
	case "$o" in memif|link|tap|linux|http|loss|shards) ;;
	*) echo "bench.sh: --only takes memif, link, tap, linux, http, loss, shards (not '$o')" >&2; exit 2 ;;
	esac
done
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; } # want SECTION: it runs this time
out=${out:-$build/bench}
mkdir -p "$out" || exit 1
bench="$build/tools/weir-bench/weir-bench"
if [ ! -x "$bench" ]; then
	echo "bench.sh: building weir-bench in $build"
	cmake --build "$build" -j2 --target weir-bench >/dev/null || {
		echo "bench.sh: no weir-bench in $build (configure it: cmake -S $here -B $build)" >&2
		exit 1; }
fi
PY=/usr/bin/python3
raw="$out/raw.tsv"
: >"$raw"
log="$out/bench.log"
: >"$log"
start_ts=$(date +%s)
start_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
start_load=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- cleanup: every process and namespace we made, by PID and name, on every exit path ----
PIDS=()
NSS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	NSS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_pid() { # stop_pid PID: stop one server we started, forget it
	local p=$1 keep=()
	kill "$p" 2>/dev/null
	for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	PIDS=("${keep[@]}")
}
mkns() { # mkns NAME: a namespace with lo up, no route out, TIME_WAIT reuse for crr
	ip netns add "$1" || return 1
	NSS+=("$1")
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000"
}
mktapns() { # mktapns NS DEV: a namespace NS holding TAP device DEV, Linux's side 192.0.2.1/24
	mkns "$1" || return 1
	ip -n "$1" tuntap add dev "$2" mode tap
	ip -n "$1" addr add 192.0.2.1/24 dev "$2"
	ip -n "$1" link set "$2" up
}
mkvethns() { # mkvethns A B: namespaces A (192.0.2.11) and B (192.0.2.12) joined by a veth pair
	mkns "$1" && mkns "$2" || return 1
	ip -n "$1" link add wbva type veth peer name wbvb netns "$2"
	ip -n "$1" addr add 192.0.2.11/24 dev wbva
	ip -n "$2" addr add 192.0.2.12/24 dev wbvb
	ip -n "$1" link set wbva up
	ip -n "$2" link set wbvb up
}
wait_ready() { # wait_ready FILE PID
	for _ in $(seq 1 200); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
skip() { echo "SKIP $1: $2" | tee -a "$log"; echo -e "$1\tskip\t0\t$2" >>"$raw"; }
record() { # record SCENARIO WORKLOAD REP LINE
	echo -e "$1\t$2\t$3\t$4" >>"$raw"
}
budget=$(awk -v d="$duration" 'BEGIN { printf "%d", d + 40 }')
# run_client SCENARIO WORKLOAD CMD...: runs a weir-bench client reps times, keeps its result lines.
run_client() {
	local sc=$1 wl=$2 r line
	shift 2
	for r in $(seq 1 "$reps"); do
		line=$(timeout "$budget" "$@" 2>>"$log" | grep '^result' | tail -1)
		if [ -n "$line" ]; then
			record "$sc" "$wl" "$r" "$line"
		else
			echo "  $sc $wl run $r: no result (see $log)" | tee -a "$log"
			record "$sc" "$wl" "$r" "failed"
		fi
	done
}
workloads() { # workloads SCENARIO CLIENT-PREFIX...: the four workloads with one client command
	local sc=$1
	shift
	echo "== $sc ($(($(date +%s) - start_ts)) s)"
	run_client "$sc" bulk1 "$@" --test bulk --duration "$duration"
	run_client "$sc" bulk8 "$@" --test bulk --flows 8 --duration "$duration"
	run_client "$sc" rr "$@" --test rr --duration "$duration"
	run_client "$sc" crr "$@" --test crr --duration "$duration"
}
# start_server NS OUTFILE CMD...: starts a server in NS, waits for its ready line; sets SRV.
start_server() {
	local ns=$1 f=$2
	shift 2
	ip netns exec "$ns" "$@" >"$f" 2>&1 &
	SRV=$!
	PIDS+=("$SRV")
	if ! wait_ready "$f" "$SRV"; then
		echo "  server did not start: $(tail -2 "$f" | tr '\n' ' ')" | tee -a "$log"
		stop_pid "$SRV"
		return 1
	fi
}

root=0
[ "$(id -u)" = 0 ] && command -v ip >/dev/null && root=1
ncpu=$(nproc)
echo "weir bench: $start_utc, $ncpu CPUs, load $start_load," \
	"$reps x ${duration}s per figure" | tee -a "$log"

# ---- 1. weir <-> weir over DPDK net_memif ----
if ! want memif; then
	:
elif [ $root = 0 ]; then
	skip weir-memif "needs root"
elif [ "$ncpu" -lt 2 ]; then
	skip weir-memif "needs two CPUs (one per poll-mode process)"
else
	ns=wb-memif-$$
	mkns $ns
	sock=/run/weir-bench-memif-$$.sock
	eal="--no-pci --no-huge -m 256"
	srv_spec="dpdk:$eal --vdev=net_memif0,role=server,socket=$sock"
	cli_spec="dpdk:$eal --vdev=net_memif0,role=client,socket=$sock"
	if start_server $ns "$out/memif-server.out" taskset -c 0 "$bench" server \
		--netdev "$srv_spec" --ip 192.0.2.2/24; then
		workloads weir-memif ip netns exec $ns taskset -c 1 "$bench" client \
			--netdev "$cli_spec" --ip 192.0.2.1/24 --peer 192.0.2.2
		stop_pid "$SRV"
	else
		skip weir-memif "weir-bench cannot open a DPDK memif port here: $(grep -m1 -i 'weir-bench' "$out/memif-server.out")"
	fi
	ip netns del $ns; NSS=()
fi

# ---- 2. weir <-> weir over link ----
cpus=()
[ "$ncpu" -ge 2 ] && cpus=(--cpus 0,1)
want link && workloads weir-link "$bench" link "${cpus[@]}"

# ---- 3. weir <-> Linux over TAP ----
if ! want tap; then
	:
elif [ $root = 0 ] || [ ! -c /dev/net/tun ]; then
	skip weir-tap-srv "needs root and /dev/net/tun"
	skip weir-tap-cli "needs root and /dev/net/tun"
else
	ns=wb-tap-$$
	mktapns $ns wbtap0
	if start_server $ns "$out/tap-server.out" "$bench" server --netdev tap:wbtap0 \
		--ip 192.0.2.2/24; then
		workloads weir-tap-srv ip netns exec $ns "$bench" client --kernel --peer 192.0.2.2
		stop_pid "$SRV"
	else
		skip weir-tap-srv "weir server on TAP did not start"
	fi
	if start_server $ns "$out/tap-kserver.out" "$bench" server --kernel --bind 192.0.2.1; then
		workloads weir-tap-cli ip netns exec $ns "$bench" client --netdev tap:wbtap0 \
			--ip 192.0.2.2/24 --peer 192.0.2.1
		stop_pid "$SRV"
	else
		skip weir-tap-cli "Linux server on TAP did not start"
	fi
	ip netns del $ns; NSS=()
fi

# ---- 4. Linux baselines: loopback and veth ----
if want linux; then
	if [ $root = 1 ]; then
		ns=wb-lo-$$
		mkns $ns
		lo_exec=(ip netns exec $ns)
	else
		echo "(not root: the loopback baseline runs on the host's loopback, port 5300)" | tee -a "$log"
		lo_exec=()
	fi
	# Without root there is no namespace: the loopback server runs on the host.
	start_server_lo() {
		if [ $root = 1 ]; then
			start_server $ns "$@"
			return
		fi
		local f=$1
		shift
		"$@" >"$f" 2>&1 &
		SRV=$!
		PIDS+=("$SRV")
		wait_ready "$f" "$SRV"
	}
	if start_server_lo "$out/lo-server.out" "$bench" server --kernel --bind 127.0.0.1; then
		workloads linux-lo "${lo_exec[@]}" "$bench" client --kernel --peer 127.0.0.1
		stop_pid "$SRV"
	else
		skip linux-lo "kernel server did not start"
	fi
	if [ $root = 0 ]; then
		skip linux-lo-iperf3 "needs root (own namespace)"
		skip linux-lo-sockperf "needs root (own namespace)"
		skip linux-veth "needs root (namespaces)"
	else
		# iperf3 and sockperf take whole seconds.
		isecs=$(awk -v d="$duration" 'BEGIN { printf "%d", (d < 1) ? 1 : d + 0.5 }')
		if command -v iperf3 >/dev/null; then
			echo "== linux-lo-iperf3"
			for flows in 1 8; do
				for r in $(seq 1 "$reps"); do
					ip netns exec $ns iperf3 -s -1 -B 127.0.0.1 -p 5299 >/dev/null 2>&1 &
					ip3=$!; PIDS+=("$ip3"); sleep 0.3
					gbit=$(timeout "$budget" ip netns exec $ns iperf3 -c 127.0.0.1 -p 5299 \
						-P $flows -t "$isecs" -J 2>>"$log" | $PY -c \
						'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' 2>>"$log")
					[ -n "$gbit" ] && record linux-lo-iperf3 bulk$flows "$r" \
						"result test=bulk flows=$flows gbit_s=$gbit"
					stop_pid "$ip3"
				done
			done
		else
			skip linux-lo-iperf3 "iperf3 not installed"
		fi
		if command -v sockperf >/dev/null; then
			echo "== linux-lo-sockperf"
			# sockperf's server prints no ready line: give it a moment to listen.
			ip netns exec $ns sockperf server --tcp -i 127.0.0.1 -p 11111 >"$out/sockperf-server.out" 2>&1 &
			sp=$!
			PIDS+=("$sp")
			sleep 0.5
			for r in $(seq 1 "$reps"); do
				# sockperf reports half the round trip; the table shows full round trips.
				line=$(timeout "$budget" ip netns exec $ns sockperf ping-pong --tcp -i 127.0.0.1 \
					-p 11111 -m 64 -t "$isecs" 2>&1 |
					sed 's/\x1b\[[0-9;]*m//g' | awk '
					/avg-latency=/ { split($0, a, "avg-latency="); split(a[2], b, " "); mean = b[1] }
					/percentile 50.000/ { p50 = $NF } /percentile 99.000/ { p99 = $NF }
					/percentile 99.900/ { p999 = $NF }
					END { if (mean != "") printf "result test=rr mean_us=%.2f p50_us=%.2f p99_us=%.2f p999_us=%.2f\n", 2*mean, 2*p50, 2*p99, 2*p999 }')
				[ -n "$line" ] && record linux-lo-sockperf rr "$r" "$line"
			done
			stop_pid "$sp"
		else
			skip linux-lo-sockperf "sockperf not installed"
		fi
		ip netns del $ns; NSS=()

		a=wb-va-$$ b=wb-vb-$$
		mkvethns $a $b
		if start_server $b "$out/veth-server.out" "$bench" server --kernel --bind 192.0.2.12; then
			workloads linux-veth ip netns exec $a "$bench" client --kernel --peer 192.0.2.12
			stop_pid "$SRV"
		else
			skip linux-veth "kernel server did not start"
		fi
		ip netns del $a; ip netns del $b; NSS=()
	fi
fi

# ---- 5. HTTP: a 16 MiB file from weir-appliance over TAP, and from nginx over a veth ----
# The same client (curl) fetches the same file DLS times over one connection per run; a run's
# figure is its bytes over its transfer time (curl's time_total, summed). One download before the
# runs warms each server (weir's file cache; the page cache nginx sends from is warm already).
dls=20
[ $quick = 1 ] && dls=5
app="$build/tools/weir-appliance"
# http_runs SCENARIO NS URL: reps runs of DLS downloads of URL by curl inside NS.
http_runs() {
	local sc=$1 hns=$2 url=$3 r i args=() line
	for i in $(seq 1 $dls); do args+=(-o /dev/null "$url"); done
	echo "== $sc ($(($(date +%s) - start_ts)) s)"
	timeout "$budget" ip netns exec "$hns" curl -s -o /dev/null "$url" 2>>"$log"
	for r in $(seq 1 "$reps"); do
		line=$(timeout "$budget" ip netns exec "$hns" curl -s -w '%{size_download} %{time_total}\n' \
			"${args[@]}" 2>>"$log" | awk -v want=$((dls * 16777216)) '
			{ b += $1; t += $2 }
			END { if (b == want && t > 0) printf "result test=http gbit_s=%.3f\n", b * 8 / t / 1e9 }')
		if [ -n "$line" ]; then
			record "$sc" http "$r" "$line"
		else
			echo "  $sc http run $r: not all $dls downloads complete (see $log)" | tee -a "$log"
			record "$sc" http "$r" "failed"
		fi
	done
}
if ! want http; then
	:
elif [ $root = 0 ] || [ ! -c /dev/net/tun ]; then
	skip weir-http-tap "needs root and /dev/net/tun"
	skip nginx-veth "needs root (namespaces)"
elif ! command -v curl >/dev/null; then
	skip weir-http-tap "curl is not installed"
	skip nginx-veth "curl is not installed"
else
	www=$(mktemp -d /tmp/weir-bench-www.XXXXXX)
	chmod 755 "$www"
	head -c 16777216 /dev/urandom >"$www/f16"
	chmod 644 "$www/f16"
	if [ ! -f "$app" ]; then
		cmake --build "$build" -j2 --target weir-appliance >/dev/null 2>>"$log"
	fi
	if [ ! -f "$app" ] || [ ! -x "$app" ]; then
		skip weir-http-tap "no weir-appliance in $build"
	else
		ns=wb-http-$$
		mktapns $ns wbtap1
		if start_server $ns "$out/http-weir.out" "$app" --netdev tap:wbtap1 --ip 192.0.2.2/24 \
			--serve "http:80:$www"; then
			http_runs weir-http-tap $ns http://192.0.2.2/f16
			stop_pid "$SRV"
		else
			skip weir-http-tap "weir-appliance on TAP did not start"
		fi
		ip netns del $ns; NSS=()
	fi
	if ! command -v nginx >/dev/null; then
		skip nginx-veth "nginx is not installed (Debian: nginx-light)"
	else
		a=wb-ha-$$ b=wb-hb-$$
		mkvethns $a $b
		# One worker, in the foreground, files by sendfile: nginx's usual static-file setup.
		cat >"$www/nginx.conf" <<EOC
daemon off; master_process off; worker_processes 1;
pid $www/nginx.pid; error_log $www/nginx.err;
events { worker_connections 64; }
http {
	access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000;
	client_body_temp_path $www/t1; proxy_temp_path $www/t2; fastcgi_temp_path $www/t3;
	uwsgi_temp_path $www/t4; scgi_temp_path $www/t5;
	server { listen 192.0.2.12:80; root $www; }
}
EOC
		ip netns exec $b nginx -c "$www/nginx.conf" -e "$www/nginx.err" >"$out/nginx.out" 2>&1 &
		ngx=$!
		PIDS+=("$ngx")
		for _ in $(seq 1 100); do
			ip netns exec $a curl -s -o /dev/null --max-time 1 http://192.0.2.12/f16 && break
			kill -0 "$ngx" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$ngx" 2>/dev/null; then
			http_runs nginx-veth $a http://192.0.2.12/f16
		else
			skip nginx-veth "nginx did not start: $(tail -1 "$www/nginx.err" 2>/dev/null)"
		fi
		stop_pid "$ngx"
		ip netns del $a; ip netns del $b; NSS=()
	fi
	rm -rf "$www"
fi

# ---- 6. one bulk flow under random loss: weir (the impairment wrapper) against Linux (nftables) ----
# Its own table and chart (OUT/loss.txt, loss.json, loss.png): tools/bench-loss.sh.
if want loss; then
	rm -f "$out/loss.txt" # printed at the end: never one from an earlier run
	if [ $root = 1 ]; then
		echo "== loss ($(($(date +%s) - start_ts)) s)"
		"$here/tools/bench-loss.sh" --build "$build" --out "$out" --duration "$duration" \
			--reps "$reps" >>"$log" 2>&1 || echo "  bench-loss.sh failed (see $log)"
	else
		skip loss "needs root (namespaces, TAP)"
	fi
fi

# ---- 7. shards: CPU time per connection and per GiB, per shard, 1 shard against 2 ----
# Its own table (OUT/shards.txt): tools/bench-shards.sh.
if want shards; then
	rm -f "$out/shards.txt" "$out/shards.raw" # printed at the end: never one from an earlier run
	if [ $root = 1 ]; then
		echo "== shards ($(($(date +%s) - start_ts)) s)"
		"$here/tools/bench-shards.sh" --build "$build" --out "$out" --duration "$duration" \
			--reps "$reps" >>"$log" 2>&1 || echo "  bench-shards.sh failed (see $log)"
	else
		skip shards "needs root (namespaces, TAP, DPDK)"
	fi
fi

# ---- the table, JSON and chart ----
elapsed=$(($(date +%s) - start_ts))
meta="$start_utc (start); $(uname -r); $ncpu CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); load at start $start_load; $reps x ${duration}s per figure, median; ${elapsed}s total${note:+; $note}"
MPLCONFIGDIR="$out/.matplotlib" $PY - "$raw" "$out" "$meta" "$reps" <<'EOF'
import json, os, statistics, sys
raw, out, meta, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows, skips = {}, {}
order = ["weir-memif", "weir-link", "weir-tap-srv", "weir-tap-cli", "linux-lo",
         "linux-lo-iperf3", "linux-lo-sockperf", "linux-veth", "weir-http-tap", "nginx-veth"]
what = {
    "weir-memif": "weir<->weir, DPDK net_memif, poll mode, 1 core each",
    "weir-link": "weir<->weir, link driver (socketpair), 1 core each",
    "weir-tap-srv": "weir server <- Linux client, TAP",
    "weir-tap-cli": "weir client -> Linux server, TAP",
    "linux-lo": "Linux<->Linux loopback, weir-bench --kernel",
    "linux-lo-iperf3": "Linux<->Linux loopback, iperf3",
    "linux-lo-sockperf": "Linux<->Linux loopback, sockperf (2x its one-way figure)",
    "linux-veth": "Linux<->Linux veth pair, weir-bench --kernel",
    "weir-http-tap": "curl <- weir-appliance's HTTP service over TAP, a 16 MiB file",
    "nginx-veth": "curl <- nginx (sendfile, 1 worker) over a veth pair, the same file",
}
baseline = {"weir-memif": "linux-lo", "weir-link": "linux-lo",
            "weir-tap-srv": "linux-veth", "weir-tap-cli": "linux-veth",
            "weir-http-tap": "nginx-veth"}
samples, failed = {}, {}
for ln in open(raw):
    sc, wl, rep, line = ln.rstrip("\n").split("\t", 3)
    if wl == "skip":
        skips[sc] = line
        continue
    samples.setdefault(sc, {}).setdefault(wl, [])
    if line == "failed":
        failed.setdefault(sc, set()).add(wl)
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
    samples[sc][wl].append(kv)
metrics = [("bulk1", "gbit_s", "bulk x1 Gbit/s"), ("bulk8", "gbit_s", "bulk x8 Gbit/s"),
           ("rr", "mean_us", "rr mean us"), ("rr", "p50_us", "rr p50 us"),
           ("rr", "p99_us", "rr p99 us"), ("rr", "p999_us", "rr p99.9 us"),
           ("crr", "conn_s", "crr conn/s"), ("http", "gbit_s", "http16M Gbit/s")]
for sc, wls in samples.items():
    rows[sc] = {}
    for wl, key, label in metrics:
        vals = [float(s[key]) for s in wls.get(wl, []) if key in s]
        if vals:
            rows[sc][label] = {"median": statistics.median(vals), "runs": vals}
    crr = wls.get("crr", [])
    if crr:
        rows[sc]["crr errors"] = {"median": statistics.median(float(s.get("errors", 0)) for s in crr),
                                  "runs": [float(s.get("errors", 0)) for s in crr]}
doc = {"meta": meta, "scenarios": []}
for sc in order:
    if sc not in rows and sc not in skips:
        continue
    ent = {"scenario": sc, "what": what[sc]}
    if failed.get(sc):
        ent["failed_workloads"] = sorted(failed[sc])
    if sc in skips and sc not in rows:
        ent["skipped"] = skips[sc]
    else:
        ent["metrics"] = rows[sc]
        b = baseline.get(sc)
        if b and b in rows:
            ent["baseline"] = b
            ent["ratio"] = {k: v["median"] / rows[b][k]["median"]
                            for k, v in rows[sc].items()
                            if k in rows[b] and rows[b][k]["median"] > 0 and k != "crr errors"}
    doc["scenarios"].append(ent)
json.dump(doc, open(out + "/bench.json", "w"), indent=1)

cols = [m[2] for m in metrics]
def fmt(v, label):
    if "Gbit" in label: return "%.2f" % v
    if "conn" in label: return "%.0f" % v
    return "%.1f" % v
lines = ["weir bench: " + meta, "",
         "%-14s" % "scenario" + "".join("%16s" % c for c in cols)]
for ent in doc["scenarios"]:
    sc = ent["scenario"]
    if "skipped" in ent:
        lines.append("%-14s  skipped: %s" % (sc, ent["skipped"]))
        continue
    m = ent["metrics"]
    # A workload that ran but never produced a figure (every run failed or timed out).
    fails = {c for wl, key, c in metrics if wl in failed.get(sc, ()) and c not in m}
    # A figure from fewer runs than asked (a run failed or hit its time limit) is starred.
    lines.append("%-14s" % sc + "".join("%16s" % ((fmt(m[c]["median"], c) + ("*" if len(m[c]["runs"]) < reps else ""))
                                                  if c in m else "failed*" if c in fails else "-") for c in cols))
    if "ratio" in ent:
        r = ent["ratio"]
        lines.append("%-14s" % ("  /" + ent["baseline"]) +
                     "".join("%16s" % ("%.2fx" % r[c] if c in r else "-") for c in cols))
lines += ["", "Rows:"] + ["  %-18s %s" % (e["scenario"], e["what"]) for e in doc["scenarios"]]
if any("*" in ln for ln in lines[3:]):
    lines.append("* the median of fewer than %d runs (failed*: no run gave a figure): the others failed or "
                 "hit the time limit (see bench.log)" % reps)
lines += ["Ratios are weir / Linux (throughput and conn/s: higher is better for weir; latency: lower).",
          "crr errors (median per run): " + ", ".join("%s %g" % (e["scenario"], e["metrics"]["crr errors"]["median"])
          for e in doc["scenarios"] if "metrics" in e and "crr errors" in e["metrics"])]
if not doc["scenarios"]:  # --only shards or loss: those print their own tables, after this
    lines = ["weir bench: " + meta, "", "(no rows in this table, and no bench.png: the sections run print",
             "their own tables below)"]
text = "\n".join(lines)
print(text)
open(out + "/bench.txt", "w").write(text + "\n")
if not doc["scenarios"]:
    if os.path.exists(out + "/bench.png"):
        os.remove(out + "/bench.png")  # an earlier run's chart is not this run's
    sys.exit(0)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except Exception as e:
    print("no chart: matplotlib unavailable (%s)" % e)
    sys.exit(0)
panels = [("bulk x1 Gbit/s", "bulk, 1 flow (Gbit/s, higher is better)"),
          ("bulk x8 Gbit/s", "bulk, 8 flows (Gbit/s, higher is better)"),
          ("rr p50 us", "64-byte round trip p50 (bar) and p99 (|), us, log scale, lower is better"),
          ("crr conn/s", "connect+64B req/reply+close (conn/s, higher is better)"),
          ("http16M Gbit/s", "HTTP download of a 16 MiB file by curl (Gbit/s, higher is better)")]
fig, axes = plt.subplots(3, 2, figsize=(13, 11))
axes.flat[-1].axis("off")
for ax, (key, title) in zip(axes.flat, panels):
    names, vals, extra = [], [], []
    for ent in doc["scenarios"]:
        m = ent.get("metrics", {})
        if key in m:
            names.append(ent["scenario"])
            vals.append(m[key]["median"])
            extra.append(m.get("rr p99 us", {}).get("median") if key == "rr p50 us" else None)
    colors = ["#c0504d" if n.startswith("weir") else "#4f81bd" for n in names]
    y = range(len(names))
    ax.barh(list(y), vals, color=colors)
    if key == "rr p50 us":
        ax.scatter([e if e is not None else 0 for e in extra], list(y), marker="|", s=200,
                   color="black", label="p99")
        ax.legend(loc="lower right", fontsize=8)
    if key == "rr p50 us" and vals:
        ax.set_xscale("log")
    ax.set_yticks(list(y))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    for yi, v in zip(y, vals):
        ax.text(v, yi, " " + fmt(v, key), va="center", fontsize=7)
fig.suptitle("weir (red) vs Linux (blue): " + meta, fontsize=8, wrap=True)
fig.tight_layout(rect=(0, 0, 1, 0.95))
fig.savefig(out + "/bench.png", dpi=90)
print("wrote %s/bench.txt, bench.json, bench.png" % out)
EOF
if want loss && [ -f "$out/loss.txt" ]; then
	echo
	cat "$out/loss.txt"
fi
if want shards && [ -f "$out/shards.txt" ]; then
	echo
	cat "$out/shards.txt"
fi

#!/bin/bash
# bench-shards.sh - what a shard costs: CPU time per connection and per GiB, per shard, with 1 and
# with 2 shards, beside the wall-clock figures, the machine's own figure and Linux's, in one run.
#
#   tools/bench-shards.sh [--build DIR] [--out DIR] [--duration S] [--reps N]
#                         [--only link,memif,tap] [--cpus A,B] [--tap-ports spread|linux]
#
# Every weir row runs three ways, with shard threads pinned (--shard-cpus): 1 shard on CPU A,
# 1 shard on CPU B, and 2 shards, shard 0 on A and shard 1 on B. Each server shard's CPU time
# (getrusage RUSAGE_THREAD) per connection (crr) or per GiB received (bulk x8) is compared with
# the 1-shard figure on the same CPU, since the CPUs of a virtual machine need not be equally
# fast (on this one they have differed by up to 1.5x for minutes at a time); "2 vs 1" is the
# mean of those per-CPU ratios, which issue 18 asks to be at most 1.1: shards share nothing on
# the data path. Rows:
#   link    weir-bench link --shards: a weir client and server, one socketpair per shard, both
#           ends' shard i on the same CPU (no kernel TCP peer, no polling)
#   memif   the same over DPDK net_memif with as many queue pairs (idle_sleep_us=100,
#           idle_yield=1: two polling threads share each CPU)
#   tap     a weir server on a multi-queue TAP; the Linux client (weir-bench --kernel) is not
#           pinned, runs a crr loop per shard as the link and memif rows do (before 2026-12-03
#           one loop for both, which left each of 2 shards idle half the time), and connects its
#           8 bulk flows from ports that put 4 on each shard (--spread; the weir clients of the
#           link and memif rows split theirs so too; --tap-ports linux leaves the ports to
#           Linux, whose choice gives 4 and 4 only a quarter of the time). Its TCP work runs
#           partly in its own threads, partly inside the shards' system calls, in shares that
#           follow where its threads run: hence the user-space column, and a "tap+peer" table
#           of weir's and the client's CPU time per unit and their sum
#   machine no weir: weir-bench pingpong, threads exchanging 64-byte messages over socketpairs
#           (crr), or streaming 64 KiB messages (bulk), pinned as the link rows are; its "2 vs
#           1" is what running on both CPUs at once does to CPU time per operation on this
#           machine by itself
#   linux   Linux to Linux over a veth pair (wall clock only)
# Workloads: crr (connect, 64-byte request and reply, close; a loop per shard, for tap a Linux
# one) and bulk x8 (8 flows into the discard port). The runs go in passes (every
# configuration once per pass) so that drift over minutes hits all alike; figures are medians
# over the passes (--reps). Writes OUT/shards.txt, and every run's figures as OUT/shards.raw
# (OUT defaults to BUILD/bench). Needs root.
# Addresses: 192.0.2.0/24; namespaces and processes it starts are removed by PID on every exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
out=""
duration=2
reps=3
only="link,memif,tap"
cpus="0,1"
tap_ports=spread
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--out) out=$2; shift ;;
	--duration) duration=$2; shift ;;
	--reps) reps=$2; shift ;;
	--only) only=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--tap-ports) tap_ports=$2; shift ;;
	-h|--help) sed -n '2,38p' "$0"; exit 0 ;;
	*) echo "bench-shards.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
case "$tap_ports" in spread|linux) ;;
*) echo "bench-shards.sh: --tap-ports spread|linux" >&2; exit 2 ;;
esac
[[ "$duration" =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ ! "$duration" =~ ^0+(\.0+)?$ ]] ||
	{ echo "bench-shards.sh: --duration takes seconds (> 0), not '$duration'" >&2; exit 2; }
# A run's time limit: twice its duration and a minute (--duration may be fractional: 0.5 with
# tools/bench.sh --quick).
limit=$(awk -v d="$duration" 'BEGIN { printf "%d", d * 2 + 60 }')
[[ "$cpus" =~ ^[0-9]+,[0-9]+$ ]] || { echo "bench-shards.sh: --cpus A,B (two CPUs)" >&2; exit 2; }
cpu_a=${cpus%,*} cpu_b=${cpus#*,}
out=${out:-$build/bench}
mkdir -p "$out"
bench="$build/tools/weir-bench/weir-bench"
[ -x "$bench" ] || { echo "bench-shards.sh: no $bench (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-shards.sh: needs root (namespaces, TAP, DPDK)" >&2; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
raw=$(mktemp)
NSS=() PIDS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -f "$raw" /tmp/weir-shards-$$-*.sock
}
trap cleanup EXIT
EAL="--no-huge --no-pci -m 512"
want() { [[ ",$only," == *",$1,"* ]]; }
# forget PID: a server that has been waited for leaves the list cleanup kills (a PID can be
# reused by then).
forget() {
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# record ROW CONFIG WORKLOAD FILE: the client's result line and the server's "shard i ..." lines
# as "ROW CONFIG WORKLOAD RESULT PASS ..." and "ROW CONFIG WORKLOAD SHARD i conns bytes cpu_ms
# user_ms PASS".
record() {
	local row=$1 cfg=$2 w=$3 f=$4
	echo "$row $cfg $w RESULT $pass $(grep '^result' "$f" | head -1)" >>"$raw"
	sed -n 's/^shard \([0-9]*\) conns=\([0-9]*\) bytes=\([0-9]*\) cpu_ms=\([0-9.]*\) user_ms=\([0-9.]*\).*/\1 \2 \3 \4 \5/p' "$f" |
		while read -r i c b ms us; do echo "$row $cfg $w SHARD $i $c $b $ms $us $pass" >>"$raw"; done
}

# The three pinnings: CONFIG is "1@A", "1@B" or "2@A,B"; shards and the --shard-cpus list.
shards_of() { [ "${1%@*}" = 2 ] && echo 2 || echo 1; }
cpus_of() { echo "${1#*@}"; }
CONFIGS=("1@$cpu_a" "1@$cpu_b" "2@$cpu_a,$cpu_b")

link_run() { # link_run CONFIG WORKLOAD FLOWS
	local o; o=$(mktemp)
	timeout "$limit" "$bench" link --shards "$(shards_of "$1")" \
		--shard-cpus "$(cpus_of "$1")" --test "$2" --flows "$3" --duration "$duration" >"$o" 2>&1
	record link "$1" "$2" "$o"; rm -f "$o"
}

machine_run() { # machine_run CONFIG WORKLOAD
	local o; o=$(mktemp)
	timeout "$limit" "$bench" pingpong --test "$2" --shards "$(shards_of "$1")" \
		--shard-cpus "$(cpus_of "$1")" --duration "$duration" >"$o" 2>&1
	record machine "$1" "$2" "$o"; rm -f "$o"
}

memif_run() { # memif_run CONFIG WORKLOAD FLOWS
	local so sock srv n c res keys=idle_sleep_us=100,idle_yield=1
	n=$(shards_of "$1") c=$(cpus_of "$1")
	so=$(mktemp); sock=/tmp/weir-shards-$$-$RANDOM.sock
	"$bench" server --shards "$n" --shard-cpus "$c" --ip 192.0.2.2/24 \
		--netdev "dpdk:$EAL --file-prefix=wsbs$$ --vdev=net_memif0,role=server,socket=$sock,$keys" \
		>"$so" 2>&1 &
	srv=$!; PIDS+=("$srv")
	for _ in $(seq 1 200); do grep -q '^ready' "$so" && break; kill -0 "$srv" 2>/dev/null || break; sleep 0.05; done
	res=$(timeout "$limit" "$bench" client --shards "$n" --shard-cpus "$c" \
		--ip 192.0.2.1/24 --peer 192.0.2.2 --test "$2" --flows "$3" --duration "$duration" \
		--netdev "dpdk:$EAL --file-prefix=wsbc$$ --vdev=net_memif0,role=client,socket=$sock,$keys" \
		2>&1 | grep '^result')
	kill -TERM "$srv"; wait "$srv"; forget "$srv"
	echo "$res" >>"$so"
	record memif "$1" "$2" "$so"; rm -f "$so" "$sock"
}

tap_ns="wshb-$$"
tap_run() { # tap_run CONFIG WORKLOAD FLOWS
	local so srv res
	so=$(mktemp)
	ip netns exec "$tap_ns" "$bench" server --netdev tap:wb0 --ip 192.0.2.2/24 \
		--shards "$(shards_of "$1")" --shard-cpus "$(cpus_of "$1")" >"$so" 2>&1 &
	srv=$!; PIDS+=("$srv")
	for _ in $(seq 1 100); do grep -q '^ready' "$so" && break; sleep 0.05; done
	local f=$3 spread=()
	[ "$2" = crr ] && f=$(shards_of "$1") # a loop per shard
	# bulk: the flows split evenly over the shards, as the weir clients of the other rows split
	# theirs (--tap-ports linux: wherever Linux's own source ports send them)
	[ "$2" = bulk ] && [ "$tap_ports" = spread ] && spread=(--spread "$(shards_of "$1")")
	res=$(ip netns exec "$tap_ns" "$bench" client --kernel --peer 192.0.2.2 --test "$2" \
		--flows "$f" --duration "$duration" "${spread[@]}" 2>&1 | grep '^result')
	kill -TERM "$srv"; wait "$srv"; forget "$srv"
	echo "$res" >>"$so"
	record tap "$1" "$2" "$so"; rm -f "$so"
}

lin_a="wshl-$$-a" lin_b="wshl-$$-b"
linux_run() { # linux_run WORKLOAD FLOWS
	local res
	res=$(ip netns exec "$lin_b" "$bench" client --kernel --peer 192.0.2.11 --test "$1" \
		--flows "$2" --duration "$duration" 2>&1 | grep '^result')
	echo "linux - $1 RESULT $pass $res" >>"$raw"
}

have_memif=0
if want memif && { [ -e /usr/lib/x86_64-linux-gnu/dpdk ] ||
	ls /usr/lib/*/dpdk/pmds-*/librte_net_memif.so* >/dev/null 2>&1; }; then
	have_memif=1
fi
if want tap; then
	ip netns add "$tap_ns"; NSS+=("$tap_ns")
	ip -n "$tap_ns" link set lo up
	ip -n "$tap_ns" tuntap add dev wb0 mode tap multi_queue
	ip -n "$tap_ns" addr add 192.0.2.1/24 dev wb0
	ip -n "$tap_ns" link set wb0 up
	ip netns exec "$tap_ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 # crr's client reuses its ports
fi
ip netns add "$lin_a"; ip netns add "$lin_b"; NSS+=("$lin_a" "$lin_b")
ip -n "$lin_a" link set lo up; ip -n "$lin_b" link set lo up
ip link add wsh$$a netns "$lin_a" type veth peer name wsh$$b netns "$lin_b"
ip -n "$lin_a" addr add 192.0.2.11/24 dev wsh$$a; ip -n "$lin_a" link set wsh$$a up
ip -n "$lin_b" addr add 192.0.2.12/24 dev wsh$$b; ip -n "$lin_b" link set wsh$$b up
ip netns exec "$lin_b" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip netns exec "$lin_a" "$bench" server --kernel >/dev/null 2>&1 &
PIDS+=("$!")
sleep 0.3

echo "== shards: $(date -u +%FT%TZ), $(nproc) CPUs (pinned: $cpus)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), TAP bulk ports: $tap_ports"
for pass in $(seq 1 "$reps"); do
	echo "-- pass $pass/$reps ($(date -u +%T))"
	for w in crr bulk; do
		f=1; [ "$w" = bulk ] && f=8
		linux_run "$w" "$f"
		for cfg in "${CONFIGS[@]}"; do
			machine_run "$cfg" "$w"
			want link && link_run "$cfg" "$w" "$f"
			[ $have_memif = 1 ] && memif_run "$cfg" "$w" "$f"
			want tap && tap_run "$cfg" "$w" "$f"
		done
	done
done

cp "$raw" "$out/shards.raw"
expect=machine
want link && expect+=,link
[ $have_memif = 1 ] && expect+=,memif
want tap && expect+=,tap
"$PY" - "$raw" "$out/shards.txt" "$cpu_a" "$cpu_b" "$expect" "$tap_ports" <<'PYEOF'
import os, re, statistics, sys
raw, dest, ca, cb = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
expect, tap_ports = sys.argv[5].split(","), sys.argv[6]
def per_unit(w, conns, byts):
    """What a CPU ms becomes per unit: us per connection (crr), ms per GiB received (bulk)."""
    if w == "crr":
        return 1000.0 / conns if conns else None
    return 2**30 / byts if byts else None

res, shard, user = {}, {}, {}
peer = {}  # (row, cfg, w, pass) -> [client CPU ms, shards' CPU ms, conns, bytes]
for line in open(raw):
    p = line.split()
    row, cfg, w, kind, ps = p[0], p[1], p[2], p[3], p[4] if p[3] == "RESULT" else p[9]
    if kind == "RESULT":
        m = re.search(r"(conn_s|gbit_s)=([0-9.]+)", line)
        if m:
            res.setdefault((row, cfg, w), []).append(float(m.group(2)))
        m = re.search(r"client_cpu_ms=([0-9.]+)", line)
        if m:
            peer.setdefault((row, cfg, w, ps), [0.0, 0.0, 0, 0])[0] = float(m.group(1))
    else:
        i, conns, byts, ms, us = int(p[4]), int(p[5]), int(p[6]), float(p[7]), float(p[8])
        t = peer.setdefault((row, cfg, w, ps), [0.0, 0.0, 0, 0])
        t[1] += ms; t[2] += conns; t[3] += byts
        per = per_unit(w, conns, byts)
        if per is not None:
            shard.setdefault((row, cfg, w, i), []).append(ms * per)
            user.setdefault((row, cfg, w, i), []).append(us * per)

def med(xs):
    return statistics.median(xs) if xs else float("nan")

one_a, one_b, two = "1@" + ca, "1@" + cb, "2@%s,%s" % (ca, cb)
out = []
out.append("shards: server CPU time per connection (crr, us) or per GiB received (bulk x8, ms), per")
out.append("shard, medians over passes; shards pinned: 1 shard on CPU %s, 1 on CPU %s, 2 on CPUs %s,%s;" % (ca, cb, ca, cb))
out.append("'2 vs 1' = mean over the 2 shards of (2-shard figure / 1-shard figure on the same CPU).")
out.append("machine: no weir (weir-bench pingpong), CPU us per 64-byte round trip (crr) or ms per GiB")
out.append("of 64 KiB messages received (bulk), pinned alike.")
if "tap" in expect:
    out.append("tap bulk: the Linux client's 8 flows " + ("spread evenly over the shards (--spread)"
               if tap_ports == "spread" else "from Linux's own source ports (--tap-ports linux)") + ".")
out.append("%-8s %-5s %-22s %-22s %-22s %-7s %-10s %s" % ("row", "work", "1 shard, CPU " + ca, "1 shard, CPU " + cb,
           "2 shards (" + ca + " | " + cb + ")", "2 vs 1", "vs machine", "user: 2 vs 1"))
ratios = {}
for w in ("crr", "bulk"):
    if ("linux", "-", w) in res:
        out.append("%-8s %-5s wall %.3f %s" % ("linux", w, med(res[("linux", "-", w)]),
                   "conn/s" if w == "crr" else "Gbit/s"))
    for row in ("machine", "link", "memif", "tap"):
        if (row, two, w, 0) not in shard:
            if row in expect:
                out.append("%-8s %-5s no figures: no 2-shard run printed its shards (see the log)"
                           % (row, w))
            continue
        a = med(shard.get((row, one_a, w, 0), []))
        b = med(shard.get((row, one_b, w, 0), []))
        t0 = med(shard.get((row, two, w, 0), []))
        t1 = med(shard.get((row, two, w, 1), []))
        # A figure of 0 (a run that served nothing, user time printed as 0.0) gives nan, not a
        # ZeroDivisionError after all the runs.
        div = lambda x, y: x / y if y else float("nan")
        r = (div(t0, a) + div(t1, b)) / 2
        ratios[(row, w)] = r
        um = lambda c, i: med(user.get((row, c, w, i), []))
        ur = (div(um(two, 0), um(one_a, 0)) + div(um(two, 1), um(one_b, 0))) / 2
        wall = lambda c: med(res.get((row, c, w), []))
        unit = "conn/s" if w == "crr" else "Gbit/s"
        vs = ""
        if row != "machine" and ("machine", w) in ratios:
            vs = "%.2fx" % div(r, ratios[("machine", w)])
        out.append("%-8s %-5s %-22s %-22s %-22s %-7s %-10s %s" % (row, w,
                   "%.1f (%.5g %s)" % (a, wall(one_a), unit), "%.1f (%.5g)" % (b, wall(one_b)),
                   "%.1f | %.1f (%.5g)" % (t0, t1, wall(two)), "%.2fx" % r, vs, "%.2fx" % ur))
out.append("'vs machine': the row's '2 vs 1' over the machine row's of the same work, i.e. what 2")
out.append("shards cost beyond what running on both CPUs at once costs by itself here. 'user: 2 vs 1':")
out.append("the same ratio of the CPU time in user space only, weir's own work (over TAP most of the rest")
out.append("is the Linux peer's TCP, run inside the shards' reads and writes).")

# The TAP rows' Linux client runs on the shards' CPUs, and its TCP work is done partly in its own
# threads, partly inside the shards' reads and writes (softirqs), in shares that follow where
# its threads happen to run. So: weir's and the peer's CPU time per unit, and their sum.
if "tap" in expect:
    out.append("")
    out.append("tap+peer: CPU time per connection (crr, us) or per GiB (bulk, ms): all weir's shards, the")
    out.append("Linux client process, and the sum of the two, each a median over passes (so the three")
    out.append("need not add up exactly); 'sum: 2 vs 1' = the 2-shard sum over the mean of the")
    out.append("1-shard ones.")
for w in ("crr", "bulk") if "tap" in expect else ():
    cells, tot = [], {}
    for cfg in (one_a, one_b, two):
        runs = [(t, per_unit(w, t[2], t[3])) for (r_, c_, w_, _), t in sorted(peer.items())
                if (r_, c_, w_) == ("tap", cfg, w) and t[0] > 0]
        runs = [(t, u) for t, u in runs if u is not None]
        if not runs:
            break
        tot[cfg] = med([(t[0] + t[1]) * u for t, u in runs])
        cells.append("%.0f, %.0f, sum %.0f" % (med([t[1] * u for t, u in runs]),
                                                med([t[0] * u for t, u in runs]), tot[cfg]))
    if len(cells) < 3:
        out.append("%-8s %-5s no figures: a configuration has no run with both counts (see the log)"
                   % ("tap+peer", w))
        continue
    r = tot[two] / ((tot[one_a] + tot[one_b]) / 2) if tot[one_a] + tot[one_b] else float("nan")
    out.append("%-8s %-5s %-22s %-22s %-22s %s" % ("tap+peer", w, cells[0], cells[1], cells[2],
               "sum: %.2fx" % r))
ncpu = os.cpu_count() or 0
if ncpu <= 2:
    out.append("")
    out.append("What %d CPUs hide: the peer (the Linux client over TAP, the weir client's shards over link" % ncpu)
    out.append("and memif) runs on the shards' CPUs, so the wall figures (in brackets) are not what 2 shards")
    out.append("would do with CPUs of their own; CPU time per unit shows whether the shards share work.")
text = "\n".join(out)
print(text)
open(dest, "w").write(text + "\n")
PYEOF

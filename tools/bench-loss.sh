#!/bin/bash
# bench-loss.sh - goodput of one bulk flow under random loss: weir against Linux, same run.
#
#   tools/bench-loss.sh [--build DIR] [--out DIR] [--duration S] [--rates "0 0.5 1 2 5"]
#                       [--cpus R,S | --cpus none] [--linux-drop arrival|output]
#
# For each loss rate (percent of packets, both directions):
#   weir-recv   a Linux client sends to a weir server over TAP; weir's device is wrapped by
#               the impairment wrapper (weir-bench --impair loss=R): every frame weir sends or
#               receives is lost with probability R. The sender uses the kernel's default
#               congestion control.
#   weir-recv-cubic  the same with a CUBIC sender (the default of most Linux systems): a
#               loss-based sender leans on every ACK weir sends (stack/patches/0027).
#   weir-send   a weir client sends to a Linux server over TAP, the same wrapper.
#   linux       Linux to Linux over a veth pair between two namespaces, nftables dropping the
#               same share of TCP packets as each side receives them (numgen random in a
#               prerouting chain; this kernel has no netem), offloads off so a packet is a
#               segment as in weir's frames, with the kernel's default congestion control (BBR
#               here). Not on output: see nft_loss below (`--linux-drop output` puts the drops
#               there, to show the difference). The share dropped and the mean size of a
#               dropped data packet are printed after the table, so the loss is checked.
#   linux-cubic the same with CUBIC, a loss-based one like weir's (Reno growth, CUBIC's 0.7 cut).
# Printed: goodput (Gbit/s, median of --reps runs of --duration seconds, run in --reps passes
# over all rates) and the drop, goodput at the rate / goodput at 0%: the figure that compares,
# since TAP and veth differ at 0%; then each cell's spread (min-max), the machine's noise.
# Writes OUT/loss.txt, OUT/loss.json and, when matplotlib imports, OUT/loss.png (OUT defaults
# to BUILD/bench). Both ends share this machine's CPUs: by default (two CPUs or more) the
# receiving program runs on CPU R=0 and the sending one on S=1, in every column; `--cpus none`
# leaves placement to the scheduler. Pinned, a run no longer depends on where the scheduler put
# the two ends (this VM's CPUs differ in speed, by up to 1.5x, and which is faster changes over
# minutes; docs/performance.md). The kernel's work that runs in softirq goes where Linux puts it.
# Needs root. Addresses: 192.0.2.0/24; namespaces and processes it starts are removed by PID on
# every exit path.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
out=""
duration=5
reps=3
rates="0 0.5 1 2 5"
cpus=""
[ "$(nproc)" -ge 2 ] && cpus="0,1"
ldrop=arrival
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift ;;
	--out) out=$2; shift ;;
	--duration) duration=$2; shift ;;
	--reps) reps=$2; shift ;;
	--rates) rates=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--linux-drop) ldrop=$2; shift ;;
	-h|--help) sed -n '2,33p' "$0"; exit 0 ;;
	*) echo "bench-loss.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out="$build/bench"
case "$ldrop" in
arrival | output) ;;
*) echo "bench-loss.sh: --linux-drop takes arrival or output, not '$ldrop'" >&2; exit 2 ;;
esac
# RX and TX: the prefixes that pin the receiving and the sending program (empty: not pinned).
RX=() TX=()
if [ -n "$cpus" ] && [ "$cpus" != none ]; then
	case "$cpus" in
	[0-9]*,[0-9]*) ;;
	*) echo "bench-loss.sh: --cpus takes R,S (two CPU numbers) or none, not '$cpus'" >&2; exit 2 ;;
	esac
	command -v taskset >/dev/null || { echo "bench-loss.sh: taskset not installed" >&2; exit 77; }
	RX=(taskset -c "${cpus%%,*}") TX=(taskset -c "${cpus##*,}")
	"${RX[@]}" true && "${TX[@]}" true ||
		{ echo "bench-loss.sh: cannot pin to CPUs $cpus" >&2; exit 2; }
fi
mkdir -p "$out"
bench="$build/tools/weir-bench/weir-bench"
[ -x "$bench" ] || { echo "bench-loss.sh: $bench not built" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-loss.sh: needs root (namespaces, TAP)" >&2; exit 77; }
command -v nft >/dev/null || { echo "bench-loss.sh: nft (nftables) not installed" >&2; exit 77; }

PIDS=()
NSS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT
log="$out/loss.log"
: >"$log"
raw="$out/loss.raw"
: >"$raw"
drops="$out/loss.drops"
: >"$drops"

mkns() {
	ip netns add "$1" || return 1
	NSS+=("$1")
	ip -n "$1" link set lo up
}
wait_ready() { # FILE PID
	for _ in $(seq 1 200); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
start_server() { # NS FILE CMD...: sets SRV
	local ns=$1 f=$2
	shift 2
	ip netns exec "$ns" "$@" >"$f" 2>>"$log" &
	SRV=$!
	PIDS+=("$SRV")
	wait_ready "$f" "$SRV"
}
stop_srv() {
	kill "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
}
# bulk SCENARIO RATE CMD...: one run of one bulk flow (repetition $rep); records its Gbit/s.
bulk() {
	local sc=$1 rate=$2 line g lim
	shift 2
	# The time limit in whole seconds: --duration may be a fraction (bench.sh --quick: 0.5).
	lim=$(awk -v d="$duration" 'BEGIN { printf "%d", d * 4 + 60 }')
	line=$(timeout "$lim" "$@" --test bulk --duration "$duration" 2>>"$log" |
		grep '^result' | tail -1)
	g=$(echo "$line" | sed -n 's/.*gbit_s=\([0-9.]*\).*/\1/p')
	echo -e "$sc\t$rate\t$rep\t${g:-fail}" >>"$raw"
}
# nft_loss NS DEV PER100K: drops that share of TCP packets arriving on DEV in NS, and counts them.
# On arrival, not on the sender's output. An output hook sees what TCP hands to IP: Linux TCP
# (since 2018) always builds GSO packets of up to 64 KiB, whatever the device's offloads (the
# device cuts them later), so it dropped 26 segments at a time (37 KiB per dropped packet at
# "5%", measured); and a packet dropped there is a local send error (-EPERM), which TCP does not
# count as a loss: the data stays unsent and goes at the next chance, without a retransmission or
# a cwnd cut (526 retransmissions for 641 dropped packets holding 16,600 segments). Linux then
# looked unhurt by loss weir really got.
# Arriving over a veth whose sender segments in software (gso off) and whose receiver has GRO
# off, a packet is one segment, and a drop is a loss the sender must repair, as with weir's
# wrapper.
# With --linux-drop output, NS and DEV name the sender's side and its output chain drops.
nft_loss() {
	local hook="prerouting priority -300" dir=iifname
	[ "$ldrop" = output ] && hook="output priority 0" dir=oifname
	ip netns exec "$1" nft -f - <<EOF
table inet wbloss {
	chain c {
		type filter hook $hook;
		$dir "$2" meta l4proto tcp counter
		$dir "$2" meta l4proto tcp numgen random mod 100000 < $3 counter drop
	}
}
EOF
}
# linux_loss PER100K: the loss rules of both ways, made afresh for one run (`nft reset counters`
# does not reset a rule's own counter in nftables 1.0.6, so each run gets new rules). Uses
# $da $dd (where data arrives, or leaves with --linux-drop output) and $aa $ad (ACKs).
linux_loss() {
	ip netns exec "$da" nft delete table inet wbloss 2>/dev/null
	ip netns exec "$aa" nft delete table inet wbloss 2>/dev/null
	nft_loss "$da" "$dd" "$1" && nft_loss "$aa" "$ad" "$1"
}
# nft_count SCENARIO RATE NS DIR: appends the run's counters (packets seen; packets and bytes
# dropped) to $drops, for the check printed after the table.
nft_count() {
	local c
	c=$(ip netns exec "$3" nft list table inet wbloss 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) bytes \([0-9]*\).*/\1 \2/p' | tr '\n' ' ')
	[ -n "$c" ] && echo -e "$1\t$2\t$4\t$c" >>"$drops"
}

start_utc=$(date -u '+%Y-%m-%d %H:%M UTC')
pinning="receiver on CPU ${cpus%%,*}, sender on CPU ${cpus##*,}"
[ ${#RX[@]} -gt 0 ] || pinning="not pinned"
pinning="$pinning; Linux's loss dropped on $ldrop"
echo "bench-loss: $start_utc, $(nproc) CPUs shared by both ends ($pinning), one bulk flow," \
	"$reps x ${duration}s per figure" | tee -a "$log"
# Repetitions outermost: each pass runs every rate once, so a median at any rate draws from the
# whole run, as does its 0% figure. The machine's load drifts over minutes (shared, 2 CPUs), and
# with the rates run one after another a drop compared runs minutes apart: Linux showed drops
# above 1 (faster at 1% loss than at 0%) in two runs of 17:40 and 17:47 UTC.
for rep in $(seq 1 "$reps"); do
	echo "== pass $rep of $reps"
	for rate in $rates; do
		p=$(awk -v r="$rate" 'BEGIN { printf "%.6f", r / 100 }')
		milli=$(awk -v r="$rate" 'BEGIN { printf "%d", r * 1000 }') # per 100,000
		echo "   loss $rate%"
		# weir over TAP, the wrapper on weir's device.
		ns=wbl-tap-$$
		mkns $ns
		ip -n $ns tuntap add dev wbtap0 mode tap
		ip -n $ns addr add 192.0.2.1/24 dev wbtap0
		ip -n $ns link set wbtap0 up
		# WEIR_BENCH_FLOWSTATS: weir's flow counters (timeouts, recoveries, probes, ACKs sent
		# again) go to OUT/loss.log with each run.
		if start_server $ns "$out/loss-wsrv.out" env WEIR_BENCH_FLOWSTATS=1 "${RX[@]}" \
			"$bench" server --netdev tap:wbtap0,offload=0 --ip 192.0.2.2/24 \
			--impair "loss=$p,seed=1"; then
			bulk weir-recv "$rate" ip netns exec $ns "${TX[@]}" "$bench" client --kernel \
				--peer 192.0.2.2
			bulk weir-recv-cubic "$rate" ip netns exec $ns env WEIR_BENCH_KERNEL_CC=cubic \
				"${TX[@]}" "$bench" client --kernel --peer 192.0.2.2
			stop_srv
		fi
		if start_server $ns "$out/loss-ksrv.out" "${RX[@]}" "$bench" server --kernel \
			--bind 192.0.2.1; then
			bulk weir-send "$rate" ip netns exec $ns env WEIR_BENCH_FLOWSTATS=1 \
				"${TX[@]}" "$bench" client \
				--netdev tap:wbtap0,offload=0 --ip 192.0.2.2/24 --peer 192.0.2.1 \
				--impair "loss=$p,seed=2"
			stop_srv
		fi
		ip netns del $ns
		NSS=()
		# Linux over veth, nftables loss as each side receives (nft_loss).
		a=wbl-a-$$ b=wbl-b-$$
		mkns $a && mkns $b
		ip -n $a link add wbva type veth peer name wbvb netns $b
		ip -n $a addr add 192.0.2.11/24 dev wbva
		ip -n $b addr add 192.0.2.12/24 dev wbvb
		ip -n $a link set wbva up
		ip -n $b link set wbvb up
		# One packet per segment on arrival, as weir's frames over TAP (offload=0): gso off
		# makes the sending veth cut TCP's GSO packets into segments, gro off keeps the
		# receiving one from joining them again (nft_loss above).
		ip netns exec $a ethtool -K wbva tso off gso off gro off >/dev/null 2>>"$log"
		ip netns exec $b ethtool -K wbvb tso off gso off gro off >/dev/null 2>>"$log"
		# Data from $a arrives in $b on wbvb, ACKs from $b arrive in $a on wbva.
		da=$b dd=wbvb aa=$a ad=wbva
		[ "$ldrop" = output ] && da=$a dd=wbva aa=$b ad=wbvb
		# The kernel's default congestion control (BBR on some machines), then CUBIC,
		# loss-based like weir's (the sender's choice decides). Each run's drops are counted.
		for sc in linux linux-cubic; do
			cc=()
			[ $sc = linux-cubic ] && cc=(env WEIR_BENCH_KERNEL_CC=cubic)
			[ "$milli" -gt 0 ] && linux_loss "$milli"
			if start_server $b "$out/loss-lsrv.out" "${RX[@]}" "$bench" server --kernel \
				--bind 192.0.2.12; then
				bulk $sc "$rate" ip netns exec $a "${cc[@]}" "${TX[@]}" "$bench" client \
					--kernel --peer 192.0.2.12
				stop_srv
				if [ "$milli" -gt 0 ]; then
					nft_count $sc "$rate" $da data
					nft_count $sc "$rate" $aa acks
				fi
			fi
		done
		ip netns del $a
		ip netns del $b
		NSS=()
	done
done

# The table: medians, and each one's drop against its own 0%.
py=$(command -v /usr/bin/python3 || command -v python3)
"$py" - "$raw" "$out" "$start_utc" "$duration" "$reps" \
	"$(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null)" "$pinning" "$drops" <<'PY' | tee "$out/loss.txt"
import json, statistics, sys
raw, out, when, dur, reps, cc, pinning, dropsf = sys.argv[1:9]
rows = {}
for line in open(raw):
    sc, rate, _, g = line.rstrip("\n").split("\t")
    if g != "fail":
        rows.setdefault(sc, {}).setdefault(float(rate), []).append(float(g))
scen = ["weir-recv", "weir-recv-cubic", "weir-send", "linux", "linux-cubic"]
rates = sorted({r for sc in rows.values() for r in sc})
med = {sc: {r: statistics.median(v) for r, v in rows.get(sc, {}).items()} for sc in scen}
print("bench-loss: %s; one bulk flow, %s x %s s, median Gbit/s (drop = at loss / at 0%%); %s"
      % (when, reps, dur, pinning))
print("linux: the kernel's default congestion control (%s); linux-cubic: CUBIC" % cc)
print("%-8s" % "loss %" + "".join("%24s" % s for s in scen))
for r in rates:
    cells = []
    for sc in scen:
        g, z = med[sc].get(r), med[sc].get(0.0)
        if g is None:
            cells.append("%24s" % "-")
        else:
            cells.append("%24s" % ("%.3f (%.2f)" % (g, g / z) if z else "%.3f" % g))
    print("%-8s" % r + "".join(cells))
print("spread of the runs (min-max Gbit/s): the machine's noise, beside the drops")
for r in rates:
    print("%-8s" % r + "".join("%24s" % ("%.2f-%.2f" % (min(rows[sc][r]), max(rows[sc][r]))
                                         if r in rows.get(sc, {}) else "-") for sc in scen))
# The check of the Linux columns' loss: what share of the packets arriving each way nftables
# dropped, and the mean size of a dropped data packet (a segment is at most 1,500 bytes of IP).
seen = {}
for line in open(dropsf):
    f = line.split()
    if len(f) < 7:
        continue
    sc, rate, way, n, _, nd, bd = f[:7]
    t = seen.setdefault((sc, float(rate), way), [0, 0, 0, 0])
    t[0] += int(n); t[1] += int(nd); t[2] += int(bd); t[3] += 1
if seen:
    print("linux columns, what nftables dropped (all runs): share of data packets,"
          " mean bytes per dropped data packet, share of ACKs")
    worst = 0
    for sc in ("linux", "linux-cubic"):
        for r in rates:
            d, a = seen.get((sc, r, "data")), seen.get((sc, r, "acks"))
            if not d or not a:
                continue
            mean = d[2] / d[1] if d[1] else 0
            worst = max(worst, mean)
            print("  %-12s %-6s data %.2f%% (%d of %d), %.0f B; acks %.2f%% (%d of %d)"
                  % (sc, r, 100 * d[1] / max(d[0], 1), d[1], d[0], mean,
                     100 * a[1] / max(a[0], 1), a[1], a[0]))
    if worst > 1600:
        print("WARNING: dropped data packets averaged %.0f bytes: more than one segment each,"
              " so the Linux columns did not get per-segment loss and do not compare" % worst)
# A run at a loss rate without counters may have run without its rules (nft failed).
for sc in ("linux", "linux-cubic"):
    for r in rates:
        runs = len(rows.get(sc, {}).get(r, []))
        counted = min(seen.get((sc, r, w), [0, 0, 0, 0])[3] for w in ("data", "acks"))
        if r > 0 and counted < runs:
            print("WARNING: %s at %s%%: %d of %d runs have no loss counters; their rules may not"
                  " have been made, and the figure may include runs without loss"
                  % (sc, r, runs - counted, runs))
json.dump({"when": when, "pinning": pinning, "median_gbit_s": {sc: {str(r): g for r, g in m.items()} for sc, m in med.items()},
           "runs_gbit_s": {sc: {str(r): v for r, v in m.items()} for sc, m in rows.items()}},
          open(out + "/loss.json", "w"), indent=1)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for sc in scen:
        z = med[sc].get(0.0)
        xs = [r for r in rates if r in med[sc] and z]
        ax.plot(xs, [med[sc][r] / z for r in xs], marker="o", label=sc)
    ax.set_xlabel("random loss, % of packets each way")
    ax.set_ylabel("goodput / goodput at 0%")
    ax.set_title("one bulk flow under loss (" + when + ")")
    ax.grid(True)
    ax.legend()
    fig.savefig(out + "/loss.png", dpi=100, bbox_inches="tight")
    print("chart: " + out + "/loss.png")
except ImportError:
    print("(no chart: matplotlib does not import under " + sys.executable + ")")
PY

#!/usr/bin/env bash
# bench-qemu.sh - figures for the bare-metal images in QEMU, next to Linux doing the same work in
# the same run: 64-byte echo round trips (weir-bench rr) and bulk into discard (weir-bench bulk),
# from a Linux client over TAP to each image (MPS2 AN386: Cortex-M4, LAN9118; virt-aarch64:
# Cortex-A53, virtio-net with offloads), and from the same client over a veth pair to a Linux
# server (weir-bench server --kernel) in another namespace.
#
#   tools/bench-qemu.sh [--duration S] [--build DIR] [--boards mps2-an386,virt-aarch64]
#
# Prints figures; asserts nothing. QEMU emulates each CPU instruction by instruction (TCG, no KVM
# here), so an image's figures say what the emulator sustains, not what a board or a KVM guest
# would; and the Linux peer, QEMU and the client share this machine's cores.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dur=5
build=$top/build
boards=mps2-an386,virt-aarch64
while [ $# -gt 0 ]; do
	case $1 in
	--duration) dur=${2:?}; shift ;;
	--build) build=${2:?}; shift ;;
	--boards) boards=${2:?}; shift ;;
	-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-qemu: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "bench-qemu: run as root (namespaces, TAP)" >&2; exit 1; }
tmp=$(mktemp -d)
tag=$$
nq=weir-bq-$tag nc=weir-bc-$tag ns=weir-bs-$tag
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in "$nq" "$nc" "$ns"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

IFS=, read -r -a board_list <<<"$boards"
for b in "${board_list[@]}"; do
	"$top/tools/run-qemu.sh" --board "$b" --build "$build/image-$b" --build-only >"$tmp/build-$b.out"
	head -1 "$tmp/build-$b.out"
done
cmake -S "$top" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target weir-bench >/dev/null
wb=$build/tools/weir-bench/weir-bench

# Linux to Linux over veth: client 192.0.2.1, server 192.0.2.3.
ip netns add "$nc"
ip netns add "$ns"
ip -n "$nc" link set lo up
ip -n "$ns" link set lo up
ip link add "wbc$tag" netns "$nc" type veth peer name "wbs$tag" netns "$ns"
ip -n "$nc" addr add 192.0.2.1/24 dev "wbc$tag"
ip -n "$ns" addr add 192.0.2.3/24 dev "wbs$tag"
ip -n "$nc" link set "wbc$tag" up
ip -n "$ns" link set "wbs$tag" up
ip netns exec "$ns" "$wb" server --kernel --bind 192.0.2.3 --port 9 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5

# run NS PEER PORT TEST: one weir-bench client run, its result line.
run() {
	ip netns exec "$1" timeout $((dur + 30)) "$wb" client --kernel --peer "$2" --port "$3" \
		--test "$4" --duration "$dur" 2>/dev/null | grep '^result' || echo "result failed"
}
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# One image at a time on a TAP device: Linux 192.0.2.1, the image 192.0.2.2.
declare -A img_rr img_bulk img_stats
for b in "${board_list[@]}"; do
	ip netns add "$nq"
	ip -n "$nq" link set lo up
	ip -n "$nq" tuntap add dev weir0 mode tap
	ip -n "$nq" addr add 192.0.2.1/24 dev weir0
	ip -n "$nq" link set weir0 up
	rm -f "$tmp/uart.in"
	mkfifo "$tmp/uart.in"
	ip netns exec "$nq" "$top/tools/run-qemu.sh" --board "$b" --build "$build/image-$b" \
		--tap weir0 <"$tmp/uart.in" >"$tmp/uart-$b.log" 2>&1 &
	qpid=$!
	pids+=("$qpid")
	exec 7>"$tmp/uart.in"
	for _ in $(seq 1 300); do grep -q '^ready' "$tmp/uart-$b.log" && break; sleep 0.1; done
	grep -q '^ready' "$tmp/uart-$b.log" || { cat "$tmp/uart-$b.log" >&2; exit 1; }
	img_rr[$b]=$(run "$nq" 192.0.2.2 6 rr)     # the image echoes on 7 (= 6 + 1)
	img_bulk[$b]=$(run "$nq" 192.0.2.2 9 bulk) # and discards on 9
	printf s >&7
	sleep 0.5
	img_stats[$b]=$(grep '^stats:' "$tmp/uart-$b.log" | tail -1 | tr -d '\r')
	exec 7>&-
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	ip netns del "$nq"
done
lin_rr=$(run "$nc" 192.0.2.3 9 rr)     # weir-bench server: discard 9, echo 10
lin_bulk=$(run "$nc" 192.0.2.3 9 bulk)

echo "bench-qemu: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), ${dur} s per figure"
row() {
	printf '%-40s %14s %12s %12s %12s\n' "$1" \
		"$(awk -v g="$(val "$3" gbit_s)" 'BEGIN { if (g == "") print "-"; else printf "%.1f", g * 1000 }')" \
		"$(val "$2" mean_us)" "$(val "$2" p50_us)" "$(val "$2" p99_us)"
}
printf '%-40s %14s %12s %12s %12s\n' "" "bulk Mbit/s" "rr mean us" "rr p50 us" "rr p99 us"
for b in "${board_list[@]}"; do
	case $b in
	mps2-an386) what="weir image, QEMU mps2-an386 (M4), TAP" ;;
	virt-aarch64) what="weir image, QEMU virt (A53), virtio-net" ;;
	*) what="weir image, $b" ;;
	esac
	row "$what" "${img_rr[$b]}" "${img_bulk[$b]}"
done
row "Linux kernel, veth (same client)" "$lin_rr" "$lin_bulk"
for b in "${board_list[@]}"; do echo "$b counters after the run: ${img_stats[$b]}"; done

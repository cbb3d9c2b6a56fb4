#!/usr/bin/env bash
# tap_tso.sh - weir's TCP super-frames (TSO over TAP) against Linux in private namespaces.
#  1. WEIR_TSO_MIB (default 64) MiB each way through weir's echo, with 1% of the TCP packets
#     weir sends dropped at random as Linux receives them (nftables numgen in an input chain:
#     this kernel has no netem), byte-exact. A dropped super-frame loses many segments at once;
#     weir must resend the part that was lost, in super-frames again. Nothing is dropped on
#     Linux's output: Linux TCP takes a drop there for a local send error and sends the data
#     later, without a loss to repair (tools/bench-loss.sh, nft_loss), so such a rule tested
#     nothing of weir's. Loss into weir is tap_impair.sh's (the wrapper strips TSO, so not here).
#  2. A peer whose route advertises MSS 536: weir's super-frames reach it through a Linux router
#     that cuts them in software (the router's veth has segmentation offload off), and a
#     capture at the peer sees every segment weir sent carry at most 536 bytes.
# Both parts check from the appliance's stop line that weir did send super-frames.
# usage: tap_tso.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
mib=${WEIR_TSO_MIB:-64}
need_root_tap
command -v socat >/dev/null || skip "socat is not installed"
command -v nft >/dev/null || skip "nftables (nft) is not installed"
command -v tshark >/dev/null || skip "tshark is not installed"
command -v ethtool >/dev/null || skip "ethtool is not installed"

make_ns weir-tap-tso
peer_ns=""
tmp=$(mktemp -d)
trap 'cleanup; [ -n "$peer_ns" ] && ip netns del "$peer_ns" 2>/dev/null; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; }
add_tap

# start [ARGS...]: the appliance on weir0 with an echo service; sets PID.
start() {
	ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --mac 02:00:5e:00:53:02 \
		--serve echo:7 "$@" >"$tmp/out" 2>"$tmp/log" &
	PID=$!
	WEIR_PIDS+=("$PID")
	wait_ready "$tmp/out" "$PID"
}
# stop: SIGTERM, exit status 0, sets STOPLINE and TSO (super-frames weir sent).
stop() {
	local rc
	kill -TERM "$PID"
	wait "$PID"
	rc=$?
	WEIR_PIDS=("${WEIR_PIDS[@]/$PID}")
	[ "$rc" = 0 ] || fail "SIGTERM: exit $rc: $(tail -3 "$tmp/log")"
	STOPLINE=$(grep 'stopped' "$tmp/log" | tail -1)
	TSO=$(echo "$STOPLINE" | sed -n 's/.*TSO frames \([0-9][0-9]*\).*/\1/p')
	[ -n "$TSO" ] || fail "no TSO count in the stop line: $(tail -3 "$tmp/log")"
}

# --- 1. 1% of weir's packets lost at random, 64 MiB each way, byte-exact -------------------------
nsx nft -f - <<'EOF'
table inet weirloss {
	chain in {
		type filter hook input priority 0;
		iifname "weir0" meta l4proto tcp numgen random mod 1000 < 10 counter drop
	}
}
EOF
start || { fail "appliance not ready: $(tail -3 "$tmp/log")"; finish; exit; }
head -c $((mib << 20)) /dev/urandom >"$tmp/r"
t0=$(date +%s%N)
nsx socat -b65536 -T30 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if cmp -s "$tmp/r" "$tmp/r.out"; then pass "$mib MiB each way, 1% of weir's packets lost, byte-exact in $ms ms"
else fail "echo through loss differs: $(stat -c %s "$tmp/r.out") of $((mib << 20)) bytes back; $(cat "$tmp/socat.err")"; fi
drops=$(nsx nft list table inet weirloss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
if [ "${drops:-0}" -gt 0 ]; then pass "Linux dropped $drops packets from weir"
else fail "the loss rule dropped nothing: '$drops'"; fi
stop
if [ "${TSO:-0}" -gt 0 ]; then pass "weir sent $TSO super-frames for Linux to cut"
else fail "weir sent no super-frames: $STOPLINE"; fi
nsx nft delete table inet weirloss
rm -f "$tmp/r" "$tmp/r.out"

# --- 2. a peer with MSS 536 behind a Linux router ---------------------------------------------
# weir (192.0.2.2) - TAP - router namespace (192.0.2.1, 198.51.100.1) - veth - peer (198.51.100.2).
# Segmentation offload off on the router's veth: Linux cuts every super-frame it forwards there
# by its segment size (the MSS weir put in it), so the capture at the peer shows weir's segments.
peer_ns="weir-tap-tso-peer-$$"
ip netns add "$peer_ns"
ip -n "$peer_ns" link set lo up
ip -n "$WEIR_NS" link add vr type veth peer name vp netns "$peer_ns"
nsx ethtool -K vr tso off gso off >/dev/null
ip -n "$WEIR_NS" addr add 198.51.100.1/24 dev vr
ip -n "$WEIR_NS" link set vr up
nsx sysctl -qw net.ipv4.ip_forward=1
ip -n "$peer_ns" addr add 198.51.100.2/24 dev vp
ip -n "$peer_ns" link set vp up
ip -n "$peer_ns" route add 192.0.2.0/24 via 198.51.100.1 advmss 536
start --gw 192.0.2.1 || { fail "appliance not ready: $(tail -3 "$tmp/log")"; finish; exit; }
ip netns exec "$peer_ns" tshark -n -q -i vp -s 128 -w "$tmp/cap.pcap" -f 'tcp port 7' \
	>/dev/null 2>"$tmp/tshark.err" &
cap=$!
WEIR_PIDS+=("$cap")
wait_capturing "$tmp/cap.pcap" || fail "capture did not start: $(cat "$tmp/tshark.err")"
head -c $((4 << 20)) /dev/urandom >"$tmp/r"
ip netns exec "$peer_ns" socat -b65536 -T10 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" \
	2>"$tmp/socat.err"
if cmp -s "$tmp/r" "$tmp/r.out"; then pass "4 MiB echo to the MSS-536 peer byte-exact"
else fail "echo to the MSS-536 peer differs: $(stat -c %s "$tmp/r.out") bytes back; $(cat "$tmp/socat.err")"; fi
sleep 0.5
kill -INT "$cap"
wait "$cap"
WEIR_PIDS=("${WEIR_PIDS[@]/$cap}")
stop
if [ "${TSO:-0}" -gt 0 ]; then pass "weir sent $TSO super-frames to the MSS-536 peer"
else fail "weir sent no super-frames to the MSS-536 peer: $STOPLINE"; fi
# The segments weir sent (source port 7) that carry data: how many, and the largest.
read -r nseg maxlen < <(tshark -n -r "$tmp/cap.pcap" -Y 'tcp.srcport == 7 && tcp.len > 0' \
	-T fields -e tcp.len 2>/dev/null | awk '{ n++; if ($1 > m) m = $1 } END { print n + 0, m + 0 }')
if [ "$nseg" -ge $(((4 << 20) / 536)) ] && [ "$maxlen" -le 536 ] && [ "$maxlen" -gt 0 ]; then
	pass "the peer saw $nseg segments from weir, the largest $maxlen bytes (MSS 536)"
else fail "segments at the peer: $nseg, largest $maxlen bytes (want >= $(((4 << 20) / 536)), <= 536)"; fi
finish

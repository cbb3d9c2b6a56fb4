#!/usr/bin/env bash
# tap_offload.sh - TAP offload against Linux in a private namespace. By default weir takes TCP
# super-frames (up to 64 KiB) from Linux and takes the checksums Linux leaves unfinished as good;
# tap:IF,offload=0 gives plain frames, also on a device where an earlier process turned offload
# on (the setting outlives the process). Each run: a 16 MiB echo byte-exact, then the device
# counters from the appliance's stop line.
# usage: tap_offload.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
need_root_tap
command -v socat >/dev/null || skip "socat is not installed"

make_ns weir-tap-offload
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; }
add_tap
head -c $((16 << 20)) /dev/urandom >"$tmp/r"

# run SPEC: the appliance on SPEC, a 16 MiB echo, SIGTERM; sets STOPLINE.
run() {
	local spec=$1 pid rc
	STOPLINE=""
	# Not through nsx: a backgrounded function is a subshell, and $! must be the program.
	# One MAC for every run: Linux's neighbour entry stays right from one run to the next.
	ip netns exec "$WEIR_NS" "$app" --netdev "$spec" --ip 192.0.2.2/24 --mac 02:00:5e:00:53:02 \
		--serve echo:7 >"$tmp/out" 2>"$tmp/log" &
	pid=$!
	WEIR_PIDS+=("$pid")
	if ! wait_ready "$tmp/out" "$pid"; then fail "$spec: appliance not ready: $(tail -3 "$tmp/log")"; return; fi
	t0=$(date +%s%N)
	nsx socat -b65536 -T10 - TCP:192.0.2.2:7,shut-down <"$tmp/r" >"$tmp/r.out" 2>"$tmp/socat.err"
	t1=$(date +%s%N)
	if cmp -s "$tmp/r" "$tmp/r.out"; then pass "$spec: 16 MiB echo byte-exact in $(( (t1 - t0) / 1000000 )) ms"
	else fail "$spec: echo differs: $(stat -c %s "$tmp/r.out") bytes back; $(cat "$tmp/socat.err")"; fi
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	WEIR_PIDS=("${WEIR_PIDS[@]/$pid}")
	[ "$rc" = 0 ] || fail "$spec: SIGTERM: exit $rc: $(tail -3 "$tmp/log")"
	STOPLINE=$(grep 'stopped' "$tmp/log" | tail -1)
	[ -n "$STOPLINE" ] || fail "$spec: no stop line: $(tail -3 "$tmp/log")"
}
# counter NAME: the device counter NAME from the stop line ("super-frames 12").
counter() { echo "$STOPLINE" | sed -n "s/.*$1 \([0-9]*\).*/\1/p"; }

check() { # check SPEC WANT-OFFLOAD
	local super csum over
	super=$(counter super-frames)
	csum=$(counter 'checksums left by Linux')
	over=$(counter oversize)
	if [ "$2" = 1 ]; then
		if [ "${super:-0}" -gt 0 ] && [ "${csum:-0}" -gt 0 ] && [ "$over" = 0 ]; then
			pass "$1: $super super-frames and $csum checksums left by Linux, nothing oversize"
		else fail "$1: offload not used: super-frames '$super', checksums '$csum', oversize '$over'"; fi
	else
		if [ "$super" = 0 ] && [ "$csum" = 0 ] && [ "$over" = 0 ]; then
			pass "$1: plain frames only (no super-frames, nothing oversize)"
		else fail "$1: super-frames '$super', checksums '$csum', oversize '$over'"; fi
	fi
}

run tap:weir0
check tap:weir0 1
# The device still has offload on from the run before: offload=0 must take it back.
run tap:weir0,offload=0
check tap:weir0,offload=0 0
run tap:weir0,offload=1
check tap:weir0,offload=1 1
# A bad option is refused with a clear message, nothing started.
if out=$(nsx "$app" --netdev tap:weir0,offload=2 --ip 192.0.2.2/24 --serve echo:7 2>&1); then
	fail "tap:weir0,offload=2 was accepted"
elif echo "$out" | grep -q 'offload=0 or offload=1'; then pass "tap:weir0,offload=2 refused: $(echo "$out" | tail -1)"
else fail "tap:weir0,offload=2: unclear error: $out"; fi
finish

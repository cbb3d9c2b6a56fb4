#!/usr/bin/env bash
# virt_offload.sh - the virt-aarch64 image's virtio-net offloads, both ways round: booted on a
# device that offers checksum offload and TSO, it prints what it negotiated and an 8 MiB echo
# moves the offload counters (frames in with NEEDS_CSUM, out with the checksum left to the
# device, TSO super-frames); booted on one that offers none (csum=off,guest_csum=off on QEMU's
# -device), it takes none, the same echo is byte-exact, and every offload counter stays 0.
# usage: virt_offload.sh SOURCE_DIR IMAGE_BUILD_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/lib_qemu.sh"
top=$1 build=$2 board=virt-aarch64
need_qemu
command -v socat >/dev/null || skip "socat is not installed"
tmp=$(mktemp -d)
make_ns weir-vof
trap 'cleanup; rm -rf "$tmp"' EXIT
add_tap
nsx() { ip netns exec "$WEIR_NS" "$@"; }
img=192.0.2.2
head -c 8388608 /dev/urandom >"$tmp/r8m"

# echo_8m WHAT: 8 MiB through echo, byte-exact or a failure.
echo_8m() {
	nsx socat -T20 - "TCP:$img:7,shut-down" <"$tmp/r8m" >"$tmp/r8m.out" 2>"$tmp/socat.err"
	if cmp -s "$tmp/r8m" "$tmp/r8m.out"; then pass "$1: 8 MiB echoed byte-exact"
	else fail "$1: $(stat -c %s "$tmp/r8m.out") bytes back, differing ($(cat "$tmp/socat.err"))"; fi
}

boot offloads
neg=$(grep -m1 '^virtio-net:' "$UART" | tr -d '\r')
echo "$neg"
taken=${neg##*taken: }
has() { case " $taken " in *" $1 "*) return 0 ;; esac; return 1; }
if has csum && has guest_csum && has host_tso4; then pass "offered offloads taken: $taken"
else fail "with offloads offered the image took: '$taken'"; fi
echo_8m "offloads on"
line=$(stats)
echo "counters: $line"
[ "$(field "$line" rx_csum_partial)" -gt 0 ] && [ "$(field "$line" tx_csum)" -gt 0 ] &&
	[ "$(field "$line" tx_super)" -gt 0 ] &&
	pass "offload path in use: rx_csum_partial $(field "$line" rx_csum_partial), tx_csum $(field "$line" tx_csum), tx_super $(field "$line" tx_super)" ||
	fail "offload counters did not move"
halt

boot plain --nic-opts csum=off,guest_csum=off
neg=$(grep -m1 '^virtio-net:' "$UART" | tr -d '\r')
echo "$neg"
taken=${neg##*taken: }
if has csum || has guest_csum || has host_tso4; then
	fail "the device offered no checksum offload, yet the image took: '$taken'"
else pass "no checksum offload offered, none taken (nor TSO, which needs it): $taken"; fi
echo_8m "offloads off"
line=$(stats)
echo "counters: $line"
[ "$(field "$line" rx_csum_partial)" = 0 ] && [ "$(field "$line" rx_csum_valid)" = 0 ] &&
	[ "$(field "$line" tx_csum)" = 0 ] && [ "$(field "$line" tx_super)" = 0 ] &&
	[ "$(field "$line" rx)" -gt 5000 ] &&
	pass "plain path: every checksum computed and checked in software, no offload counted ($(field "$line" rx) frames in)" ||
	fail "plain path counters: $line"
halt
finish

#!/usr/bin/env bash
# dpdk_errors.sh - bad DPDK setups end weir-appliance with exit 2 and one line on stderr (nothing
# on stdout: not DPDK's usage text), and leave nothing in /var/run/dpdk: an unknown EAL argument,
# no port at all, a port number past the last port, a malformed weir key, a pool too small for the
# ring, and (where the machine has no hugepages) an EAL that wants hugepages.
# usage: dpdk_errors.sh PATH/TO/weir-appliance
set -u
here=$(dirname "$0")
. "$here/../lib.sh"
. "$here/dpdk_lib.sh"
app=$1
need_dpdk null

before=$(dpdk_runtime_snapshot)
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

# expect SPEC PATTERN: exit 2, exactly one stderr line matching PATTERN, empty stdout.
expect() {
	local spec=$1 pat=$2 rc
	timeout 20 "$app" --netdev "dpdk:$spec" --ip 192.0.2.2/24 --serve echo:7 \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "$pat" "$tmp/err" &&
	   [ ! -s "$tmp/out" ]; then
		pass "'$spec': exit 2, $(cat "$tmp/err")"
	else
		fail "'$spec': exit $rc (want 2), stdout $(wc -c <"$tmp/out") bytes, stderr: $(head -c 600 "$tmp/err")"
	fi
}

expect "--no-huge --no-pci --bogus-option" "EAL initialisation failed"
expect "$DPDK_EAL" "no DPDK port 0 (0 ports"
expect "$DPDK_EAL --vdev=net_null0,port=3" "no DPDK port 3 (1 port;"
expect "$DPDK_EAL --vdev=net_null0,port=x" "'port' needs a number"
expect "$DPDK_EAL --vdev=net_null0,mbufs=100" "cannot even fill the RX ring"
if [ "$(awk '/HugePages_Total/ { print $2 }' /proc/meminfo)" = 0 ]; then
	expect "--no-pci -m 64" "hugepage"
fi
left=$(dpdk_runtime_new "$before")
if [ -z "$left" ]; then pass "nothing left in /var/run/dpdk"
else fail "left in /var/run/dpdk: $left"; fi
finish

#!/usr/bin/env bash
# appliance_args.sh - bad arguments give one line on stderr and exit 2; --help exits 0.
# usage: appliance_args.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1

expect2() {
	local what=$1; shift
	local err rc
	err=$("$app" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [ -n "$err" ]; then
		pass "$what: exit 2: $err"
	else
		fail "$what: exit $rc, stderr: $err"
	fi
}
expect2 "no arguments"
expect2 "unknown flag" --netdev tap:x --ip 192.0.2.2/24 --bogus
expect2 "missing --ip" --netdev tap:x
expect2 "missing --netdev" --ip 192.0.2.2/24
expect2 "bad address" --netdev tap:x --ip 192.0.2.300/24
expect2 "bad prefix" --netdev tap:x --ip 192.0.2.2/33
expect2 "bad gateway" --netdev tap:x --ip 192.0.2.2/24 --gw nowhere
expect2 "bad mac" --netdev tap:x --ip 192.0.2.2/24 --mac 01:00:5e:00:53:02
expect2 "bad mtu" --netdev tap:x --ip 192.0.2.2/24 --mtu 99999
expect2 "bad netdev kind" --netdev eth:x --ip 192.0.2.2/24
expect2 "bad log level" --netdev tap:x --ip 192.0.2.2/24 --log-level loud
expect2 "stray argument" --netdev tap:x --ip 192.0.2.2/24 extra
expect2 "interface name too long" --netdev tap:abcdefghijklmnopq --ip 192.0.2.2/24

out=$("$app" --help 2>&1)
rc=$?
if [ "$rc" = 0 ] && echo "$out" | grep -q -- '--netdev'; then pass "--help exits 0 and documents --netdev"
else fail "--help: exit $rc"; fi
finish

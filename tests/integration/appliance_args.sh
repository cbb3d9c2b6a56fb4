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

expect2 "unknown service kind" --netdev tap:x --ip 192.0.2.2/24 --serve gopher:70
expect2 "http dir missing" --netdev tap:x --ip 192.0.2.2/24 --serve http:80:/nonexistent/dir
expect2 "proxy bad backend port" --netdev tap:x --ip 192.0.2.2/24 --serve proxy:80=192.0.2.1:99999
expect2 "proxy backend neither address nor name" --netdev tap:x --ip 192.0.2.2/24 --serve proxy:80=back_end!:80
expect2 "proxy backend 0.0.0.0" --netdev tap:x --ip 192.0.2.2/24 --serve proxy:80=0.0.0.0:80
expect2 "proxy backend label starts with -" --netdev tap:x --ip 192.0.2.2/24 --serve proxy:80=-x.test:80
expect2 "same port twice" --netdev tap:x --ip 192.0.2.2/24 --serve echo:7 --serve discard:7
expect2 "max-connections zero" --netdev tap:x --ip 192.0.2.2/24 --max-connections 0
expect2 "max-connections too big" --netdev tap:x --ip 192.0.2.2/24 --max-connections 4000001
expect2 "max-time-wait not a number" --netdev tap:x --ip 192.0.2.2/24 --max-time-wait many
expect2 "service-max-connections zero" --netdev tap:x --ip 192.0.2.2/24 --service-max-connections 0
expect2 "keepalive incomplete" --netdev tap:x --ip 192.0.2.2/24 --keepalive 1000,500
expect2 "drain-timeout not a number" --netdev tap:x --ip 192.0.2.2/24 --drain-timeout soon
expect2 "config file missing" --config /nonexistent/weir.conf
expect2 "ip and dhcp together" --netdev tap:x --ip 192.0.2.2/24 --dhcp
expect2 "dns not an address" --netdev tap:x --ip 192.0.2.2/24 --dns resolver
expect2 "shards zero" --netdev tap:x --ip 192.0.2.2/24 --shards 0
expect2 "shards too many" --netdev tap:x --ip 192.0.2.2/24 --shards 65
expect2 "shards with dhcp" --netdev tap:x --dhcp --shards 2
expect2 "cpus not a list" --netdev tap:x --ip 192.0.2.2/24 --shards 2 --cpus 0,x
expect2 "cpus range backwards" --netdev tap:x --ip 192.0.2.2/24 --shards 2 --cpus 3-1

tmpc=$(mktemp -d)
trap 'rm -rf "$tmpc"' EXIT
printf 'netdev = tap:x\nip = 192.0.2.2/24\ncolour = blue\n' >"$tmpc/unknown.conf"
expect2 "config: unknown option" --config "$tmpc/unknown.conf"
printf 'netdev = tap:x\n# a comment\nip = 192.0.2.2/24\nmtu = 99999\n' >"$tmpc/mtu.conf"
err=$("$app" --config "$tmpc/mtu.conf" 2>&1 >/dev/null)
if echo "$err" | grep -q "mtu.conf:4: mtu: '99999'"; then pass "config error names file, line and field: $err"
else fail "config error does not name file:line and field: $err"; fi
printf 'netdev = tap:x\nip =\n' >"$tmpc/empty.conf"
expect2 "config: option without a value" --config "$tmpc/empty.conf"

out=$("$app" --help 2>&1)
rc=$?
if [ "$rc" = 0 ] && echo "$out" | grep -q -- '--netdev'; then pass "--help exits 0 and documents --netdev"
else fail "--help: exit $rc"; fi
finish

#!/usr/bin/env bash
# tap_conns.sh - many connections at once to the appliance over TAP: WEIR_CONNS (default 5,000;
# tools/bench-conns.sh runs 50,000) idle echo connections from four source addresses in the
# namespace, 512 connecting at once (past the listen backlog: SYN cookies make most of them).
# While they are open: an HTTP request is answered; a flood of new connections past
# --max-connections is refused with RSTs and counted, and none of the established ones is lost;
# then a sample of them still echoes. Afterwards at least half the memory they took is given
# back, and the appliance serves again. Prints the
# appliance's memory per connection (not asserted: tools/bench-conns.sh compares it with Linux).
# usage: tap_conns.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
here=$(cd "$(dirname "$0")" && pwd)
need_root_tap
command -v curl >/dev/null || skip "curl is not installed"
N=${WEIR_CONNS:-5000}
FLOOD=300
LIMIT=$((N + 100))
ulimit -n $((N + FLOOD + 1024)) 2>/dev/null || skip "cannot raise the open-file limit to $((N + FLOOD + 1024))"

make_ns weir-tap-conns
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; } # foreground only (see tap_tcp.sh)
add_tap 192.0.2.10/24 192.0.2.11/24 192.0.2.12/24 192.0.2.13/24
SRC=192.0.2.10,192.0.2.11,192.0.2.12,192.0.2.13
mkdir -p "$tmp/www"
echo 'weir holds the line' >"$tmp/www/index.html"

ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve echo:7 \
	--serve http:80:"$tmp/www" --max-connections "$LIMIT" >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
pass "appliance ready, --max-connections $LIMIT"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss)

# 1. N idle connections, held until $tmp/go appears.
ip netns exec "$WEIR_NS" "$PY" "$here/conns_client.py" hold 192.0.2.2 7 "$N" --src "$SRC" \
	--go "$tmp/go" --sample 200 --inflight 512 >"$tmp/hold" 2>&1 &
hold=$!
WEIR_PIDS+=("$hold")
for _ in $(seq 1 1200); do
	grep -q '^connected' "$tmp/hold" && break
	kill -0 "$hold" 2>/dev/null || break
	sleep 0.1
done
line=$(grep '^connected' "$tmp/hold")
if [ "$(echo "$line" | awk '{ print $2 }')" = "$N" ]; then pass "$N idle connections: $line"
else fail "idle connections: ${line:-none} (wanted $N): $(tail -3 "$tmp/hold")"; fi
rss1=$(rss)
echo "appliance RSS: $rss0 KiB before, $rss1 KiB with $N connections:" \
	"$(( (rss1 - rss0) * 1024 / N )) bytes per connection"

# 2. A new HTTP request while they are open.
if body=$(nsx curl -sf -m 10 http://192.0.2.2/index.html) && [ "$body" = "weir holds the line" ]; then
	pass "HTTP answered with $N connections open"
else fail "HTTP request got no answer with $N connections open"; fi

# 3. A flood past the limit: refused with RSTs at once (no timeouts), counted by the stack.
flood=$(nsx "$PY" "$here/conns_client.py" flood 192.0.2.2 7 "$FLOOD" --src "$SRC" --timeout 10)
read -r _ fc _ fr _ ft _ ff <<<"$flood"
if [ "${fr:-0}" -gt 0 ] && [ "${ft:-1}" = 0 ] && [ "${ff:-1}" = 0 ] && [ "$((fc + fr))" = "$FLOOD" ] &&
	[ "$fc" -le 100 ]; then
	pass "flood of $FLOOD past the limit: $flood"
else fail "flood of $FLOOD past the limit: $flood (wanted some refused, none timed out, at most 100 in)"; fi
kill -USR1 "$pid"
for _ in $(seq 1 50); do grep -q 'tcp connections' "$tmp/log" && break; sleep 0.1; done
refused=$(grep -o 'tcp connections [0-9]* time-wait [0-9]* refused [0-9]*' "$tmp/log" | tail -1 | awk '{ print $7 }')
if [ -n "$refused" ] && [ "$refused" -ge "$fr" ]; then pass "the stack counted $refused refused"
else fail "stack's refused count '${refused:-none}', the client saw $fr refused"; fi

# 4. None of the established ones lost; a sample still echoes.
touch "$tmp/go"
wait "$hold"
rc=$?
line=$(grep '^alive' "$tmp/hold")
if [ "$rc" = 0 ]; then pass "after the flood: $line"
else fail "after the flood: ${line:-no report} $(tail -3 "$tmp/hold")"; fi

sleep 1 # the appliance's handlers finish and give their memory back
rss2=$(rss)
# Connections' memory goes back when they end (pools, fiber stacks): all but bounded caches.
# AddressSanitizer's allocator keeps freed memory in quarantine: no such check under it.
if ldd "$app" 2>/dev/null | grep -q libasan; then
	echo "memory given back: not checked under AddressSanitizer (RSS $rss1 -> $rss2 KiB)"
elif [ $((rss1 - rss2)) -ge $(((rss1 - rss0) / 2)) ]; then
	pass "memory given back after they closed: RSS $rss1 -> $rss2 KiB (grew by $((rss1 - rss0)) KiB)"
else fail "memory kept after they closed: RSS $rss1 -> $rss2 KiB (grew by $((rss1 - rss0)) KiB)"; fi

# 5. All closed: the appliance serves as before.
if body=$(nsx curl -sf -m 10 http://192.0.2.2/index.html) && [ "$body" = "weir holds the line" ]; then
	pass "HTTP answered after the connections closed"
else fail "HTTP after the connections closed: no answer"; fi
kill -0 "$pid" 2>/dev/null && pass "appliance still running" || fail "appliance died: $(tail -5 "$tmp/log")"
finish

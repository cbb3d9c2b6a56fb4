#!/usr/bin/env bash
# tap_http.sh - the appliance's static-file HTTP service against curl, ab and raw sockets over TAP
# in a private namespace: 10 MiB byte-exact (also to 4 clients at once, and again after the file
# changed: the file cache never serves it stale), HEAD, 404/405/400, no escape from the document root
# (.., %2e%2e, a symlink pointing out), pipelining, the 8 KiB head limit, keep-alive under ab -k.
# usage: tap_http.sh PATH/TO/weir-appliance
set -u
. "$(dirname "$0")/lib.sh"
app=$1
need_root_tap
for c in curl ab python3; do command -v $c >/dev/null || skip "$c is not installed"; done

make_ns weir-tap-http
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
nsx() { ip netns exec "$WEIR_NS" "$@"; } # foreground only (see tap_tcp.sh)
URL=http://192.0.2.2:8080

add_tap

# The document root, and next to it a file it must never serve (reached by .. or a symlink).
www=$tmp/www
mkdir -p "$www/sub" "$www/empty"
echo '<html><body>weir</body></html>' >"$www/index.html"
echo 'sub index' >"$www/sub/index.html"
echo 'secret' >"$tmp/secret.txt"
ln -s "$tmp/secret.txt" "$www/leak.txt"
head -c $((10 << 20)) /dev/urandom >"$www/big.bin"

ip netns exec "$WEIR_NS" "$app" --netdev tap:weir0 --ip 192.0.2.2/24 --serve http:8080:"$www" \
	--log-level debug >"$tmp/out" 2>"$tmp/log" &
pid=$!
WEIR_PIDS+=("$pid")
wait_ready "$tmp/out" "$pid" || { fail "appliance not ready: $(cat "$tmp/log")"; finish; exit; }
pass "appliance ready"

# status PATH [curl options]: the HTTP status curl got ("000" when it got none).
status() { local p=$1; shift; nsx curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" "$URL$p"; }

# raw MODE: a raw-socket client for what curl hides (bytes after the head, pipelining, limits).
# Prints one summary line; exits non-zero on a failed expectation.
raw() {
	nsx "$PY" - "$@" <<'PY'
import socket, sys

def responses(data, head_only=()):
    """Splits a byte stream into (status, headers, body) tuples, using Content-Length."""
    out, i = [], 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            raise SystemExit("truncated head: %r" % data[i:i + 80])
        lines = data[i:end].decode("latin-1").split("\r\n")
        hdr = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = 0 if len(out) in head_only else int(hdr["content-length"])
        out.append((int(lines[0].split()[1]), hdr, data[end + 4:end + 4 + n]))
        i = end + 4 + n
    return out

def exchange(req, half_close=True):
    """Sends req at once, half-closes, returns every byte until the server closes."""
    s = socket.create_connection(("192.0.2.2", 8080), timeout=10)
    s.sendall(req)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            return data
        data += b

mode = sys.argv[1]
if mode == "head":
    # HEAD: the length a GET would send, and no body bytes at all.
    r = exchange(b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    (st, hdr, _), = responses(r, head_only=(0,))
    extra = len(r) - r.find(b"\r\n\r\n") - 4
    if st != 200 or hdr.get("content-length") != "10485760" or extra != 0:
        raise SystemExit("HEAD: %d, length %s, %d bytes after the head" %
                         (st, hdr.get("content-length"), extra))
    print("HEAD: 200, Content-Length 10485760, no body")
elif mode == "pipeline":
    # Three requests in one segment, then FIN: three answers in order, then the server closes.
    r = exchange(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    got = [st for st, _, _ in responses(r, head_only=(1,))]
    if got != [200, 200, 404]:
        raise SystemExit("pipelined: got %s, wanted [200, 200, 404]" % got)
    print("3 pipelined requests then FIN: 200, 200, 404 in order, then closed")
elif mode == "toolong":
    # A head over 8 KiB: 400, Connection: close, and the server closes (no FIN from us).
    r = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n", False)
    (st, hdr, _), = responses(r)
    if st != 400 or hdr.get("connection") != "close":
        raise SystemExit("9 KiB head: %d, Connection: %s" % (st, hdr.get("connection")))
    print("9 KiB request head: 400 and closed")
elif mode == "http10":
    # HTTP/1.0 without keep-alive: one answer, then the server closes though we did not.
    r = exchange(b"GET /index.html HTTP/1.0\r\n\r\nGET /index.html HTTP/1.0\r\n\r\n", False)
    got = responses(r)
    if [st for st, _, _ in got] != [200] or got[0][1].get("connection") != "close":
        raise SystemExit("HTTP/1.0: %s" % [(st, h.get("connection")) for st, h, _ in got])
    print("HTTP/1.0: one answer with Connection: close, then closed")
elif mode == "nohost":
    (st, _, _), = responses(exchange(b"GET /index.html HTTP/1.1\r\n\r\n"))
    if st != 400:
        raise SystemExit("HTTP/1.1 without Host: %d" % st)
    print("HTTP/1.1 without Host: 400")
PY
}

# 1. A 10 MiB file byte-exact, and index.html with its type.
if nsx curl -sf -m 20 -o "$tmp/big.out" "$URL/big.bin" && cmp -s "$www/big.bin" "$tmp/big.out"; then
	pass "GET /big.bin: 10 MiB byte-exact"
else fail "GET /big.bin: $(stat -c %s "$tmp/big.out" 2>/dev/null) bytes, differs or failed"; fi
# Files of 64 KiB and more are sent from the appliance's file cache without a copy: four clients
# at once get the same bytes; a file changed in place (same size, same inode) or replaced (a new
# inode) is read again, never served stale.
cpids=()
for i in 1 2 3 4; do
	ip netns exec "$WEIR_NS" curl -sf -m 20 -o "$tmp/big.$i" "$URL/big.bin" &
	cpids+=($!)
done
wait "${cpids[@]}"
ok=1
for i in 1 2 3 4; do cmp -s "$www/big.bin" "$tmp/big.$i" || ok=0; done
if [ $ok = 1 ]; then pass "GET /big.bin by 4 clients at once: all byte-exact"
else fail "GET /big.bin by 4 clients at once: a copy differs"; fi
head -c $((10 << 20)) /dev/urandom >"$tmp/new.bin"
cat "$tmp/new.bin" >"$www/big.bin"
if nsx curl -sf -m 20 -o "$tmp/big.out" "$URL/big.bin" && cmp -s "$www/big.bin" "$tmp/big.out"; then
	pass "GET /big.bin after it changed in place: the new bytes"
else fail "GET /big.bin after it changed in place: stale or failed"; fi
head -c $((3 << 20)) /dev/urandom >"$tmp/new.bin"
mv "$tmp/new.bin" "$www/big.bin"
if nsx curl -sf -m 20 -o "$tmp/big.out" "$URL/big.bin" && cmp -s "$www/big.bin" "$tmp/big.out"; then
	pass "GET /big.bin after it was replaced (3 MiB now): the new bytes"
else fail "GET /big.bin after it was replaced: $(stat -c %s "$tmp/big.out" 2>/dev/null) bytes, stale or failed"; fi
head -c $((10 << 20)) /dev/urandom >"$www/big.bin"
ct=$(nsx curl -sf -m 10 -o "$tmp/index.out" -w '%{content_type}' "$URL/")
if cmp -s "$www/index.html" "$tmp/index.out" && [[ "$ct" == text/html* ]]; then
	pass "GET /: index.html, Content-Type $ct"
else fail "GET /: Content-Type '$ct', body $(head -c 80 "$tmp/index.out" 2>/dev/null)"; fi
if [ "$(nsx curl -sf -m 10 "$URL/sub/")" = "sub index" ] &&
	[ "$(status /empty/)" = 404 ]; then
	pass "directories: /sub/ serves its index.html, /empty/ (no index) is 404"
else fail "directories: /sub/ or /empty/ wrong"; fi

# 2. HEAD: curl's view, then the raw bytes (nothing after the head).
h=$(nsx curl -sI -m 10 "$URL/big.bin" | tr -d '\r')
if echo "$h" | grep -q '^HTTP/1.1 200' && echo "$h" | grep -qi '^content-length: 10485760$'; then
	pass "curl -I /big.bin: 200, Content-Length 10485760"
else fail "curl -I: $(echo "$h" | head -3 | tr '\n' ' ')"; fi
if out=$(raw head 2>&1); then pass "$out"; else fail "$out"; fi

# 3. Errors: 404, 405 with Allow, 400 without Host.
s=$(status /missing.html)
if [ "$s" = 404 ]; then pass "missing file: 404"; else fail "missing file: $s"; fi
h=$(nsx curl -s -m 10 -D - -o /dev/null -X POST "$URL/index.html" | tr -d '\r')
if echo "$h" | grep -q '^HTTP/1.1 405' && echo "$h" | grep -qi '^allow: GET, HEAD$'; then
	pass "POST: 405 with Allow: GET, HEAD"
else fail "POST: $(echo "$h" | head -1)"; fi
if out=$(raw nohost 2>&1); then pass "$out"; else fail "$out"; fi

# 4. Nothing outside the root: .., an encoded .., a symlink pointing out.
for p in /../secret.txt /../../../etc/passwd /%2e%2e/secret.txt /sub/%2E%2E%2f..%2fsecret.txt; do
	s=$(status "$p" --path-as-is)
	if [ "$s" != 200 ] && [ "$s" != 000 ]; then pass "escape $p refused: $s"
	else fail "escape $p: $s"; fi
done
s=$(status /leak.txt)
if [ "$s" = 404 ]; then pass "symlink to a file outside the root: 404"; else fail "symlink out: $s"; fi

# 5. Pipelining with a half-close, the 8 KiB head limit, HTTP/1.0 closing.
for m in pipeline toolong http10; do
	if out=$(raw $m 2>&1); then pass "$out"; else fail "$out"; fi
done

# 6. ab with keep-alive: 5000 requests over 50 connections, none failed.
nsx ab -k -n 5000 -c 50 -s 10 "$URL/index.html" >"$tmp/ab" 2>&1
if grep -q '^Complete requests: *5000$' "$tmp/ab" && grep -q '^Failed requests: *0$' "$tmp/ab" &&
	grep -q '^Keep-Alive requests: *5000$' "$tmp/ab"; then
	pass "ab -k -n 5000 -c 50: 5000 complete, 0 failed, all kept alive," \
		"$(awk '/^Requests per second/ { print $4 }' "$tmp/ab") requests/s"
else fail "ab: $(grep -E '^(Complete|Failed|Keep-Alive) requests|apr_' "$tmp/ab" | tr '\n' ' ')"; fi

# 7. A client that sends nothing is let go after the 10 s idle timeout (not held forever).
out=$(ip netns exec "$WEIR_NS" "$PY" "$(dirname "$0")/tcp_client.py" idle-until-closed 192.0.2.2 8080)
secs=${out%% *}
if awk -v s="$secs" 'BEGIN { exit !(s >= 9.5 && s <= 12.5) }'; then
	pass "idle connection closed by the server after $secs s (idle timeout 10 s)"
else fail "idle connection: $out (wanted a close after ~10 s)"; fi

# 8. Each request logged with its flow id; a clean exit; no sanitizer report.
if grep -Eq 'http: flow [0-9]+: GET /big.bin 200 10485760 B' "$tmp/log"; then
	pass "requests logged: $(grep -m1 'http: flow .*: GET /big.bin' "$tmp/log" | sed 's/.*http: //')"
else fail "no debug line for GET /big.bin in the log"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
WEIR_PIDS=("${WEIR_PIDS[@]/$pid}")
if [ "$rc" = 0 ]; then pass "SIGTERM: exit 0"; else fail "SIGTERM: exit $rc: $(tail -3 "$tmp/log")"; fi
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/log"; then
	fail "sanitizer report: $(grep -Em1 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/log")"
else pass "no sanitizer report in the appliance's log"; fi
finish

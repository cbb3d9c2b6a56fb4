# lib.sh - helpers for integration tests: namespaces, processes, cleanup (sourced by bash).
#
# Every test creates its own namespace (name carries the test's PID) and removes it, and the
# processes it started (by PID), on every exit path, failures included.

WEIR_NS=""
WEIR_PIDS=()
# The Python for test clients: Debian's own starts fast; a python3 found on PATH may be a shim that
# takes a second to start on a busy machine (tests must not race it).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
T_PASS=0
T_FAIL=0

skip() { echo "SKIP: $*"; exit 77; }
pass() { T_PASS=$((T_PASS + 1)); echo "ok: $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL: $*"; }

need_root_tap() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and TAP devices)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun on this machine"
	command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
}

cleanup() {
	local p
	for p in "${WEIR_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${WEIR_PIDS[@]}"; do
		# Give each process a moment to exit cleanly, then force it.
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	WEIR_PIDS=()
	[ -n "$WEIR_NS" ] && ip netns del "$WEIR_NS" 2>/dev/null
	WEIR_NS=""
}

# forget_pid PID: a process the test has waited for leaves WEIR_PIDS, so cleanup does not signal
# its PID, which may belong to another process by then.
forget_pid() {
	local p keep=()
	for p in "${WEIR_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	WEIR_PIDS=("${keep[@]}")
}

# make_ns NAME: a fresh namespace with loopback up and no route out.
make_ns() {
	WEIR_NS="$1-$$"
	trap cleanup EXIT
	ip netns add "$WEIR_NS" || { echo "cannot create namespace $WEIR_NS"; exit 1; }
	ip -n "$WEIR_NS" link set lo up
}

# add_tap [ADDR/PREFIX...]: TAP device weir0 in the namespace, Linux's side at 192.0.2.1/24 (plus
# any extra addresses given), up. weir is the other end of it.
add_tap() {
	local a
	ip -n "$WEIR_NS" tuntap add dev weir0 mode tap
	for a in 192.0.2.1/24 "$@"; do
		ip -n "$WEIR_NS" addr add "$a" dev weir0
	done
	ip -n "$WEIR_NS" link set weir0 up
}

# wait_ready FILE PID: wait until the appliance printed its ready line (or died).
wait_ready() {
	local out=$1 pid=$2
	for _ in $(seq 1 100); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# wait_established PORT [COUNT]: wait (up to 10 s) until COUNT (default 1) TCP connections to
# weir's PORT are established on the Linux side of the namespace.
wait_established() {
	local port=$1 want=${2:-1} n
	for _ in $(seq 1 200); do
		n=$(ip netns exec "$WEIR_NS" ss -Htn state established "( dport = :$port )" | grep -c .)
		[ "$n" -ge "$want" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_capturing FILE: wait (up to 10 s) until a capture started in the background has written its
# file header, i.e. it is capturing (tshark takes seconds to start on a busy machine).
wait_capturing() {
	for _ in $(seq 1 200); do
		[ -s "$1" ] && { sleep 0.2; return 0; }
		sleep 0.05
	done
	return 1
}

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# lib.sh - helpers for integration tests: namespaces, processes, cleanup (sourced by bash).
#
# Every test creates its own namespace (name carries the test's PID) and removes it, and the
# processes it started (by PID), on every exit path, failures included.

WEIR_NS=""
WEIR_PIDS=()
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

finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# lib_qemu.sh - booting the bare-metal image in QEMU for a test (sourced after
# tests/integration/lib.sh): the image on TAP device weir0 in the test's namespace, its UART in
# $tmp/NAME.uart, and input to the UART through a FIFO the test holds open.
# Needs: $top (the source tree), $build (the image's build directory), $tmp, and $board
# (mps2-an386 when unset).

# need_qemu: skip (with the reason) unless root, TAP, QEMU and the cross compiler are here.
need_qemu() {
	need_root_tap
	case ${board:=mps2-an386} in
	mps2-an386) qemu=qemu-system-arm cc=arm-none-eabi-gcc ;;
	virt-aarch64) qemu=qemu-system-aarch64 cc=aarch64-linux-gnu-gcc ;;
	*) fail "unknown board '$board'"; finish; exit 1 ;;
	esac
	command -v "$qemu" >/dev/null || skip "$qemu is not installed (tools/setup.sh: qemu-system-arm)"
	command -v "$cc" >/dev/null || skip "$cc is not installed (tools/setup.sh)"
}

# board_title: what the image's page and first log line call the board.
board_title() {
	case ${board:-mps2-an386} in
	mps2-an386) echo "MPS2 AN386" ;;
	virt-aarch64) echo "QEMU virt" ;;
	esac
}

QPID=""
# boot NAME [run-qemu.sh options]: boots the image and waits (60 s) for "ready"; fails the test
# and exits if it does not come.
boot() {
	local name=$1
	shift
	rm -f "$tmp/$name.in"
	mkfifo "$tmp/$name.in"
	ip netns exec "$WEIR_NS" "$top/tools/run-qemu.sh" --board "${board:-mps2-an386}" \
		--build "$build" --tap weir0 "$@" \
		<"$tmp/$name.in" >"$tmp/$name.uart" 2>&1 &
	QPID=$!
	WEIR_PIDS+=("$QPID")
	exec 7>"$tmp/$name.in"
	UART=$tmp/$name.uart
	for _ in $(seq 1 600); do
		grep -q '^ready' "$UART" 2>/dev/null && return 0
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$name: no 'ready' from the image: $(tail -5 "$UART")"
	finish
	exit 1
}

# halt: stops the image started by boot.
halt() {
	exec 7>&-
	kill "$QPID" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	# Gone and reaped: the test's cleanup must not signal its PID again (it may be reused).
	local keep=() p
	for p in "${WEIR_PIDS[@]}"; do [ "$p" = "$QPID" ] || keep+=("$p"); done
	WEIR_PIDS=("${keep[@]}")
	QPID=""
}

# stats: asks the image for its counters and prints the line (without its CR).
stats() {
	local before
	before=$(grep -c '^stats:' "$UART")
	printf s >&7
	for _ in $(seq 1 50); do
		[ "$(grep -c '^stats:' "$UART")" -gt "$before" ] && break
		sleep 0.1
	done
	grep '^stats:' "$UART" | tail -1 | tr -d '\r'
}

# field LINE NAME: the number after NAME in a stats line ("heap 776/49152": 776).
field() {
	echo "$1" | sed -E "s/.* $2 ([0-9]+).*/\1/"
}

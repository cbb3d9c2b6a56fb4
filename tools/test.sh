#!/usr/bin/env bash
# test.sh - set everything up and run the whole test suite: the tree check (format, includes), a
# plain build with warnings fatal, the same under AddressSanitizer + UndefinedBehaviorSanitizer
# (each: unit, layering, lwIP's own suites, integration over TAP and DPDK virtual devices, SYN
# flood, fault soak, misuse, install; the plain run also boots the bare-metal image in QEMU), the
# shards' tests under ThreadSanitizer, the libFuzzer harnesses for a bounded time, and the
# bare-metal portability build.
# Tests that need root (TAP, namespaces) skip with a message when not run as root.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/tools/setup.sh" || exit 1

jobs=$(nproc)
build_target= # run_suite builds everything unless this names one target
total_pass=0 total_fail=0 failed_runs=()

run_suite() { # name builddir cmake-args...
	local name=$1 dir=$2 out
	shift 2
	echo "=== $name: configure and build ($dir)"
	if ! cmake -S "$top" -B "$dir" -DWEIR_WERROR=ON -DWEIR_BUILD_TESTS=ON "$@" >"$dir.configure.log" 2>&1; then
		cat "$dir.configure.log"; failed_runs+=("$name: configure"); return
	fi
	if ! cmake --build "$dir" -j"$jobs" ${build_target:+--target "$build_target"} >"$dir.build.log" 2>&1; then
		grep -E "error|warning" -A3 "$dir.build.log" | head -60; failed_runs+=("$name: build"); return
	fi
	echo "=== $name: ctest ${ctest_args[*]}"
	out=$(cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1 \
		ctest --output-on-failure --timeout 300 "${ctest_args[@]}" 2>&1)
	local rc=$?
	echo "$out"
	local line p t
	line=$(echo "$out" | grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' | tail -1)
	t=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
	p=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/')
	if [ -n "$line" ]; then
		total_fail=$((total_fail + p))
		total_pass=$((total_pass + t - p))
	fi
	[ "$rc" = 0 ] || failed_runs+=("$name: tests")
}

echo "=== tree: format (clang-format) and include rules"
if "$top/tools/check-tree.sh"; then total_pass=$((total_pass + 1))
else total_fail=$((total_fail + 1)); failed_runs+=("tree: format or include rules (tools/check-tree.sh)"); fi

mkdir -p build
ctest_args=()
run_suite "plain" "$top/build"
# The bare-metal image does not change with the host's sanitizers: the plain run boots it.
ctest_args=(-LE baremetal)
run_suite "asan+ubsan" "$top/build-asan" -DWEIR_SANITIZE=ON
# ThreadSanitizer: the shards' tests (several stacks in one process, one per thread), and only
# those (label "shards"): the rest of weir runs one thread per stack.
ctest_args=(-L shards)
build_target=weir-unit
run_suite "tsan (shards)" "$top/build-tsan" -DWEIR_SANITIZE_THREAD=ON
build_target=

echo "=== fuzz: libFuzzer harnesses over the receive path (clang, ASan+UBSan), ~60 s each"
"$top/tools/fuzz.sh" --ci --build "$top/build-fuzz"
case $? in
0) total_pass=$((total_pass + 1)) ;;
77) echo "fuzz: skipped (clang's libFuzzer runtime is missing)" ;;
*) total_fail=$((total_fail + 1)); failed_runs+=("fuzz: a harness reported a problem (build-fuzz/fuzz-artifacts)") ;;
esac

echo "=== portability: arm-none-eabi (bare metal)"
if "$top/tools/cross-arm.sh" "$top/build-arm"; then total_pass=$((total_pass + 1))
else total_fail=$((total_fail + 1)); failed_runs+=("portability: arm-none-eabi build"); fi

echo
if [ "${#failed_runs[@]}" -gt 0 ]; then
	printf 'test.sh: FAILED: %s\n' "${failed_runs[@]}"
fi
echo "test.sh: $total_pass passed, $total_fail failed"
[ "${#failed_runs[@]}" -eq 0 ]

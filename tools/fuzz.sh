#!/bin/sh
# fuzz.sh - build weir's libFuzzer harnesses (clang, ASan+UBSan) and run them (docs/fuzzing.md).
#
#   tools/fuzz.sh --ci            replay the regression inputs, then fuzz each harness ~60 s;
#                                 fails on any crash, leak, timeout or sanitizer report
#   tools/fuzz.sh --hours N       fuzz each harness for N hours (both at once, one core each),
#                                 growing the corpus kept in BUILD/fuzz-corpus/work-<harness>;
#                                 crashes are collected, not fatal, until the end
#   tools/fuzz.sh --replay        run the seeds and regression inputs once through each harness
#   options: --build DIR (default build-fuzz)  --seconds S (per harness in --ci)
#            --harness NAME (fuzz-rx, fuzz-tcp or fuzz-dns; default all)  --no-build
#
# Exit status: 0 clean, 1 a harness reported a problem (artifacts in BUILD/fuzz-artifacts/),
# 2 bad usage, 77 clang or its libFuzzer runtime is missing (a skip for CTest).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build-fuzz"
mode=""
seconds=60
hours=""
harnesses="fuzz-rx fuzz-tcp fuzz-dns"
do_build=1
py=/usr/bin/python3
[ -x "$py" ] || py=python3

usage() {
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--ci) mode=ci ;;
	--replay) mode=replay ;;
	--hours) mode=hours; hours=${2:-}; shift ;;
	--seconds) seconds=${2:-}; shift ;;
	--build) build=${2:-}; shift ;;
	--harness) harnesses=${2:-}; shift ;;
	--no-build) do_build=0 ;;
	-h|--help) usage ;;
	*) echo "fuzz.sh: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
[ -n "$mode" ] || usage
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds wants a whole number" >&2; exit 2 ;; esac
if [ "$mode" = hours ]; then
	case "$hours" in ''|*[!0-9.]*) echo "fuzz.sh: --hours wants a number" >&2; exit 2 ;; esac
	seconds=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
fi
for h in $harnesses; do
	case "$h" in fuzz-rx|fuzz-tcp|fuzz-dns) ;; *) echo "fuzz.sh: no harness '$h'" >&2; exit 2 ;; esac
done

if [ "$do_build" = 1 ]; then
	cc=$(command -v clang || command -v clang-14 || true)
	if [ -z "$cc" ]; then
		echo "fuzz.sh: SKIP: clang is not installed (apt-get install clang)" >&2
		exit 77
	fi
	rt=$("$cc" -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)
	if [ ! -f "$rt" ] && ! ls "$(dirname "$rt")"/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
		echo "fuzz.sh: SKIP: clang's libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)" >&2
		exit 77
	fi
	mkdir -p "$build"
	# The hosted profile with two changes: no DPDK driver (not on the path fuzzed), and lwIP's
	# default 250 ms TCP timer instead of 20 ms, so that a virtual minute costs 240 timer steps
	# instead of 3000 (the same code runs; only the tick length differs).
	{
		grep -v '^CONFIG_WEIR_DRIVER_DPDK\|^CONFIG_LWIP_TCP_TMR_INTERVAL' \
			"$here/configs/hosted_defconfig"
		echo '# CONFIG_WEIR_DRIVER_DPDK is not set'
		echo 'CONFIG_LWIP_TCP_TMR_INTERVAL=250'
	} >"$build/fuzz_defconfig.new"
	if ! cmp -s "$build/fuzz_defconfig.new" "$build/fuzz_defconfig" 2>/dev/null; then
		mv "$build/fuzz_defconfig.new" "$build/fuzz_defconfig"
	else
		rm -f "$build/fuzz_defconfig.new"
	fi
	CC="$cc" cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_FUZZ=ON \
		-DWEIR_SANITIZE=ON -DWEIR_WERROR=ON -DWEIR_CONFIG="$build/fuzz_defconfig" >"$build/fuzz-configure.log" 2>&1 ||
		{ cat "$build/fuzz-configure.log" >&2; echo "fuzz.sh: configure failed" >&2; exit 1; }
	cmake --build "$build" -j2 --target $harnesses >"$build/fuzz-build.log" 2>&1 ||
		{ tail -40 "$build/fuzz-build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 1; }
fi
bindir="$build/tests/fuzz"
for h in $harnesses; do
	if [ ! -x "$bindir/$h" ]; then
		echo "fuzz.sh: SKIP: $bindir/$h not built (configure with CC=clang -DWEIR_FUZZ=ON)" >&2
		exit 77
	fi
done

corpus="$build/fuzz-corpus"
arts="$build/fuzz-artifacts"
rm -rf "$corpus/seed" "$corpus/regress"
"$py" "$here/tests/fuzz/gen_corpus.py" --out "$corpus/seed" >/dev/null
"$py" "$here/tests/fuzz/gen_corpus.py" --regress "$here/tests/fuzz/regress" --out "$corpus/regress" >/dev/null

# ASan: leaks are errors; UBSan: every report stops the run with a stack.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
common="-error_exitcode=1 -detect_leaks=1 -timeout=20 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1"
status=0

replay() { # harness
	sub=${1#fuzz-}
	dirs=""
	for d in "$corpus/seed/$sub" "$corpus/regress/$sub"; do
		[ -d "$d" ] && [ -n "$(ls -A "$d")" ] && dirs="$dirs $d"
	done
	mkdir -p "$arts/$1"
	# -runs=0: execute every input once, no mutation.
	if "$bindir/$1" $common -runs=0 -artifact_prefix="$arts/$1/" $dirs >"$build/$1-replay.log" 2>&1; then
		echo "$1: replayed $(grep -o 'Done [0-9]* runs' "$build/$1-replay.log" | head -1) (seeds and regressions): ok"
		return
	fi
	# libFuzzer stops at the first failure: run each input alone to name every failing one.
	echo "$1: REPLAY FAILED; failing inputs:"
	for d in $dirs; do
		for f in "$d"/*; do
			if ! "$bindir/$1" -error_exitcode=1 -detect_leaks=1 -timeout=20 -runs=1 "$f" >"$build/$1-replay-one.log" 2>&1; then
				why=$(grep -hE 'panic at|invariant broken|runtime error|^SUMMARY' "$build/$1-replay-one.log" | head -1)
				echo "  $f: $why"
			fi
		done
	done
	status=1
}

fuzz() { # harness seconds [extra libFuzzer flags]
	h=$1
	secs=$2
	shift 2
	sub=${h#fuzz-}
	work="$corpus/work-$sub"
	log="$build/$h-fuzz.log"
	mkdir -p "$work" "$arts/$h"
	before=$(ls "$arts/$h" | wc -l)
	if "$bindir/$h" $common "$@" -max_total_time="$secs" -artifact_prefix="$arts/$h/" "$work" \
		"$corpus/seed/$sub" >"$log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	set -- "$h" "$secs"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	# -fork mode prints no stat:: lines: take the last status line.
	[ -n "$execs" ] || execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	[ -n "$rate" ] || rate=$(echo "$last" | sed -n 's/.*exec\/s:\{0,1\} \([0-9]*\).*/\1/p')
	new_arts=$(( $(ls "$arts/$h" | wc -l) - before ))
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	echo "$1: ${2}s, ${execs:-?} executions, ${rate:-?} exec/s, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?} inputs (log: $log)"
	if [ "$rc" != 0 ] || [ "$new_arts" -gt 0 ] ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant broken|panic at' "$log"; then
		echo "$1: FAILED (exit $rc, $new_arts new artifact(s)); newest reproducers:"
		ls -t "$arts/$1"/ 2>/dev/null | head -"$(( new_arts > 0 ? new_arts : 1 ))" | sed "s|^|  $arts/$1/|"
		grep -E 'ERROR|SUMMARY|invariant|runtime error|panic at' "$log" | head -5
		status=1
	fi
}

case "$mode" in
replay)
	for h in $harnesses; do replay "$h"; done
	;;
ci)
	for h in $harnesses; do replay "$h"; done
	for h in $harnesses; do fuzz "$h" "$seconds"; done
	;;
hours)
	echo "fuzz.sh: fuzzing $harnesses for $hours h each, in parallel; corpora in $corpus/work-*"
	pids=""
	# -fork with -ignore_*: one crash (say a known, still open one) does not end a long run;
	# every crash, leak, timeout and OOM is still written to the artifacts and fails the run.
	for h in $harnesses; do
		fuzz "$h" "$seconds" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
			>"$build/$h-summary.txt" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || true; done
	for h in $harnesses; do
		cat "$build/$h-summary.txt"
		grep -q FAILED "$build/$h-summary.txt" && status=1
	done
	;;
esac
exit $status

#!/bin/bash
# smoke.sh - weir-bench completes each workload over the link driver and prints its figures.
# Asserts that a result line with the workload's fields appears, never what the figures are.
bench=${1:?usage: smoke.sh PATH/TO/weir-bench}
fail=0
check() {
	local want=$1; shift
	local out
	out=$(timeout 60 "$bench" link "$@" 2>&1)
	local rc=$?
	echo "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL: weir-bench link $* exited $rc"; fail=1; return
	fi
	if ! grep -Eq "^result .*$want" <<<"$out"; then
		echo "FAIL: weir-bench link $* printed no '$want' figure"; fail=1; return
	fi
	echo "ok: weir-bench link $*"
}
check 'gbit_s=[0-9.]+' --test bulk --duration 0.5
check 'gbit_s=[0-9.]+' --test bulk --flows 8 --duration 0.5
check 'p999_us=[0-9.]+' --test rr --duration 0.5
check 'conn_s=[0-9]+' --test crr --duration 0.5
# Bad arguments are refused with one line and exit 2.
"$bench" link --test nope >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: bad --test accepted"; fail=1; }
"$bench" client --test rr --peer 192.0.2.9 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: client without a device accepted"; fail=1; }
exit $fail

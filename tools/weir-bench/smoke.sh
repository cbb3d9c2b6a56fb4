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
check 'conn_s=[0-9]+' --test crr --flows 4 --duration 0.5
# --shards over the link: a socketpair per shard, and every server shard served some.
out=$(timeout 60 "$bench" link --test crr --flows 4 --shards 2 --shard-cpus 0 --duration 0.5 2>&1)
if grep -q '^result .*conn_s=[0-9]' <<<"$out" && grep -Eq '^shard 0 conns=[1-9]' <<<"$out" &&
	grep -Eq '^shard 1 conns=[1-9]' <<<"$out"; then
	echo "ok: weir-bench link --shards 2: both server shards served"
else
	echo "FAIL: weir-bench link --shards 2"; echo "$out"; fail=1
fi
# pingpong, the machine's own row in bench-shards.sh: round trips, or streamed bytes with bulk,
# counted on each answering thread.
for w in crr bulk; do
	out=$(timeout 60 "$bench" pingpong --test $w --shards 2 --duration 0.5 2>&1)
	want='conn_s=[0-9]+' field=conns
	[ $w = bulk ] && want='gbit_s=[0-9.]+' field=bytes
	if grep -Eq "^result test=$w .*$want" <<<"$out" &&
		grep -Eq "^shard 0 .*$field=[1-9]" <<<"$out" && grep -Eq "^shard 1 .*$field=[1-9]" <<<"$out"; then
		echo "ok: weir-bench pingpong --test $w --shards 2: both pairs counted"
	else
		echo "FAIL: weir-bench pingpong --test $w --shards 2"; echo "$out"; fail=1
	fi
done
# --rate paces: a client never offers more than asked (a slow machine may offer less). In 1 s,
# each flow's first unit is due at the start: at most rate + one unit per flow.
paced() {
	local field=$1 max=$2; shift 2
	local out v
	out=$(timeout 60 "$bench" link "$@" 2>&1)
	v=$(sed -n "s/^result .*$field=\([0-9]*\).*/\1/p" <<<"$out")
	if [ -z "$v" ] || [ "$v" -gt "$max" ] || [ "$v" -eq 0 ]; then
		echo "FAIL: weir-bench link $*: $field=${v:-none}, wanted 1..$max"; echo "$out"; fail=1
	else
		echo "ok: paced: weir-bench link $*: $field=$v (at most $max)"
	fi
}
paced conns 504 --test crr --flows 4 --rate 500 --duration 1
paced bytes $((200 * 1000000 / 8 + 2 * 65536)) --test bulk --flows 2 --rate 200 --duration 1
# Bad arguments are refused with one line naming the problem, and exit 2.
refused() {
	local want=$1; shift
	local out rc
	out=$("$bench" "$@" 2>&1)
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q -- "$want" <<<"$out"; then
		echo "FAIL: weir-bench $* gave exit $rc and '$out' (wanted exit 2 naming $want)"; fail=1
	else
		echo "ok: refused: weir-bench $*"
	fi
}
refused "role" nonsense
refused "--test" link --test nope
refused "--netdev" client --test rr --peer 192.0.2.9
refused "--peer" client --test rr --kernel --peer 999.1.1.1
refused "--ip" client --test rr --netdev tap:x --ip 300.1.1.1/24 --peer 192.0.2.1
refused "--flows" link --test bulk --flows 0
refused "--flows" link --test rr --flows 2
refused "--duration" link --test bulk --duration 0
refused "--cpus" link --test rr --cpus 0
refused "--rate" link --test crr --rate 0
refused "--rate" link --test rr --rate 100
refused "--rate" server --kernel --rate 100
refused "--shard-cpus" link --test crr --shard-cpus 0
refused "--shard-cpus" link --test crr --shards 2 --shard-cpus 0,x
refused "no --cpus" link --test crr --shards 2 --cpus 0,1
refused "pingpong takes only" pingpong --test rr
refused "--spread" client --kernel --peer 192.0.2.1 --test crr --spread 2
refused "--spread" client --peer 192.0.2.1 --test bulk --netdev tap:x --ip 192.0.2.2/24 --spread 2
refused "--spread" client --kernel --peer 192.0.2.1 --test bulk --spread 0
refused "--spread" client --kernel --peer 192.0.2.1 --test bulk --spread 65
exit $fail

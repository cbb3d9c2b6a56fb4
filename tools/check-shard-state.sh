#!/usr/bin/env bash
# check-shard-state.sh BUILD_DIR - every variable weir's libraries (lwIP's included) can write is
# either per shard (thread-local: LWIP_PER_THREAD in lwIP, stack/patches/0024; WEIR_PER_SHARD in
# weir) or on the list below of state that all shards share, with the reason it is safe.
#
# A shard is a thread running a stack of its own (docs/shards.md), so a new writable global that is
# neither is shared by every shard without anyone having decided so: this check fails on it. Run by
# ctest (unit.shard_state) in builds with CONFIG_WEIR_SHARDS. Reads the symbol tables only.
set -euo pipefail
dir=${1:?usage: check-shard-state.sh BUILD_DIR}

# symbol (object file) -> why every shard may share it
declare -A shared=(
	[weir__log_level]="log.c: the log threshold, set before shards start"
	[prev_segv]="fiber_stack.c: the process's previous SIGSEGV action, set once (pthread_once)"
	[segv_once]="fiber_stack.c: the pthread_once of the SIGSEGV handler"
	[lwip_thread_once]="stack.c: the pthread_once of the key whose destructor ends a thread's lwIP"
	[lwip_thread_key]="stack.c: that key, created once"
	[shards_open]="port.c: an atomic count of threads with an lwIP, for the core-lock check"
	[link_zero_pad]="link.c: zeros, only read (frame padding)"
	[the_dev]="lan9118.c: the bare-metal board's one NIC (unit tests drive it from one thread)"
	[rx_bufs]="lan9118.c: the bare-metal board's receive buffers"
	[eal_state]="dpdk.c: DPDK's EAL is one per process (under dpdk_lock)"
	[eal_holding]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[eal_last_error]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[eal_loud]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[eal_log_stream]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[held_len]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[held_lines]="dpdk.c: EAL log capture during rte_eal_init, one thread"
	[eal_argbuf]="dpdk.c: EAL arguments, built once"
	[eal_args_used]="dpdk.c: EAL arguments, built once"
	[eal_argv]="dpdk.c: EAL arguments, built once"
	[argv0.6]="dpdk.c: EAL arguments, built once"
	[no_telemetry.3]="dpdk.c: EAL arguments, built once"
	[in_memory.4]="dpdk.c: EAL arguments, built once"
	[no_shconf.5]="dpdk.c: EAL arguments, built once"
	[lcores.2]="dpdk.c: EAL arguments, built once"
	[open_ports]="dpdk.c: ports open in the process (under dpdk_lock)"
	[dpdk_lock]="dpdk.c: the mutex of opening and closing ports, which shards do in their threads"
	[pool_seq.1]="dpdk.c: mbuf pool names (under dpdk_lock)"
)

bad=0
for lib in "$dir"/libweir_lwip.a "$dir"/libweir_stack.a "$dir"/libweir_flow.a \
	"$dir"/libweir_platform.a "$dir"/libweir_drivers.a; do
	[ -f "$lib" ] || { echo "check-shard-state: $lib is missing"; exit 2; }
	# objdump -t: "VALUE FLAGS SECTION SIZE NAME"; objects (O) in writable, non-TLS sections.
	while read -r obj sec name; do
		if [ -z "${shared[$name]+x}" ]; then
			echo "check-shard-state: $(basename "$lib") $obj: '$name' in $sec is shared by" \
				"every shard: make it per shard (WEIR_PER_SHARD / LWIP_PER_THREAD) or list" \
				"it in tools/check-shard-state.sh with why sharing it is safe"
			bad=1
		fi
	done < <(objdump -t "$lib" | awk '
		/^[^ ]+\.o:/ { obj = $1; sub(/:$/, "", obj) }
		/^[0-9a-f]+ / && / O / {
			sec = $(NF - 2)
			if (sec ~ /^\.(bss|data|sbss|sdata)($|\.)/ && sec !~ /^\.data\.rel\.ro/)
				print obj, sec, $NF
		}')
done
if [ "$bad" = 0 ]; then
	echo "check-shard-state: every writable variable is per shard or listed as shared (${#shared[@]} listed)"
fi
exit "$bad"

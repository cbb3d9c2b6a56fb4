# dpdk_lib.sh - what the DPDK tests share (sourced after ../lib.sh).

# need_dpdk PMD...: root, and each PMD's plugin installed (Debian: librte-net-<name>23).
need_dpdk() {
	local pmd
	[ "$(id -u)" = 0 ] || skip "needs root (the DPDK EAL and network namespaces)"
	command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
	for pmd in "$@"; do
		ls /usr/lib/*/dpdk/pmds-*/librte_net_"$pmd".so* >/dev/null 2>&1 ||
			skip "DPDK PMD net_$pmd is not installed (apt-get install librte-net-${pmd//_/-}23)"
	done
}

# EAL arguments every test uses: no hugepages, no PCI scan (CI machines have neither to spare).
DPDK_EAL="--no-huge --no-pci -m 256"

# dpdk_runtime_snapshot: what exists under /var/run/dpdk now (compared at the end: a weir process
# must leave nothing there).
dpdk_runtime_snapshot() { find /var/run/dpdk -mindepth 1 2>/dev/null | sort; }
# dpdk_runtime_new SNAPSHOT: entries that exist now and did not then (an empty runtime directory
# some other process left may be removed by weir's cleanup: that is not a failure).
dpdk_runtime_new() { comm -13 <(echo "$1") <(dpdk_runtime_snapshot) | grep . | tr '\n' ' '; }

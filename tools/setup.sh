#!/usr/bin/env bash
# setup.sh - install what weir needs from the OS archive (Debian 12) and fetch lwIP's source.
#
# Idempotent: installs only missing packages (running 'apt-get update' once, first), then runs
# tools/fetch-lwip.sh. Needs root for apt; without root it only checks and tells what is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

PKGS=(
	build-essential cmake pkg-config
	python3-kconfiglib                    # Kconfig -> config.h / lwipopts.h
	check libsubunit-dev                  # unit tests
	libpcap-dev                           # capture (hosted)
	libhttp-parser-dev                    # the appliance's HTTP service
	apache2-utils curl                    # HTTP tests (ab, curl)
	dnsmasq-base                          # DHCP test (a server inside the test namespace)
	iproute2 iputils-ping                 # integration tests: namespaces, TAP, ping
	socat tshark python3                  # integration tests: Linux TCP peers, captures
	dpkg-dev                              # apt-get source (fetching lwIP)
	gcc-arm-none-eabi libnewlib-arm-none-eabi # the bare-metal image and portability build
	gcc-aarch64-linux-gnu picolibc-aarch64-linux-gnu # the virt-aarch64 image (picolibc: its C library)
	qemu-system-arm                       # boots the bare-metal images (also qemu-system-aarch64)
	libdpdk-dev librte-net-tap23 librte-net-memif23 librte-net-ring23 # DPDK driver + its tests
	librte-net-af-packet23 librte-mempool-ring23
	clang libclang-rt-dev                 # libFuzzer harnesses
	clang-format                          # tools/check-tree.sh: the format check
	hping3                                # SYN-flood test
	nftables ethtool                      # TSO test: random loss (no netem), software GSO
	iperf3 sockperf python3-matplotlib    # benchmarks: Linux baselines, the chart
	nginx-light                           # benchmark: HTTP download next to nginx
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$top/tools/fetch-lwip.sh"
echo "setup: ready"

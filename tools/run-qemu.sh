#!/usr/bin/env bash
# run-qemu.sh - build the bare-metal image for a board and boot it under QEMU.
#
#   tools/run-qemu.sh [--board mps2-an386|virt-aarch64] [--build DIR] [--ip ADDR/PREFIX]
#                     [--tap IF] [--seed FILE | --no-seed] [--nic-opts OPTS] [--build-only]
#   tools/run-qemu.sh [--board B] stop
#
# The image (examples/baremetal: ping, echo 7, discard 9, a web page on 80) is configured and built
# if it is missing or stale, into DIR (default build-BOARD); its size is printed. The boards:
#   mps2-an386    Cortex-M4, LAN9118 NIC: arm-none-eabi + newlib, configs/small_defconfig,
#                 qemu-system-arm -M mps2-an386.
#   virt-aarch64  Cortex-A53 on QEMU's virt machine, virtio-net on virtio-mmio (the modern
#                 transport) and virtio-rng: aarch64-linux-gnu-gcc + picolibc,
#                 configs/virt-aarch64_defconfig, qemu-system-aarch64 -M virt,gic-version=2
#                 -m 256M; the TAP is opened with vnet_hdr=on, so checksum offload and TSO
#                 reach Linux.
# --nic-opts OPTS are appended to the NIC's -device (virt-aarch64: e.g. csum=off,guest_csum=off
# boots a virtio-net device that offers no offloads). Then:
#   --build-only  prints the image's path and stops.
#   --tap IF      boots it attached to the existing TAP device IF in the current network
#                 namespace and stays in the foreground (the UART is stdin/stdout) until killed:
#                 how tests and other tools use it, like weir-appliance --netdev tap:IF.
#   (neither)     sets up a private namespace "weir-qemu" with TAP device wq0 (Linux 192.0.2.1,
#                 the image 192.0.2.2 unless --ip says otherwise), boots the image in the
#                 background, pings it and leaves it running; `tools/run-qemu.sh stop` removes
#                 it all. The UART goes to DIR/qemu/uart.log.
# Each boot gets 32 bytes from /dev/urandom as its entropy seed (placed in RAM by QEMU's loader;
# --seed FILE gives them, --no-seed boots on timer jitter alone). QEMU is qemu-system-arm from
# Debian's package of that name (tools/setup.sh installs it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
board=mps2-an386
build=""
ip_cidr=192.0.2.2/24
tap=""
seed=""
no_seed=0
nic_opts=""
build_only=0
ns=weir-qemu

die() { echo "run-qemu: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--board) board=${2:?--board needs a name}; shift ;;
	--build) build=${2:?--build needs a directory}; shift ;;
	--ip) ip_cidr=${2:?--ip needs ADDR/PREFIX}; shift ;;
	--tap) tap=${2:?--tap needs an interface}; shift ;;
	--seed) seed=${2:?--seed needs a file}; shift ;;
	--no-seed) no_seed=1 ;;
	--nic-opts) nic_opts=${2:?--nic-opts needs OPTS}; shift ;;
	--build-only) build_only=1 ;;
	stop) action=stop ;;
	-h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -d "$top/platform/boards/$board" ] || die "no board '$board' (platform/boards: $(ls "$top/platform/boards" | tr '\n' ' '))"
case $board in
mps2-an386)
	machine=(-M mps2-an386); qemu=qemu-system-arm; seed_addr=0x203ff000; ram_base=0x20000000
	cc=arm-none-eabi-gcc; tools=arm-none-eabi-; pkgs="gcc-arm-none-eabi libnewlib-arm-none-eabi"
	toolchain=arm-none-eabi.cmake; config=small_defconfig
	nic() { echo "-nic tap,ifname=$1,script=no,downscript=no,model=lan9118${nic_opts:+,$nic_opts}"; } ;;
virt-aarch64)
	machine=(-M virt,gic-version=2 -cpu cortex-a53 -m 256M)
	qemu=qemu-system-aarch64; seed_addr=0x401ff000; ram_base=0x40200000
	cc=aarch64-linux-gnu-gcc; tools=aarch64-linux-gnu-
	pkgs="gcc-aarch64-linux-gnu picolibc-aarch64-linux-gnu"
	toolchain=aarch64-picolibc.cmake; config=virt-aarch64_defconfig
	nic() {
		echo "-global virtio-mmio.force-legacy=false" \
		     "-netdev tap,id=n0,ifname=$1,script=no,downscript=no,vnet_hdr=on" \
		     "-device virtio-net-device,netdev=n0${nic_opts:+,$nic_opts}" \
		     "-device virtio-rng-device"
	} ;;
*) die "run-qemu does not know how to boot '$board' yet" ;;
esac
build=${build:-$top/build-$board}
state=$build/qemu

stop() {
	if [ -f "$state/qemu.pid" ]; then
		local pid
		pid=$(cat "$state/qemu.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$state/qemu.pid"
	fi
	ip netns del "$ns" 2>/dev/null || true
}
if [ "${action:-}" = stop ]; then
	stop
	echo "run-qemu: stopped; namespace $ns removed"
	exit 0
fi

# --- build (cmake decides what is stale) -------------------------------------------------------
command -v "$cc" >/dev/null || die "$cc is missing (tools/setup.sh installs $pkgs)"
if [ "$board" = virt-aarch64 ] && [ ! -f /usr/lib/picolibc/aarch64-linux-gnu/picolibc.specs ]; then
	die "picolibc for aarch64 is missing (tools/setup.sh installs picolibc-aarch64-linux-gnu)"
fi
if ! cmake -S "$top" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/$toolchain" \
	-DCMAKE_BUILD_TYPE=MinSizeRel -DWEIR_CONFIG="$top/configs/$config" \
	-DWEIR_BOARD="$board" -DWEIR_IMAGE_IP="$ip_cidr" -DWEIR_WERROR=ON >"$build.configure.log" 2>&1; then
	cat "$build.configure.log" >&2
	die "configure failed"
fi
if ! cmake --build "$build" -j"$(nproc)" --target weir-image >"$build.build.log" 2>&1; then
	grep -E "error|warning" -A3 "$build.build.log" | head -40 >&2
	die "build failed (all of it in $build.build.log)"
fi
elf=$build/examples/baremetal/weir-image.elf
map=$build/examples/baremetal/weir-image.map
ram_end=$(awk '$2 == "__weir_ram_end" { print $1 }' "$map" | head -1)
read -r text data _ < <("${tools}size" "$elf" | awk 'NR == 2 { print $1, $2 }')
echo "run-qemu: $elf: text $text B, data $data B, RAM in all $((ram_end - ram_base)) B" \
	"(data, bss, heap, stack)"
py=$(command -v python3 || true)
goals=()
[ "$board" = mps2-an386 ] || goals=(--no-goals) # the goals are an MCU's
[ -n "$py" ] && echo "run-qemu: $("$py" "$top/tools/footprint.py" "$map" "${goals[@]}" | tail -1)" \
	"(tools/footprint.py $map: each part)"
[ "$build_only" = 1 ] && { echo "$elf"; exit 0; }

# --- boot ----------------------------------------------------------------------------------------
command -v "$qemu" >/dev/null || die "$qemu is missing (tools/setup.sh installs qemu-system-arm, which has it)"
mkdir -p "$state"
loader=()
if [ "$no_seed" = 0 ]; then
	if [ -z "$seed" ]; then
		seed=$state/seed # a fresh one each boot (QEMU reads it at start)
		head -c 32 /dev/urandom >"$seed"
	fi
	loader=(-device "loader,file=$seed,addr=$seed_addr,force-raw=on")
fi
qemu_args=("${machine[@]}" -nographic -monitor none -semihosting-config enable=on,target=native
	   -kernel "$elf" "${loader[@]}")

if [ -n "$tap" ]; then
	# shellcheck disable=SC2046 # nic prints words meant to split
	exec "$qemu" "${qemu_args[@]}" -serial stdio $(nic "$tap")
fi

# Without --tap: a namespace of our own, the image left running.
[ "$(id -u)" = 0 ] || die "run as root (it creates a network namespace and a TAP device), or use --tap IF"
addr=${ip_cidr%/*}
stop
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev wq0 mode tap
ip -n "$ns" addr add "192.0.2.1/${ip_cidr#*/}" dev wq0
ip -n "$ns" link set wq0 up
: >"$state/uart.log"
nohup ip netns exec "$ns" "$qemu" "${qemu_args[@]}" \
	-chardev "socket,id=uart,path=$state/uart.sock,server=on,wait=off,logfile=$state/uart.log" \
	-serial chardev:uart $(nic wq0) \
	>"$state/qemu.log" 2>&1 </dev/null &
echo $! >"$state/qemu.pid"
for _ in $(seq 1 200); do
	grep -q "^ready" "$state/uart.log" 2>/dev/null && break
	kill -0 "$(cat "$state/qemu.pid")" 2>/dev/null || { cat "$state/qemu.log" >&2; die "QEMU stopped"; }
	sleep 0.1
done
grep -q "^ready" "$state/uart.log" || { cat "$state/uart.log" >&2; die "no 'ready' on the UART in 20 s"; }
echo "run-qemu: $(grep -m1 '^ready' "$state/uart.log" | tr -d '\r') (UART: $state/uart.log)"
ip netns exec "$ns" ping -c 3 -i 0.2 "$addr"
cat <<EOF

run-qemu: the image runs in QEMU (${machine[*]}) inside namespace $ns; try
  ip netns exec $ns curl http://$addr/
  echo hello | ip netns exec $ns socat - TCP:$addr:7
  echo s | socat - UNIX-CONNECT:$state/uart.sock   # the image prints its counters
  tools/run-qemu.sh --board $board stop          # removes it all
EOF

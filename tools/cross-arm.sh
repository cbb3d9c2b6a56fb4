#!/usr/bin/env bash
# cross-arm.sh - the portability guard: build weir's core (stack, drivers interface, platform
# core, lwIP) for arm-none-eabi Cortex-M4 with -ffreestanding and small_defconfig, and print sizes.
# Newlib has no Linux headers, so any Linux include outside hosted code fails this build.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-arm}
command -v arm-none-eabi-gcc >/dev/null || { echo "cross-arm: arm-none-eabi-gcc missing (tools/setup.sh installs it)" >&2; exit 1; }
cmake -S "$top" -B "$out" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/arm-none-eabi.cmake" \
	-DCMAKE_BUILD_TYPE=MinSizeRel -DWEIR_CONFIG="$top/configs/small_defconfig" -DWEIR_WERROR=ON >/dev/null
cmake --build "$out" -j"$(nproc)" >/dev/null
echo "cross-arm: core built for arm-none-eabi (cortex-m4, -ffreestanding, small_defconfig):"
arm-none-eabi-size -t "$out"/libweir_*.a | tail -1 |
	awk '{ printf "cross-arm: text %d B, data %d B, bss %d B (all of weir'"'"'s libraries and lwIP)\n", $1, $2, $3 }'

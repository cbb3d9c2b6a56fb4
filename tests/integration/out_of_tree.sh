#!/usr/bin/env bash
# out_of_tree.sh - weir as a user meets it: `cmake --install` into a temporary prefix, then
# examples/out-of-tree built outside the tree twice, with find_package(weir) and with make and
# pkg-config, and each echo server answering 1 MiB byte-exact over TAP (example_echo.sh).
# usage: out_of_tree.sh BUILD_DIR SOURCE_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 &&
   [ -f "$prefix/include/weir/flow.h" ] && [ -f "$prefix/include/weir/config.h" ] &&
   ls "$prefix"/lib*/pkgconfig/weir.pc "$prefix"/lib*/cmake/weir/weirConfig.cmake >/dev/null 2>&1; then
	pass "cmake --install: libraries, headers, weir.pc and the CMake package in $prefix"
else
	fail "cmake --install: $(tail -5 "$tmp/install.log")"
	finish
	exit 1
fi
# Nothing of lwIP, DPDK or libpcap is installed: weir's public headers must not need them.
if leak=$(grep -lE '#include *["<](lwip|rte_|pcap)' "$prefix/include/weir/"*.h); then
	fail "installed headers include a dependency's headers: $leak"
else pass "installed headers include nothing of lwIP, DPDK or libpcap"; fi

# The copy a user would make of the example folder, away from weir's tree.
cp -r "$src/examples/out-of-tree" "$tmp/echo-src"
if cmake -S "$tmp/echo-src" -B "$tmp/echo-cmake" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cmake.log" 2>&1 &&
   cmake --build "$tmp/echo-cmake" >>"$tmp/cmake.log" 2>&1 && [ -x "$tmp/echo-cmake/echo" ]; then
	pass "examples/out-of-tree built with find_package(weir CONFIG) and weir::weir"
else fail "find_package build: $(grep -Em5 'rror|undefined' "$tmp/cmake.log")"; fi
pcdir=$(dirname "$(ls "$prefix"/lib*/pkgconfig/weir.pc)")
if PKG_CONFIG_PATH="$pcdir" make -C "$tmp/echo-src" >"$tmp/make.log" 2>&1 && [ -x "$tmp/echo-src/echo" ]; then
	pass "examples/out-of-tree built with make and pkg-config --cflags --libs weir"
else fail "pkg-config build: $(grep -Em5 'rror|undefined' "$tmp/make.log")"; fi

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
	echo "SKIP: running the two echo servers over TAP needs root and /dev/net/tun"
	[ "$T_FAIL" = 0 ] && exit 77
	finish
	exit 1
fi
for kind in cmake src; do
	exe=$tmp/echo-$kind/echo
	[ -x "$exe" ] || continue
	if out=$(bash "$here/example_echo.sh" "$exe" 2>&1); then
		pass "the $kind-built echo answers over TAP: $(echo "$out" | grep '^ok' | tail -1)"
	else fail "the $kind-built echo over TAP: $out"; fi
done
finish

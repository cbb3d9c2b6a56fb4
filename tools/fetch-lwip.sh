#!/usr/bin/env bash
# fetch-lwip.sh - fetch lwIP 2.1.3 from the OS package archive's source package, verify it, unpack it.
#
# lwIP is a dependency, never part of this repository: this script downloads Debian's source package
# `lwip`, checks the upstream (orig) tarball against a pinned SHA-256 and unpacks it into the
# git-ignored cache .cache/lwip-2.1.3 (line endings normalised to LF so that our patches under stack/
# apply). If apt has no source entries, they are derived from the binary entries already configured
# (Types: deb -> deb-src); no host name is ever written by this script.
#
# Usage: tools/fetch-lwip.sh [CACHE_DIR]    (default: <repo>/.cache)
set -euo pipefail

ORIG=lwip_2.1.3+dfsg1.orig.tar.xz
ORIG_SHA256=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-$top/.cache}
dest=$cache/lwip-2.1.3
mkdir -p "$cache"

if [ -f "$dest/.weir-verified" ]; then
	echo "fetch-lwip: $dest already verified"
	exit 0
fi

die() { echo "fetch-lwip: $*" >&2; exit 1; }

enable_deb_src() {
	local out=/etc/apt/sources.list.d/weir-deb-src.sources changed=0 f
	[ "$(id -u)" = 0 ] || die "no deb-src entries for 'lwip' and not root: add deb-src lines to apt, or pass -DWEIR_LWIP_DIR=/path/to/lwip-2.1.x"
	: > "$out.tmp"
	# deb822 files: copy each stanza that has "Types: deb" as a deb-src stanza.
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$out" ] || continue
		awk 'BEGIN{RS=""; ORS="\n\n"} /(^|\n)Types:[^\n]*(^| )deb( |$|\n)/ && !/(^|\n)Enabled: *no/ {
			sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >> "$out.tmp"
	done
	if [ -s "$out.tmp" ]; then mv "$out.tmp" "$out"; changed=1; else rm -f "$out.tmp"; fi
	# One-line format (/etc/apt/sources.list and *.list): "deb ..." becomes "deb-src ...".
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && [ "$f" != /etc/apt/sources.list.d/weir-deb-src.list ] || continue
		grep -E '^[[:space:]]*deb[[:space:]]' "$f" | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /'
	done > /etc/apt/sources.list.d/weir-deb-src.list.tmp
	if [ -s /etc/apt/sources.list.d/weir-deb-src.list.tmp ]; then
		mv /etc/apt/sources.list.d/weir-deb-src.list.tmp /etc/apt/sources.list.d/weir-deb-src.list
		changed=1
	else
		rm -f /etc/apt/sources.list.d/weir-deb-src.list.tmp
	fi
	[ "$changed" = 1 ] || die "cannot derive deb-src entries: no 'deb' entries found in apt's configuration"
	echo "fetch-lwip: enabled deb-src entries derived from apt's configured sources"
	apt-get update -qq
}

work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get source --download-only lwip >apt.log 2>&1; then
	if grep -q "You must put some 'deb-src' URIs\|Unable to find a source package" apt.log; then
		enable_deb_src
		apt-get source --download-only lwip >apt.log 2>&1 || { cat apt.log >&2; die "apt-get source lwip failed"; }
	else
		cat apt.log >&2
		die "apt-get source lwip failed"
	fi
fi
[ -f "$ORIG" ] || die "source package did not contain $ORIG (got: $(ls))"
echo "$ORIG_SHA256  $ORIG" | sha256sum -c --quiet - || die "SHA-256 mismatch for $ORIG: refusing to build with it"

tar xf "$ORIG"
[ -f lwip-2.1.3/src/core/tcp.c ] || die "unexpected layout in $ORIG"
# The orig tarball has CRLF line endings; normalise so patches written against LF apply.
find lwip-2.1.3 -type f \( -name '*.c' -o -name '*.h' -o -name '*.cmake' -o -name '*.txt' -o -name '*.mk' \) \
	-exec sed -i 's/\r$//' {} +
touch lwip-2.1.3/.weir-verified
rm -rf "$dest"
mv lwip-2.1.3 "$dest"
echo "fetch-lwip: lwIP 2.1.3 verified (sha256 $ORIG_SHA256) and unpacked in $dest"

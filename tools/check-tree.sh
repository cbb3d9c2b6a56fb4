#!/usr/bin/env bash
# check-tree.sh - the rules the compiler does not check: weir's own C sources are formatted as
# clang-format formats them with the checked-in .clang-format, and no #include reaches another
# folder through a ../ path (layers include each other's public headers by name; tests/layering
# proves the build enforces the rest).
#
# usage: tools/check-tree.sh [--fix]   (--fix formats the files in place)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
fix=0
[ "${1:-}" = "--fix" ] && fix=1
cf=$(command -v clang-format || true)
if [ -z "$cf" ]; then
	echo "check-tree: clang-format is missing (apt-get install clang-format, or tools/setup.sh)" >&2
	exit 1
fi
# lwIP is never in the tree; everything tracked is ours.
mapfile -t files < <(git ls-files '*.c' '*.h')
bad=0
if [ "$fix" = 1 ]; then
	"$cf" -i "${files[@]}"
fi
if ! out=$("$cf" --dry-run --Werror "${files[@]}" 2>&1); then
	echo "$out" | grep -E '^[^ ].*: (error|warning):' | cut -d: -f1 | sort -u |
		sed 's/^/check-tree: not formatted: /'
	echo "check-tree: run tools/check-tree.sh --fix ($("$cf" --version))"
	bad=1
else
	echo "check-tree: ${#files[@]} C files formatted ($("$cf" --version | sed 's/ version / /'))"
fi
if inc=$(git grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*\.\./' -- '*.c' '*.h' '*.S'); then
	echo "$inc" | sed 's/^/check-tree: include through ..\/: /'
	bad=1
else
	echo "check-tree: no #include through ../"
fi
exit $bad

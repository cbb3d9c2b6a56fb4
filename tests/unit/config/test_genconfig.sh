#!/bin/sh
# test_genconfig.sh - genconfig.py maps a changed CONFIG_* into lwipopts.h and rejects bad configs.
# usage: test_genconfig.sh PYTHON SOURCE_DIR
set -u
py=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
gen() { "$py" "$src/tools/genconfig.py" --kconfig "$src/Kconfig" --config "$1" --out "$2" 2>"$2.err"; }

# 1. A changed value reaches lwipopts.h and config.h.
sed 's/^CONFIG_LWIP_TCP_WND=.*/CONFIG_LWIP_TCP_WND=262144/; s/^CONFIG_LWIP_MEMP_NUM_TCP_PCB=.*/CONFIG_LWIP_MEMP_NUM_TCP_PCB=77/' \
	"$src/configs/hosted_defconfig" > "$tmp/a.config"
if gen "$tmp/a.config" "$tmp/a" &&
	grep -Eq '^#define TCP_WND +262144' "$tmp/a/lwipopts.h" &&
	grep -Eq '^#define MEMP_NUM_TCP_PCB +77' "$tmp/a/lwipopts.h" &&
	grep -q '^#define CONFIG_LWIP_TCP_WND 262144' "$tmp/a/weir/config.h"; then
	ok "changed values reach lwipopts.h and config.h"
else bad "changed values did not reach the generated headers"; fi

# 2. A bool turned off disappears from config.h and turns the lwIP option off.
sed 's/^CONFIG_LWIP_TCP_TIMESTAMPS=y/# CONFIG_LWIP_TCP_TIMESTAMPS is not set/' \
	"$src/configs/hosted_defconfig" > "$tmp/b.config"
if gen "$tmp/b.config" "$tmp/b" && grep -Eq '^#define LWIP_TCP_TIMESTAMPS +0' "$tmp/b/lwipopts.h" &&
	! grep -q 'CONFIG_LWIP_TCP_TIMESTAMPS' "$tmp/b/weir/config.h"; then
	ok "bool off reaches lwipopts.h"
else bad "bool off did not reach lwipopts.h"; fi

# 3. Both shipped profiles generate.
for c in hosted small; do
	if gen "$src/configs/${c}_defconfig" "$tmp/$c"; then ok "$c profile generates"
	else bad "$c profile: $(cat "$tmp/$c.err")"; fi
done
grep -Eq '^#define MEM_LIBC_MALLOC +0' "$tmp/small/lwipopts.h" && ok "small profile uses a static heap" ||
	bad "small profile should not use malloc"

# 4. Mistakes are refused with a message naming the problem.
printf 'CONFIG_LWIP_NO_SUCH_THING=y\n' > "$tmp/c.config"
if gen "$tmp/c.config" "$tmp/c"; then bad "unknown symbol accepted"
elif grep -q 'NO_SUCH_THING' "$tmp/c.err"; then ok "unknown symbol refused by name"
else bad "unknown symbol refused without naming it: $(cat "$tmp/c.err")"; fi

sed 's/^CONFIG_LWIP_WND_SCALE=y/# CONFIG_LWIP_WND_SCALE is not set/' \
	"$src/configs/hosted_defconfig" > "$tmp/d.config"
if gen "$tmp/d.config" "$tmp/d"; then bad "1 MiB window without scaling accepted"
elif grep -q 'window scaling' "$tmp/d.err"; then ok "window without scaling refused"
else bad "window refusal unclear: $(cat "$tmp/d.err")"; fi

sed 's/^CONFIG_LWIP_TCP_MSS=.*/CONFIG_LWIP_TCP_MSS=20000/' "$src/configs/hosted_defconfig" > "$tmp/e.config"
if gen "$tmp/e.config" "$tmp/e"; then bad "MSS 20000 (out of range) accepted"
else ok "out-of-range MSS refused"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

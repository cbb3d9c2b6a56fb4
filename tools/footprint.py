#!/usr/bin/env python3
"""footprint.py - what each part of a bare-metal image costs, from its GNU ld map file.

usage: footprint.py IMAGE.map [--markdown] [--no-goals]

Sums the sizes of the input sections the linker placed (after --gc-sections) by the object they
came from, sorted into parts: weir (its libraries, and lwIP's port, which is weir's code built into
lwIP's library), lwIP, the driver (drivers/lan9118 or drivers/virtio-net), the board (platform/boards, the bare-metal
system calls), libc (newlib-nano and libgcc) and the application (the image's own sources). Code
is .text, .rodata, .vectors and .ARM.exidx; RAM is .data and .bss; the heap and the main stack
the linker script reserves are rows of their own. Standard library only.
"""
import re
import sys

PARTS = ["weir", "lwIP", "driver", "board", "libc", "application"]


def part_of(obj):
    if "lan9118.c" in obj or "virtio_net.c" in obj:
        return "driver"
    if "libweir_lwip.a" in obj:
        return "weir" if ("port.c" in obj or "syncookie.c" in obj) else "lwIP"
    if "boards/" in obj or "(board.c" in obj or "syscalls.c" in obj:
        return "board"
    if "libweir_" in obj:
        return "weir"
    if "libc" in obj or "libgcc" in obj or "libnosys" in obj or "libm" in obj:
        return "libc"
    return "application"


def kind_of(section):
    for prefix, kind in ((".text", "code"), (".rodata", "code"), (".vectors", "code"),
                         (".ARM.exidx", "code"), (".data", "ram"), (".bss", "ram"),
                         ("COMMON", "ram")):
        if section.startswith(prefix):
            return kind
    return None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lines = open(sys.argv[1]).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
    sums = {p: {"code": 0, "ram": 0} for p in PARTS}
    symbols = {}
    pending = None
    entry = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in lines[start:]:
        m = re.match(r"^\s+0x([0-9a-f]+)\s+(\w+) = ", line)
        if m:
            symbols[m.group(2)] = int(m.group(1), 16)
        if re.match(r"^ \S+$", line) and not line.startswith(" *"):
            pending = line.strip()  # a long section name; its address and size follow
            continue
        m = entry.match(line)
        if m is None:
            pending = None
            continue
        section = m.group(1) or pending
        pending = None
        if section is None or m.group(4).startswith("*fill*"):
            continue
        kind = kind_of(section)
        size = int(m.group(3), 16)
        if kind is None or size == 0:
            continue
        sums[part_of(m.group(4))][kind] += size
    heap = symbols.get("WEIR_HEAP_SIZE", 0)
    stack = symbols.get("WEIR_STACK_SIZE", 0)
    md = "--markdown" in sys.argv
    rows = [(p, sums[p]["code"], sums[p]["ram"]) for p in PARTS]
    rows.append(("heap (weir's objects, fiber stacks)", 0, heap))
    rows.append(("main stack", 0, stack))
    total_code = sum(r[1] for r in rows)
    total_ram = sum(r[2] for r in rows)
    core_code = sums["weir"]["code"] + sums["lwIP"]["code"] + sums["driver"]["code"]
    if md:
        print("| part | code (text + rodata) | RAM (data + bss) |")
        print("|---|---:|---:|")
        for name, code, ram in rows:
            print("| %s | %s | %s |" % (name, "{:,}".format(code) if code else "",
                                        "{:,}".format(ram) if ram else ""))
        print("| **all** | **{:,}** | **{:,}** |".format(total_code, total_ram))
    else:
        for name, code, ram in rows:
            print("%-38s code %7d B  RAM %7d B" % (name, code, ram))
        print("%-38s code %7d B  RAM %7d B" % ("all", total_code, total_ram))
    # The goals are the Cortex-M profile's (an MCU's flash and RAM); a map with --no-goals (the
    # virt-aarch64 image: RAM by the hundred MiB) gets the figures alone.
    goals = "--no-goals" not in sys.argv
    print("weir + lwIP + driver code: {:,} B ({:.1f} KiB{}); RAM in all: {:,} B "
          "({:.1f} KiB{})".format(core_code, core_code / 1024, "; goal 64 KiB" if goals else "",
                                  total_ram, total_ram / 1024, "; goal 96 KiB" if goals else ""))


if __name__ == "__main__":
    main()

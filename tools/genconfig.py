#!/usr/bin/env python3
"""genconfig.py - turn a .config (or a defconfig) into weir/config.h, lwipopts.h and config.cmake.

This file is the one place that maps CONFIG_* symbols to lwIP options: the LWIPOPTS list below.
Run by CMake at configure time; needs kconfiglib (Debian: python3-kconfiglib, imports under
/usr/bin/python3).

usage: genconfig.py --kconfig Kconfig --config FILE --out DIR [--lwipopts-dir DIR]

writes DIR/weir/config.h, DIR/config.cmake and lwipopts.h (into --lwipopts-dir, default DIR).
"""
import argparse
import os
import sys

try:
    import kconfiglib
except ImportError:
    sys.exit("genconfig: kconfiglib is not importable by %s; install python3-kconfiglib "
             "(Debian) and run with /usr/bin/python3" % sys.executable)


def val(kconf, name):
    """Returns a symbol's value as int (bool/int/hex) or str."""
    sym = kconf.syms.get(name)
    if sym is None:
        raise SystemExit("genconfig: unknown symbol CONFIG_%s" % name)
    if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return 1 if sym.tri_value == 2 else 0
    if sym.type in (kconfiglib.INT, kconfiglib.HEX):
        return int(sym.str_value, 0) if sym.str_value else 0
    return sym.str_value


def lwipopts(kconf):
    """Returns [(lwIP option, value, why)] derived from the configuration."""
    v = lambda n: val(kconf, n)
    mss, wnd, snd_buf = v("LWIP_TCP_MSS"), v("LWIP_TCP_WND"), v("LWIP_TCP_SND_BUF")
    hosted = v("WEIR_HOSTED")
    scale = v("LWIP_TCP_RCV_SCALE") if v("LWIP_WND_SCALE") else 0
    if wnd > (0xFFFF << scale):
        raise SystemExit("genconfig: CONFIG_LWIP_TCP_WND=%d needs window scaling "
                         "(CONFIG_LWIP_WND_SCALE with a larger CONFIG_LWIP_TCP_RCV_SCALE)" % wnd)
    if hosted and v("WEIR_FIBER_STACK_SIZE") < 8192:
        raise SystemExit("genconfig: CONFIG_WEIR_FIBER_STACK_SIZE=%d: hosted fibers need at least "
                         "8192 bytes (a signal frame must fit)" % v("WEIR_FIBER_STACK_SIZE"))
    queuelen = min(max(4 * snd_buf // mss, 2 * snd_buf // mss + 2), 0xFFFF)
    if v("LWIP_MEMP_NUM_TCP_SEG") < queuelen:
        raise SystemExit("genconfig: CONFIG_LWIP_MEMP_NUM_TCP_SEG=%d is below the send queue "
                         "length %d that CONFIG_LWIP_TCP_SND_BUF needs"
                         % (v("LWIP_MEMP_NUM_TCP_SEG"), queuelen))
    # lwIP's init.c refuses TCP_SNDLOWAT >= 0xFFFF - 4*MSS (a u16 computation); only the
    # sequential APIs use it, so with big send buffers clamp it.
    sndlowat = min(max(snd_buf // 2, 2 * mss + 1), snd_buf - 1)
    if sndlowat >= 0xFFFF - 4 * mss:
        sndlowat = 4 * mss
    opts = [
        ("NO_SYS", 1, "single-threaded event loop, raw API"),
        ("LWIP_NETCONN", 0, ""), ("LWIP_SOCKET", 0, ""),
        ("LWIP_TIMERS", 1, ""), ("SYS_LIGHTWEIGHT_PROT", 0, "no ISRs or threads touch lwIP"),
        ("LWIP_IPV4", 1, ""), ("LWIP_IPV6", 0, ""),
        ("LWIP_ARP", 1, ""), ("LWIP_ETHERNET", 1, ""), ("ETH_PAD_SIZE", 0, ""),
        ("ARP_QUEUEING", 1, ""), ("MEMP_NUM_ARP_QUEUE", 64 if hosted else 4, ""),
        ("LWIP_ICMP", 1, ""), ("LWIP_RAW", 1, "ICMP echo requests from the stack API"),
        ("LWIP_TCP", 1, ""), ("LWIP_UDP", 1, ""),
        ("LWIP_DNS", v("LWIP_DNS"), ""), ("LWIP_DHCP", v("LWIP_DHCP"), ""),
        ("LWIP_IGMP", 0, ""), ("LWIP_AUTOIP", 0, ""),
        ("LWIP_NETIF_LOOPBACK", v("LWIP_LOOPBACK"), "to our own address: back to us"),
        ("LWIP_HAVE_LOOPIF", v("LWIP_LOOPBACK"), "127.0.0.1/8"),
        ("LWIP_LOOPBACK_MAX_PBUFS", 1024 if v("LWIP_LOOPBACK") else 0,
         "segments waiting on loopback for the next poll"),
        ("LWIP_SUPPORT_CUSTOM_PBUF", 1, "zero-copy receive wraps driver frames"),
        ("PBUF_NEEDS_COPY(p)",
         "(((p)->type_internal & PBUF_TYPE_FLAG_DATA_VOLATILE) || (p)->type_internal == PBUF_ROM)",
         "a write without copy (PBUF_ROM) is the caller's again once acknowledged: ARP's queue copies it"),
        ("LWIP_TCP_PCB_NUM_EXT_ARGS", 1, "the destroy callback is the one 'pcb freed' signal"),
        ("LWIP_CHECKSUM_CTRL_PER_NETIF", 1, "drivers clear what the NIC offloads"),
        ("LWIP_CHECKSUM_ON_COPY", 0,
         "sum at output, where a device that finishes TCP checksums saves the whole pass"),
        ("MEM_ALIGNMENT", 8 if hosted else 4, ""),
        ("MEM_LIBC_MALLOC", v("LWIP_MEM_LIBC_MALLOC"), ""),
        ("TCP_MSS", mss, ""),
        ("TCP_WND", wnd, ""),
        ("LWIP_WND_SCALE", 1 if scale else 0, ""),
        ("TCP_SND_BUF", snd_buf, ""),
        ("TCP_SND_QUEUELEN", queuelen, "4 pbufs per MSS of send buffer, lwIP's own rule"),
        ("TCP_SNDLOWAT", sndlowat, "init.c's u16 sanity check (TCP_SNDLOWAT < 0xffff - 4 MSS)"),
        ("TCP_OVERSIZE", mss, ""),
        ("LWIP_TCP_SACK_OUT", v("LWIP_TCP_SACK_OUT") and v("LWIP_TCP_QUEUE_OOSEQ"),
         "SACK needs the out-of-order queue"),
        ("LWIP_TCP_SACK_IN", v("LWIP_TCP_SACK_IN") and v("LWIP_TCP_SACK_OUT")
         and v("LWIP_TCP_QUEUE_OOSEQ"), "RFC 6675 loss recovery (stack/patches/0019)"),
        ("LWIP_TCP_TLP", v("LWIP_TCP_TLP") and v("LWIP_TCP_SACK_IN") and v("LWIP_TCP_SACK_OUT")
         and v("LWIP_TCP_QUEUE_OOSEQ") and v("LWIP_MEMP_POOLS_GROW"),
         "tail loss probe (0019; its timer, 0021, needs TCP_PCB_HASH)"),
        ("TCP_TLP_MIN_MS", v("LWIP_TCP_TLP_MIN_MS") or 10, "the least probe timeout (0021)"),
        ("TCP_ACK_RESEND_MS", v("LWIP_TCP_ACK_RESEND_MS") or 0,
         "an ACK the peer may wait for goes again after this silence (0027; 0: off)"),
        ("LWIP_TCP_DSACK", 1 if (v("LWIP_TCP_DSACK") and v("LWIP_TCP_SACK_OUT")) else 0,
         "duplicates reported in a D-SACK block, RFC 2883 (0029)"),
        ("TCP_ACK_DEFER", v("LWIP_TCP_ACK_DEFER"),
         "one ACK per connection per received burst, built at its end (0032)"),
        ("TCP_QUICKACKS", v("LWIP_TCP_QUICKACKS") or 0,
         "in-order segments ACKed at once after a loss (0028; 0: off)"),
        ("TCP_RTO_MIN_MS", v("LWIP_TCP_RTO_MIN_MS"), "the least RTO (0019)"),
        ("LWIP_TCP_TIMESTAMPS", v("LWIP_TCP_TIMESTAMPS"), ""),
        ("LWIP_TCP_KEEPALIVE", v("LWIP_TCP_KEEPALIVE"), ""),
        ("SO_REUSE", v("LWIP_SO_REUSE"), ""),
        ("TCP_LISTEN_BACKLOG", v("LWIP_TCP_LISTEN_BACKLOG"), ""),
        ("TCP_QUEUE_OOSEQ", v("LWIP_TCP_QUEUE_OOSEQ"), ""),
        ("TCP_TMR_INTERVAL", v("LWIP_TCP_TMR_INTERVAL"), ""),
        ("MEMP_NUM_TCP_PCB", v("LWIP_MEMP_NUM_TCP_PCB"), ""),
        ("TCP_ALLOC_EVICT", 0, "a new connection never evicts a live one (stack/patches/0015)"),
        ("MEMP_NUM_TCP_PCB_LISTEN", v("LWIP_MEMP_NUM_TCP_PCB_LISTEN"), ""),
        ("MEMP_NUM_TCP_SEG", v("LWIP_MEMP_NUM_TCP_SEG"), ""),
        ("MEMP_NUM_PBUF", v("LWIP_MEMP_NUM_PBUF"), ""),
        ("MEMP_NUM_UDP_PCB", v("LWIP_MEMP_NUM_UDP_PCB"), ""),
        ("MEMP_NUM_RAW_PCB", 4, ""),
        ("PBUF_POOL_SIZE", v("LWIP_PBUF_POOL_SIZE"), "weir's drivers bring their own buffers"),
        ("IP_REASSEMBLY", v("LWIP_IP_REASSEMBLY"), ""),
        ("IP_FRAG", v("LWIP_IP_FRAG"), ""),
        ("LWIP_STATS", v("LWIP_STATS"), ""),
        ("LWIP_STATS_DISPLAY", 0, ""),
        ("LWIP_NETIF_HOSTNAME", 0, ""),
        # lwIP's debug.h disables LWIP_ASSERT when LWIP_NOASSERT is defined at all, even as 0.
        ("LWIP_NOASSERT", None if (hosted or v("WEIR_DEBUG")) else 1,
         "assertions stay on for hosted builds"),
        ("LWIP_HOOK_FILENAME", '"weir_lwip_hooks.h"', ""),
        ("LWIP_HOOK_TCP_ISN(lip, lport, rip, rport)",
         "weir__lwip_tcp_isn(lip, lport, rip, rport)", "RFC 6528 keyed ISN"),
        ("LWIP_ASSERT_CORE_LOCKED()", "weir__lwip_assert_core_locked()", ""),
        ("LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p)",
         "weir__lwip_hook_tcp_in(pcb, hdr, p)", "per-flow segment counters"),
        ("LWIP_HOOK_TCP_OUT_ADD_TCPOPTS(p, hdr, pcb, opts)",
         "weir__lwip_hook_tcp_out(p, hdr, pcb, opts)", "per-flow segments out, retransmissions"),
    ]
    if v("LWIP_TCP_LISTEN_BACKLOG"):
        opts.append(("TCP_DEFAULT_LISTEN_BACKLOG", v("LWIP_TCP_DEFAULT_LISTEN_BACKLOG"), ""))
        if v("LWIP_TCP_SYNCOOKIES"):
            opts.append(("LWIP_HOOK_TCP_SYNCOOKIE(lip, lport, rip, rport, isn, slot)",
                         "weir__lwip_syncookie_hash(lip, lport, rip, rport, isn, slot)",
                         "SYN cookies once a backlog is full (stack/patches/0010)"))
    if scale:
        opts.append(("TCP_RCV_SCALE", scale, ""))
    if v("LWIP_MEMP_POOLS_GROW"):
        opts.append(("MEMP_MEM_MALLOC", 1, "pools grow on demand; stack.c bounds connections"))
        opts.append(("MEMP_STATS", v("LWIP_STATS"), "lwIP turns them off with MEMP_MEM_MALLOC; "
                     "weir counts pcbs in them"))
        opts.append(("TCP_PCB_HASH", 1, "4-tuple hash, O(1) unlink, run-time limits (0015)"))
        opts.append(("TCP_PCB_HASH_BITS", 16, "65,536 buckets (512 KiB, touched as used)"))
        slow_ms = 2 * (v("LWIP_TCP_TMR_INTERVAL") or 250)
        opts.append(("TCP_SLOW_IDLE_TICKS", max(1, (1000 + slow_ms // 2) // slow_ms),
                     "idle pcbs visited by the slow timer once a second (0022)"))
    if v("WEIR_SHARDS"):
        opts.append(("LWIP_PER_THREAD_STATE", 1, "one lwIP per thread (shards, patch 0024)"))
        opts.append(("LWIP_HOOK_TCP_CONNECT_PORT_OK(pcb, port)",
                     "weir__lwip_hook_connect_port_ok(pcb, port)",
                     "shards: ports whose replies reach this queue (0025)"))
    if v("LWIP_TCP_QUEUE_OOSEQ"):
        opts.append(("TCP_OOSEQ_MAX_PBUFS", v("LWIP_TCP_OOSEQ_MAX_PBUFS"), ""))
        opts.append(("TCP_OOSEQ_MAX_BYTES", wnd, "never hold more than one window"))
    if v("LWIP_MEM_LIBC_MALLOC"):
        opts.append(("MEM_STATS", 0, "not available with the C library's malloc"))
        # A cache of freed blocks per size class in front of malloc (stack/port/mem.c).
        opts.append(("mem_clib_malloc", "weir__lwip_malloc", "size-class cache (stack/port/mem.c)"))
        opts.append(("mem_clib_calloc", "weir__lwip_calloc", ""))
        opts.append(("mem_clib_free", "weir__lwip_free", ""))
    else:
        opts.append(("MEM_SIZE", v("LWIP_MEM_SIZE"), ""))
    return opts


def write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kconfig", required=True)
    ap.add_argument("--config", required=True, help=".config or a defconfig file")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--lwipopts-dir", help="where lwipopts.h goes (default: --out)")
    args = ap.parse_args()

    kconf = kconfiglib.Kconfig(args.kconfig, warn_to_stderr=False)
    kconf.warn_assign_undef = True
    if not os.path.exists(args.config):
        sys.exit("genconfig: %s does not exist" % args.config)
    kconf.load_config(args.config)
    # Evaluate every symbol now: kconfiglib reports out-of-range values lazily, on first use.
    for sym in kconf.unique_defined_syms:
        sym.str_value
    # An unknown symbol or a value out of range is a mistake: name it and stop, never guess.
    for name, value in kconf.missing_syms:
        sys.exit("genconfig: %s: CONFIG_%s=%s is not a weir option (see Kconfig)"
                 % (args.config, name, value))
    for w in kconf.warnings:
        if "outside the active range" in w or "malformed" in w or "not a valid value" in w:
            sys.exit("genconfig: %s: %s" % (args.config, w.strip()))
        print("genconfig: warning: %s" % w.strip(), file=sys.stderr)

    out = args.out
    os.makedirs(os.path.join(out, "weir"), exist_ok=True)
    kconf.write_config(os.path.join(out, ".config.tmp"), header="# generated by genconfig.py\n")
    os.replace(os.path.join(out, ".config.tmp"), os.path.join(out, ".config"))

    lines = ["/* weir/config.h - generated from %s by tools/genconfig.py; do not edit. */"
             % os.path.basename(args.config),
             "#ifndef WEIR_CONFIG_H", "#define WEIR_CONFIG_H", ""]
    cm = ["# generated by tools/genconfig.py from %s" % args.config]
    for sym in kconf.unique_defined_syms:
        if not sym.name.isidentifier():
            continue
        value = sym.str_value
        if sym.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            on = sym.tri_value == 2
            if on:
                lines.append("#define CONFIG_%s 1" % sym.name)
            cm.append('set(CONFIG_%s %s)' % (sym.name, "y" if on else "n"))
        elif value != "":
            if sym.type == kconfiglib.STRING:
                lines.append('#define CONFIG_%s "%s"' % (sym.name, kconfiglib.escape(value)))
            else:
                lines.append("#define CONFIG_%s %s" % (sym.name, value))
            cm.append('set(CONFIG_%s "%s")' % (sym.name, value))
    lines += ["",
              "/* IS_ENABLED(CONFIG_X): 1 if the bool option is on, else 0; usable in if (...). */",
              "#define WEIR__ARG_PLACEHOLDER_1 0,",
              "#define WEIR__TAKE_SECOND(ignored, val, ...) val",
              "#define WEIR__IS_ENABLED3(arg1_or_junk) WEIR__TAKE_SECOND(arg1_or_junk 1, 0, 0)",
              "#define WEIR__IS_ENABLED2(val) WEIR__IS_ENABLED3(WEIR__ARG_PLACEHOLDER_##val)",
              "#define IS_ENABLED(option) WEIR__IS_ENABLED2(option)",
              "", "#endif /* WEIR_CONFIG_H */", ""]
    write_if_changed(os.path.join(out, "weir", "config.h"), "\n".join(lines))
    write_if_changed(os.path.join(out, "config.cmake"), "\n".join(cm) + "\n")

    ol = ["/* lwipopts.h - lwIP's options for this weir configuration; generated from %s by"
          % os.path.basename(args.config),
          " * tools/genconfig.py (the one place mapping CONFIG_* to lwIP). Do not edit. */",
          "#ifndef WEIR_LWIPOPTS_H", "#define WEIR_LWIPOPTS_H", ""]
    for name, value, why in lwipopts(kconf):
        if value is None:
            # lwIP tests some switches with #ifdef (LWIP_NOASSERT): say it by leaving it out.
            ol.append("/* %s is not defined: %s */" % (name, why))
            continue
        line = "#define %-40s %s" % (name, value)
        if why:
            line += " /* %s */" % why
        ol.append(line)
    ol += ["", "#endif /* WEIR_LWIPOPTS_H */", ""]
    lwip_dir = args.lwipopts_dir or out
    os.makedirs(lwip_dir, exist_ok=True)
    write_if_changed(os.path.join(lwip_dir, "lwipopts.h"), "\n".join(ol))


if __name__ == "__main__":
    main()

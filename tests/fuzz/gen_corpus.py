#!/usr/bin/python3
"""gen_corpus.py - write the seed corpora of weir's fuzz harnesses (tests/fuzz, docs/fuzzing.md).

    gen_corpus.py --out DIR            seeds into DIR/rx, DIR/tcp and DIR/dns (one file per seed)
    gen_corpus.py --regress SRC --out DIR
                                       turn SRC/<harness>/*.hex (hex text, '#' comments) into
                                       binary inputs in DIR/<harness>/

The seeds follow the world fuzz_host.c builds for every input: the peer 192.0.2.1
(02:00:00:00:00:01), the stack 192.0.2.2 (02:00:00:00:00:02), connection A (stack port 40000 ->
peer port 7, established), B (peer port 50000 -> listener port 80, established), C (stack port
40001 -> peer port 9, SYN sent), a UDP echo on port 7, and stack ISNs of
isn_base + (local_port << 16) + remote_port (an active open's SYN carries ISN - 1). Keep the constants here in step with fuzz_host.h.
Only the standard library is used (struct), so any python3 runs it.
"""
import argparse
import os
import struct
import sys

PEER_MAC = bytes.fromhex("020000000001")
STACK_MAC = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
PEER_IP = bytes([192, 0, 2, 1])
STACK_IP = bytes([192, 0, 2, 2])
PORT_A_LOCAL, PORT_A_REMOTE = 40000, 7
PORT_B_REMOTE, PORT_LISTEN = 50000, 80
PORT_C_LOCAL, PORT_C_REMOTE = 40001, 9
PEER_ISN_A, PEER_ISN_B, PEER_ISN_C = 0x0A000000, 0x0B000000, 0x0C000000
START_MS = 2000000

# config bits (fuzz_host.h enum fz_config)
KEEPALIVE, USER_TIMEOUT, NODELAY, MAXCONN, HALFCLOSE, PLAIN, ZEROCOPY = (1 << i for i in range(7))

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def csum(data, s=0):
    if len(data) % 2:
        data += b"\0"
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def isn(base, lport, rport):
    return (base + (lport << 16) + rport) & 0xFFFFFFFF


def eth(payload, etype=0x0800, dst=STACK_MAC, src=PEER_MAC):
    return dst + src + struct.pack("!H", etype) + payload


def ip4(proto, payload, src=PEER_IP, dst=STACK_IP, ident=1, frag=0x4000, ttl=64, opts=b"",
        tot=None, ihl=None, bad_csum=False):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ((ihl if ihl is not None else hl // 4) & 15), 0,
                    tot if tot is not None else hl + len(payload), ident, frag, ttl, proto, 0,
                    src, dst) + opts
    c = csum(h) ^ (0x1111 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def pseudo(src, dst, proto, length):
    return src + dst + struct.pack("!BBH", 0, proto, length)


def tcp(sport, dport, seq, ack, flags, wnd=512, opts=b"", payload=b"", urp=0, src=PEER_IP,
        dst=STACK_IP, doff=None, bad_csum=False):
    opts = opts + b"\0" * (-len(opts) % 4)
    thl = 20 + len(opts)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    (doff if doff is not None else thl // 4) << 4, flags, wnd, 0, urp) + opts
    c = csum(pseudo(src, dst, 6, thl + len(payload)) + h + payload) ^ (0x2222 if bad_csum else 0)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def udp(sport, dport, payload, src=PEER_IP, dst=STACK_IP, zero_csum=False, length=None):
    ln = length if length is not None else 8 + len(payload)
    h = struct.pack("!HHHH", sport, dport, ln, 0)
    c = 0 if zero_csum else (csum(pseudo(src, dst, 17, 8 + len(payload)) + h + payload) or 0xFFFF)
    return h[:6] + struct.pack("!H", c) + payload


def icmp(typ, code, rest, payload):
    h = struct.pack("!BBH", typ, code, 0) + rest + payload
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def arp(op, sha, sip, tha, tip, dst=None):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + sip + tha + tip
    return eth(body, 0x0806, dst if dst is not None else (BCAST if op == 1 else STACK_MAC))


def tcp_frame(sport, dport, seq, ack, flags, **kw):
    ipkw = {k: kw.pop(k) for k in list(kw) if k in ("ident", "frag", "ttl")}
    return eth(ip4(6, tcp(sport, dport, seq, ack, flags, **kw), **ipkw))


def fragments(proto, l4, chunk, ident=77, order=None):
    """IPv4 fragments of one transport packet (chunk: bytes per fragment, a multiple of 8)."""
    parts = [l4[i:i + chunk] for i in range(0, len(l4), chunk)]
    frames = []
    for n, p in enumerate(parts):
        mf = 0x2000 if n < len(parts) - 1 else 0
        frames.append(eth(ip4(proto, p, ident=ident, frag=mf | (n * chunk // 8))))
    if order:
        frames = [frames[i] for i in order]
    return frames


def opt_mss(v=1460):
    return struct.pack("!BBH", 2, 4, v)


def opt_ws(v=7):
    return bytes([1, 3, 3, v])


def opt_sackperm():
    return bytes([4, 2])


def opt_ts(val, ecr):
    return bytes([8, 10]) + struct.pack("!II", val, ecr)


def opt_sack(blocks):
    return bytes([1, 1, 5, 2 + 8 * len(blocks)]) + b"".join(struct.pack("!II", a, b)
                                                         for a, b in blocks)


def syn_opts(ts_val=0x1000, ts_ecr=0):
    return opt_mss() + opt_ws() + opt_sackperm() + opt_ts(ts_val, ts_ecr)


# --- fuzz-rx ---------------------------------------------------------------------------------------

def header(isn_base=0, config=0, gain=0):
    """gain: the echo handlers write back what they read 2**gain times (fuzz_host.h)."""
    return struct.pack("<IBB2x", isn_base & 0xFFFFFFFF, config, gain)


def rx_input(records, isn_base=0, config=0):
    """records: (delta code, frame bytes) pairs."""
    out = header(isn_base, config)
    for dt, fr in records:
        out += struct.pack("!BH", dt, len(fr)) + fr
    return out


def secs(n):
    """Time code for n seconds (1..64, or a multiple of 10 up to 640; fuzz_host.c fz_delta_ms)."""
    return 127 + n if n <= 64 else 191 + n // 10


class Conn:
    """The peer's view of one connection, to build in-order segments."""

    def __init__(self, lport, rport, peer_seq, stack_seq):
        self.lport, self.rport, self.seq, self.ack = lport, rport, peer_seq, stack_seq

    def seg(self, flags=ACK, payload=b"", opts=b"", wnd=512, dseq=0, dack=0, advance=True, **kw):
        fr = tcp_frame(self.rport, self.lport, self.seq + dseq, self.ack + dack, flags,
                       wnd=wnd, opts=opts, payload=payload, **kw)
        if advance and dseq == 0:
            self.seq += len(payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        return fr


def conn_a(base):
    # lwIP 2.1.3 sends an active open's SYN with ISN - 1 (fuzz_host.h).
    return Conn(PORT_A_LOCAL, PORT_A_REMOTE, PEER_ISN_A + 1, isn(base, PORT_A_LOCAL,
                                                                 PORT_A_REMOTE))


def conn_b(base):
    return Conn(PORT_LISTEN, PORT_B_REMOTE, PEER_ISN_B + 1, isn(base, PORT_LISTEN,
                                                                PORT_B_REMOTE) + 1)


def conn_c(base):
    return Conn(PORT_C_LOCAL, PORT_C_REMOTE, PEER_ISN_C, isn(base, PORT_C_LOCAL, PORT_C_REMOTE))


def conn_new(base, rport, peer_isn=0x0D000000):
    return Conn(PORT_LISTEN, rport, peer_isn, isn(base, PORT_LISTEN, rport) + 1)


def rx_seeds():
    s = {}
    base = 0x12345678
    s["setup-only"] = rx_input([], base)
    s["setup-plain"] = rx_input([], base, PLAIN)

    # ARP
    other = bytes([192, 0, 2, 3])
    s["arp"] = rx_input([
        (0, arp(1, bytes.fromhex("020000000003"), other, b"\0" * 6, STACK_IP)),
        (0, arp(2, bytes.fromhex("020000000004"), bytes([192, 0, 2, 4]), STACK_MAC, STACK_IP)),
        (0, arp(1, PEER_MAC, PEER_IP, b"\0" * 6, PEER_IP)),  # gratuitous
        (0, arp(1, PEER_MAC, PEER_IP, b"\0" * 6, bytes([192, 0, 2, 9]))),  # not for us
        (0, eth(struct.pack("!HHBBH", 1, 0x0800, 8, 4, 1) + b"\0" * 24, 0x0806, BCAST)),
        (0, arp(1, PEER_MAC, STACK_IP, b"\0" * 6, STACK_IP)),  # someone claims our address
    ], base)

    # ICMP
    ping = lambda ident, seq, n, **kw: eth(ip4(1, icmp(8, 0, struct.pack("!HH", ident, seq),
                                                       bytes(i & 0xFF for i in range(n))), **kw))
    s["icmp-echo"] = rx_input([(0, ping(1, 1, 56)), (0, ping(1, 2, 1472)), (0, ping(1, 3, 0))],
                              base)
    bad = bytearray(ping(1, 4, 56))
    bad[-1] ^= 0xFF
    s["icmp-bad"] = rx_input([
        (0, bytes(bad)),
        (0, eth(ip4(1, icmp(8, 0, struct.pack("!HH", 1, 5), b"x" * 8), dst=bytes([192, 0, 2, 255])),
                dst=BCAST)),
        (0, eth(ip4(1, icmp(13, 0, b"\0" * 4, b"\0" * 12)))),  # timestamp request
        (0, eth(ip4(1, icmp(3, 3, b"\0" * 4, ip4(6, tcp(PORT_A_LOCAL, PORT_A_REMOTE, 0, 0, ACK),
                                                  src=STACK_IP, dst=PEER_IP)[:28])))),
        (0, eth(ip4(1, b"\x08"))),  # truncated ICMP
    ], base)

    # IPv4 fragments (reassembly): a 3000-byte ping in three pieces, in and out of order,
    # overlapping, and one never completed (the reassembly timer frees it).
    big = icmp(8, 0, struct.pack("!HH", 2, 1), bytes(i & 0xFF for i in range(3000)))
    s["frag-inorder"] = rx_input([(0, f) for f in fragments(1, big, 1480, ident=10)], base)
    s["frag-reverse"] = rx_input([(0, f) for f in fragments(1, big, 1480, ident=11,
                                                            order=[2, 1, 0])], base)
    ov = fragments(1, big, 1480, ident=12)
    ov_extra = eth(ip4(1, big[1000:1800], ident=12, frag=0x2000 | (1000 // 8)))
    s["frag-overlap"] = rx_input([(0, ov[0]), (0, ov_extra), (0, ov[1]), (0, ov[2]), (0, ov[1])],
                                 base)
    s["frag-timeout"] = rx_input([(0, ov[0]), (0, ov[2]), (secs(20), b"")], base)
    u = udp(40000, 7, bytes(range(256)) * 8)
    s["frag-udp-echo"] = rx_input([(0, f) for f in fragments(17, u, 512, ident=13)], base)
    tiny = fragments(1, icmp(8, 0, struct.pack("!HH", 3, 1), b"a" * 64), 8, ident=14)
    s["frag-tiny"] = rx_input([(0, f) for f in tiny], base)

    # UDP
    s["udp"] = rx_input([
        (0, eth(ip4(17, udp(40000, 7, b"hello udp")))),
        (0, eth(ip4(17, udp(40000, 7, b"zero checksum", zero_csum=True)))),
        (0, eth(ip4(17, udp(40000, 9999, b"closed port")))),
        (0, eth(ip4(17, udp(40000, 7, b"short", length=200)))),
        (0, eth(ip4(17, udp(40000, 7, b"bcast", dst=bytes([192, 0, 2, 255])),
                    dst=bytes([192, 0, 2, 255])), dst=BCAST)),
        (0, eth(ip4(17, udp(40000, 7, b"x" * 1472)))),
    ] + [(0, eth(ip4(17, udp(40001 + i, 7, b"q" * 10)))) for i in range(6)], base)

    # Ethernet and IPv4 header oddities
    s["l2l3-odd"] = rx_input([
        (0, eth(b"\x60" + b"\0" * 39, 0x86DD)),  # IPv6
        (0, eth(b"\0\x01\x08\x00" + ip4(1, icmp(8, 0, b"\0\0\0\1", b"")), 0x8100)),  # VLAN
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b"")), dst=bytes.fromhex("020000000099"))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), opts=b"\x01\x01\x01\x00"))),  # IP options
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), ihl=4))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), tot=1000))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), tot=10))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), ttl=0))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), bad_csum=True))),
        (0, eth(ip4(47, b"\0" * 20))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), dst=bytes([192, 0, 2, 9])))),
        (0, eth(ip4(1, icmp(8, 0, b"\0\0\0\1", b""), src=bytes([192, 0, 2, 255])))),
        (0, eth(ip4(2, b"\x11\x64\0\0\0\0\0\0", dst=bytes([224, 0, 0, 1])),
                dst=bytes.fromhex("01005e000001"))),
        (0, b"\0" * 13),
        (0, eth(b"")),
    ], base)

    # TCP on the established flows: data, its echo acknowledged, FIN both ways.
    for cfg, name in ((0, ""), (ZEROCOPY, "-zc"), (NODELAY, "-nodelay"), (HALFCLOSE, "-half")):
        a, b = conn_a(base), conn_b(base)
        recs = [(0, a.seg(ACK | PSH, b"hello A")), (1, b.seg(ACK | PSH, b"hello B"))]
        a.ack += 7
        b.ack += 7
        recs += [(1, a.seg(ACK)), (1, b.seg(ACK)), (1, a.seg(ACK | FIN)), (1, b.seg(ACK | FIN))]
        a.ack += 1
        b.ack += 1
        recs += [(5, a.seg(ACK)), (5, b.seg(ACK)), (secs(60), b""), (secs(70), b"")]
        s["tcp-echo-close" + name] = rx_input(recs, base, cfg)

    # Out of order data and SACK on B, then the gap filled; duplicates.
    b = conn_b(base)
    d = bytes(range(200))
    recs = [(0, b.seg(ACK, d[100:200], dseq=100)), (0, b.seg(ACK, d[150:200], dseq=150)),
            (0, b.seg(ACK, d[0:100])), (0, b.seg(ACK, d[0:100], dseq=-100))]
    b.seq += 100
    recs.append((1, b.seg(ACK, b"", opts=opt_sack([(b.ack, b.ack + 10)]))))
    s["tcp-ooseq"] = rx_input(recs, base)

    # RST variants (RFC 5961): exact, in window (challenge ACK), outside; SYN on an established
    # flow; data far outside the window.
    for n, (dseq, fl) in enumerate(((0, RST), (1000, RST), (0x40000000, RST), (0, RST | ACK),
                                    (0, SYN), (5000000, ACK))):
        b = conn_b(base)
        s["tcp-rst-%d" % n] = rx_input([(0, b.seg(fl, b"x" if fl == ACK else b"", dseq=dseq))],
                                       base)

    # The connecting flow C: answered, refused, answered wrongly.
    c = conn_c(base)
    s["tcp-c-synack"] = rx_input([(0, c.seg(SYN | ACK, opts=syn_opts(0x2000, START_MS))),
                                  (1, c.seg(ACK | PSH, b"data for C")), (1, c.seg(ACK | FIN))],
                                 base)
    c = conn_c(base)
    s["tcp-c-refused"] = rx_input([(0, c.seg(RST | ACK))], base)
    c = conn_c(base)
    s["tcp-c-badack"] = rx_input([(0, c.seg(SYN | ACK, dack=5)), (secs(5), b""),
                                  (secs(30), b"")], base)

    # New connections to the listener with option variants (valid and malformed).
    variants = {
        "none": b"",
        "mss": opt_mss(536),
        "full": syn_opts(),
        # lwIP 2.1.3 shifts the TSval's last byte left by 24 as an int: >= 0x80 is UB (notes 5.2)
        "ts-high": opt_ts(0xFFFFFFFF, 0),
        "ws-big": opt_ws(30),
        "mss-zero": opt_mss(0),
        "len-zero": bytes([2, 0, 5, 0xB4]),
        "len-one": bytes([8, 1, 1, 1]),
        "past-end": bytes([1, 1, 8, 10]),  # timestamp whose length runs past the options
        # A kind byte last: 2.1.3 reads its length byte past the options (notes 5.1, 3d896ba0);
        # 8 option bytes make the frame 62 bytes, beyond the 60-byte padding, so ASan sees it.
        "kind-last": bytes([1] * 7 + [8]),
        "mss-kind-last": bytes([1] * 7 + [2]),
        "unknown": bytes([0x99, 2, 0x77, 3]),
        "eol-first": bytes([0, 2, 4, 5]),
        "nops": bytes([1] * 40),
        "sack-in-syn": opt_sack([(1, 2)]),
    }
    for n, o in variants.items():
        c = conn_new(base, 50001)
        recs = [(0, c.seg(SYN, opts=o, wnd=65535)), (0, c.seg(ACK, wnd=65535)),
                (0, c.seg(ACK | PSH, b"GET / HTTP/1.0\r\n\r\n", wnd=65535))]
        c.ack += 18
        recs += [(1, c.seg(ACK | FIN, wnd=65535))]
        c.ack += 1
        recs += [(1, c.seg(ACK, wnd=65535))]
        s["tcp-new-opt-" + n] = rx_input(recs, base)
    # Malformed data offsets.
    for n, doff in enumerate((0, 4, 15)):
        c = conn_new(base, 50002)
        s["tcp-doff-%d" % n] = rx_input([(0, c.seg(SYN, opts=opt_mss(), doff=doff))], base)

    # SYN flood against backlog 4, then the SYN_RCVD timeout; a closed port.
    recs = []
    for i in range(10):
        c = conn_new(base, 50100 + i)
        recs.append((0, c.seg(SYN, opts=opt_mss())))
    recs += [(secs(25), b"")]
    recs.append((0, tcp_frame(50200, 81, 1, 0, SYN)))
    recs.append((0, tcp_frame(50200, 81, 1, 0, ACK)))
    s["tcp-synflood"] = rx_input(recs, base)
    s["tcp-maxconn"] = rx_input([(0, conn_new(base, 50003).seg(SYN, opts=opt_mss()))]
                                + [(0, conn_new(base, 50003).seg(ACK, dseq=1))], base, MAXCONN)

    # Retransmissions (no ACK for the echo), user timeout and keepalive.
    for cfg, name in ((0, "rto"), (USER_TIMEOUT, "usertimeout"), (KEEPALIVE, "keepalive")):
        b = conn_b(base)
        recs = [(0, b.seg(ACK | PSH, b"echo me"))] + [(secs(10), b"")] * 8
        s["tcp-" + name] = rx_input(recs, base, cfg)
    b = conn_b(base)
    s["tcp-idle-keepalive"] = rx_input([(secs(100), b"")] * 3, base, KEEPALIVE)

    # Zero window: the stack's echo waits, persist probes, then the window opens.
    b = conn_b(base)
    recs = [(0, b.seg(ACK | PSH, b"z" * 100, wnd=0)), (secs(5), b""), (secs(10), b"")]
    b.ack += 100
    recs += [(0, b.seg(ACK, wnd=512))]
    s["tcp-zerowindow"] = rx_input(recs, base)

    # Urgent data.
    b = conn_b(base)
    s["tcp-urgent"] = rx_input([(0, b.seg(ACK | URG | PSH, b"urgent!", urp=3))], base)

    # Sequence numbers about to wrap (signed comparisons in lwIP).
    wbase = (0xFFFFFFF0 - (PORT_LISTEN << 16) - PORT_B_REMOTE) & 0xFFFFFFFF
    b = conn_b(wbase)
    recs = []
    for i in range(5):
        recs.append((0, b.seg(ACK | PSH, b"w" * 10)))
        b.ack += 10
    s["tcp-wrap"] = rx_input(recs, wbase)

    # TIME_WAIT on A: with HALFCLOSE the stack sends FIN first after the first data.
    a = conn_a(base)
    recs = [(0, a.seg(ACK | PSH, b"bye"))]
    a.ack += 3 + 1  # the echo and the stack's FIN
    recs += [(1, a.seg(ACK)), (1, a.seg(ACK | FIN)), (secs(100), b""), (secs(30), b"")]
    s["tcp-timewait"] = rx_input(recs, base, HALFCLOSE)

    # A big burst of segments on B (window and ooseq accounting).
    b = conn_b(base)
    recs = [(0, b.seg(ACK, bytes([i]) * 1460)) for i in range(20)]
    s["tcp-burst"] = rx_input(recs, base)
    return s


# --- fuzz-tcp ---------------------------------------------------------------------------------------

def tcp_rec(conn, flags, opts=b"", so=0, ao=0, wnd=512, urp=0, payload=b"", dt=0, bits=0,
            misc=0):
    return (struct.pack("!BBBBhhHHHB", dt, (conn & 7) | bits, flags, len(opts), so, ao, wnd, urp,
                        len(payload), misc) + opts + payload)


SEQ64K, ACK64K, BADSUM, FRAG, TWICE = 0x08, 0x10, 0x20, 0x40, 0x80


def tcp_input(records, isn_base=0x12345678, config=0, gain=0):
    return header(isn_base, config, gain) + b"".join(records)


# Recipes (fuzz_tcp.c): option bytes from which the harness cooks a SACK option and the ACK number
# out of its books, so the blocks land on the stack's own segments whatever their sizes.
RECIPE = 0xA5
SACK_LEN_PLUS8, SACK_LEN_HALF, SACK_LEN_EMPTY = 1, 2, 3  # control bits 0-1: the length byte lies
R_TS, R_NOSACK = 0x04, 0x08


def r_reps(n):
    """Control bits 4-5: the segment is sent n times (1-4)."""
    return (n - 1) << 4


# Edge codes. B(k): boundary k of the data in flight: B(0) is snd_una (the peer's highest ACK),
# then the starts of the stack's segments, then snd_nxt (NXT, or any k past the last).
def B(k):
    return k


NXT = 0x3F


def MID(x):
    """una + (nxt - una) * x / 64"""
    return 0x40 + x


def B_PLUS1(k):
    return 0x80 + k


def B_MINUS1(k):
    return 0x90 + k


def BEYOND(n):
    """nxt + (n + 1) * 512"""
    return 0xA0 + n


def BELOW(n):
    """una - (n + 1) * 512 (D-SACK of data already acknowledged)"""
    return 0xC0 + n


def FAR_BEYOND(n):
    return 0xE0 + n


def FAR_BELOW(n):
    return 0xF0 + n


OPPOSITE = 0xFF  # una + 2**31


def recipe(blocks=(), ack=B(0), ctl=0, raw=b""):
    """A recipe for a segment without SYN: acknowledge the edge ack (plus the record's offset) and
    SACK blocks, a list of (left, right) edge codes in the order sent (1-4 of them; none with
    R_NOSACK)."""
    assert 1 <= len(blocks) <= 4 or (ctl & R_NOSACK and not blocks)
    ctl |= (max(len(blocks), 1) - 1) << 6
    return bytes([RECIPE, ctl, ack]) + b"".join(bytes([l, r]) for l, r in blocks) + raw


def syn_recipe(ctl=R_TS, raw=b""):
    """A recipe for a SYN: MSS, window scale 7, SACK-permitted (unless R_NOSACK), timestamps."""
    return bytes([RECIPE, ctl]) + raw


def sack_loss(conn, first=(), ts=R_TS, wnd=512):
    """The records of one loss in a window: the peer acknowledges everything (so that cwnd grows),
    then loses the first segment of the next flight and SACKs the segments above the hole, one
    more on each of four duplicate ACKs, then acknowledges everything twice, and closes."""
    recs = list(first)
    recs.append(tcp_rec(conn, ACK, recipe(ack=NXT, ctl=R_NOSACK | ts), wnd=wnd, dt=1))
    for k in (2, 3, 4, 5):
        recs.append(tcp_rec(conn, ACK, recipe([(B(1), B(k))], ctl=ts), wnd=wnd, dt=1))
    recs += [tcp_rec(conn, ACK, wnd=wnd, dt=1), tcp_rec(conn, ACK, wnd=wnd, dt=5),
             tcp_rec(conn, ACK, wnd=wnd, dt=5), tcp_rec(conn, ACK | FIN, wnd=wnd, dt=5),
             tcp_rec(conn, ACK, wnd=wnd, dt=5)]
    return recs


def sack_seeds():
    """Loss recovery with SACK (RFC 2018, 6675) on the stack's sending side: the echo gain puts a
    window's worth of the stack's segments in flight, and recipes SACK them."""
    s = {}
    data = lambda conn, n=1000, wnd=512: tcp_rec(conn, ACK | PSH, payload=b"s" * n, wnd=wnd)
    # One hole, SACKed above on 4 duplicate ACKs, on B (server side) and A (client side).
    s["sack-loss-b"] = tcp_input(sack_loss(1, [data(1)]), gain=4)
    s["sack-loss-a-nots"] = tcp_input(sack_loss(0, [data(0)], ts=0), gain=4)
    # Two holes (segments 1 and 3), then a partial ACK that fills the first, then all.
    two = [data(0, 700), tcp_rec(0, ACK, dt=1), tcp_rec(0, ACK, dt=1)]
    two += [tcp_rec(0, ACK, recipe(b, ctl=R_TS), dt=1) for b in (
        [(B(1), B(2))], [(B(3), B(4)), (B(1), B(2))], [(B(3), B(5)), (B(1), B(2))],
        [(B(3), B(6)), (B(1), B(2))])]
    two += [tcp_rec(0, ACK, recipe([(B(3), B(6))], ack=B(2), ctl=R_TS), dt=1),
            tcp_rec(0, ACK, recipe([(B(1), B(4))], ctl=R_TS), dt=1),
            tcp_rec(0, ACK, dt=1), tcp_rec(0, ACK, dt=5), tcp_rec(0, ACK, dt=5)]
    s["sack-two-holes-a"] = tcp_input(two, gain=5)
    # D-SACK (RFC 2883): a first block below the ACK, and one inside the second block.
    ds = [data(1), tcp_rec(1, ACK, dt=1),
          tcp_rec(1, ACK, recipe([(BELOW(2), B(0)), (B(1), B(2))]), dt=1),
          tcp_rec(1, ACK, recipe([(B(1), B(2)), (B(1), B(3))]), dt=1),
          tcp_rec(1, ACK, recipe([(B(0), B(1))], ack=B(1)), dt=1),
          tcp_rec(1, ACK, dt=1), tcp_rec(1, ACK, dt=5)]
    s["sack-dsack-b"] = tcp_input(ds, gain=3)
    # Blocks the stack must not trust: beyond snd_nxt, reversed, overlapping, duplicated, empty,
    # in the opposite half of the sequence space, one byte off, more than fit beside a timestamp,
    # and length bytes that lie.
    odd = [
        [(B(1), BEYOND(3))], [(BEYOND(0), BEYOND(5))], [(B(3), B(1))],
        [(B(1), B(3)), (B(2), B(4))], [(B(1), B(2))] * 4, [(B(2), B(2))],
        [(OPPOSITE, B(1))], [(FAR_BELOW(0), FAR_BEYOND(0))], [(B_PLUS1(1), B_MINUS1(3))],
        [(MID(10), MID(40))], [(BELOW(0), NXT)], [(B(0), NXT)],
    ]
    recs = [data(1), tcp_rec(1, ACK, dt=1)]
    recs += [tcp_rec(1, ACK, recipe(b), dt=1) for b in odd]
    recs += [tcp_rec(1, ACK, recipe([(B(1), B(2)), (B(3), B(4)), (B(5), B(6)), (B(7), NXT)],
                                    ctl=R_TS), dt=1),
             tcp_rec(1, ACK, recipe([(B(1), B(2))] * 4, ctl=SACK_LEN_PLUS8), dt=1),
             tcp_rec(1, ACK, recipe([(B(1), B(3))], ctl=SACK_LEN_HALF), dt=1),
             tcp_rec(1, ACK, recipe([(B(1), B(3))], ctl=SACK_LEN_EMPTY), dt=1),
             tcp_rec(1, ACK, recipe([(B(2), B(4))], ctl=r_reps(4)), dt=1),
             tcp_rec(1, ACK, dt=1), tcp_rec(1, ACK, dt=5), tcp_rec(1, ACK, dt=5)]
    s["sack-odd-b"] = tcp_input(recs, gain=4)
    # SACKs, too few for recovery, then the retransmission timeout, twice in a row (RFC 6675
    # section 5.1: what was SACKed may have been reneged), SACKs after each, then everything.
    s["sack-rto-b"] = tcp_input([data(1), tcp_rec(1, ACK, dt=1),
                                 tcp_rec(1, ACK, recipe([(B(1), B(3))]), dt=1),
                                 tcp_rec(1, ACK, recipe([(B(1), B(4))]), dt=1),
                                 tcp_rec(1, ACK, recipe([(B(1), B(4))]), dt=secs(2)),
                                 tcp_rec(1, ACK, recipe([(B(1), B(5))]), dt=secs(20)),
                                 tcp_rec(1, ACK, recipe([(B(1), NXT)]), dt=1),
                                 tcp_rec(1, ACK, dt=secs(1)), tcp_rec(1, ACK, dt=secs(5))],
                                gain=3)
    # The last segment lost: four full segments, the peer acknowledges all but the last, and no
    # duplicate ACK comes; a tail loss probe (or the RTO) must resend it.
    s["sack-tail-b"] = tcp_input([data(1, 1448),
                                  tcp_rec(1, ACK, recipe(ack=B(2), ctl=R_NOSACK | R_TS), dt=1),
                                  tcp_rec(1, ACK, recipe(ack=B(1), ctl=R_NOSACK | R_TS), dt=1),
                                  tcp_rec(1, ACK, dt=secs(2)), tcp_rec(1, ACK, dt=secs(1))],
                                 gain=2)
    # New connections from recipe SYNs: one with SACK-permitted, one without (the stack must
    # ignore the SACK blocks there), then the same loss.
    for n, ctl in (("new", R_TS), ("new-nosack", R_TS | R_NOSACK)):
        conn = 3 if n == "new" else 4
        first = [tcp_rec(conn, SYN, syn_recipe(ctl), wnd=512), tcp_rec(conn, ACK),
                 data(conn)]
        s["sack-" + n] = tcp_input(sack_loss(conn, first), gain=4)
    # C answered with SACK-permitted, Nagle off (each write waits for its ACK).
    first = [tcp_rec(2, SYN | ACK, syn_recipe(R_TS)), tcp_rec(2, ACK), data(2)]
    s["sack-c-nodelay"] = tcp_input(sack_loss(2, first), config=NODELAY, gain=4)
    # No SACK on the set-up connections (PLAIN: no window scale either, so a 64 KB window).
    s["sack-plain-b"] = tcp_input(sack_loss(1, [data(1, wnd=65535)], ts=0, wnd=65535),
                                  config=PLAIN, gain=4)
    # The stack's sequence numbers wrap inside the flight (B's ISN 4 KiB below 2^32).
    wbase = (0xFFFFF000 - 1 - (PORT_LISTEN << 16) - PORT_B_REMOTE) & 0xFFFFFFFF
    s["sack-wrap-b"] = tcp_input(sack_loss(1, [data(1)]), isn_base=wbase, gain=4)
    return s


def tcp_seeds():
    s = {}
    ts = opt_ts(0x2000, START_MS)
    s["empty"] = tcp_input([])
    s["data-a"] = tcp_input([tcp_rec(0, ACK | PSH, payload=b"hello"), tcp_rec(0, ACK, dt=1),
                             tcp_rec(0, ACK | FIN, dt=1), tcp_rec(0, ACK, dt=5)])
    s["data-b"] = tcp_input([tcp_rec(1, ACK | PSH, ts, payload=b"hello"),
                             tcp_rec(1, ACK, ts, dt=1), tcp_rec(1, ACK | FIN, dt=1),
                             tcp_rec(1, ACK, dt=5)])
    s["c-synack"] = tcp_input([tcp_rec(2, SYN | ACK, syn_opts(0x2000, START_MS)),
                               tcp_rec(2, ACK | PSH, payload=b"to C"), tcp_rec(2, ACK, dt=1)])
    s["c-refused"] = tcp_input([tcp_rec(2, RST | ACK)])
    for n, o in enumerate((b"", opt_mss(), syn_opts(), bytes([2, 0, 5, 0xB4]),
                           bytes([1, 1, 8, 10]), bytes([8, 10, 0x80, 0, 0, 0]),
                           opt_ws(14) + opt_sackperm(), bytes([1] * 7 + [8]),
                           opt_ts(0xFFFFFFFF, 0))):
        s["new-%d" % n] = tcp_input([tcp_rec(3, SYN, o, wnd=65535), tcp_rec(3, ACK, wnd=65535),
                                     tcp_rec(3, ACK | PSH, payload=b"x" * 100, wnd=65535),
                                     tcp_rec(3, ACK, dt=1), tcp_rec(3, ACK | FIN, dt=1),
                                     tcp_rec(3, ACK, dt=2)])
    s["ooseq"] = tcp_input([tcp_rec(1, ACK, so=1000, payload=b"b" * 500),
                            tcp_rec(1, ACK, so=500, payload=b"a" * 500),
                            tcp_rec(1, ACK, payload=b"0" * 500),
                            tcp_rec(1, ACK, opt_sack([(1, 2)]), dt=1)])
    s["rst"] = tcp_input([tcp_rec(1, RST, so=100), tcp_rec(1, RST), tcp_rec(0, RST | ACK)])
    s["syn-on-est"] = tcp_input([tcp_rec(1, SYN, so=7)])
    s["frag"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"f" * 300, bits=FRAG, misc=0x30),
                           tcp_rec(0, ACK | PSH, payload=b"g" * 300, bits=FRAG, misc=0x80)])
    s["dup-badsum"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"d" * 50, bits=TWICE),
                                 tcp_rec(1, ACK | PSH, payload=b"e" * 50, bits=BADSUM)])
    s["wrap"] = tcp_input([tcp_rec(5, SYN, syn_opts()), tcp_rec(5, ACK)]
                          + [tcp_rec(5, ACK | PSH, payload=b"w" * 8) for _ in range(4)]
                          + [tcp_rec(5, ACK, so=-1, ao=-1, bits=SEQ64K | ACK64K)])
    s["closed-port"] = tcp_input([tcp_rec(6, SYN), tcp_rec(7, ACK), tcp_rec(7, SYN)])
    s["rto"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"r" * 10)]
                         + [tcp_rec(1, ACK, ao=-10, dt=secs(5)) for _ in range(6)],
                         config=USER_TIMEOUT)
    s["zerowin"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"z" * 10, wnd=0),
                              tcp_rec(1, ACK, ao=-10, wnd=0, dt=secs(3)),
                              tcp_rec(1, ACK, wnd=512, dt=secs(3))])
    s["keepalive"] = tcp_input([tcp_rec(1, ACK, dt=secs(10)), tcp_rec(1, ACK, dt=secs(1))],
                               config=KEEPALIVE)
    s["urgent"] = tcp_input([tcp_rec(1, ACK | URG | PSH, urp=2, payload=b"urg")])
    s["halfclose-timewait"] = tcp_input([tcp_rec(0, ACK | PSH, payload=b"bye"),
                                         tcp_rec(0, ACK, dt=1), tcp_rec(0, ACK | FIN, dt=1),
                                         tcp_rec(0, ACK, dt=secs(130))], config=HALFCLOSE)
    s["plain"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"p" * 1460),
                            tcp_rec(1, ACK | PSH, payload=b"q" * 1460), tcp_rec(1, ACK, dt=1)],
                           config=PLAIN | ZEROCOPY)
    s["flood"] = tcp_input([tcp_rec(3 + (i % 3), SYN, opt_mss(), so=i * 7) for i in range(8)]
                           + [tcp_rec(3, ACK, dt=secs(25))], config=MAXCONN)
    s["flood-fresh-peers"] = tcp_input([tcp_rec(7, SYN, opt_mss()) for _ in range(12)]
                                       + [tcp_rec(7, ACK), tcp_rec(7, ACK | PSH, payload=b"late"),
                                          tcp_rec(7, ACK, dt=secs(25))])
    s["nodelay"] = tcp_input([tcp_rec(1, ACK | PSH, payload=b"n" * 20), tcp_rec(1, ACK, dt=1)],
                             config=NODELAY)
    s.update(sack_seeds())
    return s


# --- fuzz-dns: answers to "a.example" (A) and "9.2.0.192.in-addr.arpa" (PTR) ------------------

def dns_name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"


def dns_rr(owner, typ, rdata, ttl=60):
    o = b"\xc0\x0c" if owner is None else dns_name(owner)
    return o + struct.pack(">HHIH", typ, 1, ttl, len(rdata)) + rdata


def dns_msg(qname, qtype, answers, rcode=0, ident=0x1234):
    h = struct.pack(">HBBHHHH", ident, 0x81, 0x80 | rcode, 1, len(answers), 0, 0)
    return h + dns_name(qname) + struct.pack(">HH", qtype, 1) + b"".join(answers)


def dns_seeds():
    a = lambda *o: bytes(o)
    return {
        "a-one": dns_msg("a.example", 1, [dns_rr(None, 1, a(192, 0, 2, 9))]),
        "a-three": dns_msg("a.example", 1, [dns_rr(None, 1, a(192, 0, 2, i)) for i in (1, 2, 3)]),
        "a-cname": dns_msg("a.example", 1, [dns_rr("b.example", 1, a(192, 0, 2, 7)),
                                            dns_rr(None, 5, dns_name("b.example"), ttl=5)]),
        "a-nxdomain": dns_msg("a.example", 1, [], rcode=3),
        "ptr": dns_msg("9.2.0.192.in-addr.arpa", 12, [dns_rr(None, 12, dns_name("a.example"))]),
        "ptr-compressed": dns_msg("9.2.0.192.in-addr.arpa", 12,
                                  [dns_rr(None, 12, b"\x01x\xc0\x0c")]),
    }


def write_all(outdir, seeds):
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    return len(seeds)


def regress(src, out):
    n = 0
    for harness in ("rx", "tcp", "dns"):
        d = os.path.join(src, harness)
        if not os.path.isdir(d):
            continue
        od = os.path.join(out, harness)
        os.makedirs(od, exist_ok=True)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".hex"):
                continue
            text = "".join(line.split("#", 1)[0] for line in open(os.path.join(d, name)))
            try:
                data = bytes.fromhex("".join(text.split()))
            except ValueError as e:
                sys.exit("gen_corpus.py: %s/%s: not hex: %s" % (d, name, e))
            with open(os.path.join(od, name[:-4]), "wb") as f:
                f.write(data)
            n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--regress", help="directory of hex regression inputs")
    a = ap.parse_args()
    if a.regress:
        print("gen_corpus.py: %d regression inputs in %s" % (regress(a.regress, a.out), a.out))
        return
    n = write_all(os.path.join(a.out, "rx"), rx_seeds())
    m = write_all(os.path.join(a.out, "tcp"), tcp_seeds())
    k = write_all(os.path.join(a.out, "dns"), dns_seeds())
    print("gen_corpus.py: %d fuzz-rx, %d fuzz-tcp and %d fuzz-dns seeds in %s" % (n, m, k, a.out))


if __name__ == "__main__":
    main()

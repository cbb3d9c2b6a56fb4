#!/usr/bin/env python3
"""badframes.py - malformed frames at the image from the Linux side of its TAP device.

usage: badframes.py IFNAME TARGET_MAC TARGET_IP
Sends, to the target's MAC: a bare Ethernet header, 20 bytes of junk, IPv4 packets whose header
length, total length and fragment fields lie (shorter than the header, longer than the frame),
TCP segments with a data offset past the packet, a UDP header longer than its packet, a
truncated ARP request, and frames longer than the image's MTU (1600 and 3000 bytes: the
interface's MTU must allow them). Standard library only (AF_PACKET). Exit 0 when all were sent.
"""
import socket
import struct
import sys

ifname, mac, ip = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), sys.argv[3]
src_mac = bytes.fromhex("02005e005399")
src_ip, dst_ip = socket.inet_aton("192.0.2.1"), socket.inet_aton(ip)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))


def eth(ethertype, payload):
    return mac + src_mac + struct.pack("!H", ethertype) + payload


def ipv4(proto, payload, ihl=5, total=None, frag=0):
    total = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0, src_ip, dst_ip)
    return hdr + payload


frames = [
    mac + src_mac + b"\x08\x00",                      # header only
    mac + src_mac + b"\x88\xb5" + b"\xa5" * 6,         # 20 bytes of junk
    eth(0x0800, ipv4(6, b"\x00" * 20, ihl=4)),         # header length below 20
    eth(0x0800, ipv4(6, b"\x00" * 20, ihl=15)),        # header length past the packet
    eth(0x0800, ipv4(6, b"\x00" * 20, total=10)),      # total length below the header
    eth(0x0800, ipv4(6, b"\x00" * 20, total=1400)),    # total length past the frame
    eth(0x0800, ipv4(6, b"\x00" * 8, frag=0x2000)),    # a fragment nobody completes
    eth(0x0800, ipv4(6, struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0xf0, 0x02, 512, 0, 0))),
    eth(0x0800, ipv4(17, struct.pack("!HHHH", 40000, 7, 400, 0) + b"x" * 8)),
    eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src_mac),   # truncated ARP
    eth(0x0800, ipv4(6, b"\x00" * 1566)),              # 1600 bytes: over the MTU
    eth(0x0800, ipv4(6, b"\x00" * 2966)),              # 3000 bytes
]
for f in frames:
    s.send(f)
print("badframes: sent %d malformed frames (%s bytes)" %
      (len(frames), ", ".join(str(len(f)) for f in frames)))

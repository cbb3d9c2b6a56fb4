#!/usr/bin/env python3
"""rawframes.py - send hand-made frames on an interface and watch for weir's ARP reply.

usage: rawframes.py IFNAME TARGET_IP
Sends a 20-byte junk frame and an unpadded 42-byte ARP request "who has TARGET_IP" from a
made-up MAC, then waits up to 3 s for the ARP reply addressed to that MAC. (Linux refuses to send
frames shorter than an Ethernet header, so true runts are covered by the unit tests.) Standard library only (AF_PACKET); run inside the test's namespace. Exit 0 if the reply came.
"""
import socket
import struct
import sys
import time

ifname, target = sys.argv[1], sys.argv[2]
fake_mac = bytes.fromhex("02005e005399")
fake_ip = socket.inet_aton("192.0.2.9")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((ifname, 0))
s.send(b"\xff" * 6 + fake_mac + b"\x88\xb5" + b"\x00" * 6)
arp = (b"\xff" * 6 + fake_mac + struct.pack("!H", 0x0806) +
       struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + fake_mac + fake_ip + b"\x00" * 6 +
       socket.inet_aton(target))
assert len(arp) == 42
s.send(arp)
s.settimeout(0.2)
deadline = time.time() + 3
while time.time() < deadline:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 42 and f[0:6] == fake_mac and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02":
        print("rawframes: ARP reply from %s to the unpadded request (%d-byte frame)" %
              (f[6:12].hex(":"), len(f)))
        sys.exit(0)
print("rawframes: no ARP reply")
sys.exit(1)

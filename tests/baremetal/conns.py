#!/usr/bin/env python3
"""conns.py - what a socket client tells about the image: N echo connections held open at once,
each echoing its own bytes exactly, and a SYN to a closed port answered with RST.

usage: conns.py ADDR N CLOSED_PORT
Exit 0 when all N echoes came back byte-exact while all N were open, and the closed port refused.
"""
import os
import socket
import sys

addr, n, closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection((addr, 7), timeout=10)
    socks.append(s)
payloads = [os.urandom(4096 + 97 * i) for i in range(n)]
for s, p in zip(socks, payloads):
    s.sendall(p)
bad = 0
for i, (s, p) in enumerate(zip(socks, payloads)):
    got = b""
    while len(got) < len(p):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if got != p:
        print("conns: connection %d: %d of %d bytes back, %s" %
              (i, len(got), len(p), "differ" if got != p[:len(got)] else "short"))
        bad += 1
for s in socks:
    s.close()
print("conns: %d connections open at once, %d echoed byte-exact" % (n, n - bad))
try:
    socket.create_connection((addr, closed), timeout=5).close()
    print("conns: port %d accepted a connection" % closed)
    bad += 1
except ConnectionRefusedError:
    print("conns: port %d refused (RST)" % closed)
except OSError as e:
    print("conns: port %d: %s (not a refusal)" % (closed, e))
    bad += 1
sys.exit(1 if bad else 0)

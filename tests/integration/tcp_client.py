#!/usr/bin/env python3
"""tcp_client.py - Linux-side TCP clients for the TAP tests (standard library only).

  tcp_client.py refused HOST PORT        connect must be refused (RST)
  tcp_client.py weir-halfclose HOST PORT N
        the server half-closes first (we read EOF at once), we still send N bytes, then close
  tcp_client.py idle HOST PORT SECONDS   connect and stay idle (keepalive probes arrive)
  tcp_client.py stream HOST PORT SECONDS send and read continuously (an echo server)
  tcp_client.py expect-eof HOST PORT     connected, then closed by the server at once (FIN)
  tcp_client.py chargen HOST PORT N      read N bytes and check RFC 864's line pattern
  tcp_client.py idle-until-closed HOST PORT   send nothing; print seconds until the server closes
  tcp_client.py slow-get HOST PORT PATH FILE  HTTP/1.0 GET read slowly (a 64 KiB receive
        buffer, 64 KiB every 20 ms, so flow control holds the server back): prints "started"
        at the first bytes, then whether the body equals FILE and how long the rest took
Exit 0 on success; prints one line.
"""
import socket
import sys
import threading
import time


def refused(host, port):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        print("refused: connection refused (RST)")
        return 0
    print("refused: connected, expected a refusal")
    return 1


def weir_halfclose(host, port, n):
    s = socket.create_connection((host, port), timeout=5)
    t0 = time.time()
    data = s.recv(1)
    if data != b"":
        print("weir-halfclose: expected EOF from the server, got %r" % data)
        return 1
    waited = time.time() - t0
    chunk = bytes(range(256)) * 256
    sent = 0
    while sent < n:
        k = min(len(chunk), n - sent)
        s.sendall(chunk[:k])
        sent += k
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    rest = s.recv(1)
    s.close()
    print("weir-halfclose: EOF after %.3f s, then sent %d bytes, server closed (%r)" %
          (waited, sent, rest))
    return 0 if rest == b"" else 1


def idle(host, port, seconds):
    s = socket.create_connection((host, port), timeout=5)
    print("idle: connected", flush=True)
    time.sleep(seconds)
    s.close()
    return 0


def stream(host, port, seconds):
    s = socket.create_connection((host, port), timeout=5)
    stop = time.time() + seconds
    got = [0]

    def reader():
        s.settimeout(1)
        while time.time() < stop:
            try:
                d = s.recv(65536)
            except (socket.timeout, OSError):
                continue
            if not d:
                return
            got[0] += len(d)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    sent = 0
    s.settimeout(1)
    while time.time() < stop:
        try:
            sent += s.send(b"x" * 8192)
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            break
        time.sleep(0.001)
    print("stream: sent %d, echoed back %d" % (sent, got[0]), flush=True)
    return 0


def expect_eof(host, port):
    s = socket.create_connection((host, port), timeout=5)
    try:
        d = s.recv(1)
    except ConnectionResetError:
        print("expect-eof: reset instead of a clean close")
        return 1
    print("expect-eof: %s" % ("closed at once (EOF)" if d == b"" else "got data %r" % d))
    return 0 if d == b"" else 1


def chargen(host, port, n):
    s = socket.create_connection((host, port), timeout=5)
    buf = b""
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    ring = bytes(range(32, 127))
    lines = buf[:n].split(b"\r\n")
    bad = 0
    for i, line in enumerate(lines[:-1]):
        want = bytes(ring[(i + k) % 95] for k in range(72))
        if line != want:
            bad += 1
    print("chargen: %d bytes, %d full lines, %d wrong" % (len(buf), len(lines) - 1, bad))
    return 0 if len(buf) >= n and bad == 0 else 1


def idle_until_closed(host, port):
    s = socket.create_connection((host, port), timeout=60)
    t0 = time.time()
    try:
        d = s.recv(1)
    except ConnectionResetError:
        d = b"reset"
    print("%.2f %r" % (time.time() - t0, d))
    return 0


def slow_get(host, port, path, want_file):
    want = open(want_file, "rb").read()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(30)
    s.connect((host, port))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\n\r\n")
    resp = bytearray(s.recv(65536))
    print("started", flush=True)
    t0 = time.time()
    while True:
        time.sleep(0.02)
        b = s.recv(65536)
        if not b:
            break
        resp.extend(b)
    s.close()
    body = bytes(resp).split(b"\r\n\r\n", 1)[-1]
    ok = body == want
    print("done %s, %d bytes, the rest in %.2f s" % ("byte-exact" if ok else "MISMATCH", len(body),
                                                      time.time() - t0), flush=True)
    return 0 if ok else 1


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "refused":
        return refused(host, port)
    if mode == "weir-halfclose":
        return weir_halfclose(host, port, int(sys.argv[4]))
    if mode == "idle":
        return idle(host, port, float(sys.argv[4]))
    if mode == "stream":
        return stream(host, port, float(sys.argv[4]))
    if mode == "expect-eof":
        return expect_eof(host, port)
    if mode == "idle-until-closed":
        return idle_until_closed(host, port)
    if mode == "chargen":
        return chargen(host, port, int(sys.argv[4]))
    if mode == "slow-get":
        return slow_get(host, port, sys.argv[4], sys.argv[5])
    print("unknown mode %s" % mode)
    return 2


sys.exit(main())

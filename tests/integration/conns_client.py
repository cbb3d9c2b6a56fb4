#!/usr/bin/env python3
"""conns_client.py - many TCP connections at once, from several source addresses (standard library).

  conns_client.py hold HOST PORT N --src A[,B...] [--go FILE] [--sample K] [--inflight M]
      Opens N connections to an echo service, spread over the source addresses, at most M
      connecting at once (default 256). Prints "connected C refused R failed F seconds S".
      With --go, waits until FILE exists, then sends a distinct line on K (default 100) random
      connections and checks each echo, and checks that every connection is still open (no EOF,
      no reset). Prints "alive A lost L echoed E/K". Closes all. Exit 0 when all N connected,
      stayed open and every sampled one echoed.
  conns_client.py flood HOST PORT N --src A[,B...]
      Opens N connections as fast as it can and closes them. Prints "connected C refused R
      timeout T failed F". Exit 0 (the caller judges the counts).
"""
import argparse
import errno
import os
import random
import selectors
import socket
import sys
import time


def open_many(host, port, n, srcs, inflight, timeout):
    """Returns (connected sockets, refused, timed out, other failures)."""
    sel = selectors.DefaultSelector()
    done, refused, timedout, failed = [], 0, 0, 0
    started = 0
    pending = {}
    deadline_of = {}
    while started < n or pending:
        while started < n and len(pending) < inflight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((srcs[started % len(srcs)], 0))
            except OSError as e:
                print("bind %s: %s" % (srcs[started % len(srcs)], e), file=sys.stderr)
                s.close()
                failed += 1
                started += 1
                continue
            rc = s.connect_ex((host, port))
            started += 1
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                if rc == errno.ECONNREFUSED:
                    refused += 1
                else:
                    failed += 1
                continue
            pending[s.fileno()] = s
            deadline_of[s.fileno()] = time.monotonic() + timeout
            sel.register(s, selectors.EVENT_WRITE)
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            sel.unregister(s)
            del pending[s.fileno()]
            del deadline_of[s.fileno()]
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                done.append(s)
            else:
                s.close()
                if err == errno.ECONNREFUSED or err == errno.ECONNRESET:
                    refused += 1
                elif err == errno.ETIMEDOUT:
                    timedout += 1
                else:
                    failed += 1
        now = time.monotonic()
        for fd in [fd for fd, d in deadline_of.items() if d < now]:
            s = pending.pop(fd)
            del deadline_of[fd]
            sel.unregister(s)
            s.close()
            timedout += 1
    sel.close()
    return done, refused, timedout, failed


def still_open(s):
    try:
        data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return len(data) > 0  # unexpected data is not a loss; b"" is EOF


def echo_ok(s, k):
    msg = ("conn %d %08x\n" % (k, random.getrandbits(32))).encode()
    s.setblocking(True)
    s.settimeout(10)
    try:
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = s.recv(len(msg) - len(got))
            if not d:
                return False
            got += d
        return got == msg
    except OSError:
        return False
    finally:
        s.setblocking(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["hold", "flood"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--src", required=True)
    ap.add_argument("--go")
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    srcs = a.src.split(",")
    t0 = time.monotonic()
    socks, refused, timedout, failed = open_many(a.host, a.port, a.n, srcs, a.inflight, a.timeout)
    t1 = time.monotonic()
    if a.mode == "flood":
        for s in socks:
            s.close()
        print("connected %d refused %d timeout %d failed %d" % (len(socks), refused, timedout, failed),
              flush=True)
        return 0
    print("connected %d refused %d failed %d seconds %.2f"
          % (len(socks), refused + timedout, failed, t1 - t0), flush=True)
    if a.go:
        while not os.path.exists(a.go):
            time.sleep(0.05)
    k = min(a.sample, len(socks))
    echoed = sum(echo_ok(socks[i], i) for i in random.sample(range(len(socks)), k))
    alive = sum(still_open(s) for s in socks)
    print("alive %d lost %d echoed %d/%d" % (alive, len(socks) - alive, echoed, k), flush=True)
    for s in socks:
        s.close()
    return 0 if len(socks) == a.n and alive == a.n and echoed == k else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Hostile clients for the [stats] listener, for tests/nbdkit/plugin_test.sh.

  listener_abuse.py free-port
      Prints a free loopback TCP port.
  listener_abuse.py hold PORT IDLE TRICKLERS READY_FILE
      Opens IDLE idle connections and TRICKLERS clients that trickle one header byte every
      2 s (reconnecting whenever the server cuts them), writes READY_FILE once they are all
      connected, and keeps at it until killed. Prints how many idle connections it opened.
  listener_abuse.py get PORT PATH
      One GET; prints "STATUS SECONDS" (SECONDS from connect to the end of the response).
  listener_abuse.py flood PORT MIB
      One connection sending a request line, then small header lines until MIB MiB were sent
      or the server closed the connection; prints the bytes sent and the status line, if any.
"""
import os
import resource
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def trickle(port, stop):
    while not stop.is_set():
        try:
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
                while not stop.is_set():
                    s.sendall(b"X")  # a header that never ends
                    time.sleep(2)
        except OSError:
            time.sleep(0.05)  # cut by the server: come back


def hold(port, idle, tricklers, ready_file):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, idle + 64)), hard))
    conns = []
    for _ in range(idle):
        try:
            conns.append(socket.create_connection((HOST, port), timeout=5))
        except OSError:
            break
    stop = threading.Event()
    for _ in range(tricklers):
        threading.Thread(target=trickle, args=(port, stop), daemon=True).start()
    time.sleep(0.5)  # the tricklers are connected and sending
    print(len(conns), flush=True)
    with open(ready_file, "w") as f:
        f.write("ready\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(1)


def get(port, path):
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    took = time.monotonic() - start
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "none"
    print(f"{status} {took:.3f}")


def flood(port, mib):
    limit = mib << 20
    sent = 0
    line = b"X-Flood: " + b"a" * 54 + b"\r\n"
    block = line * 1024
    reply = b""
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        try:
            while sent < limit:
                s.sendall(block)
                sent += len(block)
        except OSError:
            pass  # closed by the server
        try:
            s.settimeout(2)
            reply = s.recv(4096)
        except OSError:
            pass
    status = reply.split(b"\r\n", 1)[0].decode(errors="replace") if reply else "no reply"
    print(f"{sent} {status}")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "free-port":
        print(free_port())
    elif cmd == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif cmd == "get":
        get(int(sys.argv[2]), sys.argv[3])
    elif cmd == "flood":
        flood(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, sends one request on each and reads its answer, then holds them
all open for HOLD seconds (while the caller reads the server's peak RSS) and closes them. Prints how many
connections got a 2xx answer.  Usage: idle_connections.py PORT PATH N HOLD"""
import socket
import sys
import time

port, path, count, hold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
sockets, ok = [], 0
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    sockets.append(s)
for s in sockets:
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        if not chunk:
            break
        head += chunk
    if head.startswith(b"HTTP/1.1 2"):
        ok += 1
print(ok, flush=True)
time.sleep(hold)
for s in sockets:
    s.close()

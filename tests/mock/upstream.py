#!/usr/bin/env python3
"""Stand-ins for hosts on the internet, for the network-policy tests.

  upstream.py --host ADDR --log FILE [--ports N]

Listens on ADDR with three kinds of ports (each picked by the kernel) and
prints them, one "KIND PORT" line each, then "ready":

  http   answers every HTTP request with 200 and the body
         "upstream-ok METHOD PATH HOST" (Host header), then closes
  raw    reads what a client sends until it closes (or 3 s pass) and logs
         its length and first bytes in hex: for TLS ClientHellos that the
         gateway must pass on unchanged
  other  the same as http, on a port the tests never allow
  udp    logs every datagram it receives

Every connection is one line in FILE: "KIND PEER BYTES FIRST32HEX" or
"http PEER METHOD PATH HOST".
"""
import argparse
import socket
import socketserver
import sys
import threading

LOCK = threading.Lock()


def log(path, line):
    with LOCK:
        with open(path, "a") as f:
            f.write(line + "\n")


def make_http(kind, logpath):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = self.request.recv(4096)
                if not chunk:
                    break
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ") if lines and lines[0] else ["-", "-"]
            host = "-"
            for l in lines[1:]:
                if l.lower().startswith("host:"):
                    host = l[5:].strip()
            method, path = parts[0], parts[1] if len(parts) > 1 else "-"
            log(logpath, "%s %s:%d %s %s %s" % (kind, self.client_address[0], self.client_address[1],
                                                method, path, host))
            body = ("upstream-ok %s %s %s\n" % (method, path, host)).encode()
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return H


def make_raw(logpath):
    class R(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(3)
            data = b""
            try:
                while len(data) < 1 << 20:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass
            log(logpath, "raw %s:%d %d %s" % (self.client_address[0], self.client_address[1], len(data),
                                              data[:32].hex()))
    return R


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    open(a.log, "a").close()
    servers = [("http", Server((a.host, 0), make_http("http", a.log))),
               ("raw", Server((a.host, 0), make_raw(a.log))),
               ("other", Server((a.host, 0), make_http("other", a.log)))]
    for kind, s in servers:
        print(kind, s.server_address[1])
        threading.Thread(target=s.serve_forever, daemon=True).start()
    # udp: every datagram is a line "udp PEER LENGTH"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((a.host, 0))
    print("udp", u.getsockname()[1])

    def udp_loop():
        while True:
            data, peer = u.recvfrom(65536)
            log(a.log, "udp %s:%d %d" % (peer[0], peer[1], len(data)))
    threading.Thread(target=udp_loop, daemon=True).start()
    print("ready", flush=True)
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Upstream servers for gateway.bats.

    upstream.py --bind ADDR --log FILE [--tls CERT KEY | --echo]

HTTP (or HTTPS with --tls): every request head is appended to the log
(request line, then the headers, then a line "--"; with TLS first a line
"sni NAME").  GET /blob/N answers N bytes of blob(N); POST /sha256 answers
the hex sha256 of the body; anything else "hello from upstream\\n".
--echo: a raw TCP echo server (selectors, any number of idle connections).
Prints "listening PORT" once ready.
"""
import argparse
import hashlib
import http.server
import selectors
import socket
import socketserver
import ssl
import sys


def blob_chunks(n):
    """n deterministic pseudo-random bytes, in chunks (client.py has the same)."""
    seed = hashlib.sha256(b"adr-gateway-test").digest()
    block = hashlib.sha512(seed).digest() * 1024  # 64 KiB
    sent = 0
    i = 0
    while sent < n:
        chunk = bytes([i & 0xFF]) + block[1:]
        chunk = chunk[: n - sent]
        yield chunk
        sent += len(chunk)
        i += 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self):
        with open(self.server.logfile, "a") as f:
            sni = getattr(self.connection, "adr_sni", None)
            if sni is not None:
                f.write("sni %s\n" % sni)
            f.write(self.requestline + "\n" + str(self.headers).rstrip("\n") + "\n--\n")

    def do_GET(self):
        self.record()
        if self.path.startswith("/blob/"):
            n = int(self.path[6:])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.send_header("Connection", "close")
            self.end_headers()
            for c in blob_chunks(n):
                self.wfile.write(c)
            self.close_connection = True
            return
        body = b"hello from upstream\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_POST(self):
        self.record()
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        while n > 0:
            d = self.rfile.read(min(n, 1 << 20))
            if not d:
                break
            h.update(d)
            n -= len(d)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def echo(sock):
    sel = selectors.DefaultSelector()
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is sock:
                try:
                    c, _ = sock.accept()
                except BlockingIOError:
                    continue
                c.setblocking(True)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(s)
                s.close()
            else:
                s.sendall(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.2")
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--echo", action="store_true")
    a = ap.parse_args()
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    if a.echo:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.bind, 0))
        s.listen(4096)
        print("listening %d" % s.getsockname()[1], flush=True)
        echo(s)
        return
    srv = Server((a.bind, 0), Handler)
    srv.logfile = a.log
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])

        def sni_cb(sslobj, name, _ctx):
            sslobj.adr_sni = name

        ctx.sni_callback = sni_cb
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

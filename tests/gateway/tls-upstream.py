#!/usr/bin/env python3
"""A mock API server for relay.bats and bench/relay.sh.

    tls-upstream.py --bind ADDR --log FILE (--tls CERT KEY | --plain) [--port N]

Makes no certificates itself: the caller gives them.  Every request is
appended to the log as one JSON line, flushed at once:
{"method", "target" (path and query as received), "headers" ([name, value]
pairs, in order), "sni", "body_len", "body_sha256"}.  The answer depends
on the last segment of the path:

  .../sse?n=N&ms=D     an SSE stream (chunked): N events D ms apart, each
                       "data: {"i": K, "t": NS}" with NS the CLOCK_MONOTONIC
                       nanoseconds when it was sent (same clock for every
                       process on the machine)
  .../redirect?to=URL  307 with Location: URL
  .../blob?n=N         N bytes (Content-Length), deterministic
  anything else        JSON {"ok": true, "method": ..., "body_len": N,
                       "body_sha256": ...} (the request body, Content-Length
                       or chunked, is read and hashed first)

TLS handshakes happen in the connection's thread (a failed one is logged as
{"tls_error": ...}, with no request).  Prints "listening PORT" once ready.
"""
import argparse
import hashlib
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()


def log(path, obj):
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def blob(n):
    block = hashlib.sha512(b"adr-relay-test").digest() * 512  # 32 KiB
    while n > 0:
        k = min(n, len(block))
        yield block[:k]
        n -= k


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_body(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 1 << 16))
                    if not d:
                        raise ConnectionError("short chunk")
                    h.update(d)
                    left -= len(d)
                    n += len(d)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                d = self.rfile.read(min(left, 1 << 16))
                if not d:
                    break
                h.update(d)
                left -= len(d)
                n += len(d)
        return n, h.hexdigest()

    def handle_one(self):
        body_len, body_sha = self.read_body()
        log(self.server.logfile, {
            "method": self.command,
            "target": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "sni": getattr(self.connection, "adr_sni", None),
            "body_len": body_len,
            "body_sha256": body_sha,
        })
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        last = u.path.rsplit("/", 1)[-1]
        self.close_connection = True
        if last == "sse":
            n = int(q.get("n", ["5"])[0])
            ms = float(q.get("ms", ["300"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "keep-alive")
            self.end_headers()
            for i in range(n):
                if i:
                    time.sleep(ms / 1000)
                ev = b"data: %s\n\n" % json.dumps({"i": i, "t": time.clock_gettime_ns(time.CLOCK_MONOTONIC)}).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return
        if last == "redirect":
            self.send_response(307)
            self.send_header("Location", q.get("to", ["/"])[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if last == "blob":
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for c in blob(n):
                self.wfile.write(c)
            return
        out = json.dumps({"ok": True, "method": self.command, "body_len": body_len,
                          "body_sha256": body_sha}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Connection", "keep-alive")  # the relay must turn this into close
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.handle_one()
        # one request per connection, whatever the Connection header said
        # (send_header("Connection", "keep-alive") turned this off)
        self.close_connection = True

    do_POST = do_PUT = do_HEAD = do_DELETE = do_GET


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    ctx = None

    def finish_request(self, request, client_address):
        # head and body are separate writes: without this, Nagle and the
        # peer's delayed ACK hold the body back 40 ms
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ctx is not None:
            try:
                request.settimeout(10)
                request = self.ctx.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                log(self.logfile, {"tls_error": str(e)})
                return
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.2")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    g.add_argument("--plain", action="store_true")
    a = ap.parse_args()
    srv = Server((a.bind, a.port), Handler)
    srv.logfile = a.log
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])

        def sni_cb(sslobj, name, _ctx):
            sslobj.adr_sni = name

        ctx.sni_callback = sni_cb
        srv.ctx = ctx
    open(a.log, "a").close()
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

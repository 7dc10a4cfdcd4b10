#!/usr/bin/env python3
"""A git smart-HTTP server over TLS for adr's tests: `git http-backend`
behind HTTP Basic authentication.

usage: git-server.py --root DIR --user U --password P --log FILE
                     --tls-cert C --tls-key K [--host ADDR] [--port N]
Serves every repository under DIR (fetch and push).  A request without
"Authorization: Basic base64(U:P)" gets 401 with a Basic challenge.  Each
request is logged as one JSON line: method, path, auth (ok, bad, none),
whether the header held an adr sentinel, status.  Prints "listening PORT".
"""
import argparse
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

ARGS = None
LOCK = threading.Lock()


def log(entry):
    with LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet
        pass

    def auth(self):
        h = self.headers.get("authorization", "")
        want = "Basic " + base64.b64encode(("%s:%s" % (ARGS.user, ARGS.password)).encode()).decode()
        if not h:
            return "none", h
        return ("ok" if h == want else "bad"), h

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = self.read_chunked()
        state, h = self.auth()
        entry = {"method": self.command, "path": urlparse(self.path).path, "auth": state,
                 "sentinel": "adr-sentinel-" in h}
        if state != "ok":
            entry["status"] = 401
            log(entry)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="adr-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        u = urlparse(self.path)
        env = dict(os.environ, GIT_PROJECT_ROOT=ARGS.root, GIT_HTTP_EXPORT_ALL="1", REMOTE_USER=ARGS.user,
                   REQUEST_METHOD=self.command, PATH_INFO=u.path, QUERY_STRING=u.query or "",
                   CONTENT_TYPE=self.headers.get("content-type", ""), CONTENT_LENGTH=str(len(body)),
                   REMOTE_ADDR=self.client_address[0])
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        if not _:
            head, _, rest = out.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        entry["status"] = status
        log(entry)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    def read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    do_GET = handle_any
    do_POST = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser(description="git smart-HTTP test server")
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--tls-cert", required=True)
    p.add_argument("--tls-key", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer((ARGS.host, ARGS.port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())

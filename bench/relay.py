#!/usr/bin/env python3
"""Credential relay benchmark: what adr-gateway's relay adds to an API
request, against the same request made directly, on loopback, in one run.

  bench/relay.py GATEWAY_BIN [--requests N] [--streams N] [--chunks N] [--interval-ms MS]

The mock API server is tests/gateway/tls-upstream.py (TLS, a throwaway CA
made here with the openssl CLI).  Two paths, alternating request by
request so that both see the same machine:
  - direct: the client makes the TLS connection to the server itself;
  - relay:  the client speaks plain HTTP to the relay (sentinel in
            x-api-key), the relay does TLS to the server (the key).
Measured:
  - time to first byte of N requests (default 1000), each on a new
    connection (connect, TLS where the path has it, request, first byte of
    the response), p50/p99;
  - an SSE stream (default 5 streams of 200 chunks, one every 5 ms): each
    chunk carries the CLOCK_MONOTONIC time it was written; its latency is
    the arrival time minus that (one clock for every process on the
    machine), p50/p99; and the jitter, |arrival delta - send delta| between
    consecutive chunks, p99.
Prints a markdown table and the machine.
"""
import argparse
import json
import os
import platform
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(HERE, "..", "tests", "gateway", "tls-upstream.py")
SENTINEL = "adr-bench-sentinel-0123456789abcdef"
KEY = "sk-bench-REAL-key-fedcba9876543210"


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(d):
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.pem",
       "-days", "1", "-subj", "/CN=adr relay bench CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/srv.key", "-out", d + "/srv.csr",
       "-subj", "/CN=api.test")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.2,DNS:api.test\n")
    sh("openssl", "x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
       "-CAcreateserial", "-out", d + "/srv.pem", "-days", "1", "-extfile", d + "/ext")


def start_listening(cmd, err):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(err, "w"), text=True)
    line = p.stdout.readline()
    if not line.startswith("listening "):
        raise SystemExit("did not start: %s (%s)" % (" ".join(cmd), open(err).read()))
    return p, int(line.split()[1])


class Paths:
    def __init__(self, up_port, relay_port, ca):
        self.up_port, self.relay_port = up_port, relay_port
        self.ctx = ssl.create_default_context(cafile=ca)

    def open(self, path, target):
        """(socket, request bytes) for target (path and query after /v1)."""
        if path == "direct":
            s = socket.create_connection(("127.0.0.2", self.up_port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s = self.ctx.wrap_socket(s, server_hostname="127.0.0.2")
            req = "GET /v1/%s HTTP/1.1\r\nHost: 127.0.0.2:%d\r\nx-api-key: %s\r\nConnection: close\r\n\r\n" % (
                target, self.up_port, KEY)
        else:
            s = socket.create_connection(("127.0.0.1", self.relay_port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            req = "GET /bench/v1/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nx-api-key: %s\r\n\r\n" % (
                target, self.relay_port, SENTINEL)
        return s, req.encode()


def read_all(s, first=None):
    out = bytearray(first or b"")
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(out)
        out += d


def ttfb(paths, path):
    t0 = now_ns()
    s, req = paths.open(path, "json")
    s.sendall(req)
    first = s.recv(65536)
    t1 = now_ns()
    data = read_all(s, first)
    s.close()
    if not data.startswith(b"HTTP/1.1 200 ") or b'"ok": true' not in data:
        raise SystemExit("%s: bad response %r" % (path, data[:200]))
    return (t1 - t0) / 1e6


def stream(paths, path, chunks, interval_ms):
    """[(send ns, arrival ns)] of each chunk of one SSE stream."""
    s, req = paths.open(path, "sse?n=%d&ms=%g" % (chunks, interval_ms))
    s.sendall(req)
    buf, got = b"", []
    while True:
        d = s.recv(65536)
        t = now_ns()
        if not d:
            break
        buf += d
        while True:
            i = buf.find(b"data: ")
            j = buf.find(b"\n\n", i) if i >= 0 else -1
            if j < 0:
                break
            got.append((json.loads(buf[i + 6:j])["t"], t))
            buf = buf[j + 2:]
    s.close()
    if len(got) != chunks:
        raise SystemExit("%s: %d of %d chunks" % (path, len(got), chunks))
    return got


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(len(v) * p / 100.0 + 0.999) - 1))]  # nearest rank


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d CPUs, Linux %s, Python %s, %s" % (cpu, os.cpu_count(), platform.release(),
                                                    platform.python_version(), ssl.OPENSSL_VERSION)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gateway")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--streams", type=int, default=5)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="adr-relay-bench.")
    make_certs(work)
    procs = []
    try:
        up, up_port = start_listening([sys.executable, UPSTREAM, "--bind", "127.0.0.2", "--log", os.devnull,
                                       "--tls", work + "/srv.pem", work + "/srv.key"], work + "/up.err")
        procs.append(up)
        with open(work + "/routes", "w") as f:
            f.write("route bench https://127.0.0.2:%d\nsentinel %s\nkey %s\npath /v1/*\n" % (up_port, SENTINEL, KEY))
        os.chmod(work + "/routes", 0o400)
        with open(work + "/policy", "w") as f:
            f.write("allow nothing.test 443 bench\n")
        relay_port = free_port()
        gw = subprocess.Popen([a.gateway, "--policy", work + "/policy", "--log", work + "/relay.jsonl",
                               "--sandbox", "bench", "--bind", "127.0.0.1", "--proxy-port", str(free_port()),
                               "--dns-port", str(free_port()), "--relay", work + "/routes", "--ca", work + "/ca.pem",
                               "--relay-port", str(relay_port), "--ready-file", work + "/ready"],
                              stdout=subprocess.DEVNULL, stderr=open(work + "/gw.err", "w"))
        procs.append(gw)
        for _ in range(200):
            if os.path.exists(work + "/ready") and os.path.getsize(work + "/ready") > 0:
                break
            time.sleep(0.02)
        else:
            raise SystemExit("relay did not start: " + open(work + "/gw.err").read())
        paths = Paths(up_port, relay_port, work + "/ca.pem")
        names = ("direct", "relay")
        for _ in range(20):  # warm-up
            for p in names:
                ttfb(paths, p)
        t = {p: [] for p in names}
        for i in range(a.requests):
            for p in (names if i % 2 == 0 else names[::-1]):
                t[p].append(ttfb(paths, p))
        lat = {p: [] for p in names}
        jit = {p: [] for p in names}
        for i in range(a.streams):
            for p in (names if i % 2 == 0 else names[::-1]):
                g = stream(paths, p, a.chunks, a.interval_ms)
                lat[p] += [(r - s) / 1e6 for s, r in g]
                jit[p] += [abs((g[k][1] - g[k - 1][1]) - (g[k][0] - g[k - 1][0])) / 1e6 for k in range(1, len(g))]
        want = a.requests + 20 + a.streams
        for _ in range(100):  # a line is written once its client has closed
            lines = sum(1 for _ in open(work + "/relay.jsonl"))
            if lines >= want:
                break
            time.sleep(0.02)
        leaked = KEY in open(work + "/relay.jsonl").read() or SENTINEL in open(work + "/relay.jsonl").read()
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    def ms(x):
        return "%.2f ms" % x

    print("Credential relay, loopback: %d requests per path (new connection each), %d SSE streams of %d chunks "
          "every %g ms per path\n" % (a.requests, a.streams, a.chunks, a.interval_ms))
    print("| path | TTFB p50 | TTFB p99 | chunk latency p50 | chunk latency p99 | chunk jitter p99 |")
    print("|---|---|---|---|---|---|")
    for p in names:
        print("| %s | %s | %s | %s | %s | %s |" % (p, ms(pct(t[p], 50)), ms(pct(t[p], 99)), ms(pct(lat[p], 50)),
                                                 ms(pct(lat[p], 99)), ms(pct(jit[p], 99))))
    d = lambda f, q: f["relay"] and pct(f["relay"], q) - pct(f["direct"], q)  # noqa: E731
    print("| **added by the relay** | %+.2f ms | **%+.2f ms** | %+.2f ms | **%+.2f ms** | %+.2f ms |" % (
        d(t, 50), d(t, 99), d(lat, 50), d(lat, 99), d(jit, 99)))
    print("\nrelay log: %d lines (expected %d), key or sentinel in it: %s" % (lines, want, "YES" if leaked else "no"))
    print("machine: %s" % machine())
    goal = d(t, 99) < 2.0 and d(lat, 99) < 2.0
    print("goal (< 2 ms p99 added, TTFB and per chunk): %s" % ("met" if goal else "NOT met"))


if __name__ == "__main__":
    main()

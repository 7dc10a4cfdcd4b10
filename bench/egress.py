#!/usr/bin/env python3
"""Egress gateway benchmark: adr-gateway against direct connections and
against tinyproxy, all on loopback, in one run.

  bench/egress.py GATEWAY_BIN [--gib N] [--requests N] [--conns N]

Measures, for each path (direct, adr-gateway CONNECT, tinyproxy CONNECT):
  - throughput of one N GiB download (default 1) through a CONNECT tunnel;
  - latency of N sequential small HTTP requests (default 2000), each on a
    new connection (absolute-form GET through the proxies), p50/p99, and
    the added latency against direct;
  - N concurrent idle tunnels (default 1000) held open at once, and the
    proxy's resident memory (VmRSS, all its processes) while they are.
Prints a markdown snippet.
"""
import argparse
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

CHUNK = 1 << 20


class Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096


def upstream_servers():
    """A bulk source (sends N bytes, N from an 8-byte request) and a small
    HTTP responder."""
    payload = b"\0" * CHUNK

    class Bulk(socketserver.BaseRequestHandler):
        def handle(self):
            want = b""
            while len(want) < 16:
                c = self.request.recv(16 - len(want))
                if not c:
                    return
                want += c
            n = int.from_bytes(want[:8], "big")
            rate = int.from_bytes(want[8:], "big")  # bytes/s, 0 = as fast as possible
            mv = memoryview(payload)
            t0, sent = time.perf_counter(), 0
            while n > 0:
                k = min(n, CHUNK)
                self.request.sendall(mv[:k])
                n -= k
                sent += k
                if rate:
                    ahead = t0 + sent / rate - time.perf_counter()
                    if ahead > 0:
                        time.sleep(ahead)

    class Http(socketserver.BaseRequestHandler):
        def handle(self):
            data = b""
            while b"\r\n\r\n" not in data:
                c = self.request.recv(4096)
                if not c:
                    break
                data += c
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    class Hold(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                while self.request.recv(4096):
                    pass
            except OSError:
                pass

    out = {}
    for name, h in (("bulk", Bulk), ("http", Http), ("hold", Hold)):
        s = Threaded(("127.0.0.1", 0), h)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        out[name] = s.server_address[1]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    t = time.time() + timeout
    while time.time() < t:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("port %d never answered" % port)


def connect_via(proxy, port):
    """A socket to 127.0.0.1:port, directly (proxy None) or through CONNECT."""
    if proxy is None:
        return socket.create_connection(("127.0.0.1", port))
    s = socket.create_connection(("127.0.0.1", proxy))
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port))
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(4096)
        if not c:
            raise SystemExit("proxy closed the CONNECT")
        data += c
    if b" 200" not in data.split(b"\r\n")[0]:
        raise SystemExit("CONNECT refused: %r" % data[:100])
    return s


def cpu_s(pids):
    """user+sys CPU seconds of pids (all threads)."""
    t = 0
    for p in pids:
        try:
            f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            t += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return t


def throughput(proxy, port, nbytes, rate=0):
    s = connect_via(proxy, port)
    s.sendall(nbytes.to_bytes(8, "big") + rate.to_bytes(8, "big"))
    buf = bytearray(4 * CHUNK)
    got = 0
    t0 = time.perf_counter()
    while got < nbytes:
        k = s.recv_into(buf)
        if k == 0:
            break
        got += k
    dt = time.perf_counter() - t0
    s.close()
    if got != nbytes:
        raise SystemExit("short transfer: %d of %d" % (got, nbytes))
    return nbytes / dt


def latency(proxy, port, n):
    out = []
    req_direct = b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port
    req_proxy = b"GET http://127.0.0.1:%d/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port)
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", proxy if proxy else port))
        s.sendall(req_proxy if proxy else req_direct)
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        s.close()
        out.append(time.perf_counter() - t0)
        if not data.endswith(b"ok"):
            raise SystemExit("bad response: %r" % data[:200])
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            for tid_line in open("/proc/%d/status" % p):
                if tid_line.startswith("VmRSS:"):
                    total += int(tid_line.split()[1])
        except OSError:
            pass
    return total


def tree(pid):
    """pid and its descendants (tinyproxy forks)."""
    out = [pid]
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        kids = []
    for k in kids:
        out += tree(int(k))
    return out


def hold(proxy, port, n):
    socks = []
    for _ in range(n):
        socks.append(connect_via(proxy, port))
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gateway")
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1024, help="MiB/s of the paced transfer (a link, not loopback)")
    a = ap.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    ups = upstream_servers()
    work = tempfile.mkdtemp()
    procs = {}
    # adr-gateway, allowing the loopback upstreams (listed as such)
    gw_port = free_port()
    with open(os.path.join(work, "policy"), "w") as f:
        f.write("allow 127.0.0.1 * bench loopback\n")
    gw = subprocess.Popen([a.gateway, "--policy", os.path.join(work, "policy"),
                           "--log", os.path.join(work, "egress.jsonl"), "--sandbox", "bench",
                           "--bind", "127.0.0.1", "--proxy-port", str(gw_port),
                           "--dns-port", str(free_port()), "--max-conns", str(a.conns + 100)],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "gw.err"), "w"))
    procs["adr-gateway"] = (gw, gw_port)
    tp = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if os.path.exists(tp):
        tp_port = free_port()
        conf = os.path.join(work, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients %d\nLogLevel Critical\n"
                    "ConnectPort %d\nConnectPort %d\nConnectPort %d\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
                    % (tp_port, a.conns + 100, ups["bulk"], ups["http"], ups["hold"]))
        t = subprocess.Popen([tp, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs["tinyproxy"] = (t, tp_port)
    for name, (p, port) in procs.items():
        wait_port(port)

    nbytes = int(a.gib * (1 << 30))
    rows = {}
    for name, proxy in [("direct", None)] + [(n, port) for n, (_, port) in procs.items()]:
        r = {}
        throughput(proxy, ups["bulk"], 64 << 20)  # warm up
        pids = tree(procs[name][0].pid) if proxy is not None else []
        c0 = cpu_s(pids)
        r["tput"] = throughput(proxy, ups["bulk"], nbytes)
        r["cpu"] = cpu_s(pids) - c0
        r["paced"] = throughput(proxy, ups["bulk"], nbytes, a.rate << 20)
        latency(proxy, ups["http"], 50)  # warm up
        r["p50"], r["p99"] = latency(proxy, ups["http"], a.requests)
        if proxy is not None:
            p = procs[name][0]
            base = rss_kib(tree(p.pid))
            socks = hold(proxy, ups["hold"], a.conns)
            time.sleep(0.5)
            r["rss_idle"] = base
            r["rss_held"] = rss_kib(tree(p.pid))
            r["held"] = len(socks)
            for s in socks:
                s.close()
        rows[name] = r

    d = rows["direct"]
    print("| path | %.0f GiB, loopback | vs direct | %.0f GiB at %d MiB/s | vs direct | proxy CPU per GiB |"
          " latency p50 | p99 | added p50 | added p99 | RSS idle | RSS with %d tunnels |"
          % (a.gib, a.gib, a.rate, a.conns))
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        extra = ("| %.1f MiB | %.1f MiB |" % (r["rss_idle"] / 1024, r["rss_held"] / 1024)) if "held" in r else "| – | – |"
        cpu = "–" if name == "direct" else "%.0f ms" % (r["cpu"] * 1000 / a.gib)
        print("| %s | %.2f GiB/s | %.2f | %.0f MiB/s | %.3f | %s | %.0f µs | %.0f µs | %s | %s %s" % (
            name, r["tput"] / (1 << 30), r["tput"] / d["tput"], r["paced"] / (1 << 20), r["paced"] / d["paced"],
            cpu, r["p50"] * 1e6, r["p99"] * 1e6,
            "–" if name == "direct" else "%+.0f µs" % ((r["p50"] - d["p50"]) * 1e6),
            "–" if name == "direct" else "%+.0f µs" % ((r["p99"] - d["p99"]) * 1e6), extra))
    for p, _ in procs.values():
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Test clients for gateway.bats.

  client.py raw PORT [--count FILE]         stdin (LF turned into CRLF) to 127.0.0.1:PORT,
                                            the whole answer to stdout (and its length to FILE)
  client.py connect PROXYPORT HOST:PORT     CONNECT through the proxy, then GET / on the tunnel;
                                            prints the CONNECT status line, then the answer
  client.py tls PORT SNI CAFILE             TLS to 127.0.0.1:PORT with server_hostname=SNI
                                            (verified against CAFILE), GET /; prints the answer
  client.py big PROXYPORT HOST:PORT BYTES   through CONNECT: GET /blob/BYTES and POST BYTES to
                                            /sha256; checks both sha256 sums, prints "ok"
  client.py hold PROXYPORT HOST:PORT N PID  N idle CONNECT tunnels (to an echo server), then
                                            prints "rss_kb K" (PID's VmRSS) and "ok" when every
                                            tunnel still echoes
  client.py dns PORT NAME TYPE [--tcp]      one query; prints "rcode R answers N" and one line
                                            per A/AAAA answer
"""
import hashlib
import ipaddress
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from upstream import blob_chunks  # noqa: E402


def recv_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(1)
        if not d:
            break
        buf += d
    return buf


def tunnel(pport, target):
    s = socket.create_connection(("127.0.0.1", pport), timeout=60)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    head = read_head(s)
    return s, head


def cmd_raw(a):
    data = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    s = socket.create_connection(("127.0.0.1", int(a[0])), timeout=30)
    s.sendall(data)
    out = recv_all(s)
    sys.stdout.buffer.write(out)
    if len(a) > 2 and a[1] == "--count":
        open(a[2], "w").write("%d %d\n" % (len(data), len(out)))


def cmd_connect(a):
    s, head = tunnel(int(a[0]), a[1])
    line = head.split(b"\r\n")[0].decode()
    print(line)
    if " 200 " not in line:
        sys.stdout.write(head.decode(errors="replace").split("\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else "")
        sys.stdout.write(recv_all(s).decode(errors="replace"))
        return 1
    host = a[1].rsplit(":", 1)[0]
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    sys.stdout.write(recv_all(s).decode(errors="replace"))
    return 0


def cmd_tls(a):
    ctx = ssl.create_default_context(cafile=a[2])
    raw = socket.create_connection(("127.0.0.1", int(a[0])), timeout=30)
    s = ctx.wrap_socket(raw, server_hostname=a[1])
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % a[1].encode())
    sys.stdout.write(recv_all(s).decode(errors="replace"))


def cmd_big(a):
    pport, target, n = int(a[0]), a[1], int(a[2])
    host = target.rsplit(":", 1)[0]
    want = hashlib.sha256()
    for c in blob_chunks(n):
        want.update(c)
    want = want.hexdigest()
    # down: GET /blob/N
    s, head = tunnel(pport, target)
    assert b" 200 " in head.split(b"\r\n")[0], head
    s.sendall(b"GET /blob/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, host.encode()))
    rh = read_head(s)
    assert b" 200 " in rh.split(b"\r\n")[0], rh
    got, total = hashlib.sha256(), 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got.update(d)
        total += len(d)
    if total != n or got.hexdigest() != want:
        print("download: %d bytes, sha256 %s, want %d %s" % (total, got.hexdigest(), n, want))
        return 1
    s.close()
    # up: POST /sha256
    s, head = tunnel(pport, target)
    assert b" 200 " in head.split(b"\r\n")[0], head
    s.sendall(b"POST /sha256 HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (host.encode(), n))
    for c in blob_chunks(n):
        s.sendall(c)
    answer = recv_all(s).split(b"\r\n\r\n", 1)[1].decode().strip()
    if answer != want:
        print("upload: server saw sha256 %s, want %s" % (answer, want))
        return 1
    print("ok")
    return 0


def vmrss(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def cmd_hold(a):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pport, target, n, pid = int(a[0]), a[1], int(a[2]), a[3]
    socks = []
    req = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode())
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", pport), timeout=60)
        s.sendall(req)
        socks.append(s)
    for s in socks:
        head = read_head(s)
        if b" 200 " not in head.split(b"\r\n")[0]:
            print("tunnel failed: %r" % head)
            return 1
    time.sleep(0.5)
    print("rss_kb %d" % vmrss(pid))
    for i, s in enumerate(socks):
        msg = b"ping %d\n" % i
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = s.recv(100)
            if not d:
                break
            got += d
        if got != msg:
            print("tunnel %d: echo %r" % (i, got))
            return 1
    for s in socks:
        s.close()
    print("ok")
    return 0


TYPES = {"A": 1, "AAAA": 28, "HTTPS": 65, "MX": 15, "TXT": 16, "PTR": 12}


def cmd_dns(a):
    port, name, qt = int(a[0]), a[1], TYPES[a[2]]
    tcp = "--tcp" in a
    q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0" + struct.pack("!HH", qt, 1)
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(struct.pack("!H", len(q)) + q)
        ln = struct.unpack("!H", s.recv(2))[0]
        r = b""
        while len(r) < ln:
            r += s.recv(ln - len(r))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(q, ("127.0.0.1", port))
        r = s.recv(4096)
    qid, flags, qd, an = struct.unpack("!HHHH", r[:8])
    assert qid == 0x4242 and flags & 0x8000 and qd == 1
    assert r[12:len(q)] == q[12:], "question not echoed"
    print("rcode %d answers %d" % (flags & 0xF, an))
    i = len(q)
    for _ in range(an):
        t, _c, ttl, rl = struct.unpack("!HHIH", r[i + 2:i + 12])
        data = r[i + 12:i + 12 + rl]
        if t in (1, 28):
            print("%s %s ttl %d" % ("A" if t == 1 else "AAAA", ipaddress.ip_address(data), ttl))
        i += 12 + rl
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    f = {"raw": cmd_raw, "connect": cmd_connect, "tls": cmd_tls, "big": cmd_big, "hold": cmd_hold,
         "dns": cmd_dns}[cmd]
    return f(args) or 0


if __name__ == "__main__":
    sys.exit(main())

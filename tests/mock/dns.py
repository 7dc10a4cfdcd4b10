#!/usr/bin/env python3
"""A small DNS responder for tests: "a resolver you run".

    python3 tests/mock/dns.py --port 0 --map name=ip[,ip...] ... --log FILE [--bind ADDR]
                              [--delay-ms MS]

Answers A (IPv4 values) and AAAA (IPv6 values) for the mapped names
(case-insensitive, trailing dot ignored), NOERROR with no answers for a
mapped name's other types, NXDOMAIN for everything else.  UDP and TCP on
the same port.  Every query it receives is appended to the log file as one
line "NAME QTYPE" (NAME lowercased, without the trailing dot), flushed at
once.  --delay-ms: every UDP answer leaves MS milliseconds after its
question came (a slow resolver; questions are still logged at once).
Prints "listening PORT" on stdout when ready; exits on SIGTERM.
"""
import argparse
import ipaddress
import selectors
import signal
import socket
import struct
import sys
import time

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 64: "SVCB", 65: "HTTPS", 255: "ANY"}


def parse_query(m):
    """(id, flags, name, qtype, qclass, end) or None."""
    if len(m) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", m[:6])
    if flags & 0x8000 or qd != 1:
        return None
    i, labels = 12, []
    while True:
        if i >= len(m):
            return None
        ln = m[i]
        i += 1
        if ln == 0:
            break
        if ln > 63 or i + ln > len(m):
            return None
        labels.append(m[i:i + ln].decode("latin-1"))
        i += ln
    if i + 4 > len(m):
        return None
    qtype, qclass = struct.unpack("!HH", m[i:i + 4])
    return qid, flags, ".".join(labels), qtype, qclass, i + 4


def answer(m, table, log):
    q = parse_query(m)
    if q is None:
        if len(m) >= 12:
            log.write("- FORMERR\n")
            log.flush()
            return m[:2] + struct.pack("!HHHHH", 0x8081, 0, 0, 0, 0)
        return None
    qid, flags, name, qtype, qclass, end = q
    key = name.lower().rstrip(".")
    log.write("%s %s\n" % (key, TYPES.get(qtype, "TYPE%d" % qtype)))
    log.flush()
    rrs = []
    rcode = 0
    if key not in table:
        rcode = 3
    else:
        for ip in table[key]:
            if qtype == 1 and ip.version == 4:
                rrs.append(struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + ip.packed)
            elif qtype == 28 and ip.version == 6:
                rrs.append(struct.pack("!HHHIH", 0xC00C, 28, 1, 5, 16) + ip.packed)
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x0100) | 0x0080 | 0x0400 | rcode, 1, len(rrs), 0, 0)
    return hdr + m[12:end] + b"".join(rrs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--map", action="append", default=[], help="name=ip[,ip...]")
    ap.add_argument("--log", required=True)
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()
    table = {}
    for item in a.map:
        name, _, ips = item.partition("=")
        table.setdefault(name.lower().rstrip("."), []).extend(ipaddress.ip_address(x) for x in ips.split(",") if x)
    log = open(a.log, "a")
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    udp = socket.socket(fam, socket.SOCK_DGRAM)
    udp.bind((a.bind, a.port))
    port = udp.getsockname()[1]
    tcp = socket.socket(fam, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp.bind((a.bind, port))
        tcp.listen(16)
    except OSError:
        tcp.close()
        tcp = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    if tcp:
        sel.register(tcp, selectors.EVENT_READ, "tcp")
    bufs = {}
    later = []  # (due, peer, answer), oldest first: --delay-ms
    print("listening %d" % port, flush=True)
    while True:
        now = time.monotonic()
        while later and later[0][0] <= now:
            _, peer, r = later.pop(0)
            udp.sendto(r, peer)
        timeout = max(0.0, later[0][0] - now) if later else None
        for key, _ in sel.select(timeout):
            s = key.fileobj
            if key.data == "udp":
                m, peer = s.recvfrom(4096)
                r = answer(m, table, log)
                if r and a.delay_ms:
                    later.append((time.monotonic() + a.delay_ms / 1000.0, peer, r))
                elif r:
                    s.sendto(r, peer)
            elif key.data == "tcp":
                c, _ = s.accept()
                bufs[c] = b""
                sel.register(c, selectors.EVENT_READ, "conn")
            else:
                d = s.recv(4096)
                if not d:
                    sel.unregister(s)
                    bufs.pop(s, None)
                    s.close()
                    continue
                bufs[s] += d
                while len(bufs[s]) >= 2:
                    ln = struct.unpack("!H", bufs[s][:2])[0]
                    if len(bufs[s]) < 2 + ln:
                        break
                    m, bufs[s] = bufs[s][2:2 + ln], bufs[s][2 + ln:]
                    r = answer(m, table, log)
                    if r:
                        s.sendall(struct.pack("!H", len(r)) + r)


if __name__ == "__main__":
    main()

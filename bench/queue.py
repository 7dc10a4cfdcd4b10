#!/usr/bin/env python3
"""Queue throughput and claim latency of one coordinator (adr serve), and its
memory with 1,000 queued runs and 50 runners waiting for work.

  bench/queue.py URL PID [N_RUNS] [CLAIMERS]

URL: the coordinator (--no-auth); PID: its process (for VmRSS).  Prints
one JSON line: runs/s claimed (claim + finish, CLAIMERS at once, each on a
kept-alive connection), claim latency p50/p99 in ms, and RSS in KiB.
"""
import http.client, json, sys, threading, time, urllib.parse

url, pid = sys.argv[1], int(sys.argv[2])
n_runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
claimers = int(sys.argv[4]) if len(sys.argv) > 4 else 4
u = urllib.parse.urlparse(url)


def conn():
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


c = conn()
for i in range(n_runs):
    st, _ = call(c, "POST", "/v1/runs", {"agent": "noop", "repo": "/r", "prompt": f"run {i}"})
    assert st == 201, st
rss_queued = rss_kib()

lat, lock, done = [], threading.Lock(), [0]


def claimer(k):
    cc = conn()
    while True:
        t0 = time.perf_counter()
        st, run = call(cc, "POST", "/v1/claim", {"runner": f"b{k}"})
        t1 = time.perf_counter()
        if st == 204:
            return
        assert st == 200, st
        st, _ = call(cc, "POST", f"/v1/runs/{run['id']}/finish", {"runner": f"b{k}", "exit_code": 0})
        assert st == 200, st
        with lock:
            lat.append((t1 - t0) * 1000)
            done[0] += 1


t0 = time.perf_counter()
ts = [threading.Thread(target=claimer, args=(k,)) for k in range(claimers)]
for t in ts:
    t.start()
for t in ts:
    t.join()
elapsed = time.perf_counter() - t0
assert done[0] == n_runs, done[0]
lat.sort()

# 50 runners waiting for work (long-poll), 1,000 runs queued for others (tagged)
for i in range(n_runs):
    call(c, "POST", "/v1/runs", {"agent": "noop", "repo": "/r", "prompt": f"later {i}", "tags": ["elsewhere"]})
waiting = []


def waiter(k):
    cc = conn()
    call(cc, "POST", "/v1/claim", {"runner": f"w{k}", "wait_s": 8})


for k in range(50):
    t = threading.Thread(target=waiter, args=(k,))
    t.start()
    waiting.append(t)
time.sleep(3)
rss_waiting = rss_kib()
for t in waiting:
    t.join()
print(json.dumps({
    "runs": n_runs, "claimers": claimers, "runs_per_s": round(n_runs / elapsed, 1),
    "claim_p50_ms": round(lat[len(lat) // 2], 2), "claim_p99_ms": round(lat[int(len(lat) * 0.99)], 2),
    "rss_kib_1000_queued": rss_queued, "rss_kib_1000_queued_50_waiting": rss_waiting,
}))

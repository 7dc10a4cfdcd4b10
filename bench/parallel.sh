#!/usr/bin/env bash
# What a pool-less allowlist run would gain from starting the sandbox and
# its gateway at once: a fresh internal network, a gateway-like container
# (docker run -d), the sandbox (docker run --rm ... true); sequential
# against parallel, N times each, cleanup outside the timed part.
# Usage: bench/parallel.sh [N] (default 8). Needs: a running engine,
# debian:bookworm-slim (scripts/make-bookworm-slim.sh).
set -euo pipefail
N=${1:-8}
img=debian:bookworm-slim
out=$(mktemp)
trap 'rm -f "$out"' EXIT
now() { date +%s%N; }
clean() { docker rm -f par-gw >/dev/null 2>&1 || true; docker network rm par-net >/dev/null 2>&1 || true; }
clean
for _ in $(seq "$N"); do
  t0=$(now)
  docker network create --internal par-net >/dev/null
  docker run -d --name par-gw --network par-net "$img" sleep 30 >/dev/null
  docker run --rm --network par-net "$img" true
  t1=$(now); clean
  t2=$(now)
  docker network create --internal par-net >/dev/null
  docker run -d --name par-gw --network par-net "$img" sleep 30 >/dev/null &
  docker run --rm --network par-net "$img" true
  wait
  t3=$(now); clean
  echo $(((t1 - t0) / 1000000)) $(((t3 - t2) / 1000000))
done >"$out"
sort -n -k1 "$out" | awk '{ a[NR] = $1 } END { print "sequential median", a[int((NR + 1) / 2)], "ms" }'
sort -n -k2 "$out" | awk '{ a[NR] = $2 } END { print "parallel median", a[int((NR + 1) / 2)], "ms" }'

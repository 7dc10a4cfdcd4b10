#!/usr/bin/env bash
# Benchmark: the coordinator's queue on SQLite and on PostgreSQL, in the
# same run: runs/s claimed and finished by 4 runners at once, claim
# latency p50/p99, and the coordinator's RSS with 1,000 runs queued and 50
# runners long-polling.  Starts its own PostgreSQL server (unix socket in
# a temporary directory) as scripts/test.sh does.  Prints a markdown
# snippet for docs/benchmarks.md.
#
# Usage: bench/queue.sh [N_RUNS]   (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ADR=${ADR_BIN:-$PWD/build/adr}
work=$(mktemp -d)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
SERVE=""
cleanup() {
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
  pg_as "$PGBIN/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 711 "$work" # the postgres user passes through to its own dir
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
pg_as "$PGBIN/initdb" -D "$work/pg/data" -A trust -U adr -E UTF8 >/dev/null
# durable as a server is by default (fsync on): what a deployment pays
pg_as "$PGBIN/pg_ctl" -D "$work/pg/data" -o "-k $work/pg -c listen_addresses=''" -w -l "$work/pg/log" start >/dev/null
"$PGBIN/createdb" -h "$work/pg" -U adr bench

measure() { # store
  "$ADR" serve --no-auth --listen 127.0.0.1:0 --store "$1" >"$work/serve.out" 2>&1 &
  SERVE=$!
  local u=""
  for _ in $(seq 100); do u=$(awk '/listening on/ { print $5 }' "$work/serve.out"); [ -n "$u" ] && break; sleep 0.05; done
  python3 bench/queue.py "$u" "$SERVE" "$N" 4
  kill "$SERVE"; wait "$SERVE" 2>/dev/null || true; SERVE=""
}
sq=$(measure "sqlite:$work/q.db")
pg=$(measure "postgresql:///bench?host=$work/pg&user=adr")
row() { echo "$2" | python3 -c "import json,sys; d=json.load(sys.stdin); print('| $1 | %s | %s ms | %s ms | %.1f MiB | %.1f MiB |' % (d['runs_per_s'], d['claim_p50_ms'], d['claim_p99_ms'], d['rss_kib_1000_queued']/1024, d['rss_kib_1000_queued_50_waiting']/1024))"; }
echo "### The coordinator's queue ($N runs, 4 runners claiming at once)"
echo
echo "$(date +%F), $(nproc) cores; every run claimed and finished once; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') with fsync on."
echo
echo "| store | runs/s (claim + finish) | claim p50 | claim p99 | RSS, $N queued | RSS, + 50 runners waiting |"
echo "|---|---|---|---|---|---|"
row SQLite "$sq"
row PostgreSQL "$pg"

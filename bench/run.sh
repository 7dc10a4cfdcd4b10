#!/usr/bin/env bash
# Benchmark: a headless no-op `adr run` against the equivalent raw `docker run`
# with the same hardening flags, paired in one run (alternating, N each).
# Reports median/p90 wall time, the ratio, and adr's own CPU time per run.
# Usage: bench/run.sh [N]   (default 20)   Needs: a running engine,
# debian:bookworm-slim (scripts/make-bookworm-slim.sh), build/adr.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
ADR=${ADR_BIN:-$PWD/build/adr}
DOCKER=$(command -v /usr/bin/docker || command -v docker)
work=$(mktemp -d)
trap 'rm -rf "$work"; "$DOCKER" rmi benchadr/sh:latest >/dev/null 2>&1 || true' EXIT

. bench/lib.sh
bench_init benchadr '{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "true",
  "args": { "interactive": [], "headless": ["{prompt}"] } }'
raw() {
  "$DOCKER" run --rm "${HARDENED[@]}" --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchadr/sh:latest /usr/local/bin/adr-entry true x
}
viaadr() { (cd "$work/ws" && "$ADR" run sh --prompt x); }

# warm up both paths once
raw >/dev/null; viaadr >/dev/null

: >"$work/raw" ; : >"$work/adr" ; : >"$work/cpu"
for _ in $(seq "$N"); do
  t0=$(now); raw >/dev/null; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/raw"
  read -r wall cpu < <(cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --prompt x)
  echo "$wall" >>"$work/adr"; echo "$cpu" >>"$work/cpu"
done

read -r rm rp < <(stat "$work/raw")
read -r am ap < <(stat "$work/adr")
read -r cm cp < <(stat "$work/cpu")
ratio=$(awk -v a="$am" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
echo "| what | median | p90 |"
echo "|---|---|---|"
printf '| raw `docker run` (same flags, %s runs) | %d ms | %d ms |\n' "$N" $((rm / 1000)) $((rp / 1000))
printf '| `adr run --prompt` (%s runs) | %d ms | %d ms |\n' "$N" $((am / 1000)) $((ap / 1000))
printf '| ratio adr / docker | %s | |\n' "$ratio"
printf '| adr CPU (user+sys) per run | %d.%03d ms | %d.%03d ms |\n' $((cm / 1000)) $((cm % 1000)) $((cp / 1000)) $((cp % 1000))

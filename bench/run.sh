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
raw() { # extra docker run flags...
  "$DOCKER" run --rm "${HARDENED[@]}" "$@" --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchadr/sh:latest /usr/local/bin/adr-entry true x
}
viaadr() { (cd "$work/ws" && "$ADR" run sh "$@" --prompt x); }

# Pairs, alternating in one loop: the like-for-like one (no network on
# either side: adr's hardening and bookkeeping only), and adr's default
# allowlist mode (an internal network and the egress gateway container
# made and removed around the sandbox) against the raw run on the bridge.
raw --network none >/dev/null; viaadr --network none >/dev/null; raw >/dev/null; viaadr >/dev/null

: >"$work/raw" ; : >"$work/adr" ; : >"$work/cpu" ; : >"$work/rawb" ; : >"$work/allow" ; : >"$work/cpua"
for _ in $(seq "$N"); do
  t0=$(now); raw --network none >/dev/null; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/raw"
  read -r wall cpu < <(cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --network none --prompt x)
  echo "$wall" >>"$work/adr"; echo "$cpu" >>"$work/cpu"
  t0=$(now); raw >/dev/null; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/rawb"
  read -r wall cpu < <(cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --prompt x)
  echo "$wall" >>"$work/allow"; echo "$cpu" >>"$work/cpua"
done

read -r rm rp < <(stat "$work/raw")
read -r am ap < <(stat "$work/adr")
read -r cm cp < <(stat "$work/cpu")
read -r bm bp < <(stat "$work/rawb")
read -r lm lp < <(stat "$work/allow")
read -r dm dp < <(stat "$work/cpua")
ratio=$(awk -v a="$am" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
ratio2=$(awk -v a="$lm" -v r="$bm" 'BEGIN { printf "%.3f", a / r }')
echo "| what | median | p90 |"
echo "|---|---|---|"
printf '| raw `docker run --network none` (same flags, %s runs) | %d ms | %d ms |\n' "$N" $((rm / 1000)) $((rp / 1000))
printf '| `adr run --network none --prompt` (%s runs) | %d ms | %d ms |\n' "$N" $((am / 1000)) $((ap / 1000))
printf '| ratio adr / docker, no network on either side | **%s** | |\n' "$ratio"
printf '| adr CPU (user+sys) per run | %d.%03d ms | %d.%03d ms |\n' $((cm / 1000)) $((cm % 1000)) $((cp / 1000)) $((cp % 1000))
printf '| raw `docker run` on the bridge (no policy) | %d ms | %d ms |\n' $((bm / 1000)) $((bp / 1000))
printf '| `adr run --prompt`, default allowlist (network + gateway made and removed) | %d ms | %d ms |\n' $((lm / 1000)) $((lp / 1000))
printf '| ratio adr allowlist / raw bridge | %s | |\n' "$ratio2"
printf '| adr CPU (user+sys) per allowlist run | %d.%03d ms | %d.%03d ms |\n' $((dm / 1000)) $((dm % 1000)) $((dp / 1000)) $((dp % 1000))

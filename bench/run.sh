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
trap '"$ADR" prune >/dev/null 2>&1 || true; rm -rf "$work"; "$DOCKER" rmi benchadr/sh:latest >/dev/null 2>&1 || true' EXIT

. bench/lib.sh
bench_init benchadr "$BENCH_NOOP_AGENT"
raw() { bench_raw benchadr "$@"; } # extra docker run flags...
viaadr() { (cd "$work/ws" && "$ADR" run sh "$@" --prompt x); }

# Pairs, alternating in one loop: the like-for-like one (no network on
# either side: adr's hardening and bookkeeping only), and adr's default
# allowlist mode (its own internal network and egress gateway) against the
# raw run on the bridge, with the egress pool (the default: a unit made
# ahead is claimed) and without it (ADR_EGRESS_POOL=0: made for the run).
# Every command goes through cputime.py, which waits for what it left
# behind: adr's detached teardown and pool refill are in adr's CPU and in
# the "settled" column, and never overlap the next measurement.
raw --network none >/dev/null; viaadr --network none >/dev/null; raw >/dev/null; viaadr >/dev/null
# the same configuration with ADR_EGRESS_POOL=0, and state of its own (it
# would drain the pool of the runs with one)
nopool=$work/home/.config-nopool nopool_state=$work/home/.state-nopool
mkdir -p "$nopool" && cp -r "$XDG_CONFIG_HOME/adr" "$nopool/" && echo "ADR_EGRESS_POOL=0" >>"$nopool/adr/config"

measure() { # name command... : appends "WALL_US CPU_US SETTLED_US" to $work/name
  local f=$1; shift
  python3 bench/cputime.py "$@" >>"$work/$f"
}
for f in raw adr rawb allow nopool; do : >"$work/$f"; done
for _ in $(seq "$N"); do
  measure raw "$DOCKER" run --rm "${HARDENED[@]}" --network none --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchadr/sh:latest /usr/local/bin/adr-entry true x
  (cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --network none --prompt x >>"$work/adr")
  measure rawb "$DOCKER" run --rm "${HARDENED[@]}" --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchadr/sh:latest /usr/local/bin/adr-entry true x
  (cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --prompt x >>"$work/allow")
  (cd "$work/ws" && XDG_CONFIG_HOME=$nopool XDG_STATE_HOME=$nopool_state python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --prompt x >>"$work/nopool")
done

col() { awk -v c="$2" '{ print $c }' "$work/$1" >"$work/$1.$2"; stat "$work/$1.$2"; }
ms() { printf '%d ms' $(($1 / 1000)); }
cpu() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
ratio() { awk -v a="$1" -v r="$2" 'BEGIN { printf "%.3f", a / r }'; }
read -r rm rp < <(col raw 1);    read -r rcm rcp < <(col raw 2)
read -r am ap < <(col adr 1);    read -r acm acp < <(col adr 2)
read -r bm bp < <(col rawb 1);   read -r bcm bcp < <(col rawb 2)
read -r lm lp < <(col allow 1);  read -r lcm lcp < <(col allow 2); read -r lsm lsp < <(col allow 3)
read -r nm np < <(col nopool 1); read -r ncm ncp < <(col nopool 2); read -r nsm nsp < <(col nopool 3)
echo "| what ($N runs each, alternating) | median | p90 |"
echo "|---|---|---|"
echo "| raw \`docker run --network none\` (same hardening) | $(ms "$rm") | $(ms "$rp") |"
echo "| \`adr run --network none --prompt\` | $(ms "$am") | $(ms "$ap") |"
echo "| **ratio adr / docker, no network on either side** | **$(ratio "$am" "$rm")** | **$(ratio "$ap" "$rp")** |"
echo "| raw \`docker run\` on the bridge (no policy) | $(ms "$bm") | $(ms "$bp") |"
echo "| \`adr run --prompt\`, default allowlist, egress pool (status returned) | $(ms "$lm") | $(ms "$lp") |"
echo "| **ratio adr allowlist / raw bridge** | **$(ratio "$lm" "$bm")** | **$(ratio "$lp" "$bp")** |"
echo "| the same until its detached teardown and pool refill ended | $(ms "$lsm") | $(ms "$lsp") |"
echo "| \`ADR_EGRESS_POOL=0 adr run --prompt\` (network + gateway made for the run) | $(ms "$nm") | $(ms "$np") |"
echo "| ratio without the pool / raw bridge | $(ratio "$nm" "$bm") | $(ratio "$np" "$bp") |"
echo "| the same until its detached teardown ended | $(ms "$nsm") | $(ms "$nsp") |"
echo
echo "| CPU (user+sys, getrusage, with what each left behind) | median | p90 |"
echo "|---|---|---|"
echo "| docker CLI, \`docker run --network none\` | $(cpu "$rcm") | $(cpu "$rcp") |"
echo "| adr, \`--network none\` | $(cpu "$acm") | $(cpu "$acp") |"
echo "| **ratio adr / docker CLI, no network** | **$(ratio "$acm" "$rcm")** | |"
echo "| docker CLI, \`docker run\` on the bridge | $(cpu "$bcm") | $(cpu "$bcp") |"
echo "| adr, allowlist with the pool (teardown and refill included) | $(cpu "$lcm") | $(cpu "$lcp") |"
echo "| **ratio adr allowlist / docker CLI** | **$(ratio "$lcm" "$bcm")** | |"
echo "| adr, allowlist without the pool | $(cpu "$ncm") | $(cpu "$ncp") |"

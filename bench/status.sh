#!/usr/bin/env bash
# Benchmark: `adr status` with the six agent images present against
# `docker images`, whole-process wall time, paired in one run (alternating,
# N runs each, after one warm-up of each).  Reports median and p90 wall
# time, the ratio adr/docker, and the CPU time (user+sys) of each process.
# Prints a markdown snippet for docs/benchmarks.md.
#
# Usage: bench/status.sh [N]   (default 30)
# Needs: a running engine, debian:bookworm-slim (scripts/make-bookworm-slim.sh),
# build/adr (or ADR_BIN), python3, curl.  The docker CLI is docker.io's
# /usr/bin/docker when present (it matches the engine), else `docker`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-30}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/status.sh [N]" >&2; exit 2; }
ADR=${ADR_BIN:-$ROOT/build/adr}
[ -x "$ADR" ] || { echo "bench/status.sh: no $ADR (meson setup build && ninja -C build)" >&2; exit 1; }
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker) || {
  echo "bench/status.sh: no docker CLI to compare with" >&2; exit 1; }; fi
SOCK=/var/run/docker.sock
case "${DOCKER_HOST:-}" in
  '') ;;
  unix://*) SOCK=${DOCKER_HOST#unix://} ;;
  *) echo "bench/status.sh: only unix sockets are supported (DOCKER_HOST=$DOCKER_HOST)" >&2; exit 1 ;;
esac
api() { curl -sS --fail --unix-socket "$SOCK" -X "$1" "http://localhost$2"; }
api GET /_ping >/dev/null || { echo "bench/status.sh: no engine answers on $SOCK" >&2; exit 1; }
api GET /images/debian:bookworm-slim/json >/dev/null 2>&1 || {
  echo "bench/status.sh: debian:bookworm-slim is missing (scripts/make-bookworm-slim.sh)" >&2; exit 1; }

AGENTS=(claude codex copilot gemini opencode pi)
PREFIX_ID="adrbench-status-$$"
work=$(mktemp -d)
cleanup() {
  local a
  for a in "${AGENTS[@]}"; do api DELETE "/images/$PREFIX_ID/$a:latest?noprune=1" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# adr and the docker CLI both read HOME: an empty one, so that neither a
# user config nor a docker context changes what is measured.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
unset DOCKER_CONTEXT DOCKER_CONFIG ADR_DEBUG
mkdir -p "$XDG_CONFIG_HOME/adr"
echo "ADR_IMAGE_PREFIX=$PREFIX_ID" >"$XDG_CONFIG_HOME/adr/config"
for a in "${AGENTS[@]}"; do
  api POST "/images/debian:bookworm-slim/tag?repo=$PREFIX_ID/$a&tag=latest" >/dev/null
done
built=$("$ADR" status --json | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin) if x["built"]))')
[ "$built" = 6 ] || { echo "bench/status.sh: adr status sees $built of 6 images" >&2; exit 1; }
n_images=$(api GET /images/json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

measure() { # file command... : appends "WALL_US CPU_US"
  local out=$1; shift
  python3 "$ROOT/bench/cputime.py" "$@" >>"$out" || { echo "bench/status.sh: '$*' failed" >&2; exit 1; }
}

# warm up both (page cache, engine caches)
measure /dev/null "$ADR" status
measure /dev/null "$DOCKER" images
: >"$work/adr"; : >"$work/docker"
for ((i = 0; i < N; i++)); do
  # alternate which goes first, so neither always follows the other
  if ((i % 2 == 0)); then
    measure "$work/adr" "$ADR" status
    measure "$work/docker" "$DOCKER" images
  else
    measure "$work/docker" "$DOCKER" images
    measure "$work/adr" "$ADR" status
  fi
done

# median and p90 (nearest rank) of column COL, in microseconds
stat() { # file col -> "median p90"
  awk -v c="$2" '{ print $c }' "$1" | sort -n |
    awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
                               r = int(NR * 0.9); if (r < NR * 0.9) r++; printf "%d %d\n", m, a[r] }'
}
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
read -r aw aw9 < <(stat "$work/adr" 1)
read -r ac ac9 < <(stat "$work/adr" 2)
read -r dw dw9 < <(stat "$work/docker" 1)
read -r dc dc9 < <(stat "$work/docker" 2)
ratio=$(awk -v a="$aw" -v d="$dw" 'BEGIN { printf "%.2f", a / d }')
ratio9=$(awk -v a="$aw9" -v d="$dw9" 'BEGIN { printf "%.2f", a / d }')
cpuratio=$(awk -v a="$ac" -v d="$dc" 'BEGIN { printf "%.2f", (d > 0) ? a / d : 0 }')
engine=$(api GET /version | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["Version"], "API", v["ApiVersion"])')
cli=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || echo "?")

echo "### \`adr status\` against \`docker images\`"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, engine $engine, docker CLI $cli ($DOCKER), adr $("$ADR" --version | cut -d' ' -f2)."
echo "Six agent images present ($n_images images in the engine); $N runs of each, alternating, after one warm-up;"
echo "whole-process wall time and the process's own CPU time (user+sys, getrusage), from \`bench/status.sh $N\`."
echo
echo "| command | wall median | wall p90 | CPU median | CPU p90 |"
echo "|---|---|---|---|---|"
echo "| \`adr status\` | $(ms "$aw") | $(ms "$aw9") | $(ms "$ac") | $(ms "$ac9") |"
echo "| \`docker images\` | $(ms "$dw") | $(ms "$dw9") | $(ms "$dc") | $(ms "$dc9") |"
echo "| ratio adr / docker | $ratio | $ratio9 | $cpuratio | |"

#!/usr/bin/env bash
# Benchmark: `adr team start` of 4 agents against starting the same 4
# sandboxes in parallel by hand (4 raw `docker run -d` with the same
# hardening flags, run concurrently), paired in one run (alternating, N
# each, after one warm-up).  adr runs with --shared-workspace so that both
# sides start the same sandboxes (no worktrees); its time includes making
# the tmux session with one pane per agent.  Teardown is outside the timed
# part.  Prints a markdown snippet for docs/benchmarks.md.
#
# Usage: bench/team.sh [N]   (default 10)
# Needs: a running engine, debian:bookworm-slim, tmux >= 3.0, build/adr.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
ADR=${ADR_BIN:-$PWD/build/adr}
DOCKER=$(command -v /usr/bin/docker || command -v docker)
work=$(mktemp -d)
export TMUX_TMPDIR=$work/tmux
mkdir -p "$TMUX_TMPDIR"
cleanup() {
  tmux kill-server 2>/dev/null || true
  "$DOCKER" ps -aq --filter label=adrbench=team | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  (cd "$work/ws" && for n in $("$ADR" ls --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(a["name"] for a in json.load(sys.stdin)))'); do
    "$ADR" rm --force --no-push "$n" >/dev/null 2>&1 || true; done) || true
  "$DOCKER" rmi benchteam/sh:latest >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_init benchteam '{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "sleep",
  "args": { "interactive": ["600"], "headless": ["{prompt}"] } }'

raw_one() {
  "$DOCKER" run -d -t -i --label adrbench=team "${HARDENED[@]}" \
    --mount "type=bind,src=$work/ws,dst=/workspace" benchteam/sh:latest /usr/local/bin/adr-entry sleep 600 >/dev/null
}
raw() { raw_one & raw_one & raw_one & raw_one & wait; }
raw_clean() { "$DOCKER" ps -aq --filter label=adrbench=team | xargs -r "$DOCKER" rm -f >/dev/null; }
viaadr() { (cd "$work/ws" && "$ADR" team start "b$1" --shared-workspace --agent sh --agent sh --agent sh --agent sh >/dev/null 2>&1); }
adr_clean() { (cd "$work/ws" && "$ADR" team stop "b$1" >/dev/null 2>&1); }

raw; raw_clean
viaadr w; adr_clean w
: >"$work/t.raw"; : >"$work/t.adr"
for i in $(seq "$N"); do
  t0=$(now); raw; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.raw"; raw_clean
  t0=$(now); viaadr "$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.adr"; adr_clean "$i"
done

read -r rm rp < <(stat "$work/t.raw")
read -r am ap < <(stat "$work/t.adr")
ratio=$(awk -v a="$am" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
echo "### \`adr team start\` of 4 agents against 4 parallel \`docker run -d\`"
echo
echo "$(date +%F), $(nproc) cores, $(tmux -V), $N runs each, alternating, after one warm-up; running as uid $(id -u)."
echo
echo "| what | median | p90 |"
echo "|---|---|---|"
printf '| 4 raw `docker run -d` in parallel (same flags) | %d ms | %d ms |\n' $((rm / 1000)) $((rp / 1000))
printf '| `adr team start` of 4 agents (sandboxes + tmux session, 4 panes) | %d ms | %d ms |\n' $((am / 1000)) $((ap / 1000))
printf '| ratio adr / by hand | %s | |\n' "$ratio"

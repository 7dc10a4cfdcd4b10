#!/usr/bin/env bash
# Benchmark: time to a running persistent agent with `adr start` on a
# repository of 50,000 files, against doing the same by hand: `git worktree
# add -b` + a raw `docker run -d` with the same hardening flags and the same
# git mounts.  Paired in one run (alternating, N each, after one warm-up of
# each); cleanup happens outside the timed part.  Prints a markdown snippet
# for docs/benchmarks.md.
#
# Usage: bench/start.sh [N]   (default 10)
# Needs: a running engine, debian:bookworm-slim, build/adr (or ADR_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
FILES=${BENCH_FILES:-50000}
ADR=${ADR_BIN:-$PWD/build/adr}
DOCKER=$(command -v /usr/bin/docker || command -v docker)
work=$(mktemp -d)
cleanup() {
  "$DOCKER" ps -aq --filter label=adrbench=start | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  (cd "$work/repo" 2>/dev/null && for n in $("$ADR" ls --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(a["name"] for a in json.load(sys.stdin)))'); do
    "$ADR" rm --force --no-push "$n" >/dev/null 2>&1 || true; done) || true
  "$DOCKER" rmi benchstart/sh:latest >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_init benchstart '{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "sleep",
  "args": { "interactive": ["600"], "headless": ["{prompt}"] } }'
mkdir -p "$work/repo" "$work/raw"

# the repository: FILES small files in 500 directories, one commit
echo "making a repository of $FILES files" >&2
(
  cd "$work/repo"
  git init -q
  python3 - "$FILES" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = "d%03d" % (i % 500)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i)
PY
  git add -A
  git -c user.name=b -c user.email=b@x commit -qm files
)

repo=$work/repo

raw() { # i
  local wt=$work/raw/r$1
  git -C "$repo" worktree add -q -b "raw/r$1" "$wt" HEAD
  local gd=$repo/.git/worktrees/r$1
  mkdir -p "$repo/.git/refs/heads/raw" "$repo/.git/logs/refs/heads/raw"
  : >"$gd/config.worktree"
  "$DOCKER" run -d --label adrbench=start "${HARDENED[@]}" \
    --mount "type=bind,src=$wt,dst=/workspace" \
    --mount "type=bind,src=$repo/.git,dst=$repo/.git,readonly" \
    --mount "type=bind,src=$repo/.git/objects,dst=$repo/.git/objects" \
    --mount "type=bind,src=$repo/.git/refs/heads/raw,dst=$repo/.git/refs/heads/raw" \
    --mount "type=bind,src=$repo/.git/logs/refs/heads/raw,dst=$repo/.git/logs/refs/heads/raw" \
    --mount "type=bind,src=$gd,dst=$gd" \
    --mount "type=bind,src=$gd/commondir,dst=$gd/commondir,readonly" \
    --mount "type=bind,src=$gd/gitdir,dst=$gd/gitdir,readonly" \
    --mount "type=bind,src=$gd/config.worktree,dst=$gd/config.worktree,readonly" \
    benchstart/sh:latest /usr/local/bin/adr-entry sleep 600 >/dev/null
}
raw_clean() {
  "$DOCKER" ps -aq --filter label=adrbench=start | xargs -r "$DOCKER" rm -f >/dev/null
  git -C "$repo" worktree remove --force "$work/raw/r$1"
  git -C "$repo" branch -qD "raw/r$1"
}
# adr start with the egress pool (the default) and without it
# (ADR_EGRESS_POOL=0, in a configuration and state of its own); the pool's
# refill after a start, detached, ends before the next timed command
nopool=$work/home/.config-nopool nopool_state=$work/home/.state-nopool
mkdir -p "$nopool" && cp -r "$XDG_CONFIG_HOME/adr" "$nopool/" && echo "ADR_EGRESS_POOL=0" >>"$nopool/adr/config"
settle() { while pgrep -x adr-teardown >/dev/null; do sleep 0.05; done; }
viaadr() { (cd "$repo" && "$ADR" start sh --name "a$1" --prompt 600 >/dev/null 2>&1); }
adr_clean() { (cd "$repo" && "$ADR" rm --force --no-push "a$1" >/dev/null); settle; }
np() { XDG_CONFIG_HOME=$nopool XDG_STATE_HOME=$nopool_state "$@"; }

raw w; raw_clean w
viaadr w; adr_clean w
np viaadr v; np adr_clean v
: >"$work/t.raw"; : >"$work/t.adr"; : >"$work/t.np"
for i in $(seq "$N"); do
  t0=$(now); raw "$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.raw"; raw_clean "$i"
  t0=$(now); viaadr "$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.adr"; adr_clean "$i"
  t0=$(now); np viaadr "n$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.np"; np adr_clean "n$i"
done
"$ADR" prune >/dev/null 2>&1 || true

read -r rm rp < <(stat "$work/t.raw")
read -r am ap < <(stat "$work/t.adr")
read -r nm np_ < <(stat "$work/t.np")
ratio=$(awk -v a="$am" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
ratio_np=$(awk -v a="$nm" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
echo "### \`adr start\` on a repository of $FILES files against \`git worktree add\` + \`docker run -d\`"
echo
echo "$(date +%F), $(nproc) cores, $N runs each, alternating, after one warm-up; running as uid $(id -u)."
echo
echo "| what | median | p90 |"
echo "|---|---|---|"
printf '| `git worktree add -b` + raw `docker run -d` (same flags and git mounts) | %d ms | %d ms |\n' $((rm / 1000)) $((rp / 1000))
printf '| `adr start --prompt` | %d ms | %d ms |\n' $((am / 1000)) $((ap / 1000))
printf '| ratio adr / by hand | %s | |\n' "$ratio"
printf '| `ADR_EGRESS_POOL=0 adr start --prompt` (network + gateway made for it) | %d ms | %d ms |\n' $((nm / 1000)) $((np_ / 1000))
printf '| ratio without the pool / by hand | %s | |\n' "$ratio_np"

#!/usr/bin/env bash
# Benchmark: time to a running persistent agent with `adr start` (until
# the agent's first command has run: it touches a file the script waits
# for, on every side) on a
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
  (cd "$work/repo" 2>/dev/null && XDG_CONFIG_HOME=$work/home/.config-warm XDG_STATE_HOME=$work/home/.state-warm "$ADR" prune >/dev/null 2>&1) || true
  "$DOCKER" ps -aq --filter label=adrbench=start | xargs -r "$DOCKER" rm -f >/dev/null 2>&1 || true
  (cd "$work/repo" 2>/dev/null && for n in $("$ADR" ls --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(a["name"] for a in json.load(sys.stdin)))'); do
    "$ADR" rm --force --no-push "$n" >/dev/null 2>&1 || true; done) || true
  [ -n "${KEEP:-}" ] || "$DOCKER" rmi benchstart/sh:latest >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

. bench/lib.sh
bench_init benchstart '{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "sh",
  "args": { "interactive": [], "headless": ["-c", "{prompt}"] } }'
mkdir -p "$work/repo" "$work/raw" "$work/up"
chmod 1777 "$work/up"
# time to the agent running: every variant's first command touches
# $work/up/TAG (mounted at /up), and the clock stops when it is there
UP=$work/up
upwait() {
  local i
  for i in $(seq 5000); do [ -e "$UP/$1" ] && return 0; sleep 0.002; done
  echo "start.sh: $1 never ran" >&2; return 1
}
agent_cmd() { echo "touch /up/$1; exec sleep 600"; }

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
    --mount "type=bind,src=$UP,dst=/up" \
    benchstart/sh:latest /usr/local/bin/adr-entry sh -c "$(agent_cmd "r$1")" >/dev/null
}
# a raw `docker run -d` alone (the same flags, the repository as the
# workspace, no worktree): what an engine takes to start a sandbox
plain() {
  "$DOCKER" run -d --label adrbench=start "${HARDENED[@]}" --mount "type=bind,src=$UP,dst=/up" \
    --mount "type=bind,src=$repo,dst=/workspace" benchstart/sh:latest /usr/local/bin/adr-entry sh -c "$(agent_cmd "p$1")" >/dev/null
}
plain_clean() { "$DOCKER" ps -aq --filter label=adrbench=start | xargs -r "$DOCKER" rm -f >/dev/null; }
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
viaadr() { (cd "$repo" && "$ADR" start sh --name "a$1" -m "$UP:/up:rw" --prompt "$(agent_cmd "a$1")" >/dev/null 2>&1); }
adr_clean() { (cd "$repo" && "$ADR" rm --force --no-push "a$1" >/dev/null); settle; }
np() { XDG_CONFIG_HOME=$nopool XDG_STATE_HOME=$nopool_state "$@"; }
# and with a warm sandbox (ADR_WARM=1): the start takes over one made
# ahead (by adr warm, then by the detached refill after each start, which
# settle waits for outside the timed part)
warmcfg=$work/home/.config-warm warm_state=$work/home/.state-warm
mkdir -p "$warmcfg" && cp -r "$XDG_CONFIG_HOME/adr" "$warmcfg/" && echo "ADR_WARM=1" >>"$warmcfg/adr/config"
wm() { XDG_CONFIG_HOME=$warmcfg XDG_STATE_HOME=$warm_state "$@"; }

raw w; raw_clean w
viaadr w; adr_clean w
np viaadr v; np adr_clean v
(cd "$repo" && wm "$ADR" warm sh --headless -m "$UP:/up:rw" >/dev/null)
wm viaadr u; wm adr_clean u
plain w; plain_clean
: >"$work/t.raw"; : >"$work/t.adr"; : >"$work/t.np"; : >"$work/t.warm"; : >"$work/t.plain"
for i in $(seq "$N"); do
  t0=$(now); plain "$i"; upwait "p$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.plain"; plain_clean
  t0=$(now); raw "$i"; upwait "r$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.raw"; raw_clean "$i"
  t0=$(now); viaadr "$i"; upwait "a$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.adr"; adr_clean "$i"
  t0=$(now); np viaadr "n$i"; upwait "an$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.np"; np adr_clean "n$i"
  t0=$(now); wm viaadr "w$i"; upwait "aw$i"; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/t.warm"; wm adr_clean "w$i"
done
"$ADR" prune >/dev/null 2>&1 || true
(cd "$repo" && wm "$ADR" prune >/dev/null 2>&1) || true

read -r rm rp < <(stat "$work/t.raw")
read -r am ap < <(stat "$work/t.adr")
read -r nm np_ < <(stat "$work/t.np")
read -r wmm wmp < <(stat "$work/t.warm")
read -r pm pp < <(stat "$work/t.plain")
ratio=$(awk -v a="$am" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
ratio_np=$(awk -v a="$nm" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
ratio_wm=$(awk -v a="$wmm" -v r="$rm" 'BEGIN { printf "%.3f", a / r }')
ratio_wmp=$(awk -v a="$wmp" -v r="$rp" 'BEGIN { printf "%.3f", a / r }')
ratio_wpl=$(awk -v a="$wmm" -v r="$pm" 'BEGIN { printf "%.3f", a / r }')
ratio_wplp=$(awk -v a="$wmp" -v r="$pp" 'BEGIN { printf "%.3f", a / r }')
ratio_apl=$(awk -v a="$am" -v r="$pm" 'BEGIN { printf "%.3f", a / r }')
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
printf '| `ADR_WARM=1 adr start --prompt` (a warm sandbox taken over) | %d ms | %d ms |\n' $((wmm / 1000)) $((wmp / 1000))
printf '| ratio warm / by hand | %s | %s |\n' "$ratio_wm" "$ratio_wmp"
printf '| raw `docker run -d` alone (same flags, no worktree) | %d ms | %d ms |\n' $((pm / 1000)) $((pp / 1000))
printf '| ratio `adr start` / raw `docker run -d` alone | %s | |\n' "$ratio_apl"
printf '| ratio warm / raw `docker run -d` alone | %s | %s |\n' "$ratio_wpl" "$ratio_wplp"

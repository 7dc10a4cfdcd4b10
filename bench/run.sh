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

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$XDG_CONFIG_HOME/adr/agents" "$work/ws"
echo "ADR_IMAGE_PREFIX=benchadr" >"$XDG_CONFIG_HOME/adr/config"
cat >"$XDG_CONFIG_HOME/adr/agents/sh.json" <<'JSON'
{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "true",
  "args": { "interactive": [], "headless": ["{prompt}"] } }
JSON
BATS_TEST_DIRNAME=$PWD/tests/integration
# shellcheck source=../tests/lib/testimage.bash
. tests/lib/testimage.bash
adr_test_image benchadr
seccomp=$PWD/data/seccomp.json
uid=$(id -u); gid=$(id -g)
[ "$uid" = 0 ] && uid=1000 gid=1000

raw() {
  local sec=()
  [ -s "$seccomp" ] && [ "$(wc -c <"$seccomp")" -gt 2 ] && sec=(--security-opt "seccomp=$seccomp")
  "$DOCKER" run --rm --init --read-only --cap-drop ALL --security-opt no-new-privileges "${sec[@]}" \
    --tmpfs /home/agent:rw,nosuid,nodev,exec,size=1g,mode=1777 --tmpfs /tmp:rw,nosuid,nodev,exec,size=1g,mode=1777 \
    --tmpfs /run/adr:rw,nosuid,nodev,exec,size=1m,mode=1777 \
    --memory 4g --memory-swap 4g --cpus 2 --pids-limit 1024 --user "$uid:$gid" \
    --add-host host.docker.internal:host-gateway -e HOME=/home/agent -w /workspace \
    --mount "type=bind,src=$work/ws,dst=/workspace" benchadr/sh:latest /usr/local/bin/adr-entry true x
}
viaadr() { (cd "$work/ws" && "$ADR" run sh --prompt x); }

# warm up both paths once
raw >/dev/null; viaadr >/dev/null

now() { date +%s%N; }
: >"$work/raw" ; : >"$work/adr" ; : >"$work/cpu"
for _ in $(seq "$N"); do
  t0=$(now); raw >/dev/null; t1=$(now); echo $(((t1 - t0) / 1000)) >>"$work/raw"
  read -r wall cpu < <(cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$ADR" run sh --prompt x)
  echo "$wall" >>"$work/adr"; echo "$cpu" >>"$work/cpu"
done

stat() { sort -n "$1" | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.9 + 0.999)]; printf "%d %d\n", m, p }'; }
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

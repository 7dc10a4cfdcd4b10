#!/usr/bin/env bash
# Benchmark (issue 17): a headless no-op `adr run` on the native engine,
# with no network, with its default allowlist network and with open,
# against the raw `docker run` of the same image (same hardening flags) and
# against `adr run` on Docker (default allowlist, egress pool on), paired
# in one run (alternating, N each).  Reports median/p90 wall time until the
# command returns, the time until what it left behind (the detached
# teardown, the pool's refill) ended, and ratios.
# Usage: bench/native-net.sh [N]   (default 20)   Needs: a running engine,
# debian:bookworm-slim (scripts/make-bookworm-slim.sh), build/adr; open
# mode also slirp4netns and a usable /dev/net/tun (else its row is left out).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
ADR=${ADR_BIN:-$PWD/build/adr}
DOCKER=$(command -v /usr/bin/docker || command -v docker)
work=$(mktemp -d)
trap '"$ADR" prune >/dev/null 2>&1 || true; rm -rf "$work"; "$DOCKER" rmi benchnat/sh:latest >/dev/null 2>&1 || true' EXIT

. bench/lib.sh
bench_init benchnat "$BENCH_NOOP_AGENT"
export ADR_NATIVE_ROOT=$work/native
OPEN=1
command -v slirp4netns >/dev/null && [ -r /dev/net/tun ] || OPEN=0

raw() { bench_raw benchnat "$@"; } # extra docker run flags...
# adr with ENGINE (native, docker), then adr run options
viaadr() { local eng=$1; shift; (cd "$work/ws" && ADR_ENGINE=$eng "$ADR" run sh "$@" --prompt x); }
measure() { # name command... : appends "WALL_US CPU_US SETTLED_US" to $work/name
  local f=$1; shift
  (cd "$work/ws" && python3 "$OLDPWD/bench/cputime.py" "$@" >>"$work/$f")
}
# warm-up: the image into the native store, the docker pool's first unit
raw --network none >/dev/null; raw >/dev/null
viaadr native --network none >/dev/null; viaadr native >/dev/null; viaadr docker >/dev/null
[ "$OPEN" = 0 ] || viaadr native --network open >/dev/null
for f in raw rawb nnone nallow dallow nopen; do : >"$work/$f"; done
for _ in $(seq "$N"); do
  measure raw "$DOCKER" run --rm "${HARDENED[@]}" --network none --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchnat/sh:latest /usr/local/bin/adr-entry true x
  measure nnone env ADR_ENGINE=native "$ADR" run sh --network none --prompt x
  measure rawb "$DOCKER" run --rm "${HARDENED[@]}" --mount "type=bind,src=$work/ws,dst=/workspace" \
    benchnat/sh:latest /usr/local/bin/adr-entry true x
  measure nallow env ADR_ENGINE=native "$ADR" run sh --prompt x
  measure dallow env ADR_ENGINE=docker "$ADR" run sh --prompt x
  [ "$OPEN" = 0 ] || measure nopen env ADR_ENGINE=native "$ADR" run sh --network open --prompt x
done

col() { awk -v c="$2" '{ print $c }' "$work/$1" >"$work/$1.$2"; stat "$work/$1.$2"; }
ms() { printf '%d ms' $(($1 / 1000)); }
ratio() { awk -v a="$1" -v r="$2" 'BEGIN { printf "%.3f", a / r }'; }
read -r rm rp < <(col raw 1)
read -r bm bp < <(col rawb 1)
read -r nm np < <(col nnone 1); read -r nsm nsp < <(col nnone 3)
read -r am ap < <(col nallow 1); read -r asm asp < <(col nallow 3)
read -r dm dp < <(col dallow 1); read -r dsm dsp < <(col dallow 3)
echo "| what ($N runs each, alternating) | median | p90 |"
echo "|---|---|---|"
echo "| raw \`docker run --network none\` (same hardening) | $(ms "$rm") | $(ms "$rp") |"
echo "| native \`adr run --network none --prompt\` | $(ms "$nm") | $(ms "$np") |"
echo "| **ratio native adr / raw docker, no network** | **$(ratio "$nm" "$rm")** | **$(ratio "$np" "$rp")** |"
echo "| raw \`docker run\` on the bridge (no policy) | $(ms "$bm") | $(ms "$bp") |"
echo "| native \`adr run --prompt\`, default allowlist (holder, gateway, sandbox) | $(ms "$am") | $(ms "$ap") |"
echo "| **ratio native adr allowlist / raw docker bridge** | **$(ratio "$am" "$bm")** | **$(ratio "$ap" "$bp")** |"
echo "| \`adr run --prompt\` on Docker, default allowlist, egress pool | $(ms "$dm") | $(ms "$dp") |"
echo "| **ratio native / Docker, adr allowlist** | **$(ratio "$am" "$dm")** | **$(ratio "$ap" "$dp")** |"
echo "| until the detached teardown ended: native none / native allowlist / Docker allowlist (refill too) | $(ms "$nsm") / $(ms "$asm") / $(ms "$dsm") | $(ms "$nsp") / $(ms "$asp") / $(ms "$dsp") |"
if [ "$OPEN" = 1 ]; then
  read -r om op < <(col nopen 1)
  echo "| native \`adr run --network open --prompt\` (slirp4netns) | $(ms "$om") | $(ms "$op") |"
  echo "| ratio native adr open / raw docker bridge | $(ratio "$om" "$bm") | $(ratio "$op" "$bp") |"
fi

#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine:
#   ./scripts/test.sh [--quick] [--no-deps] [--only LAYER]...
# Installs what it needs (apt packages, docker.io), starts dockerd when no
# engine answers, builds adr (plain and ASan/UBSan), runs every layer, and
# ends with one line "N passed, N failed".
# Layers: unit (cmocka + fuzz-corpus replay, plain and sanitized),
#         integration (bats, real engine), e2e (real agents, mock model),
#         probes (security probes inside sandboxes).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0 DEPS=1 ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-deps) DEPS=0 ;;
    --only) shift; ONLY+=("${1:?--only needs a layer}") ;;
    --only=*) ONLY+=("${1#--only=}") ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
want() {
  local l=$1
  if [ ${#ONLY[@]} -gt 0 ]; then
    local o; for o in "${ONLY[@]}"; do [ "$o" = "$l" ] && return 0; done; return 1
  fi
  [ "$QUICK" = 1 ] && { [ "$l" = unit ] || [ "$l" = integration ]; } && return 0
  [ "$QUICK" = 1 ] && return 1
  return 0
}

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null && SUDO=sudo || SUDO=""
fi

# ------------------------------------------------------------ dependencies
PKGS=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libcurl4-openssl-dev libjansson-dev
      libcmocka-dev bats scdoc debootstrap docker.io tmux git python3 curl jq iproute2 zsh fish
      openssl ca-certificates)
if [ "$DEPS" = 1 ]; then
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || die "need root or sudo to install: ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install failed: ${missing[*]}"
  fi
fi

# ------------------------------------------------------------ engine
engine_ok() { curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }
if [ -z "${DOCKER_HOST:-}" ] && ! engine_ok; then
  say "starting dockerd"
  command -v dockerd >/dev/null || die "no dockerd: install docker.io"
  mkdir -p "$ROOT/build-logs"
  $SUDO sh -c "nohup dockerd >'$ROOT/build-logs/dockerd.log' 2>&1 &"
  for _ in $(seq 60); do engine_ok && break; sleep 0.5; done
  engine_ok || { tail -20 "$ROOT/build-logs/dockerd.log" >&2; die "dockerd did not answer on /var/run/docker.sock"; }
fi
export PATH="/usr/bin:$PATH"   # docker.io's CLI for test set-up (adr itself never uses it)
./scripts/make-bookworm-slim.sh || die "could not make debian:bookworm-slim"

# ------------------------------------------------------------ build
say "building"
setup() { # dir, extra args...
  local d=$1; shift
  if [ -f "$d/build.ninja" ]; then meson setup --reconfigure "$d" "$@" >/dev/null; else meson setup "$d" "$@" >/dev/null; fi
}
setup build || die "meson setup build failed"
ninja -C build >build-ninja.log 2>&1 || { tail -40 build-ninja.log >&2; die "build failed"; }
if want unit; then
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dman=disabled || die "meson setup build-asan failed"
  ninja -C build-asan >build-asan-ninja.log 2>&1 || { tail -40 build-asan-ninja.log >&2; die "ASan build failed"; }
fi
rm -f build-ninja.log build-asan-ninja.log
export ADR_BIN="$ROOT/build/adr"
mkdir -p "$ROOT/build/test-bin"
ln -sf "$ADR_BIN" "$ROOT/build/test-bin/adr"
export PATH="$ROOT/build/test-bin:$PATH"

PASS=0 FAIL=0 SKIP=0
count() { # layer pass fail skip
  printf -- '--- %s: %d passed, %d failed%s\n' "$1" "$2" "$3" "$([ "$4" -gt 0 ] && echo ", $4 skipped")"
  PASS=$((PASS + $2)); FAIL=$((FAIL + $3)); SKIP=$((SKIP + $4))
}

# meson test: one count per test
run_meson() { # layer dir
  local layer=$1 dir=$2 log
  log=$(mktemp)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$dir" --suite unit --suite fuzz --print-errorlogs >"$log" 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' "$log" | sed 's/^/  /'
  local ok fail skip
  ok=$(awk '/^Ok:/ {print $2}' "$log"); fail=$(awk '/^Fail:/ {print $2}' "$log")
  skip=$(awk '/^Skipped:/ {print $2}' "$log")
  local ef to
  ef=$(awk '/^Expected Fail:/ {print $3}' "$log"); to=$(awk '/^Timeout:/ {print $2}' "$log")
  fail=$(( ${fail:-0} + ${to:-0} ))
  ok=$(( ${ok:-0} + ${ef:-0} ))
  if [ "$fail" -gt 0 ]; then sed -n '/^Summary of Failures/,$p' "$log"; grep -B2 -A30 'stdout:\|stderr:' "$log" | head -80; fi
  if [ "$ok" = 0 ] && [ "$fail" = 0 ]; then echo "  no tests ran in $dir"; fail=1; fi
  count "$layer" "$ok" "$fail" "${skip:-0}"
  rm -f "$log"
}

# bats --tap: ok / not ok / # skip
run_bats() { # layer files...
  local layer=$1; shift
  [ $# -gt 0 ] || { echo "  (no test files)"; return; }
  local log; log=$(mktemp)
  bats --tap "$@" 2>&1 | tee "$log" | grep -E '^(not ok|ok|#)' | sed 's/^/  /' | grep -vE '^  # *$' | head -400
  local ok fail skip
  skip=$(grep -cE '^ok [0-9]+ .*# skip' "$log")
  ok=$(( $(grep -cE '^ok [0-9]+' "$log") - skip ))
  fail=$(grep -cE '^not ok [0-9]+' "$log")
  local planned; planned=$(grep -oE '^1\.\.[0-9]+' "$log" | head -1 | cut -d. -f3)
  if [ -n "$planned" ] && [ $((ok + fail + skip)) -lt "$planned" ]; then
    echo "  bats ran $((ok + fail + skip)) of $planned planned tests"
    fail=$((fail + planned - ok - fail - skip))
  fi
  count "$layer" "$ok" "$fail" "$skip"
  rm -f "$log"
}

if want unit; then
  say "unit tests (cmocka, fuzz corpus replay)"
  run_meson unit build
  say "unit tests under ASan/UBSan"
  run_meson unit-asan build-asan
fi
if want integration; then
  say "integration tests (bats, real engine)"
  run_bats integration tests/integration/*.bats
fi
if want probes; then
  say "security probes"
  shopt -s nullglob
  run_bats probes tests/probes/*.bats
  shopt -u nullglob
fi
if want e2e; then
  say "end-to-end tests (real agents, mock model server)"
  shopt -s nullglob
  run_bats e2e tests/e2e/*.bats
  shopt -u nullglob
fi

echo
if [ "$SKIP" -gt 0 ]; then
  echo "$PASS passed, $FAIL failed, $SKIP skipped"
else
  echo "$PASS passed, $FAIL failed"
fi
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]

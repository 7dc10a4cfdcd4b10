#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine:
#   ./scripts/test.sh [--quick] [--no-deps] [--only LAYER]...
# Installs what it needs (apt packages, docker.io), starts dockerd when no
# engine answers, builds adr (build/, and build-asan/ with ASan+UBSan), runs
# the layers and ends with one line "N passed, N failed[, N skipped]".
# Layers: unit         cmocka + fuzz-corpus replay (meson), plain and sanitized
#         engine       tests/engine: the engine conformance suite (cmocka)
#                      against the real engine, plain and sanitized
#         queue        tests/queue: the run queue's conformance suite against
#                      a new SQLite file and a PostgreSQL server it starts
#                      (on a socket in a temporary directory), plain and
#                      sanitized
#         integration  tests/integration/*.bats against the real engine
#         e2e          tests/e2e/*.bats: real agents (builds their images)
#         scaleout     tests/scaleout/*.bats: runners on two nodes (network,
#                      mount and UTS namespaces, a dockerd each) that it
#                      starts, as processes and as a Docker Swarm service
#         probes       tests/probes/*.bats: security probes in sandboxes
#   --quick      unit + integration only
#   --no-deps    do not install packages
#   --only L     run only layer L (repeatable)
# Exit status: 0 only when nothing failed and at least one test ran.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

QUICK=0 DEPS=1 ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-deps) DEPS=0 ;;
    --only) [ $# -ge 2 ] || { echo "test.sh: --only needs a layer" >&2; exit 2; }; ONLY+=("$2"); shift ;;
    --only=*) ONLY+=("${1#--only=}") ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for l in "${ONLY[@]}"; do
  case "$l" in unit|engine|queue|integration|e2e|scaleout|probes) ;; *) echo "test.sh: unknown layer '$l' (unit, engine, queue, integration, e2e, scaleout, probes)" >&2; exit 2 ;; esac
done
want() {
  local l=$1 o
  if [ ${#ONLY[@]} -gt 0 ]; then
    for o in "${ONLY[@]}"; do [ "$o" = "$l" ] && return 0; done
    return 1
  fi
  [ "$QUICK" = 1 ] && [ "$l" != unit ] && [ "$l" != engine ] && [ "$l" != queue ] && [ "$l" != integration ] && return 1
  return 0
}
need_engine() { want engine || want integration || want e2e || want scaleout || want probes; }

PASS=0 FAIL=0 SKIP=0
say() { printf '\n=== %s\n' "$*"; }
summary() {
  echo
  if [ "$SKIP" -gt 0 ]; then
    echo "$PASS passed, $FAIL failed, $SKIP skipped"
  else
    echo "$PASS passed, $FAIL failed"
  fi
}
# A set-up step failed: no layer can run.  Counted as one failure so that
# the closing line says so too.
die() {
  printf 'test.sh: %s\n' "$*" >&2
  FAIL=$((FAIL + 1))
  summary
  exit 1
}

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

# ------------------------------------------------------------ dependencies
PKGS=(meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev libcurl4-openssl-dev libjansson-dev
      libc-ares-dev libssl-dev libseccomp-dev libcap-dev libcmocka-dev bats scdoc debootstrap docker.io tmux git
      python3 curl jq iproute2 zsh fish openssl ca-certificates util-linux libsqlite3-dev libpq-dev libmicrohttpd-dev libarchive-dev libyaml-dev postgresql openssh-client openssh-server
      docker-registry slirp4netns
      xz-utils apparmor cgroupfs-mount) # the last three: docker.io's recommends that matter
if [ "$DEPS" = 1 ]; then
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} yourself, then run with --no-deps"
    [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || die "need root or sudo to install: ${missing[*]} (or run with --no-deps)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install failed: ${missing[*]}"
  fi
fi

# Tools for the tests' own set-up come first on PATH: the engine's matching
# docker CLI (docker.io's /usr/bin/docker, when there) and, once built, adr.
TOOLS="$ROOT/build/test-bin"
link_tools() {
  mkdir -p "$TOOLS"
  if [ -x /usr/bin/docker ]; then ln -sfn /usr/bin/docker "$TOOLS/docker"; fi
  if [ -x "${ADR_BIN:-}" ]; then ln -sfn "$ADR_BIN" "$TOOLS/adr"; fi
}
link_tools
export PATH="$TOOLS:$PATH"

# ------------------------------------------------------------ engine
ping_engine() { "$@" curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }
engine_ok() { ping_engine env || { [ -n "$SUDO" ] && ping_engine sudo -n; }; }
if need_engine; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "using DOCKER_HOST=$DOCKER_HOST"
  elif ! engine_ok; then
    say "starting dockerd (log: build/dockerd.log)"
    command -v dockerd >/dev/null || die "no dockerd: install docker.io (or run without --no-deps)"
    [ "$(id -u)" = 0 ] || [ -n "$SUDO" ] || die "need root or sudo to start dockerd"
    $SUDO sh -c "nohup dockerd >'$ROOT/build/dockerd.log' 2>&1 </dev/null &"
    for _ in $(seq 60); do engine_ok && break; sleep 0.5; done
    engine_ok || { tail -20 "$ROOT/build/dockerd.log" >&2; die "dockerd did not answer on /var/run/docker.sock within 30 s"; }
  fi
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    say "making debian:bookworm-slim"
    $SUDO ./scripts/make-bookworm-slim.sh || die "could not make debian:bookworm-slim"
  fi
fi

# ------------------------------------------------------------ build
say "building build/ and build-asan/"
setup() { # dir, meson options...
  local d=$1; shift
  if [ -f "$d/build.ninja" ]; then
    meson setup --reconfigure "$d" "$@" >"$d.setup.log" 2>&1 ||
      meson setup --wipe "$d" "$@" >"$d.setup.log" 2>&1
  else
    meson setup "$d" "$@" >"$d.setup.log" 2>&1
  fi || { tail -30 "$d.setup.log" >&2; rm -f "$d.setup.log"; return 1; }
  rm -f "$d.setup.log"
}
setup build || die "meson setup build failed"
ninja -C build >build/ninja.log 2>&1 || { tail -40 build/ninja.log >&2; die "build failed (build/ninja.log)"; }
if want unit || want engine || want queue; then
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dman=disabled || die "meson setup build-asan failed"
  ninja -C build-asan >build-asan/ninja.log 2>&1 || { tail -40 build-asan/ninja.log >&2; die "ASan build failed (build-asan/ninja.log)"; }
fi
# The layers drive the installed adr, as users get it: install.sh into a
# private prefix (it builds in build/ as well).
say "installing into build/test-prefix"
./install.sh --prefix "$ROOT/build/test-prefix" --builddir "$ROOT/build" --yes >build/install.log 2>&1 ||
  { tail -20 build/install.log >&2; die "install.sh failed (build/install.log)"; }
export ADR_BIN="$ROOT/build/test-prefix/bin/adr"
[ -x "$ADR_BIN" ] || die "install.sh did not install $ADR_BIN"
link_tools # again: a wiped build/ loses them
hash -r
[ "$(command -v adr)" = "$TOOLS/adr" ] || die "PATH does not resolve adr to the fresh build"

count() { # layer pass fail skip
  local extra=""
  [ "$4" -gt 0 ] && extra=", $4 skipped"
  printf -- '--- %s: %d passed, %d failed%s\n' "$1" "$2" "$3" "$extra"
  PASS=$((PASS + $2)); FAIL=$((FAIL + $3)); SKIP=$((SKIP + $4))
}

# meson test: each test is one count.  Its summary block reads
#   Ok: N / Expected Fail: N / Fail: N / Unexpected Pass: N / Skipped: N / Timeout: N
run_meson() { # layer dir [suite...] (default: unit fuzz)
  local layer=$1 dir=$2 log rc s suites=()
  shift 2
  [ $# -gt 0 ] || set -- unit fuzz
  for s in "$@"; do suites+=(--suite "$s"); done
  log=$(mktemp)
  meson test -C "$dir" "${suites[@]}" --print-errorlogs >"$log" 2>&1
  rc=$?
  # one line per test (the summary at the end repeats the failures)
  awk '/^Summary of Failures/ { exit } /^ *[0-9]+\/[0-9]+ / { sub(/^ */, "  "); print }' "$log"
  field() { awk -v k="$1" 'index($0, k ":") == 1 { v = $NF } END { print v + 0 }' "$log"; }
  local ok xfail fail xpass skip timeout
  ok=$(field Ok); xfail=$(field "Expected Fail"); fail=$(field Fail)
  xpass=$(field "Unexpected Pass"); skip=$(field Skipped); timeout=$(field Timeout)
  ok=$((ok + xfail)); fail=$((fail + xpass + timeout))
  if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then
    # the failing tests' own output (--print-errorlogs), then where to look
    awk '/^Summary of Failures/ { exit } f { print } /^ *[0-9]+\/[0-9]+ .*(FAIL|TIMEOUT|UNEXPECTEDPASS)/ { f = 1 }' "$log" |
      grep -vE '^\[ +(RUN|OK) +\]' | head -150 | sed 's/^/    /'
    echo "  full log: $dir/meson-logs/testlog.txt"
  fi
  if [ $((ok + fail + skip)) -eq 0 ]; then
    echo "  no tests ran in $dir (meson test exited $rc)"; tail -20 "$log"; fail=1
  elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "  meson test exited $rc without a failing test"; fail=1
  fi
  count "$layer" "$ok" "$fail" "$skip"
  rm -f "$log"
}

# bats --tap: "ok N", "not ok N", "ok N ... # skip" (skipped, never passed).
# A file that dies before running all its tests counts the rest as failed.
run_bats() { # layer timeout files...
  local layer=$1 timeout=$2; shift 2
  if [ $# -eq 0 ]; then echo "  (no test files)"; return; fi
  local log rc
  log=$(mktemp)
  # shown as it runs; every reader reads to the end, so nothing cuts bats short
  BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-$timeout} bats --tap "$@" 2>&1 </dev/null |
    tee "$log" | { grep --line-buffered -vE '^# *$' || true; } | sed -u 's/^/  /'
  rc=${PIPESTATUS[0]}
  local ok fail skip planned ran
  skip=$(grep -cE '^ok [0-9]+ .*# skip' "$log")
  ok=$(( $(grep -cE '^ok [0-9]+' "$log") - skip ))
  fail=$(grep -cE '^not ok [0-9]+' "$log")
  planned=$(grep -m1 -oE '^1\.\.[0-9]+' "$log" | cut -d. -f3)
  ran=$((ok + fail + skip))
  if [ -n "$planned" ] && [ "$ran" -lt "$planned" ]; then
    echo "  bats ran $ran of $planned planned tests: the rest count as failed"
    fail=$((fail + planned - ran))
  fi
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "  bats exited $rc without a failing test"; fail=1
  fi
  count "$layer" "$ok" "$fail" "$skip"
  rm -f "$log"
}

# The egress pool (ADR_EGRESS_POOL) is off for the bats layers: every test
# has a HOME of its own, so a unit made after its run would never be used.
# The tests of the pool turn it on (tests/integration/pool.bats, network
# policy again through pooled units: network-pool.bats).
export ADR_EGRESS_POOL=0
shopt -s nullglob
if want unit; then
  # the C style (.clang-format) is part of the unit layer: one count
  say "unit: every C file follows .clang-format"
  fmtlog=$(mktemp)
  nfiles=$(find src tests -name '*.[ch]' | wc -l)
  if find src tests -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run --Werror >"$fmtlog" 2>&1; then
    echo "  ok: $nfiles files"
    count format 1 0 0
  else
    grep -E '^[^ ].*: (error|warning):' "$fmtlog" | cut -d: -f1 | sort -u | sed 's/^/  not formatted: /' | head -20
    echo "  fix: clang-format -i FILE..."
    count format 0 1 0
  fi
  rm -f "$fmtlog"
  say "unit: cmocka and fuzz-corpus replay (build/)"
  run_meson unit build
  say "unit: the same under ASan/UBSan (build-asan/)"
  run_meson unit-asan build-asan
fi
if want engine; then
  say "engine: the conformance suite against the real engine (tests/engine)"
  run_meson engine build engine
  say "engine: the same under ASan/UBSan (build-asan/)"
  run_meson engine-asan build-asan engine
fi
# A cmocka program run directly: each test is one count.
run_cmocka() { # layer command...
  local layer=$1 log rc ok fail skip
  shift
  log=$(mktemp)
  "$@" >"$log" 2>&1
  rc=$?
  grep -E '^\[ +(OK|FAILED|ERROR|SKIPPED) +\] test_' "$log" | sed 's/^/  /'
  ok=$(grep -cE '^\[ +OK +\] test_' "$log")
  fail=$(grep -cE '^\[ +FAILED +\] test_' "$log")
  fail=$((fail / 2)) # cmocka names each failure twice: where it happens, and in the summary
  skip=$(grep -cE '^\[ +SKIPPED +\] test_' "$log")
  skip=$((skip / 2)) # and each skip (its reason is on the line before)
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "  $1 exited $rc without a failing test:"; tail -20 "$log" | sed 's/^/    /'; fail=1
  elif [ "$fail" -gt 0 ]; then
    grep -vE '^\[ +(RUN|OK) +\]' "$log" | head -60 | sed 's/^/    /'
  fi
  [ $((ok + fail + skip)) -gt 0 ] || { echo "  no tests ran: $*"; fail=1; }
  count "$layer" "$ok" "$fail" "$skip"
  rm -f "$log"
}

# The native engine rootless: the conformance suite (its core: the native
# engine has no egress yet) as an unprivileged user, with limits from a
# cgroup subtree prepared for that user (v1: one per controller; v2: a
# delegated one), and the image from a `docker save` archive imported with
# adr image import (the user has no engine to import from).
native_rootless() {
  local user=adr-rootless dir uid c
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user" ||
    { echo "  could not add the user $user"; count engine-rootless 0 1 0; return; }
  uid=$(id -u "$user")
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    mkdir -p "/sys/fs/cgroup/adr-native-$uid"
    echo "+memory +pids +cpu" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    echo "+memory +pids +cpu" >"/sys/fs/cgroup/adr-native-$uid/cgroup.subtree_control" 2>/dev/null || true
    chown -R "$user" "/sys/fs/cgroup/adr-native-$uid"
  else
    for c in memory pids cpu; do
      [ "$(stat -fc %T "/sys/fs/cgroup/$c" 2>/dev/null)" = cgroupfs ] || continue
      mkdir -p "/sys/fs/cgroup/$c/adr-native-$uid" && chown -R "$user" "/sys/fs/cgroup/$c/adr-native-$uid"
    done
  fi
  dir=$(mktemp -d /tmp/adr-rootless.XXXXXX)
  chmod 755 "$dir"
  cp "$ROOT/build/adr" "$ROOT/build/tests/engine-conformance" "$dir/"
  docker save debian:bookworm-slim >"$dir/image.tar"
  chmod 644 "$dir/image.tar"
  chown "$user" "$dir"
  if ! runuser -u "$user" -- env HOME="$dir" ADR_NATIVE_ROOT="$dir/root" "$dir/adr" image import "$dir/image.tar" >/dev/null; then
    echo "  adr image import failed as $user"; count engine-rootless 0 1 0
  else
    run_cmocka engine-rootless runuser -u "$user" -- env HOME="$dir" ADR_ENGINE=native ADR_NATIVE_ROOT="$dir/root" \
      "$dir/engine-conformance" core
    # the egress part (allowlist, open): open needs a /dev/net/tun the user
    # may open, as most distributions ship it (0666); where the host's is
    # root's only, a node of the test's own is mounted over it in a mount
    # namespace of the test's (the host's stays as it is)
    mknod "$dir/tun" c 10 200 && chmod 666 "$dir/tun"
    run_cmocka engine-rootless unshare -m sh -c 'mount --bind "$1/tun" /dev/net/tun && shift &&
      exec runuser -u "$@"' sh "$dir" "$user" -- env HOME="$dir" ADR_ENGINE=native ADR_NATIVE_ROOT="$dir/root" \
      "$dir/engine-conformance" egress
  fi
  rm -rf "$dir"
}
if want engine && [ "$(id -u)" = 0 ]; then
  say "engine: the native engine rootless, as an unprivileged user (tests/engine, core)"
  native_rootless
fi

# A PostgreSQL server of the test's own: a new cluster in a temporary
# directory, listening only on a unix socket there (as the postgres user
# when root: the server refuses root), stopped after the layer.
PGDIR=""
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() {
  [ -n "$PGDIR" ] || return 0
  pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$PGDIR"
  PGDIR=""
}
pg_start() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$PGBIN/initdb" ] || { echo "  no PostgreSQL server (install postgresql, or run without --no-deps)"; return 1; }
  PGDIR=$(mktemp -d /tmp/adr-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  pg_as "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U adr --no-sync -E UTF8 >"$PGDIR/initdb.log" 2>&1 &&
    pg_as "$PGBIN/pg_ctl" -D "$PGDIR/data" -o "-k $PGDIR -c listen_addresses='' -c fsync=off" -w -l "$PGDIR/log" \
      start >/dev/null 2>&1 ||
    { echo "  PostgreSQL did not start:"; tail -20 "$PGDIR/initdb.log" "$PGDIR/log" 2>/dev/null | sed 's/^/    /'; pg_stop; return 1; }
}
pg_db() { # a new database: its URL
  "$PGBIN/createdb" -h "$PGDIR" -U adr "$1" && echo "postgresql:///$1?host=$PGDIR&user=adr"
}

# One PostgreSQL server for the layers that use it (the queue's
# conformance suite, the coordinator's bats tests): stopped when test.sh ends.
PG_OK=0
if want queue || want integration; then
  if pg_start; then
    PG_OK=1
    trap pg_stop EXIT
    export ADR_TEST_PGBIN=$PGBIN ADR_TEST_PGHOST=$PGDIR
  else
    count postgresql-server 0 1 0 # the tests that need it would only be skipped
  fi
fi
if want queue; then
  say "queue: the run queue's conformance suite on SQLite and PostgreSQL (tests/queue)"
  qtmp=$(mktemp -d)
  run_cmocka queue-sqlite build/tests/queue-conformance "sqlite:$qtmp/plain.db"
  run_cmocka queue-sqlite-asan build-asan/tests/queue-conformance "sqlite:$qtmp/asan.db"
  if [ "$PG_OK" = 1 ] && url=$(pg_db adr_queue_plain) && url2=$(pg_db adr_queue_asan); then
    run_cmocka queue-postgresql build/tests/queue-conformance "$url"
    run_cmocka queue-postgresql-asan build-asan/tests/queue-conformance "$url2"
  else
    echo "  no PostgreSQL database: the PostgreSQL half of this layer fails"
    count queue-postgresql 0 1 0
  fi
  rm -rf "$qtmp"
fi
# A registry of the tests' own (Debian's docker-registry) on loopback, for
# the native engine's pulls (tests/integration/native.bats): its storage in
# a temporary directory, stopped after the layer.
REG_PID="" REG_DIR=""
reg_start() {
  command -v docker-registry >/dev/null || return 1
  local port
  REG_DIR=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$REG_DIR" "$port" >"$REG_DIR/config.yml"
  docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 50); do
    curl -sf --noproxy '*' "http://127.0.0.1:$port/v2/" >/dev/null && { export ADR_TEST_REGISTRY="127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  tail -5 "$REG_DIR/log"
  return 1
}
reg_stop() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; [ -n "$REG_DIR" ] && rm -rf "$REG_DIR"; REG_PID=""; }
if want integration; then
  say "integration: bats against the real engine (tests/integration)"
  reg_start || { echo "  no registry (docker-registry) on loopback: the native engine's pull test fails"; }
  run_bats integration 300 tests/integration/*.bats
  reg_stop
  run_bats integration 300 tests/gateway/*.bats # adr-gateway alone: no engine, no root
fi
if want e2e; then
  say "e2e: real agents through adr run, mock model server (tests/e2e)"
  run_bats e2e 900 tests/e2e/*.bats
fi
if want scaleout; then
  say "scaleout: runners on two nodes of their own, one coordinator (tests/scaleout)"
  # shellcheck source=tests/lib/nodes.bash
  . tests/lib/nodes.bash
  if [ "$(id -u)" != 0 ]; then
    echo "  the nodes need root (network and mount namespaces): this layer fails"
    count scaleout-nodes 0 1 0
  elif trap 'nodes_stop; [ "$PG_OK" = 1 ] && pg_stop' EXIT && nodes_start 2; then
    run_bats scaleout 600 tests/scaleout/*.bats
  else
    echo "  the nodes did not start: this layer fails"
    count scaleout-nodes 0 1 0
  fi
  nodes_stop
  trap '[ "$PG_OK" = 1 ] && pg_stop' EXIT
fi
# The probes once more on the native engine as an unprivileged user
# (rootless: user namespaces, its own cgroup subtree, the allowlist network
# in its own namespaces), each probe one test; the image is the one the
# probes above used, imported from a `docker save` archive.  Their controls
# are probes.bats's.
probes_rootless() {
  local user=adr-rootless dir id out ok=0 fail=0 img=adrrootless/probe:latest
  local ids=(PRIV-01 PRIV-02 PRIV-03 PRIV-04 PRIV-05 PRIV-06 PRIV-07 PRIV-09 PRIV-10 FS-01 FS-03 FS-06 SEC-02 FD-01 RES-01)
  id -u "$user" >/dev/null 2>&1 || { echo "  no user $user (the engine layer adds it)"; count probes-rootless 0 1 0; return; }
  docker image inspect coding-agent/claude:latest >/dev/null 2>&1 ||
    { echo "  no coding-agent/claude image (the probes above build it)"; count probes-rootless 0 1 0; return; }
  dir=$(mktemp -d /tmp/adr-probes-rootless.XXXXXX)
  chmod 755 "$dir"
  mkdir -p "$dir/bin" "$dir/suid" "$dir/home/.config/adr/agents" "$dir/home/.ssh" "$dir/ws"
  cp "$ROOT/build/adr" "$ROOT/build/adr-gateway" "$dir/bin/"
  "${CC:-cc}" -static -O2 -o "$dir/ws/probe" "$ROOT/tests/probes/probe.c"
  cp "$dir/ws/probe" "$dir/suid/probe-suid" && chmod 4755 "$dir/suid/probe-suid" # root's, setuid
  echo secret >"$dir/home/.ssh/id_ed25519"
  printf 'ADR_IMAGE_PREFIX=adrrootless\nADR_AGENT=probe\nADR_PIDS=512\nADR_ENGINE=native\n' >"$dir/home/.config/adr/config"
  printf '%s\n' '{ "name": "probe", "description": "a shell on a real agent image", "npm": { "package": "none",' \
    '"version": "0" }, "binary": "bash", "args": { "interactive": [], "headless": ["-c", "{prompt}"] } }' \
    >"$dir/home/.config/adr/agents/probe.json"
  chown -R "$user" "$dir/home" "$dir/ws"
  as_user() { (cd "$dir/ws" && runuser -u "$user" -- env HOME="$dir/home" XDG_CONFIG_HOME="$dir/home/.config" \
    XDG_STATE_HOME="$dir/home/.local/state" ADR_NATIVE_ROOT="$dir/home/native" ADR_EGRESS_POOL=0 "$@"); }
  # streamed: the user reads no file of root's, and no copy is written
  docker tag coding-agent/claude:latest "$img"
  if ! docker save "$img" | as_user "$dir/bin/adr" image import - >/dev/null; then
    docker rmi "$img" >/dev/null
    echo "  adr image import failed as $user"; count probes-rootless 0 1 0; rm -rf "$dir"; return
  fi
  docker rmi "$img" >/dev/null
  for id in "${ids[@]}"; do
    # fd 7 open in adr (FD-01: it must not reach the sandbox)
    out=$(as_user "$dir/bin/adr" run probe -m "$dir/suid:/opt/adr-probe:ro" --prompt "/workspace/probe --only $id --writable /workspace /tmp /home/agent --nosuid /tmp /home/agent --pids-max 512 \
--suid /opt/adr-probe/probe-suid" 2>&1 7</etc/hostname)
    if [ "$(printf '%s\n' "$out" | grep -c "^PASS $id ")" -eq 1 ]; then
      ok=$((ok + 1)); echo "  ok $id (rootless, native)"
    else
      fail=$((fail + 1)); echo "  not ok $id (rootless, native):"; printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
    fi
  done
  # the negative control: without adr's limits, RES-01's fork bomb gets through
  out=$(as_user "$dir/bin/adr" run probe --unsafe no-limits --prompt "/workspace/probe --only RES-01 --pids-max 512" 2>&1)
  if [ "$(printf '%s\n' "$out" | grep -c "^FAIL RES-01 ")" -eq 1 ]; then
    ok=$((ok + 1)); echo "  ok RES-01 turns red with --unsafe no-limits (rootless, native)"
  else
    fail=$((fail + 1)); echo "  not ok RES-01 with --unsafe no-limits (rootless, native):"; printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
  fi
  # no cgroup the user may write: the pids limit is RLIMIT_NPROC's, and the run says so
  local uid cgs=()
  uid=$(id -u "$user")
  for c in /sys/fs/cgroup/adr-native-"$uid" /sys/fs/cgroup/*/adr-native-"$uid"; do [ -d "$c" ] && cgs+=("$c"); done
  if [ "${#cgs[@]}" -gt 0 ]; then chown root "${cgs[@]}"; fi
  out=$(as_user "$dir/bin/adr" run probe --prompt "/workspace/probe --only RES-01 --pids-max 512" 2>&1)
  if [ "${#cgs[@]}" -gt 0 ]; then chown "$user" "${cgs[@]}"; fi
  if [ "$(printf '%s\n' "$out" | grep -c "^PASS RES-01 ")" -eq 1 ] && [[ "$out" == *"RLIMIT_NPROC"* ]]; then
    ok=$((ok + 1)); echo "  ok RES-01 without a cgroup: RLIMIT_NPROC holds the pids limit, said (rootless, native)"
  else
    fail=$((fail + 1)); echo "  not ok RES-01 without a cgroup (rootless, native):"; printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
  fi
  # nothing left: no sandbox in the store, no supervisor or network holder of the user's
  # (zombies aside: this machine's pid 1 may not reap them)
  live() { ps -u "$user" -o stat= 2>/dev/null | grep -vc '^Z'; }
  for _ in $(seq 100); do [ "$(live)" -eq 0 ] && break; sleep 0.1; done
  if [ -n "$(ls -A "$dir/home/native/boxes" 2>/dev/null)" ] || [ "$(live)" -ne 0 ]; then
    fail=$((fail + 1)); echo "  not ok: the probes left sandboxes or processes of $user"
  else
    ok=$((ok + 1)); echo "  ok nothing left (rootless, native)"
  fi
  count probes-rootless "$ok" "$fail" 0
  rm -rf "$dir"
}
if want probes; then
  say "probes: security probes inside sandboxes (tests/probes)"
  run_bats probes 300 tests/probes/*.bats
  if [ "$(id -u)" = 0 ]; then
    say "probes: on the native engine as an unprivileged user"
    probes_rootless
  fi
fi
shopt -u nullglob

summary
if [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]; then exit 0; fi
[ "$PASS" -eq 0 ] && [ "$FAIL" -eq 0 ] && echo "test.sh: no test ran" >&2
exit 1

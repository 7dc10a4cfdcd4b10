#!/usr/bin/env bats
# adr on the native engine (ADR_ENGINE=native: no daemon), with the small
# shell "agent" image the Docker engine builds (the native engine imports
# it from there the first time).  Its store is this file's, shared by its
# tests; each test's sandboxes are gone at its end.

bats_require_minimum_version 1.5.0
load ../lib/testimage

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PREFIX_ID="adrtest$$$RANDOM"
  export BATS_RUN_PREFIX="$PREFIX_ID"
  adr_test_image "$PREFIX_ID"
  export ADR_NATIVE_ROOT="$BATS_FILE_TMPDIR/native"
}

teardown_file() {
  docker rmi "$BATS_RUN_PREFIX/sh:latest" >/dev/null 2>&1 || true
  pkill -9 -f "^$ADR_BIN " 2>/dev/null || true
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  export ADR_ENGINE=native
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\nADR_NETWORK=none\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  adr_test_agent
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
}

adr() { "$ADR_BIN" "$@"; }

# sandboxes in the store, and supervisors alive for them
boxes() { find "$ADR_NATIVE_ROOT/boxes" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# live processes named COMM..., zombies aside, after a moment for those
# that are ending
alive() {
  local n names=" $* "
  for _ in $(seq 30); do
    n=$(ps -eo stat=,comm= | awk -v names="$names" 'index(names, " " $2 " ") && $1 !~ /^Z/' | wc -l)
    [ "$n" -eq 0 ] && break
    sleep 0.1
  done
  echo "$n"
}
# live supervisors (and their sandboxes' first processes)
supervisors() { alive adr-native; }
# the network's helpers: holders and slirp4netns
net_helpers() { alive adr-netns slirp4netns; }
# the cgroups of sandbox ID, in any hierarchy
sandbox_cgroups() { find /sys/fs/cgroup -maxdepth 4 -type d -name "adr-native-$1" 2>/dev/null; }

@test "native: a headless run's output and exit status, hardened, the workspace the user's, nothing left" {
  run --separate-stderr adr run sh --prompt 'echo out; echo err >&2; echo hi >/workspace/f;
    grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; id -u;
    if ( : >/probe ) 2>/dev/null; then echo root-writable; fi; exit 7'
  [ "$status" -eq 7 ]
  [ "$stderr" = "err" ]
  [[ "$output" == out* ]]
  [[ "$output" == *"CapEff:	0000000000000000"* ]]
  [[ "$output" == *"CapBnd:	0000000000000000"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
  [[ "$output" == *"Seccomp:	2"* ]]
  [[ "$output" != *root-writable* ]]
  # the agent is never root in the sandbox, even when adr is
  [ "${lines[-1]}" != 0 ]
  [ "$(stat -c %u "$WS/f")" = "$(id -u)" ]
  [ "$(boxes)" -eq 0 ]
  [ "$(supervisors)" -eq 0 ]
}

@test "native: the limits are the sandbox's cgroup, as it sees them" {
  run adr run sh --pids 77 --memory 300m --prompt 'cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null;
    cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; true'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 77 ]
  [ "${lines[1]}" = $((300 * 1024 * 1024)) ]
}

# a one-line HTTP server on the host (python3), on ADDR: its port in
# PORT, its pid in HTTP_PID (teardown stops it)
http_up() {
  python3 - "$1" >"$BATS_TEST_TMPDIR/http.port" 2>/dev/null 3>&- <<'PY' &
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"hello from the host\n")
    def log_message(self, *a): pass
s = socketserver.TCPServer((sys.argv[1], 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
  HTTP_PID=$!
  PORT=""
  for _ in $(seq 50); do PORT=$(cat "$BATS_TEST_TMPDIR/http.port" 2>/dev/null) && [ -n "$PORT" ] && break; sleep 0.1; done
  [ -n "$PORT" ]
}

teardown() {
  [ -z "${HTTP_PID:-}" ] || kill "$HTTP_PID" 2>/dev/null || true
}

@test "native: allowlist: the allowed host through the gateway, the rest refused and logged, no route, nothing left" {
  local port
  http_up 127.0.0.1
  port=$PORT
  run adr run sh --network allowlist --allow "127.0.0.1:$port" --prompt '
    exec 3<>/dev/tcp/127.0.0.1/3128 && printf "GET http://127.0.0.1:'"$port"'/ HTTP/1.0\r\n\r\n" >&3 && tail -1 <&3
    exec 4<>/dev/tcp/127.0.0.1/3128 && printf "GET http://127.0.0.1:'"$((port + 1))"'/ HTTP/1.0\r\n\r\n" >&4 && head -1 <&4
    ( exec 5<>/dev/tcp/10.0.0.1/80 ) 2>&1 | grep -o "Network is unreachable" | head -1
    awk "\$2 == \"00000000\"" /proc/net/route | wc -l
    grep nameserver /etc/resolv.conf
    echo "proxy=$HTTPS_PROXY"'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "hello from the host" ] # the allowed one: the control
  [[ "${lines[1]}" == "HTTP/1.1 403"* ]]
  [ "${lines[2]}" = "Network is unreachable" ]
  [ "${lines[3]}" = 0 ]
  [ "${lines[4]}" = "nameserver 127.0.0.1" ]
  [ "${lines[5]}" = "proxy=http://127.0.0.1:3128" ]
  local log
  log=$(echo "$XDG_STATE_HOME"/adr/egress/*/egress.jsonl)
  grep -q "\"port\":$port,.*\"verdict\":\"allow\"" "$log"
  grep -q "\"port\":$((port + 1)),.*\"verdict\":\"deny\"" "$log"
  adr_settle
  [ "$(boxes)" -eq 0 ]
  [ "$(supervisors)" -eq 0 ]
  [ "$(net_helpers)" -eq 0 ]
}

@test "native: allowlist: nothing listens on the host's network for the sandbox" {
  "$ADR_BIN" run sh --network allowlist --prompt 'sleep 30' >/dev/null 2>&1 3>&- &
  local pid=$!
  for _ in $(seq 100); do [ "$(boxes)" -eq 2 ] && [ -s "$ADR_NATIVE_ROOT"/boxes/*/holder ] 2>/dev/null && break; sleep 0.1; done
  [ -s "$(echo "$ADR_NATIVE_ROOT"/boxes/*/holder)" ]
  local holder
  holder=$(cut -d" " -f1 "$ADR_NATIVE_ROOT"/boxes/*/holder)
  # control: the gateway's proxy listens in the holder's namespace ...
  nsenter -n -t "$holder" ss -Hltn | grep -q '127.0.0.1:3128 '
  # ... and not on the host's
  ! ss -Hltn | grep -q '127.0.0.1:3128 '
  kill -9 "$pid"
  wait "$pid" || true
  run adr ls # reaps
  [ "$(boxes)" -eq 0 ]
  [ "$(net_helpers)" -eq 0 ]
}

@test "native: open: a way out; the host's loopback and the metadata address refused" {
  [ -c /dev/net/tun ] && command -v slirp4netns >/dev/null # test.sh installs it
  local port hostip
  http_up 0.0.0.0
  port=$PORT
  hostip=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
  [ -n "$hostip" ]
  run adr run sh --network open --prompt '
    ( exec 3<>/dev/tcp/'"$hostip/$port"' && printf "GET / HTTP/1.0\r\n\r\n" >&3 && tail -1 <&3 ) 2>&1
    ( exec 4<>/dev/tcp/10.0.2.2/'"$port"' ) 2>&1 | grep -oE "refused|unreachable" | head -1
    ( exec 5<>/dev/tcp/169.254.169.254/80 ) 2>&1 | grep -oE "No route to host|unreachable" | head -1
    grep nameserver /etc/resolv.conf'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "hello from the host" ] # the control: it gets out
  [[ "${lines[1]}" == refused || "${lines[1]}" == unreachable ]]
  [[ "${lines[2]}" == "No route to host" || "${lines[2]}" == unreachable ]]
  [ "${lines[3]}" = "nameserver 10.0.2.3" ]
  adr_settle
  [ "$(boxes)" -eq 0 ]
  [ "$(net_helpers)" -eq 0 ]
}

@test "native: a network it cannot give is refused in one line, and nothing is made" {
  # open without slirp4netns: what to install, in one line
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  ln -s "$(command -v git)" "$BATS_TEST_TMPDIR/bin/git"
  PATH="$BATS_TEST_TMPDIR/bin" run "$ADR_BIN" run sh --network open --prompt 'true'
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "adr: "*"network 'open' on the native engine: no slirp4netns on PATH (Debian and Ubuntu: apt install slirp4netns)"* ]]
  [ "$(boxes)" -eq 0 ]
  # control: the same run with --network none runs
  run adr run sh --network none --prompt 'echo ran'
  [ "$status" -eq 0 ]
  [ "$output" = ran ]
}

@test "native: adr build with no engine to build it says what native users do instead" {
  # (with one, it builds there and imports: tests/engine/native-import.c)
  DOCKER_HOST=unix:///nonexistent/adr-no-engine.sock run adr build sh
  [ "$status" -ne 0 ]
  [[ "$output" == *"the native engine builds no image, and no Docker or Podman engine answers"*"adr image import"* ]]
}

@test "native: a persistent agent: start, ls, exec, logs, diff, stop, rm" {
  git init -q && git -c user.name=t -c user.email=t@example.internal commit -q --allow-empty -m init
  run adr start sh --name w1 --network allowlist
  [ "$status" -eq 0 ]
  run adr ls
  [[ "$output" == *"w1"*"running"* ]]
  run adr exec w1 -- sh -c 'echo from-exec >/workspace/x; id -u'
  [ "$status" -eq 0 ]
  [ "$output" != 0 ]
  # exec joins its network too: the gateway's proxy answers there
  run adr exec w1 -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128 && printf "GET http://192.0.2.1/ HTTP/1.0\r\n\r\n" >&3 && head -1 <&3'
  [ "$status" -eq 0 ]
  [[ "$output" == "HTTP/1.1 403"* ]]
  run adr diff w1
  [[ "$output" == *"+from-exec"* ]]
  run adr stop w1
  [ "$status" -eq 0 ]
  run adr ls
  [[ "$output" == *"w1"*"exited"* ]]
  run adr rm --force w1
  [ "$status" -eq 0 ]
  adr_settle
  [ "$(boxes)" -eq 0 ]
  [ "$(net_helpers)" -eq 0 ]
  run adr ls
  [[ "$output" != *w1* ]]
}

@test "native: the sandbox's pid 1 keeps none of adr's environment" {
  git init -q && git -c user.name=t -c user.email=t@example.internal commit -q --allow-empty -m init
  ADR_TEST_CANARY=canary-$$-$RANDOM-key run adr start sh --name envp
  [ "$status" -eq 0 ]
  local dir sup init
  dir=$(echo "$ADR_NATIVE_ROOT"/boxes/*) # its only sandbox
  sup=$(cat "$dir/supervisor")
  init=$(cut -d" " -f1 "$dir/init")
  # control: the supervisor (outside the sandbox) still has it, so the probe sees it
  tr '\0' '\n' <"/proc/$sup/environ" | grep -q '^ADR_TEST_CANARY=canary-'
  ! tr '\0' '\n' <"/proc/$init/environ" | grep -q 'canary-'
  [ "$(tr -d '\0' <"/proc/$init/environ" | wc -c)" -eq 0 ]
  run adr rm --force envp
  [ "$status" -eq 0 ]
}

@test "native: adr killed with -9 mid-run leaves nothing the next command does not reap" {
  "$ADR_BIN" run sh --prompt 'sleep 60' >/dev/null 2>&1 & # the process itself, not a subshell
  local pid=$!
  for _ in $(seq 100); do [ -s "$ADR_NATIVE_ROOT"/boxes/*/init ] 2>/dev/null && break; sleep 0.1; done
  [ "$(boxes)" -eq 1 ]
  kill -9 "$pid"
  wait "$pid" || true
  [ "$(boxes)" -eq 1 ] # the sandbox outlives the adr that was killed ...
  run adr ls
  [ "$(boxes)" -eq 0 ] # ... until the next command reaps it
  [ "$(supervisors)" -eq 0 ]
}

@test "native: a supervisor killed with -9 takes its sandbox with it" {
  adr run sh --prompt 'echo started; sleep 60; echo not-killed' >"$BATS_TEST_TMPDIR/out" 2>&1 &
  local pid=$!
  local sup=""
  for _ in $(seq 100); do
    sup=$(cat "$ADR_NATIVE_ROOT"/boxes/*/supervisor 2>/dev/null) && [ -n "$sup" ] && break
    sleep 0.1
  done
  [ -n "$sup" ]
  local init id
  init=$(cut -d" " -f1 "$ADR_NATIVE_ROOT"/boxes/*/init)
  id=$(basename "$(echo "$ADR_NATIVE_ROOT"/boxes/*)")
  kill -0 "$init" # control: its pid 1 is there before
  [ -n "$(sandbox_cgroups "$id")" ] # control: and its cgroup
  kill -9 "$sup"
  wait "$pid" || true
  ! kill -0 "$init" 2>/dev/null || grep -q '^Z' <(ps -o stat= -p "$init")
  cat "$BATS_TEST_TMPDIR/out"
  grep -q started "$BATS_TEST_TMPDIR/out"
  ! grep -q not-killed "$BATS_TEST_TMPDIR/out"
  [ "$(boxes)" -eq 0 ]
  [ -z "$(sandbox_cgroups "$id")" ] # its cgroup went with it, though its processes were still exiting
}

@test "native: cgroups of unnamed sandboxes whose caller died are swept; a live caller's and new ones kept" {
  [ "$(id -u)" = 0 ] # as test.sh runs it: the cgroup beside the caller's is root's to make
  local parent dead
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    parent=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
  else
    parent=/sys/fs/cgroup/pids$(awk -F: '$2 ~ /(^|,)pids(,|$)/ { print $3 }' /proc/self/cgroup)
  fi
  parent=${parent%/}
  true & dead=$!
  wait "$dead"
  ! kill -0 "$dead" 2>/dev/null
  mkdir "$parent/adr-native-$dead-1" "$parent/adr-native-$dead-2" "$parent/adr-native-$$-1"
  touch -d '1 minute ago' "$parent/adr-native-$dead-1" "$parent/adr-native-$$-1"
  run adr run sh --prompt true
  [ "$status" -eq 0 ]
  local gone=0 kept=0
  [ -d "$parent/adr-native-$dead-1" ] || gone=1     # stale: its caller is gone
  [ -d "$parent/adr-native-$dead-2" ] && kept=$((kept + 1)) # just made: maybe another pid namespace's
  [ -d "$parent/adr-native-$$-1" ] && kept=$((kept + 1))    # its caller lives
  rmdir "$parent/adr-native-$dead-1" "$parent/adr-native-$dead-2" "$parent/adr-native-$$-1" 2>/dev/null || true
  [ "$gone" -eq 1 ]
  [ "$kept" -eq 2 ]
}

@test "native: adr image import fills an empty store from an archive; bad archives are named" {
  docker save "$BATS_RUN_PREFIX/sh:latest" >"$BATS_TEST_TMPDIR/sh.tar"
  export ADR_NATIVE_ROOT="$BATS_TEST_TMPDIR/store2"
  run adr image ls
  [[ "$output" != *"$BATS_RUN_PREFIX/sh"* ]]
  run adr image import "$BATS_TEST_TMPDIR/sh.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == "imported sha256:"* ]]
  run adr image ls
  [[ "$output" == *"$BATS_RUN_PREFIX/sh"*latest* ]]
  echo 'not an archive' >"$BATS_TEST_TMPDIR/bad.tar"
  run adr image import "$BATS_TEST_TMPDIR/bad.tar"
  [ "$status" -ne 0 ]
  [[ "$output" == "adr: import '$BATS_TEST_TMPDIR/bad.tar': "* ]]
  run adr image import "$BATS_TEST_TMPDIR/missing.tar"
  [ "$status" -ne 0 ]
  [[ "$output" == *"missing.tar"* ]]
}

@test "native: auto takes the native engine when no engine answers, and says so" {
  [ "$(id -u)" = 0 ] || { echo "this test hides the engine's socket in a mount namespace: it needs root" >&2; return 1; }
  docker save "$BATS_RUN_PREFIX/sh:latest" >"$BATS_TEST_TMPDIR/sh.tar"
  adr image import "$BATS_TEST_TMPDIR/sh.tar" >/dev/null
  unset ADR_ENGINE DOCKER_HOST
  # no engine configured, and none answering at the default socket (hidden
  # in a mount namespace of the test's own)
  run --separate-stderr unshare --mount sh -c 'mount --bind /dev/null /var/run/docker.sock && exec "$0" "$@"' \
    "$ADR_BIN" run sh --prompt 'echo ran-native'
  [ "$status" -eq 0 ]
  [ "$output" = ran-native ]
  [[ "$stderr" == *"adr runs its native engine"* ]]
  # control: an engine that is configured (DOCKER_HOST) and does not answer
  # is an error, not a fallback
  DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-engine.sock" run adr run sh --prompt 'echo ran'
  [ "$status" -ne 0 ]
  [[ "$output" != *ran* ]]
  [[ "$output" == *no-engine.sock* ]]
}

# A registry of the tests' own on loopback (scripts/test.sh starts one:
# ADR_TEST_REGISTRY=127.0.0.1:PORT).
registry() {
  [ -n "${ADR_TEST_REGISTRY:-}" ] || { echo "ADR_TEST_REGISTRY is not set: scripts/test.sh starts a registry" >&2; return 1; }
  echo "$ADR_TEST_REGISTRY"
}

@test "native: adr image pull from a registry; a missing tag and a bare name are named" {
  local reg
  reg=$(registry)
  docker tag "$BATS_RUN_PREFIX/sh:latest" "$reg/$BATS_RUN_PREFIX/sh:v1"
  docker push -q "$reg/$BATS_RUN_PREFIX/sh:v1" >/dev/null
  export ADR_NATIVE_ROOT="$BATS_TEST_TMPDIR/store3"
  run adr image pull "$reg/$BATS_RUN_PREFIX/sh:v1"
  [ "$status" -eq 0 ]
  [[ "$output" == "pulled $reg/$BATS_RUN_PREFIX/sh:v1 sha256:"* ]]
  # the same image the engine has: the same config digest
  local want
  want=$(docker image inspect -f '{{.Id}}' "$BATS_RUN_PREFIX/sh:latest")
  [[ "$output" == *"$want" ]]
  run adr image ls
  [[ "$output" == *"$reg/$BATS_RUN_PREFIX/sh"*v1* ]]
  run adr image pull "$reg/$BATS_RUN_PREFIX/sh:nope"
  [ "$status" -ne 0 ]
  [ "$output" = "adr: pull $reg/$BATS_RUN_PREFIX/sh:nope: no such image in the registry (nope)" ]
  run adr image pull "$BATS_RUN_PREFIX/sh"
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not a registry host"* ]]
  docker rmi "$reg/$BATS_RUN_PREFIX/sh:v1" >/dev/null
}

@test "native: a run whose image names a registry pulls it there, with no engine anywhere" {
  local reg
  reg=$(registry)
  docker tag "$BATS_RUN_PREFIX/sh:latest" "$reg/$BATS_RUN_PREFIX/sh:latest"
  docker push -q "$reg/$BATS_RUN_PREFIX/sh:latest" >/dev/null
  docker rmi "$reg/$BATS_RUN_PREFIX/sh:latest" >/dev/null
  export ADR_NATIVE_ROOT="$BATS_TEST_TMPDIR/store4"
  export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-engine.sock"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\nADR_NETWORK=none\n' "$reg/$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  run adr run sh --prompt 'echo pulled-and-ran'
  [ "$status" -eq 0 ]
  [ "$output" = pulled-and-ran ]
}

#!/usr/bin/env bats
# adr run against the real engine, with a small shell "agent" image.

bats_require_minimum_version 1.5.0
load ../lib/testimage

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PREFIX_ID="adrtest$$$RANDOM"
  export BATS_RUN_PREFIX="$PREFIX_ID"
  adr_test_image "$PREFIX_ID"
}

teardown_file() {
  docker rmi "$BATS_RUN_PREFIX/sh:latest" >/dev/null 2>&1 || true
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  adr_test_agent
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
}

adr() { "$ADR_BIN" "$@"; }

# pids and memory limits as the sandbox sees them (cgroup v2 or v1)
LIMITS='for f in /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do [ -r $f ] && cat $f && break; done; for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do [ -r $f ] && cat $f && break; done'

leftovers() {
  adr_settle >&2
  docker ps -aq --filter "label=dev.adr.workspace=$WS" | wc -l
}

@test "headless run: stdout, stderr and exit status are the agent's" {
  run --separate-stderr adr run sh --prompt 'echo out; echo err >&2; exit 7'
  [ "$status" -eq 7 ]
  [ "$output" = "out" ]
  [ "$stderr" = "err" ]
  [ "$(leftovers)" -eq 0 ]
}

@test "files written in the workspace belong to the invoking user" {
  run adr run sh --prompt 'echo hi > /workspace/new.txt && mkdir -p /workspace/d/e && touch /workspace/d/e/f && id -u'
  [ "$status" -eq 0 ]
  [ "$(stat -c %u:%g new.txt)" = "$(id -u):$(id -g)" ]
  [ "$(stat -c %u:%g d/e/f)" = "$(id -u):$(id -g)" ]
  # the agent itself is never root
  [ "$output" != "0" ]
}

@test "existing workspace files are writable by the agent" {
  echo old >existing.txt
  run adr run sh --prompt 'echo new >> /workspace/existing.txt && cat /workspace/existing.txt'
  [ "$status" -eq 0 ]
  [ "$(cat existing.txt)" = "$(printf 'old\nnew')" ]
  [ "$(stat -c %u existing.txt)" = "$(id -u)" ]
}

@test "hardening: read-only root, no capabilities, no-new-privs, limits" {
  run adr run sh --prompt 'touch /etc/x 2>&1; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; '"$LIMITS"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Read-only file system"* ]]
  [[ "$output" == *"CapEff:	0000000000000000"* ]]
  [[ "$output" == *"CapBnd:	0000000000000000"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
  [[ "$output" == *"Seccomp:	2"* ]]
  [[ "$output" == *"1024"* ]]
  [[ "$output" == *"4294967296"* ]]
}

@test "read-only root, with its control: --unsafe writable-root" {
  probe='awk '"'"'$5 == "/" { split($6, o, ","); print o[1] }'"'"' /proc/self/mountinfo; touch /etc/x 2>&1'
  run adr run sh --prompt "$probe"
  [ "${lines[0]}" = "ro" ]
  [[ "${lines[1]}" == *"Read-only file system"* ]]
  run adr run sh --unsafe writable-root --prompt "$probe"
  [ "${lines[0]}" = "rw" ]
  [[ "${lines[1]}" == *"Permission denied"* ]]
}

@test "limits follow flags" {
  run adr run sh --memory 512m --pids 77 --prompt "$LIMITS"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "77" ]
  [ "${lines[1]}" = "536870912" ]
}

@test "HOME and /tmp are writable tmpfs; HOME has a passwd entry" {
  run adr run sh --prompt 'touch ~/a /tmp/b && echo "$HOME" && getent passwd "$(id -u)" | cut -d: -f6 && grep -E " (/tmp|/home/agent) " /proc/mounts | cut -d" " -f3,4'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "/home/agent" ]
  [ "${lines[1]}" = "/home/agent" ]
  [[ "$output" == *"tmpfs rw,nosuid,nodev"* ]]
}

@test "environment: -e and --env-file arrive; the host environment does not" {
  printf '# comment\nFROM_FILE="a b"\nexport QUOTED='"'"'x$y'"'"'\n' >envf
  ADR_HOST_CANARY=leak-me-not run adr run sh -e FOO=bar -e 'SPACED=one two' --env-file envf \
    --prompt 'echo "$FOO|$SPACED|$FROM_FILE|$QUOTED"; env | grep -c ADR_HOST_CANARY'
  [ "${lines[0]}" = 'bar|one two|a b|x$y' ]
  [ "${lines[1]}" = "0" ]
}

@test "mounts: read-only by default, :rw writable, config mounts from ADR_MOUNTS come first" {
  mkdir -p "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/rw"
  echo "ADR_MOUNTS=$BATS_TEST_TMPDIR/data:/data" >>"$XDG_CONFIG_HOME/adr/config"
  run adr run sh -m "$BATS_TEST_TMPDIR/rw:/rw:rw" --prompt 'touch /data/x 2>/dev/null && echo data-writable; touch /rw/y && echo rw-ok'
  [ "$status" -eq 0 ]
  [ "$output" = "rw-ok" ]
  [ -f "$BATS_TEST_TMPDIR/rw/y" ]
  [ ! -e "$BATS_TEST_TMPDIR/data/x" ]
}

@test "agent config is staged read-only and copied into HOME" {
  mkdir -p "$HOME/.shagent"
  echo original >"$HOME/.shagent/settings"
  run adr run sh --prompt 'cat ~/.shagent/settings; echo changed > ~/.shagent/settings && cat ~/.shagent/settings; touch /run/adr-stage/.shagent/x 2>/dev/null || echo stage-ro'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "original" ]
  [ "${lines[1]}" = "changed" ]
  [ "${lines[2]}" = "stage-ro" ]
  [ "$(cat "$HOME/.shagent/settings")" = "original" ]
}

@test "-c DIR replaces the agent's config home" {
  mkdir -p "$BATS_TEST_TMPDIR/alt"
  echo alt >"$BATS_TEST_TMPDIR/alt/settings"
  run adr run sh -c "$BATS_TEST_TMPDIR/alt" --prompt 'cat ~/.shagent/settings'
  [ "$status" -eq 0 ]
  [ "$output" = "alt" ]
}

@test "--model and agent arguments after --" {
  printf '{ "name": "echo", "npm": {"package": "x", "version": "0"}, "binary": "echo",
    "args": { "interactive": [], "headless": ["{model_args}", "{prompt}"], "model": ["--model={model}"] } }' \
    >"$XDG_CONFIG_HOME/adr/agents/echo.json"
  docker tag "$BATS_RUN_PREFIX/sh:latest" "$BATS_RUN_PREFIX/echo:latest"
  run adr run echo --model m1 --prompt 'the prompt' -- --extra 'two words'
  docker rmi "$BATS_RUN_PREFIX/echo:latest" >/dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "--model=m1 the prompt --extra two words" ]
  echo "ADR_MODEL_ECHO=from-config" >>"$XDG_CONFIG_HOME/adr/config"
}

@test "a project's .adr: the agent's model and extra arguments; never a wider network" {
  printf '{ "name": "echo", "npm": {"package": "x", "version": "0"}, "binary": "echo",
    "args": { "interactive": [], "headless": ["{model_args}", "{prompt}"], "model": ["--model={model}"] } }' \
    >"$XDG_CONFIG_HOME/adr/agents/echo.json"
  docker tag "$BATS_RUN_PREFIX/sh:latest" "$BATS_RUN_PREFIX/echo:latest"
  printf 'ADR_MODEL_ECHO=project-model\nADR_ARGS_ECHO=--from-project --verbose\nADR_ALLOW=evil.example\n' >.adr
  run --separate-stderr adr run echo --prompt 'p' -- --cli
  [ "$status" -eq 0 ]
  # the project's arguments first, then the command line's
  [ "$output" = "--model=project-model p --from-project --verbose --cli" ]
  # an allow entry is the host's to give: ignored, said
  [[ "$stderr" == *"ADR_ALLOW is ignored in a project file"* ]]
  run --separate-stderr adr run echo --network allowlist --prompt 'p'
  [[ "$stderr" == *"ADR_ALLOW is ignored"* ]]
  docker rmi "$BATS_RUN_PREFIX/echo:latest" >/dev/null
}

@test "--timeout stops the agent: message, exit 124, nothing left" {
  start=$SECONDS
  run --separate-stderr adr run sh --timeout 5s --prompt 'sleep 60'
  [ "$status" -eq 124 ]
  [[ "$stderr" == *"Error: Task terminated due to timeout (max 5s exceeded)"* ]]
  [ $((SECONDS - start)) -lt 25 ]
  [ "$(leftovers)" -eq 0 ]
}

@test "--timeout: an agent ignoring SIGTERM is killed after the grace period" {
  start=$SECONDS
  run adr run sh --timeout 5 --prompt 'trap "" TERM; sleep 60 & wait; sleep 60'
  [ "$status" -eq 124 ]
  [[ "$output" == *"(max 5 exceeded)"* ]] # the value as written
  [ $((SECONDS - start)) -ge 15 ]
  [ $((SECONDS - start)) -lt 35 ]
  [ "$(leftovers)" -eq 0 ]
}

@test "a killed adr leaves nothing after the next adr runs" {
  "$ADR_BIN" run sh --prompt 'sleep 60' &
  pid=$!
  for _ in $(seq 50); do [ "$(leftovers)" -ge 1 ] && break; sleep 0.2; done
  [ "$(leftovers)" -eq 1 ]
  kill -9 "$pid"
  wait "$pid" || true
  run adr run sh --prompt true
  [ "$status" -eq 0 ]
  [ "$(leftovers)" -eq 0 ]
  run bash -c "grep -c ' $XDG_STATE_HOME/adr/mnt' /proc/mounts"
  [ "$output" = "0" ]
}

@test "a teardown cut short after the sandbox went: the next adr unmounts what it left at once" {
  [ "$(id -u)" = 0 ] # idmapped mounts are root's adr's (as test.sh runs it)
  mounts() { grep -c " $XDG_STATE_HOME/adr/mnt/$1/" /proc/mounts || true; }
  # two runs killed with -9, each sandbox then removed by hand: as far as
  # a teardown gets before it unmounts (one marked as the teardown marks it)
  for n in cut-marked cut-unmarked; do
    "$ADR_BIN" run sh --name "$n" --prompt 'sleep 60' >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do docker inspect "$n" >/dev/null 2>&1 && [ "$(mounts "$n")" -gt 0 ] && break; sleep 0.1; done
    [ "$(mounts "$n")" -gt 0 ]
    kill -9 "$pid"
    wait "$pid" || true
    docker rm -f "$n" >/dev/null
  done
  touch "$XDG_STATE_HOME/adr/mnt/cut-marked/.torn"
  run adr run sh --prompt true
  [ "$status" -eq 0 ]
  [ "$(mounts cut-marked)" -eq 0 ]
  [ ! -e "$XDG_STATE_HOME/adr/mnt/cut-marked" ]
  # the control: unmarked, it may be a start under way, so it waits its grace
  [ "$(mounts cut-unmarked)" -gt 0 ]
  touch "$XDG_STATE_HOME/adr/mnt/cut-unmarked/.torn" # (and it goes the same way)
  run adr ls
  [ "$(mounts cut-unmarked)" -eq 0 ]
}

@test "interactive session under a real terminal: size, input, exit status" {
  sock="adrt$$"
  tmux -L "$sock" -f /dev/null new-session -d -x 120 -y 40 \
    "cd '$WS' && HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' '$ADR_BIN' run sh; echo EXIT=\$? > '$BATS_TEST_TMPDIR/exit'; sleep 30"
  sleep 3
  tmux -L "$sock" send-keys 'stty size; tty' Enter
  sleep 1
  tmux -L "$sock" resize-window -x 100 -y 30
  sleep 1
  tmux -L "$sock" send-keys 'stty size; exit 5' Enter
  for _ in $(seq 50); do [ -f "$BATS_TEST_TMPDIR/exit" ] && break; sleep 0.2; done
  screen=$(tmux -L "$sock" capture-pane -p)
  tmux -L "$sock" kill-server || true
  [[ "$screen" == *"40 120"* ]]
  [[ "$screen" == *"30 100"* ]]
  [[ "$screen" == *"/dev/pts/"* ]]
  [ "$(cat "$BATS_TEST_TMPDIR/exit")" = "EXIT=5" ]
}

@test "stdin without a terminal is passed through" {
  run bash -c "echo 'read l; echo got:\$l; exit 4' | '$ADR_BIN' run sh -- -s"
  [ "$status" -eq 4 ] || [ "$status" -eq 0 ]
}

# ---------------------------------------------------------------- errors

@test "error: unknown agent names the known ones" {
  run adr run nope --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: unknown agent 'nope' (known: "*"claude"*"sh"*")" ]]
}

@test "error: --headless without --prompt; --prompt with --shell" {
  run adr run sh --headless
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "adr run: --headless needs --prompt" ]]
  run adr run sh --prompt x --shell
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "adr run: --prompt and --shell cannot be combined" ]]
}

@test "error: bad timeouts are rejected before anything starts" {
  run adr run sh --timeout 1.5h --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == *"decimals are not supported"* ]]
  run adr run sh --timeout 10x --prompt x
  [[ "$output" == *"unknown unit 'x'"* ]]
  run adr run sh --timeout 3s --prompt x
  [ "$status" -eq 1 ]
  [ "$output" = "adr: --timeout '3s': must be at least 5s" ]
  echo "ADR_TIMEOUT=4" >>"$XDG_CONFIG_HOME/adr/config"
  run adr run sh --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: ADR_TIMEOUT ("*"config:"*") '4': must be at least 5s" ]]
  [ "$(leftovers)" -eq 0 ]
}

@test "--timeout: a bare number is seconds, units in either case" {
  run --separate-stderr adr run sh --timeout 60 --prompt 'echo ok'
  [ "$status" -eq 0 ]
  [ "$output" = ok ]
  run --separate-stderr adr run sh --timeout 1H --prompt 'echo ok'
  [ "$status" -eq 0 ]
  run --separate-stderr adr run sh --timeout 2m --prompt 'echo ok'
  [ "$status" -eq 0 ]
}

# adr run sh in a real terminal (tmux); the pane's screen after WAIT seconds
interactive_screen() { # wait adr-args...
  local wait=$1; shift
  sock="adrt$$$RANDOM"
  tmux -L "$sock" -f /dev/null new-session -d -x 120 -y 40 \
    "cd '$WS' && HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_STATE_HOME='$XDG_STATE_HOME' '$ADR_BIN' run sh $*; echo EXIT=\$? > '$BATS_TEST_TMPDIR/exit'; sleep 60"
  sleep "$wait"
  screen=$(tmux -L "$sock" capture-pane -p)
}

@test "ADR_TIMEOUT does not stop an interactive session; --timeout does, and says so at start" {
  echo "ADR_TIMEOUT=5s" >>"$XDG_CONFIG_HOME/adr/config"
  interactive_screen 10
  # still running after twice the timeout: it answers
  tmux -L "$sock" send-keys 'echo alive-$((6*7)); exit 3' Enter
  for _ in $(seq 50); do [ -f "$BATS_TEST_TMPDIR/exit" ] && break; sleep 0.2; done
  screen=$(tmux -L "$sock" capture-pane -p)
  tmux -L "$sock" kill-server || true
  [[ "$screen" == *alive-42* ]]
  [ "$(cat "$BATS_TEST_TMPDIR/exit")" = "EXIT=3" ]
  [[ "$screen" != *"stopped after"* ]]
  rm -f "$BATS_TEST_TMPDIR/exit"
  # control: asked for on the command line, it stops the session (124)
  interactive_screen 1 --timeout 5s
  for _ in $(seq 150); do [ -f "$BATS_TEST_TMPDIR/exit" ] && break; sleep 0.2; done
  screen=$(tmux -L "$sock" capture-pane -p)
  tmux -L "$sock" kill-server || true
  [[ "$screen" == *"adr: warning: this interactive session will be stopped after 5s (--timeout)"* ]]
  [[ "$screen" == *"Task terminated due to timeout (max 5s exceeded)"* ]]
  [ "$(cat "$BATS_TEST_TMPDIR/exit")" = "EXIT=124" ]
  [ "$(leftovers)" -eq 0 ]
}

@test "error: bad mounts name the culprit" {
  touch afile
  run adr run sh -m /nonexistent/dir:/x --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: invalid mount '/nonexistent/dir:/x': host path '/nonexistent/dir': No such file or directory" ]]
  run adr run sh -m "$WS/afile:/x" --prompt x
  [[ "$output" == *"is not a directory"* ]]
  run adr run sh -m "$WS:relative" --prompt x
  [[ "$output" == *"must be absolute"* ]]
  run adr run sh -m "$WS:/x:rx" --prompt x
  [[ "$output" == *"mode must be 'ro' or 'rw'"* ]]
  run adr run sh -m "$WS:/proc/x" --prompt x
  [[ "$output" == *"cannot mount under '/proc/x'"* ]]
  echo "ADR_MOUNTS=/nope:/n" >>"$XDG_CONFIG_HOME/adr/config"
  run adr run sh --prompt x
  [[ "$output" == *"ADR_MOUNTS ("*"config:3): invalid mount '/nope:/n'"* ]]
}

@test "error: bad environment" {
  run adr run sh -e '1BAD=x' --prompt x
  [ "$status" -eq 2 ]
  [[ "$output" == *"invalid environment '1BAD=x'"* ]]
  run adr run sh --env-file /nonexistent --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: env file '/nonexistent': No such file or directory" ]]
  printf 'GOOD=1\nBAD LINE\n' >envf
  run adr run sh --env-file envf --prompt x
  [[ "$output" == "adr: envf:2: invalid key (expected KEY=VALUE)" ]]
}

@test "error: missing image without a terminal names the build command" {
  run adr run sh --tag nosuchtag --prompt x </dev/null
  [ "$status" -eq 1 ]
  [ "$output" = "adr: image '$BATS_RUN_PREFIX/sh:nosuchtag' not found; build it with 'adr build sh --tag nosuchtag'" ]
}

@test "error: unreachable engine" {
  DOCKER_HOST=unix:///nonexistent.sock run adr run sh --prompt x
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"unix:///nonexistent.sock"*"is the Docker daemon running?"* ]]
}

@test "error: workspace checks" {
  run adr run sh -w /nonexistent --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: workspace '/nonexistent': No such file or directory" ]]
  run adr run sh -w / --prompt x
  [[ "$output" == *"refusing to give an agent your whole filesystem"* ]]
  run adr run sh -w "$HOME" --prompt x
  [[ "$output" == *"refusing to give an agent your whole home directory"* ]]
}

@test "error: --config-file for an agent without one; -c that does not exist" {
  touch cfg.json
  run adr run sh --config-file cfg.json --prompt x
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: --config-file: agent 'sh' does not take a config file" ]]
  run adr run sh -c /nonexistent --prompt x
  [[ "$output" == "adr: config directory '/nonexistent': No such file or directory" ]]
}

@test "error: unknown option and stray arguments" {
  run adr run sh --bogus
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "adr run: unknown option '--bogus'" ]
  run adr run sh extra --prompt x
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "adr run: unexpected argument 'extra'"* ]]
  run adr run sh --unsafe everything --prompt x
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *"unknown --unsafe value 'everything'"* ]]
}

@test "no agent named, no ADR_AGENT: the only built agent, said; none or several is an error" {
  printf 'ADR_IMAGE_PREFIX=%s\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  run --separate-stderr adr run --prompt 'echo ran'
  [ "$status" -eq 0 ]
  [ "$output" = ran ]
  [ "$stderr" = "adr: no agent named; using 'sh', the only one built (name one, or set ADR_AGENT)" ]
  # several built: refused, listing them
  docker tag "$BATS_RUN_PREFIX/sh:latest" "$BATS_RUN_PREFIX/pi:latest"
  run --separate-stderr adr run --prompt 'echo ran'
  docker rmi "$BATS_RUN_PREFIX/pi:latest" >/dev/null
  [ "$status" -eq 1 ]
  [ "$stderr" = "adr: no agent named and ADR_AGENT is not set; built: pi, sh (name one, or 'adr config set ADR_AGENT NAME')" ]
  [ -z "$output" ]
  # none built
  printf 'ADR_IMAGE_PREFIX=%s-none\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  run --separate-stderr adr run --prompt 'echo ran'
  [ "$status" -eq 1 ]
  [[ "$stderr" == "adr: no agent named, ADR_AGENT is not set and no agent is built; build one with 'adr build AGENT' (claude, "*", sh)" ]]
  # control: ADR_AGENT picks without a word
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  run --separate-stderr adr run --prompt 'echo ran'
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(leftovers)" -eq 0 ]
}

@test "-e KEY and a bare --env-file KEY unset on the host: warned, not passed; set: passed" {
  unset ADR_T_UNSET
  printf 'ADR_T_UNSET\nADR_T_SET\n' >envf
  run --separate-stderr env ADR_T_SET=yes "$ADR_BIN" run sh -e ADR_T_UNSET --env-file envf --prompt 'echo "u=${ADR_T_UNSET-none} s=$ADR_T_SET"'
  [ "$status" -eq 0 ]
  [ "$output" = "u=none s=yes" ]
  [[ "$stderr" == *"adr: warning: -e ADR_T_UNSET: ADR_T_UNSET is not set on the host; not passed"* ]]
  [[ "$stderr" == *"adr: warning: --env-file envf:1: ADR_T_UNSET is not set on the host; not passed"* ]]
  [[ "$stderr" != *"ADR_T_SET is not set"* ]]
}

@test "--gpus: the engine is asked for the devices; one without a GPU runtime is a clear error, nothing left" {
  # the control: the same run without --gpus works
  run adr run sh --prompt 'echo ok'
  [ "$status" -eq 0 ]
  # the engine here has no GPU runtime (nvidia-container-runtime): it refuses the device request
  docker info --format '{{json .Runtimes}}' | grep -qv nvidia
  run --separate-stderr adr run sh --gpus all --prompt 'echo ran'
  [ "$status" -ne 0 ]
  [ "$output" = "" ]
  [[ "$stderr" == "adr: start sandbox: --gpus: the engine has no GPU runtime (could not select device driver"*"install the NVIDIA Container Toolkit and configure the engine for it (docs/gpu.md)" ]]
  # the engine's own words show what it was asked: GPU devices (the body is unit-tested)
  [[ "$stderr" == *"with capabilities: [[gpu]]"* ]]
  [ "$(leftovers)" -eq 0 ]
  run --separate-stderr adr run sh --gpus device=0,GPU-3a9c --prompt 'echo ran'
  [[ "$stderr" == *"--gpus: the engine has no GPU runtime"* ]]
  [ "$(leftovers)" -eq 0 ]
  # bad values are named before anything starts
  run --separate-stderr adr run sh --gpus lots --prompt 'echo ran'
  [ "$status" -eq 2 ] || [ "$status" -eq 1 ]
  [[ "$stderr" == *"--gpus 'lots': all, a count (1 to 64) or device=ID[,ID]... (indexes or UUIDs)"* ]]
  [ "$(leftovers)" -eq 0 ]
  run adr config set ADR_GPUS=sideways
  [ "$status" -ne 0 ]
  [[ "$output" == *"--gpus 'sideways'"* ]]
}

#!/usr/bin/env bats
# Queued runs end to end: adr serve, adr submit, and adr runner running
# each claimed run in an adr sandbox on the real engine: the repository
# cloned, the agent's work committed and pushed back as adr/run-ID, the
# result reported; a cancel and a timeout stop the sandbox; a real agent
# (pi) against the mock model server changes a file through the queue.

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() { agents_setup_file; }
teardown_file() { agents_teardown_file; }

setup() {
  agents_setup shared.txt one
  # the repository runs are submitted against: a bare one, as a remote would be
  ORIGIN="$BATS_TEST_TMPDIR/origin.git"
  git clone -q --bare "$REPO" "$ORIGIN"
  SERVE_PID="" RUNNER_PID=""
  "$ADR_BIN" serve --no-auth --listen 127.0.0.1:0 >"$BATS_TEST_TMPDIR/serve.out" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 100); do
    ADR_COORDINATOR=$(awk '/listening on/ { print $5 }' "$BATS_TEST_TMPDIR/serve.out")
    [ -n "$ADR_COORDINATOR" ] && break
    sleep 0.05
  done
  export ADR_COORDINATOR
  [ -n "$ADR_COORDINATOR" ]
}

teardown() {
  for p in $RUNNER_PID $SERVE_PID; do
    kill "$p" 2>/dev/null || true
  done
  for p in $RUNNER_PID $SERVE_PID; do
    wait "$p" 2>/dev/null || true
  done
  adr_settle || true
  # nothing of the runs' is left in the engine
  [ -z "$(docker ps -aq --filter "label=dev.adr.workspace" --filter "label=dev.adr.kind=run" |
    xargs -r docker inspect -f '{{index .Config.Labels "dev.adr.workspace"}}' | grep -F "$BATS_TEST_TMPDIR")" ]
  agents_no_mounts_left
}

adr() { "$ADR_BIN" "$@"; }
start_runner() {
  "$ADR_BIN" runner --name r1 "$@" >"$BATS_TEST_TMPDIR/runner.out" 2>&1 &
  RUNNER_PID=$!
}
# waits until run ID is in STATE (60 s at most)
wait_state() {
  local i
  for i in $(seq 300); do
    [ "$(adr runs show "$1" --json | jq -r .state)" = "$2" ] && return 0
    sleep 0.2
  done
  adr runs show "$1"; cat "$BATS_TEST_TMPDIR/runner.out"; return 1
}

@test "a queued run: cloned, run in a sandbox, the agent's work pushed back as adr/run-ID" {
  run adr submit sh --repo "$ORIGIN" --prompt 'cd /workspace && git branch --show-current && id -u && echo queued > q.txt && git add q.txt && git -c user.name=a -c user.email=a@x commit -qm from-agent && echo untracked > u.txt'
  [ "$status" -eq 0 ]
  start_runner
  wait_state 1 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.exit_code')" = 0 ]
  [ "$(echo "$output" | jq -r '.result.branch + " " + (.result.commits|tostring) + " " + (.result.pushed|tostring)')" = "adr/run-1 2 true" ]
  [[ "$(echo "$output" | jq -r .result.output_tail)" == "adr/run-1"$'\n'"$(id -u | sed 's/^0$/1000/')"* ]] # not root inside
  # the branch in the repository: the agent's commit, then what it left uncommitted
  [ "$(git -C "$ORIGIN" log --format=%s adr/run-1 | head -2 | tr '\n' ' ')" = "adr runner: what the agent left uncommitted from-agent " ]
  [ "$(git -C "$ORIGIN" show adr/run-1:q.txt)" = queued ]
  [ "$(git -C "$ORIGIN" show adr/run-1:u.txt)" = untracked ]
  # the workspace went (its work is in the repository)
  [ -z "$(ls "$HOME/.cache/adr-runner/r1" 2>/dev/null)" ]
  grep -q "run 1: exit 0, reported (HTTP 200)" "$BATS_TEST_TMPDIR/runner.out"
  # its output through the coordinator
  run --separate-stderr adr runs logs 1
  [[ "$output" == "adr/run-1"* ]]
  [[ "$stderr" == *"adr: run 1 finished by r1 (exit 0)"* ]]
}

@test "the agent's .git is never run on the host: a planted fsmonitor runs nowhere but in a sandbox" {
  mark="$BATS_TEST_TMPDIR/pwned"
  payload="touch $mark; false"
  # the control: that config does run a program when git runs in the repository
  git init -q "$BATS_TEST_TMPDIR/ctl" && git -C "$BATS_TEST_TMPDIR/ctl" config core.fsmonitor "$payload"
  git -C "$BATS_TEST_TMPDIR/ctl" status >/dev/null 2>&1 || true
  [ -e "$mark" ]
  rm -f "$mark"
  adr submit sh --repo "$ORIGIN" --prompt "cd /workspace && git config core.fsmonitor '$payload' && git config core.hooksPath /workspace/hooks && echo planted > p.txt" >/dev/null
  start_runner
  wait_state 1 finished
  [ ! -e "$mark" ]
  # and the work still came home
  [ "$(git -C "$ORIGIN" show adr/run-1:p.txt)" = planted ]
  [ "$(adr runs show 1 --json | jq -r .result.pushed)" = true ]
}

@test "the runner takes only runs whose tags it has; a run with no work pushes nothing" {
  adr submit sh --repo "$ORIGIN" --prompt 'true' --tag gpu >/dev/null
  adr submit sh --repo "$ORIGIN" --prompt 'true' >/dev/null
  start_runner --tag linux
  wait_state 2 finished
  [ "$(adr runs show 1 --json | jq -r .state)" = queued ] # the control: still waiting for a gpu runner
  run adr runs show 2 --json
  [ "$(echo "$output" | jq -r '(.result.commits|tostring) + " " + (.result.pushed|tostring)')" = "0 false" ]
  ! git -C "$ORIGIN" show-ref --verify --quiet refs/heads/adr/run-2
}

@test "cancel while it runs: the sandbox is stopped, the run is cancelled; logs -f follows it to its end" {
  adr submit sh --repo "$ORIGIN" --prompt 'echo started; sleep 300' >/dev/null
  start_runner
  adr runs logs -f 1 >"$BATS_TEST_TMPDIR/follow" 2>&1 &
  local follower=$!
  wait_state 1 running
  for _ in $(seq 100); do grep -q started "$HOME/.cache/adr-runner/r1/run-1/output.log" 2>/dev/null && break; sleep 0.2; done
  run adr runs cancel 1
  [ "$output" = "asked the runner of run 1 (r1) to stop it" ]
  wait_state 1 cancelled # the heartbeat (every 10 s) brings it
  [ "$(adr runs show 1 --json | jq -r .result.stopped)" = cancelled ]
  wait "$follower" # it ends with the run
  grep -qx started "$BATS_TEST_TMPDIR/follow"
  grep -q "adr: run 1 cancelled by r1" "$BATS_TEST_TMPDIR/follow"
}

@test "a run that hangs is stopped at its timeout (exit 124), with SIGKILL when it ignores SIGTERM" {
  adr submit sh --repo "$ORIGIN" --prompt 'sleep 300' --timeout 6s >/dev/null
  adr submit sh --repo "$ORIGIN" --prompt 'trap "" TERM; echo stubborn; while :; do sleep 1; done' --timeout 6s >/dev/null
  start_runner --capacity 2
  wait_state 1 finished
  [ "$(adr runs show 1 --json | jq -r .exit_code)" = 124 ]
  wait_state 2 finished
  run adr runs show 2 --json
  [ "$(echo "$output" | jq -r .exit_code)" = 124 ]
  [[ "$(echo "$output" | jq -r .result.output_tail)" == stubborn* ]]
  # SIGTERM was ignored: SIGKILL came 10 s after it
  [ $(($(echo "$output" | jq .updated) - $(echo "$output" | jq .created))) -ge 16000 ]
}

@test "the coordinator restarts while a run is running: the runner reconnects and reports it" {
  adr submit sh --repo "$ORIGIN" --prompt 'echo before; sleep 5; echo during; sleep 4; echo after > a.txt' >/dev/null
  start_runner
  wait_state 1 running
  kill "$SERVE_PID"
  wait "$SERVE_PID" || true
  sleep 4 # the run goes on without it; its output and heartbeat fail meanwhile
  ! curl -s "$ADR_COORDINATOR/v1/health"
  "$ADR_BIN" serve --no-auth --listen "${ADR_COORDINATOR#http://}" >"$BATS_TEST_TMPDIR/serve2.out" 2>&1 &
  SERVE_PID=$!
  wait_state 1 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.exit_code, .result.pushed, .attempts' | tr '\n' ' ')" = "0 true 1 " ]
  [ "$(git -C "$ORIGIN" show adr/run-1:a.txt)" = after ]
  # no output was lost while it was away
  [ "$(adr runs logs 1 2>/dev/null)" = "$(printf 'before\nduring')" ]
  # and it takes new runs from the new coordinator
  adr submit sh --repo "$ORIGIN" --prompt 'true' >/dev/null
  wait_state 2 finished
}

@test "a real agent (pi) queued through the coordinator changes a file; the result branch holds it" {
  agents_pi_models "$HOME/.pi"
  : >"$MOCK_LOG"
  adr submit pi --repo "$ORIGIN" --model mock/mock-model \
    --prompt "Run this shell command exactly: [[cd /workspace && echo from-pi > pi.txt]]" >/dev/null
  start_runner
  wait_state 1 finished
  adr runs show 1 || true
  grep -q '"user_agent": "pi (' "$MOCK_LOG"
  [ "$(git -C "$ORIGIN" show adr/run-1:pi.txt)" = from-pi ]
}

@test "a procedural profile runs its command in the sandbox instead of the agent; the prompt is \$ADR_PROMPT" {
  mkdir -p "$XDG_CONFIG_HOME/adr/profiles"
  cat >"$XDG_CONFIG_HOME/adr/profiles/proc.json" <<'JSON'
{ "agent": "sh", "command": ["sh", "-c", "cd /workspace && printf '%s\\n' \"$ADR_PROMPT\" > proc.txt && echo \"ran as $(id -u) $0\""] }
JSON
  run adr submit --profile proc --repo "$ORIGIN" --prompt 'say "hi"; rm -rf /'
  [ "$status" -eq 0 ]
  start_runner
  wait_state 1 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.exit_code')" = 0 ]
  # the prompt was data in the environment, not a command: nothing ran it
  [ "$(git -C "$ORIGIN" show adr/run-1:proc.txt)" = 'say "hi"; rm -rf /' ]
  [[ "$(echo "$output" | jq -r .result.output_tail)" == "ran as $(id -u | sed 's/^0$/1000/') sh"* ]]
}

@test "--deliver bundle: the work is stored with the run, not pushed; adr runs fetch brings it home as a branch" {
  adr submit sh --repo "$ORIGIN" --deliver bundle --prompt 'cd /workspace && echo bundled > b.txt' >/dev/null
  adr submit sh --repo "$ORIGIN" --prompt 'true' >/dev/null
  start_runner
  wait_state 2 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '(.result.commits|tostring) + " " + (.result.pushed|tostring)')" = "1 false" ]
  [ "$(echo "$output" | jq -r '.result.bundle')" -gt 0 ]
  ! git -C "$ORIGIN" show-ref --verify --quiet refs/heads/adr/run-1 # not pushed
  # the workspace went: the work is safe at the coordinator
  [ -z "$(ls "$HOME/.cache/adr-runner/r1" | grep -v interrupted)" ]
  git clone -q "$ORIGIN" "$BATS_TEST_TMPDIR/mine"
  cd "$BATS_TEST_TMPDIR/mine"
  run adr runs fetch 1
  [ "$status" -eq 0 ]
  [ "$output" = "fetched run 1's work as branch adr/run-1" ]
  [ "$(git show adr/run-1:b.txt)" = bundled ]
  [ "$(git rev-parse adr/run-1~1)" = "$(git -C "$ORIGIN" rev-parse HEAD)" ]
  adr runs fetch 1 -o "$BATS_TEST_TMPDIR/run1.bundle"
  git bundle verify -q "$BATS_TEST_TMPDIR/run1.bundle"
  # a run with no work has no bundle
  run adr runs fetch 2
  [ "$status" -eq 1 ]
  [[ "$output" == *"run 2 has no bundle (HTTP 404)"* ]]
}

@test "a push the repository refuses: the work is stored as a bundle instead, and kept" {
  printf '#!/bin/sh\necho "no pushes here" >&2\nexit 1\n' >"$ORIGIN/hooks/pre-receive"
  chmod +x "$ORIGIN/hooks/pre-receive"
  adr submit sh --repo "$ORIGIN" --prompt 'cd /workspace && echo refused > r.txt' >/dev/null
  start_runner
  wait_state 1 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.result.pushed')" = false ]
  [[ "$(echo "$output" | jq -r '.result.push_error')" == *"git push"* ]]
  [ "$(echo "$output" | jq -r '.result.bundle')" -gt 0 ]
  adr runs fetch 1 -o "$BATS_TEST_TMPDIR/r.bundle"
  git init -q "$BATS_TEST_TMPDIR/x" && cd "$BATS_TEST_TMPDIR/x"
  git fetch -q "$ORIGIN" HEAD && git fetch -q "$BATS_TEST_TMPDIR/r.bundle" refs/heads/adr/run-1:refs/heads/got
  [ "$(git show got:r.txt)" = refused ]
}

@test "the egress decisions come back with the result" {
  adr submit sh --repo "$ORIGIN" --network allowlist \
    --prompt 'curl -s -o /dev/null -w "%{http_code}\n" http://denied.invalid/ ; true' >/dev/null
  adr submit sh --repo "$ORIGIN" --network none --prompt 'true' >/dev/null
  start_runner
  wait_state 2 finished
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.result.output_tail' | head -1)" = 403 ]
  [ "$(echo "$output" | jq -r '.result.egress.denied')" -ge 1 ]
  [ "$(echo "$output" | jq -r '[.result.egress.decisions[] | select(.host == "denied.invalid")][0].verdict')" = deny ]
  # the control: no gateway, no decisions
  [ "$(adr runs show 2 --json | jq -r '.result.egress')" = null ]
}

@test "kill -9 of the runner: its next start reaps the run's sandbox and gives the run back, which runs again" {
  adr submit sh --repo "$ORIGIN" --prompt 'echo started; sleep 300' >/dev/null
  start_runner
  wait_state 1 running
  for _ in $(seq 100); do grep -q started "$HOME/.cache/adr-runner/r1/run-1/output.log" 2>/dev/null && break; sleep 0.2; done
  sbx=$(docker ps -q --filter label=dev.adr.kind=run | xargs -r docker inspect -f '{{.Id}} {{index .Config.Labels "dev.adr.workspace"}}' |
    awk -v t="$BATS_TEST_TMPDIR" 'index($2, t) { print $1 }')
  [ -n "$sbx" ]
  read -r _ held_pid <"$HOME/.cache/adr-runner/r1/run-1/held"
  kill -9 "$RUNNER_PID"
  wait "$RUNNER_PID" || true
  # its run's process went with it; the sandbox is still there (the control)
  for _ in $(seq 50); do kill -0 "$held_pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$held_pid" 2>/dev/null
  docker inspect "$sbx" >/dev/null
  # a second runner on the same work directory is refused while one runs
  start_runner
  for _ in $(seq 100); do grep -q 'given back' "$BATS_TEST_TMPDIR/runner.out" && break; sleep 0.2; done
  grep -q 'run 1: interrupted by the runner.s end; given back (queued)' "$BATS_TEST_TMPDIR/runner.out"
  ! docker inspect "$sbx" >/dev/null 2>&1 # reaped
  ls -d "$HOME/.cache/adr-runner/r1/interrupted/run-1-"*
  run "$ADR_BIN" runner --name r1
  [ "$status" -eq 1 ]
  [[ "$output" == *"work directory '$HOME/.cache/adr-runner/r1' is another runner's"* ]]
  # it runs again, a second attempt, and can be cancelled as usual
  wait_state 1 running
  [ "$(adr runs show 1 --json | jq -r .attempts)" = 2 ]
  run --separate-stderr adr runs logs 1
  [[ "$stderr" == *"released"* ]]
  adr runs cancel 1 >/dev/null
  wait_state 1 cancelled
}

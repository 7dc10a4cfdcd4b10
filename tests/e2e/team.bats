#!/usr/bin/env bats
# adr team (adr-tmux): several persistent agents in one tmux session, on a
# private tmux server (TMUX_TMPDIR per test, no user config), against the
# real engine.  The "sh" agent is an interactive bash on a real agent
# image; one test drives a real agent TUI (pi) through `send`.

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() { agents_setup_file; }

teardown_file() { agents_teardown_file; }

setup() {
  export TMUX_TMPDIR="$BATS_TEST_TMPDIR/tmux"
  unset TMUX ADR_TMUX_SOCKET
  mkdir -p "$TMUX_TMPDIR"
  agents_setup base.txt base
}

teardown() {
  for s in $(tmux list-sessions -F '#{session_name}' 2>/dev/null); do
    "$ADR_BIN" team stop "${s#adr-}" >/dev/null 2>&1 || true
  done
  for n in $("$ADR_BIN" ls --json 2>/dev/null | jq -r '.[].name'); do
    "$ADR_BIN" rm --force --no-push "$n" >/dev/null 2>&1 || true
  done
  tmux kill-server 2>/dev/null || true
  agents_no_mounts_left
}

adr() { "$ADR_BIN" "$@"; }
pane_of() { tmux list-panes -s -t "=adr-$1" -F '#{pane_id} #{@adr_name}' | awk -v n="$2" '$2 == n { print $1 }'; }
sandboxes() { docker ps -aq --filter "label=dev.adr.team=$1" | wc -l; }
wait_for() { # file [seconds]
  local i
  for i in $(seq $((${2:-20} * 5))); do [ -e "$1" ] && return 0; sleep 0.2; done
  return 1
}

@test "start: explicit, generated and wildcard names, one titled pane each, workspace in the session" {
  run adr team start dev --agent sh:main --agent sh --agent 'sh:*' --agent sh
  [ "$status" -eq 0 ]
  [[ "$output" == *"team 'dev' started in tmux session adr-dev: main (sh) sh-1 (sh) sh-2 (sh) sh-3 (sh)"* ]]
  [ "$(tmux list-panes -s -t =adr-dev -F '#{@adr_name}' | sort | tr '\n' ' ')" = "main sh-1 sh-2 sh-3 " ]
  [ "$(tmux list-panes -s -t =adr-dev -F '#{pane_title}' | sort | tr '\n' ' ')" = "main sh-1 sh-2 sh-3 " ]
  [ "$(tmux show-environment -t =adr-dev ADR_WORKSPACE)" = "ADR_WORKSPACE=$REPO" ]
  [ "$(sandboxes dev)" -eq 4 ]
  # each on its own branch
  for n in main sh-1 sh-2 sh-3; do git show-ref --verify --quiet "refs/heads/adr/dev.$n"; done
  # the same session name again is refused
  run adr team start dev --agent sh
  [ "$status" -eq 1 ]
  [[ "$output" == *"session 'dev' already exists"* ]]
}

@test "start: duplicate names are rejected and nothing is started" {
  run adr team start dup --agent sh:x --agent sh:x
  [ "$status" -eq 1 ]
  [[ "$output" == *"the name 'x' is used twice"* ]]
  [ "$(sandboxes dup)" -eq 0 ]
  ! tmux has-session -t =adr-dup 2>/dev/null
  run adr team start dup --agent nosuchagent
  [ "$status" -eq 1 ]
  [[ "$output" == *"unknown agent 'nosuchagent'"* ]]
  run adr team start dup
  [ "$status" -eq 1 ]
  [[ "$output" == *"name at least one agent"* ]]
}

@test "send: a prompt with quotes, a newline and non-ASCII reaches the right pane intact" {
  adr team start s --agent sh:a --agent sh:b
  sleep 1
  prompt=$'printf \'%s|\' "it\'s" \'q"d\' caf\u00e9 > /workspace/got.txt\necho line2 >> /workspace/got.txt'
  run adr team send s --agent b "$prompt"
  [ "$status" -eq 0 ]
  wt_b=$(adr ls --json | jq -r '.[] | select(.name == "s.b") | .workspace')
  wt_a=$(adr ls --json | jq -r '.[] | select(.name == "s.a") | .workspace')
  wait_for "$wt_b/got.txt"
  sleep 1
  [ "$(cat "$wt_b/got.txt")" = "$(printf '%s|' "it's" 'q"d' "café")line2" ]
  [ ! -e "$wt_a/got.txt" ]
  run adr team send s --agent nope hi
  [ "$status" -eq 1 ]
  [[ "$output" == *"no agent 'nope' in session 's'"* ]]
  # --all reaches every pane
  run adr team send s --all 'touch /workspace/all.txt'
  [ "$status" -eq 0 ]
  wait_for "$wt_a/all.txt"
  wait_for "$wt_b/all.txt"
}

@test "status: STALLED for an idle agent, RUNNING for a busy one, EXITED for a finished one; --json" {
  adr team start st --agent sh:busy --agent sh:idle --agent sh:done
  sleep 1
  adr team send st --agent busy 'while :; do date +%s%N; sleep 0.5; done'
  adr team send st --agent done 'exit 0'
  sleep 2
  run adr team status st
  [ "$status" -eq 0 ]
  echo "$output"
  [[ "$output" == *"st  up "*"$REPO"* ]]
  echo "$output" | grep -E '^  busy +RUNNING$'
  echo "$output" | grep -E '^  idle +STALLED \(no change for [0-9]+s\)$'
  echo "$output" | grep -E '^  done +EXITED$'
  run adr team status --json
  [ "$(echo "$output" | jq -r '.[] | select(.session == "st") | .agents[] | select(.name == "idle") | .state')" = STALLED ]
  [ "$(echo "$output" | jq -r '.[] | select(.session == "st") | .agents[] | select(.name == "busy") | .state')" = RUNNING ]
  [ "$(echo "$output" | jq -r '.[] | select(.session == "st") | .workspace')" = "$REPO" ]
  # the idle agent starts working: RUNNING
  adr team send st --agent idle 'while :; do date +%s%N; sleep 0.5; done'
  run adr team status st
  echo "$output" | grep -E '^  idle +RUNNING$'
}

@test "watch: state changes and recent output every 3 s; stops on Ctrl-C (SIGINT)" {
  adr team start w --agent sh:one
  sleep 1
  adr team send w --agent one 'for i in $(seq 100); do echo tick-$i; sleep 0.3; done'
  "$ADR_BIN" team watch w >"$BATS_TEST_TMPDIR/watch.out" 2>&1 &
  pid=$!
  sleep 7
  kill -INT "$pid"
  wait "$pid"
  cat "$BATS_TEST_TMPDIR/watch.out"
  grep -q "one *RUNNING" "$BATS_TEST_TMPDIR/watch.out"
  grep -q "one *| tick-" "$BATS_TEST_TMPDIR/watch.out"
}

@test "stop: panes and sandboxes go, branches with work stay; nothing else is touched" {
  adr team start gone --agent sh:x --agent sh:y
  sleep 1
  adr team send gone --agent y 'cd /workspace && echo Y > y.txt && git add y.txt && git -c user.name=a -c user.email=a@b commit -qm y'
  wt_y=$(adr ls --json | jq -r '.[] | select(.name == "gone.y") | .workspace')
  for _ in $(seq 50); do git show-ref --verify --quiet refs/heads/adr/gone.y && [ "$(git log --format=%s -1 adr/gone.y)" = y ] && break; sleep 0.2; done
  run adr team stop gone
  [ "$status" -eq 0 ]
  [[ "$output" == *"kept 'gone.y' (stopped): its branch adr/gone.y holds work"* ]]
  ! tmux has-session -t =adr-gone 2>/dev/null
  # x held nothing: its sandbox, worktree and branch are gone
  [ -z "$(docker ps -aq --filter label=dev.adr.name=gone.x)" ]
  ! git show-ref --verify --quiet refs/heads/adr/gone.x
  # y's work is still there, its sandbox stopped
  [ "$(git log --format=%s -1 adr/gone.y)" = y ]
  [ -e "$wt_y/y.txt" ]
  [ "$(docker inspect -f '{{.State.Status}}' "$(docker ps -aq --filter label=dev.adr.name=gone.y)")" = exited ]
  # the repository itself is untouched
  [ "$(git log --format=%s -1 main)" = init ]
  [ -z "$(git status --porcelain)" ]
}

@test "stop of idle agents leaves no sandbox behind" {
  adr team start idle --agent sh --agent sh
  [ "$(sandboxes idle)" -eq 2 ]
  run adr team stop idle
  [ "$status" -eq 0 ]
  [ "$(sandboxes idle)" -eq 0 ]
  [ "$(git worktree list | wc -l)" -eq 1 ]
}

@test "merge: branches one after another, stopping at the first conflict" {
  adr team start m --agent sh:a --agent sh:b --agent sh:c
  sleep 1
  c='git -c user.name=a -c user.email=a@b commit -qam'
  adr team send m --agent a "cd /workspace && echo A > a.txt && git add a.txt && $c a"
  adr team send m --agent b "cd /workspace && echo B > base.txt && $c b"
  adr team send m --agent c "cd /workspace && echo C > base.txt && $c c"
  for n in a b c; do
    for _ in $(seq 50); do [ "$(git log --format=%s -1 "adr/m.$n")" = "$n" ] && break; sleep 0.2; done
  done
  run adr team merge m
  [ "$status" -eq 1 ]
  echo "$output"
  [[ "$output" == *"merged adr/m.a into main"* ]]
  [[ "$output" == *"merged adr/m.b into main"* ]]
  [[ "$output" == *"adr/m.c conflicts with main in:"*"base.txt"* ]]
  [[ "$output" == *"stopped at 'm.c'; 2 merged before it"* ]]
  [ "$(cat base.txt)" = B ]
  [ -z "$(git status --porcelain)" ]
}

@test "--shared-workspace: every agent works in the workspace itself" {
  run adr team start sh1 --shared-workspace --agent sh:a --agent sh:b
  [ "$status" -eq 0 ]
  sleep 1
  adr team send sh1 --agent a 'echo shared > /workspace/shared.txt'
  wait_for "$REPO/shared.txt"
  [ "$(cat "$REPO/shared.txt")" = shared ]
  ! git show-ref --verify --quiet refs/heads/adr/sh1.a
  run adr team stop sh1
  [ "$status" -eq 0 ]
  [ "$(sandboxes sh1)" -eq 0 ]
}

@test "adr-tmux: the seed's command names" {
  ln -s "$ADR_BIN" "$BATS_TEST_TMPDIR/adr-tmux"
  run "$BATS_TEST_TMPDIR/adr-tmux" start seed --agent sh:one
  [ "$status" -eq 0 ]
  run "$BATS_TEST_TMPDIR/adr-tmux" status seed --json
  [ "$(echo "$output" | jq -r '.[0].agents[0].name')" = one ]
  run "$BATS_TEST_TMPDIR/adr-tmux" help
  [[ "$output" == *"usage: adr team start"* ]]
  run "$BATS_TEST_TMPDIR/adr-tmux" stop seed
  [ "$status" -eq 0 ]
}

@test "errors: missing session, unknown subcommand, bad session name, tmux too old" {
  run adr team send nosuch --agent x hi
  [ "$status" -eq 1 ]
  [[ "$output" == *"no session 'nosuch'"* ]]
  run adr team frobnicate x
  [ "$status" -eq 2 ]
  [[ "$output" == *"unknown subcommand 'frobnicate'"* ]]
  # without a session too: the subcommand is the culprit, not the session
  run adr team bogus
  [ "$status" -eq 2 ]
  [[ "$output" == *"adr team: unknown subcommand 'bogus'"* ]]
  [[ "$output" != *"which session"* ]]
  run adr team start 'Bad Name' --agent sh
  [ "$status" -eq 2 ]
  # a tmux that reports an old version
  mkdir -p "$BATS_TEST_TMPDIR/oldtmux"
  printf '#!/bin/sh\necho "tmux 2.9a"\n' >"$BATS_TEST_TMPDIR/oldtmux/tmux"
  chmod +x "$BATS_TEST_TMPDIR/oldtmux/tmux"
  PATH="$BATS_TEST_TMPDIR/oldtmux:$PATH" run adr team status
  [ "$status" -eq 1 ]
  [[ "$output" == *"tmux 2.9 is too old: adr team needs tmux >= 3.0"* ]]
}

@test "a real agent TUI (pi) in a pane receives a prompt through send and does its work" {
  mkdir -p "$HOME/.pi/agent"
  cat >"$HOME/.pi/agent/models.json" <<JSON
{ "providers": { "mock": { "baseUrl": "$MOCK_URL/v1", "api": "openai-completions", "apiKey": "$MOCK_KEY",
  "models": [ { "id": "mock-model", "contextWindow": 128000, "maxTokens": 4096 } ] } } }
JSON
  printf 'ADR_MODEL_PI=mock/mock-model\n' >>"$XDG_CONFIG_HOME/adr/config"
  run adr team start tui --agent pi:p
  [ "$status" -eq 0 ]
  wt=$(adr ls --json | jq -r '.[] | select(.name == "tui.p") | .workspace')
  # let the TUI come up, then type the prompt into it
  sleep 8
  : >"$MOCK_LOG"
  run adr team send tui --agent p "Create a file named from-tui.txt containing exactly: hello-from-the-tui"
  [ "$status" -eq 0 ]
  if ! wait_for "$wt/from-tui.txt" 90; then
    tmux capture-pane -p -t "$(pane_of tui p)" | tail -30
    cat "$MOCK_LOG"
    false
  fi
  [ "$(cat "$wt/from-tui.txt")" = hello-from-the-tui ]
  grep -q '"user_agent": "pi (' "$MOCK_LOG"
}

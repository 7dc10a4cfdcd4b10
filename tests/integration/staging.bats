#!/usr/bin/env bats
# What reaches the sandbox past the credential planner: mounts (-m,
# ADR_MOUNTS) and the workspace may not reach adr's own directories, an
# agent's config home or the host's secret paths, nor land on the sandbox's
# staged configuration.  Each refusal has its control (the same mount of an
# ordinary directory works).

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
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr" "$XDG_STATE_HOME/adr/secrets"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  adr_test_agent
  mkdir -p "$HOME/.ssh" "$HOME/.claude" "$HOME/.shagent" "$HOME/data"
  echo canary-ssh >"$HOME/.ssh/id_ed25519"
  echo canary-claude >"$HOME/.claude/.credentials.json"
  echo data-ok >"$HOME/data/f"
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
}

adr() { "$ADR_BIN" "$@"; }
leftovers() { adr_settle >&2; docker ps -aq --filter "label=dev.adr.workspace=$WS" | wc -l; }

@test "control: an ordinary directory mounts and is read" {
  run --separate-stderr adr run sh -m "$HOME/data:/data" --prompt 'cat /data/f'
  [ "$status" -eq 0 ]
  [ "$output" = data-ok ]
}

@test "-m of a host secret path, an agent's config home or HOME is refused before anything starts" {
  local spec want
  for spec in "$HOME/.ssh:/s|'$HOME/.ssh', which holds credentials" \
              "$HOME/.claude:/c|claude's configuration '$HOME/.claude'" \
              "$HOME:/h|adr's own" \
              "$HOME/.local/state/adr:/st|adr's own state"; do
    want=${spec#*|}
    run --separate-stderr adr run sh -m "${spec%%|*}" --prompt 'cat /s/id_ed25519 /c/.credentials.json; echo ran'
    [ "$status" -eq 1 ]
    [[ "$stderr" == "adr: mount '"*"': it "*"$want"* ]] || { echo "for ${spec%%|*}: $stderr"; false; }
    [ "$(echo "$stderr" | wc -l)" -eq 1 ]
    [[ "$output" != *ran* ]]
  done
  [ "$(leftovers)" -eq 0 ]
}

@test "ADR_MOUNTS is checked the same way" {
  echo "ADR_MOUNTS=$HOME/.ssh:/s" >>"$XDG_CONFIG_HOME/adr/config"
  run --separate-stderr adr run sh --prompt 'cat /s/id_ed25519'
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"which holds credentials"* ]]
  [[ "$output" != *canary-ssh* ]]
}

@test "a mount onto the staged configuration is refused; -c is the way" {
  run --separate-stderr adr run sh -m "$HOME/data:/home/agent/.shagent" --prompt 'ls /home/agent/.shagent'
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"'/home/agent/.shagent' is sh's staged configuration; use -c DIR or --config-file FILE"* ]]
  run --separate-stderr adr run sh -m "$HOME/data:/run/adr-stage/x" --prompt 'true'
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"overlaps sh's staged configuration"* ]]
  # control: the same directory through -c
  run --separate-stderr adr run sh -c "$HOME/data" --prompt 'cat /home/agent/.shagent/f'
  [ "$status" -eq 0 ]
  [ "$output" = data-ok ]
}

@test "a workspace inside a config home is refused" {
  cd "$HOME/.claude"
  run --separate-stderr adr run sh --prompt 'cat /workspace/.credentials.json'
  [ "$status" -eq 1 ]
  [[ "$stderr" == "adr: workspace: mount '$HOME/.claude:/workspace': it is claude's configuration"* ]]
  [[ "$output" != *canary-claude* ]]
}

@test "--no-relay: a config home mounts with a warning; adr's own state never" {
  run --separate-stderr adr run sh --no-relay -m "$HOME/.claude:/c" --prompt 'test -e /c/.credentials.json && echo there'
  [ "$status" -eq 0 ]
  [ "$output" = there ]
  [[ "$stderr" == *"warning: mount '$HOME/.claude:/c' puts claude's configuration"* ]]
  run --separate-stderr adr run sh --no-relay -m "$XDG_STATE_HOME/adr:/st" --prompt 'ls /st'
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"adr's own state"* ]]
}

#!/usr/bin/env bats
# Agents are data: a user-defined agent (config-examples/agents/qwen.json,
# Qwen Code from npm) needs its definition file and nothing else. adr
# builds its image and runs it headless, through the credential relay,
# against the mock model, and it writes the requested file. The control:
# without the file adr does not know the agent.

bats_require_minimum_version 1.5.0
load ../lib/mock

DEF=$BATS_TEST_DIRNAME/../../config-examples/agents/qwen.json

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  local home
  home=$(mktemp -d)
  mkdir -p "$home/.config/adr/agents"
  cp "$DEF" "$home/.config/adr/agents/"
  # built once, kept between runs (the suite's image cache)
  HOME=$home XDG_CONFIG_HOME=$home/.config "$ADR_BIN" build --yes qwen >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
    tail -30 "$BATS_FILE_TMPDIR/build.log" >&3; rm -rf "$home"; return 1; }
  rm -rf "$home"
  mock_start "$BATS_FILE_TMPDIR/mock.log"
}

teardown_file() { mock_stop; }

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  printf 'ADR_EXTRA_CA=%s\n' "$MOCK_CA" >"$XDG_CONFIG_HOME/adr/config"
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
  : >"$MOCK_LOG"
}

@test "a user-defined agent (qwen): its definition file is all it takes to run it through adr" {
  # the control first: without the file adr does not know it
  run --separate-stderr "$ADR_BIN" run qwen --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == "adr: unknown agent 'qwen'"* ]]
  cp "$DEF" "$XDG_CONFIG_HOME/adr/agents/"
  run --separate-stderr "$ADR_BIN" run qwen -e "OPENAI_BASE_URL=$MOCK_URL/v1" -e "OPENAI_API_KEY=$MOCK_KEY" \
    -e OPENAI_MODEL=mock-model --timeout 3m --prompt "Create a file named qwen.txt containing exactly: adr-e2e-qwen"
  echo "status=$status stdout=$output stderr=$stderr" >&3
  [ -f qwen.txt ] || { echo "no file; mock log:"; cut -c1-400 "$MOCK_LOG"; false; }
  [ "$(cat qwen.txt)" = adr-e2e-qwen ]
  [ "$(stat -c %u:%g qwen.txt)" = "$(id -u):$(id -g)" ]
  # the mock was asked, with a tool call answered: the real agent ran
  grep -q '"reply": "tool:' "$MOCK_LOG"
  # every request carried the real key, which only the relay had (the
  # sandbox got a sentinel; the mock answers 401 to anything else)
  ! grep -q '"reply": "401"' "$MOCK_LOG"
  [ "$(jq -r .key "$MOCK_LOG" | sort -u)" = "$MOCK_KEY" ]
  # it is listed like the built-in ones
  run "$ADR_BIN" status
  [[ "$output" == *"qwen       coding-agent/qwen"* ]]
}

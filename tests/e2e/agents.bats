#!/usr/bin/env bats
# End to end: each of the six real agent CLIs, in the image `adr build` made,
# runs headless through `adr run --prompt` against the scripted mock model
# server on the host and must write the requested file in the workspace.
# Second proof: the mock's request log shows the agent's own User-Agent.
# Negative control: with the model unreachable, no file and a failure.

bats_require_minimum_version 1.5.0
load ../lib/mock

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  # Build (or reuse, through the engine's layer cache) the six images once.
  E2E_HOME=$(mktemp -d)
  HOME=$E2E_HOME XDG_CONFIG_HOME=$E2E_HOME/.config "$ADR_BIN" build --yes >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
    tail -30 "$BATS_FILE_TMPDIR/build.log" >&3; return 1; }
  rm -rf "$E2E_HOME"
  mock_start "$BATS_FILE_TMPDIR/mock.log"
}

teardown_file() {
  mock_stop
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  # the default network mode, allowlist: the mock is listed, nothing else
  printf 'ADR_ALLOW=%s\n' "$MOCK_ALLOW" >"$XDG_CONFIG_HOME/adr/config"
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
  : >"$MOCK_LOG"
}

# Per-agent wiring to a model server URL (how each agent is pointed at it).
# Prints nothing; sets ARGS (adr run options).
wire() { # agent url
  local agent=$1 url=$2 cfg="$BATS_TEST_TMPDIR/cfg-$1"
  mkdir -p "$cfg"
  ARGS=()
  case "$agent" in
    pi)
      mkdir -p "$cfg/agent"
      cat >"$cfg/agent/models.json" <<JSON
{ "providers": { "mock": { "baseUrl": "$url/v1", "api": "openai-completions", "apiKey": "mock-key",
  "models": [ { "id": "mock-model", "contextWindow": 128000, "maxTokens": 4096 } ] } } }
JSON
      ARGS=(-c "$cfg" --model mock/mock-model) ;;
    claude)
      ARGS=(-e "ANTHROPIC_BASE_URL=$url" -e ANTHROPIC_API_KEY=mock-key -e CLAUDE_CODE_MAX_RETRIES=0
            --model mock-model) ;;
    codex)
      cat >"$cfg/config.toml" <<TOML
model_provider = "mock"
[model_providers.mock]
name = "mock"
base_url = "$url/v1"
wire_api = "responses"
env_key = "MOCK_API_KEY"
TOML
      ARGS=(-c "$cfg" -e MOCK_API_KEY=mock-key --model mock-model) ;;
    opencode)
      ARGS=(-e "OPENCODE_CONFIG_CONTENT={\"provider\":{\"mock\":{\"npm\":\"@ai-sdk/openai-compatible\",\"name\":\"mock\",\"options\":{\"baseURL\":\"$url/v1\",\"apiKey\":\"mock-key\"},\"models\":{\"mock-model\":{\"name\":\"mock-model\"}}}},\"model\":\"mock/mock-model\",\"small_model\":\"mock/mock-model\",\"autoupdate\":false,\"share\":\"disabled\",\"permission\":{\"edit\":\"allow\",\"bash\":\"allow\",\"webfetch\":\"allow\"}}"
            --model mock/mock-model) ;;
    gemini)
      echo '{ "security": { "auth": { "selectedType": "gemini-api-key" } } }' >"$cfg/settings.json"
      ARGS=(-c "$cfg" -e "GOOGLE_GEMINI_BASE_URL=$url" -e GEMINI_API_KEY=mock-key --model mock-model) ;;
    copilot)
      ARGS=(-e "COPILOT_PROVIDER_BASE_URL=$url/v1" -e COPILOT_PROVIDER_TYPE=openai
            -e COPILOT_PROVIDER_API_KEY=mock-key -e COPILOT_MODEL=mock-model -e COPILOT_OFFLINE=true) ;;
  esac
}

# What identifies each agent's own requests in the mock's log line: its
# User-Agent (copilot's HTTP client says "OpenAI/JS", so also its own
# request headers and a tool only copilot offers).
ua_pattern() {
  case "$1" in
    pi) echo '"user_agent": "pi \(' ;;
    claude) echo '"user_agent": "claude-cli/' ;;
    codex) echo '"user_agent": "codex_exec/' ;;
    opencode) echo '"user_agent": "opencode/' ;;
    gemini) echo '"user_agent": "GeminiCLI' ;;
    copilot) echo '"x-interaction-type": "conversation-user".*fetch_copilot_cli_documentation.*"user_agent": "OpenAI/JS' ;;
  esac
}

agent_writes_file() {
  local agent=$1
  wire "$agent" "$MOCK_URL"
  run --separate-stderr "$ADR_BIN" run "$agent" "${ARGS[@]}" --timeout 3m \
    --prompt "Create a file named $agent.txt containing exactly: adr-e2e-$agent"
  echo "status=$status stdout=$output stderr=$stderr" >&3
  [ -f "$WS/$agent.txt" ] || { echo "no file; mock log:"; cat "$MOCK_LOG"; false; }
  [ "$(cat "$WS/$agent.txt")" = "adr-e2e-$agent" ]
  [ "$(stat -c %u:%g "$WS/$agent.txt")" = "$(id -u):$(id -g)" ]
  # the real agent spoke to the mock: its own User-Agent in the log
  grep -q '"reply": "tool:' "$MOCK_LOG"
  grep -qE "$(ua_pattern "$agent")" "$MOCK_LOG" || {
    echo "no request from $agent in the mock log:"; cut -c1-400 "$MOCK_LOG"; false; }
  # ... through adr's egress gateway (the default allowlist mode): the
  # decision log of the run shows the mock allowed by the listed entry
  local elog
  elog=$(ls "$XDG_STATE_HOME"/adr/egress/*/egress.jsonl)
  grep -qE "\"host\":\"host.docker.internal\",\"port\":$MOCK_PORT,.*\"verdict\":\"allow\",\"rule\":\"ADR_ALLOW host.docker.internal:$MOCK_PORT\"" "$elog" || {
    echo "no allowed request to the mock in the egress log:"; cat "$elog"; false; }
  # codex reports its own (inner) sandbox failure but the container is the sandbox
  [ "$status" -eq 0 ] || [ "$agent" = codex ]
}

agent_fails_without_model() {
  local agent=$1
  wire "$agent" "$(dead_url)"
  run "$ADR_BIN" run "$agent" "${ARGS[@]}" --timeout 45s \
    --prompt "Create a file named $agent.txt containing exactly: adr-e2e-$agent"
  [ ! -e "$WS/$agent.txt" ]
  [ "$status" -ne 0 ] || [ "$agent" = codex ]
  [ ! -s "$MOCK_LOG" ]
}

@test "pi writes the requested file through adr" { agent_writes_file pi; }
@test "claude writes the requested file through adr" { agent_writes_file claude; }
@test "codex writes the requested file through adr" { agent_writes_file codex; }
@test "opencode writes the requested file through adr" { agent_writes_file opencode; }
@test "gemini writes the requested file through adr" { agent_writes_file gemini; }
@test "copilot writes the requested file through adr" { agent_writes_file copilot; }

@test "control: pi with the model unreachable writes nothing and fails" { agent_fails_without_model pi; }
@test "control: claude with the model unreachable writes nothing and fails" { agent_fails_without_model claude; }
@test "control: codex with the model unreachable writes nothing" { agent_fails_without_model codex; }
@test "control: opencode with the model unreachable writes nothing and fails" { agent_fails_without_model opencode; }
@test "control: gemini with the model unreachable writes nothing and fails" { agent_fails_without_model gemini; }
@test "control: copilot with the model unreachable writes nothing and fails" { agent_fails_without_model copilot; }

#!/usr/bin/env bats
# End to end: each of the six real agent CLIs, in the image `adr build` made,
# runs headless through `adr run --prompt` against the scripted mock model
# server on the host and must write the requested file in the workspace.
# Second proof: the mock's request log shows the agent's own User-Agent.
# Negative control: with the model unreachable, no file and a failure.
#
# Every agent goes through adr's credential relay: the mock serves TLS with
# a CA of the test's own (given to adr as ADR_EXTRA_CA) and answers 401 to
# any key but MOCK_KEY, the real key, which each agent's wiring keeps where
# users keep it (the host environment, adr secret, the agent's own config
# and login files, -e).  The sandbox holds a sentinel; the canary sweeps check that
# the real key is nowhere inside (SEC-01/02/03 of the security probes).

bats_require_minimum_version 1.5.0
load ../lib/mock
load ../lib/sweep
load ../lib/e2e

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
  e2e_home
}

teardown() {
  [ -n "${SWEEP_NAME:-}" ] && "$ADR_BIN" rm --force --no-push "$SWEEP_NAME" >/dev/null 2>&1 || true
  SWEEP_NAME=
}

# Per-agent wiring to a model server URL, with the real key (MOCK_KEY, or
# $2's key) kept in a different place for each agent.  Sets ARGS (adr run
# options) and HOSTENV (host environment entries for adr itself).
wire() { # agent url [key]
  local agent=$1 url=$2 key=${3:-$MOCK_KEY} cfg="$BATS_TEST_TMPDIR/cfg-$1"
  mkdir -p "$cfg"
  ARGS=() HOSTENV=()
  case "$agent" in
    pi) # pi's own models.json, key written in it
      mkdir -p "$cfg/agent"
      cat >"$cfg/agent/models.json" <<JSON
{ "providers": { "mock": { "baseUrl": "$url/v1", "api": "openai-completions", "apiKey": "$key",
  "models": [ { "id": "mock-model", "contextWindow": 128000, "maxTokens": 4096 } ] } } }
JSON
      echo "{\"anthropic\": {\"type\": \"api_key\", \"key\": \"$key\"}}" >"$cfg/agent/auth.json"
      ARGS=(-c "$cfg" --model mock/mock-model) ;;
    claude) # the host environment; a subscription login file beside it
      echo "{\"claudeAiOauth\": {\"accessToken\": \"$key\"}}" >"$cfg/.credentials.json"
      HOSTENV=("ANTHROPIC_BASE_URL=$url" "ANTHROPIC_API_KEY=$key")
      ARGS=(-c "$cfg" -e CLAUDE_CODE_MAX_RETRIES=0 --model mock-model) ;;
    codex) # adr's secret store; the base URL from the host environment
      printf '%s' "$key" | "$ADR_BIN" secret set OPENAI_API_KEY >/dev/null
      echo "{\"OPENAI_API_KEY\": null, \"tokens\": {\"access_token\": \"$key\"}}" >"$cfg/auth.json"
      HOSTENV=("OPENAI_BASE_URL=$url/v1")
      ARGS=(-c "$cfg" --model mock-model) ;;
    opencode) # opencode's own login file (auth.json, as 'opencode auth login' writes it); the
              # provider from the config the user passes with -e
      mkdir -p "$HOME/.local/share/opencode"
      printf '{"mock": {"type": "api", "key": "%s"}}\n' "$key" >"$HOME/.local/share/opencode/auth.json"
      ARGS=(-e "OPENCODE_CONFIG_CONTENT={\"provider\":{\"mock\":{\"npm\":\"@ai-sdk/openai-compatible\",\"name\":\"mock\",\"options\":{\"baseURL\":\"$url/v1\"},\"models\":{\"mock-model\":{\"name\":\"mock-model\"}}}},\"model\":\"mock/mock-model\",\"small_model\":\"mock/mock-model\",\"autoupdate\":false,\"share\":\"disabled\",\"permission\":{\"edit\":\"allow\",\"bash\":\"allow\",\"webfetch\":\"allow\"}}"
            --model mock/mock-model) ;;
    gemini) # gemini's own .env file (adr sets the key's auth type)
      printf 'GEMINI_API_KEY=%s\n' "$key" >"$cfg/.env"
      echo "{\"token\": \"$key\"}" >"$cfg/oauth_creds.json"
      ARGS=(-c "$cfg" -e "GOOGLE_GEMINI_BASE_URL=$url" --model mock-model) ;;
    copilot) # -e, as a user would pass them
      ARGS=(-e "COPILOT_PROVIDER_BASE_URL=$url/v1" -e COPILOT_PROVIDER_TYPE=openai
            -e "COPILOT_PROVIDER_API_KEY=$key" -e COPILOT_MODEL=mock-model -e COPILOT_OFFLINE=true) ;;
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

# ENGINE=native: the run on the native engine (no daemon), its images
# imported from the Docker engine that built them, into a store this file's
# tests share
on_engine() {
  [ "${ENGINE:-}" = native ] || return 0
  echo ADR_ENGINE=native >>"$XDG_CONFIG_HOME/adr/config"
  export ADR_NATIVE_ROOT="$BATS_FILE_TMPDIR/native"
}

agent_writes_file() {
  local agent=$1 unit=""
  on_engine
  wire "$agent" "$MOCK_URL"
  if [ "${POOLED:-0}" = 1 ]; then # in a unit of the egress pool, made ahead
    export ADR_EGRESS_POOL=1
    "$ADR_BIN" warm "$agent" >/dev/null
    unit=$(ls "$XDG_STATE_HOME/adr/pool" | grep '^adr-pool-')
    [ -n "$unit" ]
  fi
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run "$agent" "${ARGS[@]}" --timeout 3m \
    --prompt "Create a file named $agent.txt containing exactly: adr-e2e-$agent"
  echo "status=$status stdout=$output stderr=$stderr" >&3
  [ -f "$WS/$agent.txt" ] || { echo "no file; mock log:"; cat "$MOCK_LOG"; false; }
  [ "$(cat "$WS/$agent.txt")" = "adr-e2e-$agent" ]
  [ "$(stat -c %u:%g "$WS/$agent.txt")" = "$(id -u):$(id -g)" ]
  # the real agent spoke to the mock: its own User-Agent in the log
  grep -q '"reply": "tool:' "$MOCK_LOG"
  grep -qE "$(ua_pattern "$agent")" "$MOCK_LOG" || {
    echo "no request from $agent in the mock log:"; cut -c1-400 "$MOCK_LOG"; false; }
  # ... with the real key, which only the relay had: every request the mock
  # got carried it (the mock answers 401 to anything else)
  ! grep -q '"reply": "401"' "$MOCK_LOG"
  [ "$(jq -r .key "$MOCK_LOG" | sort -u)" = "$MOCK_KEY" ] || {
    echo "keys the mock saw:"; jq -r .key "$MOCK_LOG" | sort -u; false; }
  # ... through adr's egress gateway (the default allowlist mode, nothing
  # listed): the decision log shows the relay's allowed requests
  local elog
  elog=$(ls "$XDG_STATE_HOME"/adr/egress/*/egress.jsonl)
  grep -qE "\"via\":\"relay\",.*\"verdict\":\"allow\"" "$elog" || {
    echo "no relayed request in the egress log:"; cat "$elog"; false; }
  # neither the key nor the sentinel in the log; the relay's files are gone
  ! grep -qF "$MOCK_KEY" "$elog"
  ! grep -q "adr-sentinel-" "$elog"
  adr_settle # the detached teardown
  [ -z "$(find "$XDG_STATE_HOME/adr" -name relay -o -name ca.pem)" ]
  if [ -n "$unit" ]; then # it ran in that unit, which is gone with it
    [ -z "$(docker ps -aq --filter "label=dev.adr.for=$unit")" ]
    "$ADR_BIN" prune >/dev/null
  fi
  # codex reports its own (inner) sandbox failure but the container is the sandbox
  [ "$status" -eq 0 ] || [ "$agent" = codex ]
}

agent_fails_without_model() {
  local agent=$1
  on_engine
  wire "$agent" "$(dead_url)"
  run env "${HOSTENV[@]}" "$ADR_BIN" run "$agent" "${ARGS[@]}" --timeout 45s \
    --prompt "Create a file named $agent.txt containing exactly: adr-e2e-$agent"
  [ ! -e "$WS/$agent.txt" ]
  [ "$status" -ne 0 ] || [ "$agent" = codex ]
  [ ! -s "$MOCK_LOG" ]
}

canary_sweep() { # agent [adr start options...]
  local agent=$1; shift
  # the host has the usual secrets, each holding the real key
  mkdir -p "$HOME/.ssh" "$HOME/.aws" "$HOME/.docker" "$HOME/.local/share/opencode"
  for f in .ssh/id_ed25519 .aws/credentials .docker/config.json .git-credentials .netrc \
    .local/share/opencode/auth.json; do
    printf '{"auths": {"x": {"auth": "%s"}}}\n' "$MOCK_KEY" >"$HOME/$f"
  done
  # ... and every agent's other places for logins and tokens
  mkdir -p "$HOME/.copilot/mcp-oauth-config" "$HOME/.config/opencode"
  printf '{"primaryApiKey": "%s", "theme": "dark"}\n' "$MOCK_KEY" >"$HOME/.claude.json"
  printf '{"copilot_tokens": {"x": "%s"}}\n' "$MOCK_KEY" >"$HOME/.copilot/config.json"
  printf '{"t": "%s"}\n' "$MOCK_KEY" >"$HOME/.copilot/mcp-oauth-config/s.json"
  printf '// mine\n{"provider": {"x": {"options": {"apiKey": "%s"}}}}\n' "$MOCK_KEY" \
    >"$HOME/.config/opencode/opencode.jsonc"
  write_sweep "$MOCK_KEY"
  wire "$agent" "$MOCK_URL"
  [ "$agent" != gemini ] || printf '{"t": "%s"}\n' "$MOCK_KEY" >"$BATS_TEST_TMPDIR/cfg-gemini/mcp-oauth-tokens.json"
  SWEEP_NAME=sweep-$agent
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" start "$agent" --name "$SWEEP_NAME" "${ARGS[@]}" "$@" \
    --prompt "Run this shell command exactly: [[sh /workspace/sweep.sh]]"
  echo "start: status=$status $output $stderr" >&3
  START_STDERR=$stderr
  [ "$status" -eq 0 ]
  local cid i
  cid=$(docker ps -aq --filter "label=dev.adr.name=$SWEEP_NAME" --filter "label=dev.adr.scope=$WS")
  [ -n "$cid" ]
  for i in $(seq 300); do
    [ "$(docker inspect -f '{{.State.Status}}' "$cid")" = exited ] && break
    sleep 0.5
  done
  [ -f "$WS/sweep.out" ] || { echo "the agent did not run the sweep"; "$ADR_BIN" logs "$SWEEP_NAME"; cut -c1-300 "$MOCK_LOG"; false; }
  cat "$WS/sweep.out"
  grep -q '^== end$' "$WS/sweep.out"
  [ -z "$(section canary)" ]
  [ -n "$(section sentinel)" ] # the control: the same scan finds what is there
  [ -z "$(section present)" ]
  # SEC-03: neither the sandbox's nor the gateway's engine record has the key
  local name
  name=$(docker inspect -f '{{.Name}}' "$cid")
  ! docker inspect "$cid" "${name#/}-gw" | grep -qF "$MOCK_KEY"
  # control: the record shows the sandbox's environment (where a key
  # passed the usual way would be)
  docker inspect "$cid" | grep -qF "\"ADR_AGENT=$agent\""
  # the mock got the real key only
  [ "$(jq -r .key "$MOCK_LOG" | sort -u)" = "$MOCK_KEY" ]
}

@test "pi writes the requested file through adr" { agent_writes_file pi; }
@test "claude writes the requested file through adr" { agent_writes_file claude; }
@test "codex writes the requested file through adr" { agent_writes_file codex; }
@test "opencode writes the requested file through adr" { agent_writes_file opencode; }
@test "gemini writes the requested file through adr" { agent_writes_file gemini; }
@test "copilot writes the requested file through adr" { agent_writes_file copilot; }

@test "pi writes the requested file through adr, on the native engine" { ENGINE=native agent_writes_file pi; }
@test "claude writes the requested file through adr, on the native engine" { ENGINE=native agent_writes_file claude; }

@test "pi writes the requested file through adr, in a pooled egress unit" { POOLED=1 agent_writes_file pi; }
@test "claude writes the requested file through adr, in a pooled egress unit" { POOLED=1 agent_writes_file claude; }

@test "control: pi with the model unreachable writes nothing and fails" { agent_fails_without_model pi; }
@test "control: claude with the model unreachable writes nothing and fails" { agent_fails_without_model claude; }
@test "control: pi with the model unreachable writes nothing and fails, on the native engine" {
  ENGINE=native agent_fails_without_model pi
}
@test "control: claude with the model unreachable writes nothing and fails, on the native engine" {
  ENGINE=native agent_fails_without_model claude
}
@test "control: codex with the model unreachable writes nothing" { agent_fails_without_model codex; }
@test "control: opencode with the model unreachable writes nothing and fails" { agent_fails_without_model opencode; }
@test "control: gemini with the model unreachable writes nothing and fails" { agent_fails_without_model gemini; }
@test "control: copilot with the model unreachable writes nothing and fails" { agent_fails_without_model copilot; }

@test "canary sweep (SEC-01/02/03): pi's sandbox holds the sentinel, never the key" { canary_sweep pi; }
@test "canary sweep (SEC-01/02/03): claude's sandbox holds the sentinel, never the key" { canary_sweep claude; }
@test "canary sweep (SEC-01/02/03): codex's sandbox holds the sentinel, never the key" { canary_sweep codex; }
@test "canary sweep (SEC-01/02/03): opencode's sandbox holds the sentinel, never the key" { canary_sweep opencode; }
@test "canary sweep (SEC-01/02/03): gemini's sandbox holds the sentinel, never the key" { canary_sweep gemini; }
@test "canary sweep (SEC-01/02/03): copilot's sandbox holds the sentinel, never the key" { canary_sweep copilot; }

@test "canary sweep: claude --config-file FILE holding the key stages a rewritten copy, never the key" {
  # the user's copy of ~/.claude.json: the key as claude keeps it (a Console
  # login, the approved key's tail), and state the agent must keep
  # (onboarding, the workspace's trust, an MCP server)
  local cf="$BATS_TEST_TMPDIR/claude-copy.json"
  printf '{"hasCompletedOnboarding": true, "theme": "from-copy", "primaryApiKey": "%s",
    "customApiKeyResponses": {"approved": ["%s"], "rejected": []},
    "projects": {"/workspace": {"hasTrustDialogAccepted": true}},
    "mcpServers": {"m": {"command": "true", "env": {"K": "%s"}}}}\n' "$MOCK_KEY" "${MOCK_KEY: -20}" "$MOCK_KEY" >"$cf"
  canary_sweep claude --config-file "$cf"
  # the copy went in (its own settings, not ~/.claude.json's), rewritten
  [ "$(section claude.json)" = '"theme": "from-copy"' ]
  # and adr said nothing about leaving it out
  [[ "$START_STDERR" != *"not staged"*"claude-copy.json"* ]]
}

@test "control: claude --config-file with a file adr cannot rewrite is refused, nothing starts" {
  local cf="$BATS_TEST_TMPDIR/broken.json"
  printf 'primaryApiKey=%s\n' "$MOCK_KEY" >"$cf"
  run --separate-stderr env ANTHROPIC_BASE_URL="$MOCK_URL" ANTHROPIC_API_KEY="$MOCK_KEY" \
    "$ADR_BIN" run claude --config-file "$cf" --prompt hi
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"adr: --config-file '$cf'"*"not run"* ]]
  [[ "$stderr" != *"$MOCK_KEY"* ]]
  [ ! -s "$MOCK_LOG" ]
  [ -z "$(docker ps -aq --filter label=dev.adr.agent=claude --filter "label=dev.adr.workspace=$WS")" ]
}

@test "claude with a bearer token (ANTHROPIC_AUTH_TOKEN, as OAuth tokens are given) through the relay" {
  HOSTENV=("ANTHROPIC_BASE_URL=$MOCK_URL" "ANTHROPIC_AUTH_TOKEN=$MOCK_KEY")
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude -e CLAUDE_CODE_MAX_RETRIES=0 --model mock-model \
    --timeout 3m --prompt "Create a file named bearer.txt containing exactly: adr-e2e-bearer"
  [ "$(cat "$WS/bearer.txt")" = adr-e2e-bearer ]
  [ "$(jq -r .key "$MOCK_LOG" | sort -u)" = "$MOCK_KEY" ]
}

@test "control: a wrong key reaches the mock as given and is refused (the mock's check can fail)" {
  wire pi "$MOCK_URL" "sk-not-the-real-one"
  run "$ADR_BIN" run pi "${ARGS[@]}" --timeout 45s \
    --prompt "Create a file named pi.txt containing exactly: adr-e2e-pi"
  [ ! -e "$WS/pi.txt" ]
  grep -q '"reply": "401"' "$MOCK_LOG"
  [ "$(jq -r .key "$MOCK_LOG" | sort -u)" = sk-not-the-real-one ]
}

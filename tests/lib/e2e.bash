# Shared by the e2e tests that drive one agent through the mock model.

# A test's own HOME, adr config (the relay trusts the mock's CA; the
# default network mode, allowlist, with nothing listed), and an empty
# workspace WS as the current directory.
e2e_home() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  printf 'ADR_EXTRA_CA=%s\n' "$MOCK_CA" >"$XDG_CONFIG_HOME/adr/config"
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS" || return 1
  : >"$MOCK_LOG"
}

# The agent's image, built when it is not there (a run of the whole suite
# has built it already).
e2e_image() { # agent
  docker image inspect "coding-agent/$1:latest" >/dev/null 2>&1 && return 0
  local h
  h=$(mktemp -d)
  HOME=$h XDG_CONFIG_HOME=$h/.config "$ADR_BIN" build --yes "$1" >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
    tail -30 "$BATS_FILE_TMPDIR/build.log" >&3; return 1; }
  rm -rf "$h"
}

# pi wired to the mock, its key in its own models.json (relayed): ARGS
pi_wire() {
  local cfg="$BATS_TEST_TMPDIR/cfg-pi"
  mkdir -p "$cfg/agent"
  cat >"$cfg/agent/models.json" <<JSON
{ "providers": { "mock": { "baseUrl": "$MOCK_URL/v1", "api": "openai-completions", "apiKey": "$MOCK_KEY",
  "models": [ { "id": "mock-model", "contextWindow": 128000, "maxTokens": 4096 } ] } } }
JSON
  ARGS=(-c "$cfg" --model mock/mock-model)
}

# pi runs a shell command through its own tool: adr run pi ARGS OPTIONS
agent_runs() { # adr options... -- command
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  run --separate-stderr "$ADR_BIN" run pi "${ARGS[@]}" "${opts[@]}" --prompt "Run this shell command exactly: [[$*]]"
  echo "status=$status out=$output err=$stderr"
}

#!/usr/bin/env bats
# End to end: MCP servers from ~/.config/adr/mcp.json, with their secrets
# kept out of the sandbox.  The real claude CLI, driven by the scripted mock
# model, calls the tool of a test MCP server (tests/mock/mcp-server.js):
#   - a stdio server that needs a key: it runs in a sidecar beside the
#     sandbox, with the key; the tool's result carries a hash of the key
#     it ran with (the proof), and the mock logs that result;
#   - a remote server over HTTPS that needs a bearer token: reached through
#     the credential relay, which swaps the sentinel; the server logs each
#     request's Authorization as ok, bad or none;
#   - a stdio server without a secret: the agent runs it in the sandbox.
# Then the canary sweep: the agent scans its own sandbox for both keys
# (absent) and for the sentinel (found: the control).

bats_require_minimum_version 1.5.0
load ../lib/mock
load ../lib/e2e
load ../lib/sweep

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  e2e_image claude
  # the sidecar's image: the agent's, with the test server in it (a
  # sidecar has no mount of the workspace or the host)
  local ctx
  ctx=$(mktemp -d)
  cp "$BATS_TEST_DIRNAME/../mock/mcp-server.js" "$ctx/"
  printf 'FROM coding-agent/claude:latest\nCOPY mcp-server.js /opt/adr-test/mcp-server.js\n' >"$ctx/Dockerfile"
  docker build -q -t adr-test/mcp:1 "$ctx" >/dev/null
  rm -rf "$ctx"
  mock_start "$BATS_FILE_TMPDIR/mock.log"
  export SIDE_KEY="mcp-side-canary-$RANDOM$RANDOM$RANDOM-key"
  export REMOTE_KEY="mcp-remote-canary-$RANDOM$RANDOM$RANDOM-key"
  local gw=${MOCK_URL#https://}
  gw=${gw%:*}
  export MCP_LOG="$BATS_FILE_TMPDIR/mcp-http.log"
  : >"$MCP_LOG"
  node "$BATS_TEST_DIRNAME/../mock/mcp-server.js" http remote 0 "$gw" "$BATS_FILE_TMPDIR/mock-tls/srv.pem" \
    "$BATS_FILE_TMPDIR/mock-tls/srv.key" "$REMOTE_KEY" "$MCP_LOG" >"$BATS_FILE_TMPDIR/mcp-http.out" 2>&1 &
  export MCP_PID=$!
  local i
  for i in $(seq 50); do grep -q '^listening' "$BATS_FILE_TMPDIR/mcp-http.out" && break; sleep 0.1; done
  export MCP_URL="https://$gw:$(awk '/^listening/ {print $2}' "$BATS_FILE_TMPDIR/mcp-http.out")/mcp"
}

teardown_file() {
  mock_stop
  [ -n "${MCP_PID:-}" ] && kill "$MCP_PID" 2>/dev/null
  docker rmi adr-test/mcp:1 >/dev/null 2>&1 || true
}

setup() {
  e2e_home
  : >"$MCP_LOG"
  printf '%s' "$SIDE_KEY" | "$ADR_BIN" secret set PROBE_TOKEN >/dev/null
  printf '%s' "$REMOTE_KEY" | "$ADR_BIN" secret set MCP_TOKEN >/dev/null
  cat >"$XDG_CONFIG_HOME/adr/mcp.json" <<JSON
{ "mcpServers": {
    "side": { "command": "node", "args": ["/opt/adr-test/mcp-server.js", "stdio", "side"],
              "env": { "PROBE_TOKEN": "\${secret:PROBE_TOKEN}" }, "image": "adr-test/mcp:1" },
    "remote": { "url": "$MCP_URL", "headers": { "Authorization": "Bearer \${secret:MCP_TOKEN}" } },
    "inside": { "command": "node", "args": ["/workspace/.mcp-probe/mcp-server.js", "stdio", "inside"] } } }
JSON
  mkdir -p "$WS/.mcp-probe"
  cp "$BATS_TEST_DIRNAME/../mock/mcp-server.js" "$WS/.mcp-probe/"
  # the model's key: through the relay too
  HOSTENV=("ANTHROPIC_BASE_URL=$MOCK_URL" "ANTHROPIC_API_KEY=$MOCK_KEY")
  # claude's tool search would hide MCP tools behind a search the mock
  # does not script
  ARGS=(-e CLAUDE_CODE_MAX_RETRIES=0 -e ENABLE_TOOL_SEARCH=false --model mock-model)
}

teardown() {
  [ -n "${SWEEP_NAME:-}" ] && "$ADR_BIN" rm --force --no-push "$SWEEP_NAME" >/dev/null 2>&1 || true
  SWEEP_NAME=
}

hash16() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# the proofs the mock saw in tool results
probes() { jq -r '.probes[]?' "$MOCK_LOG"; }

call_tool() { # tool text
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude "${ARGS[@]}" \
    --prompt "Call the tool [[$1]] with text [[$2]]"
  echo "status=$status out=$output err=$stderr"
  [ "$status" -eq 0 ]
}

@test "mcp: a stdio server that needs a key runs beside the sandbox, with the key" {
  call_tool probe_side hello
  [[ "$stderr" == *"MCP servers for claude: side, remote, inside"* ]]
  [[ "$stderr" == *"starting MCP server side beside the sandbox (adr-test/mcp:1)"* ]]
  # the server ran with the real key (its hash), and the agent got the result
  probes | grep -qx "probe-ok:side:hello:$(hash16 "$SIDE_KEY")"
  # control: the same server without the key answers "none", which this
  # assertion would have caught
  ! probes | grep -q ':none$'
  # gone with the run: the sidecar, its environment file, its socket
  adr_settle
  [ -z "$(docker ps -aq --filter label=dev.adr.kind=sidecar)" ]
  [ -z "$(find "$XDG_STATE_HOME/adr" -name 'mcp-*.env' -o -name '*.sock' 2>/dev/null)" ]
}

@test "mcp: a remote server's token goes through the relay; the sandbox holds a sentinel" {
  call_tool probe_remote hi
  probes | grep -qx "probe-ok:remote:hi:$(hash16 "$REMOTE_KEY")"
  # every request reached the server with the real token, none with the
  # sentinel or without
  [ "$(jq -r .auth "$MCP_LOG" | sort -u)" = ok ]
  [ "$(jq -r .sentinel "$MCP_LOG" | sort -u)" = false ]
  jq -r .rpc "$MCP_LOG" | grep -qx tools/call
  # the relay logged the route's requests (never the token)
  local elog
  elog=$(find "$XDG_STATE_HOME/adr/egress" -name egress.jsonl | head -1)
  grep -q '"mcp-remote"' "$elog"
  ! grep -qF "$REMOTE_KEY" "$elog"
}

@test "mcp: a stdio server without a secret runs in the sandbox" {
  call_tool probe_inside x1
  # no key given to it: "none" is its answer
  probes | grep -qx "probe-ok:inside:x1:none"
  [[ "$stderr" != *"starting MCP server inside"* ]]
}

@test "mcp: --no-mcp leaves the servers out" {
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude --no-mcp "${ARGS[@]}" \
    --prompt "Call the tool [[probe_side]] with text [[nothere]]"
  [ "$status" -eq 0 ]
  [[ "$stderr" != *"MCP servers"* ]]
  ! jq -r '.tool_names[]' "$MOCK_LOG" | grep -q probe_
  jq -r '.tool_names[]' "$MOCK_LOG" | grep -qx Bash # control: the tools were listed
}

@test "mcp: the keys are nowhere in the sandbox (canary sweep)" {
  write_sweep "$SIDE_KEY" "$REMOTE_KEY"
  SWEEP_NAME=mcp-sweep
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" start claude --name "$SWEEP_NAME" "${ARGS[@]}" \
    --prompt "Run this shell command exactly: [[sh /workspace/sweep.sh]]"
  echo "start: status=$status $output $stderr"
  [ "$status" -eq 0 ]
  local cid i
  cid=$(docker ps -aq --filter "label=dev.adr.name=$SWEEP_NAME" --filter "label=dev.adr.scope=$WS")
  [ -n "$cid" ]
  for i in $(seq 300); do
    [ "$(docker inspect -f '{{.State.Status}}' "$cid")" = exited ] && break
    sleep 0.5
  done
  [ -f "$WS/sweep.out" ]
  cat "$WS/sweep.out"
  grep -q '^== end$' "$WS/sweep.out"
  [ -z "$(section canary)" ]
  # the control: the remote server's sentinel, in the staged ~/.claude.json
  section sentinel | grep -q '\.claude\.json'
  # the sidecar runs beside the stopped agent; neither engine record holds
  # a key (its environment comes from a file)
  local sc
  sc=$(docker ps -aq --filter label=dev.adr.kind=sidecar --filter "label=dev.adr.for=$(docker inspect -f '{{.Name}}' "$cid" | tr -d /)")
  [ -n "$sc" ]
  ! docker inspect "$cid" "$sc" | grep -qF -e "$SIDE_KEY" -e "$REMOTE_KEY"
  docker inspect "$sc" | grep -qF '"ADR_MCP_SERVER=side"' # control: its environment is in the record
  # removed with the agent
  "$ADR_BIN" rm --force --no-push "$SWEEP_NAME"
  SWEEP_NAME=
  [ -z "$(docker ps -aq --filter label=dev.adr.kind=sidecar)" ]
}

@test "mcp: bad mcp.json, missing secrets and literal keys stop the run with the culprit named" {
  printf '{"mcpServers": {"gh": {"command": "x", "env": {"GITHUB_TOKEN": "ghp_literal"}}}}' \
    >"$XDG_CONFIG_HOME/adr/mcp.json"
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude "${ARGS[@]}" --prompt hi
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"mcp.json: server 'gh': env GITHUB_TOKEN holds a literal value"* ]]
  printf '{"mcpServers": {"r": {"url": "https://h.example.internal/m", "headers": {"x-api-key": "${secret:NOPE}"}}}}' \
    >"$XDG_CONFIG_HOME/adr/mcp.json"
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude "${ARGS[@]}" --prompt hi
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"server 'r': no secret NOPE (store it with 'adr secret set NOPE')"* ]]
  printf '{"mcpServers": {' >"$XDG_CONFIG_HOME/adr/mcp.json"
  run --separate-stderr env "${HOSTENV[@]}" "$ADR_BIN" run claude "${ARGS[@]}" --prompt hi
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"mcp.json:1:"* ]]
  # nothing was started, and the model was never asked
  [ ! -s "$MOCK_LOG" ]
  [ -z "$(docker ps -aq --filter label=dev.adr.kind=sidecar)" ]
}

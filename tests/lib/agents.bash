# Shared by the e2e files on persistent agents (persistent.bats, team.bats):
# real agent images under a private prefix, the mock model server, a
# private HOME with the "sh" test agent, and a fresh repository per test.
load ../lib/mock

# Real claude and pi images (built when missing), tagged as
# $AGENTS_PREFIX/sh (an interactive bash on a real image: it has git) and
# $AGENTS_PREFIX/pi; the mock model server.
agents_setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export AGENTS_PREFIX="adre$$$RANDOM"
  local home a
  home=$(mktemp -d)
  for a in claude pi; do
    if ! docker image inspect "coding-agent/$a:latest" >/dev/null 2>&1; then
      HOME=$home XDG_CONFIG_HOME=$home/.config "$ADR_BIN" build --yes "$a" >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
        tail -30 "$BATS_FILE_TMPDIR/build.log" >&3; rm -rf "$home"; return 1; }
    fi
  done
  rm -rf "$home"
  docker tag coding-agent/claude:latest "$AGENTS_PREFIX/sh:latest"
  docker tag coding-agent/pi:latest "$AGENTS_PREFIX/pi:latest"
  mock_start "$BATS_FILE_TMPDIR/mock.log"
}

# agents_pi_models DIR: pi's models.json in DIR/agent, its one provider the mock model server.
agents_pi_models() {
  mkdir -p "$1/agent"
  cat >"$1/agent/models.json" <<JSON
{ "providers": { "mock": { "baseUrl": "$MOCK_URL/v1", "api": "openai-completions", "apiKey": "$MOCK_KEY",
  "models": [ { "id": "mock-model", "contextWindow": 128000, "maxTokens": 4096 } ] } } }
JSON
}

# Removes the agent sandboxes of the file's tests that are left (by scope).
agents_remove_left() {
  docker ps -aq --filter label=dev.adr.kind=agent --filter "label=dev.adr.scope" |
    while read -r id; do
      scope=$(docker inspect -f '{{index .Config.Labels "dev.adr.scope"}}' "$id")
      case "$scope" in "$BATS_FILE_TMPDIR"/*|/tmp/bats-run-*) docker rm -f "$id" >/dev/null ;; esac
    done
}

# adr run sh in the workspace fails with status 1 and MESSAGE in its
# stderr (what a project file asks for that adr refuses).
run_refused() { # message
  run --separate-stderr "$ADR_BIN" run sh --prompt true
  [ "$status" -eq 1 ] || { echo "status $status: $stderr"; return 1; }
  [[ "$stderr" == *"$1"* ]] || { echo "not in stderr: $1"; echo "$stderr"; return 1; }
}

# Removes the agents started in each repository DIR (default: here) the
# way users do: adr rm undoes the host-side mounts too.
agents_rm_all() {
  local n dir
  for dir in "${@:-.}"; do
    [ -d "$dir" ] || continue
    for n in $(cd "$dir" && "$ADR_BIN" ls --json 2>/dev/null | jq -r '.[].name'); do
      (cd "$dir" && "$ADR_BIN" rm --force --no-push "$n" >/dev/null 2>&1) || true
    done
  done
}

# A test's teardown when it starts agents in $REPO (and DIRs): whatever it
# left is removed, then nothing of adr's may remain mounted.
agents_teardown_started() {
  agents_rm_all "$REPO" "$@"
  docker ps -aq --filter "label=dev.adr.scope=$REPO" | xargs -r docker rm -f >/dev/null
  agents_no_mounts_left
}

agents_teardown_file() {
  agents_remove_left
  mock_stop
  docker rmi "$AGENTS_PREFIX/sh:latest" "$AGENTS_PREFIX/pi:latest" >/dev/null 2>&1 || true
}

# agents_setup FILE TEXT: a private HOME whose adr config uses the prefix
# and defines "sh", a git identity, and $REPO (the current directory) with
# FILE holding TEXT in its first commit.
agents_setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  # the mock is reached through the credential relay (it trusts the mock's CA)
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\nADR_EXTRA_CA=%s\n' "$AGENTS_PREFIX" "$MOCK_CA" >"$XDG_CONFIG_HOME/adr/config"
  cat >"$XDG_CONFIG_HOME/adr/agents/sh.json" <<'JSON'
{ "name": "sh", "description": "test agent: bash on a real agent image",
  "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "args": { "interactive": ["--norc", "--noprofile", "-i"], "headless": ["-c", "{prompt}"] } }
JSON
  git config --global user.name "Test User"
  git config --global user.email test@example.invalid
  git config --global init.defaultBranch main
  REPO="$BATS_TEST_TMPDIR/repo"
  mkdir -p "$REPO"
  cd "$REPO"
  git init -q
  printf '%s\n' "$2" >"$1"
  git add "$1"
  git commit -qm init
}

# Fails (after unmounting them) when mounts of adr's under the test's
# directory are left behind.
agents_no_mounts_left() {
  local left
  left=$(awk -v t="$BATS_TEST_TMPDIR/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo)
  if [ -n "$left" ]; then
    echo "$left" | sort -r | xargs -r -n1 umount -l
    echo "mounts left behind: $left"
    return 1
  fi
}

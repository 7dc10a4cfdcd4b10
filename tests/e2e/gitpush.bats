#!/usr/bin/env bats
# End to end: --git-push.  The real pi CLI, driven by the scripted mock
# model, runs `git push` in its sandbox to the workspace's own https remote
# (tests/mock/git-server.py: git http-backend behind Basic auth, TLS with
# the test's CA).  The user's credential is in their git credential store
# on the host; the sandbox holds a sentinel, and the relay puts the
# credential in.  Controls: without --git-push the same push does not get
# through; a push to a repository that is not a remote of the workspace
# is refused by the relay; the sandbox's own sweep finds the sentinel and
# never the password.

bats_require_minimum_version 1.5.0
load ../lib/mock
load ../lib/e2e
load ../lib/sweep

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  e2e_image pi
  mock_start "$BATS_FILE_TMPDIR/mock.log"
  export GIT_PASSWORD="git-canary-$RANDOM$RANDOM$RANDOM-token"
  export GIT_ROOT="$BATS_FILE_TMPDIR/srv"
  mkdir -p "$GIT_ROOT"
  git init -q --bare "$GIT_ROOT/proj.git"
  git init -q --bare "$GIT_ROOT/other.git"
  local gw=${MOCK_URL#https://}
  gw=${gw%:*}
  export GIT_LOG="$BATS_FILE_TMPDIR/git.log"
  : >"$GIT_LOG"
  python3 "$BATS_TEST_DIRNAME/../mock/git-server.py" --root "$GIT_ROOT" --user tester --password "$GIT_PASSWORD" \
    --log "$GIT_LOG" --tls-cert "$BATS_FILE_TMPDIR/mock-tls/srv.pem" --tls-key "$BATS_FILE_TMPDIR/mock-tls/srv.key" \
    --host "$gw" >"$BATS_FILE_TMPDIR/git.out" 2>&1 &
  export GIT_PID=$!
  local i
  for i in $(seq 50); do grep -q '^listening' "$BATS_FILE_TMPDIR/git.out" && break; sleep 0.1; done
  export GIT_ORIGIN="https://$gw:$(awk '/^listening/ {print $2}' "$BATS_FILE_TMPDIR/git.out")"
}

teardown_file() {
  mock_stop
  [ -n "${GIT_PID:-}" ] && kill "$GIT_PID" 2>/dev/null
  true
}

setup() {
  e2e_home
  # the user's own git setup: a credential store holding the password
  git config --global user.name tester
  git config --global user.email tester@example.internal
  git config --global credential.helper store
  git config --global http.sslCAInfo "$MOCK_CA"
  printf 'https://tester:%s@%s\n' "$GIT_PASSWORD" "${GIT_ORIGIN#https://}" >"$HOME/.git-credentials"
  chmod 600 "$HOME/.git-credentials"
  git init -q -b main "$WS"
  git remote add origin "$GIT_ORIGIN/proj.git"
  echo one >f && git add f && git commit -qm one
  : >"$GIT_LOG"
  # pi, its key in its own models.json (relayed)
  pi_wire
}

teardown() {
  [ -n "${SWEEP_NAME:-}" ] && "$ADR_BIN" rm --force --no-push "$SWEEP_NAME" >/dev/null 2>&1 || true
  SWEEP_NAME=
}


branch_on_server() { git --git-dir="$GIT_ROOT/$1" rev-parse --verify -q "refs/heads/$2"; }

@test "git-push: the agent pushes to the workspace's remote through the relay" {
  agent_runs --git-push -- git -C /workspace push origin HEAD:refs/heads/from-agent
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"git push over https through the relay: ${GIT_ORIGIN#https://}"* ]]
  [ "$(branch_on_server proj.git from-agent)" = "$(git rev-parse HEAD)" ]
  # the server saw the real credential, never the sentinel
  jq -r .auth "$GIT_LOG" | grep -qx ok
  ! jq -r .auth "$GIT_LOG" | grep -qx bad
  [ "$(jq -r .sentinel "$GIT_LOG" | sort -u)" = false ]
  jq -r .path "$GIT_LOG" | grep -qx /proj.git/git-receive-pack
}

@test "git-push: no repository's configuration runs on the host, only the user's own" {
  # a repository at HOME (as when the workspace is the home directory)
  # whose configuration names a credential helper that leaves a mark
  git init -q "$HOME"
  git -C "$HOME" config credential.helper "!touch $BATS_TEST_TMPDIR/helper-ran; true"
  # the control: git run from HOME would run it
  printf 'protocol=https\nhost=example.internal\n\n' | (cd "$HOME" && GIT_TERMINAL_PROMPT=0 git credential fill >/dev/null 2>&1 || true)
  [ -e "$BATS_TEST_TMPDIR/helper-ran" ]
  rm "$BATS_TEST_TMPDIR/helper-ran"
  agent_runs --git-push -- git -C /workspace push origin HEAD:refs/heads/from-home-test
  [ "$status" -eq 0 ]
  [ "$(branch_on_server proj.git from-home-test)" = "$(git rev-parse HEAD)" ] # the global store served
  [ ! -e "$BATS_TEST_TMPDIR/helper-ran" ]
}

@test "git-push: without it the push does not get through (the control)" {
  agent_runs -- git -C /workspace push origin HEAD:refs/heads/no-flag
  [ "$status" -eq 0 ] # the agent ran; its push failed
  ! branch_on_server proj.git no-flag
  [ ! -s "$GIT_LOG" ]
}

@test "git-push: a repository that is not a remote of the workspace is refused" {
  agent_runs --git-push -- git -C /workspace push $GIT_ORIGIN/other.git HEAD:refs/heads/elsewhere
  [ "$status" -eq 0 ]
  ! branch_on_server other.git elsewhere
  # the relay refused it: the server never saw it
  ! jq -r .path "$GIT_LOG" | grep -q other.git
  local elog
  elog=$(find "$XDG_STATE_HOME/adr/egress" -name egress.jsonl | head -1)
  grep -q '"rule":"path-not-allowed"' "$elog"
}

@test "git-push: the password is nowhere in the sandbox (canary sweep)" {
  write_sweep "$GIT_PASSWORD" "$(printf 'tester:%s' "$GIT_PASSWORD" | base64 -w0)"
  agent_runs --git-push -- sh /workspace/sweep.sh
  [ "$status" -eq 0 ]
  cat "$WS/sweep.out"
  grep -q '^== end$' "$WS/sweep.out"
  [ -z "$(section canary)" ]
  section sentinel | grep -qx env # the control: the sentinel is in git's configuration
}

@test "git-push: no https remote, no credential, or no network: the run stops with the reason" {
  git remote set-url origin git@example.internal:proj.git
  agent_runs --git-push -- true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"--git-push: '$WS' has no https remote"* ]]
  git remote set-url origin "$GIT_ORIGIN/proj.git"
  rm "$HOME/.git-credentials"
  agent_runs --git-push -- true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"--git-push: no credential for $GIT_ORIGIN from your git credential helpers"* ]]
  agent_runs --git-push --network none -- true
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"--git-push: the sandbox has no network"* ]]
  [ ! -s "$MOCK_LOG" ]
}

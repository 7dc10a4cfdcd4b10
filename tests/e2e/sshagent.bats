#!/usr/bin/env bats
# End to end: --ssh-agent.  The user's ssh-agent (a real one, holding a
# key) is forwarded through adr's filter; the real pi CLI, driven by the
# scripted mock model, runs `git push` over ssh to a real sshd on the host
# (Debian's openssh-server, on the docker0 address) from its sandbox.
#   - named host: the push lands;
#   - another host named instead (a decoy with its own key in known_hosts):
#     the filter refuses the signature, the push fails (the control);
#   - no --ssh-agent: no agent in the sandbox, the push fails;
#   - the sandbox can list the keys but not remove them (ssh-add -D), and
#     the real agent still holds the key afterwards;
#   - bad setups stop the run with the reason.

bats_require_minimum_version 1.5.0
load ../lib/mock
load ../lib/e2e

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  e2e_image pi
  mock_start "$BATS_FILE_TMPDIR/mock.log"
  local t=$BATS_FILE_TMPDIR gw=${MOCK_URL#https://}
  export GW=${gw%:*}
  # the user's agent, with their key
  eval "$(ssh-agent -a "$t/agent.sock" -s)" >/dev/null
  export AGENT_PID=$SSH_AGENT_PID AGENT_SOCK=$t/agent.sock
  ssh-keygen -q -t ed25519 -N '' -C user-key -f "$t/id"
  SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -q "$t/id"
  rm -f "$t/id" # only the agent has it now
  # sshd on the docker0 address, the user's key authorized
  ssh-keygen -q -t ed25519 -N '' -f "$t/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$t/decoykey"
  cp "$t/id.pub" "$t/authorized_keys"
  export SSHD_PORT
  SSHD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("'"$GW"'", 0)); print(s.getsockname()[1])')
  mkdir -p /run/sshd 2>/dev/null || true
  cat >"$t/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress $GW
HostKey $t/hostkey
AuthorizedKeysFile $t/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PidFile $t/sshd.pid
EOF
  /usr/sbin/sshd -D -e -f "$t/sshd_config" 2>"$t/sshd.log" &
  export SSHD_PID=$!
  export GIT_ROOT=$t/srv
  mkdir -p "$GIT_ROOT"
  git init -q --bare "$GIT_ROOT/proj.git"
  local i
  for i in $(seq 50); do grep -q 'Server listening' "$t/sshd.log" && break; sleep 0.1; done
}

teardown_file() {
  mock_stop
  [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null
  [ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null
  true
}

setup() {
  e2e_home
  mkdir -p "$HOME/.ssh"
  export SSH_AUTH_SOCK=$AGENT_SOCK
  # the user's known_hosts: the sshd's key, and a decoy host's
  printf '[%s]:%s %s\n' "$GW" "$SSHD_PORT" "$(cut -d' ' -f1,2 "$BATS_FILE_TMPDIR/hostkey.pub")" >"$HOME/.ssh/known_hosts"
  printf 'decoy.example.internal %s\n' "$(cut -d' ' -f1,2 "$BATS_FILE_TMPDIR/decoykey.pub")" >>"$HOME/.ssh/known_hosts"
  git init -q -b main "$WS"
  git -c user.name=t -c user.email=t@example.internal commit -q --allow-empty -m one
  git remote add origin "ssh://$(id -un)@$GW:$SSHD_PORT$GIT_ROOT/proj.git"
  pi_wire
  ARGS+=(-e "GIT_SSH_COMMAND=ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes")
}


branch_on_server() { git --git-dir="$GIT_ROOT/proj.git" rev-parse --verify -q "refs/heads/$1"; }

@test "ssh-agent: the agent pushes over ssh with the forwarded agent, for the named host" {
  agent_runs --ssh-agent "$GW:$SSHD_PORT" -- git -C /workspace push origin HEAD:refs/heads/via-agent
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"--ssh-agent: the agent can sign with your ssh-agent's keys for $GW:$SSHD_PORT"* ]]
  [ "$(branch_on_server via-agent)" = "$(git rev-parse HEAD)" ]
  grep -q 'Accepted publickey' "$BATS_FILE_TMPDIR/sshd.log"
}

@test "ssh-agent: a signature for a host not named is refused (the control)" {
  # the network path is open (--allow), the agent names another host
  local accepted seen
  accepted=$(grep -c 'Accepted publickey' "$BATS_FILE_TMPDIR/sshd.log" || true)
  seen=$(wc -l <"$BATS_FILE_TMPDIR/sshd.log")
  agent_runs --ssh-agent decoy.example.internal --allow "$GW:$SSHD_PORT" -- \
    git -C /workspace push origin HEAD:refs/heads/decoy
  [ "$status" -eq 0 ] # the agent ran; its push failed
  ! branch_on_server decoy
  # sshd saw the connection, and no key was accepted
  [ "$(wc -l <"$BATS_FILE_TMPDIR/sshd.log")" -gt "$seen" ]
  [ "$(grep -c 'Accepted publickey' "$BATS_FILE_TMPDIR/sshd.log" || true)" -eq "$accepted" ]
}

@test "ssh-agent: without it the sandbox has no agent" {
  agent_runs -- git -C /workspace push origin HEAD:refs/heads/no-agent
  [ "$status" -eq 0 ]
  ! branch_on_server no-agent
}

@test "ssh-agent: the sandbox lists the keys but cannot remove them" {
  printf 'ssh-add -l >/workspace/list.out 2>&1; echo rc=$? >>/workspace/list.out\nssh-add -D >/workspace/del.out 2>&1; echo rc=$? >>/workspace/del.out\n' >"$WS/check.sh"
  agent_runs --ssh-agent "$GW:$SSHD_PORT" -- sh /workspace/check.sh
  [ "$status" -eq 0 ]
  cat "$WS/list.out" "$WS/del.out"
  grep -q 'user-key' "$WS/list.out" # the control: the socket works
  grep -q '^rc=0' "$WS/list.out"
  ! grep -q '^rc=0' "$WS/del.out"
  SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -l | grep -q user-key # still there
}

@test "ssh-agent: no agent, an unknown host or no network stops the run with the reason" {
  SSH_AUTH_SOCK= agent_runs --ssh-agent "$GW:$SSHD_PORT" -- true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"--ssh-agent: SSH_AUTH_SOCK is not set"* ]]
  agent_runs --ssh-agent nowhere.example.internal -- true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"--ssh-agent nowhere.example.internal: no host key for nowhere.example.internal"* ]]
  agent_runs --ssh-agent "$GW:$SSHD_PORT" --network none -- true
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"--ssh-agent: the sandbox has no network"* ]]
  [ ! -s "$MOCK_LOG" ]
}

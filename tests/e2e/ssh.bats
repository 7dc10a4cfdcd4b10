#!/usr/bin/env bats
# adr start --ssh and adr ssh with the real OpenSSH client: sshd -i in the
# sandbox (added to its image by adr), reached through the engine's exec,
# as the sandbox user, with the user's key only; the ssh_config entry adr
# prints works with plain ssh; nothing in the sandbox listens.

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() { agents_setup_file; }

teardown_file() { agents_teardown_file; }

setup() {
  agents_setup ssh.txt one
  mkdir -p "$HOME/.ssh"
  ssh-keygen -q -t ed25519 -N '' -C test-user -f "$HOME/.ssh/id_ed25519"
}

teardown() { agents_teardown_started; }

adr() { "$ADR_BIN" "$@"; }

@test "adr start --ssh: a session as the sandbox user with your key; the work lands in the agent's worktree" {
  run --separate-stderr adr start sh --name s1 --ssh
  [ "$status" -eq 0 ]
  run --separate-stderr adr ssh s1 -- 'id -un; id -u; cd /workspace && git branch --show-current && echo from-ssh > ssh.txt; test -n "$HTTP_PROXY" && echo proxied'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'agent\n%s\nadr/s1\nproxied' "$(id -u | sed 's/^0$/1000/')")" ]
  wt=$(adr ls --json | jq -r '.[] | select(.name == "s1") | .workspace')
  [ "$(cat "$wt/ssh.txt")" = from-ssh ]
  [ "$(stat -c %u "$wt/ssh.txt")" = "$(id -u)" ]
  # the exit status of the remote command is ssh's
  run adr ssh s1 -- 'exit 7'
  [ "$status" -eq 7 ]
  # nothing in the sandbox listens (but the engine's own resolver at
  # 127.0.0.11): ssh came through the engine
  run adr exec s1 -- sh -c 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk "\$4 == \"0A\"" | grep -vc "0B00007F:"'
  [ "$output" = 0 ]
  # the control: a listener there is seen
  run adr exec s1 -- sh -c 'python3 -c "import socket,time; s=socket.socket(); s.bind((\"0.0.0.0\", 2222)); s.listen(); time.sleep(3)" & sleep 1; cat /proc/net/tcp | awk "\$4 == \"0A\"" | grep -vc "0B00007F:"'
  [ "$output" = 1 ]
  # the host key is adr's for this agent, pinned: another one is refused
  kh=$(adr ssh --config s1 | awk '$1 == "UserKnownHostsFile" { print $2 }')
  [ "$(awk '{ print $1 }' "$kh")" = adr-s1 ]
  cp "$kh" "$BATS_TEST_TMPDIR/kh"
  ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/fake"
  echo "adr-s1 $(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/fake.pub")" >"$kh"
  run adr ssh s1 -- true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Host key verification failed"* || "$output" == *"HOST IDENTIFICATION HAS CHANGED"* ]]
  cp "$BATS_TEST_TMPDIR/kh" "$kh"
  run adr ssh s1 -- true
  [ "$status" -eq 0 ]
}

@test "adr ssh --config: plain ssh and scp with the entry; a key not let in is refused (the control)" {
  adr start sh --name s2 --ssh >/dev/null 2>&1
  adr ssh --config s2 >"$BATS_TEST_TMPDIR/ssh_config"
  grep -q '^Host adr-s2$' "$BATS_TEST_TMPDIR/ssh_config"
  run ssh -F "$BATS_TEST_TMPDIR/ssh_config" adr-s2 'echo via-config; cat /workspace/ssh.txt'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'via-config\none')" ]
  echo copied >"$BATS_TEST_TMPDIR/up.txt"
  scp -q -F "$BATS_TEST_TMPDIR/ssh_config" "$BATS_TEST_TMPDIR/up.txt" adr-s2:/workspace/up.txt
  [ "$(adr exec s2 -- cat /workspace/up.txt)" = copied ]
  # another key, not in ~/.ssh when the agent started: refused
  ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/other"
  sed "s|IdentityFile .*|IdentityFile $BATS_TEST_TMPDIR/other|" "$BATS_TEST_TMPDIR/ssh_config" >"$BATS_TEST_TMPDIR/other_config"
  run ssh -F "$BATS_TEST_TMPDIR/other_config" -o IdentitiesOnly=yes -o BatchMode=yes adr-s2 true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Permission denied"* ]]
  # and a password is never asked for
  run ssh -F "$BATS_TEST_TMPDIR/ssh_config" -o PubkeyAuthentication=no -o BatchMode=yes adr-s2 true
  [ "$status" -ne 0 ]
}

@test "adr ssh: an agent started without --ssh, an unknown one, a missing key: named errors" {
  adr start sh --name plain >/dev/null 2>&1
  run --separate-stderr adr ssh plain
  [ "$status" -eq 1 ]
  [ "$stderr" = "adr: 'plain' was not started with --ssh (adr start sh --name plain --ssh)" ]
  run --separate-stderr adr ssh nosuch
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"nosuch"* ]]
  run --separate-stderr adr ssh --config plain -- extra
  [ "$status" -eq 2 ]
  rm -f "$HOME"/.ssh/id_*
  run --separate-stderr adr start sh --name nokey --ssh
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"--ssh: no public key in $HOME/.ssh (id_*.pub); make one with ssh-keygen"* ]]
  [ -z "$(docker ps -aq --filter "label=dev.adr.scope=$REPO" --filter label=dev.adr.name=nokey)" ]
}

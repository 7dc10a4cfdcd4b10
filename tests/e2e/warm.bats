#!/usr/bin/env bats
# Warm sandboxes (ADR_WARM, core/launch-warm.c) against the real engine and
# real git: adr warm makes them, adr start takes one over when it asks for
# the same sandbox (and makes its own when not), the branch starts at HEAD
# as it is at the start, adr prune removes the idle ones.  The "sh" agent
# is bash on a real agent image (it has git).

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() { agents_setup_file; }

teardown_file() { agents_teardown_file; }

setup() {
  agents_setup shared.txt $'one\ntwo'
  export ADR_WARM=1
}

teardown() {
  adr_settle || true
  agents_rm_all
  "$ADR_BIN" prune >/dev/null 2>&1 || true
  # nothing of the test's is left: no sandbox, no worktree, no branch
  [ -z "$(docker ps -aq --filter "label=dev.adr.scope=$REPO")" ]
  [ "$(git -C "$REPO" worktree list | wc -l)" -eq 1 ]
  [ -z "$(git -C "$REPO" branch --list 'adr/*')" ]
  agents_no_mounts_left
}

adr() { "$ADR_BIN" "$@"; }
# the idle warm sandboxes of the repository (ids; a claimed one keeps its labels, not its name)
warm_ids() { docker ps -aq --no-trunc --filter "label=dev.adr.scope=$REPO" --filter label=dev.adr.warm --filter name=^adr-warm- | sort; }
# agent NAME's sandbox (by its name: a warm sandbox's labels keep the name it was made with)
sid() { docker ps -aq --no-trunc --filter "name=^adr-$1-[0-9a-f]{8}$"; }
wait_exit() {
  local i
  for i in $(seq 100); do
    [ "$(docker inspect -f '{{.State.Status}}' "$(sid "$1")")" = exited ] && return 0
    sleep 0.2
  done
  echo "agent $1 did not exit"; return 1
}
COMMIT='git -c user.name=agent -c user.email=agent@example.invalid commit -q'
# what makes a sandbox hardened, as the engine has it
hardening() {
  docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.Config.User}} {{.HostConfig.Init}} {{.HostConfig.IpcMode}}' "$1"
}

@test "adr warm makes an idle sandbox adr ls does not show; adr start takes it over and works on its own branch" {
  run adr warm sh --headless
  [ "$status" -eq 0 ]
  [[ "$output" == *"warm sandboxes: 1 ready for 'adr start sh' in $REPO"* ]]
  w=$(warm_ids)
  [ "$(echo "$w" | wc -w)" -eq 1 ]
  [ "$(docker inspect -f '{{.State.Running}}' "$w")" = true ]
  run adr ls --json
  [ "$output" = "[]" ]
  run adr start sh --name w1 --prompt "cd /workspace && git branch --show-current && echo x > w.txt && git add w.txt && $COMMIT -m warm-w1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"started 'w1' (sh, branch adr/w1)"* ]]
  # the same sandbox, under the agent's name
  [ "$(sid w1)" = "$w" ]
  wait_exit w1
  run adr logs w1
  [[ "$output" == *"adr/w1"* ]]
  [ "$(git log --format=%s -1 adr/w1)" = warm-w1 ]
  ! git show-ref --verify --quiet "refs/heads/$(docker inspect -f '{{index .Config.Labels "dev.adr.branch"}}' "$w")"
  run adr ls --json
  [ "$(echo "$output" | jq -r '.[0].name + " " + .[0].branch + " " + .[0].state')" = "w1 adr/w1 exited" ]
  # files it wrote belong to the invoking user
  wt=$(echo "$output" | jq -r '.[0].workspace')
  [ "$(stat -c %u "$wt/w.txt")" = "$(id -u)" ]
  run adr merge w1
  [ "$status" -eq 0 ]
  [ "$(cat w.txt)" = x ]
  run adr rm w1
  [ "$status" -eq 0 ]
  [ -z "$(sid w1)" ]
  # the start made the next one
  adr_settle
  w2=$(warm_ids)
  [ "$(echo "$w2" | wc -w)" -eq 1 ]
  [ "$w2" != "$w" ]
}

@test "a claimed warm sandbox is hardened exactly as one a start makes itself" {
  ADR_WARM=0 adr start sh --name cold --prompt 'sleep 30'
  adr warm sh --headless >/dev/null
  adr start sh --name hot --prompt 'sleep 30'
  [ -n "$(docker inspect -f '{{index .Config.Labels "dev.adr.warm"}}' "$(sid hot)")" ]
  [ -z "$(docker inspect -f '{{index .Config.Labels "dev.adr.warm"}}' "$(sid cold)")" ]
  [ "$(hardening "$(sid hot)")" = "$(hardening "$(sid cold)")" ]
  [[ "$(hardening "$(sid hot)")" == "true [ALL] [no-new-privileges:true seccomp="* ]]
  # the agent runs in its place: the warm sandbox's waiting process is gone
  for _ in $(seq 50); do
    docker top "$(sid hot)" -o pid,args | grep -q 'sleep 30' && break
    sleep 0.1
  done
  run docker top "$(sid hot)" -o pid,args
  [[ "$output" == *"sleep 30"* ]]
  # only init's own command line still names the waiting program
  [ "$(echo "$output" | grep -c 'adr-gateway --exec-claim')" -eq 1 ]
  [[ "$output" == *"docker-init -- /usr/local/libexec/adr-gateway --exec-claim"* ]]
}

@test "a start that asks for another sandbox makes its own; the next warm one is like the last start" {
  adr warm sh --headless >/dev/null
  w=$(warm_ids)
  run adr start sh --name e1 -e FOO=bar --prompt 'echo "foo=$FOO"'
  [ "$status" -eq 0 ]
  [ "$(sid e1)" != "$w" ] # the control: -e makes another sandbox
  wait_exit e1
  [[ "$(adr logs e1)" == *"foo=bar"* ]]
  adr_settle
  w2=$(warm_ids)
  [ "$(echo "$w2" | wc -w)" -eq 1 ]
  [ "$w2" != "$w" ] # the old one differed from the last start: replaced
  docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$w2" | grep -qx FOO=bar
  run adr start sh --name e2 -e FOO=bar --prompt 'echo "foo=$FOO"'
  [ "$(sid e2)" = "$w2" ]
  wait_exit e2
  [[ "$(adr logs e2)" == *"foo=bar"* ]]
}

@test "the branch starts at HEAD as it is when the start claims the warm sandbox" {
  adr warm sh --headless >/dev/null
  echo later >later.txt
  git add later.txt
  git commit -qm later
  run adr start sh --name h1 --prompt 'cat /workspace/later.txt; git -C /workspace log --format=%s -1'
  [ "$status" -eq 0 ]
  wait_exit h1
  run adr logs h1
  [[ "$output" == *"later"*"later"* ]]
  [ "$(git rev-parse adr/h1)" = "$(git rev-parse main)" ]
}

@test "a name or branch already taken is refused as without warm sandboxes; the warm one stays" {
  adr warm sh --headless >/dev/null
  w=$(warm_ids)
  git branch adr/taken
  run adr start sh --name taken --prompt true
  [ "$status" -ne 0 ]
  [[ "$output" == *"branch 'adr/taken' already exists"* ]]
  git branch -D adr/taken >/dev/null
  [ "$(warm_ids)" = "$w" ]
  [[ "$(docker inspect -f '{{.Name}}' "$w")" == /adr-warm-* ]]
  [ "$(docker inspect -f '{{.State.Running}}' "$w")" = true ]
}

@test "adr prune removes idle warm sandboxes, their worktrees and branches; agents stay" {
  adr warm sh --headless >/dev/null
  adr start sh --name keep --prompt 'sleep 30'
  adr_settle
  [ "$(warm_ids | wc -w)" -eq 1 ]
  [ "$(git branch --list 'adr/warm-*' | wc -l)" -eq 1 ]
  run adr prune
  [ "$status" -eq 0 ]
  [[ "$output" == *"removed 1 warm sandbox"* ]]
  [ -z "$(warm_ids)" ]
  [ -z "$(git branch --list 'adr/warm-*')" ]
  [ "$(git worktree list | wc -l)" -eq 2 ] # main and keep's
  [ "$(docker inspect -f '{{.State.Running}}' "$(sid keep)")" = true ]
}

@test "ADR_WARM=0 (the default) keeps none; bad uses of adr warm are refused" {
  ADR_WARM=0 adr start sh --name n1 --prompt true
  adr_settle
  [ -z "$(warm_ids)" ]
  run env ADR_WARM=0 "$ADR_BIN" warm sh --headless
  [ "$status" -eq 0 ]
  [[ "$output" != *"warm sandboxes"* ]]
  [ -z "$(warm_ids)" ]
  run adr warm sh --name x
  [ "$status" -eq 2 ]
  [[ "$output" == *"--name, --branch, --no-worktree, --prompt and agent arguments are the start's to give"* ]]
  mkdir -p "$BATS_TEST_TMPDIR/plain"
  cd "$BATS_TEST_TMPDIR/plain"
  run adr warm sh --headless
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not in a git repository: warm sandboxes stand in for 'adr start' there"* ]]
  cd "$REPO"
}

@test "kill -9 while adr warm makes one: the next commands finish or remove it, nothing is left" {
  "$ADR_BIN" warm sh --headless >/dev/null 2>&1 & # the binary itself: $! must be adr
  pid=$!
  sleep "${WARM_KILL_AT:-0.4}"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # the half-made one is finished with by the next start (its marker names
  # a dead adr); the start itself works either way
  run adr start sh --name after --prompt 'git -C /workspace branch --show-current'
  [ "$status" -eq 0 ]
  wait_exit after
  [[ "$(adr logs after)" == *"adr/after"* ]]
  adr_settle
  [ "$(warm_ids | wc -w)" -le 1 ]
  # teardown: adr rm and adr prune leave no sandbox, worktree or branch
}

@test "a claim killed half way: that warm sandbox is never taken over, and the refill removes it" {
  adr warm sh --headless >/dev/null
  w=$(warm_ids)
  ident=$(docker inspect -f '{{index .Config.Labels "dev.adr.identity"}}' "$w")
  # the lock of a start that died (its pid cannot be alive with that start time)
  echo "999999:1 $(cat /proc/sys/kernel/random/boot_id)" >"$ident/warm/taken"
  run adr start sh --name k1 --prompt true
  [ "$status" -eq 0 ]
  [ "$(sid k1)" != "$w" ]
  adr_settle
  [ -z "$(docker ps -aq --filter "id=$w")" ] # removed
  w2=$(warm_ids)
  [ "$(echo "$w2" | wc -w)" -eq 1 ]
  # the control: a live start's lock keeps it (it is being taken over)
  ident2=$(docker inspect -f '{{index .Config.Labels "dev.adr.identity"}}' "$w2")
  sleep 600 &
  local holder=$!
  echo "$holder:$(awk '{ print $22 }' "/proc/$holder/stat") $(cat /proc/sys/kernel/random/boot_id)" >"$ident2/warm/taken"
  run adr prune
  [[ "$output" != *"warm sandbox"* ]]
  [ -n "$(docker ps -aq --filter "id=$w2")" ]
  kill "$holder"
  wait "$holder" 2>/dev/null || true
  run adr prune
  [[ "$output" == *"removed 1 warm sandbox"* ]]
}

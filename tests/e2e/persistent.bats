#!/usr/bin/env bats
# Persistent agents on their own branches (adr start, ls, attach, logs,
# exec, stop, rm, diff, merge) against the real engine and real git
# repositories.  The "sh" agent is bash on a real agent image (it has git);
# one test runs a real agent (pi) against the mock model server.

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() { agents_setup_file; }

teardown_file() { agents_teardown_file; }

setup() { agents_setup shared.txt $'one\ntwo\nthree'; }

teardown() { agents_teardown_started "$BATS_TEST_TMPDIR/plain"; }

adr() { "$ADR_BIN" "$@"; }

# Waits until agent NAME's sandbox has exited.
wait_exit() {
  local i
  for i in $(seq 100); do
    [ "$(docker inspect -f '{{.State.Status}}' "$(cid "$1")")" = exited ] && return 0
    sleep 0.2
  done
  echo "agent $1 did not exit"; return 1
}
cid() { docker ps -aq --filter "label=dev.adr.scope=$REPO" --filter "label=dev.adr.name=$1"; }
# A commit made by the agent inside its sandbox (git identity given inline).
COMMIT='git -c user.name=agent -c user.email=agent@example.invalid commit -q'

@test "start: own worktree and branch; git works inside; ls shows it" {
  run adr start sh --name a1 --prompt "cd /workspace && git status --short && git branch --show-current && echo x > new.txt && git add new.txt && $COMMIT -m agent-a1 && git log --oneline | head -1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"started 'a1' (sh, branch adr/a1)"* ]]
  wait_exit a1
  run adr logs a1
  [[ "$output" == *"adr/a1"* ]]
  [[ "$output" == *"agent-a1"* ]]
  # the commit is on the agent's branch, not on main; main's files untouched
  [ "$(git log --format=%s -1 adr/a1)" = agent-a1 ]
  [ "$(git log --format=%s -1 main)" = init ]
  [ ! -e new.txt ]
  run adr ls
  [ "$status" -eq 0 ]
  [[ "$output" == *"a1"*"sh"*"adr/a1"*"exited (0)"* ]]
  run adr ls --json
  [ "$(echo "$output" | jq -r '.[0].name + " " + .[0].branch + " " + .[0].state')" = "a1 adr/a1 exited" ]
  # the files the agent wrote belong to the invoking user
  wt=$(echo "$output" | jq -r '.[0].workspace')
  [ "$(stat -c %u "$wt/new.txt")" = "$(id -u)" ]
}

@test "two agents on one repository, different files: both merge back cleanly" {
  adr start sh --name left --prompt "cd /workspace && echo L > left.txt && git add left.txt && $COMMIT -m left"
  adr start sh --name right --prompt "cd /workspace && echo R > right.txt && git add right.txt && $COMMIT -m right"
  wait_exit left
  wait_exit right
  run adr diff left
  [ "$status" -eq 0 ]
  [[ "$output" == *"+L"* ]]
  run adr merge left
  [ "$status" -eq 0 ]
  [[ "$output" == *"merged adr/left into main (1 commit)"* ]]
  run adr merge right
  [ "$status" -eq 0 ]
  [ "$(cat left.txt)" = L ]
  [ "$(cat right.txt)" = R ]
  [ -z "$(git status --porcelain)" ]
  # merged: rm removes everything, branch included
  run adr rm left right
  [ "$status" -eq 0 ]
  ! git show-ref --verify --quiet refs/heads/adr/left
  ! git show-ref --verify --quiet refs/heads/adr/right
  [ -z "$(cid left)" ]
  [ "$(git worktree list | wc -l)" -eq 1 ]
}

@test "merge: conflicting edits are reported before any change" {
  adr start sh --name c1 --prompt "cd /workspace && sed -i s/two/agent/ shared.txt && $COMMIT -am agent"
  wait_exit c1
  sed -i s/two/mine/ shared.txt
  git commit -qam mine
  head=$(git rev-parse HEAD)
  run adr merge c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"adr/c1 conflicts with main in:"* ]]
  [[ "$output" == *"shared.txt"* ]]
  [[ "$output" == *"nothing was changed"* ]]
  [ "$(git rev-parse HEAD)" = "$head" ]
  [ -z "$(git status --porcelain)" ]
  [ ! -e .git/MERGE_HEAD ]
}

@test "merge: refuses a dirty checkout, changing nothing" {
  adr start sh --name d1 --prompt "cd /workspace && echo D > d.txt && git add d.txt && $COMMIT -m d"
  wait_exit d1
  echo local >>shared.txt
  run adr merge d1
  [ "$status" -eq 1 ]
  [[ "$output" == *"has uncommitted changes"* ]]
  [[ "$output" == *"shared.txt"* ]]
  [ ! -e d.txt ]
  [ "$(git log --format=%s -1)" = init ]
}

@test "rm refuses to lose commits or uncommitted changes; --force removes" {
  adr start sh --name keep --prompt "cd /workspace && echo K > k.txt && git add k.txt && $COMMIT -m keep && echo dirty > u.txt"
  wait_exit keep
  run adr rm keep
  [ "$status" -eq 1 ]
  [[ "$output" == *"would lose 1 commit on adr/keep"* ]]
  [[ "$output" == *"uncommitted changes in 1 file"* ]]
  [[ "$output" == *"u.txt"* ]]
  # nothing was removed
  [ -n "$(cid keep)" ]
  git show-ref --verify --quiet refs/heads/adr/keep
  run adr diff keep
  [[ "$output" == *"+K"* ]]
  [[ "$output" == *"+dirty"* ]]
  run adr rm --force keep
  [ "$status" -eq 0 ]
  [ -z "$(cid keep)" ]
  ! git show-ref --verify --quiet refs/heads/adr/keep
}

@test "rm pushes to the upstream remote (a local bare one); --no-push does not" {
  git init -q --bare "$BATS_TEST_TMPDIR/remote.git"
  git remote add origin "$BATS_TEST_TMPDIR/remote.git"
  git push -q -u origin main
  adr start sh --name p1 --prompt "cd /workspace && echo P > p.txt && git add p.txt && $COMMIT -m pushed"
  adr start sh --name p2 --prompt "cd /workspace && echo Q > q.txt && git add q.txt && $COMMIT -m not-pushed"
  wait_exit p1
  wait_exit p2
  run adr rm p1
  [ "$status" -eq 0 ]
  [[ "$output" == *"pushed adr/p1 to origin"* ]]
  [ "$(git --git-dir="$BATS_TEST_TMPDIR/remote.git" log --format=%s -1 adr/p1)" = pushed ]
  run adr rm --no-push p2
  [ "$status" -eq 1 ]
  [[ "$output" == *"would lose 1 commit on adr/p2"* ]]
  ! git --git-dir="$BATS_TEST_TMPDIR/remote.git" show-ref --verify --quiet refs/heads/adr/p2
}

@test "names are unique per repository; two starts with one name at once: one wins" {
  adr start sh --name same --prompt true
  run adr start sh --name same --prompt true
  [ "$status" -eq 1 ]
  [[ "$output" == *"an agent named 'same' already exists"* ]]
  # default names: the agent's name, then -2
  run adr start sh --prompt true
  [[ "$output" == *"started 'sh'"* ]]
  run adr start sh --prompt true
  [[ "$output" == *"started 'sh-2'"* ]]
  # a race
  adr start sh --name race --prompt 'sleep 5' >"$BATS_TEST_TMPDIR/r1" 2>&1 & p1=$!
  adr start sh --name race --prompt 'sleep 5' >"$BATS_TEST_TMPDIR/r2" 2>&1 & p2=$!
  s1=0; s2=0
  wait $p1 || s1=$?
  wait $p2 || s2=$?
  cat "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/r2"
  [ $((s1 == 0)) -ne $((s2 == 0)) ]
  [ "$(docker ps -aq --filter "label=dev.adr.scope=$REPO" --filter label=dev.adr.name=race | wc -l)" -eq 1 ]
  [ "$(git worktree list | grep -c '/race ')" -eq 1 ]
}

@test "the agent cannot touch the rest of .git: hooks, config, other branches, worktree metadata" {
  adr start sh --name evil --prompt '
    g=$(git -C /workspace rev-parse --git-common-dir); d=$(git -C /workspace rev-parse --git-dir)
    echo "touch /tmp/pwned" > $g/hooks/post-merge 2>/dev/null && echo HOOK-WRITTEN
    echo "[core] fsmonitor = touch /tmp/pwned" >> $g/config 2>/dev/null && echo CONFIG-WRITTEN
    echo /tmp >$d/commondir 2>/dev/null && echo COMMONDIR-WRITTEN
    echo "[core] fsmonitor = touch /tmp/pwned" > $d/config.worktree 2>/dev/null && echo CW-WRITTEN
    git -C /workspace branch -f main HEAD 2>/dev/null && echo MAIN-MOVED
    # a rewritten .git file pointing at a gitdir of its own making
    mkdir -p /workspace/fake && printf "[core]\n\tfsmonitor = touch /workspace/pwned-host\n\thooksPath = /workspace/fake\n" > /workspace/fake/config
    echo "gitdir: /workspace/fake" > /workspace/.git
    echo attempted'
  wait_exit evil
  run adr logs evil
  [[ "$output" == *attempted* ]]
  [[ "$output" != *WRITTEN* ]]
  [[ "$output" != *MAIN-MOVED* ]]
  [ "$(git log --format=%s -1 main)" = init ]
  [ ! -e .git/hooks/post-merge ]
  ! grep -q fsmonitor .git/config
  # adr's own git on the worktree does not follow the rewritten .git file
  run adr diff evil
  wt=$(adr ls --json | jq -r '.[] | select(.name == "evil") | .workspace')
  [ ! -e "$wt/pwned-host" ]
  [ ! -e /tmp/pwned ]
  # and removal copes with the rewritten .git file
  run adr rm --force evil
  [ "$status" -eq 0 ]
  [ ! -e "$wt" ]
  [ "$(git worktree list | wc -l)" -eq 1 ]
}

@test "control: the same attempts succeed where .git is writable (adr run in the repository)" {
  run adr run sh --prompt '
    g=$(git -C /workspace rev-parse --git-common-dir)
    echo "true" > $g/hooks/post-merge 2>/dev/null && echo HOOK-WRITTEN
    git -C /workspace branch -f other HEAD 2>/dev/null && echo BRANCH-MADE'
  [ "$status" -eq 0 ]
  [[ "$output" == *HOOK-WRITTEN* ]]
  [[ "$output" == *BRANCH-MADE* ]]
}

@test "attach under a real terminal, detach with Ctrl-P Ctrl-Q, the agent keeps running; exec; stop" {
  command -v script >/dev/null || skip "script(1) from util-linux is not installed"
  adr start sh --name tty1
  sleep 1
  # type a command, then detach
  { sleep 1; printf 'echo attached-$((6*7)) > /workspace/from-tty.txt\r'; sleep 1; printf '\020\021'; sleep 1; } |
    timeout 20 script -qfec "$ADR_BIN attach tty1" /dev/null >"$BATS_TEST_TMPDIR/tty.out" 2>&1
  cat "$BATS_TEST_TMPDIR/tty.out"
  grep -q "detached from 'tty1' (still running)" "$BATS_TEST_TMPDIR/tty.out"
  [ "$(docker inspect -f '{{.State.Status}}' "$(cid tty1)")" = running ]
  run adr exec tty1 -- cat /workspace/from-tty.txt
  [ "$status" -eq 0 ]
  [ "$output" = attached-42 ]
  run adr exec tty1 -- sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run adr ls
  [[ "$output" == *"tty1"*"running"* ]]
  run adr stop tty1
  [ "$status" -eq 0 ]
  [ "$(docker inspect -f '{{.State.Status}}' "$(cid tty1)")" = exited ]
  run adr attach tty1
  [ "$status" -eq 1 ]
  [[ "$output" == *"'tty1' is not running"* ]]
}

@test "outside a git repository the workspace is shared, --branch is refused" {
  mkdir "$BATS_TEST_TMPDIR/plain"
  cd "$BATS_TEST_TMPDIR/plain"
  run adr start sh --name b --branch x --prompt true
  [ "$status" -eq 1 ]
  [[ "$output" == *"--branch"*"not in a git repository"* ]]
  adr start sh --name plain --prompt 'echo P > /workspace/p.txt'
  for _ in $(seq 50); do [ -e p.txt ] && break; sleep 0.2; done
  [ "$(cat p.txt)" = P ]
  run adr diff plain
  [ "$status" -eq 1 ]
  [[ "$output" == *"no branch of its own"* ]]
  run adr rm plain
  [ "$status" -eq 0 ]
  [ -z "$(docker ps -aq --filter "label=dev.adr.scope=$BATS_TEST_TMPDIR/plain")" ]
}

@test "errors: unknown agent name, missing name, bad branch" {
  run adr attach nope
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: no agent named 'nope' in $REPO (see 'adr ls')" ]]
  run adr rm
  [ "$status" -eq 2 ]
  [[ "$output" == *"which agent?"* ]]
  run adr start sh --name ok --branch 'adr/bad..name' --prompt true
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid branch name 'adr/bad..name'"* ]]
  [ -z "$(cid ok)" ]
  # outside adr/ the agent could write the user's branches: refused
  run adr start sh --name ok --branch feature --prompt true
  [ "$status" -eq 1 ]
  [[ "$output" == *"must start with 'adr/'"* ]]
  [ -z "$(cid ok)" ]
  run adr start sh --name 'Bad Name' --prompt true
  [ "$status" -eq 2 ]
}

@test "kill -9 during start leaves nothing half-made after the next adr command" {
  # stop adr right after it made the worktree: the marker names a dead pid
  adr start sh --name k1 --prompt true
  wait_exit k1
  wt=$(adr ls --json | jq -r '.[0].workspace')
  key=$(basename "$(dirname "$wt")")
  docker rm -f "$(cid k1)" >/dev/null     # as if create never happened
  echo 999999 >"$(dirname "$wt")/.k1.starting"
  # its host-side state (identity files; idmapped mounts when root), made a
  # while ago: reaped too (recent ones may belong to a start under way)
  state="$XDG_STATE_HOME/adr"
  touch -d '-5 minutes' "$state"/run/adr-k1-* "$state"/mnt/adr-k1-* 2>/dev/null || true
  run adr ls
  [ "$status" -eq 0 ]
  [ ! -e "$wt" ]
  [ -z "$(ls -d "$state"/run/adr-k1-* "$state"/mnt/adr-k1-* 2>/dev/null)" ]
  ! git show-ref --verify --quiet refs/heads/adr/k1
  [ ! -e "$(dirname "$wt")/.k1.starting" ]
  [ -n "$key" ]
  # and a real kill -9 while adr start runs
  "$ADR_BIN" start sh --name k2 --prompt true &  # the binary itself: $! must be adr, not a subshell
  pid=$!
  sleep 0.3
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  run adr ls --json
  [ "$status" -eq 0 ]
  # either it got through (a complete agent) or nothing of it is left
  if [ -n "$(cid k2)" ]; then
    [ "$(echo "$output" | jq -r '.[] | select(.name == "k2") | .branch')" = adr/k2 ]
    git show-ref --verify --quiet refs/heads/adr/k2
  else
    ! git show-ref --verify --quiet refs/heads/adr/k2
    [ "$(git worktree list | wc -l)" -eq 1 ]
  fi
}

@test "rm counts commits made on a detached HEAD or after moving the branch; submodule config never runs" {
  adr start sh --name det --prompt "cd /workspace && git checkout -q --detach && echo D > d.txt && git add d.txt && $COMMIT -m detached"
  wait_exit det
  run adr rm --no-push det
  [ "$status" -eq 1 ]
  [[ "$output" == *"would lose 1 commit"* ]]
  # a gitlink whose nested repository configures a filter: adr's git must not run it
  adr start sh --name sub --prompt '
    cd /workspace && mkdir s && cd s && git init -q && echo x > f && git add f && git -c user.name=a -c user.email=a@b commit -qm s
    printf "[filter \"evil\"]\n\tclean = touch /workspace/pwned-by-filter; cat\n" >> .git/config
    echo "* filter=evil" > .gitattributes && touch f
    cd /workspace && git add s && git -c user.name=a -c user.email=a@b commit -qm sub'
  wait_exit sub
  run adr diff sub
  run adr rm --no-push sub
  [ "$status" -eq 1 ]
  [[ "$output" == *"checked-out submodule"* ]]
  wt=$(adr ls --json | jq -r '.[] | select(.name == "sub") | .workspace')
  [ ! -e "$wt/pwned-by-filter" ]
}

@test "an agent whose worktree vanished shows as broken; rm cleans it up" {
  adr start sh --name gone --prompt true
  wait_exit gone
  wt=$(adr ls --json | jq -r '.[0].workspace')
  rm -rf "$wt"
  run adr ls
  [[ "$output" == *"gone"*"broken"* ]]
  run adr ls --json
  [ "$(echo "$output" | jq -r '.[0].broken')" = true ]
  run adr rm gone
  [ "$status" -eq 0 ]
  [ -z "$(cid gone)" ]
  ! git show-ref --verify --quiet refs/heads/adr/gone
  [ "$(git worktree list | wc -l)" -eq 1 ]
}

@test "a real agent (pi) started with adr start commits on its branch; adr merge brings it home" {
  agents_pi_models "$BATS_TEST_TMPDIR/pi"
  : >"$MOCK_LOG"
  run adr start pi --name worker -c "$BATS_TEST_TMPDIR/pi" --model mock/mock-model \
    --prompt "Run this shell command exactly: [[cd /workspace && echo from-pi > pi.txt && git add pi.txt && git -c user.name=pi -c user.email=pi@example.invalid commit -qm pi-commit]]"
  [ "$status" -eq 0 ]
  wait_exit worker
  adr logs worker || true
  grep -q '"user_agent": "pi (' "$MOCK_LOG"
  [ "$(git log --format=%s -1 adr/worker)" = pi-commit ]
  run adr merge worker
  [ "$status" -eq 0 ]
  [ "$(cat pi.txt)" = from-pi ]
  run adr rm worker
  [ "$status" -eq 0 ]
}

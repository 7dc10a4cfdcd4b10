#!/usr/bin/env bats
# Scale-out: one coordinator, runners on several machines.  The machines are
# nodes scripts/test.sh starts (tests/lib/nodes.bash): a network namespace
# on a bridge of its own (no traffic leaves this machine), a mount and a UTS
# namespace, and a dockerd each.  The repository is served by git daemon on
# the bridge, as a remote would be; the coordinator listens there with
# tokens.
#   1. adr runner as a process on each node, against that node's engine;
#   2. the two engines joined in a Docker Swarm, adr runner deployed as a
#      global service of the runner image (adr build --runner), one per node.

bats_require_minimum_version 1.5.0

setup_file() {
  if [ -z "${ADR_TEST_NODES_DIR:-}" ]; then
    echo "no nodes: run this through scripts/test.sh --only scaleout" >&2
    return 1 # every test fails: never a pass without the nodes
  fi
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export S=$ADR_TEST_NODES_DIR/suite # below the shared mount: the nodes see it
  mkdir -p "$S/git"
  export HOME=$S/home XDG_CONFIG_HOME=$S/home/.config XDG_STATE_HOME=$S/home/.local/state
  unset ADR_COORDINATOR ADR_TOKEN DOCKER_HOST
  mkdir -p "$XDG_CONFIG_HOME/adr"
  # the runner image and the agent's (the base image under the agent's
  # name): built here, loaded into every node's engine
  "$ADR_BIN" build --runner >"$S/build.log" 2>&1 || { tail -20 "$S/build.log" >&2; return 1; }
  local i
  for i in $(seq "$ADR_TEST_NODES"); do
    docker save adr/base:latest adr/runner:latest | DOCKER_HOST=$(node_sock "$i") docker load -q >/dev/null
    DOCKER_HOST=$(node_sock "$i") docker tag adr/base:latest adrscale/sh:latest
  done
  # the repository, behind git daemon on the bridge
  git init -q --bare "$S/git/origin.git"
  git -C "$S/git/origin.git" config daemon.receivepack true
  git clone -q "$S/git/origin.git" "$S/seed" 2>/dev/null
  (cd "$S/seed" && echo seed >seed.txt && git add seed.txt &&
    git -c user.name=t -c user.email=t@x commit -qm seed && git push -q origin HEAD:main) >/dev/null 2>&1
  git -C "$S/git/origin.git" symbolic-ref HEAD refs/heads/main
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("10.231.0.1", 0)); print(s.getsockname()[1])')
  git daemon --reuseaddr --listen="$ADR_TEST_NODES_NET" --port="$port" --base-path="$S/git" --export-all \
    --enable=receive-pack --pid-file="$S/gitd.pid" --detach
  echo "git://$ADR_TEST_NODES_NET:$port/origin.git" >"$S/repo_url"
  chmod -R a+rwX "$S/git" # the Swarm's runners push as uid 1000 through git daemon (root here)
  # the coordinator: on the bridge, so with tokens
  "$ADR_BIN" serve token add client c1 >"$S/client.token" 2>/dev/null
  "$ADR_BIN" serve token add runner r1 >"$S/runner.token" 2>/dev/null
  "$ADR_BIN" serve --listen "$ADR_TEST_NODES_NET:0" >"$S/serve.out" 2>"$S/serve.err" &
  echo $! >"$S/serve.pid"
  for _ in $(seq 100); do
    grep -q 'listening on' "$S/serve.out" && break
    sleep 0.05
  done
  awk '/listening on/ { print $5 }' "$S/serve.out" >"$S/url"
  [ -s "$S/url" ] || { cat "$S/serve.err" >&2; return 1; }
}

teardown_file() {
  [ -n "${S:-}" ] || return 0
  kill "$(cat "$S/serve.pid" 2>/dev/null)" 2>/dev/null || true
  kill "$(cat "$S/gitd.pid" 2>/dev/null)" 2>/dev/null || true
}

node_sock() { echo "unix://$ADR_TEST_NODES_DIR/n$1/run/docker.sock"; }

setup() {
  export HOME=$S/home XDG_CONFIG_HOME=$S/home/.config XDG_STATE_HOME=$S/home/.local/state
  export ADR_COORDINATOR ADR_TOKEN
  ADR_COORDINATOR=$(cat "$S/url")
  ADR_TOKEN=$(cat "$S/client.token")
  REPO_URL=$(cat "$S/repo_url")
  RUNNERS=()
}

teardown() {
  local p
  for p in "${RUNNERS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${RUNNERS[@]}"; do wait "$p" 2>/dev/null || true; done
}

adr() { "$ADR_BIN" "$@"; }

# agent "sh" (bash on the base image) in a config directory
write_config() {
  mkdir -p "$1/adr/agents"
  printf 'ADR_IMAGE_PREFIX=adrscale\nADR_AGENT=sh\n' >"$1/adr/config"
  cat >"$1/adr/agents/sh.json" <<'JSON'
{ "name": "sh", "description": "test agent: bash on the base image",
  "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "args": { "interactive": ["--norc", "-i"], "headless": ["-c", "{prompt}"] } }
JSON
}

# waits until every run is finished (or ended), $1 seconds at most
wait_all_ended() {
  local i left
  for i in $(seq "$(($1 * 2))"); do
    left=$(adr runs ls --json | jq '[.[] | select(.state != "finished" and .state != "cancelled" and .state != "lost")] | length')
    [ "$left" = 0 ] && return 0
    sleep 0.5
  done
  adr runs ls
  return 1
}

# the engine of node $1 created sandboxes of runs: their names, since $2
node_run_sandboxes() {
  DOCKER_HOST=$(node_sock "$1") docker events --since "$2" --until "$(date +%s)" --filter type=container \
    --filter event=create --filter label=dev.adr.kind=run --format '{{.Actor.Attributes.name}}'
}

@test "runners on two machines, each with its own engine, drain the queue exactly once; the work comes home" {
  local t0 i n
  t0=$(date +%s)
  before=$(adr runs ls --json | jq length)
  for n in $(seq 12); do
    adr submit sh --repo "$REPO_URL" --prompt "cd /workspace && echo $n > n.txt && sleep 1" >/dev/null
  done
  for i in 1 2; do
    mkdir -p "$S/r$i/.config"
    write_config "$S/r$i/.config"
    nsenter --net="/run/netns/adrsc-n$i" env HOME="$S/r$i" XDG_CONFIG_HOME="$S/r$i/.config" \
      XDG_STATE_HOME="$S/r$i/.local/state" XDG_CACHE_HOME="$S/r$i/.cache" DOCKER_HOST="$(node_sock "$i")" \
      ADR_TOKEN="$(cat "$S/runner.token")" "$ADR_BIN" runner --name "n$i" --capacity 2 \
      --coordinator "$ADR_COORDINATOR" >"$S/runner-n$i.out" 2>&1 &
    RUNNERS+=($!)
  done
  wait_all_ended 240 || { tail -20 "$S"/runner-n*.out; return 1; }
  run adr runs ls --json
  runs=$(echo "$output" | jq --argjson b "$before" '[.[] | select(.id > $b)]')
  [ "$(echo "$runs" | jq length)" = 12 ]
  # each exactly once: claimed once, finished with 0, its branch pushed
  [ "$(echo "$runs" | jq '[.[] | select(.state == "finished" and .exit_code == 0 and .attempts == 1 and .result.pushed == true)] | length')" = 12 ] || {
    echo "$runs" | jq -c '.[] | {id, state, exit_code, attempts, runner, result}'
    return 1
  }
  for id in $(echo "$runs" | jq '.[].id'); do
    [ "$(adr runs logs "$id" 2>&1 >/dev/null | grep -c ' claimed by ')" = 1 ] || { adr runs logs "$id"; return 1; }
  done
  # both machines took runs, and each ran its runs in its own engine
  c1=$(echo "$runs" | jq '[.[] | select(.runner == "n1")] | length')
  c2=$(echo "$runs" | jq '[.[] | select(.runner == "n2")] | length')
  [ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] && [ $((c1 + c2)) = 12 ]
  [ "$(node_run_sandboxes 1 "$t0" | wc -l)" = "$c1" ]
  [ "$(node_run_sandboxes 2 "$t0" | wc -l)" = "$c2" ]
  # the control: this machine's own engine ran none of them
  [ -z "$(docker events --since "$t0" --until "$(date +%s)" --filter type=container --filter event=create \
    --filter label=dev.adr.kind=run --format '{{index .Actor.Attributes "dev.adr.workspace"}}' | grep -F "$S/")" ]
  # the work, through the remote: every run's branch holds its file
  for id in $(echo "$runs" | jq '.[].id'); do
    git -C "$S/git/origin.git" show "adr/run-$id:n.txt" >/dev/null
  done
  [ "$(for id in $(echo "$runs" | jq '.[].id'); do git -C "$S/git/origin.git" show "adr/run-$id:n.txt"; done | sort -n | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 10 11 12 " ]
}

@test "Docker Swarm: adr runner as a global service, one per node, in two engines joined in a swarm" {
  local t0 i
  t0=$(date +%s)
  n1=$(node_sock 1)
  DOCKER_HOST=$n1 docker swarm init --advertise-addr "10.231.0.2" --listen-addr 10.231.0.2:2377 >/dev/null
  DOCKER_HOST=$(node_sock 2) docker swarm join --advertise-addr 10.231.0.3 \
    --token "$(DOCKER_HOST=$n1 docker swarm join-token -q worker)" 10.231.0.2:2377 >/dev/null
  [ "$(DOCKER_HOST=$n1 docker node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')" = "adr-n1 Ready adr-n2 Ready " ]
  # each node's runner root: owned by the runner's uid, with its config
  for i in 1 2; do
    root=$ADR_TEST_NODES_DIR/n$i/runner
    write_config "$root/config"
    chown -R 1000:1000 "$root"
  done
  before=$(adr runs ls --json | jq length)
  for n in $(seq 6); do
    adr submit sh --repo "$REPO_URL" --prompt "cd /workspace && echo swarm-$n "'$(id -u)'" > s.txt && sleep 2" >/dev/null
  done
  # the shipped stack file, as docs/deploy.md deploys it
  DOCKER_HOST=$n1 docker secret create adr_runner_token "$S/runner.token" >/dev/null
  DOCKER_HOST=$n1 ADR_DOCKER_GID=2375 ADR_DOCKER_SOCKET=/run/adr-node/docker.sock \
    docker stack deploy --resolve-image never -c "$BATS_TEST_DIRNAME/../../deploy/swarm/adr-runner.yml" adr >/dev/null
  ok=0
  wait_all_ended 240 && ok=1
  if [ "$ok" != 1 ]; then
    DOCKER_HOST=$n1 docker service ps --no-trunc adr_runner
    for i in 1 2; do DOCKER_HOST=$(node_sock "$i") docker ps -a --filter label=com.docker.swarm.service.name=adr_runner -q |
      xargs -r env DOCKER_HOST="$(node_sock "$i")" docker logs 2>&1 | tail -20; done
    return 1
  fi
  # one task per node, running
  [ "$(DOCKER_HOST=$n1 docker service ps adr_runner --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' |
    awk '{ print $1, $2 }' | sort | tr '\n' ' ')" = "adr-n1 Running adr-n2 Running " ]
  run adr runs ls --json
  runs=$(echo "$output" | jq --argjson b "$before" '[.[] | select(.id > $b)]')
  [ "$(echo "$runs" | jq '[.[] | select(.state == "finished" and .exit_code == 0 and .attempts == 1 and .result.pushed == true)] | length')" = 6 ]
  # both nodes' runners took runs, named after their nodes
  [ "$(echo "$runs" | jq -r '[.[].runner] | unique | join(" ")')" = "adr-n1 adr-n2" ]
  c1=$(echo "$runs" | jq '[.[] | select(.runner == "adr-n1")] | length')
  [ "$(node_run_sandboxes 1 "$t0" | wc -l)" = "$c1" ]
  # the sandboxes ran as the runner's uid, not root, and the work came home
  for id in $(echo "$runs" | jq '.[].id'); do
    git -C "$S/git/origin.git" show "adr/run-$id:s.txt" | grep -qx 'swarm-[0-9]* 1000'
  done
  DOCKER_HOST=$n1 docker stack rm adr >/dev/null
  # the runners stop (SIGTERM: no more runs), and leave no sandbox behind
  for _ in $(seq 100); do
    [ -z "$(for i in 1 2; do DOCKER_HOST=$(node_sock "$i") docker ps -aq; done)" ] && break
    sleep 0.3
  done
  [ -z "$(for i in 1 2; do DOCKER_HOST=$(node_sock "$i") docker ps -aq --filter label=dev.adr.managed; done)" ]
}

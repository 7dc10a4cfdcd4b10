#!/usr/bin/env bats
# A dev container with compose services (dockerComposeFile, service,
# runServices): the agent runs in its service's image, the others run
# beside it on a network of the sandbox's own, reachable by name from the
# agent in every network mode, with no route out themselves; they go when
# the sandbox goes, and a killed adr's are reaped. A real agent (pi, with
# the mock model) runs the project's tests against a PostgreSQL service
# (Debian's package, in an image built here).

bats_require_minimum_version 1.5.0
load ../lib/agents
load ../lib/hostip

PG_IMAGE=adr-test/postgres:1

setup_file() {
  agents_setup_file
  # PostgreSQL from Debian's mirror, kept between runs (the suite's cache)
  if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
    local d=$BATS_FILE_TMPDIR/pg
    mkdir -p "$d"
    cat >"$d/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null && \
    rm -rf /var/lib/apt/lists/* && ln -s /usr/lib/postgresql/*/bin/* /usr/local/bin/ 2>/dev/null; \
    printf '#!/bin/sh\nset -e\ninitdb -A trust -U postgres -D "$PGDATA" >/dev/null\necho "host all all 0.0.0.0/0 trust" >>"$PGDATA/pg_hba.conf"\nexec postgres -D "$PGDATA" -c listen_addresses="*" -c fsync=off -k /tmp "$@"\n' >/usr/local/bin/pg-serve && \
    chmod 0755 /usr/local/bin/pg-serve
ENV PGDATA=/tmp/pgdata
USER postgres
CMD ["pg-serve"]
EOF
    docker build -q -t "$PG_IMAGE" "$d" >/dev/null
  fi
}

teardown_file() {
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^adr-devcontainer/repo(-[a-z]+)?:' |
    xargs -r docker rmi -f >/dev/null 2>&1 || true
  agents_teardown_file
}

setup() {
  agents_setup compose.txt one
  mkdir -p .devcontainer db
  # the agent's service: the project's image (psql from the PostgreSQL
  # image) and its test command, which needs the database
  cat >.devcontainer/Dockerfile <<EOF
FROM $PG_IMAGE
USER 0
RUN printf '#!/bin/sh\nset -e\npsql -q -h "\$DB_HOST" -U postgres -v ON_ERROR_STOP=1 -tA -f /workspace/db/test.sql\n' >/usr/local/bin/run-tests && \\
    chmod 0755 /usr/local/bin/run-tests
EOF
  cat >db/test.sql <<'EOF'
create table t (n int);
insert into t select generate_series(1, 6);
select 'project tests: ' || sum(n) || ' ok' from t;
EOF
  cat >.devcontainer/compose.yaml <<EOF
x-limits: &limits
  restart: unless-stopped
services:
  app:
    build: { context: ., dockerfile: Dockerfile }
    environment:
      DB_HOST: db
    depends_on:
      db: { condition: service_healthy }
  db:
    <<: *limits
    image: $PG_IMAGE
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -q"]
      interval: 300ms
      retries: 60
    volumes:
      - pgdata:/tmp/pgdata
    ports: ["5432:5432"]
  idle:
    image: $PG_IMAGE
    command: ["sleep", "infinity"]
volumes:
  pgdata: {}
EOF
  cat >.devcontainer/devcontainer.json <<'JSON'
{
  // the database beside the agent; "idle" is not asked for
  "dockerComposeFile": "compose.yaml",
  "service": "app",
  "runServices": ["db"],
  "workspaceFolder": "/workspace"
}
JSON
  # committed: a persistent agent's worktree has them too
  git add -A && git commit -qm "the project's dev container"
}

teardown() {
  [ -f "$BATS_TEST_TMPDIR/listener.pid" ] && kill "$(cat "$BATS_TEST_TMPDIR/listener.pid")" 2>/dev/null
  adr_settle || true
  agents_teardown_started
}

adr() { "$ADR_BIN" "$@"; }

# what the sandboxes of this repository left: services, networks, markers
services_left() {
  adr_settle >&2
  {
    docker ps -aq --filter label=dev.adr.kind=service --filter "label=dev.adr.for" |
      while read -r id; do
        docker inspect -f '{{index .Config.Labels "dev.adr.for"}}' "$id"
      done
    docker network ls -q --filter label=dev.adr.kind=services-network
    ls "$XDG_STATE_HOME"/adr/egress/*/services 2>/dev/null
  } | wc -l
}

@test "compose services: the agent reaches its database by name in every network mode; nothing is left" {
  local mode out
  for mode in allowlist none open; do
    run --separate-stderr adr run sh --network "$mode" --prompt 'echo "[$DB_HOST]"; run-tests'
    [ "$status" -eq 0 ] || { echo "$mode: $stderr"; false; }
    [ "$output" = "$(printf '[db]\nproject tests: 21 ok')" ] || { echo "$mode: $output"; false; }
    [ "$(services_left)" -eq 0 ]
  done
  [[ "$stderr" == *"adr: using .devcontainer/devcontainer.json (service app, with db); --no-devcontainer runs without it"* ]]
  [[ "$stderr" == *"adr: service db is healthy"* ]]
  # what adr leaves out is said: the named volume, the ports
  [[ "$stderr" == *"service 'db': volume pgdata:/tmp/pgdata is not kept"* ]]
  [[ "$stderr" == *"service 'db': 'ports' are not published"* ]]
  # the control: without the dev container there is no database
  run --separate-stderr adr run sh --no-devcontainer --prompt 'getent hosts db || echo no-db'
  [ "$output" = no-db ]
}

# A listener on the host, and a probe that connects to it: "reached" or
# "unreachable". The probe runs in the agent, a service, and (the control)
# a container on the engine's default network.
host_listener() {
  HOST_IP=$(bridge_host_ip)
  # the listener picks its port (one picked for it could be in use) and says it once listening
  python3 -c 'import http.server, sys
s = http.server.HTTPServer(("0.0.0.0", 0), http.server.SimpleHTTPRequestHandler)
print(s.server_address[1], flush=True)
s.serve_forever()' >"$BATS_TEST_TMPDIR/listener.port" 2>/dev/null 3>&- &
  echo $! >"$BATS_TEST_TMPDIR/listener.pid"
  for _ in $(seq 200); do [ -s "$BATS_TEST_TMPDIR/listener.port" ] && break; sleep 0.05; done
  HOST_PORT=$(cat "$BATS_TEST_TMPDIR/listener.port")
  [ -n "$HOST_PORT" ]
  REACH="timeout 6 bash -c '(exec 3<>/dev/tcp/$HOST_IP/$HOST_PORT) 2>/dev/null && echo reached || echo unreachable' || echo unreachable"
}

# a port nothing on the host uses, below the kernel's range for outgoing
# connections' own ports (so none takes it meanwhile)
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 12000))
    python3 -c 'import socket, sys; s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1])))' "$p" 2>/dev/null &&
      { echo "$p"; return; }
  done
  return 1
}

@test "compose services reach nothing outside, and are not the agent's way out" {
  host_listener
  # the control first: a container on the engine's default network reaches the host
  [ "$(docker run --rm "$PG_IMAGE" sh -c "$REACH")" = reached ]
  # the agent (none): the database, nothing else; a service not in
  # runServices is not started
  run --separate-stderr adr run sh --network none --prompt "
    getent hosts db >/dev/null && echo db-resolves
    (exec 3<>/dev/tcp/db/5432) 2>/dev/null && echo db-port-open
    $REACH
    getent hosts idle >/dev/null && echo idle-runs || echo idle-not-started"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'db-resolves\ndb-port-open\nunreachable\nidle-not-started')" ] || { echo "$output"; false; }
  # a service's own view, while a persistent agent (open) keeps it up
  run adr start sh --name keep --network open --prompt 'sleep 600'
  [ "$status" -eq 0 ]
  local svc
  svc=$(docker ps -q --filter label=dev.adr.kind=service --filter label=dev.adr.service=db | head -1)
  [ -n "$svc" ]
  [ "$(docker exec "$svc" sh -c "$REACH")" = unreachable ]
  [ "$(docker inspect -f '{{.HostConfig.SecurityOpt}} {{.HostConfig.Privileged}} {{.HostConfig.CapAdd}}' "$svc")" = \
    "[no-new-privileges:true] false []" ]
  # the open agent beside it reaches the database
  run adr exec keep -- run-tests
  [ "$output" = "project tests: 21 ok" ]
}

@test "compose services live with a persistent agent: stopped with it, removed with it" {
  run --separate-stderr adr start sh --name db-agent --prompt 'sleep 600'
  [ "$status" -eq 0 ]
  local svc
  svc=$(docker ps -q --filter label=dev.adr.kind=service --filter label=dev.adr.service=db)
  [ -n "$svc" ]
  run adr exec db-agent -- run-tests
  [ "$output" = "project tests: 21 ok" ]
  run adr stop db-agent
  [ "$status" -eq 0 ]
  [ "$(docker inspect -f '{{.State.Status}}' "$svc")" = exited ]
  run adr rm --force --no-push db-agent
  [ "$status" -eq 0 ]
  [ "$(services_left)" -eq 0 ]
}

@test "a killed adr's compose services and their network are reaped by the next adr" {
  "$ADR_BIN" run sh --prompt 'sleep 600' >/dev/null 2>&1 &
  local pid=$! i
  for i in $(seq 300); do
    [ -n "$(docker ps -q --filter label=dev.adr.services)" ] && break
    sleep 0.2
  done
  [ -n "$(docker ps -q --filter label=dev.adr.services)" ]
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  # the kill left them
  [ "$(services_left)" -ge 2 ]
  # the next adr reaps them (a transient run's owner is dead)
  run adr run sh --no-devcontainer --prompt true
  [ "$status" -eq 0 ]
  [ "$(services_left)" -eq 0 ]
  [ -z "$(docker ps -aq --filter label=dev.adr.services)" ]
}

@test "a real agent (pi) runs the project's tests against the database service" {
  agents_pi_models "$HOME/.pi"
  : >"$MOCK_LOG"
  run adr run pi --model mock/mock-model \
    --prompt "Run this shell command exactly: [[cd /workspace && run-tests > result.txt]]"
  [ "$status" -eq 0 ]
  grep -q '"user_agent": "pi (' "$MOCK_LOG"
  [ "$(cat result.txt)" = "project tests: 21 ok" ]
  [ "$(stat -c %u:%g result.txt)" = "$(id -u):$(id -g)" ]
  [ "$(services_left)" -eq 0 ]
}

@test "compose files adr refuses are named; nothing starts" {
  cat >.devcontainer/compose.yaml <<EOF
services:
  app: { image: $PG_IMAGE }
  db: { image: $PG_IMAGE, privileged: true }
EOF
  run_refused "compose.yaml: service 'db': 'privileged' is refused: the services share the sandbox's confinement"
  cat >.devcontainer/compose.yaml <<EOF
services:
  app: { image: $PG_IMAGE }
  db: { image: $PG_IMAGE, volumes: ["/etc:/host-etc"] }
EOF
  run_refused "service 'db': volume '/etc': a host path outside the project"
  cat >.devcontainer/compose.yaml <<EOF
services:
  app: { image: $PG_IMAGE }
  db: { image: adr-test/not-here:1 }
EOF
  run_refused "service 'db': image 'adr-test/not-here:1' is not here: pull it, or give the service a build"
  # a service that fails is named with its last words
  cat >.devcontainer/compose.yaml <<EOF
services:
  app: { image: $PG_IMAGE }
  db:
    image: $PG_IMAGE
    command: ["sh", "-c", "echo cannot start; exit 3"]
    healthcheck: { test: ["CMD", "true"], interval: 1s }
EOF
  run_refused "service 'db' exited with status 3: cannot start"
  printf '{ "dockerComposeFile": "compose.yaml", "service": "web" }\n' >.devcontainer/devcontainer.json
  run_refused "'service' web is not a service of"
  [ "$(services_left)" -eq 0 ]
}

# The body URL answers with, once it answers (tries, 0.2 s apart).
http_wait() { # url tries
  local i got=""
  for i in $(seq "$2"); do
    got=$(curl -s --max-time 2 "$1" || true)
    [ -n "$got" ] && break
    sleep 0.2
  done
  printf '%s' "$got"
}

# the port a "forwarding 127.0.0.1:N -> TARGET" line of FILE names for TARGET
forwarded_port() {
  sed -n "s/^adr: forwarding 127\.0\.0\.1:\([0-9]*\) -> $1\( .*\)\{0,1\}$/\1/p; s/^forwarding 127\.0\.0\.1:\([0-9]*\) -> $1\( .*\)\{0,1\}$/\1/p" "$2" | head -1
}

@test "forwardPorts: on the host's loopback only, while the run lasts, with no network in the sandbox" {
  local web
  web=$(free_port)
  cat >.devcontainer/devcontainer.json <<JSON
{ "dockerComposeFile": "compose.yaml", "service": "app", "runServices": ["db"], "forwardPorts": [$web, "db:5432"] }
JSON
  "$ADR_BIN" run sh --network none --prompt "PATH=\$PATH:/opt/adr/node/bin node -e 'require(\"http\").createServer((q, s) => s.end(\"hello from the sandbox\\n\")).listen($web)' & sleep 60" \
    >/dev/null 2>"$BATS_TEST_TMPDIR/run.err" &
  local pid=$! got
  got=$(http_wait "http://127.0.0.1:$web/" 300)
  [ "$got" = "hello from the sandbox" ] || { cat "$BATS_TEST_TMPDIR/run.err"; false; }
  grep -q "^adr: forwarding 127.0.0.1:$web -> $web$" "$BATS_TEST_TMPDIR/run.err"
  # the database, through the forward (the host's psql)
  local pg
  pg=$(forwarded_port db:5432 "$BATS_TEST_TMPDIR/run.err")
  [ -n "$pg" ]
  [ "$(psql -h 127.0.0.1 -p "$pg" -U postgres -tAc 'select 6*7')" = 42 ]
  # loopback only: the host's other addresses do not answer (the control: loopback does)
  local ip
  ip=$(bridge_host_ip)
  ! curl -s --max-time 2 "http://$ip:$web/"
  curl -s --max-time 2 "http://127.0.0.1:$web/" >/dev/null
  # gone with the run
  kill -TERM "$pid"
  wait "$pid" || true
  ! curl -s --max-time 2 "http://127.0.0.1:$web/"
  [ "$(services_left)" -eq 0 ]
}

@test "adr port: a persistent agent's forwardPorts until interrupted; bad ports named" {
  local web
  web=$(free_port)
  cat >.devcontainer/devcontainer.json <<JSON
{ "dockerComposeFile": "compose.yaml", "service": "app", "runServices": ["db"], "forwardPorts": [$web] }
JSON
  git add -A && git commit -qm ports
  run --separate-stderr adr start sh --name web --prompt "PATH=\$PATH:/opt/adr/node/bin node -e 'require(\"http\").createServer((q, s) => s.end(\"persistent\\n\")).listen($web)'"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"forwardPorts ($web): 'adr port web' forwards them to 127.0.0.1"* ]]
  "$ADR_BIN" port web >"$BATS_TEST_TMPDIR/port.out" 2>&1 &
  local pid=$! i got
  got=$(http_wait "http://127.0.0.1:$web/" 150)
  [ "$got" = persistent ] || { cat "$BATS_TEST_TMPDIR/port.out"; false; }
  grep -q "^forwarding 127.0.0.1:$web -> $web$" "$BATS_TEST_TMPDIR/port.out"
  kill -INT "$pid"
  wait "$pid"
  ! curl -s --max-time 2 "http://127.0.0.1:$web/"
  # named ports: a service's too
  "$ADR_BIN" port web db:5432 >"$BATS_TEST_TMPDIR/port2.out" 2>&1 &
  pid=$!
  local pg=""
  for i in $(seq 50); do
    pg=$(forwarded_port db:5432 "$BATS_TEST_TMPDIR/port2.out")
    [ -n "$pg" ] && break
    sleep 0.2
  done
  [ "$(psql -h 127.0.0.1 -p "$pg" -U postgres -tAc 'select 1')" = 1 ]
  kill -INT "$pid"
  wait "$pid"
  run --separate-stderr adr port web 70000
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"port '70000': a port (1-65535) or HOST:PORT"* ]]
  run --separate-stderr adr port nosuch 80
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"nosuch"* ]]
}

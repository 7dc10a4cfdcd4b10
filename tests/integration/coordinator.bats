#!/usr/bin/env bats
# The coordinator (adr serve) and its clients (adr submit, adr runs), and
# the runner side of its API driven with curl: on a real HTTP server, with
# a real SQLite store and, when scripts/test.sh started one, a real
# PostgreSQL server (ADR_TEST_PGBIN, ADR_TEST_PGHOST).  No engine needed.

bats_require_minimum_version 1.5.0

setup() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset ADR_COORDINATOR ADR_TOKEN
  mkdir -p "$XDG_CONFIG_HOME/adr"
  SERVE_PID=""
}

teardown() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
}

adr() { "$ADR_BIN" "$@"; }

# serve ARGS...: adr serve on a free loopback port; sets U (its URL)
serve() {
  "$ADR_BIN" serve --listen 127.0.0.1:0 "$@" >"$BATS_TEST_TMPDIR/serve.out" 2>"$BATS_TEST_TMPDIR/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 100); do
    U=$(awk '/listening on/ { print $5 }' "$BATS_TEST_TMPDIR/serve.out")
    [ -n "$U" ] && break
    sleep 0.05
  done
  [ -n "$U" ] || { cat "$BATS_TEST_TMPDIR/serve.err"; return 1; }
  export ADR_COORDINATOR=$U
}
# api METHOD PATH [BODY] [TOKEN]: prints the body, then the status on a line of its own
api() {
  local auth=()
  [ -n "${4:-}" ] && auth=(-H "Authorization: Bearer $4")
  curl -s -X "$1" "${auth[@]}" -w '\n%{http_code}' ${3:+--data-binary "$3"} "$U$2"
}
status_of() { tail -1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
runs_count() { api GET "/v1/runs?limit=1000" "" "${1:-}" | sed '$d' | jq '.runs | length'; }
# a new PostgreSQL database: its URL (pg_need first: the test is skipped
# without a server, never passed)
pg_need() { [ -n "${ADR_TEST_PGHOST:-}" ] || skip "no PostgreSQL server (scripts/test.sh starts one)"; }
pg_url() {
  "$ADR_TEST_PGBIN/createdb" -h "$ADR_TEST_PGHOST" -U adr "$1" >/dev/null
  echo "postgresql:///$1?host=$ADR_TEST_PGHOST&user=adr"
}

@test "loopback without tokens: submit, list, show, cancel; the store is the default SQLite file" {
  serve --no-auth
  run adr submit pi --repo /srv/app --prompt 'fix the flaky test' --tag gpu --secret ANTHROPIC_API_KEY
  [ "$status" -eq 0 ]
  [[ "$output" == "submitted run 1 (queued)"* ]]
  run adr runs
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" =~ ^1\ +queued\ +pi\ +-\ +-\ +/srv/app$ ]]
  run adr runs show 1 --json
  [ "$(echo "$output" | jq -r '.prompt + "|" + (.tags | join(",")) + "|" + (.secrets | join(","))')" = \
    "fix the flaky test|gpu|ANTHROPIC_API_KEY" ]
  # the one-page view, once
  run adr runs watch -n 1
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" == "queued 1   claimed 0   running 0   finished 0   cancelled 0   lost 0" ]]
  [[ "${lines[3]}" =~ ^1\ +queued\ +pi ]]
  run adr runs watch -n 0
  [ "$status" -eq 1 ]
  run adr runs cancel 1
  [ "$output" = "cancelled run 1" ]
  run adr runs ls --state cancelled --json
  [ "$(echo "$output" | jq length)" -eq 1 ]
  run adr runs cancel 1
  [ "$status" -eq 1 ]
  [[ "$output" == *"run 1 has ended (cancelled) (HTTP 409)"* ]]
  [ -f "$XDG_STATE_HOME/adr/coordinator.db" ]
  [ "$(stat -c %a "$XDG_STATE_HOME/adr/coordinator.db")" = 600 ]
}

@test "--no-auth only on loopback; no tokens file is a clear error" {
  run adr serve --no-auth --listen 0.0.0.0:0
  [ "$status" -eq 2 ]
  [[ "$output" == *"--no-auth: only with a loopback --listen (127.0.0.1, ::1), not '0.0.0.0:0'"* ]]
  run adr serve --listen 127.0.0.1:0
  [ "$status" -eq 1 ]
  [[ "$output" == *"no tokens in '$XDG_CONFIG_HOME/adr/coordinator.tokens'"* ]]
  run adr serve --store mysql://x --no-auth --listen 127.0.0.1:0
  [ "$status" -eq 1 ]
  [[ "$output" == "adr: store 'mysql://x': use sqlite:PATH or postgresql://..." ]]
}

@test "tokens: stored hashed; client and runner roles apart; a wrong or missing token is refused" {
  ct=$(adr serve token add client alice 2>/dev/null)
  rt=$(adr serve token add runner r1 2>/dev/null)
  [[ "$ct" =~ ^adr_[0-9a-f]{64}$ ]]
  f="$XDG_CONFIG_HOME/adr/coordinator.tokens"
  [ "$(stat -c %a "$f")" = 600 ]
  ! grep -q "${ct#adr_}" "$f" # only its hash
  grep -q "^client $(printf %s "$ct" | sha256sum | cut -d' ' -f1) alice$" "$f"
  serve
  r=$(api GET /v1/runs)
  [ "$(status_of "$r")" = 401 ]
  [ "$(body_of "$r" | jq -r .error)" = "a bearer token is needed (Authorization: Bearer ...)" ]
  r=$(api GET /v1/runs "" "adr_$(printf '0%.0s' $(seq 64))")
  [ "$(status_of "$r")" = 401 ]
  r=$(api GET /v1/runs "" "$rt")
  [ "$(status_of "$r")" = 403 ]
  r=$(api POST /v1/claim '{"runner":"r1"}' "$ct")
  [ "$(status_of "$r")" = 403 ]
  # the controls: each token where it belongs
  r=$(api GET /v1/runs "" "$ct")
  [ "$(status_of "$r")" = 200 ]
  r=$(api POST /v1/claim '{"runner":"r1"}' "$rt")
  [ "$(status_of "$r")" = 204 ]
  echo "$ct" >"$BATS_TEST_TMPDIR/ct"
  run adr submit pi --repo /r --prompt x --token-file "$BATS_TEST_TMPDIR/ct"
  [ "$status" -eq 0 ]
  ADR_TOKEN=$rt run adr runs
  [ "$status" -eq 1 ]
  [[ "$output" == *"a client token is needed (HTTP 403)"* ]]
  run adr serve token add admin bob
  [ "$status" -eq 1 ]
  [[ "$output" == *"token role 'admin': client or runner"* ]]
}

@test "bad requests get a clear 4xx and change nothing" {
  mkdir -p "$XDG_CONFIG_HOME/adr/profiles"
  serve --no-auth
  ok='{"agent":"pi","repo":"/r","prompt":"x"}'
  declare -A want=(
    ['{"agent":"pi","repo":"/r","prompt":"x"']='400 malformed JSON'
    ['[1,2]']='400 the body is a JSON object'
    ['{"agent":"pi","repo":"/r","prompt":"x","extra":1}']="400 unknown field 'extra'"
    ['{"profile":"nope","repo":"/r","prompt":"x"}']="400 unknown profile 'nope'"
    ['{"agent":"pi","prompt":"x"}']="400 'repo' is needed"
    ['{"agent":"pi","repo":"/r"}']="400 'prompt' is needed"
    ['{"agent":"Bad Agent","repo":"/r","prompt":"x"}']="400 'agent' is not an agent name"
    ['{"agent":"pi","repo":"/r","prompt":"x","tags":["GPU"]}']="400 'tags'[0] is not a valid tag"
    ['{"agent":"pi","repo":"/r","prompt":"x","secrets":["A=B"]}']="400 'secrets'[0] is not a valid secret name"
    ['{"agent":"pi","repo":"/r","prompt":"x","network":"all"}']="400 'network' is none, allowlist or open"
    ['{"agent":"pi","repo":"/r","prompt":"x","timeout_s":-1}']="400 'timeout_s' is a number of seconds"
    ['{"agent":"pi","repo":"/r","prompt":"x","agent":"claude"}']='400 malformed JSON'
  )
  for body in "${!want[@]}"; do
    r=$(api POST /v1/runs "$body")
    exp=${want[$body]}
    [ "$(status_of "$r")" = "${exp%% *}" ] || { echo "$body -> $r"; return 1; }
    [[ "$(body_of "$r" | jq -r .error)" == "${exp#* }"* ]] || { echo "$body -> $r"; return 1; }
  done
  # oversized: 413 without storing anything
  head -c 1100000 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/big"
  r=$(curl -s -w '\n%{http_code}' --data-binary @"$BATS_TEST_TMPDIR/big" "$U/v1/runs")
  [ "$(status_of "$r")" = 413 ]
  # wrong method, unknown path, a bad id, a bad filter
  [ "$(status_of "$(api DELETE /v1/runs)")" = 405 ]
  [ "$(status_of "$(api GET /v1/nothing)")" = 404 ]
  [ "$(status_of "$(api GET /v1/runs/abc)")" = 404 ]
  [ "$(status_of "$(api GET "/v1/runs?state=done")")" = 400 ]
  [ "$(runs_count)" -eq 0 ] # nothing of it was stored
  # the control: the good body is stored
  r=$(api POST /v1/runs "$ok")
  [ "$(status_of "$r")" = 201 ]
  [ "$(runs_count)" -eq 1 ]
  run adr runs show 7
  [ "$status" -eq 1 ]
  [[ "$output" == *"no run 7 (HTTP 404)"* ]]
}

@test "runner protocol: tags, heartbeat, started, finish; only the holder moves a run; cancel while it runs" {
  serve --no-auth
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"plain"}' >/dev/null
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"gpu","tags":["gpu"]}' >/dev/null
  # a runner without the tag never gets the gpu run; only_tagged leaves the plain one
  r=$(api POST /v1/claim '{"runner":"big","tags":["gpu"],"only_tagged":true}')
  [ "$(status_of "$r")" = 200 ]
  [ "$(body_of "$r" | jq -r .prompt)" = gpu ]
  r=$(api POST /v1/claim '{"runner":"small"}')
  [ "$(body_of "$r" | jq -r '.prompt + " " + .state + " " + .runner')" = "plain claimed small" ]
  [ "$(status_of "$(api POST /v1/claim '{"runner":"small"}')")" = 204 ]
  r=$(api POST /v1/runs/1/started '{"runner":"big"}')
  [ "$(status_of "$r")" = 409 ]
  [ "$(body_of "$r" | jq -r .error)" = "runner 'big' does not hold run 1" ]
  [ "$(status_of "$(api POST /v1/runs/1/started '{"runner":"small"}')")" = 200 ]
  r=$(api POST /v1/runs/1/heartbeat '{"runner":"small"}')
  [ "$(body_of "$r" | jq -c .)" = '{"cancel":false,"lease_ms":60000}' ]
  r=$(api POST /v1/runs/1/finish '{"runner":"small","exit_code":0,"result":{"branch":"adr/run-1"}}')
  [ "$(body_of "$r" | jq -r '.state + " " + (.exit_code|tostring) + " " + .result.branch')" = "finished 0 adr/run-1" ]
  [ "$(status_of "$(api POST /v1/runs/1/finish '{"runner":"small","exit_code":0}')")" = 409 ]
  [ "$(status_of "$(api POST /v1/runs/2/finish '{"runner":"big","exit_code":300}')")" = 400 ]
  # cancel while held: the heartbeat says so, the finish makes it cancelled
  run adr runs cancel 2
  [ "$output" = "asked the runner of run 2 (big) to stop it" ]
  r=$(api POST /v1/runs/2/heartbeat '{"runner":"big"}')
  [ "$(body_of "$r" | jq -r .cancel)" = true ]
  r=$(api POST /v1/runs/2/finish '{"runner":"big","exit_code":143}')
  [ "$(body_of "$r" | jq -r .state)" = cancelled ]
}

@test "release gives a held run back (requeued, then lost); a bundle is the holder's to store, a client's to take" {
  serve --no-auth
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"x"}' >/dev/null
  api POST /v1/claim '{"runner":"r1"}' >/dev/null
  # only the holder: another runner is refused and nothing moves
  r=$(api POST /v1/runs/1/release '{"runner":"r2","why":"not mine"}')
  [ "$(status_of "$r")" = 409 ]
  [ "$(body_of "$r" | jq -r .error)" = "runner 'r2' does not hold run 1" ]
  [ "$(adr runs show 1 --json | jq -r '.state + " " + .runner')" = "claimed r1" ]
  r=$(api POST /v1/runs/1/release '{"runner":"r1","why":"killed"}')
  [ "$(status_of "$r")" = 200 ]
  [ "$(body_of "$r" | jq -r '.state + " " + (.runner|tostring)')" = "queued null" ]
  run --separate-stderr adr runs logs 1
  [[ "$stderr" == *"released"* ]]
  # the default max of 3 claims: the third release loses it
  for _ in 2 3; do
    api POST /v1/claim '{"runner":"r1"}' >/dev/null
    r=$(api POST /v1/runs/1/release '{"runner":"r1"}')
  done
  [ "$(body_of "$r" | jq -r .state)" = lost ]
  [ "$(status_of "$(api POST /v1/runs/1/release '{"runner":"r1","extra":1}')")" = 400 ]

  # bundles: base64 of the bytes, while the run is held, by its holder
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"y","deliver":"bundle"}' >/dev/null
  [ "$(adr runs show 2 --json | jq -r .deliver)" = bundle ]
  [ "$(adr runs show 1 --json | jq -r .deliver)" = push ]
  [ "$(status_of "$(api POST /v1/runs/2/bundle '{"runner":"r1","data":"aGVsbG8="}')")" = 409 ] # not held
  api POST /v1/claim '{"runner":"r1"}' >/dev/null
  r=$(api POST /v1/runs/2/bundle '{"runner":"r2","data":"aGVsbG8="}')
  [ "$(status_of "$r")" = 409 ]
  [ "$(body_of "$r" | jq -r .error)" = "runner 'r2' does not hold run 2" ]
  r=$(api POST /v1/runs/2/bundle '{"runner":"r1","data":"not base64!"}')
  [ "$(status_of "$r")" = 400 ]
  [ "$(body_of "$r" | jq -r .error)" = "'data' is the bundle, in base64" ]
  r=$(api GET /v1/runs/2/bundle)
  [ "$(status_of "$r")" = 404 ]
  [ "$(body_of "$r" | jq -r .error)" = "run 2 has no bundle" ]
  r=$(api POST /v1/runs/2/bundle '{"runner":"r1","data":"aGVsbG8="}')
  [ "$(body_of "$r" | jq -c .)" = '{"id":2,"bytes":5}' ]
  r=$(api GET /v1/runs/2/bundle)
  [ "$(body_of "$r" | jq -r .data | base64 -d)" = hello ]
  adr runs fetch 2 -o "$BATS_TEST_TMPDIR/b"
  [ "$(cat "$BATS_TEST_TMPDIR/b")" = hello ]
  run adr runs fetch 1 -o "$BATS_TEST_TMPDIR/none"
  [ "$status" -eq 1 ]
  [[ "$output" == *"run 1 has no bundle (HTTP 404)"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/none" ]
  # a body past the bundle's bound: 413
  head -c 50000000 /dev/zero | tr '\0' A >"$BATS_TEST_TMPDIR/huge"
  r=$(curl -s -w '\n%{http_code}' --data-binary @"$BATS_TEST_TMPDIR/huge" "$U/v1/runs/2/bundle")
  [ "$(status_of "$r")" = 413 ]
  [ "$(status_of "$(api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"x","deliver":"mail"}')")" = 400 ]
}

@test "tokens: a client may not store a bundle or release a run; a runner may not take a bundle" {
  C=$(adr serve token add client c1 2>/dev/null)
  R=$(adr serve token add runner r1 2>/dev/null)
  serve
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"x"}' "$C" >/dev/null
  api POST /v1/claim '{"runner":"r1"}' "$R" >/dev/null
  [ "$(status_of "$(api POST /v1/runs/1/bundle '{"runner":"r1","data":"aGk="}' "$C")")" = 403 ]
  [ "$(status_of "$(api POST /v1/runs/1/release '{"runner":"r1"}' "$C")")" = 403 ]
  [ "$(status_of "$(api POST /v1/runs/1/bundle '{"runner":"r1","data":"aGk="}' "$R")")" = 200 ]
  [ "$(status_of "$(api GET /v1/runs/1/bundle "" "$R")")" = 403 ]
  [ "$(status_of "$(api GET /v1/runs/1/bundle "" "$C")")" = 200 ]
}

@test "a procedural profile: its command is the run's, no prompt needed; a bad command is refused" {
  mkdir -p "$XDG_CONFIG_HOME/adr/profiles"
  printf '%s' '{"agent":"pi","command":["sh","-c","make test"],"deliver":"bundle"}' >"$XDG_CONFIG_HOME/adr/profiles/tests.json"
  printf '%s' '{"agent":"pi","command":"make test"}' >"$XDG_CONFIG_HOME/adr/profiles/bad.json"
  printf '%s' '{"agent":"pi","command":[]}' >"$XDG_CONFIG_HOME/adr/profiles/empty.json"
  serve --no-auth
  r=$(api POST /v1/runs '{"profile":"tests","repo":"/r"}')
  [ "$(status_of "$r")" = 201 ]
  [ "$(body_of "$r" | jq -c '[.command, .deliver, .agent]')" = '[["sh","-c","make test"],"bundle","pi"]' ]
  r=$(api POST /v1/runs '{"profile":"tests","repo":"/r","deliver":"push"}') # the submit wins
  [ "$(body_of "$r" | jq -r .deliver)" = push ]
  r=$(api POST /v1/runs '{"profile":"bad","repo":"/r"}')
  [ "$(status_of "$r")" = 400 ]
  [ "$(body_of "$r" | jq -r .error)" = "profile 'bad': 'command' is a list of 1 to 64 strings" ]
  [ "$(status_of "$(api POST /v1/runs '{"profile":"empty","repo":"/r"}')")" = 400 ]
  # the control: an agent's run still needs its prompt
  [ "$(status_of "$(api POST /v1/runs '{"agent":"pi","repo":"/r"}')")" = 400 ]
  [ "$(runs_count)" -eq 2 ]
}

@test "events: what happened and the output, as JSON, through adr runs logs, and as a live SSE stream" {
  serve --no-auth
  api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"x"}' >/dev/null
  api POST /v1/claim '{"runner":"r1"}' >/dev/null
  api POST /v1/runs/1/started '{"runner":"r1"}' >/dev/null
  # a live follower (SSE) from here on
  curl -sN -H 'Accept: text/event-stream' "$U/v1/runs/1/events" >"$BATS_TEST_TMPDIR/sse" &
  local sse=$!
  [ "$(status_of "$(api POST /v1/runs/1/output '{"runner":"r1","text":"hello \u00e9t\u00e9\n"}')")" = 200 ]
  [ "$(status_of "$(api POST /v1/runs/1/output '{"runner":"intruder","text":"forged\n"}')")" = 409 ]
  [ "$(status_of "$(api POST /v1/runs/1/output '{"runner":"r1"}')")" = 400 ]
  api POST /v1/runs/1/finish '{"runner":"r1","exit_code":3}' >/dev/null
  # the stream ends with the run
  for _ in $(seq 100); do kill -0 "$sse" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$sse" 2>/dev/null
  grep -c '^event: ' "$BATS_TEST_TMPDIR/sse" | grep -qx 5
  [ "$(grep '^event: ' "$BATS_TEST_TMPDIR/sse" | tr '\n' ' ')" = "event: queued event: claimed event: started event: output event: finished " ]
  grep -q '^data: {.*"kind":"output".*"data":"hello été\\n"' "$BATS_TEST_TMPDIR/sse"
  # JSON, and adr runs logs: the output on stdout, the rest on stderr
  r=$(api GET "/v1/runs/1/events?after=2")
  [ "$(body_of "$r" | jq -r '([.events[].kind] | join(" ")) + " " + (.ended|tostring)')" = "started output finished true" ]
  run --separate-stderr adr runs logs 1
  [ "$output" = "hello été" ]
  [[ "$stderr" == *"adr: run 1 claimed by r1"* ]]
  [[ "$stderr" == *"adr: run 1 finished by r1 (exit 3)"* ]]
  run adr runs logs 2
  [ "$status" -eq 1 ]
  [[ "$output" == *"no run 2 (HTTP 404)"* ]]
}

@test "a long-polling claim returns as soon as a run is submitted; a missed lease requeues the run" {
  serve --no-auth --lease 5s
  start=$(date +%s%N)
  (sleep 1; api POST /v1/runs '{"agent":"pi","repo":"/r","prompt":"late"}' >/dev/null) &
  r=$(api POST /v1/claim '{"runner":"r1","wait_s":20}')
  took=$((($(date +%s%N) - start) / 1000000))
  [ "$(status_of "$r")" = 200 ]
  [ "$took" -lt 5000 ] # woken by the submit, not by the end of the wait
  # r1 goes silent: after the lease another runner gets the run, r1 no longer holds it
  [ "$(status_of "$(api POST /v1/claim '{"runner":"r2"}')")" = 204 ]
  sleep 6
  r=$(api POST /v1/claim '{"runner":"r2"}')
  [ "$(body_of "$r" | jq -r '.runner + " " + (.attempts|tostring)')" = "r2 2" ]
  [ "$(status_of "$(api POST /v1/runs/1/heartbeat '{"runner":"r1"}')")" = 409 ]
  run adr serve --lease 1s --no-auth --listen 127.0.0.1:0
  [ "$status" -eq 2 ]
  [[ "$output" == *"--lease '1s': 5s to 1h"* ]]
}

@test "profiles fill the run: agent, model, tags, the prompt through its template" {
  mkdir -p "$XDG_CONFIG_HOME/adr/profiles"
  cat >"$XDG_CONFIG_HOME/adr/profiles/review.json" <<'JSON'
{ "agent": "claude", "model": "m-review", "network": "allowlist", "timeout_s": 600, "tags": ["linux"],
  "prompt_template": "Review the change. Focus: {prompt}" }
JSON
  serve --no-auth
  run adr submit --profile review --repo /r --prompt 'error handling' --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '[.agent, .profile, .model, .network, (.timeout_s|tostring), (.tags|join(",")), .prompt] | join("|")')" = \
    "claude|review|m-review|allowlist|600|linux|Review the change. Focus: error handling" ]
}

# drain N_RUNS runs with 4 runners at once (curl loops): each exactly once
drain_exactly_once() {
  for i in $(seq 200); do echo "{\"agent\":\"noop\",\"repo\":\"/r\",\"prompt\":\"$i\"}"; done |
    while read -r b; do api POST /v1/runs "$b" >/dev/null; done
  [ "$(runs_count)" -eq 200 ]
  local pids=()
  for k in 1 2 3 4; do
    (
      n=0
      while :; do
        r=$(api POST /v1/claim "{\"runner\":\"w$k\"}")
        [ "$(status_of "$r")" = 200 ] || break
        id=$(body_of "$r" | jq .id)
        [ "$(status_of "$(api POST "/v1/runs/$id/finish" "{\"runner\":\"w$k\",\"exit_code\":0}")")" = 200 ] || exit 1
        n=$((n + 1))
      done
      echo "$n" >"$BATS_TEST_TMPDIR/w$k"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" # not the server's
  total=$(($(cat "$BATS_TEST_TMPDIR"/w1) + $(cat "$BATS_TEST_TMPDIR"/w2) + $(cat "$BATS_TEST_TMPDIR"/w3) + $(cat "$BATS_TEST_TMPDIR"/w4)))
  [ "$total" -eq 200 ]
  r=$(api GET "/v1/runs?limit=1000" | sed '$d')
  [ "$(echo "$r" | jq '[.runs[] | select(.state == "finished" and .attempts == 1)] | length')" -eq 200 ]
}

@test "200 queued runs drained exactly once by 4 runners (SQLite)" {
  serve --no-auth --store "sqlite:$BATS_TEST_TMPDIR/q.db"
  drain_exactly_once
}

@test "200 queued runs drained exactly once by 4 runners (PostgreSQL)" {
  pg_need
  url=$(pg_url "adr_coord_$$_$RANDOM")
  serve --no-auth --store "$url"
  drain_exactly_once
  [ "$(body_of "$(api GET /v1/health)" | jq -r .store)" = postgresql ]
}

@test "HTTPS with a certificate: served over TLS, plain HTTP to it fails" {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$BATS_TEST_TMPDIR/key.pem" -out "$BATS_TEST_TMPDIR/cert.pem" \
    -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  serve --no-auth --tls-cert "$BATS_TEST_TMPDIR/cert.pem" --tls-key "$BATS_TEST_TMPDIR/key.pem"
  [[ "$U" == https://* ]]
  run curl -s --cacert "$BATS_TEST_TMPDIR/cert.pem" "$U/v1/health"
  [ "$(echo "$output" | jq -r .store)" = sqlite ]
  run curl -s --max-time 5 "http://${U#https://}/v1/health"
  [ -z "$output" ] || [[ "$output" != *sqlite* ]]
  run adr serve --no-auth --listen 127.0.0.1:0 --tls-cert "$BATS_TEST_TMPDIR/cert.pem"
  [ "$status" -eq 1 ]
  [[ "$output" == *"HTTPS needs both a certificate and its key"* ]]
}

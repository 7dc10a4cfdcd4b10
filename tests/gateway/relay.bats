#!/usr/bin/env bats
# adr-gateway's credential relay on its own: no docker, no root.  The
# sandbox's side is curl (or a little Python) on 127.0.0.1; the relay
# listens on 127.0.0.1; the mock API servers (tls-upstream.py) on 127.0.0.2,
# the redirect target on 127.0.0.3; a mock DNS resolver (tests/mock/dns.py)
# names them.  Certificates are made here, in the test's own directory: a
# throwaway CA and a server certificate for IP:127.0.0.2 and DNS:api.test,
# and a second CA (that the relay does not trust) with the same names.
#
#   bats tests/gateway/relay.bats
#   ADR_GATEWAY=build-asan/adr-gateway bats tests/gateway/relay.bats
#
# Every refusal has its allowed control in this file.

HERE="$BATS_TEST_DIRNAME"
UPSTREAM="$HERE/tls-upstream.py"

load helpers

# ca NAME: a throwaway CA; cert CA NAME: a server certificate it signs for
# IP:127.0.0.2 and DNS:api.test
ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.pem" -days 2 \
    -subj "/CN=adr relay test $1" >/dev/null 2>&1
}
cert() {
  openssl req -newkey rsa:2048 -nodes -keyout "$T/$2.key" -out "$T/$2.csr" -subj /CN=api.test >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.2,DNS:api.test\n' >"$T/$2.ext"
  openssl x509 -req -in "$T/$2.csr" -CA "$T/$1.pem" -CAkey "$T/$1.key" -CAcreateserial -out "$T/$2.pem" \
    -days 2 -extfile "$T/$2.ext" >/dev/null 2>&1
}

# relay NAME PORT [extra args]: a gateway with the relay (the test's routes
# and CA unless the extra args say otherwise) on 127.0.0.1:PORT; sets RPID
relay() {
  local name=$1 port=$2; shift 2
  rm -f "$T/$name.ready"
  "$GW" --policy "$T/policy" --log "$T/$name.log" --sandbox t --bind 127.0.0.1 \
    --proxy-port "$(free_port)" --dns-port "$(free_port)" --resolver "127.0.0.1:$DNSPORT" \
    --relay-port "$port" --ready-file "$T/$name.ready" "$@" 2>"$T/$name.err" </dev/null 3>&- &
  RPID=$!
  for _ in $(seq 100); do [ -s "$T/$name.ready" ] && return 0; sleep 0.05; done
  echo "relay $name did not start" >&2; cat "$T/$name.err" >&2
  return 1
}

setup_file() {
  export GW="${ADR_GATEWAY:-$BATS_TEST_DIRNAME/../../build/adr-gateway}"
  [ -x "$GW" ] || { echo "no gateway binary at $GW (ninja -C build)" >&2; return 1; }
  export T="$BATS_FILE_TMPDIR"
  ca ca; cert ca srv
  ca ca2; cert ca2 srv2
  export DNSPORT UP UP2 RDP RP
  DNSPORT=$(start_bg "$T/dns.out" python3 "$HERE/../mock/dns.py" --port 0 --log "$T/dns.log" \
    --map api.test=127.0.0.2 --map wrong.test=127.0.0.2)
  UP=$(start_bg "$T/up.out" python3 "$UPSTREAM" --bind 127.0.0.2 --log "$T/up.log" --tls "$T/srv.pem" "$T/srv.key")
  UP2=$(start_bg "$T/up2.out" python3 "$UPSTREAM" --bind 127.0.0.2 --log "$T/up2.log" --tls "$T/srv2.pem" "$T/srv2.key")
  RDP=$(start_bg "$T/rd.out" python3 "$UPSTREAM" --bind 127.0.0.3 --log "$T/rd.log" --plain)
  # per-run tokens: whatever leaks, a grep finds
  export S_ANTH S_OAI S_GOOG S_UNTR S_WRONG K_ANTH K_OAI K_GOOG K_UNTR K_WRONG
  S_ANTH="adr-$(openssl rand -hex 16)" K_ANTH="sk-ant-REAL-$(openssl rand -hex 16)"
  S_OAI="adr-$(openssl rand -hex 16)" K_OAI="sk-oai-REAL-$(openssl rand -hex 16)"
  S_GOOG="adr-$(openssl rand -hex 16)" K_GOOG="AIza-REAL-$(openssl rand -hex 16)"
  S_UNTR="adr-$(openssl rand -hex 16)" K_UNTR="untr-REAL-$(openssl rand -hex 16)"
  S_WRONG="adr-$(openssl rand -hex 16)" K_WRONG="wrong-REAL-$(openssl rand -hex 16)"
  cat >"$T/routes" <<EOF
# relay.bats routes
route anth https://api.test:$UP/base
sentinel $S_ANTH
key $K_ANTH
path /v1/json
path /v1/sse
path /v1/redirect
path /v1/post
path /v1/blob
path /v1/models/*

route oai https://127.0.0.2:$UP/v1
sentinel $S_OAI
key $K_OAI
path /chat/completions

route goog https://api.test:$UP
sentinel $S_GOOG
key $K_GOOG
path /v1beta/models
path /v1beta/models/*

route untrusted https://api.test:$UP2
sentinel $S_UNTR
key $K_UNTR
path /v1/*

route wrongname https://wrong.test:$UP
sentinel $S_WRONG
key $K_WRONG
path /v1/*
EOF
  chmod 0400 "$T/routes"
  echo "allow nothing.test 443 the egress policy plays no part here" >"$T/policy"
  RP=$(free_port)
  relay main "$RP" --relay "$T/routes" --ca "$T/ca.pem"
  echo "$RPID" >"$T/main.pid"
}

teardown_file() {
  local f
  for f in "$T"/*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  return 0
}

# marks and what came after them: the relay's log, the upstreams' logs
mark() { for f in main up up2 rd; do touch "$T/$f.log"; wc -l <"$T/$f.log" >"$T/$f.mark"; done; }
since() { tail -n +"$(($(cat "$T/$1.mark") + 1))" "$T/$1.log"; }
# the relay's lines since the mark, waiting up to 5 s for at least $1
new_lines() {
  local want=${1:-1}
  for _ in $(seq 100); do
    [ "$(since main | wc -l)" -ge "$want" ] && break
    sleep 0.05
  done
  since main
}
# the upstream's request lines since the mark (not its TLS errors)
requests() { since "${1:-up}" | grep -v '"tls_error"' || true; }
hdr() { jq -r --arg h "$1" '.headers[] | select(.[0] | ascii_downcase == ($h | ascii_downcase)) | .[1]'; }
get() { curl -sS -o "$T/body" -D "$T/head" -w '%{http_code}' "$@"; }

# ------------------------------------------------------------------ allowed

@test "x-api-key: the sentinel becomes the key, Host and base path rewritten, SNI, Connection: close" {
  mark
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH" -H 'anthropic-version: 2023-06-01' \
    -H 'Connection: keep-alive'
  [ "$output" = 200 ]
  jq -e '.ok == true' "$T/body"
  grep -qi '^Connection: close' "$T/head"
  ! grep -qi 'keep-alive' "$T/head"
  run requests
  [ "${#lines[@]}" -eq 1 ]
  local r=${lines[0]}
  [ "$(jq -r .target <<<"$r")" = /base/v1/json ]
  [ "$(hdr x-api-key <<<"$r")" = "$K_ANTH" ]
  [ "$(hdr host <<<"$r")" = "api.test:$UP" ]
  [ "$(hdr anthropic-version <<<"$r")" = 2023-06-01 ]
  [ "$(hdr connection <<<"$r")" = close ]
  [ "$(jq -r .sni <<<"$r")" = api.test ]
  [[ "$r" != *"$S_ANTH"* ]]
  # its log line
  run new_lines 1
  [ "$(jq -c 'del(.time, .duration_ms, .bytes_up, .bytes_down) | .client |= sub(":[0-9]+$"; "")' <<<"$output")" = \
    "{\"sandbox\":\"t\",\"client\":\"127.0.0.1\",\"via\":\"relay\",\"method\":\"GET\",\"host\":\"api.test\",\"port\":$UP,\"sni\":null,\"verdict\":\"allow\",\"rule\":\"/v1/json\",\"upstream\":\"127.0.0.2:$UP\",\"error\":null,\"route\":\"anth\",\"path\":\"/v1/json\",\"status\":200}" ]
}

@test "Authorization: Bearer, an IP-literal upstream (no SNI, the address is what the certificate must name)" {
  mark
  run get "http://127.0.0.1:$RP/oai/chat/completions" -H "Authorization: Bearer $S_OAI" -d '{"model":"x"}' \
    -H 'Content-Type: application/json'
  [ "$output" = 200 ]
  run requests
  [ "${#lines[@]}" -eq 1 ]
  [ "$(jq -r .target <<<"${lines[0]}")" = /v1/chat/completions ]
  [ "$(hdr authorization <<<"${lines[0]}")" = "Bearer $K_OAI" ]
  [ "$(hdr host <<<"${lines[0]}")" = "127.0.0.2:$UP" ]
  [ "$(jq -r .sni <<<"${lines[0]}")" = null ]
  [ "$(jq -r .body_len <<<"${lines[0]}")" = 13 ]
  [[ "${lines[0]}" != *"$S_OAI"* ]]
}

@test "x-goog-api-key and ?key=: both replaced, the query kept" {
  mark
  run get "http://127.0.0.1:$RP/goog/v1beta/models/m:streamGenerateContent?alt=sse&key=$S_GOOG" \
    -H "x-goog-api-key: $S_GOOG"
  [ "$output" = 200 ]
  run requests
  [ "${#lines[@]}" -eq 1 ]
  [ "$(jq -r .target <<<"${lines[0]}")" = "/v1beta/models/m:streamGenerateContent?alt=sse&key=$K_GOOG" ]
  [ "$(hdr x-goog-api-key <<<"${lines[0]}")" = "$K_GOOG" ]
  [ "$(hdr host <<<"${lines[0]}")" = "api.test:$UP" ]
  [[ "${lines[0]}" != *"$S_GOOG"* ]]
  # the query alone is enough
  mark
  run get "http://127.0.0.1:$RP/goog/v1beta/models?key=$S_GOOG"
  [ "$output" = 200 ]
  [ "$(requests | jq -r .target)" = "/v1beta/models?key=$K_GOOG" ]
}

# ------------------------------------------------------------------ refused

@test "401 for a wrong, missing or another route's sentinel: upstream sees nothing (control: the right one)" {
  mark
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: adr-$(openssl rand -hex 16)"
  [ "$output" = 401 ]
  [ "$(cat "$T/body")" = '{"error":"adr relay: missing or wrong credentials"}' ]
  grep -qi '^Content-Type: application/json' "$T/head"
  grep -qi '^Connection: close' "$T/head"
  run get "http://127.0.0.1:$RP/anth/v1/json"
  [ "$output" = 401 ]
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_OAI"
  [ "$output" = 401 ]
  run get "http://127.0.0.1:$RP/goog/v1beta/models?key=$S_ANTH"
  [ "$output" = 401 ]
  [ -z "$(requests)" ]
  run new_lines 4
  [ "$(jq -r '[.verdict, .rule, .status] | join(" ")' <<<"$output" | sort -u)" = "deny no-sentinel 401" ]
  # the sentinel anywhere but exactly in an auth header (or ?key=): refused,
  # since the key there could come back in an API's error message
  mark
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "Proxy-Authorization: $S_ANTH"
  [ "$output" = 400 ]
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH" -H "anthropic-beta: $S_ANTH"
  [ "$output" = 400 ]
  run get "http://127.0.0.1:$RP/anth/v1/json?x=$S_ANTH" -H "x-api-key: $S_ANTH"
  [ "$output" = 400 ]
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "Authorization: Digest $S_ANTH"
  [ "$output" = 400 ]
  [ -z "$(requests)" ]
  run new_lines 4
  [ "$(jq -r '[.verdict, .rule, .status] | join(" ")' <<<"$output" | sort -u)" = "deny sentinel-misplaced 400" ]
  # control
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
  [ "$(requests | wc -l)" -eq 1 ]
  # Basic carries a sentinel too (git over HTTPS: --git-push)
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "Authorization: Basic $S_ANTH"
  [ "$output" = 200 ]
  [ "$(requests | wc -l)" -eq 2 ]
}

@test "403 for an undeclared path, '..', '%2e%2e', '//': upstream sees nothing (control: a declared one)" {
  mark
  local p
  for p in /anth/v1/secret /anth/v1/models/../../admin /anth/v1/models/%2e%2e/x /anth/v1/models//x \
    /anth//v1/json /anth/v1/json/ /anth/v1/models/ /anth; do
    run get --path-as-is "http://127.0.0.1:$RP$p" -H "x-api-key: $S_ANTH"
    echo "$p: $output"
    [ "$output" = 403 ]
    [ "$(cat "$T/body")" = '{"error":"adr relay: path not allowed"}' ]
  done
  [ -z "$(requests)" ]
  # control: the same route, a declared exact path and one under a pattern
  run get "http://127.0.0.1:$RP/anth/v1/models/claude-x" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
  [ "$(requests | jq -r .target)" = /base/v1/models/claude-x ]
}

@test "404 for an unknown route, 400 for a request that is not /ROUTE/PATH (control: a known route)" {
  mark
  run get "http://127.0.0.1:$RP/nope/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 404 ]
  [ "$(cat "$T/body")" = '{"error":"adr relay: unknown route"}' ]
  run get -x "http://127.0.0.1:$RP" "http://api.test/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 400 ]
  [ -z "$(requests)" ]
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
}

@test "431 for a request head over 64 KiB (control: just under)" {
  mark
  local big; big=$(head -c 66000 /dev/zero | tr '\0' a)
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH" -H "x-big: $big"
  [ "$output" = 431 ]
  [ -z "$(requests)" ]
  big=$(head -c 60000 /dev/zero | tr '\0' a)
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH" -H "x-big: $big"
  [ "$output" = 200 ]
  [ "$(requests | hdr x-big | wc -c)" -eq 60001 ]
}

@test "an upstream certificate from an untrusted CA: 502, upstream gets no byte of the request (control: trusted)" {
  mark
  run get "http://127.0.0.1:$RP/untrusted/v1/json" -H "x-api-key: $S_UNTR"
  [ "$output" = 502 ]
  [ "$(cat "$T/body")" = '{"error":"adr relay: upstream certificate verification failed"}' ]
  # the handshake failed at the upstream too, before any request
  for _ in $(seq 50); do [ -n "$(since up2)" ] && break; sleep 0.1; done
  [ -z "$(requests up2)" ]
  since up2 | grep -q tls_error
  ! grep -qF "$K_UNTR" "$T/up2.log"
  run new_lines 1
  [ "$(jq -r '[.verdict, .status] | join(" ")' <<<"$output")" = "allow 502" ]
  [[ "$(jq -r .error <<<"$output")" == "TLS: certificate verify failed: "* ]]
  # control: a relay that trusts the second CA reaches the same upstream with the same route
  local port; port=$(free_port)
  relay ca2 "$port" --relay "$T/routes" --ca "$T/ca2.pem"
  run get "http://127.0.0.1:$port/untrusted/v1/json" -H "x-api-key: $S_UNTR"
  kill "$RPID"
  [ "$output" = 200 ]
  [ "$(requests up2 | hdr x-api-key)" = "$K_UNTR" ]
}

@test "a certificate for another name: 502, upstream gets no request (control: the name it is for)" {
  mark
  run get "http://127.0.0.1:$RP/wrongname/v1/json" -H "x-api-key: $S_WRONG"
  [ "$output" = 502 ]
  [ -z "$(requests)" ]
  run new_lines 1
  [[ "$(jq -r .error <<<"$output")" == *"hostname mismatch"* ]]
  # control: same upstream, same address, the name in its certificate
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
}

@test "an upstream that is down: 502 (control: up)" {
  local dead; dead=$(free_port)
  sed "s|https://127.0.0.2:$UP/v1|https://127.0.0.2:$dead/v1|" "$T/routes" >"$T/routes-dead"
  local port; port=$(free_port)
  relay dead "$port" --relay "$T/routes-dead" --ca "$T/ca.pem"
  run get "http://127.0.0.1:$port/oai/chat/completions" -H "Authorization: Bearer $S_OAI"
  [ "$output" = 502 ]
  [ "$(cat "$T/body")" = '{"error":"adr relay: upstream connection failed"}' ]
  run get "http://127.0.0.1:$port/anth/v1/json" -H "x-api-key: $S_ANTH"
  kill "$RPID"
  [ "$output" = 200 ]
}

# ------------------------------------------------------------------ redirects, streams, bodies

@test "a 307 goes to the client as is: the relay does not follow, the next host gets only the sentinel" {
  mark
  run curl -sS -L --location-trusted -H "x-api-key: $S_ANTH" -H "Authorization: Bearer $S_ANTH" \
    "http://127.0.0.1:$RP/anth/v1/redirect?to=http://127.0.0.3:$RDP/x"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"ok": true'* ]]
  # upstream: one request (the relay's), with the key
  run requests
  [ "${#lines[@]}" -eq 1 ]
  [ "$(hdr x-api-key <<<"${lines[0]}")" = "$K_ANTH" ]
  # the redirect's target: the client's own request, the sentinel only
  run requests rd
  [ "${#lines[@]}" -eq 1 ]
  [ "$(jq -r .target <<<"${lines[0]}")" = /x ]
  [ "$(hdr x-api-key <<<"${lines[0]}")" = "$S_ANTH" ]
  [ "$(hdr authorization <<<"${lines[0]}")" = "Bearer $S_ANTH" ]
  ! grep -qF "$K_ANTH" "$T/rd.log"
  run new_lines 1
  [ "$(jq -r .status <<<"$output")" = 307 ]
}

@test "SSE: each event reaches the client as it is sent (5 events 300 ms apart)" {
  run python3 - "$RP" "$S_ANTH" <<'EOF'
import json, socket, sys, time
port, sentinel = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(b"GET /anth/v1/sse?n=5&ms=300 HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\n\r\n" % sentinel.encode())
buf, got = b"", []
while True:
    d = s.recv(65536)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if not d:
        break
    buf += d
    while True:
        i = buf.find(b"data: ")
        j = buf.find(b"\n\n", i)
        if i < 0 or j < 0:
            break
        ev = json.loads(buf[i + 6:j])
        got.append((ev["i"], ev["t"], now))
        buf = buf[j + 2:]
print("events", len(got))
print("order", " ".join(str(g[0]) for g in got))
print("first_before_last_sent_ms", (got[-1][1] - got[0][2]) // 1000000)
print("max_delay_ms", max(g[2] - g[1] for g in got) // 1000000)
EOF
  echo "$output"
  [ "${lines[0]}" = "events 5" ]
  [ "${lines[1]}" = "order 0 1 2 3 4" ]
  # the first event arrived (at least) 4 x 300 ms before the last was sent
  [ "$(awk '{print $2}' <<<"${lines[2]}")" -ge 1000 ]
  # and none waited long in the relay
  [ "$(awk '{print $2}' <<<"${lines[3]}")" -lt 150 ]
}

@test "request bodies arrive intact: 1 MB with Content-Length, and chunked" {
  head -c 1000000 /dev/urandom >"$T/1mb"
  local want; want=$(sha256sum "$T/1mb" | awk '{print $1}')
  mark
  run get "http://127.0.0.1:$RP/anth/v1/post" -H "x-api-key: $S_ANTH" --data-binary "@$T/1mb"
  [ "$output" = 200 ]
  [ "$(jq -r .body_sha256 "$T/body")" = "$want" ]
  run get "http://127.0.0.1:$RP/anth/v1/post" -H "x-api-key: $S_ANTH" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/1mb"
  [ "$output" = 200 ]
  [ "$(jq -r .body_sha256 "$T/body")" = "$want" ]
  run get "http://127.0.0.1:$RP/anth/v1/post" -H "x-api-key: $S_ANTH" -H 'Expect: 100-continue' \
    --data-binary "@$T/1mb"
  [ "$output" = 200 ]
  [ "$(jq -r .body_sha256 "$T/body")" = "$want" ]
  run requests
  [ "${#lines[@]}" -eq 3 ]
  [ "$(jq -r .body_sha256 <<<"$output" | sort -u)" = "$want" ]
  [ "$(hdr transfer-encoding <<<"${lines[1]}")" = chunked ]
}

@test "a long response body arrives intact (20 MB)" {
  run get "http://127.0.0.1:$RP/anth/v1/blob?n=20000000" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
  [ "$(stat -c %s "$T/body")" -eq 20000000 ]
  local want; want=$(python3 -c '
import hashlib
h = hashlib.sha256()
b = hashlib.sha512(b"adr-relay-test").digest() * 512
n = 20000000
while n > 0:
    k = min(n, len(b)); h.update(b[:k]); n -= k
print(h.hexdigest())')
  [ "$(sha256sum "$T/body" | awk '{print $1}')" = "$want" ]
}

@test "a client that leaves mid-stream: the relay ends the request at once" {
  mark
  run timeout 10 python3 - "$RP" "$S_ANTH" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /anth/v1/sse?n=50&ms=200 HTTP/1.1\r\nx-api-key: %s\r\n\r\n" % sys.argv[2].encode())
buf = b""
while b"data: " not in buf:
    buf += s.recv(4096)
s.close()
print("closed")
EOF
  [ "$output" = closed ]
  # the line is written well before the 10 s stream would end
  run new_lines 1
  [ "$(jq -r .error <<<"$output")" = "client closed before the response ended" ]
  [ "$(jq -r .duration_ms <<<"$output")" -lt 3000 ]
}

# ------------------------------------------------------------------ limits, failure, start-up

@test "at most 64 requests at once: the 65th gets 503 at once (control: a free slot serves again)" {
  mark
  run timeout 20 python3 - "$RP" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
print(s.recv(4096).split(b"\r\n")[0].decode())
for h in held:
    h.close()
EOF
  [ "$output" = "HTTP/1.1 503 Service Unavailable" ]
  run new_lines 65
  [ "$(grep -c '"rule":"overload"' <<<"$output")" -ge 1 ]
  sleep 0.5
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
}

@test "relay killed: connection refused (fail closed); restarted: works again" {
  local port; port=$(free_port)
  relay restart "$port" --relay "$T/routes" --ca "$T/ca.pem"
  run get "http://127.0.0.1:$port/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 200 ]
  kill -9 "$RPID"
  wait "$RPID" 2>/dev/null || true
  run curl -sS -o /dev/null "http://127.0.0.1:$port/anth/v1/json" -H "x-api-key: $S_ANTH"
  [ "$status" -eq 7 ] # couldn't connect
  relay restart "$port" --relay "$T/routes" --ca "$T/ca.pem"
  run get "http://127.0.0.1:$port/anth/v1/json" -H "x-api-key: $S_ANTH"
  kill "$RPID"
  [ "$output" = 200 ]
}

@test "bad route files: exit 1 with one line naming FILE:LINE, never a token (control: the good file starts)" {
  local f=$T/bad.routes
  check() { # expected message, route file text
    printf '%s\n' "$2" >"$f"
    run "$GW" --policy "$T/policy" --log "$T/bad.log" --sandbox t --bind 127.0.0.1 --proxy-port "$(free_port)" \
      --dns-port "$(free_port)" --relay-port "$(free_port)" --relay "$f" --ca "$T/ca.pem"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [ "$output" = "adr-gateway: $1" ]
    [[ "$output" != *sk-secret* ]]
  }
  check "$f:5: route a: defined twice" $'route a https://a.test\nsentinel s\nkey sk-secret\npath /x\nroute a https://b.test'
  check "$f:2: unknown keyword 'token' (want route, sentinel, key or path)" $'route a https://a.test\ntoken sk-secret'
  check "$f:1: route a: no key line" $'route a https://a.test\nsentinel s\npath /x'
  check "$f:1: route a: no path line" $'route a https://a.test\nsentinel s\nkey sk-secret\n# end'
  check "$f:1: route a: URL must be https://HOST[:PORT][/BASEPATH]" 'route a http://a.test'
  check "$f:3: route a: a second 'key' line" $'route a https://a.test\nkey sk-secret\nkey sk-secret2'
  check "$f:1: 'sentinel' before any 'route' line" 'sentinel sk-secret'
  check "$f:1: no route in the file" '# nothing'
  run "$GW" --policy "$T/policy" --log "$T/bad.log" --sandbox t --bind 127.0.0.1 --relay "$T/nonexistent" --ca "$T/ca.pem"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --relay $T/nonexistent: No such file or directory" ]
  # control
  local port; port=$(free_port)
  relay good "$port" --relay "$T/routes" --ca "$T/ca.pem"
  kill "$RPID"
}

@test "--relay needs --ca; --ca and --relay-port need --relay; a bad CA file is refused" {
  run "$GW" --policy "$T/policy" --log "$T/x.log" --sandbox t --bind 127.0.0.1 --relay "$T/routes"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --relay: needs --ca FILE (the certificates upstream servers are verified against)" ]
  run "$GW" --policy "$T/policy" --log "$T/x.log" --sandbox t --bind 127.0.0.1 --ca "$T/ca.pem"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --ca: only with --relay" ]
  run "$GW" --policy "$T/policy" --log "$T/x.log" --sandbox t --bind 127.0.0.1 --relay-port 1234
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --relay-port: only with --relay" ]
  echo "not a certificate" >"$T/junk.pem"
  run "$GW" --policy "$T/policy" --log "$T/x.log" --sandbox t --bind 127.0.0.1 --proxy-port "$(free_port)" \
    --dns-port "$(free_port)" --relay-port "$(free_port)" --relay "$T/routes" --ca "$T/junk.pem"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "adr-gateway: --ca $T/junk.pem: "* ]]
  run "$GW" --policy "$T/policy" --log "$T/x.log" --sandbox t --bind 127.0.0.1 --relay "$T/routes" --ca "$T/none.pem"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --ca $T/none.pem: No such file or directory" ]
  run "$GW" --hold --relay "$T/routes" --ca "$T/ca.pem"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --log: required with --relay" ]
  run "$GW" --hold --log "$T/x.log"
  [ "$status" -eq 1 ]
  [[ "$output" == "adr-gateway: --hold: only "* ]]
}

@test "--hold: the relay on 127.0.0.1 only, without --resolver (the system's), SIGTERM logs and exits 0" {
  local port; port=$(free_port)
  rm -f "$T/hold.ready"
  "$GW" --hold --relay "$T/routes" --ca "$T/ca.pem" --log "$T/hold.log" --sandbox h --relay-port "$port" \
    --ready-file "$T/hold.ready" 2>"$T/hold.err" </dev/null 3>&- &
  local pid=$!
  for _ in $(seq 100); do [ -s "$T/hold.ready" ] && break; sleep 0.05; done
  [ -s "$T/hold.ready" ]
  # listening before the ready file, on loopback only
  run ss -Hltn "sport = :$port"
  [[ "$output" == *"127.0.0.1:$port "* ]]
  [ "$(wc -l <<<"$output")" -eq 1 ]
  run curl -sS -o /dev/null "http://127.0.0.2:$port/oai/chat/completions"
  [ "$status" -eq 7 ]
  # an IP-literal route needs no resolver
  mark
  run get "http://127.0.0.1:$port/oai/chat/completions" -H "Authorization: Bearer $S_OAI"
  [ "$output" = 200 ]
  [ "$(requests | hdr authorization)" = "Bearer $K_OAI" ]
  # refusals too
  run get "http://127.0.0.1:$port/oai/chat/other" -H "Authorization: Bearer $S_OAI"
  [ "$output" = 403 ]
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ]
  [ -z "$(cat "$T/hold.err")" ]
  [ "$(jq -r '[.sandbox, .via, .status] | join(" ")' "$T/hold.log")" = $'h relay 200\nh relay 403' ]
}

@test "--hold with --blackhole and --relay (own user+net namespace): routes made, no thread keeps a capability" {
  unshare -rn true 2>/dev/null || skip "no user+network namespaces here"
  # everything inside the namespace: its loopback, a mock server, the holder
  run unshare -rn sh -c '
    ip link set lo up
    python3 "$1" --bind 127.0.0.2 --log "$2/ns-up.log" --tls "$2/srv.pem" "$2/srv.key" >"$2/ns-up.out" 2>&1 &
    up=$!
    for i in $(seq 100); do grep -q listening "$2/ns-up.out" && break; sleep 0.05; done
    port=$(awk "{print \$2}" "$2/ns-up.out")
    printf "route oai https://127.0.0.2:%s/v1\nsentinel %s\nkey %s\npath /chat/completions\n" "$port" "$3" "$4" >"$2/ns.routes"
    "$0" --hold --blackhole 169.254.169.254/32 --relay "$2/ns.routes" --ca "$2/ca.pem" --log "$2/ns.log" \
      --sandbox ns --relay-port 3129 --ready-file "$2/ns.ready" 2>"$2/ns.err" &
    pid=$!
    for i in $(seq 100); do [ -s "$2/ns.ready" ] && break; sleep 0.05; done
    ip route show type unreachable
    curl -sS -o /dev/null -w "status %{http_code}\n" http://127.0.0.1:3129/oai/chat/completions -H "Authorization: Bearer $3"
    # the thread of the request may still be ending after curl has its answer
    for i in $(seq 100); do [ "$(ls /proc/$pid/task | wc -l)" -le 2 ] && break; sleep 0.05; done
    grep -h CapEff /proc/$pid/task/*/status | sort | uniq -c
    ls /proc/$pid/task | wc -l | sed "s/^/threads /"
    kill -TERM $pid; wait $pid; echo "exit $?"
    kill $up' "$GW" "$UPSTREAM" "$T" "$S_OAI" "$K_OAI"
  echo "$output"
  [[ "$output" == *"unreachable 169.254.169.254"* ]]
  [[ "$output" == *"status 200"* ]]
  [[ "$output" == *"exit 0"* ]]
  # the main thread and the acceptor: both without any capability
  [[ "$output" == *"threads 2"* ]]
  [[ "$output" == *"2 CapEff:"$'\t'"0000000000000000"* ]]
  [ "$(grep -c CapEff <<<"$output")" -eq 1 ]
  grep -qF -- "Bearer $K_OAI" "$T/ns-up.log"
  [ -z "$(cat "$T/ns.err")" ]
}

@test "--log-max holds for the relay's lines too" {
  local port; port=$(free_port)
  relay cap "$port" --relay "$T/routes" --ca "$T/ca.pem" --log-max 4096
  local i
  for i in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$port/nope/x"; done
  kill "$RPID"
  [ "$(stat -c %s "$T/cap.log")" -le $((4096 + 1024)) ]
  tail -1 "$T/cap.log" | grep -q '"rule":"log-full"'
  [ "$(grep -c '"rule":"unknown-route"' "$T/cap.log")" -ge 5 ]
}

# ------------------------------------------------------------------ the log

@test "the decision log: one line per request, right verdicts, never a key or a sentinel" {
  mark
  # a sentinel where it is not taken (path, query): refused, and not logged
  run get "http://127.0.0.1:$RP/anth/v1/models/$S_ANTH?x=$S_ANTH" -H "x-api-key: $S_ANTH"
  [ "$output" = 400 ]
  run get "http://127.0.0.1:$RP/anth/v1/json" -H "x-api-key: $S_GOOG"
  [ "$output" = 401 ]
  run get "http://127.0.0.1:$RP/anth/v1/$S_ANTH" -H "x-api-key: $S_ANTH"
  [ "$output" = 403 ]
  run get "http://127.0.0.1:$RP/$S_ANTH/v1/json" -H "x-api-key: $S_ANTH"
  [ "$output" = 404 ]
  run new_lines 4
  [ "$(jq -r '[.verdict, .status, .route, .path] | join(" ")' <<<"$output")" = \
    "deny 400 anth /v1/models/[redacted]
deny 401 anth /v1/json
deny 403 anth /v1/[redacted]
deny 404 [redacted] /v1/json" ]
  # every line the relay wrote so far is one JSON object, and none holds a
  # token: the relays' logs and stderr, all of them (not the mock servers')
  jq -e . "$T/main.log" >/dev/null
  local logs=() f tok
  for f in "$T"/*.log "$T"/*.err; do
    case ${f##*/} in up.log | up2.log | rd.log | dns.log | *.out.err) ;; *) logs+=("$f") ;; esac
  done
  [ "${#logs[@]}" -ge 8 ]
  for tok in "$S_ANTH" "$S_OAI" "$S_GOOG" "$S_UNTR" "$S_WRONG" "$K_ANTH" "$K_OAI" "$K_GOOG" "$K_UNTR" "$K_WRONG"; do
    ! grep -qF -- "$tok" "${logs[@]}"
  done
  # (control: the upstream's log does hold the key, so the grep would find one)
  grep -qF -- "$K_ANTH" "$T/up.log"
}

@test "the main relay stops cleanly on SIGTERM with nothing on stderr (sanitizer builds: no reports)" {
  local pid; pid=$(cat "$T/main.pid")
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null
  run cat "$T/main.err"
  [ -z "$output" ]
  rm -f "$T/main.pid"
  # and so did every other relay the tests started and stopped
  local f
  for f in ca2 dead restart good cap hold; do
    [ -f "$T/$f.err" ]
    run cat "$T/$f.err"
    [ -z "$output" ]
  done
}

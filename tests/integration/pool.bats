#!/usr/bin/env bats
# The egress pool (ADR_EGRESS_POOL, core/egress.h) against the real engine:
# units made ahead, claimed by one run each, removed with it, refilled
# after it; what kill -9 leaves; stale and foreign units; adr warm and adr
# prune.  The network policy through pooled units: network-pool.bats.

bats_require_minimum_version 1.5.0
load ../lib/testimage

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PREFIX_ID="adrpool$$$RANDOM"
  export BATS_RUN_PREFIX="$PREFIX_ID"
  adr_test_image "$PREFIX_ID"
}

teardown_file() {
  docker rmi "$BATS_RUN_PREFIX/sh:latest" >/dev/null 2>&1 || true
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  export ADR_EGRESS_POOL=1
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=sh\n' "$BATS_RUN_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  adr_test_agent
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cd "$WS"
  POOLDIR="$XDG_STATE_HOME/adr/pool"
}

teardown() {
  adr_settle || true
  for s in ${OTHER_STATES:-}; do XDG_STATE_HOME=$s "$ADR_BIN" prune >/dev/null 2>&1 || true; done
  "$ADR_BIN" prune >/dev/null 2>&1 || true
  [ "$(objects "label=dev.adr.pool=$POOLDIR")" -eq 0 ]
}

adr() { "$ADR_BIN" "$@"; }
# this test's detached teardowns (other adr processes may run too)
my_teardowns() {
  local p
  for p in $(pgrep -x adr-teardown); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "XDG_STATE_HOME=$XDG_STATE_HOME" && echo "$p"
  done
  true
}
# units without a lock (a claimed unit's dir stays while it lives)
free_units() {
  local u
  for u in $(ls "$POOLDIR" 2>/dev/null | grep '^adr-pool-'); do [ -e "$POOLDIR/.$u.lock" ] || echo "$u"; done
}
# containers and networks with a label filter
objects() {
  echo $(($(docker ps -aq --filter "$1" | wc -l) + $(docker network ls -q --filter "$1" | wc -l)))
}
unit_objects() { objects "label=dev.adr.for=$1"; }
# the sandbox's own address on its network (bash and awk only)
MYIP='awk '"'"'/32 host/ && f != "127.0.0.1" { print f } { f = $2 }'"'"' /proc/net/fib_trie | head -1'

@test "a run claims the unit its predecessor left; the unit goes with it; the pool is made again" {
  run adr run sh --prompt true
  [ "$status" -eq 0 ]
  adr_settle
  u1=$(free_units)
  [ "$(echo "$u1" | wc -w)" -eq 1 ]
  [ "$(unit_objects "$u1")" -eq 3 ] # the gateway, the holder, the network
  [ "$(docker network ls -q --filter "label=dev.adr.for=$u1" | wc -l)" -eq 1 ]
  [ "$(docker inspect -f '{{.State.Running}}' "$u1-gw" "$u1-hold")" = "$(printf 'true\ntrue')" ]
  [ "$(docker inspect -f '{{index .Config.Labels "dev.adr.pool"}}' "$u1-gw")" = "$POOLDIR" ]
  # the holder (whose namespace the sandbox will share) sees its own dir,
  # never the gateway's (routes with keys go there)
  [ "$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/run/adr-egress"}}{{.Source}}{{end}}{{end}}' "$u1-hold")" = "$POOLDIR/$u1/hold" ]
  [ "$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/run/adr-egress"}}{{.Source}}{{end}}{{end}}' "$u1-gw")" = "$POOLDIR/$u1" ]
  # the next run's sandbox is in that unit: its hostname, its gateway as the proxy
  gwip=$(head -1 "$POOLDIR/$u1/unit")
  run --separate-stderr adr run sh --name pooled-run --prompt 'cat /proc/sys/kernel/hostname; echo "$HTTP_PROXY"'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = adr-sh ]
  [ "${lines[1]}" = "http://$gwip:3128" ]
  adr_settle
  [ "$(unit_objects "$u1")" -eq 0 ]
  [ ! -e "$POOLDIR/$u1" ] && [ ! -e "$POOLDIR/.$u1.lock" ]
  # its decision log is the run's (adr logs --egress NAME)
  [ -f "$XDG_STATE_HOME/adr/egress/pooled-run/egress.jsonl" ]
  [ ! -e "$XDG_STATE_HOME/adr/egress/pooled-run/relay" ] && [ ! -e "$XDG_STATE_HOME/adr/egress/pooled-run/claim" ]
  u2=$(free_units)
  [ -n "$u2" ] && [ "$u2" != "$u1" ]
  # the control: with the pool off the run makes a gateway of its own, not
  # the unit's; the free units go after it
  gw2=$(head -1 "$POOLDIR/$u2/unit")
  ADR_EGRESS_POOL=0 run --separate-stderr adr run sh --prompt 'echo "$HTTP_PROXY"'
  [ "$status" -eq 0 ]
  [[ "$output" == http://10.213.*:3128 ]] && [ "$output" != "http://$gw2:3128" ]
  adr_settle
  [ -z "$(free_units)" ]
  [ "$(unit_objects "$u2")" -eq 0 ]
}

@test "two sandboxes at once, pooled or not, have no path to each other; each reaches its own gateway" {
  for pool in 2 0; do
    export ADR_EGRESS_POOL=$pool
    [ "$pool" = 0 ] || { run adr warm sh; [ "$status" -eq 0 ]; [ "$output" = "egress pool: 2 of 2 ready" ]; }
    # A: writes its address and its gateway's, then waits
    rm -f "$WS/a.out" "$WS/a.done"
    adr run sh --name "iso-a-$pool" --prompt "gw=\${HTTP_PROXY#http://}; { $MYIP; echo \${gw%:*}; } >/workspace/a.out
      for _ in \$(seq 300); do [ -e /workspace/a.done ] && break; sleep 0.1; done" >/dev/null 2>&1 &
    apid=$!
    for _ in $(seq 150); do [ "$(wc -l <"$WS/a.out" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
    aip=$(sed -n 1p "$WS/a.out") agw=$(sed -n 2p "$WS/a.out")
    [ -n "$aip" ] && [ -n "$agw" ]
    # B: its own gateway (control), then A and A's gateway
    run --separate-stderr adr run sh --name "iso-b-$pool" --prompt "
      c() { local e; e=\$(timeout 5 bash -c \"exec 3<>/dev/tcp/\$1/\$2\" 2>&1) && { echo OK; return; }
        case \$e in *unreachable*|*'No route'*) echo UNREACH ;; *) echo FAIL ;; esac; }
      gw=\${HTTP_PROXY#http://}; c \${gw%:*} 3128; c $aip 22; c $agw 3128; c $agw 53"
    touch "$WS/a.done"
    wait "$apid"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'OK\nUNREACH\nUNREACH\nUNREACH')" ] || { echo "pool=$pool: $output"; false; }
  done
}

@test "adr start claims a unit with an interface of its own; the pool is made again; stop and rm take it along" {
  git init -q . && git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m init
  run adr warm sh
  [ "$status" -eq 0 ]
  u=$(free_units)
  gwip=$(head -1 "$POOLDIR/$u/unit")
  run adr start sh --name p1 --prompt 'sleep 600'
  [ "$status" -eq 0 ]
  cname=$(docker ps --filter label=dev.adr.name=p1 --format '{{.Names}}')
  [ "$(docker inspect -f '{{index .Config.Labels "dev.adr.egress"}}' "$cname")" = "$u" ]
  # on the unit's network itself (the engine may restart it without a holder), the holder gone
  [ "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$cname")" = "$u-net" ]
  adr_settle
  ! docker inspect "$u-hold" >/dev/null 2>&1
  [ "$(readlink "$XDG_STATE_HOME/adr/egress/$cname")" = "$POOLDIR/$u" ]
  # its egress works through the unit's gateway
  run adr exec p1 bash -c 'echo "$HTTP_PROXY"'
  [ "$output" = "http://$gwip:3128" ]
  # a stopped unit gateway starts again (its mounts still name its dir)
  docker restart -t 1 "$u-gw" >/dev/null
  adr_settle
  u2=$(free_units)
  [ -n "$u2" ] && [ "$u2" != "$u" ] # made again after the start
  run adr stop p1
  [ "$status" -eq 0 ]
  [ "$(docker inspect -f '{{.State.Running}}' "$u-gw")" = false ]
  run adr rm --force --no-push p1
  [ "$status" -eq 0 ]
  [ "$(unit_objects "$u")" -eq 0 ]
  [ ! -e "$POOLDIR/$u" ] && [ ! -e "$POOLDIR/.$u.lock" ] && [ ! -e "$XDG_STATE_HOME/adr/egress/$cname" ]
  [ "$(free_units)" = "$u2" ] # the free one is untouched
}

@test "kill -9 of adr during a pooled run: the next adr removes the sandbox and its unit" {
  run adr warm sh
  [ "$status" -eq 0 ]
  u=$(free_units)
  "$ADR_BIN" run sh --name killed-run --prompt 'sleep 600' >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do docker inspect killed-run >/dev/null 2>&1 && break; sleep 0.1; done
  [ "$(docker inspect -f '{{index .Config.Labels "dev.adr.egress"}}' killed-run)" = "$u" ]
  [ -e "$POOLDIR/.$u.lock" ]
  kill -9 "$pid"
  wait "$pid" || true
  [ "$(unit_objects "$u")" -eq 3 ]
  run adr run sh --network none --prompt true
  [ "$status" -eq 0 ]
  adr_settle
  ! docker inspect killed-run >/dev/null 2>&1
  [ "$(unit_objects "$u")" -eq 0 ]
  [ ! -e "$POOLDIR/.$u.lock" ]
  [ ! -e "$XDG_STATE_HOME/adr/egress/killed-run/policy" ]
}

@test "kill -9 of the detached teardown: the next adr finishes it" {
  run adr warm sh
  [ "$status" -eq 0 ]
  u=$(free_units)
  run adr run sh --name torn-run --prompt true
  [ "$status" -eq 0 ]
  # caught before it is done (it takes a few hundred ms), then killed
  pids=$(my_teardowns)
  [ -n "$pids" ]
  kill -STOP $pids
  kill -9 $pids
  sleep 0.2
  [ -z "$(my_teardowns)" ]
  [ "$(unit_objects "$u")" -gt 0 ] || docker inspect torn-run >/dev/null 2>&1 # something was left to finish
  run adr run sh --network none --prompt true
  [ "$status" -eq 0 ]
  adr_settle
  ! docker inspect torn-run >/dev/null 2>&1
  [ "$(unit_objects "$u")" -eq 0 ]
  [ ! -e "$POOLDIR/.$u.lock" ]
  # and its mounts, wherever the kill fell (root's adr: idmapped mounts)
  [ "$(grep -c " $XDG_STATE_HOME/adr/mnt/torn-run" /proc/mounts)" -eq 0 ]
}

@test "a unit made by another adr-gateway is not claimed: it is removed and made again" {
  # where adr finds it: next to adr (a build), or PREFIX/libexec/adr (installed)
  gw=$(dirname "$ADR_BIN")/../libexec/adr/adr-gateway
  [ -x "$gw" ] || gw=$(dirname "$ADR_BIN")/adr-gateway
  cp "$gw" "$BATS_TEST_TMPDIR/gw-old"
  ADR_GATEWAY="$BATS_TEST_TMPDIR/gw-old" run adr warm sh
  [ "$status" -eq 0 ]
  old=$(free_units)
  grep -q gw-old "$POOLDIR/$old/unit"
  oldip=$(head -1 "$POOLDIR/$old/unit")
  run --separate-stderr adr run sh --prompt 'echo "$HTTP_PROXY"'
  [ "$status" -eq 0 ]
  [[ "$output" == http://10.213.*:3128 ]] && [ "$output" != "http://$oldip:3128" ]
  adr_settle
  [ "$(unit_objects "$old")" -eq 0 ]
  new=$(free_units)
  [ -n "$new" ] && [ "$new" != "$old" ]
  ! grep -q gw-old "$POOLDIR/$new/unit"
}

@test "units of a state dir that is gone are swept; another user's stay" {
  other="$BATS_TEST_TMPDIR/other-state" gone="$BATS_TEST_TMPDIR/gone-state"
  OTHER_STATES="$other"
  XDG_STATE_HOME=$other run adr warm sh
  [ "$status" -eq 0 ]
  XDG_STATE_HOME=$gone run adr warm sh
  [ "$status" -eq 0 ]
  [ "$(objects "label=dev.adr.pool=$gone/adr/pool")" -eq 3 ]
  rm -rf "$gone"
  run adr warm sh # its fill sweeps
  [ "$status" -eq 0 ]
  [ "$(objects "label=dev.adr.pool=$gone/adr/pool")" -eq 0 ]
  [ "$(objects "label=dev.adr.pool=$other/adr/pool")" -eq 3 ] # the control: alive, untouched
}

@test "adr warm, ADR_EGRESS_POOL, adr prune" {
  ADR_EGRESS_POOL=3 run adr warm
  [ "$status" -eq 0 ] || { echo "adr warm: $output"; false; }
  [ "$output" = "egress pool: 3 of 3 ready" ]
  [ "$(free_units | wc -l)" -eq 3 ]
  # fewer wanted: the next fill removes the rest
  run adr warm sh
  [ "$output" = "egress pool: 1 of 1 ready" ]
  [ "$(free_units | wc -l)" -eq 1 ]
  ADR_EGRESS_POOL=0 run adr warm sh
  [ "$output" = "ADR_EGRESS_POOL is 0: nothing to make" ]
  # the configuration's value when the environment has none
  unset ADR_EGRESS_POOL
  echo ADR_EGRESS_POOL=2 >>"$XDG_CONFIG_HOME/adr/config"
  run adr warm sh
  [ "$output" = "egress pool: 2 of 2 ready" ]
  run adr prune
  [ "$status" -eq 0 ]
  [ "$output" = "removed 2 egress pool units" ]
  [ -z "$(free_units)" ]
  [ "$(objects "label=dev.adr.pool=$POOLDIR")" -eq 0 ]
  run adr warm nosuch
  [ "$status" -ne 0 ]
  [[ "$output" == "adr: unknown agent 'nosuch'"* ]]
  run adr warm sh sh
  [ "$status" -eq 2 ]
}

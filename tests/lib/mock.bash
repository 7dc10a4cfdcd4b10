# Starts the mock model server, over TLS with a CA of the test's own, on the
# docker0 gateway address (where adr's credential relay, in the egress
# gateway's container, reaches the host).  Sets MOCK_PID, MOCK_PORT,
# MOCK_LOG, MOCK_URL (https://ADDR:PORT, what agents' base URLs name on the
# host side), MOCK_CA (the CA to give adr: ADR_EXTRA_CA), MOCK_KEY (the one
# API key the mock accepts: any other gets 401) and MOCK_ALLOW (allowlist
# entries for reaching the mock directly, without the relay).
# adr_settle: waits for the detached teardown of finished runs
source "$(dirname "${BASH_SOURCE[0]}")/settle.bash"
source "$(dirname "${BASH_SOURCE[0]}")/hostip.bash"
load ../lib/tls

mock_start() { # logfile [extra args]
  local log=$1; shift
  local gw
  gw=$(bridge_host_ip)
  test_ca "$BATS_FILE_TMPDIR/mock-tls" "IP:$gw" DNS:host.docker.internal || return 1
  MOCK_KEY="sk-adr-canary-$RANDOM$RANDOM$RANDOM-real"
  local out; out=$(mktemp)
  python3 "$BATS_TEST_DIRNAME/../mock/mock-model.py" --port 0 --host "$gw" --log "$log" \
    --tls-cert "$BATS_FILE_TMPDIR/mock-tls/srv.pem" --tls-key "$BATS_FILE_TMPDIR/mock-tls/srv.key" \
    --expect-key "$MOCK_KEY" "$@" >"$out" 2>"$out.err" &
  MOCK_PID=$!
  for _ in $(seq 50); do grep -q '^listening' "$out" && break; sleep 0.1; done
  MOCK_PORT=$(awk '/^listening/ {print $2}' "$out")
  [ -n "$MOCK_PORT" ] || { cat "$out.err" >&2; return 1; }
  MOCK_LOG=$log
  MOCK_URL="https://$gw:$MOCK_PORT"
  MOCK_CA="$BATS_FILE_TMPDIR/mock-tls/ca.pem"
  MOCK_ALLOW="host.docker.internal:$MOCK_PORT $gw:$MOCK_PORT"
  export MOCK_PID MOCK_PORT MOCK_LOG MOCK_URL MOCK_ALLOW MOCK_CA MOCK_KEY
  rm -f "$out"
}

mock_stop() {
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  MOCK_PID=""
}

# An https URL on the mock's address where nothing listens (for negative
# controls).
dead_url() {
  echo "${MOCK_URL%:*}:9"
}

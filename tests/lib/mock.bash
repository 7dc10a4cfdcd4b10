# Starts the mock model server on the address sandboxes reach as
# host.docker.internal (the docker0 gateway).  Sets MOCK_PID, MOCK_PORT,
# MOCK_LOG, MOCK_URL (as seen from inside a sandbox), and MOCK_ALLOW: the
# allowlist entries that let a sandbox reach it through adr's egress gateway
# (the name, and its private address, listed as such).
mock_start() { # logfile [extra args]
  local log=$1; shift
  local gw
  gw=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
  [ -n "$gw" ] || gw=172.17.0.1
  local out; out=$(mktemp)
  python3 "$BATS_TEST_DIRNAME/../mock/mock-model.py" --port 0 --host "$gw" --log "$log" "$@" >"$out" 2>"$out.err" &
  MOCK_PID=$!
  for _ in $(seq 50); do grep -q '^listening' "$out" && break; sleep 0.1; done
  MOCK_PORT=$(awk '/^listening/ {print $2}' "$out")
  [ -n "$MOCK_PORT" ] || { cat "$out.err" >&2; return 1; }
  MOCK_LOG=$log
  MOCK_URL="http://host.docker.internal:$MOCK_PORT"
  MOCK_ALLOW="host.docker.internal:$MOCK_PORT $gw:$MOCK_PORT"
  export MOCK_PID MOCK_PORT MOCK_LOG MOCK_URL MOCK_ALLOW
  rm -f "$out"
}

mock_stop() {
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  MOCK_PID=""
}

# A port on the gateway where nothing listens (for negative controls).
dead_url() {
  echo "http://host.docker.internal:9"
}

# Helpers shared by the adr-gateway tests (gateway.bats, relay.bats).

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_bg OUTFILE CMD... : run in the background, wait for "listening PORT"
start_bg() {
  local out=$1; shift
  "$@" >"$out" 2>"$out.err" </dev/null 3>&- &
  echo $! >"$out.pid"
  for _ in $(seq 100); do
    grep -q '^listening ' "$out" 2>/dev/null && { awk '{print $2; exit}' "$out"; return 0; }
    sleep 0.05
  done
  echo "did not start: $*" >&2; cat "$out.err" >&2
  return 1
}

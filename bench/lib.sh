# Shared by the bench/*.sh scripts that pair adr with the raw engine.
# Needs $work (a scratch directory) and the repository as the current
# directory.  shellcheck shell=bash

# the agent "sh" whose headless prompt is a no-op (true)
BENCH_NOOP_AGENT='{ "name": "sh", "npm": { "package": "none", "version": "0" }, "binary": "true",
  "args": { "interactive": [], "headless": ["{prompt}"] } }'

# bench_init PREFIX AGENT_JSON: a private HOME under $work whose adr config
# names PREFIX as the image prefix and defines the agent "sh" (AGENT_JSON),
# the small test image PREFIX/sh:latest, $work/ws, and HARDENED: the
# docker run flags that match adr's hardening (no mounts).
bench_init() {
  local prefix=$1 agent_json=$2
  export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
  mkdir -p "$XDG_CONFIG_HOME/adr/agents" "$work/ws"
  echo "ADR_IMAGE_PREFIX=$prefix" >"$XDG_CONFIG_HOME/adr/config"
  printf '%s\n' "$agent_json" >"$XDG_CONFIG_HOME/adr/agents/sh.json"
  BATS_TEST_DIRNAME=$PWD/tests/integration
  # shellcheck source=../tests/lib/testimage.bash
  . tests/lib/testimage.bash
  adr_test_image "$prefix"
  local uid gid
  uid=$(id -u) gid=$(id -g)
  [ "$uid" = 0 ] && uid=1000 gid=1000
  HARDENED=(--init --read-only --cap-drop ALL --security-opt no-new-privileges
    --security-opt "seccomp=$PWD/data/seccomp.json"
    --tmpfs /home/agent:rw,nosuid,nodev,exec,size=1g,mode=1777 --tmpfs /tmp:rw,nosuid,nodev,exec,size=1g,mode=1777
    --tmpfs /run/adr:rw,nosuid,nodev,exec,size=1m,mode=1777
    --memory 4g --memory-swap 4g --cpus 2 --pids-limit 1024 --user "$uid:$gid"
    --add-host host.docker.internal:host-gateway -e HOME=/home/agent -w /workspace)
}

# bench_raw PREFIX [docker run flags...]: the raw, hardened run of the test
# image (no-op), the workspace mounted as adr mounts it
bench_raw() {
  local prefix=$1
  shift
  "$DOCKER" run --rm "${HARDENED[@]}" "$@" --mount "type=bind,src=$work/ws,dst=/workspace" \
    "$prefix/sh:latest" /usr/local/bin/adr-entry true x
}

now() { date +%s%N; }

# stat FILE: "median p90" (nearest rank) of the numbers in FILE, one a line
stat() { sort -n "$1" | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.9 + 0.999)]; printf "%d %d\n", m, p }'; }

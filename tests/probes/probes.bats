#!/usr/bin/env bats
# Security probes (tests/probes/probe.c, from ../shared/security-probes.md)
# run inside sandboxes that `adr run` makes, on a real agent image.
#
# Every probe is run three ways:
#   hardened  `adr run` with its defaults: the probe must PASS (refused)
#   control   a deliberately permissive raw `docker run` (--control): the
#             same operations must get through, proving the probe can see an
#             escape at all on this host
#   negative  for the layers adr lets a user remove (--unsafe), the matching
#             probes must FAIL: adr's flag, not something else, is what
#             refuses
#
# probes-project.bats (a link to this file) runs them all again with the
# agent in a project's own image (ADR_PROJECT_IMAGE): a project image with
# a setuid-root file and an entry point of its own, which adr's layer must
# not let weaken the sandbox.  probes-native.bats (another link) runs them
# on the native engine (ADR_ENGINE=native: no daemon; the image imported
# from the Docker engine once, into a store the file's tests share); the
# controls are the same permissive raw containers, which prove the probes
# can see an escape on this host.

bats_require_minimum_version 1.5.0
load ../lib/settle

setup_file() {
  export ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
  export PROBE_PREFIX="adrprobe$$$RANDOM"
  export PROBE_DIR="$BATS_FILE_TMPDIR/probe"
  mkdir -p "$PROBE_DIR/suid" "$PROBE_DIR/fake-ssh"
  chmod 0755 "$BATS_FILE_TMPDIR" "$PROBE_DIR" "$PROBE_DIR/suid"
  "${CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$PROBE_DIR/probe" "$BATS_TEST_DIRNAME/probe.c"
  # a setuid-root copy for PRIV-02 (planted in a read-only mount)
  cp "$PROBE_DIR/probe" "$PROBE_DIR/suid/probe-suid"
  if [ "$(id -u)" = 0 ]; then
    chown 0:0 "$PROBE_DIR/suid/probe-suid"
    chmod 4755 "$PROBE_DIR/suid/probe-suid"
  fi
  : >"$PROBE_DIR/fake.sock"

  # The image under test: a real agent image as `adr build` makes it.
  local home
  home=$(mktemp -d)
  if ! docker image inspect coding-agent/claude:latest >/dev/null 2>&1; then
    HOME=$home XDG_CONFIG_HOME=$home/.config "$ADR_BIN" build --yes claude >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
      tail -30 "$BATS_FILE_TMPDIR/build.log" >&3; rm -rf "$home"; return 1; }
  fi
  rm -rf "$home"
  export PROBE_IMAGE=coding-agent/claude:latest
  docker tag "$PROBE_IMAGE" "$PROBE_PREFIX/probe:latest"
  export PROBE_PROJECT_IMAGE="" PROBE_ENGINE=docker
  [ "${BATS_TEST_FILENAME##*/}" != probes-native.bats ] || PROBE_ENGINE=native
  if [ "${BATS_TEST_FILENAME##*/}" = probes-project.bats ]; then
    mkdir -p "$BATS_FILE_TMPDIR/proj"
    printf '%s\n' 'FROM adr/base:latest' \
      'RUN echo project >/etc/adr-probe-project && cp /bin/true /usr/local/bin/suid-true && chmod 4755 /usr/local/bin/suid-true' \
      'ENTRYPOINT ["/bin/false"]' >"$BATS_FILE_TMPDIR/proj/Dockerfile"
    docker build -q -t "$PROBE_PREFIX/project:1" "$BATS_FILE_TMPDIR/proj" >/dev/null
    export PROBE_PROJECT_IMAGE="$PROBE_PREFIX/project:1"
  fi
}

teardown_file() {
  docker rmi "$PROBE_PREFIX/probe:latest" >/dev/null 2>&1 || true
  if [ -n "${PROBE_PROJECT_IMAGE:-}" ]; then
    docker images --format '{{.Repository}}:{{.Tag}}' | grep '^adr-project/probe:' | xargs -r docker rmi >/dev/null 2>&1 || true
    docker rmi "$PROBE_PROJECT_IMAGE" >/dev/null 2>&1 || true
  fi
}

setup() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state"
  unset DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  printf 'ADR_IMAGE_PREFIX=%s\nADR_AGENT=probe\nADR_PIDS=512\n' "$PROBE_PREFIX" >"$XDG_CONFIG_HOME/adr/config"
  [ -z "$PROBE_PROJECT_IMAGE" ] || echo "ADR_PROJECT_IMAGE=$PROBE_PROJECT_IMAGE" >>"$XDG_CONFIG_HOME/adr/config"
  if [ "$PROBE_ENGINE" = native ]; then
    echo "ADR_ENGINE=native" >>"$XDG_CONFIG_HOME/adr/config"
    export ADR_NATIVE_ROOT="$BATS_FILE_TMPDIR/native"
  fi
  # an agent whose headless "prompt" is a shell command, on the real image
  cat >"$XDG_CONFIG_HOME/adr/agents/probe.json" <<'JSON'
{ "name": "probe", "description": "test agent: a shell on a real agent image",
  "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "args": { "interactive": [], "headless": ["-c", "{prompt}"] } }
JSON
  WS="$BATS_TEST_TMPDIR/ws"
  mkdir -p "$WS"
  cp "$PROBE_DIR/probe" "$WS/probe"
  cd "$WS"
}

# Runs probe IDs inside `adr run` (extra adr options first, then --).
# Sets status/output like bats' run.
adr_probe() { # [adr options...] -- probe args...
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  local cmd="/workspace/probe"
  local a
  for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
  run "$ADR_BIN" run probe -m "$PROBE_DIR/suid:/opt/adr-probe:ro" "${opts[@]}" --prompt "$cmd"
  printf '%s\n' "$output"
}

HARDENED_ARGS=(--writable /workspace /tmp /home/agent --nosuid /tmp /home/agent
               --pids-max 512 --suid /opt/adr-probe/probe-suid)

# Asserts exactly one result line for ID with the given verdict.
verdict() { # ID PASS|FAIL
  local n
  n=$(printf '%s\n' "$output" | grep -c "^$2 $1 ") || true
  [ "$n" -eq 1 ] || { echo "expected one '$2 $1' line"; return 1; }
}

# The permissive control container: every capability the engine can grant,
# no seccomp, root, unconfined AppArmor and system paths.  Planted: fd 7
# (FD-01), ~/.ssh and a docker socket (SEC-02).
control_run() { # ID
  local bnd missing=() i
  local caps=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
    MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
  bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  for i in "${!caps[@]}"; do (( (bnd >> i) & 1 )) || missing+=("--cap-drop=${caps[$i]}"); done
  local flags=(--cap-add ALL "${missing[@]}" --security-opt seccomp=unconfined
    --security-opt apparmor=unconfined --security-opt systempaths=unconfined --user 0
    -e HOME=/root -v "$WS:/workspace" -w /workspace
    -v "$PROBE_DIR/fake-ssh:/root/.ssh:ro" -v "$PROBE_DIR/fake.sock:/run/docker.sock:ro")
  [ -e /dev/kmsg ] && flags+=(--device /dev/kmsg)
  run timeout 300 docker run --rm --label dev.adr.test=probes "${flags[@]}" --entrypoint /bin/sh "$PROBE_IMAGE" \
    -c 'exec 7</etc/hostname; exec /workspace/probe --control "$@"' sh --only "$1" \
    --writable /tmp /workspace --pids-max 512
  printf '%s\n' "$output"
}

# ------------------------------------------------------------ hardened
# One test per probe: a refusal under adr's defaults.

@test "the image under test: the agent's, or (probes-project.bats) the project's with adr's layer" {
  run --separate-stderr "$ADR_BIN" run probe --prompt 'cat /etc/adr-probe-project 2>/dev/null || echo agent-image; test -u /usr/local/bin/suid-true && echo suid; true'
  [ "$status" -eq 0 ]
  if [ -n "$PROBE_PROJECT_IMAGE" ]; then
    [ "$output" = project ] # the project's image, its setuid bit gone
    # the control: the project image itself has it
    [ "$(docker run --rm --entrypoint /bin/sh "$PROBE_PROJECT_IMAGE" -c 'test -u /usr/local/bin/suid-true && echo suid')" = suid ]
  else
    [ "$output" = agent-image ]
  fi
}

@test "PRIV-01 hardened: no capabilities, no_new_privs, seccomp filter in every process" {
  adr_probe -- --only PRIV-01 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-01 PASS
}
@test "PRIV-02 hardened: no setuid files, setuid(0) refused, a setuid-root binary keeps the euid" {
  adr_probe -- --only PRIV-02 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-02 PASS
}
@test "PRIV-03 hardened: no new namespaces (unshare, clone flags, clone3, setns)" {
  adr_probe -- --only PRIV-03 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-03 PASS
}
@test "PRIV-04 hardened: ptrace, process_vm_*, pidfd_getfd, kcmp refused" {
  adr_probe -- --only PRIV-04 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-04 PASS
}
@test "PRIV-05 hardened: keyctl, add_key, request_key refused" {
  adr_probe -- --only PRIV-05 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-05 PASS
}
@test "PRIV-06 hardened: bpf, perf_event_open, userfaultfd refused" {
  adr_probe -- --only PRIV-06 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-06 PASS
}
@test "PRIV-07 hardened: io_uring refused" {
  adr_probe -- --only PRIV-07 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-07 PASS
}
@test "PRIV-09 hardened: AF_ALG, AF_VSOCK, AF_PACKET sockets refused (also via the upper 32 bits)" {
  adr_probe -- --only PRIV-09 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-09 PASS
}
@test "PRIV-10 hardened: chroot, kexec, modules, reboot, clocks, quotactl ... refused" {
  adr_probe -- --only PRIV-10 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict PRIV-10 PASS
}
@test "FS-01 hardened: read-only root; workspace, /tmp and HOME writable" {
  adr_probe -- --only FS-01 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict FS-01 PASS
}
@test "FS-03 hardened: no mount syscalls of any generation" {
  adr_probe -- --only FS-03 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict FS-03 PASS
}
@test "FS-06 hardened: minimal /dev, no device nodes, tmpfs nosuid,nodev" {
  adr_probe -- --only FS-06 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict FS-06 PASS
}
@test "SEC-02 hardened: no host secrets or engine sockets inside" {
  mkdir -p "$HOME/.ssh" "$HOME/.aws"
  echo secret >"$HOME/.ssh/id_ed25519"
  adr_probe -- --only SEC-02 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict SEC-02 PASS
}
@test "FD-01 hardened: no file descriptor of adr or the host leaks in" {
  exec 7</etc/hostname
  adr_probe -- --only FD-01 "${HARDENED_ARGS[@]}"
  exec 7<&-
  [ "$status" -eq 0 ]; verdict FD-01 PASS
}
@test "RES-01 hardened: a fork bomb stops at the pids limit" {
  adr_probe -- --only RES-01 "${HARDENED_ARGS[@]}"
  [ "$status" -eq 0 ]; verdict RES-01 PASS
}

# ------------------------------------------------------------ controls
# The same probes where nothing refuses: each must see the operation through.

@test "controls: every probe detects the escape in a permissive container" {
  local id
  for id in PRIV-01 PRIV-02 PRIV-03 PRIV-04 PRIV-05 PRIV-06 PRIV-07 PRIV-09 PRIV-10 FS-01 FS-03 FS-06 SEC-02 FD-01 RES-01; do
    control_run "$id"
    verdict "$id" PASS || { echo "control for $id could not detect an escape"; return 1; }
  done
}

# ------------------------------------------------------------ negative controls
# adr's own --unsafe switches remove one layer; its probes must then FAIL.

@test "negative: --unsafe no-seccomp (engine default profile) lets PRIV-09 through" {
  adr_probe --unsafe no-seccomp -- --only PRIV-09 "${HARDENED_ARGS[@]}"
  if [ "$PROBE_ENGINE" = native ]; then
    # the native engine's default profile is adr's policy: the layer stays
    # (docs/security.md); without any filter (PRIV-01's negative below has
    # no-new-privileges off) the control above shows what gets through
    [ "$status" -eq 0 ]; verdict PRIV-09 PASS
  else
    [ "$status" -ne 0 ]; verdict PRIV-09 FAIL
  fi
}
@test "negative: --unsafe new-privileges turns PRIV-01 red" {
  adr_probe --unsafe new-privileges -- --only PRIV-01 "${HARDENED_ARGS[@]}"
  [ "$status" -ne 0 ]; verdict PRIV-01 FAIL
}
# (--unsafe writable-root has no probe here: FS-01 still passes without the
# read-only root because the unprivileged uid cannot write root-owned
# directories either, and /etc/passwd is a read-only mount.  The mount flag
# itself, with its control, is tested in tests/integration/run.bats.)
@test "negative: --unsafe no-limits turns RES-01 red" {
  adr_probe --unsafe no-limits -- --only RES-01 "${HARDENED_ARGS[@]}"
  [ "$status" -ne 0 ]; verdict RES-01 FAIL
}

@test "image: the tools coding agents reach for are there and work in the hardened sandbox" {
  # nosuch-adr-tool is the control: the check does report a missing tool
  run "$ADR_BIN" run probe --network none --prompt '
    for t in git rg fd curl wget jq make unzip shellcheck python3 pip3 nosuch-adr-tool; do
      command -v "$t" >/dev/null || echo "missing $t"
    done
    python3 -m venv /tmp/venv && /tmp/venv/bin/python -m pip --version >/dev/null && echo venv-ok
    printf "all:\n\t@echo make-ok\n" >/tmp/Makefile && make -s -f /tmp/Makefile
    printf "#!/bin/sh\necho \$1\n" >/tmp/s.sh && shellcheck -f gcc /tmp/s.sh | grep -c SC2086
    echo "{\"a\":[1,2]}" | jq ".a | length"'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$(printf 'missing nosuch-adr-tool\nvenv-ok\nmake-ok\n1\n2')" ] || { echo "$output"; false; }
}

@test "no sandbox is left behind by the probes" {
  adr_settle
  if [ "$PROBE_ENGINE" = native ]; then
    [ "$(find "$BATS_FILE_TMPDIR/native/boxes" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -eq 0 ]
    # control: the probes did run there
    [ -d "$BATS_FILE_TMPDIR/native/boxes" ]
  fi
  [ "$(docker ps -aq --filter "label=dev.adr.agent=probe" | wc -l)" -eq 0 ]
  [ "$(docker ps -aq --filter "label=dev.adr.test=probes" | wc -l)" -eq 0 ]
}

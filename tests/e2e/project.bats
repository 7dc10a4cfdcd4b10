#!/usr/bin/env bats
# Agents in the project's own image (adr run --image, ADR_PROJECT_IMAGE):
# adr adds node and the agent to the project's image once per image and
# agent version; the sandbox keeps its hardening, the workspace its owner;
# a real agent (pi, against the mock model server) runs the project's own
# test command that only the project image has; images adr cannot use are
# named with the reason.

bats_require_minimum_version 1.5.0
load ../lib/agents

setup_file() {
  agents_setup_file
  export PROJ="adrproj$$$RANDOM"
  local d=$BATS_FILE_TMPDIR/img
  mkdir -p "$d"
  # a project image: its own tools, a setuid file, an entry point in the way
  cat >"$d/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN printf '#!/bin/sh\necho "project tests: $(cat /workspace/input.txt 2>/dev/null || echo none) ok"\n' >/usr/local/bin/run-tests && \
    chmod 0755 /usr/local/bin/run-tests && cp /bin/true /usr/local/bin/suid-true && chmod 4755 /usr/local/bin/suid-true && \
    echo project >/etc/project-marker
ENTRYPOINT ["/bin/false"]
EOF
  docker build -q -t "$PROJ/app:1" "$d" >/dev/null
  # an image without a shell, and one where node cannot run (no libstdc++: as on musl)
  printf 'FROM scratch\nCOPY Dockerfile /Dockerfile\n' >"$d/Dockerfile.scratch"
  docker build -q -t "$PROJ/noshell:1" -f "$d/Dockerfile.scratch" "$d" >/dev/null
  printf 'FROM debian:bookworm-slim\nRUN rm -f /usr/lib/x86_64-linux-gnu/libstdc++.so.6*\n' >"$d/Dockerfile.nocxx"
  docker build -q -t "$PROJ/nocxx:1" -f "$d/Dockerfile.nocxx" "$d" >/dev/null
  # a musl userland as Alpine's (no Alpine image is reachable here): Debian's
  # musl and busybox-static, and no glibc at all
  cat >"$d/Dockerfile.musl" <<'DF'
FROM debian:bookworm-slim AS parts
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl busybox-static >/dev/null
FROM scratch
COPY --from=parts /bin/busybox /bin/busybox
COPY --from=parts /lib/ld-musl-x86_64.so.1 /lib/ld-musl-x86_64.so.1
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp /usr/bin && echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd && echo 'root:x:0:' >/etc/group
DF
  docker build -q -t "$PROJ/musl:1" -f "$d/Dockerfile.musl" "$d" >/dev/null
}

teardown_file() {
  # what the tests made: the project images, adr's layers on them, the dev containers' images
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($PROJ/|adr-project/|adr-devcontainer/repo:)" |
    xargs -r docker rmi -f >/dev/null 2>&1 || true
  agents_teardown_file
}

setup() { agents_setup proj.txt one; }
teardown() {
  adr_settle || true
  agents_no_mounts_left
}

adr() { "$ADR_BIN" "$@"; }
leftovers() {
  adr_settle >&2
  docker ps -aq --filter "label=dev.adr.workspace=$REPO" | wc -l
}

@test "the project image with the agent added: its tools, adr's hardening, the workspace the user's; built once" {
  run --separate-stderr adr run sh --image "$PROJ/app:1" --prompt 'cat /etc/project-marker; run-tests; id -u; echo made > /workspace/made.txt'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'project\nproject tests: none ok\n%s' "$(id -u | sed 's/^0$/1000/')")" ]
  [[ "$stderr" == *"adding sh to the project image $PROJ/app:1 (once per image and agent version)"* ]]
  [ "$(stat -c %u:%g made.txt)" = "$(id -u):$(id -g)" ]
  [ "$(leftovers)" -eq 0 ]
  # the second run takes the layer made: nothing is built
  run --separate-stderr adr run sh --image "$PROJ/app:1" --prompt 'true'
  [ "$status" -eq 0 ]
  [[ "$stderr" != *"adding sh"* ]]
  # hardening as in an agent image: read-only root, no capabilities, no-new-privs, no setuid left
  run adr run sh --image "$PROJ/app:1" --prompt '
    touch /usr/x 2>/dev/null && echo root-writable
    grep -E "^(CapEff|NoNewPrivs)" /proc/self/status | tr -s "\t " " "
    find / -xdev -perm -4000 -type f 2>/dev/null | wc -l
    test -u /usr/local/bin/suid-true && echo still-suid
    true'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'CapEff: 0000000000000000\nNoNewPrivs: 1\n0')" ]
  # the control: the project image itself has its setuid file
  [ "$(docker run --rm --entrypoint /bin/sh "$PROJ/app:1" -c 'test -u /usr/local/bin/suid-true && echo suid')" = suid ]
  # ADR_PROJECT_IMAGE in the project's .adr does the same
  echo "ADR_PROJECT_IMAGE=$PROJ/app:1" >.adr
  run adr run sh --prompt 'cat /etc/project-marker'
  [ "$output" = project ]
}

@test "a real agent (pi) in the project image runs the project's own test command" {
  agents_pi_models "$HOME/.pi"
  : >"$MOCK_LOG"
  echo from-input >input.txt
  run adr run pi --image "$PROJ/app:1" --model mock/mock-model \
    --prompt "Run this shell command exactly: [[cd /workspace && run-tests > result.txt]]"
  [ "$status" -eq 0 ]
  grep -q '"user_agent": "pi (' "$MOCK_LOG"
  [ "$(cat result.txt)" = "project tests: from-input ok" ]
  [ "$(stat -c %u:%g result.txt)" = "$(id -u):$(id -g)" ]
  # run-tests exists only in the project image: the control
  run adr run sh --prompt 'command -v run-tests || echo absent'
  [ "$output" = absent ]
}

@test "images adr cannot use are named, with the reason; nothing is left" {
  run --separate-stderr adr run sh --image "$PROJ/missing:1" --prompt true
  [ "$status" -eq 1 ]
  [ "$stderr" = "adr: project image '$PROJ/missing:1' not found; build or pull it first" ]
  run --separate-stderr adr run sh --image "$PROJ/noshell:1" --prompt true
  [ "$status" -eq 1 ]
  [ "${stderr##*$'\n'}" = "adr: project image '$PROJ/noshell:1' has no /bin/sh: adr needs a shell and a POSIX userland in it" ]
  run --separate-stderr adr run pi --image "$PROJ/nocxx:1" --prompt true
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"adr: project image '$PROJ/nocxx:1': node (from the agent's image) cannot run in this image: it needs glibc >= 2.28 and libstdc++ (musl images such as Alpine are not supported for npm agents)" ]]
  # the control: the same agent on the project image that has libstdc++ builds
  run adr run pi --image "$PROJ/app:1" --prompt true --model nosuch/model
  [[ "$output" != *"cannot run in this image"* ]]
  [ "$(leftovers)" -eq 0 ]
}

@test "a musl userland (as Alpine's): npm agents refused with the reason; an agent that is a program of the image runs" {
  run --separate-stderr adr run pi --image "$PROJ/musl:1" --prompt true
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"adr: project image '$PROJ/musl:1': node (from the agent's image) cannot run in this image: it needs glibc >= 2.28 and libstdc++ (musl images such as Alpine are not supported for npm agents)" ]]
  # an agent with no npm package, whose program the image has (busybox's sh)
  cat >"$XDG_CONFIG_HOME/adr/agents/ash.json" <<'JSON'
{ "name": "ash", "description": "test agent: the image's own sh", "npm": { "package": "none", "version": "0" },
  "binary": "sh", "args": { "interactive": ["-i"], "headless": ["-c", "{prompt}"] } }
JSON
  docker tag "$AGENTS_PREFIX/sh:latest" "$AGENTS_PREFIX/ash:latest"
  run --separate-stderr adr run ash --image "$PROJ/musl:1" --prompt '[ -e /lib/ld-musl-x86_64.so.1 ] && echo musl; [ -e /lib/x86_64-linux-gnu/libc.so.6 ] || echo no-glibc; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status | tr -s "\t " " "; echo hi >/workspace/from-musl.txt && echo wrote'
  docker rmi "$AGENTS_PREFIX/ash:latest" >/dev/null 2>&1 || true
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "$output" = "$(printf 'musl\nno-glibc\nCapEff: 0000000000000000\nNoNewPrivs: 1\nwrote')" ]
  [ "$(stat -c %u:%g from-musl.txt)" = "$(id -u):$(id -g)" ]
  [ "$(leftovers)" -eq 0 ]
}

# a dev container built from its Dockerfile, with env, a workspace mount and lifecycle commands
dc_setup() {
  mkdir -p .devcontainer data
  echo datum >data/d.txt
  # unique to this run: the first build is this test's
  printf '# %s\n' "$PROJ" >.devcontainer/Dockerfile
  cat >>.devcontainer/Dockerfile <<'DF'
FROM debian:bookworm-slim
ARG GREETING=none
RUN mkdir -p /opt/proj/bin && printf '#!/bin/sh\necho "%s from the dev container"\n' "$GREETING" >/opt/proj/bin/proj-greet && \
    chmod 0755 /opt/proj/bin/proj-greet
DF
  cat >.devcontainer/devcontainer.json <<'JSON'
// the project's environment
{
  "name": "proj",
  "build": { "dockerfile": "Dockerfile", "args": { "GREETING": "hello", }, },
  "containerEnv": { "PROJ_ENV": "${localWorkspaceFolderBasename}" },
  "remoteEnv": { "PATH": "${containerEnv:PATH}:/opt/proj/bin" },
  "remoteUser": "vscode",
  "mounts": ["source=${localWorkspaceFolder}/data,target=/data,type=bind,readonly"],
  "postCreateCommand": "echo created > /tmp/created",
  "postStartCommand": ["sh", "-c", "echo started-$(id -u)"],
}
JSON
}

@test "devcontainer.json: its Dockerfile, env, workspace mount and lifecycle commands, in the sandbox" {
  dc_setup
  run --separate-stderr adr run sh --prompt 'echo "$PROJ_ENV"; proj-greet; cat /tmp/created; cat /data/d.txt; touch /data/x 2>/dev/null || echo read-only; id -u'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'repo\nhello from the dev container\ncreated\ndatum\nread-only\n%s' "$(id -u | sed 's/^0$/1000/')")" ]
  [[ "$stderr" == *"adr: using .devcontainer/devcontainer.json (Dockerfile .devcontainer/Dockerfile); --no-devcontainer runs without it"* ]]
  [[ "$stderr" == *"adr: building the dev container's image"* ]]
  # the lifecycle commands ran inside, as the sandbox user, their output on stderr
  [[ "$stderr" == *"started-$(id -u | sed 's/^0$/1000/')"* ]]
  # built once: the next run takes the image made, without archiving the
  # context again (its stamp is unchanged)
  ADR_DEBUG=1 run --separate-stderr adr run sh --prompt true
  [ "$status" -eq 0 ]
  [[ "$stderr" != *"building the dev container's image"* ]]
  [[ "$stderr" == *"the dev container's image: build context unchanged; image adr-devcontainer/"* ]]
  [[ "$stderr" != *"archived the build context"* ]]
  # a touch archives it again (the control), to find the same content: no build
  touch .devcontainer/Dockerfile
  ADR_DEBUG=1 run --separate-stderr adr run sh --prompt true
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"the dev container's image: archived the build context"* ]]
  [[ "$stderr" != *"building the dev container's image"* ]]
  # a change to the build context builds anew
  echo "# changed" >>.devcontainer/Dockerfile
  run --separate-stderr adr run sh --prompt true
  [[ "$stderr" == *"building the dev container's image"* ]]
  # the hardening is the sandbox's, whatever the dev container says (remoteUser: vscode)
  run --separate-stderr adr run sh --prompt 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status | tr -s "\t " " "; touch /etc/x 2>/dev/null || echo ro-root'
  [ "$output" = "$(printf 'CapEff: 0000000000000000\nNoNewPrivs: 1\nro-root')" ]
  # the control: --no-devcontainer runs in the agent's own image
  run --separate-stderr adr run sh --no-devcontainer --prompt 'echo "[$PROJ_ENV]"; command -v proj-greet || echo absent'
  [ "$output" = "$(printf '[]\nabsent')" ]
  [[ "$stderr" != *"devcontainer.json"* ]]
  [ "$(leftovers)" -eq 0 ]
}

@test "devcontainer.json cannot copy the host's secrets in: \${localEnv:X} withheld and named, unless the user allows X" {
  mkdir -p .devcontainer
  cat >.devcontainer/devcontainer.json <<JSON
{ "image": "$PROJ/app:1",
  "containerEnv": { "K": "\${localEnv:ADR_TEST_CANARY}", "R": "\${localEnv:PROJ_REGION:unset}", "U": "\${localEnv:USER}" } }
JSON
  export ADR_TEST_CANARY=canary-$$-secret PROJ_REGION=eu-1 USER=someone
  run --separate-stderr adr run sh --prompt 'echo "[$K] [$R] [$U]"; env | grep -c canary- || true'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '[] [unset] [someone]\n0')" ]
  [[ "$stderr" == *"adr: warning: "*"devcontainer.json: \${localEnv:...} of ADR_TEST_CANARY, PROJ_REGION not passed in"*"ADR_DEVCONTAINER_ENV"* ]]
  # the control: a name the user allows in their own configuration is given
  adr config set ADR_DEVCONTAINER_ENV=PROJ_REGION >/dev/null
  run --separate-stderr adr run sh --prompt 'echo "[$K] [$R]"'
  [ "$output" = "[] [eu-1]" ]
  [[ "$stderr" == *"of ADR_TEST_CANARY not passed in"* ]]
  # a project's .adr cannot allow one
  adr config set ADR_DEVCONTAINER_ENV= >/dev/null
  echo 'ADR_DEVCONTAINER_ENV=ADR_TEST_CANARY' >.adr
  run --separate-stderr adr run sh --prompt 'echo "[$K]"'
  [ "$output" = "[]" ]
  rm -f .adr
  [ "$(leftovers)" -eq 0 ]
}

@test "a dev container image holding a key is not tagged, and nothing runs; the file is named" {
  mkdir -p .devcontainer
  ssh-keygen -q -t ed25519 -N '' -C leaked -f .devcontainer/deploy_key
  printf '# %s\nFROM debian:bookworm-slim\nCOPY deploy_key /etc/deploy_key\n' "$PROJ" >.devcontainer/Dockerfile
  printf '{ "build": { "dockerfile": "Dockerfile" } }\n' >.devcontainer/devcontainer.json
  local before
  before=$(docker images -q --filter label=dev.adr.kind=devcontainer-image | sort -u | wc -l)
  run --separate-stderr adr run sh --prompt 'echo ran'
  [ "$status" -ne 0 ]
  [ "$output" != ran ]
  [[ "$stderr" == *": a private key in /etc/deploy_key; not tagged (ADR_SCAN_ALLOW=/etc/deploy_key in your configuration if it belongs there)"* ]]
  # the image it built is gone, not left untagged
  [ "$(docker images -q --filter label=dev.adr.kind=devcontainer-image | sort -u | wc -l)" -eq "$before" ]
  [ -z "$(docker images -q --filter dangling=true --filter label=dev.adr.kind=devcontainer-image)" ]
  # the control: the same build without the key runs
  printf '# %s\nFROM debian:bookworm-slim\nCOPY devcontainer.json /etc/dc.json\n' "$PROJ" >.devcontainer/Dockerfile
  run --separate-stderr adr run sh --prompt 'echo ran'
  [ "$status" -eq 0 ]
  [ "$output" = ran ]
  [ "$(leftovers)" -eq 0 ]
}

@test "devcontainer.json: what adr refuses, it names; nothing starts" {
  mkdir -p .devcontainer
  printf '{ "image": "%s/app:1", "features": { "features.example.internal/node:1": {} } }' "$PROJ" >.devcontainer/devcontainer.json
  run --separate-stderr adr run sh --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"devcontainer.json: 'features' (features.example.internal/node:1) are not supported by adr: install them in the image (build.dockerfile), or run with --no-devcontainer" ]]
  printf '{ "image": "%s/app:1", "mounts": ["source=%s,target=/h,type=bind"] }' "$PROJ" "$HOME" >.devcontainer/devcontainer.json
  run --separate-stderr adr run sh --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"the source is outside the workspace; a project file cannot mount host paths (use -m on the command line)" ]]
  printf '{ "dockerComposeFile": "c.yml", "service": "app" }' >.devcontainer/devcontainer.json
  run_refused ".devcontainer/c.yml: No such file or directory"
  printf '{\n  "image": "x",\n  "image": "y"\n}' >.devcontainer/devcontainer.json
  run --separate-stderr adr run sh --prompt true
  [ "$status" -ne 0 ]
  [[ "$stderr" == *".devcontainer/devcontainer.json: line 3: duplicate object key"* ]]
  [[ "$stderr" == *"--no-devcontainer"* ]]
  # a named image is used as the project image
  printf '{ "image": "%s/app:1", "containerEnv": { "X": "1" } }' "$PROJ" >.devcontainer/devcontainer.json
  run --separate-stderr adr run sh --prompt 'cat /etc/project-marker; echo "$X"'
  [ "$output" = "$(printf 'project\n1')" ]
  [ "$(leftovers)" -eq 0 ]
}

# Builds (once per run) a small image that behaves like an adr agent image
# for tests that need a sandbox but not a real agent: debian:bookworm-slim +
# adr's entry script + the passwd layout of adr/base.
# Usage: adr_test_image PREFIX -> tags PREFIX/sh:latest
adr_test_image() {
  local prefix=$1 ctx
  if ! docker image inspect adr-test/sh:latest >/dev/null 2>&1; then
    ctx=$(mktemp -d)
    cp "$BATS_TEST_DIRNAME/../../data/images/adr-entry.sh" "$ctx/adr-entry.sh"
    cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
COPY adr-entry.sh /usr/local/bin/adr-entry
RUN chmod 0755 /usr/local/bin/adr-entry \
 && cp /etc/passwd /etc/passwd.adr-base && cp /etc/group /etc/group.adr-base \
 && ln -sf /run/adr/passwd /etc/passwd && ln -sf /run/adr/group /etc/group \
 && mkdir -p /workspace
DOCKERFILE
    docker build -q -t adr-test/sh:latest "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  docker tag adr-test/sh:latest "$prefix/sh:latest"
}

# A user-defined agent "sh" whose headless prompt is a shell script.
adr_test_agent() {
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  cat >"$XDG_CONFIG_HOME/adr/agents/sh.json" <<'JSON'
{ "name": "sh", "description": "test agent: a shell",
  "npm": { "package": "none", "version": "0" }, "binary": "bash",
  "config": [ { "host": "~/.shagent", "home": ".shagent" } ],
  "args": { "interactive": [], "headless": ["-c", "{prompt}"], "model": ["--model={model}"] } }
JSON
}

# adr_settle: waits for the detached teardown of finished runs
source "$(dirname "${BASH_SOURCE[0]}")/settle.bash"

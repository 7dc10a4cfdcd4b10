#!/usr/bin/env bats
# adr status against the real engine: no images, some images, and engines
# that cannot be reached (DOCKER_HOST, docker contexts).

bats_require_minimum_version 1.5.0
load helpers

AGENTS=(claude codex copilot gemini opencode pi)

setup_file() {
  export STATUS_PREFIX
  STATUS_PREFIX=$(unique_prefix)
}

setup() {
  setup_isolated
  global_config "ADR_IMAGE_PREFIX=$STATUS_PREFIX"
}

teardown() {
  engine_untag "$STATUS_PREFIX/pi:latest" "$STATUS_PREFIX/claude:v2"
}

# The size as docker shows it: SI units, three significant digits.
human_size() {
  awk -v s="$1" 'BEGIN {
    split("B kB MB GB TB", u, " "); i = 1
    while (s >= 1000 && i < 5) { s /= 1000; i++ }
    if (i == 1) { printf "%dB\n", s; exit }
    f = s < 10 ? "%.2f%s\n" : s < 100 ? "%.1f%s\n" : "%.0f%s\n"; printf f, s, u[i] }'
}

AGE='(just now|less than a minute ago|(an?|[0-9]+) (minute|hour|day|week|month|year)s? ago)'


@test "no images: every agent is listed as not built, with a hint on stderr" {
  run --separate-stderr adr status
  assert_success
  [[ "${lines[0]}" =~ ^AGENT\ +IMAGE\ +TAG\ +SIZE\ +CREATED$ ]] || fail "bad header: ${lines[0]}"
  [ "${#lines[@]}" -eq 7 ] || fail "expected a header and 6 rows, got: $output"
  local a
  for a in "${AGENTS[@]}"; do
    assert_line_matches "^$a +$STATUS_PREFIX/$a +- +- +\(not built\)$"
  done
  assert_stderr_contains "hint: no agent images yet; build one with 'adr build AGENT'"
  assert_one_line "$stderr"
}

@test "no images: --json has six entries, all built=false, nothing on stderr" {
  run --separate-stderr adr status --json
  assert_success
  assert_stderr_empty
  [ "$(jq length <<<"$output")" -eq 6 ]
  [ "$(jq '[.[] | select(.built == false)] | length' <<<"$output")" -eq 6 ]
  [ "$(jq -r '[.[].agent] | sort | join(" ")' <<<"$output")" = "${AGENTS[*]}" ]
  [ "$(jq -r '.[] | select(.agent == "pi") | .image' <<<"$output")" = "$STATUS_PREFIX/pi" ]
  [ "$(jq '[.[] | select(.tag == null and .size == null and .created == null)] | length' <<<"$output")" -eq 6 ]
}

@test "with images: rows show tag, size and age of the tagged images" {
  require_bookworm_slim
  engine_tag debian:bookworm-slim "$STATUS_PREFIX/pi" latest
  engine_tag debian:bookworm-slim "$STATUS_PREFIX/claude" v2
  local info size
  info=$(engine_api GET /images/debian:bookworm-slim/json)
  size=$(human_size "$(jq -r .Size <<<"$info")")

  run --separate-stderr adr status
  assert_success
  assert_stderr_empty # no hint once something is built
  assert_line_matches "^pi +$STATUS_PREFIX/pi +latest +$size +$AGE$"
  assert_line_matches "^claude +$STATUS_PREFIX/claude +v2 +$size +$AGE$"
  local a
  for a in codex copilot gemini opencode; do
    assert_line_matches "^$a +$STATUS_PREFIX/$a +- +- +\(not built\)$"
  done
  # rows stay in agent order
  [ "$(printf '%s\n' "${lines[@]:1}" | awk '{print $1}' | tr '\n' ' ')" = "${AGENTS[*]} " ]
}

@test "with images: --json reports built=true with size and creation time" {
  require_bookworm_slim
  engine_tag debian:bookworm-slim "$STATUS_PREFIX/pi" latest
  engine_tag debian:bookworm-slim "$STATUS_PREFIX/claude" v2
  local info bytes created
  info=$(engine_api GET /images/debian:bookworm-slim/json)
  bytes=$(jq -r .Size <<<"$info")
  created=$(date -d "$(jq -r .Created <<<"$info")" +%s)

  run --separate-stderr adr status --json
  assert_success
  [ "$(jq length <<<"$output")" -eq 6 ]
  [ "$(jq '[.[] | select(.built)] | length' <<<"$output")" -eq 2 ]
  [ "$(jq -r '.[] | select(.agent == "pi") | "\(.tag) \(.size) \(.created) \(.built)"' <<<"$output")" = "latest $bytes $created true" ]
  [ "$(jq -r '.[] | select(.agent == "claude") | "\(.image):\(.tag) \(.built)"' <<<"$output")" = "$STATUS_PREFIX/claude:v2 true" ]
  [ "$(jq -r '.[] | select(.agent == "codex") | .built' <<<"$output")" = "false" ]
}

@test "images of another prefix are not shown" {
  require_bookworm_slim
  engine_tag debian:bookworm-slim "$STATUS_PREFIX/pi" latest
  global_config "ADR_IMAGE_PREFIX=$STATUS_PREFIX-other"
  run adr status --json
  assert_success
  [ "$(jq '[.[] | select(.built)] | length' <<<"$output")" -eq 0 ]
}

@test "a user-defined agent appears in status" {
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  cat >"$XDG_CONFIG_HOME/adr/agents/myagent.json" <<'JSON'
{ "name": "myagent", "description": "a test agent",
  "npm": { "package": "none", "version": "0" }, "binary": "true",
  "args": { "interactive": [], "headless": ["{prompt}"] } }
JSON
  run --separate-stderr adr status --json
  assert_success
  [ "$(jq length <<<"$output")" -eq 7 ]
  [ "$(jq -r '.[] | select(.agent == "myagent") | .image' <<<"$output")" = "$STATUS_PREFIX/myagent" ]
}

@test "unreachable unix socket: exit 1, one stderr line naming it" {
  DOCKER_HOST=unix:///nonexistent.sock run --separate-stderr adr status
  assert_status 1
  [ -z "$output" ] || fail "expected no stdout, got: $output"
  assert_one_line "$stderr"
  assert_stderr_contains "unix:///nonexistent.sock" "is the Docker daemon running?"
}

@test "unreachable tcp address: exit 1, one stderr line naming it" {
  DOCKER_HOST=tcp://127.0.0.1:1 run --separate-stderr adr status
  assert_status 1
  [ -z "$output" ] || fail "expected no stdout, got: $output"
  assert_one_line "$stderr"
  assert_stderr_contains "tcp://127.0.0.1:1" "is the Docker daemon running?"
}

@test "unreachable engine: --json fails the same way" {
  DOCKER_HOST=unix:///nonexistent.sock run --separate-stderr adr status --json
  assert_status 1
  [ -z "$output" ]
  assert_one_line "$stderr"
  assert_stderr_contains "is the Docker daemon running?"
}

make_context() { # name host
  local dir="$HOME/.docker/contexts/meta/$(printf '%s' "$1" | sha256sum | cut -c1-64)"
  mkdir -p "$dir"
  printf '{"Name":"%s","Metadata":{},"Endpoints":{"docker":{"Host":"%s","SkipTLSVerify":false}}}\n' "$1" "$2" \
    >"$dir/meta.json"
}

@test "the current docker context in ~/.docker/config.json is honoured" {
  make_context broken "unix://$BATS_TEST_TMPDIR/no-engine.sock"
  printf '{"auths":{},"currentContext":"broken"}\n' >"$HOME/.docker/config.json"
  unset DOCKER_HOST
  run --separate-stderr adr status
  assert_status 1
  assert_one_line "$stderr"
  assert_stderr_contains "unix://$BATS_TEST_TMPDIR/no-engine.sock" "is the Docker daemon running?"
}

@test "DOCKER_CONTEXT overrides the current context, DOCKER_HOST overrides both" {
  make_context broken "unix://$BATS_TEST_TMPDIR/no-engine.sock"
  make_context other "tcp://127.0.0.1:1"
  printf '{"currentContext":"broken"}\n' >"$HOME/.docker/config.json"
  unset DOCKER_HOST
  DOCKER_CONTEXT=other run --separate-stderr adr status
  assert_status 1
  assert_stderr_contains "tcp://127.0.0.1:1"

  DOCKER_HOST=unix:///nonexistent.sock run --separate-stderr adr status
  assert_status 1
  assert_stderr_contains "unix:///nonexistent.sock"
}

@test "context 'default' means the local socket" {
  engine_ok || fail "no engine answers on the local socket"
  [ -z "${DOCKER_HOST:-}" ] || skip "DOCKER_HOST is set for this run"
  make_context broken "unix://$BATS_TEST_TMPDIR/no-engine.sock"
  printf '{"currentContext":"broken"}\n' >"$HOME/.docker/config.json"
  DOCKER_CONTEXT=default run --separate-stderr adr status --json
  assert_success
  [ "$(jq length <<<"$output")" -eq 6 ]
}

@test "a context that does not exist is an error naming it" {
  unset DOCKER_HOST
  DOCKER_CONTEXT=nope run --separate-stderr adr status
  assert_status 1
  assert_one_line "$stderr"
  assert_stderr_contains "docker context 'nope' not found"
}

@test "status takes no arguments" {
  run --separate-stderr adr status extra-arg
  assert_status 2
  assert_stderr_contains "unexpected argument 'extra-arg'" "usage: adr status"
}

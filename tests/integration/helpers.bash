# Shared helpers for the integration tests (bats 1.5+).
#
#   bats_require_minimum_version 1.5.0
#   load helpers
#   setup() { setup_isolated; }
#
# The adr under test is $ADR_BIN (scripts/test.sh exports the fresh
# build/adr); the engine is whatever DOCKER_HOST names, else the local
# socket.  Nothing here reads or writes the real user's HOME.

ADR_BIN=${ADR_BIN:-$BATS_TEST_DIRNAME/../../build/adr}
export ADR_BIN
REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

adr() { "$ADR_BIN" "$@"; }

# A private HOME and XDG dirs under the test's temp dir, no docker context
# or debug switch from the caller's environment, cwd in a fresh directory.
setup_isolated() {
  export HOME="$BATS_TEST_TMPDIR/home"
  export XDG_CONFIG_HOME="$HOME/.config"
  export XDG_STATE_HOME="$HOME/.local/state"
  export XDG_DATA_HOME="$HOME/.local/share"
  unset DOCKER_CONTEXT DOCKER_CONFIG ADR_DEBUG
  local v
  for v in $(compgen -v ADR_); do
    [ "$v" = ADR_BIN ] || [ "$v" = ADR_EGRESS_POOL ] || unset "$v"
  done
  mkdir -p "$HOME" "$XDG_CONFIG_HOME/adr" "$BATS_TEST_TMPDIR/work"
  cd "$BATS_TEST_TMPDIR/work" || return 1
}

# A unique image prefix for this test file, so that real images (and other
# test files running at the same time) never show up.
unique_prefix() {
  printf 'adrtest-%s-%s%s' "$(basename "$BATS_TEST_FILENAME" .bats)" "$$" "$RANDOM"
}

# Writes KEY=VALUE lines to the isolated global config file.
global_config() { # KEY=VALUE...
  local kv
  for kv in "$@"; do printf '%s\n' "$kv"; done >"$XDG_CONFIG_HOME/adr/config"
}

# ---------------------------------------------------------------- engine
# Requests to the engine without the docker CLI (whose version may not
# match the engine): engine_api METHOD PATH [curl args...]
engine_api() {
  local method=$1 path=$2; shift 2
  local host=${DOCKER_HOST:-unix:///var/run/docker.sock}
  case "$host" in
    unix://*) curl -sS --fail --max-time 60 --unix-socket "${host#unix://}" -X "$method" "http://localhost$path" "$@" ;;
    tcp://*)  curl -sS --fail --max-time 60 -X "$method" "http://${host#tcp://}$path" "$@" ;;
    *) echo "engine_api: unsupported DOCKER_HOST '$host'" >&2; return 1 ;;
  esac
}

engine_ok() { engine_api GET /_ping >/dev/null 2>&1; }

# engine_tag SOURCE REPO TAG: tags an existing image as REPO:TAG
engine_tag() {
  engine_api POST "/images/$1/tag?repo=$2&tag=$3" >/dev/null
}

# engine_untag REF...: removes tags (never the image others still use)
engine_untag() {
  local r
  for r in "$@"; do
    engine_api DELETE "/images/$r?noprune=1" >/dev/null 2>&1 || true
  done
}

# Fails the test (skips would hide a broken set-up) when the base image the
# status tests tag is missing: scripts/make-bookworm-slim.sh makes it.
require_bookworm_slim() {
  engine_api GET /images/debian:bookworm-slim/json >/dev/null 2>&1 || {
    echo "debian:bookworm-slim is not in the engine: run scripts/make-bookworm-slim.sh" >&2
    return 1
  }
}

# ---------------------------------------------------------------- asserts
# Each prints what it expected and what it got on failure.
fail() { printf '%s\n' "$*" >&2; return 1; }

assert_status() { # expected
  [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status; output: $output"
}

assert_success() { assert_status 0; }

assert_output() { # exact
  [ "$output" = "$1" ] || fail "$(printf 'expected output:\n%s\ngot:\n%s' "$1" "$output")"
}

assert_output_contains() { # substring...
  local s
  for s in "$@"; do
    [[ "$output" == *"$s"* ]] || fail "$(printf 'expected output to contain: %s\ngot:\n%s' "$s" "$output")"
  done
}

assert_output_not_contains() { # substring...
  local s
  for s in "$@"; do
    [[ "$output" != *"$s"* ]] || fail "$(printf 'expected output NOT to contain: %s\ngot:\n%s' "$s" "$output")"
  done
}

assert_stderr_contains() { # substring... (needs run --separate-stderr)
  local s
  for s in "$@"; do
    [[ "${stderr:-}" == *"$s"* ]] || fail "$(printf 'expected stderr to contain: %s\ngot:\n%s' "$s" "${stderr:-}")"
  done
}

assert_stderr_empty() {
  [ -z "${stderr:-}" ] || fail "expected empty stderr, got: $stderr"
}

assert_line_matches() { # regex: some line of $output matches
  local l
  for l in "${lines[@]}"; do
    [[ "$l" =~ $1 ]] && return 0
  done
  fail "$(printf 'expected a line matching: %s\ngot:\n%s' "$1" "$output")"
}

# Number of lines in a string ("" has 0).
count_lines() {
  [ -z "$1" ] && { echo 0; return; }
  printf '%s\n' "$1" | wc -l
}

assert_one_line() { # text
  local n; n=$(count_lines "$1")
  [ "$n" -eq 1 ] || fail "$(printf 'expected exactly one line, got %s:\n%s' "$n" "$1")"
}

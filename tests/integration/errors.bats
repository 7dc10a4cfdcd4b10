#!/usr/bin/env bats
# The command line itself: unknown commands and options, stray arguments,
# help and version output, exit codes (0 ok, 1 failure, 2 usage).

bats_require_minimum_version 1.5.0
load helpers

setup() {
  setup_isolated
  global_config "ADR_IMAGE_PREFIX=$(unique_prefix)"
}

@test "no arguments: usage on stderr, exit 2" {
  run --separate-stderr adr
  assert_status 2
  [ -z "$output" ]
  assert_stderr_contains "usage: adr" "Commands:" "status"
}

@test "adr --help and -h: usage and every command on stdout, exit 0" {
  run --separate-stderr adr --help
  assert_success
  assert_stderr_empty
  assert_output_contains "usage: adr [--version] [--help] COMMAND [ARGS]"
  local c
  for c in run build update status config completions fix-owner version help; do
    assert_line_matches "^   $c +[a-z]"
  done
  local first=$output
  run adr -h
  assert_success
  assert_output "$first"
  run adr help
  assert_success
  assert_output "$first"
}

@test "unknown command: one line naming it, exit 2" {
  run --separate-stderr adr frobnicate
  assert_status 2
  [ -z "$output" ]
  assert_one_line "$stderr"
  assert_stderr_contains "'frobnicate' is not an adr command" "adr --help"
}

@test "unknown global option: named on stderr, exit 2" {
  run --separate-stderr adr --frobnicate
  assert_status 2
  [ -z "$output" ]
  assert_stderr_contains "unknown option '--frobnicate'"
}

@test "unknown command option: named with the command's usage, exit 2" {
  run --separate-stderr adr status --frobnicate
  assert_status 2
  [ -z "$output" ]
  assert_stderr_contains "adr status: unknown option '--frobnicate'" "usage: adr status [--json]"
  run --separate-stderr adr status -x
  assert_status 2
  assert_stderr_contains "unknown option '-x'"
  run --separate-stderr adr config --frobnicate
  assert_status 2
  assert_stderr_contains "adr config: unknown option '--frobnicate'"
}

@test "a missing option value is reported as such" {
  run --separate-stderr adr run --memory
  assert_status 2
  assert_stderr_contains "option '--memory' needs a value"
}

@test "a missing value names the option as it was written, long or short" {
  run --separate-stderr adr run --env
  assert_status 2
  assert_stderr_contains "adr run: option '--env' needs a value"
  [[ "$stderr" != *"'-e'"* ]] || fail "named the short option: $stderr"
  run --separate-stderr adr run -e
  assert_status 2
  assert_stderr_contains "adr run: option '-e' needs a value"
  run --separate-stderr adr build --tag
  assert_status 2
  assert_stderr_contains "adr build: option '--tag' needs a value"
  # an abbreviation is named in full; a flag given a value is refused
  run --separate-stderr adr run --mem
  assert_status 2
  assert_stderr_contains "adr run: option '--memory' needs a value"
  run --separate-stderr adr status --json=yes
  assert_status 2
  assert_stderr_contains "adr status: option '--json' takes no value"
}

@test "adr status extra-arg: unexpected argument, exit 2, engine not contacted" {
  DOCKER_HOST=unix:///nonexistent.sock run --separate-stderr adr status extra-arg
  assert_status 2
  [ -z "$output" ]
  assert_stderr_contains "adr status: unexpected argument 'extra-arg'" "usage: adr status"
  [[ "$stderr" != *daemon* ]] || fail "the engine was contacted: $stderr"
}

@test "adr help status and adr status --help print the same help" {
  run --separate-stderr adr help status
  assert_success
  assert_stderr_empty
  assert_output_contains "usage: adr status [--json]" "--json"
  local h=$output
  run --separate-stderr adr status --help
  assert_success
  assert_output "$h"
  # help never needs the engine
  DOCKER_HOST=unix:///nonexistent.sock run adr status --help
  assert_success
}

@test "every command has help" {
  local c
  for c in run build update status config completions fix-owner version help; do
    run --separate-stderr adr help "$c"
    assert_success
    assert_output_contains "usage: adr $c"
    run --separate-stderr adr "$c" --help
    assert_success
    assert_output_contains "usage: adr $c"
  done
}

@test "adr help of an unknown command fails naming it" {
  run --separate-stderr adr help frobnicate
  assert_status 1
  assert_stderr_contains "'frobnicate' is not an adr command"
  run --separate-stderr adr help status config
  assert_status 2
}

@test "adr --version and -V print the version alone" {
  run --separate-stderr adr --version
  assert_success
  assert_stderr_empty
  [[ "$output" =~ ^adr\ [0-9]+\.[0-9]+\.[0-9]+[^[:space:]]*$ ]] || fail "got: $output"
  local v=$output
  run adr -V
  assert_output "$v"
  # and it matches the project's version
  local pv
  pv=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$REPO_ROOT/meson.build" | head -1)
  [ "$v" = "adr $pv" ] || fail "adr says '$v', meson.build says '$pv'"
}

@test "adr version prints the version and the engine line" {
  engine_ok || fail "no engine answers"
  run --separate-stderr adr version
  assert_success
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "$(adr --version)" ]
  local re='^engine: [a-z]+ [0-9][^ ]* \(API [0-9]+\.[0-9]+\) at [a-z]+://'
  [[ "${lines[1]}" =~ $re ]] || fail "got: ${lines[1]}"
  # the engine's own version, as its API reports it
  local ver
  ver=$(engine_api GET /version | jq -r .Version)
  assert_output_contains " $ver "
}

@test "adr version with no engine still succeeds and says why" {
  DOCKER_HOST=unix:///nonexistent.sock run --separate-stderr adr version
  assert_success
  [ "${lines[0]}" = "$(adr --version)" ]
  [[ "${lines[1]}" == "engine: unavailable ("*"unix:///nonexistent.sock"*")" ]] || fail "got: ${lines[1]}"
}

@test "adr version takes no arguments" {
  run --separate-stderr adr version extra
  assert_status 2
  assert_stderr_contains "unexpected argument 'extra'"
}

@test "a write error on stdout is reported and fails" {
  [ -w /dev/full ] || skip "no /dev/full"
  run --separate-stderr bash -c '"$ADR_BIN" --help >/dev/full'
  assert_status 1
  assert_stderr_contains "write to stdout failed"
}

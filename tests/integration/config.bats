#!/usr/bin/env bats
# adr config: defaults, the global file and the project .adr with origins,
# set/get/unset round trips, and how bad files are reported.

bats_require_minimum_version 1.5.0
load helpers

setup() {
  setup_isolated
  GLOBAL="$XDG_CONFIG_HOME/adr/config"
}

# The ORIGIN column of `adr config` for KEY (last field of its row).
origin_of() { # key
  adr config | awk -v k="$1" '$1 == k { print $NF }'
}

@test "no files: every key shows its default with origin 'default'" {
  run --separate-stderr adr config
  assert_success
  assert_stderr_empty
  [[ "${lines[0]}" =~ ^KEY\ +VALUE\ +ORIGIN$ ]] || fail "bad header: ${lines[0]}"
  assert_line_matches '^ADR_AGENT +unset$'
  assert_line_matches '^ADR_TAG +latest +default$'
  assert_line_matches '^ADR_IMAGE_PREFIX +coding-agent +default$'
  assert_line_matches '^ADR_MEMORY +4g +default$'
  assert_line_matches '^ADR_CPUS +2 +default$'
  assert_line_matches '^ADR_PIDS +1024 +default$'
  assert_line_matches '^ADR_TIMEOUT +unset$'
}

@test "config --json lists keys, values and origins" {
  run --separate-stderr adr config --json
  assert_success
  [ "$(jq -r '.[] | select(.key == "ADR_AGENT") | "\(.value) \(.origin)"' <<<"$output")" = "null unset" ]
  [ "$(jq -r '.[] | select(.key == "ADR_TIMEOUT") | "\(.value) \(.origin)"' <<<"$output")" = "null unset" ]
}

@test "the global file overrides defaults; origin is FILE:LINE" {
  printf '# my settings\n\nADR_MEMORY=8g\nADR_AGENT = pi\n' >"$GLOBAL"
  run --separate-stderr adr config
  assert_success
  assert_stderr_empty
  assert_line_matches "^ADR_MEMORY +8g +$GLOBAL:3\$"
  assert_line_matches "^ADR_AGENT +pi +$GLOBAL:4\$"
  assert_line_matches '^ADR_CPUS +2 +default$'
}

@test "project .adr is found walking up and overrides the global file" {
  printf 'ADR_MEMORY=8g\nADR_CPUS=3\n' >"$GLOBAL"
  mkdir -p proj/src/deep
  printf '# project\nADR_MEMORY=16g\n' >proj/.adr
  cd proj/src/deep
  run --separate-stderr adr config
  assert_success
  assert_line_matches "^ADR_MEMORY +16g +$BATS_TEST_TMPDIR/work/proj/.adr:2\$"
  assert_line_matches "^ADR_CPUS +3 +$GLOBAL:2\$"
  run adr config get ADR_MEMORY
  assert_success
  assert_output 16g
  run adr config path
  assert_success
  assert_output_contains "global:  $GLOBAL" "project: $BATS_TEST_TMPDIR/work/proj/.adr"
}

@test "the nearest .adr wins over one further up" {
  mkdir -p outer/inner/sub
  printf 'ADR_TAG=outer\n' >outer/.adr
  printf 'ADR_TAG=inner\n' >outer/inner/.adr
  cd outer/inner/sub
  run adr config get ADR_TAG
  assert_success
  assert_output inner
  cd ../..
  run adr config get ADR_TAG
  assert_output outer
}

@test "no project file: config path says (none)" {
  run adr config path
  assert_success
  assert_output_contains "project: (none)"
}

@test "config set KEY=VALUE round trip, with spaces and quotes in the value" {
  local v='say "hi" it'"'"'s  two  spaces # not a comment'
  run --separate-stderr adr config set "ADR_MODEL_PI=$v"
  assert_success
  assert_stderr_contains "ADR_MODEL_PI set in $GLOBAL"
  [ -f "$GLOBAL" ]
  run --separate-stderr adr config get ADR_MODEL_PI
  assert_success
  assert_output "$v"
  # the origin names the file and line
  [ "$(origin_of ADR_MODEL_PI)" = "$GLOBAL:1" ]
  # and a second set of another key keeps the first
  run adr config set ADR_MEMORY=2g
  assert_success
  run adr config get ADR_MODEL_PI
  assert_output "$v"
  run adr config get ADR_MEMORY
  assert_output 2g
}

@test "config set with an empty value and with '=' in the value" {
  run adr config set 'ADR_MODEL_CODEX=a=b=c'
  assert_success
  run adr config get ADR_MODEL_CODEX
  assert_output 'a=b=c'
  run adr config set 'ADR_MOUNTS='
  assert_success
  run adr config get ADR_MOUNTS
  assert_success
  assert_output ''
}

@test "config set several keys at once" {
  run adr config set ADR_MEMORY=3g ADR_CPUS=1.5
  assert_success
  run adr config get ADR_MEMORY
  assert_output 3g
  run adr config get ADR_CPUS
  assert_output 1.5
}

@test "config set --project writes ./.adr when there is none, the nearest one otherwise" {
  run --separate-stderr adr config set --project ADR_AGENT=pi
  assert_success
  [ -f .adr ]
  [ ! -f "$GLOBAL" ] || ! grep -q ADR_AGENT "$GLOBAL"
  run adr config get ADR_AGENT
  assert_output pi
  [ "$(origin_of ADR_AGENT)" = "$BATS_TEST_TMPDIR/work/.adr:1" ]

  mkdir -p sub/dir
  cd sub/dir
  run --separate-stderr adr config set ADR_TAG=v9 --project
  assert_success
  [ ! -e .adr ]
  grep -qx 'ADR_TAG=v9' "$BATS_TEST_TMPDIR/work/.adr"
}

@test "in-place replace keeps comments, blank lines and other keys" {
  printf '# top comment\nADR_MEMORY=8g   # trailing comment\n\n# about cpus\nADR_CPUS=2\nADR_TAG=old\n' >"$GLOBAL"
  run adr config set ADR_CPUS=4
  assert_success
  run cat "$GLOBAL"
  assert_output "$(printf '# top comment\nADR_MEMORY=8g   # trailing comment\n\n# about cpus\nADR_CPUS=4\nADR_TAG=old')"
  run adr config get ADR_CPUS
  assert_output 4
}

@test "config set a key that appears twice leaves one line" {
  printf 'ADR_TAG=a\n# keep\nADR_TAG=b\n' >"$GLOBAL"
  run adr config set ADR_TAG=c
  assert_success
  [ "$(grep -c '^ADR_TAG=' "$GLOBAL")" -eq 1 ]
  grep -qx '# keep' "$GLOBAL"
  run adr config get ADR_TAG
  assert_output c
}

@test "config set FOO: Expected KEY=VALUE format" {
  run --separate-stderr adr config set FOO
  assert_status 1
  assert_stderr_contains "Expected KEY=VALUE format"
  [ ! -e "$GLOBAL" ]
}

@test "config set rejects unknown keys and invalid values, and writes nothing" {
  run --separate-stderr adr config set NOT_A_KEY=1
  assert_status 1
  assert_stderr_contains "unknown key 'NOT_A_KEY'"
  run --separate-stderr adr config set ADR_MEMORY=lots
  assert_status 1
  assert_stderr_contains "ADR_MEMORY"
  # one bad pair among good ones writes none of them
  run --separate-stderr adr config set ADR_CPUS=1 NOT_A_KEY=2
  assert_status 1
  [ ! -e "$GLOBAL" ] || ! grep -q . "$GLOBAL"
}

@test "config get: value, unset key, unknown key" {
  run adr config get ADR_PIDS
  assert_success
  assert_output 1024
  run --separate-stderr adr config get ADR_TIMEOUT
  assert_status 1
  [ -z "$output" ]
  run --separate-stderr adr config get NOPE
  assert_status 1
  assert_stderr_contains "unknown config key 'NOPE'"
  run --separate-stderr adr config get
  assert_status 2
}

@test "config unset removes the key from the global file, back to the default" {
  printf '# c\nADR_MEMORY=8g\nADR_TAG=x\n' >"$GLOBAL"
  run adr config unset ADR_MEMORY
  assert_success
  run cat "$GLOBAL"
  assert_output "$(printf '# c\nADR_TAG=x')"
  [ "$(origin_of ADR_MEMORY)" = default ]
  # unsetting again, or a key that is not there, is fine
  run adr config unset ADR_MEMORY
  assert_success
}

@test "config unset --project edits the nearest .adr" {
  printf 'ADR_AGENT=pi\nADR_TAG=p\n' >.adr
  printf 'ADR_AGENT=codex\n' >"$GLOBAL"
  mkdir sub && cd sub
  run adr config unset --project ADR_AGENT
  assert_success
  [ "$(cat ../.adr)" = "ADR_TAG=p" ]
  grep -qx 'ADR_AGENT=codex' "$GLOBAL"
  run adr config get ADR_AGENT
  assert_output codex
}

@test "config unset --project without any .adr is an error" {
  run --separate-stderr adr config unset --project ADR_AGENT
  assert_status 1
  assert_stderr_contains "no .adr file found"
}

@test "a malformed line is reported as FILE:LINE and fails config and status" {
  printf 'ADR_MEMORY=8g\n# fine\nthis is not a setting\n' >"$GLOBAL"
  run --separate-stderr adr config
  assert_status 1
  assert_stderr_contains "$GLOBAL:3: "
  run --separate-stderr adr status
  assert_status 1
  assert_stderr_contains "$GLOBAL:3: "
  [ -z "$output" ]
}

@test "a malformed project .adr is reported with its path and line" {
  printf 'ADR_TAG=ok\nADR_TAG="unterminated\n' >.adr
  run --separate-stderr adr status
  assert_status 1
  assert_stderr_contains "$BATS_TEST_TMPDIR/work/.adr:2: "
}

@test "an invalid value in a file is reported as FILE:LINE: KEY" {
  printf '\nADR_MEMORY=lots\n' >"$GLOBAL"
  run --separate-stderr adr config
  assert_status 1
  assert_stderr_contains "$GLOBAL:2: ADR_MEMORY"
}

@test "an unknown key in a file is one warning, even when repeated" {
  printf 'ADR_NOPE=1\nADR_MEMORY=8g\nADR_NOPE=2\n' >"$GLOBAL"
  run --separate-stderr adr config
  assert_success
  [ "$(grep -c "unknown key 'ADR_NOPE'" <<<"$stderr")" -eq 1 ] || fail "stderr: $stderr"
  assert_stderr_contains "$GLOBAL:1: unknown key 'ADR_NOPE'"
  assert_line_matches "^ADR_MEMORY +8g +$GLOBAL:2\$"
  assert_output_not_contains ADR_NOPE
}

@test "config set refuses to edit a malformed file and leaves it as it was" {
  printf 'ADR_TAG=a\nbroken line here\n' >"$GLOBAL"
  cp "$GLOBAL" "$BATS_TEST_TMPDIR/before"
  run --separate-stderr adr config set ADR_TAG=b
  assert_status 1
  cmp "$GLOBAL" "$BATS_TEST_TMPDIR/before"
}

@test "config never touches the engine" {
  DOCKER_HOST=unix:///nonexistent.sock run adr config
  assert_success
  DOCKER_HOST=unix:///nonexistent.sock run adr config set ADR_TAG=x
  assert_success
}

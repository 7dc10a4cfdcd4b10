#!/usr/bin/env bats
# adr scan and the secret scan of images adr builds: a key in a layer is
# found and named, only in the layers above the base, not in binaries;
# ADR_SCAN_ALLOW lets a path through. Images here are built with the
# engine directly, so that the scan is tested on its own.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
  require_bookworm_slim
  export SCANP="adrscan$$$RANDOM"
  local d=$BATS_FILE_TMPDIR/img
  mkdir -p "$d"
  ssh-keygen -q -t ed25519 -N '' -C planted -f "$d/id_ed25519"
  printf 'aws_access_key_id = AKIA%s\n' "$(printf 'Q7PLW4TRX2NBZ3MX')" >"$d/credentials"
  # a key in a layer of its own
  printf 'FROM debian:bookworm-slim\nCOPY id_ed25519 /root/.ssh/id_ed25519\n' >"$d/Dockerfile.key"
  docker build -q -t "$SCANP/key:1" -f "$d/Dockerfile.key" "$d" >/dev/null
  # built on it, adding only a harmless file: the key is in the base's layers
  printf 'FROM %s/key:1\nRUN echo hello >/hello\n' "$SCANP" >"$d/Dockerfile.on"
  docker build -q -t "$SCANP/on:1" -f "$d/Dockerfile.on" "$d" >/dev/null
  # an AWS key in a text file, and the same bytes in a binary file (not reported)
  printf 'FROM debian:bookworm-slim\nCOPY credentials /root/.aws/credentials\nRUN printf "\\\\000\\\\001" >/usr/local/lib/blob && cat /root/.aws/credentials >>/usr/local/lib/blob\n' >"$d/Dockerfile.aws"
  docker build -q -t "$SCANP/aws:1" -f "$d/Dockerfile.aws" "$d" >/dev/null
}

teardown_file() {
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$SCANP/" | xargs -r docker rmi -f >/dev/null 2>&1 || true
}

setup() { setup_isolated; }

@test "adr scan names the key and its file; a clean image has none (the control)" {
  run --separate-stderr adr scan "$SCANP/key:1"
  [ "$status" -eq 1 ]
  [ "$output" = "$SCANP/key:1: /root/.ssh/id_ed25519: a private key" ]
  [[ "$stderr" == *"1 finding"* ]]
  run --separate-stderr adr scan debian:bookworm-slim
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [[ "$stderr" == *"0 findings"* ]]
  run --separate-stderr adr scan "$SCANP/aws:1"
  [ "$status" -eq 1 ]
  [ "$output" = "$SCANP/aws:1: /root/.aws/credentials: an AWS access key" ]
}

@test "only the layers above --base count: a key in the base is the base's" {
  run --separate-stderr adr scan --base "$SCANP/key:1" "$SCANP/on:1"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # the control: without the base, the same image holds the key
  run --separate-stderr adr scan "$SCANP/on:1"
  [ "$status" -eq 1 ]
  [ "$output" = "$SCANP/on:1: /root/.ssh/id_ed25519: a private key" ]
  # a base it is not built on: every layer counts
  run --separate-stderr adr scan --base debian:bookworm-slim "$SCANP/on:1"
  [ "$status" -eq 1 ]
}

@test "ADR_SCAN_ALLOW lets a path through (the user's configuration only); bad images are named" {
  global_config ADR_SCAN_ALLOW=/root/.ssh/id_ed25519
  run --separate-stderr adr scan "$SCANP/key:1"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # a project's .adr cannot
  global_config ADR_SCAN_ALLOW=
  echo 'ADR_SCAN_ALLOW=/root/.ssh/id_ed25519' >.adr
  run --separate-stderr adr scan "$SCANP/key:1"
  [ "$status" -eq 1 ]
  rm .adr
  run --separate-stderr adr scan "$SCANP/missing:1"
  [ "$status" -eq 1 ]
  [ "$stderr" = "adr: scan '$SCANP/missing:1': image '$SCANP/missing:1' not found" ]
  run --separate-stderr adr scan
  [ "$status" -eq 2 ]
}

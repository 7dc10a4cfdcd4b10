#!/usr/bin/env bats
# adr build / adr update: argument handling and the choice of agents when
# none is named.  An unreachable engine stands at the end of every path
# here, so nothing is built: what is checked is what adr decided before it.
bats_require_minimum_version 1.5.0
load helpers

NOENGINE=unix:///nonexistent/adr-test.sock

setup() { setup_isolated; }

# Runs adr on a pseudo-terminal (util-linux script), feeding ANSWER to it.
on_tty() { # answer args...
  local answer=$1; shift
  local cmd="$ADR_BIN" a
  for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
  printf '%s\n' "$answer" | script -qec "$cmd" /dev/null
}

@test "build: options after the agent name are options, not agents" {
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build pi --tag x1 --no-cache
  assert_status 1
  [[ "$stderr" != *"unknown agent"* ]] || fail "an option was taken for an agent: $stderr"
  assert_stderr_contains "nonexistent/adr-test.sock"
  # the tag is checked, wherever it stands
  run --separate-stderr adr build pi --tag 'bad tag!'
  assert_status 2
  assert_stderr_contains "adr build:" "bad tag!"
  # control: a real unknown agent is still named as one
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build pi nosuchagent --tag x1
  assert_status 1
  assert_stderr_contains "unknown agent 'nosuchagent'"
}

@test "update: options after the agent name, --no-cache accepted" {
  DOCKER_HOST=$NOENGINE run --separate-stderr adr update pi --no-cache --tag x1
  assert_status 1
  [[ "$stderr" != *"unknown agent"* ]] || fail "an option was taken for an agent: $stderr"
  assert_stderr_contains "nonexistent/adr-test.sock"
  run --separate-stderr adr update --all
  assert_status 2
  assert_stderr_contains "adr update: unknown option '--all'"
}

@test "help: update has its own text, build describes the choice of agents" {
  run --separate-stderr adr help update
  assert_success
  assert_output_contains "usage: adr update" "Rebuilds agent images that are already present"
  assert_output_not_contains "--all" "Builds the adr base image"
  local h=$output
  run adr update --help
  assert_output "$h"
  run adr help build
  assert_success
  assert_output_contains "usage: adr build" "--all" "ADR_AGENT" "python3"
}

@test "build without an agent and without a terminal: names the agents, exit 2, nothing built" {
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build </dev/null
  assert_status 2
  assert_stderr_contains "adr build: name the agents to build (claude, codex, copilot, gemini, opencode, pi), or --all"
  [[ "$stderr" != *"nonexistent"* ]] || fail "the engine was contacted: $stderr"
}

@test "build without an agent: ADR_AGENT's agent, said in one line" {
  global_config ADR_AGENT=codex
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build </dev/null
  assert_status 1
  assert_stderr_contains "no agent named: building 'codex' (ADR_AGENT)"
  assert_stderr_contains "nonexistent/adr-test.sock"
  global_config ADR_AGENT=nosuch
  run --separate-stderr adr build </dev/null
  assert_status 1
  assert_stderr_contains "ADR_AGENT: unknown agent 'nosuch'"
}

@test "build without an agent on a terminal: the list, a question whose 'n' is not an error" {
  command -v script >/dev/null || fail "script (util-linux) is needed"
  DOCKER_HOST=$NOENGINE run on_tty n build
  assert_success
  assert_output_contains "Known agents: claude, codex, copilot, gemini, opencode, pi." "[y/N]" "nothing built"
  [[ "$output" != *"nonexistent"* ]] || fail "the engine was contacted: $output"
  # Enter is no as well
  DOCKER_HOST=$NOENGINE run on_tty "" build
  assert_success
  assert_output_contains "nothing built"
  # control: 'y' goes on to build (and meets the missing engine)
  DOCKER_HOST=$NOENGINE run on_tty y build
  assert_status 1
  assert_output_contains "nonexistent/adr-test.sock"
}

@test "build --all and --yes build every agent without asking" {
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build --all </dev/null
  assert_status 1
  assert_stderr_contains "nonexistent/adr-test.sock"
  [[ "$stderr" != *"name the agents"* ]] || fail "asked for names: $stderr"
  DOCKER_HOST=$NOENGINE run --separate-stderr adr build --yes </dev/null
  assert_status 1
  assert_stderr_contains "nonexistent/adr-test.sock"
}

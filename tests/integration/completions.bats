#!/usr/bin/env bats
# adr completions: the generated bash, zsh and fish scripts parse, complete
# commands, agents, flags and config keys, and `install` writes them under
# HOME.  The scripts call `adr completions --list ...` at completion time,
# so a directory with an `adr` link to $ADR_BIN goes first on PATH.

bats_require_minimum_version 1.5.0
load helpers

COMMANDS="run start ls attach logs exec ssh port diff merge stop rm team secret build update status warm prune serve submit runs runner config skill mcp image scan completions fix-owner version help"

setup() {
  setup_isolated
  mkdir -p "$BATS_TEST_TMPDIR/bin"
  ln -sf "$ADR_BIN" "$BATS_TEST_TMPDIR/bin/adr"
  export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

# Runs bash's _adr on a command line (words as arguments, the last being the
# word under the cursor) and prints COMPREPLY, one per line.
bash_complete() {
  bash -c 'source <(adr completions bash) || exit 9
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _adr
    printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}

# The same for fish, through `complete -C`.
fish_complete() { # "command line"
  fish --no-config -c 'adr completions fish | source; or exit 9; complete -C $argv[1]' "$1"
}

words() { tr '\n' ' ' | sed 's/ $//'; }

@test "bash: the script parses (bash -n) and registers _adr for adr" {
  run adr completions bash
  assert_success
  bash -n <<<"$output"
  run bash -c 'source <(adr completions bash); complete -p adr'
  assert_success
  assert_output_contains "-F _adr"
}

@test "bash: completes commands and top-level flags" {
  run bash_complete adr ''
  assert_success
  [ "$(words <<<"$output")" = "$COMMANDS --help --version" ]
  run bash_complete adr sta
  assert_output "$(printf 'start\nstatus')"
  run bash_complete adr --v
  assert_output --version
}

@test "bash: completes agent names after run/build/update, user agents included" {
  run bash_complete adr run ''
  assert_success
  [ "$(words <<<"$output")" = "claude codex copilot gemini opencode pi" ]
  run bash_complete adr build co
  [ "$(words <<<"$output")" = "codex copilot" ]

  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  cat >"$XDG_CONFIG_HOME/adr/agents/zed.json" <<'JSON'
{ "name": "zed", "npm": { "package": "none", "version": "0" }, "binary": "true",
  "args": { "interactive": [], "headless": ["{prompt}"] } }
JSON
  run bash_complete adr run z
  assert_output zed
}

@test "bash: completes each command's flags" {
  run bash_complete adr status --
  [ "$(words <<<"$output")" = "--json --help" ]
  run bash_complete adr run --mem
  assert_output --memory
  run bash_complete adr build --no
  assert_output --no-cache
  run bash_complete adr config --p
  assert_output --project
}

@test "bash: flag values: directories for --workspace, nothing for --prompt" {
  mkdir -p somedir/inner
  touch somefile
  run bash_complete adr run --workspace some
  assert_output somedir
  run bash_complete adr run --prompt some
  assert_output ''
}

@test "bash: config subcommands and keys" {
  run bash_complete adr config ''
  [ "$(words <<<"$output")" = "show get set unset path" ]
  run bash_complete adr config get ADR_ME
  assert_output ADR_MEMORY
  run bash_complete adr config set ADR_TA
  assert_output ADR_TAG=
  run bash_complete adr completions ''
  [ "$(words <<<"$output")" = "bash zsh fish install" ]
  run bash_complete adr help stat
  assert_output status
}

@test "zsh: the script parses (zsh -n)" {
  command -v zsh >/dev/null || skip "zsh is not installed"
  run adr completions zsh
  assert_success
  [[ "${lines[0]}" == "#compdef adr" ]]
  zsh -n <<<"$output"
}

@test "zsh: the command list has one NAME:SUMMARY entry per command" {
  command -v zsh >/dev/null || skip "zsh is not installed"
  # _describe and _arguments stubbed: print what the script hands them.
  run zsh -f -c '_describe() { print -rl -- "${(@P)2}"; }; _arguments() { :; }
    CURRENT=2; words=(adr ""); source <(adr completions zsh)'
  assert_success
  n=$(wc -w <<<"$COMMANDS")
  [ "${#lines[@]}" -eq "$n" ] || fail "expected $n entries, got ${#lines[@]}: $output"
  [ "$(printf '%s\n' "${lines[@]}" | cut -d: -f1 | words)" = "$COMMANDS" ]
  assert_output_contains "status:show agents and their images"
  assert_output_contains "version:print adr's version and the engine's"
}

@test "zsh: status offers its flags to _arguments" {
  command -v zsh >/dev/null || skip "zsh is not installed"
  run zsh -f -c '_describe() { :; }; _arguments() { print -rl -- "$@"; }
    CURRENT=3; words=(adr status ""); source <(adr completions zsh)'
  assert_success
  assert_output_contains "--json[json]" "--help[help]"
}

@test "fish: the script parses (fish -n)" {
  command -v fish >/dev/null || skip "fish is not installed"
  run adr completions fish
  assert_success
  fish --no-config -n <<<"$output"
}

@test "fish: the script loads without errors; quotes in descriptions survive" {
  command -v fish >/dev/null || skip "fish is not installed"
  run --separate-stderr fish --no-config -c 'adr completions fish | source'
  assert_success
  assert_stderr_empty
  run --separate-stderr fish_complete "adr ver"
  assert_output "$(printf "version\tprint adr's version and the engine's")"
}

@test "fish: completes commands with descriptions, agents, flags and keys" {
  command -v fish >/dev/null || skip "fish is not installed"
  run --separate-stderr fish_complete "adr stat"
  assert_output "$(printf 'status\tshow agents and their images')"
  run --separate-stderr fish_complete "adr run "
  [ "$(words <<<"$output")" = "claude codex copilot gemini opencode pi" ]
  run --separate-stderr fish_complete "adr status --"
  [ "$(cut -f1 <<<"$output" | sort | words)" = "--help --json" ]
  run --separate-stderr fish_complete "adr config get ADR_TI"
  assert_output ADR_TIMEOUT
}

@test "completions install writes bash, zsh and fish files under the XDG dirs" {
  run --separate-stderr adr completions install
  assert_success
  assert_output_contains "bash: $XDG_DATA_HOME/bash-completion/completions/adr" \
    "zsh: $XDG_DATA_HOME/zsh/site-functions/_adr" \
    "fish: $XDG_CONFIG_HOME/fish/completions/adr.fish"
  cmp "$XDG_DATA_HOME/bash-completion/completions/adr" <(adr completions bash)
  cmp "$XDG_DATA_HOME/zsh/site-functions/_adr" <(adr completions zsh)
  cmp "$XDG_CONFIG_HOME/fish/completions/adr.fish" <(adr completions fish)
  # re-running is fine
  run adr completions install
  assert_success
}

@test "completions install without XDG variables uses ~/.local/share and ~/.config" {
  unset XDG_DATA_HOME XDG_CONFIG_HOME
  run adr completions install
  assert_success
  [ -s "$HOME/.local/share/bash-completion/completions/adr" ]
  [ -s "$HOME/.local/share/zsh/site-functions/_adr" ]
  [ -s "$HOME/.config/fish/completions/adr.fish" ]
}

@test "completions: missing or unknown shell is a usage error" {
  run --separate-stderr adr completions
  assert_status 2
  assert_stderr_contains "bash, zsh, fish or install"
  run --separate-stderr adr completions tcsh
  assert_status 2
  assert_stderr_contains "unknown shell 'tcsh'"
}

@test "completions --list: commands, agents, keys, flags" {
  run adr completions --list commands
  assert_output "$COMMANDS"
  run adr completions --list agents
  assert_output "claude codex copilot gemini opencode pi"
  run adr completions --list flags status
  assert_output "--json --help"
  run adr completions --list keys
  assert_output_contains ADR_AGENT ADR_MEMORY ADR_TIMEOUT
  run --separate-stderr adr completions --list nope
  assert_status 1
}

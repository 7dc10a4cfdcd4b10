#!/usr/bin/env bats
# adr skill: the agent skill (SKILL.md) into each agent's own skills
# directory (its definition's "skills"); a file adr did not install is
# the user's; uninstall removes only adr's.

bats_require_minimum_version 1.5.0
load helpers

setup() { setup_isolated; }

ALL="claude:.claude/skills codex:.codex/skills copilot:.copilot/skills gemini:.gemini/skills opencode:.config/opencode/skills pi:.pi/agent/skills"

@test "install: every agent's skills directory gets the same SKILL.md, a valid skill named adr" {
  run --separate-stderr adr skill install
  assert_success
  adr skill show >"$BATS_TEST_TMPDIR/skill.md"
  local e agent dir
  for e in $ALL; do
    agent=${e%%:*} dir=$HOME/${e#*:}
    assert_output_contains "$(printf '%-9s %s: installed' "$agent" "$dir/adr/SKILL.md")"
    cmp "$dir/adr/SKILL.md" "$BATS_TEST_TMPDIR/skill.md"
  done
  [ "${#lines[@]}" -eq 6 ]
  # the open format: front matter with the directory's name and a description of 1-1024 characters
  [ "$(sed -n 1p "$BATS_TEST_TMPDIR/skill.md")" = --- ]
  [ "$(sed -n 's/^name: //p' "$BATS_TEST_TMPDIR/skill.md" | head -1)" = adr ]
  local d
  d=$(sed -n 's/^description: //p' "$BATS_TEST_TMPDIR/skill.md" | head -1)
  [ "${#d}" -ge 20 ] && [ "${#d}" -le 1024 ]
  # what it teaches is what adr does: every command it names exists
  local c
  for c in $(grep -oE '^adr [a-z-]+' "$BATS_TEST_TMPDIR/skill.md" | awk '{ print $2 }' | sort -u); do
    adr help "$c" >/dev/null || fail "the skill names 'adr $c', which is not a command"
  done
  # again: nothing to do
  run adr skill install claude
  assert_success
  assert_output "$(printf '%-9s %s: up to date' claude "$HOME/.claude/skills/adr/SKILL.md")"
}

@test "a SKILL.md adr did not install is kept, unless --force; uninstall removes only adr's" {
  mkdir -p "$HOME/.codex/skills/adr" "$HOME/.claude/skills/other"
  echo 'my own adr notes' >"$HOME/.codex/skills/adr/SKILL.md"
  echo 'another skill' >"$HOME/.claude/skills/other/SKILL.md"
  run adr skill install codex
  assert_success
  assert_output_contains "kept: not adr's (--force to replace or remove it)"
  [ "$(cat "$HOME/.codex/skills/adr/SKILL.md")" = 'my own adr notes' ]
  run adr skill install
  assert_success
  run adr skill uninstall
  assert_success
  assert_output_contains "$(printf '%-9s %s: removed' claude "$HOME/.claude/skills/adr/SKILL.md")"
  [ ! -e "$HOME/.claude/skills/adr" ]                      # its directory too, once empty
  [ "$(cat "$HOME/.claude/skills/other/SKILL.md")" = 'another skill' ]
  [ "$(cat "$HOME/.codex/skills/adr/SKILL.md")" = 'my own adr notes' ]
  run adr skill uninstall pi
  assert_output_contains "not installed"
  # forced: replaced, then removed
  run adr skill install --force codex
  assert_output_contains ": updated"
  grep -q '^name: adr$' "$HOME/.codex/skills/adr/SKILL.md"
}

@test "a user-defined agent with \"skills\" gets it; bad names and values are named" {
  mkdir -p "$XDG_CONFIG_HOME/adr/agents"
  cat >"$XDG_CONFIG_HOME/adr/agents/mine.json" <<'JSON'
{ "name": "mine", "npm": { "package": "none", "version": "0" }, "binary": "mine",
  "skills": "~/.mine/skills", "args": { "interactive": [], "headless": ["{prompt}"] } }
JSON
  cat >"$XDG_CONFIG_HOME/adr/agents/plain.json" <<'JSON'
{ "name": "plain", "npm": { "package": "none", "version": "0" }, "binary": "plain",
  "args": { "interactive": [], "headless": ["{prompt}"] } }
JSON
  run adr skill install mine
  assert_success
  assert_output "$(printf '%-9s %s: installed' mine "$HOME/.mine/skills/adr/SKILL.md")"
  run --separate-stderr adr skill install plain
  assert_status 1
  [ "$stderr" = "adr: agent 'plain' has no skills directory (its definition has no \"skills\")" ]
  run --separate-stderr adr skill install nosuch
  assert_status 1
  [[ "$stderr" == "adr: unknown agent 'nosuch'"* ]]
  run --separate-stderr adr skill frobnicate
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"unknown subcommand 'frobnicate' (install, uninstall, show)"* ]]
  # a "skills" outside the home is refused with the file named
  sed -i 's|"~/.mine/skills"|"/etc/skills"|' "$XDG_CONFIG_HOME/adr/agents/mine.json"
  run --separate-stderr adr skill install mine
  assert_status 1
  [[ "$stderr" == *"mine.json"*"\"skills\" must be a directory below the home"* ]]
}

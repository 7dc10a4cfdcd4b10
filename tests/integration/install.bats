#!/usr/bin/env bats
# install.sh and uninstall.sh: a real build and install into a temporary
# prefix, re-runs, exact removal, refusal to clobber, and all-or-nothing
# failure on a prefix that cannot be written.
#
# Every test uses the same prefix path (recreated empty for each test) so
# that the meson build directory, configured for that prefix once in
# setup_file, is reused instead of rebuilt.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
  export INST_HOME="$BATS_FILE_TMPDIR/home"
  export P="$INST_HOME/.local"
  export B="$BATS_FILE_TMPDIR/build"
  mkdir -p "$INST_HOME"
  HOME=$INST_HOME "$REPO_ROOT/install.sh" --builddir "$B" </dev/null >"$BATS_FILE_TMPDIR/first.log" 2>&1 || {
    tail -30 "$BATS_FILE_TMPDIR/first.log" >&3
    return 1
  }
  rm -rf "$INST_HOME"
}

setup() {
  rm -rf "$INST_HOME"
  mkdir -p "$INST_HOME"
  export HOME=$INST_HOME
  export XDG_CONFIG_HOME="$HOME/.config" XDG_STATE_HOME="$HOME/.local/state" XDG_DATA_HOME="$HOME/.local/share"
  unset PREFIX DOCKER_CONTEXT ADR_DEBUG
  mkdir -p "$BATS_TEST_TMPDIR/work"
  cd "$BATS_TEST_TMPDIR/work"
  # install.sh's compatibility links
  ALIASES=()
  eval "$(grep -E '^ALIASES=' "$REPO_ROOT/install.sh")"
}

teardown() {
  if [ -n "${RO_MOUNT:-}" ]; then umount "$RO_MOUNT" 2>/dev/null || true; fi
}

install_sh() { "$REPO_ROOT/install.sh" --builddir "$B" "$@" </dev/null; }
uninstall_sh() { "$REPO_ROOT/uninstall.sh" "$@" </dev/null; }

# Every file and directory under a directory, with type, mode, size and a
# checksum for files: what "left untouched" is compared with.
snapshot() { # dir
  (cd "$1" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
}

expected_files() {
  local m
  echo "$P/bin/adr"
  echo "$P/libexec/adr/adr-gateway"
  for m in "${ALIASES[@]}"; do echo "$P/bin/$m"; done
  # every page in man/ (NAME.SECTION.scd)
  for m in "$REPO_ROOT"/man/*.scd; do
    m=$(basename "$m" .scd)
    echo "$P/share/man/man${m##*.}/$m"
  done
  echo "$P/share/bash-completion/completions/adr"
  echo "$P/share/zsh/site-functions/_adr"
  echo "$P/share/fish/vendor_completions.d/adr.fish"
  (cd "$REPO_ROOT/config-examples" && find . -type f | sed "s|^\./|$P/share/adr/config-examples/|")
}

manifest_files() {
  grep -v -e '^#' -e '/$' "$P/share/adr/install-manifest" | sort
}

@test "install.sh --prefix: adr, man pages, completions and the manifest" {
  command -v scdoc >/dev/null || fail "scdoc is needed for the man pages (scripts/test.sh installs it)"
  run install_sh --prefix "$P"
  assert_success
  assert_output_contains "installed into $P" "bin/adr" "share/adr/install-manifest"

  [ -x "$P/bin/adr" ]
  run "$P/bin/adr" --version
  assert_success
  assert_output "$("$ADR_BIN" --version)"
  local f
  while read -r f; do
    [ -s "$f" ] || [ -L "$f" ] || fail "missing: $f"
  done < <(expected_files)
  cmp "$P/share/bash-completion/completions/adr" <("$P/bin/adr" completions bash)
  cmp "$P/share/zsh/site-functions/_adr" <("$P/bin/adr" completions zsh)
  cmp "$P/share/fish/vendor_completions.d/adr.fish" <("$P/bin/adr" completions fish)
  grep -q '^\.TH "adr-status" "1"' "$P/share/man/man1/adr-status.1"
  [ "$(stat -c %a "$P/bin/adr")" = 755 ]
  [ "$(stat -c %a "$P/libexec/adr/adr-gateway")" = 755 ]
  # static: it runs inside any image the gateway container uses
  ! ldd "$P/libexec/adr/adr-gateway" >/dev/null 2>&1 || ldd "$P/libexec/adr/adr-gateway" | grep -q 'statically linked' 
  [ "$(stat -c %a "$P/share/man/man1/adr.1")" = 644 ]

  # the manifest lists exactly the installed files
  [ "$(manifest_files)" = "$(expected_files | sort)" ] || fail "$(diff <(manifest_files) <(expected_files | sort))"
  # and nothing else is there (no temporary files left over)
  [ "$(find "$P" \( -type f -o -type l \) | sort)" = "$( (expected_files; echo "$P/share/adr/install-manifest") | sort)" ]
}

@test "compatibility aliases (ALIASES in install.sh) are links to adr" {
  run install_sh --prefix "$P"
  assert_success
  local a
  for a in "${ALIASES[@]}"; do
    [ -L "$P/bin/$a" ] && [ "$(readlink "$P/bin/$a")" = adr ] || fail "$P/bin/$a is not a link to adr"
  done
  # no link for a name that is not in ALIASES
  [ "$(find "$P/bin" -type l | wc -l)" -eq "${#ALIASES[@]}" ]
  # each answers as the command it stands for (dispatched on argv[0])
  run "$P/bin/run-claude" --help
  assert_success
  assert_output_contains "usage: adr run"
  run "$P/bin/list-agents" --help
  assert_output_contains "usage: adr ls"
  run "$P/bin/launch-agent" --help
  assert_output_contains "usage: adr start"
  run "$P/bin/remove-agent" --help
  assert_output_contains "usage: adr rm"
  run "$P/bin/connect-agent" --help
  assert_output_contains "usage: adr attach"
}

@test "the default prefix is ~/.local; PREFIX in the environment overrides it" {
  run install_sh
  assert_success
  [ -x "$HOME/.local/bin/adr" ]
  [ -f "$HOME/.local/share/adr/install-manifest" ]
  run uninstall_sh --yes
  assert_success
  [ ! -e "$HOME/.local/bin/adr" ]

  # PREFIX=... wins over HOME (the same path as before, so the build is reused)
  local other="$BATS_TEST_TMPDIR/other-home"
  mkdir -p "$other"
  HOME=$other PREFIX="$P" run install_sh
  assert_success
  [ -x "$P/bin/adr" ]
  [ -z "$(ls -A "$other")" ]
  HOME=$other PREFIX="$P" run uninstall_sh --yes
  assert_success
  [ ! -e "$P/bin/adr" ]
}

@test "install.sh prints a hint when PREFIX/bin is not on PATH, and not when it is" {
  PATH="/usr/bin:/bin" run install_sh --prefix "$P"
  assert_success
  assert_output_contains "$P/bin is not on your PATH"
  PATH="$P/bin:/usr/bin:/bin" run install_sh --prefix "$P"
  assert_success
  assert_output_not_contains "not on your PATH"
}

@test "install.sh is re-runnable: same files, same manifest" {
  run install_sh --prefix "$P"
  assert_success
  local before
  before=$(snapshot "$P")
  run install_sh --prefix "$P"
  assert_success
  [ "$(snapshot "$P")" = "$before" ] || fail "$(diff <(echo "$before") <(snapshot "$P"))"
}

@test "install.sh replaces a file it installed earlier that was changed" {
  run install_sh --prefix "$P"
  assert_success
  echo stale >"$P/share/zsh/site-functions/_adr"
  run install_sh --prefix "$P"
  assert_success
  cmp "$P/share/zsh/site-functions/_adr" <("$P/bin/adr" completions zsh)
}

@test "install and uninstall never touch config, .adr files or unrelated files" {
  mkdir -p "$XDG_CONFIG_HOME/adr" "$HOME/project" "$P/bin" "$P/share/man/man1"
  printf 'ADR_MEMORY=8g\n' >"$XDG_CONFIG_HOME/adr/config"
  printf 'ADR_AGENT=pi\n' >"$HOME/project/.adr"
  echo 'other tool' >"$P/bin/other-tool"
  echo 'other page' >"$P/share/man/man1/other.1"
  local cfg_before
  cfg_before=$(snapshot "$HOME/.config"; snapshot "$HOME/project")

  run install_sh --prefix "$P"
  assert_success
  run uninstall_sh --prefix "$P" --yes
  assert_success

  [ "$(snapshot "$HOME/.config"; snapshot "$HOME/project")" = "$cfg_before" ]
  [ "$(cat "$P/bin/other-tool")" = "other tool" ]
  [ "$(cat "$P/share/man/man1/other.1")" = "other page" ]
  # directories that existed before stay; nothing of adr's is left
  [ -d "$P/bin" ] && [ -d "$P/share/man/man1" ]
  [ -z "$(find "$P" -name '*adr*')" ] || fail "left behind: $(find "$P" -name '*adr*')"
}

@test "uninstall.sh --yes removes exactly what was installed" {
  mkdir -p "$P/share"
  echo keep >"$P/share/keep.txt"
  local before
  before=$(snapshot "$P")
  run install_sh --prefix "$P"
  assert_success
  local files
  files=$(manifest_files)

  run uninstall_sh --prefix "$P" --yes
  assert_success
  local f
  while read -r f; do
    assert_output_contains "$f"
    [ ! -e "$f" ] && [ ! -L "$f" ] || fail "not removed: $f"
  done <<<"$files"
  [ ! -e "$P/share/adr" ]
  # the prefix is back to what it was
  [ "$(snapshot "$P")" = "$before" ] || fail "$(diff <(echo "$before") <(snapshot "$P"))"
}

@test "uninstall.sh keeps files the user added to directories install.sh created" {
  run install_sh --prefix "$P"
  assert_success
  # something the user put into a directory install.sh created
  echo mine >"$P/share/bash-completion/completions/other"
  run uninstall_sh --prefix "$P" --yes
  assert_success
  [ "$(cat "$P/share/bash-completion/completions/other")" = mine ]
  [ ! -e "$P/bin/adr" ]
}

@test "uninstall.sh without a terminal and without --yes refuses and removes nothing" {
  run install_sh --prefix "$P"
  assert_success
  local before
  before=$(snapshot "$P")
  run --separate-stderr uninstall_sh --prefix "$P"
  assert_status 1
  assert_stderr_contains "--yes"
  [ "$(snapshot "$P")" = "$before" ]
}

@test "uninstall.sh with nothing installed says so and succeeds (re-runnable)" {
  run uninstall_sh --prefix "$P" --yes
  assert_success
  assert_output_contains "not installed"
  run install_sh --prefix "$P"
  assert_success
  run uninstall_sh --prefix "$P" --yes
  assert_success
  run uninstall_sh --prefix "$P" --yes
  assert_success
  assert_output_contains "not installed"
}

@test "a file install.sh did not put there is not replaced without --yes" {
  mkdir -p "$P/bin"
  echo 'someone else' >"$P/bin/adr"
  run --separate-stderr install_sh --prefix "$P"
  assert_status 1
  assert_stderr_contains "$P/bin/adr" "--yes"
  [ "$(cat "$P/bin/adr")" = "someone else" ]
  [ ! -e "$P/share/adr/install-manifest" ]
  [ "$(find "$P" \( -type f -o -type l \))" = "$P/bin/adr" ]

  run install_sh --prefix "$P" --yes
  assert_success
  run "$P/bin/adr" --version
  assert_success
}

@test "an unwritable prefix (under a file) fails with one clear line and installs nothing" {
  run --separate-stderr install_sh --prefix /dev/null/x
  assert_status 1
  assert_one_line "$stderr"
  assert_stderr_contains "/dev/null/x" "/dev/null is not a directory"
  [ ! -e /dev/null/x ]
}

@test "a read-only prefix fails with one clear line and leaves nothing behind" {
  [ "$(id -u)" = 0 ] || skip "mounting a read-only tmpfs needs root"
  local ro="$BATS_TEST_TMPDIR/ro"
  mkdir -p "$ro"
  mount -t tmpfs -o ro,size=1m tmpfs "$ro" || skip "cannot mount a tmpfs here"
  RO_MOUNT=$ro
  run --separate-stderr install_sh --prefix "$ro/prefix"
  assert_status 1
  assert_one_line "$stderr"
  assert_stderr_contains "$ro/prefix" "not writable"
  [ -z "$(ls -A "$ro")" ]

  # read-only where the files go, but the prefix itself exists
  umount "$ro"
  mkdir -p "$ro/prefix/bin"
  mount -t tmpfs -o ro,size=1m tmpfs "$ro/prefix/bin"
  RO_MOUNT="$ro/prefix/bin"
  run --separate-stderr install_sh --prefix "$ro/prefix"
  assert_status 1
  assert_stderr_contains "$ro/prefix/bin"
  [ "$(cd "$ro/prefix" && find . | sort | tr '\n' ' ')" = ". ./bin " ]
}

@test "install.sh and uninstall.sh: --help, unknown options" {
  run "$REPO_ROOT/install.sh" --help
  assert_success
  assert_output_contains "--deps" "--prefix" "--yes"
  [[ "$output" != *"set -euo"* ]] || fail "install.sh --help prints code: $output"
  run --separate-stderr "$REPO_ROOT/install.sh" --bogus
  assert_status 2
  assert_stderr_contains "unknown option '--bogus'"
  run "$REPO_ROOT/uninstall.sh" --help
  assert_success
  assert_output_contains "--prefix" "--yes"
  [[ "$output" != *"set -euo"* ]] || fail "uninstall.sh --help prints code: $output"
  run --separate-stderr "$REPO_ROOT/uninstall.sh" --bogus
  assert_status 2
}

@test "config examples: each parses as its agent reads it, adr's load without warnings, none holds a key" {
  local ex=$REPO_ROOT/config-examples f
  for f in $(cd "$ex" && find . -name '*.json'); do
    jq -e . "$ex/$f" >/dev/null || fail "$f is not JSON"
  done
  python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$ex/codex/config.toml"
  # adr's own, as adr reads them
  setup_isolated
  cp "$ex/adr/config" "$XDG_CONFIG_HOME/adr/config"
  cp "$ex/adr/project.adr" .adr
  run --separate-stderr adr config
  assert_success
  assert_stderr_empty
  assert_line_matches '^ADR_AGENT +claude +'
  assert_line_matches '^ADR_MEMORY +8g +.*\.adr'
  # mcp.json, as adr run reads it
  cp "$ex/adr/mcp.json" "$XDG_CONFIG_HOME/adr/mcp.json"
  run --separate-stderr adr mcp
  assert_success
  assert_line_matches '^github +stdio +sidecar +GITHUB_TOKEN \(missing\) +all$'
  assert_line_matches '^docs +http +relay +DOCS_TOKEN \(missing\) +all$'
  assert_line_matches '^scratch +stdio +in the sandbox +- +claude,codex$'
  # no key, token or private key anywhere; the control: the same scan finds a planted one
  local keys='sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-|AIza[0-9A-Za-z_-]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY'
  ! grep -rEn "$keys" "$ex"
  printf '{"apiKey": "sk-ant-api03-%s"}\n' "$(printf 'x%.0s' $(seq 40))" >"$BATS_TEST_TMPDIR/planted.json"
  grep -Eq "$keys" "$BATS_TEST_TMPDIR/planted.json"
}

# every library meson.build needs (but threads, the C library's) is
# checked by install.sh (DIR/install.sh), and --deps installs its package
deps_covered() { # DIR
  local dep pkg n=0
  for dep in $(grep -oE "dependency\('[a-z0-9.-]+'" "$REPO_ROOT/meson.build" | sed "s/dependency('//; s/'//" | sort -u); do
    [ "$dep" = threads ] && continue
    n=$((n + 1))
    pkg=$(grep -oE "pkg-config --exists $dep \|\| missing\+=\(([a-z0-9.-]+)\)" "$1/install.sh" |
      sed -E 's/.*missing\+=\(([a-z0-9.-]+)\)/\1/')
    [ -n "$pkg" ] || { echo "install.sh does not check $dep"; return 1; }
    sed -n '/local pkgs=(/,/)/p' "$1/install.sh" | grep -qw -- "$pkg" ||
      { echo "install.sh --deps does not install $pkg (for $dep)"; return 1; }
  done
  [ "$n" -ge 10 ] # meson.build's dependencies were found
}

@test "install.sh checks every library meson.build needs, and --deps installs its package" {
  deps_covered "$REPO_ROOT"
  # the control: without one check, the test says which
  mkdir -p "$BATS_TEST_TMPDIR/r"
  grep -v 'pkg-config --exists libseccomp ' "$REPO_ROOT/install.sh" >"$BATS_TEST_TMPDIR/r/install.sh"
  run deps_covered "$BATS_TEST_TMPDIR/r"
  [ "$status" -ne 0 ]
  [ "$output" = "install.sh does not check libseccomp" ]
}

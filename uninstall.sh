#!/usr/bin/env bash
# Removes what ./install.sh installed, exactly the files its manifest
# (PREFIX/share/adr/install-manifest) lists, and the directories it created
# when they are empty.
#
#   ./uninstall.sh [--prefix DIR] [--yes]
#
#   --prefix DIR   where adr was installed (default: $PREFIX, else ~/.local)
#   --yes          do not ask for confirmation (needed without a terminal)
#
# Never touches your configuration (~/.config/adr), .adr files, images or
# adr's state directory; it removes the egress pool's free units (adr prune).
set -euo pipefail

PROG=uninstall.sh
say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }

YES=0 PREFIX=${PREFIX:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --yes|-y) YES=1 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    -h|--help) usage; exit 0 ;;
    *) printf '%s: unknown option %s\n' "$PROG" "'$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$PREFIX" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: use --prefix DIR"
  PREFIX="$HOME/.local"
fi
case "$PREFIX" in /*) ;; *) PREFIX="$PWD/$PREFIX" ;; esac
while [ "${#PREFIX}" -gt 1 ] && [ "${PREFIX%/}" != "$PREFIX" ]; do PREFIX=${PREFIX%/}; done

DATA_DIR="$PREFIX/share/adr"
MANIFEST="$DATA_DIR/install-manifest"
if [ ! -f "$MANIFEST" ]; then
  say "adr is not installed in $PREFIX (no $MANIFEST): nothing to remove"
  exit 0
fi

# Paths that are never removed, whatever the manifest says.
CONFIG_DIR="${XDG_CONFIG_HOME:-${HOME:-/nonexistent}/.config}/adr"
STATE_DIR="${XDG_STATE_HOME:-${HOME:-/nonexistent}/.local/state}/adr"
protected() { # path
  case "$1" in
    "$CONFIG_DIR"|"$CONFIG_DIR"/*|"$STATE_DIR"|"$STATE_DIR"/*) return 0 ;;
    */.adr|*/../*|*/./*|*/..|*/.) return 0 ;;
  esac
  return 1
}

FILES=() DIRS=() SKIPPED=()
while IFS= read -r l || [ -n "$l" ]; do
  case "$l" in ''|'#'*) continue ;; esac
  p=${l%/}
  case "$l" in
    "$PREFIX"/?*) ;;
    "$PREFIX/") ;; # the prefix itself, when install.sh created it
    *) SKIPPED+=("$l (outside $PREFIX)"); continue ;;
  esac
  if protected "$p"; then SKIPPED+=("$l (protected)"); continue; fi
  case "$l" in */) DIRS+=("$p") ;; *) FILES+=("$p") ;; esac
done <"$MANIFEST"

PRESENT=()
for f in "${FILES[@]}"; do
  if [ -L "$f" ] || [ -f "$f" ]; then PRESENT+=("$f"); fi
done

say "uninstalling adr from $PREFIX:"
for f in "${PRESENT[@]}"; do say "  ${f#"$PREFIX"/}"; done
say "  ${MANIFEST#"$PREFIX"/}"
for s in "${SKIPPED[@]}"; do warn "ignoring manifest entry $s"; done

if [ "$YES" != 1 ]; then
  if [ ! -t 0 ]; then
    die "refusing to remove files without confirmation: no terminal to ask on (rerun with --yes)"
  fi
  printf 'Remove these files? [y/N] ' >&2
  read -r answer || answer=""
  case "$answer" in y|Y|yes|YES) ;; *) say "nothing removed"; exit 1 ;; esac
fi

# The egress pool's free units run this adr's gateway: they go first (the
# engine may be down: then there is nothing running to remove).
if [ -x "$PREFIX/bin/adr" ]; then
  pruned=$("$PREFIX/bin/adr" prune 2>/dev/null) || pruned=""
  case $pruned in "" | "removed 0 "*) ;; *) say "$pruned" ;; esac
fi

REMOVED=()
for f in "${PRESENT[@]}"; do
  if [ -d "$f" ] && [ ! -L "$f" ]; then warn "not removing $f: it is a directory now"; continue; fi
  rm -f -- "$f" && REMOVED+=("$f")
done
for f in "${FILES[@]}"; do
  in=0
  for p in "${PRESENT[@]}"; do [ "$p" = "$f" ] && in=1; done
  [ "$in" = 1 ] || say "already gone: $f"
done
rm -f -- "$MANIFEST" && REMOVED+=("$MANIFEST")

# Directories install.sh created, deepest first, only when empty.
mapfile -t SORTED < <(printf '%s\n' "${DIRS[@]}" "$DATA_DIR" | awk 'NF' | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- | awk '!seen[$0]++')
for d in "${SORTED[@]}"; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  if rmdir -- "$d" 2>/dev/null; then REMOVED+=("$d/"); fi
done

say "removed:"
for f in "${REMOVED[@]}"; do say "  $f"; done
say "kept: your configuration ($CONFIG_DIR), .adr files and images"

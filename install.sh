#!/usr/bin/env bash
# Builds adr from this checkout and installs it for you (default ~/.local).
#
#   ./install.sh [--deps] [--prefix DIR] [--builddir DIR] [--yes]
#
#   --deps          first install the build dependencies and Docker with apt
#                   (sudo when not root), start dockerd when no engine answers,
#                   and make debian:bookworm-slim available: from nothing to a
#                   working adr
#   --prefix DIR    install under DIR (default: $PREFIX, else ~/.local)
#   --builddir DIR  meson build directory (default: build-install/ here)
#   --yes           do not ask: install packages, replace files that another
#                   program put where adr's go
#
# Installs PREFIX/bin/adr, the man pages (when scdoc is there) under
# PREFIX/share/man, bash/zsh/fish completions under PREFIX/share, and a list
# of it all in PREFIX/share/adr/install-manifest for ./uninstall.sh.
# Re-runnable.  Never touches your configuration (~/.config/adr), .adr files
# or images.  Installs everything or nothing.
set -euo pipefail

# Compatibility names installed as symlinks to adr (e.g. ALIASES=(adr-tmux)).
ALIASES=(run-claude run-codex run-opencode run-pi run-gemini run-copilot launch-agent list-agents remove-agent connect-agent adr-tmux)

PROG=install.sh
say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }

HERE=$(cd "$(dirname "$0")" && pwd)
ORIG_PWD=$PWD
DEPS=0 YES=0 BUILDDIR="" PREFIX=${PREFIX:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --deps) DEPS=1 ;;
    --yes|-y) YES=1 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --builddir) [ $# -ge 2 ] || die "--builddir needs a directory"; BUILDDIR=$2; shift ;;
    --builddir=*) BUILDDIR=${1#--builddir=} ;;
    -h|--help) usage; exit 0 ;;
    *) printf '%s: unknown option %s\n' "$PROG" "'$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

absolute() { # path -> absolute, without trailing slashes
  local p=$1
  case "$p" in /*) ;; *) p="$ORIG_PWD/$p" ;; esac
  while [ "${#p}" -gt 1 ] && [ "${p%/}" != "$p" ]; do p=${p%/}; done
  printf '%s' "$p"
}
if [ -z "$PREFIX" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: use --prefix DIR"
  PREFIX="$HOME/.local"
fi
PREFIX=$(absolute "$PREFIX")
BUILDDIR=$(absolute "${BUILDDIR:-$HERE/build-install}")
case "$PREFIX" in *$'\n'*) die "the prefix may not contain a newline" ;; esac

interactive() { [ -t 0 ] && [ -t 2 ]; }
confirm() { # question -> 0 for yes
  [ "$YES" = 1 ] && return 0
  interactive || return 1
  local a
  printf '%s [y/N] ' "$1" >&2
  read -r a || return 1
  case "$a" in y|Y|yes|YES) return 0 ;; *) return 1 ;; esac
}

# ------------------------------------------------------------------ deps
SUDO=""
need_root() { # why
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "$1 needs root: run as root or install sudo"
    SUDO=sudo
  fi
}
engine_ok() { $SUDO curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

install_deps() {
  command -v apt-get >/dev/null || die "--deps needs apt-get (Debian/Ubuntu); install a C compiler, meson, ninja, pkg-config, libcurl, jansson and Docker yourself"
  need_root "--deps"
  local pkgs=(meson ninja-build pkg-config gcc libc6-dev libcurl4-openssl-dev libjansson-dev libc-ares-dev libssl-dev
              libsqlite3-dev libpq-dev libmicrohttpd-dev libarchive-dev libyaml-dev libseccomp-dev libcap-dev python3 scdoc curl
              ca-certificates debootstrap docker.io
              slirp4netns) # slirp4netns: the native engine's open network
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "packages to install: ${missing[*]}"
    if [ "$YES" != 1 ] && interactive && ! confirm "install them with apt-get?"; then
      die "not installing packages; rerun without --deps once they are installed"
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      || die "apt-get install failed: ${missing[*]}"
  fi

  if [ -n "${DOCKER_HOST:-}" ]; then
    say "DOCKER_HOST is set ($DOCKER_HOST): not starting a local dockerd"
  elif ! engine_ok; then
    say "starting dockerd"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
      $SUDO systemctl enable --now docker >/dev/null 2>&1 || true
    fi
    if ! engine_ok; then
      command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
      $SUDO sh -c 'nohup dockerd >/var/log/adr-dockerd.log 2>&1 </dev/null &'
    fi
    local i
    for i in $(seq 60); do engine_ok && break; sleep 0.5; done
    engine_ok || die "dockerd did not answer on /var/run/docker.sock within 30 s (log: /var/log/adr-dockerd.log)"
  fi

  if [ "$(id -u)" != 0 ] && ! id -nG | tr ' ' '\n' | grep -qx docker; then
    if confirm "add $(id -un) to the docker group (needed to use the engine without sudo)?"; then
      $SUDO usermod -aG docker "$(id -un)" && say "added $(id -un) to the docker group: log in again (or run 'newgrp docker') before using adr"
    else
      say "hint: to use the engine without sudo: sudo usermod -aG docker $(id -un), then log in again"
    fi
  fi

  $SUDO "$HERE/scripts/make-bookworm-slim.sh" || die "could not make debian:bookworm-slim available"
}

check_build_deps() {
  local missing=()
  command -v meson >/dev/null || missing+=(meson)
  command -v ninja >/dev/null || missing+=(ninja-build)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v cc >/dev/null || missing+=(gcc)
  command -v python3 >/dev/null || missing+=(python3)
  if command -v pkg-config >/dev/null; then
    pkg-config --exists libcurl || missing+=(libcurl4-openssl-dev)
    pkg-config --exists jansson || missing+=(libjansson-dev)
    pkg-config --exists libcares || missing+=(libc-ares-dev)
    pkg-config --exists libcrypto || missing+=(libssl-dev)
    pkg-config --exists openssl || missing+=(libssl-dev)
    pkg-config --exists sqlite3 || missing+=(libsqlite3-dev)
    pkg-config --exists libpq || missing+=(libpq-dev)
    pkg-config --exists libmicrohttpd || missing+=(libmicrohttpd-dev)
    pkg-config --exists libarchive || missing+=(libarchive-dev)
    pkg-config --exists yaml-0.1 || missing+=(libyaml-dev)
    pkg-config --exists libseccomp || missing+=(libseccomp-dev)
    pkg-config --exists libcap || missing+=(libcap-dev)
  fi
  [ ${#missing[@]} -eq 0 ] ||
    die "missing build dependencies: ${missing[*]} (run ./install.sh --deps, or apt-get install ${missing[*]})"
}

# ------------------------------------------------------------------ layout
BIN_DIR="$PREFIX/bin"
LIBEXEC_DIR="$PREFIX/libexec/adr"
MAN1_DIR="$PREFIX/share/man/man1"
MAN5_DIR="$PREFIX/share/man/man5"
BASH_DIR="$PREFIX/share/bash-completion/completions"
ZSH_DIR="$PREFIX/share/zsh/site-functions"
FISH_DIR="$PREFIX/share/fish/vendor_completions.d"
DATA_DIR="$PREFIX/share/adr"
MANIFEST="$DATA_DIR/install-manifest"
DEST_DIRS=("$BIN_DIR" "$LIBEXEC_DIR" "$MAN1_DIR" "$MAN5_DIR" "$BASH_DIR" "$ZSH_DIR" "$FISH_DIR" "$DATA_DIR")
# configuration examples (no keys), each agent's in a directory of its own
EXAMPLES_DIR="$DATA_DIR/config-examples"
EXAMPLE_FILES=()
while IFS= read -r f; do EXAMPLE_FILES+=("$f"); done < <(cd "$HERE/config-examples" && find . -type f | sed 's|^\./||' | sort)
for f in "${EXAMPLE_FILES[@]}"; do
  d=$(dirname "$EXAMPLES_DIR/$f")
  in_dirs=0
  for x in "${DEST_DIRS[@]}"; do [ "$x" = "$d" ] && in_dirs=1; done
  [ "$in_dirs" = 1 ] || DEST_DIRS+=("$d")
done

# Can DIR be created (or written, when it exists)?  Prints why not.
writable_dir() { # dir
  local d=$1 p=$1 probe
  while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=$(dirname "$p"); done
  if [ ! -d "$p" ]; then
    echo "cannot install into $d: $p is not a directory"; return 1
  fi
  if [ ! -w "$p" ] || ! probe=$(mktemp "$p/.adr-install-probe.XXXXXX" 2>/dev/null); then
    if [ "$p" = "$d" ]; then echo "cannot write to $d"; else echo "cannot create $d: $p is not writable"; fi
    return 1
  fi
  rm -f "$probe"
}

preflight() {
  local d why
  for d in "${DEST_DIRS[@]}"; do
    why=$(writable_dir "$d") || die "$why"
  done
}

# ------------------------------------------------------------------ main
[ "$DEPS" = 1 ] && install_deps
check_build_deps
preflight # fail before the build when nothing could be installed anyway

say "building adr in $BUILDDIR (prefix $PREFIX)"
mkdir -p "$BUILDDIR" 2>/dev/null || die "cannot create the build directory $BUILDDIR"
LOG="$BUILDDIR/install-build.log"
{
  if [ -f "$BUILDDIR/build.ninja" ]; then
    meson setup --reconfigure --prefix "$PREFIX" "$BUILDDIR" "$HERE"
  else
    meson setup --prefix "$PREFIX" "$BUILDDIR" "$HERE"
  fi
} >"$LOG" 2>&1 || { tail -30 "$LOG" >&2; die "meson setup failed (log: $LOG)"; }
mapfile -t MAN_TARGETS < <(ninja -C "$BUILDDIR" -t targets all 2>/dev/null | sed -n 's/^\(man\/[^:/]*\.[1-9]\): .*/\1/p')
ninja -C "$BUILDDIR" adr adr-gateway "${MAN_TARGETS[@]}" >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; die "build failed (log: $LOG)"; }
ADR="$BUILDDIR/adr"
"$ADR" --version >/dev/null || die "the built $ADR does not run"

# Stage everything first: nothing under PREFIX changes if any of this fails.
STAGE=$(mktemp -d "$BUILDDIR/stage.XXXXXX")
CLEAN_STAGE=1
DONE=0 CUR_TMP=""
CREATED_DIRS=() PLACED=() BACKUP_SRC=() BACKUP_DST=()
on_exit() {
  local rc=$? i
  [ -n "$CUR_TMP" ] && rm -f -- "$CUR_TMP"
  if [ "$DONE" != 1 ]; then
    # undo what this run placed, put back what it replaced
    for ((i = ${#PLACED[@]} - 1; i >= 0; i--)); do rm -f -- "${PLACED[i]}"; done
    for ((i = 0; i < ${#BACKUP_SRC[@]}; i++)); do mv -f -- "${BACKUP_DST[i]}" "${BACKUP_SRC[i]}" 2>/dev/null || true; done
    for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do rmdir -- "${CREATED_DIRS[i]}" 2>/dev/null || true; done
    [ "$rc" = 0 ] && rc=1
    [ ${#PLACED[@]} -gt 0 ] || [ ${#BACKUP_SRC[@]} -gt 0 ] && warn "install failed: nothing was installed"
  fi
  [ "$CLEAN_STAGE" = 1 ] && rm -rf -- "$STAGE"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# staged source -> destination, mode ("link:TARGET" for symlinks)
SRC=() DST=() MODE=()
add() { SRC+=("$1"); DST+=("$2"); MODE+=("$3"); }

cp "$ADR" "$STAGE/adr"
add "$STAGE/adr" "$BIN_DIR/adr" 0755
# the egress gateway: static, mounted into allowlist sandboxes' gateways
[ -x "$BUILDDIR/adr-gateway" ] || die "build did not produce adr-gateway"
cp "$BUILDDIR/adr-gateway" "$STAGE/adr-gateway"
add "$STAGE/adr-gateway" "$LIBEXEC_DIR/adr-gateway" 0755
for a in "${ALIASES[@]}"; do
  [ "$a" != adr ] && [[ "$a" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad alias name '$a'"
  add "" "$BIN_DIR/$a" link:adr
done
for m in "${MAN_TARGETS[@]}"; do
  [ -s "$BUILDDIR/$m" ] || continue
  cp "$BUILDDIR/$m" "$STAGE/${m##*/}"
  case "$m" in
    *.1) add "$STAGE/${m##*/}" "$MAN1_DIR/${m##*/}" 0644 ;;
    *.5) add "$STAGE/${m##*/}" "$MAN5_DIR/${m##*/}" 0644 ;;
  esac
done
"$ADR" completions bash >"$STAGE/adr.bash" || die "adr completions bash failed"
"$ADR" completions zsh >"$STAGE/_adr" || die "adr completions zsh failed"
"$ADR" completions fish >"$STAGE/adr.fish" || die "adr completions fish failed"
for f in "${EXAMPLE_FILES[@]}"; do
  add "$HERE/config-examples/$f" "$EXAMPLES_DIR/$f" 0644
done
add "$STAGE/adr.bash" "$BASH_DIR/adr" 0644
add "$STAGE/_adr" "$ZSH_DIR/_adr" 0644
add "$STAGE/adr.fish" "$FISH_DIR/adr.fish" 0644

# What an earlier run installed (ours to replace or remove).
OLD_FILES=() OLD_DIRS=()
if [ -f "$MANIFEST" ]; then
  while IFS= read -r l; do
    case "$l" in ''|'#'*) continue ;; */) OLD_DIRS+=("${l%/}") ;; *) OLD_FILES+=("$l") ;; esac
  done <"$MANIFEST"
fi
in_list() { local x=$1 y; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

# Files at our destinations that an earlier run did not put there.
FOREIGN=()
for ((i = 0; i < ${#DST[@]}; i++)); do
  d=${DST[i]}
  [ -e "$d" ] || [ -L "$d" ] || continue
  [ -d "$d" ] && [ ! -L "$d" ] && die "cannot install $d: a directory is in the way"
  in_list "$d" "${OLD_FILES[@]}" && continue
  case "${MODE[i]}" in
    link:*) [ -L "$d" ] && [ "$(readlink "$d")" = "${MODE[i]#link:}" ] && continue ;;
    *) [ ! -L "$d" ] && cmp -s "${SRC[i]}" "$d" && continue ;;
  esac
  FOREIGN+=("$d")
done
if [ ${#FOREIGN[@]} -gt 0 ]; then
  printf '%s: not installed by install.sh: %s\n' "$PROG" "${FOREIGN[@]}" >&2
  confirm "replace them?" || die "refusing to replace files install.sh did not install (rerun with --yes to replace them)"
fi

preflight

# Directories: create what is missing, remembering what we created.
for d in "${DEST_DIRS[@]}"; do
  missing=() p=$d
  while [ ! -d "$p" ]; do missing=("$p" "${missing[@]}"); p=$(dirname "$p"); done
  for p in "${missing[@]}"; do
    mkdir -- "$p" 2>/dev/null || die "cannot create $p"
    CREATED_DIRS+=("$p")
  done
done

place() { # src dst mode
  local src=$1 dst=$2 mode=$3 dir tmp
  dir=$(dirname "$dst")
  tmp="$dir/.${dst##*/}.adr-install.$$"
  CUR_TMP=$tmp
  rm -f -- "$tmp"
  case "$mode" in
    link:*) ln -s -- "${mode#link:}" "$tmp" ;;
    *) cp -- "$src" "$tmp" && chmod "$mode" "$tmp" ;;
  esac || { rm -f -- "$tmp"; die "cannot write $tmp"; }
  if [ -e "$dst" ] || [ -L "$dst" ]; then
    local bak="$dir/.${dst##*/}.adr-install-old.$$"
    mv -f -- "$dst" "$bak" || { rm -f -- "$tmp"; die "cannot replace $dst"; }
    BACKUP_SRC+=("$dst") BACKUP_DST+=("$bak")
  fi
  mv -f -- "$tmp" "$dst" || { rm -f -- "$tmp"; die "cannot install $dst"; }
  PLACED+=("$dst")
  CUR_TMP=""
}

for ((i = 0; i < ${#DST[@]}; i++)); do
  place "${SRC[i]}" "${DST[i]}" "${MODE[i]}"
done

# The manifest: directories install.sh created (now or before), then files.
{
  printf '# Installed by adr install.sh; removed by uninstall.sh. Do not edit.\n'
  printf '# prefix: %s\n' "$PREFIX"
  for d in "${OLD_DIRS[@]}" "${CREATED_DIRS[@]}"; do
    [ -d "$d" ] && printf '%s/\n' "$d"
  done | awk '!seen[$0]++'
  printf '%s\n' "${DST[@]}"
} >"$STAGE/install-manifest"
place "$STAGE/install-manifest" "$MANIFEST" 0644

DONE=1
for f in "${BACKUP_DST[@]}"; do rm -f -- "$f"; done
# Files an earlier run installed that this one does not (e.g. a dropped alias).
for f in "${OLD_FILES[@]}"; do
  in_list "$f" "${DST[@]}" && continue
  case "$f" in "$PREFIX"/*) ;; *) continue ;; esac
  if [ -L "$f" ] || [ -f "$f" ]; then rm -f -- "$f" && say "removed $f (no longer installed)"; fi
done

say "installed into $PREFIX:"
for d in "${DST[@]}" "$MANIFEST"; do say "  ${d#"$PREFIX"/}"; done
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) say "hint: $BIN_DIR is not on your PATH; add it, e.g. in ~/.profile: export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac
if [ ${#MAN_TARGETS[@]} -eq 0 ]; then
  say "hint: man pages were not built (install scdoc and rerun)"
fi
say "zsh: completions are in $ZSH_DIR (add it to fpath before compinit if it is not there)"

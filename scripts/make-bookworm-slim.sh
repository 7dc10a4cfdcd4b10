#!/usr/bin/env bash
# Makes debian:bookworm-slim available to the local Docker engine.
#
# Users normally pull it.  Where no container registry is reachable (CI here),
# build the same thing from Debian's own mirror: debootstrap --variant=minbase,
# trimmed like the official slim image, then `docker import`.
#   1. image already present          -> exit 0 (idempotent)
#   2. `docker pull` works (<= 60 s)   -> done
#   3. otherwise debootstrap from the mirror the host's apt uses (installs
#      debootstrap with apt-get when missing; about a minute, ~75 MB image)
# Environment: ADR_SLIM_IMAGE overrides the tag (for testing this script),
#              ADR_SLIM_MIRROR overrides the mirror found in the apt sources.
# Progress goes to stderr, one line per step.
set -euo pipefail

IMAGE=${ADR_SLIM_IMAGE:-debian:bookworm-slim}
SUITE=bookworm
log() { printf 'make-bookworm-slim: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker version >/dev/null 2>&1 || die "no Docker engine answers (is dockerd running?)"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already present"
  exit 0
fi
log "trying docker pull $IMAGE"
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then
  log "pulled $IMAGE"
  exit 0
fi
log "cannot pull $IMAGE: building it with debootstrap"

# The mirrors this host's apt uses: deb822 sources first, then sources.list.
# Prints "URI SUITE..." lines for Debian main archive and security archive.
apt_uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas are separated by blank lines; take URIs + Suites of each.
    awk 'BEGIN { RS = ""; FS = "\n" }
         { u = ""; s = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/)   { u = $i; sub(/^URIs:[ \t]*/, "", u) }
             if ($i ~ /^Suites:/) { s = $i; sub(/^Suites:[ \t]*/, "", s) }
           }
           if (u != "") { split(u, us, /[ \t]+/); print us[1], s } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                       if ($i ~ /^(https?|ftp):/) print $i, $(i + 1) }' "$f"
  done
}
uris=$(apt_uris || true)
mirror=${ADR_SLIM_MIRROR:-$(awk '$2 !~ /security/ && $1 !~ /security/ { print $1; exit }' <<<"$uris")}
security=$(awk '$2 ~ /security/ || $1 ~ /security/ { print $1; exit }' <<<"$uris")
[ -n "$mirror" ] || die "cannot find a Debian mirror in the host's apt sources (set ADR_SLIM_MIRROR)"
mirror=${mirror%/}

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap with apt-get"
  [ "$(id -u)" = 0 ] || die "debootstrap is missing and installing it needs root"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bookworm-slim.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
root=$tmp/rootfs
mkdir "$root"

# Trim like the official slim image while installing (dpkg path excludes).
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
# Drop all man pages, docs (except copyright) and translations, like the
# official debian:*-slim images.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG

log "debootstrap --variant=minbase $SUITE from $mirror"
t0=$(date +%s)
debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
  tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap done in $(($(date +%s) - t0)) s; trimming"

cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'APT::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"

# Whatever dpkg unpacked before the excludes applied (debootstrap's first
# stage extracts with ar/tar, not dpkg).
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
rm -rf "$root/usr/share/man/"* "$root/usr/share/groff/"* "$root/usr/share/info/"* \
  "$root/usr/share/lintian/"* "$root/usr/share/linda/"* \
  "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb \
  "$root/var/cache/apt/archives/partial/"* "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old \
  "$root/var/log/"*.log "$root/var/log/apt/"* "$root/debootstrap"
mkdir -p "$root/var/lib/apt/lists/partial"
# Host-specific files debootstrap copies in; the engine provides them at run time.
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"

# The image's apt uses the same mirrors as the host.
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$SUITE" "$SUITE"
  if [ -n "$security" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${security%/}" "$SUITE"
  fi
} >"$root/etc/apt/sources.list.d/debian.sources"
rm -f "$root/etc/apt/sources.list"

log "importing $IMAGE"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$IMAGE" >/dev/null
docker run --rm "$IMAGE" true || die "the imported $IMAGE does not run"
log "built $IMAGE locally ($(( $(docker image inspect -f '{{.Size}}' "$IMAGE") / 1000000 )) MB) in $(($(date +%s) - t0)) s"

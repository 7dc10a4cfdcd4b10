#!/bin/sh
# adr-runner-entry: `adr runner` in a container (the runner image).
#
# The node's engine realises the runs' sandboxes, so every host path adr
# hands it (workspaces, identity files, the gateway binary) must name the
# same file on the node as here: ADR_RUNNER_ROOT is a bind mount of the
# node's directory at the same path, and all of adr's state lives in it.
# The container runs as a non-root uid that owns that directory and is in
# the group of the engine's socket (mounted at /var/run/docker.sock).
# Arguments go to `adr runner`; the runner's name is ADR_RUNNER_NAME, else
# the container's host name (a Swarm service sets it per node).
set -eu
root=${ADR_RUNNER_ROOT:-/var/lib/adr-runner}
die() { echo "adr-runner-entry: $*" >&2; exit 1; }
[ "$(id -u)" != 0 ] || die "runs as a non-root uid (the sandboxes run as it and own the workspaces)"
[ -d "$root" ] || die "$root is not mounted: bind-mount the node's $root at the same path"
[ -w "$root" ] || die "$root is not writable by uid $(id -u)"
export HOME="$root/home" XDG_STATE_HOME="$root/state" XDG_CONFIG_HOME="$root/config" XDG_CACHE_HOME="$root/cache"
mkdir -p "$HOME" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME/adr" "$XDG_CACHE_HOME" "$root/libexec"
# gateways mount adr-gateway from the node: a copy where the node sees it
cp /usr/local/libexec/adr/adr-gateway "$root/libexec/.adr-gateway.$$"
mv -f "$root/libexec/.adr-gateway.$$" "$root/libexec/adr-gateway"
export ADR_GATEWAY="$root/libexec/adr-gateway"
exec adr runner --name "${ADR_RUNNER_NAME:-$(hostname)}" "$@"

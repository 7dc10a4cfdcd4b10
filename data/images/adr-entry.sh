#!/bin/sh
# adr-entry: first process of every adr sandbox (after the engine's init).
# adr mounts the sandbox user's passwd/group read-only at /run/adr (where the
# image's /etc/passwd and /etc/group point); only when /run/adr is a writable
# tmpfs instead (other callers) does this script write them.  Then it copies
# the agent's staged configuration (read-only mounts under /run/adr-stage)
# into the tmpfs HOME and execs the agent.  Runs as the unprivileged sandbox
# user.
set -eu
uid=$(id -u)
gid=$(id -g)
home=${HOME:-/home/agent}
if [ -d /run/adr ] && [ -w /run/adr ]; then
  {
    cat /etc/passwd.adr-base 2>/dev/null || true
    [ "$uid" = 0 ] || printf 'agent:x:%s:%s:adr agent:%s:/bin/bash\n' "$uid" "$gid" "$home"
  } >/run/adr/passwd
  {
    cat /etc/group.adr-base 2>/dev/null || true
    [ "$gid" = 0 ] || printf 'agent:x:%s:\n' "$gid"
  } >/run/adr/group
fi
if [ -d /run/adr-stage ]; then
  # -L: staged files may be symlinks into the host's dotfiles
  cp -RL --no-preserve=ownership /run/adr-stage/. "$home"/ 2>/dev/null ||
    cp -RL /run/adr-stage/. "$home"/
  chmod -R u+w "$home" 2>/dev/null || true
fi
if [ "$#" -eq 0 ]; then
  set -- /bin/bash
fi
exec "$@"

#!/usr/bin/env bash
# Runs the probe battery (tests/probes/probe.c) with plain `docker run`, the
# way adr will later drive it through the Engine API:
#   1. hardened container (adr's flags and data/seccomp.json): every probe PASS
#   2. control container (deliberately permissive): every probe PASS in
#      --control mode, i.e. each dangerous operation really gets through there
#   3. negative controls: one hardening removed at a time, the matching probes
#      must FAIL (Docker's default seccomp profile; no no-new-privileges)
#   4. ordinary work under the hardened flags: git, ps, node, python3, curl,
#      DNS, and `<agent> --version` for each coding-agent/* image present
#
# usage: tests/probes/run-raw.sh [IMAGE]
#   IMAGE defaults to $ADR_PROBE_IMAGE, else adr/base, else debian:bookworm-slim.
#   $CC (default cc) builds the probe statically.  Needs root (a setuid-root
#   copy of the probe is bind-mounted for PRIV-02) and a Docker engine.
# Exit status 0 when all four parts went as expected.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
profile=$(realpath "$top/data/seccomp.json")

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'run-raw: %s\n' "$*" >&2; exit 2; }

command -v docker >/dev/null || die "docker CLI not found"
docker version >/dev/null 2>&1 || die "no Docker engine answers"
[ "$(id -u)" = 0 ] || die "needs root (setuid-root test binary, workspace ownership)"

image=${1:-${ADR_PROBE_IMAGE:-}}
if [ -z "$image" ]; then
  for i in adr/base debian:bookworm-slim; do
    if docker image inspect "$i" >/dev/null 2>&1; then image=$i; break; fi
  done
fi
[ -n "$image" ] || die "no image: build adr/base or run scripts/make-bookworm-slim.sh"
docker image inspect "$image" >/dev/null 2>&1 || die "image $image not present"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/adr-probe.XXXXXX")
names=()
cleanup() {
  local n
  for n in "${names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 0755 "$tmp"

# ---- build -------------------------------------------------------------------
say "build: ${CC:-cc} -static -O2 -Wall -Wextra -Werror"
"${CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$tmp/probe" "$here/probe.c"
cp "$tmp/probe" "$tmp/probe-suid"
chown 0:0 "$tmp/probe-suid"
chmod 4755 "$tmp/probe-suid"
mkdir -m 0755 "$tmp/workspace" "$tmp/fake-ssh"
chown 4242:4242 "$tmp/workspace"
: >"$tmp/fake.sock"
# the sandbox user's passwd/group, read-only at /run/adr as adr mounts them
mkdir -m 0755 "$tmp/identity"
printf 'root:x:0:0:root:/root:/bin/sh\nagent:x:4242:4242:adr agent:/home/agent:/bin/bash\n' >"$tmp/identity/passwd"
printf 'root:x:0:\nagent:x:4242:\n' >"$tmp/identity/group"
chmod 0644 "$tmp/identity/passwd" "$tmp/identity/group"
echo "probe: $(stat -c %s "$tmp/probe") bytes; image: $image; profile: $profile"

run() { # NAME DOCKER-ARGS...: docker run --rm, named so that cleanup can remove it
  local n=adr-probe-$$-$1
  shift
  names+=("$n")
  timeout 600 docker run --rm --name "$n" "$@"
}

# Does the image have a POSIX shell?  (The probe itself needs nothing.)
has_sh=0
if docker run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then has_sh=1; fi

common=(
  --cap-drop ALL --read-only
  --tmpfs /tmp:rw,nosuid,nodev,size=64m --tmpfs /home/agent:rw,nosuid,nodev,size=64m
  --pids-limit 256 --memory 512m --user 4242:4242 -e HOME=/home/agent
  -v "$tmp/workspace:/workspace" -w /workspace
  -v "$tmp/probe:/opt/adr-probe/probe:ro"
  -v "$tmp/probe-suid:/opt/adr-probe/probe-suid:ro"
  -v "$tmp/identity:/run/adr:ro"
)
hardened=(--security-opt no-new-privileges --security-opt "seccomp=$profile" "${common[@]}")
probe_args=(--writable /workspace /tmp /home/agent --nosuid /home/agent --pids-max 256
            --suid /opt/adr-probe/probe-suid)

status=0

# ---- 1. hardened ---------------------------------------------------------------
say "hardened: docker run ${hardened[*]} $image"
set +e
if [ "$has_sh" = 1 ]; then
  # as a child of a shell, the way an agent's shell tool runs commands
  run hardened "${hardened[@]}" --entrypoint /bin/sh "$image" \
    -c '/opt/adr-probe/probe "$@"' sh "${probe_args[@]}"
else
  run hardened "${hardened[@]}" --entrypoint /opt/adr-probe/probe "$image" "${probe_args[@]}"
fi
rc=$?
set -e
echo "hardened exit status: $rc (number of FAILs)"
[ "$rc" = 0 ] || status=1

# ---- 2. control ------------------------------------------------------------------
# --privileged needs every capability in the daemon's bounding set; where the
# engine runs with fewer (nested sandboxes, this CI), take every capability it
# can grant, unconfined AppArmor and /proc, /sys, and hand in one device.
cap_names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
  LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
  SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
  SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
  MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
missing=()
for i in "${!cap_names[@]}"; do
  (( (bnd >> i) & 1 )) || missing+=("${cap_names[$i]}")
done
control=(--security-opt seccomp=unconfined --user 0 -e HOME=/root
  -v "$tmp/workspace:/workspace" -w /workspace
  -v "$tmp/probe:/opt/adr-probe/probe:ro"
  -v "$tmp/fake-ssh:/root/.ssh:ro" -v "$tmp/fake.sock:/run/docker.sock:ro")
if [ "${#missing[@]}" = 0 ]; then
  control=(--privileged "${control[@]}")
else
  echo "note: the engine's bounding set lacks ${missing[*]}: --privileged cannot start here;"
  echo "      control = --cap-add ALL${missing[*]/#/ --cap-drop } + unconfined apparmor/systempaths + a device"
  control=(--cap-add ALL "${missing[@]/#/--cap-drop=}" --security-opt apparmor=unconfined
           --security-opt systempaths=unconfined "${control[@]}")
  [ -e /dev/kmsg ] && control+=(--device /dev/kmsg)
fi
# planted for the control run: fd 7 (FD-01), ~/.ssh and /run/docker.sock (SEC-02)
say "control: docker run ${control[*]} $image"
set +e
if [ "$has_sh" = 1 ]; then
  run control "${control[@]}" --entrypoint /bin/sh "$image" \
    -c 'exec 7</etc/hostname; exec /opt/adr-probe/probe --control "$@"' sh \
    --writable /tmp /workspace --pids-max 256
else
  run control "${control[@]}" --entrypoint /opt/adr-probe/probe "$image" \
    --control --writable /tmp /workspace --pids-max 256
fi
rc=$?
set -e
echo "control exit status: $rc (number of probes that could not detect an escape)"
[ "$rc" = 0 ] || status=1

# ---- 3. negative controls -----------------------------------------------------------
negative() { # LABEL ONLY DOCKER-ARGS...: the probes must FAIL
  local label=$1 only=$2 out rc
  shift 2
  say "negative control ($label): --only $only must FAIL"
  set +e
  out=$(run "neg-$label" "$@" --entrypoint /opt/adr-probe/probe "$image" --only "$only" "${probe_args[@]}")
  rc=$?
  set -e
  printf '%s\n' "$out"
  if [ "$rc" -gt 0 ] && [ "$rc" -le 100 ]; then
    echo "ok: $rc probe(s) failed without that layer"
  else
    echo "UNEXPECTED: exit status $rc"
    status=1
  fi
}
# Docker's default seccomp profile instead of adr's (everything else equal)
negative docker-default-seccomp PRIV-04,PRIV-07,PRIV-09 --security-opt no-new-privileges "${common[@]}"
# adr's profile, but without no-new-privileges
negative no-new-privileges-off PRIV-01,PRIV-02 --security-opt "seccomp=$profile" "${common[@]}"

# ---- 4. ordinary work -----------------------------------------------------------------
if [ "$has_sh" = 1 ]; then
  say "ordinary work under the hardened flags ($image)"
  set +e
  # an external name and URL for the egress checks: the Debian mirror the
  # host's apt uses (no registry host is written into the repository)
  mirror=$(awk '/^URIs:/ { print $2; exit } $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
  run work "${hardened[@]}" -e "ADR_PROBE_MIRROR=$mirror" --entrypoint /bin/sh "$image" -c '
    n=0
    mirror_host=${ADR_PROBE_MIRROR#*://}; mirror_host=${mirror_host%%/*}
    check() { name=$1; shift
      if out=$("$@" 2>&1); then echo "ok   $name: $(printf "%s" "$out" | tail -n 1 | cut -c1-100)"
      else echo "FAIL $name (exit $?): $(printf "%s" "$out" | tail -n 3 | tr "\n" " " | cut -c1-300)"; n=$((n + 1)); fi; }
    has() { command -v "$1" >/dev/null 2>&1; }
    if has bash && has git; then
      check git bash -c "git init -q /tmp/r && cd /tmp/r && git -c user.name=probe -c user.email=probe@invalid commit -q --allow-empty -m x && git log --oneline"
      check git-workspace bash -c "cd /workspace && git init -q . && echo hi >f && git add f && git -c user.name=probe -c user.email=probe@invalid commit -qm f && git status --short | wc -l"
    else echo "skip git: not installed"; fi
    if has ps; then check ps ps aux; else echo "skip ps: not installed"; fi
    check sh-pipeline sh -c "seq 1 1000 | sort -rn | head -n 1"
    check coreutils sh -c "mkdir -p /tmp/d/e && cp /etc/hostname /tmp/d/e/ && mv /tmp/d/e/hostname /tmp/d/h && chmod 600 /tmp/d/h && ln -s h /tmp/d/l && mkfifo /tmp/d/p && ls -la /tmp/d | wc -l"
    if has node; then
      check node-1 node -e 1
      check node-io node -e "
        const fs = require(\"fs\"), cp = require(\"child_process\"), http = require(\"http\"), os = require(\"os\");
        const { Worker } = require(\"worker_threads\");
        fs.writeFileSync(\"/tmp/n\", \"x\".repeat(1 << 20)); fs.readFileSync(\"/tmp/n\");
        cp.execFileSync(\"true\"); cp.spawnSync(\"sh\", [\"-c\", \"exit 0\"]);
        new Worker(\"process.exit(0)\", { eval: true }).on(\"exit\", () => {
          const srv = http.createServer((q, s) => s.end(\"pong\")).listen(0, \"127.0.0.1\", async () => {
            const r = await fetch(\"http://127.0.0.1:\" + srv.address().port + \"/\");
            console.log(\"fs+child_process+worker+http+fetch:\", await r.text(), os.cpus().length, \"cpus\");
            srv.close();
          });
        });"
    else echo "skip node: not installed"; fi
    if has python3; then
      check python3-1 python3 -c 1
      check python3-io python3 -c "import os, subprocess, threading, socket, tempfile, multiprocessing as m
t = threading.Thread(target=lambda: None); t.start(); t.join()
subprocess.run([\"true\"], check=True); tempfile.TemporaryFile().write(b\"x\")
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.close()
p = m.Process(target=lambda: None); p.start(); p.join(); print(\"threads+subprocess+socket+multiprocessing ok\")"
    else echo "skip python3: not installed"; fi
    if has curl; then
      if has node; then
        check curl-local sh -c "node -e \"require(\\\"http\\\").createServer((q,s)=>s.end(\\\"pong\\\")).listen(18080,\\\"127.0.0.1\\\")\" & sleep 1; curl -sS -m 5 http://127.0.0.1:18080/; r=\$?; kill \$!; exit \$r"
      else
        check curl-runs curl --version
      fi
    else echo "skip curl: not installed"; fi
    if has getent; then
      check dns-localhost getent hosts localhost
      if [ -z "$mirror_host" ]; then echo "skip dns-external: no apt mirror on the host to look up"
      elif out=$(getent ahosts "$mirror_host" 2>&1); then echo "ok   dns-external: $(echo "$out" | head -n 1)"
      else echo "info dns-external: no answer (network or resolver unavailable; not a profile failure)"; fi
    fi
    if has curl && [ -n "$ADR_PROBE_MIRROR" ]; then
      code=$(curl -sS -m 10 -o /dev/null -w "%{http_code}" "${ADR_PROBE_MIRROR%/}/dists/bookworm/Release" 2>&1) &&
        echo "ok   http-external: HTTP $code" || echo "info http-external: $code (no egress here; not a profile failure)"
    fi
    echo "ordinary-work failures: $n"; exit $n'
  rc=$?
  set -e
  [ "$rc" = 0 ] || status=1

  agents=$(docker image ls --format '{{.Repository}}:{{.Tag}}' 'coding-agent/*' 2>/dev/null | sort -u || true)
  if [ -n "$agents" ]; then
    # some CLIs unpack themselves into ~/.cache on first start (copilot: ~240 MB),
    # more than the 64 MB HOME above: same flags, bigger HOME
    agent_flags=()
    for a in "${hardened[@]}"; do
      [ "$a" = /home/agent:rw,nosuid,nodev,size=64m ] && a=/home/agent:rw,nosuid,nodev,size=1g
      agent_flags+=("$a")
    done
    say "agent CLIs under the hardened flags (HOME tmpfs 1g): <binary> --version"
    for img in $agents; do
      bin=${img#coding-agent/}
      bin=${bin%%:*}
      set +e
      out=$(run "agent-$bin" "${agent_flags[@]}" --entrypoint /bin/sh "$img" -c "$bin --version" 2>&1)
      rc=$?
      set -e
      if [ "$rc" = 0 ]; then
        echo "ok   $img: $(printf '%s' "$out" | tail -n 1 | cut -c1-80)"
      else
        echo "FAIL $img (exit $rc): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
        status=1
      fi
    done
  fi
else
  say "ordinary work: skipped ($image has no /bin/sh)"
fi

say "result: $([ "$status" = 0 ] && echo "all as expected" || echo "SOMETHING UNEXPECTED (see above)")"
exit "$status"

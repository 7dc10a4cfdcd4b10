# Machines for the scale-out tests (tests/scaleout), on this one: each node
# is a network namespace (its own address on a bridge the test makes, no
# route off the machine), a mount namespace (its own /run/adr-node and
# /var/lib/adr-runner) and a UTS namespace (host name adr-nI), with a
# dockerd of its own (own data root, socket, containerd).  scripts/test.sh
# starts them before the layer and stops them after it:
#
#   nodes_start N   exports ADR_TEST_NODES (N), ADR_TEST_NODES_DIR,
#                   ADR_TEST_NODES_NET (the host's address, 10.231.0.1)
#   nodes_stop      removes all of it, whatever nodes_start got to
#
# Node I: address 10.231.0.(I+1), engine unix://$DIR/nI/run/docker.sock
# (never the host's: its own /etc/docker and /run/docker are bound over)
# (inside its namespace also /run/adr-node/docker.sock), its runner root
# $DIR/nI/runner (inside: /var/lib/adr-runner).  $DIR is a shared mount:
# what adr mounts below it on the host (idmapped workspaces) the nodes'
# engines see too, as they would on a machine of their own.

NODES_BR=adrsc0
NODES_NET=10.231.0

nodes_sock() { echo "unix://$ADR_TEST_NODES_DIR/n$1/run/docker.sock"; }

nodes_start() {
  local n=$1 i d
  nodes_stop_stale
  ADR_TEST_NODES_DIR=$(mktemp -d /tmp/adr-nodes.XXXXXX)
  export ADR_TEST_NODES_DIR ADR_TEST_NODES=$n ADR_TEST_NODES_NET=$NODES_NET.1
  mount --bind "$ADR_TEST_NODES_DIR" "$ADR_TEST_NODES_DIR" && mount --make-shared "$ADR_TEST_NODES_DIR" || return 1
  mkdir -p /run/adr-node /var/lib/adr-runner /etc/docker /run/docker
  ip link add "$NODES_BR" type bridge && ip addr add "$NODES_NET.1/24" dev "$NODES_BR" &&
    ip link set "$NODES_BR" up || return 1
  # frames between nodes cross the host's bridge, where br_netfilter hands
  # them to the host's FORWARD chain (Docker's policy there: DROP)
  iptables -I FORWARD -i "$NODES_BR" -o "$NODES_BR" -j ACCEPT || return 1
  for i in $(seq "$n"); do
    d=$ADR_TEST_NODES_DIR/n$i
    mkdir -p "$d/data" "$d/exec" "$d/run" "$d/runner" "$d/etc" "$d/rundocker"
    echo '{}' >"$d/daemon.json"
    ip netns add "adrsc-n$i" &&
      ip link add "adrsc-h$i" type veth peer name eth0 netns "adrsc-n$i" &&
      ip link set "adrsc-h$i" master "$NODES_BR" up &&
      ip -n "adrsc-n$i" addr add "$NODES_NET.$((i + 1))/24" dev eth0 &&
      ip -n "adrsc-n$i" link set eth0 up && ip -n "adrsc-n$i" link set lo up || return 1
    # not 'ip netns exec': it remounts /sys, and dockerd needs the cgroups there
    nsenter --net="/run/netns/adrsc-n$i" unshare -m -u --propagation slave sh -c '
      hostname "$1" && mount --bind "$2/run" /run/adr-node && mount --bind "$2/runner" /var/lib/adr-runner &&
      mount --bind "$2/etc" /etc/docker && mount --bind "$2/rundocker" /run/docker &&
      exec dockerd --config-file "$2/daemon.json" --data-root "$2/data" --exec-root "$2/exec" \
        --pidfile "$2/dockerd.pid" -H "unix://$2/run/docker.sock"' \
      sh "adr-n$i" "$d" >"$d/dockerd.log" 2>&1 </dev/null &
  done
  for i in $(seq "$n"); do
    d=$ADR_TEST_NODES_DIR/n$i
    local ok=0
    for _ in $(seq 150); do
      DOCKER_HOST=$(nodes_sock "$i") docker version >/dev/null 2>&1 && { ok=1; break; }
      sleep 0.2
    done
    if [ "$ok" != 1 ]; then
      echo "  node $i: dockerd did not answer:"
      tail -5 "$d/dockerd.log" | sed 's/^/    /'
      return 1
    fi
    # the runner container's uid reaches the engine through the group
    chgrp 2375 "$d/run/docker.sock" && chmod 0660 "$d/run/docker.sock"
  done
}

# Ends what a run of nodes_start left, this one's or a killed one's.
nodes_stop_stale() {
  local d p i
  for d in /tmp/adr-nodes.*; do
    [ -d "$d" ] || continue
    ADR_TEST_NODES_DIR=$d nodes_stop
  done
  ip link del "$NODES_BR" 2>/dev/null || true
  while iptables -D FORWARD -i "$NODES_BR" -o "$NODES_BR" -j ACCEPT 2>/dev/null; do :; done
  for i in $(ip netns list 2>/dev/null | awk '/^adrsc-n/ { print $1 }'); do
    ip netns pids "$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$i" 2>/dev/null || true
  done
}

nodes_stop() {
  local d=${ADR_TEST_NODES_DIR:-} i n p
  [ -n "$d" ] && [ -d "$d" ] || return 0
  for n in "$d"/n*; do
    [ -d "$n" ] || continue
    i=${n##*/n}
    if [ -S "$n/run/docker.sock" ]; then
      DOCKER_HOST=unix://$n/run/docker.sock docker swarm leave --force >/dev/null 2>&1 || true
      DOCKER_HOST=unix://$n/run/docker.sock docker ps -aq 2>/dev/null |
        xargs -r env DOCKER_HOST="unix://$n/run/docker.sock" docker rm -f >/dev/null 2>&1 || true
    fi
    p=$(cat "$n/dockerd.pid" 2>/dev/null || true)
    if [ -n "$p" ] && kill "$p" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null || true
    fi
    # whatever is left in its namespace (containerd, shims)
    ip netns pids "adrsc-n$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "adrsc-n$i" 2>/dev/null || true
  done
  ip link del "$NODES_BR" 2>/dev/null || true
  while iptables -D FORWARD -i "$NODES_BR" -o "$NODES_BR" -j ACCEPT 2>/dev/null; do :; done
  # mounts below the directory (adr's, the shared bind itself), deepest first
  awk -v t="$d" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$d"
  unset ADR_TEST_NODES_DIR ADR_TEST_NODES
}

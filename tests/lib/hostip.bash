# bridge_host_ip: the host's address on the engine's default bridge, where
# containers reach it.  The bridge network's gateway as the engine reports
# it; else docker0's own address (Docker 20.10 leaves the gateway out of the
# bridge's IPAM config when docker0 was there before dockerd started); else
# Docker's default.
bridge_host_ip() {
  local ip
  ip=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
  [ -n "$ip" ] || ip=$(ip -4 -o addr show docker0 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
  [ -n "$ip" ] || ip=172.17.0.1
  echo "$ip"
}

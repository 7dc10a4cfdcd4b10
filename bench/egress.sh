#!/usr/bin/env bash
# Benchmark: adr's egress gateway against direct loopback connections and
# against tinyproxy (Debian's), in one run: throughput of a 1 GiB transfer,
# added latency per request (p50/p99), and memory with 1,000 tunnels held.
# Usage: bench/egress.sh [--gib N] [--requests N] [--conns N]
# Needs: build/adr-gateway (or ADR_GATEWAY), python3, tinyproxy
# (apt-get install tinyproxy; without it only direct and adr-gateway run).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/egress.py "${ADR_GATEWAY:-$PWD/build/adr-gateway}" "$@"

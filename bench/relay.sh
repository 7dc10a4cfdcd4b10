#!/usr/bin/env bash
# Benchmark: the latency adr-gateway's credential relay adds to API requests
# (time to first byte, new connection each) and to a streamed (SSE) response
# (per-chunk latency and jitter), against direct TLS connections to the same
# mock server, all on loopback, in one run.  See bench/relay.py.
# Usage: bench/relay.sh [--requests N] [--streams N] [--chunks N] [--interval-ms MS]
# Needs: build/adr-gateway (or ADR_GATEWAY), python3, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/relay.py "${ADR_GATEWAY:-$PWD/build/adr-gateway}" "$@"

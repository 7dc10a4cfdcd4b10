#!/usr/bin/env bash
# Benchmark (issue 17): start-to-exit of a no-op in the native engine's
# sandbox against `docker run --rm` of the same image, paired in one run
# (bench/native-start.c).  Prints a markdown snippet for docs/benchmarks.md.
#
# Usage: bench/native.sh [N] [IMAGE]   (default 20, debian:bookworm-slim)
# Needs: a running engine with the image, build/ (ninja -C build).
set -euo pipefail
cd "$(dirname "$0")/.."
exec build/tests/native-bench "${1:-20}" "${2:-debian:bookworm-slim}"

#!/usr/bin/env bash
# Per-image costs of JPEG decoding (full and DCT-scaled), resizing, depth map
# reads and demo rendering, on one core: bench/run-io.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
ninja -C "$build" bench/bench_io >/dev/null || { echo "run-io: build failed"; exit 1; }
machine="$ncpu cores, $(bench_cpu)"
echo "io, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine, one core (taskset -c 0)"
taskset -c 0 "$build/bench/bench_io" 15

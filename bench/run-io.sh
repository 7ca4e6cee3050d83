#!/usr/bin/env bash
# Per-image costs of JPEG decoding (full and DCT-scaled), resizing, depth map
# reads and demo rendering, on one core: bench/run-io.sh BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
ninja -C "$build" bench/bench_io >/dev/null || { echo "run-io: build failed"; exit 1; }
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "io, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine, one core (taskset -c 0)"
taskset -c 0 "$build/bench/bench_io" 15

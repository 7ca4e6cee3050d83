#!/usr/bin/env bash
# The engine against onnxruntime (npm onnxruntime-node 1.30, CPU) on the
# transformer path: a ViT-S/14 encoder at 518x518 (the size of Depth
# Anything V2 small's encoder: 384 wide, 6 heads, 12 blocks) with a small
# DPT-like head and deterministic weights (bench/vit_model.c), batch 1,
# 1 and 2 threads, same machine, same model file, in one run; and the
# largest difference between the two outputs.
# usage: bench/run-nnops-vit.sh BUILD_DIR   (REPEAT=N runs, BLOCKS=N blocks)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=3 BLOCKS=12
bench_need bench/vit_model bench/bench_engine
work="$build/bench-nnops-vit"
mkdir -p "$work"
model="$work/vit_s14_518.onnx"
"$build/bench/vit_model" "$model" 384 6 14 37 "$blocks" || exit 1
bench_ort
gflop=$("$di" model "$model" | sed -n 's/^GFLOP per image: //p')
echo "machine: $(bench_cpu) ($ncpu cores), ISA: $(bench_isa)$(date -u +%F), load $(bench_load)"
echo "model: ViT-S/14 518x518, $blocks blocks, ${gflop} GFLOP/image, median of $repeat runs"
for threads in 1 2; do
  out=$("$build/bench/bench_engine" "$model" 1 "$threads" "$repeat" "$work/x1.npy") || exit 1
  echo "$out"
  if [ $have_ort = 1 ]; then
    node tests/nn/ort_run.js "$model" "$work/x1.npy" "$work/ort.npy" --threads "$threads" --repeat "$repeat" | sed "s/^ort /onnxruntime threads $threads: /" || exit 1
  fi
done
if [ $have_ort = 1 ]; then
  bench_ort_diff "$model" "$work/x1.npy" "$work/ort.npy" || exit 1
fi

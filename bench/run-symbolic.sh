#!/usr/bin/env bash
# A model whose height and width are symbolic (the onnx-community Depth
# Anything V2 small form: tests/nn/dav2_graph.h with dynamic_hw, ViT-S/14,
# 12 blocks, position embedding trained at 37x37 resized at run time) against
# onnxruntime (npm onnxruntime-node, CPU) on the same file, 2 threads, at
# 266x266 batch 2 and 518x392 (W x H) batch 1. Our engine plans per input
# size (shape chains folded); onnxruntime runs the symbolic graph as it is.
# Times are per image (onnxruntime's ort_run.js times one image at a time).
# usage: bench/run-symbolic.sh BUILD_DIR   (REPEAT=N runs, BLOCKS=N)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=3 BLOCKS=12
bench_need bench/dav2_model bench/bench_engine
work="$build/bench-symbolic"
mkdir -p "$work"
model="$work/dav2_small_symbolic_hw.onnx"
"$build/bench/dav2_model" --dynamic-hw "$model" 37 "$blocks" || exit 1
bench_ort
echo "machine: $(bench_cpu) ($ncpu cores), $(date -u +%F), load $(bench_load)"
echo "model: DA-V2 small-shaped, symbolic height and width, $blocks blocks, median of $repeat runs, 2 threads"
for case in "266x266 2" "518x392 1"; do
  set -- $case
  size=$1 batch=$2
  x="$work/x_$size.npy"
  out=$(DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat" "$x") || exit 1
  echo "$size: $(echo "$out" | head -1)"
  if [ $have_ort = 1 ]; then
    node tests/nn/ort_run.js "$model" "$x" "$work/ort_$size.npy" --threads 2 --repeat "$repeat" 2>/dev/null |
      sed "s/^ort /$size: onnxruntime threads 2: /" || exit 1
  fi
done

#!/usr/bin/env bash
# The engine against onnxruntime (npm onnxruntime-node 1.30, CPU) on a
# Depth Anything V2 small-shaped model: the graph torch.onnx.export writes
# for DA-V2 small (DINOv2 ViT-S/14, 12 blocks, DPT head with 64 features,
# dynamic batch; tests/nn/dav2_graph.h) at 518x518 with deterministic
# weights, batch 1, 1 and 2 threads, same machine, same model file, in one
# run; and the largest difference between the two outputs.
# usage: bench/run-dav2.sh BUILD_DIR   (REPEAT=N runs, GRID=N patches a side)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=3 GRID=37
bench_need bench/dav2_model bench/bench_engine
work="$build/bench-dav2"
mkdir -p "$work"
model="$work/dav2_small_shaped_$((grid * 14)).onnx"
"$build/bench/dav2_model" "$model" "$grid" 12 || exit 1
bench_ort
gflop=$("$build/depthindex" model "$model" | sed -n 's/^GFLOP per image: //p')
echo "machine: $(bench_cpu) ($ncpu cores), $(date -u +%F), load $(bench_load)"
echo "model: DA-V2 small-shaped $((grid * 14))x$((grid * 14)), ${gflop} GFLOP/image, median of $repeat runs"
for threads in 1 2; do
  out=$("$build/bench/bench_engine" "$model" 1 "$threads" "$repeat" "$work/x1.npy") || exit 1
  echo "$out"
  if [ $have_ort = 1 ]; then
    node tests/nn/ort_run.js "$model" "$work/x1.npy" "$work/ort.npy" --threads "$threads" --repeat "$repeat" 2>/dev/null | sed "s/^ort /onnxruntime threads $threads: /" || exit 1
  fi
done
if [ $have_ort = 1 ]; then
  bench_ort_diff "$model" "$work/x1.npy" "$work/ort.npy" || exit 1
fi

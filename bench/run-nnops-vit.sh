#!/usr/bin/env bash
# The engine against onnxruntime (npm onnxruntime-node 1.30, CPU) on the
# transformer path: a ViT-S/14 encoder at 518x518 (the size of Depth
# Anything V2 small's encoder: 384 wide, 6 heads, 12 blocks) with a small
# DPT-like head and deterministic weights (bench/vit_model.c), batch 1,
# 1 and 2 threads, same machine, same model file, in one run; and the
# largest difference between the two outputs.
# usage: bench/run-nnops-vit.sh BUILD_DIR   (REPEAT=N runs, BLOCKS=N blocks)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${REPEAT:-3}
blocks=${BLOCKS:-12}
for exe in bench/vit_model bench/bench_engine; do
  [ -x "$build/$exe" ] || { echo "run-nnops-vit: $build/$exe is not built"; exit 1; }
done
work="$build/bench-nnops-vit"
mkdir -p "$work"
model="$work/vit_s14_518.onnx"
"$build/bench/vit_model" "$model" 384 6 14 37 "$blocks" || exit 1
have_ort=1
bash tests/nn/ort_setup.sh >/dev/null 2>&1 || { have_ort=0; echo "run-nnops-vit: onnxruntime-node could not be installed; ours only"; }
gflop=$("$build/depthindex" model "$model" | sed -n 's/^GFLOP per image: //p')
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: ViT-S/14 518x518, $blocks blocks, ${gflop} GFLOP/image, median of $repeat runs"
for threads in 1 2; do
  out=$("$build/bench/bench_engine" "$model" 1 "$threads" "$repeat" "$work/x1.npy") || exit 1
  echo "$out"
  if [ $have_ort = 1 ]; then
    node tests/nn/ort_run.js "$model" "$work/x1.npy" "$work/ort.npy" --threads "$threads" --repeat "$repeat" | sed "s/^ort /onnxruntime threads $threads: /" || exit 1
  fi
done
if [ $have_ort = 1 ] && [ -x /usr/bin/python3 ]; then
  "$build/depthindex" infer --model "$model" --input "$work/x1.npy" --output "$work/ours.npy" --threads 2 >/dev/null || exit 1
  /usr/bin/python3 - "$work/ours.npy" "$work/ort.npy" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
d = float(np.abs(a.reshape(b.shape) - b).max())
print(f"max |ours - onnxruntime| = {d:.3g}, output range {float(b.max() - b.min()):.4g}")
PY
fi

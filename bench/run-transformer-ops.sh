#!/usr/bin/env bash
# Per op class, our engine against onnxruntime-node (the anchor) on the
# ViT-S/14 + DPT static form at 518x518 (bench/dav2_model, as
# bench/run-transformer.sh's third case), batch 1, 1 thread, in one run:
# which layers onnxruntime runs in less time than we do (issue 15). Ours:
# bench_engine with ONEDNN_VERBOSE=1 (each oneDNN primitive's time) and its
# per-op profile; onnxruntime: its own profile (bench/ort_profile.js). The
# table takes each layer at its minimum over the runs (bench/vit_ops_compare.py
# says why: it stays put on a shared machine, where medians move with the
# load); the per-op profiles that follow are medians, waiting included.
# usage: bench/run-transformer-ops.sh BUILD_DIR   (REPEAT=N runs, BLOCKS=N, THREADS=N)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5 BLOCKS=12 THREADS=1
bench_need bench/dav2_model bench/bench_engine
bash tests/nn/ort_setup.sh >/dev/null 2>&1 || { echo "run-transformer-ops: onnxruntime-node could not be installed"; exit 1; }
work="$build/bench-transformer-ops"
mkdir -p "$work"
model="$work/dav2_518.onnx"
x="$work/x_518.npy"
"$build/bench/dav2_model" "$model" 37 "$blocks" >/dev/null || exit 1
echo "machine: $(bench_cpu) ($ncpu cores), ISA: $(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile)$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(bench_load); static 518x518, $blocks blocks, batch 1, $threads thread(s), $repeat runs"
ONEDNN_VERBOSE=1 "$build/bench/bench_engine" "$model" 1 "$threads" "$repeat" "$x" >"$work/ours.txt" 2>&1 || {
  echo "run-transformer-ops: bench_engine failed"; tail -3 "$work/ours.txt"; exit 1; }
node bench/ort_profile.js "$model" "$x" --threads "$threads" --repeat "$repeat" --trace "$work/ort.json" >"$work/ort.txt" || exit 1
echo
"$py" bench/vit_ops_compare.py "$work/ours.txt" "$work/ort.json" "$repeat" || exit 1
echo "(load average at end: $(bench_load))"
echo
echo "== ours, per-op profile (medians):"
grep -v -E '^(onednn|dnnl)_verbose' "$work/ours.txt"
echo "== onnxruntime, per-op profile (ms per run, all $repeat runs):"
cat "$work/ort.txt"
rm -f "$work/ours.txt" "$work/ort.json" "$work/ort.txt"

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
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${REPEAT:-5}
blocks=${BLOCKS:-12}
threads=${THREADS:-1}
for exe in bench/dav2_model bench/bench_engine; do
  [ -x "$build/$exe" ] || { echo "run-transformer-ops: $build/$exe is not built"; exit 1; }
done
command -v python3 >/dev/null || { echo "run-transformer-ops: needs python3"; exit 1; }
bash tests/nn/ort_setup.sh >/dev/null 2>&1 || { echo "run-transformer-ops: onnxruntime-node could not be installed"; exit 1; }
work="$build/bench-transformer-ops"
mkdir -p "$work"
model="$work/dav2_518.onnx"
x="$work/x_518.npy"
"$build/bench/dav2_model" "$model" 37 "$blocks" >/dev/null || exit 1
isa=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|avx512_vnni|amx_bf16|amx_tile)$' | tr '\n' ' ')
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores), ISA: ${isa}$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); static 518x518, $blocks blocks, batch 1, $threads thread(s), $repeat runs"
ONEDNN_VERBOSE=1 "$build/bench/bench_engine" "$model" 1 "$threads" "$repeat" "$x" >"$work/ours.txt" 2>&1 || {
  echo "run-transformer-ops: bench_engine failed"; tail -3 "$work/ours.txt"; exit 1; }
node bench/ort_profile.js "$model" "$x" --threads "$threads" --repeat "$repeat" --trace "$work/ort.json" >"$work/ort.txt" || exit 1
echo
python3 bench/vit_ops_compare.py "$work/ours.txt" "$work/ort.json" "$repeat" || exit 1
echo "(load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "== ours, per-op profile (medians):"
grep -v -E '^(onednn|dnnl)_verbose' "$work/ours.txt"
echo "== onnxruntime, per-op profile (ms per run, all $repeat runs):"
cat "$work/ort.txt"
rm -f "$work/ours.txt" "$work/ort.json" "$work/ort.txt"

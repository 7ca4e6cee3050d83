#!/usr/bin/env bash
# The transformer fast path (issue 15) on the ViT-S/14 + DPT forms of the
# target: the symbolic onnx-community form of Depth Anything V2 small
# (bench/dav2_model --dynamic-hw) at 266x266 batch 2 and 518x392 (W x H)
# batch 1, and the static torch-export form (tests/nn/dav2_graph.h) at
# 518x518 batch 1; 2 threads. Per case, in this order and in one run: our
# engine (fused attention), our engine with the graph loaded as for the CUDA
# backend (DI_BENCH_UNFUSED=1: no attention fusion; the other changes of the
# branch stay), and onnxruntime-node (the anchor) on the same file and
# input. Prints the CPU, its ISA, the load average, a table of ms per image
# and ratios, then both per-op profiles of each case.
# usage: bench/run-transformer.sh BUILD_DIR   (REPEAT=N runs, BLOCKS=N)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5 BLOCKS=12
bench_need bench/dav2_model bench/bench_engine
work="$build/bench-transformer"
mkdir -p "$work"
sym="$work/dav2_symbolic.onnx"
static="$work/dav2_518.onnx"
"$build/bench/dav2_model" --dynamic-hw "$sym" 37 "$blocks" >/dev/null || exit 1
"$build/bench/dav2_model" "$static" 37 "$blocks" >/dev/null || exit 1
bench_ort
echo "machine: $(bench_cpu) ($ncpu cores), ISA: $(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile)$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(bench_load); $blocks blocks, median of $repeat runs, 2 threads"
ms() { sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | head -1; }
rows=()
profiles=()
for case in "symbolic 266x266 2" "symbolic 518x392 1" "static 518x518 1"; do
  set -- $case
  form=$1 size=$2 batch=$3
  model=$sym
  [ "$form" = static ] && model=$static
  x="$work/x_${form}_$size.npy"
  fused=$(DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat" "$x") || exit 1
  unfused=$(DI_BENCH_UNFUSED=1 DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat") || exit 1
  ort=-
  if [ $have_ort = 1 ]; then
    ort=$(node tests/nn/ort_run.js "$model" "$x" "$work/ort.npy" --threads 2 --repeat "$repeat" 2>/dev/null |
      sed -n 's/^ort \([0-9.]*\) ms$/\1/p')
  fi
  f=$(echo "$fused" | ms) u=$(echo "$unfused" | ms)
  rows+=("$(awk -v c="$form $size b$batch" -v f="$f" -v u="$u" -v o="$ort" 'BEGIN {
    if (o == "-" || o == "") printf "| %s | %.2f | %.2f | - | - | - | %.2fx |", c, f, u, u / f;
    else printf "| %s | %.2f | %.2f | %.2f | %.2fx | %.2fx | %.2fx |", c, f, u, o, o / f, o / u, u / f }')")
  profiles+=("== $form $size batch $batch, fused:" "$fused" "== $form $size batch $batch, unfused (DI_BENCH_UNFUSED=1):" "$unfused")
done
echo
echo "| case | ours ms/image | ours unfused ms/image | onnxruntime ms/image | ours / ort | unfused / ort | fused gain |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "(ratios are throughput: onnxruntime's time over ours; load average at end: $(bench_load))"
echo
printf '%s\n' "${profiles[@]}"

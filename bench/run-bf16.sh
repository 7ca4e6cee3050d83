#!/usr/bin/env bash
# bf16 on the CPU (issue 15): our engine in fp32 and in bf16 (--precision
# bf16: oneDNN bf16 kernels, AMX where the CPU has it, else AVX512-BF16)
# against onnxruntime fp32 (npm onnxruntime-node, CPU) in the same run, same
# model files, 2 threads, medians of REPEAT runs:
#   - MiDaS v2.1 small 256x256 (../shared graph, generated weights), batch 1 and 4;
#   - the ViT-S/14 + DPT form (tests/nn/dav2_graph.h, 12 blocks) at 266x266
#     batch 2 and 518x518 batch 1;
#   (end to end, run against infer alone, is bench/run-e2e.sh's).
# Targets: bf16 >= 1.5x onnxruntime fp32 on AVX512-BF16, >= 3x on AMX.
# onnxruntime times one image at a time (ort_run.js): its figure per image
# is compared with ours per image at the batch size of the line.
# usage: bench/run-bf16.sh BUILD_DIR   (REPEAT=N [5])
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5
bench_need bench/dav2_model bench/bench_engine depthindex
kind=$(grep -qw amx_bf16 /proc/cpuinfo && echo AMX || { grep -qw avx512_bf16 /proc/cpuinfo && echo AVX512-BF16; })
if [ -z "$kind" ]; then
  echo "run-bf16: this CPU has no native bf16 (AVX512-BF16 or AMX): nothing to measure"
  exit 0
fi
bench_workdir
bench_ort
echo "machine: $(bench_cpu) ($ncpu cores), bf16: $kind, $(date -u +%F)"
echo "load at start: $(bench_load); 2 threads, median of $repeat runs"

ms_of() { sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | head -1; }
rows=()
# case NAME MODEL BATCH [SIZE]: fp32, bf16 and onnxruntime fp32, one after the other
bench_case() {
  local name=$1 model=$2 batch=$3 size=${4:-} x="$work/x_$RANDOM.npy" o32 o16 ort=""
  o32=$(DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat" "$x" | ms_of) || return 1
  local out16
  out16=$(DI_PRECISION=bf16 DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat") || return 1
  o16=$(ms_of <<<"$out16")
  # the precision changes left in the bf16 plan and where its time goes
  echo "$name, bf16: $(sed -n 's/^bf16 conversions per run: //p' <<<"$out16"); top ops:" \
    "$(grep '^  op ' <<<"$out16" | head -6 | sed -E 's/^  op (.*[^ ]) +([0-9.]+) ms\/image +([0-9.]+%)/\1 \2 ms (\3);/' | tr '\n' ' ')"
  if [ $have_ort = 1 ]; then
    ort=$(node tests/nn/ort_run.js "$model" "$x" "" --threads 2 --repeat "$repeat" | sed -n 's/^ort \([0-9.]*\) ms/\1/p')
  fi
  echo "$name: ours fp32 $o32 ms/image, ours bf16 $o16 ms/image, onnxruntime fp32 ${ort:--} ms/image"
  rows+=("$(awk -v n="$name" -v a="$o32" -v b="$o16" -v r="$ort" 'BEGIN {
    if (r == "") printf "| %s | %.1f | %.1f | - | - | - | %.2fx |", n, a, b, a / b;
    else printf "| %s | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2fx |", n, a, b, r, r / a, r / b, a / b }')")
}

graph=../shared/models/midas_v21_small_256.graph.onnx
midas="$work/midas.onnx"
if [ -f "$graph" ]; then
  "$di" model --fill-weights "$midas" "$graph" >/dev/null || exit 1
  bench_case "MiDaS small 256, batch 1" "$midas" 1 || exit 1
  bench_case "MiDaS small 256, batch 4" "$midas" 4 || exit 1
  # the per-layer choice: the dense 3x3 convs direct in bf16 (default) or
  # Winograd in float32 inside the bf16 session (oneDNN has no bf16 Winograd)
  wb=$(DI_NN_BF16_WINOGRAD=on DI_PRECISION=bf16 "$build/bench/bench_engine" "$midas" 1 2 "$repeat" | ms_of)
  db=$(DI_PRECISION=bf16 "$build/bench/bench_engine" "$midas" 1 2 "$repeat" | ms_of)
  echo "MiDaS small 256, batch 1, bf16: 3x3 convs direct bf16 $db ms/image, Winograd float32 (DI_NN_BF16_WINOGRAD=on) $wb ms/image: $(awk -v a="$db" -v b="$wb" 'BEGIN { printf "%.2fx", b / a }') for direct bf16"
else
  echo "run-bf16: $graph is absent: MiDaS small skipped"
fi
"$build/bench/dav2_model" "$work/vit266.onnx" 19 12 >/dev/null || exit 1
bench_case "ViT-S/14 + DPT 266, batch 2" "$work/vit266.onnx" 2 || exit 1
"$build/bench/dav2_model" "$work/vit518.onnx" 37 12 >/dev/null || exit 1
bench_case "ViT-S/14 + DPT 518, batch 1" "$work/vit518.onnx" 1 || exit 1

# end to end (run against infer alone on the same faces, fp32 and bf16):
# bench/run-e2e.sh
e2e_line="end to end: see bench/run-e2e.sh"

cat <<EOF

---- for bench/RESULTS.md (bf16 on the CPU) ----
$(date -u +%Y-%m-%d), $(bench_cpu), $ncpu cores, bf16 kind: $kind, 2 threads, median of $repeat, load at end $(bench_load):
| model | ours fp32 ms/image | ours bf16 ms/image | onnxruntime fp32 ms/image | fp32 / ort | bf16 / ort | bf16 / fp32 |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
- $e2e_line
EOF

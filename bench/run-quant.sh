#!/usr/bin/env bash
# A dynamically quantized model (the onnx-community model_quantized form:
# DynamicQuantizeLinear -> MatMulInteger / ConvInteger -> Cast -> Mul, int8
# per-column and uint8 per-tensor weights; bench/dav2_model.c --quantized) against
# onnxruntime (npm onnxruntime-node, CPU) on the same file in the same run:
# DA-V2 small-shaped (ViT-S/14, 12 blocks) at 518x518, batch 1, 1 and 2
# threads; the float32 graph it was made from for reference; the ratio ours /
# onnxruntime (median ms per image, REPEAT runs each); and the largest
# difference between the two quantized outputs. Our MatMulInteger and
# ConvInteger run through oneDNN's u8s8s32 primitives where the CPU has VNNI
# or AMX (the ISA line), else the plain C kernels.
# usage: bench/run-quant.sh BUILD_DIR   (REPEAT=N runs, GRID=N patches a side,
#        BLOCKS=N, THREADS="1 2")
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=3 GRID=37 BLOCKS=12
threads_list=${THREADS:-1 2}
bench_need bench/dav2_model bench/bench_engine depthindex
work="$build/bench-quant"
mkdir -p "$work"
size=$((grid * 14))
qmodel="$work/dav2_small_quant_$size.onnx"
fmodel="$work/dav2_small_float_$size.onnx"
"$build/bench/dav2_model" --quantized "$qmodel" "$grid" "$blocks" || exit 1
"$build/bench/dav2_model" "$fmodel" "$grid" "$blocks" || exit 1
bench_ort
flags=$(bench_isa avx2 avx512f avx512_vnni avx_vnni amx_int8 amx_bf16)
int8="plain C kernels (no VNNI: oneDNN's int8 sums would saturate)"
case " $flags " in *" avx512_vnni "*|*" amx_int8 "*) int8="oneDNN u8s8s32 primitives";; esac
echo "machine: $(bench_cpu) ($ncpu cores), $(date -u +%F), load $(bench_load)"
echo "ISA: ${flags% }; MatMulInteger/ConvInteger: $int8"
echo "model: DA-V2 small-shaped ${size}x${size}, $blocks blocks, dynamically quantized, batch 1, median of $repeat runs"
ms() { sed -n "s/.*: \([0-9.]*\) ms\/image.*/\1/p; s/^ort \([0-9.]*\) ms$/\1/p" | head -1; }
for t in $threads_list; do
  q=$("$build/bench/bench_engine" "$qmodel" 1 "$t" "$repeat" "$work/x1.npy") || exit 1
  f=$("$build/bench/bench_engine" "$fmodel" 1 "$t" "$repeat") || exit 1
  qms=$(echo "$q" | head -1 | ms)
  echo "threads $t: ours quantized    $(echo "$q" | head -1 | sed 's/^ours //')"
  echo "threads $t: ours float32      $(echo "$f" | head -1 | sed 's/^ours //')"
  if [ $have_ort = 1 ]; then
    o=$(node tests/nn/ort_run.js "$qmodel" "$work/x1.npy" "$work/ort.npy" --threads "$t" --repeat "$repeat" 2>/dev/null) || exit 1
    oms=$(echo "$o" | ms)
    echo "threads $t: onnxruntime quantized $oms ms/image ($(echo "$o" | sed -n 's/^ort cpu //p') cpu/image)"
    awk -v a="$qms" -v b="$oms" -v t="$t" 'BEGIN { if (b > 0) printf "threads %s: ours / onnxruntime = %.2f\n", t, a / b }'
    # CPU time per image too: on a shared machine the steadier figure
    qcpu=$(echo "$q" | head -1 | sed -n 's/.* \([0-9.]*\) cpu-ms\/image.*/\1/p')
    ocpu=$(echo "$o" | sed -n 's/^ort .*ort cpu \([0-9.]*\) ms.*/\1/p; s/^ort cpu \([0-9.]*\) ms.*/\1/p' | head -1)
    awk -v a="$qcpu" -v b="$ocpu" -v t="$t" 'BEGIN { if (a > 0 && b > 0) printf "threads %s: cpu-ms/image ours %.1f, onnxruntime %.1f, onnxruntime / ours = %.2f\n", t, a, b, b / a }'
  fi
  echo "$q" | sed -n '2,6p'
done
if [ $have_ort = 1 ]; then
  bench_ort_diff "$qmodel" "$work/x1.npy" "$work/ort.npy" " (target 1e-2)" || exit 1
fi

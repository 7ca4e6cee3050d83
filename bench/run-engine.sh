#!/usr/bin/env bash
# The CPU engine against onnxruntime (npm onnxruntime-node 1.30, CPU) on the
# MiDaS v2.1 small architecture at 256x256 with deterministic weights (the
# project's filler), batch 1 and 8, 1 and 2 threads, same machine, same model
# file, in one run. onnxruntime's graph has a fixed batch of 1, so its batch-8
# figure per image is its batch-1 figure (8 runs of one image).
# Both engines spin their worker threads between ops by default (libgomp's
# and onnxruntime's thread pools), as `depthindex infer` does; `depthindex
# run` bounds the spin (GOMP_SPINCOUNT, see README and bench/run-threads.sh).
# Dense 3x3 convs run through Winograd and 1x1 convs read its blocked output
# as it is (src/nn/cpu/ops_conv.c); the last table compares that with the
# direct kernels alone (DI_NN_CONV_ALGO=direct: the engine before both) and
# onnxruntime at 2 threads, batch 1 and 4, in turns.
# usage: bench/run-engine.sh BUILD_DIR   (REPEAT=N to change the run count)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=9
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || { echo "run-engine: $graph is absent; skipped"; exit 0; }
bench_need bench/bench_engine depthindex
work="$build/bench-engine"
mkdir -p "$work"
model="$work/midas_filled.onnx"
[ -f "$model" ] || "$build/depthindex" model --fill-weights "$model" "$graph" >/dev/null || exit 1
bench_ort
gflop=$("$build/depthindex" model "$model" | sed -n 's/^GFLOP per image: //p')
isa=$(bench_isa avx512f avx512_bf16 avx512_vnni amx_bf16)
echo "machine: $(bench_cpu) ($ncpu cores; ${isa:-no AVX-512}), $(date -u +%F)"
echo "model: MiDaS v2.1 small 256x256, ${gflop} GFLOP/image, median of $repeat runs; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}; load: $(bench_load)"
declare -A ours ort ourscpu ortcpu ort2
for threads in 1 2; do
  for batch in 1 8; do
    r=$repeat; [ "$batch" = 8 ] && r=$(( (repeat + 1) / 2 ))
    out=$("$build/bench/bench_engine" "$model" "$batch" "$threads" "$r" "$work/x1.npy") || exit 1
    echo "$out"
    ours[$threads,$batch]=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | head -1)
    ourscpu[$threads,$batch]=$(echo "$out" | sed -n 's/.* \([0-9.]*\) cpu-ms\/image.*/\1/p' | head -1)
  done
  # batch 8 in one pass, for comparison with image-by-image tiling (nn.h)
  out=$(DI_WHOLE_BATCH=1 "$build/bench/bench_engine" "$model" 8 "$threads" $(( (repeat + 1) / 2 ))) || exit 1
  echo "$out" | head -1
  ours[$threads,8w]=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | head -1)
  ourscpu[$threads,8w]=$(echo "$out" | sed -n 's/.* \([0-9.]*\) cpu-ms\/image.*/\1/p' | head -1)
  if [ $have_ort = 1 ]; then
    o=$(node tests/nn/ort_run.js "$model" "$work/x1.npy" "" --threads "$threads" --repeat "$repeat") || exit 1
    ort[$threads]=$(echo "$o" | sed -n 's/^ort \([0-9.]*\) ms/\1/p')
    ortcpu[$threads]=$(echo "$o" | sed -n 's/^ort cpu \([0-9.]*\) ms/\1/p')
    echo "onnxruntime threads $threads: ${ort[$threads]} ms/image, ${ortcpu[$threads]} cpu-ms/image"
  fi
done
echo
echo "Lines for bench/RESULTS.md (Engine):"
echo "| threads | batch | ours ms/image | ours GFLOP/s | onnxruntime ms/image | onnxruntime GFLOP/s | ours / ort throughput | ours cpu-ms/image | ort cpu-ms/image |"
echo "|---|---|---|---|---|---|---|---|---|"
for threads in 1 2; do
  for batch in 1 8 8w; do
    o=${ours[$threads,$batch]}; r=${ort[$threads]:-}; oc=${ourscpu[$threads,$batch]}; rc=${ortcpu[$threads]:--}
    label=$batch; [ "$batch" = 8w ] && label="8, one pass"
    awk -v t="$threads" -v b="$label" -v o="$o" -v r="$r" -v g="$gflop" -v oc="$oc" -v rc="$rc" 'BEGIN {
      if (r == "") printf "| %d | %s | %.1f | %.0f | - | - | - | %s | - |\n", t, b, o, g / o * 1000, oc;
      else printf "| %d | %s | %.1f | %.0f | %.1f | %.0f | %.2fx | %s | %s |\n", t, b, o, g / o * 1000, r, g / r * 1000, r / o, oc, rc }'
  done
done

# Winograd against the direct kernel alone and onnxruntime, 2 threads, in
# turns (direct, Winograd, onnxruntime) so that a burst of load hits all three
echo
echo "Conv algorithm at 2 threads (DI_NN_CONV_ALGO=direct: the direct kernels alone, as before Winograd), medians of $repeat, load: $(bench_load)"
declare -A alg algcpu
for batch in 1 4; do
  for algo in direct winograd; do
    out=$(DI_NN_CONV_ALGO=$algo "$build/bench/bench_engine" "$model" "$batch" 2 "$repeat") || exit 1
    alg[$algo,$batch]=$(echo "$out" | sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | head -1)
    algcpu[$algo,$batch]=$(echo "$out" | sed -n 's/.* \([0-9.]*\) cpu-ms\/image.*/\1/p' | head -1)
  done
  if [ $have_ort = 1 ]; then
    o=$(node tests/nn/ort_run.js "$model" "$work/x1.npy" "" --threads 2 --repeat "$repeat") || exit 1
    ort2[$batch]=$(echo "$o" | sed -n 's/^ort \([0-9.]*\) ms/\1/p')
  fi
done
echo "| batch | direct ms/image | Winograd ms/image | Winograd / direct | onnxruntime ms/image | Winograd / ort throughput | direct cpu-ms/image | Winograd cpu-ms/image |"
echo "|---|---|---|---|---|---|---|---|"
for batch in 1 4; do
  awk -v b="$batch" -v d="${alg[direct,$batch]}" -v w="${alg[winograd,$batch]}" -v r="${ort2[$batch]:-}" \
    -v dc="${algcpu[direct,$batch]}" -v wc="${algcpu[winograd,$batch]}" 'BEGIN {
    if (r == "") printf "| %d | %.1f | %.1f | %.2fx | - | - | %s | %s |\n", b, d, w, d / w, dc, wc;
    else printf "| %d | %.1f | %.1f | %.2fx | %.1f | %.2fx | %s | %s |\n", b, d, w, d / w, r, r / w, dc, wc }'
done

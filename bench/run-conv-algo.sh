#!/usr/bin/env bash
# The float32 Conv's algorithm choice (src/nn/cpu/conv_algo.c) against the
# fixed choices DI_NN_CONV_ALGO offers, on the models issue 15 targets: the
# ViT-S/14 + DPT static 518x518 batch 1 and symbolic 518x392 batch 1 and
# 266x266 batch 2 (bench/dav2_model), and MiDaS v2.1 small 256x256 batch 1
# and 4 (when ../shared has its graph). At 1 and 2 threads, per case, the
# variants run in turns (REPEAT rounds, each a bench_engine of RUNS runs),
# so that a swing of the machine hits all of them; medians of the rounds.
# Prints the CPU, its ISA, the load average, then one table per case: wall
# and CPU ms per image, the Conv, Reorder, Resize and Add ops' ms per image,
# and the ratio of each variant's wall and CPU time to the rule's ("auto",
# the anchor). LAYERS=1 adds per-conv-shape tables (ONEDNN_VERBOSE: the
# conv's exec time and the reorders run just before it) per variant.
# usage: bench/run-conv-algo.sh BUILD_DIR  (REPEAT=N rounds, RUNS=N, BLOCKS=N,
#        LAYERS=0|1, CASES="dav2-518 dav2-518x392 dav2-266 midas-1 midas-4",
#        ALGOS="auto winograd direct gemm", THREADS="1 2")
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5 RUNS=3 BLOCKS=12 LAYERS=0
bench_need bench/dav2_model bench/bench_engine depthindex
cases=${CASES:-dav2-518 dav2-518x392 dav2-266 midas-1 midas-4}
algos=${ALGOS:-auto winograd direct gemm}
threads_list=${THREADS:-1 2}
work="$build/bench-transformer"
mkdir -p "$work" "$build/bench-engine"
sym="$work/dav2_symbolic.onnx" static="$work/dav2_518.onnx"
[ -f "$sym" ] || "$build/bench/dav2_model" --dynamic-hw "$sym" 37 "$blocks" >/dev/null || exit 1
[ -f "$static" ] || "$build/bench/dav2_model" "$static" 37 "$blocks" >/dev/null || exit 1
graph=../shared/models/midas_v21_small_256.graph.onnx
midas="$build/bench-engine/midas_filled.onnx"
if [ -f "$graph" ] && [ ! -f "$midas" ]; then
  "$build/depthindex" model --fill-weights "$midas" "$graph" >/dev/null || exit 1
fi
echo "machine: $(bench_cpu) ($ncpu cores), ISA: $(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16)$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(bench_load); medians of $repeat rounds of $runs runs, variants in turns; anchor: auto (the rule)"
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for case in $cases; do
  case $case in
    dav2-518) model=$static size=518x518 batch=1 ;;
    dav2-518x392) model=$sym size=518x392 batch=1 ;;
    dav2-266) model=$sym size=266x266 batch=2 ;;
    midas-1|midas-4) model=$midas size=256x256 batch=${case#midas-} ;;
    *) echo "unknown case $case"; exit 2 ;;
  esac
  [ -f "$model" ] || { echo "$case: $model is absent; skipped"; continue; }
  for threads in $threads_list; do
    tmp=$(mktemp -d)
    for ((r = 0; r < repeat; r++)); do
      for a in $algos; do
        DI_NN_CONV_ALGO=$a DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" "$threads" "$runs" \
          >"$tmp/$a.$r" || { rm -rf "$tmp"; exit 1; }
      done
    done
    echo
    echo "== $case ($size batch $batch), $threads thread(s), load: $(bench_load)"
    echo "| variant | ms/image | cpu-ms/image | Conv | Reorder | Resize | Add | wall vs auto | cpu vs auto |"
    echo "|---|---|---|---|---|---|---|---|---|"
    declare -A w c
    for a in $algos; do
      w[$a]=$(cat "$tmp/$a".* | sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p' | median)
      c[$a]=$(cat "$tmp/$a".* | sed -n 's/.* \([0-9.]*\) cpu-ms\/image.*/\1/p' | median)
      ops=""
      for op in Conv Reorder Resize Add; do
        ops+="$(cat "$tmp/$a".* | awk -v op="$op" '$1 == "op" && $2 == op { print $3 }' | median) | "
      done
      echo "$a|${w[$a]}|${c[$a]}|$ops" >>"$tmp/rows"
    done
    anchor=auto; [ -n "${w[auto]:-}" ] || anchor=${algos%% *}
    while IFS='|' read -r a wa ca ops; do
      awk -v a="$a" -v wa="$wa" -v ca="$ca" -v ops="$ops" -v w0="${w[$anchor]}" -v c0="${c[$anchor]}" \
        'BEGIN { printf "| %s | %.2f | %.2f | %s%.3f | %.3f |\n", a, wa, ca, ops, wa / w0, ca / c0 }'
    done <"$tmp/rows"
    unset w c
    if [ "$layers" = 1 ]; then
      for a in $algos; do
        echo "-- per conv shape, $a ($threads threads): shape impl count conv-ms/image reorders-before-ms/image"
        ONEDNN_VERBOSE=1 DI_NN_CONV_ALGO=$a DI_BENCH_SIZE=$size "$build/bench/bench_engine" "$model" "$batch" "$threads" "$runs" |
          $py bench/conv_layers.py $((runs + 1)) "$batch"
      done
    fi
    rm -rf "$tmp"
  done
done
echo
echo "load average at end: $(bench_load)"

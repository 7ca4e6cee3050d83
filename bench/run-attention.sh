#!/usr/bin/env bash
# The fused attention alone (issue 15: "at least as fast per FLOP as
# MatMul"), on the ViT-S/14 shapes of bench/run-transformer.sh's forms (6
# heads of 64): T 1370 (518x518, batch 1), 1037 (518x392, batch 1) and 362
# (266x266, batch 2), at 1 and 2 threads, float32 and (on a CPU with native
# bf16) bf16. Per case, in turns in one run (bench/bench_attention): the
# fused attention, the same graph unfused (loaded as for the CUDA backend)
# and the anchor, a MatMul [B*T, 384] x [384, 1536] (the ViT's MLP product)
# of the same session options. Per FLOP by CPU time (the process's, all
# threads; steadier than wall time on a shared machine, spinning counted as
# lost) and by wall time.
# usage: bench/run-attention.sh BUILD_DIR   (REPEAT=N runs, median)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=9
bench_need bench/bench_attention
exe="$build/bench/bench_attention"
isa=$(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile)
echo "machine: $(bench_cpu) ($ncpu cores), ISA: ${isa}$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(bench_load); median of $repeat runs"
precisions=fp32
echo "$isa" | grep -qE 'avx512_bf16|amx_bf16' && precisions="fp32 bf16"
echo
echo "| T | batch | threads | precision | attention ms | unfused ms | fused gain | attention GFLOP/s (wall) | MatMul GFLOP/s (wall) | attention GFLOP/s per core (CPU) | MatMul GFLOP/s per core (CPU) | attention / MatMul per FLOP (CPU) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
# "name ...: W ms, C cpu-ms, G GFLOP/s, P GFLOP/s per core by CPU time" -> "W C G P"
field() { sed -n "s/^$1 .*: *\([0-9.]*\) ms, *\([0-9.]*\) cpu-ms, *\([0-9.]*\) GFLOP\/s, *\([0-9.]*\) GFLOP.*/\1 \2 \3 \4/p"; }
status=0
for case in "1370 1" "1037 1" "362 2"; do
  set -- $case
  t=$1 b=$2
  for threads in 1 2; do
    for prec in $precisions; do
      out=$(DI_PRECISION=$prec "$exe" "$t" 6 64 "$b" "$threads" "$repeat") || { status=1; continue; }
      read -r aw ac ag ap <<<"$(echo "$out" | field attention)"
      read -r uw uc ug up <<<"$(echo "$out" | field unfused)"
      read -r mw mc mg mp <<<"$(echo "$out" | field matmul)"
      awk -v t="$t" -v b="$b" -v n="$threads" -v p="$prec" -v aw="$aw" -v uw="$uw" -v ag="$ag" \
        -v mg="$mg" -v ap="$ap" -v mp="$mp" 'BEGIN {
        printf "| %s | %s | %s | %s | %.2f | %.2f | %.2fx | %.0f | %.0f | %.0f | %.0f | %.2fx |\n",
          t, b, n, p, aw, uw, uw / aw, ag, mg, ap, mp, ap / mp }'
    done
  done
done
echo "(load average at end: $(bench_load))"
exit $status

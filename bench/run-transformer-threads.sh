#!/usr/bin/env bash
# Where two threads lose on the ViT-S/14 + DPT static form at 518x518 (issue
# 15): per op class, the wall time of our engine and of onnxruntime-node (the
# anchor) at 1 and at 2 threads, batch 1, in interleaved rounds (ours 1,
# onnxruntime 1, ours 2, onnxruntime 2, ROUNDS times; each REPEAT runs after
# a warm-up), and each side's parallel efficiency per class: the 1-thread
# time over twice the 2-thread time (1.00: the second thread halves it).
# "outside ops" is a run's median wall time less the sum of its ops (the
# run's own steps: input and output copies, profile bookkeeping, and for
# onnxruntime its executor); "OpenMP regions per image" counts our engine's
# parallel regions (bench/omp_regions.so preloaded, at two repeat counts:
# the difference per run), each a fork and a join where a preempted thread
# holds the other up; onnxruntime runs its own thread pool (not counted).
# The per-op times are each op's total per run as both profilers report it
# (waiting inside an op included), medians over the rounds; the table is
# for finding where the time goes, the speed figures are run-transformer.sh's.
# usage: bench/run-transformer-threads.sh BUILD_DIR   (REPEAT=N, ROUNDS=N, BLOCKS=N)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5 ROUNDS=3 BLOCKS=12
bench_need bench/dav2_model bench/bench_engine bench/omp_regions.so
[ "$repeat" -ge 2 ] || { echo "$bench_name: REPEAT must be at least 2 (regions per image)"; exit 2; }
bash tests/nn/ort_setup.sh >/dev/null 2>&1 || { echo "$bench_name: onnxruntime-node could not be installed"; exit 1; }
bench_workdir
model="$work/dav2_518.onnx"
x="$work/x_518.npy"
"$build/bench/dav2_model" "$model" 37 "$blocks" >/dev/null || exit 1
echo "machine: $(bench_cpu) ($ncpu cores), ISA: $(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile)$(date -u '+%F %H:%M UTC')"
echo "load average at start: $(bench_load); static 518x518, $blocks blocks, batch 1, $rounds rounds of $repeat runs, interleaved"
"$build/bench/bench_engine" "$model" 1 1 1 "$x" >/dev/null || { echo "$bench_name: bench_engine failed"; exit 1; }
for r in $(seq "$rounds"); do
  for t in 1 2; do
    "$build/bench/bench_engine" "$model" 1 "$t" "$repeat" >"$work/ours_${t}_$r.txt" 2>&1 ||
      { echo "$bench_name: bench_engine failed"; tail -3 "$work/ours_${t}_$r.txt"; exit 1; }
    node bench/ort_profile.js "$model" "$x" --threads "$t" --repeat "$repeat" >"$work/ort_${t}_$r.txt" || exit 1
  done
done
# our parallel regions per image at 2 threads
regions() {
  LD_PRELOAD="$build/bench/omp_regions.so" "$build/bench/bench_engine" "$model" 1 2 "$1" 2>&1 >/dev/null |
    sed -n 's/^omp-regions //p'
}
r1=$(regions 1) rn=$(regions "$repeat")
echo "load average at end: $(bench_load)"
echo
"$py" - "$work" "$rounds" "$r1" "$rn" "$repeat" <<'PY'
import collections, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
per_image_regions = (int(sys.argv[4]) - int(sys.argv[3])) / (int(sys.argv[5]) - 1)
# the classes both sides can be compared on: the transformer's products
# (ours: MatMul and the fused attention; onnxruntime: its MatMuls, the
# attention's Softmax and the fc1's BiasGelu), the others by op type
cls = {'MatMul': 'MatMul + attention', '_FusedAttention': 'MatMul + attention',
       'FusedMatMul': 'MatMul + attention', 'Softmax': 'MatMul + attention',
       'BiasGelu': 'MatMul + attention', 'Gelu': 'MatMul + attention'}
def read(side, t, r):
    ops, wall, cpu = collections.Counter(), None, None
    for line in open(f'{work}/{side}_{t}_{r}.txt'):
        m = re.match(r'\s*op (\S+)\s+([0-9.]+) ms/image', line) or re.match(r'ort-op (\S+)\s+([0-9.]+) ms', line)
        if m:
            ops[cls.get(m.group(1), m.group(1))] += float(m.group(2))
            continue
        m = re.match(r'ours batch \d+ threads \d+: ([0-9.]+) ms/image, [0-9.]+ GFLOP/s, ([0-9.]+) cpu-ms', line)
        if m:
            wall, cpu = float(m.group(1)), float(m.group(2))
        m = re.match(r'ort-run median ([0-9.]+) ms', line)
        if m:
            wall = float(m.group(1))
    return ops, wall, cpu
data = {}
for side in ('ours', 'ort'):
    for t in (1, 2):
        runs = [read(side, t, r) for r in range(1, rounds + 1)]
        keys = set().union(*(o for o, _, _ in runs))
        ops = {k: statistics.median(o.get(k, 0.0) for o, _, _ in runs) for k in keys}
        wall = statistics.median(w for _, w, _ in runs)
        ops_sum = sum(ops.values())
        ops['sum of the ops'] = ops_sum
        ops['outside ops'] = wall - ops_sum
        ops['run (wall)'] = wall
        cpus = [c for _, _, c in runs if c is not None]
        if cpus:
            ops['run (CPU time)'] = statistics.median(cpus)
        data[side, t] = ops
tail = ['sum of the ops', 'outside ops', 'run (wall)', 'run (CPU time)']
keys = set(data['ours', 1]) | set(data['ort', 1]) | set(data['ours', 2]) | set(data['ort', 2])
body = sorted((k for k in keys if k not in tail), key=lambda k: -max(data['ours', 1].get(k, 0), data['ort', 1].get(k, 0)))
def cell(v):
    return '-' if v is None else f'{v:.2f}'
def eff(a, b):
    return '-' if not a or not b or b <= 0 else f'{a / (2 * b):.2f}'
print('| op class (ms per image) | ours 1 thread | ours 2 threads | ours efficiency | onnxruntime 1 thread | onnxruntime 2 threads | onnxruntime efficiency | 2 threads: ort / ours |')
print('|---|---|---|---|---|---|---|---|')
for k in body + tail:
    a1, a2 = data['ours', 1].get(k), data['ours', 2].get(k)
    b1, b2 = data['ort', 1].get(k), data['ort', 2].get(k)
    if k not in tail and max(a1 or 0, a2 or 0, b1 or 0, b2 or 0) < 0.1:
        continue
    ratio = f'{b2 / a2:.2f}' if a2 and b2 and a2 > 0 and b2 > 0 else '-'
    e_a = eff(a1, a2) if k != 'run (CPU time)' else '-'
    print(f'| {k} | {cell(a1)} | {cell(a2)} | {e_a} | {cell(b1)} | {cell(b2)} | {eff(b1, b2) if k != "run (CPU time)" else "-"} | {ratio} |')
print(f'(efficiency: 1-thread time / (2 x 2-thread time); our OpenMP parallel regions per image at 2 threads: {per_image_regions:.0f})')
PY

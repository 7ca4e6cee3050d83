#!/usr/bin/env bash
# The OpenMP wait policy (issue 15, "threads that do not fight"): `depthindex
# infer` and `depthindex run --model` on the CPU engine with each policy, on
# an idle machine and under a synthetic load of LOAD busy-loop processes.
#   policies: passive; GOMP_SPINCOUNT 1000, 10000 (run's own choice, see
#   src/cli/process.c), 100000; libgomp's default (300000); active.
# Model: the MiDaS v2.1 small graph with generated weights (256x256), the
# engine on all cores (--threads, default nproc); `run` on FACES 512x512 JPEG
# faces (SQLite), batch 4, with its default decoders and workers. Each figure
# is the median of ROUNDS rounds, the policies interleaved within a round so
# that a drift of the machine hits them all alike. Prints the CPU, its ISA,
# the load average before each block, and a table per load for
# bench/RESULTS.md ("Threads"): ms per batch of `infer`, images/s of `run`,
# and each as a ratio to the best policy of that column.
# usage: bench/run-threads.sh BUILD_DIR   (LOAD [nproc], ROUNDS [3], FACES [64],
#        THREADS [nproc]; TINY=1: a 2-round check of the script itself)
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs LOAD="$ncpu" ROUNDS=3 FACES=64 THREADS="$ncpu"
batch=4
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || graph=/work/shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || { echo "run-threads: the MiDaS graph ($graph) is absent; skipped"; exit 0; }
bench_need depthindex
bench_workdir
loaders=()
stop_load() {
  local pid
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loaders[@]}"; do wait "$pid" 2>/dev/null || true; done
  loaders=()
}
bench_at_exit stop_load
if [ "${TINY:-0}" = 1 ]; then rounds=1 faces=8; fi

isa=$(bench_isa)
echo "machine: $(bench_cpu) ($ncpu cores); ISA: ${isa:-none of avx2/avx512/amx}; $(date -u '+%F %H:%M UTC')"
echo "engine threads $threads, batch $batch, $faces faces 512x512 for run, median of $rounds rounds"

"$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
"$di" init --db "sqlite:$work/f.db" --demo "$(( (faces + 3) / 4 ))" --images "$work/f" --size 512 >/dev/null
"$py" -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(0).standard_normal(($batch,3,256,256)).astype(np.float32))"

policies=(passive spin1000 spin10000 spin100000 default active)
# policy_env POLICY: the environment assignments for env(1)
policy_env() {
  case $1 in
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    active) echo "OMP_WAIT_POLICY=active" ;;
    default) echo "GOMP_SPINCOUNT=300000" ;;
    spin*) echo "GOMP_SPINCOUNT=${1#spin}" ;;
  esac
}
infer_ms() {
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $(policy_env "$1") "$di" infer --model "$work/midas.onnx" \
    --input "$work/x.npy" --threads "$threads" --repeat 5 | sed -n 's/^\([0-9.]*\) ms.*/\1/p' | tail -1
}
run_rate() {
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $(policy_env "$1") "$di" run --db "sqlite:$work/f.db" \
    --images "$work/f" --model "$work/midas.onnx" --device cpu --threads "$threads" --batch $batch \
    --force --progress json | grep '"summary"' | tail -1 |
    "$py" -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])'
}

block() { # LABEL
  echo
  echo "== $1 (load average before: $(bench_load))"
  local r p out="$work/block.txt"
  : >"$out"
  for ((r = 0; r < rounds; r++)); do
    for p in "${policies[@]}"; do
      echo "$p infer $(infer_ms "$p")" >>"$out"
      echo "$p run $(run_rate "$p")" >>"$out"
    done
  done
  echo "(load average after: $(bench_load))"
  "$py" - "$out" "$1" "${policies[@]}" <<'PY'
import statistics, sys
path, label, pols = sys.argv[1], sys.argv[2], sys.argv[3:]
v = {}
for line in open(path):
    p, what, x = line.split()
    v.setdefault((p, what), []).append(float(x))
inf = {p: statistics.median(v[(p, "infer")]) for p in pols}
run = {p: statistics.median(v[(p, "run")]) for p in pols}
bi, br = min(inf.values()), max(run.values())
names = {"passive": "OMP_WAIT_POLICY=passive", "active": "OMP_WAIT_POLICY=active",
         "default": "libgomp default (GOMP_SPINCOUNT=300000)"}
print(f"| policy ({label}) | infer ms/batch | infer vs best | run images/s | run vs best |")
print("|---|---|---|---|---|")
for p in pols:
    name = names.get(p, "GOMP_SPINCOUNT=" + p[4:])
    print(f"| {name} | {inf[p]:.1f} | {bi / inf[p]:.3f} | {run[p]:.2f} | {run[p] / br:.3f} |")
PY
}

block "idle"
for ((i = 0; i < load; i++)); do
  bash -c 'while :; do :; done' &
  loaders+=("$!")
done
block "under load: $load busy-loop processes"
stop_load

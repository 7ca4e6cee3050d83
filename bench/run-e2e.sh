#!/usr/bin/env bash
# End to end (issue 15): `depthindex run --model` against `depthindex infer`
# alone on the same faces, fp32 and bf16 (bf16 only where the CPU has it
# natively: AVX512-BF16 or AMX). Target: run >= 0.9x infer with bf16.
#   - model: MiDaS v2.1 small 256x256 (../shared graph, generated weights);
#   - FACES 512x512 JPEG faces (`init --demo`, SQLite), batch BATCH, run's
#     own thread split (its engine threads are read from its start line and
#     given to infer as --threads);
#   - infer's input: the first BATCH faces decoded, resized and normalised
#     as run's decoders do (bench/e2e_input), not random numbers;
#   - infer: the median of 3 timed runs per round (its first run, which
#     builds the plan, is not timed: --repeat's median drops it); run: its
#     own images/s, counted from the pipeline's start, after the model load
#     and the warm-up run (both sides exclude the model load and the plan);
#   - REPEAT rounds, infer and run interleaved in each, medians over rounds.
# What run's wall time holds beyond infer's is split with run's own busy
# figures: the engine's time per batch inside run (infer stage busy x wall /
# batches: slowed by the threads that share its cores) and the time the
# engine stood idle (wall x (1 - infer busy)): the fixed costs of a run,
# the first batch decoded before the engine has work and the last batch's
# post-processing and commit after it, plus any wait for a batch.
# run chooses its OpenMP spin at start from the load it finds (10000 pauses
# idle, 100 under load, src/cli/process.c): each round's line names it, and
# the table counts the rounds that ran with the short one.
# How run's CPU-side threads share the 2 cores with the engine (di_side_sched,
# src/pipeline/pipeline.h): each round runs run once per share in SIDES,
# through DEPTHINDEX_SIDE_SCHED (whatever the load), against the same infer:
# "gate" (run's default with the CPU engine on every core when the machine
# is otherwise idle at its start: decoders and post workers start a face
# only while the engine waits), "idle" (those and the reader and the writer
# at SCHED_IDLE), "normal" (the layout before, and run's choice when other
# processes keep the machine busy at its start: all run freely). Rounds
# that found the machine loaded (spin 100) are counted under the table:
# only rounds on an idle machine say what run does by default.
# usage: bench/run-e2e.sh BUILD_DIR   (REPEAT [5], FACES [96], BATCH [8],
#                                      SIDES ["gate idle normal"])
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs REPEAT=5 FACES=96 BATCH=8
sides=${SIDES:-gate idle normal}
bench_need depthindex bench/e2e_input
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || { echo "run-e2e: $graph is absent: skipped"; exit 0; }
bench_workdir

cpu=$(bench_cpu)
isa=$(bench_isa avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_int8)
precs="fp32"
grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && precs="fp32 bf16"
echo "machine: $cpu ($ncpu cores); ISA: ${isa:-none of avx2/avx512/amx}; $(date -u '+%F %H:%M UTC')"
echo "load at start: $(bench_load); $faces faces 512x512, batch $batch, $repeat rounds;" \
  "run's side threads: $sides (DEPTHINDEX_SIDE_SCHED)"

"$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null || exit 1
"$di" init --db "sqlite:$work/e2e.db" --demo "$(( (faces + 3) / 4 ))" --images "$work/faces" \
  --size 512 >/dev/null || exit 1
mapfile -t first < <(ls "$work"/faces/*.jpg | head -"$batch")
"$build/bench/e2e_input" "$work/x.npy" 256 256 "${first[@]}" || exit 1
threads=$("$di" run --db "sqlite:$work/e2e.db" --images "$work/faces" --model "$work/midas.onnx" \
            --device cpu --progress json --limit 1 | "$py" -c 'import json,sys
for l in sys.stdin:
    if "\"start\"" in l: print(json.loads(l)["engine_threads"])')
[ -n "$threads" ] || { echo "run-e2e: run gave no start line"; exit 1; }
echo "run's engine threads: $threads (infer gets --threads $threads)"

# one round: "infer PREC ms" and, per class in SIDES, "run PREC/SIDE
# images_per_s wall_s infer_busy_percent ok openmp"
round() {
  local prec=$1 ms line side
  ms=$("$di" infer --model "$work/midas.onnx" --input "$work/x.npy" --threads "$threads" \
         --repeat 4 --precision "$prec" | sed -n 's/^\([0-9.]*\) ms.*/\1/p' | tail -1)
  echo "infer $prec $ms"
  for side in $sides; do
    line=$(DEPTHINDEX_SIDE_SCHED=$side DEPTHINDEX_TEST_SHOW_OMP=1 "$di" run \
             --db "sqlite:$work/e2e.db" --images "$work/faces" --model "$work/midas.onnx" \
             --device cpu --precision "$prec" --batch "$batch" --force \
             --progress json 2>"$work/omp.txt" | grep '"summary"' | tail -1)
    grep -m1 'warning' "$work/omp.txt" >&2
    "$py" -c 'import json,sys; j=json.loads(sys.argv[2])
print("run", sys.argv[1], j["images_per_s"], j["wall_s"], j["busy_percent"]["infer"], j["ok"],
      sys.argv[3] or "-")' \
      "$prec/$side" "$line" "$(sed -n 's/^openmp: run: //p' "$work/omp.txt" | tr ' ' ',')"
  done
}
for r in $(seq "$repeat"); do
  for prec in $precs; do round "$prec"; done
done | tee "$work/rounds.txt"

"$py" - "$work/rounds.txt" "$faces" "$batch" "$precs" "$cpu" "$isa" "$sides" <<'PY'
import statistics as st, sys, time
path, faces, batch, precs, cpu, isa, sides = sys.argv[1:8]
faces, batch = int(faces), int(batch)
inf, run = {}, {}
for l in open(path):
    f = l.split()
    if f[0] == "infer":
        inf.setdefault(f[1], []).append(float(f[2]))
    elif f[0] == "run":
        run.setdefault(f[1], []).append([float(x) for x in f[2:6]] + [f[6]])
batches = -(-faces // batch)
load = open("/proc/loadavg").read().split()[:3]
print()
print("---- for bench/RESULTS.md (end to end) ----")
print("%s, %s, ISA: %s; median of %d rounds, load at end %s:" % (
    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu, isa.strip(),
    len(next(iter(inf.values()))), " ".join(load)))
print("| precision | run's side threads | infer faces/s | run faces/s | run / infer | "
      "engine ms/batch: infer | in run | engine idle in run (s) | "
      "run / infer without the idle |")
print("|---|---|---|---|---|---|---|---|---|")
notes = []
for p, side in [(p, s) for p in precs.split() for s in sides.split()]:
    ms = st.median(inf[p])
    rs = run[p + "/" + side]
    rate = st.median(r[0] for r in rs)
    wall = st.median(r[1] for r in rs)
    eng = st.median(r[1] * r[2] / 100 / batches * 1000 for r in rs)
    idle = st.median(r[1] * (1 - r[2] / 100) for r in rs)
    busy_rate = st.median(faces / (r[1] * r[2] / 100) for r in rs)
    irate = batch * 1000.0 / ms
    bad = [r for r in rs if int(r[3]) != faces]
    short = sum(1 for r in rs if r[4].endswith("GOMP_SPINCOUNT=100"))
    ratios = sorted(r[0] / irate for r in rs)
    print("| %s | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.3f of %.3f | %.2fx |" % (
        p, side, irate, rate, rate / irate, ms, eng, idle, wall, busy_rate / irate))
    notes.append("%s, %s: run / infer per round (against the median infer) %.2fx .. %.2fx"
                 % (p, side, ratios[0], ratios[-1]))
    if bad:
        notes.append("%s, %s: a run scored %d faces, not %d" % (p, side, int(bad[0][3]), faces))
    if short:
        notes.append("%s, %s: %d of %d runs found the machine loaded at start (spin 100)"
                     % (p, side, short, len(rs)))
for n in notes:
    print("- " + n)
PY

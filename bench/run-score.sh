#!/usr/bin/env bash
# Benchmark of the score (issue 2), on one core (taskset -c 0):
#  - bench_score: time per image of di_feature_compute (the whole score of a
#    depth map) on the demo's street-canyon depth maps, 512x512 and 2048x2048;
#  - `depthindex score` on the same maps as NPY files, many files in one
#    process (file reading included);
#  - the seed's Python procedure (bench/score_seed.py) on the same maps in the
#    same run, and the agreement of our score with the median of its
#    (nondeterministic) scores; the speed-up both without and with file
#    reading (`depthindex score`; issue 15's target: at least 100x at 512x512);
#  - the score step against one plain pass over the same bytes;
#  - `depthindex score` per image without the process's start-up (loading
#    its ~40 shared libraries: tens of ms that a run of 400 files spreads
#    over every image): one process scoring N files and one scoring 2N, runs
#    interleaved, the difference divided by N (the seed's figure is timed
#    inside its process, so this is the like-for-like figure); the start-up
#    is printed beside it.
#   bench/run-score.sh BUILD_DIR [PANORAMAS_512 PANORAMAS_2048 SEED_RUNS]
#  - the start-up in CPU time (`score --help`, and with one map) and the
#    number of shared libraries the process loads (issue 15: oneDNN and the
#    database clients are loaded only where used).
#  - the score's main passes (min/max, 8-bit depth and histogram, Canny,
#    weighted sum) each alone, in CPU time per image (bench_score).
#   REPEAT=N: runs of each `depthindex score` measurement (median) [5]
#   BEFORE=DIR: another build (say main's, before a change) whose `depthindex
#     score` is timed in the same run, alternating with this build's, on the
#     same 400 512x512 maps, one core, in CPU and wall time per map: the
#     before/after of a change within one window of this noisy machine
# Prints a Markdown report for bench/RESULTS.md ("Score" section).
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
n512=${2:-4}   # panoramas, 4 faces each
n2048=${3:-1}
runs=${4:-5}
bench_knobs REPEAT=5
bench_need depthindex bench/bench_score
exe="$build/depthindex"
before=${BEFORE:-}
if [ -n "$before" ]; then
  case $before in /*) ;; *) before="$bench_root/$before" ;; esac
  [ -x "$before/depthindex" ] || { echo "$bench_name: BEFORE=$BEFORE: no depthindex built there"; exit 1; }
fi
bench="$build/bench/bench_score"
bench_workdir
[ -n "${EPOCHREALTIME:-}" ] || { echo "run-score: needs bash 5 (\$EPOCHREALTIME, the clock of the timing loops)"; exit 2; }
tmp=$work
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
"$exe" demo --count "$n512" --size 512x512 --seed 11 "$tmp/m512" >/dev/null
"$exe" demo --count "$n2048" --size 2048x2048 --seed 5 "$tmp/m2048" >/dev/null
"$py" bench/score_maps.py "$tmp/raw" "$tmp"/m512/*.npy "$tmp"/m2048/*.npy
taskset -c 0 "$bench" --runs 7 "$tmp"/raw/*.raw > "$tmp/ours.jsonl"

# depthindex score over many files in one process: median of REPEAT runs.
# The timing loops run in a subshell pinned to core 0 once (taskset -p), so
# that each timed process is depthindex alone: `taskset -c 0 depthindex`
# timed taskset's own exec and loading too, about 3.7 ms of CPU per process
# on this VM (0.009 ms per file over 400 files), which is not depthindex's
# start-up (until 2026-12-06 the figures included it). The clock is bash's
# own $EPOCHREALTIME (microseconds), read without a process: `$(date +%s%N)`
# counted the second date's exec and loading too (about 2 ms on this VM,
# 0.005 ms per file over 400 files; until the 2026-12-06 night figures).
cli_ms() { # dir, repeat count
  local files=() i t
  for ((i = 0; i < $2; i++)); do files+=("$1"/*.npy); done
  ( taskset -cp 0 "$BASHPID" >/dev/null
  for ((i = 0; i < repeat; i++)); do
    t=${EPOCHREALTIME//[!0-9]/}
    "$exe" score "${files[@]}" >/dev/null
    echo "$(( ${EPOCHREALTIME//[!0-9]/} - t )) ${#files[@]}"
  done ) | "$py" -c '
import sys, statistics
v = [float(l.split()[0]) * 1e-6 / int(l.split()[1]) for l in sys.stdin]
print(f"{statistics.median(v) * 1e3:.3f}")'
}
# Per image without the start-up: N and 2N files, interleaved runs; prints
# "MS_PER_IMAGE STARTUP_MS" (medians of the per-run-pair figures).
cli_marginal() { # dir, repeat count N
  local one=() two=() i t1 t2 t
  for ((i = 0; i < $2; i++)); do one+=("$1"/*.npy); done
  two=("${one[@]}" "${one[@]}")
  ( taskset -cp 0 "$BASHPID" >/dev/null
  for ((i = 0; i < repeat; i++)); do
    t=${EPOCHREALTIME//[!0-9]/}
    "$exe" score "${one[@]}" >/dev/null
    t1=$(( ${EPOCHREALTIME//[!0-9]/} - t ))
    t=${EPOCHREALTIME//[!0-9]/}
    "$exe" score "${two[@]}" >/dev/null
    t2=$(( ${EPOCHREALTIME//[!0-9]/} - t ))
    echo "$t1 $t2 ${#one[@]}"
  done ) | "$py" -c '
import sys, statistics
per, start = [], []
for l in sys.stdin:
    t1, t2, n = (float(x) for x in l.split())
    p = (t2 - t1) / n
    per.append(p * 1e-3)
    start.append((t1 - n * p) * 1e-3)
print(f"{statistics.median(per):.3f} {statistics.median(start):.1f}")'
}
# The start-up in CPU time (wall time counts waits for the other jobs of a
# loaded machine): `depthindex score --help` (loading only) and with one
# 512x512 map (the first file's buffers too), medians of REPEAT runs; and
# the shared libraries the process loads (LD_DEBUG=files); with the page
# faults (minor, median): on a virtual machine each costs 10-20 us, and a
# first map whose buffers are not in huge pages takes hundreds.
startup_cpu() {
  "$py" - "$repeat" "$@" <<'PY'
import os, resource, statistics, subprocess, sys
n, cmd = int(sys.argv[1]), sys.argv[2:]
os.sched_setaffinity(0, {0})  # children inherit it: no taskset to time
v, f = [], []
for _ in range(max(n, 3) * 3):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    v.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3)
    f.append(after.ru_minflt - before.ru_minflt)
print(f"{statistics.median(v):.1f} ms ({statistics.median(f):.0f} page faults)")
PY
}
first512=$(ls "$tmp"/m512/*.npy | head -1)
cpu_help=$(startup_cpu "$exe" score --help)
cpu_one=$(startup_cpu "$exe" score "$first512")
cpu_true=$(startup_cpu /bin/true)
libs=$(LD_DEBUG=files "$exe" score "$first512" 2>&1 >/dev/null | grep -c 'generating link map' || true)
c512=$(cli_ms "$tmp/m512" 25)
c2048=$(cli_ms "$tmp/m2048" 3)
read -r m512 s512 < <(cli_marginal "$tmp/m512" 25)
# BEFORE's score and ours alternating (before, after, before, ...), each
# process on all the 512x512 maps 25 times over, pinned to core 0 (its
# children inherit it: no taskset exec); CPU time from the children's rusage
# (what other jobs of a loaded machine take is not counted), medians.
score_ab() { # before_exe after_exe repeat files...
  "$py" - "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
before, after, n, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:] * 25
os.sched_setaffinity(0, {0})
cpu = {before: [], after: []}
wall = {before: [], after: []}
for _ in range(n):
    for exe in (before, after):
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([exe, "score"] + files, stdout=subprocess.DEVNULL, check=True)
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[exe].append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e3 / len(files))
        wall[exe].append((t1 - t0) * 1e3 / len(files))
c0, c1 = statistics.median(cpu[before]), statistics.median(cpu[after])
w0, w1 = statistics.median(wall[before]), statistics.median(wall[after])
print("| build | CPU ms/map | wall ms/map | CPU vs before |")
print("|---|---|---|---|")
print(f"| before ({os.path.dirname(before)}) | {c0:.4f} | {w0:.4f} | 1.000 |")
print(f"| after ({os.path.dirname(after)}) | {c1:.4f} | {w1:.4f} | {c1 / c0:.3f} |")
PY
}
ab=""
if [ -n "$before" ]; then
  ab_load0=$(bench_load)
  ab=$(score_ab "$before/depthindex" "$exe" "$repeat" "$tmp"/m512/*.npy)
  ab_load1=$(bench_load)
fi
read -r m2048 s2048 < <(cli_marginal "$tmp/m2048" 3)

echo "## Score: depthindex against the seed's procedure"
echo
isa=$(bench_isa avx2 avx512f avx512bw avx512_bf16 amx_bf16)
echo "CPU: $(bench_cpu); ISA: ${isa:-no avx2/avx512}; build: $(grep -q march=native "$build/build.ninja" && echo '-march=native' || echo 'portable (-Dnative=false)'); load average: $(bench_load)"
echo
taskset -c 0 "$py" bench/score_seed.py --runs "$runs" \
  --ours "$tmp/ours.jsonl" --reading "512x512=$c512" --reading "2048x2048=$c2048" \
  --marginal "512x512=$m512" --marginal "2048x2048=$m2048" \
  "$tmp"/raw/*.raw
echo
echo "\`depthindex score\` on the same maps as NPY files, many files in one process"
echo "(reading and start-up included; the timing shell pinned to core 0 once, no"
echo "taskset exec per process), ms per image: 512x512: $c512; 2048x2048: $c2048."
echo "The same without the process's start-up (N and 2N files per process, the"
echo "difference over N): 512x512: $m512 ms per image (start-up $s512 ms);"
echo "2048x2048: $m2048 ms per image (start-up $s2048 ms)."
echo "Start-up in CPU time (one core, medians): \`depthindex score --help\` $cpu_help;"
echo "with one 512x512 map $cpu_one; \`/bin/true\` $cpu_true; shared libraries loaded: $libs."
echo "The score's passes, each alone over the maps, CPU ms per image (bench_score's"
echo "phases_cpu_ms; every map from memory, so upper bounds):"
"$py" - "$tmp/ours.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    ph = r.get("phases_cpu_ms", {})
    print(f"{r['width']}x{r['height']}: " +
          ", ".join(f"{k} {v:.4f}" for k, v in ph.items()) + ".")
PY
if [ -n "$ab" ]; then
  echo
  echo "Before and after in one window: \`depthindex score\` on 400 512x512 maps per"
  echo "process (reading and start-up included), one core, the two builds"
  echo "alternating, medians of $repeat (load average $ab_load0 before, $ab_load1 after):"
  echo
  echo "$ab"
fi
echo "Load average at the end: $(bench_load)."

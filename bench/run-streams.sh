#!/usr/bin/env bash
# --streams on the CPU: `depthindex run --model` with one inference stream
# (the anchor), with two streams sharing the engine's threads (each stream's
# session gets threads / streams, sched.c di_pipe_choose_split), and with two
# streams of every engine thread each (what --streams 2 did before: --threads
# set to streams x the automatic count, so N times the cores were put to work
# and libgomp throttled every thread's spin).
# Model: the MiDaS v2.1 small graph with generated weights (256x256); FACES
# 512x512 JPEG faces of the demo (SQLite), batch 4, default decoders and
# workers. Each figure is the median of ROUNDS rounds, the variants
# interleaved within a round. Prints the CPU, its ISA, the load average
# before and after, and a table for bench/RESULTS.md: images/s, CPU ms per
# image (user + system of the process), and images/s as a ratio to the anchor
# measured in the same run.
# usage: bench/run-streams.sh BUILD_DIR   (ROUNDS [3], FACES [64];
#        TINY=1: a 1-round check of the script itself)
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs ROUNDS=3 FACES=64
batch=4
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || graph=/work/shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || { echo "run-streams: the MiDaS graph ($graph) is absent; skipped"; exit 0; }
bench_need depthindex
bench_workdir
if [ "${TINY:-0}" = 1 ]; then rounds=1 faces=8; fi

isa=$(bench_isa)
echo "machine: $(bench_cpu) ($ncpu cores); ISA: ${isa:-none of avx2/avx512/amx}; $(date -u '+%F %H:%M UTC')"
# run's automatic engine threads on the CPU (sched.c di_pipe_choose_split)
side=$(( ncpu / 8 > 1 ? ncpu / 8 : 1 ))
auto=$(( ncpu <= 4 ? ncpu : ncpu - side ))
echo "batch $batch, $faces faces 512x512, automatic engine threads $auto, median of $rounds rounds"

"$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
"$di" init --db "sqlite:$work/f.db" --demo "$(( (faces + 3) / 4 ))" --images "$work/f" --size 512 >/dev/null

variants=(s1 s2 s2-each)
variant_args() {
  case $1 in
    s1) echo "--streams 1" ;;
    s2) echo "--streams 2" ;;
    s2-each) echo "--streams 2 --threads $(( 2 * auto ))" ;;
  esac
}
# prints "images/s cpu-ms/image" of one run
run_once() {
  "$py" - "$di" "$work" "$batch" $(variant_args "$1") <<'PY'
import json, resource, subprocess, sys
di, work, batch, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run([di, "run", "--db", "sqlite:%s/f.db" % work, "--images", work + "/f",
                      "--model", work + "/midas.onnx", "--device", "cpu", "--batch", batch,
                      "--force", "--progress", "json"] + extra,
                     capture_output=True, text=True, check=True).stdout
after = resource.getrusage(resource.RUSAGE_CHILDREN)
s = [json.loads(l) for l in out.splitlines() if '"summary"' in l][-1]
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
n = s.get("ok", 0) or 1
print(s["images_per_s"], 1000.0 * cpu / n)
PY
}

echo
echo "(load average before: $(bench_load))"
out="$work/rates.txt"
: >"$out"
for ((r = 0; r < rounds; r++)); do
  for v in "${variants[@]}"; do
    echo "$v $(run_once "$v")" >>"$out"
  done
done
echo "(load average after: $(bench_load))"
"$py" - "$out" "$auto" "${variants[@]}" <<'PY'
import statistics, sys
path, auto, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
v = {}
for line in open(path):
    name, rate, cpu = line.split()
    v.setdefault(name, []).append((float(rate), float(cpu)))
rate = {n: statistics.median(x[0] for x in v[n]) for n in names}
cpu = {n: statistics.median(x[1] for x in v[n]) for n in names}
label = {"s1": "--streams 1 (anchor)",
         "s2": "--streams 2, threads shared (%d each)" % max(auto // 2, 1),
         "s2-each": "--streams 2 --threads %d (%d each, as before)" % (2 * auto, auto)}
print("| run, MiDaS small 256, batch 4 | images/s | CPU ms/image | vs anchor |")
print("|---|---|---|---|")
for n in names:
    print(f"| {label[n]} | {rate[n]:.2f} | {cpu[n]:.1f} | {rate[n] / rate['s1']:.3f} |")
PY

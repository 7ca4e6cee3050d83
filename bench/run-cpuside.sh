#!/usr/bin/env bash
# The CPU side of `depthindex run --model` (issue 15): read, JPEG decode,
# resize, normalise, post-processing (resize of the model output to the
# face, score) and write, with a trivially cheap model, as behind a very fast
# GPU. The model is tests/pipeline/tiny_onnx.py's: one 1x1 Conv at 256x256
# (N x 3 x 256 x 256 -> N x 1 x 256 x 256), so inference costs next to
# nothing and the faces/s is what the CPU side sustains. Faces: 512x512 JPEG
# street faces (`depthindex init --demo`), FACES rows in SQLite whose files
# are links to 400 rendered ones. Target: at least 1,000 faces/s on 2 cores.
# Two thread splits, best of ROUNDS runs each, interleaved:
#   auto:  run's own split (the CPU engine gets the cores; see the README)
#   pools: --threads 1 --decoders NCPU --workers NCPU (all cores to the pools)
# Prints the CPU, ISA and load average, faces/s and the busy % per stage, and
# the CPU ms per face of decode and post (busy share x wall x pool threads /
# faces), the per-core costs the target is about.
# usage: bench/run-cpuside.sh BUILD_DIR   (FACES [8000], ROUNDS [3]; TINY=1 for a
#        quick check of the script)
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs FACES=8000 ROUNDS=3
base=100 # rendered panoramas (4 faces each)
if [ "${TINY:-0}" = 1 ]; then faces=80 rounds=1 base=5; fi
bench_need depthindex
bench_workdir

isa=$(bench_isa avx2 avx512f avx512bw avx512_bf16 amx_bf16)
echo "machine: $(bench_cpu) ($ncpu cores); ISA: ${isa:-no avx2/avx512}; $(date -u '+%F %H:%M UTC'); load average: $(bench_load)"

"$py" tests/pipeline/tiny_onnx.py "$work/tiny.onnx" 256
bench_demo_set "$work/f.db" "$work/f" $(( (faces + 3) / 4 )) 512 jpg "$base"

one_run() { # split -> one JSON summary line
  local extra=()
  [ "$1" = pools ] && extra=(--threads 1 --decoders "$ncpu" --workers "$ncpu")
  "$di" run --db "sqlite:$work/f.db" --images "$work/f" --model "$work/tiny.onnx" \
    --device cpu --batch 8 --force --progress json "${extra[@]}" | grep '"summary"' | tail -1
}
# the thread split as run prints it at start
split_of() {
  local extra=()
  [ "$1" = pools ] && extra=(--threads 1 --decoders "$ncpu" --workers "$ncpu")
  "$di" run --db "sqlite:$work/f.db" --images "$work/f" --model "$work/tiny.onnx" \
    --device cpu --batch 8 --force --limit 8 --progress json "${extra[@]}" | grep '"start"' | head -1
}
: >"$work/runs.jsonl"
for s in auto pools; do
  echo "{\"split\": \"$s\", \"start\": $(split_of "$s")}" >>"$work/starts.jsonl"
done
for ((r = 0; r < rounds; r++)); do
  for s in auto pools; do
    echo "{\"split\": \"$s\", \"summary\": $(one_run "$s")}" >>"$work/runs.jsonl"
  done
done
echo "load average after: $(bench_load)"
"$py" - "$work/runs.jsonl" "$work/starts.jsonl" "$faces" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
starts = {j["split"]: j["start"] for j in map(json.loads, open(sys.argv[2]))}
faces = int(sys.argv[3])
print(f"| split | threads (engine, decoders, workers) | faces/s (best) | all runs | busy % (best run) | decode CPU ms/face | post CPU ms/face |")
print("|---|---|---|---|---|---|---|")
for split in ("auto", "pools"):
    rs = [r["summary"] for r in runs if r["split"] == split]
    best = max(rs, key=lambda s: s["images_per_s"])
    st = starts[split]
    dec, wrk = st.get("decoders", 0), st.get("workers", 0)
    busy = best.get("busy_percent", {})
    wall = best.get("wall_s") or best.get("seconds") or 0
    done = best.get("ok", faces) or faces
    def cpu_ms(stage, n):
        b = busy.get(stage)
        return "-" if b is None or not wall else "%.3f" % (b / 100 * wall * n / done * 1e3)
    print(f"| {split} | {st.get('engine_threads')}, {dec}, {wrk} | {best['images_per_s']:.0f} | "
          f"{', '.join('%.0f' % s['images_per_s'] for s in rs)} | {json.dumps(busy)} | "
          f"{cpu_ms('decode', dec)} | {cpu_ms('post', wrk)} |")
PY

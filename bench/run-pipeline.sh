#!/usr/bin/env bash
# Pipeline benchmarks (issue 4), on SQLite:
#   1. `run --depth-dir` on 10k faces against its slowest stage alone (loading
#      and scoring the depth maps: bench/pipeline_stage makes the workers'
#      calls on the same files with as many threads, nothing else running);
#   2. peak RSS with 1k and with 100k pending faces (memory is bounded by the
#      queues, not by the number of faces: target equal within 10 %);
#   3. with the CPU engine and the MiDaS v2.1 small graph (generated weights):
#      end-to-end images/s of `run --model` against the engine alone
#      (`depthindex infer`, same batch and threads) (target >= 0.9).
# Faces are symbolic links to a few hundred rendered ones, so that 100k faces
# cost no disk. Prints the figures and a block for bench/RESULTS.md.
# Usage: bench/run-pipeline.sh BUILD_DIR   (PIPE_BENCH_SIZE [256], PIPE_BENCH_MODEL_FACES [96], at least 24)
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_need depthindex bench/pipeline_stage
stage="$bench_root/$build/bench/pipeline_stage"
size=${PIPE_BENCH_SIZE:-256}
model_faces=${PIPE_BENCH_MODEL_FACES:-96}
if [ "$model_faces" -lt 24 ]; then
  echo "run-pipeline: PIPE_BENCH_MODEL_FACES must be at least 24 (its CPU-time split runs a third of them, in whole batches of 8), not $model_faces" >&2
  exit 2
fi
bench_workdir

# make_set NAME PANORAMAS SIZE: a table with PANORAMAS rows whose faces (depth
# maps and pictures) link to 100 rendered panoramas.
make_set() { bench_demo_set "$work/$1.db" "$work/$1" "$2" "$3" "npy jpg"; }

json_field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
summary_line() { grep '"summary"' | tail -1; }

echo "== 1. run --depth-dir on 10k faces (${size}x${size}) against its slowest stage alone"
echo "   (best of 3 alternating runs each: the machine is shared)"
make_set s10k 2500 "$size"
ls "$work"/s10k/*.npy >"$work/files"
rates=() alones=()
for i in 1 2 3; do
  line=$("$di" run --db "sqlite:$work/s10k.db" --depth-dir "$work/s10k" --force --progress json | summary_line)
  rates+=("$(json_field "$line" images_per_s)")
  busy=$(echo "$line" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["busy_percent"])')
  # the stage alone: the same calls as the run's workers, as many threads
  alones+=("$("$stage" "$ncpu" "$work/files" | sed 's/ images.*//')")
done
rate=$(bench_best "${rates[@]}")
alone=$(bench_best "${alones[@]}")
ratio=$(bench_calc %.2f "$rate / $alone")
echo "pipeline: ${rates[*]} images/s (last busy %: $busy)"
echo "load+score alone (bench/pipeline_stage, $ncpu threads): ${alones[*]} images/s"
echo "best pipeline / best stage alone = $ratio"

echo "== 2. peak RSS with 1k and 100k pending faces (128x128 faces)"
make_set r1k 250 128
make_set r10k 2500 128
make_set r100k 25000 128
rss() { # db dir -> "KB rate"
  local out
  out=$( { /usr/bin/time -f 'RSS %M' "$di" run --db "sqlite:$work/$1.db" --depth-dir "$work/$1" \
           --progress json | summary_line; } 2>&1 )
  echo "$(echo "$out" | sed -n 's/^RSS //p') $(json_field "$(echo "$out" | grep summary)" images_per_s)"
}
read -r rss1 r1 < <(rss r1k)
read -r rss10 r10 < <(rss r10k)
read -r rss100 r100 < <(rss r100k)
rssratio=$(bench_calc %.3f "$rss100 / $rss1")
echo "1k faces: peak RSS $rss1 KB ($r1 images/s); 10k: $rss10 KB ($r10 images/s); 100k faces: $rss100 KB ($r100 images/s); ratio 100k/1k $rssratio"

model_line="(no model: ../shared/models/midas_v21_small_256.graph.onnx absent)"
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || graph=/work/shared/models/midas_v21_small_256.graph.onnx
if [ -f "$graph" ]; then
  echo "== 3. CPU engine: run --model end to end against inference alone (MiDaS v2.1 small, generated weights)"
  "$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
  make_set m "$(( (model_faces + 3) / 4 ))" 512
  batch=8
  threads=$("$di" run --db "sqlite:$work/m.db" --images "$work/m" --model "$work/midas.onnx" \
              --device cpu --progress json --limit 1 | "$py" -c 'import json,sys
for l in sys.stdin:
    if "\"start\"" in l: print(json.loads(l)["engine_threads"])')
  "$py" -c "import numpy as np; np.save('$work/x.npy', np.random.default_rng(0).standard_normal(($batch,3,256,256)).astype(np.float32))"
  e2es=() infs=()
  for i in 1 2; do
    ms=$("$di" infer --model "$work/midas.onnx" --input "$work/x.npy" --threads "$threads" --repeat 5 | sed -n 's/^\([0-9.]*\) ms.*/\1/p' | tail -1)
    infs+=("$(bench_calc %.2f "$batch * 1000.0 / $ms")")
    line=$("$di" run --db "sqlite:$work/m.db" --images "$work/m" --model "$work/midas.onnx" \
             --device cpu --batch $batch --force --progress json | summary_line)
    e2es+=("$(json_field "$line" images_per_s)")
  done
  e2e=$(bench_best "${e2es[@]}")
  inf=$(bench_best "${infs[@]}")
  mratio=$(bench_calc %.2f "$e2e / $inf")
  echo "end to end: ${e2es[*]} images/s; inference alone: ${infs[*]} images/s"
  model_line="CPU engine, MiDaS v2.1 small 256x256 (generated weights), $model_faces faces of 512x512 JPEG, batch $batch, $threads engine threads: end to end $e2e images/s, inference alone (depthindex infer, same batch and threads) $inf images/s: ratio $mratio (best of 2 each)"
  echo "$model_line"
  # CPU seconds per image, which a busy shared machine disturbs much less than
  # wall time: the marginal cost of more images (the difference of a long and
  # a short run cancels model loading and kernel preparation).
  cpu() { /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | "$py" -c 'import sys; u, s = sys.stdin.read().split(); print(float(u) + float(s))'; }
  c1=$(cpu "$di" infer --model "$work/midas.onnx" --input "$work/x.npy" --threads "$threads" --repeat 1)
  c4=$(cpu "$di" infer --model "$work/midas.onnx" --input "$work/x.npy" --threads "$threads" --repeat 4)
  short=$(( model_faces / 3 / batch * batch ))
  r1=$(cpu "$di" run --db "sqlite:$work/m.db" --images "$work/m" --model "$work/midas.onnx" \
         --device cpu --batch $batch --force --limit "$short" --progress none)
  r2=$(cpu "$di" run --db "sqlite:$work/m.db" --images "$work/m" --model "$work/midas.onnx" \
         --device cpu --batch $batch --force --progress none)
  cpu_line=$("$py" -c "
ci = ($c4 - $c1) / (3 * $batch); cr = ($r2 - $r1) / ($model_faces - $short)
print('CPU seconds per image: inference alone %.3f, end to end (decode, inference, post, write) %.3f: ratio %.2f' % (ci, cr, ci / cr))")
  echo "$cpu_line"
  model_line="$model_line
- $cpu_line"
fi

cat <<EOF

---- for bench/RESULTS.md ----
$(date -u +%Y-%m-%d), $(uname -m), $ncpu cores ($(bench_cpu)), SQLite:
- \`run --depth-dir\`, 10k faces ${size}x${size}: $rate images/s; load+score alone (bench/pipeline_stage: the workers' calls, $ncpu threads, no database or queues): $alone images/s; pipeline / slowest stage alone = $ratio (best of 3 each)
- peak RSS, 128x128 faces: 1k pending $rss1 KB, 10k $rss10 KB, 100k pending $rss100 KB (ratio 100k/1k $rssratio; target <= 1.10)
- $model_line
EOF

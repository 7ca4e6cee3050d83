#!/usr/bin/env bash
# Report and panel benchmarks (issue 12), on SQLite:
#   1. the cost of `run --save-maps` at the default N (1000) and at N = 100:
#      the same run with and without it, alternating, medians and the ratio
#      (target: under 2 % at the default N). With the MiDaS v2.1 small graph
#      (generated weights, CPU engine) when ../shared/models has it, else
#      with --depth-dir (where post-processing is all the work, the worst
#      case for the panels' share);
#   2. peak RSS and wall time of `depthindex report` on a table of 1 M rows
#      (filled by one SQL statement) against 10 k rows: the statistics are
#      streamed, so the peak must not grow with the table.
# Usage: bench/run-report.sh BUILD_DIR
#   REPORT_BENCH_FACES [2000] faces per run in 1; REPORT_BENCH_RUNS [5] runs
#   of each; REPORT_BENCH_ROWS [1000000] rows in 2 (small values: a smoke test)
set -euo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_need depthindex
faces=${REPORT_BENCH_FACES:-2000}
runs=${REPORT_BENCH_RUNS:-5}
rows=${REPORT_BENCH_ROWS:-1000000}
bench_workdir

wall() { "$py" -c 'import json,sys
for l in sys.stdin:
    if "\"summary\"" in l: print(json.loads(l)["wall_s"])' | tail -1; }

echo "== 1. run --save-maps: cost at N = 1000 (default) and N = 100"
pano=$(( (faces + 3) / 4 ))
bench_demo_set "$work/s.db" "$work/img" "$pano" 256 "npy jpg"
graph=../shared/models/midas_v21_small_256.graph.onnx
if [ -f "$graph" ]; then
  "$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
  src=(--images "$work/img" --model "$work/midas.onnx" --device cpu)
  what="MiDaS v2.1 small (generated weights), CPU engine"
else
  src=(--depth-dir "$work/img" --images "$work/img")
  what="--depth-dir (no model graph in ../shared/models)"
fi
echo "$(( pano * 4 )) faces of 256x256, $what, $runs runs each, alternating"
plain=() n1000=() n100=()
for i in $(seq "$runs"); do
  rm -rf "$work/maps"
  plain+=("$("$di" run --db "sqlite:$work/s.db" "${src[@]}" --force --progress json | wall)")
  n1000+=("$("$di" run --db "sqlite:$work/s.db" "${src[@]}" --force --progress json \
              --save-maps "$work/maps" | wall)")
  n100+=("$("$di" run --db "sqlite:$work/s.db" "${src[@]}" --force --progress json \
             --save-maps "$work/maps" --save-every 100 | wall)")
done
m0=$(bench_median "${plain[@]}"); m1=$(bench_median "${n1000[@]}"); m2=$(bench_median "${n100[@]}")
echo "without: ${plain[*]} s (median $m0)"
echo "--save-maps (N 1000): ${n1000[*]} s (median $m1), ratio $(bench_calc %.4f "$m1 / $m0")"
echo "--save-maps --save-every 100: ${n100[*]} s (median $m2), ratio $(bench_calc %.4f "$m2 / $m0")"
echo "panels in the last N 100 run: $(ls "$work/maps" | wc -l)"

echo "== 2. depthindex report: peak RSS at $rows rows against 10000 rows"
fill() { # DB ROWS: a scored table with coordinates and 1 % failures, by SQL
  "$di" init --db "sqlite:$1" >/dev/null
  "$py" - "$1" "$2" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
con.execute("ALTER TABLE panorama ADD COLUMN lat REAL")
con.execute("ALTER TABLE panorama ADD COLUMN lon REAL")
con.execute("""WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
  INSERT INTO panorama (id, panorama_sid, xm_depth_index, xp_depth_index, zm_depth_index,
                        zp_depth_index, lat, lon)
  SELECT i, 'pano' || i, abs(random() % 2000) / 100.0, abs(random() % 2000) / 100.0,
         CASE WHEN i % 100 = 0 THEN NULL ELSE abs(random() % 2000) / 100.0 END,
         abs(random() % 2000) / 100.0, 48.0 + (i % 1000) / 5000.0, 11.0 + (i / 1000) / 5000.0
  FROM c""", (n,))
con.execute("""INSERT INTO depthindex_errors (id, face, error, at)
  SELECT id, 'zm', 'bench: error number ' || (id % 37), CURRENT_TIMESTAMP
  FROM panorama WHERE zm_depth_index IS NULL""")
con.commit()
PY
}
peak() { # DB -> "KB seconds"
  /usr/bin/time -v "$di" report --db "sqlite:$1" --lat lat --lon lon --out "$work/report" \
    2>"$work/time" >/dev/null
  echo "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")" \
       "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time")"
}
fill "$work/small.db" 10000
fill "$work/big.db" "$rows"
read -r ks ts <<<"$(peak "$work/small.db")"
read -r kb tb <<<"$(peak "$work/big.db")"
echo "10000 rows: peak RSS $ks KB, wall $ts"
echo "$rows rows: peak RSS $kb KB, wall $tb (ratio $(bench_calc %.2f "$kb / $ks"))"
echo "--- for bench/RESULTS.md ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)):"
echo "| save-maps N 1000 / without | $(bench_calc %.4f "$m1 / $m0") | N 100: $(bench_calc %.4f "$m2 / $m0") |"
echo "| report peak RSS, $rows rows / 10k rows | $kb KB / $ks KB |"

#!/usr/bin/env bash
# Many workers on one table (issue 10): bench/run-workers.sh BUILD_DIR
#   1. coordination alone: claims/s with 1, 8, 32 and 128 concurrent claimers
#      (threads, one connection each) on zero-work chunks of one id, claim
#      and done-mark latency p50/p99, errors (lock waits, deadlocks: target 0)
#      (bench/bench_claims), per backend;
#   2. scale: `run --depth-dir` with 1, 2, 4 and 8 workers on one table of
#      WORKERS_BENCH_ROWS panoramas (4 faces each; symbolic links to 200
#      rendered 64x64 depth maps): faces/s, duplicated faces, and the
#      straggler tail (first worker's last chunk finished to the last one's);
#   3. with a model (MiDaS v2.1 small, generated weights, CPU): 2 workers of 1
#      engine thread against 1 worker of 2 threads (target >= 0.95).
# MariaDB and PostgreSQL run on private servers from tests/db/server.sh over
# 127.0.0.1; servers this script starts are stopped again.
# Knobs (environment): WORKERS_BENCH_CHUNKS [4000] chunks per claims run;
# WORKERS_BENCH_BACKENDS ["sqlite mariadb postgresql"]; WORKERS_BENCH_ROWS
# [100000] (250000 = 1 M faces); WORKERS_BENCH_SCALE_DB [postgresql];
# WORKERS_BENCH_CHUNK [1024] ids per chunk in 2; WORKERS_BENCH_MODEL_FACES [384].
# Each part takes under about 4 minutes at the defaults on 2 cores.
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
build=$(cd "$build" && pwd)
ninja -C "$build" depthindex bench/bench_claims >/dev/null || { echo "run-workers: build failed"; exit 1; }
di=$build/depthindex
claims=$build/bench/bench_claims
export DI_TEST_DB_DIR=${DI_TEST_DB_DIR:-$build/test-db}
export DEPTHINDEX_DB_PASSWORD=di-secret
fixture=tests/db/server.sh
nchunks=${WORKERS_BENCH_CHUNKS:-4000}
backends=${WORKERS_BENCH_BACKENDS:-sqlite mariadb postgresql}
rows=${WORKERS_BENCH_ROWS:-100000}
scale_db=${WORKERS_BENCH_SCALE_DB:-postgresql}
chunk=${WORKERS_BENCH_CHUNK:-1024}
model_faces=${WORKERS_BENCH_MODEL_FACES:-384}
machine="$ncpu cores, $(bench_cpu)"
# servers this script started are stopped again; server_url runs inside
# $(...), a subshell, so it records them in a file, not in a shell variable
stop_servers() {
  local kind
  [ -f "$work/started" ] || return 0
  for kind in $(sort -u "$work/started"); do "$fixture" stop "$kind" >/dev/null 2>&1; done
}
bench_workdir
bench_at_exit stop_servers
echo "many workers, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine"
status=0

# server_url KIND DB: a fresh database on the private server, its URL
server_url() {
  local kind=$1 name=$2 out rc
  "$fixture" status "$kind" >/dev/null 2>&1 || echo "$kind" >> "$work/started"
  out=$("$fixture" createdb "$kind" "$name" 2>&1); rc=$?
  if [ $rc -ne 0 ]; then echo "$kind: no server: $out" >&2; return 1; fi
  "$fixture" url "$kind" "$name"
}

# sql KIND URL STATEMENT: runs one statement with the server's client
sql() {
  local kind=$1 url=$2 port name
  port=${url##*:}; port=${port%%/*}; name=${url##*/}
  case $kind in
    mariadb) MYSQL_PWD=di-secret mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" \
               -u di_test -N -B -e "$3" "$name" ;;
    postgresql) PGPASSWORD=di-secret psql -X -q -h 127.0.0.1 -p "$port" -U di_test -d "$name" \
               -tA -F ' ' -v ON_ERROR_STOP=1 -c "$3" ;;
    sqlite) "$py" -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); c.commit()
print("\n".join(" ".join(str(v) for v in row) for row in r))' "${url#sqlite:}" "$3" ;;
  esac
}

echo "== 1. claims per second, zero-work chunks of one id ($nchunks per run)"
declare -A claim_line
for kind in $backends; do
  if [ "$kind" = sqlite ]; then
    url="sqlite:$work/claims.db"
  else
    url=$(server_url "$kind" di_bench_claims) || { status=1; continue; }
    url=${url/di_test@/di_test:di-secret@}
  fi
  for c in 1 8 32 128; do
    out=$("$claims" "$url" "$c" "$nchunks" 2>&1) || status=1
    echo "  $out"
    claim_line[$kind-$c]=$(echo "$out" | head -1)
  done
done

echo "== 2. scale: run --depth-dir, 1 2 4 8 workers, $rows panoramas ($((rows * 4)) faces) on $scale_db"
scale_rows=()
if url=$( [ "$scale_db" = sqlite ] && echo "sqlite:$work/scale.db" || server_url "$scale_db" di_bench_scale); then
  base=200
  "$di" init --db "$url" --demo $base --images "$work/maps" --size 64 >/dev/null || status=1
  case $scale_db in
    postgresql) sql "$scale_db" "$url" "INSERT INTO panorama (id, panorama_sid) SELECT g, 'demo' || lpad(g::text, 6, '0') FROM generate_series($((base + 1)), $rows) g" ;;
    mariadb) sql "$scale_db" "$url" "INSERT INTO panorama (id, panorama_sid) SELECT seq, CONCAT('demo', LPAD(seq, 6, '0')) FROM seq_$((base + 1))_to_$rows" ;;
    sqlite) sql sqlite "$url" "WITH RECURSIVE g(i) AS (SELECT $((base + 1)) UNION ALL SELECT i + 1 FROM g WHERE i < $rows) INSERT INTO panorama (id, panorama_sid) SELECT i, printf('demo%06d', i) FROM g" ;;
  esac
  "$py" - "$work/maps" "$rows" $base <<'PY'
import os, sys
d, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(base + 1, n + 1):
    for f in ("xm", "xp", "zm", "zp"):
        os.symlink("demo%06d_%s.npy" % ((i - 1) % base + 1, f), os.path.join(d, "demo%06d_%s.npy" % (i, f)))
PY
  for w in 1 2 4 8; do
    sql "$scale_db" "$url" "UPDATE panorama SET xm_depth_index = NULL, xp_depth_index = NULL, zm_depth_index = NULL, zp_depth_index = NULL" >/dev/null
    sql "$scale_db" "$url" "DELETE FROM depthindex_chunks" >/dev/null 2>&1
    sql "$scale_db" "$url" "DELETE FROM depthindex_runs" >/dev/null 2>&1
    threads=$(( ncpu / w )); [ $threads -lt 1 ] && threads=1
    t0=$("$py" -c 'import time; print(time.time())')
    pids=()
    for i in $(seq 1 $w); do
      "$di" run --db "$url" --depth-dir "$work/maps" --chunk "$chunk" --lease 30 \
        --workers $threads --progress json >"$work/w$i.out" 2>"$work/w$i.err" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    t1=$("$py" -c 'import time; print(time.time())')
    tail=$(sql "$scale_db" "$url" "SELECT MAX(t) - MIN(t) FROM (SELECT MAX(finished) AS t FROM depthindex_chunks GROUP BY owner) x")
    line=$("$py" - "$work" "$w" "$t0" "$t1" "$((rows * 4))" "$tail" <<'PY'
import json, sys
work, w, t0, t1, faces, tail = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6] or 0)
done = 0
for i in range(1, w + 1):
    for l in open("%s/w%d.out" % (work, i)):
        if '"summary"' in l:
            s = json.loads(l)
            done += s["ok"] + s["failed"]
print("%d workers: %.0f faces/s (%.1f s wall), duplicated %d faces, straggler tail %.2f s" % (
    w, faces / (t1 - t0), t1 - t0, done - faces, tail))
PY
)
    echo "  $line"
    scale_rows+=("$line")
  done
else
  status=1
fi

echo "== 3. model: 2 workers of 1 engine thread against 1 worker of 2 threads ($model_faces faces)"
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || graph=/work/shared/models/midas_v21_small_256.graph.onnx
model_line="(no model: $graph absent)"
if [ -f "$graph" ]; then
  "$di" model --fill-weights "$work/midas.onnx" "$graph" >/dev/null
  n=$(( (model_faces + 3) / 4 ))
  db="sqlite:$work/m.db"
  "$di" init --db "$db" --demo "$n" --images "$work/m" --size 512 >/dev/null
  reset() {
    sql sqlite "$db" "UPDATE panorama SET xm_depth_index = NULL, xp_depth_index = NULL, zm_depth_index = NULL, zp_depth_index = NULL" >/dev/null
    sql sqlite "$db" "DELETE FROM depthindex_chunks" >/dev/null 2>&1
    sql sqlite "$db" "DELETE FROM depthindex_runs" >/dev/null 2>&1
  }
  now() { "$py" -c 'import time; print(time.time())'; }
  one=() two=()
  for rep in 1 2; do
    reset; t0=$(now)
    "$di" run --db "$db" --images "$work/m" --model "$work/midas.onnx" --device cpu --threads 2 \
      --batch 4 --progress none || status=1
    t1=$(now); one+=("$(bench_calc %.2f "$model_faces / ($t1 - $t0)")")
    reset; t0=$(now)
    for i in 1 2; do
      "$di" run --db "$db" --images "$work/m" --model "$work/midas.onnx" --device cpu --threads 1 \
        --decoders 1 --workers 1 --batch 4 --chunk 2 --lease 30 --progress none &
    done
    wait
    t1=$(now); two+=("$(bench_calc %.2f "$model_faces / ($t1 - $t0)")")
  done
  best1=$(bench_best "${one[@]}")
  best2=$(bench_best "${two[@]}")
  ratio=$(bench_calc %.2f "$best2 / $best1")
  model_line="MiDaS v2.1 small (generated weights), $model_faces faces 512x512, batch 4, CPU: 1 worker of 2 engine threads ${one[*]} faces/s; 2 workers of 1 thread (--chunk 2) ${two[*]} faces/s: ratio $ratio (best of 2; target >= 0.95)"
  echo "  $model_line"
fi

echo
echo "---- for bench/RESULTS.md ----"
echo "$(date -u +%Y-%m-%d), $machine:"
echo "| backend | claimers | claims/s | claim p50 / p99 ms | done-mark p50 / p99 ms | errors |"
for kind in $backends; do
  for c in 1 8 32 128; do
    l=${claim_line[$kind-$c]:-}
    [ -n "$l" ] || continue
    echo "$l" | "$py" -c '
import re, sys
l = sys.stdin.read()
m = re.search(r"^(\w+) clients (\d+): \d+ chunks in [\d.]+ s: (\d+) claims/s; claim p50 ([\d.]+) ms p99 ([\d.]+) ms; done-mark p50 ([\d.]+) ms p99 ([\d.]+) ms; errors (\d+)", l)
if m: print("| %s | %s | %s | %s / %s | %s / %s | %s |" % m.groups())'
  done
done
for l in "${scale_rows[@]+"${scale_rows[@]}"}"; do echo "- scale ($scale_db, $((rows * 4)) faces, --chunk $chunk): $l"; done
echo "- $model_line"
exit $status

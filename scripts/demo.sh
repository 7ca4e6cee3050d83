#!/usr/bin/env bash
# make demo: the whole job end to end on a synthetic data set, in demo-out/.
#   1. `depthindex init --demo`: a SQLite table of panoramas and, per cube
#      face, an RGB JPEG and its ground-truth depth map (.npy);
#   2. `depthindex run --depth-dir`: scores from the ground-truth depth;
#   3. `depthindex status` and a few scores, with pictures of four faces;
#   4. when the MiDaS v2.1 small graph is in ../shared/models (or
#      $DEPTHINDEX_MODEL points to an ONNX depth model): `depthindex run
#      --model` on a copy of the table.
# Usage: scripts/demo.sh [BUILD_DIR]   (DEMO_PANORAMAS, DEMO_SIZE, DEMO_MODEL_FACES)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
di="$build/depthindex"
[ -x "$di" ] || { echo "demo: $di is missing; run 'make build' first" >&2; exit 2; }

out=demo-out
panoramas=${DEMO_PANORAMAS:-75}      # 4 faces each: 300 faces
size=${DEMO_SIZE:-256}
model_faces=${DEMO_MODEL_FACES:-96}  # the CPU engine does a few images per second
py=/usr/bin/python3

rm -rf "$out"
mkdir -p "$out"
echo "== depthindex init: $panoramas synthetic panoramas, ${size}x${size} faces"
"$di" init --db "sqlite:$out/demo.db" --demo "$panoramas" --images "$out/faces" --size "$size"

# A copy of the fresh table for the model run below (SQLite's backup API,
# so that the copy is consistent whatever is in the WAL).
copy_db() {
  "$py" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$@"
}
copy_db "$out/demo.db" "$out/model.db"

echo
echo "== depthindex run --depth-dir (ground-truth depth maps)"
"$di" run --db "sqlite:$out/demo.db" --depth-dir "$out/faces" --progress plain

echo
echo "== depthindex status"
"$di" status --db "sqlite:$out/demo.db"

echo
echo "== a few scores (panorama, face: depth congestion index)"
"$py" - "$out/demo.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
rows = con.execute("SELECT panorama_sid, xm_depth_index, xp_depth_index, zm_depth_index, "
                   "zp_depth_index FROM panorama ORDER BY id LIMIT 5").fetchall()
print("%-12s %10s %10s %10s %10s" % ("panorama", "xm", "xp", "zm", "zp"))
for r in rows:
    print("%-12s %10.4f %10.4f %10.4f %10.4f" % r)
lo = con.execute("SELECT MIN(xm_depth_index), MAX(xm_depth_index), AVG(xm_depth_index) "
                 "FROM panorama").fetchone()
print("face xm over all panoramas: min %.4f, max %.4f, mean %.4f" % lo)
PY

echo
echo "== pictures of four faces (depth, layers, edges, congestion) in $out/panels"
"$di" score --save-maps "$out/panels" "$out"/faces/demo000001_{xm,xp,zm,zp}.npy || true

# ---- with a depth model ----
model=${DEPTHINDEX_MODEL:-}
graph=../shared/models/midas_v21_small_256.graph.onnx
[ -f "$graph" ] || graph=/work/shared/models/midas_v21_small_256.graph.onnx
echo
if [ -z "$model" ] && [ -f "$graph" ]; then
  echo "== the MiDaS v2.1 small architecture with GENERATED weights"
  echo "   $graph has the real topology but no weights; depthindex model"
  echo "   --fill-weights makes deterministic made-up ones. Such a model runs at the"
  echo "   real cost, but its output is NOT depth, so these scores mean nothing."
  echo "   For real depth, export a trained model to ONNX (for example MiDaS v2.1"
  echo "   small from intel-isl/MiDaS with torch.onnx.export, input 1x3x256x256) and"
  echo "   run: DEPTHINDEX_MODEL=/path/model.onnx make demo, or"
  echo "   depthindex run --db URL --images DIR --model /path/model.onnx"
  model="$out/midas_small_generated.onnx"
  "$di" model --fill-weights "$model" "$graph" >/dev/null
fi
if [ -n "$model" ]; then
  if "$di" run --db "sqlite:$out/model.db" --images "$out/faces" --model "$model" \
       --limit "$model_faces" --progress plain; then
    echo
    echo "== the first faces scored from the model's output ($model_faces faces)"
    "$py" - "$out/model.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for r in con.execute("SELECT panorama_sid, xm_depth_index, xp_depth_index, zm_depth_index, "
                     "zp_depth_index FROM panorama ORDER BY id LIMIT 3"):
    print("%-12s " % r[0] + " ".join("%10s" % ("-" if v is None else "%.4f" % v) for v in r[1:]))
PY
  else
    echo "demo: the model run failed (see above); the depth-dir part is complete"
  fi
else
  echo "== no depth model here (../shared/models absent, DEPTHINDEX_MODEL unset):"
  echo "   the model part of the demo is skipped"
fi
echo
echo "demo: done; everything is in $out/"

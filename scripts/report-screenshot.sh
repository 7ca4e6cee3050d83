#!/usr/bin/env bash
# Makes docs/report-demo.png, the README's picture of `depthindex report`:
# a demo data set scored from its ground-truth depth with panels, made-up
# coordinates (a few streets), two faces without depth maps (failures), the
# report, and a screenshot of its top in headless Chromium.
#   scripts/report-screenshot.sh [BUILD]     (needs chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
di=$(pwd)/${1:-build}/depthindex
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$di" init --db "sqlite:$tmp/demo.db" --demo 60 --images "$tmp/img" --size 128 >/dev/null
mkdir "$tmp/depth"
cp "$tmp"/img/*.npy "$tmp/depth/"
rm "$tmp/depth/demo000007_zm.npy" "$tmp/depth/demo000031_xp.npy"
"$di" run --db "sqlite:$tmp/demo.db" --depth-dir "$tmp/depth" --images "$tmp/img" \
  --save-maps "$tmp/maps" --save-every 1 --progress none >/dev/null || true
/usr/bin/python3 - "$tmp/demo.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("ALTER TABLE panorama ADD COLUMN lat REAL")
con.execute("ALTER TABLE panorama ADD COLUMN lon REAL")
for i in range(1, 61):  # three streets of twenty panoramas
    street, k = divmod(i - 1, 20)
    con.execute("UPDATE panorama SET lat = ?, lon = ? WHERE id = ?",
                (48.137 + 0.0004 * street + 0.00005 * k, 11.575 + 0.0002 * k - 0.0003 * street, i))
con.commit()
PY
# from inside the folder, so that the page names the database "sqlite:demo.db"
(cd "$tmp" && "$di" report --db sqlite:demo.db --maps maps --lat lat --lon lon \
  --out report >/dev/null)
chromium --headless --disable-gpu --no-sandbox --no-first-run --user-data-dir="$tmp/profile" \
  --host-resolver-rules="MAP * ~NOTFOUND" --window-size=1000,1250 --hide-scrollbars \
  --screenshot="$tmp/shot.png" "file://$tmp/report/index.html" 2>/dev/null
mkdir -p docs
/usr/bin/python3 - "$tmp/shot.png" docs/report-demo.png <<'PY'
import cv2, sys
img = cv2.imread(sys.argv[1])
# half size and fewer colours: small enough to keep in the repository
img = cv2.resize(img, (img.shape[1] * 3 // 4, img.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA)
img = (img // 8) * 8
cv2.imwrite(sys.argv[2], img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
PY
echo "wrote docs/report-demo.png ($(stat -c %s docs/report-demo.png) bytes)"

#!/usr/bin/python3
"""Tests of `depthindex report` and of `run --save-maps`, as a person would
look at them.

usage: report_test.py CASE
  sqlite      a demo database: the JSON against SQL (counts, mean, min, max,
              quantiles against NumPy, highest and lowest), the page's HTML
              (a panorama_sid of <script> shows as text, every picture in the
              folder, nothing fetched from elsewhere), option errors
  mariadb, postgresql   the same on a private server (tests/db/with-server.sh
              gives DI_TEST_URL_NOPASS; skipped, saying why, without one)
  chromium    the page opened in headless Chromium without network: a
              screenshot that shows something, the title, the histograms'
              SVG, the <script> sid as text, no console message
  save-maps   run --save-maps: every face at --save-every 1, exactly the
              faces di_pipeline_sampled picks at --save-every 3 (the same
              files twice), a panel for a face that failed after its depth
              map was read even when not sampled

Environment: DEPTHINDEX (the binary), DEPTHINDEX_SOURCE_ROOT."""
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline"))
from pipeline_harness import (DI, FACES, run_case, PASSWORD, Fail, Skip, MariaDB, Postgres,  # noqa: E402
                              SqliteDB, check, di, di_ok, one_line_exit2, summary)

SCRIPT_SID = "<script>alert(1)</script>"
BAD_MESSAGE = "decode <b>failed</b> & 'more'"


def demo(tmp, db, n=8, size=64):
    """A demo table, scored, with coordinates, a <script> sid that holds the
    highest score, two pending faces that failed with one message and one
    with another."""
    images = os.path.join(tmp, "img")
    di_ok(["init", "--db", db.url, "--demo", str(n), "--images", images, "--size", str(size)],
          env=db.env)
    di_ok(["run", "--db", db.url, "--depth-dir", images, "--progress", "none"], env=db.env)
    real = {"sqlite": "REAL", "mariadb": "DOUBLE", "postgresql": "DOUBLE PRECISION"}[db.kind]
    for col in ("lat", "lon"):
        db.execute("ALTER TABLE panorama ADD COLUMN %s %s" % (col, real))
    db.execute("UPDATE panorama SET lat = 48.1 + id * 0.001, lon = 11.5 + (id % 3) * 0.002")
    db.execute("UPDATE panorama SET panorama_sid = '%s', xm_depth_index = 200 WHERE id = 3"
               % SCRIPT_SID)
    db.execute("UPDATE panorama SET zp_depth_index = NULL WHERE id IN (5, 6)")
    db.execute("UPDATE panorama SET xm_depth_index = NULL WHERE id = 7")
    msg = BAD_MESSAGE.replace("'", "''")
    db.execute("INSERT INTO depthindex_errors (id, face, error, at) VALUES "
               "(5, 'zp', '%s', CURRENT_TIMESTAMP), (6, 'zp', '%s', CURRENT_TIMESTAMP), "
               "(7, 'xm', 'other error', CURRENT_TIMESTAMP)" % (msg, msg))
    return images


def values(db):
    """{face: [scores]} straight from the table."""
    out = {}
    for f in FACES:
        rows = db.query("SELECT %s_depth_index FROM panorama WHERE %s_depth_index IS NOT NULL"
                        % (f, f))
        out[f] = sorted(float(r[0]) for r in rows)
    return out


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(b))


def check_json(db, st):
    rows = int(db.query("SELECT COUNT(*) FROM panorama")[0][0])
    check(st["rows"] == rows, "rows %s, table %d" % (st["rows"], rows))
    vals = values(db)
    for f in FACES:
        j = st["faces"][f]
        done = len(vals[f])
        failed = int(db.query("SELECT COUNT(*) FROM depthindex_errors WHERE face = '%s'" % f)[0][0])
        check((j["done"], j["pending"], j["failed"], j["n"]) == (done, rows - done, failed, done),
              "face %s: %s, SQL done %d pending %d failed %d" % (f, j, done, rows - done, failed))
        avg, lo, hi = db.query("SELECT AVG(%s_depth_index), MIN(%s_depth_index), "
                               "MAX(%s_depth_index) FROM panorama" % (f, f, f))[0]
        # (SQLite hands REAL values over as text of 15 digits)
        check(close(j["mean"], float(avg), 1e-12) and close(j["min"], float(lo), 1e-12) and
              close(j["max"], float(hi), 1e-12),
              "face %s: mean/min/max %s %s %s, SQL %s %s %s" % (f, j["mean"], j["min"], j["max"],
                                                                avg, lo, hi))
        # quantiles: the smallest value with at least ceil(q n) at or below
        # it (NumPy's inverted_cdf), to within half a bin
        import numpy as np
        for q, got in j["quantiles"].items():
            want = float(np.quantile(np.array(vals[f]), float(q), method="inverted_cdf"))
            check(abs(got - want) <= st["bin_width"] / 2 + 1e-9,
                  "face %s q%s: %r, NumPy %r" % (f, q, got, want))
        h = j["histogram"]
        check(sum(h["counts"]) == done, "face %s: histogram holds %d of %d" %
              (f, sum(h["counts"]), done))
        first = h["first_bin"] * st["bin_width"]
        check(first <= min(vals[f]) < first + st["bin_width"] + 1e-9,
              "face %s: first bin %r, min %r" % (f, first, min(vals[f])))
    every = sorted(((v, f) for f in FACES for v in values(db)[f]), reverse=True)
    high = [r["score"] for r in st["highest"]]
    check(all(close(a, b, 1e-12) for a, b in zip(high, [v for v, _ in every[:12]])) and
          len(high) == 12, "highest %s, SQL %s" % (high, every[:12]))
    top = st["highest"][0]
    check(top["id"] == 3 and top["face"] == "xm" and top["score"] == 200 and
          top["panorama_sid"] == SCRIPT_SID, "highest: %s" % top)
    low = [r["score"] for r in st["lowest"]]
    check(all(close(a, b, 1e-12) for a, b in zip(low, sorted(v for v, _ in every)[:12])) and
          len(low) == 12, "lowest %s" % low)
    fl = st["failures"]
    check(fl["distinct_messages"] == 2 and fl["groups"][0]["error"] == BAD_MESSAGE and
          fl["groups"][0]["count"] == 2 and
          [e["id"] for e in fl["groups"][0]["examples"]] == [5, 6] and
          fl["groups"][1] == {"error": "other error", "count": 1, "examples": [
              {"id": 7, "face": "xm", "panorama_sid": "demo000007"}]},
          "failures: %s" % fl)
    check(st["map"] == {"positioned": rows, "shown": rows}, "map: %s" % st["map"])
    check(st["run"] is not None and '"depth_dir"' in st["run"]["settings"],
          "run settings: %s" % st["run"])


def check_html(out, messages=True):
    page = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    check("<script" not in page.lower(), "the page has a script element")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in page, "the <script> sid is not escaped text")
    check(not messages or "decode &lt;b&gt;failed&lt;/b&gt; &amp; &#39;more&#39;" in page,
          "the failure message is not escaped")
    check(page.count('<svg class="hist"') == 4, "histograms: %d" % page.count('<svg class="hist"'))
    check('<svg class="map"' in page, "no map")
    check("<title>depthindex report: panorama</title>" in page, "title")
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    check(len(refs) >= 24, "pictures: %d" % len(refs))
    for r in refs:
        check(not re.match(r"^[a-z]+:", r) and not r.startswith("/") and ".." not in r,
              "the page refers outside its folder: %s" % r)
        check(os.path.isfile(os.path.join(out, r)), "missing in the folder: %s" % r)
    # nothing is fetched: no URL but the SVG namespace
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    check(urls <= {"http://www.w3.org/2000/svg"}, "URLs in the page: %s" % urls)
    return page


def report(db, out, extra=(), env=None):
    r = di_ok(["report", "--db", db.url, "--out", out, "--lat", "lat", "--lon", "lon",
               "--json"] + list(extra), env=db.env)
    st = json.loads(r.stdout)
    check(json.load(open(os.path.join(out, "stats.json"))) == st, "stats.json differs from --json")
    check("wrote %s/index.html" % out in r.stderr, "stderr: %s" % r.stderr)
    return st


def option_errors(db, out):
    one_line_exit2(["report", "--db", db.url, "--out", out, "--lat", "lat;drop", "--lon", "lon"],
                   env=db.env, mention="lat;drop")
    one_line_exit2(["report", "--db", db.url, "--out", out, "--lat", "nope", "--lon", "lon"],
                   env=db.env, mention="nope")
    one_line_exit2(["report", "--db", db.url, "--out", out, "--lat", "lat"], env=db.env,
                   mention="--lon")
    one_line_exit2(["report", "--db", db.url, "--out", out, "--bogus"], env=db.env,
                   mention="--bogus")


def case_sqlite(tmp):
    db = SqliteDB(os.path.join(tmp, "r.db"))
    images = demo(tmp, db)
    out = os.path.join(tmp, "out")
    st = report(db, out, ["--images", images])
    check_json(db, st)
    page = check_html(out)
    ranked = st["highest"] + st["lowest"]
    for r in ranked:  # the <script> sid names no file: no picture
        check((r["picture"] is None) == (r["panorama_sid"] == SCRIPT_SID), "picture: %s" % r)
    check(page.count('src="photos/') == sum(r["picture"] is not None for r in ranked),
          "photos: %d" % page.count('src="photos/'))
    # with panels from run --save-maps, they are preferred to the photos
    maps = os.path.join(tmp, "maps")
    di_ok(["run", "--db", db.url, "--depth-dir", images, "--save-maps", maps, "--save-every", "1",
           "--force", "--progress", "none"], codes=(0, 1))
    db.execute("UPDATE panorama SET xm_depth_index = 200 WHERE id = 3")
    db.execute("UPDATE panorama SET zp_depth_index = NULL WHERE id IN (5, 6)")
    db.execute("UPDATE panorama SET xm_depth_index = NULL WHERE id = 7")
    out2 = os.path.join(tmp, "out2")
    st = report(db, out2, ["--maps", maps, "--images", images])
    page = check_html(out2, messages=False)  # the rerun cleared them
    n_maps = page.count('src="maps/')
    check(n_maps >= 20, "panels shown: %d" % n_maps)
    # the <script> sid has no files (its sid changed): its face shows no picture
    check(st["highest"][0]["picture"] is None, "picture of the <script> sid: %s" % st["highest"][0])
    option_errors(db, out)


def case_server(tmp, kind):
    url = os.environ.get("DI_TEST_URL_NOPASS")
    if not url:
        raise Skip("no DI_TEST_URL_NOPASS (run through tests/db/with-server.sh)")
    name = url.rsplit("/", 1)[1]
    db = (MariaDB if kind == "mariadb" else Postgres)(url, name)
    db.execute("DROP TABLE IF EXISTS depthindex_run_log")
    images = demo(tmp, db)
    out = os.path.join(tmp, "out")
    st = report(db, out, ["--images", images])
    check_json(db, st)
    check_html(out)
    option_errors(db, out)


def case_chromium(tmp):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        raise Skip("chromium is not installed (Debian package chromium; "
                   "scripts/install-deps.sh --test installs it)")
    db = SqliteDB(os.path.join(tmp, "r.db"))
    images = demo(tmp, db)
    out = os.path.join(tmp, "out")
    report(db, out, ["--images", images])
    url = "file://" + os.path.abspath(os.path.join(out, "index.html"))
    shot = os.path.join(tmp, "shot.png")
    base = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--user-data-dir=" + os.path.join(tmp, "profile"),
            # offline: every host name fails to resolve
            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
            "--window-size=1200,1600"]
    env = dict(os.environ, HOME=tmp)
    r = subprocess.run(base + ["--screenshot=" + shot, url], capture_output=True, text=True,
                       timeout=120, env=env)
    check(os.path.isfile(shot), "no screenshot: %s" % r.stderr[-2000:])
    d = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120,
                       env=env)
    dom = d.stdout
    for what in (r.stderr, d.stderr):
        console = [l for l in what.splitlines() if "CONSOLE" in l]
        check(not console, "console messages: %s" % console)
    check("<title>depthindex report: panorama</title>" in dom, "title not in the DOM")
    check(dom.count('<svg class="hist"') == 4, "histogram SVGs in the DOM: %d"
          % dom.count('<svg class="hist"'))
    check("<rect class=\"bar\"" in dom, "no histogram bars in the DOM")
    check("<script" not in dom.lower(), "a script element in the DOM")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in dom, "the <script> sid is not text")
    import cv2
    img = cv2.imread(shot)
    check(img is not None and img.shape[:2] == (1600, 1200), "screenshot %r" %
          (None if img is None else img.shape,))
    colours = len({tuple(p) for p in img[::7, ::7].reshape(-1, 3)})
    check(colours > 50, "the screenshot looks blank: %d colours" % colours)
    keep = os.environ.get("DI_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def sampled(i, face, every):
    """di_pipeline_sampled: splitmix64(id * 8 + face) % every == 0."""
    m = (1 << 64) - 1
    x = (i * 8 + face + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    x ^= x >> 31
    return every <= 1 or x % every == 0


def case_save_maps(tmp):
    import numpy as np
    import cv2
    db = SqliteDB(os.path.join(tmp, "m.db"))
    images = os.path.join(tmp, "img")
    n = 10
    di_ok(["init", "--db", db.url, "--demo", str(n), "--images", images, "--size", "64"])
    model = os.path.join(tmp, "tiny.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "..", "pipeline", "tiny_onnx.py"), model,
                    "32"], check=True)
    run = ["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
           "--force", "--progress", "json"]
    r = di(run + ["--limit", "1"])
    if r.returncode == 2 and "not supported" in r.stderr:
        raise Skip("the engine cannot run the test model here: " + r.stderr.strip())
    everything = {"%d_%s.png" % (i, f) for i in range(1, n + 1) for f in FACES}
    m1 = os.path.join(tmp, "m1")
    s = summary(di_ok(run + ["--save-maps", m1, "--save-every", "1"]).stdout)
    check(set(os.listdir(m1)) == everything and s["panels"] == 4 * n,
          "--save-every 1: %d files, summary %s" % (len(os.listdir(m1)), s))
    img = cv2.imread(os.path.join(m1, "1_xm.png"))
    check(img is not None and img.shape[1] >= 3 * 192 and img.shape[0] >= 2 * 192,
          "panel size %r" % (None if img is None else img.shape,))
    # five panels: the photo (top left) is the picture, not a colour map
    photo = img[60:200, 8:190]
    check(photo.std() > 5, "the photo panel is flat")
    want = {"%d_%s.png" % (i, f) for i in range(1, n + 1) for k, f in enumerate(FACES)
            if sampled(i, k, 3)}
    check(0 < len(want) < 4 * n, "sampling picks %d of %d" % (len(want), 4 * n))
    m2, m3 = os.path.join(tmp, "m2"), os.path.join(tmp, "m3")
    for m in (m2, m3):
        s = summary(di_ok(run + ["--save-maps", m, "--save-every", "3", "--batch", "3"]).stdout)
        check(set(os.listdir(m)) == want and s["panels"] == len(want),
              "--save-every 3: %s, want %s" % (sorted(os.listdir(m)), sorted(want)))
    for f in want:
        check(open(os.path.join(m2, f), "rb").read() == open(os.path.join(m3, f), "rb").read(),
              "panel %s differs between two runs" % f)
    # the default: one in 1000 (none of these 40 faces is picked... or few)
    m4 = os.path.join(tmp, "m4")
    di_ok(run + ["--save-maps", m4])
    default = {"%d_%s.png" % (i, f) for i in range(1, n + 1) for k, f in enumerate(FACES)
               if sampled(i, k, 1000)}
    check(set(os.listdir(m4)) == default, "default N: %s" % os.listdir(m4))
    # faces that fail after inference (the model gives NaN on dark pixels):
    # a panel each, though none is sampled
    nan_model = os.path.join(tmp, "nan.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "..", "pipeline", "tiny_onnx.py"),
                    nan_model, "32", "nan"], check=True)
    m5 = os.path.join(tmp, "m5")
    r = di(run[:6] + [nan_model] + run[7:] + ["--save-maps", m5, "--save-every", "1000000000"])
    check(r.returncode == 1, "NaN model: exit %d: %s" % (r.returncode, r.stderr[-500:]))
    s = summary(r.stdout)
    failed = {"%d_%s.png" % (int(i), f) for i, f, e in
              db.query("SELECT id, face, error FROM depthindex_errors") if "non-finite" in e}
    check(s["failed"] > 0 and failed and set(os.listdir(m5)) == failed and
          s["panels"] == len(failed), "failure panels %s, failed faces %s, summary %s"
          % (sorted(os.listdir(m5)), sorted(failed), s))
    img = cv2.imread(os.path.join(m5, sorted(failed)[0]))
    magenta = np.all(img == (255, 0, 255), axis=2).sum()
    check(magenta > 50, "the NaN pixels are not marked: %d" % magenta)
    # a folder that cannot be made is a setup error
    blocker = os.path.join(tmp, "file")
    open(blocker, "w").close()
    one_line_exit2(run + ["--save-maps", os.path.join(blocker, "sub")], mention="file")
    one_line_exit2(run + ["--save-maps", m5, "--save-every", "0"], mention="--save-every")


CASES = {
    "sqlite": case_sqlite,
    "mariadb": lambda tmp: case_server(tmp, "mariadb"),
    "postgresql": lambda tmp: case_server(tmp, "postgresql"),
    "chromium": case_chromium,
    "save-maps": case_save_maps,
}



if __name__ == "__main__":
    sys.exit(run_case(CASES, __doc__, "di-report-"))

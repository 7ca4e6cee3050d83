#!/usr/bin/python3
"""`depthindex run` feeding each model what it expects and reading what it
gives (src/pipeline/modelio.c, README "Input and output of a model").

usage: modelio_test.py CASE   (CASE: output, aspect)

output: a metric model (Sigmoid x max_depth, depth in metres) with
  `--output depth` scores as its inverse twin (the same scene's relative
  inverse depth) does, and not without the option; zero depths (a sigmoid
  that underflows) follow the rule, a map with no positive depth fails its
  face with one clear reason; `--depth-dir` maps the same;
  --preset depth-anything-metric sets it, --output wins over the preset.
aspect: non-square JPEG faces through `run` on a symbolic-size model with
  `--resize keep-aspect`: each face scores exactly as a stretch to its own
  keep-aspect size (Depth Anything's lower_bound, multiples of 14, the 2:1
  cap) does, in batches of mixed sizes, two in flight and two streams; a
  fixed-size model says it stretches."""
import json
import os
import subprocess
import sys

from pipeline_harness import *  # noqa: F401,F403 (the harness: di, check, DBs...)


def tiny(tmp, mode, size=32):
    path = os.path.join(tmp, "%s-%d.onnx" % (mode or "plain", size))
    subprocess.run([sys.executable, os.path.join(HERE, "tiny_onnx.py"), path, str(size)] +
                   ([mode] if mode else []), check=True)
    return path


def run_scores(db, images, model, extra=(), env=None, codes=(0,)):
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
               "--force", "--progress", "json"] + list(extra), env=env, codes=codes)
    return summary(r.stdout), scores(db)


def start_line(stdout):
    return json.loads(next(l for l in stdout.splitlines() if l.startswith('{"start"')))


def some_differ(a, b, rel, what):
    """The test can fail: at least one face moves by more than rel."""
    moved = [k for k in a if a[k] is not None and b[k] is not None and
             abs(a[k] - b[k]) > rel * max(1.0, abs(a[k]))]
    check(moved, "%s: no face differs by more than %g: %s vs %s" % (what, rel, a, b))


def case_output(tmp):
    import numpy as np
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "o.db"))
    init_demo(db, images, n=3, size=64)
    metric, inverse = tiny(tmp, "metric"), tiny(tmp, "inverse")
    s, want = run_scores(db, images, inverse)
    check(s["ok"] == 12 and s["failed"] == 0, "inverse twin: %s" % s)
    s, got = run_scores(db, images, metric, ["--output", "depth"])
    check(s["ok"] == 12 and s["failed"] == 0, "metric with --output depth: %s" % s)
    # the same 8-bit depth up to float rounding (a pixel may cross a level)
    same_scores(want, got, "metric --output depth vs its inverse twin", tol=2e-3)
    s, raw = run_scores(db, images, metric)
    some_differ(want, raw, 0.02, "metric read as inverse depth")
    # the preset sets it (the fixed 32x32 input is stretched, and says so)
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", metric, "--device", "cpu",
               "--force", "--progress", "plain", "--preset", "depth-anything-metric"])
    err = r.stderr
    check("stretched: keep-aspect needs a symbolic height and width" in err and
          "output: depth in metres" in err, "start line: %s" % err)
    same_scores(got, scores(db), "--preset depth-anything-metric", tol=1e-9)
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", metric, "--device", "cpu",
               "--force", "--progress", "json", "--preset", "depth-anything-metric"])
    st = start_line(r.stdout)
    check(st["resize"] == "stretch" and st["output"] == "depth" and st["input"] == [3, 32, 32],
          "JSON start line: %s" % st)
    s, opt = run_scores(db, images, metric, ["--preset", "depth-anything-metric",
                                             "--output", "inverse"])
    same_scores(raw, opt, "--output inverse after the preset", tol=1e-9)
    # zero depths: the sigmoid underflows to 0 for dark pixels; they count as
    # the nearest depth, nothing fails and nothing is NaN
    s, z = run_scores(db, images, tiny(tmp, "metric-zero"), ["--output", "depth"])
    check(s["ok"] == 12 and s["failed"] == 0, "zero depths: %s" % s)
    check(all(v is not None and 0 <= v <= 255 for v in z.values()), "zero depths: %s" % z)
    # nothing positive: the face fails with the reason
    s, _ = run_scores(db, images, tiny(tmp, "metric-allzero"), ["--output", "depth"],
                      codes=(1,))
    check(s["failed"] == 12, "all depths zero: %s" % s)
    reasons = set(errors(db).values())
    check(len(reasons) == 1 and "no positive finite depth" in reasons.pop(),
          "all depths zero: %s" % errors(db))
    # --depth-dir: the demo's maps are metres; their inverse (7 / d + 0.3),
    # with a zero and a negative pixel taken as the map's nearest depth
    inv_dir = os.path.join(tmp, "inv")
    os.mkdir(inv_dir)
    for i in (1, 2, 3):
        for f in FACES:
            name = "demo%06d_%s.npy" % (i, f)
            d = np.load(os.path.join(images, name))
            d[0, 0], d[5, 7] = 0, -3
            np.save(os.path.join(images, name), d)
            nearest = d[d > 0].min()
            np.save(os.path.join(inv_dir, name),
                    (7.0 / np.where(d > 0, d, nearest) + 0.3).astype(np.float32))
    base = ["run", "--db", db.url, "--force", "--progress", "json"]
    di_ok(base + ["--depth-dir", inv_dir])
    want = scores(db)
    s = summary(di_ok(base + ["--depth-dir", images, "--output", "depth"]).stdout)
    check(s["ok"] == 12, "--depth-dir --output depth: %s" % s)
    same_scores(want, scores(db), "--depth-dir metres with --output depth vs inverse",
                tol=2e-3)
    di_ok(base + ["--depth-dir", images])
    some_differ(want, scores(db), 0.02, "--depth-dir metres read as inverse depth")
    one_line_exit2(base + ["--depth-dir", images, "--output", "disparity"], mention="--output")
    one_line_exit2(base + ["--depth-dir", images, "--resize", "crop"], mention="--resize")


def keep_aspect(fw, fh, W, H, m=14):
    """Depth Anything's Resize.get_size (lower_bound, keep_aspect_ratio,
    ensure_multiple_of), with the 2:1 cap of README "Input and output of a
    model" (then upper_bound at twice the target)."""
    import numpy as np

    def multiple(x, lo=0, hi=None):
        y = int(np.round(x / m) * m)
        if hi is not None and y > hi:
            y = int(np.floor(x / m) * m)
        if y < lo:
            y = int(np.ceil(x / m) * m)
        return max(y, m)
    s = max(W / fw, H / fh)
    w, h = multiple(s * fw, lo=W), multiple(s * fh, lo=H)
    if w > 2 * W or h > 2 * H:
        s = min(2 * W / fw, 2 * H / fh)
        w, h = multiple(s * fw, hi=2 * W), multiple(s * fh, hi=2 * H)
    return w, h


def case_aspect(tmp):
    import cv2
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "a.db"))
    init_demo(db, images, n=3, size=100)
    # non-square faces: landscape, portrait, beyond 2:1 (capped), square
    crops = {(1, "xm"): (100, 60), (1, "xp"): (60, 100), (1, "zm"): (100, 40),
             (2, "xm"): (100, 60), (2, "xp"): (100, 60), (2, "zm"): (100, 60),
             (2, "zp"): (100, 60), (3, "zp"): (40, 100)}
    size = {}
    for i in (1, 2, 3):
        for f in FACES:
            path = os.path.join(images, "demo%06d_%s.jpg" % (i, f))
            w, h = crops.get((i, f), (100, 100))
            img = cv2.imread(path)
            cv2.imwrite(path, img[(100 - h) // 2:(100 - h) // 2 + h,
                                  (100 - w) // 2:(100 - w) // 2 + w],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            size[(i, f)] = keep_aspect(w, h, 266, 266)
    check(size[(1, "zm")] == (532, 210), "the cap: %s" % (size[(1, "zm")],))
    model = tiny(tmp, "patch", 0)
    base = ["--size", "266", "--resize", "keep-aspect", "--batch", "3"]
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
               "--force", "--progress", "plain"] + base)
    check("input 3x266x266, keep-aspect" in r.stderr, "start line: %s" % r.stderr)
    got = scores(db)
    check(all(v is not None for v in got.values()), "keep-aspect: %s" % got)
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
               "--force", "--progress", "json"] + base)
    st = start_line(r.stdout)
    check(st["resize"] == "keep-aspect" and st["output"] == "inverse" and
          st["input"] == [3, 266, 266], "JSON start line: %s" % st)
    # each face as a stretch to its own keep-aspect size: the same numbers
    for wh in sorted(set(size.values())):
        s, ref = run_scores(db, images, model, ["--size", "%dx%d" % wh, "--batch", "1"])
        for k, v in size.items():
            if v == wh:
                check(ref[k] is not None and abs(got[k] - ref[k]) <= 1e-6 * max(1, ref[k]),
                      "face %s (%dx%d): keep-aspect %r, stretch to %dx%d %r"
                      % (k, crops.get(k, (100, 100))[0], crops.get(k, (100, 100))[1],
                         got[k], wh[0], wh[1], ref[k]))
    s, stretched = run_scores(db, images, model, ["--size", "266", "--batch", "3"])
    some_differ({k: got[k] for k in crops}, {k: stretched[k] for k in crops}, 1e-4,
                "non-square faces stretched to 266x266")
    # batches of one size, of mixed sizes, two in flight, two streams, the
    # preset: all the same
    for extra, env in ((["--batch", "4"], None), (["--batch", "8"], None),
                       (["--batch", "3"], dict(os.environ, DEPTHINDEX_TEST_ASYNC="1")),
                       (["--batch", "2", "--streams", "2"], None)):
        s, again = run_scores(db, images, model, base[:4] + extra, env=env)
        check(s["ok"] == 12, "%s: %s" % (extra, s))
        same_scores(got, again, "keep-aspect %s%s" % (extra, " async" if env else ""),
                    tol=1e-6)
    s, pre = run_scores(db, images, model, ["--preset", "depth-anything", "--size", "266"])
    same_scores(got, pre, "--preset depth-anything keeps the aspect", tol=1e-6)
    # a fixed input cannot keep it: stretched, said at the start
    fixed = tiny(tmp, "", 32)
    r = di_ok(["run", "--db", db.url, "--images", images, "--model", fixed, "--device", "cpu",
               "--force", "--progress", "plain", "--resize", "keep-aspect"])
    check("stretched: keep-aspect needs a symbolic height and width" in r.stderr,
          "fixed input: %s" % r.stderr)
    keep = scores(db)
    run_scores(db, images, fixed)
    same_scores(keep, scores(db), "fixed input with --resize keep-aspect", tol=1e-9)


CASES = {"output": case_output, "aspect": case_aspect}

if __name__ == "__main__":
    sys.exit(run_case(CASES, __doc__, "di-modelio-"))

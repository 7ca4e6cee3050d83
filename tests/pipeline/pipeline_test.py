#!/usr/bin/python3
"""Tests of `depthindex run`, `init` and `status` against real databases:
SQLite (always), MariaDB and PostgreSQL (private servers started with
tests/db/server.sh; the test is skipped, saying why, when one cannot start).

usage: pipeline_test.py CASE   (CASE: sqlite, model, bad-input, setup-errors,
                                kill9, signals, mariadb, postgresql)

Environment: DEPTHINDEX (the binary), DEPTHINDEX_SOURCE_ROOT, and for the
servers DI_PIPE_MARIADB_PORT [33316], DI_PIPE_PG_PORT [35442],
DI_PIPE_DB_DIR [/tmp/di-pipe-test-db]. The servers are the pipeline's own
(other ports than the store's tests) because these tests restart them.

Test-only knobs of depthindex run used here: DEPTHINDEX_TEST_READ_DELAY_MS
(sleep before each keyset page after the first) and DEPTHINDEX_TEST_PAGE_ROWS
(rows per page), so that a run lasts long enough to be interrupted and its
reads come far apart."""
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from pipeline_harness import *  # noqa: F401,F403 (the harness: di, check, DBs...)
from pipeline_harness import Fail, Skip

# ---- cases -------------------------------------------------------------

def case_sqlite(tmp):
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "a.db"))
    init_demo(db, images, n=12, size=80)
    r = di_ok(["status", "--db", db.url])
    check("all" in r.stdout and " 48 " in r.stdout, "status before: %s" % r.stdout)
    s = summary(di_ok(run_args(db, images)).stdout)
    check(s["ok"] == 48 and s["failed"] == 0 and s["skipped"] == 0, "summary %s" % s)
    check_equals_score(db, images, 12)
    check(errors(db) == {}, "errors recorded: %s" % errors(db))
    r = di_ok(["status", "--db", db.url, "--json"])
    st = json.loads(r.stdout)
    check(all(st["faces"][f] == {"done": 12, "pending": 0, "failed": 0} for f in FACES),
          "status after: %s" % st)
    # resume: nothing left to do
    s = summary(di_ok(run_args(db, images)).stdout)
    check(s["total"] == 0 and s["ok"] == 0, "second run did work: %s" % s)
    # --force --limit redoes exactly that many faces
    s = summary(di_ok(run_args(db, images, ["--force", "--limit", "5", "--workers", "1"])).stdout)
    check(s["ok"] == 5 and s["total"] == 5, "--force --limit 5: %s" % s)
    # plain progress (not a terminal) and the start line naming the split
    r = di_ok(["run", "--db", db.url, "--depth-dir", images, "--force", "--progress", "plain"])
    check("48/48" in r.stderr and "post-processing worker" in r.stderr, "plain: %s" % r.stderr)
    check("ok 48, failed 0, skipped 0" in r.stdout, "plain summary: %s" % r.stdout)
    r = di_ok(["run", "--db", db.url, "--depth-dir", images, "--force", "--progress", "tty"])
    check("\033[K" in r.stderr and "ok 48, failed 0" in r.stdout, "tty: %r" % r.stderr[-300:])
    check_equals_score(db, images, 12)

    # another schema: --table, --faces, --column adapt to it
    other = SqliteDB(os.path.join(tmp, "o.db"))
    opts = ["--table", "pano", "--faces", "front,back", "--column", "score_{face}"]
    di_ok(["init", "--db", other.url, "--demo", "3", "--images", os.path.join(tmp, "o"),
           "--size", "48"] + opts)
    s = summary(di_ok(run_args(other, os.path.join(tmp, "o"), opts)).stdout)
    check(s["ok"] == 6, "custom schema: %s" % s)
    rows = other.query("SELECT id, score_front, score_back FROM pano ORDER BY id")
    files = [os.path.join(tmp, "o", "demo%06d_%s.npy" % (i, f)) for i in (1, 2, 3)
             for f in ("front", "back")]
    want = [float(l.rsplit("\t", 1)[1]) for l in di_ok(["score"] + files).stdout.splitlines()]
    got = [v for r in rows for v in r[1:]]
    check(all(abs(a - b) <= 6e-7 for a, b in zip(got, want)) and len(got) == 6,
          "custom schema scores %s vs %s" % (got, want))
    r = di_ok(["status", "--db", other.url] + opts)
    check("front" in r.stdout and "back" in r.stdout, "status: %s" % r.stdout)

    depth_dir_formats(tmp)


def write_pfm(path, d):
    h, w = d.shape
    with open(path, "wb") as f:
        f.write(b"Pf\n%d %d\n-1\n" % (w, h))
        f.write(d[::-1].astype("<f4").tobytes())  # PFM rows go bottom-up


def depth_dir_formats(tmp):
    """--depth-dir takes .npy, else .png (16-bit), else .pfm, with the same
    score as `depthindex score` on that file."""
    import numpy as np
    import cv2
    images = os.path.join(tmp, "fmt")
    db = SqliteDB(os.path.join(tmp, "fmt.db"))
    init_demo(db, images, n=1, size=48)
    files = {}
    for f in FACES:
        npy = os.path.join(images, "demo000001_%s.npy" % f)
        d = np.load(npy)
        if f == "xp":
            files[f] = npy[:-3] + "png"
            cv2.imwrite(files[f], np.minimum(d * 64, 65535).astype(np.uint16))
            os.remove(npy)
        elif f == "zm":
            files[f] = npy[:-3] + "pfm"
            write_pfm(files[f], d)
            os.remove(npy)
        else:
            files[f] = npy
    s = summary(di_ok(run_args(db, images)).stdout)
    check(s["ok"] == 4, "png/pfm depth maps: %s" % s)
    got = scores(db)
    for f in FACES:
        line = di_ok(["score", files[f]]).stdout
        want = float(line.rsplit("\t", 1)[1])
        check(abs(got[(1, f)] - want) <= 6e-7, "face %s from %s: %r vs %r"
              % (f, os.path.basename(files[f]), got[(1, f)], want))


def tiny_model(tmp, size=32, name="tiny.onnx"):
    path = os.path.join(tmp, name)
    subprocess.run([sys.executable, os.path.join(HERE, "tiny_onnx.py"), path, str(size)],
                   check=True)
    return path


def model_or_skip(tmp, db, images, model):
    r = di(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
            "--progress", "json", "--limit", "1"], env=db.env)
    if r.returncode == 2 and ("not part of this build" in r.stderr or "unsupported" in r.stderr
                              or "not supported" in r.stderr):
        raise Skip("the engine cannot run the test model here: " + r.stderr.strip())
    return r


def model_reference(tmp, model):
    """The model path against an independent reference: 64x64 faces and the
    32x32 tiny model, so libjpeg's DCT scaling by 1/2 gives the model input
    exactly (OpenCV's IMREAD_REDUCED_COLOR_2 decodes the same way); the
    model (a 1x1 Conv) in NumPy; its output resized bilinearly to the face's
    own 64x64 (cv2.INTER_LINEAR) and scored by `depthindex score`. A run that
    scored at the model's resolution, or normalised otherwise, differs."""
    import numpy as np
    import cv2
    images = os.path.join(tmp, "ref64")
    db = SqliteDB(os.path.join(tmp, "ref64.db"))
    init_demo(db, images, n=2, size=64)
    for mean, std in (((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # the defaults
                      ((0.5, 0.1, 0.9), (2.0, 0.25, -1.0))):
        extra = [] if mean[0] == 0.485 else ["--mean", "%g,%g,%g" % mean, "--std", "%g,%g,%g" % std]
        di_ok(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
               "--force", "--progress", "none"] + extra)
        got = scores(db)
        mean, std = np.array(mean, np.float32), np.array(std, np.float32)
        w = np.array([0.3, 0.5, 0.2], np.float32)  # tiny_onnx.py's Conv
        for (i, f), v in sorted(got.items()):
            jpg = os.path.join(images, "demo%06d_%s.jpg" % (i, f))
            rgb = cv2.imread(jpg, cv2.IMREAD_REDUCED_COLOR_2)[:, :, ::-1].astype(np.float32)
            depth = ((rgb / 255 - mean) / std * w).sum(axis=2) + np.float32(10)
            depth = cv2.resize(depth.astype(np.float32), (64, 64),
                               interpolation=cv2.INTER_LINEAR)
            npy = os.path.join(tmp, "ref64.npy")
            np.save(npy, depth)
            want = json.loads(di_ok(["score", "--json", npy]).stdout)["score"]
            check(v is not None and abs(v - want) <= 1e-5 * max(1.0, want),
                  "model path %s, face %d %s: %r, reference %r" % (extra, i, f, v, want))


def side_threads(db, images, model):
    """How run's decoders and workers share the cores with a CPU engine
    (di_side_sched): gated (they start a face only while the engine waits)
    when the engine takes every core and the machine was otherwise idle at
    the start; free, as before, when the engine leaves a core free, when
    other processes kept the machine busy (process.c's look, carried across
    its exec in DEPTHINDEX_RUN_LOADED: set here, with a spin of our own so
    that no look replaces it), and whatever DEPTHINDEX_SIDE_SCHED says."""
    cores = os.cpu_count() or 1

    def start(threads, **env):
        r = di_ok(["run", "--db", db.url, "--images", images, "--model", model,
                   "--device", "cpu", "--threads", str(threads), "--force", "--limit", "4",
                   "--progress", "json"], env=dict(env, GOMP_SPINCOUNT="10000"))
        for line in r.stdout.splitlines():
            if line.startswith('{"start"'):
                return json.loads(line)
        raise Fail("no start line in:\n" + r.stdout[-2000:])

    s = start(cores, DEPTHINDEX_RUN_LOADED="0")
    check(s["side_threads"] == "gate" and s["decoders"] == cores and s["workers"] == cores,
          "idle machine, the engine on every core: %s" % s)
    s = start(cores, DEPTHINDEX_RUN_LOADED="1")
    check(s["side_threads"] == "normal", "busy machine: %s" % s)
    s = start(cores, DEPTHINDEX_RUN_LOADED="1", DEPTHINDEX_SIDE_SCHED="gate")
    check(s["side_threads"] == "gate", "DEPTHINDEX_SIDE_SCHED=gate: %s" % s)
    if cores > 1:
        s = start(cores - 1, DEPTHINDEX_RUN_LOADED="0")
        check(s["side_threads"] == "normal", "an engine that leaves a core free: %s" % s)


def case_model(tmp):
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "m.db"))
    init_demo(db, images, n=6, size=100)  # 100x100 faces, model input 32: DCT scaling
    model = tiny_model(tmp)
    model_or_skip(tmp, db, images, model)
    s = summary(di_ok(["run", "--db", db.url, "--images", images, "--model", model,
                       "--device", "cpu", "--batch", "3", "--progress", "json"]).stdout)
    check(s["ok"] == 23 and s["failed"] == 0, "model run: %s" % s)
    first = scores(db)
    check(all(v is not None and 0 <= v <= 255 for v in first.values()), "scores %s" % first)
    check(len(set(first.values())) > 4, "model scores all alike: %s" % first)
    # deterministic, whatever the batch size and the number of threads
    s = summary(di_ok(["run", "--db", db.url, "--images", images, "--model", model,
                       "--device", "cpu", "--batch", "5", "--workers", "2", "--force",
                       "--streams", "2", "--decoders", "2",
                       "--progress", "json"]).stdout)
    check(s["ok"] == 24, "model rerun: %s" % s)
    same_scores(first, scores(db), "model batch 3 vs batch 5 on 2 streams", tol=1e-5)
    side_threads(db, images, model)
    # --image-path with folders and {id}
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    for i in range(1, 7):
        os.mkdir(os.path.join(sub, "p%d" % i))
        for f in FACES:
            os.symlink(os.path.join(images, "demo%06d_%s.jpg" % (i, f)),
                       os.path.join(sub, "p%d" % i, "%s.jpg" % f))
    s = summary(di_ok(["run", "--db", db.url, "--images", sub, "--image-path", "p{id}/{face}.jpg",
                       "--model", model, "--device", "cpu", "--force", "--progress", "json"]).stdout)
    check(s["ok"] == 24, "--image-path p{id}/{face}.jpg: %s" % s)
    same_scores(first, scores(db), "the same images through --image-path", tol=1e-5)
    model_reference(tmp, model)
    # buffers that cannot fit the machine: refused at start, not the OOM
    # killer in mid-run (a 2048x2048 model: 16 MiB per depth map)
    big = tiny_model(tmp, 2048, "big.onnx")
    for opt, val in (("--queue", "100000"), ("--batch", "4096")):
        one_line_exit2(["run", "--db", db.url, "--images", images, "--model", big, "--device",
                        "cpu", opt, val], mention="GiB")
    r = di(["run", "--db", db.url, "--images", images, "--model", model, "--device", "cuda"])
    if "built without CUDA" in r.stderr:
        check(r.returncode == 2, "--device cuda without CUDA: exit %d" % r.returncode)
    # --precision on the CPU: where oneDNN has no native bf16 (ONEDNN_MAX_CPU_ISA=AVX2
    # stands for such a CPU) bf16 is refused in one line, auto is fp32 and the start
    # says nothing of bf16; with native bf16, fp32 runs say once what bf16 would give
    base = ["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
            "--force", "--progress", "plain"]
    avx2 = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    one_line_exit2(base + ["--precision", "bf16"], env=avx2, mention="native bf16")
    r = di_ok(base + ["--precision", "auto"], env=avx2)
    check("native bf16" not in r.stderr and ", fp32, batch" in r.stderr,
          "auto without native bf16: %s" % r.stderr[-2000:])
    same_scores(first, scores(db), "--precision auto without native bf16 (fp32)", tol=1e-5)
    native = subprocess.run(["grep", "-qw", "-e", "avx512_bf16", "-e", "amx_bf16", "/proc/cpuinfo"]).returncode == 0
    r = di_ok(base)
    check(("this CPU has native bf16" in r.stderr) == native,
          "fp32 start line about bf16 (native bf16: %s): %s" % (native, r.stderr[-2000:]))
    if native:
        r = di_ok(base + ["--precision", "bf16"])
        check("native bf16" not in r.stderr and ", bf16, batch" in r.stderr,
              "bf16 start: %s" % r.stderr[-2000:])
        got = scores(db)
        check(len(got) == len(first) and all(v is not None for v in got.values()),
              "bf16 run scores: %s" % got)


def case_model_symbolic(tmp):
    """A model whose height and width are symbolic (a 14-pixel patch Conv and
    a Resize to the input's Shape): run at the default size (518) and at
    --size WxH; a size that is not a multiple of the patch, and a --size that
    a fixed-size model does not take, are one-line setup errors (exit 2)."""
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "s.db"))
    init_demo(db, images, n=2, size=100)
    model = os.path.join(tmp, "patch.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "tiny_onnx.py"), model, "0", "patch"],
                   check=True)
    base = ["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
            "--batch", "3", "--progress", "json"]
    r = di_ok(base + ["--progress", "plain", "--limit", "1"])
    check("input 3x518x518" in r.stdout + r.stderr,
          "default size not 518: %s" % (r.stdout + r.stderr))
    s = summary(di_ok(base + ["--force"]).stdout)
    check(s["ok"] == 8 and s["failed"] == 0, "symbolic model at the default size: %s" % s)
    first = scores(db)
    check(len(set(first.values())) > 2, "scores all alike: %s" % first)
    r = di_ok(base + ["--force", "--size", "266x392", "--progress", "plain"])
    check("input 3x392x266" in r.stdout + r.stderr, "--size 266x392: %s" % (r.stdout + r.stderr))
    s = summary(di_ok(base + ["--force", "--size", "266x392"]).stdout)
    check(s["ok"] == 8 and s["failed"] == 0, "symbolic model at 266x392: %s" % s)
    # a preset's size: dpt's 384 is no multiple of 14 here (refused, naming
    # the patch), depth-anything's 518 is; an explicit --size wins
    one_line_exit2(base + ["--preset", "dpt"], mention="384x384")
    r = di_ok(base + ["--force", "--preset", "depth-anything", "--progress", "plain"])
    check("input 3x518x518" in r.stdout + r.stderr, "--preset depth-anything: %s" % r.stderr)
    r = di_ok(base + ["--force", "--preset", "dpt", "--size", "266", "--progress", "plain"])
    check("input 3x266x266" in r.stdout + r.stderr, "--preset dpt --size 266: %s" % r.stderr)
    # normalisation: the "nan" model takes the square root of a positive
    # combination of its input, so ImageNet normalisation (negative values
    # for dark pixels) fails faces, and midas-release's RGB in 0..1 fails none;
    # its fixed 32x32 input is not resized by the preset's 256
    nan = os.path.join(tmp, "nan.onnx")
    subprocess.run([sys.executable, os.path.join(HERE, "tiny_onnx.py"), nan, "32", "nan"],
                   check=True)
    nbase = ["run", "--db", db.url, "--images", images, "--model", nan, "--device", "cpu",
             "--progress", "json", "--force"]
    s = summary(di_ok(nbase, codes=(0, 1)).stdout)
    check(s["failed"] > 0, "ImageNet normalisation into the nan model: %s" % s)
    s = summary(di_ok(nbase + ["--preset", "midas-release"]).stdout)
    check(s["ok"] == 8 and s["failed"] == 0, "--preset midas-release: %s" % s)
    s = summary(di_ok(nbase + ["--preset", "midas-release", "--mean", "0.5,0.5,0.5"],
                      codes=(0, 1)).stdout)
    check(s["failed"] > 0, "--mean after --preset does not win: %s" % s)
    one_line_exit2(base + ["--preset", "nonsense"], mention="--preset")
    one_line_exit2(base + ["--size", "500"], mention="patch size is 14")
    one_line_exit2(base + ["--size", "0"], mention="--size")
    fixed = tiny_model(tmp)
    one_line_exit2(["run", "--db", db.url, "--images", images, "--model", fixed, "--device",
                    "cpu", "--size", "64"], mention="fixed at 32x32")


def jpeg_with_size(src, w, h):
    """A copy of a JPEG whose frame header claims w x h."""
    data = bytearray(open(src, "rb").read())
    i = 2
    while i < len(data):
        marker = data[i + 1]
        seglen = data[i + 2] << 8 | data[i + 3]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 7] = bytes([h >> 8, h & 255])
            data[i + 7:i + 9] = bytes([w >> 8, w & 255])
            return bytes(data)
        i += 2 + seglen
    raise Fail("no SOF in " + src)


def case_bad_input(tmp):
    # depth-dir mode: bad depth maps
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "b.db"))
    init_demo(db, images, n=5, size=64)
    os.remove(os.path.join(images, "demo000001_xm.npy"))
    open(os.path.join(images, "demo000002_xp.npy"), "wb").close()
    p = os.path.join(images, "demo000003_zm.npy")
    data = open(p, "rb").read()
    open(p, "wb").write(data[:len(data) // 2])
    p = os.path.join(images, "demo000004_zp.npy")
    data = bytearray(open(p, "rb").read())
    data[-4:] = b"\x00\x00\xc0\x7f"  # float32 NaN
    open(p, "wb").write(bytes(data))
    p = os.path.join(images, "demo000005_xp.npy")  # finite, but the range
    data = bytearray(open(p, "rb").read())          # overflows float32
    data[-8:] = struct.pack("<2f", -3e38, 3e38)
    open(p, "wb").write(bytes(data))
    r = di(run_args(db, images))
    check(r.returncode == 1, "bad depth maps: exit %d: %s" % (r.returncode, r.stderr))
    s = summary(r.stdout)
    check(s["ok"] == 15 and s["failed"] == 5, "summary %s" % s)
    check("id 1, face xm: " in r.stderr and "5 faces failed" in r.stderr,
          "the first failures are not named: %s" % r.stderr)
    err = errors(db)
    check(set(err) == {(1, "xm"), (2, "xp"), (3, "zm"), (4, "zp"), (5, "xp")}, "errors %s" % err)
    check("demo000001_xm" in err[(1, "xm")], "message names the file: %s" % err[(1, "xm")])
    check("demo000005_xp.npy" in err[(5, "xp")] and "overflows float32" in err[(5, "xp")],
          "range overflow: %s" % err[(5, "xp")])
    check("demo000004_zp" in err[(4, "zp")] and "nan" in err[(4, "zp")].lower(),
          "a NaN depth's message names the file and the reason: %s" % err[(4, "zp")])
    check(scores(db)[(5, "zp")] is not None, "good faces scored")

    # model mode: bad images
    images2 = os.path.join(tmp, "img2")
    db2 = SqliteDB(os.path.join(tmp, "b2.db"))
    init_demo(db2, images2, n=4, size=64)
    model = tiny_model(tmp)
    try:
        model_or_skip(tmp, db2, images2, model)
    except Skip as e:
        print("model part skipped:", e)
        return
    db2.execute("UPDATE panorama SET xm_depth_index = NULL")  # undo the probe's face
    good = os.path.join(images2, "demo000004_zp.jpg")
    backup = os.path.join(tmp, "good.jpg")
    shutil.copy(good, backup)
    bad = {
        (1, "xm"): None,                                # missing
        (1, "xp"): b"",                                 # empty
        (2, "xm"): open(good, "rb").read()[:300],       # truncated
        (2, "zp"): b"\x89PNG\r\n\x1a\n not a jpeg at all",  # not a JPEG
        (3, "zm"): jpeg_with_size(good, 60000, 60000),  # absurdly large
    }
    for (i, f), content in bad.items():
        p = os.path.join(images2, "demo%06d_%s.jpg" % (i, f))
        os.remove(p)
        if content is not None:
            open(p, "wb").write(content)
    r = di(["run", "--db", db2.url, "--images", images2, "--model", model,
            "--device", "cpu", "--batch", "4", "--progress", "json"])
    check(r.returncode == 1, "bad images: exit %d: %s" % (r.returncode, r.stderr))
    s = summary(r.stdout)
    check(s["ok"] == 11 and s["failed"] == 5, "summary %s" % s)
    err = errors(db2)
    check(set(err) == set(bad), "errors recorded %s" % err)
    for k, msg in err.items():
        check(len(msg) > 5 and "\n" not in msg, "message %r" % msg)
    # the images repaired, a rerun does only those faces and clears their errors
    for (i, f) in bad:
        shutil.copy(backup, os.path.join(images2, "demo%06d_%s.jpg" % (i, f)))
    s = summary(di_ok(["run", "--db", db2.url, "--images", images2, "--model", model,
                       "--device", "cpu", "--progress", "json"]).stdout)
    check(s["total"] == 5 and s["ok"] == 5, "rerun after repair: %s" % s)
    check(errors(db2) == {}, "errors not cleared: %s" % errors(db2))

    # panorama_sids from the database that would read outside the folders:
    # failed faces, naming the reason; the files they point at are not read
    # (they exist and are valid, so reading them would score the face)
    for i, f in ((1, "xm"), (2, "xm")):
        shutil.copy(os.path.join(images2, "demo000004_zp.jpg"),
                    os.path.join(tmp, "secret%d_%s.jpg" % (i, f)))
        shutil.copy(os.path.join(images, "demo000005_zp.npy"),
                    os.path.join(tmp, "secret%d_%s.npy" % (i, f)))
    for d, dbx in ((images2, db2), (images, db)):
        dbx.execute("UPDATE panorama SET panorama_sid = '../secret1' WHERE id = 1;"
                    "UPDATE panorama SET panorama_sid = '%s/secret2' WHERE id = 2;"
                    "UPDATE panorama SET panorama_sid = '' WHERE id = 3;"
                    "UPDATE panorama SET xm_depth_index = NULL WHERE id IN (1, 2, 3)" % tmp)
    for args, dbx in ((["--images", images2, "--model", model, "--device", "cpu"], db2),
                      (["--depth-dir", images], db)):
        r = di(["run", "--db", dbx.url, "--faces", "xm", "--progress", "json"] + args)
        check(r.returncode == 1, "sids outside: exit %d: %s" % (r.returncode, r.stderr))
        s = summary(r.stdout)
        check(s["ok"] == 0 and s["failed"] == 3, "sids outside %s: %s" % (args[0], s))
        err = errors(dbx)
        check("'..'" in err.get((1, "xm"), "") and "absolute" in err.get((2, "xm"), "")
              and "empty" in err.get((3, "xm"), ""),
              "sids outside %s: errors %s" % (args[0], err))

    # symbolic links inside --images/--depth-dir are followed, wherever they
    # lead (the folder is the user's; a sid cannot make links): a linked
    # file and a file in a linked sub-folder are scored (README, run)
    outdir = os.path.join(tmp, "linked-out")
    os.makedirs(outdir, exist_ok=True)
    for ext in ("jpg", "npy"):
        shutil.copy(os.path.join(tmp, "secret2_xm.%s" % ext), outdir)
    for d, dbx in ((images2, db2), (images, db)):
        ext = "jpg" if d == images2 else "npy"
        os.symlink(os.path.join(tmp, "secret1_xm.%s" % ext),
                   os.path.join(d, "linked1_xm.%s" % ext))
        os.symlink(outdir, os.path.join(d, "linkdir"))
        dbx.execute("UPDATE panorama SET panorama_sid = 'linked1' WHERE id = 1;"
                    "UPDATE panorama SET panorama_sid = 'linkdir/secret2' WHERE id = 2")
    for args, dbx in ((["--images", images2, "--model", model, "--device", "cpu"], db2),
                      (["--depth-dir", images], db)):
        r = di(["run", "--db", dbx.url, "--faces", "xm", "--progress", "json"] + args)
        s = summary(r.stdout)
        check(r.returncode == 1 and s["ok"] == 2 and s["failed"] == 1,
              "links in %s: exit %d, %s: %s" % (args[0], r.returncode, s, r.stderr))
        err = {k: v for k, v in errors(dbx).items() if k[1] == "xm"}
        check(set(err) == {(3, "xm")}, "links in %s: errors %s" % (args[0], err))


def case_setup_errors(tmp):
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "s.db"))
    init_demo(db, images, n=1, size=32)
    one_line_exit2(["run", "--db", "sqlite:" + os.path.join(tmp, "no", "such", "x.db"),
                    "--depth-dir", images])
    one_line_exit2(["run", "--db", db.url, "--table", "nope", "--depth-dir", images],
                   mention="nope")
    one_line_exit2(["run", "--db", db.url, "--faces", "xm,qq", "--depth-dir", images],
                   mention="qq")
    one_line_exit2(["run", "--db", db.url, "--column", "{face}_other", "--depth-dir", images],
                   mention="other")
    one_line_exit2(["run", "--db", "oracle://x/y", "--depth-dir", images])
    one_line_exit2(["status", "--db", "sqlite:" + images], mention="directory")
    one_line_exit2(["init", "--db", db.url, "--demo", "0", "--images", images],
                   mention="--demo: bad value '0'")
    one_line_exit2(["init", "--db", db.url, "--demo=x", "--images", images],
                   mention="--demo: bad value 'x'")
    one_line_exit2(["init", "--db", db.url, "--images", images], mention="go with --demo")
    one_line_exit2(["init", "--db", db.url, "--demo", "1"], mention="--images")
    one_line_exit2(["init", "--db", "sqlite:" + images], mention="directory")
    junk = os.path.join(tmp, "junk.db")
    open(junk, "wb").write(os.urandom(4096))
    one_line_exit2(["status", "--db", "sqlite:" + junk], mention="not a database")
    one_line_exit2(["run", "--db", db.url])  # neither --model nor --depth-dir
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--batch", "0"])
    # folders that are not there: said once, before any face fails
    one_line_exit2(["run", "--db", db.url, "--depth-dir", os.path.join(tmp, "nowhere")],
                   mention="nowhere")
    one_line_exit2(["run", "--db", db.url, "--images", os.path.join(tmp, "nowhere2"),
                    "--model", os.path.join(tmp, "m.onnx")], mention="nowhere2")
    # numbers that are not numbers, or out of range
    for opt, val in (("--batch", "-1"), ("--queue", "0"), ("--workers", "0"),
                     ("--workers", "x"), ("--limit", "1e3"), ("--k", "0"), ("--ksize", "4"), ("--sigma", "nan"),
                     ("--canny", "1"), ("--db-retry-for", "-5"), ("--progress", "loud")):
        one_line_exit2(["run", "--db", db.url, "--depth-dir", images, opt, val], mention=opt)
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--table", "x; drop table y"],
                   mention="--table")
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--faces", "xm,x-y"],
                   mention="x-y")
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--faces", "xm,zp,xm"],
                   mention="twice")
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--column", "score"],
                   mention="{face}")
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--column", "{face}{face}"],
                   mention="more than once")
    one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--column", "{face}; drop y"],
                   mention="xm; drop y")
    one_line_exit2(["status", "--db", db.url, "--table", "nope"], mention="nope")
    # nothing listens on port 1: unreachable, fast; the password never shows
    one_line_exit2(["run", "--db", "mysql://di_test:Pw-s3cret-77@127.0.0.1:1/x",
                    "--depth-dir", images], secret="Pw-s3cret-77")
    one_line_exit2(["run", "--db", "postgresql://di_test:Pw-s3cret-78@127.0.0.1:1/x",
                    "--depth-dir", images], secret="Pw-s3cret-78")
    pwfile = os.path.join(tmp, "pw")
    open(pwfile, "w").write("Pw-s3cret-79\n")
    one_line_exit2(["status", "--db", "postgresql://di_test@127.0.0.1:1/x",
                    "--password-file", pwfile], secret="Pw-s3cret-79")
    # a password file that is missing, a directory, a FIFO (no waiting) or empty
    one_line_exit2(["status", "--db", db.url, "--password-file", os.path.join(tmp, "nope")],
                   mention="nope")
    one_line_exit2(["status", "--db", db.url, "--password-file", images], mention="directory")
    fifo = os.path.join(tmp, "pw-fifo")
    os.mkfifo(fifo)
    one_line_exit2(["status", "--db", db.url, "--password-file", fifo],
                   mention="not a regular file")
    open(os.path.join(tmp, "pw-empty"), "w").close()
    one_line_exit2(["status", "--db", db.url, "--password-file", os.path.join(tmp, "pw-empty")],
                   mention="empty")


def ref_scores(tmp, n, size):
    """An uninterrupted run's table for the demo set of n panoramas."""
    images = os.path.join(tmp, "ref-img")
    db = SqliteDB(os.path.join(tmp, "ref.db"))
    init_demo(db, images, n=n, size=size)
    di_ok(run_args(db, images))
    return scores(db)


SLOW = {"DEPTHINDEX_TEST_READ_DELAY_MS": "250", "DEPTHINDEX_TEST_PAGE_ROWS": "1"}


def case_kill9(tmp):
    ref = ref_scores(tmp, 16, 64)
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "k.db"))
    init_demo(db, images, n=16, size=64)
    p = background_run(run_args(db, images), SLOW)
    wait_done(db, 8, p)
    p.kill()
    p.wait()
    before = scores(db)
    done = sum(v is not None for v in before.values())
    check(done < 64, "the run was not interrupted (all %d done)" % done)
    # what was committed is right
    for k, v in before.items():
        check(v is None or abs(v - ref[k]) <= 1e-9 * max(1, abs(v)), "face %s: %r" % (k, v))
    s = summary(di_ok(run_args(db, images)).stdout)
    check(s["total"] == 64 - done and s["ok"] == 64 - done,
          "the rerun did %s, want %d faces" % (s, 64 - done))
    same_scores(scores(db), ref, "after kill -9 and rerun", tol=1e-12)


def threads_taking_stop_signals(pid):
    """The threads of pid, but the main one, that do not block SIGINT and
    SIGTERM (/proc's SigBlk; the main thread unblocks them while it waits
    for them in sigtimedwait, so it is left out)."""
    want = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        if int(tid) == pid:
            continue
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # the thread ended meanwhile
        if int(fields["SigBlk"], 16) & want != want:
            found.append("%s (%s)" % (tid, fields["Name"].strip()))
    return found


def interrupted(tmp, name, sig, twice, model=None):
    images = os.path.join(tmp, name)
    db = SqliteDB(os.path.join(tmp, name + ".db"))
    init_demo(db, images, n=16, size=64)
    args = run_args(db, images)
    if model:  # the engine's threads exist too (--threads 2: whatever the cores)
        args = ["run", "--db", db.url, "--images", images, "--model", model, "--device",
                "cpu", "--threads", "2", "--batch", "1", "--progress", "json"]
    p = background_run(args, SLOW)
    wait_done(db, 4, p)
    if model:
        unblocked = threads_taking_stop_signals(p.pid)
        check(not unblocked, "%s: threads other than the main one take SIGINT/SIGTERM "
              "(a signal there kills the run without drain or summary): %s" % (name, unblocked))
    t0 = time.time()
    p.send_signal(sig)
    if twice:
        time.sleep(0.05)
        p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    sanitizer_check(err, name)
    want = 130 if sig == signal.SIGINT else 143
    check(p.returncode == want, "%s: exit %d, want %d: %s" % (name, p.returncode, want, err))
    check(time.time() - t0 < 10, "%s: took %.1f s to stop" % (name, time.time() - t0))
    if not twice:
        s = summary(out)
        check(s["outcome"] == "interrupted" and s["skipped"] > 0, "%s: summary %s" % (name, s))
        check(s["ok"] == sum(v is not None for v in scores(db).values()),
              "%s: summary ok %d vs table" % (name, s["ok"]))
    return db, images


def interrupted_init(tmp):
    """SIGINT during `init --demo`: the finished panoramas' rows are inserted,
    exit 130, one line; the same command again completes the set."""
    images = os.path.join(tmp, "init-img")
    db = SqliteDB(os.path.join(tmp, "init.db"))
    args = ["init", "--db", db.url, "--images", images, "--size", "96"]
    p = background_run(args + ["--demo", "20000"], {})
    t0 = time.time()
    while time.time() - t0 < 60 and p.poll() is None:
        if os.path.isdir(images) and len(os.listdir(images)) >= 40:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    sanitizer_check(err, "init")
    check(p.returncode == 130, "init --demo after SIGINT: exit %d: %s" % (p.returncode, err))
    check(len(err.strip().splitlines()) == 1 and "interrupted" in err, "init: %r" % err)
    rows = [r[0] for r in db.query("SELECT panorama_sid FROM panorama ORDER BY id")]
    check(0 < len(rows) < 20000, "init: %d rows after SIGINT" % len(rows))
    for sid in rows:
        for f in FACES:
            check(os.path.exists(os.path.join(images, "%s_%s.npy" % (sid, f))),
                  "init: row %s without its face %s" % (sid, f))
    n = len(rows) + 2
    di_ok(args + ["--demo", str(n)])
    check(db.query("SELECT COUNT(*) FROM panorama")[0][0] == n, "init: rerun did not complete")


def case_signals(tmp):
    interrupted_init(tmp)
    ref = ref_scores(tmp, 16, 64)
    for name, sig, twice in (("int", signal.SIGINT, False), ("term", signal.SIGTERM, False),
                             ("int2", signal.SIGINT, True)):
        db, images = interrupted(tmp, name, sig, twice)
        now = scores(db)
        for k, v in now.items():
            check(v is None or abs(v - ref[k]) <= 1e-12 * max(1, abs(v)),
                  "%s: face %s: %r vs %r" % (name, k, v, ref[k]))
        check(any(v is None for v in now.values()), "%s: nothing left to do" % name)
        di_ok(run_args(db, images))
        same_scores(scores(db), ref, "%s: after the rerun" % name, tol=1e-12)
    # model mode: the signal must reach the main thread, not one of the
    # engine's threads (which it would kill, with no drain and no summary)
    model = tiny_model(tmp)
    for name, sig in (("model-int", signal.SIGINT), ("model-term", signal.SIGTERM)):
        db, images = interrupted(tmp, name, sig, False, model)
        check(any(v is None for v in scores(db).values()), "%s: nothing left to do" % name)


def case_server(tmp, kind):
    # These steps restart and stop the server and change its timeouts: one
    # test run at a time per server on this machine (another build's or
    # worktree's run waits here), and database names of this run's own.
    lock = open("/tmp/di-pipe-test-%s.lock" % kind, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    created = []
    try:
        server_steps(tmp, kind, created)
    finally:
        for db in created:  # best effort: this run's databases go
            try:
                other = (MariaDB if kind == "mariadb" else Postgres)(db.url, "depthindex_test")
                other.execute("DROP DATABASE IF EXISTS %s%s" % (
                    db.name, "" if kind == "mariadb" else " WITH (FORCE)"))
            except Exception:
                pass
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def server_steps(tmp, kind, created):
    n, size = 12, 80
    ref = ref_scores(tmp, n, size)
    tag = "_%d" % os.getpid()

    def server_db(kind, name):
        db = server_db_fresh(kind, name)
        created.append(db)
        return db

    # 1. the same demo set gives the same scores as SQLite and as `score`
    db = server_db(kind, "pipe_same" + tag)
    images = os.path.join(tmp, "img")
    init_demo(db, images, n=n, size=size)
    s = summary(di_ok(run_args(db, images), env=db.env).stdout)
    check(s["ok"] == 4 * n, "%s run: %s" % (kind, s))
    same_scores(scores(db), ref, "%s against sqlite" % kind, tol=2e-6)
    check_equals_score(db, images, n)
    r = di_ok(["status", "--db", db.url, "--json"], env=db.env)
    check(json.loads(r.stdout)["faces"]["zp"]["done"] == n, "status: %s" % r.stdout)

    # 2. setup errors: one line, exit 2, no password shown
    scheme, rest = db.url.split("://", 1)
    userhost, path = rest.split("/", 1)
    user, host = userhost.split("@")
    wrong = "%s://%s:Wrong-pw-31@%s/%s" % (scheme, user, host, path)
    one_line_exit2(["run", "--db", wrong, "--depth-dir", images], env={"DEPTHINDEX_DB_PASSWORD": ""},
                   secret="Wrong-pw-31")
    # the wrong password from the environment and from --password-file
    bare = "%s://%s@%s/%s" % (scheme, user, host, path)
    line = one_line_exit2(["status", "--db", bare],
                          env={"DEPTHINDEX_DB_PASSWORD": "Wrong-pw-32"}, secret="Wrong-pw-32")
    check("password" in line or "auth" in line, "wrong password: %r" % line)
    pwfile = os.path.join(tmp, "wrong-pw")
    open(pwfile, "w").write("Wrong-pw-33\n")
    one_line_exit2(["run", "--db", bare, "--password-file", pwfile, "--depth-dir", images],
                   env={"DEPTHINDEX_DB_PASSWORD": ""}, secret="Wrong-pw-33")
    one_line_exit2(["run", "--db", db.url, "--table", "nope", "--depth-dir", images],
                   env=db.env, mention="nope")
    one_line_exit2(["run", "--db", db.url, "--faces", "xm,qq", "--depth-dir", images],
                   env=db.env, mention="qq")
    one_line_exit2(["run", "--db", "%s://%s:Pw-s3cret-90@127.0.0.1:1/%s" % (scheme, user, path),
                    "--depth-dir", images], secret="Pw-s3cret-90")

    # 3. the seed's failure: the server drops idle connections after 2 s, and
    #    the reads come 3 s apart
    db = server_db(kind, "pipe_idle" + tag)
    init_demo(db, images, n=n, size=size)
    if kind == "mariadb":
        db.execute("SET GLOBAL wait_timeout = 2; SET GLOBAL net_read_timeout = 2; "
                   "SET GLOBAL net_write_timeout = 2")
    else:
        db.execute("ALTER DATABASE %s SET idle_session_timeout = '2s'" % db.name)
    aborted = lambda: int(db.query("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")[0][1])
    before = aborted() if kind == "mariadb" else 0
    try:
        slow = dict(db.env, DEPTHINDEX_TEST_READ_DELAY_MS="3000", DEPTHINDEX_TEST_PAGE_ROWS="5")
        t0 = time.time()
        s = summary(di_ok(run_args(db, images), env=slow).stdout)
        check(time.time() - t0 > 5.5, "the slowed run was not slow")
        check(s["ok"] == 4 * n and s["failed"] == 0, "idle-timeout run: %s" % s)
        same_scores(scores(db), ref, "%s with 2 s idle timeouts" % kind, tol=2e-6)
        # and the server did drop idle connections on the way
        if kind == "mariadb":
            dropped = aborted() - before
        else:
            time.sleep(0.7)  # statistics reach pg_stat_database with a delay
            dropped = int(db.query("SELECT sessions_fatal FROM pg_stat_database "
                                   "WHERE datname = '%s'" % db.name)[0][0])
        check(dropped > 0, "%s dropped no connection: the test tested nothing" % kind)
    finally:
        if kind == "mariadb":
            db.execute("SET GLOBAL wait_timeout = 28800; SET GLOBAL net_read_timeout = 30; "
                       "SET GLOBAL net_write_timeout = 60")

    # 4. the server restarted mid-run: completes, every face written, none lost
    db = server_db(kind, "pipe_restart" + tag)
    init_demo(db, images, n=n, size=size)
    slow = dict(db.env, DEPTHINDEX_TEST_READ_DELAY_MS="1000", DEPTHINDEX_TEST_PAGE_ROWS="1")
    p = background_run(run_args(db, images), slow)
    wait_done(db, 4, p)
    r = server("restart", kind)
    check(r.returncode == 0, "restart failed: %s" % (r.stdout + r.stderr))
    done = sum(v is not None for v in scores(db).values())
    check(done < 4 * n and p.poll() is None, "the run was not in flight across the restart")
    out, err = p.communicate(timeout=170)
    sanitizer_check(err, "run across a restart")
    check(p.returncode == 0, "run across a restart: exit %d: %s" % (p.returncode, err[-2000:]))
    s = summary(out)
    check(s["ok"] == 4 * n and s["failed"] == 0 and s["skipped"] == 0, "summary %s" % s)
    same_scores(scores(db), ref, "%s after a restart" % kind, tol=2e-6)
    check(errors(db) == {}, "errors: %s" % errors(db))

    # 5. the server gone for longer than --db-retry-for: the run stops with
    #    exit 2 and one clear line; what was committed stays and is right
    db = server_db(kind, "pipe_gone" + tag)
    init_demo(db, images, n=n, size=size)
    p = background_run(run_args(db, images, ["--db-retry-for", "2"]), slow)
    wait_done(db, 4, p)
    try:
        r = server("stop", kind)
        check(r.returncode == 0, "stop failed: %s" % (r.stdout + r.stderr))
        out, err = p.communicate(timeout=60)
    finally:
        server("start", kind)
    sanitizer_check(err, "run with the server gone")
    check(p.returncode == 2, "server gone: exit %d, want 2: %s" % (p.returncode, err[-2000:]))
    s = summary(out)
    check(s["outcome"].startswith("stopped") and s["skipped"] > 0, "summary %s" % s)
    lines = [l for l in err.splitlines() if l.startswith("depthindex: ")]
    check(len(lines) == 1 and PASSWORD not in err, "messages: %r" % lines)
    # while it retried, the progress said so (not a frozen-looking run)
    lost = [json.loads(l).get("db_lost_s", 0) for l in out.splitlines()
            if l.startswith("{") and '"done"' in l]
    check(any(v > 0 for v in lost), "no progress line showed the retry: %s" % lost)
    kept = scores(db)
    done = sum(v is not None for v in kept.values())
    check(s["ok"] <= done < 4 * n, "summary ok %d, table %d" % (s["ok"], done))
    for k, v in kept.items():
        check(v is None or abs(v - ref[k]) <= 2e-6 * max(1, abs(v)), "face %s: %r" % (k, v))
    s = summary(di_ok(run_args(db, images), env=db.env).stdout)
    check(s["ok"] == 4 * n - done, "the rerun did %s, want %d" % (s, 4 * n - done))
    same_scores(scores(db), ref, "%s after the server came back" % kind, tol=2e-6)


CASES = {
    "sqlite": case_sqlite,
    "model": case_model,
    "model-symbolic": case_model_symbolic,
    "bad-input": case_bad_input,
    "setup-errors": case_setup_errors,
    "kill9": case_kill9,
    "signals": case_signals,
    "mariadb": lambda tmp: case_server(tmp, "mariadb"),
    "postgresql": lambda tmp: case_server(tmp, "postgresql"),
}



if __name__ == "__main__":
    sys.exit(run_case(CASES, __doc__, "di-pipe-"))

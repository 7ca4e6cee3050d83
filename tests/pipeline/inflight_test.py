#!/usr/bin/python3
"""Tests of the inference stage's batches in flight (src/pipeline/decode.c),
end to end through `depthindex run` on a real SQLite demo set and a real ONNX
model (tiny_onnx.py) run by the engine.

usage: inflight_test.py CASE   (CASE: async, cuda)

async: the CUDA path's logic (two batches in flight per session, submitted
       with di_nn_run_async before the previous one is waited for) forced on
       the CPU with DEPTHINDEX_TEST_ASYNC=1: the same scores as the
       synchronous path, every face written exactly once (SQLite triggers
       count the writes), an injected failure of one batch
       (DEPTHINDEX_TEST_FAIL_BATCH=N: that batch's engine run really fails,
       its output buffer being too small) fails only that batch's faces and
       the run exits 1; the same failure taken for a lost device
       (N:device) stops the run with exit 2, keeps what was committed and
       records no face as failed, and a rerun finishes the rest.
cuda:  needs a CUDA device (skipped, saying why, otherwise): `run --device
       cuda` gives the scores of `--device cpu` within fp32 tolerance, and
       an injected failure fails only that batch on the GPU too.

Helpers come from pipeline_test.py (same folder)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_test as pt  # noqa: E402
from pipeline_test import FACES, Fail, Skip, SqliteDB, check, di, summary  # noqa: E402

N = 6          # panoramas: 24 faces of 100 x 100, model input 32 x 32
BATCH = 5      # batches of 5, 5, 5, 5, 4
TEST_KNOBS = ("DEPTHINDEX_TEST_ASYNC", "DEPTHINDEX_TEST_FAIL_BATCH")


def run(db, images, model, extra=(), env=None, codes=(0,)):
    e = {k: "" for k in TEST_KNOBS}  # unset knobs from the caller's environment
    e.update(env or {})
    e = {k: v for k, v in e.items()}
    r = di(["run", "--db", db.url, "--images", images, "--model", model,
            "--batch", str(BATCH), "--progress", "json"] + list(extra), env=e)
    if r.returncode not in codes:
        raise Fail("run %s %s -> exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(extra), env, r.returncode, r.stdout[-2000:], r.stderr[-3000:]))
    return r


def start_line(stdout):
    import json
    for line in stdout.splitlines():
        if line.startswith("{") and '"start"' in line:
            return json.loads(line)
    raise Fail("no JSON start line in:\n" + stdout[-2000:])


def demo_db(tmp, name, images):
    db = SqliteDB(os.path.join(tmp, name + ".db"))
    pt.init_demo(db, images, n=N, size=100)
    # every UPDATE of a face's score column, row by row
    db.execute("CREATE TABLE writes (id INTEGER, face TEXT);" + "".join(
        "CREATE TRIGGER w_%s AFTER UPDATE OF %s_depth_index ON panorama "
        "BEGIN INSERT INTO writes VALUES (new.id, '%s'); END;" % (f, f, f) for f in FACES))
    return db


def writes(db):
    out = {}
    for i, f in db.query("SELECT id, face FROM writes"):
        out[(int(i), f)] = out.get((int(i), f), 0) + 1
    return out


def model_or_skip(tmp, images, model):
    probe = demo_db(tmp, "probe", images)
    r = run(probe, images, model, ["--device", "cpu", "--limit", "1"], codes=(0, 1, 2))
    if r.returncode == 2 and ("not part of this build" in r.stderr or "unsupported" in r.stderr
                              or "not supported" in r.stderr):
        raise Skip("the engine cannot run the test model here: " + r.stderr.strip())
    check(r.returncode == 0, "probe run: exit %d: %s" % (r.returncode, r.stderr[-2000:]))


def injected_faces(db):
    """The faces recorded failed, and that their errors are the injected one."""
    errs = pt.errors(db)
    for k, msg in errs.items():
        check("test: injected failure of batch 2" in msg, "face %s: error %r" % (k, msg))
    return set(errs)


def case_async(tmp):
    images = os.path.join(tmp, "img")
    model = pt.tiny_model(tmp)
    model_or_skip(tmp, images, model)
    total = 4 * N

    # the synchronous path (the CPU's default): the reference
    ref_db = demo_db(tmp, "sync", images)
    r = run(ref_db, images, model, ["--device", "cpu"])
    check(start_line(r.stdout)["in_flight"] == 1, "cpu default: %s" % r.stdout[:300])
    s = summary(r.stdout)
    check(s["ok"] == total and s["failed"] == 0 and s["in_flight_max"] == 1, "sync run: %s" % s)
    ref = pt.scores(ref_db)
    check(all(v is not None for v in ref.values()), "sync run left faces: %s" % ref)
    check(len(set(ref.values())) > 4, "model scores all alike: %s" % ref)

    # two batches in flight, on one and on two sessions: the same scores, each
    # face written exactly once
    for extra in (["--device", "cpu"], ["--device", "cpu", "--streams", "2", "--batch", "3"]):
        db = demo_db(tmp, "async%d" % len(extra), images)
        r = run(db, images, model, extra, env={"DEPTHINDEX_TEST_ASYNC": "1"})
        check(start_line(r.stdout)["in_flight"] == 2, "async: %s" % r.stdout[:300])
        s = summary(r.stdout)
        # (the test mode waits for a second batch: two are always in flight)
        check(s["ok"] == total and s["failed"] == 0 and s["skipped"] == 0
              and s["in_flight_max"] == 2, "async run %s: %s" % (extra, s))
        pt.same_scores(ref, pt.scores(db), "async %s against sync" % " ".join(extra), tol=1e-6)
        w = writes(db)
        check(sorted(w) == sorted(ref) and set(w.values()) == {1},
              "async %s: writes per face %s" % (" ".join(extra), w))

    # the 2nd batch's run fails: its 5 faces fail, the other 19 are done
    for mode in ("sync", "async"):
        db = demo_db(tmp, "fail-" + mode, images)
        env = {"DEPTHINDEX_TEST_FAIL_BATCH": "2"}
        if mode == "async":
            env["DEPTHINDEX_TEST_ASYNC"] = "1"
        r = run(db, images, model, ["--device", "cpu"], env=env, codes=(1,))
        s = summary(r.stdout)
        check(s["ok"] == total - BATCH and s["failed"] == BATCH and s["skipped"] == 0
              and s["in_flight_max"] == (2 if mode == "async" else 1),
              "%s, batch 2 failing: %s" % (mode, s))
        failed = injected_faces(db)
        check(len(failed) == BATCH, "%s: failed faces %s" % (mode, failed))
        got = pt.scores(db)
        for k, v in got.items():
            if k in failed:
                check(v is None, "%s: failed face %s has a score %r" % (mode, k, v))
            else:
                check(v is not None and abs(v - ref[k]) <= 1e-6 * max(1.0, abs(v)),
                      "%s: face %s: %r, want %r" % (mode, k, v, ref[k]))
        w = writes(db)
        check(set(w) == set(ref) - failed and set(w.values()) == {1},
              "%s: writes per face %s" % (mode, w))
        check("injected failure of batch 2" in r.stderr, "%s: stderr %s" % (mode, r.stderr[-1500:]))
        # a rerun does the failed batch and clears its errors
        s = summary(run(db, images, model, ["--device", "cpu"]).stdout)
        check(s["ok"] == BATCH and s["failed"] == 0, "%s: rerun after the failure: %s" % (mode, s))
        pt.same_scores(ref, pt.scores(db), "%s: after the rerun" % mode, tol=1e-6)
        check(pt.errors(db) == {}, "%s: errors left: %s" % (mode, pt.errors(db)))

    # the same failure taken for a lost device: exit 2, no face recorded as
    # failed, what was committed kept; a rerun finishes the rest
    db = demo_db(tmp, "lost", images)
    r = run(db, images, model, ["--device", "cpu"],
            env={"DEPTHINDEX_TEST_ASYNC": "1", "DEPTHINDEX_TEST_FAIL_BATCH": "2:device"},
            codes=(2,))
    s = summary(r.stdout)
    check(s["outcome"] == "stopped (device error)" and s["failed"] == 0 and s["skipped"] >= BATCH,
          "device lost: %s" % s)
    check("injected failure of batch 2" in r.stderr, "device lost: stderr %s" % r.stderr[-1500:])
    check(pt.errors(db) == {}, "device lost: faces recorded failed: %s" % pt.errors(db))
    first = {k for k, v in pt.scores(db).items() if v is not None}
    check(len(first) == s["ok"], "device lost: %d scores for ok %d" % (len(first), s["ok"]))
    s2 = summary(run(db, images, model, ["--device", "cpu"]).stdout)
    check(s2["ok"] == total - len(first) and s2["failed"] == 0,
          "rerun after the device loss: %s (first run: %s)" % (s2, s))
    pt.same_scores(ref, pt.scores(db), "after the device loss and a rerun", tol=1e-6)
    w = writes(db)
    check(sorted(w) == sorted(ref) and set(w.values()) == {1},
          "device lost then rerun: writes per face %s" % w)


def case_cuda(tmp):
    images = os.path.join(tmp, "img")
    model = pt.tiny_model(tmp)
    cuda_db = demo_db(tmp, "cuda", images)
    r = run(cuda_db, images, model, ["--device", "cuda"], codes=(0, 1, 2))
    if r.returncode == 2 and ("built without CUDA" in r.stderr or "no CUDA device" in r.stderr):
        raise Skip("no CUDA device to test on: " + r.stderr.strip())
    check(r.returncode == 0, "run --device cuda: exit %d: %s" % (r.returncode, r.stderr[-2000:]))
    check(start_line(r.stdout)["device"] == "cuda" and start_line(r.stdout)["in_flight"] == 2,
          "cuda start: %s" % r.stdout[:300])
    s = summary(r.stdout)
    check(s["ok"] == 4 * N and s["failed"] == 0, "cuda run: %s" % s)
    print("cuda: up to %d batches in flight" % s["in_flight_max"])
    cpu_db = demo_db(tmp, "cpu", images)
    summary(run(cpu_db, images, model, ["--device", "cpu"]).stdout)
    # fp32 on both, but other kernels (cuDNN, FMA, another summation order):
    # the depth maps differ in the last bits. The score quantises depth to 8
    # bits and then to layers, so a pixel at a boundary may change layer and
    # move a few edge pixels (255 / (100 * 100) each on these faces): most
    # faces agree to 1e-4, none by more than a few edge pixels. (Not yet
    # calibrated on a GPU: the largest difference is printed.)
    cpu, gpu = pt.scores(cpu_db), pt.scores(cuda_db)
    check(all(v is not None for v in list(cpu.values()) + list(gpu.values())),
          "faces left unscored: cpu %s, cuda %s" % (cpu, gpu))
    diffs = {k: abs(cpu[k] - gpu[k]) for k in cpu}
    worst = max(diffs.values())
    print("largest |cuda - cpu| score difference: %.3g" % worst)
    close = sum(d <= 1e-4 * max(1.0, abs(cpu[k])) for k, d in diffs.items())
    check(worst <= 1.0 and close >= 0.9 * len(diffs),
          "cuda against cpu: %d of %d faces within 1e-4, largest difference %.4g: %s" % (
              close, len(diffs), worst, {k: (cpu[k], gpu[k]) for k in cpu}))
    w = writes(cuda_db)
    check(set(w.values()) == {1} and len(w) == 4 * N, "cuda: writes per face %s" % w)
    # the default device is cuda when a GPU is present
    db = demo_db(tmp, "default", images)
    r = run(db, images, model)
    check(start_line(r.stdout)["device"] == "cuda", "default device: %s" % r.stdout[:300])
    # an injected failure fails that batch only on the GPU too
    db = demo_db(tmp, "cuda-fail", images)
    r = run(db, images, model, ["--device", "cuda"], env={"DEPTHINDEX_TEST_FAIL_BATCH": "2"},
            codes=(1,))
    s = summary(r.stdout)
    check(s["ok"] == 4 * N - BATCH and s["failed"] == BATCH, "cuda, batch 2 failing: %s" % s)
    check(len(injected_faces(db)) == BATCH, "cuda: failed faces %s" % pt.errors(db))


CASES = {"async": case_async, "cuda": case_cuda}



if __name__ == "__main__":
    sys.exit(pt.run_case(CASES, __doc__, "di-inflight-"))

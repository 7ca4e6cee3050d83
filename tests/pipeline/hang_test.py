#!/usr/bin/python3
"""`depthindex run` never hangs and always obeys SIGINT and SIGTERM, end to
end on SQLite (src/pipeline/threads.c, src/cli/cmd_run.c, the SQLite busy
handler in src/store/sqlite.c). Every run here is bounded by a timeout: a
hang fails the case, it never holds the suite.

usage: hang_test.py CASE
  CASE: write-fail   the writer's transaction fails mid-run
            (DEPTHINDEX_TEST_FAIL_WRITE=N), with a slow reader (what was
            committed before stays) and with every queue full (the first
            transaction fails while the reader has filled them; or the
            inference thread stops on a lost device): exit 2, the error
            line, the run ends; a rerun finishes the rest
        drain-signal   SIGTERM while the main thread waits for a thread that
            is slow to end after the writer has finished
            (DEPTHINDEX_TEST_READER_LINGER_MS): the first is taken (not left
            pending), a second exits at once with 143
        setup-signal   SIGTERM while the pipeline is being built
            (DEPTHINDEX_TEST_SETUP_DELAY_MS): exit 143 at once, one line
        busy-stop   another process holds the SQLite file's write lock and
            the writer waits for it: SIGINT ends the run within seconds, not
            after SQLite's busy wait; a rerun finishes the rest
        lease-signal   many-workers mode: the lease keeper's last pass
            waits for a locked SQLite file after a stop; a second SIGTERM
            exits at once; a rerun takes the chunks over and finishes
        two-runs   two `run --force` at once on one SQLite file (the engine,
            bf16 where the CPU has it): both end with 0, every face written
            exactly once by each (SQLite triggers count the writes)

Helpers come from pipeline_test.py (same folder)."""
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_test as pt  # noqa: E402
from pipeline_test import (DI, FACES, Fail, SqliteDB, check, di, run_args,  # noqa: E402
                           sanitizer_check, scores, summary)

KNOBS = ("DEPTHINDEX_TEST_READ_DELAY_MS", "DEPTHINDEX_TEST_PAGE_ROWS",
         "DEPTHINDEX_TEST_FAIL_BATCH", "DEPTHINDEX_TEST_ASYNC",
         "DEPTHINDEX_TEST_FAIL_WRITE", "DEPTHINDEX_TEST_READER_LINGER_MS",
         "DEPTHINDEX_TEST_SETUP_DELAY_MS")


def env_with(extra=None):
    e = {k: v for k, v in os.environ.items() if k not in KNOBS}
    e.update(extra or {})
    return e


def start(args, extra=None):
    return subprocess.Popen([DI] + args, env=env_with(extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p, what, timeout=60):
    """The output of p, which must end within timeout seconds."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise Fail("%s: still running after %d s (hang): %s" % (what, timeout, err[-2000:]))
    sanitizer_check(err, what)
    return out, err


def demo(tmp, name, n, size=64):
    images = os.path.join(tmp, name + "-img")
    db = SqliteDB(os.path.join(tmp, name + ".db"))
    pt.init_demo(db, images, n=n, size=size)
    return db, images


def done_faces(db):
    return {k: v for k, v in scores(db).items() if v is not None}


def rerun_completes(db, images, ref, what):
    r = di(run_args(db, images), env=env_with(), timeout=120)
    check(r.returncode == 0, "%s: rerun exit %d: %s" % (what, r.returncode, r.stderr))
    pt.same_scores(scores(db), ref, "%s: after the rerun" % what, tol=1e-12)


def case_write_fail(tmp):
    n = 24
    ref = pt.ref_scores(tmp, n, 64)
    # 1. slow reader: transactions of a page each; the third one fails
    db, images = demo(tmp, "slow", n)
    p = start(run_args(db, images), {"DEPTHINDEX_TEST_READ_DELAY_MS": "300",
                                     "DEPTHINDEX_TEST_PAGE_ROWS": "2",
                                     "DEPTHINDEX_TEST_FAIL_WRITE": "3"})
    out, err = finish(p, "slow reader, transaction 3 fails")
    check(p.returncode == 2, "slow: exit %d, want 2: %s" % (p.returncode, err))
    check("test: injected failure of transaction 3" in err and
          "writing results to table panorama" in err, "slow: error line: %r" % err)
    s = summary(out)
    check(s["outcome"] == "stopped (database error)", "slow: summary %s" % s)
    kept = done_faces(db)
    check(0 < len(kept) < 4 * n, "slow: %d faces committed before the failure" % len(kept))
    check(s["ok"] == len(kept), "slow: summary ok %d vs %d in the table" % (s["ok"], len(kept)))
    for k, v in kept.items():
        check(abs(v - ref[k]) <= 1e-12 * max(1, abs(v)), "slow: face %s: %r vs %r" %
              (k, v, ref[k]))
    rerun_completes(db, images, ref, "slow")
    # 2. every queue full: small queues, many faces, the engine's pipeline;
    # the very first transaction fails while the reader has filled them all
    model = pt.tiny_model(tmp)
    db, images = demo(tmp, "full", 60, 48)
    args = ["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
            "--batch", "2", "--queue", "1", "--workers", "1", "--decoders", "1",
            "--progress", "json"]
    r = di(args + ["--limit", "1"], env=env_with(), timeout=120)
    if r.returncode == 2 and "not part of this build" in r.stderr:
        raise pt.Skip("the engine cannot run the test model here: " + r.stderr.strip())
    before = len(done_faces(db))  # the probe's face
    p = start(args, {"DEPTHINDEX_TEST_FAIL_WRITE": "1"})
    out, err = finish(p, "full queues, transaction 1 fails")
    check(p.returncode == 2, "full: exit %d, want 2: %s" % (p.returncode, err))
    check("injected failure of transaction 1" in err, "full: %r" % err)
    check(len(done_faces(db)) == before, "full: faces committed by a failed transaction")
    # the same with the inference thread stopping on a lost device instead
    p = start(args, {"DEPTHINDEX_TEST_FAIL_BATCH": "3:device"})
    out, err = finish(p, "full queues, device lost at batch 3")
    check(p.returncode == 2, "full, device: exit %d, want 2: %s" % (p.returncode, err))
    check("injected failure of batch 3" in err, "full, device: %r" % err)
    check(summary(out)["outcome"] == "stopped (device error)", "full, device: %s" % out)
    r = di(args, env=env_with(), timeout=120)
    check(r.returncode == 0 and len(done_faces(db)) == 4 * 60,
          "full: rerun exit %d, %d faces: %s" % (r.returncode, len(done_faces(db)), r.stderr))


def thread_names(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def pending_shared(pid):
    """The process's pending signals (ShdPnd): a blocked signal nobody takes
    stays there."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("ShdPnd:"):
                return int(line.split()[1], 16)
    return 0


def case_drain_signal(tmp):
    db, images = demo(tmp, "drain", 4)
    args = run_args(db, images)
    args[args.index("json")] = "plain"  # the stop's message is printed
    p = start(args, {"DEPTHINDEX_TEST_READER_LINGER_MS": "60000"})
    # the writer has ended (every face committed), the reader lingers: the
    # main thread is waiting for the threads to end
    t0 = time.time()
    while True:
        names = thread_names(p.pid)
        if "di-read" in names and "di-write" not in names and len(done_faces(db)) == 16:
            break
        if p.poll() is not None or time.time() - t0 > 60:
            p.kill()
            raise Fail("drain: never reached the drain (threads %s, exit %s): %s" % (
                names, p.poll(), p.communicate()[1][-2000:]))
        time.sleep(0.05)
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    term = 1 << (signal.SIGTERM - 1)
    left = pending_shared(p.pid) & term
    t1 = time.time()
    p.send_signal(signal.SIGTERM)
    out, err = finish(p, "drain: two SIGTERMs", timeout=20)
    check(not left, "drain: the first SIGTERM was left pending (nobody takes it): %r" % err)
    check(p.returncode == 143, "drain: exit %d, want 143: %s" % (p.returncode, err))
    check(time.time() - t1 < 5, "drain: %.1f s to exit after the second signal" %
          (time.time() - t1))
    check("terminated: stopping" in err and "second signal" in err, "drain: %r" % err)
    check(len(done_faces(db)) == 16, "drain: committed faces lost")


def case_setup_signal(tmp):
    db, images = demo(tmp, "setup", 2)
    p = start(run_args(db, images), {"DEPTHINDEX_TEST_SETUP_DELAY_MS": "60000"})
    time.sleep(1.0)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    out, err = finish(p, "setup: SIGTERM", timeout=20)
    check(p.returncode == 143, "setup: exit %d, want 143: %s" % (p.returncode, err))
    check(time.time() - t0 < 5, "setup: %.1f s to exit" % (time.time() - t0))
    lines = [l for l in err.splitlines() if l.strip()]
    check(len(lines) == 1 and "stopped while setting up" in lines[0], "setup: %r" % err)
    check(not done_faces(db), "setup: faces scored")


@contextlib.contextmanager
def write_locked(db):
    """Another connection holds the SQLite file's write lock inside the
    block: the run's writer (and the lease keeper) wait for it."""
    lock = sqlite3.connect(db.path, timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        yield
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()


def case_busy_stop(tmp):
    n = 16
    ref = pt.ref_scores(tmp, n, 64)
    db, images = demo(tmp, "busy", n)
    p = start(run_args(db, images), pt.SLOW)
    pt.wait_done(db, 4, p)
    with write_locked(db):  # the writer's next transaction waits
        time.sleep(1.0)
        check(p.poll() is None, "busy: the run ended while the file was locked")
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        out, err = finish(p, "busy: SIGINT", timeout=30)
        took = time.time() - t0
    check(p.returncode == 130, "busy: exit %d, want 130: %s" % (p.returncode, err))
    check(took < 4, "busy: %.1f s to stop while waiting for the lock" % took)
    rerun_completes(db, images, ref, "busy")


def case_lease_signal(tmp):
    n = 16
    ref = pt.ref_scores(tmp, n, 64)
    db, images = demo(tmp, "lease", n)
    args = run_args(db, images, ["--chunk", "4", "--lease", "2"])
    p = start(args, pt.SLOW)
    pt.wait_done(db, 4, p)
    # the file stays locked: the writer gives up its transaction at the
    # stop, then the lease keeper's last pass (releasing the chunks held)
    # waits for the file; meanwhile the main thread must still take signals
    with write_locked(db):
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        out, err = finish(p, "lease: two SIGTERMs", timeout=30)
        took = time.time() - t0
    check(p.returncode == 143, "lease: exit %d, want 143: %s" % (p.returncode, err))
    check(took < 2, "lease: %.1f s to exit after the second signal" % took)
    r = di(args, env=env_with(), timeout=120)
    check(r.returncode == 0, "lease: rerun exit %d: %s" % (r.returncode, r.stderr))
    pt.same_scores(scores(db), ref, "lease: after the rerun", tol=1e-12)


def case_two_runs(tmp):
    model = pt.tiny_model(tmp)
    db, images = demo(tmp, "two", 16, 48)
    db.execute("CREATE TABLE writes (id INTEGER, face TEXT);" + "".join(
        "CREATE TRIGGER w_%s AFTER UPDATE OF %s_depth_index ON panorama "
        "BEGIN INSERT INTO writes VALUES (new.id, '%s'); END;" % (f, f, f) for f in FACES))
    args = ["run", "--db", db.url, "--images", images, "--model", model, "--device", "cpu",
            "--precision", "auto", "--force", "--batch", "2", "--queue", "2",
            "--progress", "none"]
    rounds = 3
    for i in range(rounds):
        a, b = start(args), start(args)
        for name, p in (("first", a), ("second", b)):
            out, err = finish(p, "two runs, round %d, %s" % (i + 1, name), timeout=120)
            check(p.returncode == 0, "round %d %s: exit %d: %s" % (i + 1, name, p.returncode,
                                                                    err))
    count = {}
    for i, f in db.query("SELECT id, face FROM writes"):
        count[(int(i), f)] = count.get((int(i), f), 0) + 1
    check(len(count) == 4 * 16 and set(count.values()) == {2 * rounds},
          "two runs: writes per face %s" % sorted(set(count.values())))
    check(len(done_faces(db)) == 4 * 16, "two runs: faces without a score")
    check(not db.query("SELECT COUNT(*) FROM depthindex_errors")[0][0], "two runs: errors")


CASES = {"write-fail": case_write_fail, "drain-signal": case_drain_signal,
         "setup-signal": case_setup_signal, "busy-stop": case_busy_stop,
         "lease-signal": case_lease_signal,
         "two-runs": case_two_runs}

if __name__ == "__main__":
    sys.exit(pt.run_case(CASES, __doc__, "di-hang-"))

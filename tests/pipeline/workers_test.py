#!/usr/bin/python3
"""Many `depthindex run` workers on one table (issue 10): real worker
processes, real MariaDB and PostgreSQL servers on 127.0.0.1 (started here
through tests/db/server.sh in /tmp/di-workers-db-H, H a hash of this build, so that restarting
one disturbs no other test) and SQLite files.

usage: workers_test.py sqlite|mariadb|postgresql

Every case checks at the end that every face is scored with the value a
single-process run gives, and counts the faces each worker processed (its
--progress json summary): duplicated work is 0 without faults, at most one
chunk per killed worker.

  sqlite      shards on one SQLite file (--shard I/N --no-steal, three
              processes), Ctrl-C releasing the chunks held, --shard auto
              from the schedulers' variables
  mariadb,    four workers started in the same instant; mismatched settings
  postgresql  refused; a poison face; a chunk past --max-attempts reported;
              kill -9 of a worker; SIGSTOP past the lease then SIGCONT; the
              server restarted mid-run
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_harness import (DI, SERVER, run_case, FACES, Fail, Skip, MariaDB, Postgres, SqliteDB,
                              check, di, di_ok, init_demo, run_args, same_scores, scores,
                              errors, sanitizer_check)
import json

N = 48          # panoramas: 192 faces, ids 1..48
CHUNK = 4       # ids per chunk: 13 chunks (chunk 0 holds ids 1..3)
FACES_PER_CHUNK = CHUNK * len(FACES)
SLOW = {"DEPTHINDEX_TEST_READ_DELAY_MS": "120", "DEPTHINDEX_TEST_PAGE_ROWS": "2"}
BUILD = os.environ.get("DEPTHINDEX_BUILD_ROOT", "/tmp")


# ---- servers of this test's own -----------------------------------------

def server(action, kind, *rest):
    """This test restarts and stops its servers: their ports (25000+h and
    26000+h, h a hash of this build's data folder) are outside the store
    suite's (23000+h, 24000+h) and the pipeline suite's, so that no other
    test, of this build or another checkout, ever shares them."""
    env = dict(os.environ)
    # outside the checkout (which may lie under /root, closed to the mysql
    # and postgres users), named after this build
    data = "/tmp/di-workers-db-%08x" % zlib.crc32(BUILD.encode())
    h = zlib.crc32(data.encode()) % 1000
    env["DI_TEST_DB_DIR"] = data
    env["DI_TEST_MARIADB_PORT"] = str(25000 + h)
    env["DI_TEST_PG_PORT"] = str(26000 + h)
    return subprocess.run(["bash", SERVER, action, kind] + list(rest), env=env,
                          capture_output=True, text=True, timeout=170)


def fresh_db(kind, name):
    if kind == "sqlite":
        return None
    r = server("createdb", kind, name)
    check(r.returncode == 0, "createdb %s: %s" % (name, r.stdout + r.stderr))
    url = server("url", kind, name).stdout.strip()
    return (MariaDB if kind == "mariadb" else Postgres)(url, name)


# ---- workers -------------------------------------------------------------

class Worker:
    def __init__(self, db, images, extra=(), env=None):
        e = dict(os.environ)
        e.pop("DEPTHINDEX_TEST_READ_DELAY_MS", None)
        e.pop("DEPTHINDEX_TEST_PAGE_ROWS", None)
        e.update(db.env)
        e.update(env or {})
        self.args = run_args(db, images, ["--chunk", str(CHUNK)] + list(extra))
        self.p = subprocess.Popen([DI] + self.args, env=e, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.out = self.err = None

    def wait(self, codes=(0,), timeout=120):
        self.out, self.err = self.p.communicate(timeout=timeout)
        sanitizer_check(self.err, "worker %d" % self.p.pid)
        if codes is not None:
            check(self.p.returncode in codes, "worker %d: exit %d\n%s\n%s" % (
                self.p.pid, self.p.returncode, self.out[-2000:], self.err[-2000:]))
        return self

    def line(self, key):
        for l in self.out.splitlines():
            if l.startswith("{") and ('"%s"' % key) in l:
                return json.loads(l)
        raise Fail("worker %d: no %s line in %s" % (self.p.pid, key, self.out[-1500:]))

    def processed(self):
        s = self.line("summary")
        return s["ok"] + s["failed"]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate(timeout=30)


def stop_all(workers):
    for w in workers:
        if w.p.poll() is None:
            try:
                os.kill(w.p.pid, signal.SIGCONT)
            except OSError:
                pass
            w.p.kill()
            w.p.communicate(timeout=30)


def chunks(db):
    """[(chunk, done, owner, token, attempts, faces, live)] of the run."""
    if "depthindex_chunks" not in str(db.query_tables()):
        return []  # not created yet: the workers are starting
    rows = db.query("SELECT chunk, done, owner, token, attempts, faces "
                    "FROM depthindex_chunks ORDER BY chunk")
    return [(int(r[0]), int(r[1]), r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]


def _tables(db):
    if db.kind == "mariadb":
        return db.query("SHOW TABLES")
    if db.kind == "postgresql":
        return db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return db.query("SELECT name FROM sqlite_master WHERE type = 'table'")


for _cls in (MariaDB, Postgres, SqliteDB):
    _cls.query_tables = _tables


def owned_by(owner, pid):
    return owner is not None and owner.endswith(":%d" % pid)


def wait_for(what, cond, timeout=60, workers=()):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return
        for w in workers:
            if w.p.poll() is not None and w.p.returncode != 0:
                raise Fail("%s: worker %d ended early (exit %d): %s" % (
                    what, w.p.pid, w.p.returncode, w.p.stderr.read()[-1500:]))
        time.sleep(0.05)
    raise Fail("%s: not after %d s" % (what, timeout))


def setup(tmp, kind, name):
    images = os.path.join(tmp, name + "-img")
    db = fresh_db(kind, name) if kind != "sqlite" else SqliteDB(os.path.join(tmp, name + ".db"))
    init_demo(db, images, n=N, size=64)
    return db, images


def reference(tmp):
    """One process, no coordination: the values every case must reproduce."""
    images = os.path.join(tmp, "ref-img")
    db = SqliteDB(os.path.join(tmp, "ref.db"))
    init_demo(db, images, n=N, size=64)
    di_ok(run_args(db, images))
    check(db.query("SELECT name FROM sqlite_master WHERE name = 'depthindex_runs'") == [],
          "a lone worker without options created the chunk tables")
    return scores(db)


def all_done(db, ref, what, poison=()):
    got = scores(db)
    want = dict(ref)
    for k in poison:
        want[k] = None
    same_scores(got, want, what, tol=1e-12)


# ---- cases ---------------------------------------------------------------

def case_race(tmp, kind, ref):
    """Four workers started in the same instant: one run, the chunks created
    once, no face done twice."""
    db, images = setup(tmp, kind, "raced")
    ws = [Worker(db, images, ["--lease", "3"]) for _ in range(4)]
    try:
        for w in ws:
            w.wait()
    finally:
        stop_all(ws)
    all_done(db, ref, "race")
    total = sum(w.processed() for w in ws)
    check(total == 4 * N, "race: workers processed %d faces for %d pending (duplicated %d)"
          % (total, 4 * N, total - 4 * N))
    check(db.query("SELECT COUNT(*) FROM depthindex_runs")[0][0] in (1, "1"), "race: runs")
    cs = chunks(db)
    check(len(cs) == 13 and all(c[1] == 1 for c in cs), "race: chunks %s" % cs)
    check(sum(c[5] for c in cs) == 4 * N, "race: faces of done chunks %s" % cs)
    # status: every chunk done, each worker listed
    st = json.loads(di_ok(["status", "--db", db.url, "--json"], env=db.env).stdout)
    check(st["chunks"]["done"] == 13 and st["chunks"]["free"] == 0, "status %s" % st)
    owners = {c[2] for c in cs}
    check(len(st["chunks"]["workers"]) == len(owners), "status workers %s" % st)


def case_settings(tmp, kind, ref):
    """A run stopped early; a worker with other settings is refused; a poison
    face fails every time, is recorded and its chunk completes; a chunk past
    --max-attempts is reported."""
    db, images = setup(tmp, kind, "settings")
    poison = (41, "zm")
    with open(os.path.join(images, "demo%06d_%s.npy" % poison), "wb") as f:
        f.write(b"\x93NUMPY garbage")
    first = Worker(db, images, ["--lease", "3", "--limit", "8"]).wait()
    check(first.processed() == 8, "settings: --limit 8 processed %d" % first.processed())
    r = di(run_args(db, images, ["--chunk", str(CHUNK), "--k", "3"]), env=db.env)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 2 and len(lines) == 1 and "k=4" in lines[0] and "k=3" in lines[0],
          "settings: mismatch: exit %d: %r" % (r.returncode, r.stderr))
    # a worker without any option joins the unfinished run
    w = Worker(db, images, []).wait(codes=(1,))
    check(w.line("chunks_summary")["claimed"] > 0, "settings: the plain worker did not join")
    check(first.processed() + w.processed() == 4 * N, "settings: processed %d + %d" % (
        first.processed(), w.processed()))
    all_done(db, ref, "settings", poison=[poison])
    check(poison in errors(db), "settings: poison face not recorded: %s" % errors(db))
    cs = chunks(db)
    check(all(c[1] == 1 for c in cs), "settings: chunks not all done %s" % cs)
    # a chunk that failed max_attempts times: reported, not claimed again
    db.execute("UPDATE depthindex_chunks SET done = 0, attempts = 3, lease_until = NULL "
               "WHERE chunk = 5")
    st = json.loads(di_ok(["status", "--db", db.url, "--json"], env=db.env).stdout)
    check(st["chunks"]["failed"] == 1, "settings: status %s" % st["chunks"])
    w = Worker(db, images, ["--lease", "3"]).wait(codes=(1,))
    check(w.line("chunks_summary")["run_failed_chunks"] == 1 and "failed 3 times" in w.err,
          "settings: failed chunk not reported: %s %s" % (w.out[-500:], w.err))
    check(w.line("chunks_summary")["claimed"] == 0, "settings: a failed chunk was claimed")


def case_kill9(tmp, kind, ref):
    db, images = setup(tmp, kind, "killed")
    ws = [Worker(db, images, ["--lease", "3"], SLOW) for _ in range(3)]
    victim = ws[0]
    try:
        # it has finished a chunk and holds another
        wait_for("kill9: victim at work", lambda: any(
            owned_by(c[2], victim.p.pid) and c[1] == 1 for c in chunks(db)) and any(
            owned_by(c[2], victim.p.pid) and c[1] == 0 for c in chunks(db)), workers=ws)
        victim.kill()
        held = [c for c in chunks(db) if owned_by(c[2], victim.p.pid) and c[1] == 0]
        for w in ws[1:]:
            w.wait()
    finally:
        stop_all(ws)
    all_done(db, ref, "kill9")
    cs = chunks(db)
    for c in held:
        now = [x for x in cs if x[0] == c[0]][0]
        check(now[1] == 1 and not owned_by(now[2], victim.p.pid) and now[3] > c[3],
              "kill9: chunk %s of the killed worker not taken over: %s" % (c, now))
    survivors = sum(w.processed() for w in ws[1:])
    victim_done = sum(c[5] for c in cs if owned_by(c[2], victim.p.pid))
    dup = survivors + victim_done - 4 * N
    check(dup <= FACES_PER_CHUNK, "kill9: duplicated %d faces (at most one chunk, %d)" % (
        dup, FACES_PER_CHUNK))


def case_sigstop(tmp, kind, ref):
    db, images = setup(tmp, kind, "paused")
    ws = [Worker(db, images, ["--lease", "2"], SLOW) for _ in range(2)]
    a = ws[0]
    try:
        held = []
        for _ in range(20):  # it may finish its chunk between the look and the stop
            wait_for("sigstop: worker at work", lambda: any(
                owned_by(c[2], a.p.pid) and c[1] == 0 for c in chunks(db)), workers=ws)
            os.kill(a.p.pid, signal.SIGSTOP)
            held = [c for c in chunks(db) if owned_by(c[2], a.p.pid) and c[1] == 0]
            if held:
                break
            os.kill(a.p.pid, signal.SIGCONT)
        check(held, "sigstop: never caught the worker holding a chunk")
        # the other worker takes its chunk once the lease has run out
        wait_for("sigstop: chunk taken over", lambda: any(
            c[0] == held[0][0] and c[3] > held[0][3] for c in chunks(db)), timeout=60)
        os.kill(a.p.pid, signal.SIGCONT)
        for w in ws:
            w.wait()
    finally:
        stop_all(ws)
    all_done(db, ref, "sigstop")
    check(a.line("chunks_summary")["lost"] >= 1, "sigstop: the paused worker lost nothing: %s"
          % a.line("chunks_summary"))
    check(all(c[1] == 1 for c in chunks(db)), "sigstop: chunks %s" % chunks(db))


def case_restart(tmp, kind, ref):
    db, images = setup(tmp, kind, "restarted")
    ws = [Worker(db, images, ["--lease", "20"], SLOW) for _ in range(3)]
    try:
        wait_for("restart: work started", lambda: sum(c[1] for c in chunks(db)) >= 2,
                 workers=ws)
        r = server("restart", kind)
        check(r.returncode == 0, "restart: %s" % (r.stdout + r.stderr))
        for w in ws:
            w.wait()
    finally:
        stop_all(ws)
    all_done(db, ref, "restart")
    total = sum(w.processed() for w in ws)
    check(total == 4 * N, "restart: processed %d for %d (leases outlive the restart): %s %s"
          % (total, 4 * N, [w.line("summary") for w in ws],
             [w.line("chunks_summary") for w in ws]))


def case_server(tmp, kind):
    r = server("start", kind)
    if r.returncode == 77 or "SKIP" in r.stdout:
        raise Skip(r.stdout.strip())
    check(r.returncode == 0, "%s server: %s" % (kind, r.stdout + r.stderr))
    try:
        ref = reference(tmp)
        for case in (case_race, case_settings, case_kill9, case_sigstop, case_restart):
            t0 = time.time()
            case(tmp, kind, ref)
            print("%s %s: ok (%.1f s)" % (kind, case.__name__[5:], time.time() - t0))
    finally:
        server("stop", kind)


def case_sqlite(tmp):
    ref = reference(tmp)
    # three processes on one SQLite file, each its own shard only
    db, images = setup(tmp, "sqlite", "shards")
    ws = [Worker(db, images, ["--shard", "%d/3" % i, "--no-steal", "--lease", "3"])
          for i in range(3)]
    try:
        for w in ws:
            w.wait()
    finally:
        stop_all(ws)
    all_done(db, ref, "sqlite shards")
    check(sum(w.processed() for w in ws) == 4 * N, "sqlite: processed %s" % [
        w.processed() for w in ws])
    shard_of = {int(r[0]): int(r[1]) for r in db.query("SELECT chunk, shard FROM depthindex_chunks")}
    for i, w in enumerate(ws):
        mine = [c for c in chunks(db) if owned_by(c[2], w.p.pid)]
        check(mine and all(shard_of[c[0]] == i for c in mine),
              "sqlite: worker of shard %d did chunks %s" % (i, mine))
    # Ctrl-C: the chunks it holds are released at once (not left to expire,
    # the attempt not counted); another worker does the rest
    db3, images3 = setup(tmp, "sqlite", "interrupted")
    w = Worker(db3, images3, ["--lease", "60"], SLOW)
    try:
        wait_for("sigint: work started", lambda: sum(c[1] for c in chunks(db3)) >= 1,
                 workers=[w])
        w.p.send_signal(signal.SIGINT)
        w.wait(codes=(130,))
    finally:
        stop_all([w])
    st = json.loads(di_ok(["status", "--db", db3.url, "--json"]).stdout)["chunks"]
    check(st["leased"] == 0 and st["done"] >= 1 and st["free"] >= 1,
          "sigint: chunks after the interrupt: %s" % st)
    check(all(c[4] <= 1 for c in chunks(db3)), "sigint: attempts %s" % chunks(db3))
    w2 = Worker(db3, images3, []).wait()
    check(w.processed() + w2.processed() == 4 * N, "sigint: processed %d + %d" % (
        w.processed(), w2.processed()))
    all_done(db3, ref, "sqlite after an interrupted worker")
    # --shard auto: Slurm's task id normalised by its minimum
    db2, images2 = setup(tmp, "sqlite", "auto")
    env = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
           "SLURM_ARRAY_TASK_COUNT": "3"}
    w = Worker(db2, images2, ["--shard", "auto"], env).wait()
    st = w.line("chunks_start")
    check(st["shard"] == 1 and st["shards"] == 3 and "SLURM_ARRAY_TASK_ID" in st["shard_from"],
          "auto: %s" % st)
    for bad_env, mention in (
            (dict(env, RANK="0", WORLD_SIZE="3"), "RANK"),
            ({"JOB_COMPLETION_INDEX": "2"}, "--shards"),
            ({}, "none of")):
        e = dict(os.environ)
        for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT",
                  "RANK", "WORLD_SIZE", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                  "AWS_BATCH_JOB_ARRAY_SIZE"):
            e.pop(k, None)
        e.update(bad_env)
        r = subprocess.run([DI] + run_args(db2, images2, ["--shard", "auto"]), env=e,
                           capture_output=True, text=True, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == 2 and len(lines) == 1 and mention in lines[0],
              "auto with %s: exit %d: %r" % (bad_env, r.returncode, r.stderr))
    # JOB_COMPLETION_INDEX with --shards: the shard count must be the run's
    e = dict(os.environ, JOB_COMPLETION_INDEX="2")
    r = subprocess.run([DI] + run_args(db2, images2, ["--shard", "auto", "--shards", "4"]),
                       env=e, capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "3 shards" in r.stderr, "auto: shard count: %r" % r.stderr)
    print("sqlite: ok")


CASES = {
    "sqlite": case_sqlite,
    "mariadb": lambda tmp: case_server(tmp, "mariadb"),
    "postgresql": lambda tmp: case_server(tmp, "postgresql"),
}


if __name__ == "__main__":
    sys.exit(run_case(CASES, __doc__, "di-workers-"))

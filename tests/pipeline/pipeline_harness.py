#!/usr/bin/python3
"""The pipeline tests' harness: running depthindex, the three databases
(SQLite files; MariaDB and PostgreSQL through tests/db/server.sh), reading
scores and errors back, and the checks the cases share. pipeline_test.py
holds the cases."""
import json
import os
import sqlite3
import subprocess
import time

DI = os.environ.get("DEPTHINDEX", "build/depthindex")
SRC = os.environ.get("DEPTHINDEX_SOURCE_ROOT", ".")
SERVER = os.path.join(SRC, "tests", "db", "server.sh")
HERE = os.path.dirname(os.path.abspath(__file__))
FACES = ["xm", "xp", "zm", "zp"]
PASSWORD = "di-secret"


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def run_case(cases, doc, prefix):
    """The main of every test script: runs the case named by the one
    argument in a temporary folder that is removed afterwards; exit 0 ok,
    1 failed, 77 skipped (meson's code), 2 usage."""
    import shutil
    import sys
    import tempfile
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(doc)
        return 2
    if not os.access(DI, os.X_OK):
        print("SKIP: no depthindex binary at", DI)
        return 77
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        cases[sys.argv[1]](tmp)
    except Skip as e:
        print("SKIP:", e)
        return 77
    except Fail as e:
        print("FAIL:", e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


def check(cond, what):
    if not cond:
        raise Fail(what)


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer")


def sanitizer_check(stderr, what):
    """In the ASan/UBSan build a report can hide behind an expected exit code."""
    for mark in SANITIZER_MARKS:
        check(mark not in stderr, "%s: sanitizer report:\n%s" % (what, stderr[-4000:]))


def di(args, env=None, timeout=180, input=None):
    e = dict(os.environ)
    e.pop("DEPTHINDEX_TEST_READ_DELAY_MS", None)
    e.pop("DEPTHINDEX_TEST_PAGE_ROWS", None)
    if env:
        e.update(env)
    r = subprocess.run([DI] + args, env=e, capture_output=True, text=True,
                       timeout=timeout, input=input)
    sanitizer_check(r.stderr, " ".join(args[:1]))
    return r


def di_ok(args, env=None, codes=(0,)):
    r = di(args, env)
    if r.returncode not in codes:
        raise Fail("depthindex %s -> exit %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def summary(stdout):
    """The JSON summary line of a run with --progress json."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and '"summary"' in line:
            return json.loads(line)
    raise Fail("no JSON summary in:\n" + stdout[-2000:])


# ---- databases ---------------------------------------------------------

class SqliteDB:
    kind = "sqlite"

    def __init__(self, path):
        self.path = path
        self.url = "sqlite:" + path
        self.env = {}

    def query(self, sql):
        con = sqlite3.connect(self.path, timeout=30)
        try:
            return [tuple(r) for r in con.execute(sql).fetchall()]
        finally:
            con.close()

    def execute(self, sql):
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()


def server(action, kind, *rest):
    env = dict(os.environ)
    env["DI_TEST_DB_DIR"] = os.environ.get("DI_PIPE_DB_DIR", "/tmp/di-pipe-test-db")
    env["DI_TEST_MARIADB_PORT"] = os.environ.get("DI_PIPE_MARIADB_PORT", "33316")
    env["DI_TEST_PG_PORT"] = os.environ.get("DI_PIPE_PG_PORT", "35442")
    # the lock its users hold (case_server, harden_test): a test run's
    # teardown leaves the server alone while someone holds it
    env["DI_TEST_SHARED_LOCK"] = "/tmp/di-pipe-test-%s.lock" % kind
    return subprocess.run(["bash", SERVER, action, kind] + list(rest), env=env,
                          capture_output=True, text=True, timeout=170)


def server_db_fresh(kind, name):
    """A fresh database NAME on the pipeline's private server of `kind`."""
    if not os.path.exists(SERVER):
        raise Skip("tests/db/server.sh is missing (the store's test fixture)")
    r = server("start", kind)
    if r.returncode != 0:
        raise Skip("%s server cannot be started: %s" % (kind, (r.stdout + r.stderr).strip()[-500:]))
    r = server("createdb", kind, name)
    if r.returncode != 0:
        raise Skip("cannot create database %s on %s: %s" % (name, kind, (r.stdout + r.stderr).strip()))
    url = server("url", kind, name).stdout.strip()
    return (MariaDB if kind == "mariadb" else Postgres)(url, name)


class MariaDB:
    kind = "mariadb"

    def __init__(self, url, name):
        self.url = url  # no password in it: it comes from the environment
        self.name = name
        self.port = url.rsplit(":", 1)[1].split("/")[0]
        self.env = {"DEPTHINDEX_DB_PASSWORD": PASSWORD}

    def query(self, sql):
        r = subprocess.run(["mariadb", "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1",
                            "-P", self.port, "-u", "di_test", "-N", "-B", "-e", sql, self.name],
                           env=dict(os.environ, MYSQL_PWD=PASSWORD), capture_output=True,
                           text=True, timeout=60)
        if r.returncode:
            raise Fail("mariadb: %s: %s" % (sql, r.stderr))
        rows = []
        for line in r.stdout.splitlines():
            rows.append(tuple(None if v == "NULL" else v for v in line.split("\t")))
        return rows

    def execute(self, sql):
        self.query(sql)


class Postgres:
    kind = "postgresql"

    def __init__(self, url, name):
        self.url = url
        self.name = name
        self.port = url.rsplit(":", 1)[1].split("/")[0]
        self.env = {"DEPTHINDEX_DB_PASSWORD": PASSWORD}

    def query(self, sql):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", self.port, "-U", "di_test", "-d", self.name, "-tA",
                            "-F", "\t", "-P", "null=NULL", "-c", sql],
                           env=dict(os.environ, PGPASSWORD=PASSWORD), capture_output=True,
                           text=True, timeout=60)
        if r.returncode:
            raise Fail("psql: %s: %s" % (sql, r.stderr))
        rows = []
        for line in r.stdout.splitlines():
            if line:
                rows.append(tuple(None if v == "NULL" else v for v in line.split("\t")))
        return rows

    def execute(self, sql):
        self.query(sql)


def scores(db):
    """{(id, face): score or None} of the whole table."""
    cols = ", ".join("%s_depth_index" % f for f in FACES)
    out = {}
    for row in db.query("SELECT id, %s FROM panorama ORDER BY id" % cols):
        for f, v in zip(FACES, row[1:]):
            out[(int(row[0]), f)] = None if v is None else float(v)
    return out


def errors(db):
    return {(int(r[0]), r[1]): r[2] for r in db.query("SELECT id, face, error FROM depthindex_errors")}


def same_scores(a, b, what, tol=2e-6):
    check(a.keys() == b.keys(), "%s: different faces" % what)
    for k in a:
        x, y = a[k], b[k]
        if x is None or y is None:
            check(x is None and y is None, "%s: face %s: %r vs %r" % (what, k, x, y))
        else:
            check(abs(x - y) <= tol * max(1.0, abs(x)),
                  "%s: face %s: %.9f vs %.9f" % (what, k, x, y))


def run_args(db, images, extra=()):
    return ["run", "--db", db.url, "--depth-dir", images, "--progress", "json"] + list(extra)


def init_demo(db, images, n=12, size=80):
    di_ok(["init", "--db", db.url, "--demo", str(n), "--images", images, "--size", str(size)],
          env=db.env)


def score_files(images, ids):
    """`depthindex score` of the ground-truth depth maps: {(id, face): score}."""
    files, keys = [], []
    for i in ids:
        for f in FACES:
            files.append(os.path.join(images, "demo%06d_%s.npy" % (i, f)))
            keys.append((i, f))
    r = di_ok(["score"] + files)
    got = {}
    for line in r.stdout.splitlines():
        path, value = line.rsplit("\t", 1)
        got[path] = float(value)
    return {k: got[p] for k, p in zip(keys, files)}


def check_equals_score(db, images, n):
    mine = scores(db)
    ref = score_files(images, range(1, n + 1))
    # `score` prints six decimals
    same_scores(mine, ref, "%s against depthindex score" % db.kind, tol=6e-7)


def one_line_exit2(args, env=None, secret=None, mention=None):
    r = di(args, env=env, timeout=120)
    text = r.stdout + r.stderr
    check(r.returncode == 2, "%s: exit %d (want 2): %s" % (args, r.returncode, text))
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(len(lines) == 1, "%s: want one line on stderr, got: %r" % (args, r.stderr))
    check(lines[0].startswith("depthindex: "), "%s: line: %r" % (args, lines[0]))
    if secret:
        check(secret not in text, "%s: the password was printed: %r" % (args, text))
    if mention:
        check(mention in lines[0], "%s: %r does not mention %r" % (args, lines[0], mention))
    return lines[0]


def wait_done(db, at_least, proc, timeout=60):
    """Polls until at least `at_least` faces are committed."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = sum(v is not None for v in scores(db).values())
        if done >= at_least:
            return done
        if proc.poll() is not None:
            raise Fail("run ended (exit %s) before %d faces were done: %s" % (
                proc.returncode, at_least, proc.stderr.read()[-2000:]))
        time.sleep(0.05)
    raise Fail("fewer than %d faces done after %d s" % (at_least, timeout))


def background_run(args, env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.Popen([DI] + args, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

#!/usr/bin/python3
"""Hardening tests (issue 14): what a hostile-but-fair user tried, end to end
through `depthindex` against real databases.

usage: harden_test.py CASE
  CASE: rows-sqlite, rows-mariadb, rows-postgresql   ids <= 0, bad id columns,
            result columns that are keys, unusable sids, rows that vanish
        frozen-mariadb, frozen-postgresql   a server that stops answering
            (a proxy that stops forwarding, as SIGSTOP would) mid-run:
            --db-retry-for is kept, Ctrl-C is honoured within a second
        init-idle-mariadb, init-idle-postgresql   `init --demo` on a server
            that drops idle sessions
        terminal   values from the database are escaped on the terminal;
            long inputs are not echoed whole
        cli   read-only status, corrupt model for infer, too-long names,
            --save-maps name clashes

The server cases use the pipeline suite's private servers (pipeline_harness,
tests/db/server.sh) and its per-server lock: shared while a case only uses
the server, exclusive when it changes server-wide settings."""
import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from pipeline_harness import *  # noqa: F401,F403
from pipeline_harness import Fail, Skip


def server_lock(kind, exclusive):
    lock = open("/tmp/di-pipe-test-%s.lock" % kind, "w")
    fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    return lock


class ServerCase:
    """A fresh database per step on the pipeline server of `kind`, dropped
    at the end, under the server's lock."""

    def __init__(self, kind, exclusive=False):
        self.kind = kind
        self.exclusive = exclusive
        self.created = []

    def __enter__(self):
        self.lock = server_lock(self.kind, self.exclusive)
        return self

    def db(self, name):
        db = server_db_fresh(self.kind, "%s_%d" % (name, os.getpid()))
        self.created.append(db)
        return db

    def __exit__(self, *exc):
        for db in self.created:
            try:
                other = (MariaDB if self.kind == "mariadb" else Postgres)(db.url, "depthindex_test")
                other.execute("DROP DATABASE IF EXISTS %s%s" % (
                    db.name, "" if self.kind == "mariadb" else " WITH (FORCE)"))
            except Exception:
                pass
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()


def make_db(tmp, kind, sc, name):
    if kind == "sqlite":
        return SqliteDB(os.path.join(tmp, name + ".db"))
    return sc.db(name)


def int_type(kind):
    return "INTEGER" if kind == "sqlite" else "BIGINT"


def real_type(kind):
    return "REAL" if kind == "sqlite" else "DOUBLE PRECISION"


def face_cols(kind):
    return ", ".join("%s_depth_index %s" % (f, real_type(kind)) for f in FACES)


# ---- rows: items 1 to 4 -------------------------------------------------

def run_steps(*steps):
    """Runs every step, even after one failed, and fails with all their
    reasons: each step tests one defect."""
    failures = []
    for fn, args in steps:
        try:
            fn(*args)
        except Fail as e:
            failures.append("%s: %s" % (fn.__name__, e))
    if failures:
        raise Fail("\n".join(failures))


def rows_steps(tmp, kind, sc):
    images = os.path.join(tmp, "img")
    # each step on its own copy of the demo images
    run_steps(*[(fn, (tmp, kind, sc, images + "-" + fn.__name__))
                for fn in (step_ids, step_bad_ids, step_keys, step_sids)])


def step_ids(tmp, kind, sc, images):
    # 1. ids 0 and below are scored like the others
    db = make_db(tmp, kind, sc, "ids")
    di_ok(["init", "--db", db.url, "--demo", "2", "--first-id", "0", "--images", images,
           "--size", "64"], env=db.env)
    db.execute("INSERT INTO panorama (id, panorama_sid) VALUES (-7, 'demo000001')")
    db.execute("INSERT INTO panorama (id, panorama_sid) VALUES (%d, 'demo000000')"
               % -(2 ** 63))
    s = summary(di_ok(run_args(db, images), env=db.env).stdout)
    check(s["ok"] == 16 and s["skipped"] == 0, "ids <= 0: %s" % s)
    left = [k for k, v in scores(db).items() if v is None]
    check(left == [], "ids <= 0: faces never scored: %s" % left)
    # every row matched again (the same values written again still count:
    # MariaDB must report matched rows, not changed ones)
    s = summary(di_ok(run_args(db, images, ["--force"]), env=db.env).stdout)
    check(s["ok"] == 16 and s["failed"] == 0, "--force again: %s" % s)


def step_bad_ids(tmp, kind, sc, images):
    di_ok(["demo", "--count", "1", "--seed", "0", "--size", "64x64", images])
    # 2. an id column that cannot name one row is refused at the start,
    #    naming the column and the fix
    bad_tables = [
        ("CREATE TABLE panorama (id %s, panorama_sid TEXT, %s)" % (int_type(kind), face_cols(kind)),
         "unique"),  # integer but not unique: rows could share an id
    ]
    if kind == "sqlite":
        bad_tables.append(("CREATE TABLE panorama (id REAL PRIMARY KEY, panorama_sid TEXT, %s)"
                           % face_cols(kind), "integer"))
    else:
        bad_tables.append(("CREATE TABLE panorama (id %s PRIMARY KEY, panorama_sid TEXT, %s)"
                           % ("DOUBLE" if kind == "mariadb" else "NUMERIC", face_cols(kind)),
                           "integer"))
    for i, (ddl, word) in enumerate(bad_tables):
        db = make_db(tmp, kind, sc, "badid%d" % i)
        db.execute(ddl)
        db.execute("INSERT INTO panorama (id, panorama_sid) VALUES (1, 'demo000000'), "
                   "(1, 'demo000001')" if i == 0 else
                   "INSERT INTO panorama (id, panorama_sid) VALUES (4.5, 'demo000000')")
        line = one_line_exit2(run_args(db, images), env=db.env, mention="id column id")
        check(word in line and "CREATE UNIQUE INDEX" in line, "bad id %d: %r" % (i, line))
        written = db.query("SELECT COUNT(xm_depth_index) FROM panorama")[0][0]
        check(int(written) == 0, "bad id %d: something written" % i)
    if kind == "sqlite":
        # a unique integer column that still holds text (SQLite keeps '7x'):
        # the UPDATE matches no row, which must not count as written
        db = make_db(tmp, kind, sc, "textid")
        db.execute("CREATE TABLE panorama (id INTEGER UNIQUE, panorama_sid TEXT, %s);"
                   "INSERT INTO panorama (id, panorama_sid) VALUES ('7x', 'demo000000');"
                   % face_cols(kind))
        r = di(run_args(db, images), env=db.env)
        s = summary(r.stdout)
        check(r.returncode == 2 and s["ok"] == 0, "id '7x': exit %d, %s" % (r.returncode, s))
        check("matched 0 rows" in r.stderr, "id '7x': %r" % r.stderr)


def step_keys(tmp, kind, sc, images):
    # 3. result columns that are the id, the sid or a key, in any case
    db = make_db(tmp, kind, sc, "keys")
    di_ok(["init", "--db", db.url, "--demo", "1", "--images", images, "--size", "64"],
          env=db.env)
    db.execute("ALTER TABLE panorama ADD COLUMN code %s" % int_type(kind))
    db.execute("CREATE UNIQUE INDEX panorama_code ON panorama (code)")
    before = db.query("SELECT id, panorama_sid FROM panorama")
    for faces, mention in (("ID", "id column"), ("Id", "id column"),
                           ("PANORAMA_SID", "panorama_sid column"), ("code", "key"),
                           ("CODE", "key")):
        one_line_exit2(run_args(db, images, ["--faces", faces, "--column", "{face}", "--force"]),
                       env=db.env, mention=mention)
    check(db.query("SELECT id, panorama_sid FROM panorama") == before, "a key was changed")


def step_sids(tmp, kind, sc, images):
    # 4. unusable sids fail their own faces, recorded; the run goes on
    db = make_db(tmp, kind, sc, "sids")
    di_ok(["init", "--db", db.url, "--demo", "2", "--images", images, "--size", "64"],
          env=db.env)
    if kind == "mariadb":
        db.execute("ALTER TABLE panorama MODIFY panorama_sid TEXT NOT NULL")
    long_sids = {10: "s" * 256, 11: "t" * 5000}
    for i, sid in long_sids.items():
        db.execute("INSERT INTO panorama (id, panorama_sid) VALUES (%d, '%s')" % (i, sid))
    want_failed = 4 * len(long_sids)
    if kind != "postgresql":  # PostgreSQL text cannot hold a NUL byte
        if kind == "sqlite":
            con = sqlite3.connect(db.path)
            con.execute("INSERT INTO panorama (id, panorama_sid) VALUES (12, ?)",
                        ("demo000001\x00../../x",))
            con.commit()
            con.close()
        else:
            db.execute("INSERT INTO panorama (id, panorama_sid) VALUES "
                       "(12, CONCAT('demo000001', CHAR(0), 'x'))")
        want_failed += 4
    # a good row after them: only its face xm has a depth map
    db.execute("INSERT INTO panorama (id, panorama_sid) VALUES (20, 'later000009')")
    shutil.copy(os.path.join(images, "demo000001_xm.npy"), os.path.join(images, "later000009_xm.npy"))
    r = di(run_args(db, images), env=db.env)
    s = summary(r.stdout)
    check(r.returncode == 1, "sids: exit %d: %s" % (r.returncode, r.stderr[-2000:]))
    check(s["failed"] == want_failed + 3 and s["ok"] == 9,
          "sids: %s (want %d failed)" % (s, want_failed + 3))
    errs = errors(db)
    for i in long_sids:
        check("longer than 255" in errs.get((i, "xm"), ""), "sid %d: %s" % (i, errs))
    if kind != "postgresql":
        check("NUL" in errs.get((12, "xm"), ""), "NUL sid: %s" % errs)
    check(scores(db)[(20, "xm")] is not None, "the row after the bad sids was not scored")


def case_rows(tmp, kind):
    if kind == "sqlite":
        rows_steps(tmp, kind, None)
        return
    with ServerCase(kind) as sc:
        rows_steps(tmp, kind, sc)


# ---- frozen server: item 5 ------------------------------------------------

class FreezingProxy:
    """Forwards TCP to a server until frozen: then it holds every byte (and
    new connections are accepted but not answered), as a server stopped
    with SIGSTOP looks to a client; other users of the server are not
    affected."""

    def __init__(self, port):
        self.target = ("127.0.0.1", int(port))
        self.frozen = threading.Event()
        self.closing = threading.Event()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.socks.append(client)
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        while self.frozen.is_set() and not self.closing.is_set():
            time.sleep(0.05)
        try:
            up = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        self.socks.append(up)
        threading.Thread(target=self.pump, args=(up, client), daemon=True).start()
        self.pump(client, up)

    def pump(self, a, b):
        try:
            while not self.closing.is_set():
                data = a.recv(65536)
                if not data:
                    break
                while self.frozen.is_set() and not self.closing.is_set():
                    time.sleep(0.05)
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closing.set()
        self.listener.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def frozen_steps(tmp, kind, sc):
    run_steps((frozen_retry_for, (tmp, kind, sc)), (frozen_sigint, (tmp, kind, sc)),
              (frozen_connect, (tmp, kind, sc)), (stop_while_retrying, (tmp, kind, sc)))


def stop_while_retrying(tmp, kind, sc):
    """The server goes away (connections reset, new ones refused) and the
    reader retries; Ctrl-C then ends the run at once, exit 130. Under
    ThreadSanitizer this is where a stop flag read without atomics in the
    retry loop shows as a data race (the test checks stderr for reports)."""
    images = os.path.join(tmp, "img-retrying")
    db = sc.db("stop_retrying")
    init_demo(db, images, n=12, size=64)
    proxy = FreezingProxy(db.port)
    try:
        url = db.url.replace(":%s/" % db.port, ":%d/" % proxy.port)
        p = background_run(["run", "--db", url, "--depth-dir", images, "--progress", "json"],
                           dict(db.env, DEPTHINDEX_TEST_READ_DELAY_MS="400",
                                DEPTHINDEX_TEST_PAGE_ROWS="1"))
        wait_done(db, 4, p)
    finally:
        proxy.close()
    time.sleep(1.5)  # the reader and the writer now reconnect with backoff
    check(p.poll() is None, "the run ended before the signal")
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    took = time.time() - t0
    sanitizer_check(err, "stop while retrying")
    check(p.returncode == 130, "stop while retrying: exit %d: %s" % (p.returncode, err[-2000:]))
    check(took <= 1.8, "Ctrl-C while retrying took %.1f s" % took)


def frozen_connect(tmp, kind, sc):
    """A server frozen before the command connects: the connect gives up
    after its timeout (10 s), exit 2, one line."""
    db = sc.db("frozen_connect")
    di_ok(["init", "--db", db.url], env=db.env)
    proxy = FreezingProxy(db.port)
    proxy.frozen.set()
    try:
        url = db.url.replace(":%s/" % db.port, ":%d/" % proxy.port)
        t0 = time.time()
        try:
            line = one_line_exit2(["status", "--db", url], env=db.env)
        except subprocess.TimeoutExpired:
            raise Fail("status on a frozen server still waits after 120 s")
        took = time.time() - t0
        print("frozen %s, connect: status gave up after %.1f s: %s" % (kind, took, line))
        check(8 <= took <= 16, "connect to a frozen server gave up after %.1f s" % took)
        check("connect" in line, "connect: %r" % line)
    finally:
        proxy.close()


def frozen_retry_for(tmp, kind, sc):
    frozen_step(tmp, kind, sc, "retry-for")


def frozen_sigint(tmp, kind, sc):
    frozen_step(tmp, kind, sc, "sigint")


def frozen_step(tmp, kind, sc, step):
    images = os.path.join(tmp, "img-" + step)
    slow = {"DEPTHINDEX_TEST_READ_DELAY_MS": "400", "DEPTHINDEX_TEST_PAGE_ROWS": "1"}
    db = sc.db("frozen_" + step.replace("-", "_"))
    init_demo(db, images, n=12, size=64)
    proxy = FreezingProxy(db.port)
    try:
        url = db.url.replace(":%s/" % db.port, ":%d/" % proxy.port)
        extra = ["--db-retry-for", "5"] if step == "retry-for" else []
        args = ["run", "--db", url, "--depth-dir", images, "--progress", "json"] + extra
        p = background_run(args, dict(db.env, **slow))
        wait_done(db, 4, p)
        proxy.frozen.set()
        t0 = time.time()
        if step == "sigint":
            time.sleep(1.5)  # the reader and the writer now wait on the server
            check(p.poll() is None, "the run ended before the signal")
            t0 = time.time()
            p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Fail("%s: frozen %s: the run still waits after 40 s" % (step, kind))
        took = time.time() - t0
        print("frozen %s, %s: the run ended %.2f s after the %s" % (
            kind, step, took, "freeze" if step == "retry-for" else "signal"))
        sanitizer_check(err, "frozen " + step)
        if step == "retry-for":
            check(p.returncode == 2, "retry-for: exit %d: %s" % (p.returncode, err[-2000:]))
            check(3.5 <= took <= 8.5, "--db-retry-for 5 gave up after %.1f s" % took)
            lines = [l for l in err.splitlines() if l.startswith("depthindex: ")]
            check(len(lines) == 1 and "gave up after 5 s" in lines[0], "messages: %r" % lines)
        else:
            check(p.returncode == 130, "sigint: exit %d: %s" % (p.returncode, err[-2000:]))
            check(took <= 1.8, "Ctrl-C took %.1f s to end the run" % took)
            s = summary(out)
            check(s["outcome"] == "interrupted", "sigint: %s" % s)
    finally:
        proxy.close()
    # what was committed is right, and a rerun completes the set
    s = summary(di_ok(run_args(db, images), env=db.env).stdout)
    left = [k for k, v in scores(db).items() if v is None]
    check(left == [], "%s: after the rerun, faces left: %s" % (step, left))


def case_frozen(tmp, kind):
    with ServerCase(kind) as sc:
        frozen_steps(tmp, kind, sc)


# ---- init on a server that drops idle sessions: item 6 ----------------------

def case_init_idle(tmp, kind):
    images = os.path.join(tmp, "img")
    # MariaDB's wait_timeout for the test user is server-wide: exclusive lock
    with ServerCase(kind, exclusive=(kind == "mariadb")) as sc:
        db = sc.db("init_idle")
        r = server("timeouts", kind, db.name, "1")
        check(r.returncode == 0, "server.sh timeouts: %s" % (r.stdout + r.stderr))
        url = r.stdout.strip()
        try:
            t0 = time.time()
            # three panoramas rendered with a pause of 0.8 s after each: the
            # connection sits idle for 2.4 s before the one insert at the end
            r = di(["init", "--db", url, "--demo", "3", "--images", images, "--size", "64"],
                   env=dict(db.env, DEPTHINDEX_TEST_RENDER_DELAY_MS="800"))
            took = time.time() - t0
            print("init --demo took %.1f s on a server dropping sessions idle for 1 s" % took)
            check(r.returncode == 0, "init --demo on a server dropping idle sessions: exit %d: %s"
                  % (r.returncode, r.stderr[-2000:]))
            check(took > 2.2, "init took only %.1f s: the idle timeout was not reached" % took)
            n = int(db.query("SELECT COUNT(*) FROM panorama")[0][0])
            check(n == 3, "init inserted %d rows, want 3" % n)
        finally:
            if kind == "mariadb":
                db.execute("SET GLOBAL init_connect = ''; SET GLOBAL net_read_timeout = 30; "
                           "SET GLOBAL net_write_timeout = 60")


# ---- terminal: item 14 (and long inputs, item 15) ------------------------------

def case_terminal(tmp):
    images = os.path.join(tmp, "img")
    db = SqliteDB(os.path.join(tmp, "t.db"))
    init_demo(db, images, n=1, size=64)
    run_steps((step_escape, (tmp, images, db)), (step_long_inputs, (tmp, images, db)))


def step_escape(tmp, images, db):
    db.execute("DELETE FROM panorama")
    evil = "\x1b[2J\x1b]0;pwned\x07x"
    con = sqlite3.connect(db.path)
    con.execute("INSERT INTO panorama (id, panorama_sid) VALUES (1, ?)", (evil,))
    con.commit()
    con.close()
    r = di(run_args(db, images), env=db.env)
    check(r.returncode == 1, "evil sid: exit %d: %s" % (r.returncode, r.stderr))
    for ch in ("\x1b", "\x07"):
        check(ch not in r.stderr and ch not in r.stdout, "a control character reached the "
              "terminal: %r" % r.stderr)
    check("\\x1b[2J" in r.stderr, "the sid is not shown escaped: %r" % r.stderr)


def step_long_inputs(tmp, images, db):
    # an option value with control characters, and one of 10 kB
    line = one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--table",
                           "a\x1b[31mb"])
    check("\x1b" not in line and "\\x1b" in line, "--table: %r" % line)
    big = "q" * 10000
    for args in (["run", "--db", db.url, "--depth-dir", images, "--table", big],
                 ["run", "--db", db.url, "--depth-dir", images, "--column", big + "{face}"],
                 ["run", "--db", "sqlite:" + os.path.join(tmp, big[:200], big[:3000]),
                  "--depth-dir", images]):
        r = di(args, timeout=60)
        check(r.returncode == 2 and len(r.stderr) < 1200,
              "%s...: exit %d, %d bytes on stderr" % (args[:5], r.returncode, len(r.stderr)))
    line = one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--table", "t" * 65])
    check("too long (64 max)" in line, "--table of 65: %r" % line)
    line = one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--faces", "f" * 65])
    check("too long (64 max)" in line, "--faces of 65: %r" % line)
    line = one_line_exit2(["run", "--db", db.url, "--depth-dir", images, "--column",
                           "c" * 70 + "{face}"])
    check("too long (64 max)" in line, "--column: %r" % line)


# ---- cli: item 15 -----------------------------------------------------------

def case_cli(tmp):
    run_steps((step_readonly_status, (tmp,)), (step_infer_exit, (tmp,)),
              (step_save_maps, (tmp,)))


def step_readonly_status(tmp):
    # status on a SQLite file that may only be read (by a user who cannot
    # write it nor its folder), in rollback-journal mode as a user made it
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro)
    path = os.path.join(ro, "user.db")
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE panorama (id INTEGER PRIMARY KEY, panorama_sid TEXT, %s);"
                      "INSERT INTO panorama (id, panorama_sid, xm_depth_index) VALUES "
                      "(1, 'a', 2.5), (2, 'b', NULL);" % face_cols("sqlite"))
    con.commit()
    con.close()
    os.chmod(path, 0o444)
    if os.getuid() == 0:
        binary = os.path.join(ro, "depthindex")
        shutil.copy(os.path.abspath(DI), binary)
        os.chmod(binary, 0o755)
        for d in (tmp, ro):
            os.chmod(d, 0o755)
        r = subprocess.run(["runuser", "-u", "nobody", "--", binary, "status", "--db",
                            "sqlite:" + path, "--json"], capture_output=True, text=True,
                           timeout=60)
    else:
        os.chmod(ro, 0o555)
        r = subprocess.run([DI, "status", "--db", "sqlite:" + path, "--json"],
                           capture_output=True, text=True, timeout=60)
    sanitizer_check(r.stderr, "status read-only")
    check(r.returncode == 0, "status on a read-only file: exit %d: %s" % (r.returncode, r.stderr))
    check('"xm":{"done":1,"pending":1,"failed":0}' in r.stdout, "status: %s" % r.stdout)
    con = sqlite3.connect(path)
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.close()
    check(mode == "delete", "status changed the journal mode to %s" % mode)
    os.chmod(ro, 0o755)


def step_infer_exit(tmp):
    # infer on a corrupt model: a setup error, exit 2, like run
    model = os.path.join(tmp, "corrupt.onnx")
    open(model, "wb").write(b"\x08\x07\x12\x04junk" + os.urandom(64))
    x = os.path.join(tmp, "x.npy")
    import numpy as np  # Debian's python3-numpy, as the other oracles
    np.save(x, np.zeros((1, 3, 8, 8), np.float32))
    r = di(["infer", "--model", model, "--input", x])
    check(r.returncode == 2, "infer on a corrupt model: exit %d: %s" % (r.returncode, r.stderr))
    r = di(["infer", "--model", os.path.join(tmp, "missing.onnx"), "--input", x])
    check(r.returncode == 2, "infer on a missing model: exit %d: %s" % (r.returncode, r.stderr))


def step_save_maps(tmp):
    # score --save-maps with two inputs of one base name: refused, nothing written
    os.makedirs(os.path.join(tmp, "a"))
    os.makedirs(os.path.join(tmp, "b"))
    di_ok(["demo", "--count", "1", "--size", "32x32", os.path.join(tmp, "a")])
    di_ok(["demo", "--count", "1", "--size", "32x32", "--format", "png16", os.path.join(tmp, "b")])
    one = os.path.join(tmp, "a", "demo000001_xm.npy")
    two = os.path.join(tmp, "b", "demo000001_xm.png")
    maps = os.path.join(tmp, "maps")
    line = one_line_exit2(["score", "--save-maps", maps, one, two], mention="demo000001_xm")
    check(one in line and two in line, "--save-maps clash: %r" % line)
    check(not os.path.exists(os.path.join(maps, "demo000001_xm.png")), "a picture was written")
    di_ok(["score", "--save-maps", maps, one])


CASES = {
    "rows-sqlite": lambda t: case_rows(t, "sqlite"),
    "rows-mariadb": lambda t: case_rows(t, "mariadb"),
    "rows-postgresql": lambda t: case_rows(t, "postgresql"),
    "frozen-mariadb": lambda t: case_frozen(t, "mariadb"),
    "frozen-postgresql": lambda t: case_frozen(t, "postgresql"),
    "init-idle-mariadb": lambda t: case_init_idle(t, "mariadb"),
    "init-idle-postgresql": lambda t: case_init_idle(t, "postgresql"),
    "terminal": case_terminal,
    "cli": case_cli,
}



if __name__ == "__main__":
    sys.exit(run_case(CASES, __doc__, "di-harden-"))

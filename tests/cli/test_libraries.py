"""What a depthindex process maps: commands that use neither the engine nor a
database server must not load oneDNN (libdnnl, with libstdc++ and libOpenCL)
or the MariaDB and PostgreSQL clients (libpq brings Kerberos, LDAP and
GnuTLS): together they were about 30 ms of start-up in every process, more
than 100 NPY files' worth of `depthindex score`. The ones that do use them
load them on first use: `run` against a mysql:// or postgresql:// URL maps
that backend's module and client, `infer` maps libdnnl. A module that is not
there is one clear error naming where it was looked for."""
import os, socket, subprocess, sys, tempfile, time, shutil, struct

DI = os.environ["DEPTHINDEX"]
SRC = os.environ["DEPTHINDEX_SOURCE_ROOT"]
fails = 0
HEAVY = ("libdnnl", "libstdc++", "libOpenCL", "libpq", "libmariadb", "libgssapi",
         "libldap", "libgnutls", "libkrb5", "libssl", "libcrypto")


def check(ok, what):
    global fails
    if not ok:
        fails += 1
        print("FAIL:", what)


def loaded(args, **kw):
    """Runs depthindex with LD_DEBUG=files: (result, names of the shared
    objects the dynamic loader opened, dlopen()ed ones included)."""
    env = dict(os.environ, LD_DEBUG="files")
    r = subprocess.run([DI] + args, capture_output=True, text=True, env=env, timeout=120, **kw)
    names = set()
    for line in r.stderr.splitlines():
        if "file=" in line and "generating link map" in line:
            names.add(line.split("file=", 1)[1].split(" ", 1)[0].split("/")[-1])
    return r, names


def heavy(names):
    # The sanitizer builds link oneDNN as usual (src/nn/meson.build), and
    # their runtimes bring libstdc++ themselves.
    sanitized = any(n.startswith(("libasan", "libubsan", "libtsan")) for n in names)
    return sorted(n for n in names if n.startswith(HEAVY) and
                  not (sanitized and n.startswith(("libstdc++", "libdnnl", "libOpenCL"))))


tmp = tempfile.mkdtemp()
try:
    npy = os.path.join(tmp, "d.npy")
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 64), }"
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    with open(npy, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(b"".join(struct.pack("<f", 1.0 + (x // 16) * 3 + y * 0.01)
                         for y in range(64) for x in range(64)))

    # score, status on SQLite, version: nothing heavy mapped
    r, names = loaded(["score", npy])
    check(r.returncode == 0 and r.stdout.startswith(npy + "\t"),
          "score failed: %d %r" % (r.returncode, r.stdout + r.stderr[-300:]))
    check("libc.so.6" in names, "LD_DEBUG=files saw no libraries: %r" % sorted(names))
    check(not heavy(names), "score maps %s" % heavy(names))
    r, names = loaded(["version"])
    check(r.returncode == 0 and not heavy(names), "version maps %s" % heavy(names))
    db = os.path.join(tmp, "s.db")
    r, names = loaded(["init", "--db", "sqlite:" + db])
    check(r.returncode == 0, "init on SQLite failed: %r" % r.stderr[-300:])
    r, names = loaded(["status", "--db", "sqlite:" + db])
    check(r.returncode == 0 and not heavy(names),
          "status on SQLite: %d, maps %s" % (r.returncode, heavy(names)))

    # run against a server that accepts and never answers: the backend's
    # module and client are mapped while it waits in its connect
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    for scheme, module, client in (("mysql", "depthindex-mariadb.so", "libmariadb"),
                                   ("postgresql", "depthindex-postgresql.so", "libpq")):
        if scheme.replace("mysql", "mariadb") not in subprocess.run(
                [DI, "version"], capture_output=True, text=True).stdout:
            continue  # backend not built
        p = subprocess.Popen([DI, "run", "--db", "%s://u:x@127.0.0.1:%d/db" % (scheme, port),
                              "--depth-dir", tmp], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)
            maps = open("/proc/%d/maps" % p.pid).read() if p.poll() is None else ""
            check("/" + module in maps and "/" + client in maps,
                  "%s: run does not map %s and %s" % (scheme, module, client))
            check("/libdnnl" not in maps or "/libasan" in maps or "/libubsan" in maps,
                  "%s: run maps libdnnl without a model" % scheme)
        finally:
            p.kill()
            p.communicate()
        # a module that is not found: one clear error, no crash
        env = dict(os.environ, DEPTHINDEX_MODULE_DIR=os.path.join(tmp, "none"))
        r = subprocess.run([DI, "status", "--db", "%s://u:x@127.0.0.1:%d/db" % (scheme, port)],
                           capture_output=True, text=True, env=env, timeout=60)
        check(r.returncode not in (0, -11, -6) and "backend module cannot be loaded" in r.stderr
              and module in r.stderr, "%s: missing module: %d %r" % (scheme, r.returncode, r.stderr))
    listener.close()

    # infer loads oneDNN on its first call into it, and runs
    model = os.path.join(tmp, "m.onnx")
    subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tests/pipeline/tiny_onnx.py"),
                    model, "16"], check=True)
    x = os.path.join(tmp, "x.npy")
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    with open(x, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        f.write(struct.pack("<768f", *[i / 768 for i in range(768)]))
    y = os.path.join(tmp, "y.npy")
    r, names = loaded(["infer", "--model", model, "--input", x, "--output", y,
                       "--threads", "1"])
    check(r.returncode == 0 and os.path.getsize(y) > 128,
          "infer failed: %d %r" % (r.returncode, r.stderr[-500:]))
    check(any(n.startswith("libdnnl") for n in names), "infer did not load libdnnl")

    # DEPTHINDEX_DNNL_LIBRARY names the oneDNN to load; one that cannot be
    # loaded (no such file, a file that is no library, a library that is no
    # oneDNN) is an error value: one line naming it and the reason, exit 2,
    # and no exit 127 from a stub (--precision auto asks oneDNN about the CPU
    # before the model loads)
    if any(n.startswith("libdnnl") for n in loaded(["version"])[1]):
        print("skip DEPTHINDEX_DNNL_LIBRARY: this build links oneDNN (sanitizer builds), "
              "nothing loads it on first use")
    else:
        text = os.path.join(tmp, "not-a-library.so")
        with open(text, "w") as f:
            f.write("not a library, only text\n" * 20)
        libc = [l.split()[-1] for l in open("/proc/self/maps") if "/libc.so" in l][0]
        for lib, why in ((os.path.join(tmp, "none", "libdnnl.so.2"), "No such file"),
                         (text, "ELF"), (libc, "not oneDNN")):
            for extra in ([], ["--precision", "auto"]):
                env = dict(os.environ, DEPTHINDEX_DNNL_LIBRARY=lib)
                r = subprocess.run([DI, "infer", "--model", model, "--input", x, "--output", y,
                                    "--threads", "1"] + extra, capture_output=True, text=True,
                                   env=env, timeout=60)
                lines = r.stderr.strip().splitlines()
                check(r.returncode == 2 and len(lines) == 1 and
                      "cannot load oneDNN (%s): " % lib in lines[0] and why in lines[0],
                      "DEPTHINDEX_DNNL_LIBRARY=%s %s: %d %r" % (lib, extra, r.returncode, r.stderr))
finally:
    shutil.rmtree(tmp)

print("%s" % ("ok" if not fails else "%d failed" % fails))
sys.exit(1 if fails else 0)

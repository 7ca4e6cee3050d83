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

    def waiting_maps(exe, scheme):
        """What `exe run` maps while it waits in its connect to the listener."""
        p = subprocess.Popen([exe, "run", "--db", "%s://u:x@127.0.0.1:%d/db" % (scheme, port),
                              "--depth-dir", tmp], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(1.0)
            return open("/proc/%d/maps" % p.pid).read() if p.poll() is None else ""
        finally:
            p.kill()
            p.communicate()

    for scheme, module, client in (("mysql", "depthindex-mariadb.so", "libmariadb"),
                                   ("postgresql", "depthindex-postgresql.so", "libpq")):
        if scheme.replace("mysql", "mariadb") not in subprocess.run(
                [DI, "version"], capture_output=True, text=True).stdout:
            continue  # backend not built
        maps = waiting_maps(DI, scheme)
        check("/" + module in maps and "/" + client in maps,
              "%s: run does not map %s and %s" % (scheme, module, client))
        check("/libdnnl" not in maps or "/libasan" in maps or "/libubsan" in maps,
              "%s: run maps libdnnl without a model" % scheme)
        # a module that is not found: one clear error, no crash
        env = dict(os.environ, DEPTHINDEX_MODULE_DIR=os.path.join(tmp, "none"))
        r = subprocess.run([DI, "status", "--db", "%s://u:x@127.0.0.1:%d/db" % (scheme, port)],
                           capture_output=True, text=True, env=env, timeout=60)
        check(r.returncode not in (0, -11, -6) and "backend module cannot be loaded" in r.stderr
              and module in r.stderr, "%s: missing module: %d %r" % (scheme, r.returncode, r.stderr))

    # A copy of the build's executable and modules elsewhere (a bundle, and an
    # installation's bin/ and LIBDIR/depthindex/ moved) finds its own modules
    # beside it, the CUDA module as the database ones (src/core/module.h),
    # not the build tree's by absolute path.
    build = os.environ["DEPTHINDEX_BUILD_ROOT"]
    conf = open(os.path.join(build, "di_config.h")).read()
    from_bindir = conf.split('DI_MODULE_DIR_FROM_BINDIR "', 1)[1].split('"', 1)[0]
    mods = sorted(f for f in os.listdir(build) if f.startswith("depthindex-") and f.endswith(".so"))
    for layout in ("bundle", "installed"):
        bindir = os.path.join(tmp, layout, "bin" if layout == "installed" else "")
        moddir = os.path.normpath(os.path.join(bindir, from_bindir)) if layout == "installed" \
            else bindir
        os.makedirs(bindir, exist_ok=True)
        os.makedirs(moddir, exist_ok=True)
        shutil.copy2(DI, os.path.join(bindir, "depthindex"))
        for m in mods:
            shutil.copy2(os.path.join(build, m), os.path.join(moddir, m))
        copy = os.path.join(bindir, "depthindex")
        for scheme, module in (("mysql", "depthindex-mariadb.so"),
                               ("postgresql", "depthindex-postgresql.so")):
            if module not in mods:
                continue
            maps = waiting_maps(copy, scheme)
            check(os.path.join(moddir, module) in maps,
                  "%s copy: run does not map its own %s (%r)" % (layout, module,
                  [l.split()[-1] for l in maps.splitlines() if "depthindex-" in l]))
        if "depthindex-cuda.so" in mods:
            # no GPU needed: the module loads, and says what the build's own
            # executable says about the device
            args = ["infer", "--model", os.path.join(tmp, "none.onnx"), "--input",
                    os.path.join(tmp, "none.npy"), "--device", "cuda"]
            env = dict(os.environ, LD_DEBUG="files")
            r = subprocess.run([copy] + args, capture_output=True, text=True, env=env, timeout=60)
            opened = [os.path.normpath(l.split("file=", 1)[1].split(" ", 1)[0])
                      for l in r.stderr.splitlines()
                      if "file=" in l and "generating link map" in l and "depthindex-cuda" in l]
            check(opened == [os.path.join(moddir, "depthindex-cuda.so")],
                  "%s copy: --device cuda loads %r, not its own module" % (layout, opened))
            mine = subprocess.run([copy] + args, capture_output=True, text=True, timeout=60)
            built = subprocess.run([DI] + args, capture_output=True, text=True, timeout=60)
            check(mine.returncode == built.returncode == 2 and mine.stderr == built.stderr and
                  len(mine.stderr.strip().splitlines()) == 1,
                  "%s copy: --device cuda says %d %r, the build's executable %d %r" % (
                      layout, mine.returncode, mine.stderr, built.returncode, built.stderr))
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
        cases = [(os.path.join(tmp, "none", "libdnnl.so.2"), "No such file"), (text, "ELF"),
                 (libc, "not oneDNN")]
        # a oneDNN of another major version (its dnnl_version only)
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            src, old = os.path.join(tmp, "old.c"), os.path.join(tmp, "libdnnl-old.so")
            with open(src, "w") as f:
                f.write("typedef struct { int major, minor, patch; const char *hash;"
                        " unsigned cpu_runtime, gpu_runtime; } v_t;\n"
                        "static const v_t v = {1, 7, 0, 0, 0, 0};\n"
                        "const v_t *dnnl_version(void) { return &v; }\n")
            subprocess.run([cc, "-shared", "-fPIC", "-o", old, src], check=True)
            cases.append((old, "oneDNN 1.7, this depthindex was built for"))
        for lib, why in cases:
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

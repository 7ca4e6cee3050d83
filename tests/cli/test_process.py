"""The process set-up of src/cli/process.c, seen from outside: a password in
a database URL does not show in /proc/PID/cmdline; `run` runs with a bounded
libgomp spin (GOMP_SPINCOUNT below libgomp's default of 300000, no passive
wait policy; 100 when other processes keep the cores busy) unless the user
chose a policy; `infer` runs with libgomp's
default, untouched by run's choice."""
import atexit, os, shutil, socket, subprocess, sys, tempfile, time

DI = os.environ["DEPTHINDEX"]
fails = 0


def check(ok, what):
    global fails
    if not ok:
        fails += 1
        print("FAIL:", what)


def started(args, env=None):
    """Starts depthindex against a server that accepts and never answers, so
    that the process waits in its connect and can be looked at."""
    p = subprocess.Popen([DI] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    time.sleep(1.0)
    return p


def proc_file(pid, name):
    with open("/proc/%d/%s" % (pid, name), "rb") as f:
        return f.read()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
port = listener.getsockname()[1]
tmp = tempfile.mkdtemp(prefix="di-process-")
atexit.register(shutil.rmtree, tmp, True)  # the runs' --depth-dir: gone with the test
secret = "s3cr%d-never-shown" % os.getpid()

for scheme in ("mysql", "postgresql"):
    url = "%s://di_test:%s@127.0.0.1:%d/db" % (scheme, secret, port)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    p = started(["run", "--db", url, "--depth-dir", tmp], env)
    try:
        if p.poll() is not None:
            out, err = p.communicate()
            check(False, "%s: ended early (%d): %s" % (scheme, p.returncode, err[-300:]))
            continue
        cmdline = proc_file(p.pid, "cmdline").split(b"\0")
        environ = proc_file(p.pid, "environ").split(b"\0")
        check(secret.encode() not in b" ".join(cmdline),
              "%s: password in the command line: %r" % (scheme, cmdline))
        check(any(b"di_test:" + b"*" * len(secret) + b"@" in a for a in cmdline),
              "%s: URL not masked as expected: %r" % (scheme, cmdline))
        spin = [a for a in environ if a.startswith(b"GOMP_SPINCOUNT=")]
        check(len(spin) == 1 and spin[0][15:].isdigit() and
              0 < int(spin[0][15:]) < 300000,
              "%s: run without a bounded GOMP_SPINCOUNT: %r" % (scheme, spin))
        check(not any(a.startswith(b"OMP_WAIT_POLICY=") for a in environ),
              "%s: run got an OMP_WAIT_POLICY" % scheme)
        # run executed itself again (the spin above): still named as the
        # program, not "exe" after /proc/self/exe
        comm = proc_file(p.pid, "comm").strip()
        name = os.path.basename(os.path.realpath(DI))[:15].encode()
        check(comm == name, "%s: run after its exec is named %r, not %r" % (scheme, comm, name))
    finally:
        p.kill()
        out, err = p.communicate()
        check(secret.encode() not in out + err, "%s: password printed" % scheme)

# a policy the user chose is kept
env = dict(os.environ, OMP_WAIT_POLICY="ACTIVE")
p = started(["run", "--db", "mysql://u:x@127.0.0.1:%d/db" % port, "--depth-dir", tmp], env)
try:
    if p.poll() is None:
        environ = proc_file(p.pid, "environ").split(b"\0")
        check(b"OMP_WAIT_POLICY=ACTIVE" in environ and b"OMP_WAIT_POLICY=PASSIVE" not in environ,
              "the user's OMP_WAIT_POLICY was replaced")
    else:
        check(False, "run ended early with the user's policy")
finally:
    p.kill()
    p.communicate()

# the user's GOMP_SPINCOUNT is kept too
env = dict(os.environ, GOMP_SPINCOUNT="777")
env.pop("OMP_WAIT_POLICY", None)
p = started(["run", "--db", "mysql://u:x@127.0.0.1:%d/db" % port, "--depth-dir", tmp], env)
try:
    if p.poll() is None:
        environ = proc_file(p.pid, "environ").split(b"\0")
        check(b"GOMP_SPINCOUNT=777" in environ, "the user's GOMP_SPINCOUNT was replaced")
    else:
        check(False, "run ended early with the user's spin count")
finally:
    p.kill()
    p.communicate()


def shown_policy(sub):
    """The policy a subcommand runs with, as it prints it (it stops at the
    usage error right after)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["DEPTHINDEX_TEST_SHOW_OMP"] = "1"
    r = subprocess.run([DI, sub, "--no-such-option"], capture_output=True,
                       text=True, env=env, timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.startswith("openmp: ")]
    check(len(lines) == 1, "%s: policy not shown once: %r" % (sub, r.stderr))
    return lines[0] if lines else ""


line = shown_policy("infer")
check(line == "openmp: infer: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=(unset)",
      "infer does not keep libgomp's default: %r" % line)
line = shown_policy("run")
check(line.startswith("openmp: run: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=") and
      not line.endswith("(unset)"), "run's bounded spin not shown: %r" % line)

# Under load (other processes keep the cores busy when run starts) run spins
# only libgomp's throttled 100 pauses: a spinning engine thread there burns
# the share of a core its descheduled partner needs. One busy loop per core
# (processes of this test, ended by their ids) is load whatever else runs.
loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
         for _ in range(os.cpu_count() or 1)]
try:
    time.sleep(0.3)
    line = shown_policy("run")
finally:
    for q in loops:
        q.kill()
    for q in loops:
        q.wait()
check(line == "openmp: run: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=100",
      "run under load does not take the short spin: %r" % line)

print("%s" % ("ok" if not fails else "%d failed" % fails))
sys.exit(1 if fails else 0)

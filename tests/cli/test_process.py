"""The process set-up of src/cli/process.c, seen from outside: a password in
a database URL does not show in /proc/PID/cmdline, and `run` and `infer` run
with OMP_WAIT_POLICY=PASSIVE unless the user chose a policy."""
import os, socket, subprocess, sys, tempfile, time

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
tmp = tempfile.mkdtemp()
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
        check(b"OMP_WAIT_POLICY=PASSIVE" in environ,
              "%s: OMP_WAIT_POLICY not set for run" % scheme)
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

print("%s" % ("ok" if not fails else "%d failed" % fails))
sys.exit(1 if fails else 0)

#!/usr/bin/python3
"""`depthindex score` end to end: files in every format, against the oracle.

  score_cli.py DEPTHINDEX

Writes depth maps as NPY (float32, float64, uint16, uint8, 1xHxW), 16- and
8-bit PNG and PFM; scores them with `depthindex score` (plain and --json, with
default and other options) and compares with the OpenCV oracle (oracle.py);
checks the output format, --save-maps pictures, bad files (one stderr line
each naming the file, the others still scored, exit 1), usage errors (exit 2)
and that --help lists every option.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import cv2
    import numpy as np
except ImportError as e:  # meson: 77 = skipped; in CI a failure (.ci/run)
    required = os.environ.get("DI_TEST_REQUIRE_ORACLES") == "1"
    print(f"{'FAIL' if required else 'SKIP'}: the OpenCV/NumPy oracle cannot run "
          f"(Debian's python3-opencv, python3-numpy): {e}")
    sys.exit(1 if required else 77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(exe, *args):
    p = subprocess.run([exe, "score", *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def write_pfm(path, d):
    h, w = d.shape
    with open(path, "wb") as f:
        f.write(f"Pf\n{w} {h}\n-1.0\n".encode())
        f.write(np.ascontiguousarray(d[::-1], "<f4").tobytes())


def main():
    exe = sys.argv[1]
    rng = np.random.default_rng(11)
    tmp = tempfile.mkdtemp(prefix="di-score-cli-")
    try:
        files = {}  # path -> the depth as the reader should see it (float32)
        canyon = oracle.street_canyon(rng, 120, 160)
        smooth = oracle.smooth_field(rng, 90, 70, 8) * 10 + 20
        p = os.path.join(tmp, "canyon.npy")
        np.save(p, canyon)
        files[p] = canyon
        p = os.path.join(tmp, "smooth64.npy")
        np.save(p, smooth.astype(np.float64))
        files[p] = smooth.astype(np.float64).astype(np.float32)
        u16 = (rng.random((60, 80)) * 3000).astype(np.uint16)
        u16 = cv2.GaussianBlur(u16, (9, 9), 0)
        p = os.path.join(tmp, "u16.npy")
        np.save(p, u16)
        files[p] = u16.astype(np.float32)
        p = os.path.join(tmp, "plane.npy")
        np.save(p, canyon[None])
        files[p] = canyon
        p = os.path.join(tmp, "depth16.png")
        cv2.imwrite(p, u16)
        files[p] = u16.astype(np.float32)
        u8 = (cv2.GaussianBlur(rng.random((50, 40)), (0, 0), 3) * 255).astype(np.uint8)
        p = os.path.join(tmp, "depth8.png")
        cv2.imwrite(p, u8)
        files[p] = u8.astype(np.float32)
        p = os.path.join(tmp, "map.pfm")
        write_pfm(p, smooth)
        files[p] = smooth
        p = os.path.join(tmp, "one.npy")
        np.save(p, np.array([[5.0]], np.float32))
        files[p] = np.array([[5.0]], np.float32)

        paths = list(files)
        for params, opts in [((4, 100, 200, 71, 7.0), []),
                             ((3, 50, 150, 31, 4.0),
                              ["--k", "3", "--canny", "50,150", "--ksize=31",
                               "--sigma", "4"])]:
            rc, out, err = run(exe, "--json", *opts, *paths)
            check(rc == 0, f"json run: exit {rc}, stderr {err!r}")
            lines = out.splitlines()
            check(len(lines) == len(paths), f"{len(lines)} json lines")
            for line, path in zip(lines, paths):
                r = json.loads(line)
                s, centres, _, _ = oracle.oracle(files[path], *params)
                check(r["file"] == path, f"json file {r['file']}")
                check(abs(r["score"] - s) <= 1e-4 * max(1, s),
                      f"{path} {opts}: score {r['score']} vs oracle {s}")
                check(r["k"] == len(centres) and
                      np.allclose(r["centres"], centres, atol=1e-9),
                      f"{path}: centres {r['centres']} vs {centres}")
                h, w = files[path].shape
                check(r["width"] == w and r["height"] == h, f"{path}: size")
                check(0 <= r["edge_fraction"] <= 1, f"{path}: edge fraction")
            # The plain form: FILE<TAB>SCORE with six decimals.
            rc, out2, _ = run(exe, *opts, *paths)
            check(rc == 0, "plain run")
            for line, jline, path in zip(out2.splitlines(), lines, paths):
                f, sc = line.split("\t")
                check(f == path and sc == f"{json.loads(jline)['score']:.6f}",
                      f"plain line {line!r}")

        # Pictures.
        maps = os.path.join(tmp, "maps")
        rc, out, err = run(exe, "--save-maps", maps, paths[0], paths[5],
                           paths[-1])
        check(rc == 0, f"--save-maps: exit {rc} {err!r}")
        # Without pictures the labels are computed over the 8-bit depth in
        # place: the same scores as with them.
        rc, plain, err = run(exe, paths[0], paths[5], paths[-1])
        check(rc == 0 and plain == out, f"scores with and without --save-maps: {plain!r} vs {out!r}")
        one = cv2.imread(os.path.join(maps, "one.png"), cv2.IMREAD_UNCHANGED)
        check(one is not None and one.shape[0] > 100, "panel of a 1x1 map")
        for name in ("canyon.png", "depth8.png"):
            img = cv2.imread(os.path.join(maps, name), cv2.IMREAD_UNCHANGED)
            check(img is not None and img.ndim == 3 and img.shape[2] == 3 and
                  img.shape[0] > 200 and img.shape[1] > 300,
                  f"panel {name}: {None if img is None else img.shape}")
            # Not a blank picture: several colours.
            if img is not None:
                check(len(np.unique(img.reshape(-1, 3), axis=0)) > 20,
                      f"panel {name}: too few colours")

        # Bad files: each named once on stderr, the rest still scored.
        bad = {}
        png = open(os.path.join(tmp, "depth16.png"), "rb").read()
        bad["trunc.png"] = png[: len(png) // 2]
        bad["corrupt.png"] = png[:40] + bytes(rng.integers(0, 256, 200, np.uint8))
        npy = open(os.path.join(tmp, "canyon.npy"), "rb").read()
        bad["badheader.npy"] = npy[:10] + b"{'descr': '<f4', 'fortran_order'" + b" " * 40
        bad["baddtype.npy"] = npy.replace(b"'<f4'", b"'<c8'")
        hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"
        hdr = hdr.ljust(117) + b"\n"
        bad["huge.npy"] = b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr
        nan = canyon.copy()
        nan[7, 9] = np.nan
        bad["empty.npy"] = b""
        for name, data in bad.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        np.save(os.path.join(tmp, "nan.npy"), nan)
        inf = canyon.copy()
        inf[3, 4] = -np.inf
        np.save(os.path.join(tmp, "inf.npy"), inf)
        huge = canyon.copy()  # finite, but (max - min) * 255 overflows float32
        huge[0, 0], huge[1, 1] = -3e38, 3e38
        np.save(os.path.join(tmp, "range.npy"), huge)
        os.mkdir(os.path.join(tmp, "adir"))
        os.mkfifo(os.path.join(tmp, "fifo.npy"))  # no writer: must not wait
        badpaths = [os.path.join(tmp, n) for n in
                    list(bad) + ["nan.npy", "inf.npy", "range.npy", "adir", "missing.npy", "fifo.npy"]]
        rc, out, err = run(exe, paths[0], *badpaths, paths[1])
        print(err, end="")  # for the log: what people see
        check(rc == 1, f"bad files: exit {rc}")
        check(len(out.splitlines()) == 2, f"bad files: good ones scored: {out!r}")
        errlines = err.splitlines()
        check(len(errlines) == len(badpaths),
              f"bad files: {len(errlines)} stderr lines for {len(badpaths)}: {err!r}")
        for bp in badpaths:
            check(sum(bp in line for line in errlines) == 1,
                  f"{bp} not named once on stderr: {err!r}")
        check(any("nan" in line.lower() and "nan.npy" in line for line in errlines),
              "NaN reason")
        check(any("overflows float32" in line and "range.npy" in line
                  for line in errlines), "range overflow reason")

        # Usage errors: exit 2, nothing on stdout.
        for args in [[], ["--k", "0", paths[0]], ["--k", "x", paths[0]],
                     ["--canny", "100", paths[0]], ["--ksize", "4", paths[0]],
                     ["--sigma", "nan", paths[0]], ["--bogus", paths[0]],
                     ["--k"], ["--save-maps", os.path.join(paths[0], "x"),
                               paths[0]]]:
            rc, out, err = run(exe, *args)
            check(rc == 2 and out == "" and err.strip() != "",
                  f"usage {args}: exit {rc}, out {out!r}, err {err!r}")
        rc, out, err = run(exe, "--help")
        check(rc == 0, "--help exit")
        for opt in ["--k", "--canny", "--ksize", "--sigma", "--save-maps",
                    "--json", "--help"]:
            check(opt in out, f"--help lacks {opt}")
        # Options after files, and "--".
        rc, out, _ = run(exe, paths[0], "--json", "--", paths[1])
        check(rc == 0 and len(out.splitlines()) == 2 and
              out.startswith("{"), f"mixed options: {out!r}")
        # Interrupted (stdout is buffered across files): exit 130, and what
        # was printed is the complete lines of the files scored, in order,
        # one stderr line saying how many.
        os.symlink(paths[0], os.path.join(tmp, "a"))  # short: many fit in argv
        many = ["a"] * 200000
        p = subprocess.Popen([exe, "score", "--"] + many, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=tmp)
        # flushed within 0.2 s: progress shows (read unbuffered, so that
        # communicate() gets all the rest)
        first = os.read(p.stdout.fileno(), 1 << 20).decode()
        p.send_signal(2)
        rest, err = (b.decode() for b in p.communicate(timeout=60))
        lines = (first + rest).splitlines()
        one = "a\t"
        check(p.returncode == 130 and 0 < len(lines) < len(many) and
              (first + rest).endswith("\n") and
              all(l.startswith(one) and l == lines[0] for l in lines),
              f"interrupted: exit {p.returncode}, {len(lines)} lines, "
              f"tail {rest[-80:]!r}")
        check(f"interrupted after {len(lines)} of {len(many)} files" in err,
              f"interrupted: stderr {err!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Checks src/io and the resizer against numpy and OpenCV (Debian's).

numpy writes NPY files in every variant we read (dtypes, byte orders, C and
Fortran order, 2-D and 3-D), OpenCV writes 8/16-bit PNGs and JPEGs and reads
what we write; cv2.resize(INTER_LINEAR) on float32 is the resizer's oracle;
cv2.imread (the same libjpeg-turbo) and its IMREAD_REDUCED_* modes are the
JPEG decoder's. Usage: test_io_oracle.py IO_TOOL
"""
import os
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

TOOL = sys.argv[1]
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


def tool(*args, ok=True):
    r = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise SystemExit(f"io_tool {' '.join(map(str, args))} failed: {r.stderr}")
    return r


rng = np.random.default_rng(12345)
tmp = tempfile.mkdtemp(prefix="di-io-oracle-")
P = lambda name: os.path.join(tmp, name)


def read_depth(path):
    tool("depth", path, P("out.npy"))
    return np.load(P("out.npy"))


# NPY in every variant numpy writes.
for dtype in ["<u1", "<u2", ">u2", "<f4", ">f4", "<f8", ">f8"]:
    for shape in [(1, 1), (7, 13), (1, 5, 9), (6, 4, 1)]:
        for fortran in (False, True):
            a = rng.uniform(0, 250, size=shape).astype(dtype)
            if fortran:
                a = np.asfortranarray(a)
            np.save(P("a.npy"), a)
            got = read_depth(P("a.npy"))
            want = a.reshape(shape[0] if len(shape) == 2 or shape[-1] == 1 else shape[1],
                             -1).astype(np.float32)
            check(got.shape == want.shape and np.array_equal(got, want),
                  f"npy {dtype} {shape} fortran={fortran}")
# NPY format 2.0 and 3.0 headers.
from numpy.lib import format as npf
a = rng.uniform(0, 1, size=(5, 3)).astype(np.float32)
for version in [(2, 0), (3, 0)]:
    with open(P("v.npy"), "wb") as f:
        npf.write_array(f, a, version=version)
    check(np.array_equal(read_depth(P("v.npy")), a), f"npy version {version}")

# PNG written by OpenCV, 8 and 16 bit.
for dtype, hi in [(np.uint8, 256), (np.uint16, 65536)]:
    for shape in [(1, 1), (33, 17), (480, 640)]:
        a = rng.integers(0, hi, size=shape, dtype=dtype)
        cv2.imwrite(P("a.png"), a)
        got = read_depth(P("a.png"))
        check(np.array_equal(got, a.astype(np.float32)), f"png {dtype.__name__} {shape}")
# PNGs OpenCV does not write, made by hand: Adam7 interlaced 8/16-bit and
# 1/2/4-bit greyscale (scaled to 0..255 as libspng and OpenCV do).
import struct
import zlib


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(a, bits, interlace):
    h, w = a.shape
    def rows(sub):
        out = b""
        for r in sub:
            if bits >= 8:
                out += b"\0" + r.astype(">u2" if bits == 16 else "u1").tobytes()
            else:
                out += b"\0" + np.packbits(np.unpackbits(r.astype(np.uint8)[:, None], axis=1)
                                            [:, 8 - bits:].reshape(-1)).tobytes()
        return out
    if interlace:
        raw = b""
        for y0, x0, dy, dx in [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4),
                               (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]:
            sub = a[y0::dy, x0::dx]
            if sub.size:
                raw += rows(sub)
    else:
        raw = rows(a)
    ihdr = struct.pack(">IIBBBBB", w, h, bits, 0, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


for bits, interlace, shape in [(8, True, (13, 11)), (16, True, (9, 17)), (1, False, (5, 19)),
                               (2, False, (4, 7)), (4, True, (10, 9))]:
    a = rng.integers(0, 2 ** bits, size=shape)
    with open(P("h.png"), "wb") as f:
        f.write(png_bytes(a, bits, interlace))
    got = read_depth(P("h.png"))
    want = a * (255 // (2 ** bits - 1)) if bits < 8 else a
    check(np.array_equal(got, want.astype(np.float32)), f"png {bits}-bit interlace={interlace}")
    if bits < 16:
        check(np.array_equal(cv2.imread(P("h.png"), cv2.IMREAD_UNCHANGED), want), "same as OpenCV")
    if bits == 16:
        check(np.array_equal(cv2.imread(P("h.png"), cv2.IMREAD_UNCHANGED), a), "hand PNG is valid")

# PNG we write, read by OpenCV.
for shape, ch in [((9, 11), 1), ((9, 11, 3), 3), ((5, 4, 4), 4)]:
    a = rng.integers(0, 256, size=shape).astype(np.float32)
    np.save(P("in.npy"), a)
    tool("png", P("in.npy"), P("w.png"))
    got = cv2.imread(P("w.png"), cv2.IMREAD_UNCHANGED)
    if ch == 3:
        got = cv2.cvtColor(got, cv2.COLOR_BGR2RGB)
    elif ch == 4:
        got = cv2.cvtColor(got, cv2.COLOR_BGRA2RGBA)
    check(got is not None and np.array_equal(got, a.astype(np.uint8)), f"png write {shape}")
a = rng.integers(0, 65536, size=(13, 21)).astype(np.float32)
np.save(P("in.npy"), a)
tool("png16", P("in.npy"), P("w16.png"))
got = cv2.imread(P("w16.png"), cv2.IMREAD_UNCHANGED)
check(got is not None and got.dtype == np.uint16 and np.array_equal(got, a.astype(np.uint16)),
      "png16 write")
# PFM written by OpenCV (it writes "Pf" for one channel, bottom to top).
a = rng.uniform(-5, 5, size=(12, 7)).astype(np.float32)
if cv2.imwrite(P("a.pfm"), a):
    check(np.array_equal(read_depth(P("a.pfm")), a), "pfm from OpenCV")
np.save(P("in.npy"), a)
tool("pfm", P("in.npy"), P("w.pfm"))
got = cv2.imread(P("w.pfm"), cv2.IMREAD_UNCHANGED)
check(got is not None and np.array_equal(got, a), "pfm read by OpenCV")

# Resize: float32 against cv2.INTER_LINEAR, up, down, non-integer, 1 pixel.
for (sh, sw), (dh, dw) in [((256, 256), (512, 768)), ((256, 256), (1024, 1024)),
                           ((100, 37), (33, 71)), ((512, 512), (256, 256)),
                           ((1, 1), (5, 3)), ((7, 9), (1, 1)), ((64, 48), (383, 127)),
                           ((3, 500), (1000, 2))]:
    a = rng.uniform(-10, 300, size=(sh, sw)).astype(np.float32)
    np.save(P("in.npy"), a)
    tool("resize", P("in.npy"), dw, dh, P("r.npy"))
    got = np.load(P("r.npy"))
    want = cv2.resize(a, (dw, dh), interpolation=cv2.INTER_LINEAR)
    err = np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))
    check(got.shape == want.shape and err <= 1e-5, f"resize f32 {sh}x{sw} -> {dh}x{dw}: {err}")
# uint8 resize: OpenCV uses 11-bit fixed point, so within 1 level.
for shape, (dh, dw) in [((40, 30, 3), (97, 61)), ((64, 64), (32, 20))]:
    a = rng.integers(0, 256, size=shape).astype(np.uint8)
    np.save(P("in.npy"), a.astype(np.float32))
    tool("resize8", P("in.npy"), dw, dh, P("r.npy"))
    got = np.load(P("r.npy"))
    want = cv2.resize(a, (dw, dh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    check(got.shape == want.shape and np.max(np.abs(got - want)) <= 1, f"resize u8 {shape}")

# JPEG decode against OpenCV's (the same libjpeg-turbo), full and reduced.
photos = [p for p in ["/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg",
                      "/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg"]
          if os.path.exists(p)]
img = (rng.uniform(0, 255, size=(123, 201, 3))).astype(np.uint8)
cv2.imwrite(P("gen.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
cv2.imwrite(P("grey.jpg"), img[:, :, 0], [cv2.IMWRITE_JPEG_QUALITY, 90])
cv2.imwrite(P("prog.jpg"), img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
for path in photos + [P("gen.jpg"), P("grey.jpg"), P("prog.jpg")]:
    full = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    h, w = full.shape[:2]
    out = tool("jpeg", path, 0, 0, P("j.npy")).stdout.split()
    got = np.load(P("j.npy"))
    check(out == [str(w), str(h)], f"jpeg full size {path}: {out}")
    check(got.shape == full.shape and np.max(np.abs(got - full)) <= 1, f"jpeg decode {path}")
    for denom, flag in [(2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                        (8, cv2.IMREAD_REDUCED_COLOR_8)]:
        want = cv2.cvtColor(cv2.imread(path, flag), cv2.COLOR_BGR2RGB)
        # Ask for the size that 1/denom gives: the smallest scale that covers it.
        tool("jpeg", path, want.shape[1], want.shape[0], P("j.npy"))
        got = np.load(P("j.npy"))
        check(got.shape == want.shape and np.max(np.abs(got - want)) <= 1,
              f"jpeg 1/{denom} {path}: {got.shape} vs {want.shape}")
# Asking for slightly more than 1/4 gives 1/2 (3/8 is never used: slow).
tool("jpeg", P("gen.jpg"), (201 + 3) // 4 + 1, 1, P("j.npy"))
check(np.load(P("j.npy")).shape[:2] == ((123 + 1) // 2, (201 + 1) // 2), "jpeg 4/8")
# Our JPEG writer, read by OpenCV.
yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
colour = np.stack([xx * 4, yy * 5, 255 - xx * 2], axis=2).clip(0, 255).round()
np.save(P("in.npy"), colour)
tool("jpegw", P("in.npy"), 95, P("w.jpg"))
back = cv2.cvtColor(cv2.imread(P("w.jpg")), cv2.COLOR_BGR2RGB).astype(np.float32)
check(back.shape == colour.shape and np.max(np.abs(back - colour)) <= 6, "jpeg write RGB")
smooth = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (48, 1))
np.save(P("in.npy"), smooth)
tool("jpegw", P("in.npy"), 95, P("g.jpg"))
back = cv2.imread(P("g.jpg"), cv2.IMREAD_UNCHANGED).astype(np.float32)
check(back.shape == smooth.shape and np.max(np.abs(back - smooth)) <= 4, "jpeg write grey")

# Errors: the message names the file and the tool exits 1.
open(P("empty.jpg"), "wb").close()
r = tool("jpeg", P("empty.jpg"), 0, 0, P("j.npy"), ok=False)
check(r.returncode == 1 and P("empty.jpg") in r.stderr, f"empty jpeg: {r.stderr}")

subprocess.run(["rm", "-rf", tmp])
print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)

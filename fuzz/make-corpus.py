#!/usr/bin/python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/): tiny valid
files of every variant the readers accept, and a few broken ones. Generated
here with numpy and OpenCV from a fixed seed; run again only to change it.
Usage: /usr/bin/python3 fuzz/make-corpus.py
"""
import io
import os
import struct
import zlib

import cv2
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(2024)


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(a, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, a, version=version)
    else:
        np.save(b, a)
    return b.getvalue()


def png(a):
    ok, buf = cv2.imencode(".png", a)
    assert ok
    return buf.tobytes()


def jpg(a, *params):
    ok, buf = cv2.imencode(".jpg", a, list(params))
    assert ok
    return buf.tobytes()


# PNG
g8 = rng.integers(0, 256, (3, 5), dtype=np.uint8)
g16 = rng.integers(0, 65536, (4, 3), dtype=np.uint16)
put("png", "grey8_3x5.png", png(g8))
put("png", "grey16_4x3.png", png(g16))
put("png", "grey8_1x1.png", png(np.zeros((1, 1), np.uint8)))
put("png", "rgb_2x2.png", png(rng.integers(0, 256, (2, 2, 3), dtype=np.uint8)))
p = png(g16)
put("png", "truncated.png", p[: len(p) // 2])
bad = bytearray(p)
bad[-20] ^= 0xFF
put("png", "badcrc.png", bytes(bad))
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
put("png", "huge_header.png", b"\x89PNG\r\n\x1a\n" + chunk + b"\0\0\0\0IEND\xaeB`\x82")

# NPY
put("npy", "f4_2x3.npy", npy(rng.uniform(0, 80, (2, 3)).astype("<f4")))
put("npy", "f8_be_1x2x2.npy", npy(rng.uniform(0, 80, (1, 2, 2)).astype(">f8")))
put("npy", "u1_3x2x1.npy", npy(rng.integers(0, 256, (3, 2, 1)).astype("|u1")))
put("npy", "u2_fortran.npy", npy(np.asfortranarray(rng.integers(0, 65536, (3, 4)).astype("<u2"))))
put("npy", "f4_v2.npy", npy(np.ones((2, 2), "<f4"), version=(2, 0)))
put("npy", "f4_v3.npy", npy(np.ones((1, 2), "<f4"), version=(3, 0)))
put("npy", "f4_4d.npy", npy(np.arange(24, dtype="<f4").reshape(1, 2, 3, 4)))
put("npy", "f4_scalar.npy", npy(np.float32(3.5)))
put("npy", "nan.npy", npy(np.array([[1, np.nan]], "<f4")))
put("npy", "i4_dtype.npy", npy(np.ones((2, 2), "<i4")))
t = npy(np.ones((4, 4), "<f4"))
put("npy", "truncated.npy", t[: len(t) - 7])
put("npy", "bad_header.npy", t[:10] + t[10:].replace(b"'shape'", b"'shapo'"))

# PFM
def pfm(a, little=True):
    h, w = a.shape
    data = a[::-1].astype("<f4" if little else ">f4").tobytes()
    return b"Pf\n%d %d\n%s\n" % (w, h, b"-1.0" if little else b"1.0") + data


put("pfm", "le_3x2.pfm", pfm(rng.uniform(0, 50, (2, 3))))
put("pfm", "be_1x4.pfm", pfm(rng.uniform(0, 50, (4, 1)), little=False))
put("pfm", "colour.pfm", b"PF\n1 1\n-1.0\n" + b"\0" * 12)
put("pfm", "inf.pfm", pfm(np.array([[1.0, np.inf]])))
put("pfm", "truncated.pfm", pfm(np.ones((3, 3)))[:-5])

# JPEG
c = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
put("jpeg", "rgb_24x16.jpg", jpg(c, cv2.IMWRITE_JPEG_QUALITY, 50))
put("jpeg", "grey_8x8.jpg", jpg(c[:8, :8, 0], cv2.IMWRITE_JPEG_QUALITY, 75))
put("jpeg", "progressive_24x16.jpg", jpg(c, cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
put("jpeg", "restart_24x16.jpg", jpg(c, cv2.IMWRITE_JPEG_RST_INTERVAL, 1))
put("jpeg", "rgb_13x7.jpg", jpg(c[:7, :13], cv2.IMWRITE_JPEG_QUALITY, 30))
j = jpg(c, cv2.IMWRITE_JPEG_QUALITY, 50)
put("jpeg", "truncated.jpg", j[: len(j) * 2 // 3])
put("jpeg", "not_jpeg.jpg", b"GIF89a\x01\x00\x01\x00")

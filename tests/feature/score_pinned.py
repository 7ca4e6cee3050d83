#!/usr/bin/python3
"""The score, bit for bit, as it was before the speed work of issue 15.

  score_pinned.py DEPTHINDEX

Renders three small demo sets (NPY 160x120, 16-bit PNG 97x131, PFM 64x64;
fixed seeds, byte-identical on every machine), scores them with `depthindex
score --json` for k = 4, 2 and 7 and compares every line (score and centres
to all 17 digits, edge fraction, size) with pinned_scores.jsonl, written by
the build before issue 15's changes (the score code of commit b0d7ee9:
before the reader, k-means, Canny and weighted-sum changes). The oracle
tests allow 1e-4; this one allows nothing, because the exactness of the score is the product's promise. The score's
Gaussian weights come from libm's exp(): the pinned values are those of
Debian 12's glibc on x86-64.
"""
import os
import subprocess
import sys
import tempfile

exe = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
pinned = open(os.path.join(here, "pinned_scores.jsonl")).read().splitlines()

with tempfile.TemporaryDirectory() as tmp:
    def di(*args):
        return subprocess.run([exe, *args], cwd=tmp, check=True,
                              capture_output=True, text=True).stdout
    di("demo", "--count", "1", "--seed", "21", "--size", "160x120", "npy")
    di("demo", "--count", "1", "--seed", "22", "--size", "97x131",
       "--format", "png16", "png")
    di("demo", "--count", "1", "--seed", "23", "--size", "64x64",
       "--format", "pfm", "pfm")
    files = sorted(os.path.join(d, f) for d in ("npy", "png", "pfm")
                   for f in os.listdir(os.path.join(tmp, d)))
    # the pinned order: npy, png, pfm, each sorted by name
    files = [f for d in ("npy", "png", "pfm") for f in files if f.startswith(d + "/")]
    got = []
    for k in ("4", "2", "7"):
        got += di("score", "--json", "--k", k, *files).splitlines()

fails = 0
if len(got) != len(pinned):
    print(f"FAIL: {len(got)} lines, {len(pinned)} pinned")
    fails += 1
for g, p in zip(got, pinned):
    if g != p:
        fails += 1
        print(f"FAIL:\n  got    {g}\n  pinned {p}")
print("ok" if not fails else f"{fails} lines differ")
sys.exit(1 if fails else 0)

#!/usr/bin/python3
"""Converts depth maps in NPY (from `depthindex demo`) to the raw form that
bench_score and score_seed.py read: int32 width, int32 height, then float32
depth row by row.

  score_maps.py OUTDIR FILE.npy...
"""
import os
import sys

import numpy as np


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for p in sys.argv[2:]:
        d = np.load(p).astype(np.float32)
        d = d.reshape(d.shape[-2], d.shape[-1])
        h, w = d.shape
        name = os.path.splitext(os.path.basename(p))[0]
        with open(os.path.join(out, f"{name}-{w}x{h}.raw"), "wb") as f:
            f.write(np.array([w, h], np.int32).tobytes())
            f.write(np.ascontiguousarray(d).tobytes())


if __name__ == "__main__":
    main()

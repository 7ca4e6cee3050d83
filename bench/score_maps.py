#!/usr/bin/python3
"""Writes synthetic street-canyon depth maps for bench/run-score.sh.

  score_maps.py DIR WIDTHxHEIGHT:COUNT...

Each map: int32 width, int32 height, then float32 depth, row by row (the
format bench_score and score_seed.py read). Deterministic (fixed seed).
"""
import os
import sys

import numpy as np


def street_canyon(rng, h, w):
    """Ground plane, building facades at random setbacks, far sky, with a
    little texture: a depth model's output looks roughly like this."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    horizon = h * rng.uniform(0.35, 0.55)
    ground = 1.6 * h / np.maximum(y - horizon, 0.5)
    d = np.where(y > horizon, ground, np.float32(300.0)).astype(np.float32)
    for _ in range(int(rng.integers(4, 12))):
        a = int(rng.integers(0, w))
        b = min(w, a + int(rng.integers(w // 20, w // 3)))
        setback = rng.uniform(4, 80)
        top = h * rng.uniform(0.0, 0.45)
        mask = (x >= a) & (x < b) & (y >= top) & (d > setback)
        d = np.where(mask, np.float32(setback) + 0.002 * (x - a), d)
    noise = rng.normal(0, 0.3, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
    noise = np.kron(noise, np.ones((8, 8), np.float32))[:h, :w]
    return (d * (1 + 0.01 * noise)).astype(np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    for spec in sys.argv[2:]:
        size, count = spec.split(":")
        w, h = (int(v) for v in size.split("x"))
        for i in range(int(count)):
            d = street_canyon(rng, h, w)
            with open(os.path.join(out, f"canyon-{w}x{h}-{i}.raw"), "wb") as f:
                f.write(np.array([w, h], np.int32).tobytes())
                f.write(d.tobytes())


if __name__ == "__main__":
    main()

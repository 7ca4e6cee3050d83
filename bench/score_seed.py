#!/usr/bin/python3
"""The seed's own scoring procedure, timed, for bench/run-score.sh.

  score_seed.py --runs R --ours OURS.jsonl FILE...

Per depth map (raw files of bench/score_maps.py), R runs of the seed's
procedure (seed.md): 8-bit depth; sklearn KMeans(n_clusters=4, n_init=10,
random_state=0) fitted on a random 5 % of the pixels (a different sample each
run, as the seed's unseeded sampling does), predicted on all pixels; labels
scaled to 0..255 as an 8-bit image; cv2.Canny(100, 200); cv2.GaussianBlur
71x71, sigma 7, float32, BORDER_REPLICATE; mean. Prints a Markdown report:
per size, the seed's median time per image against ours (from OURS.jsonl,
written by bench_score), the ratio, the score step against a plain pass, and
the agreement of our score with the median of the seed's scores.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import warnings

import cv2
import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning


def depth8(d):
    mn, mx = d.min(), d.max()
    if mx == mn:
        return np.zeros(d.shape, np.uint8)
    return ((d - mn) * np.float32(255) / (mx - mn)).astype(np.uint8)


def seed_score(d, rng):
    u = depth8(d)
    pixels = u.reshape(-1, 1).astype(np.float64)
    n = pixels.shape[0]
    sample = pixels[rng.choice(n, max(4, n // 20), replace=False)]
    km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(sample)
    labels = km.predict(pixels).reshape(u.shape)
    img = (labels.astype(np.float32) * 255 / 3).astype(np.uint8)
    edges = cv2.Canny(img, 100, 200)
    c = cv2.GaussianBlur(edges.astype(np.float32), (71, 71), 7, sigmaY=7,
                         borderType=cv2.BORDER_REPLICATE)
    return float(c.mean())


def read_raw(path):
    with open(path, "rb") as f:
        w, h = np.frombuffer(f.read(8), np.int32)
        return np.frombuffer(f.read(), np.float32).reshape(h, w)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--reading", action="append", default=[],
                    help="WxH=MS: `depthindex score` ms per image of that size, "
                         "file reading included")
    ap.add_argument("--marginal", action="append", default=[],
                    help="WxH=MS: the same without the process's start-up "
                         "(N and 2N files per process, the difference over N)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    # sklearn warns when a 5 % sample has fewer distinct values than clusters
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    ours = {}
    for line in open(a.ours):
        r = json.loads(line)
        ours[(r["width"], r["height"])] = r
    def sizes(opts):
        out = {}
        for r in opts:
            size, ms = r.split("=")
            w, h = size.split("x")
            out[(int(w), int(h))] = float(ms)
        return out
    reading, marginal = sizes(a.reading), sizes(a.marginal)
    by_size = {}
    for p in a.files:
        d = read_raw(p)
        by_size.setdefault((d.shape[1], d.shape[0]), []).append(d)
    rng = np.random.default_rng()
    print(f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}; "
          f"one core (taskset -c 0), OMP/OpenCV threads 1; cv2 "
          f"{cv2.__version__}, sklearn {__import__('sklearn').__version__}.\n")
    print("| size | maps | seed ms/image | depthindex ms/image | speed-up | "
          "`depthindex score` ms/image, reading included | speed-up, reading included | "
          "the same without start-up | speed-up | "
          "score step / plain pass | our score vs seed median (median, max rel. diff) "
          "| seed's own spread (max-min)/median |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, maps in by_size.items():
        times, diffs, spreads = [], [], []
        o = ours[size]
        for i, d in enumerate(maps):
            scores = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                scores.append(seed_score(d, rng))
                times.append(time.perf_counter() - t0)
            med = statistics.median(scores)
            if med > 0:
                diffs.append(abs(o["scores"][i] - med) / med)
                spreads.append((max(scores) - min(scores)) / med)
        seed_ms = statistics.median(times) * 1e3
        print(f"| {size[0]}x{size[1]} | {len(maps)} | {seed_ms:.1f} | "
              f"{o['per_image_ms']:.3f} | {seed_ms / o['per_image_ms']:.0f}x | "
              + (f"{reading[size]:.3f} | {seed_ms / reading[size]:.0f}x | "
                 if size in reading else "- | - | ") +
              (f"{marginal[size]:.3f} | {seed_ms / marginal[size]:.0f}x | "
               if size in marginal and marginal[size] > 0 else "- | - | ") +
              f"{o['score_step_ms']:.4f} / {o['plain_pass_edges_ms']:.4f} ms = "
              f"{o['score_step_vs_plain']:.2f}x | "
              f"{100 * statistics.median(diffs):.1f} %, {100 * max(diffs):.1f} % | "
              f"{100 * statistics.median(spreads):.1f} % median, "
              f"{100 * max(spreads):.1f} % max |")
        sys.stdout.flush()
    print("\nWhole score of a map against one plain pass over its float32 "
          "depth (the memory-bound floor of reading the input): " +
          ", ".join(f"{s[0]}x{s[1]}: {o['per_image_ms']:.3f} ms vs "
                    f"{o['plain_pass_depth_ms']:.3f} ms "
                    f"({o['pipeline_vs_plain_depth']:.1f}x)"
                    for s, o in ours.items()) + ".")


if __name__ == "__main__":
    main()

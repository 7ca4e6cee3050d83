#!/usr/bin/env python3
"""conv_layers.py: per-conv-layer times from ONEDNN_VERBOSE=1 output of
bench_engine (bench/run-conv-algo.sh). Reads the verbose lines of RUNS runs
of the same plan on stdin (warm-up included; it is dropped) and prints, per
conv shape, one line: shape, impl, how many convs of it per image, the
median over runs of their summed exec time in ms, and of the reorders that
oneDNN ran just before each of them (the conv's own input reorder, or the
previous op's). usage: conv_layers.py RUNS BATCH < verbose.txt"""
import re
import statistics
import sys

runs, batch = int(sys.argv[1]), int(sys.argv[2])
events = []
for line in sys.stdin:
    if not line.startswith("onednn_verbose,exec,cpu,"):
        continue
    f = line.rstrip("\n").split(",")
    kind, impl, prb, ms = f[3], f[4], f[-2], float(f[-1])
    events.append((kind, impl, prb, ms))
nconv = sum(1 for e in events if e[0] == "convolution")
if not nconv or nconv % runs:
    sys.exit(f"conv_layers: {nconv} conv exec lines are not {runs} equal runs")
per = nconv // runs
table = {}  # shape -> [impl, count per run, {run: conv ms}, {run: reorder ms}]
order = []
pending, seen = 0.0, 0
for kind, impl, prb, ms in events:
    if kind == "reorder":
        pending += ms
        continue
    if kind != "convolution":
        pending = 0.0
        continue
    r = seen // per
    seen += 1
    key = re.sub(r"mb\d+_", "", prb)
    if key not in table:
        table[key] = [impl, 0, {}, {}]
        order.append(key)
    t = table[key]
    if r == 0:
        t[1] += 1
    else:  # the first run is the warm-up (and the weights' reorders)
        t[2][r] = t[2].get(r, 0.0) + ms
        t[3][r] = t[3].get(r, 0.0) + pending
    pending = 0.0
for key in order:
    impl, n, c, o = table[key]
    c, o = list(c.values()) or [0.0], list(o.values()) or [0.0]
    print(f"{key} {impl} {n} {statistics.median(c) / batch:.3f} {statistics.median(o) / batch:.3f}")

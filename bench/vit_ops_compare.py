#!/usr/bin/env python3
"""vit_ops_compare.py: our engine against onnxruntime per op class on the
ViT-S/14 + DPT static form (bench/run-transformer-ops.sh), from one run of
each: our oneDNN primitives' times (ONEDNN_VERBOSE=1 output of bench_engine)
and onnxruntime's profile trace (bench/ort_profile.js --trace).

On a shared machine a time is the op's own plus whatever preempted it, so
each layer is taken at its minimum over the runs (and over the 12 blocks for
the transformer's MatMuls: the same shapes), times how often it occurs per
image: the time each side needs when it has the core, the figure that stays
put while the load average moves. The per-op profiles' medians (both
sides' own "op" lines, printed by the caller) include the waiting.

usage: vit_ops_compare.py OURS_VERBOSE.txt ORT_TRACE.json RUNS
  RUNS: the runs bench_engine timed after its warm-up (its REPEAT).
"""
import collections
import json
import re
import sys


def ours(path, runs):
    """{class: min-sum ms per image} from oneDNN's exec lines (warm-up included
    in the minimum's sample; it only adds a larger value)."""
    times = collections.defaultdict(list)
    for line in open(path):
        if ',exec,' not in line:
            continue
        f = line.rstrip('\n').split(',')
        kind, prob, ms = f[3], f[-2], float(f[-1])
        if kind == 'matmul':
            m = re.match(r'1x(\d+)x(\d+):1x\d+x(\d+):', prob)
            if m:  # the transformer's dense MatMuls (3-D): by K x N
                k, n = int(m.group(2)), int(m.group(3))
                role = {(384, 1152): 'qkv', (384, 384): 'proj', (384, 1536): 'fc1 (+Gelu)',
                        (1536, 384): 'fc2'}.get((k, n), f'matmul {k}x{n}')
                times['MatMul ' + role].append(ms)
            else:  # the fused attention's tiles (2-D)
                times['attention products (QK^T, xV) ' + prob].append(ms)
        elif kind == 'convolution':
            m = re.search(r'ic(\d+)oc(\d+)_ih\d+oh(\d+)kh(\d+)sh(\d+)', prob)
            c, oc, oh, kh, sh = (int(x) for x in m.groups())
            times[f'Conv {kh}x{kh}/{sh} {c}->{oc} at {oh}'].append(ms)
        elif kind == 'layer_normalization':
            times['LayerNormalization'].append(ms)
    total = runs + 1  # bench_engine's warm-up run
    out = {}
    for k, v in times.items():
        v.sort()
        out[k] = v[0] * len(v) / total
    # the attention products: one class (tile shapes vary with the last tile)
    att = sum(t for k, t in out.items() if k.startswith('attention'))
    out = {k: t for k, t in out.items() if not k.startswith('attention')}
    out['attention products (QK^T, xV)'] = att
    return out


def ort(path):
    ev = json.load(open(path))
    runs = [e for e in ev if e.get('cat') == 'Session' and e['name'] == 'model_run']
    nodes = [e for e in ev if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time')]
    roles = ['qkv', 'QK^T', 'xV', 'proj', 'fc1', 'fc2']
    times = collections.defaultdict(list)
    timed = runs[1:] if len(runs) > 1 else runs  # the first is the warm-up
    for r in timed:
        t0, t1 = r['ts'], r['ts'] + r['dur']
        i = 0
        for e in nodes:
            if not t0 <= e['ts'] <= t1:
                continue
            a, ms = e['args'], e['dur'] / 1000
            op = a['op_name']
            if op in ('MatMul', 'FusedMatMul'):  # six per block, in this order
                role = roles[i % 6]
                i += 1
                if role in ('QK^T', 'xV'):
                    times['attention products (QK^T, xV)'].append((e['name'], ms))
                else:
                    times['MatMul ' + role].append((role, ms))
            elif op == 'Conv':
                x = a['input_type_shape'][0]['float']
                w = a['input_type_shape'][1]['float']
                y = a['output_type_shape'][0]['float']
                s = round(x[2] / y[2]) if w[2] > 1 and y[2] < x[2] // 1.5 else 1
                times[f'Conv {w[2]}x{w[3]}/{s} {w[1]}->{w[0]} at {y[2]}'].append((e['name'], ms))
            else:
                times[op].append((e['name'], ms))
    out = {}
    n = len(timed)
    for k, v in times.items():
        per = collections.defaultdict(list)
        for name, ms in v:
            per[name].append(ms)
        if k.startswith('MatMul '):  # the blocks' MatMuls: one shape, min over all
            allv = [ms for _, ms in v]
            out[k] = min(allv) * len(allv) / n
        else:  # each node at its minimum over the runs
            out[k] = sum(min(x) for x in per.values())
    return out


def main():
    o, r = ours(sys.argv[1], int(sys.argv[3])), ort(sys.argv[2])
    # onnxruntime's classes that ours fuses: BiasGelu into fc1, the rest as named
    r_fc1 = r.get('MatMul fc1', 0) + r.pop('BiasGelu', 0)
    if 'MatMul fc1' in r:
        r['MatMul fc1 (+Gelu)'] = r_fc1
        del r['MatMul fc1']
    keys = sorted(set(o) | set(r), key=lambda k: -max(o.get(k, 0), r.get(k, 0)))
    print('| op class (ms per image, minimum per layer x count) | ours | onnxruntime | ort / ours |')
    print('|---|---|---|---|')
    for k in keys:
        a, b = o.get(k), r.get(k)
        if max(a or 0, b or 0) < 0.05:
            continue
        ratio = f'{b / a:.2f}' if a and b else '-'
        print(f"| {k} | {'-' if a is None else f'{a:.2f}'} | {'-' if b is None else f'{b:.2f}'} | {ratio} |")
    print(f'| sum of the rows | {sum(o.values()):.1f} | {sum(r.values()):.1f} | |')
    print("(ours: oneDNN primitives only: the fused attention's softmax, Resize, Add and the other"
          " own kernels are in the per-op profile above, not here)")


main()

#!/usr/bin/python3
"""`depthindex model`'s preset guess on a small ONNX graph of each form
(written by tests/pipeline/tiny_onnx.py): the preset and the reason it
names (opset, patch size, fixed size, a trailing Sigmoid x max_depth, the
input's name and shape). Exits 1 naming each wrong guess."""
import os
import shutil
import subprocess
import sys
import tempfile

DI = os.environ["DEPTHINDEX"]
TINY = os.path.join(os.environ["DEPTHINDEX_SOURCE_ROOT"], "tests", "pipeline", "tiny_onnx.py")

# (tiny_onnx mode, size, preset, words the reason must hold)
FORMS = [
    ("opset9", 256, "midas-release", ["opset 9", "[?, 3, 256, 256]"]),
    ("", 256, "midas-small", ["fixed 256x256"]),
    ("", 384, "dpt", ["fixed 384x384"]),
    ("patch16", 0, "dpt", ["16x16 patch"]),
    ("patch", 0, "depth-anything", ["14x14 patch", "symbolic height and width",
                                    "input 'input' [?, 3, ?, ?]"]),
    # Depth Anything V2 metric: Sigmoid, Mul by max_depth, Squeeze
    ("patch-metric", 0, "depth-anything-metric", ["14x14 patch", "Sigmoid x 20 (max_depth)"]),
    # the constant first, from a Constant node
    ("patch-metric-const", 0, "depth-anything-metric", ["Sigmoid x 80 (max_depth)"]),
    # a Sigmoid times a computed value is no max_depth: the relative preset
    ("patch-sigmoid-square", 0, "depth-anything", ["14x14 patch"]),
    # no patch: the Sigmoid x max_depth alone says metric
    ("metric", 32, "depth-anything-metric", ["Sigmoid x 20", "[?, 3, 32, 32]"]),
    ("inverse", 32, "none", ["no rule matched"]),
    ("", 100, "none", ["no rule matched"]),
]

failures = []
tmp = tempfile.mkdtemp(prefix="di-guess-")
try:
    for mode, size, want, words in FORMS:
        path = os.path.join(tmp, "%s-%d.onnx" % (mode or "plain", size))
        subprocess.run([sys.executable, TINY, path, str(size)] + ([mode] if mode else []),
                       check=True)
        r = subprocess.run([DI, "model", path], capture_output=True, text=True, timeout=60)
        line = next((l for l in r.stdout.splitlines() if l.startswith("preset: ")), "")
        got = line[len("preset: "):].split(" ", 1)[0]
        if r.returncode != 0 or got != want or not all(w in line for w in words):
            failures.append("%s (%d): exit %d, %r; want %s with %s"
                            % (mode or "plain", size, r.returncode, line, want, words))
finally:
    shutil.rmtree(tmp)

for f in failures:
    print("FAIL:", f)
print("%d forms, %d wrong" % (len(FORMS), len(failures)))
sys.exit(1 if failures else 0)

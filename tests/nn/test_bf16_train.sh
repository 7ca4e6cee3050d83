#!/usr/bin/env bash
# nn-bf16-train: tests/nn/bf16_train.py, which trains the graphs that
# bench/run-bf16-fidelity.sh measures bf16 on, runs them as the engine does:
#   - its torch executor's output on a demo face against `depthindex infer`
#     (fp32) within 1e-4 of the range: the ViT form (bf16_train_data vit:
#     LayerNormalization, attention, GELU, shape arithmetic, ConvTranspose)
#     and, with ../shared, MiDaS small (Clip, Resize by scales, Squeeze);
#   - two training steps of MiDaS small at 64x64 change its weights, and the
#     file written back runs in the engine as the executor ran it.
# Needs Debian's python3-torch and python3-onnx: skipped without (77),
# failed with DI_TEST_REQUIRE_ORACLES=1 (CI).
set -u
build=${DEPTHINDEX_BUILD_ROOT:?} di=${DEPTHINDEX:?} src=${DEPTHINDEX_SOURCE_ROOT:?}
shared=${DEPTHINDEX_SHARED:-$src/../shared}
py=/usr/bin/python3 gen="$build/tests/nn/bf16_train_data" train="$src/tests/nn/bf16_train.py"
if ! "$py" -c 'import torch, onnx' 2>/dev/null; then
  msg="needs Debian's python3-torch and python3-onnx ($py)"
  [ "${DI_TEST_REQUIRE_ORACLES:-}" = 1 ] && { echo "FAIL: $msg"; exit 1; }
  echo "SKIP: $msg"; exit 77
fi
mkdir -p "$build/tests/nn"
tmp=$(mktemp -d "$build/tests/nn/tmp-bf16-train-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
same() { # MODEL DATA SIZE NAME: the executor's output against the engine's
  nice -n 10 "$py" "$train" --check "$1" "$2" "$3" "$tmp/$4" &&
    "$di" infer --model "$1" --input "$tmp/$4-in.npy" --output "$tmp/$4-di.npy" --threads 2 >/dev/null &&
    "$py" -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
r = float(a.max() - a.min())
d = float(np.abs(a - b).max()) / r if r > 0 else float("inf")
print("max |executor - engine| %.3g of the range %.3g" % (d, r))
sys.exit(0 if a.shape == b.shape and d <= 1e-4 and r > 0 else 1)' "$tmp/$4-out.npy" "$tmp/$4-di.npy"
}
mkdir -p "$tmp/f266" "$tmp/f256" "$tmp/f64"
"$gen" vit "$tmp/vit.onnx" && "$gen" faces "$tmp/f266" 266 1 1 || exit 1
check "the ViT form: the executor reproduces the engine" 'same "$tmp/vit.onnx" "$tmp/f266" 266 vit'
graph="$shared/models/midas_v21_small_256.graph.onnx"
if [ -f "$graph" ]; then
  "$gen" midas "$graph" "$tmp/midas.onnx" && "$gen" faces "$tmp/f256" 256 1 1 && "$gen" faces "$tmp/f64" 64 1 2 || exit 1
  check "MiDaS small: the executor reproduces the engine" 'same "$tmp/midas.onnx" "$tmp/f256" 256 midas'
  check "MiDaS small: two training steps at 64x64 write a file" \
    'DI_TRAIN_BATCH=2 nice -n 10 "$py" "$train" "$tmp/midas.onnx" "$tmp/trained.onnx" "$tmp/f64" 64 2 "$tmp/log"'
  check "the trained weights differ from the ones it started from" '! cmp -s "$tmp/midas.onnx" "$tmp/trained.onnx"'
  check "the trained file: the executor reproduces the engine" 'same "$tmp/trained.onnx" "$tmp/f256" 256 trained'
else
  echo "MiDaS small skipped: $graph is absent (shared data, ../shared next to the checkout)"
fi
exit $fail

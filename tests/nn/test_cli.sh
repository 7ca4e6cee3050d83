#!/usr/bin/env bash
# The `depthindex infer` and `depthindex model` commands, end to end: output
# formats, exit codes, and the errors a person sees. Uses Debian's python3
# with numpy to make and read NPY files. Ends with "N passed, N failed".
set -uo pipefail
di=${DEPTHINDEX:?DEPTHINDEX is not set}
shared=${DEPTHINDEX_SHARED:-../shared}
py=/usr/bin/python3
graph="$shared/models/midas_v21_small_256.graph.onnx"
work="${DEPTHINDEX_BUILD_ROOT:-/tmp}/tests/nn/tmp-cli"
mkdir -p "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_rc() { # want_rc description command...
  local want=$1 what=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$what: exit $rc, expected $want ($(head -c 300 "$work/err"))"; fi
}
if [ ! -f "$graph" ] || ! $py -c 'import numpy' 2>/dev/null; then
  if [ "${DI_TEST_REQUIRE_ORACLES:-}" = 1 ]; then  # CI: no skipping (.ci/run)
    echo "FAIL: needs $graph (../shared next to the checkout) and Debian's python3-numpy"; exit 1
  fi
  echo "SKIP: needs $graph (../shared next to the checkout) and Debian's python3-numpy"; exit 77
fi

# --help lists every option
for cmd in infer model; do
  expect_rc 0 "$cmd --help" "$di" $cmd --help
done
for o in --model --input --output --threads --repeat --profile; do
  grep -q -- "$o" <("$di" infer --help) && ok || bad "infer --help lacks $o"
done
for o in --fill-weights --fill-scale --seed; do
  grep -q -- "$o" <("$di" model --help) && ok || bad "model --help lacks $o"
done

# model: the MiDaS graph without its weights is described, with the README's figures
expect_rc 0 "model on the graph" "$di" model "$graph"
grep -q '^  Conv  *97$' "$work/out" && ok || bad "Conv count"
grep -q '^  Clip  *48$' "$work/out" && ok || bad "Clip count"
grep -q '^  Resize  *5$' "$work/out" && ok || bad "Resize count"
grep -q '^parameters: 16563879 ' "$work/out" && ok || bad "parameter count: $(grep parameters "$work/out")"
grep -q '^GFLOP per image: 9.19' "$work/out" && ok || bad "GFLOP: $(grep GFLOP "$work/out")"
grep -q '^unsupported: none' "$work/out" && ok || bad "unsupported line"
# fusion: all 48 Clip, 27 Add and 9 of the 16 Relu go into the conv before them
# (the backend-neutral plan: that the CPU's keeps its activations in oneDNN's
# layouts, with no reorder, nn-midas checks)
grep -q '^plan at batch 1: 110 steps for 194 nodes (84 fused into the step before, 0 folded into constants, 0 reorders)' "$work/out" && ok || bad "plan: $(grep '^plan' "$work/out")"
grep -q 'external data that is missing' "$work/out" && ok || bad "missing weights not reported"

# model: a model with an op we do not have lists it and exits 1
celu=/usr/share/libonnx-testdata/data/node/test_celu/model.onnx
if [ -f "$celu" ]; then
  expect_rc 1 "model with an unsupported op" "$di" model "$celu"
  grep -q "op Celu is not supported" "$work/out" && ok || bad "unsupported op not listed: $(cat "$work/out")"
fi
expect_rc 1 "model on a missing file" "$di" model "$work/absent.onnx"
grep -q "absent.onnx" "$work/err" && ok || bad "missing file not named"
expect_rc 2 "model without a file" "$di" model
expect_rc 2 "model with an unknown option" "$di" model --bogus "$graph"

# fill weights, then infer at batch 2 and compare with batch 1
model="$work/midas.onnx"
expect_rc 0 "fill weights" "$di" model --fill-weights "$model" "$graph"
grep -q "171 initializers filled" "$work/out" && ok || bad "fill count: $(cat "$work/out")"
$py -c "
import numpy as np
r = np.random.default_rng(3)
np.save('$work/x2.npy', r.standard_normal((2, 3, 256, 256)).astype(np.float32))
np.save('$work/x1.npy', np.load('$work/x2.npy')[1:2])
np.save('$work/bad_shape.npy', np.zeros((1, 3, 128, 256), np.float32))
np.save('$work/bad_type.npy', np.zeros((1, 3, 256, 256), np.int32))
"
expect_rc 0 "infer batch 2" "$di" infer --model "$model" --input "$work/x2.npy" --output "$work/y2.npy" --threads 2 --repeat 3 --profile
grep -Eq '^[0-9]+\.[0-9]+ ms$' "$work/out" && ok || bad "no 'N ms' line: $(head -3 "$work/out")"
grep -Eq '^Conv ' "$work/out" && ok || bad "no Conv line in the profile"
# every subcommand takes --opt=value (one parser): infer and model too
expect_rc 0 "infer batch 1" "$di" infer --model="$model" --input="$work/x1.npy" --output="$work/y1.npy" --threads=1
expect_rc 0 "model with --opt=value" "$di" model --seed=2 --fill-weights="$work/midas2.onnx" "$graph"
# --fill-scale scaled: the same draws scaled per Conv (fill_scale.c): another file of the same size
expect_rc 0 "fill weights, scaled" "$di" model --fill-scale scaled --fill-weights "$work/midas_scaled.onnx" "$graph"
grep -q "171 initializers filled" "$work/out" && ok || bad "scaled fill count: $(cat "$work/out")"
[ "$(stat -c %s "$work/midas_scaled.onnx")" = "$(stat -c %s "$model")" ] && ! cmp -s "$work/midas_scaled.onnx" "$model" \
  && ok || bad "--fill-scale scaled wrote the He-normal file or another size"
expect_rc 2 "fill weights, bad scale" "$di" model --fill-scale bogus --fill-weights "$work/midas3.onnx" "$graph"
grep -q "he or scaled" "$work/err" && ok || bad "bad --fill-scale not explained: $(cat "$work/err")"
expect_rc 0 "demo with --opt=value" "$di" demo --count=1 --size=64x64 --format=npy "$work/demo"
expect_rc 0 "score with --opt=value" "$di" score --k=3 --ksize=5 --sigma=1 "$(ls "$work"/demo/*.npy | head -1)"
$py -c "
import numpy as np, sys
y2 = np.load('$work/y2.npy'); y1 = np.load('$work/y1.npy')
assert y2.shape == (2, 256, 256), y2.shape
assert y1.shape == (1, 256, 256), y1.shape
d = np.abs(y2[1] - y1[0]).max(); r = y1.max() - y1.min()
assert d <= 1e-4 * r, (d, r)
" && ok || bad "batch 2 image 2 differs from batch 1"

# --precision on the CPU. Where oneDNN has no native bf16 (ONEDNN_MAX_CPU_ISA
# =AVX2 stands for such a CPU) bf16 is refused in one line and auto is fp32;
# with native bf16, bf16 runs (its output differs from fp32; by up to 0.2 of
# the range on these generated weights: README, bf16) and auto is bf16.
grep -q -- "--precision" <("$di" infer --help) && ok || bad "infer --help lacks --precision"
expect_rc 2 "infer --precision bf16 without native bf16" env ONEDNN_MAX_CPU_ISA=AVX2 \
  "$di" infer --model "$model" --input "$work/x1.npy" --precision bf16
[ "$(wc -l < "$work/err")" = 1 ] && grep -q "native bf16 (AVX512-BF16 or AMX).*avx2" "$work/err" \
  && ok || bad "bf16 refusal is not one clear line: $(cat "$work/err")"
expect_rc 0 "infer --precision auto without native bf16" env ONEDNN_MAX_CPU_ISA=AVX2 \
  "$di" infer --model "$model" --input "$work/x1.npy" --precision auto --output "$work/y_auto.npy"
expect_rc 2 "infer --precision fp16 on the cpu" "$di" infer --model "$model" --input "$work/x1.npy" --precision fp16
expect_rc 2 "infer --precision bogus" "$di" infer --model "$model" --input "$work/x1.npy" --precision bogus
$py -c "
import numpy as np
a = np.load('$work/y_auto.npy'); y1 = np.load('$work/y1.npy')
assert np.abs(a - y1).max() <= 1e-4 * (y1.max() - y1.min())
" && ok || bad "auto without native bf16 is not fp32"
if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo; then
  expect_rc 0 "infer --precision bf16" "$di" infer --model "$model" --input "$work/x1.npy" --precision bf16 --output "$work/y_bf16.npy"
  expect_rc 0 "infer --precision auto" "$di" infer --model "$model" --input "$work/x1.npy" --precision auto --output "$work/y_auto.npy"
  $py -c "
import numpy as np
b = np.load('$work/y_bf16.npy'); a = np.load('$work/y_auto.npy'); y1 = np.load('$work/y1.npy')
d = np.abs(b - y1).max(); r = y1.max() - y1.min()
assert 0 < d <= 0.3 * r, (d, r)  # generated weights: README, bf16
assert (a == b).all()
" && ok || bad "bf16 output equal to fp32, far from it, or auto is not bf16"
else
  echo "this CPU has no native bf16: bf16 runs not tested"
fi

# errors a person sees: what keeps infer from starting is a setup error,
# exit 2, as in run
expect_rc 2 "infer with the wrong shape" "$di" infer --model "$model" --input "$work/bad_shape.npy"
grep -q "1x3x128x256 does not fit" "$work/err" && ok || bad "wrong shape message: $(cat "$work/err")"
expect_rc 2 "infer with int32 input" "$di" infer --model "$model" --input "$work/bad_type.npy"
expect_rc 2 "infer with a missing model" "$di" infer --model "$work/absent.onnx" --input "$work/x1.npy"
expect_rc 2 "infer with the weights missing" "$di" infer --model "$graph" --input "$work/x1.npy"
grep -q "midas_small.onnx.data" "$work/err" && ok || bad "missing external data not named: $(cat "$work/err")"
expect_rc 2 "infer without --input" "$di" infer --model "$model"
expect_rc 2 "infer with --threads 0" "$di" infer --model "$model" --input "$work/x1.npy" --threads 0
expect_rc 2 "infer with --repeat x" "$di" infer --model "$model" --input "$work/x1.npy" --repeat x
expect_rc 2 "infer with --repeat=x" "$di" infer --model "$model" --input "$work/x1.npy" --repeat=x
expect_rc 2 "infer with --output and no value" "$di" infer --model "$model" --input "$work/x1.npy" --output
grep -q -- "--output needs a value" "$work/err" && ok || bad "missing value message: $(cat "$work/err")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

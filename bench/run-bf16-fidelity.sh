#!/usr/bin/env bash
# bf16 score fidelity (issue 15): not a timing. bf16 against fp32 on the same
# inputs (demo faces and synthetic pictures), both model forms, through the
# nn-bf16 test's own comparison (tests/nn/test_bf16.c, FACES demo faces per
# model), then where along MiDaS small the difference arises:
#   - bench/bf16_layers: the difference at every Add and Resize output (the
#     model cut there), bf16 and the fp32 yardstick (the input rounded to bf16),
#     for the scaled weights (src/nn/fill_scale.c) and He-normal ones;
#   - DI_NN_BF16_FP32=A-B (src/nn/precision.c): Convs A to B kept fp32, the
#     rest bf16: how much of the output difference each part of the network makes.
#   - trained weights (tests/nn/bf16_train.py, Debian's python3-torch and
#     python3-onnx): both forms trained on demo faces with their rendered depth
#     (MiDaS small from the scaled weights at 128x128, the ViT form at 266),
#     one thread, nice 19, and measured at 256 / 266 after several numbers
#     of steps: does bf16 fidelity rise as the network learns?
# The anchor is fp32 in the same run. usage: bench/run-bf16-fidelity.sh BUILD_DIR
# (FACES=N [64]; LAYERS=0 skips the per-layer tables, the slow part;
# STEPS=N [300] MiDaS small's training steps, VIT_STEPS=N [150] the ViT
# form's, 0 skips it: about 2 s of CPU a MiDaS step, 4 s a ViT one)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs FACES=64 STEPS=300 VIT_STEPS=150
graph=../shared/models/midas_v21_small_256.graph.onnx
bench_need tests/nn/test_bf16 bench/bf16_layers tests/nn/bf16_train_data
kind=$(grep -qw amx_bf16 /proc/cpuinfo && echo AMX || { grep -qw avx512_bf16 /proc/cpuinfo && echo AVX512-BF16; })
if [ -z "$kind" ]; then
  echo "run-bf16-fidelity: this CPU has no native bf16 (AVX512-BF16 or AMX): nothing to measure"
  exit 0
fi
echo "machine: $(bench_cpu) ($ncpu cores), bf16: $kind, $(date -u +%F)"
echo "load at start: $(bench_load); $faces demo faces and 8 synthetic per model"
run_test() { # FORMS [env...]: the test's summary lines
  local forms=$1; shift
  (cd "$build" && env "$@" DI_BF16_FORMS="$forms" DI_BF16_FACES="$faces" DEPTHINDEX_BUILD_ROOT="$(pwd)" \
     DEPTHINDEX_SHARED="$bench_root/../shared" tests/nn/test_bf16) | grep -E "bf16 against|yardstick|fp32 scores|check failed"
}
run_test vit,midas,midas-he
# trained FORM SIZE STEPS SAVE_AT BATCH FROM: trains FROM (an .onnx) on demo
# faces at SIZE, then the bf16 comparison after each of SAVE_AT's steps and STEPS
trained() {
  local form=$1 size=$2 steps=$3 save=$4 batch=$5 from=$6 data="$work/faces-$2" s m
  mkdir -p "$data"
  "$build/tests/nn/bf16_train_data" faces "$data" "$size" 1 64 || return 1
  local t0=$SECONDS
  DI_TRAIN_SAVE=$save DI_TRAIN_BATCH=$batch nice -n 19 "$py" tests/nn/bf16_train.py "$from" "$work/$form.onnx" \
    "$data" "$size" "$steps" "$work/$form.log" || return 1
  echo "$form: $steps steps in $((SECONDS - t0)) s; loss at the end: $(tail -1 "$work/$form.log")"
  for s in ${save//,/ } "$steps"; do
    [ "$s" -le "$steps" ] || continue
    m="$work/$form-step$s.onnx"
    [ "$s" = "$steps" ] && m="$work/$form.onnx"
    echo "after $s steps:"
    run_test "$form-trained" DI_BF16_TRAINED_MIDAS="$m" DI_BF16_TRAINED_VIT="$m" | sed 's/^/  /'
  done
  [ "$form" = midas ] || return 0
  # the last: the weights' rounding alone, and bf16 with the biases corrected for it
  echo "after $steps steps, the weights rounded to bf16 in fp32, and bf16 with bias correction:"
  mkdir -p "$data-256" && "$build/tests/nn/bf16_train_data" faces "$data-256" 256 1 2 &&
    nice -n 19 "$py" tests/nn/bf16_train.py --round "$work/$form.onnx" "$work/rounded.onnx" &&
    nice -n 19 "$py" tests/nn/bf16_train.py --bias-correct "$work/$form.onnx" "$work/corrected.onnx" "$data-256" 256 &&
    run_test midas-trained DI_BF16_TRAINED_MIDAS="$work/$form.onnx" DI_BF16_ROUNDED_MIDAS="$work/rounded.onnx" \
      DI_BF16_OTHER_MIDAS="$work/corrected.onnx" | grep -E "rounded to bf16 against|other file" | sed 's/^/  /'
}
if [ "$steps$vit_steps" != 00 ]; then
  if ! "$py" -c 'import torch, onnx' 2>/dev/null; then
    echo "run-bf16-fidelity: trained weights skipped: $py lacks torch or onnx (python3-torch, python3-onnx)"
  else
    bench_workdir
    echo
    echo "trained weights (tests/nn/bf16_train.py; the issue's targets: output 3e-2 of the range, 99 % within 1 %)"
    if [ "$steps" -gt 0 ] && [ -f "$graph" ]; then
      "$build/tests/nn/bf16_train_data" midas "$graph" "$work/midas-scaled.onnx" &&
        trained midas 128 "$steps" 5,25,50,100,200 4 "$work/midas-scaled.onnx"
    fi
    if [ "$vit_steps" -gt 0 ]; then
      "$build/tests/nn/bf16_train_data" vit "$work/vit-gen.onnx" && trained vit 266 "$vit_steps" 50,100 1 "$work/vit-gen.onnx"
    fi
  fi
fi
if [ ! -f "$graph" ]; then
  echo "run-bf16-fidelity: $graph is absent: MiDaS small's tables skipped"
  exit 0
fi
echo
echo "MiDaS small, scaled weights: Convs A-B kept fp32 (97 Convs: 0-70 the encoder, 71-96 the decoder, 95-96 the output head's last two)"
for r in 0-0 0-70 71-96 80-96 95-96 96-96; do
  echo "fp32 Convs $r: $(FACES=$faces run_test midas DI_NN_BF16_FP32=$r | grep 'bf16 against' | sed 's/.*bf16 against fp32: //')"
done
[ "${LAYERS:-1}" = 0 ] && exit 0
for fill in scaled he; do
  echo
  "$build/bench/bf16_layers" --fill $fill "$graph" 256 4 Add,Resize || exit 1
done
echo "load at end: $(bench_load)"

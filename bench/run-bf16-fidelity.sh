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
# The anchor is fp32 in the same run. usage: bench/run-bf16-fidelity.sh BUILD_DIR
# (FACES=N [64]; LAYERS=0 skips the per-layer tables, the slow part)
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
bench_knobs FACES=64
graph=../shared/models/midas_v21_small_256.graph.onnx
bench_need tests/nn/test_bf16 bench/bf16_layers
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

/*
** conv_algo.c: the float32 Conv's algorithm by shape (di_nn_conv_pick).
*/
#include <stdbool.h>
#include <string.h>

#include "conv_algo.h"

/* A dense 3x3 stride-1 undilated conv with at least 32 input and output
** channels and an output of at least 8x8: where Winograd may pay at all
** (below that it was never measured to win). */
static bool dense3x3(const di_nn_conv_shape *s)
{
    return s->group == 1 && s->kh == 3 && s->kw == 3 && s->stride[0] == 1 && s->stride[1] == 1 &&
           s->dil[0] == 1 && s->dil[1] == 1 && s->c >= 32 && s->oc >= 32 && s->out[0] >= 8 &&
           s->out[1] >= 8;
}

di_nn_conv_algo di_nn_conv_pick(const char *knob, const di_nn_conv_shape *s)
{
    if (knob && !strcmp(knob, "direct"))
        return DI_CONV_DIRECT;
    if (!dense3x3(s))
        return DI_CONV_DIRECT;
    if (knob && !strcmp(knob, "winograd"))
        return DI_CONV_WINOGRAD;
    if (knob && !strcmp(knob, "gemm"))
        return DI_CONV_GEMM;
    return DI_CONV_WINOGRAD;
}

/* oneDNN 2.6's F(4x4,3x3) kernel (jit_avx512_core_f32_wino_conv_4x3, the
** W_SGD schedule) multiplies its transformed tiles in register blocks of
** dimN_reg_block tiles: the largest divisor below 32 of the tile count,
** batch x ceil(OH/4) x ceil(OW/4). Where that count has no divisor between
** 4 and 31 the block is 1 to 3 tiles and the GEMM inside runs at a fraction
** of its speed. DPT at 518x518 meets it: 148 = 4 x 37, 37 x 37 = 1369
** tiles, block 1. Measured per layer (ONEDNN_VERBOSE, the engine's plan,
** bench/run-conv-algo.sh LAYERS=1), this project's Zen 5, 1 thread, ms:
**   64->64 3x3 at 148x148 (1369 tiles, block 1): Winograd 15.1-24 per conv,
**     direct 8.3-11.6; 48->64 at 148: 9.3-25.5 against 6.1-10.3;
**   the same convs at 144x144 (1296 tiles, block 27): Winograd 4.4 against
**     direct 10.3; at 152x152 (1444, block 19): 7.8 against 8.9; at
**     112x148 (1036, block 28, the 518x392 form): 3.1 against 6.0;
**   64->32 at 296x296 (5476 tiles, block 4): Winograd 17.4 and 26.0 against
**     19.9 and 30.8, still ahead; at 2 threads about even.
** So a block below 4 takes direct; 4 and up keep Winograd. The direct conv
** then runs in Winograd's nChw16c (ops_conv.c, oneDNN's jit kernel) rather
** than brgconv's nhwc, whose output met nChw16c tensors at the Adds and
** convs after it (a loaded 1-thread run: Reorder 0.45 -> 2.15 ms, Add
** 2.3 -> 4.3 per image). At 2 threads, quieter machine, per image: the
** five 148x148 convs 20.6 ms (this rule) against 24.0 (Winograd) and 19.1
** (brgconv); the whole static 518 model 349.9 against 354.8 ms wall (7
** rounds in turns, load 1.7; bench/run-conv-algo.sh), the 266x266 form's
** Conv 12.8 against 14.1. The F(2x2,3x3)
** kernel (jit_fp32_wino_2x3, oneDNN's choice for some shapes: 64 channels at
** 74x74 and below, MiDaS small's 8x8) blocks otherwise and is kept; no
** shape of MiDaS small (256, batch 1 or 4) is refused. */
static int64_t wino4x3_reg_block(const di_nn_conv_shape *s)
{
    int64_t tiles = s->n * ((s->out[0] + 3) / 4) * ((s->out[1] + 3) / 4);
    for (int64_t d = 31; d > 1; d--)
        if (tiles % d == 0)
            return d;
    return 1;
}

bool di_nn_conv_wino_ok(const char *knob, const char *impl, const di_nn_conv_shape *s)
{
    if (knob && !strcmp(knob, "winograd"))
        return true;
    return !impl || !strstr(impl, "wino_4x3") || wino4x3_reg_block(s) >= 4;
}

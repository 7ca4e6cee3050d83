/*
** cpu/conv_algo.h: which oneDNN convolution algorithm a float32 Conv takes
** (conv_algo.c; ops_conv.c builds the primitive).
*/
#ifndef DI_NN_CPU_CONV_ALGO_H
#define DI_NN_CPU_CONV_ALGO_H

#include <stdbool.h>
#include <stdint.h>

typedef enum di_nn_conv_algo {
    DI_CONV_DIRECT,   /* oneDNN's first choice of direct kernel (brgconv, jit) */
    DI_CONV_WINOGRAD, /* oneDNN's Winograd F(4x4,3x3) (avx512_core) */
    DI_CONV_GEMM      /* oneDNN's im2col + jit sgemm ("gemm:jit"), plain NCHW */
} di_nn_conv_algo;

typedef struct di_nn_conv_shape {
    int64_t n, c, oc, kh, kw, group; /* n: the batch the primitive runs on */
    int64_t stride[2], dil[2];
    int64_t out[2]; /* output height, width */
} di_nn_conv_shape;

/* The algorithm for a conv of this shape. knob: DI_NN_CONV_ALGO's value (or
** NULL): "direct" direct everywhere, "winograd" the rule before this one
** (Winograd for every dense 3x3 with 32+ channels), "gemm" gemm:jit for
** every dense 3x3 with 32+ channels; anything else the measured rule. The
** caller falls back to direct where oneDNN offers no such kernel. */
di_nn_conv_algo di_nn_conv_pick(const char *knob, const di_nn_conv_shape *s);

/* Whether the Winograd kernel oneDNN chose for a conv that di_nn_conv_pick
** gave DI_CONV_WINOGRAD (impl: its implementation string) runs it well;
** false: take direct instead. Only the F(4x4,3x3) kernel ("jit_wino_4x3")
** has a case to refuse (conv_algo.c); knob "winograd" accepts every one. */
bool di_nn_conv_wino_ok(const char *knob, const char *impl, const di_nn_conv_shape *s);

#endif

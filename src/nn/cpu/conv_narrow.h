/*
** cpu/conv_narrow.h: ops_conv.c's own kernel for a 1x1 Conv with a few
** output channels on an nChw16c input (conv_narrow.c).
*/
#ifndef DI_NN_CPU_CONV_NARROW_H
#define DI_NN_CPU_CONV_NARROW_H

#include <stdbool.h>

#include "cpu.h"

typedef struct conv_narrow conv_narrow;

/* After di_nn_infer_conv: *out the kernel's state where the conv fits it
** (1x1, stride 1, no pad, one group, 1 to 4 output channels, an nChw16c
** float32 input of whole blocks, no post-op but Relu, not bf16), else NULL;
** DI_ENOMEM when out of memory. */
int di_nn_conv_narrow_prepare(di_nn_kctx *k, bool bf16, conv_narrow **out);
/* The output, plain NCHW float32 */
void di_nn_conv_narrow_run(const di_nn_kctx *k, const conv_narrow *c);
void di_nn_conv_narrow_free(conv_narrow *c);

#endif

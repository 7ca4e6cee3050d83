/*
** quant_dnnl.h: MatMulInteger and ConvInteger through oneDNN's u8s8s32
** primitives (quant_dnnl.c), for ops_quant.c. prepare returns DI_OK with
** k->state NULL when the node keeps the plain C kernel (the CPU has no
** VNNI, or a form oneDNN cannot do exactly: the reasons are in
** quant_dnnl.c).
*/
#ifndef DI_NN_CPU_QUANT_DNNL_H
#define DI_NN_CPU_QUANT_DNNL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cpu.h"

/* whether this CPU computes u8 x s8 products exactly in oneDNN (VNNI/AMX:
** no int16 saturation), i.e. whether the oneDNN paths are used at all */
bool di_nn_qdnnl_usable(void);

int di_nn_qdnnl_matmul_prepare(di_nn_kctx *k, di_error *err);
int di_nn_qdnnl_matmul_run(di_nn_kctx *k, di_error *err);
int di_nn_qdnnl_conv_prepare(di_nn_kctx *k, di_error *err);
int di_nn_qdnnl_conv_run(di_nn_kctx *k, di_error *err);
void di_nn_qdnnl_release(void *state);

/* how many oneDNN integer primitives this process has built: lets the tests
** see that a node took the oneDNN path rather than the plain kernel */
extern atomic_int di_nn_qdnnl_built;

#endif

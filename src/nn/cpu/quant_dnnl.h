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
#include <stdint.h>

#include "cpu.h"

/* whether this CPU computes u8 x s8 products exactly in oneDNN (VNNI/AMX:
** no int16 saturation), i.e. whether the oneDNN paths are used at all */
bool di_nn_qdnnl_usable(void);

int di_nn_qdnnl_matmul_prepare(di_nn_kctx *k, di_error *err);
int di_nn_qdnnl_matmul_run(di_nn_kctx *k, di_error *err);
/* the primitive alone: y (out[0]'s size) holds P = sum_k (a - a_zp) w_s8; the exact
** result is P + d[j] * (rowsum(a_i) - K * za) where d is not NULL (a is the
** input as uint8, za its zero point). For a kernel that folds this term
** into its own output pass (_MatMulIntegerToFloat). */
typedef struct di_nn_qdnnl_fix {
    const uint8_t *a;
    const int32_t *d;
    int32_t za;
} di_nn_qdnnl_fix;
int di_nn_qdnnl_matmul_exec(di_nn_kctx *k, int32_t *y, di_nn_qdnnl_fix *fix, di_error *err);
int di_nn_qdnnl_conv_prepare(di_nn_kctx *k, di_error *err);
int di_nn_qdnnl_conv_run(di_nn_kctx *k, di_error *err);
void di_nn_qdnnl_release(void *state);

/* DynamicQuantizeLinear (ops_quant.c) on n floats: y, scale and zero point,
** on up to `threads` OpenMP threads, with AVX-512 where simd is set and the
** CPU has it; bit-identical whatever the choice (tests/nn/test_quant_fuse.c) */
void di_nn_dql_compute(const float *x, int64_t n, int threads, bool simd, uint8_t *y, float *scale,
                       uint8_t *zp);

/* how many oneDNN integer primitives this process has built: lets the tests
** see that a node took the oneDNN path rather than the plain kernel */
extern atomic_int di_nn_qdnnl_built;

#endif

/*
** cpu/attention.h: the fused attention's own kernels (attention_softmax.c)
** for ops_attention.c.
*/
#ifndef DI_NN_CPU_ATTENTION_H
#define DI_NN_CPU_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

/* Whether this CPU runs di_nn_att_softmax_rows (AVX-512 F, BW and VL). */
bool di_nn_att_softmax_native(void);
/* m rows of n scores s: e = exp(s - the row's max) into s, or rounded to
** bf16 into p (p not NULL), and inv[r] = 1 / the row's sum of e. */
void di_nn_att_softmax_rows(float *s, int64_t m, int64_t n, uint16_t *p, float *inv);
/* O's m rows of dv values times inv[r]: the softmax's division, after the
** product. */
void di_nn_att_scale_rows(float *o, int64_t m, int64_t dv, const float *inv);

#endif

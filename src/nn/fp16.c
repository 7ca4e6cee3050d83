/*
** fp16.c: float16 files computed in float32 (the CPU's precision).
**
** The loader widens every float16 tensor it copies (initializers, Constant
** and ConstantOfShape values) to float32 once (di_nn_fp16_widen), and reads
** float16 in value infos (graph inputs and outputs included) as float32: the
** batch API feeds and returns float32 either way. What float16 arithmetic
** the file asks for explicitly, a Cast to float16, keeps its meaning: the
** value is rounded to float16 precision (RoundFloat16, cpu/ops_fp16.c), so
** a value that the file clamps or saturates in float16 does so here too.
** Everything else runs in float32: the output differs from a float16
** runtime's by float16 rounding only (the tests allow 2e-2 of the range).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

float di_fp16_to_f32(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24); /* zero and subnormals */
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

uint16_t di_f32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000)
        return sign | 0x7e00; /* NaN */
    if (ax >= 0x477ff000)     /* rounds to beyond 65504: infinity */
        return sign | 0x7c00;
    if (ax < 0x38800000) { /* below 2^-14: a float16 subnormal, or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* multiples of 2^-24, nearest even (the FPU's rounding) */
        float q = nearbyintf(a * 16777216.f);
        return sign | (uint16_t)q;
    }
    /* normal: drop 13 mantissa bits, round to nearest even */
    uint32_t r = ax + 0xfff + ((ax >> 13) & 1);
    return sign | (uint16_t)((r - 0x38000000) >> 13);
}

float di_fp16_round(float f)
{
    return di_fp16_to_f32(di_f32_to_fp16(f));
}

float *di_nn_fp16_widen(const uint16_t *h, int64_t n)
{
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    if (!f)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        f[i] = di_fp16_to_f32(h[i]);
    return f;
}

int di_nn_fp16_convert(di_nn_graph *g, di_error *err)
{
    (void)err;
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i].dtype == DI_DT_FLOAT16)
            g->values[i].dtype = DI_DT_FLOAT;
    for (int i = 0; i < g->nnodes; i++) {
        di_nn_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Cast") || di_nn_attr_int(n, "to", 0) != DI_DT_FLOAT16)
            continue;
        char *t = strdup("RoundFloat16");
        if (!t)
            return di_fail(err, DI_ENOMEM, "out of memory");
        free(n->op_type);
        n->op_type = t;
    }
    return DI_OK;
}

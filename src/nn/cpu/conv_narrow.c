/*
** conv_narrow.c: a 1x1 stride-1 Conv with a few output channels (1 to 4: a
** depth head's last conv, 32 -> 1) on an input in oneDNN's nChw16c layout,
** as the Winograd conv before it writes, computed here into a plain NCHW
** output. oneDNN's kernels for it want the input reordered to nhwc first
** (its jit 1x1 kernel takes nChw16c only when the output is blocked too,
** and one channel padded to 16 would need a plain copy after it): at the
** ViT-S/14 + DPT head's 32 x 518 x 518 that reorder read and wrote 34 MB
** and the conv read them again; here the input is read once. Each output
** value is the 16-lane dot products of its pixel's channel blocks summed,
** plus the bias, then the fused Relu if any (ops_conv.c's post-ops: only
** Relu is taken here).
*/
#include <stdlib.h>
#include <string.h>

#include "conv_narrow.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NARROW_AVX512 1
#endif

enum { NARROW_MAX_OC = 4, NARROW_BLK = 16 };

struct conv_narrow {
    int64_t n, cb, hw, oc;
    float w[NARROW_MAX_OC][1024]; /* [oc][C], C = 16 cb <= 1024 */
    float b[NARROW_MAX_OC];
    bool relu, avx512;
};

void di_nn_conv_narrow_free(conv_narrow *c)
{
    free(c);
}

/* x in nChw16c, float32, its channels a whole number of blocks (no padding
** to read), the output float32 */
static bool input_fits(const di_nn_tensor *x)
{
    if (!x->blocked || x->ndim != 4 || x->dims[1] % NARROW_BLK)
        return false;
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
    if (dnnl_memory_desc_init_by_tag(&md, 4, d, dnnl_f32, dnnl_nChw16c) != dnnl_success)
        return false;
    return dnnl_memory_desc_equal(&md, &x->layout->md);
}

int di_nn_conv_narrow_prepare(di_nn_kctx *k, bool bf16, conv_narrow **out)
{
    const di_nn_conv_params *p = k->params;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    *out = NULL;
    const char *e = getenv("DI_NN_CONV_ALGO");
    if ((e && !strcmp(e, "direct")) || bf16 || !input_fits(x) || p->group != 1 || w->ndim != 4 ||
        w->dims[2] != 1 || w->dims[3] != 1 || p->strides[0] != 1 || p->strides[1] != 1 ||
        p->pads[0] || p->pads[1] || p->pads[2] || p->pads[3] || w->dims[0] > NARROW_MAX_OC ||
        x->dims[1] > 1024 || !w->data || w->dtype != DI_DT_FLOAT ||
        (b && (!b->data || b->dtype != DI_DT_FLOAT)) || k->npost > 1 ||
        (k->npost && k->post[0].kind != DI_POST_RELU))
        return DI_OK;
    conv_narrow *c = calloc(1, sizeof *c);
    if (!c)
        return DI_ENOMEM;
    c->n = x->dims[0];
    c->cb = x->dims[1] / NARROW_BLK;
    c->hw = x->dims[2] * x->dims[3];
    c->oc = w->dims[0];
    const float *wd = w->data;
    for (int64_t o = 0; o < c->oc; o++) {
        memcpy(c->w[o], wd + o * x->dims[1], (size_t)x->dims[1] * sizeof(float));
        c->b[o] = b ? ((const float *)b->data)[o] : 0.f;
    }
    c->relu = k->npost == 1;
#ifdef NARROW_AVX512
    c->avx512 = __builtin_cpu_supports("avx512f");
#endif
    *out = c;
    return DI_OK;
}

/* pixels p0 to p1 of output channel o of one image: a block's 16 channels
** of a pixel are one vector, the blocks' products summed across lanes */
static void pixels(const conv_narrow *c, const float *xn, float *yo, int64_t o, int64_t p0,
                   int64_t p1)
{
    for (int64_t px = p0; px < p1; px++) {
        float acc[NARROW_BLK] = {0};
        for (int64_t cb = 0; cb < c->cb; cb++) {
            const float *xp = xn + (cb * c->hw + px) * NARROW_BLK;
            const float *wp = c->w[o] + cb * NARROW_BLK;
            for (int j = 0; j < NARROW_BLK; j++)
                acc[j] += xp[j] * wp[j];
        }
        float v = c->b[o];
        for (int j = 0; j < NARROW_BLK; j++)
            v += acc[j];
        yo[px] = c->relu && v < 0.f ? 0.f : v;
    }
}

#ifdef NARROW_AVX512
__attribute__((target("avx512f"))) static void
pixels_avx512(const conv_narrow *c, const float *xn, float *yo, int64_t o, int64_t p0, int64_t p1)
{
    for (int64_t px = p0; px < p1; px++) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t cb = 0; cb < c->cb; cb++)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(xn + (cb * c->hw + px) * NARROW_BLK),
                                  _mm512_loadu_ps(c->w[o] + cb * NARROW_BLK), acc);
        float v = c->b[o] + _mm512_reduce_add_ps(acc);
        yo[px] = c->relu && v < 0.f ? 0.f : v;
    }
}
#endif

void di_nn_conv_narrow_run(const di_nn_kctx *k, const conv_narrow *c)
{
    enum { CHUNK = 4096 }; /* pixels per work item */
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    int64_t chunks = (c->hw + CHUNK - 1) / CHUNK, items = c->n * chunks;
#pragma omp parallel for num_threads(k->env->threads) if (c->n * c->hw > 32768) schedule(static)
    for (int64_t it = 0; it < items; it++) {
        int64_t n = it / chunks, p0 = it % chunks * CHUNK;
        int64_t p1 = p0 + CHUNK < c->hw ? p0 + CHUNK : c->hw;
        const float *xn = x + n * c->cb * c->hw * NARROW_BLK;
        for (int64_t o = 0; o < c->oc; o++) {
            float *yo = y + (n * c->oc + o) * c->hw;
#ifdef NARROW_AVX512
            if (c->avx512) {
                pixels_avx512(c, xn, yo, o, p0, p1);
                continue;
            }
#endif
            pixels(c, xn, yo, o, p0, p1);
        }
    }
}

/*
** ops_resize.c: Resize on the CPU, linear, nearest and cubic, over the last
** two axes, from the coordinate tables of its infer (infer_resize.c: the
** modes, the scales or sizes, the tables). Works on plain NCHW and on
** oneDNN's channels-inner layouts (nChw8c, nChw16c, nhwc), so a decoder's
** Resize between two convs costs no reorder. In a bf16 session such a
** layout may hold bf16: the output keeps it (weights and sums in float32,
** one rounding per output), so the convs around it need no conversion.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

typedef struct resize_state {
    int64_t planes, block; /* block: channels per pixel (1 plain) */
    bool bf16;             /* input and output hold bf16 */
} resize_state;

/* Which oneDNN layout with channels innermost a tensor has: nChw16c,
** nChw8c or nhwc (all channels per pixel); 0 for another one. */
static dnnl_format_tag_t channel_layout(const di_nn_tensor *t, int64_t *block)
{
    static const dnnl_format_tag_t tags[] = {dnnl_aBcd16b, dnnl_aBcd8b, dnnl_acdb};
    if (t->ndim != 4)
        return 0;
    dnnl_dims_t d = {t->dims[0], t->dims[1], t->dims[2], t->dims[3]};
    for (size_t i = 0; i < 3; i++) {
        dnnl_memory_desc_t md;
        if (dnnl_memory_desc_init_by_tag(&md, 4, d, t->layout->md.data_type, tags[i]) ==
                dnnl_success &&
            dnnl_memory_desc_equal(&md, &t->layout->md)) {
            *block = i == 0 ? 16 : i == 1 ? 8 : t->dims[1];
            return tags[i];
        }
    }
    return 0;
}

static int resize_prepare(di_nn_kctx *k, di_error *err)
{
    di_nn_tensor *x = k->in[0], *y = k->out[0];
    int64_t block = 1;
    dnnl_format_tag_t tag = 0;
    if (x->blocked &&
        ((x->layout->md.data_type != dnnl_f32 && x->layout->md.data_type != dnnl_bf16) ||
         !(tag = channel_layout(x, &block))))
        return DI_NN_NEED_PLAIN;
    resize_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->block = block;
    s->bf16 = tag && x->layout->md.data_type == dnnl_bf16;
    s->planes = 1;
    for (int i = 0; i < x->ndim - 2; i++)
        s->planes *= x->dims[i];
    if (tag) {
        s->planes = x->dims[0] * ((x->dims[1] + block - 1) / block);
        dnnl_dims_t d = {y->dims[0], y->dims[1], y->dims[2], y->dims[3]};
        dnnl_memory_desc_init_by_tag(&y->layout->md, 4, d, x->layout->md.data_type, tag);
        y->blocked = true;
    }
    k->state = s;
    return DI_OK;
}

/* One output row (p, oy) of every channel in the block: T the element
** type, LD(v) its value as a float, ST(f) a float as one, b the channels
** per pixel (a constant where the caller knows it). */
/* (not formatted: _Pragma takes one string literal, not a wrapped one) */
/* clang-format off */
#define RESIZE_ROWS(T, LD, ST, BLOCK)                                                   \
    do {                                                                                \
        const int64_t b = (BLOCK);                                                      \
        const T *x = k->in[0]->data;                                                    \
        T *y = k->out[0]->data;                                                         \
        _Pragma("omp parallel for num_threads(k->env->threads) if (rows * ow * b > 32768) schedule(static)") \
        for (int64_t r = 0; r < rows; r++) {                                            \
            int64_t p = r / t->oh, oy = r % t->oh;                                      \
            const T *plane = x + p * t->ih * iw * b;                                    \
            const T *r0 = plane + t->y0[oy] * iw * b, *r1 = plane + t->y1[oy] * iw * b; \
            T *out = y + (p * t->oh + oy) * ow * b;                                     \
            if (t->cubic) {                                                             \
                const int64_t *ry = t->cy + 4 * oy;                                     \
                const float *wy4 = t->wcy + 4 * oy;                                     \
                for (int64_t ox = 0; ox < ow; ox++) {                                   \
                    const int64_t *cx = t->cx + 4 * ox;                                 \
                    const float *wx4 = t->wcx + 4 * ox;                                 \
                    for (int64_t c = 0; c < b; c++) {                                   \
                        float acc = 0.f;                                                \
                        for (int jy = 0; jy < 4; jy++) {                                \
                            const T *row = plane + ry[jy] * iw * b + c;                 \
                            float h = wx4[0] * LD(row[cx[0] * b]) + wx4[1] * LD(row[cx[1] * b]) + \
                                      wx4[2] * LD(row[cx[2] * b]) + wx4[3] * LD(row[cx[3] * b]); \
                            acc += wy4[jy] * h;                                         \
                        }                                                               \
                        out[ox * b + c] = ST(acc);                                      \
                    }                                                                   \
                }                                                                       \
                continue;                                                               \
            }                                                                           \
            if (!t->linear) {                                                           \
                for (int64_t ox = 0; ox < ow; ox++)                                     \
                    for (int64_t c = 0; c < b; c++)                                     \
                        out[ox * b + c] = r0[t->x0[ox] * b + c];                        \
                continue;                                                               \
            }                                                                           \
            const float wy = t->wy[oy];                                                 \
            for (int64_t ox = 0; ox < ow; ox++) {                                       \
                const float wx = t->wx[ox];                                             \
                const T *a0 = r0 + t->x0[ox] * b, *a1 = r0 + t->x1[ox] * b;             \
                const T *b0 = r1 + t->x0[ox] * b, *b1 = r1 + t->x1[ox] * b;             \
                for (int64_t c = 0; c < b; c++) {                                       \
                    float top = LD(a0[c]) + wx * (LD(a1[c]) - LD(a0[c]));               \
                    float bot = LD(b0[c]) + wx * (LD(b1[c]) - LD(b0[c]));               \
                    out[ox * b + c] = ST(top + wy * (bot - top));                       \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    } while (0)
/* clang-format on */
#define AS_IS(v) (v)

static int resize_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const resize_state *rs = k->state;
    const di_nn_resize_tables *t = di_nn_resize_tables_of(k);
    const int64_t iw = t->iw, ow = t->ow;
    const int64_t rows = rs->planes * t->oh;
    /* nChw16c (a Winograd conv's output) with the block's 16 channels a
    ** constant: one vector per pixel and no loop around it. DPT at 518x518,
    ** one thread: the Resizes 6.3 -> 4.1 ms per image, MiDaS small 1.7 ->
    ** 1.0 (bench/run-conv-algo.sh's Resize column); at 2 threads DPT's stay
    ** at 4.1 (their 60 MB of output bound them), MiDaS's 1.2 -> 1.0 */
    if (rs->bf16 && rs->block == 16)
        RESIZE_ROWS(uint16_t, di_bf16_float, di_bf16_of, 16);
    else if (rs->bf16)
        RESIZE_ROWS(uint16_t, di_bf16_float, di_bf16_of, rs->block);
    else if (rs->block == 16)
        RESIZE_ROWS(float, AS_IS, AS_IS, 16);
    else
        RESIZE_ROWS(float, AS_IS, AS_IS, rs->block);
    return DI_OK;
}

const di_nn_op di_op_Resize = {
    .name = "Resize",
    .min_in = 1,
    .max_in = 4,
    .flags = DI_OP_BLOCKED_OK | DI_OP_BF16_OK | DI_OP_PER_IMAGE,
    .check = di_nn_check_resize,
    .infer = di_nn_infer_resize,
    .params_size = sizeof(di_nn_resize_params),
    .release_params = di_nn_resize_release_params,
    .prepare = resize_prepare,
    .run = resize_run,
    .release = free,
};

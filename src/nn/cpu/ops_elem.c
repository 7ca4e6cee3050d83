/*
** ops_elem.c: element-wise ops in plain C (the compiler vectorises the
** loops; OpenMP splits large ones over the session's threads).
**
** Unary ops (Relu, Clip) work on any layout, oneDNN's blocked ones included:
** the output takes the input's layout, and its data type: a bf16 Conv's
** output stays bf16 through them (DI_OP_BF16_OK). Binary ops broadcast as
** numpy does on plain data; two inputs of the same shape and the same
** blocked layout are added in that layout, padding and all.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#define PAR_MIN 32768 /* elements below which one thread is faster */

static bool is_bf16(const di_nn_tensor *t)
{
    return t->blocked && t->layout->md.data_type == dnnl_bf16;
}

/* A float rounded to the nearest bf16 (even on ties), as bits; finite input. */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static size_t buffer_elems(const di_nn_tensor *t)
{
    if (t->blocked)
        return dnnl_memory_desc_get_size(&t->layout->md) /
               (is_bf16(t) ? 2 : di_dtype_size(t->dtype));
    return (size_t)di_nn_numel(t);
}

/* The output (shaped by the op's infer) in the input's layout. */
static void same_layout(di_nn_tensor *out, const di_nn_tensor *in)
{
    out->blocked = in->blocked;
    out->layout->md = in->layout->md;
}

/* ---- Relu, Clip ---- */

/* After di_nn_infer_clamp (types, scalar bounds, shape): the layout. */
static int unary_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    same_layout(k->out[0], k->in[0]);
    return DI_OK;
}

static int relu_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    size_t n = buffer_elems(k->in[0]);
    if (is_bf16(k->in[0])) { /* the sign bit says it: negatives (and NaN with it) to 0 */
        const uint16_t *xh = k->in[0]->data;
        uint16_t *yh = k->out[0]->data;
#pragma omp parallel for num_threads(k->env->threads) if (n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < n; i++)
            yh[i] = xh[i] & 0x8000u ? 0 : xh[i];
        return DI_OK;
    }
#pragma omp parallel for num_threads(k->env->threads) if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.f ? x[i] : 0.f;
    return DI_OK;
}

static int clip_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    float lo = -INFINITY, hi = INFINITY;
    if (k->nin > 1 && k->in[1])
        lo = *(const float *)k->in[1]->data;
    if (k->nin > 2 && k->in[2])
        hi = *(const float *)k->in[2]->data;
    size_t n = buffer_elems(k->in[0]);
    if (is_bf16(k->in[0])) { /* bounds rounded to bf16, so that the result is one */
        const uint16_t *xh = k->in[0]->data;
        uint16_t *yh = k->out[0]->data;
        float lo16 = isfinite(lo) ? from_bf16(to_bf16(lo)) : lo;
        float hi16 = isfinite(hi) ? from_bf16(to_bf16(hi)) : hi;
#pragma omp parallel for num_threads(k->env->threads) if (n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = from_bf16(xh[i]);
            yh[i] = v < lo16 ? to_bf16(lo16) : v > hi16 ? to_bf16(hi16) : xh[i];
        }
        return DI_OK;
    }
#pragma omp parallel for num_threads(k->env->threads) if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
    return DI_OK;
}

const di_nn_op di_op_Relu = {
    .name = "Relu",
    .min_in = 1,
    .max_in = 1,
    .flags = DI_OP_BLOCKED_OK | DI_OP_BF16_OK | DI_OP_ELEMENTWISE | DI_OP_PER_IMAGE,
    .post_kind = DI_POST_RELU,
    .unary = DI_U_RELU,
    .infer = di_nn_infer_clamp,
    .params_size = sizeof(di_nn_unary_params),
    .prepare = unary_prepare,
    .run = relu_run,
};

const di_nn_op di_op_Clip = {
    .name = "Clip",
    .min_in = 1,
    .max_in = 3,
    .flags = DI_OP_BLOCKED_OK | DI_OP_BF16_OK | DI_OP_ELEMENTWISE | DI_OP_PER_IMAGE,
    .post_kind = DI_POST_CLIP,
    .unary = DI_U_CLIP,
    .infer = di_nn_infer_clamp,
    .params_size = sizeof(di_nn_unary_params),
    .prepare = unary_prepare,
    .run = clip_run,
};

/* ---- binary arithmetic with broadcasting ---- */

typedef struct bin_state {
    int ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    int64_t sa[DI_NN_MAX_DIMS], sb[DI_NN_MAX_DIMS]; /* element strides, 0 = broadcast */
    bool flat; /* same shape (or same blocked layout): one loop */
    size_t n;
} bin_state;

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW };

static int bin_kind(const di_nn_node *n)
{
    switch (n->op_type[0]) {
    case 'A': return OP_ADD;
    case 'S': return OP_SUB;
    case 'M': return OP_MUL;
    case 'D': return OP_DIV;
    default: return OP_POW;
    }
}

/* After di_nn_infer_binary (types, the broadcast output shape): the loop's
** strides, or the same blocked layout for both inputs and the output. */
static int bin_prepare(di_nn_kctx *k, di_error *err)
{
    di_nn_tensor *a = k->in[0], *b = k->in[1], *y = k->out[0];
    bin_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    if (a->blocked || b->blocked) {
        bool same = a->blocked && b->blocked && a->ndim == b->ndim &&
                    dnnl_memory_desc_equal(&a->layout->md, &b->layout->md);
        for (int i = 0; same && i < a->ndim; i++)
            same = a->dims[i] == b->dims[i];
        if (!same) {
            free(s);
            return DI_NN_NEED_PLAIN;
        }
        same_layout(y, a);
        s->flat = true;
        s->n = buffer_elems(a);
        k->state = s;
        return DI_OK;
    }
    s->ndim = y->ndim;
    memcpy(s->dims, y->dims, sizeof s->dims);
    s->n = (size_t)di_nn_numel(y);
    int64_t ra = 1, rb = 1;
    bool flat = true;
    for (int i = s->ndim - 1; i >= 0; i--) {
        int ia = i - (s->ndim - a->ndim), ib = i - (s->ndim - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        s->sa[i] = da == 1 && s->dims[i] != 1 ? 0 : ra;
        s->sb[i] = db == 1 && s->dims[i] != 1 ? 0 : rb;
        if (da != s->dims[i] || db != s->dims[i])
            flat = false;
        ra *= da;
        rb *= db;
    }
    s->flat = flat;
    k->state = s;
    return DI_OK;
}

/* (not formatted: _Pragma takes one string literal, not a wrapped one) */
/* clang-format off */
#define BIN_LOOP(T, EXPR)                                                     \
    do {                                                                      \
        const T *A = a, *B = b;                                               \
        T *Y = y;                                                             \
        if (s->flat) {                                                        \
            _Pragma("omp parallel for num_threads(threads) if (s->n > PAR_MIN) schedule(static)") \
            for (size_t i = 0; i < s->n; i++) {                               \
                T x = A[i], z = B[i];                                         \
                Y[i] = (EXPR);                                                \
            }                                                                 \
            break;                                                            \
        }                                                                     \
        int nd = s->ndim;                                                     \
        int64_t inner = nd ? s->dims[nd - 1] : 1;                             \
        int64_t ia_s = nd ? s->sa[nd - 1] : 0, ib_s = nd ? s->sb[nd - 1] : 0; \
        size_t rows = inner ? s->n / (size_t)inner : 0;                       \
        _Pragma("omp parallel for num_threads(threads) if (s->n > PAR_MIN) schedule(static)") \
        for (size_t r = 0; r < rows; r++) {                                   \
            int64_t oa = 0, ob = 0, rem = (int64_t)r;                         \
            for (int d = nd - 2; d >= 0; d--) {                               \
                int64_t idx = rem % s->dims[d];                               \
                rem /= s->dims[d];                                            \
                oa += idx * s->sa[d];                                         \
                ob += idx * s->sb[d];                                         \
            }                                                                 \
            T *yr = Y + r * (size_t)inner;                                    \
            const T *ar = A + oa, *br = B + ob;                               \
            /* constant strides, so that these vectorise */                   \
            if (ia_s == 1 && ib_s == 1)                                       \
                for (int64_t i = 0; i < inner; i++) {                         \
                    T x = ar[i], z = br[i];                                   \
                    yr[i] = (EXPR);                                           \
                }                                                             \
            else if (ia_s == 1 && ib_s == 0)                                  \
                for (int64_t i = 0; i < inner; i++) {                         \
                    T x = ar[i], z = br[0];                                   \
                    yr[i] = (EXPR);                                           \
                }                                                             \
            else if (ia_s == 0 && ib_s == 1)                                  \
                for (int64_t i = 0; i < inner; i++) {                         \
                    T x = ar[0], z = br[i];                                   \
                    yr[i] = (EXPR);                                           \
                }                                                             \
            else                                                              \
                for (int64_t i = 0; i < inner; i++) {                         \
                    T x = ar[i * ia_s], z = br[i * ib_s];                     \
                    yr[i] = (EXPR);                                           \
                }                                                             \
        }                                                                     \
    } while (0)
/* clang-format on */

static int bin_run(di_nn_kctx *k, di_error *err)
{
    const bin_state *s = k->state;
    const void *a = k->in[0]->data, *b = k->in[1]->data;
    void *y = k->out[0]->data;
    int threads = k->env->threads;
    int kind = bin_kind(k->node);
    if (k->in[0]->dtype == DI_DT_FLOAT) {
        switch (kind) {
        case OP_ADD: BIN_LOOP(float, x + z); break;
        case OP_SUB: BIN_LOOP(float, x - z); break;
        case OP_MUL: BIN_LOOP(float, x *z); break;
        case OP_DIV: BIN_LOOP(float, x / z); break;
        default:
            /* x^2 (the decomposed LayerNorm's variance) as a product: powf is slow */
            if (di_nn_numel(k->in[1]) == 1 && *(const float *)b == 2.f)
                BIN_LOOP(float, ((void)z, x * x));
            else
                BIN_LOOP(float, powf(x, z));
            break;
        }
        return DI_OK;
    }
    if (kind == OP_DIV) {
        /* integer division by zero is undefined: refuse it */
        size_t nb = (size_t)di_nn_numel(k->in[1]);
        for (size_t i = 0; i < nb; i++) {
            int64_t v =
                k->in[1]->dtype == DI_DT_INT64 ? ((const int64_t *)b)[i] : ((const int32_t *)b)[i];
            if (v == 0)
                return di_nn_node_fail(err, DI_EINVAL, k->node, "integer division by zero");
        }
    }
    if (k->in[0]->dtype == DI_DT_INT64) {
        switch (kind) {
        case OP_ADD: BIN_LOOP(int64_t, (int64_t)((uint64_t)x + (uint64_t)z)); break;
        case OP_SUB: BIN_LOOP(int64_t, (int64_t)((uint64_t)x - (uint64_t)z)); break;
        case OP_MUL: BIN_LOOP(int64_t, (int64_t)((uint64_t)x * (uint64_t)z)); break;
        default: BIN_LOOP(int64_t, x / z); break;
        }
    } else {
        switch (kind) {
        case OP_ADD: BIN_LOOP(int32_t, (int32_t)((uint32_t)x + (uint32_t)z)); break;
        case OP_SUB: BIN_LOOP(int32_t, (int32_t)((uint32_t)x - (uint32_t)z)); break;
        case OP_MUL: BIN_LOOP(int32_t, (int32_t)((uint32_t)x * (uint32_t)z)); break;
        default: BIN_LOOP(int32_t, x / z); break;
        }
    }
    return DI_OK;
}

/* Div and Pow only on plain data: 0/0 in the zero padding of a blocked
** layout would put NaN where a later conv multiplies it by a zero weight. */
#define BINARY_OP(NAME, FLAGS, POST)                                                               \
    const di_nn_op di_op_##NAME = {                                                                \
        .name = #NAME,                                                                             \
        .min_in = 2,                                                                               \
        .max_in = 2,                                                                               \
        .flags = (FLAGS) | DI_OP_PER_IMAGE | DI_OP_BROADCAST,                                      \
        .post_kind = (POST),                                                                       \
        .infer = di_nn_infer_binary,                                                               \
        .prepare = bin_prepare,                                                                    \
        .run = bin_run,                                                                            \
        .release = free,                                                                           \
    };
BINARY_OP(Add, DI_OP_BLOCKED_OK, DI_POST_SUM)
BINARY_OP(Sub, DI_OP_BLOCKED_OK, 0)
BINARY_OP(Mul, DI_OP_BLOCKED_OK, 0)
BINARY_OP(Div, 0, 0)
BINARY_OP(Pow, 0, 0)

/*
** ops_elem.c: element-wise ops in plain C (the compiler vectorises the
** loops; OpenMP splits large ones over the session's threads).
**
** Unary ops (Relu, Clip) work on any layout, oneDNN's blocked ones included:
** the output takes the input's layout, and its data type: a bf16 Conv's
** output stays bf16 through them (DI_OP_BF16_OK). Binary ops broadcast as
** numpy does on plain data; two inputs of the same shape and the same
** blocked layout are added in that layout, padding and all. In a bf16
** session such inputs may hold bf16 (one or both): the sum is computed in
** float32 and written as bf16, so that a residual Add between bf16 convs
** costs no conversion pass (DI_OP_BF16_OK); any other mix goes plain
** float32 (DI_NN_NEED_PLAIN: the planner converts the inputs).
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
        float lo16 = isfinite(lo) ? di_bf16_float(di_bf16_of(lo)) : lo;
        float hi16 = isfinite(hi) ? di_bf16_float(di_bf16_of(hi)) : hi;
#pragma omp parallel for num_threads(k->env->threads) if (n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = di_bf16_float(xh[i]);
            yh[i] = v < lo16 ? di_bf16_of(lo16) : v > hi16 ? di_bf16_of(hi16) : xh[i];
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
    bool flat;     /* same shape (or same blocked layout): one loop */
    bool a16, b16; /* flat: input a (b) holds bf16, and so does the output */
    bool b1;       /* flat: b is one float (a blocked Mul's constant factor) */
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
        /* the same layout but maybe not the same element type (f32 and bf16) */
        dnnl_memory_desc_t bmd = b->layout->md;
        bmd.data_type = a->layout->md.data_type;
        bool same = a->blocked && b->blocked && a->ndim == b->ndim &&
                    dnnl_memory_desc_equal(&a->layout->md, &bmd);
        for (int i = 0; same && i < a->ndim; i++)
            same = a->dims[i] == b->dims[i];
        /* a blocked value times one constant finite number (a residual
        ** branch's scale): its zero padding stays zero, as a later conv
        ** needs it (not so for +, nor for inf or NaN) */
        bool scale = bin_kind(k->node) == OP_MUL && a->blocked && !b->blocked && b->is_const &&
                     b->data && b->dtype == DI_DT_FLOAT && di_nn_numel(b) == 1 &&
                     isfinite(*(const float *)b->data) && y->ndim == a->ndim;
        for (int i = 0; scale && i < a->ndim; i++)
            scale = y->dims[i] == a->dims[i];
        if (scale) {
            s->a16 = is_bf16(a);
            s->b1 = true;
            same_layout(y, a);
            s->flat = true;
            s->n = buffer_elems(a);
            k->state = s;
            return DI_OK;
        }
        if (!same) {
            free(s);
            return DI_NN_NEED_PLAIN;
        }
        s->a16 = is_bf16(a);
        s->b16 = is_bf16(b);
        same_layout(y, s->a16 || !s->b16 ? a : b);
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

/* Same blocked layout, one input or both bf16: float32 arithmetic, a bf16
** result (rounded once, as a bf16 conv's output is). */
/* (not formatted: _Pragma takes one string literal, not a wrapped one) */
/* clang-format off */
#define BF16_LOOP(X, Z, K)                                                                \
    do {                                                                                  \
        _Pragma("omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)") \
        for (size_t i = 0; i < n; i++) {                                                  \
            float x = (X), z = (Z);                                                       \
            yh[i] = di_bf16_of((K) == OP_ADD ? x + z : (K) == OP_SUB ? x - z : x * z);    \
        }                                                                                 \
    } while (0)
/* one loop per kind and input types, so that each vectorises */
#define BF16_KINDS(X, Z)                                                                  \
    do {                                                                                  \
        if (kind == OP_ADD) BF16_LOOP(X, Z, OP_ADD);                                      \
        else if (kind == OP_SUB) BF16_LOOP(X, Z, OP_SUB);                                 \
        else BF16_LOOP(X, Z, OP_MUL);                                                     \
    } while (0)
/* clang-format on */

static void bin_run_bf16(const bin_state *s, int kind, const void *a, const void *b, void *y,
                         int threads)
{
    const float *af = a, *bf = b;
    const uint16_t *ah = a, *bh = b;
    uint16_t *yh = y;
    size_t n = s->n;
    if (s->b1) {
        const float k1 = bf[0];
        BF16_KINDS(di_bf16_float(ah[i]), k1);
    } else if (s->a16 && s->b16) {
        BF16_KINDS(di_bf16_float(ah[i]), di_bf16_float(bh[i]));
    } else if (s->a16) {
        BF16_KINDS(di_bf16_float(ah[i]), bf[i]);
    } else {
        BF16_KINDS(af[i], di_bf16_float(bh[i]));
    }
}

static int bin_run(di_nn_kctx *k, di_error *err)
{
    const bin_state *s = k->state;
    const void *a = k->in[0]->data, *b = k->in[1]->data;
    void *y = k->out[0]->data;
    int threads = k->env->threads;
    int kind = bin_kind(k->node);
    if (s->a16 || s->b16) {
        bin_run_bf16(s, kind, a, b, y, threads);
        return DI_OK;
    }
    if (s->b1) { /* float32 blocked times one number */
        const float *A = a, z = *(const float *)b;
        float *Y = y;
#pragma omp parallel for num_threads(threads) if (s->n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < s->n; i++)
            Y[i] = A[i] * z;
        return DI_OK;
    }
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
BINARY_OP(Add, DI_OP_BLOCKED_OK | DI_OP_BF16_OK, DI_POST_SUM)
BINARY_OP(Sub, DI_OP_BLOCKED_OK | DI_OP_BF16_OK, 0)
BINARY_OP(Mul, DI_OP_BLOCKED_OK | DI_OP_BF16_OK, 0)
BINARY_OP(Div, 0, 0)
BINARY_OP(Pow, 0, 0)

/*
** ops_math.c: element-wise math in plain C on plain data: unary float ops
** (Sqrt, Erf, Sigmoid, Exp, Log, Tanh, Neg, Abs, Reciprocal, Gelu,
** LeakyRelu), Cast, comparisons (Equal, Less, Greater) and Where, with
** numpy broadcasting.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* ---- broadcasting over up to three inputs ---- */

typedef struct bcast {
    int ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    int64_t st[3][DI_NN_MAX_DIMS]; /* element strides per input, 0 = broadcast */
    int64_t n;
} bcast;

static int bcast_init(const di_nn_node *node, di_nn_tensor **in, int nin, bcast *b, di_error *err)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < nin; i++)
        if (in[i]->ndim > b->ndim)
            b->ndim = in[i]->ndim;
    for (int d = 0; d < b->ndim; d++) {
        int64_t size = 1;
        for (int i = 0; i < nin; i++) {
            int id = d - (b->ndim - in[i]->ndim);
            int64_t di = id >= 0 ? in[i]->dims[id] : 1;
            if (di != 1) {
                if (size != 1 && size != di)
                    return di_nn_shape_error(err, node,
                                             "shapes do not broadcast (dimension %d: %lld vs %lld)",
                                             d, (long long)size, (long long)di);
                size = di;
            }
        }
        b->dims[d] = size;
    }
    for (int i = 0; i < nin; i++) {
        int64_t r = 1;
        for (int d = b->ndim - 1; d >= 0; d--) {
            int id = d - (b->ndim - in[i]->ndim);
            int64_t di = id >= 0 ? in[i]->dims[id] : 1;
            b->st[i][d] = di == 1 ? 0 : r;
            r *= di;
        }
    }
    b->n = di_shape_numel(b->ndim, b->dims);
    return DI_OK;
}

/* The prepare step every broadcasting kernel shares: the broadcast strides
** of its first nin inputs as the kernel's state (the output's shape and type
** are its infer's: infer_elem.c). */
static int bcast_prepare(di_nn_kctx *k, int nin, di_error *err)
{
    bcast *b = malloc(sizeof *b);
    if (!b)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = bcast_init(k->node, k->in, nin, b, err);
    if (rc) {
        free(b);
        return rc;
    }
    k->state = b;
    return DI_OK;
}

/* Calls f(ctx, out_index, offset0, offset1, offset2) for every element. */
#define BCAST_FOR(b, ...)                                                                          \
    do {                                                                                           \
        int64_t idx_[DI_NN_MAX_DIMS] = {0}, o0_ = 0, o1_ = 0, o2_ = 0;                             \
        for (int64_t i_ = 0; i_ < (b)->n; i_++) {                                                  \
            const int64_t I = i_, A = o0_, B = o1_, C = o2_;                                       \
            (void)I, (void)A, (void)B, (void)C;                                                    \
            __VA_ARGS__;                                                                           \
            for (int d_ = (b)->ndim - 1; d_ >= 0; d_--) {                                          \
                idx_[d_]++;                                                                        \
                o0_ += (b)->st[0][d_];                                                             \
                o1_ += (b)->st[1][d_];                                                             \
                o2_ += (b)->st[2][d_];                                                             \
                if (idx_[d_] < (b)->dims[d_])                                                      \
                    break;                                                                         \
                o0_ -= (b)->st[0][d_] * idx_[d_];                                                  \
                o1_ -= (b)->st[1][d_] * idx_[d_];                                                  \
                o2_ -= (b)->st[2][d_] * idx_[d_];                                                  \
                idx_[d_] = 0;                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static double get_num(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case DI_DT_FLOAT: return ((const float *)p)[i];
    case DI_DT_DOUBLE: return ((const double *)p)[i];
    case DI_DT_INT64: return (double)((const int64_t *)p)[i];
    case DI_DT_INT32: return ((const int32_t *)p)[i];
    case DI_DT_INT8: return ((const int8_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

/* ---- unary float ops ---- */

/* Every kind of unary.h has its case in unary_run: a new kind fails the build
** here until it has one (the last case is the switch's default). */
_Static_assert(DI_U_COUNT == DI_U_SOFTSIGN + 1, "a unary kind without its case in unary_run");

static int unary_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (!strcmp(n->op_type, "Gelu")) { /* n->op is not set yet at check time */
        const char *a = di_nn_attr_string(n, "approximate", "none");
        if (strcmp(a, "none") && strcmp(a, "tanh"))
            return di_nn_unsupported(err, n, "approximate=%s", a);
    }
    return DI_OK;
}

/* Gelu through oneDNN's eltwise primitive (a vectorised erf / tanh): the
** MLP of a transformer runs it on its widest tensor. Other ops: no state. */
typedef struct eltwise_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} eltwise_state;

static void unary_release(void *p)
{
    eltwise_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->src)
        dnnl_memory_destroy(s->src);
    if (s->dst)
        dnnl_memory_destroy(s->dst);
    free(s);
}

static void gelu_dnnl(di_nn_kctx *k, int kind)
{
    dnnl_dims_t d = {di_nn_numel(k->in[0])};
    if (d[0] == 0)
        return;
    eltwise_state *s = calloc(1, sizeof *s);
    dnnl_memory_desc_t md;
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = s && dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a) == dnnl_success &&
              dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference,
                                             kind == DI_U_GELU ? dnnl_eltwise_gelu_erf
                                                               : dnnl_eltwise_gelu_tanh,
                                             &md, 0.f, 0.f) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &ed, NULL, cpu_engine(k), NULL) == dnnl_success &&
              dnnl_primitive_create(&s->prim, pd) == dnnl_success &&
              dnnl_memory_create(&s->src, &md, cpu_engine(k), DNNL_MEMORY_NONE) == dnnl_success &&
              dnnl_memory_create(&s->dst, &md, cpu_engine(k), DNNL_MEMORY_NONE) == dnnl_success;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (ok)
        k->state = s;
    else
        unary_release(s); /* the plain loop does it */
}

/* After di_nn_infer_unary: only Gelu has CPU state. */
static int unary_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int kind = di_nn_unary_params_in(k)->kind;
    if (kind == DI_U_GELU || kind == DI_U_GELU_TANH)
        gelu_dnnl(k, kind);
    return DI_OK;
}

static int unary_run(di_nn_kctx *k, di_error *err)
{
    eltwise_state *es = k->state;
    if (es) {
        dnnl_memory_set_data_handle(es->src, k->in[0]->data);
        dnnl_memory_set_data_handle(es->dst, k->out[0]->data);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, es->src}, {DNNL_ARG_DST, es->dst}};
        dnnl_status_t st = dnnl_primitive_execute(es->prim, cpu_stream(k), 2, args);
        if (st == dnnl_success)
            st = dnnl_stream_wait(cpu_stream(k));
        return st == dnnl_success ? DI_OK : di_nn_dnnl_fail(err, k->node, "gelu", st);
    }
    const di_nn_unary_params up = *di_nn_unary_params_in(k);
    int kind = up.kind;
    int64_t n = di_nn_numel(k->in[0]);
    if (k->in[0]->dtype == DI_DT_INT64) {
        const int64_t *x = k->in[0]->data;
        int64_t *y = k->out[0]->data;
        for (int64_t i = 0; i < n; i++)
            y[i] = kind == DI_U_NEG ? (int64_t)(0 - (uint64_t)x[i])
                                    : (x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i]);
        return DI_OK;
    }
    if (k->in[0]->dtype == DI_DT_INT32) {
        const int32_t *x = k->in[0]->data;
        int32_t *y = k->out[0]->data;
        for (int64_t i = 0; i < n; i++)
            y[i] = kind == DI_U_NEG ? (int32_t)(0 - (uint32_t)x[i])
                                    : (x[i] < 0 ? (int32_t)(0 - (uint32_t)x[i]) : x[i]);
        return DI_OK;
    }
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    float alpha = up.alpha, beta = up.beta, gamma = up.gamma;
    int threads = k->env->threads;
    /* (not formatted: _Pragma takes one string literal, not a wrapped one) */
    /* clang-format off */
#define U_LOOP(EXPR)                                                                     \
    _Pragma("omp parallel for num_threads(threads) if (n > 32768) schedule(static)")    \
    for (int64_t i = 0; i < n; i++) {                                                  \
        float v = x[i];                                                                \
        y[i] = (EXPR);                                                                 \
    }
    /* clang-format on */
    switch (kind) {
    case DI_U_SQRT: U_LOOP(sqrtf(v)); break;
    case DI_U_ERF: U_LOOP(erff(v)); break;
    case DI_U_SIGMOID: U_LOOP(v >= 0 ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v))); break;
    case DI_U_EXP: U_LOOP(expf(v)); break;
    case DI_U_LOG: U_LOOP(logf(v)); break;
    case DI_U_TANH: U_LOOP(tanhf(v)); break;
    case DI_U_NEG: U_LOOP(-v); break;
    case DI_U_ABS: U_LOOP(fabsf(v)); break;
    case DI_U_RECIP: U_LOOP(1.f / v); break;
    case DI_U_GELU: U_LOOP(0.5f * v * (1.f + erff(v * 0.70710678118654752f))); break;
    case DI_U_GELU_TANH:
        U_LOOP(0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v))));
        break;
    case DI_U_LEAKY: U_LOOP(v >= 0 ? v : alpha * v); break;
    case DI_U_FLOOR: U_LOOP(floorf(v)); break;
    case DI_U_CEIL: U_LOOP(ceilf(v)); break;
    case DI_U_HARDSIGMOID: U_LOOP(fmaxf(0.f, fminf(1.f, alpha * v + beta))); break;
    case DI_U_HARDSWISH: U_LOOP(v * fmaxf(0.f, fminf(1.f, v / 6.f + 0.5f))); break;
    case DI_U_SOFTPLUS: U_LOOP(v > 20.f ? v : log1pf(expf(v))); break;
    case DI_U_ELU: U_LOOP(v >= 0 ? v : alpha * (expf(v) - 1.f)); break;
    case DI_U_SELU: U_LOOP(v > 0 ? gamma * v : gamma * alpha * (expf(v) - 1.f)); break;
    case DI_U_ROUND: U_LOOP(nearbyintf(v)); break; /* half to even, as the default rounding mode */
    case DI_U_SIGN: U_LOOP(v > 0 ? 1.f : v < 0 ? -1.f : 0.f); break;
    case DI_U_SIN: U_LOOP(sinf(v)); break;
    case DI_U_COS: U_LOOP(cosf(v)); break;
    default: U_LOOP(v / (1.f + fabsf(v))); break;
    }
#undef U_LOOP
    return DI_OK;
}

/* POST: the post-op a MatMul takes this op as (Gelu), 0 for none */
#define UNARY_OP_POST(NAME, KIND, POST)                                                            \
    const di_nn_op di_op_##NAME = {                                                                \
        .name = #NAME,                                                                             \
        .min_in = 1,                                                                               \
        .max_in = 1,                                                                               \
        .flags = DI_OP_PER_IMAGE,                                                                  \
        .post_kind = (POST),                                                                       \
        .unary = (KIND),                                                                           \
        .check = unary_check,                                                                      \
        .infer = di_nn_infer_unary,                                                                \
        .params_size = sizeof(di_nn_unary_params),                                                 \
        .prepare = unary_prepare,                                                                  \
        .run = unary_run,                                                                          \
        .release = unary_release,                                                                  \
    };
#define UNARY_OP(NAME, KIND) UNARY_OP_POST(NAME, KIND, 0)
UNARY_OP(Sqrt, DI_U_SQRT)
UNARY_OP(Erf, DI_U_ERF)
UNARY_OP(Sigmoid, DI_U_SIGMOID)
UNARY_OP(Exp, DI_U_EXP)
UNARY_OP(Log, DI_U_LOG)
UNARY_OP(Tanh, DI_U_TANH)
UNARY_OP(Neg, DI_U_NEG)
UNARY_OP(Abs, DI_U_ABS)
UNARY_OP(Reciprocal, DI_U_RECIP)
UNARY_OP_POST(Gelu, DI_U_GELU, DI_POST_GELU)
UNARY_OP(LeakyRelu, DI_U_LEAKY)
UNARY_OP(Floor, DI_U_FLOOR)
UNARY_OP(Ceil, DI_U_CEIL)
UNARY_OP(HardSigmoid, DI_U_HARDSIGMOID)
UNARY_OP(HardSwish, DI_U_HARDSWISH)
UNARY_OP(Softplus, DI_U_SOFTPLUS)
UNARY_OP(Elu, DI_U_ELU)
UNARY_OP(Selu, DI_U_SELU)
UNARY_OP(Round, DI_U_ROUND)
UNARY_OP(Sign, DI_U_SIGN)
UNARY_OP(Sin, DI_U_SIN)
UNARY_OP(Cos, DI_U_COS)
UNARY_OP(Softsign, DI_U_SOFTSIGN)

/* ---- Cast ---- */

static int cast_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    int64_t to = di_nn_attr_int(n, "to", 0);
    if (!di_dtype_size((int)to))
        return di_nn_unsupported(err, n, "a cast to %s", di_dtype_name((int)to));
    if (di_nn_node_attr(n, "saturate") && !di_nn_attr_int(n, "saturate", 1))
        return DI_OK;
    return DI_OK;
}

static int cast_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t n = di_nn_numel(k->in[0]);
    int from = k->in[0]->dtype, to = k->out[0]->dtype;
    const void *x = k->in[0]->data;
    void *y = k->out[0]->data;
    if (from == to) {
        memcpy(y, x, (size_t)n * di_dtype_size(to));
        return DI_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        /* integers go through int64 so that large values keep their bits */
        bool int_src = from == DI_DT_INT64 || from == DI_DT_INT32 || from == DI_DT_INT8 ||
                       from == DI_DT_UINT8 || from == DI_DT_BOOL;
        int64_t iv =
            int_src ? (from == DI_DT_INT64 ? ((const int64_t *)x)[i] : (int64_t)get_num(x, from, i))
                    : 0;
        double v = int_src ? (double)iv : get_num(x, from, i);
        if (!int_src) {
            if (isnan(v))
                iv = 0;
            else if (v >= 9.2e18)
                iv = INT64_MAX;
            else if (v <= -9.2e18)
                iv = INT64_MIN;
            else
                iv = (int64_t)v;
        }
        switch (to) {
        case DI_DT_FLOAT: ((float *)y)[i] = (float)v; break;
        case DI_DT_DOUBLE: ((double *)y)[i] = v; break;
        case DI_DT_INT64: ((int64_t *)y)[i] = iv; break;
        case DI_DT_INT32: ((int32_t *)y)[i] = (int32_t)(uint32_t)(uint64_t)iv; break;
        case DI_DT_INT8: ((int8_t *)y)[i] = (int8_t)(uint8_t)(uint64_t)iv; break;
        case DI_DT_UINT8: ((uint8_t *)y)[i] = (uint8_t)(uint64_t)iv; break;
        default: ((uint8_t *)y)[i] = v != 0; break; /* bool */
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Cast = {
    .name = "Cast",
    .min_in = 1,
    .max_in = 1,
    .check = cast_check,
    .infer = di_nn_infer_cast,
    .params_size = sizeof(di_nn_cast_params),
    .run = cast_run,
};

/* ---- Equal, Less, Greater, Where ---- */

static int cmp_prepare(di_nn_kctx *k, di_error *err)
{
    return bcast_prepare(k, 2, err);
}

static int cmp_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *b = k->state;
    const void *x = k->in[0]->data, *z = k->in[1]->data;
    int dt = k->in[0]->dtype;
    uint8_t *y = k->out[0]->data;
    char c = k->node->op_type[0];
    if (dt == DI_DT_INT64) {
        const int64_t *X = x, *Z = z;
        BCAST_FOR(b, y[I] = c == 'E' ? X[A] == Z[B] : c == 'L' ? X[A] < Z[B] : X[A] > Z[B]);
    } else {
        BCAST_FOR(b, {
            double p = get_num(x, dt, A), q = get_num(z, dt, B);
            y[I] = c == 'E' ? p == q : c == 'L' ? p < q : p > q;
        });
    }
    return DI_OK;
}

const di_nn_op di_op_Equal = {.name = "Equal",
                              .min_in = 2,
                              .max_in = 2,
                              .infer = di_nn_infer_compare,
                              .prepare = cmp_prepare,
                              .run = cmp_run,
                              .release = free};
const di_nn_op di_op_Less = {.name = "Less",
                             .min_in = 2,
                             .max_in = 2,
                             .infer = di_nn_infer_compare,
                             .prepare = cmp_prepare,
                             .run = cmp_run,
                             .release = free};
const di_nn_op di_op_Greater = {.name = "Greater",
                                .min_in = 2,
                                .max_in = 2,
                                .infer = di_nn_infer_compare,
                                .prepare = cmp_prepare,
                                .run = cmp_run,
                                .release = free};

static int where_prepare(di_nn_kctx *k, di_error *err)
{
    return bcast_prepare(k, 3, err);
}

static int where_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *b = k->state;
    const uint8_t *c = k->in[0]->data;
    size_t es = di_dtype_size(k->out[0]->dtype);
    const uint8_t *x = k->in[1]->data, *z = k->in[2]->data;
    uint8_t *y = k->out[0]->data;
    if (es == 4) {
        BCAST_FOR(b,
                  ((uint32_t *)y)[I] = c[A] ? ((const uint32_t *)x)[B] : ((const uint32_t *)z)[C]);
    } else {
        BCAST_FOR(b,
                  memcpy(y + (size_t)I * es, c[A] ? x + (size_t)B * es : z + (size_t)C * es, es));
    }
    return DI_OK;
}

const di_nn_op di_op_Where = {.name = "Where",
                              .min_in = 3,
                              .max_in = 3,
                              .infer = di_nn_infer_where,
                              .prepare = where_prepare,
                              .run = where_run,
                              .release = free};

/* ---- And, Or, Xor, Not ---- */

static int logic_prepare(di_nn_kctx *k, di_error *err)
{
    return bcast_prepare(k, k->nin, err);
}

static int logic_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *b = k->state;
    const uint8_t *x = k->in[0]->data, *z = k->nin > 1 ? k->in[1]->data : x;
    uint8_t *y = k->out[0]->data;
    switch (k->node->op_type[0]) {
    case 'A': BCAST_FOR(b, y[I] = x[A] && z[B]); break;
    case 'O': BCAST_FOR(b, y[I] = x[A] || z[B]); break;
    case 'X': BCAST_FOR(b, y[I] = !x[A] != !z[B]); break;
    default: BCAST_FOR(b, y[I] = !x[A]); break;
    }
    return DI_OK;
}

const di_nn_op di_op_And = {.name = "And",
                            .min_in = 2,
                            .max_in = 2,
                            .infer = di_nn_infer_logic,
                            .prepare = logic_prepare,
                            .run = logic_run,
                            .release = free};
const di_nn_op di_op_Or = {.name = "Or",
                           .min_in = 2,
                           .max_in = 2,
                           .infer = di_nn_infer_logic,
                           .prepare = logic_prepare,
                           .run = logic_run,
                           .release = free};
const di_nn_op di_op_Xor = {.name = "Xor",
                            .min_in = 2,
                            .max_in = 2,
                            .infer = di_nn_infer_logic,
                            .prepare = logic_prepare,
                            .run = logic_run,
                            .release = free};
const di_nn_op di_op_Not = {.name = "Not",
                            .min_in = 1,
                            .max_in = 1,
                            .infer = di_nn_infer_logic,
                            .prepare = logic_prepare,
                            .run = logic_run,
                            .release = free};

/* ---- PRelu ---- */

static int prelu_prepare(di_nn_kctx *k, di_error *err)
{
    return bcast_prepare(k, 2, err);
}

static int prelu_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *b = k->state;
    const float *x = k->in[0]->data, *s = k->in[1]->data;
    float *y = k->out[0]->data;
    BCAST_FOR(b, y[I] = x[A] >= 0 ? x[A] : x[A] * s[B]);
    return DI_OK;
}

const di_nn_op di_op_PRelu = {.name = "PRelu",
                              .min_in = 2,
                              .max_in = 2,
                              .flags = DI_OP_PER_IMAGE | DI_OP_BROADCAST,
                              .infer = di_nn_infer_prelu,
                              .prepare = prelu_prepare,
                              .run = prelu_run,
                              .release = free};

/* ---- Max, Min, Sum, Mean (any number of inputs, broadcast) ---- */

typedef struct vari_state {
    bcast full;     /* all inputs' broadcast shape */
    bcast pair[16]; /* output vs input i */
} vari_state;

static int vari_prepare(di_nn_kctx *k, di_error *err)
{
    int dt = k->in[0]->dtype; /* checked, and the output shaped, by di_nn_infer_variadic */
    vari_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    /* the full shape: broadcast all inputs pairwise */
    di_nn_tensor acc = *k->in[0];
    for (int i = 1; i < k->nin; i++) {
        di_nn_tensor *two[2] = {&acc, k->in[i]};
        int rc = bcast_init(k->node, two, 2, &s->full, err);
        if (rc) {
            free(s);
            return rc;
        }
        di_nn_set_shape(&acc, dt, s->full.ndim, s->full.dims);
    }
    for (int i = 0; i < k->nin; i++) {
        di_nn_tensor *two[2] = {k->out[0], k->in[i]};
        int rc = bcast_init(k->node, two, 2, &s->pair[i], err);
        if (rc) {
            free(s);
            return rc;
        }
    }
    k->state = s;
    return DI_OK;
}

static int vari_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const vari_state *s = k->state;
    char op = k->node->op_type[1]; /* mAx, mIn, sUm, mEan */
    int dt = k->out[0]->dtype;
    for (int i = 0; i < k->nin; i++) {
        const bcast *b = &s->pair[i];
        if (dt == DI_DT_FLOAT) {
            float *y = k->out[0]->data;
            const float *x = k->in[i]->data;
            if (i == 0)
                BCAST_FOR(b, y[I] = x[B]);
            else if (op == 'a')
                BCAST_FOR(b, y[I] = (x[B] > y[I] || isnan(x[B])) ? x[B] : y[I]);
            else if (op == 'i')
                BCAST_FOR(b, y[I] = (x[B] < y[I] || isnan(x[B])) ? x[B] : y[I]);
            else
                BCAST_FOR(b, y[I] += x[B]);
        } else {
            int64_t *y64 = k->out[0]->data;
            int32_t *y32 = k->out[0]->data;
            const int64_t *x64 = k->in[i]->data;
            const int32_t *x32 = k->in[i]->data;
            if (dt == DI_DT_INT64) {
                if (i == 0)
                    BCAST_FOR(b, y64[I] = x64[B]);
                else if (op == 'a')
                    BCAST_FOR(b, y64[I] = x64[B] > y64[I] ? x64[B] : y64[I]);
                else
                    BCAST_FOR(b, y64[I] = x64[B] < y64[I] ? x64[B] : y64[I]);
            } else {
                if (i == 0)
                    BCAST_FOR(b, y32[I] = x32[B]);
                else if (op == 'a')
                    BCAST_FOR(b, y32[I] = x32[B] > y32[I] ? x32[B] : y32[I]);
                else
                    BCAST_FOR(b, y32[I] = x32[B] < y32[I] ? x32[B] : y32[I]);
            }
        }
    }
    if (op == 'e') {
        float *y = k->out[0]->data;
        int64_t n = di_nn_numel(k->out[0]);
        for (int64_t i = 0; i < n; i++)
            y[i] /= (float)k->nin;
    }
    return DI_OK;
}

const di_nn_op di_op_Max = {.name = "Max",
                            .min_in = 1,
                            .max_in = 16,
                            .infer = di_nn_infer_variadic,
                            .prepare = vari_prepare,
                            .run = vari_run,
                            .release = free};
const di_nn_op di_op_Min = {.name = "Min",
                            .min_in = 1,
                            .max_in = 16,
                            .infer = di_nn_infer_variadic,
                            .prepare = vari_prepare,
                            .run = vari_run,
                            .release = free};
const di_nn_op di_op_Sum = {.name = "Sum",
                            .min_in = 1,
                            .max_in = 16,
                            .infer = di_nn_infer_variadic,
                            .prepare = vari_prepare,
                            .run = vari_run,
                            .release = free};
const di_nn_op di_op_Mean = {.name = "Mean",
                             .min_in = 1,
                             .max_in = 16,
                             .infer = di_nn_infer_variadic,
                             .prepare = vari_prepare,
                             .run = vari_run,
                             .release = free};

/*
** ops_unary.c: element-wise math on one tensor in plain C: Sqrt, Erf, Gelu,
** Sigmoid, Tanh, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, Not.
**
** The loops are written so that the compiler vectorises them; large ones are
** split over the session's threads. Ops with f(0) = 0 keep oneDNN's blocked
** layouts (the zero padding stays zero); the others want plain data, so that
** no padding turns into non-zero values a later primitive might read.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

#define PAR_MIN 16384

enum { U_SQRT, U_ERF, U_GELU, U_GELU_TANH, U_SIGMOID, U_TANH, U_EXP, U_LOG,
       U_NEG, U_ABS, U_RECIP, U_FLOOR, U_CEIL, U_NOT };

static int kind_of(const di_nn_node *n)
{
    static const struct { const char *name; int kind; } names[] = {
        {"Sqrt", U_SQRT}, {"Erf", U_ERF}, {"Gelu", U_GELU}, {"Sigmoid", U_SIGMOID},
        {"Tanh", U_TANH}, {"Exp", U_EXP}, {"Log", U_LOG}, {"Neg", U_NEG},
        {"Abs", U_ABS}, {"Reciprocal", U_RECIP}, {"Floor", U_FLOOR}, {"Ceil", U_CEIL},
        {"Not", U_NOT},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(n->op_type, names[i].name)) {
            if (names[i].kind == U_GELU && !strcmp(di_nn_attr_string(n, "approximate", "none"), "tanh")) return U_GELU_TANH;
            return names[i].kind;
        }
    return -1;
}

static int gelu_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *a = di_nn_attr_string(n, "approximate", "none");
    if (strcmp(a, "none") && strcmp(a, "tanh")) return di_nn_unsupported(err, n, "approximate=%s", a);
    return DI_OK;
}

static size_t buffer_elems(const di_nn_tensor *t)
{
    if (t->blocked) return dnnl_memory_desc_get_size(&t->md) / di_dtype_size(t->dtype);
    return (size_t)di_nn_numel(t);
}

static int unary_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int kind = kind_of(k->node);
    bool int_ok = kind == U_NEG || kind == U_ABS;
    if (kind == U_NOT) {
        if (x->dtype != DI_DT_BOOL) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    } else if (x->dtype != DI_DT_FLOAT && !(int_ok && (x->dtype == DI_DT_INT64 || x->dtype == DI_DT_INT32))) {
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    }
    bool zero_keeps = kind == U_SQRT || kind == U_ERF || kind == U_GELU || kind == U_GELU_TANH || kind == U_TANH ||
                      kind == U_NEG || kind == U_ABS || kind == U_FLOOR || kind == U_CEIL;
    if (x->blocked && !zero_keeps) return DI_NN_NEED_PLAIN;
    di_nn_tensor *y = k->out[0];
    di_nn_set_shape(y, x->dtype, x->ndim, x->dims);
    y->blocked = x->blocked;
    y->md = x->md;
    return DI_OK;
}

static inline float sigmoidf(float v) { return 1.f / (1.f + expf(-v)); }

#define LOOP(EXPR)                                                            \
    _Pragma("omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)") \
    for (size_t i = 0; i < n; i++) {                                          \
        float v = x[i];                                                       \
        y[i] = (EXPR);                                                        \
    }

static int unary_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    size_t n = buffer_elems(k->in[0]);
    int threads = k->env->threads;
    int kind = kind_of(k->node);
    int dt = k->in[0]->dtype;
    if (dt == DI_DT_BOOL) {
        const uint8_t *x = k->in[0]->data;
        uint8_t *y = k->out[0]->data;
        for (size_t i = 0; i < n; i++) y[i] = !x[i];
        return DI_OK;
    }
    if (dt == DI_DT_INT64) {
        const int64_t *x = k->in[0]->data;
        int64_t *y = k->out[0]->data;
        for (size_t i = 0; i < n; i++)
            y[i] = kind == U_NEG ? (int64_t)(0 - (uint64_t)x[i]) : x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i];
        return DI_OK;
    }
    if (dt == DI_DT_INT32) {
        const int32_t *x = k->in[0]->data;
        int32_t *y = k->out[0]->data;
        for (size_t i = 0; i < n; i++)
            y[i] = kind == U_NEG ? (int32_t)(0 - (uint32_t)x[i]) : x[i] < 0 ? (int32_t)(0 - (uint32_t)x[i]) : x[i];
        return DI_OK;
    }
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    switch (kind) {
    case U_SQRT: LOOP(sqrtf(v)); break;
    case U_ERF: LOOP(erff(v)); break;
    case U_GELU: LOOP(0.5f * v * (1.f + erff(v * 0.70710678118654752f))); break;
    case U_GELU_TANH:
        LOOP(0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v))));
        break;
    case U_SIGMOID: LOOP(sigmoidf(v)); break;
    case U_TANH: LOOP(tanhf(v)); break;
    case U_EXP: LOOP(expf(v)); break;
    case U_LOG: LOOP(logf(v)); break;
    case U_NEG: LOOP(-v); break;
    case U_ABS: LOOP(fabsf(v)); break;
    case U_RECIP: LOOP(1.f / v); break;
    case U_FLOOR: LOOP(floorf(v)); break;
    default: LOOP(ceilf(v)); break;
    }
    return DI_OK;
}

#define UNARY_OP(NAME, FLAGS, CHECK)                                          \
    const di_nn_op di_op_##NAME = {                                           \
        .name = #NAME, .min_in = 1, .max_in = 1,                              \
        .flags = DI_OP_ELEMENTWISE | (FLAGS), .check = (CHECK),               \
        .prepare = unary_prepare, .run = unary_run,                           \
    };
UNARY_OP(Sqrt, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Erf, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Gelu, DI_OP_BLOCKED_OK, gelu_check)
UNARY_OP(Tanh, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Neg, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Abs, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Floor, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Ceil, DI_OP_BLOCKED_OK, NULL)
UNARY_OP(Sigmoid, 0, NULL)
UNARY_OP(Exp, 0, NULL)
UNARY_OP(Log, 0, NULL)
UNARY_OP(Reciprocal, 0, NULL)
UNARY_OP(Not, 0, NULL)

/*
** ops_logic.c: LessOrEqual, GreaterOrEqual, logic (And, Or, Xor, Not) and
** the variadic Min, Max, Sum, Mean, all with numpy broadcasting over any
** number of inputs. (Equal, Less, Greater and Where are in ops_math.c.)
**
** The broadcast walks output rows; each input has an element stride per
** axis (0 where it is broadcast), so the inner loop is a strided loop the
** compiler vectorises when the strides are 1 or 0.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

#define MAX_VAR 16

typedef struct bcast {
    int nin, nd;
    int64_t dims[DI_NN_MAX_DIMS];
    int64_t st[MAX_VAR][DI_NN_MAX_DIMS];
} bcast;

static int bcast_prepare(di_nn_kctx *k, int first, bcast **out, di_error *err)
{
    int nin = k->nin - first;
    if (nin > MAX_VAR) return di_nn_unsupported(err, k->node, "more than %d inputs", MAX_VAR);
    bcast *b = calloc(1, sizeof *b);
    if (!b) return di_fail(err, DI_ENOMEM, "out of memory");
    di_nn_tensor acc = {.ndim = 0};
    for (int i = 0; i < k->nin; i++) {
        if (!k->in[i]) {
            free(b);
            return di_nn_shape_error(err, k->node, "input %d is missing", i);
        }
        di_nn_tensor prev = acc; /* di_nn_broadcast reads its inputs while writing dims */
        int rc = di_nn_broadcast(k->node, &prev, k->in[i], &acc.ndim, acc.dims, err);
        if (rc) {
            free(b);
            return rc;
        }
    }
    b->nin = nin;
    b->nd = acc.ndim;
    memcpy(b->dims, acc.dims, sizeof acc.dims);
    for (int i = 0; i < nin; i++) {
        const di_nn_tensor *t = k->in[first + i];
        int64_t s = 1;
        for (int d = b->nd - 1; d >= 0; d--) {
            int td = d - (b->nd - t->ndim);
            int64_t n = td >= 0 ? t->dims[td] : 1;
            b->st[i][d] = n == 1 ? 0 : s;
            s *= n;
        }
    }
    *out = b;
    return DI_OK;
}

/*
** Calls ROW(offsets, inner, strides) for every output row: off[i] is the
** element offset of input i at the row's start, inner the row length, is[i]
** the stride of input i along the row.
*/
#define BCAST_ROWS(b, ...)                                                    \
    do {                                                                      \
        int64_t total_ = di_shape_numel((b)->nd, (b)->dims);                  \
        if (total_ <= 0) break;                                               \
        int nd_ = (b)->nd;                                                    \
        int64_t inner = nd_ ? (b)->dims[nd_ - 1] : 1;                         \
        int64_t rows_ = total_ / inner, idx_[DI_NN_MAX_DIMS] = {0};           \
        int64_t is[MAX_VAR], off[MAX_VAR];                                    \
        for (int i_ = 0; i_ < (b)->nin; i_++) is[i_] = nd_ ? (b)->st[i_][nd_ - 1] : 0; \
        for (int64_t r = 0; r < rows_; r++) {                                 \
            for (int i_ = 0; i_ < (b)->nin; i_++) {                           \
                off[i_] = 0;                                                  \
                for (int d_ = 0; d_ < nd_ - 1; d_++) off[i_] += idx_[d_] * (b)->st[i_][d_]; \
            }                                                                 \
            int64_t out0 = r * inner;                                         \
            __VA_ARGS__;                                                          \
            for (int d_ = nd_ - 2; d_ >= 0; d_--) {                           \
                if (++idx_[d_] < (b)->dims[d_]) break;                        \
                idx_[d_] = 0;                                                 \
            }                                                                 \
        }                                                                     \
    } while (0)

/* ---- comparisons and logic: out bool ---- */

enum { C_EQ, C_LT, C_GT, C_LE, C_GE, L_AND, L_OR, L_XOR };

static int cmp_kind(const char *op)
{
    if (!strcmp(op, "Equal")) return C_EQ;
    if (!strcmp(op, "Less")) return C_LT;
    if (!strcmp(op, "Greater")) return C_GT;
    if (!strcmp(op, "LessOrEqual")) return C_LE;
    if (!strcmp(op, "GreaterOrEqual")) return C_GE;
    if (!strcmp(op, "And")) return L_AND;
    if (!strcmp(op, "Or")) return L_OR;
    return L_XOR;
}

static int cmp_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    int kind = cmp_kind(k->node->op_type);
    if (a->dtype != b->dtype) return di_nn_shape_error(err, k->node, "inputs of different element types (%s, %s)", di_dtype_name(a->dtype), di_dtype_name(b->dtype));
    if (kind >= L_AND ? a->dtype != DI_DT_BOOL
                      : (a->dtype != DI_DT_FLOAT && a->dtype != DI_DT_INT64 && a->dtype != DI_DT_INT32 && a->dtype != DI_DT_BOOL))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    bcast *s;
    int rc = bcast_prepare(k, 0, &s, err);
    if (rc) return rc;
    di_nn_set_shape(k->out[0], DI_DT_BOOL, s->nd, s->dims);
    k->state = s;
    return DI_OK;
}

#define CMP_ROWS(T, EXPR)                                                     \
    do {                                                                      \
        const T *A = k->in[0]->data, *B = k->in[1]->data;                     \
        BCAST_ROWS(s, {                                                       \
            const T *ar = A + off[0], *br = B + off[1];                       \
            for (int64_t i = 0; i < inner; i++) {                             \
                T x = ar[i * is[0]], z = br[i * is[1]];                       \
                Y[out0 + i] = (EXPR);                                         \
            }                                                                 \
        });                                                                   \
    } while (0)

#define CMP_SWITCH(T)                                                         \
    switch (kind) {                                                           \
    case C_EQ: CMP_ROWS(T, x == z); break;                                    \
    case C_LT: CMP_ROWS(T, x < z); break;                                     \
    case C_GT: CMP_ROWS(T, x > z); break;                                     \
    case C_LE: CMP_ROWS(T, x <= z); break;                                    \
    default: CMP_ROWS(T, x >= z); break;                                      \
    }

static int cmp_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *s = k->state;
    uint8_t *Y = k->out[0]->data;
    int kind = cmp_kind(k->node->op_type);
    switch (k->in[0]->dtype) {
    case DI_DT_FLOAT: CMP_SWITCH(float); break;
    case DI_DT_INT64: CMP_SWITCH(int64_t); break;
    case DI_DT_INT32: CMP_SWITCH(int32_t); break;
    default:
        switch (kind) {
        case L_AND: CMP_ROWS(uint8_t, (x != 0) & (z != 0)); break;
        case L_OR: CMP_ROWS(uint8_t, (x != 0) | (z != 0)); break;
        case L_XOR: CMP_ROWS(uint8_t, (x != 0) ^ (z != 0)); break;
        default: CMP_SWITCH(uint8_t); break;
        }
    }
    return DI_OK;
}

/* ---- Min, Max, Sum, Mean ---- */

enum { V_MIN, V_MAX, V_SUM, V_MEAN };

static int var_kind(const char *op)
{
    return !strcmp(op, "Min") ? V_MIN : !strcmp(op, "Max") ? V_MAX : !strcmp(op, "Sum") ? V_SUM : V_MEAN;
}

static int var_prepare(di_nn_kctx *k, di_error *err)
{
    int dt = k->in[0]->dtype;
    for (int i = 0; i < k->nin; i++)
        if (k->in[i] && k->in[i]->dtype != dt) return di_nn_shape_error(err, k->node, "inputs of different element types");
    if (dt != DI_DT_FLOAT && !(var_kind(k->node->op_type) <= V_MAX && (dt == DI_DT_INT64 || dt == DI_DT_INT32)))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(dt));
    bcast *s;
    int rc = bcast_prepare(k, 0, &s, err);
    if (rc) return rc;
    di_nn_set_shape(k->out[0], dt, s->nd, s->dims);
    k->state = s;
    return DI_OK;
}

/* out = in[0]; then out = f(out, in[j]) for each further input */
#define VAR_LOOP(T, EXPR)                                                     \
    do {                                                                      \
        T *Y = k->out[0]->data;                                               \
        for (int j = 0; j < s->nin; j++) {                                    \
            const T *X = k->in[j]->data;                                      \
            BCAST_ROWS(s, {                                                   \
                const T *xr = X + off[j];                                     \
                T *yr = Y + out0;                                             \
                if (j == 0)                                                   \
                    for (int64_t i = 0; i < inner; i++) yr[i] = xr[i * is[j]]; \
                else                                                          \
                    for (int64_t i = 0; i < inner; i++) {                     \
                        T a = yr[i], b = xr[i * is[j]];                       \
                        yr[i] = (EXPR);                                       \
                    }                                                         \
            });                                                               \
        }                                                                     \
    } while (0)

static int var_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const bcast *s = k->state;
    int kind = var_kind(k->node->op_type);
    int dt = k->in[0]->dtype;
    if (dt == DI_DT_FLOAT) {
        /* NaN propagates through Min and Max, as in numpy */
        switch (kind) {
        case V_MIN: VAR_LOOP(float, a != a || b != b ? a + b : a < b ? a : b); break;
        case V_MAX: VAR_LOOP(float, a != a || b != b ? a + b : a > b ? a : b); break;
        default: VAR_LOOP(float, a + b); break;
        }
        if (kind == V_MEAN) {
            float *Y = k->out[0]->data, inv = 1.f / (float)s->nin;
            size_t n = (size_t)di_nn_numel(k->out[0]);
            for (size_t i = 0; i < n; i++) Y[i] *= inv;
        }
    } else if (dt == DI_DT_INT64) {
        if (kind == V_MIN) VAR_LOOP(int64_t, a < b ? a : b);
        else VAR_LOOP(int64_t, a > b ? a : b);
    } else {
        if (kind == V_MIN) VAR_LOOP(int32_t, a < b ? a : b);
        else VAR_LOOP(int32_t, a > b ? a : b);
    }
    return DI_OK;
}

#define CMP_OP(NAME)                                                          \
    const di_nn_op di_op_##NAME = {.name = #NAME, .min_in = 2, .max_in = 2,   \
                                   .prepare = cmp_prepare, .run = cmp_run, .release = free};
CMP_OP(LessOrEqual)
CMP_OP(GreaterOrEqual)
CMP_OP(And)
CMP_OP(Or)
CMP_OP(Xor)

/* ---- Not ---- */

static int not_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_BOOL) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    di_nn_set_shape(k->out[0], DI_DT_BOOL, x->ndim, x->dims);
    return DI_OK;
}

static int not_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const uint8_t *x = k->in[0]->data;
    uint8_t *y = k->out[0]->data;
    size_t n = (size_t)di_nn_numel(k->in[0]);
    for (size_t i = 0; i < n; i++) y[i] = !x[i];
    return DI_OK;
}

const di_nn_op di_op_Not = {.name = "Not", .min_in = 1, .max_in = 1, .prepare = not_prepare, .run = not_run};

#define VAR_OP(NAME)                                                          \
    const di_nn_op di_op_##NAME = {.name = #NAME, .min_in = 1, .max_in = MAX_VAR, \
                                   .prepare = var_prepare, .run = var_run, .release = free};
VAR_OP(Min)
VAR_OP(Max)
VAR_OP(Sum)
VAR_OP(Mean)

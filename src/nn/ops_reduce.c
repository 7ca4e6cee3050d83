/*
** ops_reduce.c: ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
** ReduceSumSquare, ReduceL1, ReduceL2 on float32.
**
** Axes come from the attribute (before opset 18; ReduceSum before 13) or
** from the second input (a constant); keepdims and noop_with_empty_axes as
** in the spec. The input is walked row by row (its last axis): a reduced
** last axis folds each row into one value, a kept one adds the row into an
** output row, so the common case (LayerNorm's mean over the channels) is
** one pass over contiguous memory.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

enum { R_MEAN, R_SUM, R_MAX, R_MIN, R_PROD, R_SUMSQ, R_L1, R_L2 };

static int reduce_kind(const char *op)
{
    static const char *names[] = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(op, names[i])) return i;
    return R_SUM;
}

typedef struct reduce_state {
    int kind, nd;
    int64_t dims[DI_NN_MAX_DIMS];
    int64_t ost[DI_NN_MAX_DIMS]; /* output element stride per input axis, 0 if reduced */
    int64_t count;               /* elements folded into each output */
    bool identity;
} reduce_state;

static int reduce_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT) return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    int nd = x->ndim, na = 0;
    int64_t axes[DI_NN_MAX_DIMS];
    if (k->nin > 1 && k->in[1]) {
        if (di_nn_const_ints(k->in[1], axes, DI_NN_MAX_DIMS, &na)) return di_nn_unsupported(err, n, "axes that are not a constant integer tensor");
    } else {
        const di_nn_attr *a = di_nn_node_attr(n, "axes");
        if (a) {
            if (a->n > DI_NN_MAX_DIMS) return di_nn_shape_error(err, n, "too many axes");
            for (int i = 0; i < a->n; i++) axes[i] = a->ints[i];
            na = a->n;
        }
    }
    bool keep = di_nn_attr_int(n, "keepdims", 1) != 0;
    bool noop = di_nn_attr_int(n, "noop_with_empty_axes", 0) != 0;
    bool red[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 0 || a >= nd) return di_nn_shape_error(err, n, "axis %lld out of range for rank %d", (long long)axes[i], nd);
        red[a] = true;
    }
    reduce_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->kind = reduce_kind(n->op_type);
    s->nd = nd;
    s->identity = na == 0 && noop;
    if (na == 0 && !noop)
        for (int d = 0; d < nd; d++) red[d] = true;
    int64_t od[DI_NN_MAX_DIMS], kd[DI_NN_MAX_DIMS];
    int ond = 0;
    s->count = 1;
    for (int d = 0; d < nd; d++) {
        s->dims[d] = x->dims[d];
        kd[d] = red[d] ? 1 : x->dims[d];
        if (red[d]) s->count *= x->dims[d];
        if (!red[d] || keep) od[ond++] = kd[d];
    }
    int64_t st = 1;
    for (int d = nd - 1; d >= 0; d--) {
        s->ost[d] = red[d] ? 0 : st;
        st *= kd[d];
    }
    if (s->identity) di_nn_set_shape(k->out[0], x->dtype, nd, x->dims);
    else di_nn_set_shape(k->out[0], x->dtype, ond, od);
    k->state = s;
    return DI_OK;
}

static inline float fold_init(int kind)
{
    return kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : kind == R_PROD ? 1.f : 0.f;
}

static int reduce_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const reduce_state *s = k->state;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    int64_t nout = di_nn_numel(k->out[0]), nin = di_nn_numel(k->in[0]);
    if (s->identity) {
        if (nin) memcpy(y, x, (size_t)nin * sizeof(float));
        return DI_OK;
    }
    int kind = s->kind;
    float init = fold_init(kind);
    for (int64_t i = 0; i < nout; i++) y[i] = init;
    if (nin > 0) {
        int nd = s->nd;
        int64_t inner = nd ? s->dims[nd - 1] : 1, rows = nin / inner, idx[DI_NN_MAX_DIMS] = {0};
        bool last_reduced = nd == 0 || s->ost[nd - 1] == 0;
        for (int64_t r = 0; r < rows; r++) {
            int64_t off = 0;
            for (int d = 0; d < nd - 1; d++) off += idx[d] * s->ost[d];
            const float *xr = x + r * inner;
            if (last_reduced) {
                float acc = y[off];
                switch (kind) {
                case R_MAX: for (int64_t i = 0; i < inner; i++) acc = xr[i] > acc || xr[i] != xr[i] ? xr[i] : acc; break;
                case R_MIN: for (int64_t i = 0; i < inner; i++) acc = xr[i] < acc || xr[i] != xr[i] ? xr[i] : acc; break;
                case R_PROD: for (int64_t i = 0; i < inner; i++) acc *= xr[i]; break;
                case R_SUMSQ: case R_L2: for (int64_t i = 0; i < inner; i++) acc += xr[i] * xr[i]; break;
                case R_L1: for (int64_t i = 0; i < inner; i++) acc += fabsf(xr[i]); break;
                default: for (int64_t i = 0; i < inner; i++) acc += xr[i]; break;
                }
                y[off] = acc;
            } else {
                float *yr = y + off;
                switch (kind) {
                case R_MAX: for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] > yr[i] || xr[i] != xr[i] ? xr[i] : yr[i]; break;
                case R_MIN: for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] < yr[i] || xr[i] != xr[i] ? xr[i] : yr[i]; break;
                case R_PROD: for (int64_t i = 0; i < inner; i++) yr[i] *= xr[i]; break;
                case R_SUMSQ: case R_L2: for (int64_t i = 0; i < inner; i++) yr[i] += xr[i] * xr[i]; break;
                case R_L1: for (int64_t i = 0; i < inner; i++) yr[i] += fabsf(xr[i]); break;
                default: for (int64_t i = 0; i < inner; i++) yr[i] += xr[i]; break;
                }
            }
            for (int d = nd - 2; d >= 0; d--) {
                if (++idx[d] < s->dims[d]) break;
                idx[d] = 0;
            }
        }
    }
    if (kind == R_MEAN) {
        float inv = 1.f / (float)s->count;
        for (int64_t i = 0; i < nout; i++) y[i] = s->count ? y[i] * inv : NAN;
    } else if (kind == R_L2) {
        for (int64_t i = 0; i < nout; i++) y[i] = sqrtf(y[i]);
    }
    return DI_OK;
}

#define REDUCE_OP(NAME)                                                       \
    const di_nn_op di_op_##NAME = {.name = #NAME, .min_in = 1, .max_in = 2,   \
                                   .prepare = reduce_prepare, .run = reduce_run, .release = free};
REDUCE_OP(ReduceMean)
REDUCE_OP(ReduceSum)
REDUCE_OP(ReduceMax)
REDUCE_OP(ReduceMin)
REDUCE_OP(ReduceProd)
REDUCE_OP(ReduceSumSquare)
REDUCE_OP(ReduceL1)
REDUCE_OP(ReduceL2)

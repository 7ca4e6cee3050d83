/*
** ops_index.c: ops that index along axes: GatherElements, Trilu, CumSum.
** Plain C on plain data; element types as each op needs (float32 and the
** integer types for values, int64/int32 for indices). (ArgMax, ArgMin,
** DepthToSpace, SpaceToDepth are in nn's files.)
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

static int axis_of(const di_nn_kctx *k, int64_t axis, int rank, int *out, di_error *err)
{
    if (axis < -rank || axis >= rank) return di_nn_shape_error(err, k->node, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return DI_OK;
}

/* outer x n x inner around one axis */
static void split_at(const di_nn_tensor *t, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= t->dims[d];
    *n = t->dims[axis];
    for (int d = axis + 1; d < t->ndim; d++) *inner *= t->dims[d];
}

static int64_t index_at(const di_nn_tensor *t, int64_t i)
{
    return t->dtype == DI_DT_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

/* ---- GatherElements ---- */

static int ge_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    if (!di_dtype_size(x->dtype)) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (idx->dtype != DI_DT_INT64 && idx->dtype != DI_DT_INT32) return di_nn_unsupported(err, k->node, "indices of type %s", di_dtype_name(idx->dtype));
    if (idx->ndim != x->ndim) return di_nn_shape_error(err, k->node, "indices of rank %d for data of rank %d", idx->ndim, x->ndim);
    int axis = 0;
    int rc = axis_of(k, di_nn_attr_int(k->node, "axis", 0), x->ndim, &axis, err);
    if (rc) return rc;
    for (int d = 0; d < x->ndim; d++)
        if (d != axis && idx->dims[d] > x->dims[d]) return di_nn_shape_error(err, k->node, "indices larger than the data at axis %d", d);
    di_nn_set_shape(k->out[0], x->dtype, idx->ndim, idx->dims);
    int *st = malloc(sizeof *st);
    if (!st) return di_fail(err, DI_ENOMEM, "out of memory");
    *st = axis;
    k->state = st;
    return DI_OK;
}

static int ge_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    int axis = *(const int *)k->state, nd = x->ndim;
    size_t es = di_dtype_size(x->dtype);
    int64_t total = di_nn_numel(idx), xst[DI_NN_MAX_DIMS], pos[DI_NN_MAX_DIMS] = {0};
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        xst[d] = s;
        s *= x->dims[d];
    }
    const uint8_t *src = x->data;
    uint8_t *dst = k->out[0]->data;
    for (int64_t i = 0; i < total; i++) {
        int64_t v = index_at(idx, i), dim = x->dims[axis];
        if (v < -dim || v >= dim)
            return di_fail(err, DI_EINVAL, "node '%s' (GatherElements): index %lld is out of range for an axis of %lld", k->node->name, (long long)v, (long long)dim);
        if (v < 0) v += dim;
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += (d == axis ? v : pos[d]) * xst[d];
        memcpy(dst + (size_t)i * es, src + (size_t)off * es, es);
        for (int d = nd - 1; d >= 0; d--) {
            if (++pos[d] < idx->dims[d]) break;
            pos[d] = 0;
        }
    }
    return DI_OK;
}

/* ---- Trilu ---- */

static int trilu_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (!di_dtype_size(x->dtype)) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim < 2) return di_nn_shape_error(err, k->node, "input of rank %d (at least 2)", x->ndim);
    if (k->nin > 1 && k->in[1]) {
        const di_nn_tensor *kt = k->in[1];
        if (kt->dtype != DI_DT_INT64 || di_nn_numel(kt) != 1) return di_nn_shape_error(err, k->node, "k must be an int64 scalar");
    }
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    return DI_OK;
}

static int trilu_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    bool upper = di_nn_attr_int(k->node, "upper", 1) != 0;
    int64_t kk = k->nin > 1 && k->in[1] ? *(const int64_t *)k->in[1]->data : 0;
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
    int64_t mats = rows && cols ? di_nn_numel(x) / (rows * cols) : 0;
    size_t es = di_dtype_size(x->dtype);
    const uint8_t *src = x->data;
    uint8_t *dst = k->out[0]->data;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                size_t off = (size_t)((m * rows + i) * cols + j) * es;
                bool keep = upper ? j - i >= kk : j - i <= kk;
                if (keep) memcpy(dst + off, src + off, es);
                else memset(dst + off, 0, es);
            }
    return DI_OK;
}

/* ---- CumSum ---- */

static int cumsum_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *a = k->in[1];
    if (x->dtype != DI_DT_FLOAT && x->dtype != DI_DT_INT64 && x->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    int64_t av;
    int na;
    if (di_nn_const_ints(a, &av, 1, &na) || na != 1) return di_nn_unsupported(err, k->node, "an axis that is not a constant integer scalar");
    int axis = 0;
    int rc = axis_of(k, av, x->ndim, &axis, err);
    if (rc) return rc;
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    int *st = malloc(sizeof *st);
    if (!st) return di_fail(err, DI_ENOMEM, "out of memory");
    *st = axis;
    k->state = st;
    return DI_OK;
}

#define CUMSUM(T)                                                             \
    do {                                                                      \
        const T *X = x->data;                                                 \
        T *Y = k->out[0]->data;                                               \
        for (int64_t o = 0; o < outer; o++)                                   \
            for (int64_t j = 0; j < inner; j++) {                             \
                T acc = 0;                                                    \
                for (int64_t t = 0; t < n; t++) {                             \
                    int64_t i = rev ? n - 1 - t : t;                          \
                    int64_t at = (o * n + i) * inner + j;                     \
                    if (excl) {                                               \
                        Y[at] = acc;                                          \
                        acc += X[at];                                         \
                    } else {                                                  \
                        acc += X[at];                                         \
                        Y[at] = acc;                                          \
                    }                                                         \
                }                                                             \
            }                                                                 \
    } while (0)

static int cumsum_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    int axis = *(const int *)k->state;
    bool excl = di_nn_attr_int(k->node, "exclusive", 0) != 0, rev = di_nn_attr_int(k->node, "reverse", 0) != 0;
    int64_t outer, n, inner;
    split_at(x, axis, &outer, &n, &inner);
    if (x->dtype == DI_DT_FLOAT) CUMSUM(float);
    else if (x->dtype == DI_DT_INT64) CUMSUM(int64_t);
    else CUMSUM(int32_t);
    return DI_OK;
}

const di_nn_op di_op_GatherElements = {.name = "GatherElements", .min_in = 2, .max_in = 2, .prepare = ge_prepare, .run = ge_run, .release = free};
const di_nn_op di_op_Trilu = {.name = "Trilu", .min_in = 1, .max_in = 2, .prepare = trilu_prepare, .run = trilu_run};
const di_nn_op di_op_CumSum = {.name = "CumSum", .min_in = 2, .max_in = 2, .prepare = cumsum_prepare, .run = cumsum_run, .release = free};

/*
** ops_misc.c: less common ops real exports still contain: Size, Dropout
** (inference: a copy), CastLike, Mod, CumSum, GatherElements, Trilu. Plain C
** on plain data. Their shapes (and Mod's, CumSum's, Trilu's params) are
** their infer's (infer_misc.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

/* ---- Size ---- */

static int size_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    *(int64_t *)k->out[0]->data = di_nn_numel(k->in[0]);
    return DI_OK;
}

const di_nn_op di_op_Size = {.name = "Size",
                             .min_in = 1,
                             .max_in = 1,
                             .flags = DI_OP_SHAPE_ONLY | DI_OP_BLOCKED_OK | DI_OP_BF16_OK,
                             .infer = di_nn_infer_size,
                             .run = size_run};

/* ---- Dropout (inference) ---- */

static int dropout_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    size_t n = (size_t)di_nn_numel(k->in[0]);
    if (n)
        memcpy(k->out[0]->data, k->in[0]->data, n * di_dtype_size(k->in[0]->dtype));
    if (k->nout > 1 && k->out[1] && n)
        memset(k->out[1]->data, 1, n);
    return DI_OK;
}

const di_nn_op di_op_Dropout = {
    .name = "Dropout", .min_in = 1, .max_in = 3, .infer = di_nn_infer_dropout, .run = dropout_run};

/* ---- CastLike: Cast to the second input's type ---- */

extern const di_nn_op di_op_Cast;

static int castlike_run(di_nn_kctx *k, di_error *err)
{
    /* Cast's kernel reads the target type from the output tensor */
    return di_op_Cast.run(k, err);
}

const di_nn_op di_op_CastLike = {.name = "CastLike",
                                 .min_in = 2,
                                 .max_in = 2,
                                 .infer = di_nn_infer_castlike,
                                 .run = castlike_run};

/* ---- Mod (broadcast) ---- */

static int mod_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_mod_params *s = k->params;
    bool fm = di_nn_attr_int(k->node, "fmod", 0) != 0;
    int dt = k->out[0]->dtype;
    int64_t idx[DI_NN_MAX_DIMS] = {0}, oa = 0, ob = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (dt == DI_DT_FLOAT) {
            float x = ((const float *)k->in[0]->data)[oa], y = ((const float *)k->in[1]->data)[ob];
            ((float *)k->out[0]->data)[i] = fmodf(x, y);
        } else {
            int64_t x = dt == DI_DT_INT64 ? ((const int64_t *)k->in[0]->data)[oa]
                                          : ((const int32_t *)k->in[0]->data)[oa];
            int64_t y = dt == DI_DT_INT64 ? ((const int64_t *)k->in[1]->data)[ob]
                                          : ((const int32_t *)k->in[1]->data)[ob];
            if (y == 0 || (y == -1 && x == INT64_MIN))
                return di_nn_node_fail(err, DI_EINVAL, k->node, "integer division by zero");
            int64_t r = x % y;
            if (!fm && r != 0 && ((r < 0) != (y < 0)))
                r += y; /* the sign of the divisor, as Python */
            if (dt == DI_DT_INT64)
                ((int64_t *)k->out[0]->data)[i] = r;
            else
                ((int32_t *)k->out[0]->data)[i] = (int32_t)r;
        }
        for (int d = s->ndim - 1; d >= 0; d--) {
            idx[d]++;
            oa += s->sa[d];
            ob += s->sb[d];
            if (idx[d] < s->dims[d])
                break;
            oa -= s->sa[d] * idx[d];
            ob -= s->sb[d] * idx[d];
            idx[d] = 0;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Mod = {.name = "Mod",
                            .min_in = 2,
                            .max_in = 2,
                            .infer = di_nn_infer_mod,
                            .params_size = sizeof(di_nn_mod_params),
                            .run = mod_run};

/* ---- CumSum ---- */

static int cumsum_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    int axis = (int)((const di_nn_axis_params *)k->params)->axis;
    bool excl = di_nn_attr_int(k->node, "exclusive", 0) != 0,
         rev = di_nn_attr_int(k->node, "reverse", 0) != 0;
    int64_t outer = 1, n = x->dims[axis], inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->ndim; i++)
        inner *= x->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double acc = 0;
            int64_t iacc = 0;
            for (int64_t j = 0; j < n; j++) {
                int64_t jj = rev ? n - 1 - j : j, at = (o * n + jj) * inner + in;
                switch (x->dtype) {
                case DI_DT_FLOAT: {
                    float v = ((const float *)x->data)[at];
                    ((float *)k->out[0]->data)[at] = (float)(excl ? acc : acc + v);
                    acc += v;
                    break;
                }
                case DI_DT_DOUBLE: {
                    double v = ((const double *)x->data)[at];
                    ((double *)k->out[0]->data)[at] = excl ? acc : acc + v;
                    acc += v;
                    break;
                }
                case DI_DT_INT64: {
                    int64_t v = ((const int64_t *)x->data)[at];
                    ((int64_t *)k->out[0]->data)[at] =
                        excl ? iacc : (int64_t)((uint64_t)iacc + (uint64_t)v);
                    iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
                    break;
                }
                default: {
                    int32_t v = ((const int32_t *)x->data)[at];
                    ((int32_t *)k->out[0]->data)[at] = (int32_t)(excl ? iacc : iacc + v);
                    iacc += v;
                    break;
                }
                }
            }
        }
    return DI_OK;
}

const di_nn_op di_op_CumSum = {.name = "CumSum",
                               .min_in = 2,
                               .max_in = 2,
                               .infer = di_nn_infer_cumsum,
                               .params_size = sizeof(di_nn_axis_params),
                               .run = cumsum_run};

/* ---- GatherElements ---- */

static int ge_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    int nd = x->ndim;
    int64_t ax = di_nn_attr_int(k->node, "axis", 0);
    if (ax < 0)
        ax += nd;
    size_t es = di_dtype_size(x->dtype);
    int64_t xs[DI_NN_MAX_DIMS], pos[DI_NN_MAX_DIMS] = {0}, total = di_nn_numel(idx);
    int64_t r = 1;
    for (int i = nd - 1; i >= 0; i--) {
        xs[i] = r;
        r *= x->dims[i];
    }
    for (int64_t i = 0; i < total; i++) {
        int64_t j = idx->dtype == DI_DT_INT64 ? ((const int64_t *)idx->data)[i]
                                              : ((const int32_t *)idx->data)[i];
        if (j < -x->dims[ax] || j >= x->dims[ax])
            return di_nn_node_fail(err, DI_EINVAL, k->node, "index %lld is out of range",
                                   (long long)j);
        if (j < 0)
            j += x->dims[ax];
        int64_t off = 0;
        for (int d = 0; d < nd; d++)
            off += (d == ax ? j : pos[d]) * xs[d];
        memcpy((uint8_t *)k->out[0]->data + (size_t)i * es,
               (const uint8_t *)x->data + (size_t)off * es, es);
        for (int d = nd - 1; d >= 0; d--) {
            if (++pos[d] < idx->dims[d])
                break;
            pos[d] = 0;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_GatherElements = {.name = "GatherElements",
                                       .min_in = 2,
                                       .max_in = 2,
                                       .infer = di_nn_infer_gather_elements,
                                       .run = ge_run};

/* ---- Trilu ---- */

static int trilu_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    int64_t kk = ((const di_nn_trilu_params *)k->params)->k, rows = x->dims[x->ndim - 2],
            cols = x->dims[x->ndim - 1];
    bool upper = di_nn_attr_int(k->node, "upper", 1) != 0;
    size_t es = di_dtype_size(x->dtype);
    int64_t total = di_nn_numel(x);
    uint8_t *y = k->out[0]->data;
    if (total)
        memcpy(y, x->data, (size_t)total * es);
    for (int64_t i = 0; i < total; i++) {
        int64_t c = i % cols, r = (i / cols) % rows;
        bool keep = upper ? c - r >= kk : c - r <= kk;
        if (!keep)
            memset(y + (size_t)i * es, 0, es);
    }
    return DI_OK;
}

const di_nn_op di_op_Trilu = {.name = "Trilu",
                              .min_in = 1,
                              .max_in = 2,
                              .infer = di_nn_infer_trilu,
                              .params_size = sizeof(di_nn_trilu_params),
                              .run = trilu_run};

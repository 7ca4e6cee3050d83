/*
** ops_tensor.c: ops that move data without arithmetic, in plain C on plain
** data, any element type: Transpose, Concat, Slice, Gather, Expand, Split,
** DepthToSpace, SpaceToDepth (Range, Pad, Tile: ops_pad.c). Most are one
** strided copy (strided_copy) with the right strides; shapes, starts, axes
** and the like must be constant at plan time. Transpose, Slice and Expand
** are the strided view their infer step computes (infer_view.c); Concat,
** Split and Gather run from their infer's params (infer_tensor.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

/* Copies the tensor of shape odims that starts at element soff of src and
** steps sstr elements per index (0: broadcast, negative: backwards) into
** contiguous dst. */
static void strided_copy(void *dst, const void *src, size_t es, int nd, const int64_t *odims,
                         const int64_t *sstr, int64_t soff)
{
    int64_t total = di_shape_numel(nd, odims);
    if (total <= 0)
        return;
    if (nd == 0) {
        memcpy(dst, (const uint8_t *)src + soff * (int64_t)es, es);
        return;
    }
    int64_t inner = odims[nd - 1], is = sstr[nd - 1];
    int64_t idx[DI_NN_MAX_DIMS] = {0}, off = soff;
    uint8_t *d = dst;
    const uint8_t *s = src;
    for (int64_t row = 0; row < total / (inner ? inner : 1); row++) {
        if (is == 1) {
            memcpy(d, s + off * (int64_t)es, (size_t)inner * es);
        } else if (es == 4) {
            for (int64_t i = 0; i < inner; i++)
                ((uint32_t *)d)[i] = ((const uint32_t *)s)[off + i * is];
        } else if (es == 8) {
            for (int64_t i = 0; i < inner; i++)
                ((uint64_t *)d)[i] = ((const uint64_t *)s)[off + i * is];
        } else {
            for (int64_t i = 0; i < inner; i++)
                memcpy(d + (size_t)i * es, s + (off + i * is) * (int64_t)es, es);
        }
        d += (size_t)inner * es;
        for (int k = nd - 2; k >= 0; k--) {
            idx[k]++;
            off += sstr[k];
            if (idx[k] < odims[k])
                break;
            off -= sstr[k] * idx[k];
            idx[k] = 0;
        }
    }
}

static int view_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_view_params *v = k->params;
    strided_copy(k->out[0]->data, k->in[0]->data, di_dtype_size(k->in[0]->dtype), v->nd, v->dims,
                 v->str, v->off);
    return DI_OK;
}

/* ---- Transpose ---- */

const di_nn_op di_op_Transpose = {.name = "Transpose",
                                  .min_in = 1,
                                  .max_in = 1,
                                  .infer = di_nn_infer_transpose,
                                  .params_size = sizeof(di_nn_view_params),
                                  .run = view_run};

/* ---- Slice ---- */

const di_nn_op di_op_Slice = {.name = "Slice",
                              .min_in = 3,
                              .max_in = 5,
                              .infer = di_nn_infer_slice,
                              .params_size = sizeof(di_nn_view_params),
                              .run = view_run};

/* ---- Expand ---- */

const di_nn_op di_op_Expand = {.name = "Expand",
                               .min_in = 2,
                               .max_in = 2,
                               .infer = di_nn_infer_expand,
                               .params_size = sizeof(di_nn_view_params),
                               .run = view_run};

/* ---- Concat ---- */

static int concat_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int axis = (int)((const di_nn_axis_params *)k->params)->axis;
    const di_nn_tensor *y = k->out[0];
    size_t es = di_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= y->dims[d];
    for (int d = axis + 1; d < y->ndim; d++)
        inner *= y->dims[d];
    int64_t off = 0, row = y->dims[axis] * inner;
    for (int i = 0; i < k->nin; i++) {
        const di_nn_tensor *t = k->in[i];
        if (!t)
            continue;
        int64_t chunk = t->dims[axis] * inner;
        for (int64_t o = 0; o < outer && chunk; o++)
            memcpy((uint8_t *)y->data + (size_t)(o * row + off) * es,
                   (const uint8_t *)t->data + (size_t)(o * chunk) * es, (size_t)chunk * es);
        off += chunk;
    }
    return DI_OK;
}

const di_nn_op di_op_Concat = {.name = "Concat",
                               .min_in = 1,
                               .max_in = 1 << 16,
                               .infer = di_nn_infer_concat,
                               .params_size = sizeof(di_nn_axis_params),
                               .run = concat_run};

/* ---- Split ---- */

static int split_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_split_params *sp = k->params;
    int axis = (int)sp->axis;
    const di_nn_tensor *x = k->in[0];
    size_t es = di_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++)
        inner *= x->dims[d];
    int64_t row = x->dims[axis] * inner;
    for (int i = 0; i < k->nout; i++) {
        di_nn_tensor *t = k->out[i];
        if (!t)
            continue;
        int64_t chunk = t->dims[axis] * inner, off = sp->start[i] * inner;
        /* a window of x (plan_memory.c): the bytes are there already */
        bool window = outer == 1 && t->data == (const uint8_t *)x->data + (size_t)off * es;
        for (int64_t o = 0; o < outer && chunk && !window; o++)
            memcpy((uint8_t *)t->data + (size_t)(o * chunk) * es,
                   (const uint8_t *)x->data + (size_t)(o * row + off) * es, (size_t)chunk * es);
    }
    return DI_OK;
}

static int split_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    if (g->opset < 13 && n->nin > 1)
        return di_nn_node_fail(err, DI_EFORMAT, n,
                               "split sizes as an input need opset 13 (the model has %lld)",
                               (long long)g->opset);
    if (g->opset >= 13 && di_nn_node_attr(n, "split"))
        return di_nn_node_fail(err, DI_EFORMAT, n, "the split attribute was removed in opset 13");
    int64_t no = di_nn_attr_int(n, "num_outputs", n->nout);
    if (no != n->nout)
        return di_nn_node_fail(err, DI_EFORMAT, n, "num_outputs is %lld for %d outputs",
                               (long long)no, n->nout);
    return DI_OK;
}

const di_nn_op di_op_Split = {.name = "Split",
                              .min_in = 1,
                              .max_in = 2,
                              .flags = DI_OP_PARTS,
                              .check = split_check,
                              .infer = di_nn_infer_split,
                              .params_size = sizeof(di_nn_split_params),
                              .run = split_run};

/* ---- Gather ---- */

static int gather_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_gather_params *s = k->params;
    size_t es = di_dtype_size(k->in[0]->dtype);
    const uint8_t *x = k->in[0]->data;
    uint8_t *y = k->out[0]->data;
    for (int64_t j = 0; j < s->nidx; j++) {
        int64_t i = k->in[1]->dtype == DI_DT_INT64 ? ((const int64_t *)k->in[1]->data)[j]
                                                   : ((const int32_t *)k->in[1]->data)[j];
        if (i < -s->axis_dim || i >= s->axis_dim)
            return di_nn_node_fail(err, DI_EINVAL, k->node,
                                   "index %lld is out of range for a dimension of %lld",
                                   (long long)i, (long long)s->axis_dim);
    }
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t j = 0; j < s->nidx; j++) {
            int64_t i = k->in[1]->dtype == DI_DT_INT64 ? ((const int64_t *)k->in[1]->data)[j]
                                                       : ((const int32_t *)k->in[1]->data)[j];
            if (i < 0)
                i += s->axis_dim;
            memcpy(y + (size_t)((o * s->nidx + j) * s->inner) * es,
                   x + (size_t)((o * s->axis_dim + i) * s->inner) * es, (size_t)s->inner * es);
        }
    return DI_OK;
}

const di_nn_op di_op_Gather = {.name = "Gather",
                               .min_in = 2,
                               .max_in = 2,
                               .infer = di_nn_infer_gather,
                               .params_size = sizeof(di_nn_gather_params),
                               .run = gather_run};

/* ---- DepthToSpace, SpaceToDepth: one strided view each ---- */

static int d2s_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *m = di_nn_attr_string(n, "mode", "DCR");
    if (strcmp(m, "DCR") && strcmp(m, "CRD"))
        return di_nn_unsupported(err, n, "mode=%s", m);
    int64_t bs = di_nn_attr_int(n, "blocksize", 0);
    if (bs < 1 || bs > 4096)
        return di_nn_shape_error(err, n, "blocksize %lld", (long long)bs);
    return DI_OK;
}

const di_nn_op di_op_DepthToSpace = {.name = "DepthToSpace",
                                     .min_in = 1,
                                     .max_in = 1,
                                     .flags = DI_OP_PER_IMAGE,
                                     .check = d2s_check,
                                     .infer = di_nn_infer_d2s,
                                     .params_size = sizeof(di_nn_view_params),
                                     .run = view_run};
const di_nn_op di_op_SpaceToDepth = {.name = "SpaceToDepth",
                                     .min_in = 1,
                                     .max_in = 1,
                                     .flags = DI_OP_PER_IMAGE,
                                     .check = d2s_check,
                                     .infer = di_nn_infer_d2s,
                                     .params_size = sizeof(di_nn_view_params),
                                     .run = view_run};

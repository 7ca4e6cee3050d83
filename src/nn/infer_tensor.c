/*
** infer_tensor.c: the backend-neutral infer step (op.h) of Concat, Split
** (sizes from the input or the attribute, or equal parts) and Gather
** (constant or run-time indices): their output shapes and the axis (Gather:
** the [outer, axis, inner] split around it) as params.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_concat(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (!di_nn_node_attr(k->node, "axis"))
        return di_nn_shape_error(err, k->node, "no axis attribute");
    if (axis < -x->ndim || axis >= x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)axis);
    if (axis < 0)
        axis += x->ndim;
    int64_t od[DI_NN_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    od[axis] = 0;
    for (int i = 0; i < k->nin; i++) {
        const di_nn_tensor *t = k->in[i];
        if (!t)
            continue;
        if (t->dtype != x->dtype || t->ndim != x->ndim)
            return di_nn_shape_error(err, k->node, "input %d differs in rank or element type", i);
        for (int d = 0; d < x->ndim; d++)
            if (d != axis && t->dims[d] != x->dims[d])
                return di_nn_shape_error(err, k->node,
                                         "input %d has dimension %d of %lld, not %lld", i, d,
                                         (long long)t->dims[d], (long long)x->dims[d]);
        od[axis] += t->dims[axis];
    }
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, od);
    ((di_nn_axis_params *)k->params)->axis = axis;
    return DI_OK;
}

int di_nn_infer_split(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (axis < -x->ndim || axis >= x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)axis);
    if (axis < 0)
        axis += x->ndim;
    int64_t parts[64];
    int np = 0;
    if (k->nin > 1 && k->in[1]) {
        if (di_nn_const_ints(k->in[1], parts, 64, &np))
            return di_nn_unsupported(err, k->node,
                                     "split sizes that are not a constant integer tensor");
    } else if (di_nn_node_attr(k->node, "split")) {
        const di_nn_attr *a = di_nn_node_attr(k->node, "split");
        if (a->n > 64)
            return di_nn_unsupported(err, k->node, "more than 64 parts");
        for (int i = 0; i < a->n; i++)
            parts[i] = a->ints[i];
        np = a->n;
    }
    if (k->nout > 64)
        return di_nn_unsupported(err, k->node, "more than 64 outputs");
    int64_t dim = x->dims[axis];
    if (!np) { /* equal parts; the last one smaller when it does not divide */
        np = k->nout;
        int64_t each = (dim + np - 1) / np;
        for (int i = 0; i < np; i++)
            parts[i] = i < np - 1 ? each : dim - each * (np - 1);
    }
    if (np != k->nout)
        return di_nn_shape_error(err, k->node, "%d split sizes for %d outputs", np, k->nout);
    int64_t sum = 0;
    for (int i = 0; i < np; i++) {
        if (parts[i] < 0)
            return di_nn_shape_error(err, k->node, "negative split size");
        sum += parts[i];
    }
    if (sum != dim)
        return di_nn_shape_error(err, k->node, "split sizes add up to %lld, not %lld",
                                 (long long)sum, (long long)dim);
    di_nn_split_params *sp = k->params;
    for (int i = 0, at = 0; i < np; at += (int)parts[i], i++) {
        sp->start[i] = at;
        if (!k->out[i])
            continue;
        int64_t od[DI_NN_MAX_DIMS];
        memcpy(od, x->dims, sizeof od);
        od[axis] = parts[i];
        di_nn_set_shape(k->out[i], x->dtype, x->ndim, od);
    }
    sp->axis = axis;
    return DI_OK;
}

int di_nn_infer_gather(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    if (idx->dtype != DI_DT_INT64 && idx->dtype != DI_DT_INT32)
        return di_nn_shape_error(err, k->node, "indices are %s", di_dtype_name(idx->dtype));
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (axis < -x->ndim || axis >= x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)axis);
    if (axis < 0)
        axis += x->ndim;
    if (x->ndim - 1 + idx->ndim > DI_NN_MAX_DIMS)
        return di_nn_unsupported(err, k->node, "a result of rank %d", x->ndim - 1 + idx->ndim);
    int64_t od[DI_NN_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < axis; i++)
        od[nd++] = x->dims[i];
    for (int i = 0; i < idx->ndim; i++)
        od[nd++] = idx->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++)
        od[nd++] = x->dims[i];
    di_nn_gather_params *s = k->params;
    s->outer = s->inner = 1;
    for (int i = 0; i < axis; i++)
        s->outer *= x->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++)
        s->inner *= x->dims[i];
    s->axis_dim = x->dims[axis];
    s->nidx = di_nn_numel(idx);
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    return DI_OK;
}

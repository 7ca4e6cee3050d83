/*
** infer_misc.c: the backend-neutral infer step (op.h) of Size, Dropout
** (inference only: training_mode must be a constant false) and CastLike:
** their output shapes and element types; Mod (broadcast strides) and CumSum
** (its constant axis) with their params, GatherElements, Trilu (its
** constant k).
*/
#include "op.h"

int di_nn_infer_size(di_nn_kctx *k, di_error *err)
{
    (void)err;
    di_nn_set_shape(k->out[0], DI_DT_INT64, 0, NULL);
    return DI_OK;
}

int di_nn_infer_dropout(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (!di_dtype_size(x->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (k->nin > 2 && k->in[2]) {
        if (!k->in[2]->is_const || k->in[2]->dtype != DI_DT_BOOL || di_nn_numel(k->in[2]) != 1)
            return di_nn_unsupported(err, k->node, "a training_mode that is not a constant bool");
        if (*(const uint8_t *)k->in[2]->data)
            return di_nn_unsupported(err, k->node, "training_mode=true");
    }
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    if (k->nout > 1 && k->out[1])
        di_nn_set_shape(k->out[1], DI_DT_BOOL, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_castlike(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (!di_dtype_size(x->dtype) || !di_dtype_size(k->in[1]->dtype))
        return di_nn_unsupported(err, k->node, "a cast from %s to %s", di_dtype_name(x->dtype),
                                 di_dtype_name(k->in[1]->dtype));
    di_nn_set_shape(k->out[0], k->in[1]->dtype, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_mod(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    if (a->dtype != b->dtype)
        return di_nn_unsupported(err, k->node, "inputs of different element types");
    bool fmod_attr = di_nn_attr_int(k->node, "fmod", 0) != 0;
    if (a->dtype != DI_DT_FLOAT && a->dtype != DI_DT_INT64 && a->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    if (a->dtype == DI_DT_FLOAT && !fmod_attr)
        return di_nn_shape_error(err, k->node, "float inputs need fmod=1");
    di_nn_mod_params *s = k->params;
    int rc = di_nn_broadcast(k->node, a, b, &s->ndim, s->dims, err);
    if (rc)
        return rc;
    int64_t ra = 1, rb = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        int ia = i - (s->ndim - a->ndim), ib = i - (s->ndim - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        s->sa[i] = da == 1 ? 0 : ra;
        s->sb[i] = db == 1 ? 0 : rb;
        ra *= da;
        rb *= db;
    }
    s->n = di_shape_numel(s->ndim, s->dims);
    di_nn_set_shape(k->out[0], a->dtype, s->ndim, s->dims);
    return DI_OK;
}

int di_nn_infer_cumsum(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT && x->dtype != DI_DT_INT64 && x->dtype != DI_DT_INT32 &&
        x->dtype != DI_DT_DOUBLE)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    int64_t ax;
    int n;
    if (di_nn_const_ints(k->in[1], &ax, 1, &n) || n != 1)
        return di_nn_unsupported(err, k->node, "an axis that is not a constant integer");
    if (ax < -x->ndim || ax >= x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)ax);
    ((di_nn_axis_params *)k->params)->axis = ax < 0 ? ax + x->ndim : ax;
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_gather_elements(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    if (!di_dtype_size(x->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (idx->dtype != DI_DT_INT64 && idx->dtype != DI_DT_INT32)
        return di_nn_shape_error(err, k->node, "indices are %s", di_dtype_name(idx->dtype));
    if (idx->ndim != x->ndim || x->ndim < 1)
        return di_nn_shape_error(err, k->node, "indices of rank %d for data of rank %d", idx->ndim,
                                 x->ndim);
    int64_t ax = di_nn_attr_int(k->node, "axis", 0);
    if (ax < -x->ndim || ax >= x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)ax);
    for (int i = 0; i < x->ndim; i++)
        if (i != (ax < 0 ? ax + x->ndim : ax) && idx->dims[i] > x->dims[i])
            return di_nn_shape_error(err, k->node,
                                     "indices are larger than the data in dimension %d", i);
    di_nn_set_shape(k->out[0], x->dtype, idx->ndim, idx->dims);
    return DI_OK;
}

int di_nn_infer_trilu(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (!di_dtype_size(x->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim < 2)
        return di_nn_shape_error(err, k->node, "input of rank %d", x->ndim);
    int64_t *kk = &((di_nn_trilu_params *)k->params)->k;
    int n;
    if (k->nin > 1 && k->in[1] && (di_nn_const_ints(k->in[1], kk, 1, &n) || n != 1))
        return di_nn_unsupported(err, k->node, "a k that is not a constant integer");
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    return DI_OK;
}

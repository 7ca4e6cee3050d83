/*
** infer_norm.c: the backend-neutral infer step (op.h) of the
** normalisations: Softmax and LogSoftmax (the input viewed as [outer, n,
** inner] around the axis; before opset 13 the input is coerced to 2-D at
** the axis, so inner is 1), LayerNormalization (rows of n normalised
** elements, scale and bias broadcast over them), BatchNormalization
** (inference: per-channel constants), and the reductions (ReduceMean...:
** which axes are reduced, keepdims), ArgMax/ArgMin ([outer, n, inner]
** around the axis), InstanceNormalization; their output shapes.
*/
#include <string.h>

#include "op.h"

static int float_only(const di_nn_kctx *k, di_error *err)
{
    if (k->in[0]->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return DI_OK;
}

static int norm_axis(const di_nn_kctx *k, int64_t axis, int *out, di_error *err)
{
    int r = k->in[0]->ndim;
    if (axis < -r || axis >= (r ? r : 1))
        return di_nn_shape_error(err, k->node, "axis %lld is out of range for rank %d",
                                 (long long)axis, r);
    *out = (int)(axis < 0 ? axis + r : axis);
    return DI_OK;
}

int di_nn_infer_softmax(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    di_nn_softmax_params *p = k->params;
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    /* opset < 13: coerced to 2-D at axis (default 1); from 13: one axis (default -1) */
    bool legacy = k->env->opset < 13;
    int64_t axis = di_nn_attr_int(k->node, "axis", legacy ? 1 : -1);
    int r = x->ndim;
    if (axis < -r || axis >= (r ? r : 1))
        return di_nn_shape_error(err, k->node, "axis %lld is out of range for rank %d",
                                 (long long)axis, r);
    p->axis = (int)(axis < 0 ? axis + r : axis);
    p->log = !strcmp(k->node->op_type, "LogSoftmax");
    p->outer = p->inner = p->n = 1;
    for (int i = 0; i < p->axis; i++)
        p->outer *= x->dims[i];
    if (legacy) {
        for (int i = p->axis; i < x->ndim; i++)
            p->n *= x->dims[i];
    } else {
        p->n = x->ndim ? x->dims[p->axis] : 1;
        for (int i = p->axis + 1; i < x->ndim; i++)
            p->inner *= x->dims[i];
    }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_layernorm(di_nn_kctx *k, di_error *err)
{
    int rc = float_only(k, err), axis = 0;
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0], *sc = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    if ((rc = norm_axis(k, di_nn_attr_int(k->node, "axis", -1), &axis, err)))
        return rc;
    di_nn_layernorm_params *s = k->params;
    s->axis = axis;
    s->epsilon = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    s->rows = s->n = 1;
    for (int i = 0; i < axis; i++)
        s->rows *= x->dims[i];
    for (int i = axis; i < x->ndim; i++)
        s->n *= x->dims[i];
    s->scale_n = di_nn_numel(sc);
    s->bias_n = b ? di_nn_numel(b) : 0;
    if (sc->dtype != DI_DT_FLOAT || (b && b->dtype != DI_DT_FLOAT) ||
        (s->scale_n != s->n && s->scale_n != 1) || (b && s->bias_n != s->n && s->bias_n != 1))
        return di_nn_unsupported(err, k->node,
                                 "scale or bias that is not float32 of the normalised shape");
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    int64_t sd[DI_NN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        sd[i] = i < axis ? x->dims[i] : 1;
    for (int o = 1; o < k->nout; o++)
        if (k->out[o])
            di_nn_set_shape(k->out[o], DI_DT_FLOAT, x->ndim, sd);
    return DI_OK;
}

int di_nn_infer_batchnorm(di_nn_kctx *k, di_error *err)
{
    int rc = float_only(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    if (x->ndim < 2)
        return di_nn_shape_error(err, k->node, "input of rank %d", x->ndim);
    for (int i = 1; i < 5; i++)
        if (k->in[i]->dtype != DI_DT_FLOAT || di_nn_numel(k->in[i]) != x->dims[1])
            return di_nn_shape_error(err, k->node, "input %d must have %lld float values", i,
                                     (long long)x->dims[1]);
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_reduce(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT && x->dtype != DI_DT_INT64)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    bool int_ok = !strcmp(k->node->op_type, "ReduceSum") ||
                  !strcmp(k->node->op_type, "ReduceMax") ||
                  !strcmp(k->node->op_type, "ReduceMin") || !strcmp(k->node->op_type, "ReduceProd");
    if (!int_ok && x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "%s of %s", k->node->op_type,
                                 di_dtype_name(x->dtype));
    int64_t axes[DI_NN_MAX_DIMS];
    int na = 0;
    if (k->nin > 1 && k->in[1]) {
        if (di_nn_const_ints(k->in[1], axes, DI_NN_MAX_DIMS, &na))
            return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    } else {
        const di_nn_attr *a = di_nn_node_attr(k->node, "axes");
        if (a) {
            if (a->n > DI_NN_MAX_DIMS)
                return di_nn_shape_error(err, k->node, "too many axes");
            for (int i = 0; i < a->n; i++)
                axes[i] = a->ints[i];
            na = a->n;
        }
    }
    di_nn_reduce_params *s = k->params;
    s->ndim = x->ndim;
    memcpy(s->dims, x->dims, sizeof s->dims);
    bool noop = na == 0 && di_nn_attr_int(k->node, "noop_with_empty_axes", 0);
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim)
            return di_nn_shape_error(err, k->node, "axis %lld is out of range", (long long)axes[i]);
        s->red[a] = true;
    }
    if (na == 0 && !noop)
        for (int i = 0; i < x->ndim; i++)
            s->red[i] = true;
    bool keep = di_nn_attr_int(k->node, "keepdims", 1) != 0;
    int64_t od[DI_NN_MAX_DIMS];
    int nd = 0;
    s->out_n = s->count = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (s->red[i]) {
            s->count *= x->dims[i];
            if (keep)
                od[nd++] = 1;
        } else {
            od[nd++] = x->dims[i];
            s->out_n *= x->dims[i];
        }
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    return DI_OK;
}

int di_nn_infer_arg(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT && x->dtype != DI_DT_INT64 && x->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    int axis = 0, rc = norm_axis(k, di_nn_attr_int(k->node, "axis", 0), &axis, err);
    if (rc)
        return rc;
    if (x->ndim == 0 || x->dims[axis] == 0)
        return di_nn_shape_error(err, k->node, "an empty axis");
    di_nn_arg_params *s = k->params;
    s->outer = s->inner = 1;
    for (int i = 0; i < axis; i++)
        s->outer *= x->dims[i];
    s->n = x->dims[axis];
    for (int i = axis + 1; i < x->ndim; i++)
        s->inner *= x->dims[i];
    bool keep = di_nn_attr_int(k->node, "keepdims", 1) != 0;
    int64_t od[DI_NN_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != axis)
            od[nd++] = x->dims[i];
        else if (keep)
            od[nd++] = 1;
    }
    di_nn_set_shape(k->out[0], DI_DT_INT64, nd, od);
    return DI_OK;
}

int di_nn_infer_instancenorm(di_nn_kctx *k, di_error *err)
{
    int rc = float_only(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    if (x->ndim < 3)
        return di_nn_shape_error(err, k->node, "input of rank %d", x->ndim);
    if (di_nn_numel(k->in[1]) != x->dims[1] || di_nn_numel(k->in[2]) != x->dims[1] ||
        k->in[1]->dtype != DI_DT_FLOAT || k->in[2]->dtype != DI_DT_FLOAT)
        return di_nn_shape_error(err, k->node, "scale and bias must have %lld float values",
                                 (long long)x->dims[1]);
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return DI_OK;
}

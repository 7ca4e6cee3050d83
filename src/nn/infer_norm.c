/*
** infer_norm.c: the backend-neutral infer step (op.h) of the
** normalisations: Softmax and LogSoftmax (the input viewed as [outer, n,
** inner] around the axis; before opset 13 the input is coerced to 2-D at
** the axis, so inner is 1), LayerNormalization (rows of n normalised
** elements, scale and bias broadcast over them), BatchNormalization
** (inference: per-channel constants); their output shapes.
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

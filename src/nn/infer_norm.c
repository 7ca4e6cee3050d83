/*
** infer_norm.c: the backend-neutral infer step (op.h) of Softmax and
** LogSoftmax: the input viewed as [outer, n, inner] around the axis (before
** opset 13 the input is coerced to 2-D at the axis, so inner is 1), the
** output shape.
*/
#include <string.h>

#include "op.h"

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

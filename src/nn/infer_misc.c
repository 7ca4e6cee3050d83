/*
** infer_misc.c: the backend-neutral infer step (op.h) of Size, Dropout
** (inference only: training_mode must be a constant false) and CastLike:
** their output shapes and element types.
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

/*
** infer_pad.c: the backend-neutral infer step (op.h) of Range (constant
** scalar inputs) and Tile (constant repeats): their output shapes.
*/
#include <math.h>

#include "op.h"

static double scalar(const di_nn_tensor *t)
{
    switch (t->dtype) {
    case DI_DT_FLOAT: return *(const float *)t->data;
    case DI_DT_DOUBLE: return *(const double *)t->data;
    case DI_DT_INT64: return (double)*(const int64_t *)t->data;
    default: return *(const int32_t *)t->data;
    }
}

int di_nn_infer_range(di_nn_kctx *k, di_error *err)
{
    int dt = k->in[0]->dtype;
    for (int i = 0; i < 3; i++) {
        if (!k->in[i]->is_const)
            return di_nn_unsupported(err, k->node, "inputs that are not constant");
        if (k->in[i]->dtype != dt || di_nn_numel(k->in[i]) != 1)
            return di_nn_shape_error(err, k->node, "inputs must be scalars of one type");
    }
    if (dt != DI_DT_FLOAT && dt != DI_DT_INT64 && dt != DI_DT_INT32 && dt != DI_DT_DOUBLE)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(dt));
    double start = scalar(k->in[0]), limit = scalar(k->in[1]), delta = scalar(k->in[2]);
    if (delta == 0)
        return di_nn_shape_error(err, k->node, "delta is 0");
    double n = ceil((limit - start) / delta);
    if (!(n >= 0))
        n = 0;
    if (n > (double)(1 << 30))
        return di_nn_shape_error(err, k->node, "%g elements", n);
    int64_t d = (int64_t)n;
    di_nn_set_shape(k->out[0], dt, 1, &d);
    return DI_OK;
}

int di_nn_infer_tile(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    int64_t rep[DI_NN_MAX_DIMS], od[DI_NN_MAX_DIMS];
    int nr;
    if (di_nn_const_ints(k->in[1], rep, DI_NN_MAX_DIMS, &nr))
        return di_nn_unsupported(err, k->node, "repeats that are not a constant integer tensor");
    if (nr != x->ndim)
        return di_nn_shape_error(err, k->node, "%d repeats for rank %d", nr, x->ndim);
    for (int i = 0; i < nr; i++) {
        if (rep[i] < 0)
            return di_nn_shape_error(err, k->node, "negative repeat");
        if (__builtin_mul_overflow(x->dims[i], rep[i], &od[i]))
            return di_nn_shape_error(err, k->node, "repeats overflow");
    }
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, od);
    return DI_OK;
}

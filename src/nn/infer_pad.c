/*
** infer_pad.c: the backend-neutral infer step (op.h) of Range (constant
** scalar inputs), Tile (constant repeats) and Pad (constant pads and axes;
** its mode and leading pads as params): their output shapes.
*/
#include <math.h>
#include <string.h>

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

int di_nn_infer_pad(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    int nd = x->ndim, np, na = 0;
    int64_t pads[2 * DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS];
    if (di_nn_const_ints(k->in[1], pads, 2 * DI_NN_MAX_DIMS, &np))
        return di_nn_unsupported(err, k->node, "pads that are not a constant integer tensor");
    if (k->nin > 3 && k->in[3] && di_nn_const_ints(k->in[3], axes, DI_NN_MAX_DIMS, &na))
        return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    if (k->nin > 2 && k->in[2] && (k->in[2]->dtype != x->dtype || di_nn_numel(k->in[2]) != 1))
        return di_nn_shape_error(err, k->node,
                                 "constant_value must be one value of the input's type");
    if (!na) {
        na = nd;
        for (int i = 0; i < nd; i++)
            axes[i] = i;
    }
    if (np != 2 * na)
        return di_nn_shape_error(err, k->node, "%d pads for %d axes", np, na);
    di_nn_pad_params *s = k->params;
    const char *m = di_nn_attr_string(k->node, "mode", "constant");
    s->mode = !strcmp(m, "reflect") ? 1 : !strcmp(m, "edge") ? 2 : 0;
    s->nd = nd;
    int64_t od[DI_NN_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 0 || a >= nd) {
            return di_nn_shape_error(err, k->node, "axis out of range");
        }
        s->begin[a] = pads[i];
        if (pads[i] < -((int64_t)1 << 40) || pads[i] > ((int64_t)1 << 40) ||
            pads[i + na] < -((int64_t)1 << 40) || pads[i + na] > ((int64_t)1 << 40)) {
            return di_nn_shape_error(err, k->node, "absurd pads");
        }
        od[a] = x->dims[a] + pads[i] + pads[i + na];
        if (od[a] < 0 ||
            (s->mode && (x->dims[a] == 0 ||
                         (s->mode == 1 && (pads[i] >= x->dims[a] || pads[i + na] >= x->dims[a]) &&
                          (pads[i] > 0 || pads[i + na] > 0))))) {
            return di_nn_shape_error(err, k->node, "pads do not fit dimension %lld", (long long)a);
        }
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    return DI_OK;
}

/*
** infer_const.c: the backend-neutral infer step (op.h) of the ops whose
** outputs are known at plan time (Constant, Shape, ConstantOfShape): their
** element types and shapes; Shape's start..end range as its params.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_constant(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = &k->node->attrs[0];
    int64_t d1 = a->n;
    if (!strcmp(a->name, "value"))
        di_nn_set_shape(k->out[0], a->t_dtype, a->t_ndim, a->t_dims);
    else if (!strcmp(a->name, "value_float"))
        di_nn_set_shape(k->out[0], DI_DT_FLOAT, 0, NULL);
    else if (!strcmp(a->name, "value_int"))
        di_nn_set_shape(k->out[0], DI_DT_INT64, 0, NULL);
    else if (!strcmp(a->name, "value_floats"))
        di_nn_set_shape(k->out[0], DI_DT_FLOAT, 1, &d1);
    else
        di_nn_set_shape(k->out[0], DI_DT_INT64, 1, &d1);
    return DI_OK;
}

static void shape_range(const di_nn_kctx *k, int64_t *start, int64_t *end)
{
    int64_t r = k->in[0]->ndim;
    int64_t s = di_nn_attr_int(k->node, "start", 0), e = di_nn_attr_int(k->node, "end", r);
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    if (s < 0)
        s = 0;
    if (s > r)
        s = r;
    if (e < 0)
        e = 0;
    if (e > r)
        e = r;
    if (e < s)
        e = s;
    *start = s;
    *end = e;
}

int di_nn_infer_shape(di_nn_kctx *k, di_error *err)
{
    (void)err;
    di_nn_shape_params *p = k->params;
    int64_t s, e;
    shape_range(k, &s, &e);
    p->start = s;
    p->end = e;
    int64_t n = e - s;
    di_nn_set_shape(k->out[0], DI_DT_INT64, 1, &n);
    return DI_OK;
}

int di_nn_infer_constant_of_shape(di_nn_kctx *k, di_error *err)
{
    int64_t dims[DI_NN_MAX_DIMS];
    int nd;
    if (di_nn_const_ints(k->in[0], dims, DI_NN_MAX_DIMS, &nd))
        return di_nn_unsupported(err, k->node, "a shape that is not a constant integer tensor");
    for (int i = 0; i < nd; i++)
        if (dims[i] < 0)
            return di_nn_shape_error(err, k->node, "negative dimension");
    const di_nn_attr *a = di_nn_node_attr(k->node, "value");
    int dt = a && a->t_data ? a->t_dtype : DI_DT_FLOAT;
    if (!di_dtype_size(dt))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(dt));
    di_nn_set_shape(k->out[0], dt, nd, dims);
    return DI_OK;
}

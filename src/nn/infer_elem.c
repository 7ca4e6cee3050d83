/*
** infer_elem.c: the backend-neutral infer step (op.h) of the elementwise op
** families: what element types they take, their output shapes (numpy
** broadcast) and element types, and their decoded attributes. Every backend
** reads these from the planned step (k->out, k->params); none works them out
** again.
*/
#include <string.h>

#include "op.h"

/* The numpy broadcast of the first nin inputs (multidirectional). */
static int broadcast_n(const di_nn_kctx *k, int nin, int *ndim, int64_t *dims, di_error *err)
{
    int nd = 0;
    for (int i = 0; i < nin; i++)
        if (k->in[i]->ndim > nd)
            nd = k->in[i]->ndim;
    for (int d = 0; d < nd; d++) {
        int64_t size = 1;
        for (int i = 0; i < nin; i++) {
            int id = d - (nd - k->in[i]->ndim);
            int64_t di = id >= 0 ? k->in[i]->dims[id] : 1;
            if (di != 1) {
                if (size != 1 && size != di)
                    return di_nn_shape_error(err, k->node,
                                             "shapes do not broadcast (dimension %d: %lld vs %lld)",
                                             d, (long long)size, (long long)di);
                size = di;
            }
        }
        dims[d] = size;
    }
    *ndim = nd;
    return DI_OK;
}

static int broadcast_out(di_nn_kctx *k, int nin, int dtype, di_error *err)
{
    int nd = 0;
    int64_t dims[DI_NN_MAX_DIMS];
    int rc = broadcast_n(k, nin, &nd, dims, err);
    if (!rc)
        di_nn_set_shape(k->out[0], dtype, nd, dims);
    return rc;
}

const di_nn_unary_params *di_nn_unary_params_in(const di_nn_kctx *k)
{
    return k->node && k->node->op && k->node->op->unary != DI_U_NONE ? k->params : NULL;
}

int di_nn_infer_unary(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    di_nn_unary_params *up = k->params;
    di_nn_unary_params_of(k->node, up);
    bool int_ok = (up->kind == DI_U_NEG || up->kind == DI_U_ABS) &&
                  (x->dtype == DI_DT_INT64 || x->dtype == DI_DT_INT32);
    if (x->dtype != DI_DT_FLOAT && !int_ok)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    di_nn_set_shape(k->out[0], x->dtype, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_clamp(di_nn_kctx *k, di_error *err)
{
    if (k->in[0]->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    for (int i = 1; i < k->nin; i++) {
        const di_nn_tensor *t = k->in[i];
        if (!t)
            continue;
        if (t->dtype != DI_DT_FLOAT || di_nn_numel(t) != 1)
            return di_nn_shape_error(err, k->node, "input %d must be a float scalar", i);
    }
    di_nn_unary_params_of(k->node, k->params);
    di_nn_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->ndim, k->in[0]->dims);
    return DI_OK;
}

int di_nn_infer_binary(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    bool pow = !strcmp(n->op_type, "Pow");
    bool pow_mixed = pow && a->dtype == DI_DT_FLOAT && b->dtype != DI_DT_FLOAT;
    if (a->dtype != b->dtype && !pow_mixed)
        return di_nn_unsupported(err, n, "inputs of different element types (%s, %s)",
                                 di_dtype_name(a->dtype), di_dtype_name(b->dtype));
    if (a->dtype != DI_DT_FLOAT && a->dtype != DI_DT_INT64 && a->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(a->dtype));
    if (pow_mixed || (pow && a->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, n, "Pow of %s by %s", di_dtype_name(a->dtype),
                                 di_dtype_name(b->dtype));
    return broadcast_out(k, 2, a->dtype, err);
}

int di_nn_infer_compare(di_nn_kctx *k, di_error *err)
{
    if (k->in[0]->dtype != k->in[1]->dtype)
        return di_nn_unsupported(err, k->node, "inputs of different element types");
    if (!di_dtype_size(k->in[0]->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return broadcast_out(k, 2, DI_DT_BOOL, err);
}

int di_nn_infer_where(di_nn_kctx *k, di_error *err)
{
    if (k->in[0]->dtype != DI_DT_BOOL)
        return di_nn_shape_error(err, k->node, "condition is %s, not bool",
                                 di_dtype_name(k->in[0]->dtype));
    if (k->in[1]->dtype != k->in[2]->dtype || !di_dtype_size(k->in[1]->dtype))
        return di_nn_unsupported(err, k->node, "element types %s and %s",
                                 di_dtype_name(k->in[1]->dtype), di_dtype_name(k->in[2]->dtype));
    return broadcast_out(k, 3, k->in[1]->dtype, err);
}

int di_nn_infer_logic(di_nn_kctx *k, di_error *err)
{
    for (int i = 0; i < k->nin; i++)
        if (k->in[i]->dtype != DI_DT_BOOL)
            return di_nn_unsupported(err, k->node, "element type %s",
                                     di_dtype_name(k->in[i]->dtype));
    return broadcast_out(k, k->nin, DI_DT_BOOL, err);
}

int di_nn_infer_prelu(di_nn_kctx *k, di_error *err)
{
    if (k->in[0]->dtype != DI_DT_FLOAT || k->in[1]->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return broadcast_out(k, 2, DI_DT_FLOAT, err);
}

/* Max, Min, Sum, Mean: any number of inputs of one type, broadcast. */
int di_nn_infer_variadic(di_nn_kctx *k, di_error *err)
{
    if (k->nin > 16)
        return di_nn_unsupported(err, k->node, "more than 16 inputs");
    int dt = k->in[0]->dtype;
    for (int i = 0; i < k->nin; i++)
        if (k->in[i]->dtype != dt)
            return di_nn_unsupported(err, k->node, "inputs of different element types");
    bool mean_sum = k->node->op_type[1] == 'u' || k->node->op_type[1] == 'e'; /* Sum, Mean */
    if (dt != DI_DT_FLOAT && (mean_sum || (dt != DI_DT_INT64 && dt != DI_DT_INT32)))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(dt));
    return broadcast_out(k, k->nin, dt, err);
}

int di_nn_infer_cast(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    di_nn_cast_params *p = k->params;
    if (!di_dtype_size(x->dtype))
        return di_nn_unsupported(err, k->node, "a cast from %s", di_dtype_name(x->dtype));
    p->to = (int)di_nn_attr_int(k->node, "to", 0);
    di_nn_set_shape(k->out[0], p->to, x->ndim, x->dims);
    return DI_OK;
}

/*
** ops_const.c: ops whose outputs are known at plan time: Constant, Shape,
** ConstantOfShape. The planner folds them (op.h), so their run() is only
** ever called once per plan.
*/
#include <stdlib.h>
#include <string.h>

#include "../op.h"

static int constant_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (n->nattr != 1)
        return di_nn_unsupported(err, n, "a Constant without exactly one value attribute");
    const di_nn_attr *a = &n->attrs[0];
    if (!strcmp(a->name, "value") && a->t_data)
        return DI_OK;
    if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int"))
        return DI_OK;
    if (!strcmp(a->name, "value_floats") || !strcmp(a->name, "value_ints"))
        return DI_OK;
    return di_nn_unsupported(err, n, "attribute %s", a->name);
}

static int constant_prepare(di_nn_kctx *k, di_error *err)
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

static int constant_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = &k->node->attrs[0];
    void *y = k->out[0]->data;
    size_t bytes = (size_t)di_nn_numel(k->out[0]) * di_dtype_size(k->out[0]->dtype);
    if (!strcmp(a->name, "value"))
        memcpy(y, a->t_data, bytes);
    else if (!strcmp(a->name, "value_float"))
        *(float *)y = a->f;
    else if (!strcmp(a->name, "value_int"))
        *(int64_t *)y = a->i;
    else if (!strcmp(a->name, "value_floats"))
        memcpy(y, a->floats, bytes);
    else
        memcpy(y, a->ints, bytes);
    return DI_OK;
}

const di_nn_op di_op_Constant = {
    .name = "Constant",
    .min_in = 0,
    .max_in = 0,
    .flags = DI_OP_PER_IMAGE,
    .check = constant_check,
    .prepare = constant_prepare,
    .run = constant_run,
};

/* ---- Shape ---- */

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

static int shape_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t s, e;
    shape_range(k, &s, &e);
    int64_t n = e - s;
    di_nn_set_shape(k->out[0], DI_DT_INT64, 1, &n);
    return DI_OK;
}

static int shape_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t s, e;
    shape_range(k, &s, &e);
    for (int64_t i = s; i < e; i++)
        ((int64_t *)k->out[0]->data)[i - s] = k->in[0]->dims[i];
    return DI_OK;
}

const di_nn_op di_op_Shape = {
    .name = "Shape",
    .min_in = 1,
    .max_in = 1,
    .flags = DI_OP_SHAPE_ONLY | DI_OP_BLOCKED_OK,
    .prepare = shape_prepare,
    .run = shape_run,
};

/* ---- ConstantOfShape ---- */

static int cos_prepare(di_nn_kctx *k, di_error *err)
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

static int cos_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = di_nn_node_attr(k->node, "value");
    size_t es = di_dtype_size(k->out[0]->dtype);
    int64_t n = di_nn_numel(k->out[0]);
    uint8_t zero[8] = {0};
    const void *v = a && a->t_data ? a->t_data : zero;
    for (int64_t i = 0; i < n; i++)
        memcpy((uint8_t *)k->out[0]->data + (size_t)i * es, v, es);
    return DI_OK;
}

const di_nn_op di_op_ConstantOfShape = {
    .name = "ConstantOfShape",
    .min_in = 1,
    .max_in = 1,
    .prepare = cos_prepare,
    .run = cos_run,
};

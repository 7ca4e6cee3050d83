/*
** ops_const.c: ops whose outputs are known at plan time: Constant, Shape,
** ConstantOfShape. The planner folds them (op.h), so their run() is only
** ever called once per plan. Their shapes are their infer's (infer_const.c).
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
    .infer = di_nn_infer_constant,
    .run = constant_run,
};

/* ---- Shape ---- */

static int shape_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_shape_params *p = k->params;
    for (int64_t i = p->start; i < p->end; i++)
        ((int64_t *)k->out[0]->data)[i - p->start] = k->in[0]->dims[i];
    return DI_OK;
}

const di_nn_op di_op_Shape = {
    .name = "Shape",
    .min_in = 1,
    .max_in = 1,
    .flags = DI_OP_SHAPE_ONLY | DI_OP_BLOCKED_OK | DI_OP_BF16_OK,
    .infer = di_nn_infer_shape,
    .params_size = sizeof(di_nn_shape_params),
    .run = shape_run,
};

/* ---- ConstantOfShape ---- */

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
    .infer = di_nn_infer_constant_of_shape,
    .run = cos_run,
};

/*
** ops_shape.c: ops that change only the shape (Squeeze, Unsqueeze, Reshape,
** Flatten, Identity): plain data is copied through unchanged. Their output
** shapes are their infer step's (infer_shape.c); they have no CPU state.
** Identity also passes a blocked value on in its layout (a bf16 one too):
** its shape does not change, so neither does the layout's meaning.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* Identity: the output in the input's layout, whatever it is. */
static int identity_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    k->out[0]->blocked = k->in[0]->blocked;
    k->out[0]->layout->md = k->in[0]->layout->md;
    return DI_OK;
}

static int copy_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    size_t bytes = k->in[0]->blocked
                       ? dnnl_memory_desc_get_size(&k->in[0]->layout->md)
                       : (size_t)di_nn_numel(k->in[0]) * di_dtype_size(k->in[0]->dtype);
    if (bytes && k->out[0]->data != k->in[0]->data)
        memcpy(k->out[0]->data, k->in[0]->data, bytes);
    return DI_OK;
}

static int axes_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    if (g->opset < 13 && n->nin > 1)
        return di_nn_node_fail(err, DI_EFORMAT, n,
                               "axes as an input needs opset 13 (the model has %lld)",
                               (long long)g->opset);
    if (g->opset >= 13 && di_nn_node_attr(n, "axes"))
        return di_nn_node_fail(err, DI_EFORMAT, n, "the axes attribute was removed in opset 13");
    if (!strcmp(n->op_type, "Unsqueeze") && n->nin < 2 && !di_nn_node_attr(n, "axes"))
        return di_nn_node_fail(err, DI_EFORMAT, n, "no axes");
    return DI_OK;
}

const di_nn_op di_op_Squeeze = {.name = "Squeeze",
                                .min_in = 1,
                                .max_in = 2,
                                .flags = DI_OP_VIEW | DI_OP_PER_IMAGE,
                                .check = axes_check,
                                .infer = di_nn_infer_squeeze,
                                .run = copy_run};
const di_nn_op di_op_Unsqueeze = {.name = "Unsqueeze",
                                  .min_in = 1,
                                  .max_in = 2,
                                  .flags = DI_OP_VIEW | DI_OP_PER_IMAGE,
                                  .check = axes_check,
                                  .infer = di_nn_infer_unsqueeze,
                                  .run = copy_run};
const di_nn_op di_op_Reshape = {.name = "Reshape",
                                .min_in = 2,
                                .max_in = 2,
                                .flags = DI_OP_VIEW,
                                .infer = di_nn_infer_reshape,
                                .run = copy_run};
const di_nn_op di_op_Flatten = {.name = "Flatten",
                                .min_in = 1,
                                .max_in = 1,
                                .flags = DI_OP_VIEW,
                                .infer = di_nn_infer_flatten,
                                .run = copy_run};
const di_nn_op di_op_Identity = {.name = "Identity",
                                 .min_in = 1,
                                 .max_in = 1,
                                 .flags = DI_OP_VIEW | DI_OP_PER_IMAGE | DI_OP_BLOCKED_OK |
                                          DI_OP_BF16_OK,
                                 .infer = di_nn_infer_identity,
                                 .prepare = identity_prepare,
                                 .run = copy_run};

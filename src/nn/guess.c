/*
** guess.c: what a model's graph says about the meaning of its output, for
** `depthindex model`'s preset guess: Depth Anything V2's metric head ends in
** Sigmoid and a Mul by max_depth (depth in metres, 0 to max_depth); the
** relative one ends in ReLU (inverse depth). Read from the graph as loaded,
** before any planning.
*/
#include <string.h>

#include "engine.h"

/* Ops that move or retype a tensor without changing its values' meaning:
** an export may put them between the head and the output. */
static bool is_view(const char *op)
{
    static const char *const views[] = {"Squeeze", "Unsqueeze", "Reshape",
                                        "Flatten", "Identity",  "Cast"};
    for (size_t i = 0; i < sizeof views / sizeof *views; i++)
        if (!strcmp(op, views[i]))
            return true;
    return false;
}

/* The value v comes from, through views: the producing node, or NULL. */
static const di_nn_node *source(const di_nn_graph *g, int v)
{
    for (int hop = 0; hop < 8 && v >= 0 && v < g->nvalues; hop++) {
        int p = g->values[v].producer;
        if (p < 0)
            return NULL;
        const di_nn_node *n = &g->nodes[p];
        if (!is_view(n->op_type) || n->nin < 1)
            return n;
        v = n->in[0];
    }
    return NULL;
}

/* A one-element float constant (an initializer or a Constant node's value):
** true with its value. */
static bool scalar(const di_nn_graph *g, int v, float *out)
{
    if (v < 0 || v >= g->nvalues)
        return false;
    const di_nn_value *val = &g->values[v];
    if (val->data && val->dtype == DI_DT_FLOAT && di_shape_numel(val->ndim, val->dims) == 1) {
        *out = *(const float *)val->data;
        return true;
    }
    if (val->producer < 0 || strcmp(g->nodes[val->producer].op_type, "Constant"))
        return false;
    const di_nn_node *n = &g->nodes[val->producer];
    const di_nn_attr *a = di_nn_node_attr(n, "value");
    if (a && a->t_data && a->t_dtype == DI_DT_FLOAT && di_shape_numel(a->t_ndim, a->t_dims) == 1) {
        *out = *(const float *)a->t_data;
        return true;
    }
    if ((a = di_nn_node_attr(n, "value_float"))) {
        *out = a->f;
        return true;
    }
    return false;
}

bool di_nn_output_sigmoid_scale(const di_nn_session *s, float *scale)
{
    const di_nn_graph *g = s->g;
    if (g->noutputs < 1)
        return false;
    const di_nn_node *mul = source(g, g->outputs[0]);
    if (!mul || strcmp(mul->op_type, "Mul") || mul->nin != 2)
        return false;
    for (int k = 0; k < 2; k++) {
        float c;
        const di_nn_node *sig = source(g, mul->in[1 - k]);
        if (scalar(g, mul->in[k], &c) && c > 0 && sig && !strcmp(sig->op_type, "Sigmoid")) {
            *scale = c;
            return true;
        }
    }
    return false;
}

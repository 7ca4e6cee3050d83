/*
** describe.c: what a model's file says about the input it expects, for the
** CLI's choice of input size (and `depthindex model`): its patch size.
*/
#include <string.h>

#include "engine.h"

/* A ViT's patch embedding: a Conv whose kernel equals its stride, reading
** the first graph input (directly, or through Cast/Identity as fp16 exports
** write it). Its stride is the patch size: the input's height and width must
** be multiples of it (else the tokens do not tile the image and a
** Reshape to the grid fails). 1 when there is no such Conv. */
int di_nn_input_patch(const di_nn_session *s)
{
    const di_nn_graph *g = s->g;
    if (g->ninputs < 1)
        return 1;
    int v = g->inputs[0];
    for (int hop = 0; hop < 4; hop++) {
        int next = -1;
        for (int i = 0; i < g->nnodes; i++) {
            const di_nn_node *n = &g->nodes[i];
            if (n->nin < 1 || n->in[0] != v || n->nout < 1)
                continue;
            if (!strcmp(n->op_type, "Conv")) {
                const di_nn_attr *k = di_nn_node_attr(n, "kernel_shape");
                const di_nn_attr *st = di_nn_node_attr(n, "strides");
                if (k && st && k->n == 2 && st->n == 2 && k->ints[0] == st->ints[0] &&
                    k->ints[1] == st->ints[1] && k->ints[0] == k->ints[1] && k->ints[0] > 1 &&
                    k->ints[0] <= 64)
                    return (int)k->ints[0];
            } else if (!strcmp(n->op_type, "Cast") || !strcmp(n->op_type, "Identity")) {
                next = n->out[0];
            }
        }
        if (next < 0)
            break;
        v = next;
    }
    return 1;
}

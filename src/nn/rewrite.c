/*
** rewrite.c: graph rewrites done once after loading, before the nodes are
** checked against the kernel table.
**
** GELU: exporters before opset 20 write GELU as five element-wise nodes,
**     d = Div(x, sqrt(2)); e = Erf(d); a = Add(e, 1);
**     y = Mul(Mul(x, a), 0.5)   or   y = Mul(Mul(x, 0.5), a)
** (operands of Add and Mul in either order). Each is a full pass over the
** MLP's widest tensor; the chain becomes one Gelu node (approximate=none)
** when the constants are scalar initializers with those values and the
** intermediate values feed nothing else.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* The one node reading value v, or -1 (none, several, or a graph output). */
static int only_consumer(const di_nn_graph *g, const int *uses, int v)
{
    if (v < 0 || uses[v] != 1) return -1;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v) return -1;
    for (int n = 0; n < g->nnodes; n++)
        for (int j = 0; j < g->nodes[n].nin; j++)
            if (g->nodes[n].in[j] == v) return n;
    return -1;
}

/* v is a float scalar initializer equal to want (within float rounding) */
static bool is_const(const di_nn_graph *g, int v, double want)
{
    if (v < 0) return false;
    const di_nn_value *val = &g->values[v];
    if (!val->data || val->dtype != DI_DT_FLOAT || di_shape_numel(val->ndim, val->dims) != 1) return false;
    return fabs(*(const float *)val->data - want) <= 1e-6 * fabs(want);
}

static bool is_op(const di_nn_node *n, const char *op, int nin)
{
    return !strcmp(n->op_type, op) && n->nin == nin && n->nout == 1 && n->out[0] >= 0;
}

/* The operand of binary node n that is not v, or -1 when v is not one. */
static int other_operand(const di_nn_node *n, int v)
{
    if (n->in[0] == v) return n->in[1];
    if (n->in[1] == v) return n->in[0];
    return -1;
}

static void free_node(di_nn_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->in);
    free(n->out);
    for (int j = 0; j < n->nattr; j++) {
        free(n->attrs[j].name);
        free(n->attrs[j].s);
        free(n->attrs[j].ints);
        free(n->attrs[j].floats);
        free(n->attrs[j].t_data);
    }
    free(n->attrs);
}

/* Matches the chain starting at Div node di; fills the four other nodes
** and the output value. */
static bool match_gelu(const di_nn_graph *g, const int *uses, int di, int chain[4], int *y)
{
    const di_nn_node *div = &g->nodes[di];
    if (!is_op(div, "Div", 2) || !is_const(g, div->in[1], sqrt(2.0))) return false;
    int x = div->in[0];
    if (x < 0 || x == div->in[1]) return false;
    int ei = only_consumer(g, uses, div->out[0]);
    if (ei < 0 || !is_op(&g->nodes[ei], "Erf", 1)) return false;
    int ai = only_consumer(g, uses, g->nodes[ei].out[0]);
    if (ai < 0 || !is_op(&g->nodes[ai], "Add", 2) || !is_const(g, other_operand(&g->nodes[ai], g->nodes[ei].out[0]), 1.0)) return false;
    int a = g->nodes[ai].out[0];
    int m1 = only_consumer(g, uses, a);
    if (m1 < 0 || !is_op(&g->nodes[m1], "Mul", 2)) return false;
    int m2;
    if (other_operand(&g->nodes[m1], a) == x) {
        /* Mul(x, a) then Mul(., 0.5) */
        m2 = only_consumer(g, uses, g->nodes[m1].out[0]);
        if (m2 < 0 || !is_op(&g->nodes[m2], "Mul", 2) || !is_const(g, other_operand(&g->nodes[m2], g->nodes[m1].out[0]), 0.5)) return false;
        chain[2] = m1;
        chain[3] = m2;
    } else {
        /* Mul(x, 0.5) = h, then Mul(h, a) = m1 */
        int h = other_operand(&g->nodes[m1], a), hi = h >= 0 ? g->values[h].producer : -1;
        if (hi < 0 || !is_op(&g->nodes[hi], "Mul", 2) || only_consumer(g, uses, h) != m1) return false;
        int c = other_operand(&g->nodes[hi], x);
        if (c < 0 || !is_const(g, c, 0.5)) return false;
        m2 = m1;
        chain[2] = hi;
        chain[3] = m1;
    }
    chain[0] = ei;
    chain[1] = ai;
    *y = g->nodes[m2].out[0];
    return true;
}

int di_nn_rewrite_gelu(di_nn_graph *g)
{
    int *uses = calloc((size_t)g->nvalues + 1, sizeof(int));
    bool *dead = calloc((size_t)g->nnodes + 1, sizeof(bool));
    if (!uses || !dead) {
        free(uses);
        free(dead);
        return DI_ENOMEM;
    }
    for (int n = 0; n < g->nnodes; n++)
        for (int j = 0; j < g->nodes[n].nin; j++)
            if (g->nodes[n].in[j] >= 0) uses[g->nodes[n].in[j]]++;
    int fused = 0;
    for (int di = 0; di < g->nnodes; di++) {
        int chain[4], y;
        if (dead[di] || !match_gelu(g, uses, di, chain, &y)) continue;
        bool clash = false;
        for (int c = 0; c < 4; c++) clash |= dead[chain[c]] || chain[c] == di;
        if (clash) continue;
        /* the Div node becomes Gelu(x) -> y; the rest go */
        di_nn_node *n = &g->nodes[di];
        char *op = malloc(5);
        if (!op) break;
        memcpy(op, "Gelu", 5);
        free(n->op_type);
        n->op_type = op;
        uses[n->in[1]]--;
        n->nin = 1;
        n->out[0] = y;
        for (int c = 0; c < 4; c++) {
            dead[chain[c]] = true;
            const di_nn_node *d = &g->nodes[chain[c]];
            for (int j = 0; j < d->nin; j++)
                if (d->in[j] >= 0) uses[d->in[j]]--;
        }
        fused++;
    }
    if (fused) {
        int k = 0;
        for (int i = 0; i < g->nnodes; i++) {
            if (dead[i]) {
                free_node(&g->nodes[i]);
                continue;
            }
            g->nodes[k++] = g->nodes[i];
        }
        g->nnodes = k;
        for (int v = 0; v < g->nvalues; v++) g->values[v].producer = -1;
        for (int i = 0; i < g->nnodes; i++)
            for (int o = 0; o < g->nodes[i].nout; o++)
                if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
    }
    free(uses);
    free(dead);
    return DI_OK;
}

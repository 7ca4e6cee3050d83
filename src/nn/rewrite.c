/*
** rewrite.c: graph rewrites done once after loading, before the nodes are
** checked against the kernel table.
**
** GELU: exporters before opset 20 write GELU as five element-wise nodes,
**     d = Div(x, sqrt(2)); e = Erf(d); a = Add(e, 1);
**     y = Mul(Mul(x, a), 0.5)   or   y = Mul(Mul(x, 0.5), a)
** (operands of Add and Mul in either order). Each is a full pass over the
** MLP's widest tensor; the chain becomes one Gelu node (approximate=none).
**
** LayerNorm: before opset 17, LayerNorm over the last axis is nine nodes,
**     mu = ReduceMean(x, axes=[-1]); d = Sub(x, mu); v = ReduceMean(Pow(d, 2),
**     axes=[-1]); y = Add(Mul(Div(d, Sqrt(Add(v, eps))), gamma), beta)
** and becomes one LayerNormalization(x, gamma, beta; axis=-1, epsilon).
**
** Scaled MatMul: Mul(MatMul(a, b), c) with a scalar constant c (attention's
** 1/sqrt(d) on its widest tensor) becomes the MatMul with an internal
** attribute "_scale" = c, which the kernel applies as oneDNN's output scale;
** Div(MatMul(a, b), c), the form some exports write, the same with 1/c
** (within an ulp of the division).
**
** Layer scale: Mul(MatMul(a, W) [+ b], g) with constant W [K, N], b [N] and
** g [N] (DINOv2's LayerScale after attention and MLP) folds g into W's
** columns and b, so that the MatMul, its bias and the residual Add after it
** fuse into one primitive. W and b must feed nothing else.
**
** Attention: MatMul(Q, K^T) [scaled], Softmax, MatMul(., V) become one
** _FusedAttention node (rewrite_attention.c), not for DI_NN_LOAD_PORTABLE.
**
** Upsample then 1x1 conv: Conv(Resize(x)) with a 1x1 C -> C conv becomes
** Resize(Conv(x)), the conv at the smaller size (rewrite_resize.c), not for
** DI_NN_LOAD_PORTABLE.
**
** A chain is rewritten only when its constants are initializers with the
** right values and shapes and its intermediate values feed nothing else.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "rewrite.h"

/* The one node reading value v, or -1 (none, several, or a graph output). */
static int only_consumer(const di_nn_graph *g, const int *uses, int v)
{
    if (v < 0 || uses[v] != 1)
        return -1;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
            return -1;
    for (int n = 0; n < g->nnodes; n++)
        for (int j = 0; j < g->nodes[n].nin; j++)
            if (g->nodes[n].in[j] == v)
                return n;
    return -1;
}

/* v is a float scalar initializer equal to want (within float rounding) */
static bool is_const(const di_nn_graph *g, int v, double want)
{
    if (v < 0)
        return false;
    const di_nn_value *val = &g->values[v];
    if (!val->data || val->dtype != DI_DT_FLOAT || di_shape_numel(val->ndim, val->dims) != 1)
        return false;
    return fabs(*(const float *)val->data - want) <= 1e-6 * fabs(want);
}

static bool is_op(const di_nn_node *n, const char *op, int nin)
{
    return !strcmp(n->op_type, op) && n->nin == nin && n->nout == 1 && n->out[0] >= 0;
}

/* The operand of binary node n that is not v, or -1 when v is not one. */
static int other_operand(const di_nn_node *n, int v)
{
    if (n->in[0] == v)
        return n->in[1];
    if (n->in[1] == v)
        return n->in[0];
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

void di_nn_rw_reuse_node(di_nn_node *n)
{
    char *name = n->name;
    int *out = n->out;
    n->name = NULL;
    n->out = NULL;
    free_node(n);
    n->name = name;
    n->out = out;
}

/* Matches the chain starting at Div node di; fills the four other nodes
** and the output value. */
static bool match_gelu(const di_nn_graph *g, const int *uses, int di, int chain[4], int *y)
{
    const di_nn_node *div = &g->nodes[di];
    if (!is_op(div, "Div", 2) || !is_const(g, div->in[1], sqrt(2.0)))
        return false;
    int x = div->in[0];
    if (x < 0 || x == div->in[1])
        return false;
    int ei = only_consumer(g, uses, div->out[0]);
    if (ei < 0 || !is_op(&g->nodes[ei], "Erf", 1))
        return false;
    int ai = only_consumer(g, uses, g->nodes[ei].out[0]);
    if (ai < 0 || !is_op(&g->nodes[ai], "Add", 2) ||
        !is_const(g, other_operand(&g->nodes[ai], g->nodes[ei].out[0]), 1.0))
        return false;
    int a = g->nodes[ai].out[0];
    int m1 = only_consumer(g, uses, a);
    if (m1 < 0 || !is_op(&g->nodes[m1], "Mul", 2))
        return false;
    int m2;
    if (other_operand(&g->nodes[m1], a) == x) {
        /* Mul(x, a) then Mul(., 0.5) */
        m2 = only_consumer(g, uses, g->nodes[m1].out[0]);
        if (m2 < 0 || !is_op(&g->nodes[m2], "Mul", 2) ||
            !is_const(g, other_operand(&g->nodes[m2], g->nodes[m1].out[0]), 0.5))
            return false;
        chain[2] = m1;
        chain[3] = m2;
    } else {
        /* Mul(x, 0.5) = h, then Mul(h, a) = m1 */
        int h = other_operand(&g->nodes[m1], a), hi = h >= 0 ? g->values[h].producer : -1;
        if (hi < 0 || !is_op(&g->nodes[hi], "Mul", 2) || only_consumer(g, uses, h) != m1)
            return false;
        int c = other_operand(&g->nodes[hi], x);
        if (c < 0 || !is_const(g, c, 0.5))
            return false;
        m2 = m1;
        chain[2] = hi;
        chain[3] = m1;
    }
    chain[0] = ei;
    chain[1] = ai;
    *y = g->nodes[m2].out[0];
    return true;
}

/* ReduceMean over the last axis only, keepdims=1 */
static bool mean_last_axis(const di_nn_graph *g, const di_nn_node *n)
{
    if (!is_op(n, "ReduceMean", n->nin) || n->nin < 1 || n->nin > 2 || n->in[0] < 0)
        return false;
    if (di_nn_attr_int(n, "keepdims", 1) != 1)
        return false;
    if (n->nin == 2 && n->in[1] >= 0) {
        const di_nn_value *a = &g->values[n->in[1]];
        return a->data && a->dtype == DI_DT_INT64 && di_shape_numel(a->ndim, a->dims) == 1 &&
               *(const int64_t *)a->data == -1;
    }
    const di_nn_attr *a = di_nn_node_attr(n, "axes");
    return a && a->n == 1 && a->ints[0] == -1;
}

/* a 1-D float initializer */
static bool is_vector(const di_nn_graph *g, int v)
{
    return v >= 0 && g->values[v].data && g->values[v].dtype == DI_DT_FLOAT &&
           g->values[v].ndim == 1;
}

/* The LayerNorm chain from ReduceMean node ri: the eight other nodes,
** gamma, beta, epsilon and the output. */
static bool match_layernorm(const di_nn_graph *g, const int *uses, int ri, int chain[8], int *gamma,
                            int *beta, float *eps, int *y)
{
    const di_nn_node *r0 = &g->nodes[ri];
    if (!mean_last_axis(g, r0))
        return false;
    int x = r0->in[0], mu = r0->out[0];
    int si = only_consumer(g, uses, mu);
    if (si < 0 || !is_op(&g->nodes[si], "Sub", 2) || g->nodes[si].in[0] != x ||
        g->nodes[si].in[1] != mu)
        return false;
    int d = g->nodes[si].out[0];
    if (uses[d] != 2)
        return false;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == d)
            return false;
    int pi = -1, di = -1;
    for (int n = 0; n < g->nnodes; n++)
        for (int j = 0; j < g->nodes[n].nin; j++)
            if (g->nodes[n].in[j] == d) {
                if (is_op(&g->nodes[n], "Pow", 2) && j == 0)
                    pi = n;
                else if (is_op(&g->nodes[n], "Div", 2) && j == 0)
                    di = n;
            }
    if (pi < 0 || di < 0 || !is_const(g, g->nodes[pi].in[1], 2.0))
        return false;
    int r1 = only_consumer(g, uses, g->nodes[pi].out[0]);
    if (r1 < 0 || !mean_last_axis(g, &g->nodes[r1]) || g->nodes[r1].in[0] != g->nodes[pi].out[0])
        return false;
    int ai = only_consumer(g, uses, g->nodes[r1].out[0]);
    if (ai < 0 || !is_op(&g->nodes[ai], "Add", 2))
        return false;
    int ev = other_operand(&g->nodes[ai], g->nodes[r1].out[0]);
    const di_nn_value *e = ev >= 0 ? &g->values[ev] : NULL;
    if (!e || !e->data || e->dtype != DI_DT_FLOAT || di_shape_numel(e->ndim, e->dims) != 1)
        return false;
    int qi = only_consumer(g, uses, g->nodes[ai].out[0]);
    if (qi < 0 || !is_op(&g->nodes[qi], "Sqrt", 1))
        return false;
    if (only_consumer(g, uses, g->nodes[qi].out[0]) != di ||
        g->nodes[di].in[1] != g->nodes[qi].out[0])
        return false;
    int mi = only_consumer(g, uses, g->nodes[di].out[0]);
    if (mi < 0 || !is_op(&g->nodes[mi], "Mul", 2))
        return false;
    int gv = other_operand(&g->nodes[mi], g->nodes[di].out[0]);
    int bi = only_consumer(g, uses, g->nodes[mi].out[0]);
    if (bi < 0 || !is_op(&g->nodes[bi], "Add", 2))
        return false;
    int bv = other_operand(&g->nodes[bi], g->nodes[mi].out[0]);
    if (!is_vector(g, gv) || !is_vector(g, bv) || g->values[gv].dims[0] != g->values[bv].dims[0])
        return false;
    int nodes[8] = {si, pi, r1, ai, qi, di, mi, bi};
    memcpy(chain, nodes, sizeof nodes);
    *gamma = gv;
    *beta = bv;
    *eps = *(const float *)e->data;
    *y = g->nodes[bi].out[0];
    return true;
}

static int rewrite_layernorm(di_nn_graph *g, int *uses, bool *dead, int ri)
{
    int chain[8], gamma, beta, y;
    float eps;
    if (!match_layernorm(g, uses, ri, chain, &gamma, &beta, &eps, &y))
        return 0;
    for (int c = 0; c < 8; c++)
        if (dead[chain[c]] || chain[c] == ri)
            return 0;
    di_nn_node *n = &g->nodes[ri];
    int *in = malloc(3 * sizeof(int));
    di_nn_attr *attrs = calloc(2, sizeof(di_nn_attr));
    char *op = malloc(sizeof "LayerNormalization");
    char *an = malloc(sizeof "axis"), *en = malloc(sizeof "epsilon");
    if (!in || !attrs || !op || !an || !en) {
        free(in);
        free(attrs);
        free(op);
        free(an);
        free(en);
        return -1;
    }
    memcpy(op, "LayerNormalization", sizeof "LayerNormalization");
    memcpy(an, "axis", sizeof "axis");
    memcpy(en, "epsilon", sizeof "epsilon");
    attrs[0] = (di_nn_attr){.name = an, .type = 2, .i = -1};
    attrs[1] = (di_nn_attr){.name = en, .type = 1, .f = eps};
    int x = n->in[0];
    if (n->nin == 2 && n->in[1] >= 0)
        uses[n->in[1]]--;
    di_nn_rw_reuse_node(n); /* the node keeps its name and output array */
    n->op_type = op;
    n->in = in;
    n->nin = 3;
    in[0] = x;
    in[1] = gamma;
    in[2] = beta;
    n->out[0] = y;
    n->attrs = attrs;
    n->nattr = 2;
    uses[gamma]++;
    uses[beta]++;
    for (int c = 0; c < 8; c++) {
        dead[chain[c]] = true;
        const di_nn_node *d = &g->nodes[chain[c]];
        for (int j = 0; j < d->nin; j++)
            if (d->in[j] >= 0)
                uses[d->in[j]]--;
    }
    return 1;
}

static int rewrite_matmul_scale(di_nn_graph *g, int *uses, bool *dead, int ui)
{
    const di_nn_node *mul = &g->nodes[ui];
    bool div = is_op(mul, "Div", 2);
    if (!div && !is_op(mul, "Mul", 2))
        return 0;
    for (int side = 0; side < (div ? 1 : 2); side++) {
        int v = mul->in[side], c = mul->in[1 - side];
        const di_nn_value *cv = c >= 0 ? &g->values[c] : NULL;
        if (!cv || !cv->data || cv->dtype != DI_DT_FLOAT || di_shape_numel(cv->ndim, cv->dims) != 1)
            continue;
        float scale = *(const float *)cv->data;
        if (div) {
            /* scores / sqrt(d): times the reciprocal, when it is a normal number */
            scale = 1.f / scale;
            if (!isnormal(scale))
                continue;
        }
        int mi = v >= 0 ? g->values[v].producer : -1;
        if (mi < 0 || dead[mi] || only_consumer(g, uses, v) != ui ||
            !is_op(&g->nodes[mi], "MatMul", 2))
            continue;
        di_nn_node *mm = &g->nodes[mi];
        if (di_nn_node_attr(mm, "_scale"))
            continue;
        di_nn_attr *attrs = realloc(mm->attrs, (size_t)(mm->nattr + 1) * sizeof *attrs);
        char *an = malloc(sizeof "_scale");
        if (!attrs || !an) {
            if (attrs)
                mm->attrs = attrs;
            free(an);
            return -1;
        }
        memcpy(an, "_scale", sizeof "_scale");
        mm->attrs = attrs;
        mm->attrs[mm->nattr++] = (di_nn_attr){.name = an, .type = 1, .f = scale};
        mm->out[0] = mul->out[0];
        uses[v]--;
        uses[c]--;
        dead[ui] = true;
        return 1;
    }
    return 0;
}

static bool is_output(const di_nn_graph *g, int v)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* a float initializer of exactly these dims */
static bool is_float_init(const di_nn_graph *g, int v, int nd, const int64_t *dims)
{
    if (v < 0 || !g->values[v].data || g->values[v].dtype != DI_DT_FLOAT || g->values[v].ndim != nd)
        return false;
    for (int i = 0; i < nd; i++)
        if (g->values[v].dims[i] != dims[i])
            return false;
    return true;
}

static int rewrite_layer_scale(di_nn_graph *g, int *uses, bool *dead, int ui)
{
    const di_nn_node *mul = &g->nodes[ui];
    if (!is_op(mul, "Mul", 2))
        return 0;
    for (int side = 0; side < 2; side++) {
        int v = mul->in[side], gv = mul->in[1 - side];
        if (v < 0 || gv < 0 || gv == v || only_consumer(g, uses, v) != ui)
            continue;
        const di_nn_value *gval = &g->values[gv];
        if (!gval->data || gval->dtype != DI_DT_FLOAT || gval->ndim != 1)
            continue;
        int64_t N = gval->dims[0];
        int pi = g->values[v].producer, mi = -1, bv = -1;
        if (pi < 0 || dead[pi])
            continue;
        if (is_op(&g->nodes[pi], "Add", 2)) { /* MatMul + b */
            for (int j = 0; j < 2 && mi < 0; j++) {
                int mv = g->nodes[pi].in[j], cand = mv >= 0 ? g->values[mv].producer : -1;
                if (cand >= 0 && !dead[cand] && is_op(&g->nodes[cand], "MatMul", 2) &&
                    only_consumer(g, uses, mv) == pi) {
                    mi = cand;
                    bv = g->nodes[pi].in[1 - j];
                }
            }
            if (mi < 0 || !is_float_init(g, bv, 1, &N) || uses[bv] != 1 || is_output(g, bv))
                continue;
        } else if (is_op(&g->nodes[pi], "MatMul", 2)) {
            mi = pi;
        } else {
            continue;
        }
        const di_nn_node *mm = &g->nodes[mi];
        int wv = mm->in[1];
        if (wv < 0 || wv == bv || wv == gv || uses[wv] != 1 || is_output(g, wv) ||
            di_nn_node_attr(mm, "_scale"))
            continue;
        const di_nn_value *w = &g->values[wv];
        if (!w->data || w->dtype != DI_DT_FLOAT || w->ndim != 2 || w->dims[1] != N)
            continue;
        const float *gs = gval->data;
        float *wd = w->data;
        for (int64_t r = 0; r < w->dims[0]; r++)
            for (int64_t c = 0; c < N; c++)
                wd[r * N + c] *= gs[c];
        if (bv >= 0) {
            float *bd = g->values[bv].data;
            for (int64_t c = 0; c < N; c++)
                bd[c] *= gs[c];
        }
        g->nodes[pi].out[0] = mul->out[0]; /* the MatMul or the bias Add now writes y */
        uses[v]--;
        uses[gv]--;
        dead[ui] = true;
        return 1;
    }
    return 0;
}

int di_nn_rw_only_consumer(const di_nn_graph *g, const int *uses, int v)
{
    return only_consumer(g, uses, v);
}

bool di_nn_rw_is_op(const di_nn_node *n, const char *op, int nin)
{
    return is_op(n, op, nin);
}

int di_nn_rewrite(di_nn_graph *g, int flags)
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
            if (g->nodes[n].in[j] >= 0)
                uses[g->nodes[n].in[j]]++;
    int fused = 0;
    for (int ri = 0; ri < g->nnodes; ri++) {
        if (dead[ri])
            continue;
        int r = rewrite_layernorm(g, uses, dead, ri);
        if (r < 0) {
            fused = -1;
            break;
        }
        fused += r;
    }
    for (int ui = 0; ui < g->nnodes && fused >= 0; ui++) {
        if (dead[ui])
            continue;
        int r = rewrite_layer_scale(g, uses, dead, ui);
        if (!r)
            r = rewrite_matmul_scale(g, uses, dead, ui);
        fused = r < 0 ? -1 : fused + r;
    }
    /* after the scale rewrites: a scaled MatMul's Mul is its _scale now */
    for (int si = 0; si < g->nnodes && fused >= 0 && !(flags & DI_NN_LOAD_PORTABLE); si++) {
        if (dead[si])
            continue;
        int r = di_nn_rewrite_attention(g, uses, dead, si);
        fused = r < 0 ? -1 : fused + r;
    }
    for (int ci = 0; ci < g->nnodes && fused >= 0 && !(flags & DI_NN_LOAD_PORTABLE); ci++) {
        int r = dead[ci] ? 0 : di_nn_rewrite_quant(g, uses, dead, ci);
        fused = r < 0 ? -1 : fused + r;
    }
    for (int ri = 0; ri < g->nnodes && fused >= 0 && !(flags & DI_NN_LOAD_PORTABLE); ri++)
        fused += dead[ri] ? 0 : di_nn_rewrite_resize_conv(g, uses, dead, ri);
    for (int di = 0; di < g->nnodes && fused >= 0; di++) {
        int chain[4], y;
        if (dead[di] || !match_gelu(g, uses, di, chain, &y))
            continue;
        bool clash = false;
        for (int c = 0; c < 4; c++)
            clash |= dead[chain[c]] || chain[c] == di;
        if (clash)
            continue;
        /* the Div node becomes Gelu(x) -> y; the rest go */
        di_nn_node *n = &g->nodes[di];
        char *op = malloc(5);
        if (!op) {
            fused = -1;
            break;
        }
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
                if (d->in[j] >= 0)
                    uses[d->in[j]]--;
        }
        fused++;
    }
    if (fused != 0) { /* also after a failure: what was rewritten is consistent */
        int k = 0;
        for (int i = 0; i < g->nnodes; i++) {
            if (dead[i]) {
                free_node(&g->nodes[i]);
                continue;
            }
            g->nodes[k++] = g->nodes[i];
        }
        g->nnodes = k;
        for (int v = 0; v < g->nvalues; v++)
            g->values[v].producer = -1;
        for (int i = 0; i < g->nnodes; i++)
            for (int o = 0; o < g->nodes[i].nout; o++)
                if (g->nodes[i].out[o] >= 0)
                    g->values[g->nodes[i].out[o]].producer = i;
    }
    free(uses);
    free(dead);
    return fused < 0 ? DI_ENOMEM : DI_OK;
}

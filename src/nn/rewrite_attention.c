/*
** rewrite_attention.c: attention as torch exports it,
**     S = MatMul(Q, K^T) [* scale]; P = Softmax(S, axis=-1); O = MatMul(P, V)
** becomes one _FusedAttention(Q, K, V) node (infer_attention.c,
** cpu/ops_attention.c), which never writes the whole [heads, T, T] score
** tensor: the CPU computes it a block of query rows at a time, in cache.
**
** The scale is taken in each form the exporters write (runs after the
** scaled-MatMul rewrite of rewrite.c, so that a Mul or Div after the MatMul
** is its _scale already): Mul(Q, c) (DINOv2's q * scale), Mul(K^T, c), both
** (scaled_dot_product_attention's two sqrt-scale Muls), Div(S, c). K^T as
** Transpose(K) with the last two axes swapped is read through strides (the
** Transpose goes); any other K^T is read as given (k_trans = 1). A
** Transpose(0, 2, 1, 3) reading only O (the heads merged back) is written
** by strides too (out_perm = 1). When Q, K, V are Gathers 0, 1, 2 (in
** any order) of Transpose(Y, 2 0 3 1 4), Y being [B, T, 3, H, hd] (the qkv
** projection reshaped), those four nodes go too and the fused node reads Y
** alone (attribute qkv: the three indices).
**
** Left alone: a Softmax over another axis, anything between the MatMul and
** the Softmax or after it (an Add of a mask, a Where), a score or
** probability tensor read elsewhere or a graph output, a second MatMul that
** takes P as its right operand.
*/
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/* The live node writing v: the recorded producer unless a rewrite moved
** its output to another node (rewrite.c's scale rewrites do), then a scan. */
static int producer_of(const di_nn_graph *g, const bool *dead, int v)
{
    if (v < 0)
        return -1;
    int p = g->values[v].producer;
    if (p >= 0 && !dead[p] && g->nodes[p].nout >= 1 && g->nodes[p].out[0] == v)
        return p;
    for (int n = 0; n < g->nnodes; n++)
        if (!dead[n])
            for (int o = 0; o < g->nodes[n].nout; o++)
                if (g->nodes[n].out[o] == v)
                    return n;
    return -1;
}

/* v is a float scalar initializer; *c its value */
static bool scalar_init(const di_nn_graph *g, int v, float *c)
{
    if (v < 0 || !g->values[v].data || g->values[v].dtype != DI_DT_FLOAT ||
        di_shape_numel(g->values[v].ndim, g->values[v].dims) != 1)
        return false;
    *c = *(const float *)g->values[v].data;
    return true;
}

/* x = Mul(x0, c), Mul(c, x0) or Div(x0, c) with a scalar constant c and x
** read only by node `by`: returns x0, multiplies *scale by the factor and
** sets *node; otherwise returns x. */
static int unscale(const di_nn_graph *g, const int *uses, const bool *dead, int x, int by,
                   float *scale, int *node)
{
    int p = producer_of(g, dead, x);
    *node = -1;
    if (p < 0 || di_nn_rw_only_consumer(g, uses, x) != by)
        return x;
    const di_nn_node *n = &g->nodes[p];
    bool div = di_nn_rw_is_op(n, "Div", 2);
    if (!div && !di_nn_rw_is_op(n, "Mul", 2))
        return x;
    for (int side = 0; side < (div ? 1 : 2); side++) {
        float c;
        int x0 = n->in[side];
        if (x0 < 0 || !scalar_init(g, n->in[1 - side], &c) || (div && c == 0.f))
            continue;
        *scale *= div ? 1.f / c : c;
        *node = p;
        return x0;
    }
    return x;
}

/* a Transpose whose perm is the identity but for the last two axes swapped
** (ONNX's default perm reverses every axis: the same for rank 2 only) */
static bool swaps_last_two(const di_nn_node *n)
{
    const di_nn_attr *a = di_nn_node_attr(n, "perm");
    if (!a)
        return false; /* the rank is unknown here */
    int r = a->n;
    if (r < 2 || a->ints[r - 2] != r - 1 || a->ints[r - 1] != r - 2)
        return false;
    for (int i = 0; i < r - 2; i++)
        if (a->ints[i] != i)
            return false;
    return true;
}

static bool perm_is(const di_nn_node *n, int r, const int64_t *want)
{
    const di_nn_attr *a = di_nn_node_attr(n, "perm");
    if (!a || a->n != r)
        return false;
    for (int i = 0; i < r; i++)
        if (a->ints[i] != want[i])
            return false;
    return true;
}

/* v = Gather(x, i, axis 0) with i a constant integer scalar: x, and i in *idx */
static int gathered_from(const di_nn_graph *g, const bool *dead, int v, int64_t *idx)
{
    int p = producer_of(g, dead, v);
    if (p < 0 || !di_nn_rw_is_op(&g->nodes[p], "Gather", 2) ||
        di_nn_attr_int(&g->nodes[p], "axis", 0) != 0)
        return -1;
    const di_nn_value *i = g->nodes[p].in[1] >= 0 ? &g->values[g->nodes[p].in[1]] : NULL;
    if (!i || !i->data || i->ndim != 0)
        return -1;
    if (i->dtype == DI_DT_INT64)
        *idx = *(const int64_t *)i->data;
    else if (i->dtype == DI_DT_INT32)
        *idx = *(const int32_t *)i->data;
    else
        return -1;
    return g->nodes[p].in[0];
}

/* The heads' split as torch writes it: q, k, v = Gather(X, 0|1|2, axis 0)
** with X = Transpose(Y, perm 2 0 3 1 4) read by those three alone, and q,
** k, v each read by one node of the attention (*by). Fills Y, the three
** indices and the four nodes that go. */
static bool packed_split(const di_nn_graph *g, const int *uses, const bool *dead, const int qkv[3],
                         const int by[3], int *y, int64_t idx[3], int nodes[4])
{
    int x = -1;
    for (int i = 0; i < 3; i++) {
        int xi = gathered_from(g, dead, qkv[i], &idx[i]);
        if (xi < 0 || (x >= 0 && xi != x) || idx[i] < 0 || idx[i] > 2 ||
            di_nn_rw_only_consumer(g, uses, qkv[i]) != by[i])
            return false;
        x = xi;
        nodes[i] = producer_of(g, dead, qkv[i]);
    }
    if (idx[0] == idx[1] || idx[0] == idx[2] || idx[1] == idx[2] || uses[x] != 3)
        return false;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == x)
            return false;
    int t = producer_of(g, dead, x);
    if (t < 0 || !di_nn_rw_is_op(&g->nodes[t], "Transpose", 1) ||
        !perm_is(&g->nodes[t], 5, (const int64_t[]){2, 0, 3, 1, 4}) || g->nodes[t].in[0] < 0)
        return false;
    *y = g->nodes[t].in[0];
    nodes[3] = t;
    return true;
}

int di_nn_rewrite_attention(di_nn_graph *g, int *uses, bool *dead, int si)
{
    const di_nn_node *sm = &g->nodes[si];
    if (!di_nn_rw_is_op(sm, "Softmax", 1) ||
        di_nn_attr_int(sm, "axis", g->opset >= 13 ? -1 : 1) != -1)
        return 0;
    int sv = sm->in[0], m1 = producer_of(g, dead, sv);
    if (m1 < 0 || !di_nn_rw_is_op(&g->nodes[m1], "MatMul", 2) ||
        di_nn_rw_only_consumer(g, uses, sv) != si)
        return 0;
    float scale = di_nn_attr_float(&g->nodes[m1], "_scale", 1.f);
    int qn, kn, tn = -1, on = -1;
    int q = unscale(g, uses, dead, g->nodes[m1].in[0], m1, &scale, &qn);
    int kt = unscale(g, uses, dead, g->nodes[m1].in[1], m1, &scale, &kn);
    int k = kt, k_trans = 1, tp = producer_of(g, dead, kt);
    if (tp >= 0 && di_nn_rw_is_op(&g->nodes[tp], "Transpose", 1) && swaps_last_two(&g->nodes[tp]) &&
        di_nn_rw_only_consumer(g, uses, kt) == (kn >= 0 ? kn : m1) && g->nodes[tp].in[0] >= 0) {
        k = g->nodes[tp].in[0];
        k_trans = 0;
        tn = tp;
    }
    int att = sm->out[0], m2 = di_nn_rw_only_consumer(g, uses, att);
    if (m2 < 0 || dead[m2] || !di_nn_rw_is_op(&g->nodes[m2], "MatMul", 2) ||
        g->nodes[m2].in[0] != att || g->nodes[m2].in[1] == att ||
        di_nn_node_attr(&g->nodes[m2], "_scale"))
        return 0;
    int v = g->nodes[m2].in[1], y = g->nodes[m2].out[0];
    if (q < 0 || k < 0 || v < 0)
        return 0;
    int ot = di_nn_rw_only_consumer(g, uses, y);
    if (ot >= 0 && !dead[ot] && di_nn_rw_is_op(&g->nodes[ot], "Transpose", 1) &&
        perm_is(&g->nodes[ot], 4, (const int64_t[]){0, 2, 1, 3})) {
        on = ot;
        y = g->nodes[ot].out[0];
    }
    int gone[10] = {si, m1, qn, kn, tn, on, -1, -1, -1, -1}, y_packed = -1, split[4];
    int64_t idx[3];
    if (!k_trans && packed_split(g, uses, dead, (const int[]){q, k, v},
                                 (const int[]){qn >= 0 ? qn : m1, tn, m2}, &y_packed, idx, split))
        memcpy(gone + 6, split, sizeof split);
    else
        y_packed = -1;
    for (int i = 0; i < 10; i++)
        if (gone[i] >= 0 && (dead[gone[i]] || gone[i] == m2))
            return 0;

    /* the second MatMul's node (after Q, K and V are written) becomes the
    ** fused one; it keeps its name and output array */
    di_nn_node *n = &g->nodes[m2];
    int *in = malloc(3 * sizeof(int));
    di_nn_attr *attrs = calloc(4, sizeof(di_nn_attr));
    char *op = strdup("_FusedAttention"), *a0 = strdup("scale"), *a1 = strdup("k_trans"),
         *a2 = strdup("out_perm"), *a3 = y_packed >= 0 ? strdup("qkv") : NULL;
    int64_t *ints = y_packed >= 0 ? malloc(3 * sizeof(int64_t)) : NULL;
    if (!in || !attrs || !op || !a0 || !a1 || !a2 || (y_packed >= 0 && (!a3 || !ints))) {
        free(in);
        free(attrs);
        free(op);
        free(a0);
        free(a1);
        free(a2);
        free(a3);
        free(ints);
        return -1;
    }
    attrs[0] = (di_nn_attr){.name = a0, .type = 1, .f = scale};
    attrs[1] = (di_nn_attr){.name = a1, .type = 2, .i = k_trans};
    attrs[2] = (di_nn_attr){.name = a2, .type = 2, .i = on >= 0};
    if (ints) {
        memcpy(ints, idx, 3 * sizeof(int64_t));
        attrs[3] = (di_nn_attr){.name = a3, .type = 7, .n = 3, .ints = ints};
    }
    for (int j = 0; j < n->nin; j++)
        if (n->in[j] >= 0)
            uses[n->in[j]]--;
    di_nn_rw_reuse_node(n); /* the node keeps its name and output array */
    n->op_type = op;
    n->in = in;
    n->nin = y_packed >= 0 ? 1 : 3;
    in[0] = y_packed >= 0 ? y_packed : q;
    in[1] = k;
    in[2] = v;
    n->out[0] = y;
    n->attrs = attrs;
    n->nattr = y_packed >= 0 ? 4 : 3;
    for (int j = 0; j < n->nin; j++)
        uses[in[j]]++;
    for (int i = 0; i < 10; i++) {
        if (gone[i] < 0)
            continue;
        dead[gone[i]] = true;
        const di_nn_node *d = &g->nodes[gone[i]];
        for (int j = 0; j < d->nin; j++)
            if (d->in[j] >= 0)
                uses[d->in[j]]--;
    }
    return 1;
}

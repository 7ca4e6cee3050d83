/*
** rewrite_quant.c: the float tail of a dynamically quantized MatMul, as
** onnxruntime's quantize_dynamic writes it (the onnx-community
** model_quantized files),
**   y = Mul(Add(Mul(Cast(MatMulInteger(A, B, a_zp, b_zp), to=float), s), bias), g)
** with s = Mul(DynamicQuantizeLinear's scale, B's scale) (one or N values),
** the Add by a constant bias of N values and the Mul by a constant layer
** scale g of N values optional, becomes one
** _MatMulIntegerToFloat(A, B, a_zp, b_zp, s[, bias[, g]]) node (cpu/ops_quant.c):
** one pass over the output instead of Cast, Mul and Add, each a full pass
** (Cast alone was 11 % of DA-V2 small's time at 2 threads). The fused node
** computes the same float operations in the same order, so its output is
** bit-identical. Only when every intermediate value feeds nothing else, B
** is 2-D and s is certainly a scalar or a vector of B's N columns: an
** initializer of at most one axis, or the Mul of two such operands where a
** DynamicQuantizeLinear scale counts as a scalar. Not for
** DI_NN_LOAD_PORTABLE (the CUDA backend knows no such op).
*/
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"

/* a float initializer of one value or N values along at most one axis */
static bool is_scale_init(const di_nn_graph *g, int v, int64_t N)
{
    const di_nn_value *val = &g->values[v];
    int64_t n = di_shape_numel(val->ndim, val->dims);
    return val->data && val->dtype == DI_DT_FLOAT && val->ndim <= 1 && (n == 1 || n == N);
}

/* DynamicQuantizeLinear's scale output: a float scalar */
static bool is_dql_scale(const di_nn_graph *g, const bool *dead, int v)
{
    int p = g->values[v].producer;
    return p >= 0 && !dead[p] && !strcmp(g->nodes[p].op_type, "DynamicQuantizeLinear") &&
           g->nodes[p].nout > 1 && g->nodes[p].out[1] == v;
}

static bool is_scale(const di_nn_graph *g, const bool *dead, int v, int64_t N)
{
    if (v < 0)
        return false;
    if (is_scale_init(g, v, N))
        return true;
    int p = g->values[v].producer;
    if (p < 0 || dead[p] || !di_nn_rw_is_op(&g->nodes[p], "Mul", 2))
        return false;
    const di_nn_node *m = &g->nodes[p];
    int nvec = 0;
    for (int j = 0; j < 2; j++) {
        int u = m->in[j];
        if (u < 0)
            return false;
        if (is_dql_scale(g, dead, u))
            continue;
        if (!is_scale_init(g, u, N))
            return false;
        nvec += di_shape_numel(g->values[u].ndim, g->values[u].dims) > 1;
    }
    return nvec <= 1; /* [N] * [N] is [N] too, but keep to the exported form */
}

int di_nn_rewrite_quant(di_nn_graph *g, int *uses, bool *dead, int ci)
{
    const di_nn_node *cast = &g->nodes[ci];
    if (!di_nn_rw_is_op(cast, "Cast", 1) || di_nn_attr_int(cast, "to", 0) != DI_DT_FLOAT)
        return 0;
    int v = cast->in[0], mi = v >= 0 ? g->values[v].producer : -1;
    if (mi < 0 || dead[mi] || strcmp(g->nodes[mi].op_type, "MatMulInteger") ||
        g->nodes[mi].nout != 1 || g->nodes[mi].nin < 2 || g->nodes[mi].nin > 4 ||
        di_nn_rw_only_consumer(g, uses, v) != ci)
        return 0;
    const di_nn_node *mm = &g->nodes[mi];
    int bv = mm->in[1];
    if (bv < 0 || !g->values[bv].data || g->values[bv].ndim != 2)
        return 0;
    int64_t N = g->values[bv].dims[1];
    int c = cast->out[0], ui = di_nn_rw_only_consumer(g, uses, c);
    if (ui < 0 || dead[ui] || !di_nn_rw_is_op(&g->nodes[ui], "Mul", 2))
        return 0;
    const di_nn_node *mul = &g->nodes[ui];
    int sv = mul->in[0] == c ? mul->in[1] : mul->in[0];
    if (sv == c || !is_scale(g, dead, sv, N))
        return 0;
    /* the bias Add, when its other operand is a constant of N values */
    int ai = di_nn_rw_only_consumer(g, uses, mul->out[0]), biasv = -1;
    if (ai >= 0 && !dead[ai] && di_nn_rw_is_op(&g->nodes[ai], "Add", 2)) {
        const di_nn_node *add = &g->nodes[ai];
        int o = add->in[0] == mul->out[0] ? add->in[1] : add->in[0];
        const di_nn_value *ov = o >= 0 ? &g->values[o] : NULL;
        if (ov && o != mul->out[0] && ov->data && ov->dtype == DI_DT_FLOAT && ov->ndim == 1 &&
            ov->dims[0] == N)
            biasv = o;
    }
    int last = biasv >= 0 ? ai : ui;
    /* the layer scale after it (DINOv2's LayerScale): a Mul by a constant of N
    ** values; with it gone, the residual Add can fuse as a post-op */
    int tail = g->nodes[last].out[0], gi = di_nn_rw_only_consumer(g, uses, tail), gammav = -1;
    if (gi >= 0 && !dead[gi] && di_nn_rw_is_op(&g->nodes[gi], "Mul", 2)) {
        const di_nn_node *gm = &g->nodes[gi];
        int o = gm->in[0] == tail ? gm->in[1] : gm->in[0];
        const di_nn_value *ov = o >= 0 ? &g->values[o] : NULL;
        if (ov && o != tail && ov->data && ov->dtype == DI_DT_FLOAT && ov->ndim == 1 &&
            ov->dims[0] == N)
            gammav = o;
    }
    /* the fused node takes the place of the last node it absorbs: the scale
    ** is computed after the MatMulInteger in the exported order */
    int *in = malloc(7 * sizeof *in);
    char *op = strdup("_MatMulIntegerToFloat"), *name = strdup(mm->name ? mm->name : "");
    if (!in || !op || !name) {
        free(in);
        free(op);
        free(name);
        return -1;
    }
    for (int j = 0; j < 4; j++)
        in[j] = j < mm->nin ? mm->in[j] : -1;
    in[4] = sv;
    in[5] = biasv;
    in[6] = gammav;
    uses[v]--; /* the Cast's input */
    uses[c]--; /* the Mul's */
    if (biasv >= 0)
        uses[mul->out[0]]--; /* the Add's */
    dead[mi] = dead[ci] = true;
    if (biasv >= 0)
        dead[ui] = true;
    if (gammav >= 0) { /* the layer-scale Mul's */
        uses[tail]--;
        dead[last] = true;
        last = gi;
    }
    di_nn_node *n = &g->nodes[last];
    di_nn_rw_reuse_node(n); /* keeps its output: y */
    free(n->name);
    n->name = name;
    n->op_type = op;
    n->in = in;
    n->nin = gammav >= 0 ? 7 : biasv >= 0 ? 6 : 5;
    n->attrs = NULL;
    n->nattr = 0;
    return 1;
}

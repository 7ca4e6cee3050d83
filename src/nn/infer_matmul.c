/*
** infer_matmul.c: the backend-neutral infer step (op.h) of MatMul (numpy
** semantics: batch broadcasting, 1-D operands promoted) and Gemm (transA,
** transB, C broadcast to M x N): the operands' shapes as a rank-r product,
** the output shape, and which fused Adds (post-ops the planner attached) a
** MatMul takes: at most one of the output's shape (a residual) and any
** number of biases along the last axis.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_matmul(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    di_nn_matmul_params *p = k->params;
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    if (a->ndim < 1 || b->ndim < 1)
        return di_nn_shape_error(err, k->node, "scalar operands");
    int ra = a->ndim < 2 ? 2 : a->ndim, rb = b->ndim < 2 ? 2 : b->ndim, r = ra > rb ? ra : rb;
    if (r > 6)
        return di_nn_unsupported(err, k->node, "a MatMul of rank %d", r);
    int64_t *ad = p->ad, *bd = p->bd, *cd = p->cd;
    p->r = r;
    for (int i = 0; i < r; i++)
        ad[i] = bd[i] = 1;
    /* 1-D A is [1, K]; 1-D B is [K, 1] */
    if (a->ndim == 1)
        ad[r - 1] = a->dims[0];
    else
        for (int i = 0; i < a->ndim; i++)
            ad[r - a->ndim + i] = a->dims[i];
    if (b->ndim == 1)
        bd[r - 2] = b->dims[0];
    else
        for (int i = 0; i < b->ndim; i++)
            bd[r - b->ndim + i] = b->dims[i];
    if (ad[r - 1] != bd[r - 2])
        return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)",
                                 (long long)ad[r - 1], (long long)bd[r - 2]);
    for (int i = 0; i < r - 2; i++) {
        if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1)
            return di_nn_shape_error(err, k->node, "batch dimensions do not broadcast");
        cd[i] = ad[i] == 1 ? bd[i] : ad[i];
    }
    cd[r - 2] = ad[r - 2];
    cd[r - 1] = bd[r - 1];
    /* "_scale": a following Mul by a constant, folded in by rewrite.c */
    p->scale = di_nn_attr_float(k->node, "_scale", 1.f);
    /* output shape without the promoted dimensions */
    int64_t od[DI_NN_MAX_DIMS];
    int nd = 0;
    int rout = (a->ndim > b->ndim ? a->ndim : b->ndim);
    if (rout < 2)
        rout = 2;
    for (int i = r - rout; i < r - 2; i++)
        od[nd++] = cd[i];
    if (a->ndim != 1)
        od[nd++] = cd[r - 2];
    if (b->ndim != 1)
        od[nd++] = cd[r - 1];
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, nd, od);
    /* fused Adds: float, the output's shape or a bias on the last axis;
    ** at most one of the output's shape (oneDNN takes one sum) */
    int sums = 0;
    for (int i = 0; i < k->npost; i++) {
        const di_nn_tensor *t = k->post[i].addend;
        if (k->post[i].kind != DI_POST_SUM)
            continue;
        if (t->dtype != DI_DT_FLOAT || t->ndim > nd || nd < 2)
            return DI_NN_NO_FUSE;
        bool full = t->ndim == nd, bias = true;
        for (int d = 0; d < nd; d++) {
            int td = d - (nd - t->ndim);
            int64_t v = td >= 0 ? t->dims[td] : 1;
            if (v != od[d])
                full = false;
            if (d < nd - 1 ? v != 1 : v != od[d])
                bias = false;
        }
        if (full && di_nn_numel(t) != 1)
            sums++;
        else if (!bias || di_nn_numel(t) == di_nn_numel(k->out[0]))
            return DI_NN_NO_FUSE;
    }
    if (sums > 1)
        return DI_NN_NO_FUSE;
    p->empty = di_shape_numel(r, cd) == 0 || ad[r - 1] == 0;
    if (p->empty && k->npost)
        return DI_NN_NO_FUSE; /* an empty product (zeros) takes no post-ops */
    return DI_OK;
}

int di_nn_infer_gemm(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1], *c = k->nin > 2 ? k->in[2] : NULL;
    di_nn_gemm_params *p = k->params;
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT || (c && c->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return di_nn_shape_error(err, k->node, "A and B must be 2-D");
    bool ta = di_nn_attr_int(k->node, "transA", 0) != 0,
         tb = di_nn_attr_int(k->node, "transB", 0) != 0;
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t K2 = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != K2)
        return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)",
                                 (long long)K, (long long)K2);
    p->trans_a = ta;
    p->trans_b = tb;
    p->m = M;
    p->n = N;
    p->k = K;
    p->alpha = di_nn_attr_float(k->node, "alpha", 1.f);
    p->beta = c ? di_nn_attr_float(k->node, "beta", 1.f) : 0.f;
    if (c) {
        /* C broadcasts to M x N (unidirectionally) */
        int64_t cr = c->ndim == 2 ? c->dims[0] : 1, cc = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->ndim > 2 || (cr != 1 && cr != M) || (cc != 1 && cc != N))
            return di_nn_shape_error(err, k->node, "C does not broadcast to %lldx%lld",
                                     (long long)M, (long long)N);
        p->c_rows = cr;
        p->c_cols = cc;
    }
    int64_t od[2] = {M, N};
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, 2, od);
    return DI_OK;
}

/*
** infer_attention.c: the infer step of _FusedAttention, the node
** rewrite_attention.c makes of MatMul(Q, K^T) [* scale], Softmax(axis -1),
** MatMul(., V) [, Transpose(0, 2, 1, 3)]. Inputs Q [lead..., Tq, d], K
** ([lead..., Tk, d], or [lead..., d, Tk] with k_trans = 1), V [lead..., Tk,
** dv], all of one rank (2 to 6), the leading axes equal or 1 (numpy
** broadcast, as the MatMuls had it). Output [lead..., Tq, dv], or with
** out_perm = 1 (rank 4) [L0, Tq, L1, dv]: the output Transpose's, written
** in place by strides. The params give each operand as oneDNN's matmul
** takes it (dims and strides), so the kernel builds its descriptors from
** them alone. With one input [B, T, 3, H, hd] and attribute qkv (Q, K, V's
** indices on axis 2), the heads' split (Transpose(2, 0, 3, 1, 4) and three
** Gathers) was absorbed too: the params give Q, K, V inside it (packed).
*/
#include <string.h>

#include "op.h"

static void row_major(int r, const int64_t *d, int64_t *st)
{
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= d[i];
    }
}

/* One input [B, T, 3, H, hd], the three at indices qkv[] of axis 2. */
static int infer_packed(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    di_nn_attention_params *p = k->params;
    const di_nn_attr *a = di_nn_node_attr(k->node, "qkv");
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim != 5 || x->dims[2] != 3 || !a || a->n != 3)
        return di_nn_shape_error(err, k->node, "packed Q, K, V of rank %d (want [B, T, 3, H, hd])",
                                 x->ndim);
    int64_t B = x->dims[0], T = x->dims[1], H = x->dims[3], hd = x->dims[4], row = 3 * H * hd;
    bool perm = di_nn_attr_int(k->node, "out_perm", 0) != 0;
    if (!hd)
        return di_nn_unsupported(err, k->node, "attention over vectors of length 0");
    p->packed = true;
    p->nlead = 2;
    p->tq = p->tk = T;
    p->d = p->dv = hd;
    for (int i = 0; i < 3; i++)
        p->off[i] = a->ints[i] * H * hd;
    /* Q and V [B, H, T, hd], K^T [B, H, hd, T], all inside x */
    int64_t qd[4] = {B, H, T, hd}, qs[4] = {T * row, hd, row, 1}, kd[4] = {B, H, hd, T},
            ks[4] = {T * row, hd, 1, row}, od[4] = {B, H, T, hd};
    memcpy(p->qd, qd, sizeof qd);
    memcpy(p->qs, qs, sizeof qs);
    memcpy(p->vd, qd, sizeof qd);
    memcpy(p->vs, qs, sizeof qs);
    memcpy(p->kd, kd, sizeof kd);
    memcpy(p->ks, ks, sizeof ks);
    memcpy(p->od, od, sizeof od);
    int64_t out[4] = {B, perm ? T : H, perm ? H : T, hd};
    row_major(4, od, p->os);
    if (perm) {
        int64_t os[4] = {T * H * hd, hd, H * hd, 1};
        memcpy(p->os, os, sizeof os);
    }
    p->scale = di_nn_attr_float(k->node, "scale", 1.f);
    p->flops = 4.0 * (double)(B * H) * (double)T * (double)T * (double)hd;
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, 4, out);
    return DI_OK;
}

int di_nn_infer_attention(di_nn_kctx *k, di_error *err)
{
    if (k->nin == 1)
        return infer_packed(k, err);
    const di_nn_tensor *q = k->in[0], *kk = k->in[1], *v = k->in[2];
    di_nn_attention_params *p = k->params;
    if (q->dtype != DI_DT_FLOAT || kk->dtype != DI_DT_FLOAT || v->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(q->dtype));
    int r = q->ndim;
    if (r < 2 || r > 6 || kk->ndim != r || v->ndim != r)
        return di_nn_shape_error(err, k->node, "Q, K and V of ranks %d, %d, %d (2 to 6, equal)",
                                 q->ndim, kk->ndim, v->ndim);
    bool kt = di_nn_attr_int(k->node, "k_trans", 0) != 0;
    bool perm = di_nn_attr_int(k->node, "out_perm", 0) != 0;
    if (perm && r != 4)
        return di_nn_shape_error(err, k->node, "an output transpose needs rank 4, not %d", r);
    int nl = r - 2;
    p->nlead = nl;
    p->tq = q->dims[r - 2];
    p->d = q->dims[r - 1];
    p->tk = kt ? kk->dims[r - 1] : kk->dims[r - 2];
    int64_t kdim = kt ? kk->dims[r - 2] : kk->dims[r - 1];
    p->dv = v->dims[r - 1];
    if (p->d == 0)
        return di_nn_unsupported(err, k->node, "attention over vectors of length 0");
    if (kdim != p->d || v->dims[r - 2] != p->tk)
        return di_nn_shape_error(err, k->node,
                                 "Q [.., %lld, %lld], K %s[.., %lld, %lld], V [.., "
                                 "%lld, %lld] do not chain",
                                 (long long)p->tq, (long long)p->d, kt ? "transposed " : "",
                                 (long long)kk->dims[r - 2], (long long)kk->dims[r - 1],
                                 (long long)v->dims[r - 2], (long long)p->dv);
    int64_t lead[4];
    for (int i = 0; i < nl; i++) {
        int64_t a = q->dims[i], b = kk->dims[i], c = v->dims[i], m = a > b ? a : b;
        m = m > c ? m : c;
        if ((a != m && a != 1) || (b != m && b != 1) || (c != m && c != 1))
            return di_nn_shape_error(err, k->node,
                                     "leading axis %d of Q, K, V (%lld, %lld, %lld) "
                                     "does not broadcast",
                                     i, (long long)a, (long long)b, (long long)c);
        lead[i] = m;
        p->qd[i] = a;
        p->kd[i] = b;
        p->vd[i] = c;
        p->od[i] = m;
    }
    p->qd[nl] = p->tq;
    p->qd[nl + 1] = p->d;
    row_major(r, p->qd, p->qs);
    /* K^T [lead..., d, tk] */
    p->kd[nl] = p->d;
    p->kd[nl + 1] = p->tk;
    int64_t kst[6];
    row_major(r, kk->dims, kst);
    for (int i = 0; i < nl; i++)
        p->ks[i] = kst[i];
    p->ks[nl] = kt ? kst[nl] : kst[nl + 1];
    p->ks[nl + 1] = kt ? kst[nl + 1] : kst[nl];
    p->vd[nl] = p->tk;
    p->vd[nl + 1] = p->dv;
    row_major(r, p->vd, p->vs);
    p->od[nl] = p->tq;
    p->od[nl + 1] = p->dv;
    int64_t out[6];
    if (perm) { /* [L0, L1, tq, dv] stored as [L0, tq, L1, dv] */
        out[0] = lead[0];
        out[1] = p->tq;
        out[2] = lead[1];
        out[3] = p->dv;
        p->os[0] = p->tq * lead[1] * p->dv;
        p->os[1] = p->dv;
        p->os[2] = lead[1] * p->dv;
        p->os[3] = 1;
    } else {
        for (int i = 0; i < r; i++)
            out[i] = p->od[i];
        row_major(r, p->od, p->os);
    }
    p->scale = di_nn_attr_float(k->node, "scale", 1.f);
    double heads = 1;
    for (int i = 0; i < nl; i++)
        heads *= (double)lead[i];
    p->flops = 2.0 * heads * (double)p->tq * (double)p->tk * (double)(p->d + p->dv);
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, r, out);
    return DI_OK;
}

/*
** infer_view.c: the backend-neutral infer step (op.h) of Transpose, Slice,
** Expand, DepthToSpace and SpaceToDepth: each is a strided view of its input (dims, element strides
** with 0 for a broadcast and negative ones backwards, a start offset),
** worked out once per plan from the constant perm, starts/ends/axes/steps or
** shape, with the output shape.
*/
#include <stdint.h>
#include <string.h>

#include "op.h"

static int view_done(di_nn_kctx *k, const di_nn_view_params *v, di_error *err)
{
    (void)err;
    *(di_nn_view_params *)k->params = *v;
    di_nn_set_shape(k->out[0], k->in[0]->dtype, v->nd, v->dims);
    return DI_OK;
}

int di_nn_infer_transpose(di_nn_kctx *k, di_error *err)
{
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    const di_nn_attr *p = di_nn_node_attr(k->node, "perm");
    int nd = x->ndim;
    int64_t perm[DI_NN_MAX_DIMS], st[DI_NN_MAX_DIMS];
    if (p && p->n != nd)
        return di_nn_shape_error(err, k->node, "perm has %d entries for rank %d", p->n, nd);
    bool seen[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        perm[i] = p ? p->ints[i] : nd - 1 - i;
        if (perm[i] < 0)
            perm[i] += nd;
        if (perm[i] < 0 || perm[i] >= nd || seen[perm[i]])
            return di_nn_shape_error(err, k->node, "perm is not a permutation");
        seen[perm[i]] = true;
    }
    di_nn_contiguous_strides(nd, x->dims, st);
    di_nn_view_params v = {nd, {0}, {0}, 0};
    for (int i = 0; i < nd; i++) {
        v.dims[i] = x->dims[perm[i]];
        v.str[i] = st[perm[i]];
    }
    return view_done(k, &v, err);
}

int di_nn_infer_slice(di_nn_kctx *k, di_error *err)
{
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim;
    int64_t starts[DI_NN_MAX_DIMS], ends[DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS],
        steps[DI_NN_MAX_DIMS];
    int ns, ne, na = 0, nst = 0;
    if (di_nn_const_ints(k->in[1], starts, DI_NN_MAX_DIMS, &ns) ||
        di_nn_const_ints(k->in[2], ends, DI_NN_MAX_DIMS, &ne))
        return di_nn_unsupported(err, k->node, "starts/ends that are not constant integer tensors");
    if (k->nin > 3 && k->in[3] && di_nn_const_ints(k->in[3], axes, DI_NN_MAX_DIMS, &na))
        return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    if (k->nin > 4 && k->in[4] && di_nn_const_ints(k->in[4], steps, DI_NN_MAX_DIMS, &nst))
        return di_nn_unsupported(err, k->node, "steps that are not a constant integer tensor");
    if (ns != ne || (na && na != ns) || (nst && nst != ns))
        return di_nn_shape_error(err, k->node, "starts, ends, axes and steps differ in length");
    int64_t st[DI_NN_MAX_DIMS];
    di_nn_contiguous_strides(nd, x->dims, st);
    di_nn_view_params v = {nd, {0}, {0}, 0};
    for (int i = 0; i < nd; i++) {
        v.dims[i] = x->dims[i];
        v.str[i] = st[i];
    }
    bool done[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int64_t a = na ? axes[i] : i;
        if (a < 0)
            a += nd;
        if (a < 0 || a >= nd || done[a])
            return di_nn_shape_error(err, k->node, "bad or repeated axis");
        done[a] = true;
        int64_t step = nst ? steps[i] : 1, dim = x->dims[a];
        if (step == 0)
            return di_nn_shape_error(err, k->node, "step 0");
        int64_t s = starts[i], e = ends[i];
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        if (step == INT64_MIN)
            return di_nn_shape_error(err, k->node, "step %lld", (long long)step);
        int64_t len = step > 0 ? (e > s ? 1 + (e - s - 1) / step : 0)
                               : (s > e ? 1 + (s - e - 1) / (-step) : 0);
        if (len < 0)
            len = 0;
        v.dims[a] = len;
        if (len > 0)
            v.off += s * st[a];
        v.str[a] = st[a] * step;
    }
    return view_done(k, &v, err);
}

int di_nn_infer_expand(di_nn_kctx *k, di_error *err)
{
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t sh[DI_NN_MAX_DIMS], st[DI_NN_MAX_DIMS];
    int ns;
    if (di_nn_const_ints(k->in[1], sh, DI_NN_MAX_DIMS, &ns))
        return di_nn_unsupported(err, k->node, "a shape that is not a constant integer tensor");
    int nd = ns > x->ndim ? ns : x->ndim;
    di_nn_contiguous_strides(x->ndim, x->dims, st);
    di_nn_view_params v = {nd, {0}, {0}, 0};
    for (int i = 0; i < nd; i++) {
        int ix = i - (nd - x->ndim), is = i - (nd - ns);
        int64_t dx = ix >= 0 ? x->dims[ix] : 1, ds = is >= 0 ? sh[is] : 1;
        if (dx != ds && dx != 1 && ds != 1)
            return di_nn_shape_error(err, k->node, "cannot expand dimension %lld to %lld",
                                     (long long)dx, (long long)ds);
        v.dims[i] = dx == 1 ? ds : dx;
        v.str[i] = dx == 1 ? 0 : st[ix];
    }
    return view_done(k, &v, err);
}

/* DepthToSpace, SpaceToDepth: a 6-D view of the input. */
int di_nn_infer_d2s(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    if (x->ndim != 4)
        return di_nn_shape_error(err, k->node, "input of rank %d", x->ndim);
    int64_t b = di_nn_attr_int(k->node, "blocksize", 1), N = x->dims[0], C = x->dims[1],
            H = x->dims[2], W = x->dims[3];
    bool crd = !strcmp(di_nn_attr_string(k->node, "mode", "DCR"), "CRD");
    di_nn_view_params v = {6, {0}, {0}, 0};
    if (!strcmp(k->node->op_type, "DepthToSpace")) {
        if (C % (b * b))
            return di_nn_shape_error(err, k->node, "%lld channels do not split into blocks of %lld",
                                     (long long)C, (long long)(b * b));
        int64_t c = C / (b * b);
        /* output [N, c, H, b, W, b] read from the input seen as
        ** DCR: [N, b, b, c, H, W]; CRD: [N, c, b, b, H, W] */
        int64_t sN = C * H * W, sH = W, sW = 1, sC, sB1, sB2;
        if (crd) {
            sC = b * b * H * W;
            sB1 = b * H * W;
            sB2 = H * W;
        } else {
            sB1 = b * c * H * W;
            sB2 = c * H * W;
            sC = H * W;
        }
        int64_t d[6] = {N, c, H, b, W, b}, st[6] = {sN, sC, sH, sB1, sW, sB2};
        memcpy(v.dims, d, sizeof d);
        memcpy(v.str, st, sizeof st);
        rc = view_done(k, &v, err);
        int64_t od[4] = {N, c, H * b, W * b};
        di_nn_set_shape(k->out[0], x->dtype, 4, od);
        return rc;
    }
    if (H % b || W % b)
        return di_nn_shape_error(err, k->node, "%lldx%lld does not split into blocks of %lld",
                                 (long long)H, (long long)W, (long long)b);
    /* SpaceToDepth (DCR only): output [N, b, b, C, H/b, W/b] from [N, C, H/b, b, W/b, b] */
    int64_t h = H / b, w = W / b;
    int64_t d[6] = {N, b, b, C, h, w}, st[6] = {C * H * W, W, 1, H * W, b * W, b};
    memcpy(v.dims, d, sizeof d);
    memcpy(v.str, st, sizeof st);
    rc = view_done(k, &v, err);
    int64_t od[4] = {N, C * b * b, h, w};
    di_nn_set_shape(k->out[0], x->dtype, 4, od);
    return rc;
}

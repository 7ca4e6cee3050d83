/*
** infer_conv.c: the backend-neutral infer step (op.h) of Conv: its element
** types, the group and weight shapes checked, strides, dilations and pads
** decoded (auto_pad resolved), the output shape, the work it does, and
** whether a fused Add (a post-op the planner attached) fits the output.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_conv(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    di_nn_conv_params *p = k->params;
    if (x->dtype != DI_DT_FLOAT || w->dtype != DI_DT_FLOAT || (b && b->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim != 4 || w->ndim != 4)
        return di_nn_unsupported(err, n, "a %d-D convolution", x->ndim - 2);
    if (!w->is_const)
        return di_nn_unsupported(err, n, "weights that are not constant");
    int64_t G = di_nn_attr_int(n, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t OC = w->dims[0], KH = w->dims[2], KW = w->dims[3];
    if (G < 1 || C % G || OC % G || w->dims[1] * G != C)
        return di_nn_shape_error(
            err, n,
            "input has %lld channels, weights [%lld,%lld,%lld,%lld] with group %lld do not fit",
            (long long)C, (long long)OC, (long long)w->dims[1], (long long)KH, (long long)KW,
            (long long)G);
    if (b && (b->ndim != 1 || b->dims[0] != OC))
        return di_nn_shape_error(err, n, "bias has %lld values for %lld output channels",
                                 (long long)(b->ndim == 1 ? b->dims[0] : -1), (long long)OC);
    int64_t *st = p->strides, *dl = p->dilations, *pads = p->pads, ks[2];
    if (di_nn_attr_ints_exact(n, "strides", 2, st, 1) ||
        di_nn_attr_ints_exact(n, "dilations", 2, dl, 1) ||
        di_nn_attr_ints_exact(n, "kernel_shape", 2, ks, 0))
        return di_nn_unsupported(err, n, "strides/dilations of a rank other than 2");
    if (ks[0] && (ks[0] != KH || ks[1] != KW))
        return di_nn_shape_error(err, n, "kernel_shape does not match the weights");
    const di_nn_attr *pa = di_nn_node_attr(n, "pads");
    memset(pads, 0, sizeof p->pads);
    if (pa) {
        if (pa->n != 4)
            return di_nn_unsupported(err, n, "pads of %d values", pa->n);
        memcpy(pads, pa->ints, sizeof p->pads);
    }
    if (st[0] < 1 || st[1] < 1 || dl[0] < 1 || dl[1] < 1)
        return di_nn_shape_error(err, n, "strides and dilations must be positive");
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    int64_t in_sz[2] = {H, W}, k_sz[2] = {KH, KW}, out_sz[2];
    for (int d = 0; d < 2; d++) {
        int64_t ek = (k_sz[d] - 1) * dl[d] + 1;
        if (!strcmp(ap, "VALID")) {
            pads[d] = pads[d + 2] = 0;
        } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o = (in_sz[d] + st[d] - 1) / st[d];
            int64_t total = (o - 1) * st[d] + ek - in_sz[d];
            if (total < 0)
                total = 0;
            int64_t small = total / 2, big = total - small;
            pads[d] = !strcmp(ap, "SAME_UPPER") ? small : big;
            pads[d + 2] = total - pads[d];
        }
        out_sz[d] = (in_sz[d] + pads[d] + pads[d + 2] - ek) / st[d] + 1;
        if (out_sz[d] < 1 || pads[d] < 0 || pads[d + 2] < 0)
            return di_nn_shape_error(err, n, "the kernel does not fit the %lldx%lld input",
                                     (long long)H, (long long)W);
    }
    p->group = G;
    int64_t ydims[4] = {N, OC, out_sz[0], out_sz[1]};
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, 4, ydims);
    p->flops = 2.0 * (double)N * (double)OC * (double)out_sz[0] * (double)out_sz[1] *
               (double)(C / G) * (double)KH * (double)KW;
    /* a fused Add takes an addend of the output's shape */
    for (int i = 0; i < k->npost; i++) {
        const di_nn_tensor *a = k->post[i].addend;
        if (k->post[i].kind != DI_POST_SUM)
            continue;
        bool same = a->ndim == 4 && a->dtype == DI_DT_FLOAT;
        for (int d = 0; same && d < 4; d++)
            same = a->dims[d] == ydims[d];
        if (!same)
            return DI_NN_NO_FUSE;
    }
    return DI_OK;
}

double di_nn_conv_flops(const di_nn_kctx *k)
{
    const di_nn_conv_params *p = k->params;
    return p ? p->flops : 0;
}

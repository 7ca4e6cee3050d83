/*
** infer_deconv.c: the backend-neutral infer step (op.h) of ConvTranspose
** (1-D to 3-D; groups, strides, dilations, pads, output_padding,
** output_shape, auto_pad): the weights checked against the input, the
** padding resolved, the output shape.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_deconv(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    di_nn_deconv_params *p = k->params;
    if (x->dtype != DI_DT_FLOAT || w->dtype != DI_DT_FLOAT || (b && b->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 3 || w->ndim != x->ndim)
        return di_nn_unsupported(err, n, "a %d-D transposed convolution", sp);
    if (!w->is_const)
        return di_nn_unsupported(err, n, "weights that are not constant");
    int64_t G = di_nn_attr_int(n, "group", 1), C = x->dims[1];
    if (G < 1 || w->dims[0] != C || C % G)
        return di_nn_shape_error(
            err, n, "weights [%lld, ...] do not fit %lld input channels in %lld groups",
            (long long)w->dims[0], (long long)C, (long long)G);
    int64_t OC = w->dims[1] * G;
    if (b && di_nn_numel(b) != OC)
        return di_nn_shape_error(err, n, "bias has %lld values for %lld output channels",
                                 (long long)di_nn_numel(b), (long long)OC);
    int64_t *st = p->strides, *dl = p->dilations, op[3], pads[6], os[3], ks[3];
    if (di_nn_attr_ints_exact(n, "strides", sp, st, 1) ||
        di_nn_attr_ints_exact(n, "dilations", sp, dl, 1) ||
        di_nn_attr_ints_exact(n, "output_padding", sp, op, 0) ||
        di_nn_attr_ints_exact(n, "pads", 2 * sp, pads, 0) ||
        di_nn_attr_ints_exact(n, "kernel_shape", sp, ks, 0))
        return di_nn_shape_error(
            err, n, "strides, dilations, pads or output_padding do not fit a %d-D input", sp);
    const di_nn_attr *osa = di_nn_node_attr(n, "output_shape");
    if (osa && osa->n != sp && osa->n != sp + 2)
        return di_nn_shape_error(err, n, "output_shape has %d values", osa->n);
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    int64_t od[5] = {x->dims[0], OC}, extra[3] = {0, 0, 0};
    for (int i = 0; i < sp; i++) {
        int64_t in = x->dims[2 + i], ek = (w->dims[2 + i] - 1) * dl[i] + 1;
        if (st[i] < 1 || dl[i] < 1)
            return di_nn_shape_error(err, n, "non-positive stride or dilation");
        if (ks[i] && ks[i] != w->dims[2 + i])
            return di_nn_shape_error(err, n, "kernel_shape does not match the weights");
        int64_t full = st[i] * (in - 1) + op[i] + ek;
        if (osa || !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            os[i] = osa ? osa->ints[osa->n - sp + i] : in * st[i];
            int64_t total = full - os[i];
            if (total < 0) { /* a larger output: rows at the end that no window reaches */
                extra[i] = -total;
                total = 0;
            }
            bool upper = !strcmp(ap, "SAME_UPPER");
            pads[i] = upper ? total / 2 : total - total / 2;
            pads[i + sp] = total - pads[i];
        } else if (!strcmp(ap, "VALID")) {
            pads[i] = pads[i + sp] = 0;
        }
        od[2 + i] = full - pads[i] - pads[i + sp] + extra[i];
        if (od[2 + i] < 1)
            return di_nn_shape_error(err, n, "the output would be empty");
    }
    p->spatial = sp;
    p->group = G;
    for (int i = 0; i < sp; i++) {
        p->pad_begin[i] = pads[i];
        /* output_padding adds rows at the end that no window reaches */
        p->pad_end[i] = pads[i + sp] - op[i] - extra[i];
    }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, od);
    return DI_OK;
}

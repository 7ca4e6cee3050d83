/*
** infer_pool.c: the backend-neutral infer step (op.h) of MaxPool,
** AveragePool and GlobalAveragePool (1-D to 3-D): the window decoded
** (auto_pad resolved; ceil_mode as more padding on the right, which a max
** never picks and an average excludes from its count), the output shape.
*/
#include <string.h>

#include "op.h"

int di_nn_infer_pool(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    di_nn_pool_params *p = k->params;
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 3)
        return di_nn_unsupported(err, n, "a %d-D pool", sp);
    bool global = !strcmp(n->op_type, "GlobalAveragePool"), maxp = !strcmp(n->op_type, "MaxPool");
    int64_t *ks = p->kernel, *st = p->strides, *dl = p->dilations, *pads = p->pads, od[5];
    if (global) {
        for (int i = 0; i < sp; i++) {
            ks[i] = x->dims[2 + i];
            st[i] = dl[i] = 1;
            pads[i] = pads[i + sp] = 0;
        }
    } else if (di_nn_attr_ints_exact(n, "kernel_shape", sp, ks, 1) ||
               di_nn_attr_ints_exact(n, "strides", sp, st, 1) ||
               di_nn_attr_ints_exact(n, "dilations", sp, dl, 1) ||
               di_nn_attr_ints_exact(n, "pads", 2 * sp, pads, 0)) {
        return di_nn_shape_error(
            err, n, "kernel_shape, strides, dilations or pads do not fit a %d-D input", sp);
    }
    const char *ap = global ? "VALID" : di_nn_attr_string(n, "auto_pad", "NOTSET");
    bool ceil_mode = !global && di_nn_attr_int(n, "ceil_mode", 0);
    od[0] = x->dims[0];
    od[1] = x->dims[1];
    for (int i = 0; i < sp; i++) {
        int64_t in = x->dims[2 + i], ek = (ks[i] - 1) * dl[i] + 1;
        if (ks[i] < 1 || st[i] < 1 || dl[i] < 1)
            return di_nn_shape_error(err, n, "non-positive kernel, stride or dilation");
        if (!strcmp(ap, "VALID")) {
            pads[i] = pads[i + sp] = 0;
        } else if (strcmp(ap, "NOTSET")) {
            int64_t o = (in + st[i] - 1) / st[i], total = (o - 1) * st[i] + ek - in;
            if (total < 0)
                total = 0;
            pads[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            pads[i + sp] = total - pads[i];
        }
        int64_t span = in + pads[i] + pads[i + sp] - ek;
        if (span < 0)
            return di_nn_shape_error(err, n, "the kernel does not fit the input");
        int64_t o = (ceil_mode ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
        /* ONNX: with ceil_mode, a last window that starts in the right padding is dropped */
        if (ceil_mode && (o - 1) * st[i] >= in + pads[i])
            o--;
        od[2 + i] = o;
        /* right padding oneDNN needs for that many outputs */
        int64_t need = (o - 1) * st[i] + ek - in - pads[i];
        if (need > pads[i + sp])
            pads[i + sp] = need;
    }
    p->spatial = sp;
    p->algorithm = maxp ? DI_POOL_MAX
                   : (!global && di_nn_attr_int(n, "count_include_pad", 0))
                       ? DI_POOL_AVG_INCLUDE_PAD
                       : DI_POOL_AVG;
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, od);
    return DI_OK;
}

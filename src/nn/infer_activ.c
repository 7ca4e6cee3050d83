/*
** infer_activ.c: the backend-neutral infer step (op.h) of the rarer
** element-wise ops (cpu/ops_activ.c): their kind, constants (alpha, lambd,
** bias, detect_positive/negative) and output shape and type.
*/
#include <string.h>

#include "op.h"

static const char *const names[DI_ACTIV_COUNT] = {
    "ThresholdedRelu", "Shrink", "Mish",  "Tan",   "Asin",  "Acos", "Atan", "Sinh", "Cosh",
    "Asinh",           "Acosh",  "Atanh", "IsNaN", "IsInf",
};

static int kind_of(const di_nn_node *n)
{
    for (int i = 0; i < DI_ACTIV_COUNT; i++)
        if (!strcmp(n->op_type, names[i]))
            return i;
    return -1;
}

int di_nn_infer_activ(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    int kind = kind_of(n);
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    di_nn_activ_params *s = k->params;
    s->kind = kind;
    switch (kind) {
    case DI_ACTIV_THRESHOLDEDRELU: s->alpha = di_nn_attr_float(n, "alpha", 1.f); break;
    case DI_ACTIV_SHRINK:
        s->lambd = di_nn_attr_float(n, "lambd", 0.5f);
        s->bias = di_nn_attr_float(n, "bias", 0.f);
        break;
    case DI_ACTIV_ISINF:
        s->detect_pos = di_nn_attr_int(n, "detect_positive", 1) != 0;
        s->detect_neg = di_nn_attr_int(n, "detect_negative", 1) != 0;
        break;
    default: break;
    }
    int out_dt = kind == DI_ACTIV_ISNAN || kind == DI_ACTIV_ISINF ? DI_DT_BOOL : x->dtype;
    di_nn_set_shape(k->out[0], out_dt, x->ndim, x->dims);
    return DI_OK;
}

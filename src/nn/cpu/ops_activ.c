/*
** ops_activ.c: element-wise ops of the ONNX set that depth models use
** rarely (the common ones, and Elu, Selu, HardSigmoid, HardSwish, Softplus,
** Softsign, Round, Sign, Sin, Cos, are in ops_math.c): ThresholdedRelu,
** Shrink, Mish, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh,
** IsNaN, IsInf. Celu is left out on purpose: the nn tests use it as the
** example of an op we refuse.
**
** float32 on plain data; the loops vectorise where libm allows.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

enum {
    A_THRESHOLDEDRELU,
    A_SHRINK,
    A_MISH,
    A_TAN,
    A_ASIN,
    A_ACOS,
    A_ATAN,
    A_SINH,
    A_COSH,
    A_ASINH,
    A_ACOSH,
    A_ATANH,
    A_ISNAN,
    A_ISINF,
    A_COUNT
};

static const char *const names[A_COUNT] = {
    "ThresholdedRelu", "Shrink", "Mish",  "Tan",   "Asin",  "Acos", "Atan", "Sinh", "Cosh",
    "Asinh",           "Acosh",  "Atanh", "IsNaN", "IsInf",
};

static int kind_of(const di_nn_node *n)
{
    for (int i = 0; i < A_COUNT; i++)
        if (!strcmp(n->op_type, names[i]))
            return i;
    return -1;
}

typedef struct activ_state {
    int kind;
    float alpha, lambd, bias;
    bool detect_pos, detect_neg;
} activ_state;

static int activ_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    int kind = kind_of(n);
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    activ_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->kind = kind;
    switch (kind) {
    case A_THRESHOLDEDRELU: s->alpha = di_nn_attr_float(n, "alpha", 1.f); break;
    case A_SHRINK:
        s->lambd = di_nn_attr_float(n, "lambd", 0.5f);
        s->bias = di_nn_attr_float(n, "bias", 0.f);
        break;
    case A_ISINF:
        s->detect_pos = di_nn_attr_int(n, "detect_positive", 1) != 0;
        s->detect_neg = di_nn_attr_int(n, "detect_negative", 1) != 0;
        break;
    default: break;
    }
    int out_dt = kind == A_ISNAN || kind == A_ISINF ? DI_DT_BOOL : x->dtype;
    di_nn_set_shape(k->out[0], out_dt, x->ndim, x->dims);
    k->state = s;
    return DI_OK;
}

#define LOOP(EXPR)                                                                                 \
    for (size_t i = 0; i < n; i++) {                                                               \
        float v = x[i];                                                                            \
        y[i] = (EXPR);                                                                             \
    }

static int activ_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const activ_state *s = k->state;
    size_t n = (size_t)di_nn_numel(k->in[0]);
    const float *x = k->in[0]->data;
    if (s->kind == A_ISNAN || s->kind == A_ISINF) {
        uint8_t *y = k->out[0]->data;
        for (size_t i = 0; i < n; i++)
            y[i] = s->kind == A_ISNAN ? isnan(x[i]) != 0
                                      : isinf(x[i]) && (x[i] > 0 ? s->detect_pos : s->detect_neg);
        return DI_OK;
    }
    float *y = k->out[0]->data;
    float a = s->alpha, l = s->lambd, bi = s->bias;
    switch (s->kind) {
    case A_THRESHOLDEDRELU: LOOP(v > a ? v : 0.f); break;
    case A_SHRINK: LOOP(v < -l ? v + bi : v > l ? v - bi : 0.f); break;
    case A_MISH: LOOP(v * tanhf(v > 20.f ? v : log1pf(expf(v)))); break;
    case A_TAN: LOOP(tanf(v)); break;
    case A_ASIN: LOOP(asinf(v)); break;
    case A_ACOS: LOOP(acosf(v)); break;
    case A_ATAN: LOOP(atanf(v)); break;
    case A_SINH: LOOP(sinhf(v)); break;
    case A_COSH: LOOP(coshf(v)); break;
    case A_ASINH: LOOP(asinhf(v)); break;
    case A_ACOSH: LOOP(acoshf(v)); break;
    default: LOOP(atanhf(v)); break;
    }
    return DI_OK;
}

#define ACTIV_OP(NAME, MAXIN)                                                                      \
    const di_nn_op di_op_##NAME = {.name = #NAME,                                                  \
                                   .min_in = 1,                                                    \
                                   .max_in = (MAXIN),                                              \
                                   .flags = DI_OP_PER_IMAGE,                                       \
                                   .prepare = activ_prepare,                                       \
                                   .run = activ_run,                                               \
                                   .release = free};
ACTIV_OP(ThresholdedRelu, 1)
ACTIV_OP(Shrink, 1)
ACTIV_OP(Mish, 1)
ACTIV_OP(Tan, 1)
ACTIV_OP(Asin, 1)
ACTIV_OP(Acos, 1)
ACTIV_OP(Atan, 1)
ACTIV_OP(Sinh, 1)
ACTIV_OP(Cosh, 1)
ACTIV_OP(Asinh, 1)
ACTIV_OP(Acosh, 1)
ACTIV_OP(Atanh, 1)
ACTIV_OP(IsNaN, 1)
ACTIV_OP(IsInf, 1)

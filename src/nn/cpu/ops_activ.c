/*
** ops_activ.c: element-wise ops of the ONNX set that depth models use
** rarely (the common ones, and Elu, Selu, HardSigmoid, HardSwish, Softplus,
** Softsign, Round, Sign, Sin, Cos, are in ops_math.c): ThresholdedRelu,
** Shrink, Mish, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh,
** IsNaN, IsInf. Celu is left out on purpose: the nn tests use it as the
** example of an op we refuse.
**
** float32 on plain data; the loops vectorise where libm allows. The kind
** and constants are their infer's params (infer_activ.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

#define LOOP(EXPR)                                                                                 \
    for (size_t i = 0; i < n; i++) {                                                               \
        float v = x[i];                                                                            \
        y[i] = (EXPR);                                                                             \
    }

static int activ_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_activ_params *s = k->params;
    size_t n = (size_t)di_nn_numel(k->in[0]);
    const float *x = k->in[0]->data;
    if (s->kind == DI_ACTIV_ISNAN || s->kind == DI_ACTIV_ISINF) {
        uint8_t *y = k->out[0]->data;
        for (size_t i = 0; i < n; i++)
            y[i] = s->kind == DI_ACTIV_ISNAN
                       ? isnan(x[i]) != 0
                       : isinf(x[i]) && (x[i] > 0 ? s->detect_pos : s->detect_neg);
        return DI_OK;
    }
    float *y = k->out[0]->data;
    float a = s->alpha, l = s->lambd, bi = s->bias;
    switch (s->kind) {
    case DI_ACTIV_THRESHOLDEDRELU: LOOP(v > a ? v : 0.f); break;
    case DI_ACTIV_SHRINK: LOOP(v < -l ? v + bi : v > l ? v - bi : 0.f); break;
    case DI_ACTIV_MISH: LOOP(v * tanhf(v > 20.f ? v : log1pf(expf(v)))); break;
    case DI_ACTIV_TAN: LOOP(tanf(v)); break;
    case DI_ACTIV_ASIN: LOOP(asinf(v)); break;
    case DI_ACTIV_ACOS: LOOP(acosf(v)); break;
    case DI_ACTIV_ATAN: LOOP(atanf(v)); break;
    case DI_ACTIV_SINH: LOOP(sinhf(v)); break;
    case DI_ACTIV_COSH: LOOP(coshf(v)); break;
    case DI_ACTIV_ASINH: LOOP(asinhf(v)); break;
    case DI_ACTIV_ACOSH: LOOP(acoshf(v)); break;
    default: LOOP(atanhf(v)); break;
    }
    return DI_OK;
}

#define ACTIV_OP(NAME, MAXIN)                                                                      \
    const di_nn_op di_op_##NAME = {.name = #NAME,                                                  \
                                   .min_in = 1,                                                    \
                                   .max_in = (MAXIN),                                              \
                                   .flags = DI_OP_PER_IMAGE,                                       \
                                   .infer = di_nn_infer_activ,                                     \
                                   .params_size = sizeof(di_nn_activ_params),                      \
                                   .run = activ_run};
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

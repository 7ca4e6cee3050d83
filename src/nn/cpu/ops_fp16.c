/*
** ops_fp16.c: RoundFloat16, what a float16 file's Cast to float16 becomes
** (fp16.c): the input (any numeric type) as float32 rounded to float16
** precision, nearest even, overflow to infinity, as a float16 store would.
** Its types and shape are its infer's (infer_quant.c).
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../op.h"

static float num_at(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case DI_DT_FLOAT: return ((const float *)p)[i];
    case DI_DT_DOUBLE: return (float)((const double *)p)[i];
    case DI_DT_INT64: return (float)((const int64_t *)p)[i];
    case DI_DT_INT32: return (float)((const int32_t *)p)[i];
    case DI_DT_INT8: return (float)((const int8_t *)p)[i];
    default: return (float)((const uint8_t *)p)[i]; /* uint8, bool */
    }
}

static int round16_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t n = di_nn_numel(k->in[0]);
    const void *x = k->in[0]->data;
    int dt = k->in[0]->dtype;
    float *y = k->out[0]->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = di_fp16_round(num_at(x, dt, i));
    return DI_OK;
}

const di_nn_op di_op_RoundFloat16 = {
    .name = "RoundFloat16",
    .min_in = 1,
    .max_in = 1,
    .flags = DI_OP_PER_IMAGE,
    .infer = di_nn_infer_round16,
    .run = round16_run,
};

/*
** ops_quant.c: the quantization ops of ONNX's dynamic- and static-quantized
** files, as onnxruntime defines them (plain C, exact integer arithmetic):
**   DynamicQuantizeLinear  x -> uint8 y, scale = (max(0,x) - min(0,x)) / 255,
**                          zero point = saturate(round(-min / scale)), y =
**                          saturate(round(x / scale) + zp); round = nearest
**                          even;
**   QuantizeLinear         per tensor or per axis, uint8 or int8 (the zero
**                          point's type; uint8 without one);
**   DequantizeLinear       (x - zp) * scale, per tensor or per axis;
**   MatMulInteger          (A - a_zp) @ (B - b_zp) in int32, b_zp per tensor
**                          or per column;
**   ConvInteger            2-D convolution of (x - x_zp) and (w - w_zp) in
**                          int32 (pads, strides, dilations, group).
** The float work around them (Cast, Mul by the scales, bias Add) is the
** ordinary ops'. Types, shapes, the quantization axis and ConvInteger's
** window are their infer's (infer_quant.c). Where the CPU has VNNI,
** MatMulInteger and ConvInteger run through oneDNN's u8s8s32 primitives
** instead, with the same integers (quant_dnnl.c); these kernels remain for
** the forms it leaves here.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"
#include "quant_dnnl.h"

static int q8_at(const void *p, int dt, int64_t i)
{
    return dt == DI_DT_UINT8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static int round_sat(float v, int dt)
{
    float r = nearbyintf(v);
    int lo = dt == DI_DT_UINT8 ? 0 : -128, hi = dt == DI_DT_UINT8 ? 255 : 127;
    if (!(r >= (float)lo)) /* NaN too */
        return lo;
    return r > (float)hi ? hi : (int)r;
}

/* ---- DynamicQuantizeLinear ---- */

static int dql_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const float *x = k->in[0]->data;
    int64_t n = di_nn_numel(k->in[0]);
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float scale = (hi - lo) / 255.f;
    int zp = scale > 0 ? round_sat(0 - lo / scale, DI_DT_UINT8) : 0;
    uint8_t *y = k->out[0]->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = scale > 0 ? (uint8_t)round_sat(nearbyintf(x[i] / scale) + (float)zp, DI_DT_UINT8)
                         : (uint8_t)zp;
    if (k->nout > 1 && k->out[1])
        *(float *)k->out[1]->data = scale;
    if (k->nout > 2 && k->out[2])
        *(uint8_t *)k->out[2]->data = (uint8_t)zp;
    return DI_OK;
}

const di_nn_op di_op_DynamicQuantizeLinear = {
    .name = "DynamicQuantizeLinear",
    .min_in = 1,
    .max_in = 1,
    .flags = DI_OP_BATCH_STATS,
    .infer = di_nn_infer_dql,
    .run = dql_run,
};

/* ---- QuantizeLinear, DequantizeLinear ---- */

static int ql_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *zp = k->nin > 2 ? k->in[2] : NULL;
    (void)err;
    const di_nn_qlinear_params *p = k->params;
    int64_t ch = p->channels, inner = p->inner;
    int dt = k->out[0]->dtype;
    const float *xs = x->data, *sc = k->in[1]->data;
    int64_t n = di_nn_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = ch > 1 ? (i / inner) % ch : 0;
        int z = zp ? q8_at(zp->data, zp->dtype, c) : 0;
        int q = round_sat(nearbyintf(xs[i] / sc[c]) + (float)z, dt);
        if (dt == DI_DT_UINT8)
            ((uint8_t *)k->out[0]->data)[i] = (uint8_t)q;
        else
            ((int8_t *)k->out[0]->data)[i] = (int8_t)q;
    }
    return DI_OK;
}

const di_nn_op di_op_QuantizeLinear = {
    .name = "QuantizeLinear",
    .min_in = 2,
    .max_in = 3,
    .flags = DI_OP_PER_IMAGE,
    .infer = di_nn_infer_quantize,
    .params_size = sizeof(di_nn_qlinear_params),
    .run = ql_run,
};

static int64_t int_at(const void *p, int dt, int64_t i)
{
    return dt == DI_DT_INT32 ? ((const int32_t *)p)[i] : q8_at(p, dt, i);
}

static int dq_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *zp = k->nin > 2 ? k->in[2] : NULL;
    (void)err;
    const di_nn_qlinear_params *p = k->params;
    int64_t ch = p->channels, inner = p->inner;
    const float *sc = k->in[1]->data;
    float *y = k->out[0]->data;
    int64_t n = di_nn_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = ch > 1 ? (i / inner) % ch : 0;
        int64_t z = zp ? int_at(zp->data, zp->dtype, c) : 0;
        y[i] = (float)(int_at(x->data, x->dtype, i) - z) * sc[c];
    }
    return DI_OK;
}

const di_nn_op di_op_DequantizeLinear = {
    .name = "DequantizeLinear",
    .min_in = 2,
    .max_in = 3,
    .flags = DI_OP_PER_IMAGE,
    .infer = di_nn_infer_dequantize,
    .params_size = sizeof(di_nn_qlinear_params),
    .run = dq_run,
};

/* ---- MatMulInteger ---- */

static int mmi_run(di_nn_kctx *k, di_error *err)
{
    if (k->state)
        return di_nn_qdnnl_matmul_run(k, err);
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    const di_nn_tensor *az = k->nin > 2 ? k->in[2] : NULL, *bz = k->nin > 3 ? k->in[3] : NULL;
    const di_nn_matmul_int_params *p = k->params;
    int64_t K = p->k, N = p->n, M = p->m;
    int azv = az ? q8_at(az->data, az->dtype, 0) : 0;
    bool bz_per_col = p->b_zp_per_column;
    /* B minus its zero point once, as int16 rows */
    int16_t *bw = k->scratch;
    for (int64_t kk = 0; kk < K; kk++)
        for (int64_t j = 0; j < N; j++) {
            int z = bz ? q8_at(bz->data, bz->dtype, bz_per_col ? j : 0) : 0;
            bw[kk * N + j] = (int16_t)(q8_at(b->data, b->dtype, kk * N + j) - z);
        }
    int32_t *y = k->out[0]->data;
    const void *ad = a->data;
    int adt = a->dtype;
#pragma omp parallel for num_threads(k->env->threads) schedule(static)
    for (int64_t i = 0; i < M; i++) {
        int32_t *row = y + i * N;
        memset(row, 0, (size_t)N * sizeof *row);
        for (int64_t kk = 0; kk < K; kk++) {
            int av = q8_at(ad, adt, i * K + kk) - azv;
            if (!av)
                continue;
            const int16_t *br = bw + kk * N;
            for (int64_t j = 0; j < N; j++)
                row[j] += av * br[j];
        }
    }
    return DI_OK;
}

/* oneDNN where it can (quant_dnnl.c), else scratch for B minus its zero
** point */
static int mmi_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = di_nn_qdnnl_matmul_prepare(k, err);
    if (rc || k->state)
        return rc;
    k->scratch_bytes = (size_t)di_nn_numel(k->in[1]) * sizeof(int16_t);
    return DI_OK;
}

static double mmi_flops(const di_nn_kctx *k)
{
    return 2.0 * (double)di_nn_numel(k->out[0]) *
           (double)((const di_nn_matmul_int_params *)k->params)->k;
}

const di_nn_op di_op_MatMulInteger = {
    .name = "MatMulInteger",
    .min_in = 2,
    .max_in = 4,
    .flags = DI_OP_PER_IMAGE,
    .infer = di_nn_infer_matmul_int,
    .params_size = sizeof(di_nn_matmul_int_params),
    .prepare = mmi_prepare,
    .run = mmi_run,
    .release = di_nn_qdnnl_release,
    .flops = mmi_flops,
};

/* ---- ConvInteger ---- */

static int convi_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    return DI_OK;
}

static int convi_prepare(di_nn_kctx *k, di_error *err)
{
    return di_nn_qdnnl_conv_prepare(k, err);
}

static int convi_run(di_nn_kctx *k, di_error *err)
{
    if (k->state)
        return di_nn_qdnnl_conv_run(k, err);
    const di_nn_conv_params *p = k->params;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *out = k->out[0];
    const di_nn_tensor *xz = k->nin > 2 ? k->in[2] : NULL, *wz = k->nin > 3 ? k->in[3] : NULL;
    int xzv = xz ? q8_at(xz->data, xz->dtype, 0) : 0, wzv = wz ? q8_at(wz->data, wz->dtype, 0) : 0;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t O = w->dims[0], Cg = w->dims[1], OH = out->dims[2], OW = out->dims[3];
    int64_t KH = w->dims[2], KW = w->dims[3], Og = O / p->group;
    int64_t sh = p->strides[0], sw = p->strides[1], dh = p->dilations[0], dw = p->dilations[1];
    int64_t pt = p->pads[0], pl = p->pads[1];
    int32_t *y = out->data;
#pragma omp parallel for collapse(2) num_threads(k->env->threads) schedule(static)
    for (int64_t b = 0; b < N; b++)
        for (int64_t o = 0; o < O; o++) {
            int64_t g = o / Og;
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int32_t acc = 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t ky = 0; ky < KH; ky++) {
                            int64_t iy = oy * sh - pt + ky * dh;
                            for (int64_t kx = 0; kx < KW; kx++) {
                                int64_t ix = ox * sw - pl + kx * dw;
                                /* padding is the zero point: (zp - zp) = 0 */
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                int xv = q8_at(x->data, x->dtype,
                                               ((b * C + g * Cg + c) * H + iy) * W + ix) -
                                         xzv;
                                int wv =
                                    q8_at(w->data, w->dtype, ((o * Cg + c) * KH + ky) * KW + kx) -
                                    wzv;
                                acc += xv * wv;
                            }
                        }
                    y[((b * O + o) * OH + oy) * OW + ox] = acc;
                }
        }
    (void)C;
    return DI_OK;
}

static double convi_flops(const di_nn_kctx *k)
{
    return ((const di_nn_conv_params *)k->params)->flops;
}

const di_nn_op di_op_ConvInteger = {
    .name = "ConvInteger",
    .min_in = 2,
    .max_in = 4,
    .flags = DI_OP_PER_IMAGE,
    .check = convi_check,
    .infer = di_nn_infer_conv_int,
    .params_size = sizeof(di_nn_conv_params),
    .prepare = convi_prepare,
    .run = convi_run,
    .release = di_nn_qdnnl_release,
    .flops = convi_flops,
};

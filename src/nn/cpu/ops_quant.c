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
** ordinary ops'.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

static bool is_q8(int dt)
{
    return dt == DI_DT_UINT8 || dt == DI_DT_INT8;
}

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

static int dql_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    di_nn_set_shape(k->out[0], DI_DT_UINT8, x->ndim, x->dims);
    if (k->nout > 1 && k->out[1])
        di_nn_set_shape(k->out[1], DI_DT_FLOAT, 0, NULL);
    if (k->nout > 2 && k->out[2])
        di_nn_set_shape(k->out[2], DI_DT_UINT8, 0, NULL);
    return DI_OK;
}

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
    .prepare = dql_prepare,
    .run = dql_run,
};

/* ---- QuantizeLinear, DequantizeLinear ---- */

/* per-axis parameters: the axis and the channel count (1: per tensor) */
static int q_axis(di_nn_kctx *k, const di_nn_tensor *x, int *axis, int64_t *channels,
                  int64_t *inner, di_error *err)
{
    const di_nn_tensor *s = k->in[1];
    int64_t ns = di_nn_numel(s);
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    if (zp && di_nn_numel(zp) != ns)
        return di_nn_shape_error(err, k->node, "%lld zero points for %lld scales",
                                 (long long)di_nn_numel(zp), (long long)ns);
    if (s->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "scale of type %s", di_dtype_name(s->dtype));
    int a = (int)di_nn_attr_int(k->node, "axis", 1);
    if (a < 0)
        a += x->ndim;
    *axis = a;
    *channels = 1;
    *inner = 1;
    if (ns == 1 && s->ndim <= 1)
        return DI_OK;
    if (s->ndim != 1 || a < 0 || a >= x->ndim || x->dims[a] != ns)
        return di_nn_shape_error(err, k->node, "%lld scales do not match axis %d of the input",
                                 (long long)ns, a);
    *channels = ns;
    for (int d = a + 1; d < x->ndim; d++)
        *inner *= x->dims[d];
    return DI_OK;
}

static int ql_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    int out_dt = zp ? zp->dtype : DI_DT_UINT8;
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    if (!is_q8(out_dt))
        return di_nn_unsupported(err, k->node, "a zero point of type %s (uint8 or int8)",
                                 di_dtype_name(out_dt));
    int axis;
    int64_t ch, inner;
    int rc = q_axis(k, x, &axis, &ch, &inner, err);
    if (rc)
        return rc;
    di_nn_set_shape(k->out[0], out_dt, x->ndim, x->dims);
    return DI_OK;
}

static int ql_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *zp = k->nin > 2 ? k->in[2] : NULL;
    int axis;
    int64_t ch, inner;
    int rc = q_axis(k, x, &axis, &ch, &inner, err);
    if (rc)
        return rc;
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
    .prepare = ql_prepare,
    .run = ql_run,
};

static int dq_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    if (!is_q8(x->dtype) && x->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return di_nn_node_fail(err, DI_EFORMAT, k->node,
                               "zero point of type %s for an input of type %s",
                               di_dtype_name(zp->dtype), di_dtype_name(x->dtype));
    int axis;
    int64_t ch, inner;
    int rc = q_axis(k, x, &axis, &ch, &inner, err);
    if (rc)
        return rc;
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return DI_OK;
}

static int64_t int_at(const void *p, int dt, int64_t i)
{
    return dt == DI_DT_INT32 ? ((const int32_t *)p)[i] : q8_at(p, dt, i);
}

static int dq_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *zp = k->nin > 2 ? k->in[2] : NULL;
    int axis;
    int64_t ch, inner;
    int rc = q_axis(k, x, &axis, &ch, &inner, err);
    if (rc)
        return rc;
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
    .prepare = dq_prepare,
    .run = dq_run,
};

/* ---- MatMulInteger ---- */

static int zp_check(di_nn_kctx *k, int i, const di_nn_tensor *of, int64_t per, di_error *err)
{
    const di_nn_tensor *z = k->nin > i ? k->in[i] : NULL;
    if (!z)
        return DI_OK;
    if (z->dtype != of->dtype)
        return di_nn_node_fail(err, DI_EFORMAT, k->node,
                               "zero point %d of type %s for an input of type %s", i,
                               di_dtype_name(z->dtype), di_dtype_name(of->dtype));
    int64_t n = di_nn_numel(z);
    if (n != 1 && n != per)
        return di_nn_shape_error(err, k->node, "zero point %d has %lld values (1 or %lld)", i,
                                 (long long)n, (long long)per);
    return DI_OK;
}

static int mmi_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return di_nn_unsupported(err, k->node, "inputs of types %s and %s (uint8 or int8)",
                                 di_dtype_name(a->dtype), di_dtype_name(b->dtype));
    if (a->ndim < 2 || b->ndim != 2)
        return di_nn_unsupported(err, k->node, "a %d-D A and a %d-D B (B must be 2-D)", a->ndim,
                                 b->ndim);
    if (a->dims[a->ndim - 1] != b->dims[0])
        return di_nn_shape_error(err, k->node, "A has %lld columns, B %lld rows",
                                 (long long)a->dims[a->ndim - 1], (long long)b->dims[0]);
    int rc = zp_check(k, 2, a, 1, err);
    if (!rc)
        rc = zp_check(k, 3, b, b->dims[1], err);
    if (rc)
        return rc;
    int64_t d[DI_NN_MAX_DIMS];
    memcpy(d, a->dims, sizeof(int64_t) * (size_t)a->ndim);
    d[a->ndim - 1] = b->dims[1];
    di_nn_set_shape(k->out[0], DI_DT_INT32, a->ndim, d);
    return DI_OK;
}

static int mmi_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    const di_nn_tensor *az = k->nin > 2 ? k->in[2] : NULL, *bz = k->nin > 3 ? k->in[3] : NULL;
    int64_t K = b->dims[0], N = b->dims[1], M = di_nn_numel(a) / (K ? K : 1);
    int azv = az ? q8_at(az->data, az->dtype, 0) : 0;
    bool bz_per_col = bz && di_nn_numel(bz) == N && N > 1;
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

static int mmi_prepare_scratch(di_nn_kctx *k, di_error *err)
{
    int rc = mmi_prepare(k, err);
    if (!rc)
        k->scratch_bytes = (size_t)di_nn_numel(k->in[1]) * sizeof(int16_t);
    return rc;
}

static double mmi_flops(const di_nn_kctx *k)
{
    return 2.0 * (double)di_nn_numel(k->out[0]) * (double)k->in[1]->dims[0];
}

const di_nn_op di_op_MatMulInteger = {
    .name = "MatMulInteger",
    .min_in = 2,
    .max_in = 4,
    .flags = DI_OP_PER_IMAGE,
    .prepare = mmi_prepare_scratch,
    .run = mmi_run,
    .flops = mmi_flops,
};

/* ---- ConvInteger ---- */

typedef struct convi_state {
    int64_t kh, kw, sh, sw, dh, dw, pt, pl, group;
} convi_state;

static int convi_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    return DI_OK;
}

static int64_t attr2(const di_nn_node *n, const char *name, int i, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a && a->ints && a->n > i ? a->ints[i] : dflt;
}

static int convi_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *w = k->in[1];
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return di_nn_unsupported(err, k->node, "inputs of types %s and %s (uint8 or int8)",
                                 di_dtype_name(x->dtype), di_dtype_name(w->dtype));
    if (x->ndim != 4 || w->ndim != 4)
        return di_nn_unsupported(err, k->node, "a %d-D input (2-D images only)", x->ndim);
    int rc = zp_check(k, 2, x, 1, err);
    if (!rc)
        rc = zp_check(k, 3, w, 1, err);
    if (rc)
        return rc;
    convi_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    k->state = s;
    const di_nn_node *n = k->node;
    s->kh = w->dims[2];
    s->kw = w->dims[3];
    s->sh = attr2(n, "strides", 0, 1);
    s->sw = attr2(n, "strides", 1, 1);
    s->dh = attr2(n, "dilations", 0, 1);
    s->dw = attr2(n, "dilations", 1, 1);
    s->pt = attr2(n, "pads", 0, 0);
    s->pl = attr2(n, "pads", 1, 0);
    int64_t pb = attr2(n, "pads", 2, 0), pr = attr2(n, "pads", 3, 0);
    s->group = di_nn_attr_int(n, "group", 1);
    if (s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1 || s->group < 1 || s->pt < 0 ||
        s->pl < 0 || pb < 0 || pr < 0 || x->dims[1] != w->dims[1] * s->group ||
        w->dims[0] % s->group)
        return di_nn_shape_error(err, n, "strides, dilations, pads or groups do not fit");
    int64_t oh = (x->dims[2] + s->pt + pb - s->dh * (s->kh - 1) - 1) / s->sh + 1;
    int64_t ow = (x->dims[3] + s->pl + pr - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    if (oh < 1 || ow < 1)
        return di_nn_shape_error(err, n, "the kernel is larger than the padded input");
    di_nn_set_shape(k->out[0], DI_DT_INT32, 4, (int64_t[]){x->dims[0], w->dims[0], oh, ow});
    return DI_OK;
}

static int convi_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const convi_state *s = k->state;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *out = k->out[0];
    const di_nn_tensor *xz = k->nin > 2 ? k->in[2] : NULL, *wz = k->nin > 3 ? k->in[3] : NULL;
    int xzv = xz ? q8_at(xz->data, xz->dtype, 0) : 0, wzv = wz ? q8_at(wz->data, wz->dtype, 0) : 0;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t O = w->dims[0], Cg = w->dims[1], OH = out->dims[2], OW = out->dims[3];
    int64_t Og = O / s->group;
    int32_t *y = out->data;
#pragma omp parallel for collapse(2) num_threads(k->env->threads) schedule(static)
    for (int64_t b = 0; b < N; b++)
        for (int64_t o = 0; o < O; o++) {
            int64_t g = o / Og;
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int32_t acc = 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t ky = 0; ky < s->kh; ky++) {
                            int64_t iy = oy * s->sh - s->pt + ky * s->dh;
                            for (int64_t kx = 0; kx < s->kw; kx++) {
                                int64_t ix = ox * s->sw - s->pl + kx * s->dw;
                                /* padding is the zero point: (zp - zp) = 0 */
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                int xv = q8_at(x->data, x->dtype,
                                               ((b * C + g * Cg + c) * H + iy) * W + ix) -
                                         xzv;
                                int wv = q8_at(w->data, w->dtype,
                                               ((o * Cg + c) * s->kh + ky) * s->kw + kx) -
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
    const di_nn_tensor *w = k->in[1];
    return 2.0 * (double)di_nn_numel(k->out[0]) * (double)(w->dims[1] * w->dims[2] * w->dims[3]);
}

const di_nn_op di_op_ConvInteger = {
    .name = "ConvInteger",
    .min_in = 2,
    .max_in = 4,
    .flags = DI_OP_PER_IMAGE,
    .check = convi_check,
    .prepare = convi_prepare,
    .run = convi_run,
    .release = free,
    .flops = convi_flops,
};

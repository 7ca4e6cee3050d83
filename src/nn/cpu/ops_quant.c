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
#include <omp.h>
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

/* The range and the quantization, in chunks of the OpenMP pool (a DQL
** precedes every MatMulInteger; serial, it was 10 % of DA-V2 small's time at
** 2 threads) and with AVX-512 where the CPU has it, chosen at run time.
** Bit-identical to the serial loops: min and max are exact in any order (the
** comparisons keep the serial loop's NaN and signed-zero choices: NaN is
** skipped, the range starts at +0), and each output depends on its input
** alone, with the same division and round-half-to-even. */

static void range_c(const float *x, int64_t n, float *lo, float *hi)
{
    float l = 0, h = 0;
    for (int64_t i = 0; i < n; i++) {
        l = x[i] < l ? x[i] : l;
        h = x[i] > h ? x[i] : h;
    }
    *lo = l;
    *hi = h;
}

static void quant_c(const float *x, int64_t n, float scale, int zp, uint8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = scale > 0 ? (uint8_t)round_sat(nearbyintf(x[i] / scale) + (float)zp, DI_DT_UINT8)
                         : (uint8_t)zp;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define DQL_AVX512 1

__attribute__((target("avx512f"))) static void range_512(const float *x, int64_t n, float *lo,
                                                         float *hi)
{
    __m512 l = _mm512_setzero_ps(), h = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        l = _mm512_min_ps(v, l); /* the second operand where v is NaN, as x < l ? x : l */
        h = _mm512_max_ps(v, h);
    }
    if (i < n) { /* masked-off lanes read 0, inside the range already */
        __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i);
        l = _mm512_min_ps(v, l);
        h = _mm512_max_ps(v, h);
    }
    float ls[16], hs[16];
    _mm512_storeu_ps(ls, l);
    _mm512_storeu_ps(hs, h);
    range_c(ls, 16, lo, hi);
    float l2, h2;
    range_c(hs, 16, &l2, &h2);
    *hi = h2;
}

__attribute__((target("avx512f"))) static void quant_512(const float *x, int64_t n, float scale,
                                                         int zp, uint8_t *y)
{
    if (!(scale > 0)) {
        memset(y, zp, (size_t)n);
        return;
    }
    __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps((float)zp);
    __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                          z);
        v = _mm512_min_ps(_mm512_max_ps(v, zero), top); /* max: 0 where v is NaN, as round_sat */
        _mm512_mask_cvtusepi32_storeu_epi8(y + i, m, _mm512_cvttps_epi32(v));
    }
}
#endif

static bool use_avx512(void)
{
#ifdef DQL_AVX512
    static int have = -1;
    if (have < 0)
        have = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return have;
#else
    return false;
#endif
}

enum { DQL_CHUNK = 16384, DQL_MAX_THREADS = 256 };

void di_nn_dql_compute(const float *x, int64_t n, int threads, bool simd, uint8_t *y,
                       float *scale_out, uint8_t *zp_out)
{
#ifndef DQL_AVX512
    simd = false;
#endif
    simd = simd && use_avx512();
    int64_t nchunks = (n + DQL_CHUNK - 1) / DQL_CHUNK;
    int nt = threads < 1 ? 1 : threads > DQL_MAX_THREADS ? DQL_MAX_THREADS : threads;
    if (nt > nchunks)
        nt = nchunks > 0 ? (int)nchunks : 1;
    float los[DQL_MAX_THREADS], his[DQL_MAX_THREADS];
    int64_t per = (n + nt - 1) / nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        int64_t b = t * per, e = b + per < n ? b + per : n;
        los[t] = his[t] = 0;
        if (b >= e)
            continue;
#ifdef DQL_AVX512
        if (simd) {
            range_512(x + b, e - b, &los[t], &his[t]);
            continue;
        }
#endif
        range_c(x + b, e - b, &los[t], &his[t]);
    }
    float lo = 0, hi = 0;
    for (int t = 0; t < nt; t++) {
        lo = los[t] < lo ? los[t] : lo;
        hi = his[t] > hi ? his[t] : hi;
    }
    float scale = (hi - lo) / 255.f;
    int zp = scale > 0 ? round_sat(0 - lo / scale, DI_DT_UINT8) : 0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        int64_t b = t * per, e = b + per < n ? b + per : n;
        if (b >= e)
            continue;
#ifdef DQL_AVX512
        if (simd) {
            quant_512(x + b, e - b, scale, zp, y + b);
            continue;
        }
#endif
        quant_c(x + b, e - b, scale, zp, y + b);
    }
    *scale_out = scale;
    *zp_out = (uint8_t)zp;
}

static int dql_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    float scale;
    uint8_t zp;
    di_nn_dql_compute(k->in[0]->data, di_nn_numel(k->in[0]), k->env->threads, true, k->out[0]->data,
                      &scale, &zp);
    if (k->nout > 1 && k->out[1])
        *(float *)k->out[1]->data = scale;
    if (k->nout > 2 && k->out[2])
        *(uint8_t *)k->out[2]->data = zp;
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

/* the plain kernel, into y (out[0]'s size) */
static void mmi_plain(di_nn_kctx *k, int32_t *y)
{
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
}

static int mmi_run(di_nn_kctx *k, di_error *err)
{
    if (k->state)
        return di_nn_qdnnl_matmul_run(k, err);
    mmi_plain(k, k->out[0]->data);
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

/* ---- _MatMulIntegerToFloat ---- */

/* The load-time rewrite (rewrite_quant.c) of
**   MatMulInteger(A, B, a_zp, b_zp) -> Cast(float) -> Mul(scale) [-> Add(bias)]
**   [-> Mul(g)]
** into one node: inputs A, B, a_zp, b_zp, scale (1 or N values, computed at
** run time: the DynamicQuantizeLinear scale times the weights'), bias (N
** values, optional), g (a layer scale of N values, optional). The integer
** product is written into the output buffer as int32 (as MatMulInteger's
** kernels do), then one pass per row turns it into
** y = ((float)P * scale + bias) * g, with the same float operations in the
** same order as the unfused Cast, Mul, Add and Mul (bit-identical), folding in
** the oneDNN path's weight-offset term and fused Relu, Clip and Add
** post-ops on the way. Before: four passes over the output, one of them
** single-threaded in Cast. */

/* P (the int32 product, d and a as di_nn_qdnnl_fix says) into the float
** output; P may be the output buffer itself. Where a fused Add's operand is
** the output buffer (in place), each row is made in tmp (a row per thread)
** and copied out last, after the operand's row was read. */
static void mmf_rows(di_nn_kctx *k, const int32_t *P, const di_nn_qdnnl_fix *fix, float *tmp)
{
    const di_nn_matmul_int_params *p = k->params;
    int64_t M = p->m, K = p->k, N = p->n;
    const di_nn_tensor *sc = k->in[4], *bt = k->nin > 5 ? k->in[5] : NULL;
    const di_nn_tensor *gt = k->nin > 6 ? k->in[6] : NULL;
    const float *scale = sc->data, *bias = bt ? bt->data : NULL, *gamma = gt ? gt->data : NULL;
    bool per_col = di_nn_numel(sc) > 1;
    const int32_t *d = fix ? fix->d : NULL;
    const uint8_t *a = d ? fix->a : NULL;
    int64_t za = d ? fix->za : 0;
    float *y = k->out[0]->data;
#pragma omp parallel for num_threads(k->env->threads) schedule(static)
    for (int64_t i = 0; i < M; i++) {
        const int32_t *pr = P + i * N;
        float *row = tmp ? tmp + (int64_t)omp_get_thread_num() * N : y + i * N;
        if (d) {
            int64_t ra = -K * za;
            for (int64_t kk = 0; kk < K; kk++)
                ra += a[i * K + kk];
            /* modulo 2^32, as the int64 sum truncated: 32-bit lanes vectorise */
            uint32_t r32 = (uint32_t)ra;
            if (per_col)
                for (int64_t j = 0; j < N; j++)
                    row[j] = (float)(int32_t)((uint32_t)pr[j] + (uint32_t)d[j] * r32) * scale[j];
            else
                for (int64_t j = 0; j < N; j++)
                    row[j] = (float)(int32_t)((uint32_t)pr[j] + (uint32_t)d[j] * r32) * scale[0];
        } else if (per_col) {
            for (int64_t j = 0; j < N; j++)
                row[j] = (float)pr[j] * scale[j];
        } else {
            for (int64_t j = 0; j < N; j++)
                row[j] = (float)pr[j] * scale[0];
        }
        if (bias)
            for (int64_t j = 0; j < N; j++)
                row[j] = row[j] + bias[j];
        if (gamma)
            for (int64_t j = 0; j < N; j++)
                row[j] = row[j] * gamma[j];
        for (int q = 0; q < k->npost; q++) {
            const di_nn_postop *po = &k->post[q];
            if (po->kind == DI_POST_SUM) {
                const float *add = (const float *)po->addend->data + i * N;
                for (int64_t j = 0; j < N; j++)
                    row[j] = row[j] + add[j];
            } else { /* Relu, Clip: mmf_prepare lets no other kind through */
                float lo = po->kind == DI_POST_RELU ? 0.f : po->lo;
                float hi = po->kind == DI_POST_RELU ? INFINITY : po->hi;
                for (int64_t j = 0; j < N; j++) {
                    float v = row[j];
                    row[j] = v < lo ? lo : v > hi ? hi : v;
                }
            }
        }
        if (tmp)
            memcpy(y + i * N, row, (size_t)N * sizeof *row);
    }
}

static int mmf_prepare(di_nn_kctx *k, di_error *err)
{
    /* post-ops in our own pass on plain float32 (infer checked the kinds and
    ** the addends' shapes) */
    for (int q = 0; q < k->npost; q++) {
        const di_nn_postop *po = &k->post[q];
        if (k->env->bf16 ||
            (po->kind != DI_POST_RELU && po->kind != DI_POST_CLIP && po->kind != DI_POST_SUM))
            return DI_NN_NO_FUSE;
        if (po->kind == DI_POST_SUM && po->addend->blocked)
            return DI_NN_NO_FUSE;
    }
    int rc = mmi_prepare(k, err);
    if (rc)
        return rc;
    /* the planner may give a fused Add's operand the output's buffer (in
    ** place): then the int32 product goes to scratch, not over the operand */
    di_nn_matmul_int_params *p = k->params;
    p->p_off = (k->scratch_bytes + 63) / 64 * 64;
    p->row_off = p->p_off + ((size_t)(p->m * p->n) * sizeof(int32_t) + 63) / 64 * 64;
    for (int q = 0; q < k->npost; q++)
        if (k->post[q].kind == DI_POST_SUM) {
            int nt = k->env->threads > 0 ? k->env->threads : 1;
            k->scratch_bytes = p->row_off + (size_t)(nt * p->n) * sizeof(float);
            break;
        }
    return DI_OK;
}

static int mmf_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_matmul_int_params *p = k->params;
    int32_t *P = k->out[0]->data; /* the int32 product where the floats go */
    float *tmp = NULL;
    for (int q = 0; q < k->npost; q++)
        if (k->post[q].kind == DI_POST_SUM && k->post[q].addend->data == k->out[0]->data) {
            P = (int32_t *)((char *)k->scratch + p->p_off);
            tmp = (float *)((char *)k->scratch + p->row_off);
        }
    if (k->state) {
        di_nn_qdnnl_fix fix;
        int rc = di_nn_qdnnl_matmul_exec(k, P, &fix, err);
        if (rc)
            return rc;
        mmf_rows(k, P, &fix, tmp);
        return DI_OK;
    }
    mmi_plain(k, P); /* the exact int32 product */
    mmf_rows(k, P, NULL, tmp);
    return DI_OK;
}

const di_nn_op di_op__MatMulIntegerToFloat = {
    .name = "_MatMulIntegerToFloat",
    .min_in = 2, /* the zero points are optional: infer asks for the scale */
    .max_in = 7,
    .flags = DI_OP_PER_IMAGE | DI_OP_POSTOPS,
    .infer = di_nn_infer_matmul_int_float,
    .params_size = sizeof(di_nn_matmul_int_params),
    .prepare = mmf_prepare,
    .run = mmf_run,
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

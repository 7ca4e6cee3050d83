/*
** quant_convert.h: a float32 graph built with onnx_build.h rewritten as
** onnxruntime's dynamic quantization (quantize_dynamic) lays it out, which
** is the form of the onnx-community model_quantized / model_int8 /
** model_uint8 files: each MatMul by a 2-D weight initializer becomes
**   x -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp)
**   MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float) -> Mul(x_scale * W_scale)
** with the weight int8 symmetric per column (zero point 0, one scale per
** output column) or uint8 asymmetric per tensor, alternately; a Conv with a
** weight initializer becomes ConvInteger (uint8 per tensor, as onnxruntime's
** ConvInteger wants) + Cast + Mul + the bias Add. Header-only, for tests/nn.
*/
#ifndef DI_TEST_QUANT_CONVERT_H
#define DI_TEST_QUANT_CONVERT_H

#include <math.h>
#include <string.h>

#include "onnx_build.h"

static Onnx__TensorProto *qc_init(const ob *b, const char *name)
{
    for (size_t i = 0; i < b->g.n_initializer; i++)
        if (!strcmp(b->g.initializer[i]->name, name)) return b->g.initializer[i];
    return NULL;
}

/* nodes appended since n0 take the place of node i */
static void qc_splice(ob *b, size_t i, size_t n0)
{
    size_t k = b->g.n_node - n0;
    Onnx__NodeProto **tail = malloc(k * sizeof *tail);
    memcpy(tail, &b->g.node[n0], k * sizeof *tail);
    memmove(&b->g.node[i + k], &b->g.node[i + 1], (n0 - i - 1) * sizeof(void *));
    memcpy(&b->g.node[i], tail, k * sizeof *tail);
    b->g.n_node = n0 - 1 + k;
    free(tail);
}

static int qc_round(double v)
{
    return (int)nearbyint(v);
}

/* W (float, n values) -> uint8 per tensor: scale and zero point */
static void qc_u8(ob *b, const char *qname, const Onnx__TensorProto *w, float *scale, uint8_t *zp)
{
    size_t n = w->raw_data.len / 4;
    const float *f = (const float *)w->raw_data.data;
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = fminf(lo, f[i]);
        hi = fmaxf(hi, f[i]);
    }
    *scale = (hi - lo) / 255.f;
    int z = qc_round(-lo / *scale);
    *zp = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    uint8_t *q = malloc(n);
    for (size_t i = 0; i < n; i++) {
        int v = qc_round(f[i] / *scale) + *zp;
        q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    ob_init_t(b, ob_tensor(b, qname, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, (int)w->n_dims, w->dims, q, n));
    free(q);
}

static void ob_to_dynamic_quant(ob *b)
{
    int which = 0;
    char s[16][200];
    for (size_t i = 0; i < b->g.n_node; i++) {
        Onnx__NodeProto *n = b->g.node[i];
        int is_mm = !strcmp(n->op_type, "MatMul"), is_conv = !strcmp(n->op_type, "Conv");
        if (!is_mm && !is_conv) continue;
        Onnx__TensorProto *w = qc_init(b, n->input[1]);
        if (!w || w->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || (is_mm && w->n_dims != 2)) continue;
        if (is_conv && i > 0) continue; /* the patch embedding only: the first node */
        const char *x = n->input[0], *y = n->output[0], *wn = n->input[1];
        const char *bias = is_conv && n->n_input > 2 ? n->input[2] : NULL;
        for (int k = 0; k < 16; k++) s[k][0] = 0;
        snprintf(s[0], 200, "%s_q", wn);
        snprintf(s[1], 200, "%s_scale", wn);
        snprintf(s[2], 200, "%s_zp", wn);
        snprintf(s[3], 200, "%s.dq", y);
        snprintf(s[4], 200, "%s.dq_scale", y);
        snprintf(s[5], 200, "%s.dq_zp", y);
        snprintf(s[6], 200, "%s.int32", y);
        snprintf(s[7], 200, "%s.float", y);
        snprintf(s[8], 200, "%s.scales", y);
        snprintf(s[9], 200, "%s.nobias", y);
        snprintf(s[10], 200, "%s_bias_c11", wn);
        int per_col = is_mm && which++ % 2 == 0;
        if (per_col) { /* int8 symmetric, one scale per column */
            int64_t K = w->dims[0], N = w->dims[1];
            const float *f = (const float *)w->raw_data.data;
            float *sc = malloc((size_t)N * sizeof *sc);
            int8_t *q = malloc((size_t)(K * N)), *z = calloc((size_t)N, 1);
            for (int64_t j = 0; j < N; j++) {
                float m = 0;
                for (int64_t kk = 0; kk < K; kk++) m = fmaxf(m, fabsf(f[kk * N + j]));
                sc[j] = m > 0 ? m / 127.f : 1.f;
                for (int64_t kk = 0; kk < K; kk++) {
                    int v = qc_round(f[kk * N + j] / sc[j]);
                    q[kk * N + j] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
                }
            }
            ob_init_t(b, ob_tensor(b, s[0], ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 2, w->dims, q, (size_t)(K * N)));
            ob_init_f(b, s[1], 1, (int64_t[]){N}, sc);
            ob_init_t(b, ob_tensor(b, s[2], ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1, (int64_t[]){N}, z, (size_t)N));
            free(sc);
            free(q);
            free(z);
        } else {
            float sc;
            uint8_t zp;
            qc_u8(b, s[0], w, &sc, &zp);
            ob_init_f(b, s[1], 0, NULL, &sc);
            ob_init_t(b, ob_tensor(b, s[2], ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 0, NULL, &zp, 1));
        }
        char buf[1200];
        size_t n0 = b->g.n_node;
        snprintf(buf, sizeof buf, "%s,%s,%s", s[3], s[4], s[5]);
        ob_node(b, "DynamicQuantizeLinear", x, buf);
        snprintf(buf, sizeof buf, "%s,%s,%s,%s", s[3], s[0], s[5], s[2]);
        Onnx__NodeProto *mm = ob_node(b, is_mm ? "MatMulInteger" : "ConvInteger", buf, s[6]);
        if (is_conv)
            for (size_t a = 0; a < n->n_attribute; a++) mm->attribute[mm->n_attribute++] = n->attribute[a];
        Onnx__NodeProto *c = ob_node(b, "Cast", s[6], s[7]);
        ob_attr_i(b, c, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
        snprintf(buf, sizeof buf, "%s,%s", s[4], s[1]);
        ob_node(b, "Mul", buf, s[8]);
        snprintf(buf, sizeof buf, "%s,%s", s[7], s[8]);
        ob_node(b, "Mul", buf, bias ? s[9] : y);
        if (bias) {
            Onnx__TensorProto *bt = qc_init(b, bias);
            int64_t C = bt->dims[0];
            ob_init_f(b, s[10], 3, (int64_t[]){C, 1, 1}, (const float *)bt->raw_data.data);
            snprintf(buf, sizeof buf, "%s,%s", s[9], s[10]);
            ob_node(b, "Add", buf, y);
        }
        qc_splice(b, i, n0);
        i += b->g.n_node - n0; /* past the new nodes (n0 counted the old one) */
    }
}

#endif

/*
** test_quant.c: quantized files. (1) A Depth Anything V2 small-shaped graph
** rewritten as onnxruntime's dynamic quantization lays it out
** (tests/nn/quant_convert.h: DynamicQuantizeLinear, MatMulInteger with int8
** per-column and uint8 per-tensor weights, ConvInteger for the patch
** embedding, Cast, Mul by the scales): matches onnxruntime running the same
** file within 1e-2 of the output range, image by image (a dynamic
** quantization's scale spans the batch it is given, here and there). (2) The QDQ
** form: QuantizeLinear and DequantizeLinear per axis (int8) and per tensor
** (uint8 by default), against onnxruntime within 1e-6. (3) com.microsoft
** MatMulNBits (4 bits, block 32, a partial block, packed zero points or
** none), dequantized at load, within 1e-4. (4) A zero point of
** the wrong type is one error line naming the node. Before: "op
** DynamicQuantizeLinear is not supported". (5) com.microsoft MatMulBnb4
** (FP4 and NF4, a partial last block, an odd N * K), dequantized at load,
** within 1e-4 of onnxruntime's; quant_type, block_size and transB values
** onnxruntime does not take refused at load, naming the node. Before: "op
** MatMulBnb4 of domain 'com.microsoft' is not supported".
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oracle.h"
#include "dav2_graph.h"
#include "quant_convert.h"
#include "test_files.h"
#include "test_session.h"

enum { GRID = 8, IMG = GRID * DAV2_PATCH, B = 2 };

/* writes the model, runs onnxruntime and us on x (B images of `per` floats) */
static void check_model(const char *src, const char *dir, const char *tag, ob *b, const float *x, const int64_t *xd,
                        size_t on, double tol)
{
    char model[1000], xin[1000], xref[1000];
    snprintf(model, sizeof model, "%s/%s.onnx", dir, tag);
    snprintf(xin, sizeof xin, "%s/x_%s.npy", dir, tag);
    snprintf(xref, sizeof xref, "%s/ref_%s.npy", dir, tag);
    CHECK(ob_write(b, model) == 0);
    CHECK(write_npy(xin, x, xd, 4) == 0);
    float *ref = ort_reference(src, model, xin, xref, 2, B * on);
    di_error err;
    di_nn_session *s = test_session(model, NULL, tag);
    if (s && ref) {
        float *y = calloc(B * on, sizeof(float));
        /* image by image, as ort_run.js runs them: a dynamic quantization's
        ** scale spans the batch it is given */
        size_t per = (size_t)(xd[1] * xd[2] * xd[3]);
        for (int i = 0; i < B; i++)
            CHECKF(di_nn_run(s, x + i * per, 1, y + i * on, on, &err) == 0, "%s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "%s, %d images", tag, B);
        ort_compare(what, y, ref, B * on, tol);
        if (strstr(tag, "dynamic")) {
            /* the same images as one batch: each must score as it does
            ** alone, whichever images share its batch (the session runs
            ** a graph with DynamicQuantizeLinear image by image) */
            float *yb = calloc(B * on, sizeof(float));
            CHECKF(di_nn_run(s, x, B, yb, B * on, &err) == 0, "%s", err.msg);
            CHECKF(memcmp(yb, y, B * on * sizeof(float)) == 0,
                   "%s: a batch of %d gives other values than its images alone", tag, B);
            free(yb);
        }
        free(y);
    }
    di_nn_session_destroy(s);
    free(ref);
}

/* The graph b (freed) written as dir/file must fail at session creation
** with one line holding both what and why. */
static void expect_refused(ob *b, const char *dir, const char *file, const char *what, const char *why)
{
    char model[1000];
    snprintf(model, sizeof model, "%s/%s", dir, file);
    CHECK(ob_write(b, model) == 0);
    ob_free(b);
    di_nn_session *s = NULL;
    di_error err;
    CHECK(di_nn_session_create(model, NULL, &s, &err) != 0);
    if (!s) {
        printf("expected: %s\n", err.msg);
        CHECKF(strstr(err.msg, what) && strstr(err.msg, why) && !strchr(err.msg, '\n'), "'%s'", err.msg);
    }
    di_nn_session_destroy(s);
    remove(model);
}

static void qdq_graph(ob *b, int bad_zp)
{
    ob_init(b, 13);
    ob_input(b, "x", 4, (int64_t[]){1, 4, 3, 3}, "N");
    ob_init_f(b, "s_axis", 1, (int64_t[]){4}, (float[]){0.02f, 0.05f, 0.1f, 0.013f});
    int8_t z8[4] = {0, 3, -5, 10};
    ob_init_t(b, ob_tensor(b, "z_axis", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1, (int64_t[]){4}, z8, 4));
    ob_init_f(b, "s_t", 0, NULL, (float[]){0.03f});
    uint8_t zu = 128;
    ob_init_t(b, ob_tensor(b, "z_bad", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 1, (int64_t[]){4}, (uint8_t[]){1, 2, 3, 4}, 4));
    ob_init_t(b, ob_tensor(b, "z_u", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 0, NULL, &zu, 1));
    ob_node(b, "QuantizeLinear", "x,s_axis,z_axis", "q8");
    ob_node(b, "DequantizeLinear", bad_zp ? "q8,s_axis,z_bad" : "q8,s_axis,z_axis", "d8");
    ob_node(b, "QuantizeLinear", "d8,s_t", "qu"); /* uint8, zero point 0 */
    ob_node(b, "DequantizeLinear", "qu,s_t", "du");
    ob_node(b, "QuantizeLinear", "x,s_t,z_u", "qu2");
    ob_node(b, "DequantizeLinear", "qu2,s_t,z_u", "du2");
    ob_node(b, "Add", "du,du2", "y");
    ob_output(b, "y");
}

/* b at opset 17 with the com.microsoft domain (version 1) beside it */
static void ob_init_ms(ob *b)
{
    ob_init(b, 17);
    Onnx__OperatorSetIdProto **ops = ob_alloc(b, 2 * sizeof *ops), *ms = ob_alloc(b, sizeof *ms);
    onnx__operator_set_id_proto__init(ms);
    ms->domain = ob_str(b, "com.microsoft");
    ms->has_version = 1;
    ms->version = 1;
    ops[0] = b->m.opset_import[0];
    ops[1] = ms;
    b->m.opset_import = ops;
    b->m.n_opset_import = 2;
}

/* com.microsoft MatMulNBits, 4 bits, block 32: K = 80 (a partial last
** block), N = 24; packed uint8 zero points (zp) or none (default 8) */
static void nbits_graph(ob *b, int with_zp)
{
    enum { K = 80, N = 24, BS = 32, BLOCKS = (K + BS - 1) / BS, BLOB = BS / 2, ZROW = (BLOCKS + 1) / 2 };
    ob_init_ms(b);
    ob_input(b, "x", 4, (int64_t[]){1, 2, 3, K}, "N");
    uint8_t q[N * BLOCKS * BLOB], zp[N * ZROW];
    float sc[N * BLOCKS];
    dav2_b rnd = {.rng = 23};
    for (size_t i = 0; i < sizeof q; i++) q[i] = (uint8_t)(dav2_randn(&rnd) * 1e6);
    for (size_t i = 0; i < sizeof zp; i++) zp[i] = (uint8_t)(dav2_randn(&rnd) * 1e6);
    for (int i = 0; i < N * BLOCKS; i++) sc[i] = 0.01f + 0.05f * (float)fabs(dav2_randn(&rnd));
    ob_init_t(b, ob_tensor(b, "Bq", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 3, (int64_t[]){N, BLOCKS, BLOB}, q, sizeof q));
    ob_init_f(b, "Bs", 1, (int64_t[]){N * BLOCKS}, sc);
    ob_init_t(b, ob_tensor(b, "Bz", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 1, (int64_t[]){N * ZROW}, zp, sizeof zp));
    Onnx__NodeProto *n = ob_node(b, "MatMulNBits", with_zp ? "x,Bq,Bs,Bz" : "x,Bq,Bs", "y");
    n->domain = ob_str(b, "com.microsoft");
    ob_attr_i(b, n, "K", K);
    ob_attr_i(b, n, "N", N);
    ob_attr_i(b, n, "bits", 4);
    ob_attr_i(b, n, "block_size", BS);
    ob_output(b, "y");
}

/* com.microsoft MatMulBnb4: W [n, k] in 4-bit codes, blocks of bs over its
** n * k values; `bad` sets one attribute to a value that is refused */
static void bnb4_graph(ob *b, int k, int n, int bs, int quant_type, const char *bad)
{
    int numel = k * n, blocks = (numel + bs - 1) / bs;
    ob_init_ms(b);
    ob_input(b, "x", 4, (int64_t[]){1, 2, 3, k}, "N");
    uint8_t *q = malloc((size_t)(numel + 1) / 2);
    float *am = malloc((size_t)blocks * sizeof *am);
    dav2_b rnd = {.rng = 41 + quant_type};
    for (int i = 0; i < (numel + 1) / 2; i++) q[i] = (uint8_t)(dav2_randn(&rnd) * 1e6);
    for (int i = 0; i < blocks; i++) am[i] = 0.05f + 0.5f * (float)fabs(dav2_randn(&rnd));
    ob_init_t(b, ob_tensor(b, "Bq", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 1, (int64_t[]){(numel + 1) / 2}, q,
                           (size_t)(numel + 1) / 2));
    ob_init_f(b, "absmax", 1, (int64_t[]){blocks}, am);
    free(q);
    free(am);
    Onnx__NodeProto *nd = ob_node(b, "MatMulBnb4", "x,Bq,absmax", "y");
    nd->name = ob_str(b, "bnb4_proj");
    nd->domain = ob_str(b, "com.microsoft");
    ob_attr_i(b, nd, "K", k);
    ob_attr_i(b, nd, "N", n);
    ob_attr_i(b, nd, "block_size", bad && !strcmp(bad, "block_size") ? 24 : bs);
    ob_attr_i(b, nd, "quant_type", bad && !strcmp(bad, "quant_type") ? 2 : quant_type);
    if (bad && !strcmp(bad, "transB")) ob_attr_i(b, nd, "transB", 0);
    ob_output(b, "y");
}

int main(void)
{
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    if (!src || !*src) src = ".";
    char dir[900];
    if (test_dir(dir, sizeof dir, "quant")) return 1;
    /* a zero point of the wrong type: named at session creation */
    {
        ob b;
        qdq_graph(&b, 1);
        expect_refused(&b, dir, "bad_zp.onnx", "DequantizeLinear", "zero point");
    }
    /* MatMulBnb4 attributes onnxruntime does not take: one line naming the node */
    static const char *const bad_attrs[] = {"quant_type", "block_size", "transB"};
    for (int i = 0; i < 3; i++) {
        ob b;
        bnb4_graph(&b, 40, 6, 32, 1, bad_attrs[i]);
        expect_refused(&b, dir, "bad_bnb4.onnx", "bnb4_proj", bad_attrs[i]);
    }
    char why[1200];
    if (ort_ready(src, why, sizeof why)) {
        check_summary();
        return oracle_missing(why);
    }
    {
        ob b;
        qdq_graph(&b, 0);
        float x[B * 36];
        dav2_b rnd = {.rng = 3};
        for (int i = 0; i < B * 36; i++) x[i] = (float)dav2_randn(&rnd) * 3;
        check_model(src, dir, "qdq", &b, x, (int64_t[]){B, 4, 3, 3}, 36, 1e-6);
        ob_free(&b);
    }
    for (int zp = 0; zp <= 1; zp++) {
        ob b;
        nbits_graph(&b, zp);
        float x[B * 6 * 80];
        dav2_b rnd = {.rng = 31};
        for (int i = 0; i < B * 6 * 80; i++) x[i] = (float)dav2_randn(&rnd);
        check_model(src, dir, zp ? "matmul_nbits_zp" : "matmul_nbits", &b, x, (int64_t[]){B, 2, 3, 80}, 2 * 3 * 24, 1e-4);
        ob_free(&b);
    }
    /* FP4 with blocks of 64 over 80 x 24 (a partial last block); NF4 with
    ** blocks of 16 over 75 x 5 (an odd count: the last byte half used) */
    for (int qt = 0; qt <= 1; qt++) {
        int k = qt ? 75 : 80, n = qt ? 5 : 24;
        ob b;
        bnb4_graph(&b, k, n, qt ? 16 : 64, qt, NULL);
        float *x = malloc((size_t)(B * 6 * k) * sizeof *x);
        dav2_b rnd = {.rng = 53};
        for (int i = 0; i < B * 6 * k; i++) x[i] = (float)dav2_randn(&rnd);
        check_model(src, dir, qt ? "matmul_bnb4_nf4" : "matmul_bnb4_fp4", &b, x, (int64_t[]){B, 2, 3, k},
                    (size_t)(6 * n), 1e-4);
        free(x);
        ob_free(&b);
    }
    {
        dav2_cfg cfg = {.dim = 192, .heads = 3, .grid = GRID, .blocks = 4, .features = 32};
        ob b;
        dav2_build(&b, &cfg);
        ob_to_dynamic_quant(&b);
        size_t per = 3 * (size_t)IMG * IMG, on = (size_t)IMG * IMG;
        float *x = malloc(B * per * sizeof(float));
        dav2_b rnd = {.rng = 17};
        for (size_t i = 0; i < B * per; i++) x[i] = (float)dav2_randn(&rnd);
        check_model(src, dir, "dav2_dynamic_quant", &b, x, (int64_t[]){B, 3, IMG, IMG}, on, 1e-2);
        free(x);
        ob_free(&b);
    }
    return check_summary();
}

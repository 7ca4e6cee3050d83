/*
** test_quant_fuse.c (nn-quant-fuse): the float tail of a dynamically
** quantized MatMul, DynamicQuantizeLinear -> MatMulInteger -> Cast(float) ->
** Mul(x_scale * w_scale) [-> Add(bias)] [-> Add(residual)], as
** onnxruntime's quantize_dynamic writes it, is fused into one
** _MatMulIntegerToFloat node (rewrite_quant.c, cpu/ops_quant.c) whose output
** is bit for bit ONNX's: the reference here runs the same float operations
** of the unfused ops, in order (the DQL, the int32 product, the Cast, the
** Mul, the Adds). Per-tensor and per-column scales, uint8 weights with a zero
** point (oneDNN's weight-offset term) and int8 ones without, with and
** without bias, with and without a layer-scale Mul after it, a residual
** Add and a Relu after it (fused post-ops), batch
** 2, odd sizes; the rewrite must fire for those and
** must not when the Cast's output has another consumer (a second graph
** output), which must still come out right. Then DynamicQuantizeLinear's
** parallel AVX-512 path against its serial C loops and a naive reference:
** random data, exact ties (x / scale = k + 0.5), all-equal inputs, zeros,
** NaN, odd lengths. Run again with ONEDNN_MAX_CPU_ISA=AVX2
** (nn-quant-fuse-plain): the fused node over the plain integer kernel.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cpu/quant_dnnl.h"
#include "engine.h"
#include "graph.h"
#include "onnx_build.h"
#include "test_files.h"
#include "test_session.h"

enum { U8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, S8 = ONNX__TENSOR_PROTO__DATA_TYPE__INT8 };
enum { B = 2, M = 37, K = 45, N = 29 };

static uint32_t rng = 777;
static float rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 24) * 2.f - 1.f;
}

/* ONNX's DynamicQuantizeLinear, written out */
static void ref_dql(const float *x, int64_t n, uint8_t *y, float *scale, uint8_t *zp)
{
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    float s = (hi - lo) / 255.f;
    int z = 0;
    if (s > 0) {
        float r = nearbyintf(0 - lo / s);
        z = !(r >= 0) ? 0 : r > 255 ? 255 : (int)r;
    }
    for (int64_t i = 0; i < n; i++) {
        int q = z;
        if (s > 0) {
            float r = nearbyintf(x[i] / s) + (float)z;
            q = !(r >= 0) ? 0 : r > 255 ? 255 : (int)r;
        }
        y[i] = (uint8_t)q;
    }
    *scale = s;
    *zp = (uint8_t)z;
}

typedef struct {
    const char *what;
    int wdt;      /* U8: per-tensor zero point 131; S8: no zero point */
    int per_col;  /* the weight scale: N values, else one */
    int bias;     /* an Add of a constant [N] */
    int residual; /* an Add of a second input of the output's shape */
    int tap;      /* the Cast's output is also a graph output: no fusion */
    int relu;     /* a Relu last (a fused post-op) */
    int gamma;    /* a Mul by a constant [N] (layer scale) after the bias */
} fcase;

static int count_fused(const char *path)
{
    di_nn_graph *g = NULL;
    di_error err;
    if (di_nn_graph_load(path, &g, &err)) {
        CHECKF(0, "%s", err.msg);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += !strcmp(g->nodes[i].op_type, "_MatMulIntegerToFloat");
    di_nn_graph_free(g);
    return n;
}

static void run_case(const char *dir, const fcase *c)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/fuse.onnx", dir);
    static float x[B * M * K], r[B * M * N], wsc[N], bias[N], gam[N];
    static uint8_t w[K * N], xq[B * M * K];
    for (int i = 0; i < B * M * K; i++) x[i] = 3.f * rnd() + 0.5f;
    for (int i = 0; i < B * M * N; i++) r[i] = rnd();
    for (int j = 0; j < N; j++) {
        wsc[j] = 0.01f + 0.02f * fabsf(rnd());
        bias[j] = rnd();
        gam[j] = 0.1f * rnd();
    }
    for (int i = 0; i < K * N; i++) w[i] = (uint8_t)(rng = rng * 1664525u + 1013904223u, rng >> 24);
    uint8_t wz = c->wdt == U8 ? 131 : 0;
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 3, (int64_t[]){B, M, K}, NULL);
    if (c->residual) ob_input(&b, "r", 3, (int64_t[]){B, M, N}, NULL);
    ob_init_t(&b, ob_tensor(&b, "w", c->wdt, 2, (int64_t[]){K, N}, w, sizeof w));
    if (c->wdt == U8) ob_init_t(&b, ob_tensor(&b, "wz", U8, 0, NULL, &wz, 1));
    ob_init_f(&b, "ws", c->per_col ? 1 : 0, (int64_t[]){N}, wsc);
    ob_init_f(&b, "bias", 1, (int64_t[]){N}, bias);
    ob_init_f(&b, "gam", 1, (int64_t[]){N}, gam);
    ob_node(&b, "DynamicQuantizeLinear", "x", "xq,xs,xz");
    ob_node(&b, "MatMulInteger", c->wdt == U8 ? "xq,w,xz,wz" : "xq,w,xz", "p");
    Onnx__NodeProto *cast = ob_node(&b, "Cast", "p", "pf");
    ob_attr_i(&b, cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    ob_node(&b, "Mul", "xs,ws", "s");
    const char *y = "y0";
    ob_node(&b, "Mul", "pf,s", y);
    if (c->bias) {
        ob_node(&b, "Add", "bias,y0", "y1");
        y = "y1";
    }
    if (c->gamma) {
        ob_node(&b, "Mul", c->bias ? "y1,gam" : "y0,gam", "yg");
        y = "yg";
    }
    if (c->residual) {
        /* the operand computed in the graph (not an input), so that the
        ** planner may give the fused node's output its buffer (in place) */
        ob_node(&b, "Relu", "r", "rr");
        char ins[16];
        snprintf(ins, sizeof ins, "rr,%s", y);
        ob_node(&b, "Add", ins, "y2");
        y = "y2";
    }
    if (c->relu) {
        ob_node(&b, "Relu", y, "y3");
        y = "y3";
    }
    ob_node(&b, "Identity", y, "y");
    ob_output(&b, "y");
    if (c->tap) ob_output(&b, "pf");
    CHECK(ob_write(&b, path) == 0);
    ob_free(&b);
    int fused = count_fused(path);
    CHECKF(fused == (c->tap ? 0 : 1), "%s: %d fused nodes", c->what, fused);

    /* the reference: the unfused ops one after the other */
    float xs;
    uint8_t xz;
    ref_dql(x, B * M * K, xq, &xs, &xz);
    float *ref = malloc(sizeof(float) * B * M * N), *pf = malloc(sizeof(float) * B * M * N);
    for (int i = 0; i < B * M; i++)
        for (int j = 0; j < N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < K; k++) {
                int wv = c->wdt == U8 ? w[k * N + j] - wz : (int8_t)w[k * N + j];
                acc += (xq[i * K + k] - xz) * wv;
            }
            float s = xs * wsc[c->per_col ? j : 0];
            float v = (float)acc;
            pf[i * N + j] = v;
            v = v * s;
            if (c->bias) v = bias[j] + v;
            if (c->gamma) v = v * gam[j];
            if (c->residual) v = (r[i * N + j] < 0 ? 0 : r[i * N + j]) + v;
            if (c->relu) v = v < 0 ? 0 : v;
            ref[i * N + j] = v;
        }
    di_nn_session *s = test_session(path, NULL, c->what);
    if (s) {
        di_nn_io in[2] = {{.dtype = DI_DT_FLOAT, .ndim = 3, .dims = {B, M, K}, .data = x},
                          {.dtype = DI_DT_FLOAT, .ndim = 3, .dims = {B, M, N}, .data = r}};
        di_nn_io out[2] = {{0}, {0}};
        if (!test_run_io(s, in, c->residual ? 2 : 1, out, c->tap ? 2 : 1, c->what)) {
            int64_t bad = -1;
            const float *o = out[0].data;
            for (int64_t i = 0; i < B * M * N && bad < 0; i++)
                if (memcmp(&o[i], &ref[i], sizeof(float))) bad = i;
            CHECKF(bad < 0, "%s: element %lld is %.9g, ONNX says %.9g", c->what, (long long)bad,
                   bad < 0 ? 0 : o[bad], bad < 0 ? 0 : ref[bad]);
            if (c->tap) {
                const float *t = out[1].data;
                CHECKF(!memcmp(t, pf, sizeof(float) * B * M * N), "%s: the Cast's output differs", c->what);
            }
            printf("%-52s %s, %d values identical\n", c->what, fused ? "fused" : "not fused", B * M * N);
        }
        free(out[0].data);
        free(out[1].data);
        di_nn_session_destroy(s);
    }
    free(ref);
    free(pf);
    remove(path);
}

static void dql_case(const char *what, const float *x, int64_t n)
{
    uint8_t *y1 = malloc((size_t)n + 1), *y2 = malloc((size_t)n + 1), *y0 = malloc((size_t)n + 1);
    float s0, s1, s2;
    uint8_t z0, z1, z2;
    ref_dql(x, n, y0, &s0, &z0);
    di_nn_dql_compute(x, n, 1, false, y1, &s1, &z1);
    di_nn_dql_compute(x, n, 2, true, y2, &s2, &z2);
    CHECKF(!memcmp(&s0, &s1, sizeof s0) && z0 == z1 && !memcmp(y0, y1, (size_t)n),
           "%s: serial differs from ONNX", what);
    CHECKF(!memcmp(&s1, &s2, sizeof s1) && z1 == z2 && !memcmp(y1, y2, (size_t)n),
           "%s: parallel AVX-512 differs from serial", what);
    printf("DQL %-40s n %lld: scale %g zp %d, identical\n", what, (long long)n, s1, z1);
    free(y0);
    free(y1);
    free(y2);
}

static void dql_cases(void)
{
    enum { BIG = 100003 };
    float *x = malloc(sizeof(float) * BIG);
    static const int64_t lens[] = {1, 7, 16, 17, 40000, BIG};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        for (int64_t i = 0; i < lens[l]; i++) x[i] = 4.f * rnd() - 1.f;
        dql_case("random", x, lens[l]);
    }
    /* range [0, 255]: scale 1, every value a tie k + 0.5 */
    for (int64_t i = 0; i < BIG; i++) x[i] = (float)(i % 255) + 0.5f;
    x[0] = 0;
    x[1] = 255;
    dql_case("ties, scale 1", x, BIG);
    /* range [-127.5, 127.5]: zero point round(127.5) = 128, ties too */
    for (int64_t i = 0; i < BIG; i++) x[i] = (float)(i % 255) - 127.f + (i % 2 ? 0.5f : 0.f);
    x[2] = -127.5f;
    x[3] = 127.5f;
    dql_case("ties around 0", x, BIG);
    for (int64_t i = 0; i < BIG; i++) x[i] = 2.5f;
    dql_case("all equal, positive", x, BIG);
    for (int64_t i = 0; i < BIG; i++) x[i] = -0.75f;
    dql_case("all equal, negative", x, BIG);
    for (int64_t i = 0; i < BIG; i++) x[i] = i % 3 ? 0.f : -0.f;
    dql_case("zeros of both signs", x, BIG);
    for (int64_t i = 0; i < BIG; i++) x[i] = i % 1000 == 5 ? NAN : rnd();
    dql_case("with NaN", x, BIG);
    free(x);
}

int main(void)
{
    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/nn/tmp-quant-fuse-%ld", build && *build ? build : "/tmp",
             (long)getpid());
    mkdir(dir, 0755);
    printf("oneDNN integer kernels: %s\n", di_nn_qdnnl_usable() ? "yes (VNNI)" : "no: the plain C kernels");
    static const fcase cases[] = {
        {"u8 weights zp 131, per-tensor scale", U8, 0, 0, 0, 0, 0, 0},
        {"u8 weights zp 131, per-tensor scale, bias", U8, 0, 1, 0, 0, 0, 0},
        {"s8 weights, per-column scale", S8, 1, 0, 0, 0, 0, 0},
        {"s8 weights, per-column scale, bias", S8, 1, 1, 0, 0, 0, 0},
        {"u8 weights, per-column scale, bias, residual Add", U8, 1, 1, 1, 0, 0, 0},
        {"s8 weights, per-tensor scale, residual Add", S8, 0, 0, 1, 0, 0, 0},
        {"u8 weights, per-tensor scale, bias, Relu", U8, 0, 1, 0, 0, 1, 0},
        {"u8 weights, per-column scale, bias, layer scale, residual", U8, 1, 1, 1, 0, 0, 1},
        {"s8 weights, per-tensor scale, layer scale, residual", S8, 0, 0, 1, 0, 0, 1},
        {"Cast output also a graph output", U8, 1, 1, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(dir, &cases[i]);
    dql_cases();
    rmdir(dir);
    return check_summary();
}

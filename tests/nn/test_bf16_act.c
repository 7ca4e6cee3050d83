/*
** test_bf16_act.c: activations kept bf16 between the ops of a bf16 session
** (issue 15; nn-bf16-act). The planner converts a bf16 value to float32
** only where its consumer cannot read bf16, and a bf16 kernel converts a
** float32 input first; di_nn_plan_bf16_conversions counts both per run.
**   - A small graph (Conv, Conv -> Add -> Mul by a number -> Sub -> Resize
**     linear -> Conv): Add, Sub, Mul and Resize run on the convs' bf16
**     output, so the plan converts only its float32 input (once per conv
**     that reads it); the last conv writes the graph output in float32
**     itself; its result within bf16 tolerance of fp32. Without bf16
**     elementwise ops and Resize the plan has 3 and 3.
**   - A transformer's chain (MatMul + bias -> LayerNormalization ->
**     MatMul + Relu -> MatMul): the LayerNormalization writes bf16 for the
**     MatMul after it, which writes bf16 for the last one, so the plan's
**     only conversion is the first MatMul's float32 input (3 without bf16
**     MatMul outputs and LayerNormalization; MatMul counts the inputs it
**     converts itself); the output within bf16 tolerance of fp32.
**   - The MiDaS v2.1 small architecture (../shared graph; skipped when
**     absent) and the ViT-S/14 + DPT form (tests/nn/dav2_graph.h): the
**     number of conversions per run at most what this change left (MiDaS
**     0 and 1, was 1 and 1 before convs wrote float32 for consumers that do
**     not read bf16, 6 and 6 before bf16 activations; ViT 4 and 9, was 20 and 13 before bf16
**     activations and 4 and 15 before bf16 MatMul outputs, counting the
**     inputs the MatMuls convert themselves).
** A CPU without native bf16 skips (77): the session refuses bf16 there
** (nn-bf16 tests the refusal).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dav2_graph.h"
#include "engine.h"
#include "nn/nn.h"
#include "bf16_compare.h"
#include "test_files.h"
#include "test_session.h"

#define SKIP 77

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static float uniform(uint64_t *s, float scale)
{
    return ((float)(rng_next(s) % 2001) - 1000.f) / 1000.f * scale;
}

static void add_conv(ob *b, const char *name, const char *in, const char *out, int c, int oc,
                     uint64_t *r)
{
    char w[64], ins[200];
    float *wd = malloc((size_t)oc * c * 9 * sizeof(float));
    for (int i = 0; i < oc * c * 9; i++) wd[i] = uniform(r, 1.f / sqrtf(9.f * (float)c));
    snprintf(w, sizeof w, "%s.w", name);
    ob_init_f(b, w, 4, (int64_t[]){oc, c, 3, 3}, wd);
    free(wd);
    snprintf(ins, sizeof ins, "%s,%s", in, w);
    Onnx__NodeProto *n = ob_node(b, "Conv", ins, out);
    ob_attr_ints(b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
}

/* The chain b (freed) written to path and run on x in fp32 and bf16
** sessions (ny output values): the fp32 plan converts nothing, the bf16
** plan makes want_f32 values float32 and want_bf16 bf16 per run (why_*:
** which ones), and the bf16 output is within 2e-2 of the fp32 range, and
** not the same. */
static void check_chain(const char *what, ob *b, const char *path, const float *x, int ny, int want_f32,
                        const char *why_f32, int want_bf16, const char *why_bf16)
{
    CHECK(ob_write(b, path) == 0);
    ob_free(b);
    float *y32 = malloc((size_t)ny * sizeof(float)), *y16 = malloc((size_t)ny * sizeof(float));
    int f32[2] = {-1, -1}, b16[2] = {-1, -1};
    double md, lo, hi;
    run_fp32_bf16(path, x, ny, y32, y16, f32, b16, &md, &lo, &hi);
    printf("%s: bf16 conversions per run %d to float32, %d to bf16 (fp32 session: %d, %d); max |bf16 - fp32| "
           "%.3g of the fp32 range\n",
           what, f32[1], b16[1], f32[0], b16[0], md / (hi - lo));
    CHECKF(f32[0] == 0 && b16[0] == 0, "an fp32 plan converts to bf16 (%d, %d)", f32[0], b16[0]);
    CHECKF(f32[1] == want_f32, "%d bf16 values made float32 (expected %d: %s)", f32[1], want_f32, why_f32);
    CHECKF(b16[1] == want_bf16, "%d float32 values made bf16 (expected %d: %s)", b16[1], want_bf16, why_bf16);
    CHECKF(md > 0 && md <= 2e-2 * (hi - lo), "max |bf16 - fp32| %.3g of range %.3g", md, hi - lo);
    free(y32);
    free(y16);
    unlink(path);
}

/* Add, Mul by a number, Sub and Resize between bf16 convs. */
static void chain_bf16(const char *dir)
{
    enum { C = 8, F = 32, S = 16 };
    char path[1000];
    snprintf(path, sizeof path, "%s/chain.onnx", dir);
    uint64_t r = 11;
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){1, C, S, S}, NULL);
    add_conv(&b, "c1", "x", "a", C, F, &r);
    add_conv(&b, "c2", "x", "b", C, F, &r);
    ob_node(&b, "Add", "a,b", "s");
    ob_init_f(&b, "k", 0, NULL, (float[]){0.7f});
    ob_node(&b, "Mul", "s,k", "m");
    ob_node(&b, "Sub", "m,a", "d");
    ob_init_f(&b, "scales", 1, (int64_t[]){4}, (float[]){1, 1, 2, 2});
    Onnx__NodeProto *rs = ob_node(&b, "Resize", "d,,scales", "u");
    Onnx__AttributeProto *mode = ob_attr(&b, rs, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    mode->has_s = 1;
    mode->s.data = (uint8_t *)ob_str(&b, "linear");
    mode->s.len = strlen("linear");
    add_conv(&b, "c3", "u", "y", F, F, &r);
    ob_output(&b, "y");
    enum { NX = C * S * S, NY = F * 4 * S * S };
    float *x = malloc(NX * sizeof(float));
    for (int i = 0; i < NX; i++) x[i] = uniform(&r, 1.f);
    /* the output, and the input once per conv that reads it */
    check_chain("Conv, Conv -> Add -> Mul 0.7 -> Sub -> Resize linear x2 -> Conv", &b, path, x, NY, 0,
                "none: the last conv writes the graph output in float32", 2, "the input, for each conv");
    free(x);
}

/* A model's conversions per run in a bf16 session: at most the bounds. */
static void model_conversions(const char *what, const char *path, int max_f32, int max_bf16)
{
    di_nn_options opt = test_options(2);
    opt.precision = DI_NN_BF16;
    di_nn_session *s = test_session(path, &opt, what);
    if (!s) return;
    int f32, b16;
    conversions(s, &f32, &b16);
    printf("%s, bf16: %d conversions to float32 and %d to bf16 per run\n", what, f32, b16);
    CHECKF(f32 >= 0 && f32 <= max_f32, "%s: %d bf16 values made float32 per run (at most %d)", what, f32, max_f32);
    CHECKF(b16 >= 0 && b16 <= max_bf16, "%s: %d float32 values made bf16 per run (at most %d)", what, b16,
           max_bf16);
    di_nn_session_destroy(s);
}

static void init_random(ob *b, const char *name, int rows, int cols, float scale, uint64_t *r)
{
    float *d = malloc((size_t)rows * cols * sizeof(float));
    for (int i = 0; i < rows * cols; i++) d[i] = uniform(r, scale);
    if (rows == 1)
        ob_init_f(b, name, 1, (int64_t[]){cols}, d);
    else
        ob_init_f(b, name, 2, (int64_t[]){rows, cols}, d);
    free(d);
}

/* MatMul + bias -> LayerNormalization -> MatMul + Relu -> MatMul: bf16
** between the last three, float32 in and out. */
static void chain_matmul(const char *dir)
{
    enum { T = 50, D = 64, H = 128 };
    char path[1000];
    snprintf(path, sizeof path, "%s/mm.onnx", dir);
    uint64_t r = 23;
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 3, (int64_t[]){1, T, D}, NULL);
    init_random(&b, "w1", D, H, 1.f / sqrtf((float)D), &r);
    init_random(&b, "b1", 1, H, 0.5f, &r);
    init_random(&b, "g", 1, H, 1.f, &r);
    init_random(&b, "beta", 1, H, 0.2f, &r);
    init_random(&b, "w2", H, H, 1.f / sqrtf((float)H), &r);
    init_random(&b, "w3", H, D, 1.f / sqrtf((float)H), &r);
    ob_node(&b, "MatMul", "x,w1", "h0");
    ob_node(&b, "Add", "h0,b1", "h");
    ob_node(&b, "LayerNormalization", "h,g,beta", "n");
    ob_node(&b, "MatMul", "n,w2", "m");
    ob_node(&b, "Relu", "m", "a");
    ob_node(&b, "MatMul", "a,w3", "y");
    ob_output(&b, "y");
    enum { NX = T * D, NY = T * D };
    float *x = malloc(NX * sizeof(float));
    for (int i = 0; i < NX; i++) x[i] = uniform(&r, 1.f) + 0.5f;
    check_chain("MatMul + bias -> LayerNormalization -> MatMul + Relu -> MatMul", &b, path, x, NY, 0,
                "the last MatMul writes float32", 1, "the input, in the first MatMul");
    free(x);
}

int main(void)
{
    const char *shared = getenv("DEPTHINDEX_SHARED"), *build = getenv("DEPTHINDEX_BUILD_ROOT");
    if (!shared || !*shared) shared = "../shared";
    if (!di_nn_cpu_bf16()) {
        printf("SKIP: this CPU has no native bf16 (AVX512-BF16 or AMX)\n");
        return SKIP;
    }
    char dir[900], path[1000], graph[1000];
    snprintf(dir, sizeof dir, "/tmp/tmp-bf16act-XXXXXX");
    if (build && *build) {
        snprintf(dir, sizeof dir, "%s/tests/nn/tmp-bf16act-XXXXXX", build);
        char parent[1000];
        snprintf(parent, sizeof parent, "%s/tests/nn", build);
        mkdir(parent, 0755);
    }
    if (!mkdtemp(dir)) {
        printf("FAIL: cannot make %s\n", dir);
        return 1;
    }
    chain_bf16(dir);
    chain_matmul(dir);

    /* the ViT form: its head's ops (Conv, Add, Mul, Resize, Relu) stay bf16;
    ** left: the token maps into the head's convs (MatMul and LayerNorm write
    ** float32), the two ConvTranspose (float32: oneDNN's bf16 kernels for
    ** them were 4-20x slower than its float32 gemm here), the output and
    ** each block's projection after the attention (which writes float32);
    ** the qkv and MLP MatMuls read bf16 from the LayerNormalization before
    ** them, the MLP's second from its first */
    snprintf(path, sizeof path, "%s/vit.onnx", dir);
    dav2_cfg cfg = {.dim = 384, .heads = 6, .grid = 19, .blocks = 2, .features = 64};
    ob b;
    dav2_build(&b, &cfg);
    CHECK(ob_write(&b, path) == 0);
    ob_free(&b);
    model_conversions("ViT-S/14 + DPT, 266x266", path, 4, 9);
    unlink(path);

    snprintf(graph, sizeof graph, "%s/models/midas_v21_small_256.graph.onnx", shared);
    struct stat st;
    if (stat(graph, &st)) {
        printf("skipping MiDaS small: %s is absent (shared data, ../shared next to the checkout)\n", graph);
    } else {
        di_error err;
        int nfilled = 0;
        snprintf(path, sizeof path, "%s/midas.onnx", dir);
        CHECKF(di_nn_fill_weights(graph, path, 1, &nfilled, &err) == 0, "%s", err.msg);
        /* only the input into the first conv and its output */
        model_conversions("MiDaS v2.1 small, 256x256", path, 0, 1);
        unlink(path);
    }
    rmdir(dir);
    return check_summary();
}

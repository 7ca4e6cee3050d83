/*
** test_cuda.c (nn-cuda-compare): the CUDA backend against the CPU engine on
** the MiDaS v2.1 small architecture (weights from di_nn_fill_weights) and on
** the ViT block that nn-vit writes (BUILD/tests/nn/tmp-vit/vit_block.onnx,
** the Depth Anything op set) when present,
** batch 1 and 4, fp32 synchronous and asynchronous (two runs in flight from
** pinned buffers), then tf32 / fp16 / bf16.
** Tolerances, as fractions of the CPU output's range: fp32 1e-4; tf32 and
** bf16-matmul-with-tf32-conv 2e-2; fp16 2e-2.
** Skips (77) when no CUDA device is present, saying why.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "nn/nn.h"

#define SKIP 77

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static double range_of(const float *y, size_t n)
{
    float lo = y[0], hi = y[0];
    for (size_t i = 1; i < n; i++) {
        if (y[i] < lo) lo = y[i];
        if (y[i] > hi) hi = y[i];
    }
    return (double)hi - (double)lo;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN counts as the largest */
    }
    return m;
}

static void compare_model(const char *model, const char *what)
{
    di_error err;
    di_error_clear(&err);
    di_nn_options cpu, gpu;
    di_nn_options_default(&cpu);
    cpu.threads = 2;
    di_nn_session *sc = NULL, *sg = NULL;
    CHECKF(di_nn_session_create(model, &cpu, &sc, &err) == 0, "%s", err.msg);
    if (!sc) return;
    int c, h, w;
    CHECK(di_nn_input_chw(sc, &c, &h, &w) == 0);
    const int B = 4;
    int64_t od[8];
    int ond;
    CHECKF(di_nn_output_shape(sc, 1, od, &ond, &err) == 0, "%s", err.msg);
    size_t on = 1, per = (size_t)c * (size_t)h * (size_t)w;
    for (int d = 1; d < ond; d++) on *= (size_t)od[d];
    float *x = di_nn_alloc_host((size_t)B * per * sizeof(float));
    float *ref = malloc((size_t)B * on * sizeof(float));
    float *y = di_nn_alloc_host((size_t)B * on * sizeof(float));
    float *y2 = di_nn_alloc_host((size_t)B * on * sizeof(float));
    uint64_t s = 99;
    for (size_t i = 0; i < (size_t)B * per; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
    }
    CHECKF(di_nn_run(sc, x, B, ref, (size_t)B * on, &err) == 0, "%s", err.msg);
    double range = range_of(ref, (size_t)B * on);
    static const struct { di_nn_precision p; const char *name; double tol; } precs[] = {
        {DI_NN_FP32, "fp32", 1e-4}, {DI_NN_TF32, "tf32", 2e-2}, {DI_NN_FP16, "fp16", 2e-2}, {DI_NN_BF16, "bf16", 2e-2},
    };
    for (size_t pi = 0; pi < sizeof precs / sizeof precs[0]; pi++) {
        di_nn_options_default(&gpu);
        gpu.device = DI_NN_CUDA;
        gpu.precision = precs[pi].p;
        CHECKF(di_nn_session_create(model, &gpu, &sg, &err) == 0, "%s %s: %s", what, precs[pi].name, err.msg);
        if (!sg) continue;
        double tol = precs[pi].tol * range + 1e-6;
        for (int b = 1; b <= B; b += B - 1) {
            memset(y, 0, (size_t)B * on * sizeof(float));
            CHECKF(di_nn_run(sg, x, b, y, (size_t)B * on, &err) == 0, "%s", err.msg);
            double d = max_diff(y, ref, (size_t)b * on);
            printf("%s %s batch %d: max |cuda - cpu| = %.3g (range %.3g, tolerance %.3g)\n", what, precs[pi].name, b, d, range, tol);
            CHECKF(d <= tol, "%s %s batch %d: %.3g > %.3g", what, precs[pi].name, b, d, tol);
        }
        if (precs[pi].p == DI_NN_FP32) { /* two in flight, waited in order */
            memset(y, 0, (size_t)B * on * sizeof(float));
            memset(y2, 0, (size_t)B * on * sizeof(float));
            CHECKF(di_nn_run_async(sg, x, B, y, (size_t)B * on, &err) == 0, "%s", err.msg);
            CHECKF(di_nn_run_async(sg, x, 1, y2, (size_t)B * on, &err) == 0, "%s", err.msg);
            CHECK(di_nn_run_async(sg, x, 1, y2, (size_t)B * on, &err) == DI_EINVAL); /* a third is refused */
            CHECKF(di_nn_wait(sg, &err) == 0, "%s", err.msg);
            CHECKF(di_nn_wait(sg, &err) == 0, "%s", err.msg);
            CHECK(di_nn_wait(sg, &err) == DI_EINVAL);
            double d1 = max_diff(y, ref, (size_t)B * on), d2 = max_diff(y2, ref, on);
            printf("%s fp32 async: batch 4 %.3g, batch 1 %.3g\n", what, d1, d2);
            CHECK(d1 <= tol && d2 <= tol);
        }
        di_nn_session_destroy(sg);
        sg = NULL;
    }
    di_nn_free_host(x);
    di_nn_free_host(y);
    di_nn_free_host(y2);
    free(ref);
    di_nn_session_destroy(sc);
}

int main(void)
{
    char why[160];
    if (!di_nn_cuda_built()) {
        printf("SKIP: built without CUDA\n");
        return SKIP;
    }
    if (di_nn_cuda_device_status(why, sizeof why) == 0) {
        printf("SKIP: no CUDA device (cudaGetDeviceCount: %s)\n", why);
        return SKIP;
    }
    const char *shared = env_or("DEPTHINDEX_SHARED", "../shared");
    const char *build = env_or("DEPTHINDEX_BUILD_ROOT", "/tmp");
    char graph[1024], filled[1200], dir[1100], vit[1100];
    struct stat st;
    snprintf(graph, sizeof graph, "%s/models/midas_v21_small_256.graph.onnx", shared);
    if (stat(graph, &st) == 0) {
        snprintf(dir, sizeof dir, "%s/tests/nn/tmp-cuda", build);
        mkdir(dir, 0755);
        snprintf(filled, sizeof filled, "%s/midas_filled.onnx", dir);
        di_error err;
        di_error_clear(&err);
        int nfilled = 0;
        CHECKF(di_nn_fill_weights(graph, filled, 1, &nfilled, &err) == 0, "%s", err.msg);
        compare_model(filled, "midas");
    } else {
        printf("note: %s is absent; MiDaS not compared\n", graph);
    }
    snprintf(vit, sizeof vit, "%s/tests/nn/tmp-vit/vit_block.onnx", build);
    if (stat(vit, &st) == 0) compare_model(vit, "vit");
    else printf("note: %s is absent; the ViT block not compared\n", vit);
    return check_summary();
}

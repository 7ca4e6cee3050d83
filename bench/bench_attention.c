/*
** bench_attention.c: the fused attention (cpu/ops_attention.c) alone
** against a MatMul of the same model, per FLOP, on one machine in one run.
** Three graphs, run in turns R times after a warm-up (medians):
**   attention  qkv [B, T, 3, H, hd] split into heads (Transpose, Gathers),
**              softmax(Q K^T / sqrt(hd)) V, Transpose + Reshape [B, T, H*hd]:
**              the ViT-S/14 export's form, fused into _FusedAttention
**   unfused    the same file loaded as for the CUDA backend (no fusion)
**   matmul     x [B*T, H*hd] times a constant [H*hd, 4*H*hd] (the ViT's
**              MLP product): the anchor, what MatMul reaches per FLOP
** usage: bench_attention T H HD B THREADS REPEAT   (DI_PRECISION=bf16)
** prints per graph: median wall ms, median CPU ms (the process's, all
** threads), GFLOP/s by wall time and per core by CPU time (the FLOP rate
** a core reached, OpenMP's spinning counted as lost: steadier than wall
** time on a shared machine).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/engine.h"
#include "onnx_build.h"

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The attention graph (mlp 0) or the anchor MatMul (mlp 1). */
static uint8_t *build(int64_t T, int64_t H, int64_t hd, int64_t B, int mlp, size_t *len)
{
    ob b;
    ob_init(&b, 17);
    int64_t c = H * hd;
    if (mlp) {
        float *w = malloc((size_t)(c * 4 * c) * sizeof(float));
        for (int64_t i = 0; w && i < c * 4 * c; i++)
            w[i] = (float)((i * 7919) % 1000) / 1000.f - 0.5f;
        ob_input(&b, "x", 2, (int64_t[]){B * T, c}, NULL);
        ob_init_f(&b, "w", 2, (int64_t[]){c, 4 * c}, w);
        ob_node(&b, "MatMul", "x,w", "y");
        free(w);
    } else {
        ob_input(&b, "qkv", 5, (int64_t[]){B, T, 3, H, hd}, NULL);
        ob_init_f(&b, "scale", 0, NULL, (float[]){1.f / sqrtf((float)hd)});
        ob_init_i64(&b, "shape3", 1, (int64_t[]){3}, (int64_t[]){B, T, c});
        Onnx__NodeProto *n = ob_node(&b, "Transpose", "qkv", "t");
        ob_attr_ints(&b, n, "perm", 5, (int64_t[]){2, 0, 3, 1, 4});
        const char *gn[3] = {"q0", "k", "v"};
        for (int i = 0; i < 3; i++) {
            char iname[8], ins[32];
            snprintf(iname, sizeof iname, "i%d", i);
            ob_init_i64(&b, iname, 0, NULL, (int64_t[]){i});
            snprintf(ins, sizeof ins, "t,%s", iname);
            ob_attr_i(&b, ob_node(&b, "Gather", ins, gn[i]), "axis", 0);
        }
        ob_node(&b, "Mul", "q0,scale", "q");
        n = ob_node(&b, "Transpose", "k", "kt");
        ob_attr_ints(&b, n, "perm", 4, (int64_t[]){0, 1, 3, 2});
        ob_node(&b, "MatMul", "q,kt", "s");
        ob_attr_i(&b, ob_node(&b, "Softmax", "s", "p"), "axis", -1);
        ob_node(&b, "MatMul", "p,v", "o");
        n = ob_node(&b, "Transpose", "o", "ot");
        ob_attr_ints(&b, n, "perm", 4, (int64_t[]){0, 2, 1, 3});
        ob_node(&b, "Reshape", "ot,shape3", "y");
    }
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

int main(int argc, char **argv)
{
    (void)ob_attr_f;
    if (argc < 7) {
        fprintf(stderr, "usage: bench_attention T H HD B THREADS REPEAT\n");
        return 2;
    }
    int64_t T = atoll(argv[1]), H = atoll(argv[2]), hd = atoll(argv[3]), B = atoll(argv[4]);
    int threads = atoi(argv[5]), repeat = atoi(argv[6]);
    if (T < 1 || H < 1 || hd < 1 || B < 1 || threads < 1 || repeat < 1 || repeat > 1000) {
        fprintf(stderr, "bench_attention: bad numbers\n");
        return 2;
    }
    const char *prec = getenv("DI_PRECISION");
    bool bf16 = prec && !strcmp(prec, "bf16");
    const char *names[3] = {"attention", "unfused", "matmul"};
    double flops[3] = {4.0 * (double)(B * H) * (double)T * (double)T * (double)hd, 0,
                       2.0 * (double)(B * T) * (double)(H * hd) * (double)(4 * H * hd)};
    flops[1] = flops[0];
    di_nn_session *s[3] = {0};
    di_error err;
    di_error_clear(&err);
    char path[] = "/tmp/di_bench_attention_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "bench_attention: no temporary file\n");
        return 1;
    }
    close(fd);
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++) {
        size_t len;
        uint8_t *bytes = build(T, H, hd, B, i == 2, &len);
        FILE *f = fopen(path, "wb");
        rc = !f || fwrite(bytes, 1, len, f) != len;
        if (f)
            fclose(f);
        free(bytes);
        di_nn_graph *g = NULL;
        di_nn_options opt;
        di_nn_options_default(&opt);
        opt.threads = threads;
        opt.precision = bf16 ? DI_NN_BF16 : DI_NN_FP32;
        if (!rc)
            rc = di_nn_graph_load_flags(path, i == 1 ? DI_NN_LOAD_PORTABLE : 0, &g, &err) ||
                 di_nn_session_create_graph(g, &opt, &s[i], &err);
    }
    remove(path);
    int64_t n = B * T * 3 * H * hd;
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; x && i < n; i++)
        x[i] = (float)((i * 2654435761u) % 4096) / 1024.f - 2.f;
    double *wall = calloc((size_t)(3 * repeat), sizeof(double)),
           *cpu = calloc((size_t)(3 * repeat), sizeof(double));
    rc |= !x || !wall || !cpu;
    for (int r = -1; r < repeat && !rc; r++)
        for (int i = 0; i < 3 && !rc; i++) {
            di_nn_io in = {DI_DT_FLOAT, 5, {B, T, 3, H, hd}, x}, out;
            if (i == 2)
                in = (di_nn_io){DI_DT_FLOAT, 2, {B * T, H * hd}, x};
            memset(&out, 0, sizeof out);
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            rc = di_nn_run_io(s[i], &in, 1, &out, 1, &err);
            double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
            free(out.data);
            if (r >= 0) {
                wall[i * repeat + r] = w1 - w0;
                cpu[i * repeat + r] = c1 - c0;
            }
        }
    if (rc)
        fprintf(stderr, "bench_attention: %s\n", err.msg[0] ? err.msg : "failed");
    for (int i = 0; i < 3 && !rc; i++) {
        qsort(wall + i * repeat, (size_t)repeat, sizeof(double), cmp_double);
        qsort(cpu + i * repeat, (size_t)repeat, sizeof(double), cmp_double);
        double w = wall[i * repeat + repeat / 2], c = cpu[i * repeat + repeat / 2];
        printf("%-9s T %lld H %lld hd %lld B %lld threads %d %s: %8.2f ms, %8.2f cpu-ms, "
               "%6.1f GFLOP/s, %6.1f GFLOP/s per core by CPU time\n",
               names[i], (long long)T, (long long)H, (long long)hd, (long long)B, threads,
               bf16 ? "bf16" : "fp32", w, c, flops[i] / w / 1e6, flops[i] / c / 1e6);
    }
    for (int i = 0; i < 3; i++)
        di_nn_session_destroy(s[i]);
    free(x);
    free(wall);
    free(cpu);
    return rc ? 1 : 0;
}

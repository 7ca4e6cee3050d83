/*
** bench_engine.c: times our engine on one model at one batch size and
** thread count: median ms per image over R runs (after one warm-up run that
** also builds the plan), GFLOP/s from the plan's FLOP count, and the time per
** op type. Optionally writes a batch-1 input as NPY for onnxruntime.
**
** usage: bench_engine MODEL.onnx BATCH THREADS REPEAT [INPUT_OUT.npy]
** (DI_WHOLE_BATCH=1: options.whole_batch, the batch in one pass;
** DI_BENCH_SIZE=WxH: the input size of a model whose height and width are
** symbolic, default 518x518; DI_BENCH_UNFUSED=1: the graph loaded as for
** the CUDA backend, without the CPU's fused attention, for a before/after
** in one build; DI_PRECISION=bf16: --precision bf16)
** prints: "ours batch B threads T: X ms/image, Y GFLOP/s, C cpu-ms/image",
** in bf16 the plan's precision changes (di_nn_plan_bf16_conversions), and
** op lines. The CPU time (the process's, all threads) is much steadier than
** wall time on a machine shared with other work: at 1 thread it is the time
** the run would take alone; at 2 threads it includes OpenMP's spinning.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/io.h"
#include "nn/engine.h"
#include "nn/nn.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_time(const void *a, const void *b)
{
    const di_nn_op_time *x = a, *y = b;
    return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : 0;
}

static int write_npy(const char *path, const float *x, int c, int h, int w)
{
    const int64_t dims[4] = {1, c, h, w};
    di_error err = {0};
    return di_npy_write_f32(path, x, dims, 4, &err) ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_engine MODEL.onnx BATCH THREADS REPEAT [INPUT_OUT.npy]\n");
        return 2;
    }
    int batch = atoi(argv[2]), threads = atoi(argv[3]), repeat = atoi(argv[4]);
    if (batch < 1 || threads < 1 || repeat < 1) {
        fprintf(stderr, "bench_engine: bad numbers\n");
        return 2;
    }
    di_error err;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = threads;
    opt.profile = true;
    const char *wb = getenv("DI_WHOLE_BATCH");
    opt.whole_batch = wb && *wb == '1';
    const char *prec = getenv("DI_PRECISION");
    if (prec && strcmp(prec, "bf16") == 0)
        opt.precision = DI_NN_BF16;
    di_nn_session *s = NULL;
    const char *unf = getenv("DI_BENCH_UNFUSED");
    di_nn_graph *g = NULL;
    if (di_nn_graph_load_flags(argv[1], unf && *unf == '1' ? DI_NN_LOAD_PORTABLE : 0, &g, &err) ||
        di_nn_session_create_graph(g, &opt, &s, &err)) { /* takes g */
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    int c, h, w;
    /* a symbolic height and width: DI_BENCH_SIZE=WxH (default 518x518) */
    if (di_nn_input_symbolic(s) & 0xc) {
        int sw = 518, sh = 518;
        const char *sz = getenv("DI_BENCH_SIZE");
        if (sz && sscanf(sz, "%dx%d", &sw, &sh) != 2) {
            fprintf(stderr, "bench_engine: DI_BENCH_SIZE=%s is not WxH\n", sz);
            return 2;
        }
        if (di_nn_set_input_size(s, sh, sw, &err)) {
            fprintf(stderr, "bench_engine: %s\n", err.msg);
            return 1;
        }
    }
    if (di_nn_input_chw(s, &c, &h, &w)) {
        fprintf(stderr, "bench_engine: input is not N x C x H x W\n");
        return 1;
    }
    int64_t od[8];
    int ond;
    if (di_nn_output_shape(s, batch, od, &ond, &err)) {
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    size_t in_n = (size_t)batch * (size_t)c * (size_t)h * (size_t)w, out_n = 1;
    for (int i = 0; i < ond; i++) out_n *= (size_t)od[i];
    float *x = malloc(in_n * sizeof(float)), *y = malloc(out_n * sizeof(float));
    double *t = malloc((size_t)repeat * sizeof(double));
    uint64_t st = 42;
    for (size_t i = 0; i < in_n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(st >> 40) / (double)(1 << 24)) * 2.f - 1.f;
    }
    if (argc > 5 && write_npy(argv[5], x, c, h, w)) {
        fprintf(stderr, "bench_engine: cannot write %s\n", argv[5]);
        return 1;
    }
    if (di_nn_run(s, x, batch, y, out_n, &err)) { /* warm-up */
        fprintf(stderr, "bench_engine: %s\n", err.msg);
        return 1;
    }
    di_nn_profile_reset(s);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int r = 0; r < repeat; r++) {
        double t0 = di_now();
        if (di_nn_run(s, x, batch, y, out_n, &err)) {
            fprintf(stderr, "bench_engine: %s\n", err.msg);
            return 1;
        }
        t[r] = di_now() - t0;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    qsort(t, (size_t)repeat, sizeof(double), cmp_double);
    double med = repeat % 2 ? t[repeat / 2] : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    double flops = di_nn_flops(s, batch, &err);
    printf("ours batch %d%s threads %d: %.2f ms/image, %.1f GFLOP/s, %.2f cpu-ms/image\n", batch, opt.whole_batch ? " (one pass)" : "", threads, med * 1e3 / batch, flops / med / 1e9, cpu * 1e3 / repeat / batch);
    /* the precision changes of the plan for this batch (bf16: to be few) */
    di_nn_io io;
    di_nn_plan *plan;
    int to_f32, to_bf16;
    if (opt.precision == DI_NN_BF16 && !di_nn_batch_io(s, batch, &io, &err) &&
        !di_nn_get_plan(s, &io, 1, &plan, &err)) {
        di_nn_plan_bf16_conversions(plan, &to_f32, &to_bf16);
        printf("bf16 conversions per run: %d bf16 -> f32, %d f32 -> bf16\n", to_f32, to_bf16);
    }
    di_nn_op_time ot[64];
    int runs, n = di_nn_profile(s, ot, 64, &runs);
    double total = 0;
    for (int i = 0; i < n; i++) total += ot[i].seconds;
    qsort(ot, (size_t)n, sizeof ot[0], cmp_time);
    for (int i = 0; i < n; i++)
        printf("  op %-14s %8.2f ms/image %5.1f%%\n", ot[i].op, ot[i].seconds * 1e3 / runs / batch, 100 * ot[i].seconds / total);
    di_nn_session_destroy(s);
    free(x);
    free(y);
    free(t);
    return 0;
}

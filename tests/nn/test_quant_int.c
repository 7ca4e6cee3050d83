/*
** test_quant_int.c (nn-quant-int): MatMulInteger and ConvInteger give
** exactly the int32 results ONNX defines, whichever kernel runs them: oneDNN's
** u8s8s32 primitives where the CPU has VNNI (cpu/quant_dnnl.c), the plain C
** kernels elsewhere and for the forms oneDNN is not given. Each form is
** checked bit for bit against a naive reference written here: uint8 and int8
** inputs and weights, zero points absent, per tensor and per column, a
** run-time input zero point (as DynamicQuantizeLinear gives), weights that
** are not constants, and convolutions with pads, strides, dilations, groups
** and the patch embedding's 14x14 stride 14. Operands span the whole uint8 /
** int8 range, so int16 saturation (oneDNN without VNNI) would show. With a
** VNNI CPU the test also checks that oneDNN primitives were built (it cannot
** pass by leaving everything to the plain kernel); run again with
** ONEDNN_MAX_CPU_ISA=AVX2 (nn-quant-int-plain) it checks the plain kernels.
** Given a folder (test_quant_int DIR), it keeps its first MatMulInteger and
** ConvInteger files there: the fuzz seeds of fuzz/corpus/onnx.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cpu/quant_dnnl.h"
#include "engine.h"
#include "onnx_build.h"
#include "test_files.h"
#include "test_session.h"

enum { U8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, S8 = ONNX__TENSOR_PROTO__DATA_TYPE__INT8 };

static uint32_t rng = 12345;
static int keep; /* a folder was given: keep the first file of each op */
static int rnd_q8(int dt)
{
    rng = rng * 1664525u + 1013904223u;
    int v = (int)(rng >> 24);
    return dt == U8 ? v : v - 128;
}

static void fill(void *p, int dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == U8) ((uint8_t *)p)[i] = (uint8_t)rnd_q8(dt);
        else ((int8_t *)p)[i] = (int8_t)rnd_q8(dt);
    }
}

static int at(const void *p, int dt, int64_t i)
{
    return dt == U8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static int di_of(int onnx_dt)
{
    return onnx_dt == U8 ? DI_DT_UINT8 : DI_DT_INT8;
}

static void set_input_type(ob *b, int i, int dt)
{
    b->g.input[i]->type->tensor_type->elem_type = dt;
}

/* runs the model at path on ins; compares output 0 (int32) with ref */
static void run_check(const char *what, const char *path, const di_nn_io *ins, int nins, const int32_t *ref,
                      int64_t n)
{
    di_nn_session *s = test_session(path, NULL, what);
    if (!s) return;
    di_nn_io out = {0};
    if (!test_run_io(s, ins, nins, &out, 1, what)) {
        CHECKF(out.dtype == DI_DT_INT32, "%s: output type %d", what, out.dtype);
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++)
            if (((int32_t *)out.data)[i] != ref[i]) bad = i;
        CHECKF(bad < 0, "%s: element %lld is %d, ONNX says %d", what, (long long)bad,
               bad < 0 ? 0 : ((int32_t *)out.data)[bad], bad < 0 ? 0 : ref[bad]);
        printf("%-44s %lld values identical\n", what, (long long)n);
    }
    free(out.data);
    di_nn_session_destroy(s);
}

static void write_model(ob *b, const char *path)
{
    b->g.output[0]->type->tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    CHECK(ob_write(b, path) == 0);
    ob_free(b);
}

typedef struct {
    const char *what;
    int adt, bdt;
    int a_zp;     /* 1: a run-time input zero point */
    int b_zp;     /* 0 none, 1 per tensor, 2 per column */
    int b_input;  /* B a graph input, not a constant */
} mm_case;

static void matmul_case(const char *dir, const mm_case *c)
{
    enum { R = 3, M = 41, K = 200, N = 48 };
    char path[1100];
    static int n_mm;
    snprintf(path, sizeof path, "%s/mmi%s.onnx", dir, keep && n_mm++ == 0 ? "_seed" : "");
    uint8_t a[R * M * K], bw[K * N], bz[N], az[1];
    fill(a, c->adt, sizeof a);
    fill(bw, c->bdt, sizeof bw);
    fill(bz, c->bdt, sizeof bz);
    fill(az, c->adt, 1);
    int nbz = c->b_zp == 2 ? N : 1;
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "a", 3, (int64_t[]){R, M, K}, NULL);
    set_input_type(&b, 0, c->adt);
    ob_input(&b, "az", 1, (int64_t[]){1}, NULL);
    set_input_type(&b, 1, c->adt);
    if (c->b_input) {
        ob_input(&b, "b", 2, (int64_t[]){K, N}, NULL);
        set_input_type(&b, 2, c->bdt);
    } else {
        ob_init_t(&b, ob_tensor(&b, "b", c->bdt, 2, (int64_t[]){K, N}, bw, sizeof bw));
    }
    if (c->b_zp) ob_init_t(&b, ob_tensor(&b, "bz", c->bdt, 1, (int64_t[]){nbz}, bz, (size_t)nbz));
    char ins[64];
    snprintf(ins, sizeof ins, "a,b,%s%s", c->a_zp ? "az" : "", c->b_zp ? ",bz" : "");
    ob_node(&b, "MatMulInteger", ins, "y");
    ob_output(&b, "y");
    write_model(&b, path);
    int32_t *ref = malloc(sizeof(int32_t) * R * M * N);
    int za = c->a_zp ? at(az, c->adt, 0) : 0;
    for (int64_t i = 0; i < R * M; i++)
        for (int64_t j = 0; j < N; j++) {
            int32_t acc = 0;
            int zb = c->b_zp ? at(bz, c->bdt, c->b_zp == 2 ? j : 0) : 0;
            for (int64_t k = 0; k < K; k++)
                acc += (at(a, c->adt, i * K + k) - za) * (at(bw, c->bdt, k * N + j) - zb);
            ref[i * N + j] = acc;
        }
    di_nn_io io[3] = {
        {.dtype = di_of(c->adt), .ndim = 3, .dims = {R, M, K}, .data = a},
        {.dtype = di_of(c->adt), .ndim = 1, .dims = {1}, .data = az},
        {.dtype = di_of(c->bdt), .ndim = 2, .dims = {K, N}, .data = bw},
    };
    run_check(c->what, path, io, c->b_input ? 3 : 2, ref, R * M * N);
    free(ref);
    if (!strstr(path, "_seed")) remove(path);
}

typedef struct {
    const char *what;
    int xdt, wdt;
    int x_zp, w_zp;
    int64_t n, c, h, w, o, kh, kw, group;
    int64_t stride[2], dil[2], pads[4];
} conv_case;

static void conv_case_run(const char *dir, const conv_case *c)
{
    char path[1100];
    static int n_conv;
    snprintf(path, sizeof path, "%s/convi%s.onnx", dir, keep && n_conv++ == 0 ? "_seed" : "");
    int64_t cg = c->c / c->group, og = c->o / c->group;
    int64_t oh = (c->h + c->pads[0] + c->pads[2] - c->dil[0] * (c->kh - 1) - 1) / c->stride[0] + 1;
    int64_t ow = (c->w + c->pads[1] + c->pads[3] - c->dil[1] * (c->kw - 1) - 1) / c->stride[1] + 1;
    int64_t nx = c->n * c->c * c->h * c->w, nw = c->o * cg * c->kh * c->kw, ny = c->n * c->o * oh * ow;
    uint8_t *x = malloc((size_t)nx), *w = malloc((size_t)nw), xz[1], wz[1];
    fill(x, c->xdt, nx);
    fill(w, c->wdt, nw);
    fill(xz, c->xdt, 1);
    fill(wz, c->wdt, 1);
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){c->n, c->c, c->h, c->w}, NULL);
    set_input_type(&b, 0, c->xdt);
    ob_input(&b, "xz", 1, (int64_t[]){1}, NULL);
    set_input_type(&b, 1, c->xdt);
    ob_init_t(&b, ob_tensor(&b, "w", c->wdt, 4, (int64_t[]){c->o, cg, c->kh, c->kw}, w, (size_t)nw));
    if (c->w_zp) ob_init_t(&b, ob_tensor(&b, "wz", c->wdt, 0, NULL, wz, 1));
    char ins[64];
    snprintf(ins, sizeof ins, "x,w,%s%s", c->x_zp ? "xz" : "", c->w_zp ? ",wz" : "");
    Onnx__NodeProto *nd = ob_node(&b, "ConvInteger", ins, "y");
    ob_attr_ints(&b, nd, "strides", 2, c->stride);
    ob_attr_ints(&b, nd, "dilations", 2, c->dil);
    ob_attr_ints(&b, nd, "pads", 4, c->pads);
    ob_attr_i(&b, nd, "group", c->group);
    ob_output(&b, "y");
    write_model(&b, path);
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)ny);
    int zx = c->x_zp ? at(xz, c->xdt, 0) : 0, zw = c->w_zp ? at(wz, c->wdt, 0) : 0;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t o = 0; o < c->o; o++)
            for (int64_t y = 0; y < oh; y++)
                for (int64_t xx = 0; xx < ow; xx++) {
                    int32_t acc = 0;
                    int64_t g = o / og;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < c->kh; ky++)
                            for (int64_t kx = 0; kx < c->kw; kx++) {
                                int64_t iy = y * c->stride[0] - c->pads[0] + ky * c->dil[0];
                                int64_t ix = xx * c->stride[1] - c->pads[1] + kx * c->dil[1];
                                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                                int xv = at(x, c->xdt, ((n * c->c + g * cg + ci) * c->h + iy) * c->w + ix) - zx;
                                int wv = at(w, c->wdt, ((o * cg + ci) * c->kh + ky) * c->kw + kx) - zw;
                                acc += xv * wv;
                            }
                    ref[((n * c->o + o) * oh + y) * ow + xx] = acc;
                }
    di_nn_io io[2] = {
        {.dtype = di_of(c->xdt), .ndim = 4, .dims = {c->n, c->c, c->h, c->w}, .data = x},
        {.dtype = di_of(c->xdt), .ndim = 1, .dims = {1}, .data = xz},
    };
    run_check(c->what, path, io, 2, ref, ny);
    free(ref);
    free(x);
    free(w);
    if (!strstr(path, "_seed")) remove(path);
}

int main(int argc, char **argv)
{
    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    char dir[1024];
    keep = argc > 1;
    /* one folder per process: the two meson tests of this binary run at once */
    if (keep) snprintf(dir, sizeof dir, "%s", argv[1]);
    else snprintf(dir, sizeof dir, "%s/tests/nn/tmp-quant-int-%ld", build && *build ? build : "/tmp", (long)getpid());
    mkdir(dir, 0755);
    bool vnni = di_nn_qdnnl_usable();
    printf("oneDNN integer kernels: %s\n", vnni ? "yes (VNNI)" : "no: the plain C kernels");
    static const mm_case mm[] = {
        {"MatMulInteger u8 x s8, per-column zp", U8, S8, 1, 2, 0},
        {"MatMulInteger u8 x u8, per-tensor zp", U8, U8, 1, 1, 0},
        {"MatMulInteger u8 x u8, per-column zp", U8, U8, 1, 2, 0},
        {"MatMulInteger u8 x s8, no zero points", U8, S8, 0, 0, 0},
        {"MatMulInteger u8 x u8, no zero points", U8, U8, 0, 0, 0},
        {"MatMulInteger s8 x s8, both zp", S8, S8, 1, 1, 0},
        {"MatMulInteger s8 x u8, per-column zp", S8, U8, 1, 2, 0},
        {"MatMulInteger u8 x s8, B not constant", U8, S8, 1, 2, 1},
    };
    int before = atomic_load(&di_nn_qdnnl_built);
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) matmul_case(dir, &mm[i]);
    int mm_built = atomic_load(&di_nn_qdnnl_built) - before;
    static const conv_case cv[] = {
        {"ConvInteger u8/u8 zp, 14x14 stride 14", U8, U8, 1, 1, 2, 3, 28, 42, 16, 14, 14, 1,
         {14, 14}, {1, 1}, {0, 0, 0, 0}},
        {"ConvInteger u8/u8 zp, 3x3 pads 1 stride 2", U8, U8, 1, 1, 2, 5, 17, 19, 8, 3, 3, 1,
         {2, 2}, {1, 1}, {1, 1, 1, 1}},
        {"ConvInteger u8/s8, uneven pads, dilation 2", U8, S8, 1, 0, 1, 4, 15, 13, 6, 3, 3, 1,
         {1, 1}, {2, 2}, {0, 1, 2, 1}},
        {"ConvInteger s8/s8 both zp, pads 2", S8, S8, 1, 1, 1, 3, 11, 12, 5, 5, 3, 1,
         {1, 2}, {1, 1}, {2, 2, 2, 2}},
        {"ConvInteger u8/u8 no zero points", U8, U8, 0, 0, 1, 6, 9, 9, 7, 3, 3, 1,
         {1, 1}, {1, 1}, {1, 1, 1, 1}},
        {"ConvInteger u8/u8 zp, group 2 (plain)", U8, U8, 1, 1, 1, 4, 9, 10, 6, 3, 3, 2,
         {1, 1}, {1, 1}, {1, 1, 1, 1}},
    };
    before = atomic_load(&di_nn_qdnnl_built);
    for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++) conv_case_run(dir, &cv[i]);
    int conv_built = atomic_load(&di_nn_qdnnl_built) - before;
    printf("oneDNN int8 primitives built: %d matmul, %d convolution\n", mm_built, conv_built);
    if (vnni) {
        /* every case but the non-constant B and the grouped conv */
        CHECKF(mm_built >= 7, "only %d of 7 MatMulInteger forms took oneDNN", mm_built);
        CHECKF(conv_built >= 5, "only %d of 5 ConvInteger forms took oneDNN", conv_built);
    } else {
        CHECK(mm_built == 0 && conv_built == 0);
    }
    if (!keep) rmdir(dir);
    return check_summary();
}

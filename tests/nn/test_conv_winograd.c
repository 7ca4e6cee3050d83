/*
** test_conv_winograd.c: the CPU Conv's algorithm choice (ops_conv.c,
** conv_winograd). Dense 3x3 stride-1 convs with at least 32 input and output
** channels run through oneDNN's Winograd kernels where the CPU has them
** (AVX-512); smaller ones, strided ones and DI_NN_CONV_ALGO=direct run the
** direct kernel. Each case runs twice, by default and with
** DI_NN_CONV_ALGO=direct, and is checked against a reference computed here
** in double precision (both within 1e-5 of the output's range), with its
** post-ops (bias, Relu, Clip, a residual Add) fused as in MiDaS:
**   - where Winograd applies, the two runs differ in their last bits (the
**     same sums in another order: proof that Winograd ran at all; a
**     regression to direct-only makes them identical and fails here);
**   - where it does not, the two runs are bit-identical;
**   - a post-op the Winograd kernel cannot fuse (Clip) falls back to direct;
**   - a 1x1 conv after a Winograd conv reads its nChw16c output without a
**     reorder (check_chain); one to 4 output channels (a depth head's
**     last conv) go to conv_narrow.c, which writes them plain: no reorder
**     before or after (odd sizes, batch 2, with and without Relu).
**   - where oneDNN's F(4x4,3x3) kernel would block its tiles badly
**     (conv_algo.c: 148x148, 37 x 37 tiles, as DPT at 518x518 has) the conv
**     runs direct, in Winograd's nChw16c layout (check_rule): it differs
**     from the run with DI_NN_CONV_ALGO=winograd (the rule before) and its
**     output is nChw16c; DI_NN_CONV_ALGO=gemm (oneDNN's im2col + sgemm)
**     writes a plain output; all within 1e-5 of the reference.
** The first check is skipped on a CPU without AVX-512 (no Winograd kernel in
** oneDNN; the engine falls back to direct, which the accuracy check covers).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/cpu.h" /* the layouts and the effective ISA */

#include "check.h"
#include "nn/engine.h"
#include "onnx_build.h"
#include "test_session.h"

static uint64_t rng = 7;

static float uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

enum { POST_RELU, POST_CLIP, POST_RESID };

typedef struct ccase {
    const char *name;
    int c, oc, h, w, stride, post;
    int winograd; /* 1: takes the Winograd kernel (on AVX-512); 0: direct; -1: either */
} ccase;

static uint8_t *build(const ccase *c, const float *wt, const float *bias, size_t *len)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 4, (int64_t[]){1, c->c, c->h, c->w}, "B");
    ob_init_f(&b, "w", 4, (int64_t[]){c->oc, c->c, 3, 3}, wt);
    ob_init_f(&b, "b", 1, (int64_t[]){c->oc}, bias);
    Onnx__NodeProto *n = ob_node(&b, "Conv", "x,w,b", "conv");
    ob_attr_ints(&b, n, "kernel_shape", 2, (int64_t[]){3, 3});
    ob_attr_ints(&b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    ob_attr_ints(&b, n, "strides", 2, (int64_t[]){c->stride, c->stride});
    if (c->post == POST_RELU) {
        ob_node(&b, "Relu", "conv", "y");
    } else if (c->post == POST_CLIP) {
        ob_init_f(&b, "lo", 0, NULL, (float[]){0.f});
        ob_init_f(&b, "hi", 0, NULL, (float[]){6.f});
        ob_node(&b, "Clip", "conv,lo,hi", "y");
    } else { /* c == oc, stride 1: the input is the residual, as in MiDaS */
        ob_node(&b, "Add", "conv,x", "y");
    }
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

static void reference(const ccase *c, int batch, const float *x, const float *wt,
                      const float *bias, int oh, int ow, double *y)
{
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < c->oc; o++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    double acc = bias[o];
                    for (int ci = 0; ci < c->c; ci++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int yi = i * c->stride + ki - 1, xj = j * c->stride + kj - 1;
                                if (yi < 0 || yi >= c->h || xj < 0 || xj >= c->w) continue;
                                acc += (double)x[(((size_t)n * c->c + ci) * c->h + yi) * c->w + xj] *
                                       (double)wt[(((size_t)o * c->c + ci) * 3 + ki) * 3 + kj];
                            }
                    size_t at = (((size_t)n * c->oc + o) * oh + i) * ow + j;
                    if (c->post == POST_RELU) acc = acc > 0 ? acc : 0;
                    else if (c->post == POST_CLIP) acc = acc < 0 ? 0 : acc > 6 ? 6 : acc;
                    else acc += x[at];
                    y[at] = acc;
                }
}

static float *run_layout(const uint8_t *bytes, size_t len, const ccase *c, int batch,
                         const float *x, const char *algo, size_t n_out, int *layout);

/* Runs the case's model once with DI_NN_CONV_ALGO as given (NULL: unset). */
static float *run(const uint8_t *bytes, size_t len, const ccase *c, int batch, const float *x,
                  const char *algo, size_t n_out)
{
    int layout;
    return run_layout(bytes, len, c, batch, x, algo, n_out, &layout);
}

/* x -> Conv 3x3 32->32 + Relu (Winograd) -> Conv 1x1 32->O (+ Relu): the
** 1x1 conv reads the Winograd conv's nChw16c output as it is
** (conv_keeps_input_layout) and its output stays in that layout; with 1 to 4
** output channels conv_narrow.c writes a plain output; checked on the plan
** and against the reference, N images of H x W. */
static void check_chain(int avx512, int O, int relu2, int N, int H, int W)
{
    enum { C = 32, HM = 24, OM = 16 };
    static float w1[C * C * 9], b1[C], w2[OM * C], b2[OM], x[2 * C * HM * HM];
    double ws = 1.0 / sqrt(9.0 * C);
    for (int i = 0; i < C * C * 9; i++) w1[i] = (float)(uniform() * 2 * ws);
    for (int i = 0; i < O * C; i++) w2[i] = uniform() * 0.3f;
    for (int i = 0; i < C; i++) b1[i] = 0.1f * uniform();
    for (int i = 0; i < O; i++) b2[i] = 0.1f * uniform();
    for (int i = 0; i < N * C * H * W; i++) x[i] = 2.f * uniform();
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 4, (int64_t[]){N, C, H, W}, "B");
    ob_init_f(&b, "w1", 4, (int64_t[]){C, C, 3, 3}, w1);
    ob_init_f(&b, "b1", 1, (int64_t[]){C}, b1);
    ob_init_f(&b, "w2", 4, (int64_t[]){O, C, 1, 1}, w2);
    ob_init_f(&b, "b2", 1, (int64_t[]){O}, b2);
    Onnx__NodeProto *n = ob_node(&b, "Conv", "x,w1,b1", "c1");
    ob_attr_ints(&b, n, "kernel_shape", 2, (int64_t[]){3, 3});
    ob_attr_ints(&b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    ob_node(&b, "Relu", "c1", "r1");
    n = ob_node(&b, "Conv", "r1,w2,b2", relu2 ? "c2" : "y");
    ob_attr_ints(&b, n, "kernel_shape", 2, (int64_t[]){1, 1});
    if (relu2) ob_node(&b, "Relu", "c2", "y");
    ob_output(&b, "y");
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    ob_free(&b);

    di_error err;
    di_nn_session *s = test_session_mem(bytes, len, "chain", NULL);
    if (s) {
        di_nn_io in = {DI_DT_FLOAT, 4, {N, C, H, W}, x};
        di_nn_io out = {0};
        if (!test_run_io(s, &in, 1, &out, 1, "chain")) {
            double md = 0, lo = 1e30, hi = -1e30;
            for (int im = 0; im < N; im++)
            for (int o = 0; o < O; o++)
                for (int i = 0; i < H * W; i++) {
                    double acc = b2[o];
                    const float *xi = x + im * C * H * W;
                    for (int c = 0; c < C; c++) {
                        double v = b1[c];
                        int yi = i / W, xj = i % W;
                        for (int ci = 0; ci < C; ci++)
                            for (int ki = 0; ki < 3; ki++)
                                for (int kj = 0; kj < 3; kj++) {
                                    int yy = yi + ki - 1, xx = xj + kj - 1;
                                    if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                    v += (double)xi[(ci * H + yy) * W + xx] * w1[((c * C + ci) * 3 + ki) * 3 + kj];
                                }
                        acc += (v > 0 ? v : 0) * w2[o * C + c];
                    }
                    if (relu2 && acc < 0) acc = 0;
                    double d = fabs(((float *)out.data)[(im * O + o) * H * W + i] - acc);
                    if (!(d <= md)) md = d;
                    lo = fmin(lo, acc);
                    hi = fmax(hi, acc);
                }
            printf("chain 3x3 -> 1x1 to %d channels%s, %d x %dx%d: range %.3g, max |diff| %.3g\n", O,
                   relu2 ? " + Relu" : "", N, H, W, hi - lo, md);
            CHECKF(hi - lo > 0.5 && md <= 1e-5 * (hi - lo), "chain: max |diff| %.3g of %.3g", md, hi - lo);
            free(out.data);
        }
        di_nn_plan *p = NULL;
        CHECK(di_nn_get_plan(s, &in, 1, &p, &err) == 0);
        int convs = 0;
        for (int i = 0; p && i < p->nsteps; i++) {
            di_nn_step *st = &p->steps[i];
            if (!st->name || strcmp(st->name, "Conv") || ++convs != 2) continue;
            const di_nn_tensor *x = st->k.in[0], *y = st->k.out[0];
            int in_blk = x->blocked && x->layout && x->layout->md.format_kind == dnnl_blocked
                             ? x->layout->md.format_desc.blocking.inner_nblks
                             : -1;
            int out_blk = y->layout && y->layout->md.format_kind == dnnl_blocked
                              ? y->layout->md.format_desc.blocking.inner_nblks
                              : -1;
            printf("chain: the 1x1 conv reads %d and writes %d inner blocks%s\n", in_blk, out_blk,
                   y->blocked ? "" : " (plain)");
            if (avx512 && O <= 4) {
                CHECKF(in_blk == 1, "chain: the narrow 1x1 conv's input has %d inner blocks", in_blk);
                CHECKF(!y->blocked, "chain: the narrow 1x1 conv's output is not plain");
            } else if (avx512) {
                CHECKF(in_blk == 1, "chain: the 1x1 conv's input has %d inner blocks (not Winograd's nChw16c)", in_blk);
                CHECKF(out_blk == 1, "chain: the 1x1 conv reordered its nChw16c input (writes %d inner blocks)", out_blk);
            }
        }
        CHECKF(convs == 2, "chain: %d conv steps", convs);
        /* a narrow one: nothing but the two convs (no reorder of the output) */
        if (p && avx512 && O <= 4) CHECKF(p->nsteps == 2, "chain to %d channels: %d steps", O, p->nsteps);
        di_nn_session_destroy(s);
    }
    free(bytes);
}

/* The plan's first Conv step's output: 1 nChw16c, 0 plain, -1 another. */
static int conv_out_layout(di_nn_session *s, const di_nn_io *in)
{
    di_error err;
    di_nn_plan *p = NULL;
    if (di_nn_get_plan(s, in, 1, &p, &err)) return -1;
    for (int i = 0; i < p->nsteps; i++) {
        const di_nn_step *st = &p->steps[i];
        if (!st->name || strcmp(st->name, "Conv")) continue;
        const di_nn_tensor *y = st->k.out[0];
        if (!y->blocked) return 0;
        const dnnl_memory_desc_t *md = &y->layout->md;
        return md->format_kind == dnnl_blocked && md->format_desc.blocking.inner_nblks == 1 &&
                       md->format_desc.blocking.inner_blks[0] == 16 &&
                       md->format_desc.blocking.inner_idxs[0] == 1
                   ? 1
                   : -1;
    }
    return -1;
}

/* One case under DI_NN_CONV_ALGO=algo (NULL: the rule): output, and the
** layout of its conv's output (conv_out_layout) in *layout */
static float *run_layout(const uint8_t *bytes, size_t len, const ccase *c, int batch,
                         const float *x, const char *algo, size_t n_out, int *layout)
{
    if (algo) setenv("DI_NN_CONV_ALGO", algo, 1);
    else unsetenv("DI_NN_CONV_ALGO");
    float *y = NULL;
    *layout = -2;
    di_nn_session *s = test_session_mem(bytes, len, c->name, NULL);
    if (s) {
        di_nn_io in = {DI_DT_FLOAT, 4, {batch, c->c, c->h, c->w}, (void *)x};
        di_nn_io out = {0};
        if (!test_run_io(s, &in, 1, &out, 1, c->name)) {
            size_t n = 1;
            for (int i = 0; i < out.ndim; i++) n *= (size_t)out.dims[i];
            CHECKF(n == n_out, "%s: %zu outputs, expected %zu", c->name, n, n_out);
            if (n == n_out) y = out.data;
            else free(out.data);
        }
        *layout = conv_out_layout(s, &in);
        di_nn_session_destroy(s);
    }
    unsetenv("DI_NN_CONV_ALGO");
    return y;
}

/* A case's data: weights scaled as a trained layer's (output of order 1),
** bias, input, the double-precision reference and its range, the model. */
typedef struct conv_data {
    float *wt, *bias, *x;
    double *ref, range;
    uint8_t *bytes;
    size_t len, ny;
} conv_data;

static void conv_data_make(const ccase *c, int batch, int oh, int ow, conv_data *d)
{
    size_t nw = (size_t)c->oc * (size_t)c->c * 9, nx = (size_t)batch * c->c * c->h * c->w;
    d->ny = (size_t)batch * c->oc * oh * ow;
    d->wt = malloc(nw * sizeof *d->wt);
    d->bias = malloc((size_t)c->oc * sizeof *d->bias);
    d->x = malloc(nx * sizeof *d->x);
    d->ref = malloc(d->ny * sizeof *d->ref);
    double ws = 1.0 / sqrt(9.0 * c->c);
    for (size_t i = 0; i < nw; i++) d->wt[i] = (float)(uniform() * 2 * ws);
    for (int i = 0; i < c->oc; i++) d->bias[i] = 0.1f * uniform();
    for (size_t i = 0; i < nx; i++) d->x[i] = 2.f * uniform();
    reference(c, batch, d->x, d->wt, d->bias, oh, ow, d->ref);
    double lo = d->ref[0], hi = d->ref[0];
    for (size_t i = 0; i < d->ny; i++) {
        lo = fmin(lo, d->ref[i]);
        hi = fmax(hi, d->ref[i]);
    }
    d->range = hi - lo;
    d->bytes = build(c, d->wt, d->bias, &d->len);
}

static void conv_data_free(conv_data *d)
{
    free(d->bytes);
    free(d->wt);
    free(d->bias);
    free(d->x);
    free(d->ref);
}

/* The rule's cases on shapes of DPT (conv_algo.c): refused: the F(4x4)
** kernel would block this shape's tiles badly, so the default runs direct in
** nChw16c (differs from "winograd", output nChw16c); otherwise the default
** is Winograd's. And "gemm": oneDNN's im2col + sgemm, a plain output. */
static void check_rule(int avx512, const ccase *c, int batch, int refused)
{
    conv_data d;
    conv_data_make(c, batch, c->h, c->w, &d);
    size_t ny = d.ny;
    const double *ref = d.ref;
    static const char *algos[] = {NULL, "winograd", "direct", "gemm"};
    float *y[4];
    int lay[4];
    CHECKF(d.range > 0.5, "%s: range %g", c->name, d.range);
    for (int a = 0; a < 4; a++) {
        y[a] = run_layout(d.bytes, d.len, c, batch, d.x, algos[a], ny, &lay[a]);
        double md = 0;
        for (size_t i = 0; y[a] && i < ny; i++) {
            double e = fabs(y[a][i] - ref[i]);
            if (!(e <= md)) md = e;
        }
        printf("%s, batch %d, %s: max |diff| %.3g (%.2g of range), conv output %s\n", c->name,
               batch, algos[a] ? algos[a] : "the rule", md, md / d.range,
               lay[a] == 1 ? "nChw16c" : lay[a] == 0 ? "plain" : "other");
        CHECKF(y[a] && md <= 1e-5 * d.range, "%s, %s: differs by %.3g", c->name,
               algos[a] ? algos[a] : "the rule", md);
    }
    if (avx512 && y[0] && y[1]) {
        int same = !memcmp(y[0], y[1], ny * sizeof(float));
        if (refused) {
            CHECKF(!same, "%s: the rule ran the F(4x4) Winograd kernel", c->name);
            CHECKF(lay[0] == 1, "%s: the direct conv's output is not nChw16c", c->name);
        } else {
            CHECKF(same, "%s: the rule did not run Winograd", c->name);
        }
        CHECKF(lay[3] == 0, "%s: gemm's output is not plain", c->name);
    }
    for (int a = 0; a < 4; a++) free(y[a]);
    conv_data_free(&d);
}

int main(void)
{
    (void)ob_init_i64;
    (void)ob_attr_i;
    (void)ob_attr_f;
    static const ccase cases[] = {
        /* 20x20: not a multiple of Winograd's 4x4 output tiles */
        {"32->32 3x3, 20x20, Relu", 32, 32, 20, 20, 1, POST_RELU, 1},
        {"64->64 3x3, 16x16, residual Add", 64, 64, 16, 16, 1, POST_RESID, 1},
        /* oneDNN 2.x's Winograd kernels fuse Relu and sum only: this one
        ** takes the fallback to direct (accuracy checked, no bit check) */
        {"48->64 3x3, 12x12, Clip 0..6", 48, 64, 12, 12, 1, POST_CLIP, -1},
        {"16->32 3x3 (too few channels), Relu", 16, 32, 20, 20, 1, POST_RELU, 0},
        {"32->32 3x3 stride 2, Relu", 32, 32, 20, 20, 2, POST_RELU, 0},
    };
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int avx512 = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
    if (!avx512) printf("no AVX-512: Winograd is not expected to run (direct everywhere)\n");
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const ccase *c = &cases[ci];
        const int batch = 2;
        int oh = (c->h - 1) / c->stride + 1, ow = (c->w - 1) / c->stride + 1;
        conv_data d;
        conv_data_make(c, batch, oh, ow, &d);
        size_t ny = d.ny;
        const double *ref = d.ref;
        float *yd = run(d.bytes, d.len, c, batch, d.x, NULL, ny);
        float *yr = run(d.bytes, d.len, c, batch, d.x, "direct", ny);
        if (yd && yr) {
            double md = 0, mr = 0;
            for (size_t i = 0; i < ny; i++) {
                double e = fabs(yd[i] - ref[i]), r = fabs(yr[i] - ref[i]);
                if (!(e <= md)) md = e;
                if (!(r <= mr)) mr = r;
            }
            double range = d.range;
            int same = !memcmp(yd, yr, ny * sizeof(float));
            printf("%s: range %.3g, max |diff| default %.3g (%.2g of range), direct %.3g; %s\n",
                   c->name, range, md, md / range, mr, same ? "bit-identical" : "differ");
            CHECKF(range > 0.5, "%s: range %g", c->name, range);
            CHECKF(md <= 1e-5 * range, "%s: default differs by %.3g", c->name, md);
            CHECKF(mr <= 1e-5 * range, "%s: direct differs by %.3g", c->name, mr);
            if (c->winograd == 1 && avx512)
                CHECKF(!same, "%s: the default run is the direct kernel's (no Winograd)", c->name);
            else if (c->winograd == 0 || !avx512)
                CHECKF(same, "%s: the default run is not the direct kernel's", c->name);
        }
        free(yd);
        free(yr);
        conv_data_free(&d);
    }
    /* DPT's fusion convs at 518x518 (148x148: 37 x 37 tiles) and odd sizes */
    static const ccase rule_cases[] = {
        {"64->64 3x3, 148x148, residual Add", 64, 64, 148, 148, 1, POST_RESID, 0},
        {"48->64 3x3, 148x148, Relu", 48, 64, 148, 148, 1, POST_RELU, 0},
        {"96->64 3x3, 37x37, Relu", 96, 64, 37, 37, 1, POST_RELU, 1},
        {"64->64 3x3, 44x44, residual Add", 64, 64, 44, 44, 1, POST_RESID, 1},
    };
    check_rule(avx512, &rule_cases[0], 1, 1);
    check_rule(avx512, &rule_cases[1], 1, 1);
    check_rule(avx512, &rule_cases[2], 2, 0);
    check_rule(avx512, &rule_cases[3], 2, 0);
    check_chain(avx512, 16, 0, 1, 20, 20);
    check_chain(avx512, 1, 1, 2, 19, 23);
    check_chain(avx512, 3, 0, 2, 13, 9);
    return check_summary();
}

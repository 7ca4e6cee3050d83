/*
** test_deconv_patch.c: ConvTranspose whose strides equal its kernel (DPT's
** 4x4/4 and 2x2/2 upsampling), which the CPU runs as one GEMM and a
** scatter (ops_deconv.c, patch_run), against the formula in double
** precision: odd channel counts and sizes, a non-square kernel (3x2/3x2),
** batch 2, with and without a bias; each case also with
** DI_NN_DECONV_ALGO=onednn (oneDNN's deconvolution, as before) and a case
** with pads, which stays with oneDNN. Outputs within 1e-5 of their range.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/engine.h"
#include "onnx_build.h"
#include "test_session.h"

static uint64_t rng = 11;

static float uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

typedef struct dcase {
    const char *name;
    int c, oc, h, w, k0, k1, pad, bias;
} dcase;

static void check_case(const dcase *c, const char *algo)
{
    enum { N = 2 };
    int oh = c->h * c->k0 - 2 * c->pad, ow = c->w * c->k1 - 2 * c->pad;
    size_t nx = (size_t)N * c->c * c->h * c->w, nw = (size_t)c->c * c->oc * c->k0 * c->k1;
    size_t ny = (size_t)N * c->oc * oh * ow;
    float *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt), *b = malloc((size_t)c->oc * sizeof *b);
    double *ref = calloc(ny, sizeof *ref);
    for (size_t i = 0; i < nx; i++) x[i] = uniform();
    for (size_t i = 0; i < nw; i++) wt[i] = uniform();
    for (int i = 0; i < c->oc; i++) b[i] = c->bias ? uniform() : 0.f;
    /* y[n, o, h k0 + i - pad, w k1 + j - pad] += x[n, ci, h, w] W[ci, o, i, j] */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < c->oc; o++) {
            for (int i = 0; i < oh * ow; i++) ref[((size_t)n * c->oc + o) * oh * ow + i] = b[o];
            for (int ci = 0; ci < c->c; ci++)
                for (int h = 0; h < c->h; h++)
                    for (int w = 0; w < c->w; w++)
                        for (int i = 0; i < c->k0; i++)
                            for (int j = 0; j < c->k1; j++) {
                                int yy = h * c->k0 + i - c->pad, xx = w * c->k1 + j - c->pad;
                                if (yy < 0 || yy >= oh || xx < 0 || xx >= ow) continue;
                                ref[(((size_t)n * c->oc + o) * oh + yy) * ow + xx] +=
                                    (double)x[(((size_t)n * c->c + ci) * c->h + h) * c->w + w] *
                                    wt[(((size_t)ci * c->oc + o) * c->k0 + i) * c->k1 + j];
                            }
        }
    ob bld;
    ob_init(&bld, 17);
    ob_input(&bld, "x", 4, (int64_t[]){N, c->c, c->h, c->w}, "B");
    ob_init_f(&bld, "w", 4, (int64_t[]){c->c, c->oc, c->k0, c->k1}, wt);
    if (c->bias) ob_init_f(&bld, "b", 1, (int64_t[]){c->oc}, b);
    Onnx__NodeProto *nd = ob_node(&bld, "ConvTranspose", c->bias ? "x,w,b" : "x,w", "y");
    ob_attr_ints(&bld, nd, "kernel_shape", 2, (int64_t[]){c->k0, c->k1});
    ob_attr_ints(&bld, nd, "strides", 2, (int64_t[]){c->k0, c->k1});
    ob_attr_ints(&bld, nd, "pads", 4, (int64_t[]){c->pad, c->pad, c->pad, c->pad});
    ob_output(&bld, "y");
    size_t len;
    uint8_t *bytes = ob_pack(&bld, &len);
    ob_free(&bld);
    if (algo) setenv("DI_NN_DECONV_ALGO", algo, 1);
    di_nn_session *s = test_session_mem(bytes, len, c->name, NULL);
    if (s) {
        di_nn_io in = {DI_DT_FLOAT, 4, {N, c->c, c->h, c->w}, x};
        di_nn_io out = {0};
        if (!test_run_io(s, &in, 1, &out, 1, c->name)) {
            CHECK(out.ndim == 4 && out.dims[0] == N && out.dims[1] == c->oc && out.dims[2] == oh &&
                  out.dims[3] == ow);
            double md = 0, lo = 1e30, hi = -1e30;
            for (size_t i = 0; i < ny; i++) {
                double d = fabs(((float *)out.data)[i] - ref[i]);
                if (!(d <= md)) md = d;
                lo = fmin(lo, ref[i]);
                hi = fmax(hi, ref[i]);
            }
            printf("%s%s: range %.3g, max |diff| %.3g\n", c->name, algo ? " (oneDNN)" : "", hi - lo, md);
            CHECKF(hi - lo > 0.5 && md <= 1e-5 * (hi - lo), "%s%s: max |diff| %.3g of %.3g", c->name,
                   algo ? " (oneDNN)" : "", md, hi - lo);
            free(out.data);
        }
        di_nn_session_destroy(s);
    }
    unsetenv("DI_NN_DECONV_ALGO");
    free(bytes);
    free(x);
    free(wt);
    free(b);
    free(ref);
}

int main(void)
{
    (void)ob_init_i64;
    (void)ob_attr_i;
    (void)ob_attr_f;
    static const dcase cases[] = {
        {"48->48 4x4/4, 37x37, bias", 48, 48, 37, 37, 4, 4, 0, 1},
        {"5->7 3x2/3x2, 5x6, bias", 5, 7, 5, 6, 3, 2, 0, 1},
        {"9->3 2x2/2, 7x3, no bias", 9, 3, 7, 3, 2, 2, 0, 0},
        {"6->4 2x2/2, pads 1 (oneDNN)", 6, 4, 6, 5, 2, 2, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(&cases[i], NULL);
        check_case(&cases[i], "onednn");
    }
    return check_summary();
}

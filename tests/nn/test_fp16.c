/*
** test_fp16.c: float16 files (tests/nn/fp16_convert.h: a Depth Anything V2
** small-shaped graph with float16 weights and activations, float32 I/O by
** Casts at both ends, Resize scales in float32, as onnx-community's
** model_fp16.onnx). Before: "element type float16 is not supported". Now it
** loads, computes in float32 (weights widened once) with the Cast to float16
** rounding, and matches onnxruntime running the same file on the same input
** within 2e-2 of the output range, at batch 1 and 2. Also the float16
** rounding itself: nearest even, subnormals, overflow to infinity.
** With an argument FILE: writes a small such file there (the fuzz corpus's
** fuzz/corpus/onnx/dav2_tiny_fp16.onnx was made that way).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oracle.h"
#include "dav2_graph.h"
#include "fp16_convert.h"
#include "nn/engine.h"
#include "test_files.h"
#include "test_session.h"

enum { GRID = 8, IMG = GRID * DAV2_PATCH, B = 2 };

static void rounding(void)
{
    CHECK(di_fp16_round(1.0f) == 1.0f);
    CHECK(di_fp16_round(0.1f) == 0.0999755859375f);
    CHECK(di_fp16_round(1.00048828125f) == 1.0f);         /* half an ulp: to even */
    CHECK(di_fp16_round(1.00146484375f) == 1.001953125f); /* 1.5 ulp: to even (up) */
    CHECK(di_fp16_round(65504.f) == 65504.f);
    CHECK(isinf(di_fp16_round(65520.f)) && di_fp16_round(-65520.f) < 0);
    CHECK(di_fp16_round(65519.f) == 65504.f);
    CHECK(di_fp16_round(1e-7f) == ldexpf(1, -23)); /* subnormal: multiples of 2^-24 */
    CHECK(di_fp16_round(1e-9f) == 0.f);
    CHECK(isnan(di_fp16_round(NAN)));
    CHECK(di_fp16_to_f32(0x3c00) == 1.f && di_fp16_to_f32(0xc000) == -2.f && di_fp16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK(isinf(di_fp16_to_f32(0x7c00)) && isnan(di_fp16_to_f32(0x7e00)));
}

int main(int argc, char **argv)
{
    if (argc > 1) { /* a small float16 file for the fuzz corpus */
        dav2_cfg tiny = {.dim = 24, .heads = 2, .grid = 2, .blocks = 4, .features = 8};
        ob t;
        dav2_build(&t, &tiny);
        ob_to_fp16(&t, "image", "depth");
        int rc = ob_write(&t, argv[1]);
        ob_free(&t);
        return rc ? 1 : 0;
    }
    rounding();
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    if (!src || !*src) src = ".";
    char dir[900], model[1000], xin[1000], xref[1000];
    if (test_dir(dir, sizeof dir, "fp16")) return 1;
    char why[1200];
    if (ort_ready(src, why, sizeof why)) {
        check_summary();
        return oracle_missing(why);
    }
    snprintf(model, sizeof model, "%s/dav2_fp16.onnx", dir);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    snprintf(xref, sizeof xref, "%s/ref.npy", dir);
    dav2_cfg cfg = {.dim = 192, .heads = 3, .grid = GRID, .blocks = 4, .features = 32};
    ob b;
    dav2_build(&b, &cfg);
    ob_to_fp16(&b, "image", "depth");
    CHECK(ob_write(&b, model) == 0);
    ob_free(&b);

    size_t per = 3 * (size_t)IMG * IMG, on = (size_t)IMG * IMG;
    float *x = malloc(B * per * sizeof(float));
    dav2_b rnd = {.rng = 5};
    for (size_t i = 0; i < B * per; i++) x[i] = (float)dav2_randn(&rnd);
    CHECK(write_npy(xin, x, (int64_t[]){B, 3, IMG, IMG}, 4) == 0);
    float *ref = ort_reference(src, model, xin, xref, 2, B * on);
    di_nn_session *s = test_session(model, NULL, "fp16");
    if (s && ref) test_batches_against(s, x, ref, B, on, "fp16", 2e-2);
    di_nn_session_destroy(s);
    free(ref);
    free(x);
    return check_summary();
}

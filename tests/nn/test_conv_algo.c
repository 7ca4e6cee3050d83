/*
** test_conv_algo.c: the float32 Conv's algorithm rule (cpu/conv_algo.c)
** as a function of the shape, without running a conv:
**   - di_nn_conv_pick: Winograd for dense 3x3 stride-1 convs with 32+
**     input and output channels and an output of 8x8 or more, direct for the
**     rest; DI_NN_CONV_ALGO's values (direct, winograd, gemm) override it;
**   - di_nn_conv_wino_ok: oneDNN's F(4x4,3x3) kernel is refused where its
**     tile count (batch x ceil(OH/4) x ceil(OW/4)) has no divisor from 4 to
**     31 (DPT at 518x518: 148x148, 37 x 37 tiles), kept at 144x144,
**     152x152, 112x148 and 296x296 (block 4) and for the F(2x2,3x3) kernel;
**     the knob "winograd" (the rule before it) keeps every one.
** Reverting the rule (Winograd wherever oneDNN offers it) fails the 148x148
** checks.
*/
#include <stdio.h>

#include "check.h"
#include "cpu/conv_algo.h"

static di_nn_conv_shape shape(int64_t n, int64_t c, int64_t oc, int64_t k, int64_t stride,
                              int64_t oh, int64_t ow)
{
    return (di_nn_conv_shape){.n = n,
                              .c = c,
                              .oc = oc,
                              .kh = k,
                              .kw = k,
                              .group = 1,
                              .stride = {stride, stride},
                              .dil = {1, 1},
                              .out = {oh, ow}};
}

static const char *W43 = "jit_wino_4x3:avx512_core", *W23 = "jit_fp32_wino_2x3:avx512_core";

int main(void)
{
    di_nn_conv_shape s;
    /* pick */
    s = shape(1, 64, 64, 3, 1, 148, 148);
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_WINOGRAD);
    CHECK(di_nn_conv_pick("direct", &s) == DI_CONV_DIRECT);
    CHECK(di_nn_conv_pick("winograd", &s) == DI_CONV_WINOGRAD);
    CHECK(di_nn_conv_pick("gemm", &s) == DI_CONV_GEMM);
    s = shape(1, 16, 32, 3, 1, 64, 64); /* too few input channels */
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_DIRECT);
    CHECK(di_nn_conv_pick("gemm", &s) == DI_CONV_DIRECT);
    s = shape(1, 64, 64, 3, 2, 74, 74); /* strided */
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_DIRECT);
    s = shape(1, 64, 64, 1, 1, 148, 148); /* 1x1 */
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_DIRECT);
    s = shape(1, 512, 512, 3, 1, 4, 4); /* below 8x8 */
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_DIRECT);
    s = shape(1, 64, 64, 3, 1, 148, 148);
    s.group = 64; /* depthwise */
    CHECK(di_nn_conv_pick(NULL, &s) == DI_CONV_DIRECT);

    /* wino_ok: the F(4x4) kernel's tile blocks */
    static const struct {
        int64_t n, oh, ow;
        int ok;
    } t[] = {
        {1, 148, 148, 0}, /* 1369 = 37 x 37 tiles: block 1 (DPT static 518) */
        {2, 148, 148, 0}, /* 2738: block 2 */
        {1, 145, 147, 0}, /* ceil to 37 x 37 as well */
        {1, 4, 148, 0},   /* 37 tiles */
        {3, 4, 148, 0},   /* 111 = 3 x 37: block 3 */
        {1, 144, 144, 1}, /* 1296: 27 */
        {1, 152, 152, 1}, /* 1444: 19 */
        {1, 112, 148, 1}, /* 1036: 28 (DPT 518x392) */
        {1, 296, 296, 1}, /* 5476 = 4 x 37 x 37: 4 */
        {1, 518, 518, 1}, /* 16900: 26 */
        {4, 256, 256, 1}, /* MiDaS small batch 4: 16384 */
        {1, 8, 8, 1},     /* 4 tiles: block 4 */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        s = shape(t[i].n, 64, 64, 3, 1, t[i].oh, t[i].ow);
        int ok = di_nn_conv_wino_ok(NULL, W43, &s);
        printf("F(4x4) batch %lld, %lldx%lld: %s\n", (long long)t[i].n, (long long)t[i].oh,
               (long long)t[i].ow, ok ? "Winograd" : "direct");
        CHECKF(ok == t[i].ok, "batch %lld %lldx%lld: wino_ok %d, expected %d", (long long)t[i].n,
               (long long)t[i].oh, (long long)t[i].ow, ok, t[i].ok);
        CHECK(di_nn_conv_wino_ok("winograd", W43, &s)); /* the old rule keeps it */
        CHECK(di_nn_conv_wino_ok(NULL, W23, &s));       /* the F(2x2) kernel is kept */
    }
    CHECK(di_nn_conv_wino_ok(NULL, NULL, &s));
    return check_summary();
}

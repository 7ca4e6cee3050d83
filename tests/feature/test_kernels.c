/*
** test_kernels.c: the vectorised forms of the score's passes give the same
** bits as the generic C forms (di_feature_generic) on one machine: min/max
** with the finiteness check, the 8-bit depth and its histogram (whose
** AVX-512 form multiplies by 1 / range and divides only where the product
** could truncate differently), on maps built to hit that case: values whose
** quotient lies within a few ulps of an integer, flat areas at the minimum
** and maximum, steep ramps, noise, tiny and huge ranges; and the whole
** score with its labels and edges. Where the build has
** no vectorised form the two runs take the same path and agree trivially.
*/
#include "check.h"
#include "feature/feature.h"
#include "feature/feature_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* U by the spec's formula, one pixel at a time. */
static uint8_t spec_u(float d, float mn, float mx)
{
    volatile float a = (d - mn) * 255.0f;
    volatile float q = a / (mx - mn);
    return (uint8_t)(int)q;
}

/* A depth value whose quotient is the float next to integer k (below or
** above, by `step` ulps of d), for the range [mn, mx]. */
static float near_threshold(float mn, float mx, int k, int step)
{
    float d = mn + (mx - mn) * ((float)k / 255.0f);
    for (int s = 0; s < abs(step); s++)
        d = nextafterf(d, step < 0 ? -INFINITY : INFINITY);
    return d < mn ? mn : d > mx ? mx : d;
}

static int fill(float *d, size_t n, int kind, float mn, float mx)
{
    for (size_t i = 0; i < n; i++) {
        float t = (float)(rnd() % 1000000) / 1e6f;
        switch (kind) {
        case 0: /* noise */
            d[i] = mn + (mx - mn) * t;
            break;
        case 1: /* around every threshold, a few ulps either side */
            d[i] = near_threshold(mn, mx, (int)(rnd() % 256),
                                  (int)(rnd() % 9) - 4);
            break;
        case 2: /* flat at both ends with a ramp between, runs of 64+ */
            d[i] = (i / 97) % 3 == 0 ? mn : (i / 97) % 3 == 1 ? mx
                   : mn + (mx - mn) * (float)(i % 512) / 511.0f;
            break;
        default: /* smooth: a slow ramp with steps */
            d[i] = mn + (mx - mn) * (float)((i * 7) % 4096) / 4095.0f;
            break;
        }
    }
    d[0] = mn; /* the extremes are present */
    d[n - 1] = mx;
    return 0;
}

static void test_depth8_forms_agree(void)
{
    const size_t sizes[] = {1, 15, 64, 65, 1000, 262144 + 37};
    const float ranges[][2] = {{0.0f, 1.0f},      {-3.5f, 1234.25f},
                               {1.0f, 1.0000305f}, {0.0f, 3e-36f},
                               {1e-30f, 2e-30f},  {-1e35f, 1e35f},
                               {100.0f, 355.0f},  {7.0f, 7.0f}};
    int bad_u = 0, bad_hist = 0, bad_mm = 0, bad_spec = 0, cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = sizes[si];
        float *d = malloc(n * sizeof(float));
        uint8_t *u0 = malloc(n), *u1 = malloc(n);
        CHECK(d && u0 && u1);
        for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++)
            for (int kind = 0; kind < 4; kind++) {
                float mn = ranges[ri][0], mx = ranges[ri][1];
                fill(d, n, kind, mn, mx);
                float mn0, mx0, mn1, mx1;
                uint64_t h0[256], h1[256];
                di_feature_generic = 1;
                size_t b0 = di_depth_minmax(d, n, &mn0, &mx0);
                di_feature_generic = 0;
                size_t b1 = di_depth_minmax(d, n, &mn1, &mx1);
                cases++;
                bad_mm += b0 != b1 || (b0 == n && (mn0 != mn1 || mx0 != mx1));
                if (b0 != n) { /* the fill overflowed float: nothing to scale */
                    di_feature_generic = 0;
                    continue;
                }
                di_feature_generic = 1;
                di_depth8_hist(d, n, mn0, mx0, u0, h0);
                di_feature_generic = 0;
                di_depth8_hist(d, n, mn1, mx1, u1, h1);
                bad_u += memcmp(u0, u1, n) != 0;
                bad_hist += memcmp(h0, h1, sizeof h0) != 0;
                if (mx0 > mn0)
                    for (size_t i = 0; i < n; i++)
                        if (u0[i] != spec_u(d[i], mn0, mx0)) {
                            bad_spec++;
                            break;
                        }
            }
        free(d), free(u0), free(u1);
    }
    CHECKF(bad_mm == 0, "%d of %d maps: min/max differ between the forms", bad_mm, cases);
    CHECKF(bad_u == 0, "%d of %d maps: 8-bit depth differs between the forms", bad_u, cases);
    CHECKF(bad_hist == 0, "%d of %d maps: histogram differs between the forms", bad_hist, cases);
    CHECKF(bad_spec == 0, "%d of %d maps: 8-bit depth differs from the formula", bad_spec, cases);
}

/* The first non-finite value is found by both forms, wherever it is. */
static void test_minmax_nonfinite(void)
{
    const size_t n = 4099;
    float *d = malloc(n * sizeof(float));
    CHECK(d != NULL);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const size_t at[] = {0, 1, 15, 16, 31, 32, 33, 1000, 4095, 4096, 4098};
    int wrong = 0;
    for (size_t b = 0; b < 3; b++)
        for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
            for (size_t i = 0; i < n; i++)
                d[i] = (float)(i % 77);
            d[at[k]] = bad[b];
            if (at[k] + 5 < n)
                d[at[k] + 5] = bad[(b + 1) % 3]; /* a later one is not it */
            for (int g = 0; g < 2; g++) {
                di_feature_generic = g;
                float mn = 0, mx = 0;
                wrong += di_depth_minmax(d, n, &mn, &mx) != at[k];
            }
        }
    di_feature_generic = 0;
    CHECKF(wrong == 0, "%d first non-finite indices wrong", wrong);
    free(d);
}

/* The whole score: the same 8-bit depth, labels, edges and score bits with
** the generic forms and the vectorised ones (labels by a VBMI table lookup,
** the Sobel's flat blocks skipped in both). Maps: smooth layers with steps
** (flat blocks and boundaries), noise, odd sizes. */
static void test_score_forms_agree(void)
{
    const int sizes[][2] = {{512, 512}, {333, 97}, {64, 65}, {1, 300}, {130, 1}};
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_ws *w0 = di_feature_ws_create(), *w1 = di_feature_ws_create();
    CHECK(w0 && w1);
    int bad = 0, runs = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int kind = 0; kind < 3; kind++) {
            const int w = sizes[si][0], h = sizes[si][1];
            const size_t n = (size_t)w * (size_t)h;
            float *d = malloc(n * sizeof(float));
            CHECK(d != NULL);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float v = kind == 0 ? (float)((x / 40 + y / 30) % 5) * 3.0f
                              : kind == 1 ? (float)(rnd() % 1000) * 0.01f
                                          : 10.0f + (float)x * 0.05f + (float)(y / 50);
                    d[(size_t)y * w + x] = v;
                }
            di_feature_result r0, r1;
            di_error e;
            di_feature_generic = 1;
            int rc0 = di_feature_compute(w0, d, w, h, &p, &r0, &e);
            di_feature_generic = 0;
            int rc1 = di_feature_compute(w1, d, w, h, &p, &r1, &e);
            runs++;
            if (rc0 != rc1 || (rc0 == DI_OK &&
                (memcmp(&r0.score, &r1.score, sizeof r0.score) != 0 ||
                 memcmp(di_feature_depth8(w0), di_feature_depth8(w1), n) != 0 ||
                 memcmp(di_feature_labels(w0), di_feature_labels(w1), n) != 0 ||
                 memcmp(di_feature_edges(w0), di_feature_edges(w1), n) != 0)))
                bad++;
            free(d);
        }
    CHECKF(bad == 0, "%d of %d maps score differently in the two forms", bad, runs);
    di_feature_ws_destroy(w0);
    di_feature_ws_destroy(w1);
}

/* A workspace that does not keep the 8-bit depth computes the labels over
** it in place (the table lookup with VBMI, the step form from a copy of
** each chunk otherwise) and the edges over those: the same edges and score
** bits as one that keeps them, in both forms; depth8 and labels are then
** NULL and the panel refuses. Maps of several chunks (the step form's 8192
** bytes) and odd sizes. */
static void test_labels_in_place(void)
{
    const int sizes[][2] = {{512, 512}, {333, 97}, {100, 83}, {1, 300}};
    di_feature_params p;
    di_feature_params_default(&p);
    p.k = 6;
    di_feature_ws *keep = di_feature_ws_create(), *drop = di_feature_ws_create();
    CHECK(keep && drop);
    di_feature_ws_keep_images(drop, false);
    int bad = 0, runs = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int kind = 0; kind < 2; kind++)
            for (int g = 0; g < 2; g++) {
                const int w = sizes[si][0], h = sizes[si][1];
                const size_t n = (size_t)w * (size_t)h;
                float *d = malloc(n * sizeof(float));
                CHECK(d != NULL);
                for (size_t i = 0; i < n; i++)
                    d[i] = kind == 0 ? (float)((i % (size_t)w) / 7 + i / (size_t)w / 5)
                                     : (float)(rnd() % 1000) * 0.01f;
                di_feature_result r0, r1;
                di_error e;
                di_feature_generic = g;
                int rc0 = di_feature_compute(keep, d, w, h, &p, &r0, &e);
                int rc1 = di_feature_compute(drop, d, w, h, &p, &r1, &e);
                di_feature_generic = 0;
                runs++;
                if (rc0 != DI_OK || rc1 != DI_OK ||
                    memcmp(&r0.score, &r1.score, sizeof r0.score) != 0 ||
                    di_feature_depth8(drop) != NULL || di_feature_depth8(keep) == NULL ||
                    di_feature_labels(drop) != NULL || di_feature_labels(keep) == NULL ||
                    memcmp(di_feature_edges(keep), di_feature_edges(drop), n) != 0)
                    bad++;
                free(d);
            }
    CHECKF(bad == 0, "%d of %d maps differ with the labels computed in place", bad, runs);
    di_feature_result r;
    di_error e;
    float flat[6] = {1, 2, 3, 4, 5, 6};
    CHECK(di_feature_compute(drop, flat, 3, 2, &p, &r, &e) == DI_OK);
    CHECK(di_feature_save_panel(drop, &p, &r, "t", "/nonexistent/never-written.png", &e) ==
          DI_EINVAL);
    CHECK(strstr(e.msg, "did not keep the 8-bit depth") != NULL);
    /* kept again: depth8 is back with the next computation */
    di_feature_ws_keep_images(drop, true);
    CHECK(di_feature_labels(drop) == NULL);
    CHECK(di_feature_compute(drop, flat, 3, 2, &p, &r, &e) == DI_OK);
    CHECK(di_feature_depth8(drop) != NULL && di_feature_labels(drop) != NULL &&
          di_feature_depth8(drop) != di_feature_edges(drop));
    di_feature_ws_destroy(keep);
    di_feature_ws_destroy(drop);
}

int main(void)
{
    test_depth8_forms_agree();
    test_minmax_nonfinite();
    test_score_forms_agree();
    test_labels_in_place();
    return check_summary();
}

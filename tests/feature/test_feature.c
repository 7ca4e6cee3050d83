/*
** test_feature.c: unit tests of the feature and its image operations:
** exact k-means against brute force, ties, k larger than the number of
** distinct values, constant maps, the weighted-sum score against the mean of
** our own full blur, Gaussian kernels against OpenCV's values, non-finite
** depth, bad parameters, workspace reuse.
*/
#include "check.h"
#include "feature/feature.h"
#include "feature/feature_internal.h"
#include "imgproc/imgproc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* ---- k-means against brute force ---------------------------------------- */

/* Within-cluster sum of squares of a partition given by cluster starts over
** the distinct values (vals, cnt), in long double; centres out. */
static long double partition_cost(const int *vals, const uint64_t *cnt, int m,
                                  const int *starts, int K, double *centres)
{
    long double total = 0;
    for (int c = 0; c < K; c++) {
        int a = starts[c], b = c + 1 < K ? starts[c + 1] : m;
        long double n = 0, s1 = 0;
        for (int i = a; i < b; i++)
            n += cnt[i], s1 += (long double)cnt[i] * vals[i];
        long double mean = s1 / n;
        for (int i = a; i < b; i++)
            total += cnt[i] * (vals[i] - mean) * (vals[i] - mean);
        centres[c] = (double)mean;
    }
    return total;
}

/* Visits all ways to cut m values into K contiguous non-empty groups. */
static void brute(const int *vals, const uint64_t *cnt, int m, int K,
                  int *starts, int c, long double *best, double *best_centres,
                  int *n_best)
{
    if (c == K) {
        double cen[DI_KMEANS_MAX_K];
        long double cost = partition_cost(vals, cnt, m, starts, K, cen);
        if (cost < *best - 1e-9L * (1 + *best)) {
            *best = cost;
            memcpy(best_centres, cen, sizeof(double) * (size_t)K);
            *n_best = 1;
        } else if (cost <= *best + 1e-9L * (1 + *best)) {
            (*n_best)++;
        }
        return;
    }
    int lo = c == 0 ? 0 : starts[c - 1] + 1;
    int hi = m - (K - c);
    if (c == 0)
        lo = hi = 0;
    for (int s = lo; s <= hi; s++) {
        starts[c] = s;
        brute(vals, cnt, m, K, starts, c + 1, best, best_centres, n_best);
    }
}

static void test_kmeans_brute_force(void)
{
    int unique_cases = 0;
    for (int trial = 0; trial < 300; trial++) {
        uint64_t hist[256] = {0};
        int m_want = 1 + (int)(rnd() % 9);
        for (int i = 0; i < m_want; i++)
            hist[rnd() % 256] += 1 + rnd() % (trial % 3 == 0 ? 3 : 1000);
        int vals[256];
        uint64_t cnt[256];
        int m = 0;
        for (int v = 0; v < 256; v++)
            if (hist[v])
                vals[m] = v, cnt[m] = hist[v], m++;
        int k = 1 + (int)(rnd() % 6);
        double centres[DI_KMEANS_MAX_K];
        int k_eff = 0;
        di_error err;
        CHECK(di_kmeans_hist(hist, k, centres, &k_eff, &err) == DI_OK);
        int K = k < m ? k : m;
        CHECK(k_eff == K);
        for (int c = 1; c < k_eff; c++)
            CHECK(centres[c] > centres[c - 1]);

        int starts[DI_KMEANS_MAX_K];
        long double best = 1e300L;
        double best_centres[DI_KMEANS_MAX_K];
        int n_best = 0;
        brute(vals, cnt, m, K, starts, 0, &best, best_centres, &n_best);

        /* Our cost: each value to the nearest of the centres we report. */
        long double ours = 0;
        for (int i = 0; i < m; i++) {
            long double bd = 1e300L;
            for (int c = 0; c < k_eff; c++) {
                long double d = vals[i] - (long double)centres[c];
                bd = d * d < bd ? d * d : bd;
            }
            ours += cnt[i] * bd;
        }
        CHECKF(ours <= best + 1e-9L * (1 + best),
               "trial %d: ours %.12Lg, brute force %.12Lg", trial, ours, best);
        if (n_best == 1) {
            unique_cases++;
            for (int c = 0; c < K; c++)
                CHECK_NEAR(centres[c], best_centres[c], 1e-9);
        }
    }
    CHECK(unique_cases > 200);
}

static void test_kmeans_ties_and_small(void)
{
    double c[DI_KMEANS_MAX_K];
    int k_eff;
    di_error err;
    /* Values 0, 1, 2 once each, k = 2: {0}{1,2} and {0,1}{2} cost the same;
    ** the rule keeps the last cluster's start earliest: {0}{1,2}. */
    uint64_t h[256] = {0};
    h[0] = h[1] = h[2] = 1;
    CHECK(di_kmeans_hist(h, 2, c, &k_eff, &err) == DI_OK);
    CHECK(k_eff == 2);
    CHECK_NEAR(c[0], 0.0, 0);
    CHECK_NEAR(c[1], 1.5, 0);

    /* k larger than the number of distinct values: one cluster per value. */
    memset(h, 0, sizeof h);
    h[10] = 5, h[200] = 7, h[255] = 1;
    CHECK(di_kmeans_hist(h, 4, c, &k_eff, &err) == DI_OK);
    CHECK(k_eff == 3);
    CHECK(c[0] == 10 && c[1] == 200 && c[2] == 255);

    /* Label tie: value 1 is as near to centre 0 as to centre 2 -> lower. */
    double cen[2] = {0, 2};
    uint8_t lut[256];
    di_kmeans_label_lut(cen, 2, lut);
    CHECK(lut[0] == 0 && lut[1] == 0 && lut[2] == 255 && lut[255] == 255);
    double cen4[4] = {10, 90, 170, 250};
    di_kmeans_label_lut(cen4, 4, lut);
    CHECK(lut[50] == 0 && lut[51] == 85 && lut[130] == 85 && lut[131] == 170 &&
          lut[211] == 255);

    /* One value. */
    memset(h, 0, sizeof h);
    h[77] = 100;
    CHECK(di_kmeans_hist(h, 4, c, &k_eff, &err) == DI_OK);
    CHECK(k_eff == 1 && c[0] == 77);

    /* Bad k, empty histogram. */
    CHECK(di_kmeans_hist(h, 0, c, &k_eff, &err) == DI_EINVAL);
    CHECK(di_kmeans_hist(h, DI_KMEANS_MAX_K + 1, c, &k_eff, &err) == DI_EINVAL);
    memset(h, 0, sizeof h);
    CHECK(di_kmeans_hist(h, 4, c, &k_eff, &err) == DI_EINVAL);
}

/* ---- Gaussian kernel ---------------------------------------------------- */

static void test_gaussian_kernel(void)
{
    double k[71];
    di_error err;
    /* Values from cv2.getGaussianKernel(ksize, sigma, CV_64F), OpenCV 4.6. */
    CHECK(di_gaussian_kernel(3, 0, k, &err) == DI_OK);
    CHECK(k[0] == 0.25 && k[1] == 0.5 && k[2] == 0.25);
    CHECK(di_gaussian_kernel(7, 0, k, &err) == DI_OK);
    CHECK(k[0] == 0.03125 && k[3] == 0.28125);
    CHECK(di_gaussian_kernel(9, -1, k, &err) == DI_OK);
    CHECK(k[0] == 0.015625 && k[1] == 0.05078125 && k[4] == 0.234375);
    CHECK(di_gaussian_kernel(5, 1.0, k, &err) == DI_OK);
    CHECK_NEAR(k[0], 0.054488684549642945, 1e-15);
    CHECK_NEAR(k[2], 0.40261994689424746, 1e-15);
    CHECK(di_gaussian_kernel(7, 1.5, k, &err) == DI_OK);
    CHECK_NEAR(k[0], 0.03663284536919403, 1e-15);
    CHECK_NEAR(k[3], 0.27068214949642655, 1e-15);
    CHECK(di_gaussian_kernel(11, 0, k, &err) == DI_OK);
    CHECK_NEAR(k[0], 0.008812229292562288, 1e-15);
    CHECK_NEAR(k[5], 0.20056541423882085, 1e-15);
    CHECK(di_gaussian_kernel(71, 7.0, k, &err) == DI_OK);
    CHECK_NEAR(k[0], 2.1238858408931537e-07, 1e-20);
    CHECK_NEAR(k[35], 0.05699177634253739, 1e-15);
    double sum = 0;
    for (int i = 0; i < 71; i++)
        sum += k[i];
    CHECK_NEAR(sum, 1.0, 1e-12);
    CHECK(di_gaussian_kernel(4, 1.0, k, &err) == DI_EINVAL);
    CHECK(di_gaussian_kernel(0, 1.0, k, &err) == DI_EINVAL);
}

/* ---- maps ---------------------------------------------------------------- */

/* A blocky random map with smooth parts: enough edges in every size. */
static float *make_map(int w, int h, int seed)
{
    float *d = malloc(sizeof(float) * (size_t)w * h);
    int bs = 3 + seed % 9;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t cell = (uint32_t)((y / bs) * 7919 + (x / bs) * 104729 +
                                       seed * 15485863);
            cell ^= cell >> 13;
            cell *= 0x5bd1e995u;
            cell ^= cell >> 15;
            d[(size_t)y * w + x] = (float)(cell % 50) + 0.01f * (float)(x + y);
        }
    return d;
}

static double mean_of_full_blur(const uint8_t *edges, int w, int h, int ksize,
                                double sigma)
{
    size_t n = (size_t)w * h;
    float *e = malloc(sizeof(float) * n), *c = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        e[i] = edges[i];
    di_error err;
    CHECK(di_gaussian_blur_f32(e, w, h, ksize, sigma, c, &err) == DI_OK);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += c[i];
    free(e), free(c);
    return s / (double)n;
}

static void test_score_equals_blur_mean(void)
{
    static const int sizes[][2] = {{1, 1},   {3, 500}, {500, 3}, {71, 71},
                                   {2, 2},   {140, 141}, {300, 200}, {1, 300},
                                   {37, 290}, {512, 384}};
    static const struct { int ksize; double sigma; } kern[] = {
        {71, 7}, {5, 0}, {31, 3.5}, {1, 1}, {201, 30}};
    di_feature_ws *ws = di_feature_ws_create();
    int nonzero = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t kk = 0; kk < sizeof kern / sizeof kern[0]; kk++) {
            int w = sizes[s][0], h = sizes[s][1];
            float *d = make_map(w, h, (int)(s * 5 + kk));
            di_feature_params p;
            di_feature_params_default(&p);
            p.ksize = kern[kk].ksize;
            p.sigma = kern[kk].sigma;
            di_feature_result r;
            di_error err;
            CHECK(di_feature_compute(ws, d, w, h, &p, &r, &err) == DI_OK);
            double m = mean_of_full_blur(di_feature_edges(ws), w, h, p.ksize,
                                         p.sigma);
            CHECKF(fabs(r.score - m) <= 1e-6 * fmax(m, 1e-300) ||
                       (m == 0 && r.score == 0),
                   "%dx%d k%d s%g: weighted sum %.12g, blur mean %.12g", w, h,
                   p.ksize, p.sigma, r.score, m);
            if (getenv("DI_TEST_VERBOSE"))
                printf("%dx%d k%d: rel %.3g\n", w, h, p.ksize, (r.score - m) / fmax(m, 1e-300));
            nonzero += r.score > 0;
            free(d);
        }
    CHECK(nonzero > 30);
    di_feature_ws_destroy(ws);
}

static void test_constant_and_bad(void)
{
    di_feature_ws *ws = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_result r;
    di_error err;

    float c[6 * 5];
    for (int i = 0; i < 30; i++)
        c[i] = 4.5f;
    CHECK(di_feature_compute(ws, c, 6, 5, &p, &r, &err) == DI_OK);
    CHECK(r.score == 0 && r.k_eff == 1 && r.edge_fraction == 0);
    CHECK(r.centres[0] == 0);
    const uint8_t *l = di_feature_labels(ws);
    int zero = 1;
    for (int i = 0; i < 30; i++)
        zero &= l[i] == 0 && di_feature_depth8(ws)[i] == 0;
    CHECK(zero);

    /* Non-finite depth: DI_EFORMAT naming the first bad pixel. */
    float d[8 * 4];
    for (int i = 0; i < 32; i++)
        d[i] = (float)i;
    d[8 * 2 + 5] = NAN;
    d[8 * 3 + 1] = INFINITY;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_EFORMAT);
    CHECKF(strstr(err.msg, "x=5, y=2") != NULL, "%s", err.msg);
    CHECK(di_feature_labels(ws) == NULL);
    d[8 * 2 + 5] = 1;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_EFORMAT);
    CHECKF(strstr(err.msg, "x=1, y=3") != NULL && strstr(err.msg, "inf"),
           "%s", err.msg);
    d[8 * 3 + 1] = -INFINITY;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_EFORMAT);
    d[8 * 3 + 1] = 2;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_OK);

    /* Finite values whose range overflows float32 once scaled by 255 (the
    ** spec computes (D - min) * 255 in float32): refused, not an arbitrary
    ** score from an undefined float-to-int conversion. */
    d[3] = 3e38f;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_EFORMAT);
    CHECKF(strstr(err.msg, "overflows float32") != NULL, "%s", err.msg);
    CHECK(di_feature_labels(ws) == NULL);
    d[3] = -3e38f, d[9] = 3e38f;
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_EFORMAT);
    d[3] = 3, d[9] = 1e36f; /* 1e36 * 255 fits: scored, the rest at 0 */
    CHECK(di_feature_compute(ws, d, 8, 4, &p, &r, &err) == DI_OK);
    CHECK(di_feature_depth8(ws)[9] == 255 && di_feature_depth8(ws)[3] == 0);
    d[9] = 9;

    /* Bad shapes and parameters. */
    CHECK(di_feature_compute(ws, d, 0, 4, &p, &r, &err) == DI_ESHAPE);
    CHECK(di_feature_compute(ws, d, 8, -1, &p, &r, &err) == DI_ESHAPE);
    di_feature_params q = p;
    q.k = 0;
    CHECK(di_feature_compute(ws, d, 8, 4, &q, &r, &err) == DI_EINVAL);
    CHECK(strstr(err.msg, "k = 0") != NULL);
    q = p, q.ksize = 70;
    CHECK(di_feature_compute(ws, d, 8, 4, &q, &r, &err) == DI_EINVAL);
    q = p, q.sigma = NAN;
    CHECK(di_feature_compute(ws, d, 8, 4, &q, &r, &err) == DI_EINVAL);
    q = p, q.canny_low = -1;
    CHECK(di_feature_params_check(&q, &err) == DI_EINVAL);
    di_feature_ws_destroy(ws);
}

/* The same map scored in a used workspace and in a fresh one agrees. */
static void test_workspace_reuse(void)
{
    di_feature_ws *used = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_result a, b;
    di_error err;
    float *big = make_map(400, 300, 3), *small = make_map(90, 60, 4);
    CHECK(di_feature_compute(used, big, 400, 300, &p, &a, &err) == DI_OK);
    CHECK(di_feature_compute(used, small, 90, 60, &p, &a, &err) == DI_OK);
    di_feature_ws *fresh = di_feature_ws_create();
    CHECK(di_feature_compute(fresh, small, 90, 60, &p, &b, &err) == DI_OK);
    CHECK(a.score == b.score && a.k_eff == b.k_eff &&
          a.edge_fraction == b.edge_fraction);
    CHECK(memcmp(di_feature_edges(used), di_feature_edges(fresh), 90 * 60) == 0);
    CHECK(di_feature_compute(used, big, 400, 300, &p, &a, &err) == DI_OK);
    CHECK(di_feature_compute(fresh, big, 400, 300, &p, &b, &err) == DI_OK);
    CHECK(a.score == b.score && a.score > 0);
    free(big), free(small);
    di_feature_ws_destroy(used);
    di_feature_ws_destroy(fresh);
}

/* Blur weights: interior exactly 1, total weight = n (the kernel sums to 1
** and every output distributes all of it). */
static void test_blur_weights(void)
{
    double g[71];
    di_error err;
    CHECK(di_gaussian_kernel(71, 7, g, &err) == DI_OK);
    int ns[] = {1, 2, 35, 70, 71, 141, 142, 143, 300};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int n = ns[t], lo, hi;
        double *cw = malloc(sizeof(double) * (size_t)n);
        di_blur_weights(g, 71, n, cw, &lo, &hi);
        double sum = 0;
        for (int j = 0; j < n; j++)
            sum += cw[j];
        CHECK_NEAR(sum, n, 1e-9 * n);
        for (int j = lo; j < hi; j++)
            CHECK(cw[j] == 1.0);
        free(cw);
    }
}

/* di_feature_compute_resized is bit for bit resize-then-score: the same
** score, centres, 8-bit depth and edges, and the same error for a
** non-finite value. Sizes: up, down, mixed, identity, single rows and
** columns, 1x1; maps smooth (layers and edges) and constant. */
static void test_resized_equals_resize_then_score(void)
{
    static const int sizes[][4] = {
        {256, 256, 512, 512}, {37, 23, 100, 71}, {64, 64, 64, 64},
        {100, 80, 33, 17},    {1, 40, 7, 90},    {50, 1, 200, 3},
        {3, 3, 1, 1},         {128, 96, 511, 383}, {19, 200, 1, 150}};
    di_feature_ws *a = di_feature_ws_create(), *b = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    di_error err;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int sw = sizes[k][0], sh = sizes[k][1], dw = sizes[k][2], dh = sizes[k][3];
        for (int variant = 0; variant < 3; variant++) {
            float *src = make_map(sw, sh, (int)k * 3 + variant + 1);
            if (variant == 1) /* constant */
                for (size_t i = 0; i < (size_t)sw * sh; i++)
                    src[i] = 7.5f;
            if (variant == 2) /* a non-finite pixel in the middle */
                src[(size_t)(sh / 2) * sw + sw / 2] = NAN;
            float *big = malloc(sizeof(float) * (size_t)dw * dh);
            di_resize_bilinear_f32(src, sw, sh, big, dw, dh);
            di_feature_result ra, rb;
            di_error ea = {0}, eb = {0};
            int rca = di_feature_compute(a, big, dw, dh, &p, &ra, &ea);
            int rcb = di_feature_compute_resized(b, src, sw, sh, dw, dh, &p, &rb, &eb);
            CHECKF(rca == rcb, "%dx%d -> %dx%d (%d): rc %d vs %d (%s)", sw, sh, dw,
                   dh, variant, rca, rcb, eb.msg);
            if (rca == DI_OK && rcb == DI_OK) {
                size_t n = (size_t)dw * dh;
                CHECKF(ra.score == rb.score && ra.k_eff == rb.k_eff &&
                       ra.edge_fraction == rb.edge_fraction &&
                       ra.depth_min == rb.depth_min && ra.depth_max == rb.depth_max &&
                       memcmp(ra.centres, rb.centres, sizeof ra.centres) == 0,
                       "%dx%d -> %dx%d (%d): score %.17g vs %.17g", sw, sh, dw, dh,
                       variant, ra.score, rb.score);
                CHECK(memcmp(di_feature_depth8(a), di_feature_depth8(b), n) == 0);
                CHECK(memcmp(di_feature_edges(a), di_feature_edges(b), n) == 0);
            } else {
                CHECKF(strcmp(ea.msg, eb.msg) == 0, "'%s' vs '%s'", ea.msg, eb.msg);
            }
            free(big);
            free(src);
        }
    }
    CHECK(di_feature_compute_resized(b, NULL, 0, 4, 8, 8, &p, &(di_feature_result){0},
                                     &err) == DI_ESHAPE);
    di_feature_ws_destroy(a);
    di_feature_ws_destroy(b);
}

/* ---- the k-means DP as it was first written (layer by layer, integer
** differences converted per cost): the reference that the reordered,
** vectorised DP of kmeans.c must match bit for bit. */
typedef struct ref_prefix {
    int m;            /* distinct values */
    uint8_t v[256];   /* the distinct values, ascending */
    int64_t p0[257];  /* prefix counts */
    int64_t p1[257];  /* prefix sums of value * count */
    int64_t p2[257];  /* prefix sums of value^2 * count */
} ref_prefix;

static inline double ref_cost(const ref_prefix *k, int i, int j)
{
    double n = (double)(k->p0[j + 1] - k->p0[i]);
    double s1 = (double)(k->p1[j + 1] - k->p1[i]);
    double s2 = (double)(k->p2[j + 1] - k->p2[i]);
    return s2 - s1 * s1 / n;
}

static int kmeans_reference(const uint64_t hist[256], int k, double *centres,
                   int *k_eff, di_error *err)
{
    if (k < 1 || k > DI_KMEANS_MAX_K)
        return di_fail(err, DI_EINVAL, "k-means: k = %d, must be 1 to %d", k,
                       DI_KMEANS_MAX_K);
    ref_prefix pf;
    pf.m = 0;
    pf.p0[0] = pf.p1[0] = pf.p2[0] = 0;
    for (int v = 0; v < 256; v++) {
        if (!hist[v])
            continue;
        int i = pf.m++;
        int64_t c = (int64_t)hist[v];
        pf.v[i] = (uint8_t)v;
        pf.p0[i + 1] = pf.p0[i] + c;
        pf.p1[i + 1] = pf.p1[i] + c * v;
        pf.p2[i + 1] = pf.p2[i] + c * v * v;
    }
    if (pf.m == 0)
        return di_fail(err, DI_EINVAL, "k-means of an empty histogram");
    const int m = pf.m;
    const int K = k < m ? k : m;

    /* D rows of the two latest layers; start[c][j]: where the last of c+1
    ** clusters covering values 0..j starts. */
    static const double inf = 1e308;
    double dprev[256], dcur[256];
    uint8_t start[DI_KMEANS_MAX_K][256];
    for (int j = 0; j < m; j++) {
        dprev[j] = ref_cost(&pf, 0, j);
        start[0][j] = 0;
    }
    for (int c = 1; c < K; c++) {
        /* Layer c (c+1 clusters): only j >= c is feasible; the last layer
        ** needs only j = m - 1. */
        int jlo = c == K - 1 ? m - 1 : c;
        for (int j = 0; j < jlo; j++)
            dcur[j] = inf;
        for (int j = jlo; j < m; j++) {
            double best = inf;
            int bi = c;
            for (int i = c; i <= j; i++) {
                double d = dprev[i - 1] + ref_cost(&pf, i, j);
                if (d < best) {
                    best = d;
                    bi = i;
                }
            }
            dcur[j] = best;
            start[c][j] = (uint8_t)bi;
        }
        memcpy(dprev, dcur, sizeof(double) * (size_t)m);
    }
    /* Walk back from the last cluster. */
    int end = m - 1;
    for (int c = K - 1; c >= 0; c--) {
        int s = start[c][end];
        double n = (double)(pf.p0[end + 1] - pf.p0[s]);
        double s1 = (double)(pf.p1[end + 1] - pf.p1[s]);
        centres[c] = s1 / n;
        end = s - 1;
    }
    *k_eff = K;
    return DI_OK;
}


static void test_kmeans_matches_reference(void)
{
    uint64_t hist[256];
    double a[DI_KMEANS_MAX_K], b[DI_KMEANS_MAX_K];
    di_error err;
    int mismatches = 0, runs = 0;
    for (int trial = 0; trial < 120; trial++) {
        int kind = trial % 4;
        memset(hist, 0, sizeof hist);
        for (int v = 0; v < 256; v++) {
            if (kind == 0) /* every value, random counts */
                hist[v] = 1 + rnd() % 5000;
            else if (kind == 1) /* sparse */
                hist[v] = rnd() % 9 == 0 ? 1 + rnd() % 100000 : 0;
            else if (kind == 2) /* symmetric: equal costs, ties */
                hist[v] = 1 + (uint64_t)(v < 128 ? v : 255 - v) % 7;
            else /* a few huge spikes, as sky and walls give */
                hist[v] = rnd() % 40 == 0 ? (uint64_t)1 << (20 + rnd() % 9) : rnd() % 3;
        }
        hist[rnd() % 256] += 1; /* never empty */
        static const int ks[] = {1, 2, 3, 4, 5, 8, 17, 64};
        for (size_t q = 0; q < sizeof ks / sizeof *ks; q++) {
            int ka = -1, kb = -2;
            memset(a, 0, sizeof a), memset(b, 0, sizeof b);
            CHECK(di_kmeans_hist(hist, ks[q], a, &ka, &err) == DI_OK);
            CHECK(kmeans_reference(hist, ks[q], b, &kb, &err) == DI_OK);
            mismatches += ka != kb || memcmp(a, b, sizeof a) != 0;
            runs++;
        }
    }
    CHECKF(mismatches == 0, "%d of %d k-means runs differ from the reference",
           mismatches, runs);
}

int main(void)
{
    test_kmeans_brute_force();
    test_kmeans_ties_and_small();
    test_gaussian_kernel();
    test_blur_weights();
    test_score_equals_blur_mean();
    test_constant_and_bad();
    test_workspace_reuse();
    test_resized_equals_resize_then_score();
    test_kmeans_matches_reference();
    return check_summary();
}

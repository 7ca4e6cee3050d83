/*
** bench_score.c: time per image of di_feature_compute (the whole score of a
** depth map: 8-bit depth, exact k-means, labels, Canny, weighted sum), and
** of the score step alone against one plain pass over the same bytes.
**
**   bench_score [--runs N] [--min-seconds S] FILE...
**
** FILE: int32 width, int32 height, width*height float32 (bench/score_maps.py
** writes them). Files are grouped by size; per size it prints one JSON line:
**   size, maps, per-image median ms over N runs (each run scores every map
**   of that size enough times to last S seconds, with the workspace set as
**   `depthindex score` sets it: no intermediate images kept), the scores, and
**   score_step_ms / plain_pass_ms over the edge map of the last map, and
**   pipeline / plain pass over the float depth map; and phases_cpu_ms, the
**   CPU time per image of the score's main passes, each alone in a loop
**   over the maps (min/max with the finiteness check; the 8-bit depth and
**   its histogram; Canny on the map's labels; the weighted sum on its
**   edges): every map comes from memory, not from the pass before it as in
**   the score, so these are upper bounds; CPU time, so that a loaded
**   machine's waits do not count.
*/
#include "feature/feature.h"
#include "feature/feature_internal.h"
#include "imgproc/imgproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct map {
    int w, h;
    float *d;
} map;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keeps the compiler from dropping the plain passes. */
static volatile uint64_t sink_u;
static volatile double sink_d;

static uint64_t plain_bytes(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static double plain_floats(const float *p, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
        s4 += p[i + 4], s5 += p[i + 5], s6 += p[i + 6], s7 += p[i + 7];
    }
    for (; i < n; i++)
        s0 += p[i];
    return (double)s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

int main(int argc, char **argv)
{
    int runs = 7;
    double min_seconds = 0.3;
    int a = 1;
    for (; a < argc && argv[a][0] == '-'; a += 2) {
        if (a + 1 >= argc)
            break;
        if (strcmp(argv[a], "--runs") == 0)
            runs = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--min-seconds") == 0)
            min_seconds = atof(argv[a + 1]);
    }
    if (a >= argc || runs < 1) {
        fprintf(stderr, "usage: bench_score [--runs N] [--min-seconds S] FILE...\n");
        return 2;
    }
    int nmaps = argc - a;
    map *maps = calloc((size_t)nmaps, sizeof *maps);
    for (int i = 0; i < nmaps; i++) {
        FILE *f = fopen(argv[a + i], "rb");
        int32_t wh[2];
        if (!f || fread(wh, 4, 2, f) != 2 || wh[0] <= 0 || wh[1] <= 0) {
            fprintf(stderr, "%s: not a raw depth file\n", argv[a + i]);
            return 2;
        }
        size_t n = (size_t)wh[0] * wh[1];
        maps[i].w = wh[0], maps[i].h = wh[1];
        maps[i].d = malloc(n * sizeof(float));
        if (fread(maps[i].d, sizeof(float), n, f) != n) {
            fprintf(stderr, "%s: truncated\n", argv[a + i]);
            return 2;
        }
        fclose(f);
    }

    di_feature_ws *ws = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_result r;
    di_error err;
    int *done = calloc((size_t)nmaps, sizeof(int));
    double *t = malloc(sizeof(double) * (size_t)runs);
    for (int i = 0; i < nmaps; i++) {
        if (done[i])
            continue;
        /* The maps of this size. */
        int idx[1024], m = 0;
        for (int j = i; j < nmaps && m < 1024; j++)
            if (maps[j].w == maps[i].w && maps[j].h == maps[i].h)
                idx[m++] = j, done[j] = 1;
        /* The whole score as `depthindex score` runs it: no intermediate
        ** images kept (each step writes over the one before). */
        di_feature_ws_keep_images(ws, false);
        /* Warm up and calibrate the repetitions per run. */
        double t0 = di_now();
        int reps = 0;
        do {
            for (int k = 0; k < m; k++)
                if (di_feature_compute(ws, maps[idx[k]].d, maps[idx[k]].w,
                                       maps[idx[k]].h, &p, &r, &err)) {
                    fprintf(stderr, "%s\n", err.msg);
                    return 1;
                }
            reps++;
        } while (di_now() - t0 < min_seconds / 3);
        int per_run = (int)(reps * min_seconds / (di_now() - t0) / 3) + 1;
        for (int run = 0; run < runs; run++) {
            double s = di_now();
            for (int rep = 0; rep < per_run; rep++)
                for (int k = 0; k < m; k++)
                    di_feature_compute(ws, maps[idx[k]].d, maps[idx[k]].w,
                                       maps[idx[k]].h, &p, &r, &err);
            t[run] = (di_now() - s) / (per_run * m);
        }
        double per_image = median(t, runs);

        printf("{\"width\": %d, \"height\": %d, \"maps\": %d, "
               "\"per_image_ms\": %.4f, \"scores\": [",
               maps[i].w, maps[i].h, m, per_image * 1e3);
        for (int k = 0; k < m; k++) {
            di_feature_compute(ws, maps[idx[k]].d, maps[idx[k]].w,
                               maps[idx[k]].h, &p, &r, &err);
            printf("%s%.6f", k ? ", " : "", r.score);
        }

        /* The score step (weighted sum over the edge map, weights cached as
        ** in steady state) against a plain byte sum over the same edge map,
        ** and the whole pipeline against a plain pass over the depth map. */
        const map *last = &maps[idx[m - 1]];
        size_t n = (size_t)last->w * last->h;
        const uint8_t *e = di_feature_edges(ws);
        int inner = (int)(2e8 / (double)n) + 1;
        double ts[64], tp[64], tf[64];
        int sruns = runs < 64 ? runs : 64;
        uint64_t cnt;
        for (int run = 0; run < sruns; run++) {
            double s = di_now();
            for (int k = 0; k < inner; k++)
                sink_d = di_weighted_edge_sum(e, last->w, last->h, ws->cx,
                                              ws->cx_lo, ws->cx_hi, ws->cy, &cnt);
            ts[run] = (di_now() - s) / inner;
            s = di_now();
            for (int k = 0; k < inner; k++)
                sink_u = plain_bytes(e, n);
            tp[run] = (di_now() - s) / inner;
            s = di_now();
            for (int k = 0; k < inner / 4 + 1; k++)
                sink_d = plain_floats(last->d, n);
            tf[run] = (di_now() - s) / (inner / 4 + 1);
        }
        double step = median(ts, sruns), plain = median(tp, sruns),
               plainf = median(tf, sruns);
        printf("], \"score_step_ms\": %.5f, \"plain_pass_edges_ms\": %.5f, "
               "\"score_step_vs_plain\": %.2f, \"plain_pass_depth_ms\": %.5f, "
               "\"pipeline_vs_plain_depth\": %.2f",
               step * 1e3, plain * 1e3, step / plain, plainf * 1e3,
               per_image / plainf);

        /* The passes alone (see the top of the file): each map's range,
        ** labels and edges kept from one score first. */
        di_feature_ws_keep_images(ws, true);
        enum { PH_MINMAX, PH_DEPTH8, PH_CANNY, PH_SUM, PH_N };
        static const char *const ph_name[PH_N] = {"minmax", "depth8_hist",
                                                   "canny", "weighted_sum"};
        size_t np = (size_t)maps[i].w * maps[i].h;
        float *rng = malloc(sizeof(float) * 2 * (size_t)m);
        uint8_t *lab = malloc(np * (size_t)m), *edg = malloc(np * (size_t)m);
        uint8_t *u8 = malloc(np), *e8 = malloc(np);
        double *ph = malloc(sizeof(double) * PH_N * (size_t)runs);
        if (!rng || !lab || !edg || !u8 || !e8 || !ph) {
            fprintf(stderr, "bench_score: out of memory\n");
            return 1;
        }
        for (int k = 0; k < m; k++) {
            const map *mp = &maps[idx[k]];
            di_feature_compute(ws, mp->d, mp->w, mp->h, &p, &r, &err);
            rng[2 * k] = r.depth_min, rng[2 * k + 1] = r.depth_max;
            memcpy(lab + np * (size_t)k, di_feature_labels(ws), np);
            memcpy(edg + np * (size_t)k, di_feature_edges(ws), np);
        }
        uint64_t hist[256];
        for (int run = 0; run < runs; run++) {
            double t_ph[PH_N + 1];
            t_ph[0] = cpu_now();
            for (int q = 0; q < PH_N; q++) {
                for (int rep = 0; rep < per_run; rep++)
                    for (int k = 0; k < m; k++) {
                        const map *mp = &maps[idx[k]];
                        float mn, mx;
                        if (q == PH_MINMAX)
                            di_depth_minmax(mp->d, np, &mn, &mx);
                        else if (q == PH_DEPTH8)
                            di_depth8_hist(mp->d, np, rng[2 * k], rng[2 * k + 1], u8, hist);
                        else if (q == PH_CANNY)
                            di_canny(lab + np * (size_t)k, mp->w, mp->h, p.canny_low,
                                     p.canny_high, e8, ws->canny_scratch);
                        else
                            sink_d = di_weighted_edge_sum(edg + np * (size_t)k, mp->w, mp->h,
                                                          ws->cx, ws->cx_lo, ws->cx_hi,
                                                          ws->cy, &cnt);
                    }
                t_ph[q + 1] = cpu_now();
                ph[q * runs + run] = (t_ph[q + 1] - t_ph[q]) / (per_run * m);
            }
        }
        printf(", \"phases_cpu_ms\": {");
        for (int q = 0; q < PH_N; q++)
            printf("%s\"%s\": %.4f", q ? ", " : "", ph_name[q],
                   median(ph + q * runs, runs) * 1e3);
        printf("}}\n");
        free(rng), free(lab), free(edg), free(u8), free(e8), free(ph);
        fflush(stdout);
    }
    for (int i = 0; i < nmaps; i++)
        free(maps[i].d);
    free(maps), free(done), free(t);
    di_feature_ws_destroy(ws);
    return 0;
}

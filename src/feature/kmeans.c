/*
** kmeans.c: exact 1-D k-means over a 256-bin histogram.
**
** The clusters of an optimal 1-D k-means are contiguous value ranges, so the
** global optimum is a dynamic programme over the m distinct values present:
**   D[c][j] = min over i of D[c-1][i-1] + cost(i, j)
** where cost(i, j) is the within-cluster sum of squares of distinct values
** i..j, from prefix sums: s2 - s1 * s1 / n. O(k m^2), m <= 256.
**
** Precision and ties, fixed so that an oracle can reproduce them exactly:
** the prefix sums are exact 64-bit integers; each cluster's n, s1 and s2
** are converted to double and the cost is s2 - s1 * s1 / n in IEEE double;
** the DP scans i upwards and keeps the first minimum (strict <), i.e. among
** equal costs the last cluster starts as early as possible.
*/
#include "feature_internal.h"

#include <string.h>

typedef struct kmeans_prefix {
    int m;            /* distinct values */
    uint8_t v[256];   /* the distinct values, ascending */
    int64_t p0[257];  /* prefix counts */
    int64_t p1[257];  /* prefix sums of value * count */
    int64_t p2[257];  /* prefix sums of value^2 * count */
} kmeans_prefix;

static inline double cost(const kmeans_prefix *k, int i, int j)
{
    double n = (double)(k->p0[j + 1] - k->p0[i]);
    double s1 = (double)(k->p1[j + 1] - k->p1[i]);
    double s2 = (double)(k->p2[j + 1] - k->p2[i]);
    return s2 - s1 * s1 / n;
}

int di_kmeans_hist(const uint64_t hist[256], int k, double *centres,
                   int *k_eff, di_error *err)
{
    if (k < 1 || k > DI_KMEANS_MAX_K)
        return di_fail(err, DI_EINVAL, "k-means: k = %d, must be 1 to %d", k,
                       DI_KMEANS_MAX_K);
    kmeans_prefix pf;
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
        dprev[j] = cost(&pf, 0, j);
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
                double d = dprev[i - 1] + cost(&pf, i, j);
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

void di_kmeans_label_lut(const double *centres, int k_eff, uint8_t lut[256])
{
    for (int v = 0; v < 256; v++) {
        int best = 0;
        double bd = fabs(v - centres[0]);
        for (int c = 1; c < k_eff; c++) {
            double d = fabs(v - centres[c]);
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        lut[v] = (uint8_t)(k_eff > 1 ? best * 255 / (k_eff - 1) : 0);
    }
}

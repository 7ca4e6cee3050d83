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
**
** Evaluation order: the cost of cluster i..j does not depend on the layer,
** so the DP runs with i outermost: row i of the costs (every j >= i) is
** computed once, in a loop the compiler vectorises (divisions included),
** and every layer takes its candidates from it. Layer c's candidate at
** (i, j) needs D[c-1][i-1], final once row i-1 is done. For each j the
** candidates still arrive in increasing i and replace the best only when
** strictly smaller, so the first minimum wins as before; and prefix sums
** held as doubles give the same n, s1, s2 as converting the integer
** differences (all below 2^53, so every value and difference is exact).
** Costs are computed a third as often as layer by layer for k = 4.
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

DI_HOT_CLONES
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

    /* best[c][j]: D of c+1 clusters over values 0..j, as far as the rows so
    ** far give it; start[c][j]: where its last cluster starts. */
    static const double inf = 1e308;
    double q0[257], q1[257], q2[257], row[256];
    double best[DI_KMEANS_MAX_K][256];
    uint8_t start[DI_KMEANS_MAX_K][256];
    for (int j = 0; j <= m; j++) {
        q0[j] = (double)pf.p0[j];
        q1[j] = (double)pf.p1[j];
        q2[j] = (double)pf.p2[j];
    }
    for (int c = 1; c < K; c++)
        for (int j = 0; j < m; j++) {
            best[c][j] = inf;
            start[c][j] = (uint8_t)c;
        }
    for (int i = 0; i < m; i++) {
        const double a0 = q0[i], a1 = q1[i], a2 = q2[i];
        for (int j = i; j < m; j++) {
            double n = q0[j + 1] - a0;
            double s1 = q1[j + 1] - a1;
            double s2 = q2[j + 1] - a2;
            row[j] = s2 - s1 * s1 / n;
        }
        if (i == 0) {
            for (int j = 0; j < m; j++) {
                best[0][j] = row[j];
                start[0][j] = 0;
            }
            if (K == 1)
                break;
            continue;
        }
        /* Layer c (c+1 clusters) takes i >= c; the last layer needs only
        ** j = m - 1. */
        const int clast = i < K - 1 ? i : K - 1;
        for (int c = 1; c <= clast; c++) {
            const double base = best[c - 1][i - 1];
            if (c == K - 1) {
                double d = base + row[m - 1];
                if (d < best[c][m - 1]) {
                    best[c][m - 1] = d;
                    start[c][m - 1] = (uint8_t)i;
                }
                continue;
            }
            double *restrict b = best[c];
            uint8_t *restrict st = start[c];
            for (int j = i; j < m; j++) {
                double d = base + row[j];
                int better = d < b[j];
                b[j] = better ? d : b[j];
                st[j] = better ? (uint8_t)i : st[j];
            }
        }
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

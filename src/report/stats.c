/*
** stats.c: statistics streamed over the table's rows, in memory bounded by
** constants: per face a fine histogram (quantiles to within half a bin),
** exact counts, sum, min and max; the highest and lowest faces (two arrays
** of DI_REPORT_RANKED); and a sample of at most DI_REPORT_MAP_POINTS
** positioned panoramas, chosen by a hash of the id so that the same table
** always gives the same map whatever the page size.
*/
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double rp_qs[RP_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};

int rp_stats_init(rp_stats *st, di_error *err)
{
    for (int f = 0; f < DI_STORE_MAX_FACES; f++) {
        st->face[f].hist = calloc(RP_BINS, sizeof *st->face[f].hist);
        st->face[f].min = INFINITY;
        st->face[f].max = -INFINITY;
        if (!st->face[f].hist)
            return di_fail(err, DI_ENOMEM, "out of memory for histograms");
    }
    st->points = malloc(DI_REPORT_MAP_POINTS * sizeof *st->points);
    st->groups = calloc(DI_REPORT_ERROR_GROUPS, sizeof *st->groups);
    if (!st->points || !st->groups)
        return di_fail(err, DI_ENOMEM, "out of memory for the report");
    return DI_OK;
}

void rp_stats_free(rp_stats *st)
{
    for (int f = 0; f < DI_STORE_MAX_FACES; f++)
        free(st->face[f].hist);
    free(st->points);
    free(st->groups);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Keeps the n best by `better` in arr (unsorted): the worst is replaced. */
static void rank(rp_ranked *arr, int *n, double score, int64_t id, int face,
                 const char *sid, bool high)
{
    int slot = -1;
    if (*n < DI_REPORT_RANKED) {
        slot = (*n)++;
    } else {
        int worst = 0;
        for (int i = 1; i < *n; i++)
            if (high ? arr[i].score < arr[worst].score : arr[i].score > arr[worst].score)
                worst = i;
        if (high ? score > arr[worst].score : score < arr[worst].score)
            slot = worst;
    }
    if (slot < 0)
        return;
    rp_ranked *r = &arr[slot];
    r->score = score;
    r->id = id;
    r->face = face;
    snprintf(r->sid, sizeof r->sid, "%s", sid);
    r->picture[0] = '\0';
}

/* Max-heap on key: the root is the point to drop when a smaller key comes. */
static void sift_down(rp_point *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].key > h[m].key)
            m = l;
        if (r < n && h[r].key > h[m].key)
            m = r;
        if (m == i)
            return;
        rp_point t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(rp_point *h, int i)
{
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (h[parent].key >= h[i].key)
            return;
        rp_point t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static void sample_point(rp_stats *st, const rp_point *pt)
{
    if (st->npoints < DI_REPORT_MAP_POINTS) {
        st->points[st->npoints] = *pt;
        sift_up(st->points, st->npoints++);
    } else if (pt->key < st->points[0].key) {
        st->points[0] = *pt;
        sift_down(st->points, st->npoints, 0);
    }
}

void rp_stats_add_row(rp_stats *st, const di_store_score_row *r)
{
    st->rows++;
    double sum = 0;
    int n = 0;
    for (int f = 0; f < st->nfaces; f++) {
        if (!(r->has & (1u << f)))
            continue;
        double v = r->score[f];
        if (!isfinite(v))
            continue;
        rp_face *fs = &st->face[f];
        fs->n++;
        fs->sum += v;
        fs->min = v < fs->min ? v : fs->min;
        fs->max = v > fs->max ? v : fs->max;
        double b = floor(v / DI_REPORT_BIN);
        fs->hist[b < 0 ? 0 : b >= RP_BINS ? RP_BINS - 1 : (int)b]++;
        rank(st->high, &st->nhigh, v, r->id, f, r->sid, true);
        rank(st->low, &st->nlow, v, r->id, f, r->sid, false);
        sum += v;
        n++;
    }
    if (st->positions && r->has_pos && isfinite(r->lat) && isfinite(r->lon) && n > 0) {
        st->positioned++;
        rp_point pt = {mix64((uint64_t)r->id), r->id, r->lat, r->lon, sum / n};
        sample_point(st, &pt);
    }
}

double rp_quantile(const rp_face *f, double q)
{
    if (f->n == 0)
        return NAN;
    /* the smallest value with at least ceil(q * n) values at or below it */
    int64_t want = (int64_t)ceil(q * (double)f->n);
    if (want < 1)
        want = 1;
    int64_t seen = 0;
    for (int b = 0; b < RP_BINS; b++) {
        seen += f->hist[b];
        if (seen >= want) {
            double v = (b + 0.5) * DI_REPORT_BIN;
            return v < f->min ? f->min : v > f->max ? f->max : v;
        }
    }
    return f->max;
}

static int by_score_desc(const void *a, const void *b)
{
    const rp_ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->face - y->face;
}

static int by_score_asc(const void *a, const void *b)
{
    const rp_ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->face - y->face;
}

static int by_id(const void *a, const void *b)
{
    const rp_point *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

void rp_stats_finish(rp_stats *st)
{
    qsort(st->points, (size_t)st->npoints, sizeof *st->points, by_id);
    qsort(st->high, (size_t)st->nhigh, sizeof *st->high, by_score_desc);
    qsort(st->low, (size_t)st->nlow, sizeof *st->low, by_score_asc);
}

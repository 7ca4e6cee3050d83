/*
** feature.c: the depth congestion index of one depth map (see
** shared/docs/depth-index-spec.md), step by step:
**   1. 8-bit depth U = trunc((D - min) * 255 / (max - min)), in float32
**      arithmetic in exactly that order (what NumPy does on a float32 array;
**      the oracle test does the same), 0 everywhere when max == min;
**   2. histogram of U and exact k-means over it (kmeans.c);
**   3. label image through a 256-entry lookup table;
**   4. Canny (src/imgproc/canny.c);
**   5-6. the mean of the Gaussian blur of the edges as a border-corrected
**      weighted sum (score.c), accumulated in double.
** All buffers live in the workspace and only grow.
*/
#include "feature_internal.h"
#include "imgproc/imgproc.h"

#include <stdlib.h>
#include <string.h>

/* The Canny state map uses 32-bit indices over (w + 2) * (h + 2). */
#define DI_FEATURE_MAX_PIXELS ((size_t)1 << 30)

void di_feature_params_default(di_feature_params *p)
{
    p->k = 4;
    p->canny_low = 100;
    p->canny_high = 200;
    p->ksize = 71;
    p->sigma = 7;
}

int di_feature_params_check(const di_feature_params *p, di_error *err)
{
    if (p->k < 1 || p->k > DI_KMEANS_MAX_K)
        return di_fail(err, DI_EINVAL, "k = %d: must be 1 to %d", p->k,
                       DI_KMEANS_MAX_K);
    if (!isfinite(p->canny_low) || !isfinite(p->canny_high) ||
        p->canny_low < 0 || p->canny_high < 0 || p->canny_low > 1e6 ||
        p->canny_high > 1e6)
        return di_fail(err, DI_EINVAL,
                       "Canny thresholds %g,%g: must be 0 to 1e6",
                       p->canny_low, p->canny_high);
    if (p->ksize < 1 || p->ksize % 2 == 0 || p->ksize > 4095)
        return di_fail(err, DI_EINVAL, "kernel size %d: must be odd, 1 to 4095",
                       p->ksize);
    if (!isfinite(p->sigma) || p->sigma > 1e4)
        return di_fail(err, DI_EINVAL, "sigma %g: must be finite, at most 1e4 "
                       "(0 or less: derived from the kernel size, as OpenCV)",
                       p->sigma);
    return DI_OK;
}

di_feature_ws *di_feature_ws_create(void)
{
    return calloc(1, sizeof(di_feature_ws));
}

void di_feature_ws_destroy(di_feature_ws *ws)
{
    if (!ws)
        return;
    free(ws->depth8), free(ws->labels), free(ws->edges);
    free(ws->canny_scratch), free(ws->cx), free(ws->cy);
    free(ws);
}

static int grow(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    void *p = malloc(need);
    if (!p)
        return -1;
    free(*buf);
    *buf = p;
    *cap = need;
    return 0;
}

static int ensure(di_feature_ws *ws, int w, int h, di_error *err)
{
    size_t n = (size_t)w * (size_t)h;
    if (n > ws->pixel_cap) {
        uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
        if (!a || !b || !c) {
            free(a), free(b), free(c);
            return di_fail(err, DI_ENOMEM, "%dx%d depth map: out of memory",
                           w, h);
        }
        free(ws->depth8), free(ws->labels), free(ws->edges);
        ws->depth8 = a, ws->labels = b, ws->edges = c;
        ws->pixel_cap = n;
    }
    if (grow(&ws->canny_scratch, &ws->canny_cap, di_canny_scratch_size(w, h)))
        return di_fail(err, DI_ENOMEM, "%dx%d depth map: out of memory", w, h);
    return DI_OK;
}

/* cx, cy for this size and kernel, recomputed only when one changes. */
static int ensure_weights(di_feature_ws *ws, int w, int h,
                          const di_feature_params *p, di_error *err)
{
    if (ws->w_valid && ws->cx_n == w && ws->cy_n == h &&
        ws->w_ksize == p->ksize && ws->w_sigma == p->sigma)
        return DI_OK;
    ws->w_valid = 0;
    double *g = malloc(sizeof(double) * (size_t)p->ksize);
    if (!g || grow((void **)&ws->cx, &ws->cx_cap, sizeof(double) * (size_t)w) ||
        grow((void **)&ws->cy, &ws->cy_cap, sizeof(double) * (size_t)h)) {
        free(g);
        return di_fail(err, DI_ENOMEM, "blur weights: out of memory");
    }
    int rc = di_gaussian_kernel(p->ksize, p->sigma, g, err);
    if (rc) {
        free(g);
        return rc;
    }
    di_blur_weights(g, p->ksize, w, ws->cx, &ws->cx_lo, &ws->cx_hi);
    di_blur_weights(g, p->ksize, h, ws->cy, &ws->cy_lo, &ws->cy_hi);
    free(g);
    ws->cx_n = w, ws->cy_n = h, ws->w_ksize = p->ksize, ws->w_sigma = p->sigma;
    ws->w_valid = 1;
    return DI_OK;
}

/* Min and max; a non-finite value makes it return its index. */
static size_t minmax(const float *d, size_t n, float *mn, float *mx)
{
    /* Blocks keep the check for non-finite values (exponent all ones) off
    ** the min/max loop, which then vectorises. */
    float lo = d[0], hi = d[0];
    const size_t block = 4096;
    for (size_t s = 0; s < n; s += block) {
        size_t e = s + block < n ? s + block : n;
        uint32_t bad = 0;
        for (size_t i = s; i < e; i++) {
            uint32_t u;
            memcpy(&u, d + i, 4);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
        }
        if (bad) {
            for (size_t i = s; i < e; i++)
                if (!isfinite(d[i]))
                    return i;
        }
        for (size_t i = s; i < e; i++) {
            float v = d[i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    *mn = lo, *mx = hi;
    return n;
}

/* U = trunc((D - mn) * 255 / (mx - mn)) in float32, and its histogram. */
static void to_depth8(const float *d, size_t n, float mn, float mx, uint8_t *u,
                      uint64_t hist[256])
{
    memset(hist, 0, 256 * sizeof(uint64_t));
    if (!(mx > mn)) {
        memset(u, 0, n);
        hist[0] = n;
        return;
    }
    const float range = mx - mn;
    if (isfinite(range)) {
        for (size_t i = 0; i < n; i++) {
            float q = (d[i] - mn) * 255.0f / range;
            u[i] = (uint8_t)(int)q; /* q in [0, 256): trunc */
        }
    } else { /* the range overflows float: only here, double */
        const double dr = (double)mx - (double)mn;
        for (size_t i = 0; i < n; i++) {
            double q = ((double)d[i] - mn) * 255.0 / dr;
            u[i] = (uint8_t)(int)(q < 255.0 ? q : 255.0);
        }
    }
    /* Four partial histograms hide the store-to-load dependency. */
    uint32_t h4[4][256];
    memset(h4, 0, sizeof h4);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        h4[0][u[i]]++;
        h4[1][u[i + 1]]++;
        h4[2][u[i + 2]]++;
        h4[3][u[i + 3]]++;
    }
    for (; i < n; i++)
        h4[0][u[i]]++;
    for (int v = 0; v < 256; v++)
        hist[v] += (uint64_t)h4[0][v] + h4[1][v] + h4[2][v] + h4[3][v];
}

int di_feature_compute(di_feature_ws *ws, const float *depth, int width,
                       int height, const di_feature_params *p,
                       di_feature_result *out, di_error *err)
{
    int rc = di_feature_params_check(p, err);
    if (rc)
        return rc;
    if (width <= 0 || height <= 0)
        return di_fail(err, DI_ESHAPE, "depth map of %dx%d pixels: empty",
                       width, height);
    size_t n = (size_t)width * (size_t)height;
    if (n > DI_FEATURE_MAX_PIXELS)
        return di_fail(err, DI_ENOMEM,
                       "depth map of %dx%d pixels: more than %zu pixels", width,
                       height, DI_FEATURE_MAX_PIXELS);
    ws->have_result = 0;
    if ((rc = ensure(ws, width, height, err)) ||
        (rc = ensure_weights(ws, width, height, p, err)))
        return rc;

    float mn = 0, mx = 0;
    size_t bad = minmax(depth, n, &mn, &mx);
    if (bad < n)
        return di_fail(err, DI_EFORMAT,
                       "non-finite depth (%g) at x=%zu, y=%zu (first of the map)",
                       (double)depth[bad], bad % (size_t)width,
                       bad / (size_t)width);

    uint64_t hist[256];
    to_depth8(depth, n, mn, mx, ws->depth8, hist);

    memset(out, 0, sizeof *out);
    if ((rc = di_kmeans_hist(hist, p->k, out->centres, &out->k_eff, err)))
        return rc;
    di_kmeans_label_lut(out->centres, out->k_eff, ws->lut);
    const uint8_t *lut = ws->lut;
    const uint8_t *u = ws->depth8;
    uint8_t *lab = ws->labels;
    for (size_t i = 0; i < n; i++)
        lab[i] = lut[u[i]];

    di_canny(lab, width, height, p->canny_low, p->canny_high, ws->edges,
             ws->canny_scratch);

    uint64_t edges;
    double sum = di_weighted_edge_sum(ws->edges, width, height, ws->cx,
                                      ws->cx_lo, ws->cx_hi, ws->cy, &edges);
    out->score = sum / (double)n;
    out->edge_fraction = (double)edges / (double)n;
    out->width = width;
    out->height = height;
    out->depth_min = mn;
    out->depth_max = mx;
    ws->width = width;
    ws->height = height;
    ws->have_result = 1;
    return DI_OK;
}

const uint8_t *di_feature_depth8(const di_feature_ws *ws)
{
    return ws->have_result ? ws->depth8 : NULL;
}

const uint8_t *di_feature_labels(const di_feature_ws *ws)
{
    return ws->have_result ? ws->labels : NULL;
}

const uint8_t *di_feature_edges(const di_feature_ws *ws)
{
    return ws->have_result ? ws->edges : NULL;
}

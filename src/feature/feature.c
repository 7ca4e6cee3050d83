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

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512VBMI__)
#include <immintrin.h>
#endif

/* Canny's candidates and hysteresis stack are 32-bit pixel indices. */
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
        return di_fail(err, DI_EINVAL, "k = %d (--k): must be 1 to %d", p->k,
                       DI_KMEANS_MAX_K);
    if (!isfinite(p->canny_low) || !isfinite(p->canny_high) ||
        p->canny_low < 0 || p->canny_high < 0 || p->canny_low > 1e6 ||
        p->canny_high > 1e6)
        return di_fail(err, DI_EINVAL,
                       "Canny thresholds %g,%g (--canny): must be 0 to 1e6",
                       p->canny_low, p->canny_high);
    if (p->ksize < 1 || p->ksize % 2 == 0 || p->ksize > 4095)
        return di_fail(err, DI_EINVAL, "kernel size %d (--ksize): must be odd, 1 to 4095",
                       p->ksize);
    if (!isfinite(p->sigma) || p->sigma > 1e4)
        return di_fail(err, DI_EINVAL, "sigma %g (--sigma): must be finite, at most 1e4 "
                       "(0 or less: derived from the kernel size, as OpenCV)",
                       p->sigma);
    return DI_OK;
}

di_feature_ws *di_feature_ws_create(void)
{
    return calloc(1, sizeof(di_feature_ws));
}

void di_feature_ws_keep_images(di_feature_ws *ws, bool keep)
{
    ws->drop_images = !keep;
    ws->have_result = 0; /* the last images may be of the other layout */
}

void di_feature_ws_destroy(di_feature_ws *ws)
{
    if (!ws)
        return;
    free(ws->depth8), free(ws->labels), free(ws->edges);
    free(ws->canny_scratch), free(ws->cx), free(ws->cy), free(ws->kernel);
    free(ws->rows);
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
    if (grow((void **)&ws->kernel, &ws->kernel_cap,
             sizeof(double) * (size_t)p->ksize) ||
        grow((void **)&ws->cx, &ws->cx_cap, sizeof(double) * (size_t)w) ||
        grow((void **)&ws->cy, &ws->cy_cap, sizeof(double) * (size_t)h))
        return di_fail(err, DI_ENOMEM, "blur weights: out of memory");
    int rc = di_gaussian_kernel(p->ksize, p->sigma, ws->kernel, err);
    if (rc)
        return rc;
    di_blur_weights(ws->kernel, p->ksize, w, ws->cx, &ws->cx_lo, &ws->cx_hi);
    di_blur_weights(ws->kernel, p->ksize, h, ws->cy, &ws->cy_lo, &ws->cy_hi);
    ws->cx_n = w, ws->cy_n = h, ws->w_ksize = p->ksize, ws->w_sigma = p->sigma;
    ws->w_valid = 1;
    return DI_OK;
}

/* L = lut[U]. With AVX-512 VBMI a table lookup of 64 values at a time.
** Otherwise: the lookup table of a nearest-centre assignment is a step
** function of the value; when it is monotone with few steps (always, in
** practice) it is applied as a sum of comparisons, which vectorises.
** lab may be u itself (depth8 not kept): each form reads a value before it
** writes its label, the step form from a copy of its chunk. */
static DI_HOT_INLINE
void apply_labels(const uint8_t *lut, const uint8_t *u, uint8_t *lab, size_t n)
{
    int steps = 0, monotone = 1;
    uint8_t at[DI_KMEANS_MAX_K], inc[DI_KMEANS_MAX_K];
    for (int v = 1; v < 256; v++) {
        if (lut[v] == lut[v - 1])
            continue;
        if (lut[v] < lut[v - 1] || steps == 8) {
            monotone = 0;
            break;
        }
        at[steps] = (uint8_t)v;
        inc[steps] = (uint8_t)(lut[v] - lut[v - 1]);
        steps++;
    }
#if defined(__AVX512VBMI__)
    /* The whole table in four registers: two 128-entry byte permutes and a
    ** blend on the index's top bit, one pass. */
    if (!di_feature_generic) {
        const __m512i t0 = _mm512_loadu_si512((const void *)lut);
        const __m512i t1 = _mm512_loadu_si512((const void *)(lut + 64));
        const __m512i t2 = _mm512_loadu_si512((const void *)(lut + 128));
        const __m512i t3 = _mm512_loadu_si512((const void *)(lut + 192));
        size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            __m512i x = _mm512_loadu_si512((const void *)(u + i));
            __m512i lo = _mm512_permutex2var_epi8(t0, x, t1);
            __m512i hi = _mm512_permutex2var_epi8(t2, x, t3);
            _mm512_storeu_si512((void *)(lab + i),
                                _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi));
        }
        for (; i < n; i++)
            lab[i] = lut[u[i]];
        return;
    }
#endif
    if (!monotone) {
        for (size_t i = 0; i < n; i++)
            lab[i] = lut[u[i]];
        return;
    }
    const uint8_t base = lut[0];
    enum { CHUNK = 8192 }; /* stays in L1 across the steps */
    uint8_t copy[CHUNK];
    for (size_t c = 0; c < n; c += CHUNK) {
        const size_t e = c + CHUNK < n ? c + CHUNK : n;
        const uint8_t *uc = u + c;
        if (lab == u) {
            memcpy(copy, uc, e - c);
            uc = copy;
        }
        for (size_t i = c; i < e; i++)
            lab[i] = base;
        for (int s = 0; s < steps; s++) {
            const uint8_t t = at[s], add = inc[s];
            for (size_t i = c; i < e; i++)
                lab[i] = (uint8_t)(lab[i] + (uc[i - c] >= t ? add : 0));
        }
    }
}

/* Steps 2 to 6 once the 8-bit depth and its histogram are in ws. */
static DI_HOT_INLINE
int score_depth8(di_feature_ws *ws, int width, int height,
                 const uint64_t hist[256], float mn, float mx,
                 const di_feature_params *p, di_feature_result *out,
                 di_error *err)
{
    size_t n = (size_t)width * (size_t)height;
    memset(out, 0, sizeof *out);
    int rc = di_kmeans_hist(hist, p->k, out->centres, &out->k_eff, err);
    if (rc)
        return rc;
    di_kmeans_label_lut(out->centres, out->k_eff, ws->lut);
    /* Not keeping the intermediate images, one buffer takes them all in
    ** turn: the labels over the 8-bit depth, the edges over the labels. */
    uint8_t *labels = ws->drop_images ? ws->depth8 : ws->labels;
    uint8_t *edge_map = ws->drop_images ? ws->depth8 : ws->edges;
    apply_labels(ws->lut, ws->depth8, labels, n);

    di_canny(labels, width, height, p->canny_low, p->canny_high, edge_map,
             ws->canny_scratch);

    uint64_t edges;
    double sum = di_weighted_edge_sum(edge_map, width, height, ws->cx,
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

/* Checks what both entry points take; sizes ws for width x height. */
static int begin(di_feature_ws *ws, int width, int height,
                 const di_feature_params *p, di_error *err)
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
    return DI_OK;
}

static int nonfinite_error(di_error *err, float v, size_t at, int width)
{
    return di_fail(err, DI_EFORMAT,
                   "non-finite depth (%g) at x=%zu, y=%zu (first of the map)",
                   (double)v, at % (size_t)width, at / (size_t)width);
}

/* (D - min) * 255 must stay finite in float32, as the spec computes it: a
** wider range would make U an undefined float-to-int conversion. Since
** D - min <= max - min, checking the extremes is enough. */
static int range_error(di_error *err, float mn, float mx)
{
    if (isfinite((mx - mn) * 255.0f))
        return DI_OK;
    return di_fail(err, DI_EFORMAT,
                   "depth range %g to %g: (max - min) * 255 overflows "
                   "float32 (at most %g apart)",
                   (double)mn, (double)mx, (double)(FLT_MAX / 255.0f));
}

DI_HOT_CLONES
int di_feature_compute(di_feature_ws *ws, const float *depth, int width,
                       int height, const di_feature_params *p,
                       di_feature_result *out, di_error *err)
{
    int rc = begin(ws, width, height, p, err);
    if (rc)
        return rc;
    size_t n = (size_t)width * (size_t)height;
    float mn = 0, mx = 0;
    size_t bad = di_depth_minmax(depth, n, &mn, &mx);
    if (bad < n)
        return nonfinite_error(err, depth[bad], bad, width);
    if ((rc = range_error(err, mn, mx)))
        return rc;

    uint64_t hist[256];
    di_depth8_hist(depth, n, mn, mx, ws->depth8, hist);
    return score_depth8(ws, width, height, hist, mn, mx, p, out, err);
}

DI_HOT_CLONES
int di_feature_compute_resized(di_feature_ws *ws, const float *src, int sw,
                               int sh, int width, int height,
                               const di_feature_params *p,
                               di_feature_result *out, di_error *err)
{
    if (sw <= 0 || sh <= 0)
        return di_fail(err, DI_ESHAPE, "depth map of %dx%d pixels: empty", sw,
                       sh);
    int rc = begin(ws, width, height, p, err);
    if (rc)
        return rc;
    /* The resize's scratch, then the resized map (64-byte aligned). */
    size_t n = (size_t)width * (size_t)height;
    size_t rs = (di_resize_scratch_size(width, 1) + 63) & ~(size_t)63;
    if (grow(&ws->rows, &ws->rows_cap, rs + n * sizeof(float) + 64))
        return di_fail(err, DI_ENOMEM, "%dx%d depth map: out of memory", width,
                       height);
    uint8_t *base = (uint8_t *)(((uintptr_t)ws->rows + 63) & ~(uintptr_t)63);
    float *map = (float *)(base + rs);
    di_resize_rows rr;

    /* Each row is resized straight into the map and its minimum, maximum
    ** and first non-finite pixel are taken while it is in cache. */
    float mn = 0, mx = 0;
    di_resize_rows_begin(&rr, src, sw, sh, width, height, base);
    for (int y = 0; y < height; y++) {
        float *row = map + (size_t)y * (size_t)width;
        di_resize_rows_get(&rr, y, row);
        float lo = 0, hi = 0;
        size_t bad = di_depth_minmax(row, (size_t)width, &lo, &hi);
        if (bad < (size_t)width)
            return nonfinite_error(err, row[bad],
                                   (size_t)y * (size_t)width + bad, width);
        if (y == 0 || lo < mn)
            mn = lo;
        if (y == 0 || hi > mx)
            mx = hi;
    }
    if ((rc = range_error(err, mn, mx)))
        return rc;
    uint64_t hist[256];
    di_depth8_hist(map, n, mn, mx, ws->depth8, hist);
    return score_depth8(ws, width, height, hist, mn, mx, p, out, err);
}

const uint8_t *di_feature_depth8(const di_feature_ws *ws)
{
    return ws->have_result && !ws->drop_images ? ws->depth8 : NULL;
}

const uint8_t *di_feature_labels(const di_feature_ws *ws)
{
    return ws->have_result && !ws->drop_images ? ws->labels : NULL;
}

const uint8_t *di_feature_edges(const di_feature_ws *ws)
{
    if (!ws->have_result)
        return NULL;
    return ws->drop_images ? ws->depth8 : ws->edges;
}

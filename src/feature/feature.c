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
#if defined(__SSE2__)
#include <immintrin.h>
#endif

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

/* Min and max; a non-finite value makes it return its index. Values are
** checked for non-finite (exponent all ones) in the same pass; with SSE/AVX
** the pass runs 4 or 8 floats at a time (a plain C min/max reduction over
** floats does not vectorise without -ffast-math). */
static DI_HOT_INLINE
size_t first_nonfinite(const float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(d[i]))
            return i;
    return n;
}

static DI_HOT_INLINE
size_t minmax(const float *d, size_t n, float *mn, float *mx)
{
    float lo = d[0], hi = d[0];
    size_t i = 0;
#if defined(__AVX__)
    if (n >= 8) {
        __m256 vlo = _mm256_loadu_ps(d), vhi = vlo;
        const __m256i expo = _mm256_set1_epi32(0x7f800000);
        __m256 bad = _mm256_setzero_ps();
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(d + i);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
            __m256 e = _mm256_and_ps(v, _mm256_castsi256_ps(expo));
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(e, _mm256_castsi256_ps(expo),
                                                  _CMP_EQ_OQ));
        }
        if (_mm256_movemask_ps(bad))
            return first_nonfinite(d, n);
        float l[8], h[8];
        _mm256_storeu_ps(l, vlo);
        _mm256_storeu_ps(h, vhi);
        for (int k = 0; k < 8; k++) {
            lo = l[k] < lo ? l[k] : lo;
            hi = h[k] > hi ? h[k] : hi;
        }
    }
#elif defined(__SSE2__)
    if (n >= 4) {
        __m128 vlo = _mm_loadu_ps(d), vhi = vlo;
        const __m128i expo = _mm_set1_epi32(0x7f800000);
        __m128i bad = _mm_setzero_si128();
        for (; i + 4 <= n; i += 4) {
            __m128 v = _mm_loadu_ps(d + i);
            vlo = _mm_min_ps(vlo, v);
            vhi = _mm_max_ps(vhi, v);
            __m128i e = _mm_and_si128(_mm_castps_si128(v), expo);
            bad = _mm_or_si128(bad, _mm_cmpeq_epi32(e, expo));
        }
        if (_mm_movemask_epi8(bad))
            return first_nonfinite(d, n);
        float l[4], h[4];
        _mm_storeu_ps(l, vlo);
        _mm_storeu_ps(h, vhi);
        for (int k = 0; k < 4; k++) {
            lo = l[k] < lo ? l[k] : lo;
            hi = h[k] > hi ? h[k] : hi;
        }
    }
#endif
    for (; i < n; i++) {
        float v = d[i];
        if (!isfinite(v))
            return first_nonfinite(d, n);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *mn = lo, *mx = hi;
    return n;
}

/* L = lut[U]. The lookup table of a nearest-centre assignment is a step
** function of the value; when it is monotone with few steps (always, in
** practice) it is applied as a sum of comparisons, which vectorises. */
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
    if (!monotone) {
        for (size_t i = 0; i < n; i++)
            lab[i] = lut[u[i]];
        return;
    }
    const uint8_t base = lut[0];
    const size_t chunk = 8192; /* stays in L1 across the steps */
    for (size_t c = 0; c < n; c += chunk) {
        const size_t e = c + chunk < n ? c + chunk : n;
        for (size_t i = c; i < e; i++)
            lab[i] = base;
        for (int s = 0; s < steps; s++) {
            const uint8_t t = at[s], add = inc[s];
            for (size_t i = c; i < e; i++)
                lab[i] = (uint8_t)(lab[i] + (u[i] >= t ? add : 0));
        }
    }
}

/* U = trunc((D - mn) * 255 / (mx - mn)) in float32, and its histogram. */
/* Histogram of a chunk of U. Depth maps are smooth, so runs of 32 equal
** values are common (sky, walls, upsampled model output): such a run is one
** addition; otherwise four partial tables hide the store-to-load latency. */
static DI_HOT_INLINE
void histogram_chunk(const uint8_t *u, size_t n, uint32_t h4[4][256])
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const uint8_t v0 = u[i];
        int same = 1;
        for (int k = 1; k < 32; k++)
            same &= u[i + k] == v0;
        if (same) {
            h4[0][v0] += 32;
            continue;
        }
        for (int k = 0; k < 32; k += 4) {
            h4[0][u[i + k]]++;
            h4[1][u[i + k + 1]]++;
            h4[2][u[i + k + 2]]++;
            h4[3][u[i + k + 3]]++;
        }
    }
    for (; i < n; i++)
        h4[0][u[i]]++;
}

/* U = trunc((D - mn) * 255 / (mx - mn)) in float32 (mx > mn; the caller
** checked that (mx - mn) * 255 is finite, see range_error). */
static DI_HOT_INLINE
void quantise(const float *d, size_t n, float mn, float mx, uint8_t *u)
{
    const float range = mx - mn;
    for (size_t i = 0; i < n; i++) {
        float q = (d[i] - mn) * 255.0f / range;
        u[i] = (uint8_t)(int)q; /* q in [0, 256): trunc */
    }
}

/* Adds the partial counts into hist and clears them. */
static DI_HOT_INLINE
void flush_hist(uint32_t h4[4][256], uint64_t hist[256])
{
    for (int v = 0; v < 256; v++) {
        hist[v] += (uint64_t)h4[0][v] + h4[1][v] + h4[2][v] + h4[3][v];
        h4[0][v] = h4[1][v] = h4[2][v] = h4[3][v] = 0;
    }
}

/* U = trunc((D - mn) * 255 / (mx - mn)) in float32, and its histogram, in
** chunks that stay in L1 between the conversion and the counting. */
static DI_HOT_INLINE
void to_depth8(const float *d, size_t n, float mn, float mx, uint8_t *u,
               uint64_t hist[256])
{
    memset(hist, 0, 256 * sizeof(uint64_t));
    if (!(mx > mn)) {
        memset(u, 0, n);
        hist[0] = n;
        return;
    }
    /* uint32 partial counts: a chunk sequence is flushed every 2^30 pixels. */
    uint32_t h4[4][256];
    memset(h4, 0, sizeof h4);
    const size_t chunk = 4096;
    size_t since_flush = 0;
    for (size_t s = 0; s < n; s += chunk) {
        const size_t e = s + chunk < n ? s + chunk : n;
        quantise(d + s, e - s, mn, mx, u + s);
        histogram_chunk(u + s, e - s, h4);
        since_flush += e - s;
        if (since_flush >= ((size_t)1 << 30) || e == n) {
            flush_hist(h4, hist);
            since_flush = 0;
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
    apply_labels(ws->lut, ws->depth8, ws->labels, n);

    di_canny(ws->labels, width, height, p->canny_low, p->canny_high, ws->edges,
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
    size_t bad = minmax(depth, n, &mn, &mx);
    if (bad < n)
        return nonfinite_error(err, depth[bad], bad, width);
    if ((rc = range_error(err, mn, mx)))
        return rc;

    uint64_t hist[256];
    to_depth8(depth, n, mn, mx, ws->depth8, hist);
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
        size_t bad = minmax(row, (size_t)width, &lo, &hi);
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
    to_depth8(map, n, mn, mx, ws->depth8, hist);
    return score_depth8(ws, width, height, hist, mn, mx, p, out, err);
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

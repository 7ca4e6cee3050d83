/*
** score.c: the mean of the Gaussian congestion map without computing it.
**
** The blur is linear and separable, so the mean of blur(E) is
** (1 / (H W)) * sum E(y, x) * cy(y) * cx(x), where cx(j) is the total weight
** that input column j receives over all output columns of the 1-D
** replicate-border convolution (likewise cy for rows). Away from the
** borders every tap of the kernel lands inside the image once, so the weight
** is 1 there; only the r = ksize / 2 columns nearest each border differ.
*/
#include "feature_internal.h"

#include <string.h>
#if defined(__AVX512BW__)
#include <immintrin.h>
#endif

static void weights_direct(const double *g, int ksize, int n, double *cw)
{
    int r = ksize / 2;
    memset(cw, 0, sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++)
        for (int t = -r; t <= r; t++) {
            int j = i + t;
            j = j < 0 ? 0 : j >= n ? n - 1 : j;
            cw[j] += g[t + r];
        }
}

void di_blur_weights(const double *g, int ksize, int n, double *cw, int *lo,
                     int *hi)
{
    int r = ksize / 2;
    if (n < 4 * r + 1) { /* small: the border zones overlap */
        weights_direct(g, ksize, n, cw);
        *lo = *hi = 0;
        return;
    }
    /* Output i touches j < r only when i < 2r; j > n-1-r only when i > n-1-2r. */
    for (int j = 0; j < r; j++)
        cw[j] = cw[n - 1 - j] = 0;
    for (int j = r; j < n - r; j++)
        cw[j] = 1.0;
    for (int i = 0; i < 2 * r; i++)
        for (int t = -r; t <= r; t++) {
            int j = i + t < 0 ? 0 : i + t;
            if (j < r)
                cw[j] += g[t + r];
        }
    for (int i = n - 2 * r; i < n; i++)
        for (int t = -r; t <= r; t++) {
            int j = i + t > n - 1 ? n - 1 : i + t;
            if (j > n - 1 - r)
                cw[j] += g[t + r];
        }
    *lo = r;
    *hi = n - r;
}

/* The sum of e[x0..x1) (bytes), exact. With AVX-512BW one sum of absolute
** differences against zero per 64 bytes (eight 64-bit partial sums); the
** plain loop in 32-bit lanes, in runs of 2^16 columns (no overflow), is
** what the compiler vectorises otherwise. */
static DI_HOT_INLINE
uint64_t byte_sum(const uint8_t *e, int x0, int x1)
{
#if defined(__AVX512BW__)
    __m512i acc = _mm512_setzero_si512();
    int x = x0;
    for (; x + 64 <= x1; x += 64)
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_loadu_si512((const void *)(e + x)),
                                                     _mm512_setzero_si512()));
    if (x < x1) {
        const __mmask64 m = ((uint64_t)1 << (x1 - x)) - 1;
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, e + x),
                                                     _mm512_setzero_si512()));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
#else
    uint64_t total = 0;
    for (int s = x0; s < x1; s += 1 << 16) {
        int t = x1 - s > (1 << 16) ? s + (1 << 16) : x1;
        uint32_t bytes = 0; /* at most 255 * 2^16 */
        for (int x = s; x < t; x++)
            bytes += e[x];
        total += bytes;
    }
    return total;
#endif
}

/* Whether any of p[0..n) is non-zero, eight bytes at a time. */
static DI_HOT_INLINE
int any_nonzero(const uint8_t *p, int n)
{
    uint64_t acc = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        acc |= v;
    }
    for (; i < n; i++)
        acc |= p[i];
    return acc != 0;
}

/* The border columns' weighted edges of a row, in column order (the sum
** in double is order-dependent: this order is the reference). */
static DI_HOT_INLINE
void border_sum(const uint8_t *e, int from, int to, const double *cx,
                double *border, uint64_t *n_border)
{
    if (from >= to || !any_nonzero(e + from, to - from))
        return; /* most rows: nothing near the borders */
    for (int x = from; x < to; x++)
        if (e[x]) {
            *border += cx[x];
            (*n_border)++;
        }
}

DI_HOT_CLONES
double di_weighted_edge_sum(const uint8_t *edges, int w, int h,
                            const double *cx, int xlo, int xhi,
                            const double *cy, uint64_t *edge_count)
{
    double total = 0;
    uint64_t count = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *e = edges + (size_t)y * w;
        /* Interior columns weigh 1: a plain byte sum (edges are 0 or
        ** 255). */
        uint64_t n_in = xhi > xlo ? byte_sum(e, xlo, xhi) / 255 : 0;
        double border = 0;
        uint64_t n_border = 0;
        border_sum(e, 0, xlo, cx, &border, &n_border);
        border_sum(e, xhi > xlo ? xhi : xlo, w, cx, &border, &n_border);
        count += n_in + n_border;
        if (n_in || n_border)
            total += cy[y] * ((double)n_in + border);
    }
    *edge_count = count;
    return total * 255.0;
}

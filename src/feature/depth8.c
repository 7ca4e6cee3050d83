/*
** depth8.c: the first passes of the score over the float depth map: its
** minimum and maximum with the finiteness check, and the 8-bit depth
**   U = trunc((D - min) * 255 / (max - min))   (float32, in that order)
** with its histogram, in one pass.
**
** Two forms of each, giving the same bits:
**  - generic C (any build, and the AVX2 and SSE copies of DI_HOT_CLONES):
**    the quotient is one IEEE division per pixel, as the spec writes it;
**  - AVX-512 (a build whose target has AVX512BW, -march=native here): the
**    division is the slowest instruction of the pass, so the quotient is
**    taken as (D - min) * 255 * (1 / range) and divided exactly only where
**    that product could truncate differently. The product's relative error
**    against the exact quotient is below 2^-22 and the quotient is below
**    256, so it is within 2^-14 of it: when trunc(p - 2^-13) and
**    trunc(p + 2^-13) agree, that integer is U (the quotient is never
**    negative, so a small p truncates to 0 either way). A vector with a
**    lane where they disagree is divided exactly, but for the two values
**    that are common and exact at once, D == min (U = 0) and D == max (U
**    computed once by the division): flat areas at either end of the range
**    stay on the fast path. The histogram counts 64 values at a time: by
**    the block's runs of equal values (with AVX-512 VBMI; a block of a
**    smooth map is a few runs), or else with compares for the (usually one
**    to four) distinct values of the block and one by one for the rest.
** di_feature_generic (tests) forces the generic forms, so that both are
** checked against each other on one machine.
*/
#include "feature_internal.h"

#include <string.h>
#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define DEPTH8_AVX512 1
#elif defined(__AVX__)
#include <immintrin.h>
#endif

int di_feature_generic;

/* First non-finite value's index, or n. */
static DI_HOT_INLINE
size_t first_nonfinite(const float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(d[i]))
            return i;
    return n;
}

/* The pixels from i on, one by one, into lo and hi (the vector loops' tail):
** n and *mn, *mx, or the first non-finite value's index. */
static DI_HOT_INLINE
size_t minmax_rest(const float *d, size_t i, size_t n, float lo, float hi, float *mn, float *mx)
{
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

static DI_HOT_INLINE
size_t minmax_generic(const float *d, size_t n, float *mn, float *mx)
{
    float lo = d[0], hi = d[0];
    size_t i = 0;
#if defined(__AVX__)
    /* A plain C min/max reduction over floats does not vectorise without
    ** -ffast-math. */
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
#endif
    return minmax_rest(d, i, n, lo, hi, mn, mx);
}

#if DEPTH8_AVX512
static DI_HOT_INLINE
size_t minmax_avx512(const float *d, size_t n, float *mn, float *mx)
{
    float lo = d[0], hi = d[0];
    size_t i = 0;
    if (n >= 16) {
        /* Two accumulators each: min/max latency, not throughput, bounds a
        ** single chain. From the end to the start: a map just read from a
        ** file (or written by a model) is in cache at its end, and the pass
        ** after this one (depth8 forward) finds its start in cache then. */
        __m512 lo0 = _mm512_loadu_ps(d), hi0 = lo0, lo1 = lo0, hi1 = lo0;
        const __m512i expo = _mm512_set1_epi32(0x7f800000);
        __mmask16 bad = 0;
        const size_t n32 = n / 32 * 32;
        for (size_t j = n32; j > 0; j -= 32) {
            __m512 a = _mm512_loadu_ps(d + j - 32), b = _mm512_loadu_ps(d + j - 16);
            lo0 = _mm512_min_ps(lo0, a);
            hi0 = _mm512_max_ps(hi0, a);
            lo1 = _mm512_min_ps(lo1, b);
            hi1 = _mm512_max_ps(hi1, b);
            __m512i e = _mm512_and_si512(_mm512_castps_si512(a), expo);
            __m512i f = _mm512_and_si512(_mm512_castps_si512(b), expo);
            bad |= _mm512_cmpeq_epi32_mask(e, expo) | _mm512_cmpeq_epi32_mask(f, expo);
        }
        for (i = n32; i + 16 <= n; i += 16) {
            __m512 a = _mm512_loadu_ps(d + i);
            lo0 = _mm512_min_ps(lo0, a);
            hi0 = _mm512_max_ps(hi0, a);
            __m512i e = _mm512_and_si512(_mm512_castps_si512(a), expo);
            bad |= _mm512_cmpeq_epi32_mask(e, expo);
        }
        if (bad)
            return first_nonfinite(d, n);
        float l[16], h[16];
        _mm512_storeu_ps(l, _mm512_min_ps(lo0, lo1));
        _mm512_storeu_ps(h, _mm512_max_ps(hi0, hi1));
        for (int k = 0; k < 16; k++) {
            lo = l[k] < lo ? l[k] : lo;
            hi = h[k] > hi ? h[k] : hi;
        }
    }
    return minmax_rest(d, i, n, lo, hi, mn, mx);
}
#endif

DI_HOT_CLONES
size_t di_depth_minmax(const float *d, size_t n, float *mn, float *mx)
{
#if DEPTH8_AVX512
    if (!di_feature_generic)
        return minmax_avx512(d, n, mn, mx);
#endif
    return minmax_generic(d, n, mn, mx);
}

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

static DI_HOT_INLINE
void quantise_generic(const float *d, size_t n, float mn, float mx, uint8_t *u)
{
    const float range = mx - mn;
    for (size_t i = 0; i < n; i++) {
        float q = (d[i] - mn) * 255.0f / range;
        u[i] = (uint8_t)(int)q; /* q in [0, 256): trunc */
    }
}

#if DEPTH8_AVX512
/* U of 16 pixels (see the top of the file), but for the lanes of *doubt,
** whose product could truncate differently from the quotient: those are
** divided by quantise16_exact, once per block of 64 for all four vectors
** (one branch, not four, on a path that is almost never taken). */
static DI_HOT_INLINE
__m512i quantise16(__m512 d, __m512 vmn, __m512 v255, __m512 vinv,
                   __m512 vamax, __m512i vumax, __m512 delta, __mmask16 *doubt)
{
    __m512 a = _mm512_mul_ps(_mm512_sub_ps(d, vmn), v255);
    __m512 p = _mm512_mul_ps(a, vinv);
    __m512i t = _mm512_cvttps_epi32(_mm512_sub_ps(p, delta));
    __m512i t2 = _mm512_cvttps_epi32(_mm512_add_ps(p, delta));
    __mmask16 at_max = _mm512_cmp_ps_mask(a, vamax, _CMP_EQ_OQ);
    *doubt = _mm512_cmpneq_epi32_mask(t, t2) & (__mmask16)~at_max;
    return _mm512_mask_mov_epi32(t, at_max, vumax);
}

/* q with its lanes of doubt computed by the division, as the spec. */
static DI_HOT_INLINE
__m512i quantise16_exact(__m512i q, __mmask16 doubt, __m512 d, __m512 vmn,
                         __m512 v255, __m512 vrange)
{
    __m512 a = _mm512_mul_ps(_mm512_sub_ps(d, vmn), v255);
    return _mm512_mask_cvttps_epi32(q, doubt, _mm512_div_ps(a, vrange));
}

#if defined(__AVX512VBMI__)
/* Counts a block of 64 values of U by its runs of equal values: the run
** starts are one compare of the block with itself shifted by a byte (a
** byte permute), and each run is one addition of its length. A smooth
** map's block is a few runs (one on flat ground or sky, a handful on a
** ramp); the runs are independent of each other, so unlike a compare per
** distinct value nothing waits for the previous step. */
static DI_HOT_INLINE
void histogram64_runs(__m512i b, const uint8_t *u, uint32_t h4[4][256], int *kp)
{
    const __m512i back = _mm512_set_epi8(
        62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46,
        45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28,
        27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
        9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0);
    uint64_t starts = _mm512_cmpneq_epi8_mask(b, _mm512_permutexvar_epi8(back, b)) | 1;
    /* The partial table rotates across blocks too: a flat area is one run
    ** per block, all of one value, and restarting at table 0 made each
    ** block's addition wait for the previous block's. */
    int k = *kp;
    /* A block of one value (seven in ten of the demo's 512x512 maps): one
    ** addition, without the loop's exit branch (mispredicted wherever the
    ** number of runs changes) and with the value taken from the register
    ** rather than loaded back from the store just made. */
    if (starts == 1) {
        h4[k++ & 3][(uint8_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(b))] += 64;
        *kp = k;
        return;
    }
    while (starts) {
        const int j = __builtin_ctzll(starts);
        starts &= starts - 1;
        const int next = starts ? __builtin_ctzll(starts) : 64;
        h4[k++ & 3][u[j]] += (uint32_t)(next - j);
    }
    *kp = k;
}
#endif

/* Counts a block of 64 values of U: one compare per distinct value for the
** first six (a block of a smooth map has one to a few), the rest one by one
** (a steep ramp, noise). */
static DI_HOT_INLINE
void histogram64(__m512i b, const uint8_t *u, uint32_t h4[4][256])
{
    uint64_t done = 0;
    for (int it = 0; it < 6; it++) {
        const uint8_t v = u[__builtin_ctzll(~done)];
        uint64_t m = _mm512_cmpeq_epi8_mask(b, _mm512_set1_epi8((char)v));
        h4[it & 3][v] += (uint32_t)__builtin_popcountll(m);
        done |= m;
        if (done == ~(uint64_t)0)
            return;
    }
    for (uint64_t rest = ~done; rest; rest &= rest - 1) {
        int j = __builtin_ctzll(rest);
        h4[j & 3][u[j]]++;
    }
}

static DI_HOT_INLINE
void depth8_avx512(const float *d, size_t n, float mn, float mx, uint8_t *u,
                   uint32_t h4[4][256])
{
    const float range = mx - mn;
    const float amax = (mx - mn) * 255.0f;
    const int umax = (int)(amax / range);
    const __m512 vmn = _mm512_set1_ps(mn), v255 = _mm512_set1_ps(255.0f);
    const __m512 vinv = _mm512_set1_ps(1.0f / range), vrange = _mm512_set1_ps(range);
    const __m512 vamax = _mm512_set1_ps(amax), delta = _mm512_set1_ps(1.0f / 8192);
    const __m512i vumax = _mm512_set1_epi32(umax);
    size_t i = 0;
    int runk = 0; /* histogram64_runs' next partial table */
    (void)runk;
    /* 1 / range must be a normal float for the error bound above. */
    const size_t fast_end = range >= 1e-36f ? n : 0;
    for (; i + 64 <= fast_end; i += 64) {
        const __m512 d0 = _mm512_loadu_ps(d + i), d1 = _mm512_loadu_ps(d + i + 16);
        const __m512 d2 = _mm512_loadu_ps(d + i + 32), d3 = _mm512_loadu_ps(d + i + 48);
        __mmask16 x0, x1, x2, x3;
        __m512i q0 = quantise16(d0, vmn, v255, vinv, vamax, vumax, delta, &x0);
        __m512i q1 = quantise16(d1, vmn, v255, vinv, vamax, vumax, delta, &x1);
        __m512i q2 = quantise16(d2, vmn, v255, vinv, vamax, vumax, delta, &x2);
        __m512i q3 = quantise16(d3, vmn, v255, vinv, vamax, vumax, delta, &x3);
        if (__builtin_expect((x0 | x1 | x2 | x3) != 0, 0)) {
            q0 = quantise16_exact(q0, x0, d0, vmn, v255, vrange);
            q1 = quantise16_exact(q1, x1, d1, vmn, v255, vrange);
            q2 = quantise16_exact(q2, x2, d2, vmn, v255, vrange);
            q3 = quantise16_exact(q3, x3, d3, vmn, v255, vrange);
        }
        /* 0..255 each: the saturating packs are exact. Three packs and one
        ** dword permute instead of four narrowing moves (two micro-ops each
        ** on Zen 4 and 5) and three inserts. A pack works within 128-bit
        ** lanes: lane l of the result holds q0..q3's pixels 4l..4l+3, one
        ** dword each; the permute puts dword 4l+m at 4m+l. */
        const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13,
                                               9, 5, 1, 12, 8, 4, 0);
        __m512i b = _mm512_permutexvar_epi32(
            order, _mm512_packus_epi16(_mm512_packus_epi32(q0, q1),
                                       _mm512_packus_epi32(q2, q3)));
        _mm512_storeu_si512((void *)(u + i), b);
#if defined(__AVX512VBMI__)
        histogram64_runs(b, u + i, h4, &runk);
#else
        histogram64(b, u + i, h4);
#endif
    }
    quantise_generic(d + i, n - i, mn, mx, u + i);
    histogram_chunk(u + i, n - i, h4);
}
#endif

/* Adds the partial counts into hist and clears them. */
static DI_HOT_INLINE
void flush_hist(uint32_t h4[4][256], uint64_t hist[256])
{
    for (int v = 0; v < 256; v++) {
        hist[v] += (uint64_t)h4[0][v] + h4[1][v] + h4[2][v] + h4[3][v];
        h4[0][v] = h4[1][v] = h4[2][v] = h4[3][v] = 0;
    }
}

DI_HOT_CLONES
void di_depth8_hist(const float *d, size_t n, float mn, float mx, uint8_t *u,
                    uint64_t hist[256])
{
    memset(hist, 0, 256 * sizeof(uint64_t));
    if (!(mx > mn)) {
        memset(u, 0, n);
        hist[0] = n;
        return;
    }
    /* uint32 partial counts: flushed every 2^30 pixels. In chunks that stay
    ** in L1 between the conversion and the counting (generic form). */
    uint32_t h4[4][256];
    memset(h4, 0, sizeof h4);
    const size_t chunk = 4096, flush_every = (size_t)1 << 30;
    for (size_t s = 0; s < n; s += flush_every) {
        const size_t part = n - s < flush_every ? n - s : flush_every;
#if DEPTH8_AVX512
        if (!di_feature_generic) {
            depth8_avx512(d + s, part, mn, mx, u + s, h4);
            flush_hist(h4, hist);
            continue;
        }
#endif
        for (size_t c = s; c < s + part; c += chunk) {
            const size_t e = c + chunk < s + part ? c + chunk : s + part;
            quantise_generic(d + c, e - c, mn, mx, u + c);
            histogram_chunk(u + c, e - c, h4);
        }
        flush_hist(h4, hist);
    }
}

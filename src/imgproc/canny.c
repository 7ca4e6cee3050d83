/*
** canny.c: cv::Canny(src, dst, low, high, 3, false) on 8-bit grey images,
** pixel-identical to OpenCV 4.6.
**
** What OpenCV does, and what we reproduce step by step:
**  - thresholds: swapped when low > high, then floored to int (L1 gradient;
**    the squaring is only for L2);
**  - gradients: 3x3 Sobel in x and y, int16 results, BORDER_REPLICATE at the
**    image borders;
**  - magnitude: |dx| + |dy|; magnitudes outside the image count as 0;
**  - non-maximum suppression with the integer tangent trick: with
**    TG22 = round(tan(22.5 deg) * 2^15) = 13573, x = |dx|, y = |dy| << 15:
**      y <  x * TG22                 -> horizontal: m >  left  && m >= right
**      y >  x * TG22 + (x << 16)     -> vertical:   m >  above && m >= below
**      otherwise diagonal, s = sign(dx * dy):
**                                      m > above[-s] && m > below[+s]
**    (the asymmetric > / >= are OpenCV's); a surviving pixel with m > high
**    is an edge, otherwise a candidate; m <= low is never an edge;
**  - hysteresis: candidates 8-connected to an edge become edges.
**
** Everything runs row by row over small int16 ring buffers. The state of a
** pixel is kept in dst itself (0 none, 255 edge, 1 candidate until the
** hysteresis): no map of its own and no pass converting it at the end. The
** only image-sized scratch is the list of candidates and the hysteresis'
** stack (uint32 indices; their pages are touched only when used).
*/
#include "imgproc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

#define TG22 13573

/* dst's values while it is built; EDGE alone has bit 7 set. */
enum { MAP_NONE = 0, MAP_CANDIDATE = 1, MAP_EDGE = 255 };

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Scratch layout (each part 64-byte aligned). */
typedef struct canny_layout {
    size_t stack, mag, dx, dy, vsum, vdiff, total;
} canny_layout;

static canny_layout layout(int width, int height)
{
    canny_layout l;
    size_t w = (size_t)width, h = (size_t)height;
    size_t off = 0;
    l.mag = off; /* 3 rows of w + 2 int16 (zero padding at both ends) */
    off += align64(3 * (w + 2) * sizeof(int16_t));
    l.dx = off; /* 2 rows (current and previous) */
    off += align64(2 * w * sizeof(int16_t));
    l.dy = off;
    off += align64(2 * w * sizeof(int16_t));
    l.vsum = off; /* one row of w + 2, with replicated ends */
    off += align64((w + 2) * sizeof(int16_t));
    l.vdiff = off;
    off += align64((w + 2) * sizeof(int16_t));
    /* Last: the row buffers above and the stack's first pages (the only
    ** ones a label image's few candidates touch) share the memory a first
    ** call faults in. */
    l.stack = off; /* the candidates, then the flood's stack: each at most
                   ** w * h, and one slot for the push's spare store */
    off += align64((2 * w * h + 1) * sizeof(uint32_t));
    l.total = off;
    return l;
}

size_t di_canny_scratch_size(int width, int height)
{
    if (width <= 0 || height <= 0)
        return 64;
    return layout(width, height).total + 64;
}

/* 32 int16 lanes in GCC/clang vector extensions: one AVX-512 register, two
** AVX2 or four SSE2 ones, whatever the build targets (-Dnative=false
** included). Written out because the plain C loops, computed in int as C
** promotes them, vectorise in 32-bit lanes at half the width. Every value
** here fits int16: |dx|, |dy| <= 4 * 255 and |dx| + |dy| <= 2040. */
#if defined(__GNUC__)
#define CANNY_VEC 1
typedef int16_t i16x32 __attribute__((vector_size(64)));
/* Macros, not functions: a 64-byte vector passed by value would change the
** calling convention between ISAs (GCC's -Wpsabi). */
#define LOAD32(v, p) memcpy(&(v), (p), sizeof(i16x32))
#define STORE32(p, v) memcpy((p), &(v), sizeof(i16x32))

/* Whether any of m[0..31] exceeds low: one compare and a mask test where
** the build's ISA has them, else an OR of the comparison's bytes. */
static DI_HOT_INLINE
int any_above32(const int16_t *m, int16_t low)
{
#if defined(__AVX512BW__)
    return _mm512_cmpgt_epi16_mask(_mm512_loadu_si512((const void *)m),
                                   _mm512_set1_epi16(low)) != 0;
#elif defined(__AVX2__)
    __m256i l = _mm256_set1_epi16(low);
    __m256i a = _mm256_cmpgt_epi16(_mm256_loadu_si256((const __m256i *)m), l);
    __m256i b = _mm256_cmpgt_epi16(_mm256_loadu_si256((const __m256i *)(m + 16)), l);
    return !_mm256_testz_si256(_mm256_or_si256(a, b), _mm256_or_si256(a, b));
#else
    i16x32 v;
    LOAD32(v, m);
    i16x32 gt = v > low; /* -1 where above */
    uint64_t q[8];
    memcpy(q, &gt, sizeof q);
    return (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7]) != 0;
#endif
}
#endif

/* Whether columns [lo, hi) of rows a, b and c all hold one value: then the
** gradient of the columns between them is zero. A label image is such
** flat areas but for its layer boundaries, so most blocks skip the Sobel.
** Spans of 64 or more are tested as two overlapping 64-byte vectors per
** row (hi - lo is at most 66). */
#if CANNY_VEC
typedef uint8_t u8x64 __attribute__((vector_size(64)));
static DI_HOT_INLINE
int flat64(const uint8_t *a, const uint8_t *b, const uint8_t *c, u8x64 v)
{
#if defined(__AVX512BW__)
    __m512i w = (__m512i)v;
    return (_mm512_cmpneq_epi8_mask(_mm512_loadu_si512((const void *)a), w) |
            _mm512_cmpneq_epi8_mask(_mm512_loadu_si512((const void *)b), w) |
            _mm512_cmpneq_epi8_mask(_mm512_loadu_si512((const void *)c), w)) == 0;
#else
    u8x64 x, y, z;
    memcpy(&x, a, 64);
    memcpy(&y, b, 64);
    memcpy(&z, c, 64);
    u8x64 d = (x ^ v) | (y ^ v) | (z ^ v);
    uint64_t q[8];
    memcpy(q, &d, sizeof q);
    return (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7]) == 0;
#endif
}
#endif

static DI_HOT_INLINE
int flat3(const uint8_t *a, const uint8_t *b, const uint8_t *c, int lo, int hi)
{
    const uint8_t v = a[lo];
#if CANNY_VEC
    if (hi - lo >= 64) {
        u8x64 vv;
        memset(&vv, v, sizeof vv);
        return flat64(a + lo, b + lo, c + lo, vv) &&
               flat64(a + hi - 64, b + hi - 64, c + hi - 64, vv);
    }
#endif
    uint8_t acc = 0;
    for (int x = lo; x < hi; x++)
        acc |= (uint8_t)((a[x] ^ v) | (b[x] ^ v) | (c[x] ^ v));
    return acc == 0;
}

/* Sobel dx, dy (ksize 3, BORDER_REPLICATE) and L1 magnitude of row y, in
** blocks of 64 columns; a block whose 3 x 66 neighbourhood is flat gets a
** zero magnitude and no dx, dy (nothing reads them where the magnitude is
** 0: the suppression looks at dx, dy only of pixels above low >= 0; with
** a negative low, skip is 0 and every block is computed). Returns whether
** the whole row's magnitude is zero. */
static DI_HOT_INLINE
int sobel_row(const uint8_t *src, int w, int h, int y, int16_t *vsum,
              int16_t *vdiff, int16_t *dx, int16_t *dy, int16_t *mag, int skip)
{
    const uint8_t *a = src + (size_t)(y > 0 ? y - 1 : 0) * w;
    const uint8_t *b = src + (size_t)y * w;
    const uint8_t *c = src + (size_t)(y < h - 1 ? y + 1 : h - 1) * w;
    int16_t *vs = vsum + 1, *vd = vdiff + 1;
    /* First the flat blocks (a bit each; rows wider than the mask's 2^18
    ** columns are computed whole), then one pass of the column sums over
    ** the row if any block is not flat, then the gradient of those blocks. */
    uint64_t busy[64];
    const int nb = (w + 63) / 64;
    const int masked = skip && nb <= 64 * 64;
    if (masked) {
        int any = 0;
        memset(busy, 0, sizeof(uint64_t) * (size_t)((nb + 63) / 64));
        for (int k = 0; k < nb; k++) {
            const int b0 = k * 64, b1 = b0 + 64 < w ? b0 + 64 : w;
            const int lo = b0 > 0 ? b0 - 1 : 0, hi = b1 < w ? b1 + 1 : w;
            if (flat3(a, b, c, lo, hi)) {
                memset(mag + b0, 0, (size_t)(b1 - b0) * sizeof(int16_t));
            } else {
                busy[k >> 6] |= (uint64_t)1 << (k & 63);
                any = 1;
            }
        }
        if (!any)
            return 1;
    }
    for (int x = 0; x < w; x++) {
        vs[x] = (int16_t)(a[x] + 2 * b[x] + c[x]);
        vd[x] = (int16_t)(c[x] - a[x]);
    }
    vs[-1] = vs[0];
    vs[w] = vs[w - 1];
    vd[-1] = vd[0];
    vd[w] = vd[w - 1];
    for (int k = 0; k < nb; k++) {
        if (masked && !(busy[k >> 6] >> (k & 63) & 1))
            continue;
        const int b0 = k * 64, b1 = b0 + 64 < w ? b0 + 64 : w;
        int x0 = b0;
#if CANNY_VEC
        for (; x0 + 32 <= b1; x0 += 32) {
            i16x32 sp, sm, dm, d0, dp;
            LOAD32(sp, vs + x0 + 1);
            LOAD32(sm, vs + x0 - 1);
            LOAD32(dm, vd + x0 - 1);
            LOAD32(d0, vd + x0);
            LOAD32(dp, vd + x0 + 1);
            i16x32 gx = sp - sm;
            i16x32 gy = dm + d0 + d0 + dp;
            i16x32 sx = gx >> 15, sy = gy >> 15; /* all ones where negative */
            i16x32 mg = ((gx ^ sx) - sx) + ((gy ^ sy) - sy);
            STORE32(dx + x0, gx);
            STORE32(dy + x0, gy);
            STORE32(mag + x0, mg);
        }
#endif
        for (int x = x0; x < b1; x++) {
            int gx = vs[x + 1] - vs[x - 1];
            int gy = vd[x - 1] + 2 * vd[x] + vd[x + 1];
            dx[x] = (int16_t)gx;
            dy[x] = (int16_t)gy;
            mag[x] = (int16_t)((gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy));
        }
    }
    return 0;
}

#if defined(__AVX512BW__)
/* The suppression of 32 pixels in int16 lanes with mask registers (the
** plain loop below vectorises in 32-bit lanes, with 32-bit multiplies):
** the same decisions. The tangent tests compare the 32-bit products
** y = |dy| << 15 and |dx| * TG22 (+ |dx| << 16) as (high, low) 16-bit
** halves: every factor is at most 1020, so each high half fits 16 bits.
** Returns the candidates' mask; out[0..31] gets the states. */
static DI_HOT_INLINE
uint32_t nms32_avx512(const int16_t *mp, const int16_t *ma, const int16_t *mn,
                      const int16_t *dx, const int16_t *dy, __m512i low,
                      __m512i high, uint8_t *out)
{
#define LD(p) _mm512_loadu_si512((const void *)(p))
    const __m512i m = LD(ma), gx = LD(dx), gy = LD(dy);
    const __m512i ax = _mm512_abs_epi16(gx), ay = _mm512_abs_epi16(gy);
    const __m512i tg = _mm512_set1_epi16(TG22);
    /* |dx| * TG22 = (p_hi, p_lo); |dy| << 15 = (ay >> 1, (ay & 1) << 15) */
    const __m512i p_hi = _mm512_mulhi_epu16(ax, tg), p_lo = _mm512_mullo_epi16(ax, tg);
    const __m512i q_hi = _mm512_add_epi16(p_hi, ax); /* + |dx| << 16 */
    const __m512i y_hi = _mm512_srli_epi16(ay, 1), y_lo = _mm512_slli_epi16(ay, 15);
    const __mmask32 lo_lt = _mm512_cmplt_epu16_mask(y_lo, p_lo);
    const __mmask32 lo_gt = _mm512_cmpgt_epu16_mask(y_lo, p_lo);
    /* y < |dx| * TG22: horizontal */
    const __mmask32 horiz = _mm512_cmplt_epu16_mask(y_hi, p_hi) |
                            (_mm512_cmpeq_epi16_mask(y_hi, p_hi) & lo_lt);
    /* y > |dx| * TG22 + (|dx| << 16): vertical */
    const __mmask32 vert = _mm512_cmpgt_epu16_mask(y_hi, q_hi) |
                           (_mm512_cmpeq_epi16_mask(y_hi, q_hi) & lo_gt);
    const __mmask32 keep_h = _mm512_cmpgt_epi16_mask(m, LD(ma - 1)) &
                             _mm512_cmpge_epi16_mask(m, LD(ma + 1));
    const __mmask32 keep_v = _mm512_cmpgt_epi16_mask(m, LD(mp)) &
                             _mm512_cmpge_epi16_mask(m, LD(mn));
    const __mmask32 keep_dp = _mm512_cmpgt_epi16_mask(m, LD(mp - 1)) &
                              _mm512_cmpgt_epi16_mask(m, LD(mn + 1));
    const __mmask32 keep_dn = _mm512_cmpgt_epi16_mask(m, LD(mp + 1)) &
                              _mm512_cmpgt_epi16_mask(m, LD(mn - 1));
    const __mmask32 neg = _mm512_movepi16_mask(_mm512_xor_si512(gx, gy));
    const __mmask32 keep_d = (neg & keep_dn) | (~neg & keep_dp);
    __mmask32 keep = (horiz & keep_h) | (~horiz & vert & keep_v) |
                     (~horiz & ~vert & keep_d);
    keep &= _mm512_cmpgt_epi16_mask(m, low);
    const __mmask32 edge = keep & _mm512_cmpgt_epi16_mask(m, high);
    const __mmask32 cand = keep & ~edge;
#undef LD
    const __m256i v = _mm256_mask_mov_epi8(_mm256_maskz_mov_epi8(cand, _mm256_set1_epi8(MAP_CANDIDATE)),
                                           edge, _mm256_set1_epi8((char)MAP_EDGE));
    _mm256_storeu_si256((__m256i *)(void *)out, v);
    return cand;
}
#endif

/* Non-maximum suppression of one row: fills its row of dst and pushes its
** candidates.
** Most of a label image has no gradient: blocks of 32 pixels with no
** magnitude above low are skipped with one vectorised test. A block with
** some is suppressed in one branch-free pass that the compiler vectorises
** (every direction's test computed for every pixel, then selected): the
** same decisions as OpenCV's per-pixel branches, see the top of the file.
** Both diagonal neighbour pairs are read for every pixel, so the rows carry
** one zero pixel of padding at each end (mp[-1], mn[w] and the like). */
static DI_HOT_INLINE
uint32_t *nms_row(const int16_t *mp, const int16_t *ma, const int16_t *mn,
                  const int16_t *dx, const int16_t *dy, int w, int low,
                  int high, uint8_t *maprow, uint32_t mapbase, uint32_t *sp)
{
    memset(maprow, MAP_NONE, (size_t)w);
    /* Magnitudes are 0..2040: a low above that passes nothing. */
    const int16_t low16 = (int16_t)(low > 32767 ? 32767 : low < -32768 ? -32768 : low);
#if defined(__AVX512BW__)
    const int16_t high16 = (int16_t)(high > 32767 ? 32767 : high < -32768 ? -32768 : high);
    const __m512i vlow = _mm512_set1_epi16(low16), vhigh = _mm512_set1_epi16(high16);
#endif
    for (int j0 = 0; j0 < w; j0 += 32) {
        int j1 = j0 + 32 < w ? j0 + 32 : w;
        int any = 0;
#if CANNY_VEC
        if (j1 - j0 == 32)
            any = any_above32(ma + j0, low16);
        else
#endif
            for (int j = j0; j < j1; j++)
                any |= ma[j] > low16;
        if (!any)
            continue;
#if defined(__AVX512BW__)
        if (j1 - j0 == 32) {
            for (uint32_t c = nms32_avx512(mp + j0, ma + j0, mn + j0, dx + j0, dy + j0,
                                           vlow, vhigh, maprow + j0);
                 c; c &= c - 1)
                *sp++ = mapbase + (uint32_t)j0 + (uint32_t)__builtin_ctz(c);
            continue;
        }
#endif
        uint8_t *restrict out = maprow;
        int cands = 0;
        for (int j = j0; j < j1; j++) {
            int m = ma[j];
            int xs = dx[j], ys = dy[j];
            int x = xs < 0 ? -xs : xs;
            int y = (ys < 0 ? -ys : ys) << 15;
            int tg22x = x * TG22;
            int tg67x = tg22x + (x << 16);
            int keep_h = (m > ma[j - 1]) & (m >= ma[j + 1]);
            int keep_v = (m > mp[j]) & (m >= mn[j]);
            /* s = sign(dx * dy): above[-s] and below[+s] */
            int keep_dp = (m > mp[j - 1]) & (m > mn[j + 1]);
            int keep_dn = (m > mp[j + 1]) & (m > mn[j - 1]);
            int keep_d = (xs ^ ys) < 0 ? keep_dn : keep_dp;
            int keep = y < tg22x ? keep_h : y > tg67x ? keep_v : keep_d;
            keep &= m > low;
            int v = keep ? (m > high ? MAP_EDGE : MAP_CANDIDATE) : MAP_NONE;
            out[j] = (uint8_t)v;
            cands |= v == MAP_CANDIDATE;
        }
        /* Candidates are rare (most pixels a label step leaves are above
        ** high): pushed without a branch per pixel, the store made
        ** always and the pointer moved only for a candidate. */
        if (cands)
            for (int j = j0; j < j1; j++) {
                *sp = mapbase + (uint32_t)j;
                sp += maprow[j] == MAP_CANDIDATE;
            }
    }
    return sp;
}

/* The 8-neighbours of pixel p inside the image: their indices in nb, their
** number returned (fewer on the image's border, where OpenCV's map has a
** frame that is never an edge). */
static DI_HOT_INLINE
int neighbours(uint32_t p, int w, int h, uint32_t nb[8])
{
    const uint32_t uw = (uint32_t)w, x = p % uw, y = p / uw;
    if (x >= 1 && x + 1 < uw && y >= 1 && y + 1 < (uint32_t)h) { /* all 8 */
        nb[0] = p - uw - 1, nb[1] = p - uw, nb[2] = p - uw + 1;
        nb[3] = p - 1, nb[4] = p + 1;
        nb[5] = p + uw - 1, nb[6] = p + uw, nb[7] = p + uw + 1;
        return 8;
    }
    int n = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            const int64_t nx = (int64_t)x + dx, ny = (int64_t)y + dy;
            if ((dx || dy) && nx >= 0 && nx < w && ny >= 0 && ny < h)
                nb[n++] = (uint32_t)(ny * w + nx);
        }
    return n;
}

DI_HOT_CLONES
void di_canny(const uint8_t *src, int width, int height, double low_thresh,
              double high_thresh, uint8_t *dst, void *scratch)
{
    if (width <= 0 || height <= 0)
        return;
    if (low_thresh > high_thresh) {
        double t = low_thresh;
        low_thresh = high_thresh;
        high_thresh = t;
    }
    /* cvFloor of the thresholds, saturated so the int conversion is defined. */
    int low = low_thresh < -1e9 ? -1000000000
              : low_thresh > 1e9 ? 1000000000 : (int)floor(low_thresh);
    int high = high_thresh < -1e9 ? -1000000000
               : high_thresh > 1e9 ? 1000000000 : (int)floor(high_thresh);

    const int w = width, h = height;
    const size_t magstep = (size_t)w + 2;
    canny_layout l = layout(w, h);
    uint8_t *base = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    uint32_t *stack = (uint32_t *)(base + l.stack);
    int16_t *magbuf = (int16_t *)(base + l.mag);
    int16_t *dxbuf = (int16_t *)(base + l.dx);
    int16_t *dybuf = (int16_t *)(base + l.dy);
    int16_t *vsum = (int16_t *)(base + l.vsum);
    int16_t *vdiff = (int16_t *)(base + l.vdiff);

    /* Magnitude rings: slot r holds row (r mod 3); index -1 and w are 0. */
    memset(magbuf, 0, 3 * magstep * sizeof(int16_t));
    uint32_t *sp = stack;

    /* Row y's gradient is computed at step y, its NMS at step y + 1. A row
    ** whose magnitude is all zero has nothing to suppress (low >= 0). */
    const int skip = low >= 0;
    int zero_row[2] = {0, 0}; /* rows y - 1 and y */
    for (int y = 0; y <= h; y++) {
        int16_t *mag_cur = magbuf + (size_t)(y % 3) * magstep + 1;
        zero_row[0] = zero_row[1];
        if (y < h) {
            zero_row[1] = sobel_row(src, w, h, y, vsum, vdiff,
                                    dxbuf + (size_t)(y & 1) * w,
                                    dybuf + (size_t)(y & 1) * w, mag_cur, skip);
        } else {
            memset(mag_cur - 1, 0, magstep * sizeof(int16_t)); /* row h */
        }
        if (y == 0)
            continue;
        int r = y - 1; /* the row to suppress */
        const int16_t *ma = magbuf + (size_t)(r % 3) * magstep + 1;
        const int16_t *mn = mag_cur;
        /* Row -1 is zero: slot 2 is still all zeros at step 1 (row 2 is
        ** computed at step 2). */
        const int16_t *mp = magbuf + (size_t)((r + 2) % 3) * magstep + 1;
        uint32_t rowbase = (uint32_t)((size_t)r * (size_t)w);
        if (skip && zero_row[0]) {
            memset(dst + rowbase, MAP_NONE, (size_t)w);
            continue;
        }
        sp = nms_row(mp, ma, mn, dxbuf + (size_t)(r & 1) * w,
                     dybuf + (size_t)(r & 1) * w, w, low, high,
                     dst + rowbase, rowbase, sp);
    }

    /* Hysteresis: a candidate 8-connected to an edge through candidates
    ** becomes an edge. OpenCV floods from every edge pixel; the same set
    ** is reached from the candidates' side, which are few: a candidate
    ** next to an edge becomes one and floods its candidate neighbours
    ** (those not next to an edge themselves are reached that way or not
    ** at all, as from the edges). The flood's stack follows the list. */
    uint32_t *const list_end = sp;
    for (const uint32_t *c = stack; c < list_end; c++) {
        const uint32_t p = *c;
        if (dst[p] != MAP_CANDIDATE)
            continue; /* reached by an earlier flood */
        uint32_t nb[8];
        int nn = neighbours(p, w, h, nb);
        uint8_t any = 0;
        for (int k = 0; k < nn; k++)
            any |= dst[nb[k]];
        if (!(any & 0x80))
            continue; /* no edge next to it (yet) */
        dst[p] = MAP_EDGE;
        uint32_t *top = list_end;
        *top++ = p;
        while (top > list_end) {
            const uint32_t q = *--top;
            nn = neighbours(q, w, h, nb);
            for (int k = 0; k < nn; k++)
                if (dst[nb[k]] == MAP_CANDIDATE) {
                    dst[nb[k]] = MAP_EDGE;
                    *top++ = nb[k];
                }
        }
    }
    /* The candidates no edge reached are not edges. */
    for (const uint32_t *c = stack; c < list_end; c++)
        if (dst[*c] == MAP_CANDIDATE)
            dst[*c] = MAP_NONE;
}

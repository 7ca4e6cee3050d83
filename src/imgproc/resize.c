/*
** resize.c: bilinear resizing with half-pixel centres, the convention of
** OpenCV INTER_LINEAR and PyTorch interpolate(align_corners=False): output
** pixel d samples source coordinate (d + 0.5) * src/dst - 0.5, clamped to the
** border. The float version follows OpenCV's order of operations (weights in
** float, horizontal pass then vertical), so it agrees with cv2.resize on
** float32 to a few ulps.
**
** Separable: each source row that an output row needs is resized
** horizontally once into a float row (two cached rows suffice, since output
** rows walk the source rows in order), then each output row is a two-tap
** vertical blend that the compiler vectorises. These functions cannot fail:
** when the few row buffers cannot be allocated they fall back to a slower
** direct path that needs no memory (column weights per tile on the stack).
*/
#include "imgproc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE 512

typedef struct tap {
    int i0, i1;  /* the two source indices */
    float w0, w1; /* their weights */
} tap;

/* Source taps of output index d, as OpenCV computes them. */
static tap tap_at(int d, int ssize, double scale)
{
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    tap t;
    if (s < 0) {
        t.i0 = t.i1 = 0;
        t.w0 = 1.f, t.w1 = 0.f;
    } else if (s >= ssize - 1) {
        t.i0 = t.i1 = ssize - 1;
        t.w0 = 1.f, t.w1 = 0.f;
    } else {
        t.i0 = s, t.i1 = s + 1;
        t.w0 = 1.f - f, t.w1 = f;
    }
    return t;
}

/* Row cache of the separable path: two horizontally resized source rows. */
typedef struct rows2 {
    float *buf[2];
    int src_row[2];
} rows2;

/* Horizontal pass of source row y (float or u8 source) into a float row.
**
** Doubling (dw = 2 sw, a model output of half the face's size) has taps of
** period two: away from the ends output 2k takes source k-1 and k with
** weights 0.25 and 0.75, output 2k+1 takes k and k+1 with 0.75 and 0.25
** (tap_at computes k -/+ 0.25 exactly in float for any k below 2^22). That
** loop reads the row contiguously and vectorises; it takes the weights from
** the tap table and makes the same product and sum per output, so the bits
** are those of the general loop (test_resize compares both paths). */
static void hpass_f32(const float *restrict row, int sw, const tap *xt, int dw,
                      float *restrict out)
{
    if (dw == 2 * sw && sw >= 3 && sw < (1 << 22)) {
        const float a0 = xt[2].w0, a1 = xt[2].w1; /* even outputs */
        const float b0 = xt[3].w0, b1 = xt[3].w1; /* odd outputs */
        for (int k = 1; k <= sw - 2; k++) {
            out[2 * k] = row[k - 1] * a0 + row[k] * a1;
            out[2 * k + 1] = row[k] * b0 + row[k + 1] * b1;
        }
        static const int ends[4] = {0, 1, -2, -1};
        for (int e = 0; e < 4; e++) {
            int i = ends[e] < 0 ? dw + ends[e] : ends[e];
            out[i] = row[xt[i].i0] * xt[i].w0 + row[xt[i].i1] * xt[i].w1;
        }
        return;
    }
    for (int i = 0; i < dw; i++)
        out[i] = row[xt[i].i0] * xt[i].w0 + row[xt[i].i1] * xt[i].w1;
}

static void hpass_u8(const uint8_t *row, int c, const tap *xt, int dw, float *out)
{
    for (int i = 0; i < dw; i++) {
        const uint8_t *a = row + (size_t)xt[i].i0 * c, *b = row + (size_t)xt[i].i1 * c;
        for (int k = 0; k < c; k++)
            out[(size_t)i * c + k] = a[k] * xt[i].w0 + b[k] * xt[i].w1;
    }
}

/* The cached float row of source row y, computing it when missing, without
** evicting the row `keep` (the other row of the same output row). */
static const float *row_of(rows2 *rc, int y, int keep, const void *src, int sw,
                           int c, int is_u8, const tap *xt, int dw)
{
    for (int k = 0; k < 2; k++)
        if (rc->src_row[k] == y)
            return rc->buf[k];
    /* Output rows walk source rows upwards: evict the lower one. */
    int k = rc->src_row[0] < rc->src_row[1] ? 0 : 1;
    if (keep >= 0 && rc->src_row[k] == keep)
        k ^= 1;
    if (is_u8)
        hpass_u8((const uint8_t *)src + (size_t)y * sw * c, c, xt, dw, rc->buf[k]);
    else
        hpass_f32((const float *)src + (size_t)y * sw, sw, xt, dw, rc->buf[k]);
    rc->src_row[k] = y;
    return rc->buf[k];
}

static uint8_t clamp_u8(float v);

size_t di_resize_scratch_size(int dw, int c)
{
    if (dw <= 0 || c <= 0)
        return 0;
    /* Column taps, then two float rows; taps first keeps the rows aligned. */
    return (size_t)dw * sizeof(tap) + 2 * (size_t)dw * (size_t)c * sizeof(float);
}

/* Output row y of the separable path: two cached horizontally resized
** source rows, then the two-tap vertical blend. Float rows here and in
** di_resize_rows_get come from this one function, so they are identical. */
static void separable_row(rows2 *rc, const void *src, int sw, int sh, int c,
                          int is_u8, const tap *xt, int dw, double sy, int y,
                          void *out_row)
{
    size_t rowlen = (size_t)dw * c;
    tap yt = tap_at(y, sh, sy);
    const float *h0 = row_of(rc, yt.i0, -1, src, sw, c, is_u8, xt, dw);
    const float *h1 = row_of(rc, yt.i1, yt.i0, src, sw, c, is_u8, xt, dw);
    float w0 = yt.w0, w1 = yt.w1;
    if (is_u8) {
        uint8_t *out = out_row;
        for (size_t i = 0; i < rowlen; i++)
            out[i] = clamp_u8(h0[i] * w0 + h1[i] * w1);
    } else {
        float *out = out_row;
        for (size_t i = 0; i < rowlen; i++)
            out[i] = h0[i] * w0 + h1[i] * w1;
    }
}

/* The separable path in caller-provided scratch. */
static void separable(const void *src, int sw, int sh, int c, int is_u8,
                      void *dst, int dw, int dh, void *scratch)
{
    double sx = 1.0 / ((double)dw / sw), sy = 1.0 / ((double)dh / sh);
    size_t rowlen = (size_t)dw * c;
    tap *xt = scratch;
    float *mem = (float *)(xt + dw);
    for (int i = 0; i < dw; i++)
        xt[i] = tap_at(i, sw, sx);
    rows2 rc = {{mem, mem + rowlen}, {-1, -1}};
    for (int y = 0; y < dh; y++)
        separable_row(&rc, src, sw, sh, c, is_u8, xt, dw, sy, y,
                      is_u8 ? (void *)((uint8_t *)dst + (size_t)y * rowlen)
                            : (void *)((float *)dst + (size_t)y * rowlen));
}

void di_resize_rows_begin(di_resize_rows *r, const float *src, int sw, int sh,
                          int dw, int dh, void *scratch)
{
    r->src = src;
    r->sw = sw, r->sh = sh, r->dw = dw, r->dh = dh;
    r->scratch = scratch;
    r->sy = 1.0 / ((double)dh / sh);
    r->identity = sw == dw && sh == dh;
    r->cached[0] = r->cached[1] = -1;
    if (r->identity)
        return;
    double sx = 1.0 / ((double)dw / sw);
    tap *xt = scratch;
    for (int i = 0; i < dw; i++)
        xt[i] = tap_at(i, sw, sx);
}

void di_resize_rows_get(di_resize_rows *r, int y, float *out)
{
    if (r->identity) {
        memcpy(out, r->src + (size_t)y * r->sw, (size_t)r->dw * sizeof(float));
        return;
    }
    tap *xt = r->scratch;
    float *mem = (float *)(xt + r->dw);
    rows2 rc = {{mem, mem + r->dw}, {r->cached[0], r->cached[1]}};
    separable_row(&rc, r->src, r->sw, r->sh, 1, 0, xt, r->dw, r->sy, y, out);
    r->cached[0] = rc.src_row[0];
    r->cached[1] = rc.src_row[1];
}

/* The separable path with its own scratch; 0 when memory is short. */
static int resize_separable(const void *src, int sw, int sh, int c, int is_u8,
                            void *dst, int dw, int dh)
{
    void *scratch = malloc(di_resize_scratch_size(dw, c));
    if (!scratch)
        return 0;
    separable(src, sw, sh, c, is_u8, dst, dw, dh, scratch);
    free(scratch);
    return 1;
}

void di_resize_bilinear_f32_scratch(const float *src, int sw, int sh, float *dst,
                                    int dw, int dh, void *scratch)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return;
    if (sw == dw && sh == dh)
        memcpy(dst, src, (size_t)sw * sh * sizeof(float));
    else
        separable(src, sw, sh, 1, 0, dst, dw, dh, scratch);
}

void di_resize_bilinear_u8_scratch(const uint8_t *src, int sw, int sh, int c,
                                   uint8_t *dst, int dw, int dh, void *scratch)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || c <= 0)
        return;
    if (sw == dw && sh == dh)
        memcpy(dst, src, (size_t)sw * sh * c);
    else
        separable(src, sw, sh, c, 1, dst, dw, dh, scratch);
}

void di_resize_bilinear_f32(const float *src, int sw, int sh, float *dst,
                            int dw, int dh)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return;
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * sizeof(float));
        return;
    }
    if (resize_separable(src, sw, sh, 1, 0, dst, dw, dh))
        return;
    /* OpenCV: scale = 1 / (dsize / ssize), in double. */
    double sx = 1.0 / ((double)dw / sw), sy = 1.0 / ((double)dh / sh);
    tap xt[TILE];
    for (int x0 = 0; x0 < dw; x0 += TILE) {
        int xn = dw - x0 < TILE ? dw - x0 : TILE;
        for (int i = 0; i < xn; i++)
            xt[i] = tap_at(x0 + i, sw, sx);
        for (int y = 0; y < dh; y++) {
            tap yt = tap_at(y, sh, sy);
            const float *r0 = src + (size_t)yt.i0 * sw;
            const float *r1 = src + (size_t)yt.i1 * sw;
            float *out = dst + (size_t)y * dw + x0;
            for (int i = 0; i < xn; i++) {
                const tap *t = &xt[i];
                float h0 = r0[t->i0] * t->w0 + r0[t->i1] * t->w1;
                float h1 = r1[t->i0] * t->w0 + r1[t->i1] * t->w1;
                out[i] = h0 * yt.w0 + h1 * yt.w1;
            }
        }
    }
}

static uint8_t clamp_u8(float v)
{
    v += 0.5f;
    return v <= 0.f ? 0 : v >= 255.f ? 255 : (uint8_t)v;
}

void di_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c,
                           uint8_t *dst, int dw, int dh)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0 || c <= 0)
        return;
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * c);
        return;
    }
    if (resize_separable(src, sw, sh, c, 1, dst, dw, dh))
        return;
    double sx = 1.0 / ((double)dw / sw), sy = 1.0 / ((double)dh / sh);
    tap xt[TILE];
    for (int x0 = 0; x0 < dw; x0 += TILE) {
        int xn = dw - x0 < TILE ? dw - x0 : TILE;
        for (int i = 0; i < xn; i++)
            xt[i] = tap_at(x0 + i, sw, sx);
        for (int y = 0; y < dh; y++) {
            tap yt = tap_at(y, sh, sy);
            const uint8_t *r0 = src + (size_t)yt.i0 * sw * c;
            const uint8_t *r1 = src + (size_t)yt.i1 * sw * c;
            uint8_t *out = dst + ((size_t)y * dw + x0) * c;
            for (int i = 0; i < xn; i++) {
                const tap *t = &xt[i];
                const uint8_t *a0 = r0 + (size_t)t->i0 * c, *a1 = r0 + (size_t)t->i1 * c;
                const uint8_t *b0 = r1 + (size_t)t->i0 * c, *b1 = r1 + (size_t)t->i1 * c;
                for (int k = 0; k < c; k++) {
                    float h0 = a0[k] * t->w0 + a1[k] * t->w1;
                    float h1 = b0[k] * t->w0 + b1[k] * t->w1;
                    out[(size_t)i * c + k] = clamp_u8(h0 * yt.w0 + h1 * yt.w1);
                }
            }
        }
    }
}

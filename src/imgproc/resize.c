/*
** resize.c: bilinear resizing with half-pixel centres, the convention of
** OpenCV INTER_LINEAR and PyTorch interpolate(align_corners=False): output
** pixel d samples source coordinate (d + 0.5) * src/dst - 0.5, clamped to the
** border. The float version follows OpenCV's order of operations (weights in
** float, horizontal pass then vertical), so it agrees with cv2.resize on
** float32 to a few ulps.
**
** Column weights are computed once per tile of TILE columns and kept on the
** stack (no allocation: these functions cannot fail).
*/
#include "imgproc.h"

#include <math.h>

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

void di_resize_bilinear_f32(const float *src, int sw, int sh, float *dst,
                            int dw, int dh)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
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

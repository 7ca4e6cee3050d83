/*
** demo.c: ray casting the street canyon of scene.c into the four horizontal
** cube faces (90-degree pinhole cameras looking along -x, +x, -z, +z).
**
** Depth is distance along the optical axis (what depth data sets and models
** call depth), in metres; the sky is at SCENE_SKY_DEPTH.
**
** Speed: every box stands on the ground and the faces look horizontally, so
** all pixels of one image column share the same ray in the ground plane.
** Each column intersects the boxes in that plane once (a sorted short list);
** each pixel then only checks heights along that list.
**
** Determinism: double precision, + - * / sqrt and floor only (all correctly
** rounded by IEEE 754), and no fused multiply-add, so the same seed gives the
** same bytes on every machine and compiler. Contraction into FMA is switched
** off below for the compilers that would otherwise do it.
*/
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "demo.h"
#include "scene.h"

#include <math.h>
#include <string.h>

const char *const di_demo_face_names[DI_DEMO_FACES] = {"xm", "xp", "zm", "zp"};

/* Forward and right vectors in the ground plane (x, z) of each face; up is
** +y. Turning right from zp faces xp, then zm, then xm. */
static const double face_fwd[DI_DEMO_FACES][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
static const double face_right[DI_DEMO_FACES][2] = {{0, 1}, {0, -1}, {-1, 0}, {1, 0}};

enum hit_kind { HIT_SKY, HIT_GROUND, HIT_SIDE_X, HIT_SIDE_Z, HIT_TOP };

typedef struct cand {
    double t0, t1; /* the column's ray inside the box's footprint */
    int axis;      /* which slab the ray enters by: HIT_SIDE_X or HIT_SIDE_Z */
    int box;
} cand;

typedef struct hit {
    double t;
    int kind, box;
} hit;

/* The column's candidates, sorted by entry. */
static int column_candidates(const scene *s, double dx, double dz, cand *out)
{
    int n = 0;
    for (int i = 0; i < s->nboxes; i++) {
        const box *b = &s->boxes[i];
        double tx0, tx1, tz0, tz1;
        if (dx != 0) {
            double a = (b->x0 - s->cam_x) / dx, c = (b->x1 - s->cam_x) / dx;
            tx0 = a < c ? a : c, tx1 = a < c ? c : a;
        } else if (s->cam_x >= b->x0 && s->cam_x <= b->x1) {
            tx0 = -1e300, tx1 = 1e300;
        } else {
            continue;
        }
        if (dz != 0) {
            double a = b->z0 / dz, c = b->z1 / dz;
            tz0 = a < c ? a : c, tz1 = a < c ? c : a;
        } else if (0 >= b->z0 && 0 <= b->z1) {
            tz0 = -1e300, tz1 = 1e300;
        } else {
            continue;
        }
        double t0 = tx0 > tz0 ? tx0 : tz0, t1 = tx1 < tz1 ? tx1 : tz1;
        if (t0 > t1 || t1 <= 0 || t0 >= SCENE_SKY_DEPTH)
            continue;
        cand c = {t0, t1, tx0 > tz0 ? HIT_SIDE_X : HIT_SIDE_Z, i};
        int j = n++;
        while (j > 0 && out[j - 1].t0 > c.t0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = c;
    }
    return n;
}

/* The nearest hit of the ray with vertical slope v (dy per unit of t). */
static hit cast(const scene *s, const cand *cands, int n, double v)
{
    hit h = {SCENE_SKY_DEPTH, HIT_SKY, -1};
    if (v < 0) {
        double tg = s->cam_y / -v;
        if (tg < h.t)
            h.t = tg, h.kind = HIT_GROUND;
    }
    for (int i = 0; i < n && cands[i].t0 < h.t; i++) {
        const box *b = &s->boxes[cands[i].box];
        /* Where the ray's height is within [0, height]. */
        double ty0 = -1e300, ty1 = 1e300;
        if (v > 0)
            ty1 = (b->height - s->cam_y) / v;
        else if (v < 0) {
            ty1 = s->cam_y / -v;
            if (s->cam_y > b->height)
                ty0 = (s->cam_y - b->height) / -v;
        } else if (s->cam_y > b->height) {
            continue;
        }
        double t0 = cands[i].t0 > ty0 ? cands[i].t0 : ty0;
        double t1 = cands[i].t1 < ty1 ? cands[i].t1 : ty1;
        if (t0 <= t1 && t0 > 0 && t0 < h.t) {
            h.t = t0;
            h.kind = cands[i].t0 >= ty0 ? cands[i].axis : HIT_TOP;
            h.box = cands[i].box;
        }
    }
    return h;
}

static double fract(double x)
{
    return x - floor(x);
}

/* A small integer hash for per-window variation. */
static uint32_t hash3(int64_t a, int64_t b, int64_t c)
{
    uint64_t st = (uint64_t)a * 0x9e3779b97f4a7c15ull ^ (uint64_t)b * 0xc2b2ae3d27d4eb4full ^
                  (uint64_t)c * 0x165667b19e3779f9ull;
    return (uint32_t)(scene_splitmix64(&st) >> 32);
}

static void mix(double c[3], const double o[3], double f)
{
    for (int k = 0; k < 3; k++)
        c[k] = c[k] * (1 - f) + o[k] * f;
}

/* The colour of a hit at point (px, py, pz), ray direction (dx, v, dz). */
static void shade(const scene *s, const hit *h, double px, double py, double pz,
                  double dx, double v, double dz, double ray_len, uint8_t rgb[3])
{
    double c[3];
    const double horizon[3] = {205, 218, 232};
    if (h->kind == HIT_SKY) {
        /* Elevation as sine: v / |d|. */
        double e = v / sqrt(dx * dx + v * v + dz * dz);
        if (e < 0)
            e = 0;
        const double zenith[3] = {80, 130, 205};
        for (int k = 0; k < 3; k++)
            c[k] = horizon[k] * (1 - e) + zenith[k] * e;
    } else if (h->kind == HIT_GROUND) {
        double ax = px < 0 ? -px : px;
        if (ax < s->road_half) {
            double g = 72 + 10 * (double)(hash3((int64_t)floor(px * 4), (int64_t)floor(pz * 4), 7) & 7) / 7;
            c[0] = c[1] = g, c[2] = g + 4;
            if (ax < 0.12 && fract(pz / 6.0) < 0.5) /* dashed centre line */
                c[0] = c[1] = c[2] = 225;
            if (ax > s->road_half - 0.2) /* kerb */
                c[0] = c[1] = c[2] = 170;
        } else {
            double paving = fract(pz) < 0.04 || fract(px) < 0.04 ? 0.8 : 1.0;
            c[0] = 160 * paving, c[1] = 152 * paving, c[2] = 145 * paving;
        }
    } else {
        const box *b = &s->boxes[h->box];
        for (int k = 0; k < 3; k++)
            c[k] = b->colour[k];
        if (h->kind == HIT_TOP) {
            for (int k = 0; k < 3; k++)
                c[k] *= 0.55;
        } else if (b->kind == BOX_BUILDING) {
            double u = h->kind == HIT_SIDE_X ? pz : px; /* along the facade */
            double col = u / b->window_pitch, row = (py - 0.6) / b->floor_height;
            int in_window = py > 3.6 && py < b->height - 1.0 && fract(col) > 0.22 &&
                            fract(col) < 0.78 && fract(row) > 0.3 && fract(row) < 0.8;
            if (in_window) {
                uint32_t r = hash3(h->box, (int64_t)floor(col), (int64_t)floor(row));
                double lit = (r & 15) == 0 ? 1.0 : 0.0; /* a few lit windows */
                double g = 45 + (double)(r >> 8 & 31);
                c[0] = g + lit * 170, c[1] = g + 10 + lit * 150, c[2] = g + 25 + lit * 60;
            } else if (py < 3.2) { /* ground floor: shop fronts */
                for (int k = 0; k < 3; k++)
                    c[k] *= fract(u / 7.0) < 0.7 ? 0.45 : 0.8;
            }
        } else if (b->kind == BOX_CAR) {
            if (py > b->height * 0.62 && py < b->height * 0.92) /* windows */
                c[0] = c[1] = 40, c[2] = 50;
            if (py < 0.35) /* wheels and shadow */
                c[0] = c[1] = c[2] = 25;
        }
        /* Sun from +x, above, a little along +z: one factor per face. */
        double light = h->kind == HIT_TOP ? 1.0
                       : h->kind == HIT_SIDE_X ? (dx > 0 ? 0.62 : 0.95)
                                               : (dz > 0 ? 0.7 : 0.82);
        for (int k = 0; k < 3; k++)
            c[k] *= light;
    }
    if (h->kind != HIT_SKY) {
        double fog = ray_len / (ray_len + 260.0); /* aerial perspective */
        mix(c, horizon, fog);
    }
    for (int k = 0; k < 3; k++) {
        double x = c[k] + 0.5;
        rgb[k] = x <= 0 ? 0 : x >= 255 ? 255 : (uint8_t)x;
    }
}

static void trace(uint64_t seed, int face, int width, int height, float *depth,
                  uint8_t *rgb)
{
    if (face < 0 || face >= DI_DEMO_FACES || width <= 0 || height <= 0)
        return;
    scene s;
    scene_generate(seed, &s);
    cand cands[SCENE_MAX_BOXES];
    const double *f = face_fwd[face], *r = face_right[face];
    double step = 2.0 / width; /* 90 degrees across the width */
    for (int i = 0; i < width; i++) {
        double u = (i + 0.5) * step - 1.0;
        double dx = f[0] + u * r[0], dz = f[1] + u * r[1];
        int n = column_candidates(&s, dx, dz, cands);
        for (int j = 0; j < height; j++) {
            double v = (height * 0.5 - (j + 0.5)) * step;
            hit h = cast(&s, cands, n, v);
            size_t at = (size_t)j * width + i;
            if (depth)
                depth[at] = (float)h.t;
            if (rgb) {
                double len = h.t * sqrt(dx * dx + v * v + dz * dz);
                shade(&s, &h, s.cam_x + h.t * dx, s.cam_y + h.t * v, h.t * dz, dx, v,
                      dz, len, rgb + 3 * at);
            }
        }
    }
}

void di_demo_depth(uint64_t seed, int face, int width, int height, float *depth)
{
    trace(seed, face, width, height, depth, NULL);
}

void di_demo_render(uint64_t seed, int face, int width, int height,
                    float *depth, uint8_t *rgb)
{
    trace(seed, face, width, height, depth, rgb);
}

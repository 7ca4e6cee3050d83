/*
** test_canny.c: di_canny (blocks skipped when flat, vectorised Sobel and
** suppression, hysteresis from the candidates' side, state kept in dst)
** against a plain per-pixel form of OpenCV's Canny written here as
** src/imgproc/canny.c's header describes it: 3x3 Sobel with replicated
** borders, L1 magnitude (0 outside the image), suppression with the integer
** tangent test and OpenCV's > / >= asymmetry, hysteresis flooding from
** every edge pixel. Fields: 4-level labels, blocky labels, any grey levels,
** 0/255 noise, chains of candidates that reach an edge only through long
** paths (up and left of it, along the image's border), at sizes around
** the 32- and 64-pixel blocks, single rows and columns, odd sizes; the
** thresholds include swapped, fractional, zero and negative ones. The
** OpenCV oracle (feature-oracle) checks the same against cv2.Canny where
** Python and OpenCV are present; this runs everywhere, ASan included.
*/
#include "check.h"
#include "imgproc/imgproc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The reference, one pixel at a time. */
static void canny_ref(const uint8_t *src, int w, int h, double lo_t, double hi_t,
                      uint8_t *dst)
{
    if (lo_t > hi_t) {
        double t = lo_t;
        lo_t = hi_t;
        hi_t = t;
    }
    const int low = (int)floor(lo_t), high = (int)floor(hi_t);
    size_t n = (size_t)w * (size_t)h;
    int *dx = malloc(n * sizeof *dx), *dy = malloc(n * sizeof *dy);
    int *mag = malloc(n * sizeof *mag);
    uint8_t *map = malloc(n); /* 0 candidate, 1 none, 2 edge */
    size_t *stack = malloc((n + 1) * sizeof *stack);
#define PX(x, y) ((int)src[(size_t)clampi(y, 0, h - 1) * (size_t)w + (size_t)clampi(x, 0, w - 1)])
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int gx = (PX(x + 1, y - 1) + 2 * PX(x + 1, y) + PX(x + 1, y + 1)) -
                     (PX(x - 1, y - 1) + 2 * PX(x - 1, y) + PX(x - 1, y + 1));
            int gy = (PX(x - 1, y + 1) + 2 * PX(x, y + 1) + PX(x + 1, y + 1)) -
                     (PX(x - 1, y - 1) + 2 * PX(x, y - 1) + PX(x + 1, y - 1));
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            dx[i] = gx, dy[i] = gy, mag[i] = abs(gx) + abs(gy);
        }
#undef PX
#define M(x, y) ((x) < 0 || (x) >= w || (y) < 0 || (y) >= h ? 0 : mag[(size_t)(y) * (size_t)w + (size_t)(x)])
    size_t sp = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            int m = mag[i];
            map[i] = 1;
            if (m <= low)
                continue;
            long ax = labs((long)dx[i]), ay = labs((long)dy[i]) << 15;
            long tg22x = ax * 13573, tg67x = tg22x + (ax << 16);
            int keep;
            if (ay < tg22x)
                keep = m > M(x - 1, y) && m >= M(x + 1, y);
            else if (ay > tg67x)
                keep = m > M(x, y - 1) && m >= M(x, y + 1);
            else {
                int s = (dx[i] ^ dy[i]) < 0 ? -1 : 1;
                keep = m > M(x - s, y - 1) && m > M(x + s, y + 1);
            }
            if (!keep)
                continue;
            if (m > high) {
                map[i] = 2;
                stack[sp++] = i;
            } else {
                map[i] = 0;
            }
        }
#undef M
    while (sp) {
        size_t i = stack[--sp];
        int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
        for (int ny = y - 1; ny <= y + 1; ny++)
            for (int nx = x - 1; nx <= x + 1; nx++) {
                if (nx < 0 || nx >= w || ny < 0 || ny >= h)
                    continue;
                size_t j = (size_t)ny * (size_t)w + (size_t)nx;
                if (map[j] == 0) {
                    map[j] = 2;
                    stack[sp++] = j;
                }
            }
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = map[i] == 2 ? 255 : 0;
    free(dx), free(dy), free(mag), free(map), free(stack);
}

/* kind: 0 4-level labels, 1 blocky labels, 2 any grey, 3 0/255, 4 weak
** ramps (mostly candidates, a strong step at the bottom right), 5 diagonal
** stripes of one-level steps (candidate chains in both diagonal directions) */
static void fill(uint8_t *img, int w, int h, int kind)
{
    int bs = 2 + (int)(rnd() % 10);
    uint8_t small[64 * 64];
    for (int i = 0; i < 64 * 64; i++)
        small[i] = (uint8_t)(rnd() % 4 * 85);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v;
            switch (kind) {
            case 0: v = (uint8_t)(rnd() % 4 * 85); break;
            case 1: v = small[(y / bs % 64) * 64 + x / bs % 64]; break;
            case 2: v = (uint8_t)rnd(); break;
            case 3: v = rnd() & 1 ? 255 : 0; break;
            case 4:
                /* a step of 30 between neighbouring bands: magnitude 120 (a
                ** candidate at 100,200), and one step of 255 in a corner */
                v = (uint8_t)((x + y) / 3 % 2 * 30);
                if (x > w * 3 / 4 && y > h * 3 / 4)
                    v = 255;
                break;
            default:
                v = (uint8_t)(((x - y + 1000) / 2 % 3) * 13 + (rnd() % 7 == 0) * 200);
                break;
            }
            img[(size_t)y * (size_t)w + (size_t)x] = v;
        }
}

int main(void)
{
    static const int sizes[][2] = {
        {1, 1},   {2, 2},   {1, 9},   {9, 1},   {3, 3},   {3, 50},  {50, 3},
        {31, 7},  {32, 5},  {33, 9},  {63, 4},  {64, 64}, {65, 65}, {66, 3},
        {127, 5}, {128, 3}, {129, 17}, {191, 11}, {200, 150}, {257, 33}, {17, 1},
        {1, 130}, {71, 71}, {513, 6}};
    static const double th[][2] = {{100, 200}, {30, 90}, {200, 100}, {100.5, 200.5},
                                   {0, 0},     {99.99, 100}, {-5, 60}, {1000, 3000}};
    int cases = 0, bad_cases = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const int w = sizes[s][0], h = sizes[s][1];
        size_t n = (size_t)w * (size_t)h;
        uint8_t *img = malloc(n), *ours = malloc(n), *ref = malloc(n);
        void *scratch = malloc(di_canny_scratch_size(w, h));
        for (int kind = 0; kind < 6; kind++) {
            fill(img, w, h, kind);
            for (size_t t = 0; t < sizeof th / sizeof *th; t++) {
                /* dst starts as garbage: every pixel must be written */
                memset(ours, 0x5a, n);
                di_canny(img, w, h, th[t][0], th[t][1], ours, scratch);
                canny_ref(img, w, h, th[t][0], th[t][1], ref);
                size_t diff = 0;
                for (size_t i = 0; i < n; i++)
                    diff += ours[i] != ref[i];
                /* in place: dst is src itself (the score's workspace when
                ** it keeps no intermediate images) */
                memcpy(ours, img, n);
                di_canny(ours, w, h, th[t][0], th[t][1], ours, scratch);
                for (size_t i = 0; i < n; i++)
                    diff += ours[i] != ref[i];
                cases++;
                if (diff) {
                    bad_cases++;
                    fprintf(stderr, "canny %dx%d kind %d (%g,%g): %zu pixels differ\n",
                            w, h, kind, th[t][0], th[t][1], diff);
                }
            }
        }
        free(img), free(ours), free(ref), free(scratch);
    }
    CHECKF(bad_cases == 0, "%d of %d Canny cases differ from the reference",
           bad_cases, cases);
    return check_summary();
}

/*
** panel.c: the picture of one scored depth map, for people who look rather
** than read numbers. Four panels in a 2 x 2 grid under a title bar:
**   depth (colour map of the 8-bit depth)   | depth layers (k-means labels)
**   edges (Canny, white on black)           | congestion heatmap (the full
**                                              Gaussian blur of the edges)
** The title bar holds the title (the file name) and the score. Large maps
** are shrunk (nearest pixel) so that the long side of a panel is at most
** 512 pixels; tiny ones are enlarged by an integer factor.
*/
#include "feature_internal.h"
#include "imgproc/imgproc.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_MAX 512
#define PANEL_MIN 192
#define GAP 6
#define LABEL_H 12
#define TITLE_SCALE 2

typedef struct canvas {
    uint8_t *rgb;
    int w, h;
} canvas;

static void fill(canvas *c, int x0, int y0, int w, int h, const uint8_t col[3])
{
    for (int y = y0; y < y0 + h && y < c->h; y++)
        for (int x = x0; x < x0 + w && x < c->w; x++) {
            uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
            p[0] = col[0], p[1] = col[1], p[2] = col[2];
        }
}

/* Draws src (sw x sh values 0..255, through the colour map unless grey) at
** (x0, y0) scaled to pw x ph by nearest pixel. */
static void blit(canvas *c, int x0, int y0, int pw, int ph, const uint8_t *src,
                 int sw, int sh, int grey)
{
    for (int py = 0; py < ph; py++) {
        int sy = (int)((int64_t)py * sh / ph);
        for (int px = 0; px < pw; px++) {
            int sx = (int)((int64_t)px * sw / pw);
            uint8_t v = src[(size_t)sy * sw + sx];
            uint8_t *p = c->rgb + ((size_t)(y0 + py) * c->w + x0 + px) * 3;
            if (grey)
                p[0] = p[1] = p[2] = v;
            else
                di_colormap(v, p);
        }
    }
}

int di_feature_save_panel(di_feature_ws *ws, const di_feature_params *p,
                          const di_feature_result *r, const char *title,
                          const char *png_path, di_error *err)
{
    if (!ws->have_result)
        return di_fail(err, DI_EINVAL, "%s: no scored depth map to draw",
                       png_path);
    const int w = ws->width, h = ws->height;
    const size_t n = (size_t)w * h;
    const int longest = w > h ? w : h;

    /* Panel size. */
    double s = 1;
    if (longest > PANEL_MAX)
        s = (double)PANEL_MAX / longest;
    else if (longest < PANEL_MIN)
        s = (double)(PANEL_MIN / longest);
    int pw = (int)(w * s + 0.5), ph = (int)(h * s + 0.5);
    pw = pw < 1 ? 1 : pw;
    ph = ph < 1 ? 1 : ph;

    /* Title text. */
    char line1[200], line2[160];
    snprintf(line1, sizeof line1, "%s", title ? title : "");
    snprintf(line2, sizeof line2, "score %.4f  k=%d  edges %.2f%%  %dx%d",
             r->score, r->k_eff, 100.0 * r->edge_fraction, w, h);
    int text_w = (int)(strlen(line2) > strlen(line1) ? strlen(line2)
                                                      : strlen(line1)) *
                 8 * TITLE_SCALE;
    int cell_w = pw > 12 * 8 ? pw : 12 * 8; /* room for a panel label */
    int title_h = 2 * 8 * TITLE_SCALE + 3 * GAP;
    canvas c;
    c.w = 2 * cell_w + 3 * GAP;
    if (c.w < text_w + 2 * GAP)
        c.w = text_w + 2 * GAP;
    if (c.w > 4096)
        c.w = 4096;
    c.h = title_h + 2 * (LABEL_H + ph + GAP) + GAP;
    c.rgb = malloc((size_t)c.w * c.h * 3);
    float *e32 = malloc(sizeof(float) * n);
    float *heat = malloc(sizeof(float) * n);
    uint8_t *heat8 = malloc(n);
    if (!c.rgb || !e32 || !heat || !heat8) {
        free(c.rgb), free(e32), free(heat), free(heat8);
        return di_fail(err, DI_ENOMEM, "%s: out of memory for the picture",
                       png_path);
    }

    /* The congestion map: the full blur, scaled to its own maximum. */
    const uint8_t *edges = ws->edges;
    for (size_t i = 0; i < n; i++)
        e32[i] = edges[i];
    int rc = di_gaussian_blur_f32(e32, w, h, p->ksize, p->sigma, heat, err);
    if (rc) {
        free(c.rgb), free(e32), free(heat), free(heat8);
        return rc;
    }
    float hmax = 0;
    for (size_t i = 0; i < n; i++)
        hmax = heat[i] > hmax ? heat[i] : hmax;
    for (size_t i = 0; i < n; i++) {
        float v = hmax > 0 ? heat[i] * 255.0f / hmax : 0;
        heat8[i] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
    }

    static const uint8_t bg[3] = {24, 24, 28}, fg[3] = {240, 240, 240},
                         dim[3] = {170, 170, 180};
    fill(&c, 0, 0, c.w, c.h, bg);
    di_draw_text(c.rgb, c.w, c.h, GAP, GAP, TITLE_SCALE, line1, fg);
    di_draw_text(c.rgb, c.w, c.h, GAP, 2 * GAP + 8 * TITLE_SCALE, TITLE_SCALE,
                 line2, fg);

    char heat_label[64];
    snprintf(heat_label, sizeof heat_label, "congestion (max %.1f)",
             (double)hmax);
    const char *labels[4] = {"depth", "depth layers", "edges", heat_label};
    const uint8_t *imgs[4] = {ws->depth8, ws->labels, ws->edges, heat8};
    const int grey[4] = {0, 0, 1, 0};
    for (int k = 0; k < 4; k++) {
        int x0 = GAP + (k % 2) * (cell_w + GAP);
        int y0 = title_h + (k / 2) * (LABEL_H + ph + GAP);
        di_draw_text(c.rgb, c.w, c.h, x0, y0, 1, labels[k], dim);
        blit(&c, x0, y0 + LABEL_H, pw, ph, imgs[k], w, h, grey[k]);
    }
    rc = di_png_write(png_path, c.rgb, c.w, c.h, 3, err);
    free(c.rgb), free(e32), free(heat), free(heat8);
    return rc;
}

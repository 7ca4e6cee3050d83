/*
** panel.c: the picture of one scored depth map, for people who look rather
** than read numbers. Panels in a grid under a title bar:
**   depth (colour map of the 8-bit depth)   | depth layers (k-means labels)
**   edges (Canny, white on black)           | congestion heatmap (the full
**                                              Gaussian blur of the edges)
** `score --save-maps` draws these four, 2 x 2, titled with the file name and
** the score. `run --save-maps` draws the face's photo as the model saw it
** first, 3 x 2, titled with the sid, face, score and model; a face that
** failed after inference gets its photo and the raw depth map (non-finite
** values in magenta) with the error. Large maps are shrunk (nearest pixel)
** so that the long side of a panel is at most 512 pixels; tiny ones are
** enlarged by an integer factor.
*/
#include "feature_internal.h"
#include "imgproc/imgproc.h"
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_MAX 512
#define PANEL_MIN 192
#define GAP 6
#define LABEL_H 12
#define TITLE_SCALE 2
#define MAX_LINES 6

typedef struct canvas {
    uint8_t *rgb;
    int w, h;
} canvas;

enum cell_kind { CELL_COLOUR, CELL_GREY, CELL_RGB, CELL_MASKED };

/* One panel of the grid: w x h values (or RGB triplets for CELL_RGB); for
** CELL_MASKED a value of 0 in mask draws magenta (a non-finite depth). */
typedef struct cell {
    const char *label;
    const uint8_t *data, *mask;
    int w, h, kind;
} cell;

typedef struct line {
    const char *text;
    int scale;
} line;

static void fill(canvas *c, int x0, int y0, int w, int h, const uint8_t col[3])
{
    for (int y = y0; y < y0 + h && y < c->h; y++)
        for (int x = x0; x < x0 + w && x < c->w; x++) {
            uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
            p[0] = col[0], p[1] = col[1], p[2] = col[2];
        }
}

/* Draws a cell at (x0, y0) scaled to pw x ph by nearest pixel. */
static void blit(canvas *c, int x0, int y0, int pw, int ph, const cell *s)
{
    static const uint8_t magenta[3] = {255, 0, 255};
    for (int py = 0; py < ph && y0 + py < c->h; py++) {
        int sy = (int)((int64_t)py * s->h / ph);
        for (int px = 0; px < pw && x0 + px < c->w; px++) {
            int sx = (int)((int64_t)px * s->w / pw);
            size_t i = (size_t)sy * s->w + sx;
            uint8_t *p = c->rgb + ((size_t)(y0 + py) * c->w + x0 + px) * 3;
            if (s->kind == CELL_RGB) {
                memcpy(p, s->data + 3 * i, 3);
            } else if (s->kind == CELL_GREY) {
                p[0] = p[1] = p[2] = s->data[i];
            } else if (s->kind == CELL_MASKED && !s->mask[i]) {
                memcpy(p, magenta, 3);
            } else {
                di_colormap(s->data[i], p);
            }
        }
    }
}

/* The size of a panel for a w x h map. */
static void panel_size(int w, int h, int *pw, int *ph)
{
    const int longest = w > h ? w : h;
    double s = 1;
    if (longest > PANEL_MAX)
        s = (double)PANEL_MAX / longest;
    else if (longest < PANEL_MIN)
        s = (double)(PANEL_MIN / longest);
    *pw = (int)(w * s + 0.5);
    *ph = (int)(h * s + 0.5);
    *pw = *pw < 1 ? 1 : *pw;
    *ph = *ph < 1 ? 1 : *ph;
}

/* The title lines, then the cells in a grid of `cols` columns, each cell
** pw x ph (a cell of another shape is fitted inside, keeping its aspect). */
static int render(const line *lines, int nlines, const cell *cells, int ncells, int cols,
                  int pw, int ph, const char *png_path, di_error *err)
{
    int text_w = 0, title_h = GAP;
    for (int i = 0; i < nlines; i++) {
        int tw = (int)strlen(lines[i].text) * 8 * lines[i].scale;
        text_w = tw > text_w ? tw : text_w;
        title_h += 8 * lines[i].scale + GAP;
    }
    title_h += GAP;
    int rows = (ncells + cols - 1) / cols;
    int cell_w = pw > 12 * 8 ? pw : 12 * 8; /* room for a panel label */
    canvas c;
    c.w = cols * cell_w + (cols + 1) * GAP;
    if (c.w < text_w + 2 * GAP)
        c.w = text_w + 2 * GAP;
    if (c.w > 4096)
        c.w = 4096;
    c.h = title_h + rows * (LABEL_H + ph + GAP) + GAP;
    c.rgb = malloc((size_t)c.w * c.h * 3);
    if (!c.rgb)
        return di_fail(err, DI_ENOMEM, "%s: out of memory for the picture", png_path);
    static const uint8_t bg[3] = {24, 24, 28}, fg[3] = {240, 240, 240},
                         dim[3] = {170, 170, 180};
    fill(&c, 0, 0, c.w, c.h, bg);
    int y = GAP;
    for (int i = 0; i < nlines; i++) {
        di_draw_text(c.rgb, c.w, c.h, GAP, y, lines[i].scale, lines[i].text, fg);
        y += 8 * lines[i].scale + GAP;
    }
    for (int k = 0; k < ncells; k++) {
        int x0 = GAP + (k % cols) * (cell_w + GAP);
        int y0 = title_h + (k / cols) * (LABEL_H + ph + GAP);
        di_draw_text(c.rgb, c.w, c.h, x0, y0, 1, cells[k].label, dim);
        int cw = pw, ch = ph;
        if ((int64_t)cells[k].w * ph != (int64_t)cells[k].h * pw) {
            if ((int64_t)cells[k].w * ph > (int64_t)cells[k].h * pw)
                ch = (int)((int64_t)pw * cells[k].h / cells[k].w);
            else
                cw = (int)((int64_t)ph * cells[k].w / cells[k].h);
            cw = cw < 1 ? 1 : cw;
            ch = ch < 1 ? 1 : ch;
        }
        blit(&c, x0, y0 + LABEL_H, cw, ch, &cells[k]);
    }
    int rc = di_png_write(png_path, c.rgb, c.w, c.h, 3, err);
    free(c.rgb);
    return rc;
}

/* The congestion heatmap of the last computation: the full blur of the
** edges, scaled to its own maximum (malloc'd into *out). */
static int heatmap(di_feature_ws *ws, const di_feature_params *p, uint8_t **out,
                   float *max_out, const char *png_path, di_error *err)
{
    const int w = ws->width, h = ws->height;
    const size_t n = (size_t)w * h;
    float *e32 = calloc(n ? n : 1, sizeof(float));
    float *heat = malloc(sizeof(float) * n);
    uint8_t *heat8 = malloc(n);
    if (!e32 || !heat || !heat8) {
        free(e32), free(heat), free(heat8);
        return di_fail(err, DI_ENOMEM, "%s: out of memory for the picture", png_path);
    }
    for (size_t i = 0; i < n; i++)
        e32[i] = ws->edges[i];
    int rc = di_gaussian_blur_f32(e32, w, h, p->ksize, p->sigma, heat, err);
    float hmax = 0;
    for (size_t i = 0; rc == DI_OK && i < n; i++)
        hmax = heat[i] > hmax ? heat[i] : hmax;
    for (size_t i = 0; rc == DI_OK && i < n; i++) {
        float v = hmax > 0 ? heat[i] * 255.0f / hmax : 0;
        heat8[i] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
    }
    free(e32), free(heat);
    if (rc) {
        free(heat8);
        return rc;
    }
    *out = heat8;
    *max_out = hmax;
    return DI_OK;
}

/* The four panels of the last computation, after `first` cells already in
** cells[]; *heat8 is to be freed by the caller. */
static int feature_cells(di_feature_ws *ws, const di_feature_params *p, cell *cells,
                         char *heat_label, size_t label_size, uint8_t **heat8,
                         const char *png_path, di_error *err)
{
    if (ws->drop_images)
        return di_fail(err, DI_EINVAL,
                       "%s: the workspace did not keep the 8-bit depth and labels "
                       "(di_feature_ws_keep_images)", png_path);
    float hmax = 0;
    int rc = heatmap(ws, p, heat8, &hmax, png_path, err);
    if (rc)
        return rc;
    snprintf(heat_label, label_size, "congestion (max %.1f)", (double)hmax);
    const int w = ws->width, h = ws->height;
    cells[0] = (cell){"depth", ws->depth8, NULL, w, h, CELL_COLOUR};
    cells[1] = (cell){"depth layers", ws->labels, NULL, w, h, CELL_COLOUR};
    cells[2] = (cell){"edges", ws->edges, NULL, w, h, CELL_GREY};
    cells[3] = (cell){heat_label, *heat8, NULL, w, h, CELL_COLOUR};
    return DI_OK;
}

int di_feature_save_panel(di_feature_ws *ws, const di_feature_params *p,
                          const di_feature_result *r, const char *title,
                          const char *png_path, di_error *err)
{
    if (!ws->have_result)
        return di_fail(err, DI_EINVAL, "%s: no scored depth map to draw", png_path);
    char line1[200], line2[160], heat_label[64];
    snprintf(line1, sizeof line1, "%s", title ? title : "");
    snprintf(line2, sizeof line2, "score %.4f  k=%d  edges %.2f%%  %dx%d", r->score,
             r->k_eff, 100.0 * r->edge_fraction, ws->width, ws->height);
    line lines[2] = {{line1, TITLE_SCALE}, {line2, TITLE_SCALE}};
    cell cells[4];
    uint8_t *heat8 = NULL;
    int rc = feature_cells(ws, p, cells, heat_label, sizeof heat_label, &heat8, png_path, err);
    int pw, ph;
    panel_size(ws->width, ws->height, &pw, &ph);
    if (!rc)
        rc = render(lines, 2, cells, 4, 2, pw, ph, png_path, err);
    free(heat8);
    return rc;
}

/* Splits text into lines of at most width characters (at spaces where it
** can) into buf; fills lines[] from *n on, up to MAX_LINES. */
static void wrap(const char *text, int width, int scale, char *buf, size_t size, line *lines,
                 int *n)
{
    size_t o = 0, len = strlen(text);
    for (size_t at = 0; at < len && *n < MAX_LINES && o < size;) {
        size_t take = len - at;
        if (take > (size_t)width) {
            take = (size_t)width;
            for (size_t k = take; k > (size_t)width / 2; k--)
                if (text[at + k] == ' ') {
                    take = k;
                    break;
                }
        }
        if (o + take + 1 > size)
            break;
        memcpy(buf + o, text + at, take);
        buf[o + take] = '\0';
        lines[(*n)++] = (line){buf + o, scale};
        o += take + 1;
        at += take;
        while (text[at] == ' ')
            at++;
    }
}

int di_feature_save_run_panel(di_feature_ws *ws, const di_feature_params *p,
                              const di_feature_result *r, const di_panel_photo *photo,
                              const char *title, const char *subtitle,
                              const char *png_path, di_error *err)
{
    if (!ws->have_result)
        return di_fail(err, DI_EINVAL, "%s: no scored depth map to draw", png_path);
    char line2[160], heat_label[64], wrapped[512];
    snprintf(line2, sizeof line2, "score %.4f  k=%d  edges %.2f%%  %dx%d", r->score,
             r->k_eff, 100.0 * r->edge_fraction, ws->width, ws->height);
    line lines[MAX_LINES];
    int n = 0;
    lines[n++] = (line){title ? title : "", TITLE_SCALE};
    lines[n++] = (line){line2, TITLE_SCALE};
    if (subtitle)
        wrap(subtitle, 3 * 96 / 8 * 2, 1, wrapped, sizeof wrapped, lines, &n);
    cell cells[5];
    int k = 0;
    if (photo && photo->rgb)
        cells[k++] = (cell){"photo (model input)", photo->rgb, NULL, photo->width,
                            photo->height, CELL_RGB};
    uint8_t *heat8 = NULL;
    int rc = feature_cells(ws, p, cells + k, heat_label, sizeof heat_label, &heat8, png_path,
                           err);
    int pw, ph;
    panel_size(ws->width, ws->height, &pw, &ph);
    if (!rc)
        rc = render(lines, n, cells, k + 4, 3, pw, ph, png_path, err);
    free(heat8);
    return rc;
}

int di_feature_save_failure_panel(const float *depth, int width, int height,
                                  const di_panel_photo *photo, const char *title,
                                  const char *error, const char *png_path, di_error *err)
{
    if (width < 1 || height < 1)
        return di_fail(err, DI_EINVAL, "%s: no depth map to draw", png_path);
    const size_t n = (size_t)width * height;
    uint8_t *d8 = malloc(n), *mask = malloc(n);
    if (!d8 || !mask) {
        free(d8), free(mask);
        return di_fail(err, DI_ENOMEM, "%s: out of memory for the picture", png_path);
    }
    /* min-max of the finite values, as the 8-bit depth would be */
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(depth[i])) {
            lo = depth[i] < lo ? depth[i] : lo;
            hi = depth[i] > hi ? depth[i] : hi;
        }
    for (size_t i = 0; i < n; i++) {
        mask[i] = isfinite(depth[i]);
        d8[i] = mask[i] && hi > lo ? (uint8_t)((depth[i] - lo) * 255.0f / (hi - lo)) : 0;
    }
    char wrapped[512];
    line lines[MAX_LINES];
    int nl = 0;
    lines[nl++] = (line){title ? title : "", TITLE_SCALE};
    lines[nl++] = (line){"FAILED", TITLE_SCALE};
    wrap(error ? error : "", 2 * 96 / 8 * 2, 1, wrapped, sizeof wrapped, lines, &nl);
    cell cells[2];
    int k = 0;
    if (photo && photo->rgb)
        cells[k++] = (cell){"photo (model input)", photo->rgb, NULL, photo->width,
                            photo->height, CELL_RGB};
    cells[k++] = (cell){"depth (magenta: not finite)", d8, mask, width, height, CELL_MASKED};
    int pw, ph;
    panel_size(width, height, &pw, &ph);
    int rc = render(lines, nl, cells, k, 2, pw, ph, png_path, err);
    free(d8), free(mask);
    return rc;
}

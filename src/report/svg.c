/*
** svg.c: the plots of the page, drawn as inline SVG (no script, no
** plotting library): a histogram per face with its median and its 5 % and
** 95 % quantiles marked, and a map of panoramas coloured by their mean score
** (equirectangular, longitude scaled by the cosine of the mean latitude,
** with a colour scale). Colours are the panels' colour map.
*/
#include "internal.h"
#include "../imgproc/imgproc.h"

#include <math.h>

#define H_W 420
#define H_H 200
#define H_LEFT 48
#define H_BOTTOM 28
#define H_TOP 12
#define H_BARS 48

void rp_svg_histogram(FILE *f, const rp_face *fs, const char *name)
{
    fprintf(f, "<svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>histogram of ",
            H_W, H_H, H_W, H_H);
    rp_html_escape(f, name);
    fputs("</title>", f);
    if (fs->n == 0) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"note\">no scores yet</text></svg>\n",
                H_LEFT, H_H / 2);
        return;
    }
    /* the span of the data, at least 0.5 wide so that one value shows */
    double lo = fs->min, hi = fs->max;
    if (hi - lo < 0.5) {
        double mid = (lo + hi) / 2;
        lo = mid - 0.25 < 0 ? 0 : mid - 0.25;
        hi = lo + 0.5;
    }
    int64_t bars[H_BARS] = {0}, top = 0;
    for (int b = 0; b < RP_BINS; b++) {
        if (!fs->hist[b])
            continue;
        double v = (b + 0.5) * DI_REPORT_BIN;
        int k = (int)floor((v - lo) / (hi - lo) * H_BARS);
        k = k < 0 ? 0 : k >= H_BARS ? H_BARS - 1 : k;
        bars[k] += fs->hist[b];
    }
    for (int k = 0; k < H_BARS; k++)
        top = bars[k] > top ? bars[k] : top;
    const double pw = H_W - H_LEFT - 24, ph = H_H - H_TOP - H_BOTTOM;
    const double bw = pw / H_BARS;
    fprintf(f, "<line x1=\"%d\" y1=\"%g\" x2=\"%g\" y2=\"%g\" class=\"axis\"/>", H_LEFT,
            H_TOP + ph, H_LEFT + pw, H_TOP + ph);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%g\" class=\"axis\"/>", H_LEFT, H_TOP,
            H_LEFT, H_TOP + ph);
    for (int k = 0; k < H_BARS; k++) {
        if (!bars[k])
            continue;
        double h = ph * (double)bars[k] / (double)top;
        double a = lo + (hi - lo) * k / H_BARS, b = lo + (hi - lo) * (k + 1) / H_BARS;
        fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                   "<title>%.2f to %.2f: %lld</title></rect>",
                H_LEFT + k * bw + 0.5, H_TOP + ph - h, bw - 1, h, a, b, (long long)bars[k]);
    }
    static const double marks[3] = {0.05, 0.5, 0.95};
    for (int m = 0; m < 3; m++) {
        double q = rp_quantile(fs, marks[m]);
        double x = H_LEFT + pw * (q - lo) / (hi - lo);
        fprintf(f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%g\">"
                   "<title>%g quantile %.2f</title></line>",
                m == 1 ? "median" : "quant", x, H_TOP, x, H_TOP + ph, marks[m], q);
    }
    for (int t = 0; t <= 4; t++) {
        double v = lo + (hi - lo) * t / 4;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.2f</text>",
                H_LEFT + pw * t / 4, H_H - 10, v);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%lld</text>",
            H_LEFT - 4, H_TOP + 10, (long long)top);
    fprintf(f, "<text x=\"%d\" y=\"%g\" class=\"tick\" text-anchor=\"end\">0</text>", H_LEFT - 4,
            H_TOP + ph);
    fputs("</svg>\n", f);
}

#define M_SIZE 640
#define M_PAD 20

static void colour(double t, char out[8])
{
    int v = (int)lround(t * 255);
    uint8_t rgb[3];
    di_colormap((uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v), rgb);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void rp_svg_map(FILE *f, const rp_stats *st)
{
    const rp_point *p = st->points;
    int n = st->npoints;
    if (n == 0) {
        fputs("<p class=\"note\">No row has both coordinates.</p>\n", f);
        return;
    }
    double la0 = p[0].lat, la1 = p[0].lat, lo0 = p[0].lon, lo1 = p[0].lon;
    double m0 = p[0].mean, m1 = p[0].mean;
    for (int i = 1; i < n; i++) {
        la0 = fmin(la0, p[i].lat), la1 = fmax(la1, p[i].lat);
        lo0 = fmin(lo0, p[i].lon), lo1 = fmax(lo1, p[i].lon);
        m0 = fmin(m0, p[i].mean), m1 = fmax(m1, p[i].mean);
    }
    double kx = cos((la0 + la1) / 2 * M_PI / 180);
    kx = kx < 0.05 ? 0.05 : kx;
    double sx = (lo1 - lo0) * kx, sy = la1 - la0;
    double span = sx > sy ? sx : sy;
    if (span <= 0)
        span = 1e-6;
    double scale = (M_SIZE - 2 * M_PAD) / span;
    int w = (int)(sx * scale) + 2 * M_PAD, h = (int)(sy * scale) + 2 * M_PAD;
    w = w < 160 ? 160 : w;
    h = h < 160 ? 160 : h;
    fprintf(f, "<svg class=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>panoramas by mean "
               "score</title><rect width=\"%d\" height=\"%d\" class=\"mapbg\"/>",
            w, h + 40, w, h + 40, w, h);
    /* points in id order, so that the file is the same for the same table */
    for (int i = 0; i < n; i++) {
        double x = M_PAD + (p[i].lon - lo0) * kx * scale;
        double y = h - M_PAD - (p[i].lat - la0) * scale;
        char c[8];
        colour(m1 > m0 ? (p[i].mean - m0) / (m1 - m0) : 0.5, c);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>id %lld: "
                   "%.3f</title></circle>",
                x, y, c, (long long)p[i].id, p[i].mean);
    }
    /* the colour scale */
    for (int k = 0; k < 32; k++) {
        char c[8];
        colour(k / 31.0, c);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"6\" height=\"12\" fill=\"%s\"/>",
                M_PAD + 50 + 6 * k, h + 12, c);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">%.2f</text>",
            M_PAD + 46, h + 22, m0);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tick\">%.2f mean score</text>",
            M_PAD + 50 + 6 * 32 + 4, h + 22, m1);
    fputs("</svg>\n", f);
}

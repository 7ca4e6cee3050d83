/*
** html.c: the page. One file, no script, no external resource: styles
** inline, plots as inline SVG, pictures by relative paths into the folder.
** Every text that comes from the database (sids, messages, settings) or
** from options (table and face names) goes through rp_html_escape.
*/
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

void rp_html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222;background:#fafafa}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border:1px solid #ddd;"
    "text-align:right;vertical-align:top}th{background:#eee}td.l,th.l{text-align:left}"
    ".faces{display:flex;flex-wrap:wrap;gap:16px}.face{background:#fff;border:1px solid #ddd;"
    "padding:8px}.grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;background:#fff;"
    "border:1px solid #ddd;padding:6px;width:300px}figure img{width:100%;display:block}"
    "figcaption{font-size:12px;word-break:break-all}.nopic{width:300px;height:60px;"
    "background:#eee;color:#777;display:flex;align-items:center;justify-content:center}"
    ".bar{fill:#4a78b0}.axis{stroke:#444}.median{stroke:#c03020;stroke-width:2}"
    ".quant{stroke:#c08020;stroke-dasharray:4 3}.tick{font-size:11px;fill:#333}"
    ".note{color:#666}.mapbg{fill:#f0f0ea}pre{background:#fff;border:1px solid #ddd;"
    "padding:8px;white-space:pre-wrap;word-break:break-all}.quantiles td,.quantiles th{padding:2px 4px;font-size:12px}";

static void counts_table(FILE *f, const rp_stats *st)
{
    fputs("<table id=\"counts\"><tr><th class=\"l\">face</th><th>done</th><th>pending</th>"
          "<th>failed</th></tr>\n", f);
    int64_t d = 0, p = 0, x = 0;
    for (int k = 0; k < st->nfaces; k++) {
        const rp_face *fs = &st->face[k];
        fputs("<tr><td class=\"l\">", f);
        rp_html_escape(f, st->faces[k]);
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n", (long long)fs->done,
                (long long)fs->pending, (long long)fs->failed);
        d += fs->done, p += fs->pending, x += fs->failed;
    }
    fprintf(f, "<tr><th class=\"l\">all</th><th>%lld</th><th>%lld</th><th>%lld</th></tr>"
               "</table>\n<p class=\"note\">Pending includes the failed faces: a rerun "
               "retries them.</p>\n", (long long)d, (long long)p, (long long)x);
}

static void face_section(FILE *f, const rp_stats *st, int k)
{
    const rp_face *fs = &st->face[k];
    fputs("<div class=\"face\"><h3>", f);
    rp_html_escape(f, st->faces[k]);
    fputs("</h3>", f);
    rp_svg_histogram(f, fs, st->faces[k]);
    fputs("<table class=\"quantiles\"><tr><th>n</th><th>mean</th><th>min</th>", f);
    for (int q = 0; q < RP_NQ; q++)
        fprintf(f, "<th>q%g</th>", rp_qs[q] * 100);
    fputs("<th>max</th></tr><tr>", f);
    fprintf(f, "<td>%lld</td>", (long long)fs->n);
    if (fs->n == 0) {
        fprintf(f, "<td colspan=\"%d\">-</td></tr></table></div>\n", RP_NQ + 3);
        return;
    }
    fprintf(f, "<td>%.3f</td><td>%.3f</td>", fs->sum / fs->n, fs->min);
    for (int q = 0; q < RP_NQ; q++)
        fprintf(f, "<td>%.2f</td>", rp_quantile(fs, rp_qs[q]));
    fprintf(f, "<td>%.3f</td></tr></table></div>\n", fs->max);
}

static void ranked_grid(FILE *f, const rp_stats *st, const rp_ranked *r, int n,
                        const char *id)
{
    if (n == 0) {
        fputs("<p class=\"note\">No scores yet.</p>\n", f);
        return;
    }
    fprintf(f, "<div class=\"grid\" id=\"%s\">\n", id);
    for (int i = 0; i < n; i++) {
        fputs("<figure>", f);
        if (r[i].picture[0]) {
            fputs("<a href=\"", f);
            rp_html_escape(f, r[i].picture);
            fputs("\"><img src=\"", f);
            rp_html_escape(f, r[i].picture);
            fputs("\" alt=\"\" loading=\"lazy\"></a>", f);
        } else {
            fputs("<div class=\"nopic\">no picture</div>", f);
        }
        fprintf(f, "<figcaption>%d. <b>%.4f</b> &middot; ", i + 1, r[i].score);
        rp_html_escape(f, r[i].sid);
        fputs(" &middot; ", f);
        rp_html_escape(f, st->faces[r[i].face]);
        fprintf(f, " &middot; id %lld</figcaption></figure>\n", (long long)r[i].id);
    }
    fputs("</div>\n", f);
}

static void failures(FILE *f, const rp_stats *st)
{
    if (st->ngroups == 0) {
        fputs("<p class=\"note\">No failures recorded.</p>\n", f);
        return;
    }
    fputs("<table id=\"failures\"><tr><th class=\"l\">error</th><th>faces</th>"
          "<th class=\"l\">examples (id face sid)</th></tr>\n", f);
    for (int g = 0; g < st->ngroups; g++) {
        const di_store_error_group *e = &st->groups[g];
        fputs("<tr><td class=\"l\">", f);
        rp_html_escape(f, e->error);
        fprintf(f, "%s</td><td>%lld</td><td class=\"l\">", e->truncated ? "&hellip;" : "",
                (long long)e->count);
        for (int x = 0; x < e->nexamples; x++) {
            fprintf(f, "%s%lld ", x ? "<br>" : "", (long long)e->example_id[x]);
            rp_html_escape(f, e->example_face[x]);
            fputc(' ', f);
            rp_html_escape(f, e->example_sid[x]);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (st->distinct_errors > st->ngroups)
        fprintf(f, "<p class=\"note\">The %d most frequent of %lld distinct messages "
                   "(all are in depthindex_errors).</p>\n", st->ngroups,
                (long long)st->distinct_errors);
}

int rp_write_html(const rp_stats *st, const char *path, di_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return di_fail(err, di_status_from_errno(errno), "%s: %s", path, strerror(errno));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
          "depthindex report: ", f);
    rp_html_escape(f, st->table);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>Depth congestion index: ", style);
    rp_html_escape(f, st->table);
    fputs("</h1>\n<p>", f);
    rp_html_escape(f, st->where);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    fprintf(f, " &middot; %lld panorama rows &middot; generated %s</p>\n",
            (long long)st->rows, when);

    fputs("<h2>Progress</h2>\n", f);
    counts_table(f, st);
    fputs("<h2>Scores per face</h2>\n<div class=\"faces\">\n", f);
    for (int k = 0; k < st->nfaces; k++)
        face_section(f, st, k);
    fprintf(f, "</div>\n<p class=\"note\">Histograms of the scores; the red line is the "
               "median, the dashed ones the 5 %% and 95 %% quantiles. Quantiles are exact to "
               "%g.</p>\n", DI_REPORT_BIN / 2);
    fprintf(f, "<h2>The %d highest faces</h2>\n", DI_REPORT_RANKED);
    ranked_grid(f, st, st->high, st->nhigh, "highest");
    fprintf(f, "<h2>The %d lowest faces</h2>\n", DI_REPORT_RANKED);
    ranked_grid(f, st, st->low, st->nlow, "lowest");
    fputs("<h2>Failures</h2>\n", f);
    failures(f, st);
    if (st->positions) {
        fputs("<h2>Map</h2>\n<p class=\"note\">Panoramas by the mean score of their faces (", f);
        rp_html_escape(f, st->lat_col);
        fputs(", ", f);
        rp_html_escape(f, st->lon_col);
        fprintf(f, "); %d of %lld positioned panoramas shown, a fixed sample by id.</p>\n",
                st->npoints, (long long)st->positioned);
        rp_svg_map(f, st);
    }
    fputs("<h2>Run settings</h2>\n", f);
    if (st->have_run) {
        fputs("<p>Latest run, started ", f);
        rp_html_escape(f, st->run_at);
        fputs(":</p>\n<pre id=\"settings\">", f);
        rp_html_escape(f, st->run_settings);
        fputs("</pre>\n", f);
    } else {
        fputs("<p class=\"note\">No run has recorded its settings in this database "
              "(depthindex_run_log).</p>\n", f);
    }
    fputs("</body></html>\n", f);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return di_fail(err, DI_EIO, "%s: cannot write: %s", path, strerror(errno));
    return DI_OK;
}

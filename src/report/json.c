/*
** json.c: the report's statistics as one JSON object, for other tools:
** rows; per face done, pending, failed, n, mean, min, max, the quantiles
** and the histogram as [first bin, counts...] of DI_REPORT_BIN-wide bins
** (only the span that holds scores); the highest and lowest faces; the
** failures by message; the map sample's size; the latest run's settings.
*/
#include "internal.h"

#include <math.h>

/* A JSON string: quotes, backslashes and control characters escaped; other
** bytes as they are (the store keeps texts valid UTF-8). */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void ranked(FILE *f, const rp_stats *st, const rp_ranked *r, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"id\":%lld,\"face\":", i ? "," : "", (long long)r[i].id);
        jstr(f, st->faces[r[i].face]);
        fputs(",\"panorama_sid\":", f);
        jstr(f, r[i].sid);
        fputs(",\"score\":", f);
        jnum(f, r[i].score);
        fputs(",\"picture\":", f);
        if (r[i].picture[0])
            jstr(f, r[i].picture);
        else
            fputs("null", f);
        fputc('}', f);
    }
    fputc(']', f);
}

void rp_write_json(const rp_stats *st, FILE *f)
{
    fprintf(f, "{\"rows\":%lld,\"table\":", (long long)st->rows);
    jstr(f, st->table);
    fprintf(f, ",\"bin_width\":%g,\"faces\":{", DI_REPORT_BIN);
    for (int k = 0; k < st->nfaces; k++) {
        const rp_face *fs = &st->face[k];
        fprintf(f, "%s", k ? "," : "");
        jstr(f, st->faces[k]);
        fprintf(f, ":{\"done\":%lld,\"pending\":%lld,\"failed\":%lld,\"n\":%lld,\"mean\":",
                (long long)fs->done, (long long)fs->pending, (long long)fs->failed,
                (long long)fs->n);
        jnum(f, fs->n ? fs->sum / fs->n : NAN);
        fputs(",\"min\":", f);
        jnum(f, fs->n ? fs->min : NAN);
        fputs(",\"max\":", f);
        jnum(f, fs->n ? fs->max : NAN);
        fputs(",\"quantiles\":{", f);
        for (int q = 0; q < RP_NQ; q++) {
            fprintf(f, "%s\"%g\":", q ? "," : "", rp_qs[q]);
            double v = rp_quantile(fs, rp_qs[q]); /* to the bin: 3 decimals */
            if (isfinite(v))
                fprintf(f, "%.10g", v);
            else
                fputs("null", f);
        }
        fputs("},\"histogram\":{", f);
        int lo = 0, hi = -1;
        for (int b = 0; b < RP_BINS; b++)
            if (fs->hist[b]) {
                if (hi < 0)
                    lo = b;
                hi = b;
            }
        fprintf(f, "\"first_bin\":%d,\"counts\":[", hi < 0 ? 0 : lo);
        for (int b = lo; b <= hi; b++)
            fprintf(f, "%s%lld", b > lo ? "," : "", (long long)fs->hist[b]);
        fputs("]}}", f);
    }
    fputs("},\"highest\":", f);
    ranked(f, st, st->high, st->nhigh);
    fputs(",\"lowest\":", f);
    ranked(f, st, st->low, st->nlow);
    fprintf(f, ",\"failures\":{\"distinct_messages\":%lld,\"groups\":[",
            (long long)st->distinct_errors);
    for (int g = 0; g < st->ngroups; g++) {
        const di_store_error_group *e = &st->groups[g];
        fprintf(f, "%s{\"error\":", g ? "," : "");
        jstr(f, e->error);
        fprintf(f, ",\"count\":%lld,\"examples\":[", (long long)e->count);
        for (int x = 0; x < e->nexamples; x++) {
            fprintf(f, "%s{\"id\":%lld,\"face\":", x ? "," : "", (long long)e->example_id[x]);
            jstr(f, e->example_face[x]);
            fputs(",\"panorama_sid\":", f);
            jstr(f, e->example_sid[x]);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs("]},\"map\":", f);
    if (st->positions)
        fprintf(f, "{\"positioned\":%lld,\"shown\":%d}", (long long)st->positioned,
                st->npoints);
    else
        fputs("null", f);
    fputs(",\"run\":", f);
    if (st->have_run) {
        fputs("{\"at\":", f);
        jstr(f, st->run_at);
        fputs(",\"settings\":", f);
        jstr(f, st->run_settings);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fputs("}\n", f);
}

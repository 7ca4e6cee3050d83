/*
** report.c: `depthindex report` from start to end: checks the options,
** streams the table once in keyset pages into the statistics, reads the
** failures and the latest run's settings, copies the pictures of the highest
** and lowest faces into the folder, and writes the page and the JSON.
*/
#include "internal.h"
#include "../pipeline/pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PICTURE_BYTES ((size_t)64 << 20)

void di_report_config_default(di_report_config *c)
{
    memset(c, 0, sizeof *c);
    di_store_config_default(&c->store);
    c->out_dir = "report";
    c->image_pattern = "{panorama_sid}_{face}.jpg";
    c->page_rows = 1000;
}

static int copy_file(const char *from, const char *to, di_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = di_read_file(from, MAX_PICTURE_BYTES, &data, &size, err);
    if (rc)
        return rc;
    FILE *f = fopen(to, "wb");
    if (!f) {
        free(data);
        return di_fail(err, di_status_from_errno(errno), "%s: %s", to, strerror(errno));
    }
    size_t put = fwrite(data, 1, size, f);
    free(data);
    if (fclose(f) != 0 || put != size)
        return di_fail(err, DI_EIO, "%s: cannot write", to);
    return DI_OK;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The extension of a photo's file name ("jpg"), or "img" when odd. */
static const char *extension(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || strlen(dot + 1) > 5 || !dot[1])
        return "img";
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return "img";
    return dot + 1;
}

/* The panel of run --save-maps when there is one, else the photo: copied
** into the folder, r->picture set to its relative path. A missing picture
** is not an error (the page says "no picture"); a failed copy is. */
static int picture(const di_report_config *cfg, const rp_stats *st, rp_ranked *r,
                   int *copied, di_error *err)
{
    const char *face = st->faces[r->face];
    char src[4096], dst[4400], rel[96];
    if (cfg->maps_dir) {
        snprintf(src, sizeof src, "%s/%lld_%s.png", cfg->maps_dir, (long long)r->id, face);
        snprintf(rel, sizeof rel, "maps/%lld_%s.png", (long long)r->id, face);
        if (!is_file(src))
            src[0] = '\0';
    } else {
        src[0] = '\0';
    }
    if (!src[0] && cfg->images_dir) {
        di_error ignored;
        char path[4096];
        /* the sid comes from the database: one that could walk out of the
        ** folder names no photo */
        if (di_pipeline_sid_check(r->sid, &ignored) ||
            di_pipeline_expand_pattern(cfg->image_pattern, r->sid, face, r->id, path,
                                       sizeof path, &ignored))
            return DI_OK;
        int n = cfg->image_pattern[0] == '/' ? snprintf(src, sizeof src, "%s", path)
                                             : snprintf(src, sizeof src, "%s/%s",
                                                        cfg->images_dir, path);
        if (n < 0 || (size_t)n >= sizeof src || !is_file(src))
            return DI_OK;
        snprintf(rel, sizeof rel, "photos/%lld_%s.%s", (long long)r->id, face, extension(src));
    }
    if (!src[0])
        return DI_OK;
    /* copied again when already there: a file left by an earlier report
    ** may be an older panel */
    snprintf(dst, sizeof dst, "%s/%s", cfg->out_dir, rel);
    {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%s", cfg->out_dir, rel[0] == 'm' ? "maps" : "photos");
        int rc = di_make_dirs(dir, err);
        if (!rc)
            rc = copy_file(src, dst, err);
        if (rc)
            return rc;
        (*copied)++;
    }
    snprintf(r->picture, sizeof r->picture, "%s", rel);
    return DI_OK;
}

static int check_coordinates(const di_report_config *cfg, di_store *s, di_error *err)
{
    if (!cfg->lat_col && !cfg->lon_col)
        return DI_OK;
    if (!cfg->lat_col || !cfg->lon_col)
        return di_fail(err, DI_EINVAL, "--lat and --lon go together");
    const char *cols[2] = {cfg->lat_col, cfg->lon_col};
    for (int i = 0; i < 2; i++) {
        bool exists = false;
        int rc = di_store_column_exists(s, cols[i], &exists, err);
        if (rc)
            return rc;
        if (!exists)
            return di_fail(err, DI_ESCHEMA, "table %s has no column %s",
                           cfg->store.table ? cfg->store.table : "panorama", cols[i]);
    }
    return DI_OK;
}

static int stream_rows(const di_report_config *cfg, di_store *s, rp_stats *st, di_error *err)
{
    int page = cfg->page_rows > 0 ? cfg->page_rows : 1000;
    di_store_score_row *rows = malloc((size_t)page * sizeof *rows);
    if (!rows)
        return di_fail(err, DI_ENOMEM, "out of memory for a page of %d rows", page);
    int64_t after = INT64_MIN;
    int rc = DI_OK;
    for (;;) {
        int n = 0;
        rc = di_store_fetch_scores(s, after, page, cfg->lat_col, cfg->lon_col, rows, &n, err);
        if (rc || n == 0)
            break;
        for (int i = 0; i < n; i++)
            rp_stats_add_row(st, &rows[i]);
        after = rows[n - 1].id;
        if (n < page)
            break;
    }
    free(rows);
    return rc;
}

static int gather(const di_report_config *cfg, di_store *s, rp_stats *st, di_error *err)
{
    st->nfaces = di_store_nfaces(s);
    for (int f = 0; f < st->nfaces; f++)
        snprintf(st->faces[f], sizeof st->faces[f], "%s", di_store_face_name(s, f));
    snprintf(st->where, sizeof st->where, "%s", di_store_where(s));
    snprintf(st->table, sizeof st->table, "%s", cfg->store.table ? cfg->store.table : "panorama");
    st->positions = cfg->lat_col != NULL;
    if (st->positions) {
        snprintf(st->lat_col, sizeof st->lat_col, "%s", cfg->lat_col);
        snprintf(st->lon_col, sizeof st->lon_col, "%s", cfg->lon_col);
    }
    di_store_counts c;
    int rc = di_store_count(s, &c, err);
    if (rc)
        return rc;
    for (int f = 0; f < st->nfaces; f++) {
        st->face[f].done = c.done[f];
        st->face[f].pending = c.pending[f];
        st->face[f].failed = c.failed[f];
    }
    if ((rc = stream_rows(cfg, s, st, err)))
        return rc;
    if ((rc = di_store_error_groups(s, DI_REPORT_ERROR_GROUPS, st->groups, &st->ngroups,
                                    &st->distinct_errors, err)))
        return rc;
    return di_store_last_run(s, st->run_settings, sizeof st->run_settings, st->run_at,
                             sizeof st->run_at, &st->have_run, err);
}

static int write_json_file(const rp_stats *st, const char *path, di_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return di_fail(err, di_status_from_errno(errno), "%s: %s", path, strerror(errno));
    rp_write_json(st, f);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return di_fail(err, DI_EIO, "%s: cannot write", path);
    return DI_OK;
}

int di_report_write(const di_report_config *cfg, FILE *json, di_report_outcome *out,
                    di_error *err)
{
    memset(out, 0, sizeof *out);
    if (!cfg->out_dir || !cfg->out_dir[0])
        return di_fail(err, DI_EINVAL, "no output folder given");
    if (cfg->maps_dir && !is_dir(cfg->maps_dir))
        return di_fail(err, DI_EINVAL, "--maps %s: not a folder", cfg->maps_dir);
    if (cfg->images_dir && !is_dir(cfg->images_dir))
        return di_fail(err, DI_EINVAL, "--images %s: not a folder", cfg->images_dir);
    rp_stats *st = calloc(1, sizeof *st);
    if (!st)
        return di_fail(err, DI_ENOMEM, "out of memory");
    di_store *s = NULL;
    int rc = rp_stats_init(st, err);
    if (!rc)
        rc = di_store_open(&cfg->store, false, &s, err);
    if (!rc)
        rc = check_coordinates(cfg, s, err);
    if (!rc)
        rc = gather(cfg, s, st, err);
    di_store_close(s);
    if (!rc) {
        rp_stats_finish(st);
        rc = di_make_dirs(cfg->out_dir, err);
    }
    for (int i = 0; !rc && i < st->nhigh; i++)
        rc = picture(cfg, st, &st->high[i], &out->pictures, err);
    for (int i = 0; !rc && i < st->nlow; i++)
        rc = picture(cfg, st, &st->low[i], &out->pictures, err);
    char path[4200];
    if (!rc) {
        snprintf(path, sizeof path, "%s/stats.json", cfg->out_dir);
        rc = write_json_file(st, path, err);
    }
    if (!rc) {
        snprintf(out->html, sizeof out->html, "%s/index.html", cfg->out_dir);
        rc = rp_write_html(st, out->html, err);
    }
    if (!rc && json) {
        rp_write_json(st, json);
        fflush(json);
    }
    out->rows = st->rows;
    for (int f = 0; f < st->nfaces; f++)
        out->scored += st->face[f].n;
    rp_stats_free(st);
    free(st);
    return rc;
}

/*
** report_rows.c: what `depthindex report` reads from the table: keyset pages
** of every row with its scores (and, when asked, two coordinate columns),
** failures grouped by message with a few examples, and the settings row a
** run records at its start (depthindex_run_log). Like rows.c: values bound,
** identifiers validated, no cursor or transaction held between pages.
*/
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RUNS_TABLE "depthindex_run_log"

/* ---- one column, looked up by name ---- */

typedef struct find_col {
    const char *name;
    bool found;
} find_col;

static int match_column(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    find_col *fc = ctx;
    if (ncols >= 1 && vals[0] && strcasecmp(vals[0], fc->name) == 0)
        fc->found = true;
    return DI_OK;
}

int di_store_column_exists(di_store *s, const char *column, bool *exists, di_error *err)
{
    *exists = false;
    if (!di_ident_valid(column))
        return di_fail(err, DI_EINVAL,
                       "column '%.64s' is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, "
                       "at most 64 characters)", column ? column : "");
    find_col fc = {column, false};
    int rc = s->ops->columns(s, s->table, match_column, &fc, err);
    *exists = rc == DI_OK && fc.found;
    return di_store_finish(s, rc, err);
}

/* ---- keyset pages of scores ---- */

typedef struct scores_ctx {
    di_store *s;
    di_store_score_row *rows;
    int max, n;
    bool pos;
} scores_ctx;

static bool parse_double(const char *v, double *out)
{
    if (!v || !*v)
        return false;
    char *end;
    double d = strtod(v, &end);
    if (*end != '\0')
        return false;
    *out = d;
    return true;
}

static int score_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    scores_ctx *sc = ctx;
    di_store *s = sc->s;
    if (sc->n >= sc->max || ncols != 2 + s->nfaces + (sc->pos ? 2 : 0) || !vals[0])
        return di_fail(err, DI_EDB, "unexpected result shape from %s", s->table);
    di_store_score_row *r = &sc->rows[sc->n];
    memset(r, 0, sizeof *r);
    r->id = strtoll(vals[0], NULL, 10);
    /* a sid longer than the buffer is cut (the report only shows it) */
    snprintf(r->sid, sizeof r->sid, "%s", vals[1] ? vals[1] : "");
    for (int f = 0; f < s->nfaces; f++)
        if (parse_double(vals[2 + f], &r->score[f]))
            r->has |= 1u << f;
    if (sc->pos)
        r->has_pos = parse_double(vals[2 + s->nfaces], &r->lat) &&
                     parse_double(vals[3 + s->nfaces], &r->lon);
    sc->n++;
    return DI_OK;
}

int di_store_fetch_scores(di_store *s, int64_t after_id, int max_rows,
                          const char *lat_col, const char *lon_col,
                          di_store_score_row *rows, int *nrows, di_error *err)
{
    *nrows = 0;
    if (max_rows <= 0)
        return DI_OK;
    bool pos = lat_col && lon_col;
    if (pos && (!di_ident_valid(lat_col) || !di_ident_valid(lon_col)))
        return di_fail(err, DI_EINVAL, "coordinate columns must be plain SQL identifiers");
    di_sql_reset(s);
    di_sql_select_keys(s);
    for (int f = 0; f < s->nfaces; f++) {
        di_sql_add(s, ", ");
        di_sql_ident(s, s->cols[f]);
    }
    if (pos) {
        di_sql_add(s, ", ");
        di_sql_ident(s, lat_col);
        di_sql_add(s, ", ");
        di_sql_ident(s, lon_col);
    }
    di_sql_from_ids(s, ">");
    di_sql_page_end(s);
    int rc = di_sql_check(s, err);
    if (rc)
        return rc;
    di_param p[2] = {{.type = DI_P_INT, .i = after_id}, {.type = DI_P_INT, .i = max_rows}};
    scores_ctx sc = {s, rows, max_rows, 0, pos};
    rc = s->ops->query(s, s->sql, 2, p, score_row, &sc, err);
    *nrows = rc == DI_OK ? sc.n : 0;
    return di_store_finish(s, rc, err);
}

/* ---- failures grouped by message ---- */

typedef struct groups_ctx {
    di_store_error_group *g;
    int max, n;
} groups_ctx;

static int group_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    groups_ctx *gc = ctx;
    if (ncols < 2 || gc->n >= gc->max)
        return DI_OK;
    di_store_error_group *g = &gc->g[gc->n++];
    memset(g, 0, sizeof *g);
    size_t len = vals[0] ? strlen(vals[0]) : 0;
    snprintf(g->error, sizeof g->error, "%s", vals[0] ? vals[0] : "");
    g->truncated = len >= sizeof g->error;
    g->count = vals[1] ? strtoll(vals[1], NULL, 10) : 0;
    return DI_OK;
}

static int example_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    di_store_error_group *g = ctx;
    if (ncols < 3 || g->nexamples >= DI_STORE_ERROR_EXAMPLES || !vals[0])
        return DI_OK;
    int k = g->nexamples++;
    g->example_id[k] = strtoll(vals[0], NULL, 10);
    snprintf(g->example_face[k], sizeof g->example_face[k], "%s", vals[1] ? vals[1] : "");
    snprintf(g->example_sid[k], sizeof g->example_sid[k], "%s", vals[2] ? vals[2] : "");
    return DI_OK;
}

static int one_count(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    *(int64_t *)ctx = ncols >= 1 && vals[0] ? strtoll(vals[0], NULL, 10) : 0;
    return DI_OK;
}

int di_store_error_groups(di_store *s, int max_groups, di_store_error_group *groups,
                          int *ngroups, int64_t *distinct, di_error *err)
{
    *ngroups = 0;
    *distinct = 0;
    int rc = s->ops->query(s, "SELECT COUNT(DISTINCT error) FROM " ERRORS_TABLE, 0, NULL,
                           one_count, distinct, err);
    if (rc || max_groups <= 0)
        return di_store_finish(s, rc, err);
    di_sql_reset(s);
    di_sql_add(s, "SELECT error, COUNT(*) FROM " ERRORS_TABLE
                  " GROUP BY error ORDER BY COUNT(*) DESC, error LIMIT ");
    di_sql_param(s, DI_P_INT);
    rc = di_sql_check(s, err);
    di_param lim = {.type = DI_P_INT, .i = max_groups};
    groups_ctx gc = {groups, max_groups, 0};
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, 1, &lim, group_row, &gc, err);
    for (int i = 0; rc == DI_OK && i < gc.n; i++) {
        if (groups[i].truncated)
            continue; /* the cut text would match nothing */
        di_sql_reset(s);
        di_sql_add(s, "SELECT e.id, e.face, p.");
        di_sql_ident(s, s->sid_col);
        di_sql_add(s, " FROM " ERRORS_TABLE " e LEFT JOIN ");
        di_sql_ident(s, s->table);
        di_sql_add(s, " p ON p.");
        di_sql_ident(s, s->id_col);
        di_sql_add(s, " = e.id WHERE e.error = ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " ORDER BY e.id, e.face LIMIT %d", DI_STORE_ERROR_EXAMPLES);
        rc = di_sql_check(s, err);
        di_param p = {.type = DI_P_TEXT, .s = groups[i].error};
        if (rc == DI_OK)
            rc = s->ops->query(s, s->sql, 1, &p, example_row, &groups[i], err);
    }
    *ngroups = rc == DI_OK ? gc.n : 0;
    return di_store_finish(s, rc, err);
}

/* ---- the settings of runs ---- */

int di_store_record_run(di_store *s, const char *settings, di_error *err)
{
    const char *at_type = s->kind == DI_SQLITE ? "TEXT" : s->kind == DI_MARIADB ? "DATETIME"
                                                                                 : "TIMESTAMPTZ";
    di_sql_reset(s);
    di_sql_add(s, "CREATE TABLE IF NOT EXISTS " RUNS_TABLE " (at %s NOT NULL, "
                  "settings TEXT NOT NULL)", at_type);
    int rc = di_sql_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->exec(s, s->sql, err);
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "INSERT INTO " RUNS_TABLE " (at, settings) VALUES (CURRENT_TIMESTAMP, ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, ")");
        rc = di_sql_check(s, err);
        di_param p = {.type = DI_P_TEXT, .s = settings};
        if (rc == DI_OK)
            rc = s->ops->query(s, s->sql, 1, &p, NULL, NULL, err);
    }
    return di_store_finish(s, rc, err);
}

typedef struct run_ctx {
    char *settings, *at;
    size_t size, at_size;
    bool found;
} run_ctx;

static int run_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    run_ctx *rc = ctx;
    if (ncols < 2)
        return DI_OK;
    snprintf(rc->at, rc->at_size, "%s", vals[0] ? vals[0] : "");
    snprintf(rc->settings, rc->size, "%s", vals[1] ? vals[1] : "");
    rc->found = true;
    return DI_OK;
}

static int any_column(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)ncols, (void)vals, (void)err;
    *(bool *)ctx = true;
    return DI_OK;
}

int di_store_last_run(di_store *s, char *settings, size_t size, char *at, size_t at_size,
                      bool *found, di_error *err)
{
    *found = false;
    settings[0] = at[0] = '\0';
    bool exists = false;
    di_error e = {0};
    int rc = s->ops->columns(s, RUNS_TABLE, any_column, &exists, &e);
    if (rc == DI_ESCHEMA || (rc == DI_OK && !exists))
        return DI_OK; /* no run has recorded its settings */
    if (rc) {
        if (err)
            *err = e;
        return di_store_finish(s, rc, err);
    }
    run_ctx ctx = {settings, at, size, at_size, false};
    rc = s->ops->query(s, "SELECT at, settings FROM " RUNS_TABLE " ORDER BY at DESC LIMIT 1",
                       0, NULL, run_row, &ctx, err);
    *found = rc == DI_OK && ctx.found;
    return di_store_finish(s, rc, err);
}

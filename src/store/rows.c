/*
** rows.c: what the job does with the table: keyset pages of pending rows,
** batched idempotent writes of scores and failures, counts, and inserting
** panoramas. Writes are grouped per face into multi-row statements.
*/
#include "store_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per multi-row statement: powers of two up to this, so that each
** connection caches only a few statement shapes. */
#define CHUNK_MAX 128

/* ---- keyset pages ---- */

typedef struct fetch_ctx {
    di_store *s;
    di_store_row *rows;
    int max, n;
    bool force;
} fetch_ctx;

static int fetch_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    fetch_ctx *fc = ctx;
    if (fc->n >= fc->max || ncols != 2 + fc->s->nfaces || !vals[0])
        return di_fail(err, DI_EDB, "unexpected result shape from %s", fc->s->table);
    di_store_row *r = &fc->rows[fc->n];
    r->id = strtoll(vals[0], NULL, 10);
    const char *sid = vals[1] ? vals[1] : "";
    /* A sid that cannot name a file is that row's problem, not the job's:
    ** its faces fail (recorded) and the keyset goes on past it. */
    r->sid_problem = DI_SID_OK;
    if ((fc->s->row_cut & 2u) || strlen(sid) >= sizeof r->sid)
        r->sid_problem = DI_SID_TOO_LONG;
    else if (fc->s->row_nul & 2u)
        r->sid_problem = DI_SID_NUL;
    strcpy(r->sid, r->sid_problem ? "" : sid);
    r->pending = 0;
    for (int f = 0; f < fc->s->nfaces; f++)
        if (fc->force || (vals[2 + f] && vals[2 + f][0] == '1'))
            r->pending |= 1u << f;
    fc->n++;
    return DI_OK;
}

int di_store_fetch_pending(di_store *s, int64_t after_id, int max_rows, bool force,
                           di_store_row *rows, int *nrows, di_error *err)
{
    return di_store_fetch_range(s, after_id, INT64_MAX, max_rows, force, rows, nrows, err);
}

int di_store_fetch_range(di_store *s, int64_t after_id, int64_t upto, int max_rows,
                         bool force, di_store_row *rows, int *nrows, di_error *err)
{
    *nrows = 0;
    if (max_rows <= 0)
        return DI_OK;
    di_sql_reset(s);
    di_sql_select_keys(s);
    for (int f = 0; f < s->nfaces; f++) {
        di_sql_add(s, ", CASE WHEN ");
        di_sql_ident(s, s->cols[f]);
        di_sql_add(s, " IS NULL THEN 1 ELSE 0 END");
    }
    /* from the start: >= the smallest id there is, so that no id is below */
    di_sql_from_ids(s, after_id == DI_STORE_FIRST_ID ? ">=" : ">");
    if (!force) {
        di_sql_add(s, " AND (");
        for (int f = 0; f < s->nfaces; f++) {
            di_sql_add(s, f ? " OR " : "");
            di_sql_ident(s, s->cols[f]);
            di_sql_add(s, " IS NULL");
        }
        di_sql_add(s, ")");
    }
    /* a chunk's upper end (chunks.c); whole-table pages have none */
    bool bounded = upto != INT64_MAX;
    if (bounded) {
        di_sql_add(s, " AND ");
        di_sql_ident(s, s->id_col);
        di_sql_add(s, " <= ");
        di_sql_param(s, DI_P_INT);
    }
    di_sql_page_end(s);
    int rc = di_sql_check(s, err);
    if (rc)
        return rc;
    di_param p[3] = {{.type = DI_P_INT, .i = after_id}, {.type = DI_P_INT, .i = upto},
                     {.type = DI_P_INT, .i = max_rows}};
    if (!bounded)
        p[1] = p[2];
    fetch_ctx fc = {s, rows, max_rows, 0, force};
    rc = s->ops->query(s, s->sql, bounded ? 3 : 2, p, fetch_row, &fc, err);
    *nrows = rc == DI_OK ? fc.n : 0;
    return di_store_finish(s, rc, err);
}

/* ---- writing ---- */

typedef struct item {
    int64_t id;
    int face;
    int idx; /* position in the caller's array: the later one wins */
} item;

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->face != y->face)
        return x->face < y->face ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int chunk_size(int left)
{
    int c = CHUNK_MAX;
    while (c > left)
        c /= 2;
    return c;
}

static bool result_ok(const di_store_result *r)
{
    return r->ok && isfinite(r->score);
}

/* UPDATE t SET col = CASE id WHEN ? THEN ? ... END WHERE id IN (?, ...) */
static int write_scores(di_store *s, int face, const item *it, int n,
                        const di_store_result *res, di_param *p, di_error *err)
{
    di_sql_reset(s);
    di_sql_add(s, "UPDATE ");
    di_sql_ident(s, s->table);
    di_sql_add(s, " SET ");
    di_sql_ident(s, s->cols[face]);
    di_sql_add(s, " = CASE ");
    di_sql_ident(s, s->id_col);
    int np = 0;
    for (int i = 0; i < n; i++) {
        di_sql_add(s, " WHEN ");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, " THEN ");
        di_sql_param(s, DI_P_REAL);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
        p[np++] = (di_param){.type = DI_P_REAL, .d = res[it[i].idx].score};
    }
    di_sql_add(s, " END WHERE ");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, " IN (");
    for (int i = 0; i < n; i++) {
        di_sql_add(s, i ? ", " : "");
        di_sql_param(s, DI_P_INT);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
    }
    di_sql_add(s, ")");
    int rc = di_sql_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, np, p, NULL, NULL, err);
    if (rc)
        return rc;
    /* Every id must have matched one row: an id that matched none (a row
    ** deleted meanwhile, an id that is not an integer) or several (ids not
    ** unique) would be a score counted as written that is not, or written
    ** where it does not belong. The transaction is rolled back. */
    if (s->changes >= 0 && s->changes != n)
        return di_fail(err, DI_EDB,
                       "table %s: writing %d scores of face %s matched %lld rows: the %s "
                       "column must be an integer primary key (or unique integer) and the "
                       "rows must stay while the job runs (nothing of this batch was written)",
                       s->table, n, s->faces[face], (long long)s->changes, s->id_col);
    /* The face succeeded: its error record, if any, goes. */
    di_sql_reset(s);
    di_sql_add(s, "DELETE FROM " ERRORS_TABLE " WHERE face = ");
    di_sql_param(s, DI_P_TEXT);
    di_sql_add(s, " AND id IN (");
    np = 0;
    p[np++] = (di_param){.type = DI_P_TEXT, .s = s->faces[face]};
    for (int i = 0; i < n; i++) {
        di_sql_add(s, i ? ", " : "");
        di_sql_param(s, DI_P_INT);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
    }
    di_sql_add(s, ")");
    rc = di_sql_check(s, err);
    return rc ? rc : s->ops->query(s, s->sql, np, p, NULL, NULL, err);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
                 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && p[0] < 0xC2) || (len == 4 && p[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (len == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0)))
        return 0; /* overlong, or a surrogate */
    if (len == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90)))
        return 0;
    return len;
}

/* An error text fit for every backend: at most the field's size even
** without a NUL, invalid UTF-8 bytes (a file name in another encoding) as
** '?', control characters as spaces. PostgreSQL and MariaDB would refuse
** the whole batch over one bad byte. */
static void clean_text(const char *in, size_t in_max, char *out, size_t out_size)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = strnlen(in, in_max), o = 0;
    for (size_t i = 0; i < n && o + 1 < out_size;) {
        size_t len = utf8_len(p + i, n - i);
        if (len == 0) {
            out[o++] = '?';
            i++;
        } else if (len == 1) {
            out[o++] = p[i] < 0x20 || p[i] == 0x7F ? ' ' : (char)p[i];
            i++;
        } else {
            if (o + len >= out_size)
                break;
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = '\0';
}

static int write_failures(di_store *s, int face, const item *it, int n,
                          const di_store_result *res, di_param *p, di_error *err)
{
    static_assert(sizeof res->error == 256, "error texts are 256 bytes");
    char (*texts)[256] = malloc((size_t)n * sizeof *texts);
    if (!texts)
        return di_fail(err, DI_ENOMEM, "out of memory");
    di_sql_reset(s);
    di_sql_add(s, "INSERT INTO " ERRORS_TABLE " (id, face, error, at) VALUES ");
    int np = 0;
    for (int i = 0; i < n; i++) {
        const di_store_result *r = &res[it[i].idx];
        di_sql_add(s, i ? ", (" : "(");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, ", ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, ", ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, ", CURRENT_TIMESTAMP)");
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
        p[np++] = (di_param){.type = DI_P_TEXT, .s = s->faces[face]};
        if (r->ok)
            strcpy(texts[i], "score is not a finite number");
        else
            clean_text(r->error, sizeof r->error, texts[i], sizeof texts[i]);
        if (!texts[i][0])
            strcpy(texts[i], "failed (no reason given)");
        p[np++] = (di_param){.type = DI_P_TEXT, .s = texts[i]};
    }
    if (s->kind == DI_MARIADB)
        di_sql_add(s, " ON DUPLICATE KEY UPDATE error = VALUES(error), at = VALUES(at)");
    else
        di_sql_add(s, " ON CONFLICT (id, face) DO UPDATE SET error = excluded.error, "
                  "at = excluded.at");
    int rc = di_sql_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, np, p, NULL, NULL, err);
    free(texts);
    return rc;
}

/* Splits a run of items into power-of-two chunks for fn. */
static int in_chunks(di_store *s, int face, const item *it, int n,
                     const di_store_result *res, di_param *p,
                     int (*fn)(di_store *, int, const item *, int,
                               const di_store_result *, di_param *, di_error *),
                     di_error *err)
{
    for (int done = 0; done < n;) {
        int c = chunk_size(n - done);
        int rc = fn(s, face, it + done, c, res, p, err);
        if (rc)
            return rc;
        done += c;
    }
    return DI_OK;
}

static const char *begin_sql(const di_store *s)
{
    /* SQLite: take the write lock at once, so that a busy file is waited
    ** for (busy timeout) rather than failing on a lock upgrade mid-way. */
    return s->kind == DI_MARIADB ? "START TRANSACTION"
           : s->kind == DI_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN";
}

int di_store_write(di_store *s, const di_store_result *results, int n, di_error *err)
{
    if (n <= 0)
        return DI_OK;
    for (int i = 0; i < n; i++)
        if (results[i].face < 0 || results[i].face >= s->nfaces)
            return di_fail(err, DI_EINVAL, "result for id %lld names face %d of %d",
                           (long long)results[i].id, results[i].face, s->nfaces);
    item *all = malloc((size_t)n * sizeof *all);
    di_param *p = malloc(3 * CHUNK_MAX * sizeof *p);
    item *ok = malloc((size_t)n * sizeof *ok);
    item *bad = malloc((size_t)n * sizeof *bad);
    int rc = DI_OK;
    if (!all || !p || !ok || !bad) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        all[i] = (item){results[i].id, results[i].face, i};
    qsort(all, (size_t)n, sizeof *all, item_cmp);

    rc = s->ops->exec(s, begin_sql(s), err);
    if (rc)
        goto out;
    for (int i = 0; rc == DI_OK && i < n;) {
        int face = all[i].face, nok = 0, nbad = 0;
        for (; i < n && all[i].face == face; i++) {
            /* of duplicates (same id and face) the last one counts */
            if (i + 1 < n && all[i + 1].face == face && all[i + 1].id == all[i].id)
                continue;
            if (result_ok(&results[all[i].idx]))
                ok[nok++] = all[i];
            else
                bad[nbad++] = all[i];
        }
        rc = in_chunks(s, face, ok, nok, results, p, write_scores, err);
        if (rc == DI_OK)
            rc = in_chunks(s, face, bad, nbad, results, p, write_failures, err);
    }
    if (rc == DI_OK)
        rc = s->ops->exec(s, "COMMIT", err);
    if (rc != DI_OK) {
        di_error ignored;
        s->ops->exec(s, "ROLLBACK", &ignored);
    }
out:
    free(all);
    free(p);
    free(ok);
    free(bad);
    return di_store_finish(s, rc, err);
}

/* ---- counts ---- */

static int64_t as_int(const char *v)
{
    return v ? strtoll(v, NULL, 10) : 0;
}

static int count_main(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    di_store_counts *c = ctx;
    c->rows = as_int(vals[0]);
    for (int f = 0; f + 1 < ncols && f < DI_STORE_MAX_FACES; f++) {
        c->done[f] = as_int(vals[f + 1]);
        c->pending[f] = c->rows - c->done[f];
    }
    return DI_OK;
}

typedef struct count_err_ctx {
    di_store *s;
    di_store_counts *c;
} count_err_ctx;

static int count_errors(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    count_err_ctx *ce = ctx;
    if (ncols < 2 || !vals[0])
        return DI_OK;
    for (int f = 0; f < ce->s->nfaces; f++)
        if (strcmp(vals[0], ce->s->faces[f]) == 0)
            ce->c->failed[f] = as_int(vals[1]);
    return DI_OK;
}

int di_store_count(di_store *s, di_store_counts *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    di_sql_reset(s);
    di_sql_add(s, "SELECT COUNT(*)");
    for (int f = 0; f < s->nfaces; f++) {
        di_sql_add(s, ", COUNT(");
        di_sql_ident(s, s->cols[f]);
        di_sql_add(s, ")");
    }
    di_sql_add(s, " FROM ");
    di_sql_ident(s, s->table);
    int rc = di_sql_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, 0, NULL, count_main, out, err);
    if (rc == DI_OK && s->has_errors_table) {
        count_err_ctx ce = {s, out};
        rc = s->ops->query(s, "SELECT face, COUNT(*) FROM " ERRORS_TABLE " GROUP BY face", 0,
                           NULL, count_errors, &ce, err);
    }
    return di_store_finish(s, rc, err);
}

/* ---- inserting panoramas ---- */

int di_store_insert_panoramas(di_store *s, const int64_t *ids, const char *const *sids,
                              int n, di_error *err)
{
    if (n <= 0)
        return DI_OK;
    for (int i = 0; i < n; i++)
        if (!sids[i] || strlen(sids[i]) >= DI_STORE_SID_MAX)
            return di_fail(err, DI_EINVAL, "panorama id %lld: %s missing or longer than %d bytes",
                           (long long)ids[i], s->sid_col, DI_STORE_SID_MAX - 1);
    di_param *p = malloc(2 * CHUNK_MAX * sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = s->ops->exec(s, begin_sql(s), err);
    for (int done = 0; rc == DI_OK && done < n;) {
        int c = chunk_size(n - done);
        di_sql_reset(s);
        di_sql_add(s, "INSERT INTO ");
        di_sql_ident(s, s->table);
        di_sql_add(s, " (");
        di_sql_ident(s, s->id_col);
        di_sql_add(s, ", ");
        di_sql_ident(s, s->sid_col);
        di_sql_add(s, ") VALUES ");
        for (int i = 0; i < c; i++) {
            di_sql_add(s, i ? ", (" : "(");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", ");
            di_sql_param(s, DI_P_TEXT);
            di_sql_add(s, ")");
            p[2 * i] = (di_param){.type = DI_P_INT, .i = ids[done + i]};
            p[2 * i + 1] = (di_param){.type = DI_P_TEXT, .s = sids[done + i]};
        }
        /* Inserting again (init run twice) leaves existing rows alone. */
        if (s->kind == DI_MARIADB) {
            di_sql_add(s, " ON DUPLICATE KEY UPDATE ");
            di_sql_ident(s, s->id_col);
            di_sql_add(s, " = ");
            di_sql_ident(s, s->id_col);
        } else {
            di_sql_add(s, " ON CONFLICT (");
            di_sql_ident(s, s->id_col);
            di_sql_add(s, ") DO NOTHING");
        }
        rc = di_sql_check(s, err);
        if (rc == DI_OK)
            rc = s->ops->query(s, s->sql, 2 * c, p, NULL, NULL, err);
        done += c;
    }
    if (rc == DI_OK)
        rc = s->ops->exec(s, "COMMIT", err);
    else {
        di_error ignored;
        s->ops->exec(s, "ROLLBACK", &ignored);
    }
    free(p);
    return di_store_finish(s, rc, err);
}

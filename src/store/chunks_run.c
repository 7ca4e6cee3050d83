/*
** chunks_run.c: the side tables of many workers, the run (one row per table
** in depthindex_runs: the settings' fingerprint, chunk size, shards,
** attempts) and its chunks, created idempotently by whichever worker comes
** first and checked by every worker that joins; and the run's status. The
** claims themselves are in chunks.c.
*/
#include "chunks_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INSERT_ROWS 128          /* chunks per INSERT statement */
#define MAX_CHUNKS 4000000       /* more: ids too sparse for --chunk */

/* ---- dialect ---- */

static const char *real_type(const di_store *s)
{
    return s->kind == DI_SQLITE ? "REAL" : s->kind == DI_MARIADB ? "DOUBLE" : "DOUBLE PRECISION";
}

static const char *insert_ignore(const di_store *s)
{
    return s->kind == DI_MARIADB ? " ON DUPLICATE KEY UPDATE run = run" : " ON CONFLICT DO NOTHING";
}

/* ---- the side tables ---- */

static int exec_built(di_store *s, di_error *err)
{
    int rc = di_sql_check(s, err);
    return rc ? rc : s->ops->exec(s, s->sql, err);
}

static int create_tables(di_store *s, di_error *err)
{
    const char *real = real_type(s);
    int rc = DI_OK;
    /* PostgreSQL: CREATE ... IF NOT EXISTS races with itself when workers
    ** start together (a duplicate key in its catalogue), so the DDL runs
    ** under a transaction-scoped advisory lock; its DDL is transactional. */
    if (s->kind == DI_POSTGRESQL) {
        rc = s->ops->exec(s, "BEGIN", err);
        if (rc == DI_OK)
            rc = s->ops->exec(s, "SELECT pg_advisory_xact_lock(7310412931)", err);
    }
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "CREATE TABLE IF NOT EXISTS " DI_RUNS_TABLE " (run VARCHAR(64) NOT NULL "
                      "PRIMARY KEY, fingerprint VARCHAR(%d) NOT NULL, chunk_ids BIGINT NOT NULL, "
                      "shards INT NOT NULL, max_attempts INT NOT NULL, first_chunk BIGINT NOT "
                      "NULL, created_chunks BIGINT NOT NULL, last_chunk BIGINT NOT NULL, "
                      "created %s)",
                   DI_FINGERPRINT_MAX, real);
        rc = exec_built(s, err);
    }
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "CREATE TABLE IF NOT EXISTS " DI_CHUNKS_TABLE " (run VARCHAR(64) NOT NULL, "
                      "chunk BIGINT NOT NULL, lo BIGINT NOT NULL, hi BIGINT NOT NULL, shard INT "
                      "NOT NULL, done INT NOT NULL DEFAULT 0, token BIGINT NOT NULL DEFAULT 0, "
                      "attempts INT NOT NULL DEFAULT 0, owner VARCHAR(%d), lease_until %s, "
                      "claimed %s, renewed %s, finished %s, faces BIGINT NOT NULL DEFAULT 0, "
                      "PRIMARY KEY (run, chunk))",
                   DI_CHUNK_OWNER_MAX, real, real, real, real);
        rc = exec_built(s, err);
    }
    /* the claims' two orders: own shard ascending, any shard descending */
    if (rc == DI_OK)
        rc = s->ops->exec(s, "CREATE INDEX IF NOT EXISTS depthindex_chunks_shard ON "
                          DI_CHUNKS_TABLE " (run, done, shard, chunk)", err);
    if (rc == DI_OK)
        rc = s->ops->exec(s, "CREATE INDEX IF NOT EXISTS depthindex_chunks_next ON "
                          DI_CHUNKS_TABLE " (run, done, chunk)", err);
    if (s->kind == DI_POSTGRESQL)
        rc = di_chunks_end(s, rc, err);
    return rc;
}

/* ---- the run ---- */

typedef struct run_row {
    bool found;
    char fingerprint[DI_FINGERPRINT_MAX];
    int64_t chunk_ids, first_chunk, created_chunks, last_chunk;
    int shards, max_attempts;
} run_row;

static int read_run(di_store *s, run_row *r, bool lock, di_error *err)
{
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT fingerprint, chunk_ids, shards, max_attempts, first_chunk, "
                  "created_chunks, last_chunk FROM " DI_RUNS_TABLE " WHERE run = ");
    di_sql_param(s, DI_P_TEXT);
    di_sql_add(s, "%s", lock ? di_chunks_for_update(s, false) : "");
    di_param p[1] = {P_TEXT(s->table)};
    int rc = di_chunks_query(s, 1, p, &v, err);
    memset(r, 0, sizeof *r);
    if (rc || v.n == 0)
        return rc;
    r->found = true;
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s", v.v[0]);
    r->chunk_ids = di_chunks_ival(&v, 1);
    r->shards = (int)di_chunks_ival(&v, 2);
    r->max_attempts = (int)di_chunks_ival(&v, 3);
    r->first_chunk = di_chunks_ival(&v, 4);
    r->created_chunks = di_chunks_ival(&v, 5);
    r->last_chunk = di_chunks_ival(&v, 6);
    if (r->chunk_ids <= 0 || r->shards <= 0 || r->created_chunks < 0)
        return di_fail(err, DI_ESCHEMA, DI_RUNS_TABLE " row of %s is damaged", s->table);
    return DI_OK;
}

/* Chunks not done and not failed. */
static int count_unfinished(di_store *s, int max_attempts, int64_t *n, di_error *err)
{
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT COUNT(*) FROM " DI_CHUNKS_TABLE " WHERE run = ");
    di_sql_param(s, DI_P_TEXT);
    di_sql_add(s, " AND done = 0 AND (attempts < ");
    di_sql_param(s, DI_P_INT);
    di_sql_add(s, " OR lease_until >= %s)", di_chunks_now_sql(s));
    di_param p[2] = {P_TEXT(s->table), P_INT(max_attempts)};
    int rc = di_chunks_query(s, 2, p, &v, err);
    *n = rc ? 0 : di_chunks_ival(&v, 0);
    return rc;
}

static int count_column(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)ncols;
    (void)vals;
    (void)err;
    ++*(int *)ctx;
    return DI_OK;
}

static int run_state_once(di_store *s, int *state, di_error *err)
{
    *state = DI_RUN_NONE;
    /* no side tables (never a coordinated run here): asked of the schema,
    ** not by a statement that fails, which would fill the server's log */
    int ncols = 0;
    int rc = s->ops->columns(s, DI_RUNS_TABLE, count_column, &ncols, err);
    if (rc == DI_ESCHEMA)
        return DI_OK;
    if (rc)
        return rc;
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT max_attempts FROM " DI_RUNS_TABLE " WHERE run = ");
    di_sql_param(s, DI_P_TEXT);
    di_param p[1] = {P_TEXT(s->table)};
    rc = di_chunks_query(s, 1, p, &v, err);
    if (rc || v.n == 0)
        return rc;
    int64_t n;
    rc = count_unfinished(s, (int)di_chunks_ival(&v, 0), &n, err);
    if (rc == DI_ESCHEMA) /* depthindex_chunks not created yet */
        return DI_OK;
    if (rc == DI_OK)
        *state = n > 0 ? DI_RUN_UNFINISHED : DI_RUN_FINISHED;
    return rc;
}

int di_chunks_run_state(di_store *s, int *state, di_error *err)
{
    return di_store_finish(s, run_state_once(s, state, err), err);
}

/* floor(id / n) for any sign */
static int64_t chunk_of(int64_t id, int64_t n)
{
    int64_t q = id / n;
    return (id % n != 0 && id < 0) ? q - 1 : q;
}

static int id_span(di_store *s, bool *any, int64_t *lo, int64_t *hi, di_error *err)
{
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT MIN(");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, "), MAX(");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, ") FROM ");
    di_sql_ident(s, s->table);
    int rc = di_chunks_query(s, 0, NULL, &v, err);
    *any = rc == DI_OK && v.n > 0 && !v.null[0];
    *lo = *any ? di_chunks_ival(&v, 0) : 0;
    *hi = *any ? di_chunks_ival(&v, 1) : 0;
    return rc;
}

/* Names the first key=value item that differs between two fingerprints. */
static void fingerprint_diff(const char *a, const char *b, char *out, size_t size)
{
    for (const char *pa = a; *pa;) {
        const char *ea = strchr(pa, ';');
        size_t la = ea ? (size_t)(ea - pa) : strlen(pa);
        const char *eq = memchr(pa, '=', la);
        size_t kl = eq ? (size_t)(eq - pa + 1) : la;
        /* the same key in b */
        const char *pb = b, *found = NULL;
        size_t lb = 0;
        while (*pb) {
            const char *eb = strchr(pb, ';');
            size_t l = eb ? (size_t)(eb - pb) : strlen(pb);
            if (l >= kl && strncmp(pb, pa, kl) == 0) {
                found = pb;
                lb = l;
                break;
            }
            pb = eb ? eb + 1 : pb + l;
        }
        if (!found || lb != la || strncmp(found, pa, la) != 0) {
            snprintf(out, size, "the run has %.*s, this worker %.*s", (int)la, pa,
                     found ? (int)lb : 4, found ? found : "none");
            return;
        }
        pa = ea ? ea + 1 : pa + la;
    }
    snprintf(out, size, "the run has %.200s, this worker %.200s", a, b);
}

/* Inserts chunks k in [from, to]; ON CONFLICT: another worker was first. */
static int insert_chunks(di_store *s, const run_row *run, int64_t from, int64_t to,
                         di_error *err)
{
    di_param *p = malloc(5 * INSERT_ROWS * sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = DI_OK;
    for (int64_t k = from; rc == DI_OK && k <= to;) {
        int n = (int)(to - k + 1 < INSERT_ROWS ? to - k + 1 : INSERT_ROWS);
        /* the statement's shapes: INSERT_ROWS rows, or the remainder */
        di_sql_reset(s);
        di_sql_add(s, "INSERT INTO " DI_CHUNKS_TABLE " (run, chunk, lo, hi, shard) VALUES ");
        int np = 0;
        for (int i = 0; i < n; i++, k++) {
            di_sql_add(s, i ? ", (" : "(");
            for (int c = 0; c < 5; c++) {
                di_sql_add(s, c ? ", " : "");
                di_sql_param(s, c ? DI_P_INT : DI_P_TEXT);
            }
            di_sql_add(s, ")");
            int64_t rel = k - run->first_chunk;
            int64_t shard = run->created_chunks > 0 ? rel * run->shards / run->created_chunks : 0;
            shard = shard < 0 ? 0 : shard >= run->shards ? run->shards - 1 : shard;
            int64_t lo = k * run->chunk_ids;
            p[np++] = P_TEXT(s->table);
            p[np++] = P_INT(k);
            p[np++] = P_INT(lo);
            /* the last chunk of the id space ends at its end */
            p[np++] = P_INT(lo > INT64_MAX - (run->chunk_ids - 1) ? INT64_MAX
                                                                 : lo + (run->chunk_ids - 1));
            p[np++] = P_INT(shard);
        }
        di_sql_add(s, "%s", insert_ignore(s));
        rc = di_chunks_query(s, np, p, NULL, err);
    }
    free(p);
    return rc;
}

/* A finished run with other settings gives way to this one: under the run
** row's lock, so that of several new workers one replaces it and the others
** find it replaced. */
static int replace_run(di_store *s, const di_chunk_plan *plan, const char *old_fp,
                       int64_t first, int64_t count, di_error *err)
{
    int rc = di_chunks_begin(s, err);
    run_row r;
    if (rc == DI_OK)
        rc = read_run(s, &r, true, err);
    if (rc == DI_OK && r.found && strcmp(r.fingerprint, old_fp) == 0) {
        di_sql_reset(s);
        di_sql_add(s, "DELETE FROM " DI_CHUNKS_TABLE " WHERE run = ");
        di_sql_param(s, DI_P_TEXT);
        di_param p1[1] = {P_TEXT(s->table)};
        rc = di_chunks_query(s, 1, p1, NULL, err);
        if (rc == DI_OK) {
            di_sql_reset(s);
            di_sql_add(s, "UPDATE " DI_RUNS_TABLE " SET fingerprint = ");
            di_sql_param(s, DI_P_TEXT);
            di_sql_add(s, ", chunk_ids = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", shards = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", max_attempts = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", first_chunk = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", created_chunks = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", last_chunk = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", created = %s WHERE run = ", di_chunks_now_sql(s));
            di_sql_param(s, DI_P_TEXT);
            di_param p[8] = {P_TEXT(plan->fingerprint), P_INT(plan->chunk_ids),
                             P_INT(plan->shards > 0 ? plan->shards : 1),
                             P_INT(plan->max_attempts), P_INT(first), P_INT(count),
                             P_INT(first - 1), P_TEXT(s->table)};
            rc = di_chunks_query(s, 8, p, NULL, err);
        }
    }
    return di_chunks_end(s, rc, err);
}

static int join_once(di_store *s, const di_chunk_plan *plan, di_chunk_run *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t nids = plan->chunk_ids > 0 ? plan->chunk_ids : 1024;
    int max_attempts = plan->max_attempts > 0 ? plan->max_attempts : 3;
    if (strlen(plan->fingerprint) >= DI_FINGERPRINT_MAX)
        return di_fail(err, DI_EINVAL, "settings fingerprint longer than %d bytes",
                       DI_FINGERPRINT_MAX - 1);
    int rc = create_tables(s, err);
    bool any;
    int64_t idlo, idhi;
    if (rc == DI_OK)
        rc = id_span(s, &any, &idlo, &idhi, err);
    if (rc)
        return rc;
    /* the chunks this worker would create from the table as it is now */
    int64_t klo = any ? chunk_of(idlo, nids) : 0, khi = any ? chunk_of(idhi, nids) : -1;
    if (khi - klo + 1 > MAX_CHUNKS)
        return di_fail(err, DI_EINVAL, "ids of %s span %lld chunks of %lld ids (at most %d): "
                       "give a larger --chunk", s->table, (long long)(khi - klo + 1),
                       (long long)nids, MAX_CHUNKS);
    di_sql_reset(s);
    di_sql_add(s, "INSERT INTO " DI_RUNS_TABLE " (run, fingerprint, chunk_ids, shards, "
                  "max_attempts, first_chunk, created_chunks, last_chunk, created) VALUES (");
    for (int c = 0; c < 8; c++) {
        di_sql_param(s, c < 2 ? DI_P_TEXT : DI_P_INT);
        di_sql_add(s, ", ");
    }
    di_sql_add(s, "%s)%s", di_chunks_now_sql(s), insert_ignore(s));
    di_param p[8] = {P_TEXT(s->table), P_TEXT(plan->fingerprint), P_INT(nids),
                     P_INT(plan->shards > 0 ? plan->shards : 1), P_INT(max_attempts),
                     P_INT(klo), P_INT(khi - klo + 1), P_INT(klo - 1)};
    rc = di_chunks_query(s, 8, p, NULL, err);
    run_row run;
    if (rc == DI_OK)
        rc = read_run(s, &run, false, err);
    if (rc == DI_OK && !run.found)
        rc = di_fail(err, DI_EDB, DI_RUNS_TABLE ": the row of %s vanished", s->table);
    if (rc == DI_OK && strcmp(run.fingerprint, plan->fingerprint) != 0) {
        int64_t left;
        rc = count_unfinished(s, run.max_attempts, &left, err);
        if (rc)
            return rc;
        char diff[2 * DI_FINGERPRINT_MAX];
        fingerprint_diff(run.fingerprint, plan->fingerprint, diff, sizeof diff);
        if (left > 0)
            return di_fail(err, DI_EINVAL, "table %s is being processed by workers with other "
                           "settings (%s; %lld chunks to go): start this worker with the "
                           "run's settings, or after that run is over",
                           s->table, diff, (long long)left);
        rc = replace_run(s, plan, run.fingerprint, klo, khi - klo + 1, err);
        if (rc == DI_OK)
            rc = read_run(s, &run, false, err);
        if (rc == DI_OK && strcmp(run.fingerprint, plan->fingerprint) != 0)
            return di_fail(err, DI_EINVAL, "table %s: another worker started a run with "
                           "other settings at the same time", s->table);
        out->created = true;
    }
    if (rc)
        return rc;
    if (plan->shards > 0 && run.shards != plan->shards)
        return di_fail(err, DI_EINVAL, "the run on table %s has %d shard%s, this worker was "
                       "given %d (--shard I/N needs the N of the other workers)",
                       s->table, run.shards, run.shards == 1 ? "" : "s", plan->shards);
    /* chunks for ids beyond the recorded ones (rows added since, or a run
    ** just created); a race with another worker inserts the same rows */
    int64_t first = run.first_chunk, last = run.last_chunk;
    if (any && run.chunk_ids != nids) {
        klo = chunk_of(idlo, run.chunk_ids);
        khi = chunk_of(idhi, run.chunk_ids);
    }
    if (any && klo < first)
        rc = insert_chunks(s, &run, klo, first - 1, err);
    if (rc == DI_OK && any && khi > last) {
        rc = insert_chunks(s, &run, last + 1 > klo ? last + 1 : klo, khi, err);
        if (rc == DI_OK) {
            di_sql_reset(s);
            di_sql_add(s, "UPDATE " DI_RUNS_TABLE " SET last_chunk = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, " WHERE run = ");
            di_sql_param(s, DI_P_TEXT);
            di_sql_add(s, " AND last_chunk < ");
            di_sql_param(s, DI_P_INT);
            di_param q[3] = {P_INT(khi), P_TEXT(s->table), P_INT(khi)};
            rc = di_chunks_query(s, 3, q, NULL, err);
        }
    }
    row_vals v;
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "SELECT COUNT(*) FROM " DI_CHUNKS_TABLE " WHERE run = ");
        di_sql_param(s, DI_P_TEXT);
        di_param q[1] = {P_TEXT(s->table)};
        rc = di_chunks_query(s, 1, q, &v, err);
    }
    if (rc)
        return rc;
    out->chunk_ids = run.chunk_ids;
    out->shards = run.shards;
    out->max_attempts = run.max_attempts;
    out->chunks = di_chunks_ival(&v, 0);
    return DI_OK;
}

int di_chunks_join(di_store *s, const di_chunk_plan *plan, di_chunk_run *run, di_error *err)
{
    double retry_for = plan->retry_for;
    const atomic_bool *stop = plan->stop;
    CHUNKS_RETRY(join_once(s, plan, run, err));
}

/* ---- status ---- */

typedef struct workers_ctx {
    di_chunks_status *st;
} workers_ctx;

static int worker_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    di_chunks_status *st = ((workers_ctx *)ctx)->st;
    if (ncols < 6 || !vals[0] || st->nworkers >= DI_CHUNKS_STATUS_WORKERS)
        return DI_OK;
    di_chunks_worker *w = &st->workers[st->nworkers++];
    snprintf(w->owner, sizeof w->owner, "%s", vals[0]);
    w->chunks_done = vals[1] ? strtoll(vals[1], NULL, 10) : 0;
    w->faces = vals[2] ? strtoll(vals[2], NULL, 10) : 0;
    w->busy_s = vals[3] ? strtod(vals[3], NULL) : 0;
    w->since_renewal = vals[4] ? strtod(vals[4], NULL) : NAN;
    w->leased = vals[5] ? strtoll(vals[5], NULL, 10) : 0;
    return DI_OK;
}

int di_chunks_status_get(di_store *s, di_chunks_status *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    int state;
    int rc = run_state_once(s, &state, err);
    if (rc || state == DI_RUN_NONE)
        return di_store_finish(s, rc, err);
    run_row run;
    rc = read_run(s, &run, false, err);
    if (rc || !run.found)
        return di_store_finish(s, rc, err);
    out->present = true;
    out->shards = run.shards;
    out->max_attempts = run.max_attempts;
    out->chunk_ids = run.chunk_ids;
    const char *now = di_chunks_now_sql(s);
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT COUNT(*), SUM(CASE WHEN done = 1 THEN 1 ELSE 0 END), "
                  "SUM(CASE WHEN done = 0 AND lease_until >= %s THEN 1 ELSE 0 END), "
                  "SUM(CASE WHEN done = 0 AND (lease_until IS NULL OR lease_until < %s) AND "
                  "attempts >= ",
               now, now);
    di_sql_param(s, DI_P_INT);
    di_sql_add(s, " THEN 1 ELSE 0 END) FROM " DI_CHUNKS_TABLE " WHERE run = ");
    di_sql_param(s, DI_P_TEXT);
    di_param p[2] = {P_INT(run.max_attempts), P_TEXT(s->table)};
    rc = di_chunks_query(s, 2, p, &v, err);
    if (rc == DI_OK) {
        out->chunks = di_chunks_ival(&v, 0);
        out->done = di_chunks_ival(&v, 1);
        out->leased = di_chunks_ival(&v, 2);
        out->failed = di_chunks_ival(&v, 3);
        out->free = out->chunks - out->done - out->leased - out->failed;
        di_sql_reset(s);
        di_sql_add(s, "SELECT owner, SUM(CASE WHEN done = 1 THEN 1 ELSE 0 END), "
                      "SUM(CASE WHEN done = 1 THEN faces ELSE 0 END), "
                      "MAX(CASE WHEN done = 1 THEN finished END) - "
                      "MIN(CASE WHEN done = 1 THEN claimed END), "
                      "%s - MAX(renewed), "
                      "SUM(CASE WHEN done = 0 AND lease_until >= %s THEN 1 ELSE 0 END) "
                      "FROM " DI_CHUNKS_TABLE " WHERE run = ",
                   now, now);
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " AND owner IS NOT NULL GROUP BY owner ORDER BY owner");
        rc = di_sql_check(s, err);
        workers_ctx wc = {out};
        di_param q[1] = {P_TEXT(s->table)};
        if (rc == DI_OK)
            rc = s->ops->query(s, s->sql, 1, q, worker_row, &wc, err);
    }
    return di_store_finish(s, rc, err);
}


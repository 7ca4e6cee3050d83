/*
** chunks.c: many workers on one table. The database is the job queue, the
** way PostgreSQL queues (River, graphile-worker, Oban) use it: a side table
** of chunks (deterministic id ranges), claims with FOR UPDATE SKIP LOCKED in
** one short transaction, leases that expire on the database's clock, and a
** fencing token that every claim raises, so that a worker that lost its
** lease (paused, cut off) can no longer renew or finish the chunk.
**
** Times are seconds since 1970 as the database's clock gives them (never the
** worker's: two machines' clocks disagree, the server's is one clock), kept
** as DOUBLE so that the three dialects compare and subtract them alike.
** MariaDB runs each claim at READ COMMITTED, so that the locking read locks
** only the row it takes, and the claim's ORDER BY matches an index
** (run, done, shard, chunk) or (run, done, chunk), so that it scans from the
** first candidate instead of sorting the table. SQLite has no row locks:
** BEGIN IMMEDIATE serialises claims between the processes sharing the file.
** The side tables, the run and its status are in chunks_run.c.
*/
#include "chunks_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- dialect ---- */

const char *di_chunks_now_sql(const di_store *s)
{
    return s->kind == DI_SQLITE ? "((julianday('now') - 2440587.5) * 86400.0)"
           : s->kind == DI_MARIADB ? "UNIX_TIMESTAMP(NOW(6))"
                                   : "extract(epoch from clock_timestamp())::float8";
}

const char *di_chunks_for_update(const di_store *s, bool skip)
{
    if (s->kind == DI_SQLITE)
        return ""; /* BEGIN IMMEDIATE already holds the file's write lock */
    return skip ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE";
}

int di_chunks_begin(di_store *s, di_error *err)
{
    if (s->kind == DI_SQLITE)
        return s->ops->exec(s, "BEGIN IMMEDIATE", err);
    if (s->kind == DI_MARIADB) {
        /* for this transaction only: REPEATABLE READ's gap locks would make
        ** the locking read block other claimers */
        int rc = s->ops->exec(s, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", err);
        return rc ? rc : s->ops->exec(s, "START TRANSACTION", err);
    }
    return s->ops->exec(s, "BEGIN", err); /* PostgreSQL: READ COMMITTED */
}

int di_chunks_end(di_store *s, int rc, di_error *err)
{
    if (rc == DI_OK)
        return s->ops->exec(s, "COMMIT", err);
    di_error ignored;
    s->ops->exec(s, "ROLLBACK", &ignored);
    return rc;
}

/* ---- result rows ---- */

/* Keeps the first row's values as text. */
static int keep_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    row_vals *r = ctx;
    if (r->n++ > 0)
        return DI_OK;
    for (int c = 0; c < ncols && c < MAX_VALS; c++) {
        r->null[c] = vals[c] == NULL;
        snprintf(r->v[c], sizeof r->v[c], "%s", vals[c] ? vals[c] : "");
    }
    return DI_OK;
}

int64_t di_chunks_ival(const row_vals *r, int c)
{
    return r->null[c] ? 0 : strtoll(r->v[c], NULL, 10);
}

int di_chunks_query(di_store *s, int np, const di_param *p, row_vals *out, di_error *err)
{
    int rc = di_sql_check(s, err);
    if (out)
        memset(out, 0, sizeof *out);
    return rc ? rc : s->ops->query(s, s->sql, np, p, out ? keep_row : NULL, out, err);
}

/* ---- claims ---- */

/* One pass: the first claimable chunk of one shard (shard >= 0) or of any
** (shard < 0), in the given order, taken in this transaction. */
static int claim_pass(di_store *s, const char *owner, int shard, bool desc, double lease,
                      int max_attempts, di_chunk *out, bool *got, di_error *err)
{
    *got = false;
    int rc = di_chunks_begin(s, err);
    row_vals v;
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "SELECT chunk, lo, hi, shard, token, attempts FROM " DI_CHUNKS_TABLE);
        /* MariaDB's optimiser prefers the primary key (run, chunk) once
        ** half the chunks are done, and would then walk every done chunk
        ** before the first free one */
        if (s->kind == DI_MARIADB)
            di_sql_add(s, " FORCE INDEX (%s)",
                       shard >= 0 ? "depthindex_chunks_shard" : "depthindex_chunks_next");
        di_sql_add(s, " WHERE run = ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " AND done = 0");
        if (shard >= 0) {
            di_sql_add(s, " AND shard = ");
            di_sql_param(s, DI_P_INT);
        }
        di_sql_add(s, " AND attempts < ");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, " AND (lease_until IS NULL OR lease_until < %s)", di_chunks_now_sql(s));
        /* the index's own order, so that the scan starts at the answer */
        if (shard >= 0)
            di_sql_add(s, " ORDER BY run, done, shard, chunk");
        else
            di_sql_add(s, " ORDER BY run%s, done%s, chunk%s", desc ? " DESC" : "",
                       desc ? " DESC" : "", desc ? " DESC" : "");
        di_sql_add(s, " LIMIT 1%s", di_chunks_for_update(s, true));
        di_param p[3];
        int np = 0;
        p[np++] = P_TEXT(s->table);
        if (shard >= 0)
            p[np++] = P_INT(shard);
        p[np++] = P_INT(max_attempts);
        rc = di_chunks_query(s, np, p, &v, err);
    }
    if (rc == DI_OK && v.n > 0) {
        out->chunk = di_chunks_ival(&v, 0);
        out->lo = di_chunks_ival(&v, 1);
        out->hi = di_chunks_ival(&v, 2);
        out->shard = (int)di_chunks_ival(&v, 3);
        out->token = di_chunks_ival(&v, 4) + 1; /* the row is locked: nobody else raises it */
        out->attempts = (int)di_chunks_ival(&v, 5) + 1;
        di_sql_reset(s);
        di_sql_add(s, "UPDATE " DI_CHUNKS_TABLE " SET owner = ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, ", token = ");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, ", attempts = ");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, ", lease_until = %s + ", di_chunks_now_sql(s));
        di_sql_param(s, DI_P_REAL);
        di_sql_add(s, ", claimed = %s, renewed = %s WHERE run = ", di_chunks_now_sql(s), di_chunks_now_sql(s));
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " AND chunk = ");
        di_sql_param(s, DI_P_INT);
        di_param p[6] = {P_TEXT(owner), P_INT(out->token), P_INT(out->attempts),
                         P_REAL(lease), P_TEXT(s->table), P_INT(out->chunk)};
        rc = di_chunks_query(s, 6, p, NULL, err);
        *got = rc == DI_OK;
    }
    rc = di_chunks_end(s, rc, err);
    if (rc)
        *got = false;
    return rc;
}

/* Chunks still to do that others hold, or that SKIP LOCKED hid (a claim in
** flight): worth waiting for. This worker's own are not counted: its
** pipeline finishes them whether its reader waits or not. */
static int count_live(di_store *s, const char *owner, int shard, int max_attempts,
                      int64_t *live, di_error *err)
{
    row_vals v;
    di_sql_reset(s);
    di_sql_add(s, "SELECT COUNT(*) FROM " DI_CHUNKS_TABLE " WHERE run = ");
    di_sql_param(s, DI_P_TEXT);
    di_sql_add(s, " AND done = 0");
    if (shard >= 0) {
        di_sql_add(s, " AND shard = ");
        di_sql_param(s, DI_P_INT);
    }
    di_sql_add(s, " AND (owner IS NULL OR owner <> ");
    di_sql_param(s, DI_P_TEXT);
    di_sql_add(s, ") AND (attempts < ");
    di_sql_param(s, DI_P_INT);
    di_sql_add(s, " OR lease_until >= %s)", di_chunks_now_sql(s));
    di_param p[4];
    int np = 0;
    p[np++] = P_TEXT(s->table);
    if (shard >= 0)
        p[np++] = P_INT(shard);
    p[np++] = P_TEXT(owner);
    p[np++] = P_INT(max_attempts);
    int rc = di_chunks_query(s, np, p, &v, err);
    *live = rc ? 0 : di_chunks_ival(&v, 0);
    return rc;
}

static int claim_once(di_store *s, const char *owner, int shard, bool steal, double lease,
                      int max_attempts, di_chunk *out, bool *got, int64_t *live,
                      di_error *err)
{
    *live = 0;
    int rc = claim_pass(s, owner, shard, false, lease, max_attempts, out, got, err);
    if (rc == DI_OK && !*got && shard >= 0 && steal)
        rc = claim_pass(s, owner, -1, true, lease, max_attempts, out, got, err);
    if (rc == DI_OK && !*got)
        rc = count_live(s, owner, steal ? -1 : shard, max_attempts, live, err);
    return rc;
}

int di_chunks_claim(di_store *s, const char *owner, int shard, bool steal, double lease,
                    int max_attempts, double retry_for, const atomic_bool *stop, di_chunk *out,
                    bool *got, int64_t *live, di_error *err)
{
    CHUNKS_RETRY(claim_once(s, owner, shard, steal, lease, max_attempts, out, got, live, err));
}

/* ---- renew, finish, release: under the fencing token ---- */

enum { G_RENEW, G_FINISH, G_RELEASE };

static int guarded_once(di_store *s, const di_chunk *c, int what, double lease, int64_t faces,
                        bool *kept, di_error *err)
{
    *kept = false;
    int rc = di_chunks_begin(s, err);
    row_vals v;
    if (rc == DI_OK) {
        di_sql_reset(s);
        di_sql_add(s, "SELECT token, done FROM " DI_CHUNKS_TABLE " WHERE run = ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " AND chunk = ");
        di_sql_param(s, DI_P_INT);
        di_sql_add(s, "%s", di_chunks_for_update(s, false));
        di_param p[2] = {P_TEXT(s->table), P_INT(c->chunk)};
        rc = di_chunks_query(s, 2, p, &v, err);
    }
    if (rc == DI_OK && v.n > 0 && di_chunks_ival(&v, 0) == c->token && di_chunks_ival(&v, 1) == 0) {
        di_sql_reset(s);
        di_sql_add(s, "UPDATE " DI_CHUNKS_TABLE " SET ");
        di_param p[4];
        int np = 0;
        if (what == G_RENEW) {
            di_sql_add(s, "lease_until = %s + ", di_chunks_now_sql(s));
            di_sql_param(s, DI_P_REAL);
            di_sql_add(s, ", renewed = %s", di_chunks_now_sql(s));
            p[np++] = P_REAL(lease);
        } else if (what == G_FINISH) {
            di_sql_add(s, "done = 1, lease_until = NULL, faces = ");
            di_sql_param(s, DI_P_INT);
            di_sql_add(s, ", finished = %s, renewed = %s", di_chunks_now_sql(s), di_chunks_now_sql(s));
            p[np++] = P_INT(faces);
        } else {
            /* an interrupted worker's attempt does not count */
            di_sql_add(s, "lease_until = NULL, attempts = CASE WHEN attempts > 0 THEN "
                          "attempts - 1 ELSE 0 END");
        }
        di_sql_add(s, " WHERE run = ");
        di_sql_param(s, DI_P_TEXT);
        di_sql_add(s, " AND chunk = ");
        di_sql_param(s, DI_P_INT);
        p[np++] = P_TEXT(s->table);
        p[np++] = P_INT(c->chunk);
        rc = di_chunks_query(s, np, p, NULL, err);
        *kept = rc == DI_OK;
    }
    rc = di_chunks_end(s, rc, err);
    if (rc)
        *kept = false;
    return rc;
}

int di_chunks_renew(di_store *s, const di_chunk *c, double lease, double retry_for,
                    const atomic_bool *stop, bool *kept, di_error *err)
{
    CHUNKS_RETRY(guarded_once(s, c, G_RENEW, lease, 0, kept, err));
}

int di_chunks_finish(di_store *s, const di_chunk *c, int64_t faces, double retry_for,
                     const atomic_bool *stop, bool *kept, di_error *err)
{
    CHUNKS_RETRY(guarded_once(s, c, G_FINISH, 0, faces, kept, err));
}

int di_chunks_release(di_store *s, const di_chunk *c, double retry_for, const atomic_bool *stop,
                      bool *kept, di_error *err)
{
    CHUNKS_RETRY(guarded_once(s, c, G_RELEASE, 0, 0, kept, err));
}

int di_store_fetch_range_retry(di_store *s, int64_t after_id, int64_t upto, int max_rows,
                               bool force, di_store_row *rows, int *nrows, double retry_for,
                               const atomic_bool *stop, di_error *err)
{
    CHUNKS_RETRY(di_store_fetch_range(s, after_id, upto, max_rows, force, rows, nrows, err));
}


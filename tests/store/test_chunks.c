/*
** test_chunks.c: the chunks and leases of many workers (store/chunks.c)
** against a real database, the same sequence on every backend.
**   test_chunks sqlite            (a fresh file in the build folder)
**   test_chunks mariadb|postgresql (URL in DI_TEST_URL, tests/db/with-server.sh)
** Chunks created once whoever asks, claims in the documented order (own
** shard ascending, stolen descending), the fencing token (a stale renewal or
** done-mark changes nothing), expiry and take-over, --max-attempts, the
** fingerprint and shard checks, new rows getting chunks, a finished run
** replaced, and concurrent claimers each taking every chunk exactly once.
*/
#include "check.h"
#include "store/store_internal.h"
#include "store_url.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE "chunked"

static di_store_config cfg;

static void exec_ignore(di_store *s, const char *sql)
{
    di_error e;
    s->ops->exec(s, sql, &e);
}

static void insert_ids(di_store *s, int64_t from, int64_t to)
{
    int n = (int)(to - from + 1);
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    char (*buf)[24] = malloc((size_t)n * sizeof *buf);
    const char **sids = malloc((size_t)n * sizeof *sids);
    for (int i = 0; i < n; i++) {
        ids[i] = from + i;
        snprintf(buf[i], sizeof buf[i], "p%lld", (long long)ids[i]);
        sids[i] = buf[i];
    }
    di_error err = {0};
    CHECKF(di_store_insert_panoramas(s, ids, sids, n, &err) == DI_OK, "insert: %s", err.msg);
    free(ids);
    free(buf);
    free(sids);
}

static int claim(di_store *s, const char *owner, int shard, bool steal, double lease, int max,
                 di_chunk *c, int64_t *live)
{
    bool got = false;
    int64_t l = 0;
    di_error err = {0};
    int rc = di_chunks_claim(s, owner, shard, steal, lease, max, 5, NULL, c, &got, &l, &err);
    CHECKF(rc == DI_OK, "claim: %s", err.msg);
    if (live)
        *live = l;
    return got ? (int)c->chunk : -1;
}

static bool renew(di_store *s, const di_chunk *c, double lease)
{
    bool kept = true;
    di_error err = {0};
    CHECKF(di_chunks_renew(s, c, lease, 5, NULL, &kept, &err) == DI_OK, "renew: %s", err.msg);
    return kept;
}

static bool finish(di_store *s, const di_chunk *c)
{
    bool kept = true;
    di_error err = {0};
    CHECKF(di_chunks_finish(s, c, 7, 5, NULL, &kept, &err) == DI_OK, "finish: %s", err.msg);
    return kept;
}

static int join(di_store *s, const char *fp, int64_t ids, int shards, int max, di_chunk_run *run,
                di_error *err)
{
    di_chunk_plan plan = {.fingerprint = fp, .chunk_ids = ids, .shards = shards,
                          .max_attempts = max, .retry_for = 5};
    return di_chunks_join(s, &plan, run, err);
}

static void sequence(void)
{
    di_error err = {0};
    di_store *s = NULL;
    CHECKF(di_store_open(&cfg, true, &s, &err) == DI_OK, "open: %s", err.msg);
    if (!s)
        return;
    exec_ignore(s, s->kind == DI_MARIADB ? "DROP TABLE IF EXISTS `" TABLE "`"
                                         : "DROP TABLE IF EXISTS \"" TABLE "\"");
    exec_ignore(s, "DROP TABLE IF EXISTS " DI_CHUNKS_TABLE);
    exec_ignore(s, "DROP TABLE IF EXISTS " DI_RUNS_TABLE);
    di_store_close(s);
    CHECKF(di_store_open(&cfg, true, &s, &err) == DI_OK, "reopen: %s", err.msg);
    if (!s)
        return;
    int state = -1;
    CHECK(di_chunks_run_state(s, &state, &err) == DI_OK && state == DI_RUN_NONE);
    insert_ids(s, 1, 40);

    /* 1..40 in chunks of 8 ids: chunks 0..5, shards 0 (0-2) and 1 (3-5) */
    di_chunk_run run;
    CHECKF(join(s, "a=1;b=2", 8, 2, 2, &run, &err) == DI_OK, "join: %s", err.msg);
    CHECK(run.chunks == 6 && run.shards == 2 && run.chunk_ids == 8 && run.max_attempts == 2);
    CHECKF(join(s, "a=1;b=2", 8, 0, 2, &run, &err) == DI_OK, "join again: %s", err.msg);
    CHECK(run.chunks == 6 && run.shards == 2);
    CHECK(di_chunks_run_state(s, &state, &err) == DI_OK && state == DI_RUN_UNFINISHED);

    /* settings and shard count checked */
    int rc = join(s, "a=1;b=3", 8, 2, 2, &run, &err);
    CHECKF(rc == DI_EINVAL && strstr(err.msg, "b=2") && strstr(err.msg, "b=3"),
           "mismatch: %d %s", rc, err.msg);
    rc = join(s, "a=1;b=2", 8, 3, 2, &run, &err);
    CHECKF(rc == DI_EINVAL && strstr(err.msg, "2 shards"), "shards: %d %s", rc, err.msg);

    /* claim order: own shard ascending, then others' from the far end */
    di_chunk c0, c1, c3, c5, x;
    CHECK(claim(s, "w0", 0, true, 30, 2, &c0, NULL) == 0);
    CHECK(c0.lo == 0 && c0.hi == 7 && c0.token == 1 && c0.attempts == 1 && c0.shard == 0);
    CHECK(claim(s, "w1", 1, true, 30, 2, &c3, NULL) == 3);
    CHECK(claim(s, "w0", 0, true, 30, 2, &c1, NULL) == 1);
    CHECK(c1.lo == 8 && c1.hi == 15);
    CHECK(claim(s, "w0", 0, true, 30, 2, &x, NULL) == 2);
    CHECK(claim(s, "w0", 0, true, 30, 2, &c5, NULL) == 5); /* stolen, from the end */
    int64_t live = 0;
    CHECK(claim(s, "w2", 0, false, 30, 2, &x, &live) == -1); /* --no-steal */
    CHECK(live == 3);                                         /* w0's shard-0 chunks */
    CHECK(claim(s, "w0", 0, false, 30, 2, &x, &live) == -1);
    CHECK(live == 0); /* its own do not count: it need not wait for them */

    /* a page within a chunk's range */
    di_store_row rows[16];
    int n = 0;
    CHECK(di_store_fetch_range_retry(s, c1.lo - 1, c1.hi, 16, false, rows, &n, 5, NULL, &err) ==
          DI_OK);
    CHECK(n == 8 && rows[0].id == 8 && rows[7].id == 15);

    /* the fencing token */
    di_chunk stale = c0;
    stale.token--;
    CHECK(renew(s, &c0, 30));
    CHECK(!renew(s, &stale, 30));
    CHECK(!finish(s, &stale));
    CHECK(finish(s, &c0));
    CHECK(!finish(s, &c0)); /* done already */
    CHECK(!renew(s, &c0, 30));

    /* release: free at once, the attempt not counted */
    bool kept = false;
    CHECK(di_chunks_release(s, &c3, 5, NULL, &kept, &err) == DI_OK && kept);
    di_chunk c3b;
    CHECK(claim(s, "w3", 1, false, 30, 2, &c3b, NULL) == 3);
    CHECK(c3b.attempts == 1 && c3b.token == c3.token + 1);
    CHECK(!renew(s, &c3, 30)); /* the released claim's token is gone */

    /* expiry: a lease not renewed is taken over; the first owner's renewal
    ** and done-mark then change nothing */
    CHECK(renew(s, &c3b, 0.2));
    usleep(500 * 1000);
    di_chunk c3c;
    CHECK(claim(s, "w4", 1, false, 0.2, 2, &c3c, NULL) == 3);
    CHECK(c3c.attempts == 2 && c3c.token == c3b.token + 1);
    CHECK(!renew(s, &c3b, 30) && !finish(s, &c3b));
    /* its second attempt expires too: failed (max 2), not claimed again */
    usleep(500 * 1000);
    CHECK(claim(s, "w5", 1, false, 30, 2, &x, &live) == 4);
    CHECK(claim(s, "w5", 1, false, 30, 2, &x, &live) == -1);
    di_chunks_status st;
    CHECK(di_chunks_status_get(s, &st, &err) == DI_OK);
    CHECKF(st.present && st.chunks == 6 && st.done == 1 && st.failed == 1 && st.free == 0 &&
           st.leased == 4, "status: %lld done %lld failed %lld free %lld leased %lld",
           (long long)st.chunks, (long long)st.done, (long long)st.failed, (long long)st.free,
           (long long)st.leased);
    CHECK(st.nworkers >= 3 && strcmp(st.workers[0].owner, "w0") == 0 &&
          st.workers[0].chunks_done == 1 && st.workers[0].faces == 7 &&
          st.workers[0].leased == 3);

    /* rows added later: a new chunk for them on the next join */
    insert_ids(s, 41, 50);
    CHECKF(join(s, "a=1;b=2", 8, 2, 2, &run, &err) == DI_OK, "join: %s", err.msg);
    CHECK(run.chunks == 7);

    /* ids too sparse for the chunk size: refused, naming --chunk */
    insert_ids(s, (int64_t)1 << 40, (int64_t)1 << 40);
    rc = join(s, "a=1;b=2", 8, 2, 2, &run, &err);
    CHECKF(rc == DI_EINVAL && strstr(err.msg, "--chunk"), "sparse: %d %s", rc, err.msg);
    exec_ignore(s, s->kind == DI_MARIADB ? "DELETE FROM `" TABLE "` WHERE id > 1000"
                                         : "DELETE FROM \"" TABLE "\" WHERE id > 1000");

    /* a finished run gives way to other settings */
    exec_ignore(s, "UPDATE " DI_CHUNKS_TABLE " SET done = 1");
    CHECK(di_chunks_run_state(s, &state, &err) == DI_OK && state == DI_RUN_FINISHED);
    CHECKF(join(s, "a=1;b=3", 16, 0, 3, &run, &err) == DI_OK, "replace: %s", err.msg);
    CHECK(run.created && run.chunks == 4 && run.chunk_ids == 16 && run.shards == 1 &&
          run.max_attempts == 3);
    CHECK(di_chunks_run_state(s, &state, &err) == DI_OK && state == DI_RUN_UNFINISHED);
    di_store_close(s);
}

/* ---- concurrent claimers: every chunk exactly once, no error ---- */

typedef struct claimer {
    int taken, errors;
    char owner[16];
} claimer;

static void *claimer_main(void *arg)
{
    claimer *c = arg;
    di_store *s = NULL;
    di_error err = {0};
    if (di_store_open(&cfg, false, &s, &err)) {
        c->errors++;
        return NULL;
    }
    for (;;) {
        di_chunk ch;
        bool got = false, kept = false;
        int64_t live = 0;
        if (di_chunks_claim(s, c->owner, -1, true, 30, 3, 0, NULL, &ch, &got, &live, &err)) {
            c->errors++;
            di_store_reconnect(s, &err);
            continue;
        }
        if (!got) {
            if (live == 0)
                break;
            continue;
        }
        if (di_chunks_finish(s, &ch, 1, 0, NULL, &kept, &err) || !kept)
            c->errors++;
        c->taken++;
    }
    di_store_close(s);
    return NULL;
}

static int count_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    *(int64_t *)ctx = ncols > 0 && vals[0] ? strtoll(vals[0], NULL, 10) : -1;
    return DI_OK;
}

static void concurrent(void)
{
    di_error err = {0};
    di_store *s = NULL;
    CHECKF(di_store_open(&cfg, true, &s, &err) == DI_OK, "open: %s", err.msg);
    if (!s)
        return;
    exec_ignore(s, "DELETE FROM " DI_CHUNKS_TABLE);
    exec_ignore(s, "DELETE FROM " DI_RUNS_TABLE);
    di_chunk_run run;
    CHECKF(join(s, "concurrent", 1, 0, 3, &run, &err) == DI_OK, "join: %s", err.msg);
    CHECK(run.chunks == 50);
    enum { N = 6 };
    claimer cs[N];
    pthread_t th[N];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < N; i++) {
        snprintf(cs[i].owner, sizeof cs[i].owner, "c%d", i);
        pthread_create(&th[i], NULL, claimer_main, &cs[i]);
    }
    int taken = 0, errors = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        taken += cs[i].taken;
        errors += cs[i].errors;
    }
    CHECKF(taken == 50 && errors == 0, "concurrent claims: %d taken of 50, %d errors", taken,
           errors);
    di_chunks_status st;
    CHECK(di_chunks_status_get(s, &st, &err) == DI_OK);
    CHECK(st.done == 50 && st.failed == 0 && st.leased == 0);
    /* every chunk claimed once: token 1 everywhere */
    int64_t other = -1;
    CHECK(s->ops->query(s, "SELECT COUNT(*) FROM " DI_CHUNKS_TABLE " WHERE token <> 1", 0, NULL,
                        count_row, &other, &err) == DI_OK);
    CHECKF(other == 0, "%lld chunks claimed more than once", (long long)other);
    exec_ignore(s, "DELETE FROM " DI_CHUNKS_TABLE);
    exec_ignore(s, "DELETE FROM " DI_RUNS_TABLE);
    di_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_chunks sqlite|mariadb|postgresql\n");
        return 2;
    }
    char path[1200];
    const char *url = store_test_url(argv[1], "test-chunks", path, sizeof path);
    if (!url)
        return 77;
    di_store_config_default(&cfg);
    cfg.url = url;
    cfg.table = TABLE;
    sequence();
    concurrent();
    if (strcmp(argv[1], "sqlite") == 0) {
        char f[1300];
        unlink(path + 7);
        snprintf(f, sizeof f, "%s-wal", path + 7);
        unlink(f);
        snprintf(f, sizeof f, "%s-shm", path + 7);
        unlink(f);
    }
    return check_summary();
}

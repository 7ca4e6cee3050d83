/*
** bench_claims.c: the coordination cost of many workers alone (issue 10).
** A fresh table of CHUNKS rows cut into chunks of one id each, then CLIENTS
** threads, each with its own connection as a worker has, claim a chunk and
** mark it done at once (zero work) until none is left, through the same
** store calls `depthindex run` makes (di_chunks_claim, di_chunks_finish).
**   bench_claims URL CLIENTS [CHUNKS=2000]
** Output, one line: "BACKEND clients C: N chunks in S s: R claims/s; claim
** p50 A ms p99 B ms; done-mark p50 C ms p99 D ms; errors E; empty claims F".
** An error is any claim or done-mark that failed (a lock wait timed out, a
** deadlock, a lost connection): with SKIP LOCKED there should be none.
*/
#include "store/store_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct client {
    di_store_config *cfg;
    pthread_barrier_t *go;
    double *claim_ms, *done_ms; /* per chunk this client took */
    int n, cap;
    int errors, empty;
    char msg[DI_ERROR_MSG_MAX];
} client;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void *client_main(void *arg)
{
    client *c = arg;
    di_error err = {0};
    di_store *s = NULL;
    int rc = di_store_open(c->cfg, false, &s, &err);
    pthread_barrier_wait(c->go);
    if (rc) {
        snprintf(c->msg, sizeof c->msg, "%s", err.msg);
        c->errors++;
        return NULL;
    }
    char owner[64];
    snprintf(owner, sizeof owner, "bench:%p", (void *)c);
    for (;;) {
        di_chunk ch;
        bool got = false, kept = false;
        int64_t live = 0;
        double t0 = di_now();
        /* retry_for 0: a failure counts as an error instead of being hidden */
        rc = di_chunks_claim(s, owner, -1, true, 60, 3, 0, NULL, &ch, &got, &live, &err);
        double t1 = di_now();
        if (rc) {
            c->errors++;
            snprintf(c->msg, sizeof c->msg, "%s", err.msg);
            di_store_reconnect(s, &err);
            continue;
        }
        if (!got) {
            if (live == 0)
                break;
            c->empty++; /* others' claims in flight: look again */
            continue;
        }
        rc = di_chunks_finish(s, &ch, 0, 0, NULL, &kept, &err);
        double t2 = di_now();
        if (rc || !kept) {
            c->errors++;
            snprintf(c->msg, sizeof c->msg, "%s", rc ? err.msg : "done-mark lost its token");
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 256;
            c->claim_ms = realloc(c->claim_ms, (size_t)c->cap * sizeof *c->claim_ms);
            c->done_ms = realloc(c->done_ms, (size_t)c->cap * sizeof *c->done_ms);
            if (!c->claim_ms || !c->done_ms)
                abort();
        }
        c->claim_ms[c->n] = (t1 - t0) * 1e3;
        c->done_ms[c->n] = (t2 - t1) * 1e3;
        c->n++;
    }
    di_store_close(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_claims URL CLIENTS [CHUNKS]\n");
        return 2;
    }
    int nclients = atoi(argv[2]);
    int nchunks = argc > 3 ? atoi(argv[3]) : 2000;
    if (nclients < 1 || nclients > 1000 || nchunks < 1) {
        fprintf(stderr, "bench_claims: bad CLIENTS or CHUNKS\n");
        return 2;
    }
    di_store_config cfg;
    di_store_config_default(&cfg);
    cfg.url = argv[1];
    cfg.table = "bench_claims";
    di_error err = {0};
    di_store *s;
    if (di_store_open(&cfg, true, &s, &err)) {
        fprintf(stderr, "bench_claims: %s\n", err.msg);
        return 1;
    }
    /* a fresh table and run */
    const char *q = s->kind == DI_MARIADB ? "`" : "\"";
    char sql[256];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %sbench_claims%s", q, q);
    s->ops->exec(s, sql, &err);
    s->ops->exec(s, "DELETE FROM " DI_CHUNKS_TABLE " WHERE run = 'bench_claims'", &err);
    s->ops->exec(s, "DELETE FROM " DI_RUNS_TABLE " WHERE run = 'bench_claims'", &err);
    di_store_close(s);
    if (di_store_open(&cfg, true, &s, &err)) {
        fprintf(stderr, "bench_claims: %s\n", err.msg);
        return 1;
    }
    int64_t *ids = malloc((size_t)nchunks * sizeof *ids);
    char **sids = malloc((size_t)nchunks * sizeof *sids);
    char (*buf)[16] = malloc((size_t)nchunks * sizeof *buf);
    if (!ids || !sids || !buf)
        return 1;
    for (int i = 0; i < nchunks; i++) {
        ids[i] = i + 1;
        snprintf(buf[i], sizeof buf[i], "c%d", i + 1);
        sids[i] = buf[i];
    }
    di_chunk_run run;
    di_chunk_plan plan = {.fingerprint = "bench", .chunk_ids = 1, .shards = 1,
                          .max_attempts = 3, .retry_for = 30};
    if (di_store_insert_panoramas(s, ids, (const char *const *)sids, nchunks, &err) ||
        di_chunks_join(s, &plan, &run, &err)) {
        fprintf(stderr, "bench_claims: %s\n", err.msg);
        return 1;
    }
    const char *backend = di_store_backend(s);
    di_store_close(s);

    client *cs = calloc((size_t)nclients, sizeof *cs);
    pthread_t *th = calloc((size_t)nclients, sizeof *th);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)nclients + 1);
    for (int i = 0; i < nclients; i++) {
        cs[i].cfg = &cfg;
        cs[i].go = &go;
        pthread_create(&th[i], NULL, client_main, &cs[i]);
    }
    pthread_barrier_wait(&go);
    double t0 = di_now();
    for (int i = 0; i < nclients; i++)
        pthread_join(th[i], NULL);
    double wall = di_now() - t0;
    int total = 0, errors = 0, empty = 0;
    for (int i = 0; i < nclients; i++) {
        total += cs[i].n;
        errors += cs[i].errors;
        empty += cs[i].empty;
    }
    double *claim = malloc((size_t)(total ? total : 1) * sizeof *claim);
    double *done = malloc((size_t)(total ? total : 1) * sizeof *done);
    int k = 0;
    for (int i = 0; i < nclients; i++) {
        memcpy(claim + k, cs[i].claim_ms, (size_t)cs[i].n * sizeof *claim);
        memcpy(done + k, cs[i].done_ms, (size_t)cs[i].n * sizeof *done);
        k += cs[i].n;
    }
    printf("%s clients %d: %d chunks in %.2f s: %.0f claims/s; claim p50 %.2f ms p99 %.2f ms; "
           "done-mark p50 %.2f ms p99 %.2f ms; errors %d; empty claims %d\n",
           backend, nclients, total, wall, total / wall,
           pct(claim, total, 0.5), pct(claim, total, 0.99), pct(done, total, 0.5),
           pct(done, total, 0.99), errors, empty);
    for (int i = 0; i < nclients; i++)
        if (cs[i].msg[0]) {
            printf("  first error: %s\n", cs[i].msg);
            break;
        }
    if (total != nchunks)
        printf("  %d of %d chunks done\n", total, nchunks);
    return total == nchunks && errors == 0 ? 0 : 1;
}

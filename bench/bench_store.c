/*
** bench_store.c: the writer alone. Fills a fresh table with N/4 panoramas,
** then writes N results (every face of every row, scores) in transactions of
** BATCH results through di_store_write, as the pipeline's writer does, and
** prints the rate. A second pass rewrites the same scores (idempotent
** UPDATEs of done rows, as after a crash).
**   bench_store URL [RESULTS=100000] [BATCH=500]
** Also times the reader: every pending row in keyset pages of 1000.
** Output: one line per step, "BACKEND write N rows in S s: R rows/s".
*/
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store URL [RESULTS] [BATCH]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 100000;
    int batch = argc > 3 ? atoi(argv[3]) : 500;
    if (n < 4 || batch < 1) {
        fprintf(stderr, "bench_store: bad RESULTS or BATCH\n");
        return 2;
    }
    di_store_config cfg;
    di_store_config_default(&cfg);
    cfg.url = argv[1];
    di_error err = {0};
    di_store *s;
    if (di_store_open(&cfg, true, &s, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        return 1;
    }
    /* a fresh table */
    s->ops->exec(s, s->kind == DI_MARIADB ? "DROP TABLE IF EXISTS `panorama`"
                                          : "DROP TABLE IF EXISTS \"panorama\"", &err);
    s->ops->exec(s, "DROP TABLE IF EXISTS depthindex_errors", &err);
    di_store_close(s);
    if (di_store_open(&cfg, true, &s, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        return 1;
    }
    int rows = n / 4;
    n = rows * 4;
    int64_t *ids = malloc((size_t)rows * sizeof *ids);
    char **sids = malloc((size_t)rows * sizeof *sids);
    char *sidbuf = malloc((size_t)rows * 32);
    di_store_result *res = calloc((size_t)n, sizeof *res);
    if (!ids || !sids || !sidbuf || !res) {
        fprintf(stderr, "bench_store: out of memory\n");
        return 1;
    }
    for (int i = 0; i < rows; i++) {
        ids[i] = i + 1;
        sids[i] = sidbuf + (size_t)i * 32;
        snprintf(sids[i], 32, "pano_%08d", i + 1);
    }
    double t0 = di_now();
    for (int i = 0; i < rows; i += 1000) {
        int k = rows - i < 1000 ? rows - i : 1000;
        if (di_store_insert_panoramas(s, ids + i, (const char *const *)sids + i, k, &err)) {
            fprintf(stderr, "bench_store: insert: %s\n", err.msg);
            return 1;
        }
    }
    printf("%s insert %d panoramas in %.2f s\n", di_store_backend(s), rows, di_now() - t0);
    /* the reader: keyset pages of pending rows, 1000 at a time */
    di_store_row *page = malloc(1000 * sizeof *page);
    int64_t after = 0;
    int seen = 0, got;
    t0 = di_now();
    do {
        if (di_store_fetch_pending(s, after, 1000, false, page, &got, &err)) {
            fprintf(stderr, "bench_store: fetch: %s\n", err.msg);
            return 1;
        }
        if (got)
            after = page[got - 1].id;
        seen += got;
    } while (got > 0);
    double dt_read = di_now() - t0;
    printf("%s read %d pending rows in pages of 1000 in %.2f s: %.0f rows/s\n",
           di_store_backend(s), seen, dt_read, seen / dt_read);
    free(page);
    if (seen != rows) {
        fprintf(stderr, "bench_store: read %d pending rows of %d\n", seen, rows);
        return 1;
    }
    /* results arrive roughly in id order, faces interleaved, as from the pipeline */
    for (int i = 0; i < n; i++)
        res[i] = (di_store_result){.id = i / 4 + 1, .face = i % 4, .ok = true,
                                   .score = 0.001 * (i % 997) + 0.123456789};
    for (int pass = 0; pass < 2; pass++) {
        t0 = di_now();
        for (int i = 0; i < n; i += batch) {
            int k = n - i < batch ? n - i : batch;
            if (di_store_write(s, res + i, k, &err)) {
                fprintf(stderr, "bench_store: write: %s\n", err.msg);
                return 1;
            }
        }
        double dt = di_now() - t0;
        printf("%s %s %d rows in %.2f s: %.0f rows/s (batches of %d)\n", di_store_backend(s),
               pass ? "rewrite" : "write", n, dt, n / dt, batch);
    }
    di_store_counts c;
    if (di_store_count(s, &c, &err) || c.done[0] != rows || c.done[3] != rows) {
        fprintf(stderr, "bench_store: counts do not match what was written\n");
        return 1;
    }
    di_store_close(s);
    free(ids);
    free(sids);
    free(sidbuf);
    free(res);
    return 0;
}

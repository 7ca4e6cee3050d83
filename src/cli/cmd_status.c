/* cmd_status.c: `depthindex status`: done, pending and failed faces; with
** many workers on the table, its chunks and the workers. */
#include "cli.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: depthindex status --db URL [--json]\n"
    "\n"
    "Prints, per face, how many faces have a score (done), how many have none\n"
    "yet (pending, including failed ones, which a rerun retries) and how many\n"
    "failed (recorded in depthindex_errors). When many workers share the\n"
    "table (README: Many machines), also its chunks (done, leased, free, failed)\n"
    "and each worker: chunks and faces it finished, faces/s while it held\n"
    "them, chunks it holds now and seconds since its last lease renewal.\n"
    "\n"
    "%s"
    "  --json                one JSON object\n";

static double rate(const di_chunks_worker *w)
{
    return w->busy_s > 0 ? (double)w->faces / w->busy_s : 0;
}

static void print_chunks_json(const di_chunks_status *ch)
{
    if (!ch->present)
        return;
    printf(",\"chunks\":{\"total\":%lld,\"done\":%lld,\"leased\":%lld,\"free\":%lld,"
           "\"failed\":%lld,\"chunk_ids\":%lld,\"shards\":%d,\"max_attempts\":%d,"
           "\"workers\":[",
           (long long)ch->chunks, (long long)ch->done, (long long)ch->leased,
           (long long)ch->free, (long long)ch->failed, (long long)ch->chunk_ids, ch->shards,
           ch->max_attempts);
    for (int i = 0; i < ch->nworkers; i++) {
        const di_chunks_worker *w = &ch->workers[i];
        /* owners are host:pid; quotes and backslashes would only come from
        ** a hand-edited table, and are dropped */
        char owner[DI_CHUNK_OWNER_MAX];
        size_t o = 0;
        for (const char *q = w->owner; *q && o + 1 < sizeof owner; q++)
            if (*q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                owner[o++] = *q;
        owner[o] = '\0';
        printf("%s{\"owner\":\"%s\",\"chunks_done\":%lld,\"faces\":%lld,"
               "\"faces_per_s\":%.2f,\"leased\":%lld,\"live\":%s,\"last_renewal_s\":%.1f}",
               i ? "," : "", owner, (long long)w->chunks_done, (long long)w->faces, rate(w),
               (long long)w->leased, w->leased > 0 ? "true" : "false",
               w->since_renewal == w->since_renewal ? w->since_renewal : -1.0);
    }
    printf("]}");
}

static void print_chunks_text(const di_chunks_status *ch, const char *table)
{
    if (!ch->present)
        return;
    printf("\nmany workers on table %s: %lld chunks of %lld ids, %d shard%s: done %lld, "
           "leased %lld, free %lld, failed %lld (after %d attempts)\n",
           table, (long long)ch->chunks, (long long)ch->chunk_ids, ch->shards,
           ch->shards == 1 ? "" : "s", (long long)ch->done, (long long)ch->leased,
           (long long)ch->free, (long long)ch->failed, ch->max_attempts);
    if (ch->nworkers == 0)
        return;
    printf("%-32s %8s %10s %9s %7s %s\n", "worker", "chunks", "faces", "faces/s", "leased",
           "last renewal");
    for (int i = 0; i < ch->nworkers; i++) {
        const di_chunks_worker *w = &ch->workers[i];
        printf("%-32s %8lld %10lld %9.1f %7lld %.1f s ago%s\n", w->owner,
               (long long)w->chunks_done, (long long)w->faces, rate(w), (long long)w->leased,
               w->since_renewal, w->leased > 0 ? " (live)" : "");
    }
    if (ch->nworkers == DI_CHUNKS_STATUS_WORKERS)
        printf("(the first %d workers by name)\n", DI_CHUNKS_STATUS_WORKERS);
}

int di_cmd_status(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        printf(help, di_cli_db_help);
        return DI_EXIT_OK;
    }
    di_cli_db db;
    di_cli_db_init(&db);
    bool json = false;
    for (int i = 1; i < argc; i++) {
        int r = di_cli_db_option(&db, argc, argv, &i);
        if (r < 0)
            return DI_EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        di_cli_error("status: unknown option '%s' (see depthindex status --help)", argv[i]);
        return DI_EXIT_USAGE;
    }
    if (di_cli_db_finish(&db))
        return DI_EXIT_USAGE;
    di_error err = {0};
    di_store *st = NULL;
    di_store_counts c;
    db.store.read_only = true; /* only reads: works on a file we may not write */
    di_chunks_status *ch = calloc(1, sizeof *ch);
    if (!ch) {
        di_cli_error("out of memory");
        return DI_EXIT_USAGE;
    }
    if (di_store_open(&db.store, false, &st, &err) || di_store_count(st, &c, &err) ||
        di_chunks_status_get(st, ch, &err)) {
        di_cli_db_error(&db, err.msg);
        di_store_close(st);
        free(ch);
        return DI_EXIT_USAGE;
    }
    di_store_close(st);
    int64_t td = 0, tp = 0, tf = 0;
    int nf = db.store.nfaces;
    if (json) {
        printf("{\"rows\":%lld,\"faces\":{", (long long)c.rows);
        for (int f = 0; f < nf; f++)
            printf("%s\"%s\":{\"done\":%lld,\"pending\":%lld,\"failed\":%lld}",
                   f ? "," : "", db.store.faces[f], (long long)c.done[f],
                   (long long)c.pending[f], (long long)c.failed[f]);
        printf("}");
        print_chunks_json(ch);
        printf("}\n");
        free(ch);
        return DI_EXIT_OK;
    }
    printf("%-8s %12s %12s %12s\n", "face", "done", "pending", "failed");
    for (int f = 0; f < nf; f++) {
        printf("%-8s %12lld %12lld %12lld\n", db.store.faces[f], (long long)c.done[f],
               (long long)c.pending[f], (long long)c.failed[f]);
        td += c.done[f];
        tp += c.pending[f];
        tf += c.failed[f];
    }
    printf("%-8s %12lld %12lld %12lld\n", "all", (long long)td, (long long)tp, (long long)tf);
    printf("%lld panorama rows\n", (long long)c.rows);
    print_chunks_text(ch, db.store.table);
    free(ch);
    return DI_EXIT_OK;
}

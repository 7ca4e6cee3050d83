/* cmd_status.c: `depthindex status`: done, pending and failed faces. */
#include "cli.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: depthindex status --db URL [--json]\n"
    "\n"
    "Prints, per face, how many faces have a score (done), how many have none\n"
    "yet (pending, including failed ones, which a rerun retries) and how many\n"
    "failed (recorded in depthindex_errors).\n"
    "\n"
    "%s"
    "  --json                one JSON object\n";

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
    db.store.read_only = true; /* only counts: works on a file we may not write */
    if (di_store_open(&db.store, false, &st, &err) || di_store_count(st, &c, &err)) {
        di_cli_db_error(&db, err.msg);
        di_store_close(st);
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
        printf("}}\n");
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
    return DI_EXIT_OK;
}

/* cmd_init.c: `depthindex init`: creates the schema; with --demo, also a
** synthetic data set (face JPEGs with their ground-truth depth maps) and the
** rows that list it. */
#include "cli.h"
#include "demo/demo.h"
#include "io/io.h"
#include "options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: depthindex init --db URL [--demo N --images DIR [--size S] [--seed S]]\n"
    "\n"
    "Creates the panorama table (id, panorama_sid, one result column per face)\n"
    "and depthindex_errors when they are missing. With --demo, renders N\n"
    "synthetic street panoramas into DIR: per cube face an RGB JPEG\n"
    "{panorama_sid}_{face}.jpg and its ground-truth depth {panorama_sid}_{face}.npy\n"
    "(float32, metres), and inserts their rows (ids 1..N unless --first-id).\n"
    "\n"
    "%s"
    "  --demo N              render N synthetic panoramas (4 faces each)\n"
    "  --images DIR          where the demo faces go (created)\n"
    "  --size S              face size in pixels, S x S [256]\n"
    "  --seed S              first panorama's seed (panorama i uses S + i) [0]\n"
    "  --first-id ID         id of the first demo row [1]\n";

/* Renders one panorama's faces into dir: per face of the table a JPEG and
** its ground-truth depth (NPY). */
static int render_panorama(di_demo_writer *w, const char *dir, const char *sid, uint64_t seed,
                           const di_cli_db *db, di_error *err)
{
    int written = 0;
    for (int f = 0; f < db->store.nfaces; f++) {
        char stem[300];
        snprintf(stem, sizeof stem, "%s_%s", sid, db->store.faces[f]);
        int rc = di_demo_write_face(w, seed, f % DI_DEMO_FACES, dir, stem, &written, err);
        if (rc)
            return rc;
    }
    return DI_OK;
}

/* Seconds of reconnect-and-retry for the inserts of --demo. */
#define INIT_RETRY_FOR 60

static int make_demo(di_store *st, const di_cli_db *db, long long n, const char *dir,
                     int size, long long seed, long long first_id)
{
    di_error derr;
    if (di_make_dirs(dir, &derr)) {
        di_cli_error("--images %s", derr.msg);
        return DI_EXIT_USAGE;
    }
    enum { CHUNK = 500 };
    int64_t ids[CHUNK];
    char sids[CHUNK][32];
    const char *sidp[CHUNK];
    di_error err = {0};
    di_demo_writer w;
    int rc = di_demo_writer_init(&w, size, size, DI_DEMO_NPY, 92, &err);
    int k = 0;
    long long made = 0;
    /* test only: a pause after each panorama, so that a test can make the
    ** connection sit idle longer than the server allows */
    const char *delay_env = getenv("DEPTHINDEX_TEST_RENDER_DELAY_MS");
    double delay = delay_env ? atof(delay_env) / 1000.0 : 0;
    /* SIGINT/SIGTERM: the panorama being rendered is finished, the rows of
    ** every finished panorama are inserted, then exit 130/143 */
    di_cli_catch_stop_signals();
    for (long long i = 0; i < n && !rc && !di_cli_stop_signal; i++) {
        ids[k] = first_id + i;
        snprintf(sids[k], sizeof sids[k], "demo%06lld", (long long)ids[k]);
        sidp[k] = sids[k];
        rc = render_panorama(&w, dir, sids[k], (uint64_t)(seed + i), db, &err);
        if (rc)
            break;
        if (delay > 0)
            di_sleep(delay);
        k++;
        made++;
        if (k == CHUNK || i == n - 1 || di_cli_stop_signal) {
            /* rendering may take longer than the server keeps an idle
            ** session: reconnect and retry as run does (inserting again
            ** leaves existing rows alone) */
            rc = di_store_insert_panoramas_retry(st, ids, sidp, k, INIT_RETRY_FOR, NULL, &err);
            k = 0;
        }
    }
    di_demo_writer_free(&w);
    if (rc) {
        di_cli_db_error(db, err.msg);
        return DI_EXIT_USAGE;
    }
    if (di_cli_stop_signal) {
        di_cli_error("init: %s after %lld of %lld demo panoramas; their rows are in the "
                     "table (running the same command again completes the set)",
                     di_cli_stop_signal == SIGTERM ? "terminated" : "interrupted", made, n);
        return di_cli_stop_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT;
    }
    printf("demo: %lld panoramas (%lld faces, %dx%d) in %s\n", n,
           n * db->store.nfaces, size, size, dir);
    return DI_EXIT_OK;
}

int di_cmd_init(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        printf(help, di_cli_db_help);
        return DI_EXIT_OK;
    }
    di_cli_db db;
    di_cli_db_init(&db);
    long long demo = 0, size = 256, seed = 0, first_id = 1;
    const char *images = NULL;
    int demo_options = 0; /* --demo and the options that go with it */
    for (int i = 1; i < argc; i++) {
        int r = di_cli_db_option(&db, argc, argv, &i);
        if (r < 0)
            return DI_EXIT_USAGE;
        if (r > 0)
            continue;
        bool bad = false;
        const char *v, *opt = NULL, *range = NULL;
        bool ok = true;
        if ((v = di_opt_value(argc, argv, &i, "--demo", &bad))) {
            opt = "--demo", range = "1 to 100000000";
            ok = di_opt_int(v, 1, 100000000, &demo);
        } else if ((v = di_opt_value(argc, argv, &i, "--images", &bad))) {
            images = v;
        } else if ((v = di_opt_value(argc, argv, &i, "--size", &bad))) {
            opt = "--size", range = "1 to 16384";
            ok = di_opt_int(v, 1, 16384, &size);
        } else if ((v = di_opt_value(argc, argv, &i, "--seed", &bad))) {
            opt = "--seed", range = "0 to 2^62";
            ok = di_opt_int(v, 0, INT64_MAX / 2, &seed);
        } else if ((v = di_opt_value(argc, argv, &i, "--first-id", &bad))) {
            opt = "--first-id", range = "0 to 2^62";
            ok = di_opt_int(v, 0, INT64_MAX / 2, &first_id);
        } else if (!bad) {
            di_cli_error("init: unknown option '%s' (see depthindex init --help)", argv[i]);
            return DI_EXIT_USAGE;
        }
        if (bad)
            return DI_EXIT_USAGE; /* di_opt_value said what is missing */
        if (!ok) {
            di_cli_error("init: %s: bad value '%s' (a whole number, %s)", opt, v, range);
            return DI_EXIT_USAGE;
        }
        if (opt || v == images)
            demo_options++;
    }
    if (di_cli_db_finish(&db))
        return DI_EXIT_USAGE;
    if (demo && !images) {
        di_cli_error("init: --demo needs --images DIR");
        return DI_EXIT_USAGE;
    }
    if (!demo && demo_options) {
        di_cli_error("init: --images, --size, --seed and --first-id go with --demo N");
        return DI_EXIT_USAGE;
    }
    /* init creates: for SQLite that includes the folder of the file */
    di_url u;
    if (di_url_parse(db.store.url, &u, NULL) == 0 && strcmp(u.scheme, "sqlite") == 0) {
        char *slash = strrchr(u.path, '/');
        if (slash && slash != u.path) {
            *slash = '\0';
            di_error derr;
            if (di_make_dirs(u.path, &derr)) {
                di_cli_error("--db: %s", derr.msg);
                return DI_EXIT_USAGE;
            }
        }
    }
    di_error err = {0};
    di_store *st = NULL;
    if (di_store_open(&db.store, true, &st, &err)) {
        di_cli_db_error(&db, err.msg);
        return DI_EXIT_USAGE;
    }
    char url[1100];
    di_url_redact(db.store.url, url, sizeof url);
    printf("schema ready: %s (%s)\n", url, di_store_backend(st));
    int rc = DI_EXIT_OK;
    if (demo)
        rc = make_demo(st, &db, demo, images, (int)size, seed, first_id);
    di_store_close(st);
    return rc;
}

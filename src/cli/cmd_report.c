/* cmd_report.c: `depthindex report`: an HTML report of a run's results. */
#include "cli.h"
#include "options.h"
#include "report/report.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: depthindex report --db URL [--maps DIR] [--images DIR] [--out DIR]\n"
    "                         [--lat COL --lon COL] [--json]\n"
    "\n"
    "Writes OUT/index.html, a self-contained page that opens from disk with no\n"
    "network: done, pending and failed faces; per face a histogram and the\n"
    "quantiles of the score; the 12 highest and 12 lowest faces with their\n"
    "panels (from --maps) or photos (from --images); failures grouped by\n"
    "message; a map of panoramas by mean score (--lat/--lon); the latest run's\n"
    "settings. OUT/stats.json holds the same statistics. The table is read in\n"
    "keyset pages: memory stays bounded whatever its size.\n"
    "\n"
    "%s"
    "  --maps DIR            panels that `depthindex run` drew, DIR/{id}_{face}.png\n"
    "  --images DIR          photos of the faces, when a face has no panel\n"
    "  --image-path PATTERN  photo of a face, relative to --images\n"
    "                        [{panorama_sid}_{face}.jpg]\n"
    "  --out DIR             the report's folder [report]\n"
    "  --lat COL, --lon COL  the table's coordinate columns, for the map\n"
    "  --json                also print the statistics as one JSON object\n";

int di_cmd_report(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        printf(help, di_cli_db_help);
        return DI_EXIT_OK;
    }
    di_cli_db db;
    di_cli_db_init(&db);
    di_report_config cfg;
    di_report_config_default(&cfg);
    bool json = false;
    for (int i = 1; i < argc; i++) {
        int r = di_cli_db_option(&db, argc, argv, &i);
        if (r < 0)
            return DI_EXIT_USAGE;
        if (r > 0)
            continue;
        bool bad = false;
        const char *v;
        if ((v = di_opt_value(argc, argv, &i, "--maps", &bad)))
            cfg.maps_dir = v;
        else if ((v = di_opt_value(argc, argv, &i, "--images", &bad)))
            cfg.images_dir = v;
        else if ((v = di_opt_value(argc, argv, &i, "--image-path", &bad)))
            cfg.image_pattern = v;
        else if ((v = di_opt_value(argc, argv, &i, "--out", &bad)))
            cfg.out_dir = v;
        else if ((v = di_opt_value(argc, argv, &i, "--lat", &bad)))
            cfg.lat_col = v;
        else if ((v = di_opt_value(argc, argv, &i, "--lon", &bad)))
            cfg.lon_col = v;
        else if (bad)
            return DI_EXIT_USAGE;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else {
            di_cli_error("report: unknown option '%s' (see depthindex report --help)", argv[i]);
            return DI_EXIT_USAGE;
        }
        if (bad)
            return DI_EXIT_USAGE;
    }
    if (di_cli_db_finish(&db))
        return DI_EXIT_USAGE;
    if ((cfg.lat_col == NULL) != (cfg.lon_col == NULL)) {
        di_cli_error("report: --lat and --lon go together");
        return DI_EXIT_USAGE;
    }
    const char *cols[2] = {cfg.lat_col, cfg.lon_col};
    for (int k = 0; k < 2; k++)
        if (cols[k] && !di_ident_valid(cols[k])) {
            di_cli_error("report: %s '%.64s' is not a plain SQL identifier "
                         "([A-Za-z_][A-Za-z0-9_]*, at most 64 characters)",
                         k ? "--lon" : "--lat", cols[k]);
            return DI_EXIT_USAGE;
        }
    cfg.store = db.store;
    di_error err = {0};
    di_report_outcome out;
    if (di_report_write(&cfg, json ? stdout : NULL, &out, &err)) {
        di_cli_db_error(&db, err.msg);
        return DI_EXIT_USAGE;
    }
    fprintf(json ? stderr : stdout, "wrote %s: %lld panorama rows, %lld scored faces, %d "
            "pictures\n", out.html, (long long)out.rows, (long long)out.scored, out.pictures);
    return DI_EXIT_OK;
}

/*
** report.h: `depthindex report` as a library: one pass over the table in
** keyset pages (bounded memory whatever its size: streamed counts,
** fine-bin histograms, the highest and lowest faces, a fixed-size sample of
** positions), then a self-contained folder:
**
**   OUT/index.html   the page: counts, histograms and quantiles per face
**                    (SVG drawn here, no script), the 12 highest and lowest
**                    faces with their pictures, failures grouped by message,
**                    a map of panoramas when coordinates are given, the
**                    settings of the latest run
**   OUT/stats.json   the same statistics for other tools
**   OUT/maps/, OUT/photos/   copies of the pictures the page shows
**
** Nothing in it refers to anything outside the folder: it opens from disk on
** a machine without network. Every text from the database is HTML-escaped.
*/
#ifndef DI_REPORT_H
#define DI_REPORT_H

#include "../core/core.h"
#include "../store/store.h"

#include <stdio.h>

typedef struct di_report_config {
    di_store_config store;
    const char *out_dir;       /* [report] */
    const char *maps_dir;      /* panels of `run --save-maps`: {id}_{face}.png */
    const char *images_dir;    /* photos, when no panel: NULL = none */
    const char *image_pattern; /* [{panorama_sid}_{face}.jpg], as for run */
    const char *lat_col;       /* coordinate columns of the table, both or */
    const char *lon_col;       /* neither (validated, checked to exist) */
    int page_rows;             /* rows per keyset page [1000] */
} di_report_config;

void di_report_config_default(di_report_config *c);

/* Bin width of the score histograms: quantiles are exact to half of it. */
#define DI_REPORT_BIN 0.01
/* Highest and lowest faces shown. */
#define DI_REPORT_RANKED 12
/* Panoramas drawn on the map at most (a deterministic sample by id). */
#define DI_REPORT_MAP_POINTS 4000
/* Failure messages listed at most. */
#define DI_REPORT_ERROR_GROUPS 50

typedef struct di_report_outcome {
    int64_t rows;          /* panorama rows read */
    int64_t scored;        /* faces with a score */
    int pictures;          /* pictures copied into the folder */
    char html[4200];       /* path of index.html */
} di_report_outcome;

/* Reads the database and writes the folder. When json is not NULL the
** statistics JSON is also written there (src/cli passes stdout). */
int di_report_write(const di_report_config *cfg, FILE *json,
                    di_report_outcome *out, di_error *err);

#endif

/*
** internal.h: what the parts of src/report share (not a public header):
** the streamed statistics (stats.c), their JSON (json.c), the page
** (html.c) and its SVG plots (svg.c).
*/
#ifndef DI_REPORT_INTERNAL_H
#define DI_REPORT_INTERNAL_H

#include "report.h"

/* 0.01-wide bins over [0, 256): 25600 counters per face (200 KiB). A score
** outside the range (the index is in [0, 255]) goes to the end bins. */
#define RP_BINS 25600

typedef struct rp_face {
    int64_t done, pending, failed; /* from the database's counts */
    int64_t n;                     /* scores seen while streaming */
    double sum, min, max;
    int64_t *hist;                 /* RP_BINS */
} rp_face;

typedef struct rp_ranked {
    double score;
    int64_t id;
    int face;
    char sid[DI_STORE_SID_MAX];
    char picture[96]; /* path relative to the folder, "" when none */
} rp_ranked;

typedef struct rp_point {
    uint64_t key; /* sample key: hash of the id; the smallest keys stay */
    int64_t id;
    double lat, lon, mean;
} rp_point;

typedef struct rp_stats {
    int nfaces;
    char faces[DI_STORE_MAX_FACES][72];
    int64_t rows;
    rp_face face[DI_STORE_MAX_FACES];
    rp_ranked high[DI_REPORT_RANKED], low[DI_REPORT_RANKED];
    int nhigh, nlow;
    /* the map: a max-heap on key of at most DI_REPORT_MAP_POINTS points */
    bool positions;
    rp_point *points;
    int npoints;
    int64_t positioned; /* rows with both coordinates */
    /* failures */
    di_store_error_group *groups;
    int ngroups;
    int64_t distinct_errors;
    /* the latest run's settings */
    bool have_run;
    char run_at[64];
    char run_settings[4096];
    /* for the page */
    char where[1700];
    char table[72];
    char lat_col[72], lon_col[72];
} rp_stats;

int rp_stats_init(rp_stats *st, di_error *err);
void rp_stats_free(rp_stats *st);
void rp_stats_add_row(rp_stats *st, const di_store_score_row *r);
/* The q-quantile (0..1) of a face's scores, to within DI_REPORT_BIN / 2
** (clamped to the exact min and max); NAN without scores. */
double rp_quantile(const rp_face *f, double q);
/* Sorts high (descending) and low (ascending) for the page. */
void rp_stats_finish(rp_stats *st);

/* The quantiles every output lists. */
#define RP_NQ 7
extern const double rp_qs[RP_NQ];

void rp_write_json(const rp_stats *st, FILE *f);

/* Writes s HTML-escaped (& < > " '). */
void rp_html_escape(FILE *f, const char *s);
int rp_write_html(const rp_stats *st, const char *path, di_error *err);

/* SVG plots, inline in the page. */
void rp_svg_histogram(FILE *f, const rp_face *face, const char *name);
void rp_svg_map(FILE *f, const rp_stats *st);

#endif

/*
** feature.h: the depth congestion index of one depth map, exactly as
** shared/docs/depth-index-spec.md defines it:
**   8-bit depth -> exact 1-D k-means layers -> ordered label image ->
**   Canny -> mean of the Gaussian congestion map,
** the last step computed as a border-corrected weighted sum of the edge map
** (one pass, no blur).
**
** Precision, fixed so that an independent oracle reproduces it exactly: the
** 8-bit depth is computed in float32 as (D - min) * 255 / (max - min) in
** that order (double only when max - min overflows float); k-means costs
** come from exact 64-bit prefix sums as s2 - s1 * s1 / n in double, and
** among equal costs the DP keeps the first minimum (the last cluster starts
** as early as possible); a value equidistant from two centres takes the
** lower label. The score is accumulated in double.
*/
#ifndef DI_FEATURE_H
#define DI_FEATURE_H

#include "../core/core.h"

#define DI_KMEANS_MAX_K 64

typedef struct di_feature_params {
    int k;             /* clusters [4] */
    double canny_low;  /* [100] */
    double canny_high; /* [200] */
    int ksize;         /* Gaussian kernel size, odd [71] */
    double sigma;      /* [7] */
} di_feature_params;

void di_feature_params_default(di_feature_params *p);
/* Checks ranges; names the bad parameter. */
int di_feature_params_check(const di_feature_params *p, di_error *err);

typedef struct di_feature_result {
    double score;                    /* S in [0, 255] */
    int k_eff;                       /* clusters actually used */
    double centres[DI_KMEANS_MAX_K]; /* in 8-bit depth units, ascending */
    double edge_fraction;            /* share of pixels that are edges */
    int width, height;
    float depth_min, depth_max;      /* of the input, before 8-bit scaling */
} di_feature_result;

/* A per-thread workspace: buffers grow to the largest image seen and are
** reused, so scoring allocates nothing in steady state. */
typedef struct di_feature_ws di_feature_ws;

di_feature_ws *di_feature_ws_create(void);
void di_feature_ws_destroy(di_feature_ws *ws);

/* Whether the 8-bit depth and the label image of the last computation are
** kept (the default): di_feature_depth8, di_feature_labels and the panels
** need them. Not kept, one buffer takes the images in turn: the labels are
** computed over the 8-bit depth, Canny writes the edges over the labels
** (each row once it has read it for the last time). The same edges and
** score, without writing two more image-sized buffers that the next step
** then reads back (about 5 % of `depthindex score`'s time per 512x512
** map); di_feature_depth8 and di_feature_labels then return NULL and the
** panels refuse. */
void di_feature_ws_keep_images(di_feature_ws *ws, bool keep);

/* Scores one depth map (width x height floats). Non-finite values are an
** error (DI_EFORMAT). */
int di_feature_compute(di_feature_ws *ws, const float *depth, int width,
                       int height, const di_feature_params *p,
                       di_feature_result *out, di_error *err);

/* The same score for src (sw x sh) resized bilinearly to width x height
** (di_resize_bilinear_f32), the resize done in the workspace (no allocation
** in steady state) and fused with the min/max pass: each resized row is
** checked while it is in cache, one pass less over the face-sized map. The
** result is bit-identical to resizing and then calling di_feature_compute
** (the post-processing of `run`, where the model output is smaller than
** the face). */
int di_feature_compute_resized(di_feature_ws *ws, const float *src, int sw,
                               int sh, int width, int height,
                               const di_feature_params *p,
                               di_feature_result *out, di_error *err);

/* The intermediate images of the last di_feature_compute on ws (valid until
** the next call): 8-bit depth, label image (both NULL where not kept),
** edges. */
const uint8_t *di_feature_depth8(const di_feature_ws *ws);
const uint8_t *di_feature_labels(const di_feature_ws *ws);
const uint8_t *di_feature_edges(const di_feature_ws *ws);

/* The exact k-means of a 256-bin histogram: global optimum of the
** within-cluster sum of squares; centres ascending; *k_eff as the spec. */
int di_kmeans_hist(const uint64_t hist[256], int k, double *centres,
                   int *k_eff, di_error *err);

/* Writes the picture of the last computation on ws: four panels (depth in
** colour, layers, edges, congestion heatmap) with the title and score. */
int di_feature_save_panel(di_feature_ws *ws, const di_feature_params *p,
                          const di_feature_result *r, const char *title,
                          const char *png_path, di_error *err);

/* A photo to draw beside the panels: width x height RGB triplets. */
typedef struct di_panel_photo {
    const uint8_t *rgb;
    int width, height;
} di_panel_photo;

/* The panel of a face of `run --save-maps`: its photo as the model saw it
** (NULL: none) and the four panels of the last computation on ws, under a
** title (sid and face), the score line and a subtitle (model). */
int di_feature_save_run_panel(di_feature_ws *ws, const di_feature_params *p,
                              const di_feature_result *r, const di_panel_photo *photo,
                              const char *title, const char *subtitle,
                              const char *png_path, di_error *err);

/* The panel of a face that failed after inference: its photo (NULL: none)
** and the raw depth map (non-finite values in magenta), with the error. */
int di_feature_save_failure_panel(const float *depth, int width, int height,
                                  const di_panel_photo *photo, const char *title,
                                  const char *error, const char *png_path,
                                  di_error *err);

#endif

/* feature_internal.h: what the files of src/feature share (not public). */
#ifndef DI_FEATURE_INTERNAL_H
#define DI_FEATURE_INTERNAL_H

#include "feature.h"

#include <math.h>

/* The per-thread workspace. Buffers only grow. */
struct di_feature_ws {
    size_t pixel_cap;
    uint8_t *depth8, *labels, *edges;
    void *canny_scratch;
    size_t canny_cap;
    /* di_feature_compute_resized: resize scratch and the resized map. */
    void *rows;
    size_t rows_cap;
    /* Border-corrected blur weights, cached for the last (size, ksize, sigma). */
    double *cx, *cy, *kernel;
    size_t cx_cap, cy_cap, kernel_cap;
    int cx_n, cy_n, w_ksize;
    int cx_lo, cx_hi, cy_lo, cy_hi; /* where the weight is exactly 1 */
    double w_sigma;
    int w_valid;
    /* The label of each 8-bit depth value (as a grey level). */
    uint8_t lut[256];
    /* The last computation. */
    int width, height;
    int have_result;
    /* Nonzero: labels, then edges, overwrite depth8 (di_feature_ws_keep_images). */
    int drop_images;
};

/* Minimum and maximum of d[0..n) (n >= 1); returns the index of the first
** non-finite value, or n when all are finite (then *mn, *mx are set). */
size_t di_depth_minmax(const float *d, size_t n, float *mn, float *mx);

/* U = trunc((D - mn) * 255 / (mx - mn)) in float32 (0 everywhere when
** mx == mn) into u, and its histogram. */
void di_depth8_hist(const float *d, size_t n, float mn, float mx, uint8_t *u,
                    uint64_t hist[256]);

/* Nonzero: the generic C forms of the passes above even where the build
** has AVX-512 ones (tests compare the two). */
extern int di_feature_generic;

/* Grey level of the nearest centre (tie: lower label) for every value. */
void di_kmeans_label_lut(const double *centres, int k_eff, uint8_t lut[256]);

/* cw[j] for j < n: how much input index j contributes to all outputs of the
** 1-D replicate-border convolution with the normalised kernel g (ksize taps).
** Returns the first and one-past-last index of the run where cw == 1 exactly
** (the interior, possibly empty). */
void di_blur_weights(const double *g, int ksize, int n, double *cw, int *lo,
                     int *hi);

/* The score sum: sum over edges (255) of cy(y) * cx(x), and the edge count. */
double di_weighted_edge_sum(const uint8_t *edges, int w, int h,
                            const double *cx, int xlo, int xhi,
                            const double *cy, uint64_t *edge_count);

#endif

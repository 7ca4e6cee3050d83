/*
** imgproc.h: image operations the feature and the pipeline need: Canny with
** OpenCV's exact semantics, the Gaussian kernel and separable blur (float32,
** replicate border), bilinear resizing with half-pixel centres, colour maps
** and a small bitmap font for pictures.
*/
#ifndef DI_IMGPROC_H
#define DI_IMGPROC_H

#include "../core/core.h"

/* cv::Canny(src, dst, low, high, 3, false) on an 8-bit single-channel image:
** pixel-identical output (0 or 255). scratch is caller-owned and must hold
** di_canny_scratch_size(width, height) bytes (so a worker reuses it). dst
** may be src itself: row y of dst is written only once src's rows up to
** y + 1 have been read for the last time (the gradient of row y + 1), and
** the hysteresis reads dst alone. Any other overlap is not allowed. */
size_t di_canny_scratch_size(int width, int height);
void di_canny(const uint8_t *src, int width, int height, double low, double high,
              uint8_t *dst, void *scratch);

/* The 1-D Gaussian kernel as cv::getGaussianKernel(ksize, sigma, CV_64F)
** computes it (normalised to sum 1). ksize odd and >= 1. */
int di_gaussian_kernel(int ksize, double sigma, double *kernel, di_error *err);
/* Separable blur of a float32 image, replicate border, as
** cv::GaussianBlur(src, dst, {ksize, ksize}, sigma, sigma, BORDER_REPLICATE). */
int di_gaussian_blur_f32(const float *src, int width, int height, int ksize,
                         double sigma, float *dst, di_error *err);

/* Bilinear resize, half-pixel centres (cv::INTER_LINEAR without its
** fixed-point rounding; PyTorch interpolate(align_corners=False)). */
void di_resize_bilinear_f32(const float *src, int sw, int sh, float *dst,
                            int dw, int dh);
/* The same on interleaved 8-bit images with c channels. */
void di_resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c,
                           uint8_t *dst, int dw, int dh);
/* The same without allocating, for workers that resize every image: scratch
** is caller-owned, reusable, of di_resize_scratch_size(dw, c) bytes for a
** destination dw pixels wide with c channels (1 for the float version). */
size_t di_resize_scratch_size(int dw, int c);
void di_resize_bilinear_f32_scratch(const float *src, int sw, int sh, float *dst,
                                    int dw, int dh, void *scratch);
void di_resize_bilinear_u8_scratch(const uint8_t *src, int sw, int sh, int c,
                                   uint8_t *dst, int dw, int dh, void *scratch);

/* The float resize row by row, for a caller that consumes each output row
** at once instead of storing the whole image (the score of a model output
** resized to its face): row y is exactly row y of
** di_resize_bilinear_f32(_scratch). scratch: di_resize_scratch_size(dw, 1)
** bytes, owned by the caller and used until the last row; rows are cheapest
** in increasing order (each source row is resized horizontally once). */
typedef struct di_resize_rows {
    const float *src;
    int sw, sh, dw, dh, identity;
    double sy;
    void *scratch;
    int cached[2]; /* the source rows held in scratch */
} di_resize_rows;
void di_resize_rows_begin(di_resize_rows *r, const float *src, int sw, int sh,
                          int dw, int dh, void *scratch);
void di_resize_rows_get(di_resize_rows *r, int y, float *out);

/* Colour map (perceptual, "turbo"-like) of v in 0..255 into rgb[3]. */
void di_colormap(uint8_t v, uint8_t rgb[3]);
/* Draws ASCII text with a built-in 8x8 font at scale s into an RGB image. */
void di_draw_text(uint8_t *rgb, int width, int height, int x, int y, int scale,
                  const char *text, const uint8_t colour[3]);

#endif

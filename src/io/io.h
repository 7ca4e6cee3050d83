/*
** io.h: formats in and out. Depth maps from PNG (greyscale 8/16-bit, also
** 1/2/4-bit scaled to 0..255 as libspng does; colour PNGs are refused: depth
** is one channel), NPY (format 1.0/2.0/3.0; uint8, uint16, float32, float64
** in either byte order; C or Fortran order; HxW, 1xHxW or HxWx1) and PFM
** ("Pf"; the sign of the scale gives the byte order; rows are returned top
** to bottom); PNG, PFM and NPY out; JPEG in and out (libjpeg-turbo); float32
** tensors as NPY for `depthindex infer`.
**
** Every reader takes memory (for the fuzz targets) and has a path wrapper
** that names the file in its errors. Readers refuse absurd declared sizes
** (more than DI_IO_MAX_PIXELS: DI_ENOMEM) and sizes the file cannot hold
** (DI_EFORMAT) before allocating. Depth maps with NaN or Inf are DI_EFORMAT
** naming the first such pixel. Writers write a temporary file beside the
** target and rename it into place, so a failure (DI_EIO, DI_ENOSPC) never
** leaves a half-written file.
*/
#ifndef DI_IO_H
#define DI_IO_H

#include "../core/core.h"

#define DI_IO_MAX_PIXELS (1u << 28)           /* 16384 x 16384 */
#define DI_IO_MAX_FILE_BYTES ((size_t)1 << 31) /* 2 GiB */

/* A single-plane float image; data is malloc'd, freed by di_depth_free. */
typedef struct di_depth {
    int width, height;
    float *data;
} di_depth;

void di_depth_free(di_depth *d);

/* An 8-bit image with 1 or 3 interleaved channels; malloc'd data. */
typedef struct di_image {
    int width, height, channels;
    uint8_t *data;
} di_image;

void di_image_free(di_image *img);

/* Reads a depth map, choosing the format by content (PNG signature, NPY
** magic, "Pf" PFM header). Non-finite values are an error. */
int di_depth_read(const char *path, di_depth *out, di_error *err);
int di_depth_read_mem(const uint8_t *data, size_t size, const char *name,
                      di_depth *out, di_error *err);
int di_png_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err);
int di_npy_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err);
int di_pfm_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err);

/* Reading many depth maps (`depthindex score`, the --depth-dir workers of
** `run`): a reader keeps its buffers from file to file, so that reading
** allocates nothing in steady state, and uses the payload of a
** little-endian float32 C-order NPY file in place instead of copying it.
** The map (*pixels, owned by the reader) is valid until the next read or
** di_depth_reader_destroy. With DI_DEPTH_UNCHECKED non-finite values are
** left for the caller to refuse (di_feature_compute does, in the min/max pass
** it makes anyway), which saves one pass over the map; otherwise they are an
** error as for di_depth_read. */
typedef struct di_depth_reader di_depth_reader;
#define DI_DEPTH_UNCHECKED 1u
di_depth_reader *di_depth_reader_create(void);
void di_depth_reader_destroy(di_depth_reader *r);
int di_depth_reader_read(di_depth_reader *r, const char *path, unsigned flags,
                         const float **pixels, int *width, int *height,
                         di_error *err);

/* Writes an 8-bit PNG with 1 (grey), 3 (RGB) or 4 (RGBA) channels. */
int di_png_write(const char *path, const uint8_t *pixels, int width, int height,
                 int channels, di_error *err);

/* Writes a 16-bit greyscale PNG (depth in millimetres, for example). */
int di_png_write16(const char *path, const uint16_t *pixels, int width,
                   int height, di_error *err);

/* Writes a depth map as PFM ("Pf", little-endian, rows bottom to top). */
int di_pfm_write(const char *path, const float *depth, int width, int height,
                 di_error *err);

/* N-dimensional float32 tensors as NPY (for `infer`). dims[ndim]. Reading
** accepts the depth dtypes (converted to float32) in any order and up to
** DI_NPY_MAX_DIMS dimensions (0-D too); values are not checked for
** finiteness. Writing is little-endian float32, C order, format 1.0. */
#define DI_NPY_MAX_DIMS 8
typedef struct di_tensor {
    int ndim;
    int64_t dims[DI_NPY_MAX_DIMS];
    float *data; /* malloc'd */
} di_tensor;

void di_tensor_free(di_tensor *t);
int di_npy_read_tensor(const char *path, di_tensor *out, di_error *err);
int di_npy_read_tensor_mem(const uint8_t *data, size_t size, const char *name,
                           di_tensor *out, di_error *err);
int di_npy_write_f32(const char *path, const float *data, const int64_t *dims,
                     int ndim, di_error *err);

/* JPEG. di_jpeg_decode_mem decodes to RGB; when min_width/min_height are
** positive it uses libjpeg-turbo's DCT-domain scaling to the smallest of the
** scales 1/8, 1/4, 1/2 whose output is still at least that large (the other
** eighths run without SIMD and cost more than a full decode) (a cheap first downscale when
** the model input is much smaller than the image). The image's own full size
** is returned in *full_width and *full_height (either may be NULL). Grey
** JPEGs are expanded to RGB; CMYK/YCCK (Adobe) JPEGs are converted to RGB.
** A truncated or corrupt entropy-coded stream is an error, never a grey
** patch. libjpeg's own messages go into err, never to stderr. */
int di_jpeg_decode_mem(const uint8_t *data, size_t size, const char *name,
                       int min_width, int min_height, di_image *out,
                       int *full_width, int *full_height, di_error *err);
/* The same into a caller-owned buffer (*buf of *cap bytes; NULL and 0 at
** first), grown when too small and kept for the next image, so that a
** decoder thread allocates nothing per image in steady state. out->data is
** *buf: never di_image_free it. */
int di_jpeg_decode_reuse(const uint8_t *data, size_t size, const char *name,
                         int min_width, int min_height, uint8_t **buf,
                         size_t *cap, di_image *out, int *full_width,
                         int *full_height, di_error *err);
int di_jpeg_write(const char *path, const di_image *img, int quality,
                  di_error *err);
/* The declared size of a JPEG from its header only (nothing decoded). */
int di_jpeg_read_size_mem(const uint8_t *data, size_t size, const char *name,
                          int *width, int *height, di_error *err);

#endif

/*
** io_internal.h: helpers shared by the format readers and writers of src/io
** (not part of the public contract).
*/
#ifndef DI_IO_INTERNAL_H
#define DI_IO_INTERNAL_H

#include "io.h"

/* A name for messages when the caller gave none. */
#define DI_IO_NAME(name) ((name) ? (name) : "<memory>")

/* Writes size bytes to path. A regular (or new) file is written to a
** temporary name beside it and renamed into place, so a failed write (disk
** full, directory missing) never leaves a half-written file; a non-regular
** target (a pipe, /dev/full) is written directly. */
int di_io_write_file(const char *path, const void *data, size_t size,
                     di_error *err);

/* Checks that every value is finite; names the first bad pixel. */
int di_io_check_finite(const float *v, int width, int height, const char *name,
                       di_error *err);

/* Validates declared image dimensions before anything is allocated. */
int di_io_check_dims(int64_t width, int64_t height, const char *name,
                     di_error *err);

/* A depth map NPY for di_depth_reader: a little-endian float32 C-order
** payload at a float-aligned offset is used in place (*pixels points into
** data); any other is converted into *buf (*cap floats, grown as needed).
** Values are not checked for finiteness. */
int di_npy_depth_view(const uint8_t *data, size_t size, const char *name,
                      float **buf, size_t *cap, const float **pixels,
                      int *width, int *height, di_error *err);

#endif

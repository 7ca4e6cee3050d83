/* io_common.c: format detection, frees, file writes shared by src/io. */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void di_depth_free(di_depth *d)
{
    if (d) {
        free(d->data);
        d->data = NULL;
        d->width = d->height = 0;
    }
}

void di_image_free(di_image *img)
{
    if (img) {
        free(img->data);
        img->data = NULL;
        img->width = img->height = img->channels = 0;
    }
}

void di_tensor_free(di_tensor *t)
{
    if (t) {
        free(t->data);
        t->data = NULL;
        t->ndim = 0;
    }
}

int di_io_check_dims(int64_t width, int64_t height, const char *name,
                     di_error *err)
{
    if (width <= 0 || height <= 0)
        return di_fail(err, DI_EFORMAT, "%s: empty image (%lldx%lld)", name,
                       (long long)width, (long long)height);
    /* Both factors are checked first so the product cannot overflow. */
    if (width > DI_IO_MAX_PIXELS || height > DI_IO_MAX_PIXELS ||
        width * height > (int64_t)DI_IO_MAX_PIXELS)
        return di_fail(err, DI_ENOMEM,
                       "%s: declared size %lldx%lld exceeds the limit of %u pixels",
                       name, (long long)width, (long long)height,
                       (unsigned)DI_IO_MAX_PIXELS);
    return DI_OK;
}

int di_io_check_finite(const float *v, int width, int height, const char *name,
                       di_error *err)
{
    size_t n = (size_t)width * (size_t)height;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            return di_fail(err, DI_EFORMAT,
                           "%s: non-finite depth (%s) at pixel x=%zu y=%zu", name,
                           isnan(v[i]) ? "NaN" : (v[i] > 0 ? "+Inf" : "-Inf"),
                           i % (size_t)width, i / (size_t)width);
    }
    return DI_OK;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int di_io_write_file(const char *path, const void *data, size_t size,
                     di_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return di_fail(err, DI_EIO, "%s: is a directory", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return di_fail(err, di_status_from_errno(errno), "%s: %s", path,
                           strerror(errno));
        int e = write_all(fd, data, size);
        if (close(fd) != 0 && !e)
            e = errno;
        if (e)
            return di_fail(err, di_status_from_errno(e), "%s: %s", path,
                           strerror(e));
        return DI_OK;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return di_fail(err, DI_ENOMEM, "%s: out of memory", path);
    /* Unique per process and per call, so concurrent writers never share a
    ** temporary file. */
    static _Atomic unsigned long counter;
    snprintf(tmp, plen + 32, "%s.tmp%ld-%lu", path, (long)getpid(), ++counter);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return di_fail(err, di_status_from_errno(e), "%s: %s", path, strerror(e));
    }
    int e = write_all(fd, data, size);
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return di_fail(err, di_status_from_errno(e), "%s: %s", path, strerror(e));
    }
    free(tmp);
    return DI_OK;
}

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int di_depth_read_mem(const uint8_t *data, size_t size, const char *name,
                      di_depth *out, di_error *err)
{
    name = DI_IO_NAME(name);
    out->data = NULL;
    out->width = out->height = 0;
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file", name);
    if (size >= 8 && memcmp(data, png_sig, 8) == 0)
        return di_png_read_depth_mem(data, size, name, out, err);
    if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0)
        return di_npy_read_depth_mem(data, size, name, out, err);
    if (size >= 2 && data[0] == 'P' && (data[1] == 'f' || data[1] == 'F'))
        return di_pfm_read_depth_mem(data, size, name, out, err);
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return di_fail(err, DI_EFORMAT,
                       "%s: is a JPEG image, not a depth map (PNG, NPY or PFM)",
                       name);
    return di_fail(err, DI_EFORMAT,
                   "%s: not a depth map (no PNG, NPY or PFM signature)", name);
}

int di_depth_read(const char *path, di_depth *out, di_error *err)
{
    out->data = NULL;
    out->width = out->height = 0;
    uint8_t *buf;
    size_t n;
    int rc = di_read_file(path, DI_IO_MAX_FILE_BYTES, &buf, &n, err);
    if (rc)
        return rc;
    rc = di_depth_read_mem(buf, n, path, out, err);
    free(buf);
    return rc;
}

struct di_depth_reader {
    uint8_t *file; /* the last file's bytes */
    size_t file_cap;
    float *px;     /* converted pixels (not NPY float32 in place) */
    size_t px_cap;
};

di_depth_reader *di_depth_reader_create(void)
{
    return calloc(1, sizeof(di_depth_reader));
}

void di_depth_reader_destroy(di_depth_reader *r)
{
    if (!r)
        return;
    free(r->file);
    free(r->px);
    free(r);
}

int di_depth_reader_read(di_depth_reader *r, const char *path, unsigned flags,
                         const float **pixels, int *width, int *height,
                         di_error *err)
{
    *pixels = NULL;
    *width = *height = 0;
    size_t n;
    int rc = di_read_file_reuse(path, DI_IO_MAX_FILE_BYTES, &r->file,
                                &r->file_cap, &n, err);
    if (rc)
        return rc;
    const uint8_t *data = r->file;
    int w, h;
    const float *px;
    if (n >= 6 && memcmp(data, "\x93NUMPY", 6) == 0) {
        rc = di_npy_depth_view(data, n, path, &r->px, &r->px_cap, &px, &w, &h,
                               err);
        if (rc)
            return rc;
    } else {
        /* PNG and PFM are converted anyway: their reader's buffer is kept. */
        di_depth d;
        if ((rc = di_depth_read_mem(data, n, path, &d, err)))
            return rc;
        free(r->px);
        r->px = d.data;
        r->px_cap = (size_t)d.width * (size_t)d.height;
        px = d.data, w = d.width, h = d.height;
        flags |= DI_DEPTH_UNCHECKED; /* di_depth_read_mem checked them */
    }
    if (!(flags & DI_DEPTH_UNCHECKED) &&
        (rc = di_io_check_finite(px, w, h, path, err)))
        return rc;
    *pixels = px;
    *width = w;
    *height = h;
    return DI_OK;
}

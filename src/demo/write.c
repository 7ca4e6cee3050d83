/* write.c: demo faces as files (demo.h's di_demo_writer): the depth as NPY,
** 16-bit PNG or PFM, the picture as JPEG. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/io.h"

const char *di_demo_format_ext(di_demo_format f)
{
    return f == DI_DEMO_PFM ? "pfm" : f == DI_DEMO_PNG16 ? "png" : "npy";
}

int di_demo_writer_init(di_demo_writer *w, int width, int height, di_demo_format format,
                        int jpeg_quality, di_error *err)
{
    memset(w, 0, sizeof *w);
    w->width = width;
    w->height = height;
    w->format = format;
    w->jpeg_quality = jpeg_quality;
    size_t n = (size_t)width * (size_t)height;
    w->depth = malloc(n * sizeof(float));
    w->rgb = jpeg_quality ? malloc(n * 3) : NULL;
    w->d16 = format == DI_DEMO_PNG16 ? malloc(n * 2) : NULL;
    if (!w->depth || (jpeg_quality && !w->rgb) || (format == DI_DEMO_PNG16 && !w->d16)) {
        di_demo_writer_free(w);
        return di_fail(err, DI_ENOMEM, "out of memory for %dx%d faces", width, height);
    }
    return DI_OK;
}

void di_demo_writer_free(di_demo_writer *w)
{
    free(w->depth);
    free(w->rgb);
    free(w->d16);
    w->depth = NULL;
    w->rgb = NULL;
    w->d16 = NULL;
}

static int write_depth(di_demo_writer *w, const char *path, di_error *err)
{
    size_t n = (size_t)w->width * (size_t)w->height;
    switch (w->format) {
    case DI_DEMO_PNG16:
        for (size_t k = 0; k < n; k++) { /* 1/64 m steps */
            double q = w->depth[k] * 64.0 + 0.5;
            w->d16[k] = q >= 65535 ? 65535 : (uint16_t)q;
        }
        return di_png_write16(path, w->d16, w->width, w->height, err);
    case DI_DEMO_PFM:
        return di_pfm_write(path, w->depth, w->width, w->height, err);
    default: {
        int64_t dims[2] = {w->height, w->width};
        return di_npy_write_f32(path, w->depth, dims, 2, err);
    }
    }
}

int di_demo_write_face(di_demo_writer *w, uint64_t seed, int face, const char *dir,
                       const char *stem, int *written, di_error *err)
{
    if (w->jpeg_quality)
        di_demo_render(seed, face, w->width, w->height, w->depth, w->rgb);
    else
        di_demo_depth(seed, face, w->width, w->height, w->depth);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", dir, stem, di_demo_format_ext(w->format));
    int rc = write_depth(w, path, err);
    if (rc)
        return rc;
    (*written)++;
    if (!w->jpeg_quality)
        return DI_OK;
    snprintf(path, sizeof path, "%s/%s.jpg", dir, stem);
    di_image img = {w->width, w->height, 3, w->rgb};
    rc = di_jpeg_write(path, &img, w->jpeg_quality, err);
    if (!rc)
        (*written)++;
    return rc;
}

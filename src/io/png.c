/*
** png.c: depth maps from 8/16-bit greyscale PNG and 8-bit PNG output, with
** libspng. Depth is one channel: colour PNGs are refused with the reason
** rather than silently converted (a colour picture is not a depth map).
*/
#include "io_internal.h"

#include <spng.h>
#include <stdlib.h>
#include <string.h>

/* Deflate cannot expand data more than 1032:1, so a PNG whose declared
** pixels need more bytes than that from the whole file is truncated or lying
** about its size: refuse it before allocating (a 100-byte file declaring
** 16384x16384 pixels must not cost 1 GiB). */
#define DEFLATE_MAX_RATIO 1100u

static const char *colour_type_name(int t)
{
    switch (t) {
    case SPNG_COLOR_TYPE_GRAYSCALE: return "greyscale";
    case SPNG_COLOR_TYPE_TRUECOLOR: return "RGB";
    case SPNG_COLOR_TYPE_INDEXED: return "palette";
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA: return "greyscale with alpha";
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: return "RGBA";
    default: return "unknown";
    }
}

int di_png_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err)
{
    name = DI_IO_NAME(name);
    out->data = NULL;
    out->width = out->height = 0;
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file", name);
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx)
        return di_fail(err, DI_ENOMEM, "%s: out of memory", name);
    /* Ancillary chunks (text, ICC profiles) are bounded too. */
    spng_set_chunk_limits(ctx, 1u << 24, 1u << 26);
    int rc = DI_OK, e;
    void *raw = NULL;
    float *px = NULL;
    struct spng_ihdr ihdr;
    if ((e = spng_set_png_buffer(ctx, data, size)) != 0 ||
        (e = spng_get_ihdr(ctx, &ihdr)) != 0) {
        rc = di_fail(err, DI_EFORMAT, "%s: not a valid PNG: %s", name,
                     spng_strerror(e));
        goto done;
    }
    if ((rc = di_io_check_dims(ihdr.width, ihdr.height, name, err)) != DI_OK)
        goto done;
    if (ihdr.color_type != SPNG_COLOR_TYPE_GRAYSCALE) {
        rc = di_fail(err, DI_EUNSUPPORTED,
                     "%s: PNG is %s; a depth map must be single-channel greyscale (8 or 16 bit)",
                     name, colour_type_name(ihdr.color_type));
        goto done;
    }
    uint64_t need = (uint64_t)ihdr.height *
                    (((uint64_t)ihdr.width * ihdr.bit_depth + 7) / 8);
    if (need > (uint64_t)size * DEFLATE_MAX_RATIO + 4096) {
        rc = di_fail(err, DI_EFORMAT,
                     "%s: PNG declares %ux%u pixels, more than its %zu bytes can hold (truncated or corrupt)",
                     name, ihdr.width, ihdr.height, size);
        goto done;
    }
    int fmt = ihdr.bit_depth == 16 ? SPNG_FMT_PNG : SPNG_FMT_G8; /* host-endian */
    size_t len;
    if ((e = spng_decoded_image_size(ctx, fmt, &len)) != 0) {
        rc = di_fail(err, DI_EFORMAT, "%s: PNG: %s", name, spng_strerror(e));
        goto done;
    }
    size_t n = (size_t)ihdr.width * ihdr.height;
    raw = malloc(len);
    px = malloc(n * sizeof(float));
    if (!raw || !px) {
        rc = di_fail(err, DI_ENOMEM, "%s: out of memory for %ux%u pixels", name,
                     ihdr.width, ihdr.height);
        goto done;
    }
    if ((e = spng_decode_image(ctx, raw, len, fmt, 0)) != 0) {
        rc = di_fail(err, DI_EFORMAT, "%s: corrupt or truncated PNG: %s", name,
                     spng_strerror(e));
        goto done;
    }
    if (ihdr.bit_depth == 16) {
        const uint16_t *s = raw;
        for (size_t i = 0; i < n; i++)
            px[i] = s[i];
    } else {
        const uint8_t *s = raw;
        for (size_t i = 0; i < n; i++)
            px[i] = s[i];
    }
    out->width = (int)ihdr.width;
    out->height = (int)ihdr.height;
    out->data = px;
    px = NULL;
done:
    free(raw);
    free(px);
    spng_ctx_free(ctx);
    return rc;
}

/* Encodes and writes one PNG; pixels are host-endian for 16-bit. */
static int png_encode(const char *path, const void *pixels, int width, int height,
                      int colour_type, int bit_depth, size_t len, di_error *err)
{
    if (width <= 0 || height <= 0 ||
        (int64_t)width * height > (int64_t)DI_IO_MAX_PIXELS)
        return di_fail(err, DI_EINVAL, "%s: cannot write a PNG of %dx%d pixels",
                       path, width, height);
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx)
        return di_fail(err, DI_ENOMEM, "%s: out of memory", path);
    struct spng_ihdr ihdr = {
        .width = (uint32_t)width,
        .height = (uint32_t)height,
        .bit_depth = (uint8_t)bit_depth,
        .color_type = (uint8_t)colour_type,
    };
    int rc = DI_OK, e;
    void *png = NULL;
    size_t png_len = 0;
    if ((e = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)) != 0 ||
        (e = spng_set_ihdr(ctx, &ihdr)) != 0 ||
        (e = spng_encode_image(ctx, pixels, len, SPNG_FMT_PNG,
                               SPNG_ENCODE_FINALIZE)) != 0 ||
        !(png = spng_get_png_buffer(ctx, &png_len, &e))) {
        rc = di_fail(err, e == SPNG_EMEM ? DI_ENOMEM : DI_EINVAL,
                     "%s: PNG encoding failed: %s", path, spng_strerror(e));
        goto done;
    }
    rc = di_io_write_file(path, png, png_len, err);
done:
    free(png);
    spng_ctx_free(ctx);
    return rc;
}

int di_png_write(const char *path, const uint8_t *pixels, int width, int height,
                 int channels, di_error *err)
{
    static const uint8_t types[5] = {0, SPNG_COLOR_TYPE_GRAYSCALE, 0,
                                     SPNG_COLOR_TYPE_TRUECOLOR,
                                     SPNG_COLOR_TYPE_TRUECOLOR_ALPHA};
    if (channels != 1 && channels != 3 && channels != 4)
        return di_fail(err, DI_EINVAL, "%s: cannot write a PNG with %d channels",
                       path, channels);
    size_t len = (size_t)(width > 0 ? width : 0) * (size_t)(height > 0 ? height : 0) *
                 (size_t)channels;
    return png_encode(path, pixels, width, height, types[channels], 8, len, err);
}

int di_png_write16(const char *path, const uint16_t *pixels, int width,
                   int height, di_error *err)
{
    size_t len = (size_t)(width > 0 ? width : 0) * (size_t)(height > 0 ? height : 0) * 2;
    return png_encode(path, pixels, width, height, SPNG_COLOR_TYPE_GRAYSCALE, 16,
                      len, err);
}

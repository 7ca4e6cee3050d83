/*
** jpeg.c: JPEG in and out with libjpeg-turbo.
**
** libjpeg reports errors by calling error_exit, which by default prints and
** exits; we replace it with a longjmp back into the call that began the work,
** carrying the formatted message into di_error. Nothing is ever printed.
** Warnings that mean the image data is damaged (a truncated file, a bad
** Huffman code) are errors too: libjpeg would otherwise hand back a picture
** with a grey patch, and the run would score a picture that does not exist.
*/
#include "io_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* A progressive JPEG may declare thousands of tiny scans, each a full pass
** over the coefficients: a cheap way to make a small file cost minutes. */
#define MAX_SCANS 1000

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub; /* first: libjpeg casts cinfo->err to this */
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void on_error_exit(j_common_ptr cinfo)
{
    jerr_ctx *c = (jerr_ctx *)cinfo->err;
    c->pub.format_message(cinfo, c->msg);
    longjmp(c->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0)
        return; /* trace messages */
    jerr_ctx *c = (jerr_ctx *)cinfo->err;
    c->pub.num_warnings++;
    switch (c->pub.msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        c->pub.format_message(cinfo, c->msg);
        longjmp(c->jump, 1);
    default:
        /* The arithmetic-decoding warning's code is not in the jpeg62 header
        ** (it depends on how the library was configured): match its text. */
        c->pub.format_message(cinfo, c->msg);
        if (strstr(c->msg, "bad arithmetic code"))
            longjmp(c->jump, 1);
        c->msg[0] = 0;
        return; /* harmless: extraneous bytes, unknown JFIF revision... */
    }
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (cinfo->is_decompressor && d->input_scan_number > MAX_SCANS) {
        jerr_ctx *c = (jerr_ctx *)cinfo->err;
        snprintf(c->msg, sizeof c->msg, "more than %d scans", MAX_SCANS);
        longjmp(c->jump, 1);
    }
}

static void setup_errors(jerr_ctx *c)
{
    jpeg_std_error(&c->pub);
    c->pub.error_exit = on_error_exit;
    c->pub.emit_message = on_emit_message;
    c->pub.output_message = on_output_message;
    c->msg[0] = 0;
}

static int check_start(const uint8_t *data, size_t size, const char *name,
                       di_error *err)
{
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file", name);
    if (size < 3 || data[0] != 0xff || data[1] != 0xd8 || data[2] != 0xff)
        return di_fail(err, DI_EFORMAT, "%s: not a JPEG image (no SOI marker)", name);
    return DI_OK;
}

/* The public functions name the buffer first: parameters are not modified
** after setjmp, so nothing is clobbered by a longjmp. */
static int read_size(const uint8_t *data, size_t size, const char *name,
                     int *width, int *height, di_error *err)
{
    *width = *height = 0;
    int rc = check_start(data, size, name, err);
    if (rc)
        return rc;
    struct jpeg_decompress_struct cinfo;
    jerr_ctx jerr;
    cinfo.err = &jerr.pub;
    setup_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return di_fail(err, DI_EFORMAT, "%s: cannot read JPEG: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return DI_OK;
}

/* Adobe CMYK JPEGs store inverted ink values (255 = no ink). */
static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, int n, int inverted)
{
    for (int i = 0; i < n; i++, src += 4, dst += 3) {
        unsigned k = inverted ? src[3] : 255u - src[3];
        for (int ch = 0; ch < 3; ch++) {
            unsigned v = inverted ? src[ch] : 255u - src[ch];
            dst[ch] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

/* reuse, when not NULL: the pixels go into *reuse (*reuse_cap bytes),
** grown when too small, and stay the caller's. */
static int decode(const uint8_t *data, size_t size, const char *name,
                  int min_width, int min_height, di_image *out,
                  int *full_width, int *full_height, uint8_t **reuse,
                  size_t *reuse_cap, di_error *err)
{
    memset(out, 0, sizeof *out);
    if (full_width)
        *full_width = 0;
    if (full_height)
        *full_height = 0;
    int rc = check_start(data, size, name, err);
    if (rc)
        return rc;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress = {.progress_monitor = on_progress};
    jerr_ctx jerr;
    /* Written after setjmp and read after a longjmp: volatile. */
    uint8_t *volatile pixels = NULL;
    volatile int pixels_owned = 0; /* else they are *reuse */
    uint8_t *volatile row4 = NULL; /* one CMYK row */
    cinfo.err = &jerr.pub;
    setup_errors(&jerr);
    if (setjmp(jerr.jump)) {
        if (pixels_owned)
            free(pixels);
        free(row4);
        jpeg_destroy_decompress(&cinfo);
        return di_fail(err, DI_EFORMAT, "%s: cannot decode JPEG: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int w = (int)cinfo.image_width, h = (int)cinfo.image_height;
    if (full_width)
        *full_width = w;
    if (full_height)
        *full_height = h;
    if ((rc = di_io_check_dims(w, h, name, err)) != DI_OK) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    /* A Huffman-coded scan spends at least one bit on every block's DC
    ** coefficient, so a file smaller than that cannot hold the declared
    ** image: refuse before allocating and decompressing (arithmetic coding
    ** has no such floor). */
    if (!cinfo.arith_code) {
        uint64_t blocks = 0;
        for (int i = 0; i < cinfo.num_components; i++) {
            uint64_t b = (uint64_t)cinfo.comp_info[i].width_in_blocks *
                         cinfo.comp_info[i].height_in_blocks;
            if (b > blocks)
                blocks = b;
        }
        if (blocks > (uint64_t)size * 8) {
            jpeg_destroy_decompress(&cinfo);
            return di_fail(err, DI_EFORMAT,
                           "%s: JPEG declares %dx%d pixels, more than its %zu bytes can hold (truncated or corrupt)",
                           name, w, h, size);
        }
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cinfo.num_components != 1 && cinfo.num_components != 3 && !cmyk) {
        jpeg_destroy_decompress(&cinfo);
        return di_fail(err, DI_EUNSUPPORTED, "%s: JPEG with %d colour components",
                       name, cinfo.num_components);
    }
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    /* The smallest DCT scale n/8 whose output still covers the minimum,
    ** among n = 1, 2, 4, 8: libjpeg-turbo has SIMD code for those, while
    ** 3/8, 5/8, 6/8 and 7/8 run plain C and cost more than a full decode
    ** (measured by bench/run-io.sh). */
    unsigned num = 8;
    if (min_width > 0 || min_height > 0) {
        for (num = 1; num < 8; num *= 2) {
            uint64_t ow = ((uint64_t)w * num + 7) / 8, oh = ((uint64_t)h * num + 7) / 8;
            if (ow >= (uint64_t)(min_width > 0 ? min_width : 0) &&
                oh >= (uint64_t)(min_height > 0 ? min_height : 0))
                break;
        }
    }
    cinfo.scale_num = num;
    cinfo.scale_denom = 8;
    jpeg_start_decompress(&cinfo);
    int ow = (int)cinfo.output_width, oh = (int)cinfo.output_height;
    size_t stride = (size_t)ow * 3;
    size_t need = stride * (size_t)oh;
    if (reuse && *reuse && *reuse_cap >= need) {
        pixels = *reuse;
    } else {
        pixels = malloc(need);
        pixels_owned = 1;
    }
    if (cmyk)
        row4 = malloc((size_t)ow * 4);
    if (!pixels || (cmyk && !row4)) {
        if (pixels_owned)
            free(pixels);
        free(row4);
        jpeg_destroy_decompress(&cinfo);
        return di_fail(err, DI_ENOMEM, "%s: out of memory for %dx%d pixels", name, ow, oh);
    }
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *row = pixels + stride * cinfo.output_scanline;
        JSAMPROW rows[1] = {cmyk ? row4 : row};
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1)
            break;
        if (cmyk)
            cmyk_to_rgb(row4, row, ow, inverted);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row4);
    if (reuse && pixels_owned) {
        free(*reuse);
        *reuse = pixels;
        *reuse_cap = need;
    }
    out->width = ow;
    out->height = oh;
    out->channels = 3;
    out->data = pixels;
    return DI_OK;
}

int di_jpeg_read_size_mem(const uint8_t *data, size_t size, const char *name,
                          int *width, int *height, di_error *err)
{
    return read_size(data, size, DI_IO_NAME(name), width, height, err);
}

int di_jpeg_decode_mem(const uint8_t *data, size_t size, const char *name,
                       int min_width, int min_height, di_image *out,
                       int *full_width, int *full_height, di_error *err)
{
    return decode(data, size, DI_IO_NAME(name), min_width, min_height, out,
                  full_width, full_height, NULL, NULL, err);
}

int di_jpeg_decode_reuse(const uint8_t *data, size_t size, const char *name,
                         int min_width, int min_height, uint8_t **buf,
                         size_t *cap, di_image *out, int *full_width,
                         int *full_height, di_error *err)
{
    return decode(data, size, DI_IO_NAME(name), min_width, min_height, out,
                  full_width, full_height, buf, cap, err);
}

int di_jpeg_write(const char *path, const di_image *img, int quality,
                  di_error *err)
{
    if (img->channels != 1 && img->channels != 3)
        return di_fail(err, DI_EINVAL, "%s: cannot write a JPEG with %d channels",
                       path, img->channels);
    if (img->width <= 0 || img->height <= 0 || img->width > 65500 ||
        img->height > 65500)
        return di_fail(err, DI_EINVAL, "%s: cannot write a JPEG of %dx%d pixels",
                       path, img->width, img->height);
    if (quality < 1 || quality > 100)
        return di_fail(err, DI_EINVAL, "%s: JPEG quality %d is not in 1..100", path,
                       quality);
    struct jpeg_compress_struct cinfo;
    jerr_ctx jerr;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    cinfo.err = &jerr.pub;
    setup_errors(&jerr);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return di_fail(err, DI_EINVAL, "%s: JPEG encoding failed: %s", path, jerr.msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buf, &len);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->channels;
    cinfo.in_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(img->data + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    int rc = di_io_write_file(path, buf, len, err);
    free(buf);
    return rc;
}

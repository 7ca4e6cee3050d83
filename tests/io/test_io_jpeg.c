/*
** test_io_jpeg.c: the JPEG decoder and writer on real JPEGs made by
** libjpeg-turbo, and on bad ones: truncated, corrupt scan data, not a JPEG,
** empty, absurd declared sizes. Every failure has the right code, names the
** file, and libjpeg prints nothing (stderr is captured and checked).
** Grey and CMYK JPEGs come out as RGB; DCT scaling picks the smallest scale
** that covers the requested size.
*/
#include "check.h"
#include "io/io.h"
#include "testutil.h"

#include <fcntl.h>
#include <jpeglib.h>

/* A smooth test picture. */
static void picture(uint8_t *rgb, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)((x + y) * 127 / (w + h));
        }
}

static uint8_t *load(const char *path, size_t *n)
{
    uint8_t *b = tu_read(path, n);
    if (!b) {
        perror(path);
        exit(1);
    }
    return b;
}

static void expect_fail(const uint8_t *b, size_t n, const char *name, int code,
                        const char *needle)
{
    di_image img;
    di_error e = {0};
    int rc = di_jpeg_decode_mem(b, n, name, 0, 0, &img, NULL, NULL, &e);
    CHECKF(rc == code, "%s: got %d (%s), want %d", name, rc, e.msg, code);
    CHECKF(strstr(e.msg, name) != NULL, "message does not name the file: %s", e.msg);
    if (needle)
        CHECKF(strstr(e.msg, needle) != NULL, "message '%s' lacks '%s'", e.msg, needle);
    CHECK(img.data == NULL);
    /* Into a kept buffer: the same refusal, and the buffer stays usable. */
    uint8_t *buf = malloc(16);
    size_t cap = 16;
    CHECK(di_jpeg_decode_reuse(b, n, name, 0, 0, &buf, &cap, &img, NULL, NULL, &e) == code);
    CHECK(buf != NULL && cap >= 16);
    free(buf);
}

/* Offset of the SOF0/SOF2 segment's height field. */
static size_t sof_offset(const uint8_t *b, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (b[i] == 0xff && (b[i + 1] == 0xc0 || b[i + 1] == 0xc2))
            return i + 5;
    return 0;
}

static void write_cmyk(const char *path, int w, int h, const uint8_t cmyk[4])
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * 4);
    for (int x = 0; x < w; x++)
        memcpy(row + 4 * x, cmyk, 4);
    while (c.next_scanline < c.image_height)
        jpeg_write_scanlines(&c, &row, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

int main(void)
{
    tu_mkdir();
    /* Capture stderr: libjpeg must print nothing. */
    const char *errlog = tu_path("stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);

    di_error e = {0};
    enum { W = 203, H = 141 };
    uint8_t rgb[W * H * 3];
    picture(rgb, W, H);
    di_image src = {W, H, 3, rgb};
    const char *p = tu_path("a.jpg");
    CHECK(di_jpeg_write(p, &src, 95, &e) == 0);
    size_t n;
    uint8_t *b = load(p, &n);

    /* Full decode. */
    di_image img;
    int fw, fh;
    CHECK(di_jpeg_decode_mem(b, n, p, 0, 0, &img, &fw, &fh, &e) == 0);
    CHECK(img.width == W && img.height == H && img.channels == 3 && fw == W && fh == H);
    int maxd = 0;
    for (size_t i = 0; i < sizeof rgb && img.data; i++) {
        int d = abs((int)img.data[i] - rgb[i]);
        maxd = d > maxd ? d : maxd;
    }
    CHECKF(maxd <= 8, "max difference %d", maxd);
    di_image_free(&img);
    int sw, sh;
    CHECK(di_jpeg_read_size_mem(b, n, p, &sw, &sh, &e) == 0 && sw == W && sh == H);

    /* DCT scaling: the smallest of 1/8, 2/8, 4/8, 8/8 that covers the request. */
    struct { int mw, mh, ow, oh; } sc[] = {
        {1, 1, 26, 18},        /* 1/8 */
        {26, 18, 26, 18},      /* exactly 1/8 */
        {27, 1, 51, 36},       /* 2/8 */
        {100, 50, 102, 71},    /* 4/8 */
        {0, 71, 102, 71},      /* height only */
        {0, 72, W, H},         /* more than half: full */
        {170, 10, W, H},       /* 7/8 would do, but 3/8..7/8 are not used */
        {52, 10, 102, 71},     /* 3/8 would do: 4/8 */
        {W, H, W, H},          /* full */
        {W + 1, H + 1, W, H},  /* more than full: full */
    };
    uint8_t *kept = NULL;
    size_t kept_cap = 0;
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        CHECK(di_jpeg_decode_mem(b, n, p, sc[i].mw, sc[i].mh, &img, &fw, &fh, &e) == 0);
        CHECKF(img.width == sc[i].ow && img.height == sc[i].oh, "min %dx%d gave %dx%d",
               sc[i].mw, sc[i].mh, img.width, img.height);
        CHECK(fw == W && fh == H);
        /* Into a kept buffer (growing and shrinking): the same pixels. */
        di_image k;
        int kw, kh;
        CHECK(di_jpeg_decode_reuse(b, n, p, sc[i].mw, sc[i].mh, &kept, &kept_cap, &k,
                                   &kw, &kh, &e) == 0);
        CHECK(k.data == kept && kw == W && kh == H && k.width == img.width &&
              k.height == img.height && k.channels == 3 &&
              kept_cap >= (size_t)k.width * k.height * 3 &&
              memcmp(k.data, img.data, (size_t)k.width * k.height * 3) == 0);
        di_image_free(&img);
    }
    free(kept);

    /* Grey JPEG -> RGB with equal channels. */
    uint8_t grey[W * H];
    for (int i = 0; i < W * H; i++)
        grey[i] = rgb[3 * i];
    di_image gsrc = {W, H, 1, grey};
    const char *pg = tu_path("g.jpg");
    CHECK(di_jpeg_write(pg, &gsrc, 90, &e) == 0);
    size_t gn;
    uint8_t *gb = load(pg, &gn);
    CHECK(di_jpeg_decode_mem(gb, gn, pg, 0, 0, &img, NULL, NULL, &e) == 0);
    CHECK(img.channels == 3 && img.width == W);
    int equal = 1;
    for (int i = 0; i < W * H && img.data; i++)
        equal &= img.data[3 * i] == img.data[3 * i + 1] && img.data[3 * i] == img.data[3 * i + 2] &&
                 abs(img.data[3 * i] - grey[i]) <= 6;
    CHECK(equal);
    di_image_free(&img);
    free(gb);

    /* CMYK, stored inverted as Adobe software does (libjpeg writes an Adobe
    ** marker for CMYK): no cyan, full magenta, half yellow, no black. */
    const uint8_t cmyk[4] = {255, 0, 128, 255};
    const char *pc = tu_path("cmyk.jpg");
    write_cmyk(pc, 16, 16, cmyk);
    size_t cn;
    uint8_t *cb = load(pc, &cn);
    CHECK(di_jpeg_decode_mem(cb, cn, pc, 0, 0, &img, NULL, NULL, &e) == 0);
    if (img.data)
        CHECKF(abs(img.data[0] - 255) <= 3 && abs(img.data[1] - 0) <= 3 &&
                   abs(img.data[2] - 127) <= 3,
               "CMYK pixel %d %d %d", img.data[0], img.data[1], img.data[2]);
    di_image_free(&img);
    free(cb);

    /* Bad input. */
    expect_fail(b, n / 2, "half.jpg", DI_EFORMAT, "Premature end");
    expect_fail(b, n - 2, "noeoi.jpg", DI_EFORMAT, NULL);
    expect_fail(b, 200, "short.jpg", DI_EFORMAT, NULL);
    expect_fail(b, 2, "two.jpg", DI_EFORMAT, "not a JPEG");
    expect_fail(b, 0, "empty.jpg", DI_EFORMAT, "empty");
    expect_fail((const uint8_t *)"\x89PNG\r\n\x1a\n....", 12, "png.jpg", DI_EFORMAT, "not a JPEG");
    {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        for (size_t i = n / 3; i < n / 3 + 64; i++)
            c[i] = 0xff; /* markers in the middle of the scan */
        expect_fail(c, n, "corrupt.jpg", DI_EFORMAT, NULL);
        memcpy(c, b, n);
        size_t s = sof_offset(c, n);
        CHECK(s > 0);
        c[s] = 0xfd, c[s + 1] = 0xe8, c[s + 2] = 0xfd, c[s + 3] = 0xe8; /* 65000 x 65000 */
        expect_fail(c, n, "absurd.jpg", DI_ENOMEM, "exceeds");
        int aw, ah;
        CHECK(di_jpeg_read_size_mem(c, n, "absurd.jpg", &aw, &ah, &e) == 0 && aw == 65000);
        c[s] = 0x3e, c[s + 1] = 0x80, c[s + 2] = 0x3e, c[s + 3] = 0x80; /* 16000 x 16000 */
        expect_fail(c, n, "big.jpg", DI_EFORMAT, "more than its");
        c[s] = 0, c[s + 1] = 0; /* height 0 */
        expect_fail(c, n, "zero.jpg", DI_EFORMAT, NULL);
        free(c);
    }
    /* Writer errors. */
    CHECK(di_jpeg_write(tu_path("no/dir/x.jpg"), &src, 90, &e) == DI_EIO);
    CHECK(strstr(e.msg, "no/dir/x.jpg") != NULL);
    CHECK(di_jpeg_write(tu_path("q.jpg"), &src, 0, &e) == DI_EINVAL);
    di_image two = {W, H, 2, rgb};
    CHECK(di_jpeg_write(tu_path("c.jpg"), &two, 90, &e) == DI_EINVAL);
    free(b);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t en;
    uint8_t *eb = load(errlog, &en);
    CHECKF(en == 0, "libjpeg printed: %.*s", (int)en, (const char *)eb);
    free(eb);
    tu_cleanup();
    return check_summary();
}

/*
** test_io_depth.c: depth readers (PNG, NPY, PFM) and writers: round trips,
** every supported variant, and bad input (truncated, corrupt, colour, bad
** header or dtype, absurd sizes, NaN/Inf, empty file, directory), each with
** the right code and a message naming the file.
*/
#include "check.h"
#include "io/io.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <zlib.h>

static di_depth_reader *reader;

static int expect_fail(const char *path, int code, const char *needle)
{
    di_depth d = {0};
    di_error e = {0};
    /* The reusable reader (checked) refuses it the same way. */
    const float *px = (const float *)1;
    int rw = -1, rh = -1;
    int rrc = di_depth_reader_read(reader, path, 0, &px, &rw, &rh, &e);
    CHECKF(rrc == code, "reader: %s: got %d (%s), want %d", path, rrc, e.msg, code);
    CHECKF(strstr(e.msg, path) != NULL, "reader: message does not name the file: %s", e.msg);
    CHECK(px == NULL && rw == 0 && rh == 0);
    int rc = di_depth_read(path, &d, &e);
    CHECKF(rc == code, "%s: got %d (%s), want %d", path, rc, e.msg, code);
    CHECKF(strstr(e.msg, path) != NULL, "message does not name the file: %s", e.msg);
    if (needle)
        CHECKF(strstr(e.msg, needle) != NULL, "message '%s' lacks '%s'", e.msg, needle);
    CHECK(d.data == NULL);
    di_depth_free(&d);
    return rc;
}

/* An NPY file from its parts (version 1.0). */
static const char *make_npy(const char *name, const char *dict, const void *payload,
                            size_t n)
{
    size_t dl = strlen(dict);
    size_t total = (10 + dl + 1 + 63) / 64 * 64;
    uint8_t *b = calloc(1, total + n);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)((total - 10) & 0xff);
    b[9] = (uint8_t)((total - 10) >> 8);
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', total - 10 - dl - 1);
    b[total - 1] = '\n';
    if (n)
        memcpy(b + total, payload, n);
    const char *p = tu_write(name, b, total + n);
    free(b);
    return p;
}

static void test_npy(void)
{
    di_error e = {0};
    di_depth d = {0};
    /* float32 round trip through our writer. */
    float v[6] = {1.5f, 2, 3, 4, 5, 6.25f};
    int64_t dims[2] = {2, 3};
    const char *p = tu_path("rt.npy");
    CHECK(di_npy_write_f32(p, v, dims, 2, &e) == 0);
    CHECK(di_depth_read(p, &d, &e) == 0);
    CHECK(d.width == 3 && d.height == 2);
    CHECK(d.data && memcmp(d.data, v, sizeof v) == 0);
    di_depth_free(&d);
    di_tensor t;
    CHECK(di_npy_read_tensor(p, &t, &e) == 0);
    CHECK(t.ndim == 2 && t.dims[0] == 2 && t.dims[1] == 3);
    CHECK(t.data && memcmp(t.data, v, sizeof v) == 0);
    di_tensor_free(&t);
    /* 4-D tensor and a 1-D one. */
    float big[2 * 3 * 2 * 2];
    for (int i = 0; i < 24; i++)
        big[i] = (float)i * 0.5f;
    int64_t d4[4] = {2, 3, 2, 2};
    p = tu_path("t4.npy");
    CHECK(di_npy_write_f32(p, big, d4, 4, &e) == 0);
    CHECK(di_npy_read_tensor(p, &t, &e) == 0);
    CHECK(t.ndim == 4 && t.dims[3] == 2 && memcmp(t.data, big, sizeof big) == 0);
    di_tensor_free(&t);
    int64_t d1[1] = {5};
    p = tu_path("t1.npy");
    CHECK(di_npy_write_f32(p, big, d1, 1, &e) == 0);
    CHECK(di_npy_read_tensor(p, &t, &e) == 0);
    CHECK(t.ndim == 1 && t.dims[0] == 5 && t.data[4] == 2.0f);
    di_tensor_free(&t);

    /* dtypes and byte orders. */
    uint8_t u8[6] = {0, 1, 2, 253, 254, 255};
    p = make_npy("u1.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", u8, 6);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.data[3] == 253.0f && d.data[5] == 255.0f);
    di_depth_free(&d);
    uint8_t u16be[4] = {0x12, 0x34, 0xff, 0xfe};
    p = make_npy("u2be.npy", "{'descr': '>u2', 'fortran_order': False, 'shape': (1, 2), }", u16be, 4);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.data[0] == 0x1234 && d.data[1] == 0xfffe);
    di_depth_free(&d);
    uint8_t u16le[4] = {0x34, 0x12, 0xfe, 0xff};
    p = make_npy("u2le.npy", "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 1), }", u16le, 4);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.width == 1 && d.height == 2 &&
          d.data[0] == 0x1234 && d.data[1] == 0xfffe);
    di_depth_free(&d);
    double f8[3] = {0.25, -7.5, 1e10};
    p = make_npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 3), }", f8, sizeof f8);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.width == 3 && d.height == 1 &&
          d.data[1] == -7.5f && d.data[2] == 1e10f);
    di_depth_free(&d);
    uint8_t f4be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0}; /* 1.0, -2.0 */
    p = make_npy("f4be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 1, 1), }", f4be, 8);
    /* 2x1x1 is HxWx1. */
    CHECK(di_depth_read(p, &d, &e) == 0 && d.height == 2 && d.width == 1 &&
          d.data[0] == 1.0f && d.data[1] == -2.0f);
    di_depth_free(&d);
    /* Fortran order: file holds columns. (2, 3) array [[0,1,2],[3,4,5]]. */
    float fo[6] = {0, 3, 1, 4, 2, 5};
    p = make_npy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", fo, sizeof fo);
    CHECK(di_depth_read(p, &d, &e) == 0);
    for (int i = 0; i < 6 && d.data; i++)
        CHECK(d.data[i] == (float)i);
    di_depth_free(&d);
    CHECK(di_npy_read_tensor(p, &t, &e) == 0);
    for (int i = 0; i < 6 && t.data; i++)
        CHECK(t.data[i] == (float)i);
    di_tensor_free(&t);
    /* Version 2.0 header. */
    {
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
        size_t dl = strlen(dict), total = (12 + dl + 1 + 63) / 64 * 64;
        uint8_t b[256] = {0};
        memcpy(b, "\x93NUMPY\x02\x00", 8);
        uint32_t hl = (uint32_t)(total - 12);
        b[8] = (uint8_t)hl, b[9] = (uint8_t)(hl >> 8), b[10] = 0, b[11] = 0;
        memcpy(b + 12, dict, dl);
        memset(b + 12 + dl, ' ', total - 12 - dl - 1);
        b[total - 1] = '\n';
        float two[2] = {9, 8};
        memcpy(b + total, two, 8);
        p = tu_write("v2.npy", b, total + 8);
        CHECK(di_depth_read(p, &d, &e) == 0 && d.data[1] == 8.0f);
        di_depth_free(&d);
    }

    /* Bad input. */
    expect_fail(tu_write("magic.npy", "\x93NUMPX\x01\x00\x10\x00{}", 12), DI_EFORMAT, NULL);
    expect_fail(make_npy("hdr.npy", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1), }", v, 4),
                DI_EFORMAT, "header");
    expect_fail(make_npy("hdr2.npy", "{'descr': '<f4' 'shape': (1, 1), }", v, 4), DI_EFORMAT, "header");
    expect_fail(make_npy("hdr3.npy", "{'descr': '<f4', 'shape': (1, 1), }", v, 4), DI_EFORMAT,
                "fortran_order");
    expect_fail(make_npy("dtype.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }", v, 8),
                DI_EUNSUPPORTED, "<c8");
    expect_fail(make_npy("dtype2.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }", v, 4),
                DI_EUNSUPPORTED, "<i4");
    p = make_npy("shape3.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1), }", v, 24);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.width == 3 && d.height == 2 && d.data[5] == v[5]);
    di_depth_free(&d);
    expect_fail(make_npy("shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", big, 32),
                DI_ESHAPE, "2x2x2");
    expect_fail(make_npy("shape1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", v, 24),
                DI_ESHAPE, NULL);
    expect_fail(make_npy("size.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v, 20),
                DI_EFORMAT, "truncated");
    expect_fail(make_npy("size2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", v, 8),
                DI_EFORMAT, NULL);
    expect_fail(make_npy("absurd.npy",
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }", v, 4),
                DI_ENOMEM, NULL);
    expect_fail(make_npy("absurd2.npy",
                         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }", v, 4),
                DI_EFORMAT, NULL);
    expect_fail(make_npy("zero.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", v, 0),
                DI_EFORMAT, "empty");
    {
        uint8_t hdr[12];
        memcpy(hdr, "\x93NUMPY\x01\x00\xff\x00{'", 12);
        expect_fail(tu_write("trunchdr.npy", hdr, 12), DI_EFORMAT, "truncated");
    }
    float nanv[6] = {1, 2, 3, 4, 5, NAN};
    expect_fail(make_npy("nan.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", nanv, 24),
                DI_EFORMAT, "x=2 y=1");
    double infv[2] = {1, -INFINITY};
    expect_fail(make_npy("inf.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", infv, 16),
                DI_EFORMAT, "-Inf");
    double hugev[1] = {1e300}; /* finite double, not a finite float */
    expect_fail(make_npy("huge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", hugev, 8),
                DI_EFORMAT, "Inf");
}

static void test_png(void)
{
    di_error e = {0};
    di_depth d = {0};
    enum { W = 37, H = 11 };
    uint8_t g[W * H];
    uint16_t g16[W * H];
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H; i++) {
        g[i] = (uint8_t)(i * 7);
        g16[i] = (uint16_t)(i * 163 + 1);
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)i;
    }
    const char *p8 = tu_path("g8.png");
    CHECK(di_png_write(p8, g, W, H, 1, &e) == 0);
    CHECK(di_depth_read(p8, &d, &e) == 0 && d.width == W && d.height == H);
    for (int i = 0; i < W * H && d.data; i++)
        CHECK(d.data[i] == g[i]);
    di_depth_free(&d);
    const char *p16 = tu_path("g16.png");
    CHECK(di_png_write16(p16, g16, W, H, &e) == 0);
    CHECK(di_depth_read(p16, &d, &e) == 0 && d.width == W && d.height == H);
    int same = 1;
    for (int i = 0; i < W * H && d.data; i++)
        same &= d.data[i] == g16[i];
    CHECK(same);
    di_depth_free(&d);
    const char *prgb = tu_path("rgb.png");
    CHECK(di_png_write(prgb, rgb, W, H, 3, &e) == 0);
    expect_fail(prgb, DI_EUNSUPPORTED, "RGB");
    uint8_t rgba[4 * 4] = {0};
    const char *prgba = tu_path("rgba.png");
    CHECK(di_png_write(prgba, rgba, 2, 2, 4, &e) == 0);
    expect_fail(prgba, DI_EUNSUPPORTED, "RGBA");
    CHECK(di_png_write(tu_path("x.png"), g, W, H, 2, &e) == DI_EINVAL);

    /* Truncated and corrupt. */
    size_t n;
    uint8_t *b = tu_read(p16, &n);
    expect_fail(tu_write("trunc.png", b, n / 2), DI_EFORMAT, NULL);
    expect_fail(tu_write("trunc2.png", b, 20), DI_EFORMAT, NULL);
    expect_fail(tu_write("sigonly.png", b, 8), DI_EFORMAT, NULL);
    b[n / 2] ^= 0x55; /* inside IDAT: the CRC no longer matches */
    expect_fail(tu_write("corrupt.png", b, n), DI_EFORMAT, NULL);
    free(b);

    /* An IHDR declaring absurd sizes, with a valid CRC. */
    struct { uint32_t w, h; int code; } cases[] = {
        {1000000000u, 1000000000u, DI_ENOMEM},
        {16384, 16384, DI_EFORMAT}, /* within the limit, but 60 bytes cannot hold it */
        {0, 5, DI_EFORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                    0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        uint8_t *ih = png + 16;
        for (int k = 0; k < 4; k++) {
            ih[k] = (uint8_t)(cases[c].w >> (24 - 8 * k));
            ih[4 + k] = (uint8_t)(cases[c].h >> (24 - 8 * k));
        }
        ih[8] = 8; /* bit depth; colour type 0 */
        uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
        for (int k = 0; k < 4; k++)
            png[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
        memcpy(png + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
        char name[32];
        snprintf(name, sizeof name, "absurd%zu.png", c);
        expect_fail(tu_write(name, png, sizeof png), cases[c].code, NULL);
    }

    /* Writing: a missing directory, and a full disk. */
    e.code = 0;
    const char *missing = tu_path("no/such/dir/x.png");
    CHECK(di_png_write(missing, g, W, H, 1, &e) == DI_EIO);
    CHECK(strstr(e.msg, missing) != NULL);
    if (access("/dev/full", W_OK) == 0) {
        CHECK(di_png_write("/dev/full", g, W, H, 1, &e) == DI_ENOSPC);
        CHECK(strstr(e.msg, "/dev/full") != NULL);
        int64_t dd[2] = {H, W};
        float f[W * H] = {0};
        CHECK(di_npy_write_f32("/dev/full", f, dd, 2, &e) == DI_ENOSPC);
    }
    /* No temporary file is left behind by a failed or successful write. */
    DIR *dir = opendir(tu_dir);
    int tmp_left = 0;
    for (struct dirent *de; dir && (de = readdir(dir));)
        tmp_left += strstr(de->d_name, ".tmp") != NULL;
    if (dir)
        closedir(dir);
    CHECK(dir != NULL && tmp_left == 0);
}

static void test_pfm(void)
{
    di_error e = {0};
    di_depth d = {0};
    float v[6] = {1, 2, 3, 4, 5, 6}; /* rows top to bottom: [1 2 3] [4 5 6] */
    const char *p = tu_path("a.pfm");
    CHECK(di_pfm_write(p, v, 3, 2, &e) == 0);
    size_t n;
    uint8_t *b = tu_read(p, &n);
    CHECK(b && n > 24 && memcmp(b, "Pf\n3 2\n-1.0\n", 12) == 0);
    float first;
    memcpy(&first, b + 12, 4); /* the file starts with the bottom row */
    CHECK(first == 4.0f);
    free(b);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.width == 3 && d.height == 2 &&
          memcmp(d.data, v, sizeof v) == 0);
    di_depth_free(&d);
    /* Big-endian (positive scale), spaces instead of newlines. */
    uint8_t be[11 + 8] = "Pf 2 1 1.0\n";
    uint8_t vals[8] = {0x3f, 0x80, 0, 0, 0x41, 0x20, 0, 0}; /* 1, 10 */
    memcpy(be + 11, vals, 8);
    p = tu_write("be.pfm", be, 19);
    CHECK(di_depth_read(p, &d, &e) == 0 && d.data[0] == 1.0f && d.data[1] == 10.0f);
    di_depth_free(&d);

    expect_fail(tu_write("colour.pfm", "PF\n1 1\n-1\n\0\0\0\0\0\0\0\0\0\0\0\0", 22), DI_EUNSUPPORTED,
                "colour");
    expect_fail(tu_write("hdr.pfm", "Pf\n1", 4), DI_EFORMAT, NULL);
    expect_fail(tu_write("scale.pfm", "Pf\n1 1\n0\n\0\0\0\0", 14), DI_EFORMAT, "scale");
    expect_fail(tu_write("size.pfm", "Pf\n-1 1\n-1\n\0\0\0\0", 15), DI_EFORMAT, NULL);
    expect_fail(tu_write("trunc.pfm", "Pf\n2 2\n-1\n\0\0\0\0", 14), DI_EFORMAT, "truncated");
    expect_fail(tu_write("absurd.pfm", "Pf\n1000000000 1000000000\n-1\n\0\0\0\0", 32), DI_ENOMEM, NULL);
    uint8_t nanf[10 + 8] = "Pf\n2 1\n-1\n";
    float nv[2] = {3, NAN};
    memcpy(nanf + 10, nv, 8);
    expect_fail(tu_write("nan.pfm", nanf, 18), DI_EFORMAT, "NaN");
}

static void test_generic(void)
{
    expect_fail(tu_write("empty.png", "", 0), DI_EFORMAT, "empty");
    expect_fail(tu_write("empty.npy", "", 0), DI_EFORMAT, "empty");
    expect_fail(tu_dir, DI_EIO, "directory");
    expect_fail(tu_path("does-not-exist.npy"), DI_EIO, NULL);
    expect_fail(tu_write("text.npy", "hello world", 11), DI_EFORMAT, "not a depth map");
    expect_fail(tu_write("jpeg.png", "\xff\xd8\xff\xe0\0\x10JFIF", 10), DI_EFORMAT, "JPEG");
    /* The memory readers without a name still give a message. */
    di_depth d;
    di_error e = {0};
    CHECK(di_depth_read_mem((const uint8_t *)"x", 1, NULL, &d, &e) == DI_EFORMAT);
    CHECK(strstr(e.msg, "<memory>") != NULL);
}

/* The reusable reader gives what di_depth_read gives, for every file the
** other tests wrote (in directory order, so its buffers grow and shrink),
** and leaves non-finite values to the caller when asked to. */
static void test_reader(void)
{
    di_error e = {0};
    /* A float32 payload at an offset that is not a multiple of 4: copied. */
    {
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }";
        size_t dl = strlen(dict), total = 10 + dl + 2; /* not padded */
        CHECK(total % 4 != 0);
        uint8_t b[256] = {0};
        memcpy(b, "\x93NUMPY\x01\x00", 8);
        b[8] = (uint8_t)(total - 10);
        memcpy(b + 10, dict, dl);
        b[total - 2] = ' ';
        b[total - 1] = '\n';
        float three[3] = {1.25f, -2, 3e7f};
        memcpy(b + total, three, sizeof three);
        tu_write("unaligned.npy", b, total + sizeof three);
    }
    DIR *dir = opendir(tu_dir);
    CHECK(dir != NULL);
    struct dirent *de;
    int compared = 0;
    while (dir && (de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tu_dir, de->d_name);
        di_depth d = {0};
        int rc = di_depth_read(path, &d, &e);
        const float *px;
        int w, h;
        int rrc = di_depth_reader_read(reader, path, 0, &px, &w, &h, &e);
        CHECKF(rc == rrc, "%s: di_depth_read %d, reader %d (%s)", path, rc, rrc, e.msg);
        if (rc == DI_OK && rrc == DI_OK) {
            CHECKF(w == d.width && h == d.height &&
                   memcmp(px, d.data, sizeof(float) * (size_t)w * (size_t)h) == 0,
                   "%s: reader's pixels differ", path);
            compared++;
        }
        di_depth_free(&d);
    }
    if (dir)
        closedir(dir);
    CHECKF(compared >= 12, "only %d files compared", compared);
    /* Unchecked: the NaN comes through for the caller to refuse. */
    const float *px;
    int w, h;
    CHECK(di_depth_reader_read(reader, tu_path("nan.npy"), DI_DEPTH_UNCHECKED,
                               &px, &w, &h, &e) == DI_OK);
    CHECK(w == 3 && h == 2 && isnan(px[5]) && px[4] == 5.0f);
    CHECK(di_depth_reader_read(reader, tu_path("inf.npy"), DI_DEPTH_UNCHECKED,
                               &px, &w, &h, &e) == DI_OK);
    CHECK(w == 2 && h == 1 && isinf(px[1]));
    CHECK(di_depth_reader_read(reader, tu_path("nan.npy"), 0, &px, &w, &h, &e) ==
          DI_EFORMAT);
    CHECK(di_depth_reader_read(reader, tu_path("unaligned.npy"), 0, &px, &w, &h,
                               &e) == DI_OK);
    CHECK(w == 3 && h == 1 && px[0] == 1.25f && px[2] == 3e7f);
}

int main(void)
{
    tu_mkdir();
    reader = di_depth_reader_create();
    CHECK(reader != NULL);
    test_npy();
    test_png();
    test_pfm();
    test_generic();
    test_reader();
    di_depth_reader_destroy(reader);
    tu_cleanup();
    return check_summary();
}

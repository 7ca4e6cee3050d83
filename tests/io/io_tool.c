/*
** io_tool.c: a small command-line door into src/io and the resizer, for the
** Python oracle test (test_io_oracle.py): it reads and writes files with our
** code so that numpy and OpenCV can check them. Tensors travel as float32 NPY.
**   io_tool depth IN OUT.npy            any depth map -> HxW float32
**   io_tool resize IN.npy DW DH OUT.npy bilinear, float32 HxW
**   io_tool resize8 IN.npy DW DH OUT.npy bilinear, uint8 HxW or HxWxC
**   io_tool jpeg IN.jpg MINW MINH OUT.npy  decode (DCT scaling) -> HxWx3; prints full size
**   io_tool jpegw IN.npy QUALITY OUT.jpg   HxW or HxWx3 uint8 values
**   io_tool png IN.npy OUT.png             HxW, HxWx3 or HxWx4 uint8 values
**   io_tool png16 IN.npy OUT.png           HxW uint16 values
**   io_tool pfm IN.npy OUT.pfm
** Exit status 0 on success, 1 with the error message on stderr.
*/
#include "imgproc/imgproc.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const di_error *e)
{
    fprintf(stderr, "%s (%s)\n", e->msg, di_status_name(e->code));
    return 1;
}

static uint8_t *to_u8(const di_tensor *t, size_t n)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)t->data[i];
    return b;
}

int main(int argc, char **argv)
{
    di_error e = {0};
    if (argc < 3)
        return 2;
    const char *cmd = argv[1];
    if (strcmp(cmd, "depth") == 0 && argc == 4) {
        di_depth d;
        if (di_depth_read(argv[2], &d, &e))
            return fail(&e);
        int64_t dims[2] = {d.height, d.width};
        int rc = di_npy_write_f32(argv[3], d.data, dims, 2, &e);
        di_depth_free(&d);
        return rc ? fail(&e) : 0;
    }
    if (strcmp(cmd, "jpeg") == 0 && argc == 6) {
        uint8_t *buf;
        size_t n;
        if (di_read_file(argv[2], DI_IO_MAX_FILE_BYTES, &buf, &n, &e))
            return fail(&e);
        di_image img;
        int fw, fh;
        int rc = di_jpeg_decode_mem(buf, n, argv[2], atoi(argv[3]), atoi(argv[4]), &img,
                                    &fw, &fh, &e);
        free(buf);
        if (rc)
            return fail(&e);
        size_t px = (size_t)img.width * img.height * 3;
        float *f = malloc(px * sizeof(float));
        for (size_t i = 0; i < px; i++)
            f[i] = img.data[i];
        int64_t dims[3] = {img.height, img.width, 3};
        rc = di_npy_write_f32(argv[5], f, dims, 3, &e);
        free(f);
        di_image_free(&img);
        printf("%d %d\n", fw, fh);
        return rc ? fail(&e) : 0;
    }
    di_tensor t;
    if (di_npy_read_tensor(argv[2], &t, &e))
        return fail(&e);
    int rc = 0;
    int h = t.ndim >= 2 ? (int)t.dims[0] : 0, w = t.ndim >= 2 ? (int)t.dims[1] : 0;
    int c = t.ndim == 3 ? (int)t.dims[2] : 1;
    size_t n = (size_t)w * h * c;
    if (strcmp(cmd, "resize") == 0 && argc == 6 && t.ndim == 2) {
        int dw = atoi(argv[3]), dh = atoi(argv[4]);
        float *out = malloc((size_t)dw * dh * sizeof(float));
        di_resize_bilinear_f32(t.data, w, h, out, dw, dh);
        int64_t dims[2] = {dh, dw};
        rc = di_npy_write_f32(argv[5], out, dims, 2, &e);
        free(out);
    } else if (strcmp(cmd, "resize8") == 0 && argc == 6) {
        int dw = atoi(argv[3]), dh = atoi(argv[4]);
        uint8_t *in = to_u8(&t, n), *out = malloc((size_t)dw * dh * c);
        di_resize_bilinear_u8(in, w, h, c, out, dw, dh);
        float *f = malloc((size_t)dw * dh * c * sizeof(float));
        for (size_t i = 0; i < (size_t)dw * dh * c; i++)
            f[i] = out[i];
        int64_t dims[3] = {dh, dw, c};
        rc = di_npy_write_f32(argv[5], f, dims, t.ndim, &e);
        free(in), free(out), free(f);
    } else if (strcmp(cmd, "jpegw") == 0 && argc == 5) {
        di_image img = {w, h, c, to_u8(&t, n)};
        rc = di_jpeg_write(argv[4], &img, atoi(argv[3]), &e);
        free(img.data);
    } else if (strcmp(cmd, "png") == 0 && argc == 4) {
        uint8_t *b = to_u8(&t, n);
        rc = di_png_write(argv[3], b, w, h, c, &e);
        free(b);
    } else if (strcmp(cmd, "png16") == 0 && argc == 4) {
        uint16_t *b = malloc(n * 2);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint16_t)t.data[i];
        rc = di_png_write16(argv[3], b, w, h, &e);
        free(b);
    } else if (strcmp(cmd, "pfm") == 0 && argc == 4) {
        rc = di_pfm_write(argv[3], t.data, w, h, &e);
    } else {
        fprintf(stderr, "io_tool: bad command\n");
        rc = 2;
    }
    di_tensor_free(&t);
    if (rc == 2)
        return 2;
    return rc ? fail(&e) : 0;
}

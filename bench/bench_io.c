/*
** bench_io.c: the per-image costs of src/io, the resizer and the demo
** renderer that the pipeline's decode and post-processing stages pay: JPEG
** decode at full size and with DCT scaling, bilinear resize both ways, depth
** map reads, demo rendering. Median milliseconds of R runs, one thread.
** Usage: bench_io [REPEAT]
*/
#include "demo/demo.h"
#include "imgproc/imgproc.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXR 64

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    return t[n / 2];
}

#define TIME(label, repeat, stmt)                                              \
    do {                                                                       \
        double t_[MAXR];                                                       \
        for (int r_ = 0; r_ < (repeat); r_++) {                                \
            double t0_ = di_now();                                             \
            stmt;                                                              \
            t_[r_] = di_now() - t0_;                                           \
        }                                                                      \
        printf("%-44s %9.3f ms\n", label, 1e3 * median(t_, repeat));          \
    } while (0)

static uint8_t *slurp(const char *path, size_t *n)
{
    di_error e;
    uint8_t *b;
    if (di_read_file(path, DI_IO_MAX_FILE_BYTES, &b, n, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    return b;
}

int main(int argc, char **argv)
{
    int R = argc > 1 ? atoi(argv[1]) : 11;
    if (R < 1 || R > MAXR)
        R = 11;
    char dir[] = "/tmp/di-bench-io-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    di_error e;
    enum { F = 1024 };
    float *depth = malloc(sizeof(float) * F * F);
    uint8_t *rgb = malloc(3 * F * F);
    TIME("demo render 512x512 (depth + RGB)", R, di_demo_render(1, 3, 512, 512, depth, rgb));
    TIME("demo depth 512x512", R, di_demo_depth(1, 3, 512, 512, depth));
    di_demo_render(1, 3, F, F, depth, rgb);
    di_image img = {F, F, 3, rgb};
    snprintf(path, sizeof path, "%s/face.jpg", dir);
    TIME("jpeg write 1024x1024 q92", R, di_jpeg_write(path, &img, 92, &e));
    size_t n;
    uint8_t *jpg = slurp(path, &n);
    di_image out;
    TIME("jpeg decode 1024x1024 full", R,
         (di_jpeg_decode_mem(jpg, n, "face.jpg", 0, 0, &out, NULL, NULL, &e), di_image_free(&out)));
    TIME("jpeg decode 1024 -> 256x256 (DCT 2/8)", R,
         (di_jpeg_decode_mem(jpg, n, "face.jpg", 256, 256, &out, NULL, NULL, &e),
          di_image_free(&out)));
    TIME("jpeg decode 1024 -> 512x512 (DCT 4/8)", R,
         (di_jpeg_decode_mem(jpg, n, "face.jpg", 512, 512, &out, NULL, NULL, &e),
          di_image_free(&out)));
    uint8_t *small = malloc(3 * 384 * 384);
    TIME("resize u8 RGB 1024x1024 -> 256x256", R,
         di_resize_bilinear_u8(rgb, F, F, 3, small, 256, 256));
    TIME("resize u8 RGB 512x512 -> 384x384", R,
         di_resize_bilinear_u8(rgb, 512, 512, 3, small, 384, 384));
    float *model = malloc(sizeof(float) * 256 * 256);
    di_resize_bilinear_f32(depth, F, F, model, 256, 256);
    float *big = malloc(sizeof(float) * 2048 * 2048);
    TIME("resize f32 256x256 -> 1024x1024", R, di_resize_bilinear_f32(model, 256, 256, big, F, F));
    TIME("resize f32 256x256 -> 2048x2048", R,
         di_resize_bilinear_f32(model, 256, 256, big, 2048, 2048));
    /* Depth map reads from memory, 1024x1024. */
    int64_t dims[2] = {F, F};
    snprintf(path, sizeof path, "%s/d.npy", dir);
    di_npy_write_f32(path, depth, dims, 2, &e);
    uint8_t *npy = slurp(path, &n);
    di_depth d;
    TIME("depth read NPY float32 1024x1024", R,
         (di_depth_read_mem(npy, n, "d.npy", &d, &e), di_depth_free(&d)));
    free(npy);
    snprintf(path, sizeof path, "%s/d.pfm", dir);
    di_pfm_write(path, depth, F, F, &e);
    uint8_t *pfm = slurp(path, &n);
    TIME("depth read PFM 1024x1024", R,
         (di_depth_read_mem(pfm, n, "d.pfm", &d, &e), di_depth_free(&d)));
    free(pfm);
    uint16_t *d16 = malloc(2 * F * F);
    for (int i = 0; i < F * F; i++)
        d16[i] = (uint16_t)(depth[i] * 64 < 65535 ? depth[i] * 64 : 65535);
    snprintf(path, sizeof path, "%s/d.png", dir);
    di_png_write16(path, d16, F, F, &e);
    uint8_t *png = slurp(path, &n);
    TIME("depth read PNG 16-bit 1024x1024", R,
         (di_depth_read_mem(png, n, "d.png", &d, &e), di_depth_free(&d)));
    free(png);
    free(d16), free(big), free(model), free(small), free(jpg), free(depth), free(rgb);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) != 0;
}

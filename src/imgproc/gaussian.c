/*
** gaussian.c: the Gaussian kernel as cv::getGaussianKernel computes it, and
** the separable float32 blur with replicate border (cv::GaussianBlur with
** BORDER_REPLICATE). The blur is for pictures and tests: the score itself is
** a weighted sum of the edge map (see src/feature/score.c).
*/
#include "imgproc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DI_GAUSS_MAX_KSIZE 4095

/* OpenCV's fixed kernels for ksize 1, 3, 5, 7, 9 when sigma <= 0 (4.6 has
** the 9-tap one too: 4 13 30 51 60 51 30 13 4, over 256). */
static const float small_kernels[5][9] = {
    {1.f},
    {0.25f, 0.5f, 0.25f},
    {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f},
    {0.03125f, 0.109375f, 0.21875f, 0.28125f, 0.21875f, 0.109375f, 0.03125f},
    {0.015625f, 0.05078125f, 0.1171875f, 0.19921875f, 0.234375f, 0.19921875f,
     0.1171875f, 0.05078125f, 0.015625f},
};

static int check_ksize(int ksize, di_error *err)
{
    if (ksize < 1 || ksize % 2 == 0 || ksize > DI_GAUSS_MAX_KSIZE)
        return di_fail(err, DI_EINVAL,
                       "Gaussian kernel size %d: must be odd, 1 to %d", ksize,
                       DI_GAUSS_MAX_KSIZE);
    return DI_OK;
}

/* The unnormalised value of tap i, as OpenCV computes it. */
static double tap(int ksize, double sigma, int i, int fixed)
{
    if (fixed)
        return small_kernels[ksize >> 1][i];
    double s = sigma > 0 ? sigma : ((ksize - 1) * 0.5 - 1) * 0.3 + 0.8;
    double scale2 = -0.5 / (s * s);
    double x = i - (ksize - 1) * 0.5;
    return exp(scale2 * x * x);
}

int di_gaussian_kernel(int ksize, double sigma, double *kernel, di_error *err)
{
    int rc = check_ksize(ksize, err);
    if (rc)
        return rc;
    if (!isfinite(sigma))
        return di_fail(err, DI_EINVAL, "Gaussian sigma is not finite");
    int fixed = ksize <= 9 && sigma <= 0;
    double sum = 0;
    for (int i = 0; i < ksize; i++) {
        kernel[i] = tap(ksize, sigma, i, fixed);
        sum += kernel[i];
    }
    sum = 1. / sum;
    for (int i = 0; i < ksize; i++)
        kernel[i] *= sum;
    return DI_OK;
}

/* The CV_32F variant, which is what cv::GaussianBlur uses on float images:
** each tap rounded to float before the sum and again after normalising. */
static void kernel_f32(int ksize, double sigma, float *kernel)
{
    int fixed = ksize <= 9 && sigma <= 0;
    double sum = 0;
    for (int i = 0; i < ksize; i++) {
        kernel[i] = (float)tap(ksize, sigma, i, fixed);
        sum += kernel[i];
    }
    sum = 1. / sum;
    for (int i = 0; i < ksize; i++)
        kernel[i] = (float)(kernel[i] * sum);
}

int di_gaussian_blur_f32(const float *src, int width, int height, int ksize,
                         double sigma, float *dst, di_error *err)
{
    int rc = check_ksize(ksize, err);
    if (rc)
        return rc;
    if (!isfinite(sigma))
        return di_fail(err, DI_EINVAL, "Gaussian sigma is not finite");
    if (width <= 0 || height <= 0)
        return di_fail(err, DI_EINVAL, "blur of an empty image (%dx%d)",
                       width, height);
    const int w = width, h = height, r = ksize / 2;
    float *k = malloc(sizeof(float) * (size_t)ksize);
    float *pad = malloc(sizeof(float) * ((size_t)w + 2 * (size_t)r));
    float *tmp = malloc(sizeof(float) * (size_t)w * (size_t)h);
    const float **rows = malloc(sizeof(*rows) * (size_t)ksize);
    if (!k || !pad || !tmp || !rows) {
        free(k), free(pad), free(tmp), free(rows);
        return di_fail(err, DI_ENOMEM, "Gaussian blur of %dx%d: out of memory",
                       w, h);
    }
    kernel_f32(ksize, sigma, k);

    /* Rows: pad with replicated ends, then accumulate tap by tap (the inner
    ** loop runs along the row, so it vectorises). */
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w;
        for (int i = 0; i < r; i++) {
            pad[i] = s[0];
            pad[(size_t)r + w + i] = s[w - 1];
        }
        memcpy(pad + r, s, sizeof(float) * (size_t)w);
        float *t = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++)
            t[x] = k[0] * pad[x];
        for (int j = 1; j < ksize; j++) {
            const float kj = k[j];
            const float *p = pad + j;
            for (int x = 0; x < w; x++)
                t[x] += kj * p[x];
        }
    }
    /* Columns: the ksize source rows of output row y, clamped at the ends. */
    for (int y = 0; y < h; y++) {
        for (int j = 0; j < ksize; j++) {
            int sy = y + j - r;
            sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
            rows[j] = tmp + (size_t)sy * w;
        }
        float *d = dst + (size_t)y * w;
        for (int x = 0; x < w; x++)
            d[x] = k[0] * rows[0][x];
        for (int j = 1; j < ksize; j++) {
            const float kj = k[j];
            const float *p = rows[j];
            for (int x = 0; x < w; x++)
                d[x] += kj * p[x];
        }
    }
    free(k), free(pad), free(tmp), free(rows);
    return DI_OK;
}

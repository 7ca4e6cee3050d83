/*
** e2e_input.c: the batch tensor `depthindex run` feeds the engine, made
** from the same face images, for `depthindex infer` in bench/run-e2e.sh:
** each JPEG decoded as the pipeline's decoders do (libjpeg-turbo's DCT
** scaling to at least W x H, bilinear resize, (v / 255 - mean) / std with
** run's default ImageNet mean and std, planar), written as N x 3 x H x W
** float32 NPY. So that infer and run compare on the same faces, not on
** random numbers.
** usage: e2e_input OUT.npy W H FACE.jpg...
*/
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "imgproc/imgproc.h"
#include "io/io.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: e2e_input OUT.npy W H FACE.jpg...\n");
        return 2;
    }
    int W = atoi(argv[2]), H = atoi(argv[3]), n = argc - 4;
    if (W < 1 || H < 1 || W > 8192 || H > 8192) {
        fprintf(stderr, "e2e_input: bad size %sx%s\n", argv[2], argv[3]);
        return 2;
    }
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    size_t hw = (size_t)W * H;
    float *x = malloc((size_t)n * 3 * hw * sizeof *x);
    uint8_t *resized = malloc(3 * hw);
    if (!x || !resized) {
        fprintf(stderr, "e2e_input: out of memory\n");
        return 1;
    }
    di_error err = {0};
    for (int i = 0; i < n; i++) {
        uint8_t *data = NULL;
        size_t size = 0;
        di_image img = {0};
        if (di_read_file(argv[4 + i], (size_t)256 << 20, &data, &size, &err) ||
            di_jpeg_decode_mem(data, size, argv[4 + i], W, H, &img, NULL, NULL, &err)) {
            fprintf(stderr, "e2e_input: %s\n", err.msg);
            return 1;
        }
        free(data);
        const uint8_t *rgb = img.data;
        if (img.width != W || img.height != H) {
            di_resize_bilinear_u8(img.data, img.width, img.height, 3, resized, W, H);
            rgb = resized;
        }
        float *dst = x + (size_t)i * 3 * hw;
        for (size_t k = 0; k < hw; k++)
            for (int c = 0; c < 3; c++)
                dst[c * hw + k] = ((float)rgb[3 * k + c] / 255.0f - mean[c]) / std[c];
        di_image_free(&img);
    }
    int64_t dims[4] = {n, 3, H, W};
    if (di_npy_write_f32(argv[1], x, dims, 4, &err)) {
        fprintf(stderr, "e2e_input: %s\n", err.msg);
        return 1;
    }
    free(x);
    free(resized);
    return 0;
}

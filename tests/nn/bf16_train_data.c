/*
** bf16_train_data.c: what tests/nn/bf16_train.py trains on and starts from,
** written by the C code that the nn-bf16 test measures with:
**   bf16_train_data faces DIR N SEED0 COUNT   demo faces (src/demo) of
**       panoramas SEED0.. SEED0+COUNT-1 at NxN: DIR/rgb.u8 (COUNT*4 x N x N
**       x 3 bytes) and DIR/depth.f32 (metres, COUNT*4 x N x N floats), raw;
**   bf16_train_data midas GRAPH OUT    MiDaS small with the scaled weights
**       (di_nn_fill_weights_mode, the nn-bf16 test's own starting point);
**   bf16_train_data vit OUT            the nn-bf16 test's ViT-S/14 + DPT form
**       (tests/nn/dav2_graph.h, 4 blocks, 266x266, its own weights).
** The demo renders its depth with the picture, so a network can be trained
** on pictures whose depth is known without any downloaded data.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav2_graph.h"
#include "demo/demo.h"
#include "nn/nn.h"

static int faces(const char *dir, int n, long seed0, int count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rgb.u8", dir);
    FILE *frgb = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/depth.f32", dir);
    FILE *fd = fopen(path, "wb");
    size_t plane = (size_t)n * (size_t)n;
    float *depth = malloc(plane * sizeof(float));
    unsigned char *rgb = malloc(plane * 3);
    int rc = frgb && fd && depth && rgb ? 0 : 1;
    for (int s = 0; !rc && s < count; s++)
        for (int f = 0; f < DI_DEMO_FACES && !rc; f++) {
            di_demo_render((uint64_t)(seed0 + s), f, n, n, depth, rgb);
            rc = fwrite(rgb, 1, plane * 3, frgb) != plane * 3 || fwrite(depth, sizeof(float), plane, fd) != plane;
        }
    if (frgb && fclose(frgb)) rc = 1;
    if (fd && fclose(fd)) rc = 1;
    free(depth);
    free(rgb);
    if (rc) fprintf(stderr, "bf16_train_data: cannot write the faces into %s\n", dir);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "faces"))
        return faces(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]));
    if (argc == 4 && !strcmp(argv[1], "midas")) {
        di_error err;
        di_error_clear(&err);
        int filled = 0;
        if (di_nn_fill_weights_mode(argv[2], argv[3], 1, DI_NN_FILL_SCALED, &filled, &err)) {
            fprintf(stderr, "bf16_train_data: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "vit")) {
        /* test_bf16.c's configuration */
        dav2_cfg cfg = {.dim = 384, .heads = 6, .grid = 19, .blocks = 4, .features = 64};
        ob b;
        dav2_build(&b, &cfg);
        size_t len;
        uint8_t *bytes = ob_pack(&b, &len);
        FILE *f = fopen(argv[2], "wb");
        int bad = !f || fwrite(bytes, 1, len, f) != len;
        if (f && fclose(f)) bad = 1;
        free(bytes);
        ob_free(&b);
        if (bad) fprintf(stderr, "bf16_train_data: cannot write %s\n", argv[2]);
        return bad;
    }
    fprintf(stderr, "usage: bf16_train_data faces DIR N SEED0 COUNT | midas GRAPH OUT | vit OUT\n");
    return 2;
}

/*
** oracle_helper.c: the C side of the Python oracle test (oracle.py). It reads
** raw files that the script writes, runs our code on them and writes raw
** results back, so that the oracle does not depend on the file readers.
**
**   oracle_helper canny IN OUT W H LOW HIGH
**       IN: W*H uint8; OUT: our Canny of it (W*H uint8)
**   oracle_helper blur IN OUT W H KSIZE SIGMA
**       IN, OUT: W*H float32
**   oracle_helper score LIST K LOW HIGH KSIZE SIGMA
**       LIST: one path per line; each file: int32 W, int32 H, W*H float32.
**       Prints one JSON object per file; writes PATH.labels and PATH.edges
**       (W*H uint8 each); an error prints {"error": "..."}.
*/
#include "feature/feature.h"
#include "imgproc/imgproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *read_all(const char *path, size_t *size)
{
    uint8_t *data;
    di_error err;
    if (di_read_file(path, (size_t)1 << 33, &data, size, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    return data;
}

static void write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(2);
    }
}

static int cmd_canny(char **a)
{
    int w = atoi(a[2]), h = atoi(a[3]);
    size_t size;
    uint8_t *src = read_all(a[0], &size);
    if (size != (size_t)w * h) {
        fprintf(stderr, "%s: size %zu, expected %dx%d\n", a[0], size, w, h);
        return 2;
    }
    uint8_t *dst = malloc((size_t)w * h);
    void *scratch = malloc(di_canny_scratch_size(w, h));
    di_canny(src, w, h, atof(a[4]), atof(a[5]), dst, scratch);
    write_all(a[1], dst, (size_t)w * h);
    free(src), free(dst), free(scratch);
    return 0;
}

static int cmd_blur(char **a)
{
    int w = atoi(a[2]), h = atoi(a[3]);
    size_t size;
    float *src = read_all(a[0], &size);
    if (size != (size_t)w * h * sizeof(float)) {
        fprintf(stderr, "%s: size %zu, expected %dx%d floats\n", a[0], size, w, h);
        return 2;
    }
    float *dst = malloc(size);
    di_error err;
    if (di_gaussian_blur_f32(src, w, h, atoi(a[4]), atof(a[5]), dst, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    write_all(a[1], dst, size);
    free(src), free(dst);
    return 0;
}

static int cmd_score(char **a)
{
    di_feature_params p;
    di_feature_params_default(&p);
    p.k = atoi(a[1]);
    p.canny_low = atof(a[2]);
    p.canny_high = atof(a[3]);
    p.ksize = atoi(a[4]);
    p.sigma = atof(a[5]);
    FILE *list = fopen(a[0], "r");
    if (!list) {
        fprintf(stderr, "%s: cannot open\n", a[0]);
        return 2;
    }
    di_feature_ws *ws = di_feature_ws_create();
    char path[4096];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = 0;
        if (!path[0])
            continue;
        size_t size;
        uint8_t *data = read_all(path, &size);
        int32_t wh[2] = {0, 0};
        if (size >= 8)
            memcpy(wh, data, 8);
        if (size < 8 || size != 8 + (size_t)wh[0] * wh[1] * sizeof(float)) {
            fprintf(stderr, "%s: bad raw depth file\n", path);
            return 2;
        }
        float *depth = malloc((size_t)wh[0] * wh[1] * sizeof(float) + 1);
        memcpy(depth, data + 8, (size_t)wh[0] * wh[1] * sizeof(float));
        di_feature_result r;
        di_error err;
        if (di_feature_compute(ws, depth, wh[0], wh[1], &p, &r, &err)) {
            printf("{\"error\": \"%s\"}\n", err.msg);
        } else {
            printf("{\"score\": %.17g, \"k_eff\": %d, \"edge_fraction\": %.17g, "
                   "\"centres\": [",
                   r.score, r.k_eff, r.edge_fraction);
            for (int i = 0; i < r.k_eff; i++)
                printf("%s%.17g", i ? ", " : "", r.centres[i]);
            printf("]}\n");
            char out[4200];
            size_t n = (size_t)wh[0] * wh[1];
            snprintf(out, sizeof out, "%s.labels", path);
            write_all(out, di_feature_labels(ws), n);
            snprintf(out, sizeof out, "%s.edges", path);
            write_all(out, di_feature_edges(ws), n);
        }
        fflush(stdout);
        free(depth);
        free(data);
    }
    fclose(list);
    di_feature_ws_destroy(ws);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "canny") == 0)
        return cmd_canny(argv + 2);
    if (argc == 8 && strcmp(argv[1], "blur") == 0)
        return cmd_blur(argv + 2);
    if (argc == 8 && strcmp(argv[1], "score") == 0)
        return cmd_score(argv + 2);
    fprintf(stderr, "usage: see the comment at the top of oracle_helper.c\n");
    return 2;
}

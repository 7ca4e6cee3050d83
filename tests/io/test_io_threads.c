/*
** test_io_threads.c: the readers and writers run at once on several threads
** (the pipeline's decode pool does): every thread gets the same bytes as a
** single-threaded decode, and every write lands whole.
*/
#include "check.h"
#include "demo/demo.h"
#include "imgproc/imgproc.h"
#include "io/io.h"
#include "testutil.h"

#include <pthread.h>

enum { W = 160, H = 120, THREADS = 4, ROUNDS = 25 };

static uint8_t *jpg, *png;
static size_t jpg_n, png_n;
static di_image ref_img;
static di_depth ref_depth;

static void *worker(void *arg)
{
    intptr_t id = (intptr_t)arg;
    intptr_t bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        di_error e;
        di_image img;
        if (di_jpeg_decode_mem(jpg, jpg_n, "t.jpg", 0, 0, &img, NULL, NULL, &e) ||
            memcmp(img.data, ref_img.data, (size_t)W * H * 3) != 0)
            bad++;
        di_image_free(&img);
        di_depth d;
        if (di_depth_read_mem(png, png_n, "t.png", &d, &e) ||
            memcmp(d.data, ref_depth.data, sizeof(float) * W * H) != 0)
            bad++;
        di_depth_free(&d);
        /* A corrupt JPEG fails cleanly while the others decode. */
        if (di_jpeg_decode_mem(jpg, jpg_n / 2, "half.jpg", 0, 0, &img, NULL, NULL, &e) !=
            DI_EFORMAT)
            bad++;
        char path[512]; /* not tu_path: its buffers are shared */
        snprintf(path, sizeof path, "%s/w%ld.png", tu_dir, (long)id);
        uint8_t px[W];
        memset(px, (int)id * 10 + r, sizeof px);
        if (di_png_write(path, px, W, 1, 1, &e) != 0)
            bad++;
    }
    return (void *)bad;
}

int main(void)
{
    tu_mkdir();
    uint8_t *rgb = malloc((size_t)W * H * 3);
    float *depth = malloc(sizeof(float) * W * H);
    di_demo_render(5, 1, W, H, depth, rgb);
    di_image src = {W, H, 3, rgb};
    di_error e;
    CHECK(di_jpeg_write(tu_path("t.jpg"), &src, 90, &e) == 0);
    uint16_t *d16 = malloc(2 * W * H);
    for (int i = 0; i < W * H; i++)
        d16[i] = (uint16_t)(depth[i] * 64 < 65535 ? depth[i] * 64 : 65535);
    CHECK(di_png_write16(tu_path("t.png"), d16, W, H, &e) == 0);
    jpg = tu_read(tu_path("t.jpg"), &jpg_n);
    png = tu_read(tu_path("t.png"), &png_n);
    CHECK(di_jpeg_decode_mem(jpg, jpg_n, "t.jpg", 0, 0, &ref_img, NULL, NULL, &e) == 0);
    CHECK(di_depth_read_mem(png, png_n, "t.png", &ref_depth, &e) == 0);
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        CHECKF(bad == NULL, "thread %d: %ld failures", i, (long)(intptr_t)bad);
    }
    for (int i = 0; i < THREADS; i++) {
        char name[64];
        snprintf(name, sizeof name, "w%d.png", i);
        di_depth d;
        CHECK(di_depth_read(tu_path(name), &d, &e) == 0 && d.width == W &&
              d.data[0] == (float)(i * 10 + ROUNDS - 1));
        di_depth_free(&d);
    }
    di_image_free(&ref_img);
    di_depth_free(&ref_depth);
    free(jpg), free(png), free(rgb), free(depth), free(d16);
    tu_cleanup();
    return check_summary();
}

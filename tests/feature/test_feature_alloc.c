/*
** test_feature_alloc.c: scoring allocates nothing in steady state. The
** executable is linked with --wrap for malloc, calloc and realloc, so every
** allocation made by the library's code is counted here.
*/
#include "check.h"
#include "feature/feature.h"

#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
static long allocations;

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    allocations++;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

static float *map(int w, int h, int seed)
{
    float *d = malloc(sizeof(float) * (size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            d[(size_t)y * w + x] =
                (float)(((x / (7 + seed)) * 31 + (y / 5) * 17 + seed) % 23);
    return d;
}

int main(void)
{
    di_feature_ws *ws = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_result r;
    di_error err;
    float *big = map(640, 480, 1), *small = map(200, 120, 2);

    /* Warm-up: the workspace grows to the largest map. */
    long before = allocations;
    CHECK(di_feature_compute(ws, big, 640, 480, &p, &r, &err) == DI_OK);
    CHECK(allocations > before); /* the wrapping does count */

    /* Steady state: the same size again, many times. */
    before = allocations;
    for (int i = 0; i < 20; i++)
        CHECK(di_feature_compute(ws, big, 640, 480, &p, &r, &err) == DI_OK);
    CHECKF(allocations == before, "%ld allocations in steady state",
           allocations - before);

    /* A smaller map after a larger one reuses the buffers (only the small
    ** blur-weight arrays may be recomputed, never reallocated: they grew
    ** already). */
    before = allocations;
    for (int i = 0; i < 5; i++) {
        CHECK(di_feature_compute(ws, small, 200, 120, &p, &r, &err) == DI_OK);
        CHECK(di_feature_compute(ws, big, 640, 480, &p, &r, &err) == DI_OK);
    }
    CHECKF(allocations == before, "%ld allocations when sizes alternate",
           allocations - before);
    free(big), free(small);
    di_feature_ws_destroy(ws);
    return check_summary();
}

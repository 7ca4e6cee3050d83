/* fuzz_npy.c: the NPY depth reader, the in-place view the reusable depth
** reader uses, and the NPY tensor reader. */
#include "fuzz_common.h"
#include "io/io_internal.h"

#include <string.h>

/* The view agrees with the copying reader: the same refusals (but for
** non-finite values, which the view leaves to its caller) and the same
** pixels. Its conversion buffer is kept across inputs, as the reader keeps
** it across files. */
static void check_view(const uint8_t *data, size_t size, int depth_rc,
                       const di_depth *d)
{
    static float *buf;
    static size_t cap;
    const float *px = NULL;
    int w = 0, h = 0;
    di_error e = {0};
    int rc = di_npy_depth_view(data, size, "fuzz.npy", &buf, &cap, &px, &w, &h, &e);
    if (rc != DI_OK) {
        fuzz_check_error(rc, &e);
        if (rc != depth_rc)
            abort();
        return;
    }
    if (!px || w <= 0 || h <= 0)
        abort();
    volatile float sum = 0;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) /* readable */
        sum += px[i];
    (void)sum;
    if (depth_rc == DI_OK &&
        (w != d->width || h != d->height ||
         memcmp(px, d->data, sizeof(float) * (size_t)w * (size_t)h) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_depth d = {0};
    di_error e = {0};
    int rc = di_npy_read_depth_mem(data, size, "fuzz.npy", &d, &e);
    check_view(data, size, rc, &d);
    fuzz_check_depth(rc, &d, &e);
    di_tensor t;
    rc = di_npy_read_tensor_mem(data, size, "fuzz.npy", &t, &e);
    if (rc != DI_OK) {
        fuzz_check_error(rc, &e);
        if (t.data)
            abort();
    } else {
        if (!t.data || t.ndim < 0 || t.ndim > DI_NPY_MAX_DIMS)
            abort();
        size_t n = 1;
        for (int i = 0; i < t.ndim; i++) {
            if (t.dims[i] < 0)
                abort();
            n *= (size_t)t.dims[i];
        }
        volatile float sum = 0;
        for (size_t i = 0; i < n; i++) /* every element is readable */
            sum += t.data[i];
        (void)sum;
        di_tensor_free(&t);
    }
    return 0;
}

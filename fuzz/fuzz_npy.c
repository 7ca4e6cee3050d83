/* fuzz_npy.c: the NPY depth reader and the NPY tensor reader. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_depth d = {0};
    di_error e = {0};
    int rc = di_npy_read_depth_mem(data, size, "fuzz.npy", &d, &e);
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

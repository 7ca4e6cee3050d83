/* fuzz_png.c: the PNG depth reader, and the format dispatch. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_depth d = {0};
    di_error e = {0};
    int rc = di_png_read_depth_mem(data, size, "fuzz.png", &d, &e);
    fuzz_check_depth(rc, &d, &e);
    rc = di_depth_read_mem(data, size, "fuzz.any", &d, &e);
    fuzz_check_depth(rc, &d, &e);
    return 0;
}

/* fuzz_pfm.c: the PFM depth reader. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_depth d = {0};
    di_error e = {0};
    int rc = di_pfm_read_depth_mem(data, size, "fuzz.pfm", &d, &e);
    fuzz_check_depth(rc, &d, &e);
    return 0;
}

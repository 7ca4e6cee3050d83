/*
** fuzz_common.h: checks shared by the fuzz targets. A reader must either
** succeed with a sane result or fail with a negative code and a message; any
** other outcome aborts, so libFuzzer (and the corpus replay in `make test`)
** reports it.
*/
#ifndef DI_FUZZ_COMMON_H
#define DI_FUZZ_COMMON_H

#include "io/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_error(int rc, const di_error *e)
{
    if (rc >= 0 || e->code != rc || e->msg[0] == 0 || !strstr(e->msg, "fuzz"))
        abort(); /* failures are negative, set err, and name the input */
}

static inline void fuzz_check_depth(int rc, di_depth *d, const di_error *e)
{
    if (rc != DI_OK) {
        fuzz_check_error(rc, e);
        if (d->data)
            abort();
        return;
    }
    if (!d->data || d->width <= 0 || d->height <= 0 ||
        (uint64_t)d->width * (uint64_t)d->height > DI_IO_MAX_PIXELS)
        abort();
    size_t n = (size_t)d->width * (size_t)d->height;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(d->data[i]))
            abort(); /* the readers promise finite depth */
    di_depth_free(d);
}

#endif

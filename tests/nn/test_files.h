/*
** test_files.h: the files the nn tests write and read back: raw bytes (the
** models they build in memory) and float32 NPY for the onnxruntime oracle,
** through the project's own NPY code in src/io rather than a copy of it.
*/
#ifndef DI_TEST_FILES_H
#define DI_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

#include "io/io.h"

static inline int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int write_npy(const char *path, const float *x, const int64_t *dims, int nd)
{
    di_error err = {0};
    return di_npy_write_f32(path, x, dims, nd, &err) ? -1 : 0;
}

/* A float32 NPY holding exactly `expect` values (malloc'd; the caller frees
** it), else NULL. */
static inline float *read_npy(const char *path, size_t expect)
{
    di_tensor t;
    di_error err = {0};
    if (di_npy_read_tensor(path, &t, &err)) return NULL;
    size_t n = 1;
    for (int i = 0; i < t.ndim; i++) n *= (size_t)t.dims[i];
    if (n != expect) {
        di_tensor_free(&t);
        return NULL;
    }
    return t.data;
}

#endif

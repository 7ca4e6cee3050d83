/*
** test_files.h: the files the nn tests write and read back: raw bytes (the
** models they build in memory) and float32 NPY for the onnxruntime oracle,
** through the project's own NPY code in src/io rather than a copy of it;
** and the folder they go in.
*/
#ifndef DI_TEST_FILES_H
#define DI_TEST_FILES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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

/* The folder a test writes its files in: BUILD/tests/nn/tmp-TAG in the build
** tree under meson (DEPTHINDEX_BUILD_ROOT: left there to look at after a
** failure, and gone with the build), else a fresh /tmp/di-nn-TAG-XXXXXX.
** 0, or -1 when it cannot be made. */
static inline int test_dir(char *dir, size_t size, const char *tag)
{
    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    if (build && *build) {
        snprintf(dir, size, "%s/tests/nn/tmp-%s", build, tag);
        return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
    }
    snprintf(dir, size, "/tmp/di-nn-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

#endif

/*
** load_external.c: an initializer's external data (a file in the model's
** folder, with offset and length), every declared size checked against what
** is there; a path or link leading out of the folder is refused.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load.h"

/* A non-negative decimal integer, all of v; -1 otherwise. */
static int64_t parse_count(const char *v)
{
    if (!*v)
        return -1;
    int64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* path (base_dir/location) resolved, symlinks included, must stay inside
** base_dir resolved: a link leading out of the model's folder is refused. */
static int inside_folder(const char *base_dir, const char *path)
{
    char *base = realpath(base_dir, NULL), *real = realpath(path, NULL);
    size_t n = base ? strlen(base) : 0;
    int ok =
        base && real && !strncmp(real, base, n) && (real[n] == '/' || (n == 1 && base[0] == '/'));
    free(base);
    free(real);
    return ok;
}

int di_nn_read_external(loader *L, const Onnx__TensorProto *t, const char *tname, void *dst,
                        size_t bytes, di_error *err)
{
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
        if (!k || !v)
            continue;
        if (!strcmp(k, "location")) {
            location = v;
        } else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            int64_t n = parse_count(v);
            if (n < 0)
                return di_fail(
                    err, DI_EFORMAT,
                    "%s: initializer '%s': external data %s '%.32s' is not a non-negative integer",
                    L->name, tname, k, v);
            if (k[0] == 'o')
                offset = n;
            else
                length = n;
        }
    }
    if (!location || !*location)
        return di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data without a location",
                       L->name, tname);
    if (!L->base_dir)
        return di_fail(err, DI_EUNSUPPORTED,
                       "%s: initializer '%s': external data needs a model file path", L->name,
                       tname);
    if (location[0] == '/' || strstr(location, ".."))
        return di_fail(
            err, DI_EFORMAT,
            "%s: initializer '%s': external data location '%s' is outside the model's folder",
            L->name, tname, location);
    if (length >= 0 && (uint64_t)length != bytes)
        return di_fail(
            err, DI_EFORMAT,
            "%s: initializer '%s': external data length %lld does not match its shape (%zu bytes)",
            L->name, tname, (long long)length, bytes);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", L->base_dir, location);
    /* O_NONBLOCK: opening a FIFO with no writer must not wait; whatever is
    ** not a regular file is refused before a byte is read */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && (L->flags & DI_NN_LOAD_INFO)) {
        memset(dst, 0, bytes);
        L->missing++;
        return DI_OK;
    }
    if (fd < 0)
        return di_fail(err, DI_EIO, "%s: initializer '%s': cannot open external data file %s: %s",
                       L->name, tname, path, strerror(errno));
    int rc = DI_OK;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc =
            di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data %s is not a regular file",
                    L->name, tname, path);
    else if (!inside_folder(L->base_dir, path))
        rc = di_fail(
            err, DI_EFORMAT,
            "%s: initializer '%s': external data %s is a link that leads out of the model's folder",
            L->name, tname, path);
    else if ((uint64_t)offset > (uint64_t)st.st_size ||
             (uint64_t)st.st_size - (uint64_t)offset < bytes)
        rc = di_fail(err, DI_EFORMAT,
                     "%s: initializer '%s': external data file %s is too short (needs %zu bytes at "
                     "offset %lld)",
                     L->name, tname, path, bytes, (long long)offset);
    for (size_t got = 0; !rc && got < bytes;) {
        ssize_t r = pread(fd, (uint8_t *)dst + got, bytes - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = di_fail(err, DI_EIO, "%s: initializer '%s': reading external data file %s: %s",
                         L->name, tname, path, r < 0 ? strerror(errno) : "it shrank");
        else
            got += (size_t)r;
    }
    close(fd);
    return rc;
}

/* file.c: whole-file reads with clear errors and a size cap. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int di_read_file(const char *path, size_t max_bytes, uint8_t **data,
                 size_t *size, di_error *err)
{
    size_t cap = 0;
    *data = NULL;
    int rc = di_read_file_reuse(path, max_bytes, data, &cap, size, err);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int di_read_file_reuse(const char *path, size_t max_bytes, uint8_t **buf_io,
                       size_t *cap, size_t *size, di_error *err)
{
    *size = 0;
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait
    ** forever; such a file is refused below anyway, and the flag changes
    ** nothing for regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return di_fail(err, di_status_from_errno(errno), "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return di_fail(err, DI_EIO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return di_fail(err, DI_EIO, "%s: is a directory", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return di_fail(err, DI_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        close(fd);
        return di_fail(err, DI_ENOMEM, "%s: file of %lld bytes is larger than the limit of %zu",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    if (!*buf_io || *cap < n + 1) {
        /* Grows by half again, so a series of slightly larger files does
        ** not reallocate every time. */
        size_t want = n + 1 + (n + 1) / 2;
        /* 64-byte aligned: formats whose payload sits at a multiple of 64
        ** in the file (NPY's header is padded so) are then read and scanned
        ** in whole cache lines. malloc guarantees 16 bytes, and where the
        ** buffer lands depends on what was allocated before; 16 bytes past
        ** a line, the kernel's copy into it and every 64-byte load of a
        ** float32 depth map straddle two lines: read and min/max of a
        ** 512x512 map 0.10-0.13 ms instead of 0.08-0.09 on the Zen 5 of
        ** bench/RESULTS.md. */
        void *nbv = NULL;
        uint8_t *nb = posix_memalign(&nbv, 64, want) == 0 ? nbv : NULL;
        if (!nb) {
            close(fd);
            return di_fail(err, DI_ENOMEM, "%s: out of memory for %zu bytes", path, n);
        }
        free(*buf_io);
        *buf_io = nb;
        *cap = want;
    }
    uint8_t *buf = *buf_io;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return di_fail(err, DI_EIO, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break; /* the file shrank under us: take what is there */
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *size = got;
    return DI_OK;
}

int di_make_dirs(const char *path, di_error *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0)
        return di_fail(err, DI_EINVAL, "empty folder name");
    if (n >= sizeof buf)
        return di_fail(err, DI_EINVAL, "%.64s...: folder name too long", path);
    memcpy(buf, path, n + 1);
    /* each prefix that ends at a '/', then the whole path */
    for (char *s = buf + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            return di_fail(err, di_status_from_errno(e), "%s: cannot create the folder: %s",
                           buf, strerror(e));
        }
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return di_fail(err, DI_EIO, "%s: not a folder", path);
    return DI_OK;
}

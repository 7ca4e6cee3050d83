/* testutil.h: temporary directories and files for the io and demo tests. */
#ifndef DI_TESTUTIL_H
#define DI_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tu_dir[256];

/* Creates a fresh temporary directory; exits 77 (skip) when impossible. */
static inline const char *tu_mkdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tu_dir, sizeof tu_dir, "%s/di-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tu_dir)) {
        perror("mkdtemp");
        exit(77);
    }
    return tu_dir;
}

/* A path inside the temporary directory (static buffers, rotating). */
static inline const char *tu_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", tu_dir, name);
    return b;
}

static inline const char *tu_write(const char *name, const void *data, size_t n)
{
    const char *p = tu_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
    return p;
}

static inline void tu_cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tu_dir);
}

static inline uint8_t *tu_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

#endif

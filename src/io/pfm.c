/*
** pfm.c: depth maps from PFM (Portable Float Map). Header: "Pf" (one
** channel), width, height, scale, each separated by white space, then one
** white-space byte and width*height 32-bit floats. A negative scale means
** little-endian, positive big-endian. Rows are stored bottom to top; we
** return them top to bottom. "PF" (three channels) is refused: depth is one
** channel.
*/
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pfm.c assumes a little-endian host"
#endif

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The next white-space separated token of at most cap-1 bytes. */
static int token(const uint8_t *d, size_t size, size_t *pos, char *buf, size_t cap)
{
    while (*pos < size && is_space(d[*pos]))
        (*pos)++;
    size_t n = 0;
    while (*pos < size && !is_space(d[*pos])) {
        if (n + 1 >= cap)
            return 0;
        buf[n++] = (char)d[(*pos)++];
    }
    buf[n] = 0;
    return n > 0;
}

static int parse_dim(const char *t, int64_t *v)
{
    int64_t x = 0;
    if (!*t)
        return 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || x > INT64_MAX / 10 - 9)
            return 0;
        x = x * 10 + (*t - '0');
    }
    *v = x;
    return 1;
}

int di_pfm_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err)
{
    name = DI_IO_NAME(name);
    out->data = NULL;
    out->width = out->height = 0;
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file", name);
    if (size < 3 || data[0] != 'P' || (data[1] != 'f' && data[1] != 'F') ||
        !is_space(data[2]))
        return di_fail(err, DI_EFORMAT, "%s: not a PFM file (bad magic)", name);
    if (data[1] == 'F')
        return di_fail(err, DI_EUNSUPPORTED,
                       "%s: PFM is colour (PF); a depth map must be single-channel (Pf)",
                       name);
    size_t pos = 2;
    char tw[32], th[32], ts[64];
    int64_t W, H;
    if (!token(data, size, &pos, tw, sizeof tw) ||
        !token(data, size, &pos, th, sizeof th) ||
        !token(data, size, &pos, ts, sizeof ts))
        return di_fail(err, DI_EFORMAT, "%s: truncated or malformed PFM header", name);
    if (!parse_dim(tw, &W) || !parse_dim(th, &H))
        return di_fail(err, DI_EFORMAT, "%s: PFM header has a bad size '%s %s'",
                       name, tw, th);
    char *end;
    double scale = strtod(ts, &end);
    if (*end || !isfinite(scale) || scale == 0)
        return di_fail(err, DI_EFORMAT, "%s: PFM header has a bad scale '%s'", name, ts);
    /* Exactly one white-space byte ends the header. */
    if (pos >= size || !is_space(data[pos]))
        return di_fail(err, DI_EFORMAT, "%s: truncated PFM header", name);
    pos++;
    int rc = di_io_check_dims(W, H, name, err);
    if (rc)
        return rc;
    size_t n = (size_t)W * (size_t)H;
    if (size - pos != n * 4)
        return di_fail(err, DI_EFORMAT,
                       "%s: PFM data is %zu bytes, %lldx%lld floats need %zu (truncated or corrupt)",
                       name, size - pos, (long long)W, (long long)H, n * 4);
    float *px = malloc(n * sizeof(float));
    if (!px)
        return di_fail(err, DI_ENOMEM, "%s: out of memory for %lldx%lld pixels", name,
                       (long long)W, (long long)H);
    int little = scale < 0;
    const uint8_t *src = data + pos;
    for (int64_t y = 0; y < H; y++) {
        float *row = px + (size_t)(H - 1 - y) * (size_t)W; /* bottom to top */
        if (little) { /* the host's order (x86-64, aarch64): a plain copy */
            memcpy(row, src, (size_t)W * 4);
            src += (size_t)W * 4;
            continue;
        }
        for (int64_t x = 0; x < W; x++, src += 4) {
            uint32_t u = src[3] | (uint32_t)src[2] << 8 | (uint32_t)src[1] << 16 |
                         (uint32_t)src[0] << 24;
            memcpy(&row[x], &u, 4);
        }
    }
    if ((rc = di_io_check_finite(px, (int)W, (int)H, name, err)) != DI_OK) {
        free(px);
        return rc;
    }
    out->width = (int)W;
    out->height = (int)H;
    out->data = px;
    return DI_OK;
}

int di_pfm_write(const char *path, const float *depth, int width, int height,
                 di_error *err)
{
    if (width <= 0 || height <= 0 ||
        (int64_t)width * height > (int64_t)DI_IO_MAX_PIXELS)
        return di_fail(err, DI_EINVAL, "%s: cannot write a PFM of %dx%d pixels",
                       path, width, height);
    char head[64];
    int hlen = snprintf(head, sizeof head, "Pf\n%d %d\n-1.0\n", width, height);
    size_t row = (size_t)width * 4;
    uint8_t *buf = malloc((size_t)hlen + row * (size_t)height);
    if (!buf)
        return di_fail(err, DI_ENOMEM, "%s: out of memory", path);
    memcpy(buf, head, (size_t)hlen);
    uint8_t *dst = buf + hlen;
    for (int y = height - 1; y >= 0; y--, dst += row) /* little-endian host */
        memcpy(dst, depth + (size_t)y * (size_t)width, row);
    int rc = di_io_write_file(path, buf, (size_t)hlen + row * (size_t)height, err);
    free(buf);
    return rc;
}

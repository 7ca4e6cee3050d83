/*
** npy.c: NumPy .npy files (format versions 1.0, 2.0 and 3.0). Depth maps:
** uint8, uint16, float32, float64, either byte order, C or Fortran order,
** shape HxW, 1xHxW or HxWx1. Tensors for `infer`: any of those dtypes
** converted to float32, up to DI_NPY_MAX_DIMS dimensions. Output: float32,
** little-endian, version 1.0 (2.0 when the header needs it).
**
** The header is a Python dict literal, e.g.
**   {'descr': '<f4', 'fortran_order': False, 'shape': (480, 640), }
** parsed here by a small strict scanner; anything unexpected is an error that
** names the file and what was wrong.
*/
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Payloads are copied as host floats when little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

enum npy_kind { NPY_U8, NPY_U16, NPY_F32, NPY_F64 };

typedef struct npy_header {
    enum npy_kind kind;
    int itemsize;
    int big_endian;
    int fortran;
    int ndim;
    int64_t dims[DI_NPY_MAX_DIMS];
    const uint8_t *payload;
    size_t payload_size;
} npy_header;

typedef struct scanner {
    const char *p, *end;
} scanner;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
                             *s->p == '\r'))
        s->p++;
}

static int accept(scanner *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...") without escapes, into buf. */
static int scan_string(scanner *s, char *buf, size_t cap)
{
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
        return 0;
    char q = *s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != q) {
        if (n + 1 >= cap)
            return 0;
        buf[n++] = *s->p++;
    }
    if (s->p >= s->end)
        return 0;
    s->p++;
    buf[n] = 0;
    return 1;
}

static int scan_word(scanner *s, const char *w)
{
    skip_ws(s);
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
        s->p += n;
        return 1;
    }
    return 0;
}

static int scan_int(scanner *s, int64_t *v)
{
    skip_ws(s);
    int64_t x = 0;
    int digits = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return 0;
        x = x * 10 + (*s->p++ - '0');
        digits++;
    }
    if (s->p < s->end && *s->p == 'L') /* Python 2 wrote 3L */
        s->p++;
    *v = x;
    return digits > 0;
}

static int parse_descr(const char *d, npy_header *h, const char *name,
                       di_error *err)
{
    char order = d[0];
    const char *t = d + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=')
        order = '=', t = d;
    if (strcmp(t, "u1") == 0 || strcmp(t, "B") == 0)
        h->kind = NPY_U8, h->itemsize = 1;
    else if (strcmp(t, "u2") == 0)
        h->kind = NPY_U16, h->itemsize = 2;
    else if (strcmp(t, "f4") == 0)
        h->kind = NPY_F32, h->itemsize = 4;
    else if (strcmp(t, "f8") == 0)
        h->kind = NPY_F64, h->itemsize = 8;
    else
        return di_fail(err, DI_EUNSUPPORTED,
                       "%s: NPY dtype '%s' is not supported (uint8, uint16, float32, float64)",
                       name, d);
    h->big_endian = order == '>' && h->itemsize > 1;
    return DI_OK;
}

static int parse_header(const uint8_t *data, size_t size, const char *name,
                        npy_header *h, di_error *err)
{
    memset(h, 0, sizeof *h);
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file", name);
    if (size < 10 || memcmp(data, "\x93NUMPY", 6) != 0)
        return di_fail(err, DI_EFORMAT, "%s: not an NPY file (bad magic)", name);
    int major = data[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = data[8] | (size_t)data[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return di_fail(err, DI_EFORMAT, "%s: truncated NPY header", name);
        hlen = data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 |
               (size_t)data[11] << 24;
        start = 12;
    } else {
        return di_fail(err, DI_EUNSUPPORTED, "%s: NPY format version %d.%d is not supported",
                       name, major, data[7]);
    }
    if (hlen > size - start)
        return di_fail(err, DI_EFORMAT,
                       "%s: truncated NPY header (declares %zu bytes, %zu present)",
                       name, hlen, size - start);
    scanner s = {(const char *)data + start, (const char *)data + start + hlen};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!accept(&s, '{'))
        goto bad;
    while (!accept(&s, '}')) {
        char key[32];
        if (!scan_string(&s, key, sizeof key) || !accept(&s, ':'))
            goto bad;
        if (strcmp(key, "descr") == 0) {
            char descr[32];
            if (!scan_string(&s, descr, sizeof descr))
                goto bad; /* structured dtypes are lists: refused here too */
            int rc = parse_descr(descr, h, name, err);
            if (rc)
                return rc;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (scan_word(&s, "True"))
                h->fortran = 1;
            else if (scan_word(&s, "False"))
                h->fortran = 0;
            else
                goto bad;
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!accept(&s, '('))
                goto bad;
            h->ndim = 0;
            while (!accept(&s, ')')) {
                int64_t v;
                if (h->ndim == DI_NPY_MAX_DIMS)
                    return di_fail(err, DI_EUNSUPPORTED,
                                   "%s: NPY array has more than %d dimensions",
                                   name, DI_NPY_MAX_DIMS);
                if (!scan_int(&s, &v))
                    goto bad;
                h->dims[h->ndim++] = v;
                if (!accept(&s, ',')) {
                    if (!accept(&s, ')'))
                        goto bad;
                    break;
                }
            }
            have_shape = 1;
        } else {
            goto bad;
        }
        if (!accept(&s, ',')) {
            if (!accept(&s, '}'))
                goto bad;
            break;
        }
    }
    if (!have_descr || !have_fortran || !have_shape)
        return di_fail(err, DI_EFORMAT,
                       "%s: NPY header lacks %s", name,
                       !have_descr ? "'descr'" : !have_fortran ? "'fortran_order'" : "'shape'");
    /* Element count, guarding every multiplication. */
    uint64_t count = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->dims[i] > (int64_t)DI_IO_MAX_FILE_BYTES)
            return di_fail(err, DI_ENOMEM, "%s: NPY dimension %lld is absurd", name,
                           (long long)h->dims[i]);
        count *= (uint64_t)h->dims[i];
        if (count > DI_IO_MAX_FILE_BYTES)
            return di_fail(err, DI_ENOMEM, "%s: NPY array declares more than %zu elements",
                           name, DI_IO_MAX_FILE_BYTES);
    }
    h->payload = data + start + hlen;
    h->payload_size = size - start - hlen;
    if (count * (uint64_t)h->itemsize != h->payload_size)
        return di_fail(err, DI_EFORMAT,
                       "%s: NPY data is %zu bytes, the header declares %llu (truncated or corrupt)",
                       name, h->payload_size,
                       (unsigned long long)(count * (uint64_t)h->itemsize));
    return DI_OK;
bad:
    return di_fail(err, DI_EFORMAT, "%s: malformed NPY header near byte %zu", name,
                   (size_t)(s.p - (const char *)data));
}

/* Element i of the payload (in file order) as a float. */
static float element(const npy_header *h, size_t i)
{
    const uint8_t *p = h->payload + i * (size_t)h->itemsize;
    uint8_t b[8];
    if (h->big_endian)
        for (int k = 0; k < h->itemsize; k++)
            b[k] = p[h->itemsize - 1 - k];
    else
        memcpy(b, p, (size_t)h->itemsize);
    switch (h->kind) {
    case NPY_U8: return b[0];
    case NPY_U16: return (float)(b[0] | b[1] << 8);
    case NPY_F32: {
        uint32_t u = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case NPY_F64: {
        uint64_t u = 0;
        for (int k = 7; k >= 0; k--)
            u = u << 8 | b[k];
        double d;
        memcpy(&d, &u, 8);
        return (float)d;
    }
    }
    return 0;
}

/* The H and W of a depth map's NPY shape (HxW, 1xHxW or HxWx1), checked. */
static int depth_shape(const npy_header *h, const char *name, int64_t *Wp,
                       int64_t *Hp, di_error *err)
{
    int64_t H, W;
    if (h->ndim == 2) {
        H = h->dims[0], W = h->dims[1];
    } else if (h->ndim == 3 && h->dims[0] == 1) {
        H = h->dims[1], W = h->dims[2];
    } else if (h->ndim == 3 && h->dims[2] == 1) {
        H = h->dims[0], W = h->dims[1];
    } else {
        char shape[160] = "";
        size_t len = 0;
        for (int i = 0; i < h->ndim && len < sizeof shape - 24; i++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld",
                                    i ? "x" : "", (long long)h->dims[i]);
        return di_fail(err, DI_ESHAPE,
                       "%s: NPY shape (%s) is not a depth map (HxW, 1xHxW or HxWx1)",
                       name, h->ndim ? shape : "scalar");
    }
    *Wp = W, *Hp = H;
    return di_io_check_dims(W, H, name, err);
}

/* The pixels in C order as host floats. */
static void depth_pixels(const npy_header *h, int64_t W, int64_t H, float *px)
{
    size_t n = (size_t)W * (size_t)H;
    if (h->fortran) {
        /* Column-major: element (y, x) is at x * H + y (a unit dimension
        ** does not change the order). */
        for (int64_t x = 0; x < W; x++)
            for (int64_t y = 0; y < H; y++)
                px[y * W + x] = element(h, (size_t)(x * H + y));
    } else if (h->kind == NPY_F32 && !h->big_endian) {
        memcpy(px, h->payload, n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++)
            px[i] = element(h, i);
    }
}

int di_npy_read_depth_mem(const uint8_t *data, size_t size, const char *name,
                          di_depth *out, di_error *err)
{
    name = DI_IO_NAME(name);
    out->data = NULL;
    out->width = out->height = 0;
    npy_header h;
    int64_t H, W;
    int rc = parse_header(data, size, name, &h, err);
    if (rc || (rc = depth_shape(&h, name, &W, &H, err)))
        return rc;
    size_t n = (size_t)W * (size_t)H;
    float *px = malloc(n * sizeof(float));
    if (!px)
        return di_fail(err, DI_ENOMEM, "%s: out of memory for %lldx%lld pixels", name,
                       (long long)W, (long long)H);
    depth_pixels(&h, W, H, px);
    if ((rc = di_io_check_finite(px, (int)W, (int)H, name, err)) != DI_OK) {
        free(px);
        return rc;
    }
    out->width = (int)W;
    out->height = (int)H;
    out->data = px;
    return DI_OK;
}

int di_npy_depth_view(const uint8_t *data, size_t size, const char *name,
                      float **buf, size_t *cap, const float **pixels,
                      int *width, int *height, di_error *err)
{
    npy_header h;
    int64_t H, W;
    int rc = parse_header(data, size, name, &h, err);
    if (rc || (rc = depth_shape(&h, name, &W, &H, err)))
        return rc;
    size_t n = (size_t)W * (size_t)H;
    if (!h.fortran && h.kind == NPY_F32 && !h.big_endian &&
        (uintptr_t)h.payload % sizeof(float) == 0) {
        *pixels = (const float *)(const void *)h.payload; /* in place */
    } else {
        if (n > *cap) {
            float *nb = malloc(n * sizeof(float));
            if (!nb)
                return di_fail(err, DI_ENOMEM, "%s: out of memory for %lldx%lld pixels",
                               name, (long long)W, (long long)H);
            free(*buf);
            *buf = nb;
            *cap = n;
        }
        depth_pixels(&h, W, H, *buf);
        *pixels = *buf;
    }
    *width = (int)W;
    *height = (int)H;
    return DI_OK;
}

int di_npy_read_tensor_mem(const uint8_t *data, size_t size, const char *name,
                           di_tensor *out, di_error *err)
{
    name = DI_IO_NAME(name);
    memset(out, 0, sizeof *out);
    npy_header h;
    int rc = parse_header(data, size, name, &h, err);
    if (rc)
        return rc;
    size_t n = 1;
    for (int i = 0; i < h.ndim; i++)
        n *= (size_t)h.dims[i];
    float *v = malloc(n ? n * sizeof(float) : 1);
    if (!v)
        return di_fail(err, DI_ENOMEM, "%s: out of memory for %zu floats", name, n);
    if (h.fortran && h.ndim > 1) {
        /* Reverse the axes: C index from the Fortran-ordered file. */
        int64_t idx[DI_NPY_MAX_DIMS] = {0};
        for (size_t c = 0; c < n; c++) {
            size_t f = 0, stride = 1;
            for (int k = 0; k < h.ndim; k++) {
                f += (size_t)idx[k] * stride;
                stride *= (size_t)h.dims[k];
            }
            v[c] = element(&h, f);
            for (int k = h.ndim - 1; k >= 0; k--) {
                if (++idx[k] < h.dims[k])
                    break;
                idx[k] = 0;
            }
        }
    } else if (h.kind == NPY_F32 && !h.big_endian) {
        memcpy(v, h.payload, n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++)
            v[i] = element(&h, i);
    }
    out->ndim = h.ndim;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->data = v;
    return DI_OK;
}

int di_npy_read_tensor(const char *path, di_tensor *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t n;
    int rc = di_read_file(path, DI_IO_MAX_FILE_BYTES, &buf, &n, err);
    if (rc)
        return rc;
    rc = di_npy_read_tensor_mem(buf, n, path, out, err);
    free(buf);
    return rc;
}

int di_npy_write_f32(const char *path, const float *data, const int64_t *dims,
                     int ndim, di_error *err)
{
    if (ndim < 0 || ndim > DI_NPY_MAX_DIMS)
        return di_fail(err, DI_EINVAL, "%s: cannot write an NPY of %d dimensions",
                       path, ndim);
    char dict[512];
    size_t len = (size_t)snprintf(dict, sizeof dict,
                                  "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return di_fail(err, DI_EINVAL, "%s: negative NPY dimension", path);
        n *= (size_t)dims[i];
        len += (size_t)snprintf(dict + len, sizeof dict - len, "%lld%s",
                                (long long)dims[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
    }
    len += (size_t)snprintf(dict + len, sizeof dict - len, "), }");
    /* Magic + version + length + dict + padding + '\n', a multiple of 64. */
    size_t pre = 10;
    size_t total = (pre + len + 1 + 63) / 64 * 64;
    size_t bytes = n * sizeof(float);
    uint8_t *buf = malloc(total + bytes);
    if (!buf)
        return di_fail(err, DI_ENOMEM, "%s: out of memory", path);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hlen = total - pre;
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + pre, dict, len);
    memset(buf + pre + len, ' ', total - pre - len - 1);
    buf[total - 1] = '\n';
    /* Little-endian on every host this builds for (x86-64, aarch64). */
    if (bytes)
        memcpy(buf + total, data, bytes);
    int rc = di_io_write_file(path, buf, total + bytes, err);
    free(buf);
    return rc;
}

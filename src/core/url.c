/* url.c: database URLs. The parser's messages never contain the password:
** a wrong URL is echoed back to people, and URLs carry secrets. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copies [s, s+n) into out with %XX decoded; false when it does not fit or
** an escape is malformed. */
static bool decode_part(const char *s, size_t n, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]);
            int lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= out_size)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

static const char *normalise_scheme(const char *s, size_t n)
{
    static const struct { const char *in, *out; } names[] = {
        {"mysql", "mysql"}, {"mariadb", "mysql"},
        {"postgresql", "postgresql"}, {"postgres", "postgresql"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].in) == n && strncmp(s, names[i].in, n) == 0)
            return names[i].out;
    return NULL;
}

int di_url_parse(const char *text, di_url *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return di_fail(err, DI_EINVAL, "empty database URL");
    if (strncmp(text, "sqlite:", 7) == 0) {
        const char *p = text + 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2; /* sqlite://relative or sqlite:///absolute */
        if (!*p)
            return di_fail(err, DI_EINVAL, "database URL sqlite: names no file");
        if (strlen(p) >= sizeof out->path)
            return di_fail(err, DI_EINVAL, "database URL: SQLite path too long");
        strcpy(out->scheme, "sqlite");
        strcpy(out->path, p);
        return DI_OK;
    }
    const char *sep = strstr(text, "://");
    const char *scheme = sep ? normalise_scheme(text, (size_t)(sep - text)) : NULL;
    if (!scheme)
        return di_fail(err, DI_EINVAL,
                       "database URL must start with sqlite:, mysql:// or postgresql://");
    strcpy(out->scheme, scheme);
    const char *p = sep + 3;
    const char *slash = strchr(p, '/');
    if (!slash || !slash[1])
        return di_fail(err, DI_EINVAL, "database URL (%s) names no database after the host",
                       scheme);
    /* userinfo is up to the last '@' before the path: passwords may hold '@'
    ** when escaped, and a raw one is tolerated the same way. */
    const char *at = NULL;
    for (const char *q = p; q < slash; q++)
        if (*q == '@')
            at = q;
    const char *hostpart = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (!decode_part(p, ulen, out->user, sizeof out->user))
            return di_fail(err, DI_EINVAL, "database URL: bad user name");
        if (colon) {
            if (!decode_part(colon + 1, (size_t)(at - colon - 1), out->password,
                             sizeof out->password))
                return di_fail(err, DI_EINVAL, "database URL: bad password encoding");
            out->has_password = true;
        }
        hostpart = at + 1;
    }
    const char *hend = slash;
    const char *pcolon = NULL;
    if (*hostpart == '[') { /* [::1]:port */
        const char *rb = memchr(hostpart, ']', (size_t)(slash - hostpart));
        if (!rb)
            return di_fail(err, DI_EINVAL, "database URL: unclosed '[' in host");
        if (!decode_part(hostpart + 1, (size_t)(rb - hostpart - 1), out->host,
                         sizeof out->host))
            return di_fail(err, DI_EINVAL, "database URL: bad host");
        if (rb + 1 < slash && rb[1] == ':')
            pcolon = rb + 1;
    } else {
        pcolon = memchr(hostpart, ':', (size_t)(slash - hostpart));
        size_t hlen = pcolon ? (size_t)(pcolon - hostpart) : (size_t)(hend - hostpart);
        if (!decode_part(hostpart, hlen, out->host, sizeof out->host))
            return di_fail(err, DI_EINVAL, "database URL: bad host");
    }
    if (!out->host[0])
        return di_fail(err, DI_EINVAL, "database URL (%s) names no host", scheme);
    if (pcolon) {
        char *end;
        long port = strtol(pcolon + 1, &end, 10);
        if (end != slash || port <= 0 || port > 65535)
            return di_fail(err, DI_EINVAL, "database URL: bad port");
        out->port = (int)port;
    }
    const char *db = slash + 1;
    size_t dblen = strcspn(db, "?#");
    if (!decode_part(db, dblen, out->path, sizeof out->path) || !out->path[0])
        return di_fail(err, DI_EINVAL, "database URL: bad database name");
    return DI_OK;
}

void di_url_redact(const char *text, char *out, size_t out_size)
{
    if (!out_size)
        return;
    const char *sep = text ? strstr(text, "://") : NULL;
    const char *slash = sep ? strchr(sep + 3, '/') : NULL;
    const char *at = NULL;
    if (sep)
        for (const char *q = sep + 3; slash ? q < slash : *q; q++)
            if (*q == '@')
                at = q;
    const char *colon = at ? memchr(sep + 3, ':', (size_t)(at - sep - 3)) : NULL;
    if (!colon) {
        snprintf(out, out_size, "%s", text ? text : "");
        return;
    }
    snprintf(out, out_size, "%.*s:***%s", (int)(colon - text), text, at);
}

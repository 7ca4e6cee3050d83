/* error.c: the error model of core.h. */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int di_failv(di_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        err->detail = DI_DETAIL_NONE;
        err->named = 0;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        /* One line: a message built from outside text must not break logs. */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return code;
}

int di_fail(di_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    di_failv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int di_fail_detail(di_error *err, int code, int detail, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    di_failv(err, code, fmt, ap);
    va_end(ap);
    if (err)
        err->detail = detail;
    return code;
}

int di_error_prefix(di_error *err, const char *fmt, ...)
{
    if (!err)
        return DI_OK;
    char prefix[DI_ERROR_MSG_MAX];
    char old[DI_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Both parts are truncated to fit: the prefix first, then the old text. */
    size_t plen = strnlen(prefix, sizeof err->msg - 3);
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    size_t room = sizeof err->msg - plen - 3;
    size_t olen = strnlen(old, room);
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    return err->code;
}

void di_error_clear(di_error *err)
{
    if (err) {
        err->code = DI_OK;
        err->detail = DI_DETAIL_NONE;
        err->named = 0;
        err->msg[0] = '\0';
    }
}

const char *di_status_name(int code)
{
    switch (code) {
    case DI_OK: return "ok";
    case DI_EIO: return "io";
    case DI_EFORMAT: return "format";
    case DI_ENOMEM: return "nomem";
    case DI_EINVAL: return "invalid";
    case DI_EUNSUPPORTED: return "unsupported";
    case DI_EDB: return "db";
    case DI_ECONN: return "connection";
    case DI_EAUTH: return "auth";
    case DI_ESCHEMA: return "schema";
    case DI_EINTR: return "interrupted";
    case DI_ENOSPC: return "nospace";
    case DI_ESHAPE: return "shape";
    case DI_EDEVICE: return "device";
    case DI_EINTERNAL: return "internal";
    default: return "unknown";
    }
}

int di_status_from_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return DI_ENOSPC;
    case ENOMEM: return DI_ENOMEM;
    case EINTR: return DI_EINTR;
    default: return DI_EIO;
    }
}

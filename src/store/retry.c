/*
** retry.c: the *_retry variants: on a lost connection, wait with backoff
** (0.1 s doubling to 5 s), reconnect and try again, until a deadline or a
** stop request. The operations are idempotent, so repeating one whose
** commit may or may not have landed is safe.
*/
#include "store_internal.h"

#include <stdio.h>

/* ---- retries ---- */

/* Sleeps up to seconds in short slices so that a stop request is seen soon. */
static void nap(double seconds, volatile bool *stop)
{
    double end = di_now() + seconds;
    for (;;) {
        if (stop && *stop)
            return;
        double left = end - di_now();
        if (left <= 0)
            return;
        di_sleep(left < 0.05 ? left : 0.05);
    }
}

/* After an operation failed with DI_ECONN: waits with backoff and reconnects
** until it works (DI_OK: the caller tries again), the deadline passes, a stop
** is requested or the error is not a connection error. */
int di_store_recover(di_store *s, double start, double retry_for, double *delay,
                   volatile bool *stop, di_error *err)
{
    char last[DI_ERROR_MSG_MAX];
    snprintf(last, sizeof last, "%s", err ? err->msg : "");
    for (;;) {
        if (stop && *stop)
            return di_fail(err, DI_EINTR, "stopped while the database was unreachable: %s",
                           last);
        double left = start + retry_for - di_now();
        if (left <= 0)
            return di_fail(err, DI_ECONN, "%s: gave up after %.0f s: %s", s->where,
                           retry_for, last);
        nap(*delay < left ? *delay : left, stop);
        *delay = *delay * 2 > 5.0 ? 5.0 : *delay * 2;
        if (stop && *stop)
            continue;
        di_error e = {0};
        int rc = di_store_reconnect(s, &e);
        if (rc == DI_OK)
            return DI_OK;
        if (rc != DI_ECONN) {
            if (err)
                *err = e;
            return rc;
        }
        snprintf(last, sizeof last, "%s", e.msg);
    }
}

int di_store_fetch_pending_retry(di_store *s, int64_t after_id, int max_rows, bool force,
                                 di_store_row *rows, int *nrows, double retry_for,
                                 volatile bool *stop, di_error *err)
{
    double start = di_now(), delay = 0.1;
    for (;;) {
        int rc = di_store_fetch_pending(s, after_id, max_rows, force, rows, nrows, err);
        if (rc != DI_ECONN)
            return rc;
        rc = di_store_recover(s, start, retry_for, &delay, stop, err);
        if (rc)
            return rc;
    }
}

int di_store_write_retry(di_store *s, const di_store_result *results, int n,
                         double retry_for, volatile bool *stop, di_error *err)
{
    double start = di_now(), delay = 0.1;
    for (;;) {
        int rc = di_store_write(s, results, n, err);
        if (rc != DI_ECONN)
            return rc;
        rc = di_store_recover(s, start, retry_for, &delay, stop, err);
        if (rc)
            return rc;
    }
}

/*
** retry.c: the *_retry variants: on a lost connection, wait with backoff
** (0.1 s doubling to 5 s), reconnect and try again, until a deadline or a
** stop request. The operations are idempotent, so repeating one whose
** commit may or may not have landed is safe.
**
** The deadline and the stop flag also bound each wait for the server inside
** the call (di_store_wait_end, di_store_wait_over, used by the backends): a
** frozen server (no answer, connection still up) costs at most the rest of
** the retry window, and a stop request at most DI_STORE_STOP_GRACE seconds.
*/
#include "store_internal.h"

#include <stdatomic.h>
#include <stdio.h>

/* A wait never gets less than this, so that an answer already on its way
** at the end of the window is still taken. */
#define MIN_WAIT 0.5

double di_store_wait_end(di_store *s)
{
    double limit = s->connecting && DI_STORE_CONNECT_TIMEOUT < s->timeout
                       ? DI_STORE_CONNECT_TIMEOUT : s->timeout;
    double now = di_now(), end = now + limit;
    if (s->deadline > 0 && s->deadline < end)
        end = s->deadline > now + MIN_WAIT ? s->deadline : now + MIN_WAIT;
    return end;
}

bool di_store_wait_over(di_store *s, double *end)
{
    double now = di_now();
    if (s->cancel && atomic_load(s->cancel)) {
        if (s->cancel_seen == 0)
            s->cancel_seen = now;
        if (s->cancel_seen + DI_STORE_STOP_GRACE < *end)
            *end = s->cancel_seen + DI_STORE_STOP_GRACE;
    }
    return now >= *end;
}

static bool stopped(const atomic_bool *stop)
{
    return stop && atomic_load(stop);
}

/* Sleeps up to seconds in short slices so that a stop request is seen soon. */
static void nap(double seconds, const atomic_bool *stop)
{
    double end = di_now() + seconds;
    for (;;) {
        if (stopped(stop))
            return;
        double left = end - di_now();
        if (left <= 0)
            return;
        di_sleep(left < 0.05 ? left : 0.05);
    }
}

void di_store_watch_retries(di_store *s, di_store_retry_watch *w)
{
    s->watch = w;
}

/* The watcher (a progress display) sees from when the connection is lost
** until the call ends, whichever way. */
static void watch_lost(di_store *s, double since)
{
    if (s->watch)
        atomic_store(&s->watch->lost_since, since);
}

/* After an operation failed with DI_ECONN: waits with backoff and reconnects
** until it works (DI_OK: the caller tries again), the deadline passes, a stop
** is requested or the error is not a connection error. */
int di_store_recover(di_store *s, double start, double retry_for, double *delay,
                     const atomic_bool *stop, di_error *err)
{
    char last[DI_ERROR_MSG_MAX];
    snprintf(last, sizeof last, "%s", err ? err->msg : "");
    for (;;) {
        if (stopped(stop))
            return di_fail(err, DI_EINTR, "stopped while the database was unreachable: %s",
                           last);
        double left = start + retry_for - di_now();
        if (left <= 0)
            return di_fail(err, DI_ECONN, "%s: gave up after %.0f s: %s", s->where,
                           retry_for, last);
        nap(*delay < left ? *delay : left, stop);
        *delay = *delay * 2 > 5.0 ? 5.0 : *delay * 2;
        if (stopped(stop) || di_now() >= start + retry_for)
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

void di_store_call_begin(di_retry_call *c, di_store *s, double retry_for, const atomic_bool *stop)
{
    *c = (di_retry_call){s, di_now(), retry_for, 0.1, stop};
    s->cancel = stop;
    s->cancel_seen = 0;
    s->deadline = retry_for > 0 ? c->start + retry_for : 0;
}

/* After an attempt returned rc: DI_OK to try again, else the final status. */
int di_store_call_next(di_retry_call *c, int rc, di_error *err)
{
    if (rc == DI_ECONN) {
        if (c->delay == 0.1) /* the first loss of this call: show it */
            watch_lost(c->s, di_now());
        rc = di_store_recover(c->s, c->start, c->retry_for, &c->delay, c->stop, err);
    }
    return rc == DI_OK ? 1 : rc;
}

int di_store_call_end(di_retry_call *c, int rc)
{
    watch_lost(c->s, 0);
    c->s->cancel = NULL;
    c->s->deadline = 0;
    c->s->cancel_seen = 0;
    return rc;
}

int di_store_fetch_pending_retry(di_store *s, int64_t after_id, int max_rows, bool force,
                                 di_store_row *rows, int *nrows, double retry_for,
                                 const atomic_bool *stop, di_error *err)
{
    di_retry_call c;
    di_store_call_begin(&c, s, retry_for, stop);
    int rc;
    do
        rc = di_store_fetch_pending(s, after_id, max_rows, force, rows, nrows, err);
    while (rc != DI_OK && (rc = di_store_call_next(&c, rc, err)) == 1);
    return di_store_call_end(&c, rc);
}

int di_store_write_retry(di_store *s, const di_store_result *results, int n,
                         double retry_for, const atomic_bool *stop, di_error *err)
{
    di_retry_call c;
    di_store_call_begin(&c, s, retry_for, stop);
    int rc;
    do
        rc = di_store_write(s, results, n, err);
    while (rc != DI_OK && (rc = di_store_call_next(&c, rc, err)) == 1);
    return di_store_call_end(&c, rc);
}

int di_store_insert_panoramas_retry(di_store *s, const int64_t *ids,
                                    const char *const *sids, int n, double retry_for,
                                    const atomic_bool *stop, di_error *err)
{
    di_retry_call c;
    di_store_call_begin(&c, s, retry_for, stop);
    int rc;
    do
        rc = di_store_insert_panoramas(s, ids, sids, n, err);
    while (rc != DI_OK && (rc = di_store_call_next(&c, rc, err)) == 1);
    return di_store_call_end(&c, rc);
}

/* writer.c: the one writer thread. Results are grouped into transactions
** by count (write_rows) and by time (write_seconds after the first result
** of a group), so that a crash loses at most a fraction of a second of work
** and the database sees few, large transactions. The store's UPDATEs are
** idempotent, so replaying a transaction whose COMMIT was lost with the
** connection writes the same values again. If the database stays away past
** db_retry_for, the run stops: what was committed stays, the rest is
** counted as skipped. After a stop request the writer still flushes what
** comes, unless the database does not answer: then it gives up within
** DI_STORE_STOP_GRACE seconds rather than hold the stop up. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct writer {
    di_pipeline *p;
    di_store_result *buf;
    int n, cap;
    double first; /* when the oldest result of the group arrived */
    bool dead;    /* the database is gone: discard */
    int64_t sent; /* transactions tried (test.fail_write) */
} writer;

static void keep_failure(di_pipeline *p, const di_store_result *r)
{
    pthread_mutex_lock(&p->fatal_lock);
    if (p->nfirst_failures < DI_PIPELINE_FIRST_FAILURES) {
        di_pipeline_failure *f = &p->first_failures[p->nfirst_failures++];
        f->id = r->id;
        f->face = r->face;
        memcpy(f->error, r->error, sizeof f->error);
        f->error[sizeof f->error - 1] = '\0';
    }
    pthread_mutex_unlock(&p->fatal_lock);
}

static void flush(writer *w)
{
    di_pipeline *p = w->p;
    if (w->n == 0)
        return;
    if (!w->dead) {
        double t0 = di_pipe_begin(p, DI_STAGE_WRITE);
        di_error e = {0};
        int rc = ++w->sent == p->test.fail_write
                     ? di_fail(&e, DI_EDB, "test: injected failure of transaction %lld",
                               (long long)w->sent)
                     : di_store_write_retry(p->write_store, w->buf, w->n, p->cfg.db_retry_for,
                                            &p->stop, &e);
        di_pipe_end(p, DI_STAGE_WRITE, t0);
        if (rc == DI_EINTR) {
            /* stopped while the database did not answer: these results are
            ** not written (a rerun redoes them), and the run ends as
            ** interrupted, not as a database error */
            w->dead = true;
        } else if (rc) {
            di_error_prefix(&e, "%s: writing results to table %s",
                            di_store_where(p->write_store), p->cfg.store.table);
            di_pipe_fatal(p, &e);
            w->dead = true;
        } else {
            int ok = 0;
            for (int i = 0; i < w->n; i++) {
                ok += w->buf[i].ok;
                if (!w->buf[i].ok)
                    keep_failure(p, &w->buf[i]);
            }
            atomic_fetch_add(&p->ok, ok);
            atomic_fetch_add(&p->failed, w->n - ok);
            if (p->leases) /* chunks whose faces are all committed can be done */
                di_leases_committed(p->leases, w->buf, w->n);
        }
    }
    w->n = 0;
}

static void take(writer *w, di_store_result *r)
{
    if (w->n == 0)
        w->first = di_now();
    w->buf[w->n++] = *r;
    di_queue_push(w->p->free_results, r);
    if (w->n == w->cap)
        flush(w);
}

void *di_writer_main(void *arg)
{
    di_pipeline *p = arg;
    writer w = {.p = p, .cap = p->cfg.write_rows};
    w.buf = calloc((size_t)w.cap, sizeof *w.buf);
    if (!w.buf) {
        di_error e;
        di_fail(&e, DI_ENOMEM, "out of memory for the writer");
        di_pipe_fatal(p, &e);
        w.dead = true;
        w.cap = 0;
    }
    for (;;) {
        di_store_result *r;
        if (w.n == 0) {
            /* nothing waits to be written: block until something comes or
            ** every post worker has ended */
            r = di_queue_pop(p->write_q);
            if (!r)
                break;
        } else {
            /* a group is open: wait for more until its time is up (a
            ** condition variable, not polling), then write it */
            double left = w.first + p->cfg.write_seconds - di_now();
            bool closed = false;
            r = di_queue_pop_timed(p->write_q, left, &closed);
            if (!r) {
                flush(&w);
                if (closed)
                    break; /* every post worker has ended */
                continue;
            }
        }
        if (w.cap == 0)
            di_queue_push(p->free_results, r);
        else
            take(&w, r);
    }
    flush(&w);
    free(w.buf);
    p->t_end = di_now();
    atomic_store(&p->done, true);
    return NULL;
}

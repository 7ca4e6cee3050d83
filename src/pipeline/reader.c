/* reader.c: the reader thread. Keyset pages (in chunks mode: of the id range
** of each chunk it claims, see lease.c) of rows with pending faces, one
** task per pending face. Each page is one short statement: no cursor and no
** transaction stays open between pages (the seed's crash was a streaming
** query held open while the consumer was slow, until the server dropped the
** connection). The next page is fetched once half of the current one has
** been handed on: downstream still has half a page and its queues of work
** while the statement runs, so the page is there before it is needed. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct reader {
    di_pipeline *p;
    di_batch *batch; /* model mode: the batch being filled */
    int64_t produced;
    int nfetches;
} reader;

static void push_batch(reader *r)
{
    di_batch *b = r->batch;
    r->batch = NULL;
    if (!b || b->n == 0) {
        if (b)
            di_queue_push(r->p->free_batches, b);
        return;
    }
    /* one pointer per slot: each decoder that pops it claims one slot */
    for (int i = 0; i < b->n; i++)
        di_queue_push(r->p->decode_q, b);
}

static void emit(reader *r, const di_store_row *row, int face)
{
    di_pipeline *p = r->p;
    di_item *it;
    if (p->model_mode) {
        if (!r->batch) {
            r->batch = di_queue_pop(p->free_batches);
            r->batch->n = 0;
            atomic_store(&r->batch->next, 0);
            atomic_store(&r->batch->done, 0);
        }
        it = &r->batch->slots[r->batch->n++];
    } else {
        it = di_queue_pop(p->free_items);
    }
    it->id = row->id;
    it->face = face;
    memcpy(it->sid, row->sid, sizeof it->sid);
    it->sid[sizeof it->sid - 1] = '\0';
    it->full_w = it->full_h = 0;
    it->ok = true;
    it->error[0] = '\0';
    /* a sid that cannot be used fails this face, recorded; the run goes on */
    if (row->sid_problem == DI_SID_TOO_LONG)
        di_item_fail(it, "panorama_sid is longer than 255 bytes (refused)");
    else if (row->sid_problem == DI_SID_NUL)
        di_item_fail(it, "panorama_sid contains a NUL byte (refused, not truncated)");
    atomic_fetch_add(&p->queued, 1);
    r->produced++;
    if (p->model_mode) {
        if (r->batch->n == p->cfg.batch)
            push_batch(r);
    } else {
        di_queue_push(p->post_q, it);
    }
}

/* Sleeps the test-only delay in small steps so that a stop is not held up. */
static void test_delay(di_pipeline *p)
{
    double until = di_now() + p->test.read_delay;
    while (!di_pipe_stopped(p) && di_now() < until)
        di_sleep(0.02);
}

static int fetch(reader *r, int64_t after, di_store_row *rows, int *n)
{
    di_pipeline *p = r->p;
    if (p->test.read_delay > 0 && r->nfetches > 0)
        test_delay(p);
    r->nfetches++;
    double t0 = di_pipe_begin(p, DI_STAGE_READ);
    di_error e = {0};
    int rc = di_store_fetch_pending_retry(p->read_store, after, p->cfg.page_rows,
                                          p->cfg.force, rows, n,
                                          p->cfg.db_retry_for, &p->stop, &e);
    di_pipe_end(p, DI_STAGE_READ, t0);
    if (rc && !di_pipe_stopped(p)) {
        di_error_prefix(&e, "%s: reading pending faces of table %s",
                        di_store_where(p->read_store), p->cfg.store.table);
        di_pipe_fatal(p, &e);
    }
    if (rc)
        *n = 0;
    return rc;
}

static int fetch_range(reader *r, int64_t after, int64_t upto, di_store_row *rows, int *n)
{
    di_pipeline *p = r->p;
    if (p->test.read_delay > 0 && r->nfetches > 0)
        test_delay(p);
    r->nfetches++;
    double t0 = di_pipe_begin(p, DI_STAGE_READ);
    di_error e = {0};
    int rc = di_store_fetch_range_retry(p->read_store, after, upto, p->cfg.page_rows,
                                        p->cfg.force, rows, n, p->cfg.db_retry_for,
                                        &p->stop, &e);
    di_pipe_end(p, DI_STAGE_READ, t0);
    if (rc && !di_pipe_stopped(p)) {
        di_error_prefix(&e, "%s: reading pending faces of table %s",
                        di_store_where(p->read_store), p->cfg.store.table);
        di_pipe_fatal(p, &e);
    }
    if (rc)
        *n = 0;
    return rc;
}

/* Chunks mode (lease.c): claim a chunk, hand on its pending faces page by
** page, tell the lease keeper how many, claim the next one while this one is
** still being processed. When none is free but others still hold some,
** poll: a lease that expires (its worker died) is taken over. */
static void read_chunks(reader *r, di_store_row *rows)
{
    di_pipeline *p = r->p;
    const int page = p->cfg.page_rows;
    const int nfaces = p->cfg.store.nfaces;
    double poll = p->cfg.lease / 4;
    poll = poll < 0.05 ? 0.05 : poll > 1.0 ? 1.0 : poll;
    bool limit_hit = false;
    double busy_since = 0;
    while (!di_pipe_stopped(p) && !limit_hit) {
        di_chunk c;
        int slot = -1;
        int next = di_leases_next(p->leases, &c, &slot);
        if (next == DI_NEXT_NONE)
            break;
        if (next == DI_NEXT_BUSY) {
            /* the older chunk's last faces may sit in the half-filled batch:
            ** after a short wait it goes on as it is */
            double now = di_now();
            if (busy_since == 0)
                busy_since = now;
            else if (now - busy_since > 0.1)
                push_batch(r);
            di_sleep(0.005);
            continue;
        }
        busy_since = 0;
        if (next == DI_NEXT_WAIT) {
            /* a half-filled batch goes on: this worker's own chunks in it
            ** must finish for the run to end */
            push_batch(r);
            double until = di_now() + poll;
            while (!di_pipe_stopped(p) && di_now() < until)
                di_sleep(0.02);
            continue;
        }
        int64_t after = c.lo > INT64_MIN ? c.lo - 1 : c.lo, emitted = 0;
        bool whole = true;
        for (;;) {
            if (di_pipe_stopped(p) || di_leases_lost(p->leases, slot)) {
                whole = false;
                break;
            }
            int n = 0;
            if (fetch_range(r, after, c.hi, rows, &n)) {
                whole = false;
                break;
            }
            for (int i = 0; i < n && !limit_hit; i++)
                for (int f = 0; f < nfaces; f++) {
                    if (!(rows[i].pending & (1u << f)))
                        continue;
                    if (p->cfg.limit > 0 && r->produced >= p->cfg.limit) {
                        limit_hit = true;
                        break;
                    }
                    emit(r, &rows[i], f);
                    emitted++;
                }
            if (limit_hit) {
                whole = false;
                break;
            }
            if (n < page)
                break;
            after = rows[n - 1].id;
        }
        di_leases_read_done(p->leases, slot, emitted, whole && !di_pipe_stopped(p));
    }
}

void *di_reader_main(void *arg)
{
    di_pipeline *p = arg;
    reader r = {.p = p};
    const int page = p->cfg.page_rows;
    const int nfaces = p->cfg.store.nfaces;
    di_store_row *cur = calloc((size_t)page, sizeof *cur);
    di_store_row *next = calloc((size_t)page, sizeof *next);
    int ncur = 0, nnext = 0;
    if (!cur || !next) {
        di_error e;
        di_fail(&e, DI_ENOMEM, "out of memory for a page of rows");
        di_pipe_fatal(p, &e);
    } else if (p->leases) {
        read_chunks(&r, cur);
    } else if (!di_pipe_stopped(p)) {
        fetch(&r, DI_STORE_FIRST_ID, cur, &ncur);
    }
    bool limit_hit = false;
    while (ncur > 0 && !di_pipe_stopped(p) && !limit_hit) {
        nnext = 0;
        for (int i = 0; i < ncur && !di_pipe_stopped(p) && !limit_hit; i++) {
            if (i == ncur / 2 && ncur == page)
                fetch(&r, cur[ncur - 1].id, next, &nnext);
            for (int f = 0; f < nfaces && !di_pipe_stopped(p); f++) {
                if (!(cur[i].pending & (1u << f)))
                    continue;
                if (p->cfg.limit > 0 && r.produced >= p->cfg.limit) {
                    limit_hit = true;
                    break;
                }
                emit(&r, &cur[i], f);
            }
        }
        di_store_row *t = cur;
        cur = next;
        next = t;
        ncur = nnext;
    }
    push_batch(&r);
    di_queue_close(p->model_mode ? p->decode_q : p->post_q);
    free(cur);
    free(next);
    if (p->test.reader_linger > 0) /* deaf to the stop on purpose */
        di_sleep(p->test.reader_linger);
    return NULL;
}

/* threads.c: starting the pipeline's threads, stopping, observing and
** joining them, and the bookkeeping they share (the first fatal error, the
** stages' busy time). */
#include "internal.h"

#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void di_pipe_fatal(di_pipeline *p, const di_error *e)
{
    pthread_mutex_lock(&p->fatal_lock);
    if (p->fatal_code == DI_OK) {
        p->fatal_code = e->code ? e->code : DI_EDB;
        p->fatal = *e;
    }
    pthread_mutex_unlock(&p->fatal_lock);
    atomic_store(&p->stop, true);
    atomic_store(&p->stopping, true);
}

double di_pipe_begin(di_pipeline *p, int stage)
{
    double t0 = di_now();
    pthread_mutex_lock(&p->active_lock[stage]);
    p->active[stage]++;
    p->active_since[stage] += t0;
    pthread_mutex_unlock(&p->active_lock[stage]);
    return t0;
}

void di_pipe_end(di_pipeline *p, int stage, double t0)
{
    double dt = di_now() - t0;
    pthread_mutex_lock(&p->active_lock[stage]);
    p->active[stage]--;
    p->active_since[stage] -= t0;
    if (dt > 0)
        atomic_fetch_add(&p->busy_ns[stage], (unsigned long long)(dt * 1e9));
    pthread_mutex_unlock(&p->active_lock[stage]);
}

/* pthread_create, or (test only) a failure like EAGAIN at the Nth call.
** The thread is named (top -H, /proc/PID/task/TID/comm, the tests) and a
** CPU-side one goes to SCHED_IDLE under DI_SIDE_IDLE (di_side_sched in
** pipeline.h says why). Lowering a thread's class needs no privilege, but a
** sandbox may refuse it: the thread then runs at the normal class, as
** before, and the first reason is kept for the start line. The creator sets
** the class, not the thread itself, so that it is in place (or known to
** have failed) when di_pipeline_start returns. */
static int spawn(di_pipeline *p, int *count, pthread_t *t, void *(*fn)(void *),
                 const char *name, bool side)
{
    if (++*count == p->test.fail_thread)
        return EAGAIN;
    int rc = pthread_create(t, NULL, fn, p);
    if (rc)
        return rc;
    pthread_setname_np(*t, name); /* at most 15 characters; cosmetic */
    if (side && p->side == DI_SIDE_IDLE) {
        struct sched_param sp = {.sched_priority = 0};
        int e = pthread_setschedparam(*t, SCHED_IDLE, &sp);
        if (e && !p->side_error[0])
            snprintf(p->side_error, sizeof p->side_error, "%s", strerror(e));
    }
    return 0;
}

/* libgomp starts a team's workers from the thread that opens the parallel
** region, and a new thread takes its creator's name: the inference thread's
** workers were all "di-infer" too, and top -H, perf and /proc could not
** tell the thread that feeds the engine from the engine's workers. libgomp
** keeps that team for as long as the inference thread lives and reuses it
** for every later region of at most as many threads; the engine's regions
** ask for its session's threads, so naming a team of that size once, before
** the first batch, names every worker the engine runs on. */
void di_pipe_name_engine_team(int threads)
{
    if (threads < 2)
        return;
#pragma omp parallel num_threads(threads)
    if (omp_get_thread_num() != 0)
        pthread_setname_np(pthread_self(), "di-omp"); /* cosmetic: no check */
}

int di_pipeline_start(di_pipeline *p, di_error *err)
{
    p->t_start = di_now();
    p->decoders = calloc((size_t)(p->ndecoders ? p->ndecoders : 1), sizeof *p->decoders);
    p->workers = calloc((size_t)p->nworkers, sizeof *p->workers);
    if (!p->decoders || !p->workers)
        return di_fail(err, DI_ENOMEM, "out of memory for threads");
    atomic_store(&p->live_decoders, p->ndecoders);
    atomic_store(&p->live_workers, p->nworkers);
    atomic_store(&p->live_infer, p->ninfer);
    /* Consumers first, the reader last: until it runs, no work flows, so a
    ** creation that fails part-way (the system is out of threads) is undone
    ** by closing every queue, which ends the threads already started, and
    ** joining them before anything they use is freed. */
    int calls = 0, writer = 0, workers = 0, infer = 0, decoders = 0, rc = 0;
    rc = spawn(p, &calls, &p->writer, di_writer_main, "di-write", true);
    writer = !rc;
    for (; !rc && workers < p->nworkers; workers += !rc)
        rc = spawn(p, &calls, &p->workers[workers], di_worker_main, "di-post", true);
    for (; !rc && p->model_mode && infer < p->ninfer; infer += !rc)
        rc = spawn(p, &calls, &p->infer[infer], di_infer_main, "di-infer", false);
    for (; !rc && p->model_mode && decoders < p->ndecoders; decoders += !rc)
        rc = spawn(p, &calls, &p->decoders[decoders], di_decoder_main, "di-decode", true);
    /* the lease keeper before the reader, which asks it for chunks */
    int lease_rc = 0;
    if (!rc && p->leases)
        lease_rc = di_leases_start(p->leases, err);
    if (!rc && !lease_rc)
        rc = spawn(p, &calls, &p->reader, di_reader_main, "di-read", true);
    if (rc || lease_rc) {
        di_pipeline_stop(p);
        di_queue *qs[] = {p->decode_q, p->infer_q, p->post_q, p->write_q};
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
            if (qs[i])
                di_queue_close(qs[i]);
        for (int i = 0; i < decoders; i++)
            pthread_join(p->decoders[i], NULL);
        for (int i = 0; i < infer; i++)
            pthread_join(p->infer[i], NULL);
        for (int i = 0; i < workers; i++)
            pthread_join(p->workers[i], NULL);
        if (writer)
            pthread_join(p->writer, NULL);
        di_leases_stop(p->leases);
        if (lease_rc)
            return lease_rc;
        return di_fail(err, DI_ENOMEM, "cannot start the pipeline's threads (thread %d: %s)",
                       calls, strerror(rc));
    }
    p->started = true;
    return DI_OK;
}

void di_pipeline_set_test(di_pipeline *p, const di_pipeline_test *t)
{
    p->test = *t;
}

void di_pipeline_stop(di_pipeline *p)
{
    atomic_store(&p->stop, true);
    atomic_store(&p->stopping, true);
}

bool di_pipeline_finished(di_pipeline *p)
{
    return atomic_load(&p->done);
}

void di_pipeline_get_stats(di_pipeline *p, di_pipeline_stats *s)
{
    memset(s, 0, sizeof *s);
    s->total = p->total;
    s->queued = atomic_load(&p->queued);
    s->ok = atomic_load(&p->ok);
    s->failed = atomic_load(&p->failed);
    s->scored = atomic_load(&p->scored);
    bool done = atomic_load(&p->done);
    double end = done ? p->t_end : di_now();
    s->elapsed = p->t_start > 0 ? end - p->t_start : 0;
    double now = di_now();
    for (int i = 0; i < DI_STAGE_COUNT; i++) {
        pthread_mutex_lock(&p->active_lock[i]);
        double running = p->active[i] * now - p->active_since[i];
        s->busy[i] = (double)atomic_load(&p->busy_ns[i]) * 1e-9 + (running > 0 ? running : 0);
        pthread_mutex_unlock(&p->active_lock[i]);
    }
    s->threads[DI_STAGE_READ] = 1;
    s->threads[DI_STAGE_DECODE] = p->model_mode ? p->ndecoders : p->nworkers;
    s->threads[DI_STAGE_INFER] = p->model_mode ? p->ninfer : 0;
    s->threads[DI_STAGE_POST] = p->nworkers;
    s->threads[DI_STAGE_WRITE] = 1;
    di_queue *qs[DI_Q_COUNT] = {p->decode_q, p->infer_q, p->post_q, p->write_q};
    for (int i = 0; i < DI_Q_COUNT; i++)
        if (qs[i]) {
            s->queue_len[i] = di_queue_length(qs[i]);
            s->queue_cap[i] = di_queue_capacity(qs[i]);
        }
    s->engine_threads = p->model_mode ? p->cfg.nn.threads : 0;
    s->in_flight = p->model_mode ? p->in_flight : 0;
    s->in_flight_max = atomic_load(&p->in_flight_max);
    s->device_error = atomic_load(&p->device_lost);
    s->model_c = p->in_c;
    s->model_h = p->in_h;
    s->model_w = p->in_w;
    s->keep_aspect = p->keep_aspect;
    s->depth_dir = !p->model_mode;
    s->stopping = atomic_load(&p->stopping);
    s->finished = done;
    s->side_sched = p->side;
    s->side_overlap = atomic_load(&p->side_overlap);
    snprintf(s->side_sched_error, sizeof s->side_sched_error, "%s", p->side_error);
    s->panels = atomic_load(&p->panels);
    s->panel_errors = atomic_load(&p->panel_errors);
    double lost[2] = {atomic_load(&p->read_watch.lost_since),
                      atomic_load(&p->write_watch.lost_since)};
    for (int i = 0; i < 2; i++)
        if (lost[i] > 0 && now - lost[i] > s->db_lost_s)
            s->db_lost_s = now - lost[i];
}

void di_pipeline_panel_error(di_pipeline *p, char *out, size_t size)
{
    pthread_mutex_lock(&p->fatal_lock);
    snprintf(out, size, "%s", p->panel_error);
    pthread_mutex_unlock(&p->fatal_lock);
}

int di_pipeline_first_failures(di_pipeline *p, di_pipeline_failure *out)
{
    pthread_mutex_lock(&p->fatal_lock);
    int n = p->nfirst_failures;
    memcpy(out, p->first_failures, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&p->fatal_lock);
    return n;
}

/* The pipeline's threads in the order they are joined: the reader first
** (the first to end), the writer last. NULL past the last one. */
static pthread_t *join_order(di_pipeline *p, int i)
{
    if (i == 0)
        return &p->reader;
    i--;
    if (p->model_mode) {
        if (i < p->ndecoders)
            return &p->decoders[i];
        i -= p->ndecoders;
        if (i < p->ninfer)
            return &p->infer[i];
        i -= p->ninfer;
    }
    if (i < p->nworkers)
        return &p->workers[i];
    return i == p->nworkers ? &p->writer : NULL;
}

bool di_pipeline_join_for(di_pipeline *p, double seconds)
{
    if (!p->started)
        return true;
    /* pthread_timedjoin_np (the wall clock) rather than clockjoin: the
    ** sanitizers' runtimes know it, and a clock step only moves a wait that
    ** the callers repeat anyway */
    struct timespec until;
    di_deadline(CLOCK_REALTIME, seconds, &until);
    for (pthread_t *t; (t = join_order(p, p->joined)); p->joined++)
        if (pthread_timedjoin_np(*t, NULL, &until) != 0)
            return false; /* still running at the deadline: joined later */
    /* after the writer: every result is committed, so the keeper's last
    ** pass finishes the chunks that are whole and releases the rest (its
    ** statements may wait for the database: a wait like the threads') */
    if (!di_leases_stop_by(p->leases, &until))
        return false;
    p->started = false;
    return true;
}

int di_pipeline_wait(di_pipeline *p, di_error *err)
{
    while (!di_pipeline_join_for(p, 3600)) {
    }
    if (p->fatal_code) {
        if (err)
            *err = p->fatal;
        return p->fatal_code;
    }
    return DI_OK;
}

void di_pipeline_chunk_stats(di_pipeline *p, di_pipeline_chunks *out)
{
    memset(out, 0, sizeof *out);
    if (p->leases) {
        di_leases_get(p->leases, out);
        out->on = true;
    }
}

int di_pipeline_failed_chunks(di_pipeline *p, int64_t *failed, di_error *err)
{
    *failed = 0;
    return p->leases ? di_leases_failed_chunks(p->leases, failed, err) : DI_OK;
}

/* lease.c: many workers on one table: the chunks this worker holds and the
** lease keeper, a thread with its own database connection.
**
** The reader claims a chunk (di_leases_next) and reads its pages; once it
** has handed on every face of the chunk it says how many (read_done) and
** claims the next one, so the next chunk is there before the current one
** ends and the accelerator never waits for a claim. The writer counts what
** it commits per chunk (di_leases_committed). The keeper renews every held
** chunk each lease/3 seconds (database clock), marks a chunk done under its
** fencing token once all of its faces are committed, and at the end
** releases what it holds unfinished, so that other workers take it at once.
** A renewal or a done-mark that finds another worker's token means the lease
** was lost (this worker was paused or cut off past it): the chunk is
** dropped, the reader stops reading it, and what is in flight is still
** written (the same values: UPDATEs are idempotent). No transaction stays
** open while images are processed: each claim, renewal and done-mark is one
** short transaction of its own. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HELD 32 /* lost chunks linger until what is in flight drains */
#define PREFETCH 1  /* chunks claimed beyond the one being processed */

typedef struct held {
    bool used;
    bool read_done;  /* the reader has handed on every face it will */
    bool whole;      /* ... and it read the whole range (not stopped early) */
    bool lost;       /* another worker holds the token now */
    di_chunk c;
    int64_t emitted, committed;
} held;

struct di_leases {
    di_pipeline *p;
    di_store *store;          /* the keeper's connection */
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* slot freed, chunk complete, quit */
    held h[MAX_HELD];
    bool quit;
    atomic_bool never;        /* the keeper's final pass retries as long as allowed */
    pthread_t thread;
    bool started;
    char owner[DI_CHUNK_OWNER_MAX];
    di_chunk_run run;
    di_pipeline_chunks stats; /* under lock */
};

/* ---- the settings that change results ---- */

static int model_hash(const char *path, uint64_t *out, di_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return di_fail(err, DI_EIO, "%s: cannot open the model to fingerprint it", path);
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the file's bytes */
    unsigned char *buf = malloc(1 << 20);
    if (!buf) {
        fclose(f);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    bool bad = ferror(f);
    free(buf);
    fclose(f);
    if (bad)
        return di_fail(err, DI_EIO, "%s: read error while fingerprinting the model", path);
    *out = h;
    return DI_OK;
}

int di_pipeline_fingerprint(const di_pipeline_config *c, char *out, size_t size,
                            di_error *err)
{
    static const char *const prec[] = {"fp32", "fp16", "bf16", "tf32"};
    char source[64];
    if (c->depth_dir) {
        snprintf(source, sizeof source, "depth-dir");
    } else {
        uint64_t h = 0;
        int rc = model_hash(c->model_path, &h, err);
        if (rc)
            return rc;
        snprintf(source, sizeof source, "%016llx", (unsigned long long)h);
    }
    char faces[DI_STORE_MAX_FACES * 66] = "";
    for (int f = 0; f < c->store.nfaces; f++) {
        size_t len = strlen(faces);
        snprintf(faces + len, sizeof faces - len, "%s%s", f ? "," : "", c->store.faces[f]);
    }
    unsigned p = (unsigned)c->nn.precision;
    int n = snprintf(out, size,
                     "model=%s;faces=%s;columns=%s;k=%d;canny=%g,%g;ksize=%d;sigma=%g;"
                     "precision=%s;mean=%g,%g,%g;std=%g,%g,%g;force=%d",
                     source, faces, c->store.column_pattern, c->feature.k,
                     c->feature.canny_low, c->feature.canny_high, c->feature.ksize,
                     c->feature.sigma, c->depth_dir ? "none" : p < 4 ? prec[p] : "?",
                     c->mean[0], c->mean[1], c->mean[2], c->std[0], c->std[1], c->std[2],
                     c->force ? 1 : 0);
    /* only when not the default, so that a run made before these options
    ** keeps its fingerprint */
    if (n >= 0 && (size_t)n < size && c->output == DI_OUTPUT_DEPTH)
        n += snprintf(out + n, size - (size_t)n, ";output=depth");
    if (n >= 0 && (size_t)n < size && c->resize == DI_RESIZE_KEEP_ASPECT)
        n += snprintf(out + n, size - (size_t)n, ";resize=keep-aspect");
    if (n < 0 || (size_t)n >= size)
        return di_fail(err, DI_EINVAL, "settings fingerprint longer than %zu bytes", size - 1);
    return DI_OK;
}

/* ---- creating and joining ---- */

int di_leases_create(di_pipeline *p, di_leases **out, di_error *err)
{
    *out = NULL;
    const di_pipeline_config *c = &p->cfg;
    di_leases *l = calloc(1, sizeof *l);
    if (!l)
        return di_fail(err, DI_ENOMEM, "out of memory");
    l->p = p;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    if (c->owner && c->owner[0]) {
        snprintf(l->owner, sizeof l->owner, "%s", c->owner);
    } else {
        char host[96] = "";
        gethostname(host, sizeof host - 1);
        snprintf(l->owner, sizeof l->owner, "%s:%ld", host[0] ? host : "?", (long)getpid());
    }
    char fp[DI_FINGERPRINT_MAX];
    int rc = di_pipeline_fingerprint(c, fp, sizeof fp, err);
    if (rc == DI_OK)
        rc = di_store_open(&p->cfg.store, false, &l->store, err);
    if (rc == DI_OK) {
        di_chunk_plan plan = {.fingerprint = fp, .chunk_ids = c->chunk_ids,
                              .shards = c->shards, .max_attempts = c->max_attempts,
                              .retry_for = c->db_retry_for, .stop = &l->never};
        rc = di_chunks_join(l->store, &plan, &l->run, err);
        if (rc)
            di_error_prefix(err, "%s", di_store_where(l->store));
    }
    if (rc == DI_OK && c->shard >= l->run.shards && c->shards > 0)
        rc = di_fail(err, DI_EINVAL, "--shard %d/%d: no such shard", c->shard, c->shards);
    if (rc) {
        di_leases_destroy(l);
        return rc;
    }
    l->stats.chunks = l->run.chunks;
    l->stats.shards = l->run.shards;
    l->stats.chunk_ids = l->run.chunk_ids;
    l->stats.max_attempts = l->run.max_attempts;
    l->stats.created = l->run.created;
    snprintf(l->stats.owner, sizeof l->stats.owner, "%s", l->owner);
    *out = l;
    return DI_OK;
}

void di_leases_get(di_leases *l, di_pipeline_chunks *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->lock);
}

/* ---- the reader's side ---- */

static int free_slot(di_leases *l)
{
    for (int i = 0; i < MAX_HELD; i++)
        if (!l->h[i].used)
            return i;
    return -1;
}

int di_leases_next(di_leases *l, di_chunk *c, int *slot)
{
    di_pipeline *p = l->p;
    const di_pipeline_config *cfg = &p->cfg;
    if (di_pipe_stopped(p))
        return DI_NEXT_NONE;
    /* The one being processed and the next one, no more: a worker that
    ** claimed further ahead would hold chunks that idle workers could do. */
    pthread_mutex_lock(&l->lock);
    int active = 0;
    for (int i = 0; i < MAX_HELD; i++)
        active += l->h[i].used && !l->h[i].lost;
    bool busy = active >= PREFETCH + 1 || free_slot(l) < 0;
    pthread_mutex_unlock(&l->lock);
    if (busy)
        return DI_NEXT_BUSY;
    bool got = false;
    int64_t live = 0;
    di_error e = {0};
    double t0 = di_pipe_begin(p, DI_STAGE_READ);
    int rc = di_chunks_claim(p->read_store, l->owner, cfg->shards > 0 ? cfg->shard : -1,
                             cfg->steal, cfg->lease, l->run.max_attempts,
                             cfg->db_retry_for, &p->stop, c, &got, &live, &e);
    di_pipe_end(p, DI_STAGE_READ, t0);
    if (rc) {
        if (!di_pipe_stopped(p)) {
            di_error_prefix(&e, "%s: claiming a chunk of table %s",
                            di_store_where(p->read_store), cfg->store.table);
            di_pipe_fatal(p, &e);
        }
        return DI_NEXT_NONE;
    }
    if (!got)
        return live > 0 ? DI_NEXT_WAIT : DI_NEXT_NONE;
    pthread_mutex_lock(&l->lock);
    int i = free_slot(l);
    l->h[i] = (held){.used = true, .c = *c};
    l->stats.claimed++;
    l->stats.held++;
    pthread_mutex_unlock(&l->lock);
    *slot = i;
    return DI_NEXT_CHUNK;
}

bool di_leases_lost(di_leases *l, int slot)
{
    pthread_mutex_lock(&l->lock);
    bool lost = l->h[slot].lost;
    pthread_mutex_unlock(&l->lock);
    return lost;
}

void di_leases_read_done(di_leases *l, int slot, int64_t emitted, bool whole)
{
    pthread_mutex_lock(&l->lock);
    held *h = &l->h[slot];
    h->emitted = emitted;
    h->whole = whole;
    h->read_done = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* ---- the writer's side ---- */

void di_leases_committed(di_leases *l, const di_store_result *r, int n)
{
    pthread_mutex_lock(&l->lock);
    bool wake = false;
    for (int k = 0; k < n; k++) {
        /* chunks are disjoint id ranges; of two slots for one range (the
        ** same chunk lost and claimed again) the older one is counted first */
        for (int i = 0; i < MAX_HELD; i++) {
            held *h = &l->h[i];
            if (!h->used || r[k].id < h->c.lo || r[k].id > h->c.hi ||
                (h->read_done && h->committed >= h->emitted))
                continue;
            h->committed++;
            wake |= h->read_done && h->committed >= h->emitted;
            break;
        }
    }
    if (wake)
        pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* ---- the keeper ---- */

static void keeper_fail(di_leases *l, di_error *e, const char *what, const di_chunk *c)
{
    di_error_prefix(e, "%s: %s chunk %lld of table %s", di_store_where(l->store), what,
                    (long long)c->chunk, l->p->cfg.store.table);
    di_pipe_fatal(l->p, e);
}

/* Finishes (or, at the end, releases) chunks whose faces are all committed
** and drops lost ones that have drained. Called without the lock. */
static void settle(di_leases *l, bool final)
{
    di_pipeline *p = l->p;
    for (int i = 0; i < MAX_HELD; i++) {
        pthread_mutex_lock(&l->lock);
        held h = l->h[i];
        pthread_mutex_unlock(&l->lock);
        if (!h.used)
            continue;
        bool drained = h.read_done && h.committed >= h.emitted;
        if (!drained && !final)
            continue;
        bool kept = false, finished = false;
        di_error e = {0};
        int rc = DI_OK;
        /* after a fatal error (the database gone past --db-retry-for) the
        ** leases are left to expire rather than retried all over again */
        pthread_mutex_lock(&p->fatal_lock);
        bool fatal = p->fatal_code != DI_OK;
        pthread_mutex_unlock(&p->fatal_lock);
        if (!h.lost && !(final && fatal)) {
            if (drained && h.whole) {
                /* after a stop, as long as a release at the end: a chunk
                ** left unmarked expires, and its faces are committed */
                double window = final && atomic_load(&p->stopping) ? 5.0 : p->cfg.db_retry_for;
                rc = di_chunks_finish(l->store, &h.c, h.emitted, window, &l->never, &kept, &e);
                finished = kept;
                if (rc)
                    keeper_fail(l, &e, "marking done", &h.c);
            } else {
                /* stopped early (interrupted, --limit, a fatal error): free
                ** again at once for the others */
                rc = di_chunks_release(l->store, &h.c, final ? 5.0 : p->cfg.db_retry_for,
                                       &l->never, &kept, &e);
            }
        }
        pthread_mutex_lock(&l->lock);
        if (finished) {
            l->stats.done++;
            l->stats.faces += h.emitted;
        } else if (!h.lost && rc == DI_OK && !kept && drained && h.whole) {
            l->stats.lost++; /* the done-mark found another worker's token */
        } else if (kept) {
            l->stats.released++;
        }
        l->h[i].used = false;
        l->stats.held--;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
    }
}

static void renew_all(di_leases *l)
{
    di_pipeline *p = l->p;
    for (int i = 0; i < MAX_HELD; i++) {
        pthread_mutex_lock(&l->lock);
        held h = l->h[i];
        bool quit = l->quit;
        pthread_mutex_unlock(&l->lock);
        if (quit)
            return;
        if (!h.used || h.lost)
            continue;
        bool kept = false;
        di_error e = {0};
        int rc = di_chunks_renew(l->store, &h.c, p->cfg.lease, p->cfg.db_retry_for,
                                 &l->never, &kept, &e);
        if (rc) {
            keeper_fail(l, &e, "renewing the lease of", &h.c);
            return;
        }
        pthread_mutex_lock(&l->lock);
        if (!kept && l->h[i].used && l->h[i].c.token == h.c.token) {
            l->h[i].lost = true;
            l->stats.lost++;
        }
        l->stats.renewals += kept;
        pthread_mutex_unlock(&l->lock);
    }
}

static void *keeper_main(void *arg)
{
    di_leases *l = arg;
    double period = l->p->cfg.lease / 3.0;
    if (period < 0.05)
        period = 0.05;
    double next_renew = di_now() + period;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        bool quit = l->quit, ready = false;
        for (int i = 0; i < MAX_HELD && !ready; i++)
            ready = l->h[i].used && l->h[i].read_done && l->h[i].committed >= l->h[i].emitted;
        if (!quit && !ready) {
            double wait = next_renew - di_now();
            if (wait > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                double t = ts.tv_sec + ts.tv_nsec * 1e-9 + (wait < 0.1 ? wait : 0.1);
                ts.tv_sec = (time_t)t;
                ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
                pthread_cond_timedwait(&l->cond, &l->lock, &ts);
            }
        }
        quit = l->quit;
        pthread_mutex_unlock(&l->lock);
        if (quit) {
            settle(l, true);
            return NULL;
        }
        settle(l, false);
        if (di_now() >= next_renew) {
            renew_all(l);
            next_renew = di_now() + period;
        }
    }
}

int di_leases_start(di_leases *l, di_error *err)
{
    if (pthread_create(&l->thread, NULL, keeper_main, l) != 0)
        return di_fail(err, DI_ENOMEM, "cannot start the lease keeper thread");
    l->started = true;
    return DI_OK;
}

bool di_leases_stop_by(di_leases *l, const struct timespec *until)
{
    if (!l || !l->started)
        return true;
    pthread_mutex_lock(&l->lock);
    l->quit = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if ((until ? pthread_timedjoin_np(l->thread, NULL, until) : pthread_join(l->thread, NULL)) != 0)
        return false;
    l->started = false;
    return true;
}

void di_leases_stop(di_leases *l)
{
    di_leases_stop_by(l, NULL);
}

int di_leases_failed_chunks(di_leases *l, int64_t *failed, di_error *err)
{
    di_chunks_status st;
    int rc = di_chunks_status_get(l->store, &st, err);
    *failed = rc ? 0 : st.failed;
    return rc;
}

void di_leases_destroy(di_leases *l)
{
    if (!l)
        return;
    di_leases_stop(l);
    di_store_close(l->store);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

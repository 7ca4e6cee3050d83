/*
** internal.h: what the stages of the pipeline share. Not a public header.
**
** Ownership of the recycled objects:
**   di_batch  free_batches -> reader fills slots -> decode_q (one pointer
**             per slot; decoders claim slots) -> infer_q (pushed by the
**             decoder that finishes the last slot) -> inference -> back to
**             free_batches.
**   di_item   free_items -> (reader in depth-dir mode | inference) -> post_q
**             -> post worker -> back to free_items.
**   result    free_results -> post worker -> write_q -> writer copies it ->
**             back to free_results.
** A queue is closed by the last thread of the stage that feeds it, so each
** stage ends once everything upstream has ended and its input is drained.
*/
#ifndef DI_PIPELINE_INTERNAL_H
#define DI_PIPELINE_INTERNAL_H

#include "pipeline.h"
#include "../io/io.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define DI_PIPELINE_MAX_STREAMS 8

/* One face on its way through the pipeline. */
typedef struct di_item {
    int64_t id;
    int face;
    char sid[DI_STORE_SID_MAX];
    int full_w, full_h; /* the source image's own size (model mode) */
    int in_w, in_h;     /* the model input it was resized to (model mode) */
    int depth_w, depth_h; /* its output plane (model mode, set by inference) */
    bool ok;
    char error[256];
    float *depth;       /* model output plane (model mode; items only) */
} di_item;

typedef struct di_batch {
    int n;             /* slots filled by the reader */
    atomic_int next;   /* next slot a decoder claims */
    atomic_int done;   /* slots decoded */
    di_item *slots;    /* capacity cfg.batch */
    float *input;      /* batch x C x H x W (pinned on CUDA); with keep-aspect
                       ** slot i's image at i * 3 * in_cap until packed */
    float *output;     /* batch x out_h x out_w (pinned on CUDA) */
    int out_w, out_h;  /* the output planes of a batch run whole */
    size_t out_stride; /* floats from one image's plane to the next */
    bool mixed;        /* keep-aspect faces of several sizes: run one by one,
                       ** each slot's depth_w/h set already */
} di_batch;

/* The chunks this worker holds and the lease keeper (lease.c). */
typedef struct di_leases di_leases;
enum { DI_NEXT_NONE, DI_NEXT_CHUNK, DI_NEXT_WAIT, DI_NEXT_BUSY };
int di_leases_create(di_pipeline *p, di_leases **out, di_error *err);
int di_leases_start(di_leases *l, di_error *err);
/* Claims a chunk into a slot (DI_NEXT_CHUNK); DI_NEXT_WAIT: none free but
** others hold some (try again later); DI_NEXT_BUSY: this worker holds the
** current chunk and the next one already (try again when one is done);
** DI_NEXT_NONE: nothing left, or stop. */
int di_leases_next(di_leases *l, di_chunk *c, int *slot);
bool di_leases_lost(di_leases *l, int slot);
void di_leases_read_done(di_leases *l, int slot, int64_t emitted, bool whole);
void di_leases_committed(di_leases *l, const di_store_result *r, int n);
void di_leases_get(di_leases *l, di_pipeline_chunks *out);
int di_leases_failed_chunks(di_leases *l, int64_t *failed, di_error *err);
/* Finishes or releases what is held and joins the keeper. */
void di_leases_stop(di_leases *l);
/* The same, but gives up waiting for the keeper's last pass (the database
** may be slow) at `until` (CLOCK_REALTIME): false, call it again later;
** until NULL: waits as long as it takes (di_leases_stop). */
bool di_leases_stop_by(di_leases *l, const struct timespec *until);
void di_leases_destroy(di_leases *l);

struct di_pipeline {
    di_pipeline_config cfg;
    di_pipeline_test test;      /* di_pipeline_set_test */
    di_leases *leases;  /* chunks mode only */
    di_store *read_store, *write_store;
    di_nn_session *nn[DI_PIPELINE_MAX_STREAMS];
    int ninfer;
    int in_flight;     /* batches in flight per session (1 or 2) */
    bool pinned;       /* batch tensors from di_nn_alloc_host */
    bool model_mode;
    int in_c, in_h, in_w, out_h, out_w;
    /* keep-aspect (a symbolic height and width and --resize keep-aspect):
    ** each face its own input size around in_w x in_h, a multiple of patch */
    bool keep_aspect;
    int patch;
    size_t in_cap;     /* pixels of the largest input a slot holds */
    size_t plane_cap;  /* floats of the largest output plane */
    int ndecoders, nworkers;
    di_side_sched side; /* how the CPU-side threads share the cores */
    char side_error[128]; /* the first refusal of SCHED_IDLE, if any */
    /* DI_SIDE_GATE: engine_on while the engine runs a batch; decoders and
    ** workers wait on gate_cond for it to go off before each face */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    atomic_bool engine_on; /* kept under every share (side_overlap) */
    atomic_llong side_overlap; /* faces decoded or scored that started
                               ** while the engine ran a batch */
    int64_t total;

    di_queue *free_batches, *decode_q, *infer_q;
    di_queue *free_items, *post_q;
    di_queue *free_results, *write_q;
    di_batch *batches;
    int nbatches;
    di_item *items;
    float *item_depth; /* nitems x out_h x out_w */
    int nitems;
    di_store_result *results;
    int nresults;

    pthread_t reader, infer[DI_PIPELINE_MAX_STREAMS], writer, *decoders, *workers;
    bool started;
    int joined; /* threads joined so far, in the order of join_order */
    atomic_int live_decoders, live_workers, live_infer, next_infer;
    atomic_llong infer_batches; /* batches submitted (test.fail_batch) */
    atomic_int in_flight_max;   /* the most one session had in flight */
    atomic_bool device_lost;    /* an engine error stopped inference: the
                                ** inference threads run nothing more */
    atomic_bool done; /* set by the writer, last to end, after t_end */

    /* The reader stops producing; the store's retry loops and waits of the
    ** reader and the writer watch it too (a frozen server is given up soon
    ** after a stop, DI_STORE_STOP_GRACE). */
    atomic_bool stop;
    atomic_bool stopping;

    atomic_llong queued, ok, failed, scored;
    atomic_ullong busy_ns[DI_STAGE_COUNT];
    /* work in progress, so that a long inference run shows as busy while it
    ** runs and not only once it ends: how many threads of the stage are
    ** working and the sum of their start times, under one lock per stage */
    pthread_mutex_t active_lock[DI_STAGE_COUNT];
    int active[DI_STAGE_COUNT];
    double active_since[DI_STAGE_COUNT];
    double t_start, t_end;

    /* run --save-maps: panels written, failed, and of failed faces (capped
    ** at DI_PIPELINE_FAILURE_PANELS); the first error, under fatal_lock */
    atomic_llong panels, panel_errors, failure_panels;
    char panel_error[DI_ERROR_MSG_MAX];
    char model_name[128]; /* for the panels' titles */
    /* the reader's and the writer's connections, while they retry */
    di_store_retry_watch read_watch, write_watch;

    di_pipeline_failure first_failures[DI_PIPELINE_FIRST_FAILURES];
    int nfirst_failures; /* under fatal_lock */
    pthread_mutex_t fatal_lock;
    int fatal_code;
    di_error fatal;
};

static inline bool di_pipe_stopped(di_pipeline *p)
{
    return atomic_load(&p->stop);
}

/* Records the first fatal error and stops the reader. */
void di_pipe_fatal(di_pipeline *p, const di_error *e);
/* A stage's thread starts working (returns the start time) and ends. */
double di_pipe_begin(di_pipeline *p, int stage);
void di_pipe_end(di_pipeline *p, int stage, double t0);
/* DI_SIDE_GATE: the engine starts or ends a batch; a decoder or worker
** waits until the engine is not running (at once for the other shares). */
void di_pipe_engine_on(di_pipeline *p, bool on);
void di_pipe_gate_wait(di_pipeline *p);
/* The cores online (sched.c), and the split of the threads between the
** engine and the decode and post pools: ndecoders, nworkers and the
** engine's threads (cfg.nn.threads). */
int di_pipe_cores(void);
void di_pipe_choose_split(di_pipeline *p);
/* setup.c: the engine's sessions, buffers and warm-up run, on a thread of
** their own; the buffers alone (depth-dir mode); a batch tensor's release. */
int di_pipe_setup_engine(di_pipeline *p, di_error *err);
int di_pipe_alloc_pools(di_pipeline *p, di_error *err);
void di_pipe_batch_tensor_free(di_pipeline *p, float *t);
/* Fills item->error (and ok = false) from an error. */
void di_item_fail(di_item *it, const char *msg);

/* Reads and decodes a face's image (the decode stage's own path) into an
** RGB picture of W x H: *rgb points into img (free it with di_image_free)
** or into scratch (W * H * 3 bytes). Sets it->full_w, full_h. */
int di_pipe_load_photo(di_pipeline *p, di_item *it, int W, int H, uint8_t *scratch,
                       di_image *img, const uint8_t **rgb, di_error *e);

void *di_reader_main(void *arg);
void *di_decoder_main(void *arg);
void *di_infer_main(void *arg);
/* On an inference thread before its first batch: starts its OpenMP team of
** that many threads and names the workers "di-omp" (threads.c). */
void di_pipe_name_engine_team(int threads);
void *di_worker_main(void *arg);
void *di_writer_main(void *arg);

#endif

/*
** pipeline.h: `depthindex run` as a library. The stages of
** shared/docs/architecture.md, each a thread or a pool of threads, joined by
** bounded queues:
**
**   reader -> decode pool -> inference -> [queue] -> post pool -> writer
**
** reader:    keyset pages of rows with pending faces (never a cursor or a
**            transaction held open), one task per pending face;
** decode:    file read, JPEG decode with DCT scaling, resize to the model
**            input (stretched, or keep-aspect: each face its own size),
**            normalise into the batch tensor;
** inference: one thread, --batch images per run of the engine (a batch of
**            keep-aspect faces of mixed sizes: image by image);
** post:      metric depth into inverse depth (--output depth), model output
**            resized to the face's own size, then the feature;
** writer:    one thread, results grouped into transactions by count and time.
**
** With depth_dir set there is no decode or inference: the post pool reads
** precomputed depth maps. Batch tensors, depth maps and results come from
** free lists sized by the queues, so memory is bounded by the queue sizes and
** never by the number of faces. A face that fails (missing or bad image,
** bad depth map) becomes an error result recorded in depthindex_errors; the
** run goes on.
**
** The library never prints: di_pipeline_stats gives a snapshot that the CLI
** formats with di_progress_* (progress.c).
*/
#ifndef DI_PIPELINE_H
#define DI_PIPELINE_H

#include "../core/core.h"
#include "../feature/feature.h"
#include "../nn/nn.h"
#include "../store/store.h"

/* What the model's output (or a --depth-dir map) means. The score is defined
** on relative inverse depth (the spec's D: larger is nearer, any scale and
** shift, as MiDaS and Depth Anything's relative models give and as the seed
** scored); metric depth in metres (Depth Anything V2 metric) is turned into
** it per pixel before anything else (di_depth_to_inverse). */
typedef enum di_output_kind { DI_OUTPUT_INVERSE = 0, DI_OUTPUT_DEPTH } di_output_kind;

/* How a face becomes the model's input: stretched to the input size, or (for
** a symbolic height and width) scaled with its aspect ratio kept, the short
** side at the size and both sides multiples of the patch size, as Depth
** Anything's preprocessor does (di_pipeline_keep_aspect_size). */
typedef enum di_resize_mode { DI_RESIZE_STRETCH = 0, DI_RESIZE_KEEP_ASPECT } di_resize_mode;

/* How the CPU-side threads (the decoders and the post-processing workers;
** also the reader and the writer under SCHED_IDLE) share the cores with an
** engine that runs on the CPU and takes every core. At the normal class and
** free to run, one of them preempts an OpenMP thread in the middle of a
** parallel region and the engine's other threads wait at the barrier for
** it, a loss of about twice its own time (measured on 2 cores: the engine
** 7-12 % slower per batch inside run than alone, bench/RESULTS.md, End to
** end). Two cures, compared by bench/run-e2e.sh:
**   DI_SIDE_GATE: a decoder or worker starts a face only while the engine
**     is not running a batch (it finishes the face it has begun): their work
**     fills the engine's waits between batches, on every core, and as they
**     keep the normal class, other processes' load cannot starve them;
**   DI_SIDE_IDLE: those four at SCHED_IDLE, so that they run only on a core
**     the engine leaves idle (also between its parallel regions); but any
**     other busy process starves them too (measured under 2 busy loops on 2
**     cores: run 4.3 faces/s against 18.4 at the normal class).
** AUTO: GATE when the engine runs on the CPU with at least as many threads
** as the machine has cores; else (CUDA, where the CPU stages must run beside
** the device; an engine that leaves cores to the side threads; depth-dir
** mode, no engine) NORMAL: all run freely, as before. */
typedef enum di_side_sched {
    DI_SIDE_AUTO = 0, DI_SIDE_NORMAL, DI_SIDE_IDLE, DI_SIDE_GATE
} di_side_sched;

typedef struct di_pipeline_config {
    di_store_config store;
    const char *images_dir;    /* [.] */
    const char *image_pattern; /* ["{panorama_sid}_{face}.jpg"]; also {id} */
    const char *depth_dir;     /* set: read {panorama_sid}_{face}.npy|png|pfm */
    const char *model_path;    /* ONNX model when depth_dir is not set */
    di_nn_options nn;          /* engine threads (0 = auto), device */
    int batch;                 /* images per inference run [8] */
    int queue;                 /* depth maps between inference and post [36] */
    int workers;               /* post-processing threads (0 = auto) */
    int decoders;              /* decode threads (0 = auto) */
    int streams;               /* inference threads, each with its own session
                               ** (0 = auto: 1; on CUDA one session already
                               ** keeps two batches in flight, see in_flight) */
    int in_flight;             /* batches in flight per session, 1..2 (0 = auto:
                               ** 2 on CUDA, so that the upload of batch k+1
                               ** and the download of k-1 overlap the compute
                               ** of k; 1 on the CPU, where a run is
                               ** synchronous anyway). 2 on the CPU only for
                               ** tests of that logic (DEPTHINDEX_TEST_ASYNC) */
    float mean[3], std[3];     /* normalisation of RGB in 0..1 [ImageNet] */
    int size_w, size_h;        /* model input for a symbolic height/width (0: default
                               ** DI_PIPELINE_DEFAULT_SIZE); a fixed input must match */
    int preset_size;           /* a preset's side for a symbolic height and width,
                               ** used when size_w is 0 (0: none) */
    di_output_kind output;     /* what the output means [inverse] */
    di_resize_mode resize;     /* face to model input [stretch]; keep-aspect
                               ** needs a symbolic height and width */
    bool force;                /* redo faces that already have a score */
    int64_t limit;             /* at most this many faces (0 = all) */
    double db_retry_for;       /* seconds of reconnect-and-retry [600] */
    di_feature_params feature;
    const char *save_maps;     /* set: a panel PNG per sampled face, and per
                               ** face that fails after inference, there */
    int save_every;            /* one face in N is sampled [1000] */
    int page_rows;             /* rows per keyset page [256] */
    int write_rows;            /* results per transaction at most [500] */
    double write_seconds;      /* a transaction at least this often [0.2] */
    int64_t max_face_pixels;   /* larger images are an error [8192*8192] */
    /* Many workers on one table (lease.c, store's chunks.c): with chunks
    ** set the reader claims chunks of ids instead of reading the whole
    ** table; the lease keeper renews and finishes them. */
    bool chunks;
    int shard, shards;         /* preferred shard of shards (shards 0: none) */
    bool steal;                /* after its own shard, other shards' chunks [true] */
    double lease;              /* seconds a claim lasts without renewal [60] */
    int64_t chunk_ids;         /* ids per chunk when the run is created [1024] */
    int max_attempts;          /* claims of a chunk before it counts as failed [3] */
    const char *owner;         /* this worker's name [host:pid] */
    di_side_sched side_sched;  /* the CPU-side threads' share [auto] */
    /* The caller's thread ends soon after di_pipeline_create, and runs no
    ** OpenMP region after it (run builds the pipeline on a thread of its
    ** own, so that its main thread takes the stop signals meanwhile): the
    ** engine is then set up on that thread, whose OpenMP pool ends with it,
    ** instead of on a short-lived thread of setup.c's own [false] */
    bool caller_thread_ends;
} di_pipeline_config;

/* The input side for a model whose height and width are symbolic: Depth
** Anything's own (518 = 37 patches of 14). */
#define DI_PIPELINE_DEFAULT_SIZE 518

void di_pipeline_config_default(di_pipeline_config *c);

/* The share the CPU-side threads of a pipeline made with c get on a machine
** of cores cores, the engine having engine_threads (c->side_sched resolved,
** see di_side_sched; never DI_SIDE_AUTO). */
di_side_sched di_pipeline_side_sched(const di_pipeline_config *c, int engine_threads,
                                     int cores);

/* Test control: what only tests turn, set with di_pipeline_set_test between
** create and start (all off by default). */
typedef struct di_pipeline_test {
    double read_delay;  /* seconds before each page fetch after the first */
    /* the engine run of the Nth batch (1-based, counted over the inference
    ** threads) is made to fail for real (an output buffer too small for it);
    ** with fail_device that failure comes back as DI_EDEVICE, as from a lost
    ** device: the run stops instead of failing that batch's faces */
    int64_t fail_batch;
    bool fail_device;
    /* with a batch in flight and room for another, wait for the next batch
    ** rather than finishing the first, so that the path that submits batch
    ** k+1 before waiting for k runs whenever there are two */
    bool fill;
    /* the Nth thread the pipeline starts (1-based: the writer, post workers,
    ** inference, decoders, the reader) fails to start */
    int fail_thread;
    /* the writer's Nth transaction (1-based) fails as a database error
    ** would, before it is sent: the run stops with what was committed */
    int64_t fail_write;
    /* the reader, once it has closed its queue, waits this long before its
    ** thread ends, stop or not: a thread slow to end, so that the caller's
    ** wait for the threads (di_pipeline_join_for) is seen to take signals */
    double reader_linger;
} di_pipeline_test;

enum di_stage {
    DI_STAGE_READ, DI_STAGE_DECODE, DI_STAGE_INFER, DI_STAGE_POST,
    DI_STAGE_WRITE, DI_STAGE_COUNT
};
extern const char *const di_stage_names[DI_STAGE_COUNT];

enum di_queue_id { DI_Q_DECODE, DI_Q_INFER, DI_Q_POST, DI_Q_WRITE, DI_Q_COUNT };
extern const char *const di_queue_names[DI_Q_COUNT];

typedef struct di_pipeline_stats {
    int64_t total;      /* faces pending at the start (capped by the limit) */
    int64_t queued;     /* tasks the reader has produced */
    int64_t ok, failed; /* committed to the database */
    int64_t scored;     /* processed, committed or not yet */
    double elapsed;     /* seconds since the start */
    double busy[DI_STAGE_COUNT];  /* thread-seconds spent working, per stage;
                                  ** for inference: seconds with at least one
                                  ** batch in flight on a session (running on
                                  ** the CPU, or queued/running on the GPU) */
    int threads[DI_STAGE_COUNT];  /* threads per stage (0 = stage unused) */
    size_t queue_len[DI_Q_COUNT], queue_cap[DI_Q_COUNT]; /* cap 0 = unused */
    int engine_threads; /* threads of each stream's engine session (on the
                        ** CPU the streams share --threads, see di_pipe_choose_split) */
    int in_flight;      /* batches in flight per session at most (model mode) */
    int in_flight_max;  /* the most a session had in flight during the run */
    bool device_error;  /* the run stopped because the inference device
                        ** failed (not the database) */
    int model_c, model_h, model_w; /* model input (0 in depth-dir mode) */
    bool keep_aspect;   /* faces keep their aspect ratio around model_w x
                        ** model_h (--resize keep-aspect on a symbolic size) */
    bool depth_dir;     /* the decode stage loads depth maps (no model) */
    bool stopping;      /* a stop was requested or a fatal error happened */
    bool finished;      /* every thread has ended */
    int64_t panels;     /* panels written (save_maps) */
    int64_t panel_errors; /* panels that could not be written */
    double db_lost_s;   /* seconds the reader or writer has been retrying a
                        ** lost database connection (0: it is there) */
    di_side_sched side_sched; /* the CPU-side threads' share as chosen
                              ** (never DI_SIDE_AUTO) */
    int64_t side_overlap; /* faces whose decoding or scoring started while
                          ** the engine ran a batch (0 under DI_SIDE_GATE) */
    char side_sched_error[128]; /* set: SCHED_IDLE was chosen but the system
                                ** refused it for a thread (they run at the
                                ** normal class): the reason */
} di_pipeline_stats;

typedef struct di_pipeline di_pipeline;

/* The first failures of a run, for people (all of them are in
** depthindex_errors). */
#define DI_PIPELINE_FIRST_FAILURES 5
typedef struct di_pipeline_failure {
    int64_t id;
    int face;
    char error[256];
} di_pipeline_failure;

/* Failure panels per run at most, so that a run where every face fails
** (a broken model) does not spend its time drawing. */
#define DI_PIPELINE_FAILURE_PANELS 200

/* Whether `run --save-maps` samples a face: splitmix64(id * 8 + face)
** modulo every is 0 (deterministic, about one face in every). */
bool di_pipeline_sampled(int64_t id, int face, int every);

/* The first error of a panel that could not be written ("" when none). */
void di_pipeline_panel_error(di_pipeline *p, char *out, size_t size);

/* Copies up to DI_PIPELINE_FIRST_FAILURES committed failures into out;
** returns how many. */
int di_pipeline_first_failures(di_pipeline *p, di_pipeline_failure *out);

/* Chunks mode: what this worker did and the run it joined. */
typedef struct di_pipeline_chunks {
    bool on;
    char owner[DI_CHUNK_OWNER_MAX];
    int64_t chunks;             /* chunks in the run when joined */
    int shards, max_attempts;
    int64_t chunk_ids;
    bool created;               /* this worker (re)created the run */
    int64_t claimed, done, lost, released, held, renewals;
    int64_t faces;              /* faces handed on in the chunks it finished */
} di_pipeline_chunks;

void di_pipeline_chunk_stats(di_pipeline *p, di_pipeline_chunks *out);
/* Chunks of the run that failed max_attempts times (asked of the database;
** 0 when not in chunks mode). */
int di_pipeline_failed_chunks(di_pipeline *p, int64_t *failed, di_error *err);
/* The settings that change the results, as "key=value;...": the model
** file's hash (or depth-dir), faces, column pattern, feature parameters,
** precision, normalisation, force. */
int di_pipeline_fingerprint(const di_pipeline_config *c, char *out, size_t size,
                            di_error *err);

/* Opens the database (two connections: reader and writer), checks the
** schema, loads the model, counts the pending faces and chooses the thread
** split. Strings in cfg must stay alive until di_pipeline_destroy. */
int di_pipeline_create(const di_pipeline_config *cfg, di_pipeline **out,
                       di_error *err);
/* Starts the threads. */
int di_pipeline_start(di_pipeline *p, di_error *err);
/* Asks the reader to stop; the work in flight drains and the writer
** flushes. Safe to call from any thread, repeatedly (not from a signal
** handler). */
/* Test control (di_pipeline_test above); before di_pipeline_start. */
void di_pipeline_set_test(di_pipeline *p, const di_pipeline_test *t);
void di_pipeline_stop(di_pipeline *p);
void di_pipeline_get_stats(di_pipeline *p, di_pipeline_stats *out);
/* True once the writer has ended: every result is committed (or given up)
** and nothing more is written. Other threads may still be ending: join them
** with di_pipeline_join_for or di_pipeline_wait. */
bool di_pipeline_finished(di_pipeline *p);
/* Joins the threads that have ended, waiting up to `seconds` (0: only
** looks) for the others; true once all are joined (di_pipeline_wait then
** returns at once). For a caller that must keep doing something else while
** the threads end: run's main thread keeps taking SIGINT and SIGTERM, so
** that a thread slow to end never makes the process deaf to them. */
bool di_pipeline_join_for(di_pipeline *p, double seconds);
/* Joins the threads. Returns DI_OK, or the fatal error that ended the run
** early (the database stayed unreachable past db_retry_for, a failed
** statement); what was committed stays committed. */
int di_pipeline_wait(di_pipeline *p, di_error *err);
void di_pipeline_destroy(di_pipeline *p);

/* Metric depth d (n values, in place when in == out) into the relative
** inverse depth the score is defined on: out = m / max(d, m), m the smallest
** positive finite depth of the map. Affine in 1/d, so after the score's
** min-max scaling it gives the same 8-bit depth as any relative inverse
** depth s / d + t of the scene; always in (0, 1], never a division by zero.
** A depth of zero or less (a sigmoid that underflowed) counts as the nearest
** depth of the map. Non-finite values are copied as they are (the score
** refuses them). DI_EFORMAT when no value is positive and finite. */
int di_depth_to_inverse(const float *in, float *out, size_t n, di_error *err);

/* Keep-aspect input size of a face of fw x fh for a target of W x H: scaled
** by the larger of W / fw and H / fh (so that both sides reach the target:
** Depth Anything's "lower_bound"), each side rounded to the nearest multiple
** of patch (half to even, as NumPy), or up when that falls below the target.
** A face more elongated than 2:1 is capped so that its long side stays at
** most twice the target's (it is then scaled to fit: "upper_bound"). */
void di_pipeline_keep_aspect_size(int fw, int fh, int W, int H, int patch, int *w, int *h);

/* Whether a panorama_sid from the database may name a file under --images
** or --depth-dir: not empty, not absolute, no ".." path component (so that a
** row cannot make the run read outside those folders). 0 or DI_EINVAL. */
int di_pipeline_sid_check(const char *sid, di_error *err);

/* Expands an image path pattern: {panorama_sid}, {face} and {id}. */
int di_pipeline_expand_pattern(const char *pattern, const char *sid,
                               const char *face, int64_t id, char *out,
                               size_t out_size, di_error *err);

/* ---- Progress lines (progress.c); formatting only, no printing ---- */
typedef enum di_progress_mode {
    DI_PROGRESS_NONE, DI_PROGRESS_TTY, DI_PROGRESS_PLAIN, DI_PROGRESS_JSON
} di_progress_mode;

/* Keeps recent samples for the "recent images/s" figure. */
typedef struct di_progress {
    double t[64];
    int64_t done[64];
    int n, head;
} di_progress;

void di_progress_init(di_progress *pr);
/* One progress line (without a newline) from a stats snapshot. */
void di_progress_line(di_progress *pr, const di_pipeline_stats *s,
                      di_progress_mode mode, char *out, size_t out_size);
/* The live line of a terminal (tqdm-like): percentage, a drawn bar, done /
** total, then what fits of the rate, ETA, the database's retry state
** ("database lost, retrying 12 s"), failures, busy % and queues, in at most
** width - 1 columns. unicode: the bar in Unicode blocks, else '#' and '.'. */
void di_progress_tty_line(di_progress *pr, const di_pipeline_stats *s, int width,
                          bool unicode, char *out, size_t out_size);
/* The terminal's width: tty_columns (from TIOCGWINSZ, 0 when unknown), else
** $COLUMNS when it is a positive number, else 80. */
int di_progress_columns(int tty_columns, const char *columns_env);
/* Whether the locale (LC_ALL, else LC_CTYPE, else LANG) is UTF-8. */
bool di_progress_unicode(const char *lc_all, const char *lc_ctype, const char *lang);
/* The end-of-run summary (several lines, ending with a newline; one JSON
** object in JSON mode). skipped = total - ok - failed. */
void di_progress_summary(const di_pipeline_stats *s, di_progress_mode mode,
                         const char *outcome, char *out, size_t out_size);

#endif

/* cmd_run.c: `depthindex run`, the main job: score every pending face of a
** database through the pipeline, with progress, a summary and signals.
**
** Signals: SIGINT and SIGTERM are blocked in every thread and taken by the
** main thread with sigtimedwait between progress lines, so that nothing runs
** in a signal handler. The first one stops the reader; the work in flight
** drains and the writer flushes (every write is a transaction, so nothing is
** half-written). A second one exits at once. They are taken from the start
** of the pipeline's build until its last thread is joined. */
#include "cli.h"
#include "options.h"
#include "presets.h"
#include "pipeline/pipeline.h"
#include "shard.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: depthindex run --db URL (--model M.onnx | --depth-dir DIR) [OPTIONS]\n"
    "\n"
    "Scores every face of the panorama table that has no score yet: reads the\n"
    "face images, runs the depth model in batches, computes the depth congestion\n"
    "index on a pool of CPU threads and writes the scores back in transactions.\n"
    "Faces that fail are recorded in depthindex_errors; the run goes on.\n"
    "A rerun processes only what is still missing (resume after a crash).\n"
    "\n"
    "database:\n"
    "%s"
    "\n"
    "input:\n"
    "  --images DIR          folder of the face images [.]\n"
    "  --image-path PATTERN  image file of a face, relative to --images\n"
    "                        [{panorama_sid}_{face}.jpg]; {id} is the row id\n"
    "  --model M.onnx        the depth model (RGB N x 3 x H x W in, N x [1 x] H x W out)\n"
    "  --depth-dir DIR       instead of a model: precomputed depth maps\n"
    "                        DIR/{panorama_sid}_{face}.npy (or .png, .pfm)\n"
    "  --size N|WxH          model input when its height and width are symbolic\n"
    "                        [518; multiples of the patch size, 14 for Depth\n"
    "                        Anything]; a fixed input must be given as it is\n"
    "  --preset NAME         midas-small|midas-release|dpt|depth-anything|\n"
    "                        depth-anything-metric: input size, resize,\n"
    "                        normalisation and output of that model family (see\n"
    "                        the README; options given as well win)\n"
    "  --resize MODE         stretch|keep-aspect: the face stretched to the input,\n"
    "                        or (symbolic height and width) its aspect kept, the\n"
    "                        short side at --size and both sides multiples of\n"
    "                        the patch size, as Depth Anything's preprocessor\n"
    "                        [stretch]\n"
    "  --mean a,b,c          normalisation of RGB in 0..1 [0.485,0.456,0.406]\n"
    "  --std a,b,c           [0.229,0.224,0.225]\n"
    "  --output inverse|depth  what the model's output (or a --depth-dir map)\n"
    "                        means: relative inverse depth (MiDaS, Depth\n"
    "                        Anything), or depth in metres (Depth Anything V2\n"
    "                        metric), turned into inverse depth for the score\n"
    "                        [inverse]\n"
    "\n"
    "work:\n"
    "  --device cpu|cuda[:N] inference device [cuda when built and a GPU is\n"
    "                        present, else cpu]\n"
    "  --precision fp32|bf16|auto  inference precision [fp32: the same scores on\n"
    "                        every machine]; bf16 needs a CPU with native bf16\n"
    "                        (AVX512-BF16 or AMX); auto: bf16 where the CPU has\n"
    "                        it, else fp32 (cuda: also tf32 and fp16)\n"
    "  --batch N             images per inference run [8]\n"
    "  --queue N             depth maps waiting for post-processing [36]\n"
    "  --workers N           post-processing threads [auto, printed at start]\n"
    "  --decoders N          image decoding threads [auto]\n"
    "  --threads N           inference engine threads [auto]; on the cpu the\n"
    "                        streams share them (N / streams each, at least 1)\n"
    "  --streams N           inference threads, each with its own engine session\n"
    "                        [1; on cuda a session keeps two batches in flight,\n"
    "                        so that transfers overlap the compute]\n"
    "  --force               recompute faces that already have a score\n"
    "  --limit N             process at most N faces\n"
    "  --db-retry-for S      keep reconnecting to a lost database for S seconds\n"
    "                        before stopping (committed work is kept) [600]\n"
    "  --progress MODE       auto|tty|plain|json|none [auto: tty on a terminal,\n"
    "                        else plain]\n"
    "  --save-maps DIR       a panel PNG (photo as the model saw it, depth, layers,\n"
    "                        edges, heatmap) of one face in N, and of every face\n"
    "                        that fails after inference: DIR/{id}_{face}.png\n"
    "  --save-every N        the N of --save-maps (a fixed choice by id) [1000]\n"
    "\n"
    "many workers (README: Many machines; on by any of these options, or when\n"
    "workers are already at work on the table):\n"
    "  --shard I/N|auto      prefer shard I of N (0-based) of the table's chunks,\n"
    "                        then take others'; auto: from JOB_COMPLETION_INDEX\n"
    "                        (with --shards), SLURM_ARRAY_TASK_ID/_COUNT,\n"
    "                        AWS_BATCH_JOB_ARRAY_INDEX/_SIZE or RANK/WORLD_SIZE\n"
    "  --shards N            the shard count for --shard auto with\n"
    "                        JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)\n"
    "  --no-steal            only this worker's own shard's chunks\n"
    "  --chunk N             ids per chunk, when the run is created [1024]\n"
    "  --lease S             seconds a claimed chunk stays this worker's without\n"
    "                        renewal (renewed every S/3 while it works) [60]\n"
    "  --max-attempts N      claims of a chunk before it counts as failed [3]\n"
    "\n"
    "feature (see the spec):\n"
    "  --k N                 depth layers [4]\n"
    "  --canny LOW,HIGH      Canny thresholds [100,200]\n"
    "  --ksize K             Gaussian kernel size, odd [71]\n"
    "  --sigma S             Gaussian sigma [7]\n"
    "\n"
    "exit status: 0 all done, 1 some faces failed, 2 usage or setup error (or\n"
    "the database stayed away), 130 interrupted (SIGINT), 143 (SIGTERM).\n";

/* bf16 against fp32 on the CPU, MiDaS small and the ViT forms: the figure
** measured in bench/RESULTS.md (bench/run-bf16.sh: 1.59-1.67x on Zen 5 with
** AVX512-BF16, 2026-12-06; AMX machines not measured) */
#define DI_BF16_SPEEDUP "about 1.6x"

typedef struct run_opts {
    di_cli_db db;
    di_pipeline_config cfg;
    di_progress_mode progress;
    bool device_given;
    bool precision_given, precision_auto;
    const char *shard;      /* --shard value, resolved after parsing */
    long long shards;       /* --shards */
    char shard_from[160];   /* where the shard came from, printed at start */
    const di_preset *preset;
    bool mean_given, std_given, resize_given, output_given;
} run_opts;

static int bad_value(const char *opt, const char *v)
{
    di_cli_error("%s: bad value '%s' (see depthindex run --help)", opt, v);
    return -1;
}

static int parse_device(run_opts *o, const char *v)
{
    o->device_given = true;
    if (strcmp(v, "cpu") == 0) {
        o->cfg.nn.device = DI_NN_CPU;
        return 0;
    }
    if (strncmp(v, "cuda", 4) == 0) {
        long long idx = 0;
        if (v[4] == ':' && !di_opt_int(v + 5, 0, 1024, &idx))
            return bad_value("--device", v);
        if (v[4] != '\0' && v[4] != ':')
            return bad_value("--device", v);
        o->cfg.nn.device = DI_NN_CUDA;
        o->cfg.nn.device_index = (int)idx;
        return 0;
    }
    return bad_value("--device", v);
}

/* N (square) or WxH, each side 1..16384 */
static int parse_size(const char *v, int *w, int *h)
{
    char buf[64];
    long long a, b;
    snprintf(buf, sizeof buf, "%s", v);
    char *x = strchr(buf, 'x');
    if (x)
        *x = 0;
    if (!di_opt_int(buf, 1, 16384, &a) || (x && !di_opt_int(x + 1, 1, 16384, &b)))
        return -1;
    *w = (int)a;
    *h = x ? (int)b : (int)a;
    return 0;
}

static int parse(run_opts *o, int argc, char **argv)
{
    di_pipeline_config *c = &o->cfg;
    for (int i = 1; i < argc; i++) {
        int r = di_cli_db_option(&o->db, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        bool bad = false;
        const char *v;
        long long n;
        double d, t[3];
        if ((v = di_opt_value(argc, argv, &i, "--images", &bad)))
            c->images_dir = v;
        else if ((v = di_opt_value(argc, argv, &i, "--image-path", &bad)))
            c->image_pattern = v;
        else if ((v = di_opt_value(argc, argv, &i, "--model", &bad)))
            c->model_path = v;
        else if ((v = di_opt_value(argc, argv, &i, "--depth-dir", &bad)))
            c->depth_dir = v;
        else if ((v = di_opt_value(argc, argv, &i, "--size", &bad))) {
            if (parse_size(v, &c->size_w, &c->size_h))
                return bad_value("--size", v);
        } else if ((v = di_opt_value(argc, argv, &i, "--preset", &bad))) {
            if (!(o->preset = di_preset_find(v)))
                return bad_value("--preset", v);
        } else if ((v = di_opt_value(argc, argv, &i, "--resize", &bad))) {
            if (di_resize_mode_parse(v, &c->resize))
                return bad_value("--resize", v);
            o->resize_given = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--output", &bad))) {
            if (di_output_kind_parse(v, &c->output))
                return bad_value("--output", v);
            o->output_given = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--mean", &bad))) {
            if (!di_opt_doubles(v, 3, t))
                return bad_value("--mean", v);
            o->mean_given = true;
            for (int k = 0; k < 3; k++)
                c->mean[k] = (float)t[k];
        } else if ((v = di_opt_value(argc, argv, &i, "--std", &bad))) {
            if (!di_opt_doubles(v, 3, t) || t[0] == 0 || t[1] == 0 || t[2] == 0)
                return bad_value("--std", v);
            o->std_given = true;
            for (int k = 0; k < 3; k++)
                c->std[k] = (float)t[k];
        } else if ((v = di_opt_value(argc, argv, &i, "--device", &bad))) {
            if (parse_device(o, v))
                return -1;
        } else if ((v = di_opt_value(argc, argv, &i, "--precision", &bad))) {
            if (!di_opt_precision(v, &c->nn.precision, &o->precision_auto))
                return bad_value("--precision", v);
            o->precision_given = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--batch", &bad))) {
            if (!di_opt_int(v, 1, 4096, &n))
                return bad_value("--batch", v);
            c->batch = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--queue", &bad))) {
            if (!di_opt_int(v, 1, 100000, &n))
                return bad_value("--queue", v);
            c->queue = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--workers", &bad))) {
            if (!di_opt_int(v, 1, 1024, &n))
                return bad_value("--workers", v);
            c->workers = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--decoders", &bad))) {
            if (!di_opt_int(v, 1, 1024, &n))
                return bad_value("--decoders", v);
            c->decoders = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--threads", &bad))) {
            if (!di_opt_int(v, 1, 1024, &n))
                return bad_value("--threads", v);
            c->nn.threads = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--streams", &bad))) {
            if (!di_opt_int(v, 1, 8, &n))
                return bad_value("--streams", v);
            c->streams = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--limit", &bad))) {
            if (!di_opt_int(v, 1, INT64_MAX, &n))
                return bad_value("--limit", v);
            c->limit = n;
        } else if ((v = di_opt_value(argc, argv, &i, "--db-retry-for", &bad))) {
            if (!di_opt_double(v, 0, 1e7, &d))
                return bad_value("--db-retry-for", v);
            c->db_retry_for = d;
        } else if ((v = di_opt_value(argc, argv, &i, "--progress", &bad))) {
            static const char *const names[] = {"none", "tty", "plain", "json"};
            int m = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, names[k]) == 0)
                    m = k;
            if (strcmp(v, "auto") == 0)
                m = isatty(STDERR_FILENO) ? DI_PROGRESS_TTY : DI_PROGRESS_PLAIN;
            if (m < 0)
                return bad_value("--progress", v);
            o->progress = (di_progress_mode)m;
        } else if ((v = di_opt_value(argc, argv, &i, "--k", &bad))) {
            if (!di_opt_int(v, 1, DI_KMEANS_MAX_K, &n))
                return bad_value("--k", v);
            c->feature.k = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--canny", &bad))) {
            double th[2];
            if (!di_opt_doubles(v, 2, th))
                return bad_value("--canny", v);
            c->feature.canny_low = th[0];
            c->feature.canny_high = th[1];
        } else if ((v = di_opt_value(argc, argv, &i, "--ksize", &bad))) {
            if (!di_opt_int(v, INT32_MIN, INT32_MAX, &n))
                return bad_value("--ksize", v);
            c->feature.ksize = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--sigma", &bad))) {
            if (!di_opt_double(v, -1e30, 1e30, &d)) /* range: as for score */
                return bad_value("--sigma", v);
            c->feature.sigma = d;
        } else if ((v = di_opt_value(argc, argv, &i, "--save-maps", &bad))) {
            c->save_maps = v;
        } else if ((v = di_opt_value(argc, argv, &i, "--save-every", &bad))) {
            if (!di_opt_int(v, 1, 1000000000, &n))
                return bad_value("--save-every", v);
            c->save_every = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--shard", &bad))) {
            o->shard = v;
            c->chunks = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--shards", &bad))) {
            if (!di_opt_int(v, 1, 1000000, &n))
                return bad_value("--shards", v);
            o->shards = n;
        } else if ((v = di_opt_value(argc, argv, &i, "--chunk", &bad))) {
            if (!di_opt_int(v, 1, (long long)1 << 50, &n))
                return bad_value("--chunk", v);
            c->chunk_ids = n;
            c->chunks = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--lease", &bad))) {
            if (!di_opt_double(v, 0.5, 86400, &d))
                return bad_value("--lease", v);
            c->lease = d;
            c->chunks = true;
        } else if ((v = di_opt_value(argc, argv, &i, "--max-attempts", &bad))) {
            if (!di_opt_int(v, 1, 1000000, &n))
                return bad_value("--max-attempts", v);
            c->max_attempts = (int)n;
            c->chunks = true;
        } else if (di_opt_flag(argv, i, "--no-steal")) {
            c->steal = false;
            c->chunks = true;
        } else if (di_opt_flag(argv, i, "--force")) {
            c->force = true;
        } else if (!bad) {
            di_cli_error("run: unknown option '%s' (see depthindex run --help)", argv[i]);
            return -1;
        }
        if (bad)
            return -1;
    }
    /* the preset fills what the options did not say */
    if (o->preset) {
        for (int k = 0; k < 3; k++) {
            if (!o->mean_given)
                c->mean[k] = o->preset->mean[k];
            if (!o->std_given)
                c->std[k] = o->preset->std[k];
        }
        if (!c->size_w)
            c->preset_size = o->preset->size;
        if (!o->resize_given)
            c->resize = o->preset->resize;
        if (!o->output_given)
            c->output = o->preset->output;
    }
    if (di_cli_db_finish(&o->db))
        return -1;
    if (!c->model_path && !c->depth_dir) {
        di_cli_error("run: give --model M.onnx or --depth-dir DIR");
        return -1;
    }
    if (c->model_path && c->depth_dir) {
        di_cli_error("run: --model and --depth-dir exclude each other");
        return -1;
    }
    if (o->shards && (!o->shard || strcmp(o->shard, "auto") != 0)) {
        di_cli_error("run: --shards goes with --shard auto");
        return -1;
    }
    if (!c->steal && !o->shard) {
        di_cli_error("run: --no-steal needs --shard");
        return -1;
    }
    if (o->shard && di_cli_shard(o->shard, o->shards, &c->shard, &c->shards, o->shard_from,
                                 sizeof o->shard_from))
        return -1;
    return 0;
}

/* Test-only knobs from the environment (documented in tests/pipeline). */
static void test_env(di_pipeline_config *c, di_pipeline_test *t)
{
    const char *v = getenv("DEPTHINDEX_TEST_READ_DELAY_MS");
    long long n;
    if (v && di_opt_int(v, 0, 3600000, &n))
        t->read_delay = (double)n / 1000.0;
    v = getenv("DEPTHINDEX_TEST_PAGE_ROWS");
    if (v && di_opt_int(v, 1, 1000000, &n))
        c->page_rows = (int)n;
    /* two batches in flight per session on the CPU too: the CUDA path's
    ** logic, checked where there is no GPU */
    v = getenv("DEPTHINDEX_TEST_ASYNC");
    if (v && strcmp(v, "1") == 0) {
        c->in_flight = 2;
        t->fill = true;
    }
    /* N: the Nth batch's engine run fails; N:device: taken for a lost device */
    v = getenv("DEPTHINDEX_TEST_FAIL_BATCH");
    if (v) {
        char num[32];
        snprintf(num, sizeof num, "%s", v);
        char *colon = strchr(num, ':');
        if (colon)
            *colon = '\0';
        if (di_opt_int(num, 1, INT64_MAX, &n)) {
            t->fail_batch = n;
            t->fail_device = colon && strcmp(colon + 1, "device") == 0;
        }
    }
    /* N: the writer's Nth transaction fails as a database error would */
    v = getenv("DEPTHINDEX_TEST_FAIL_WRITE");
    if (v && di_opt_int(v, 1, INT64_MAX, &n))
        t->fail_write = n;
    /* MS: the reader's thread ends that late, deaf to a stop */
    v = getenv("DEPTHINDEX_TEST_READER_LINGER_MS");
    if (v && di_opt_int(v, 0, 3600000, &n))
        t->reader_linger = (double)n / 1000.0;
}

/* How the decoders and workers share the cores with a CPU engine
** (di_side_sched in src/pipeline/pipeline.h). Left to the pipeline (the gate
** when the engine takes every core) on a machine that was otherwise idle at
** the start; on one that other processes kept busy (process.c's look, which
** also shortened the OpenMP spin) they run freely, as before: there the
** engine waits for the other processes' threads anyway, and gated, run's
** own threads would only hold back their share of the machine (measured on
** 2 cores at a load of 12: bf16 24-27 faces/s gated against 30-31 free).
** DEPTHINDEX_SIDE_SCHED=normal|gate|idle picks one whatever the load, for
** comparing them in bench/run-e2e.sh. */
static void side_env(di_pipeline_config *c)
{
    const char *v = getenv("DEPTHINDEX_SIDE_SCHED");
    if (v && strcmp(v, "normal") == 0)
        c->side_sched = DI_SIDE_NORMAL;
    else if (v && strcmp(v, "gate") == 0)
        c->side_sched = DI_SIDE_GATE;
    else if (v && strcmp(v, "idle") == 0)
        c->side_sched = DI_SIDE_IDLE;
    else if (di_cli_run_loaded())
        c->side_sched = DI_SIDE_NORMAL;
}

static const char *side_name(di_side_sched s)
{
    return s == DI_SIDE_GATE ? "gate" : s == DI_SIDE_IDLE ? "idle" : "normal";
}

/* After the start: the CPU-side threads could not be lowered to SCHED_IDLE
** (a sandbox's seccomp filter may refuse sched_setscheduler). The run goes
** on as before that choice, the side threads competing with the engine. */
static void print_side_warning(const run_opts *o, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    if (!s.side_sched_error[0] || o->progress == DI_PROGRESS_NONE)
        return;
    fprintf(stderr, "depthindex run: warning: cannot lower the reader, decoder, "
                    "post-processing and writer threads to SCHED_IDLE (%s): they share the "
                    "engine's cores at the normal class and slow it down\n",
            s.side_sched_error);
}

static int choose_device(run_opts *o)
{
    di_pipeline_config *c = &o->cfg;
    if (c->depth_dir)
        return 0;
    if (!o->device_given)
        c->nn.device = di_nn_cuda_built() && di_nn_cuda_device_count() > 0
                           ? DI_NN_CUDA : DI_NN_CPU;
    if (o->precision_auto)
        c->nn.precision = di_opt_precision_auto(c->nn.device);
    if (!o->device_given)
        return 0;
    if (c->nn.device == DI_NN_CUDA) {
        if (!di_nn_cuda_built()) {
            di_cli_error("--device cuda: this depthindex was built without CUDA");
            return -1;
        }
        char why[160];
        int count = di_nn_cuda_device_status(why, sizeof why);
        if (count == 0) { /* (cuda) the runtime's reason, one line */
            di_cli_error("no CUDA device: %s", why);
            return -1;
        }
        if (c->nn.device_index >= count) {
            di_cli_error("--device cuda:%d: %d CUDA device%s present", c->nn.device_index,
                         count, count == 1 ? "" : "s");
            return -1;
        }
    }
    return 0;
}

static void print_start(const run_opts *o, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    char url[1100];
    di_url_redact(o->cfg.store.url, url, sizeof url);
    FILE *f = o->progress == DI_PROGRESS_JSON ? stdout : stderr;
    if (o->progress == DI_PROGRESS_JSON) {
        fprintf(f, "{\"start\":true,\"pending\":%lld,\"mode\":\"%s\",\"device\":\"%s\","
                   "\"engine_threads\":%d,\"decoders\":%d,\"workers\":%d,\"batch\":%d,"
                   "\"queue\":%d,\"in_flight\":%d,\"input\":[%d,%d,%d],\"resize\":\"%s\","
                   "\"output\":\"%s\",\"side_threads\":\"%s\"}\n",
                (long long)s.total, s.depth_dir ? "depth-dir" : "model",
                s.depth_dir ? "none" : o->cfg.nn.device == DI_NN_CUDA ? "cuda" : "cpu",
                s.engine_threads, s.depth_dir ? 0 : s.threads[DI_STAGE_DECODE],
                s.threads[DI_STAGE_POST], o->cfg.batch, o->cfg.queue, s.in_flight,
                s.model_c, s.model_h, s.model_w,
                s.keep_aspect ? "keep-aspect" : "stretch", di_output_kind_name(o->cfg.output),
                side_name(s.side_sched));
        fflush(f);
        return;
    }
    if (o->progress == DI_PROGRESS_NONE)
        return;
    fprintf(f, "depthindex run: %s, %lld face%s pending\n", url, (long long)s.total,
            s.total == 1 ? "" : "s");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    /* CPU streams share the engine's threads: "2 streams of 1 thread" */
    char streams[48] = "";
    if (s.threads[DI_STAGE_INFER] > 1)
        snprintf(streams, sizeof streams, "%d streams of ", s.threads[DI_STAGE_INFER]);
    /* how faces become inputs and what the output is read as */
    char what[200];
    snprintf(what, sizeof what, "%s%s",
             s.keep_aspect ? ", keep-aspect: the short side at that size"
             : o->cfg.resize == DI_RESIZE_KEEP_ASPECT
                 ? ", stretched: keep-aspect needs a symbolic height and width"
                 : "",
             o->cfg.output == DI_OUTPUT_DEPTH ? "; output: depth in metres, scored as "
                                                "inverse depth" : "");
    if (s.depth_dir)
        fprintf(f, "depth maps from %s%s; %ld cores: %d post-processing worker%s\n",
                o->cfg.depth_dir,
                o->cfg.output == DI_OUTPUT_DEPTH ? " (depth in metres, scored as inverse "
                                                   "depth)" : "",
                ncpu, s.threads[DI_STAGE_POST],
                s.threads[DI_STAGE_POST] == 1 ? "" : "s");
    else if (o->cfg.nn.device == DI_NN_CUDA)
        fprintf(f, "model %s (input 3x%dx%d%s), device cuda:%d%s, batch %d, %d stream%s "
                   "with %d batches in flight each (pinned buffers); "
                   "%ld cores: %d decoders, %d post-processing workers\n",
                o->cfg.model_path, s.model_h, s.model_w, what, o->cfg.nn.device_index,
                o->device_given ? "" : " (default: a GPU is present)", o->cfg.batch,
                s.threads[DI_STAGE_INFER], s.threads[DI_STAGE_INFER] == 1 ? "" : "s",
                s.in_flight, ncpu, s.threads[DI_STAGE_DECODE], s.threads[DI_STAGE_POST]);
    else
        fprintf(f, "model %s (input 3x%dx%d%s), device cpu%s, %s, batch %d%s; %ld cores split: "
                   "inference %s%d thread%s, %d decoder%s, %d post-processing worker%s\n",
                o->cfg.model_path, s.model_h, s.model_w, what,
                o->device_given ? "" : " (default: no GPU)",
                o->cfg.nn.precision == DI_NN_BF16 ? "bf16" : "fp32", o->cfg.batch,
                s.in_flight > 1 ? ", 2 batches in flight (test)" : "", ncpu, streams,
                s.engine_threads, s.engine_threads == 1 ? "" : "s",
                s.threads[DI_STAGE_DECODE], s.threads[DI_STAGE_DECODE] == 1 ? "" : "s",
                s.threads[DI_STAGE_POST], s.threads[DI_STAGE_POST] == 1 ? "" : "s");
    if (s.side_sched == DI_SIDE_GATE)
        fprintf(f, "decoders and post-processing workers start a face only while the engine "
                   "waits, so that they do not preempt its threads\n");
    else if (s.side_sched == DI_SIDE_IDLE)
        fprintf(f, "the reader, decoders, post-processing workers and writer run at SCHED_IDLE: "
                   "on the cores the engine leaves idle, without preempting it\n");
    /* fp32 stays the default (scores that do not depend on the machine);
    ** say once what bf16 would give where the CPU has it */
    const char *bf16 = di_nn_cpu_bf16();
    if (!s.depth_dir && o->cfg.nn.device == DI_NN_CPU && o->cfg.nn.precision != DI_NN_BF16 &&
        bf16)
        fprintf(f, "this CPU has native bf16 (%s): --precision bf16 runs the model %s faster "
                   "(bench/RESULTS.md); its scores differ from fp32's (README: bf16 on the CPU)\n",
                bf16, DI_BF16_SPEEDUP);
    fflush(f);
}

/* 64-bit FNV-1a of a file: the model's fingerprint in the run's settings
** (same bytes, same value). False when it cannot be read. */
static bool file_fnv64(const char *path, uint64_t *hash, long long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint64_t h = 0xcbf29ce484222325ull;
    unsigned char buf[1 << 16];
    size_t n;
    long long total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
        total += (long long)n;
    }
    bool ok = !ferror(f);
    fclose(f);
    *hash = h;
    *size = total;
    return ok;
}

/* A JSON string of a path or name: quotes, backslashes and control bytes
** escaped. */
static void json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* The run's settings, one JSON line in depthindex_run_log, for `depthindex
** report` (what produced these scores). Not being able to record them is
** said, not fatal: the scores are what matters. */
static void record_settings(const run_opts *o)
{
    const di_pipeline_config *c = &o->cfg;
    char src[2048], pattern[512], faces[512] = "", name[128];
    json_str(src, sizeof src, c->model_path ? c->model_path : c->depth_dir);
    json_str(pattern, sizeof pattern, c->store.column_pattern ? c->store.column_pattern
                                                               : "{face}_depth_index");
    for (int f = 0; f < c->store.nfaces; f++) {
        json_str(name, sizeof name, c->store.faces[f]);
        size_t len = strlen(faces);
        snprintf(faces + len, sizeof faces - len, "%s\"%s\"", f ? "," : "", name);
    }
    char model[128] = "";
    uint64_t h;
    long long size;
    if (c->model_path && file_fnv64(c->model_path, &h, &size))
        snprintf(model, sizeof model, ",\"model_bytes\":%lld,\"model_fnv1a64\":\"%016llx\"",
                 size, (unsigned long long)h);
    char settings[4096];
    snprintf(settings, sizeof settings,
             "{\"%s\":\"%s\"%s,\"device\":\"%s\",\"faces\":[%s],\"column\":\"%s\","
             "\"k\":%d,\"canny\":[%g,%g],\"ksize\":%d,\"sigma\":%g,"
             "\"mean\":[%g,%g,%g],\"std\":[%g,%g,%g],\"resize\":\"%s\",\"output\":\"%s\","
             "\"force\":%s,\"limit\":%lld}",
             c->model_path ? "model" : "depth_dir", src, model,
             c->depth_dir ? "none" : c->nn.device == DI_NN_CUDA ? "cuda" : "cpu", faces, pattern,
             c->feature.k, c->feature.canny_low, c->feature.canny_high, c->feature.ksize,
             c->feature.sigma, c->mean[0], c->mean[1], c->mean[2], c->std[0], c->std[1],
             c->std[2], di_resize_mode_name(c->resize), di_output_kind_name(c->output),
             c->force ? "true" : "false", (long long)c->limit);
    di_error err = {0};
    di_store *st = NULL;
    if (di_store_open(&c->store, false, &st, &err) || di_store_record_run(st, settings, &err)) {
        char msg[700];
        snprintf(msg, sizeof msg, "warning: the run's settings were not recorded: %s", err.msg);
        di_cli_db_error(&o->db, msg);
    }
    di_store_close(st);
}

/* Chunks mode: the run joined, the shard and where it came from. */
static void print_chunks_start(const run_opts *o, di_pipeline *p)
{
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (!k.on || o->progress == DI_PROGRESS_NONE)
        return;
    const di_pipeline_config *c = &o->cfg;
    if (o->progress == DI_PROGRESS_JSON) {
        printf("{\"chunks_start\":true,\"owner\":\"%s\",\"chunks\":%lld,\"chunk_ids\":%lld,"
               "\"shards\":%d,\"shard\":%d,\"steal\":%s,\"lease_s\":%g,"
               "\"max_attempts\":%d,\"created\":%s,\"shard_from\":\"%s\"}\n",
               k.owner, (long long)k.chunks, (long long)k.chunk_ids, k.shards,
               c->shards ? c->shard : -1, c->steal ? "true" : "false", c->lease,
               k.max_attempts, k.created ? "true" : "false", o->shard_from);
        fflush(stdout);
        return;
    }
    char shard[256] = "no preferred shard";
    if (c->shards)
        snprintf(shard, sizeof shard, "shard %d/%d (from %s)%s", c->shard, c->shards,
                 o->shard_from, c->steal ? ", then others'" : ", no stealing");
    fprintf(stderr, "many workers: worker %s, %lld chunks of %lld ids in %d shard%s, %s, "
                    "lease %g s\n",
            k.owner, (long long)k.chunks, (long long)k.chunk_ids, k.shards,
            k.shards == 1 ? "" : "s", shard, c->lease);
    fflush(stderr);
}

/* Chunks mode: what this worker did; failed chunks of the run. */
static bool print_chunks_end(const run_opts *o, di_pipeline *p)
{
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (!k.on)
        return false;
    int64_t failed = 0;
    di_error err = {0};
    bool asked = di_pipeline_failed_chunks(p, &failed, &err) == DI_OK;
    if (o->progress == DI_PROGRESS_JSON) {
        printf("{\"chunks_summary\":true,\"owner\":\"%s\",\"claimed\":%lld,\"done\":%lld,"
               "\"lost\":%lld,\"released\":%lld,\"faces\":%lld,\"run_failed_chunks\":%lld}\n",
               k.owner, (long long)k.claimed, (long long)k.done, (long long)k.lost,
               (long long)k.released, (long long)k.faces, (long long)failed);
        fflush(stdout);
    } else if (o->progress != DI_PROGRESS_NONE) {
        printf("chunks: claimed %lld, done %lld, lost %lld (another worker took them after "
               "this one's lease ran out), released %lld\n",
               (long long)k.claimed, (long long)k.done, (long long)k.lost,
               (long long)k.released);
    }
    if (failed > 0)
        di_cli_error("%lld chunk%s of table %s failed %d times and %s no "
                     "longer tried (depthindex status lists them)",
                (long long)failed, failed == 1 ? "" : "s", o->cfg.store.table, k.max_attempts,
                failed == 1 ? "is" : "are");
    else if (!asked)
        di_cli_error("could not count failed chunks: %s", err.msg);
    return failed > 0;
}

static void print_progress(const run_opts *o, di_progress *pr, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    char line[1024];
    if (o->progress == DI_PROGRESS_TTY) {
        /* one line that rewrites itself: never wider than the terminal, or
        ** it wraps and \r no longer returns to its start */
        struct winsize ws;
        int cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
        di_progress_tty_line(pr, &s, di_progress_columns(cols, getenv("COLUMNS")),
                             di_progress_unicode(getenv("LC_ALL"), getenv("LC_CTYPE"),
                                                 getenv("LANG")),
                             line, sizeof line);
    } else {
        di_progress_line(pr, &s, o->progress, line, sizeof line);
    }
    switch (o->progress) {
    case DI_PROGRESS_TTY: {
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        break;
    }
    case DI_PROGRESS_PLAIN:
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
        break;
    case DI_PROGRESS_JSON:
        fprintf(stdout, "%s\n", line);
        fflush(stdout);
        break;
    default:
        break;
    }
}

/* The pipeline is built (database, model, the engine's warm-up: seconds to
** minutes for a large model) on a thread of its own, so that the main
** thread keeps taking the stop signals meanwhile. Nothing has been scored
** yet, and every statement is a transaction the database rolls back when
** the process goes: a signal then exits at once, as a second one would. */
typedef struct create_job {
    const di_pipeline_config *cfg;
    di_pipeline *p;
    di_error *err;
    int rc;
} create_job;

static void *create_main(void *arg)
{
    create_job *j = arg;
    /* test only: a build that takes this long (a large model's warm-up) */
    long long ms;
    const char *v = getenv("DEPTHINDEX_TEST_SETUP_DELAY_MS");
    if (v && di_opt_int(v, 0, 3600000, &ms))
        di_sleep((double)ms / 1000.0);
    j->rc = di_pipeline_create(j->cfg, &j->p, j->err);
    return NULL;
}

static int create_pipeline(const di_pipeline_config *cfg, const sigset_t *set, di_pipeline **p,
                           di_error *err)
{
    create_job j = {.cfg = cfg, .err = err};
    pthread_t t;
    if (pthread_create(&t, NULL, create_main, &j) != 0) {
        create_main(&j); /* no thread to spare: signals wait until it is built */
    } else {
        for (;;) {
            struct timespec until;
            di_deadline(CLOCK_REALTIME, 0.05, &until);
            if (pthread_timedjoin_np(t, NULL, &until) == 0)
                break;
            struct timespec now = {0, 0};
            int sig = sigtimedwait(set, NULL, &now);
            if (sig == SIGINT || sig == SIGTERM) {
                static const char msg[] = "depthindex: stopped while setting up; "
                                          "nothing was scored\n";
                if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
                }
                _exit(sig == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT);
            }
        }
    }
    *p = j.p;
    return j.rc;
}

int di_cmd_run(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        printf(help, di_cli_db_help);
        return DI_EXIT_OK;
    }
    run_opts o;
    memset(&o, 0, sizeof o);
    di_cli_db_init(&o.db);
    di_pipeline_config_default(&o.cfg);
    o.progress = isatty(STDERR_FILENO) ? DI_PROGRESS_TTY : DI_PROGRESS_PLAIN;
    if (parse(&o, argc, argv))
        return DI_EXIT_USAGE;
    o.cfg.store = o.db.store;
    di_pipeline_test test = {0};
    test_env(&o.cfg, &test);
    side_env(&o.cfg);

    /* Block the stop signals before anything starts a thread (asking for a
    ** GPU starts the CUDA runtime's, the engine's warm-up OpenMP's workers;
    ** all inherit this mask), and take them here: a thread created with them
    ** unblocked would receive one and die of it, without drain or summary.
    ** A signal that comes while the pipeline is being built ends the
    ** process at once (create_pipeline). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (choose_device(&o))
        return DI_EXIT_USAGE;

    di_error err = {0};
    di_pipeline *p = NULL;
    if (create_pipeline(&o.cfg, &set, &p, &err)) {
        di_cli_db_error(&o.db, err.msg);
        return DI_EXIT_USAGE;
    }
    di_pipeline_set_test(p, &test);

    print_start(&o, p);
    record_settings(&o);
    print_chunks_start(&o, p);
    if (di_pipeline_start(p, &err)) {
        di_cli_db_error(&o.db, err.msg);
        di_pipeline_destroy(p);
        return DI_EXIT_USAGE;
    }
    print_side_warning(&o, p);
    double interval = o.progress == DI_PROGRESS_TTY ? 0.25
                    : o.progress == DI_PROGRESS_JSON ? 1.0 : 5.0;
    di_progress pr;
    di_progress_init(&pr);
    double next = di_now() + interval;
    int first_signal = 0;
    for (;;) {
        /* Signals are taken until every thread is joined, not only until
        ** the writer has ended: a thread slow to end (or one that never
        ** does) would otherwise hold the main thread in a join with the
        ** stop signals blocked, and the process could then be stopped only
        ** by SIGKILL. Once the writer is done, the wait for the others is
        ** this loop's pause. */
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (di_pipeline_finished(p)) {
            if (di_pipeline_join_for(p, 0.05))
                break;
            ts.tv_nsec = 0;
        }
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            if (first_signal) {
                /* second signal: out at once; every committed transaction
                ** is whole, the open one is rolled back by the database */
                static const char msg[] = "\ndepthindex: second signal, exiting now\n";
                if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
                }
                _exit(first_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT);
            }
            first_signal = sig;
            di_pipeline_stop(p);
            if (o.progress != DI_PROGRESS_JSON && o.progress != DI_PROGRESS_NONE)
                fprintf(stderr, "%sdepthindex: %s: stopping, finishing the work in flight "
                                "(again to quit at once)\n",
                        o.progress == DI_PROGRESS_TTY ? "\n" : "",
                        sig == SIGINT ? "interrupted" : "terminated");
        }
        if (o.progress != DI_PROGRESS_NONE && di_now() >= next) {
            print_progress(&o, &pr, p);
            next = di_now() + interval;
        }
    }
    int rc = di_pipeline_wait(p, &err);
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    if (o.progress == DI_PROGRESS_TTY)
        fprintf(stderr, "\r\033[K");
    if (o.progress != DI_PROGRESS_NONE && o.progress != DI_PROGRESS_TTY)
        print_progress(&o, &pr, p);
    if (rc)
        di_cli_db_error(&o.db, err.msg);
    const char *outcome = rc ? (s.device_error ? "stopped (device error)"
                                               : "stopped (database error)")
                        : first_signal ? "interrupted"
                        : s.failed ? "done with failures" : "done";
    /* Many workers: this worker's share is what it took on, not the whole
    ** table's pending faces (the others did the rest) */
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (k.on && s.total > s.queued)
        s.total = s.queued;
    char summary[2048];
    di_progress_summary(&s, o.progress == DI_PROGRESS_JSON ? DI_PROGRESS_JSON
                                                            : DI_PROGRESS_PLAIN,
                        outcome, summary, sizeof summary);
    fputs(summary, stdout);
    if (o.cfg.save_maps && o.progress != DI_PROGRESS_JSON)
        printf("panels: %lld in %s\n", (long long)s.panels, o.cfg.save_maps);
    fflush(stdout);
    if (s.panel_errors) {
        char first[DI_ERROR_MSG_MAX];
        di_pipeline_panel_error(p, first, sizeof first);
        di_cli_error("%lld panel%s could not be written; the first: %s",
                (long long)s.panel_errors, s.panel_errors == 1 ? "" : "s", first);
    }
    bool chunks_failed = print_chunks_end(&o, p);
    if (s.failed) {
        di_pipeline_failure first[DI_PIPELINE_FIRST_FAILURES];
        int n = di_pipeline_first_failures(p, first);
        fprintf(stderr, "depthindex: %lld face%s failed; all are in table depthindex_errors "
                        "(depthindex status counts them)%s\n",
                (long long)s.failed, s.failed == 1 ? "" : "s",
                n ? "; the first:" : "");
        for (int i = 0; i < n; i++) {
            char text[2200]; /* the reason may hold a sid from the database */
            di_cli_escape(first[i].error, text, sizeof text);
            fprintf(stderr, "  id %lld, face %s: %s\n", (long long)first[i].id,
                    o.cfg.store.faces[first[i].face], text);
        }
    }
    di_pipeline_destroy(p);
    if (rc)
        return DI_EXIT_USAGE;
    if (first_signal)
        return first_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT;
    return s.failed || chunks_failed ? DI_EXIT_SOME_FAILED : DI_EXIT_OK;
}

/* run_options.c: the options of `depthindex run`: its --help, the command
** line, the test and scheduling knobs of the environment, the device. */
#include "cli.h"
#include "run.h"
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char di_run_help[] =
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

int di_run_parse(run_opts *o, int argc, char **argv)
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
void di_run_test_env(di_pipeline_config *c, di_pipeline_test *t)
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
void di_run_side_env(di_pipeline_config *c)
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

int di_run_choose_device(run_opts *o)
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


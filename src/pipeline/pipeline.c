/* pipeline.c: creating, starting, observing and joining the pipeline. The
** stages themselves are in reader.c, decode.c (decode and inference),
** post.c and writer.c. */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const di_stage_names[DI_STAGE_COUNT] = {
    "read", "decode", "infer", "post", "write"};
const char *const di_queue_names[DI_Q_COUNT] = {
    "decode", "infer", "post", "write"};

/* Batches: one filling, one decoding, and in_flight in each inference
** thread. */
#define NBATCHES(p) ((p)->ninfer * (p)->in_flight + 2)

void di_pipeline_config_default(di_pipeline_config *c)
{
    memset(c, 0, sizeof *c);
    di_store_config_default(&c->store);
    c->images_dir = ".";
    c->image_pattern = "{panorama_sid}_{face}.jpg";
    di_nn_options_default(&c->nn);
    c->batch = 8;
    c->queue = 36;
    const float mean[3] = {0.485f, 0.456f, 0.406f};
    const float std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(c->mean, mean, sizeof mean);
    memcpy(c->std, std, sizeof std);
    c->db_retry_for = 600;
    di_feature_params_default(&c->feature);
    c->page_rows = 256;
    c->write_rows = 500;
    c->write_seconds = 0.2;
    c->max_face_pixels = (int64_t)8192 * 8192;
    c->save_every = 1000;
    c->steal = true;
    c->lease = 60;
    c->chunk_ids = 1024;
    c->max_attempts = 3;
}

di_side_sched di_pipeline_side_sched(const di_pipeline_config *c, int engine_threads,
                                     int cores)
{
    if (c->side_sched != DI_SIDE_AUTO)
        return c->side_sched;
    /* on CUDA the CPU stages must keep up with the device beside it; with
    ** depth maps from files there is no engine to yield to; an engine that
    ** leaves cores free leaves them to the side threads */
    return !c->depth_dir && c->nn.device != DI_NN_CUDA && engine_threads >= cores
               ? DI_SIDE_GATE
               : DI_SIDE_NORMAL;
}

void di_pipe_engine_on(di_pipeline *p, bool on)
{
    if (p->side != DI_SIDE_GATE) {
        atomic_store(&p->engine_on, on);
        return;
    }
    pthread_mutex_lock(&p->gate_lock);
    atomic_store(&p->engine_on, on);
    if (!on)
        pthread_cond_broadcast(&p->gate_cond);
    pthread_mutex_unlock(&p->gate_lock);
}

void di_pipe_gate_wait(di_pipeline *p)
{
    if (p->side != DI_SIDE_GATE) {
        if (p->model_mode && atomic_load(&p->engine_on))
            atomic_fetch_add(&p->side_overlap, 1);
        return;
    }
    pthread_mutex_lock(&p->gate_lock);
    while (atomic_load(&p->engine_on))
        pthread_cond_wait(&p->gate_cond, &p->gate_lock);
    pthread_mutex_unlock(&p->gate_lock);
}

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

void di_item_fail(di_item *it, const char *msg)
{
    it->ok = false;
    snprintf(it->error, sizeof it->error, "%s", msg);
}

int di_pipeline_sid_check(const char *sid, di_error *err)
{
    if (sid[0] == '\0')
        return di_fail(err, DI_EINVAL, "panorama_sid is NULL or empty");
    if (sid[0] == '/')
        return di_fail(err, DI_EINVAL, "panorama_sid '%s' is an absolute path", sid);
    for (const char *s = sid; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return di_fail(err, DI_EINVAL,
                           "panorama_sid '%s' has a '..' component (refused: it could name a "
                           "file outside the folder)", sid);
        s += n;
        s += *s == '/';
    }
    return DI_OK;
}

int di_pipeline_expand_pattern(const char *pattern, const char *sid,
                               const char *face, int64_t id, char *out,
                               size_t out_size, di_error *err)
{
    size_t o = 0;
    for (const char *s = pattern; *s;) {
        const char *val = NULL;
        char idbuf[32];
        size_t skip = 0;
        if (strncmp(s, "{panorama_sid}", 14) == 0) {
            val = sid;
            skip = 14;
        } else if (strncmp(s, "{face}", 6) == 0) {
            val = face;
            skip = 6;
        } else if (strncmp(s, "{id}", 4) == 0) {
            snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
            val = idbuf;
            skip = 4;
        }
        if (val) {
            size_t n = strlen(val);
            if (o + n >= out_size)
                return di_fail(err, DI_EINVAL, "path from pattern '%s' is too long", pattern);
            memcpy(out + o, val, n);
            o += n;
            s += skip;
        } else {
            if (o + 1 >= out_size)
                return di_fail(err, DI_EINVAL, "path from pattern '%s' is too long", pattern);
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    return DI_OK;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* On a CPU-only machine the engine and the pools share the cores. Inference
** is by far the heaviest stage (tens of ms per image against about a
** millisecond to decode or score one), so it gets the cores and the pools
** get a small share; on a small machine the engine takes every core and the
** pools wait for its gaps (DI_SIDE_GATE, set after this: then they get a
** thread per core, di_pipeline_create). */
static void choose_split(di_pipeline *p)
{
    int n = cores();
    const di_pipeline_config *c = &p->cfg;
    if (!p->model_mode) {
        p->nworkers = c->workers > 0 ? c->workers : n;
        p->ndecoders = 0;
        return;
    }
    int side = n / 8 > 1 ? n / 8 : 1;
    if (c->nn.device == DI_NN_CUDA) {
        /* the GPU does the inference: the CPU feeds and drains it */
        int half = n / 2 > 1 ? n / 2 : 1;
        p->ndecoders = c->decoders > 0 ? c->decoders : half;
        p->nworkers = c->workers > 0 ? c->workers : half;
        if (p->cfg.nn.threads <= 0)
            p->cfg.nn.threads = 1;
    } else {
        p->ndecoders = c->decoders > 0 ? c->decoders : side;
        p->nworkers = c->workers > 0 ? c->workers : side;
        /* The engine's threads (--threads, or the cores less the pools'
        ** share) are the total for all streams: each stream's session runs
        ** its own OpenMP team, so N sessions of every thread would put N
        ** times the cores to work, and libgomp, counting more threads than
        ** cores, throttles every thread's spin (bench/RESULTS.md, OpenMP
        ** wait policy). Each stream gets its share, at least one. */
        int total = c->nn.threads > 0 ? c->nn.threads : n <= 4 ? n : n - side;
        int streams = p->ninfer > 0 ? p->ninfer : 1;
        p->cfg.nn.threads = total / streams > 1 ? total / streams : 1;
    }
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int check_config(const di_pipeline_config *c, di_error *err)
{
    if (c->batch < 1 || c->batch > 4096)
        return di_fail(err, DI_EINVAL, "--batch must be 1..4096, not %d", c->batch);
    if (c->queue < 1 || c->queue > 100000)
        return di_fail(err, DI_EINVAL, "--queue must be 1..100000, not %d", c->queue);
    if (c->workers < 0 || c->workers > 1024)
        return di_fail(err, DI_EINVAL, "--workers must be 1..1024, not %d", c->workers);
    if (c->decoders < 0 || c->decoders > 1024)
        return di_fail(err, DI_EINVAL, "--decoders must be 1..1024, not %d", c->decoders);
    if (c->streams < 0 || c->streams > 8)
        return di_fail(err, DI_EINVAL, "--streams must be 1..8, not %d", c->streams);
    if (c->in_flight < 0 || c->in_flight > 2)
        return di_fail(err, DI_EINVAL, "batches in flight must be 1 or 2, not %d", c->in_flight);
    if (c->limit < 0)
        return di_fail(err, DI_EINVAL, "--limit must not be negative");
    if (c->page_rows < 1 || c->write_rows < 1)
        return di_fail(err, DI_EINVAL, "page and transaction sizes must be positive");
    for (int i = 0; i < 3; i++)
        if (!(c->std[i] > 0) && !(c->std[i] < 0))
            return di_fail(err, DI_EINVAL, "--std values must be non-zero");
    if (c->save_maps && (c->save_every < 1 || c->save_every > 1000000000))
        return di_fail(err, DI_EINVAL, "--save-every must be 1..1000000000, not %d",
                       c->save_every);
    if (!c->depth_dir && !c->model_path)
        return di_fail(err, DI_EINVAL, "give --model M.onnx or --depth-dir DIR");
    if (c->depth_dir && c->model_path)
        return di_fail(err, DI_EINVAL, "--model and --depth-dir exclude each other");
    if (!strstr(c->image_pattern, "{panorama_sid}") && !strstr(c->image_pattern, "{id}"))
        return di_fail(err, DI_EINVAL,
                       "--image-path '%s' names no {panorama_sid} or {id}", c->image_pattern);
    /* A folder that is not there would fail every face one by one: a setup
    ** error instead, said once. */
    if (c->depth_dir && !is_dir(c->depth_dir))
        return di_fail(err, DI_EINVAL, "--depth-dir %s: not a folder", c->depth_dir);
    if (!c->depth_dir && c->image_pattern[0] != '/' && !is_dir(c->images_dir))
        return di_fail(err, DI_EINVAL, "--images %s: not a folder", c->images_dir);
    return di_feature_params_check(&c->feature, err);
}

/* Keep-aspect: the largest input a face may get is twice the target along
** one side (di_pipeline_keep_aspect_size), so the buffers hold 2 x W x H
** pixels and the larger output plane of the two extremes, which are planned
** now: a graph that cannot take them fails here, not face by face. */
static int keep_aspect_caps(di_pipeline *p, di_error *err)
{
    p->patch = di_nn_input_patch(p->nn[0]);
    p->in_cap = (size_t)2 * p->in_h * p->in_w;
    const int ext[2][2] = {{p->in_h, 2 * p->in_w}, {2 * p->in_h, p->in_w}};
    int rc = DI_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        int64_t dims[8];
        int ndim = 0;
        rc = di_nn_set_input_size(p->nn[0], ext[k][0], ext[k][1], err);
        if (!rc)
            rc = di_nn_output_shape(p->nn[0], 1, dims, &ndim, err);
        if (rc)
            di_error_prefix(err, "%s: --resize keep-aspect: input %dx%d (a face of aspect "
                            "2:1 or more gets twice the size along its long side)",
                            p->cfg.model_path, ext[k][1], ext[k][0]);
        else if (ndim >= 3 && (size_t)(dims[ndim - 1] * dims[ndim - 2]) > p->plane_cap)
            p->plane_cap = (size_t)(dims[ndim - 1] * dims[ndim - 2]);
    }
    /* back to the target: the warm-up runs it */
    int rc2 = di_nn_set_input_size(p->nn[0], p->in_h, p->in_w, rc ? NULL : err);
    return rc ? rc : rc2;
}

static int open_model(di_pipeline *p, di_error *err)
{
    int rc = DI_OK;
    for (int i = 0; i < p->ninfer && !rc; i++)
        rc = di_nn_session_create(p->cfg.model_path, &p->cfg.nn, &p->nn[i], err);
    if (rc)
        return rc;
    /* a symbolic height or width takes --size (or the default); a fixed
    ** one must be what --size says, when given */
    if ((di_nn_input_symbolic(p->nn[0]) & 0xc) || p->cfg.size_w) {
        int w = p->cfg.size_w        ? p->cfg.size_w
                : p->cfg.preset_size ? p->cfg.preset_size
                                     : DI_PIPELINE_DEFAULT_SIZE;
        int h = p->cfg.size_h ? p->cfg.size_h : w;
        int patch = di_nn_input_patch(p->nn[0]);
        if (patch > 1 && (w % patch || h % patch))
            return di_fail(err, DI_EINVAL,
                           "%s: --size %dx%d: the model's patch size is %d; each side must be "
                           "a multiple of it (say %dx%d)",
                           p->cfg.model_path, w, h, patch, (w + patch / 2) / patch * patch,
                           (h + patch / 2) / patch * patch);
        for (int i = 0; i < p->ninfer && !rc; i++)
            rc = di_nn_set_input_size(p->nn[i], h, w, err);
        if (rc)
            return rc;
    }
    rc = di_nn_input_chw(p->nn[0], &p->in_c, &p->in_h, &p->in_w);
    if (rc)
        return di_fail(err, rc, "%s: cannot read the input shape", p->cfg.model_path);
    if (p->in_c != 3 || p->in_h < 1 || p->in_w < 1)
        return di_fail(err, DI_ESHAPE,
                       "%s: input is %dx%dx%d; an RGB model (3 x H x W) is needed",
                       p->cfg.model_path, p->in_c, p->in_h, p->in_w);
    int64_t dims[8];
    int ndim = 0;
    rc = di_nn_output_shape(p->nn[0], p->cfg.batch, dims, &ndim, err);
    if (rc)
        return rc;
    int64_t plane_extra = 1;
    for (int i = 1; i < ndim - 2; i++)
        plane_extra *= dims[i];
    if (ndim < 3 || plane_extra != 1 || dims[ndim - 1] < 1 || dims[ndim - 2] < 1 ||
        dims[ndim - 1] > 16384 || dims[ndim - 2] > 16384)
        return di_fail(err, DI_ESHAPE,
                       "%s: the first output must be one depth map per image "
                       "(N x H x W or N x 1 x H x W)", p->cfg.model_path);
    p->out_h = (int)dims[ndim - 2];
    p->out_w = (int)dims[ndim - 1];
    p->in_cap = (size_t)p->in_h * p->in_w;
    p->plane_cap = (size_t)p->out_h * p->out_w;
    /* keep-aspect needs a size the file leaves open: a fixed input is
    ** stretched to, whatever the option says (the start line tells) */
    p->keep_aspect = p->cfg.resize == DI_RESIZE_KEEP_ASPECT &&
                     (di_nn_input_symbolic(p->nn[0]) & 0xc) == 0xc;
    return p->keep_aspect ? keep_aspect_caps(p, err) : DI_OK;
}

/* A batch tensor, zeroed. On CUDA it is page-locked (di_nn_alloc_host), so
** that its upload and download are truly asynchronous and overlap the
** compute of another batch; elsewhere plain memory. */
static float *batch_tensor(di_pipeline *p, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / sizeof(float))
        return NULL;
    float *t = p->pinned ? di_nn_alloc_host(n * sizeof *t) : malloc(n * sizeof *t);
    if (t)
        memset(t, 0, n * sizeof *t);
    return t;
}

static void batch_tensor_free(di_pipeline *p, float *t)
{
    if (p->pinned)
        di_nn_free_host(t);
    else
        free(t);
}

/* The fixed buffers are allocated up front, so a --batch or --queue too
** large for the machine would otherwise surface as a bare allocation failure
** or, with overcommit, as the OOM killer in mid-run: refused here, with the
** numbers, when they exceed the physical memory. */
static int check_memory(const di_pipeline *p, size_t plane, di_error *err)
{
    const di_pipeline_config *c = &p->cfg;
    double bytes = sizeof(float) * ((double)c->queue + p->nworkers) * (double)plane;
    if (p->model_mode)
        bytes += sizeof(float) * (double)NBATCHES(p) * c->batch *
                 (3.0 * (double)p->in_cap + (double)plane);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = pages > 0 && page > 0 ? (double)pages * page : 0;
    if (phys > 0 && bytes > 0.75 * phys)
        return di_fail(err, DI_ENOMEM,
                       "--batch %d and --queue %d need %.1f GiB of buffers for a %dx%d model, "
                       "more than this machine's memory (%.1f GiB) allows: make them smaller",
                       c->batch, c->queue, bytes / (1 << 30), p->in_w, p->in_h,
                       phys / (1 << 30));
    return DI_OK;
}

static int alloc_pools(di_pipeline *p, di_error *err)
{
    const di_pipeline_config *c = &p->cfg;
    size_t plane = p->model_mode ? p->plane_cap : 0;
    int rc = check_memory(p, plane, err);
    if (rc)
        return rc;
    if (p->model_mode) {
        size_t in_sz = (size_t)c->batch * 3 * p->in_cap;
        p->nbatches = NBATCHES(p);
        p->batches = calloc((size_t)p->nbatches, sizeof *p->batches);
        p->free_batches = di_queue_create((size_t)p->nbatches);
        p->decode_q = di_queue_create((size_t)p->nbatches * c->batch);
        p->infer_q = di_queue_create((size_t)p->nbatches);
        if (!p->batches || !p->free_batches || !p->decode_q || !p->infer_q)
            return di_fail(err, DI_ENOMEM, "out of memory for batches");
        size_t out_sz = (size_t)c->batch * plane;
        for (int i = 0; i < p->nbatches; i++) {
            di_batch *b = &p->batches[i];
            b->slots = calloc((size_t)c->batch, sizeof *b->slots);
            b->input = batch_tensor(p, in_sz);
            b->output = batch_tensor(p, out_sz);
            if (!b->slots || !b->input || !b->output)
                return di_fail(err, DI_ENOMEM, "out of memory for batch tensors");
            di_queue_push(p->free_batches, b);
        }
    }
    p->nitems = c->queue + p->nworkers;
    p->items = calloc((size_t)p->nitems, sizeof *p->items);
    p->free_items = di_queue_create((size_t)p->nitems);
    p->post_q = di_queue_create((size_t)c->queue);
    if (!p->items || !p->free_items || !p->post_q)
        return di_fail(err, DI_ENOMEM, "out of memory for the depth queue");
    if (plane) {
        p->item_depth = calloc((size_t)p->nitems * plane, sizeof *p->item_depth);
        if (!p->item_depth)
            return di_fail(err, DI_ENOMEM, "out of memory for depth maps");
    }
    for (int i = 0; i < p->nitems; i++) {
        p->items[i].depth = plane ? p->item_depth + (size_t)i * plane : NULL;
        di_queue_push(p->free_items, &p->items[i]);
    }
    size_t wq = c->write_rows > 64 ? (size_t)c->write_rows : 64;
    p->nresults = (int)wq + p->nworkers;
    p->results = calloc((size_t)p->nresults, sizeof *p->results);
    p->free_results = di_queue_create((size_t)p->nresults);
    p->write_q = di_queue_create(wq);
    if (!p->results || !p->free_results || !p->write_q)
        return di_fail(err, DI_ENOMEM, "out of memory for results");
    for (int i = 0; i < p->nresults; i++)
        di_queue_push(p->free_results, &p->results[i]);
    return DI_OK;
}

/* One run of a full batch of zeros before the clock starts: the engine
** prepares its kernels for this batch size on the first run (oneDNN compiles
** them), and an engine that cannot run the model at all is a setup error
** here rather than an error on every face. */
static int warm_up(di_pipeline *p, di_error *err)
{
    di_batch *b = &p->batches[0];
    size_t plane = (size_t)p->out_h * p->out_w;
    int rc = DI_OK;
    for (int i = 0; i < p->ninfer && !rc; i++)
        rc = di_nn_run(p->nn[i], b->input, p->cfg.batch, b->output,
                       (size_t)p->cfg.batch * plane, err);
    if (rc)
        di_error_prefix(err, "%s", p->cfg.model_path);
    return rc;
}

/* The engine's setup (sessions, plans, buffers, the warm-up run) runs on a
** thread of its own that ends before the run starts, not on the caller's.
** libgomp keeps a pool of OpenMP threads for every thread that has started
** a parallel region, for as long as that thread lives, and counts them all:
** once it counts more threads than cores, every OpenMP thread of the process
** spins only 100 pauses (its throttled count) before it sleeps, whatever
** GOMP_SPINCOUNT says. Set up on the main thread, the main thread's pool
** outlived the warm-up beside the inference thread's own: on 2 cores and 2
** engine threads libgomp counted 3, so run's bounded spin (src/cli/process.c)
** was in fact passive waiting, which costs the engine about a tenth of its
** speed on an idle machine (bench/RESULTS.md, OpenMP wait policy). A thread
** that ends hands its pool back (libgomp's thread destructor), so only the
** inference threads' teams remain. */
typedef struct setup_job {
    di_pipeline *p;
    di_error *err;
    int rc;
} setup_job;

static void *setup_main(void *arg)
{
    setup_job *j = arg;
    j->rc = open_model(j->p, j->err);
    if (!j->rc)
        j->rc = alloc_pools(j->p, j->err);
    if (!j->rc)
        j->rc = warm_up(j->p, j->err);
    return NULL;
}

static int setup_engine(di_pipeline *p, di_error *err)
{
    setup_job j = {.p = p, .err = err, .rc = DI_OK};
    pthread_t t;
    if (pthread_create(&t, NULL, setup_main, &j) != 0)
        setup_main(&j); /* no thread to spare: here, only slower later */
    else
        pthread_join(t, NULL);
    return j.rc;
}

int di_pipeline_create(const di_pipeline_config *cfg, di_pipeline **out,
                       di_error *err)
{
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    di_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    p->cfg = *cfg;
    p->model_mode = cfg->depth_dir == NULL;
    pthread_mutex_init(&p->fatal_lock, NULL);
    pthread_mutex_init(&p->gate_lock, NULL);
    pthread_cond_init(&p->gate_cond, NULL);
    for (int i = 0; i < DI_STAGE_COUNT; i++)
        pthread_mutex_init(&p->active_lock[i], NULL);

    /* the panels' title names the model (or the depth maps' folder) */
    const char *src = cfg->depth_dir ? cfg->depth_dir : cfg->model_path;
    const char *slash = strrchr(src, '/');
    snprintf(p->model_name, sizeof p->model_name, "%s", slash && slash[1] ? slash + 1 : src);
    if (cfg->save_maps)
        rc = di_make_dirs(cfg->save_maps, err);
    if (!rc)
        rc = di_store_open(&p->cfg.store, false, &p->read_store, err);
    if (!rc)
        rc = di_store_open(&p->cfg.store, false, &p->write_store, err);
    if (!rc) {
        di_store_watch_retries(p->read_store, &p->read_watch);
        di_store_watch_retries(p->write_store, &p->write_watch);
    }
    di_store_counts counts;
    if (!rc)
        rc = di_store_count(p->read_store, &counts, err);
    if (!rc) {
        int nf = p->cfg.store.nfaces;
        p->total = 0;
        for (int f = 0; f < nf; f++)
            p->total += cfg->force ? counts.rows : counts.pending[f];
        if (cfg->limit > 0 && p->total > cfg->limit)
            p->total = cfg->limit;
    }
    /* Chunks mode when asked for, or when workers are at work on this
    ** table already (an unfinished run in depthindex_runs): join them. */
    if (!rc && !cfg->chunks) {
        int state = DI_RUN_NONE;
        rc = di_chunks_run_state(p->read_store, &state, err);
        p->cfg.chunks = state == DI_RUN_UNFINISHED;
    }
    if (!rc && p->cfg.chunks)
        rc = di_leases_create(p, &p->leases, err);
    if (p->model_mode) {
        /* One session keeps two batches in flight on CUDA: more streams
        ** only add copies of the weights and plans on the device. */
        p->ninfer = cfg->streams > 0 ? cfg->streams : 1;
        if (p->ninfer > DI_PIPELINE_MAX_STREAMS)
            p->ninfer = DI_PIPELINE_MAX_STREAMS;
        /* On the CPU di_nn_run_async runs the batch before it returns: a
        ** second batch in flight would only hold the first one's depth maps
        ** back from the post pool for a whole run, so the CPU stays
        ** synchronous (one in flight) unless a test asks for two. */
        p->in_flight = cfg->in_flight > 0 ? cfg->in_flight
                     : cfg->nn.device == DI_NN_CUDA ? 2 : 1;
        p->pinned = cfg->nn.device == DI_NN_CUDA;
    }
    /* the split first: the engine's sessions are created with its threads */
    choose_split(p);
    p->side = di_pipeline_side_sched(cfg, p->cfg.nn.threads, cores());
    if (p->side == DI_SIDE_GATE || p->side == DI_SIDE_IDLE) {
        /* neither kind can slow the engine down now, and in its waits all
        ** the cores are theirs: as many decoders and workers as cores (the
        ** last batch's faces are scored on every core, not one) */
        if (cfg->decoders <= 0 && p->ndecoders < cores())
            p->ndecoders = cores();
        if (cfg->workers <= 0 && p->nworkers < cores())
            p->nworkers = cores();
    }
    if (!rc)
        rc = p->model_mode ? setup_engine(p, err) : alloc_pools(p, err);
    if (rc) {
        di_pipeline_destroy(p);
        return rc;
    }
    *out = p;
    return DI_OK;
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

int di_pipeline_wait(di_pipeline *p, di_error *err)
{
    if (p->started) {
        pthread_join(p->reader, NULL);
        if (p->model_mode) {
            for (int i = 0; i < p->ndecoders; i++)
                pthread_join(p->decoders[i], NULL);
            for (int i = 0; i < p->ninfer; i++)
                pthread_join(p->infer[i], NULL);
        }
        for (int i = 0; i < p->nworkers; i++)
            pthread_join(p->workers[i], NULL);
        pthread_join(p->writer, NULL);
        /* after the writer: every result is committed, so the keeper's last
        ** pass finishes the chunks that are whole and releases the rest */
        di_leases_stop(p->leases);
        p->started = false;
    }
    if (p->fatal_code) {
        if (err)
            *err = p->fatal;
        return p->fatal_code;
    }
    return DI_OK;
}

void di_pipeline_destroy(di_pipeline *p)
{
    if (!p)
        return;
    if (p->started) {
        di_pipeline_stop(p);
        di_pipeline_wait(p, NULL);
    }
    di_leases_destroy(p->leases);
    di_store_close(p->read_store);
    di_store_close(p->write_store);
    for (int i = 0; i < DI_PIPELINE_MAX_STREAMS; i++)
        if (p->nn[i])
            di_nn_session_destroy(p->nn[i]);
    for (int i = 0; p->batches && i < p->nbatches; i++) {
        free(p->batches[i].slots);
        batch_tensor_free(p, p->batches[i].input);
        batch_tensor_free(p, p->batches[i].output);
    }
    free(p->batches);
    free(p->items);
    free(p->item_depth);
    free(p->results);
    di_queue *qs[] = {p->free_batches, p->decode_q, p->infer_q, p->free_items,
                      p->post_q, p->free_results, p->write_q};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        di_queue_destroy(qs[i]);
    free(p->decoders);
    free(p->workers);
    pthread_mutex_destroy(&p->fatal_lock);
    pthread_mutex_destroy(&p->gate_lock);
    pthread_cond_destroy(&p->gate_cond);
    for (int i = 0; i < DI_STAGE_COUNT; i++)
        pthread_mutex_destroy(&p->active_lock[i]);
    free(p);
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

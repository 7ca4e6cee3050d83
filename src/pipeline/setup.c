/* setup.c: the engine's setup (sessions, sizes, the warm-up run) and the
** pipeline's fixed buffers, all made before the run starts. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Batches: one filling, one decoding, and in_flight in each inference
** thread. */
#define NBATCHES(p) ((p)->ninfer * (p)->in_flight + 2)

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

void di_pipe_batch_tensor_free(di_pipeline *p, float *t)
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

int di_pipe_alloc_pools(di_pipeline *p, di_error *err)
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
** inference threads' teams remain. A caller whose own thread ends right
** after (caller_thread_ends: run's build thread) needs no second one. */
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
        j->rc = di_pipe_alloc_pools(j->p, j->err);
    if (!j->rc)
        j->rc = warm_up(j->p, j->err);
    return NULL;
}

int di_pipe_setup_engine(di_pipeline *p, di_error *err)
{
    setup_job j = {.p = p, .err = err, .rc = DI_OK};
    pthread_t t;
    if (p->cfg.caller_thread_ends)
        setup_main(&j); /* its pool ends with the caller's thread */
    else if (pthread_create(&t, NULL, setup_main, &j) != 0)
        setup_main(&j); /* no thread to spare: here, only slower later */
    else
        pthread_join(t, NULL);
    return j.rc;
}

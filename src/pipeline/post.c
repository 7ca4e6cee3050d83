/* post.c: the post-processing pool. A worker takes a depth map (the model's
** output at model resolution, or a precomputed map read from --depth-dir),
** brings it to the face's own size and computes the depth congestion index.
** Its workspace and depth reader grow to the largest face seen and are
** reused: no allocation per face in steady state (except what the PNG and
** PFM readers allocate in depth-dir mode). */
#include "internal.h"
#include "../imgproc/imgproc.h"
#include "../io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct worker {
    di_pipeline *p;
    di_feature_ws *ws;
    di_depth_reader *reader;
} worker;

static int score(worker *w, const float *depth, int width, int height,
                 double *out, di_error *e)
{
    di_feature_result r;
    double t0 = di_pipe_begin(w->p, DI_STAGE_POST);
    int rc = di_feature_compute(w->ws, depth, width, height, &w->p->cfg.feature, &r, e);
    di_pipe_end(w->p, DI_STAGE_POST, t0);
    if (!rc)
        *out = r.score;
    return rc;
}

/* Model mode: the score of the output plane resized to the face's size
** (di_feature_compute_resized: the resize in the workspace, fused with the
** min/max pass; the same score as resizing first). */
static int post_model(worker *w, const di_item *it, double *out, di_error *e)
{
    di_pipeline *p = w->p;
    if (it->full_w == p->out_w && it->full_h == p->out_h)
        return score(w, it->depth, it->full_w, it->full_h, out, e);
    di_feature_result r;
    double t0 = di_pipe_begin(p, DI_STAGE_POST);
    int rc = di_feature_compute_resized(w->ws, it->depth, p->out_w, p->out_h,
                                        it->full_w, it->full_h, &p->cfg.feature,
                                        &r, e);
    di_pipe_end(p, DI_STAGE_POST, t0);
    if (!rc)
        *out = r.score;
    return rc;
}

/* Depth-dir mode: {panorama_sid}_{face}.npy, else .png, else .pfm. */
static int post_depth_file(worker *w, const di_item *it, double *out, di_error *e)
{
    di_pipeline *p = w->p;
    int rc = di_pipeline_sid_check(it->sid, e);
    if (rc)
        return rc;
    static const char *const exts[] = {"npy", "png", "pfm"};
    char path[4096];
    bool found = false;
    for (int i = 0; i < 3 && !found; i++) {
        snprintf(path, sizeof path, "%s/%s_%s.%s", p->cfg.depth_dir, it->sid,
                 p->cfg.store.faces[it->face], exts[i]);
        found = access(path, F_OK) == 0;
    }
    if (!found)
        return di_fail(e, DI_EIO, "no depth map %s/%s_%s.npy (nor .png, .pfm)",
                       p->cfg.depth_dir, it->sid, p->cfg.store.faces[it->face]);
    double t0 = di_pipe_begin(p, DI_STAGE_DECODE);
    const float *depth;
    int width, height;
    /* Unchecked: di_feature_compute refuses non-finite depth itself. */
    rc = di_depth_reader_read(w->reader, path, DI_DEPTH_UNCHECKED, &depth,
                              &width, &height, e);
    di_pipe_end(p, DI_STAGE_DECODE, t0);
    if (rc)
        return rc;
    if ((int64_t)width * height > p->cfg.max_face_pixels)
        return di_fail(e, DI_ENOMEM, "%s: depth map is %dx%d, more than the limit of %lld pixels",
                       path, width, height, (long long)p->cfg.max_face_pixels);
    rc = score(w, depth, width, height, out, e);
    if (rc)
        di_error_prefix(e, "%s", path);
    return rc;
}

void *di_worker_main(void *arg)
{
    di_pipeline *p = arg;
    worker w = {.p = p, .ws = di_feature_ws_create(),
                .reader = di_depth_reader_create()};
    di_item *it;
    while ((it = di_queue_pop(p->post_q))) {
        di_store_result *r = di_queue_pop(p->free_results);
        r->id = it->id;
        r->face = it->face;
        r->ok = false;
        r->score = 0;
        r->error[0] = '\0';
        di_error e = {0};
        int rc;
        if (!it->ok)
            rc = di_fail(&e, DI_EFORMAT, "%s", it->error);
        else if (!w.ws || !w.reader)
            rc = di_fail(&e, DI_ENOMEM, "out of memory for a feature workspace");
        else if (p->model_mode)
            rc = post_model(&w, it, &r->score, &e);
        else
            rc = post_depth_file(&w, it, &r->score, &e);
        if (rc) {
            size_t n = strnlen(e.msg, sizeof r->error - 1);
            memcpy(r->error, e.msg, n);
            r->error[n] = '\0';
        }
        r->ok = rc == DI_OK;
        di_queue_push(p->free_items, it);
        atomic_fetch_add(&p->scored, 1);
        di_queue_push(p->write_q, r);
    }
    di_feature_ws_destroy(w.ws);
    di_depth_reader_destroy(w.reader);
    if (atomic_fetch_sub(&p->live_workers, 1) == 1)
        di_queue_close(p->write_q);
    return NULL;
}

/* post.c: the post-processing pool. A worker takes a depth map (the model's
** output at model resolution, or a precomputed map read from --depth-dir),
** brings it to the face's own size and computes the depth congestion index.
** Its workspace, resize buffer and depth reader grow to the largest face
** seen and are reused: no allocation per face in steady state (except what
** the PNG and PFM readers allocate in depth-dir mode).
**
** With --save-maps a worker also draws the panel of one face in save_every
** (di_pipeline_sampled) and of each face that fails after its depth map
** exists (up to DI_PIPELINE_FAILURE_PANELS): the face's photo as the model
** saw it (decoded again here, the decode stage's own path, rather than kept
** for every face), the depth, layers, edges and heatmap. Only the sampled
** faces pay for it. A panel that cannot be written is counted, never a
** failure of the face. */
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
    float *buf;     /* --save-maps: a model's depth at the face's size */
    size_t cap;
    uint8_t *photo; /* --save-maps: the photo of a face being drawn */
    size_t photo_cap;
} worker;

bool di_pipeline_sampled(int64_t id, int face, int every)
{
    if (every <= 1)
        return true;
    uint64_t x = (uint64_t)id * 8 + (uint64_t)face + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x % (uint64_t)every == 0;
}

static void panel_failed(di_pipeline *p, const di_error *e)
{
    pthread_mutex_lock(&p->fatal_lock);
    if (atomic_fetch_add(&p->panel_errors, 1) == 0)
        snprintf(p->panel_error, sizeof p->panel_error, "%s", e->msg);
    pthread_mutex_unlock(&p->fatal_lock);
}

/* The face's photo as the model saw it (model mode: the model's input
** size), or in depth-dir mode the image under --images at the depth map's
** size when there is one. NULL when it cannot be read: a panel without it. */
static const uint8_t *photo(worker *w, const di_item *it, int dw, int dh, int *pw, int *ph)
{
    di_pipeline *p = w->p;
    int W = p->model_mode ? it->in_w : dw, H = p->model_mode ? it->in_h : dh;
    while (!p->model_mode && (W > 512 || H > 512)) {
        W = (W + 1) / 2;
        H = (H + 1) / 2;
    }
    size_t need = (size_t)W * H * 3;
    if (need > w->photo_cap) {
        uint8_t *nb = realloc(w->photo, need);
        if (!nb)
            return NULL;
        w->photo = nb;
        w->photo_cap = need;
    }
    di_item copy = *it;
    di_image img;
    const uint8_t *rgb;
    di_error e = {0};
    if (di_pipe_load_photo(p, &copy, W, H, w->photo, &img, &rgb, &e))
        return NULL;
    if (rgb != w->photo)
        memcpy(w->photo, rgb, need);
    di_image_free(&img);
    *pw = W;
    *ph = H;
    return w->photo;
}

/* The panel of a scored face (r) or of a failed one (r NULL: depth and the
** error), as save_maps/{id}_{face}.png. */
static void save_panel(worker *w, const di_item *it, const float *depth, int width,
                       int height, const di_feature_result *r, const char *error)
{
    di_pipeline *p = w->p;
    const char *face = p->cfg.store.faces[it->face];
    char path[4200], title[320], sub[200];
    snprintf(path, sizeof path, "%s/%lld_%s.png", p->cfg.save_maps, (long long)it->id, face);
    snprintf(title, sizeof title, "%s  %s  (id %lld)", it->sid, face, (long long)it->id);
    snprintf(sub, sizeof sub, "%s %s", p->model_mode ? "model" : "depth maps from",
             p->model_name);
    di_panel_photo ph = {0};
    ph.rgb = photo(w, it, width, height, &ph.width, &ph.height);
    di_error e = {0};
    int rc = r ? di_feature_save_run_panel(w->ws, &p->cfg.feature, r, &ph, title, sub, path, &e)
               : di_feature_save_failure_panel(depth, width, height, &ph, title, error, path,
                                               &e);
    if (rc)
        panel_failed(p, &e);
    else
        atomic_fetch_add(&p->panels, 1);
}

/* Whether a face whose scoring ended with rc gets a panel: a sampled one
** that scored, or a failed one while the failures' budget lasts. */
static bool wants_panel(di_pipeline *p, const di_item *it, int rc)
{
    if (!rc)
        return di_pipeline_sampled(it->id, it->face, p->cfg.save_every);
    return atomic_fetch_add(&p->failure_panels, 1) < DI_PIPELINE_FAILURE_PANELS;
}

static int score(worker *w, const di_item *it, const float *depth, int width, int height,
                 double *out, di_error *e)
{
    di_pipeline *p = w->p;
    di_feature_result r;
    double t0 = di_pipe_begin(p, DI_STAGE_POST);
    int rc = di_feature_compute(w->ws, depth, width, height, &p->cfg.feature, &r, e);
    if (!rc)
        *out = r.score;
    if (p->cfg.save_maps && wants_panel(p, it, rc))
        save_panel(w, it, depth, width, height, rc ? NULL : &r, rc ? e->msg : NULL);
    di_pipe_end(p, DI_STAGE_POST, t0);
    return rc;
}

/* Model mode: the score of the output plane resized to the face's size
** (di_feature_compute_resized: the resize in the workspace, fused with the
** min/max pass; the same score as resizing first). */
static int post_model(worker *w, const di_item *it, double *out, di_error *e)
{
    di_pipeline *p = w->p;
    const int ow = it->depth_w, oh = it->depth_h;
    /* metric depth into inverse depth at the model's resolution, before the
    ** resize: the same map, up to scale and shift, as an inverse model's */
    if (p->cfg.output == DI_OUTPUT_DEPTH &&
        di_depth_to_inverse(it->depth, it->depth, (size_t)ow * oh, e))
        return e->code;
    if (it->full_w == ow && it->full_h == oh)
        return score(w, it, it->depth, it->full_w, it->full_h, out, e);
    di_feature_result r;
    double t0 = di_pipe_begin(p, DI_STAGE_POST);
    int rc = di_feature_compute_resized(w->ws, it->depth, ow, oh,
                                        it->full_w, it->full_h, &p->cfg.feature,
                                        &r, e);
    if (!rc)
        *out = r.score;
    if (p->cfg.save_maps && wants_panel(p, it, rc)) {
        /* the fused path kept no resized map: make it, for this face only */
        size_t n = (size_t)it->full_w * it->full_h;
        if (n > w->cap) {
            float *nb = realloc(w->buf, n * sizeof *nb);
            if (nb) {
                w->buf = nb;
                w->cap = n;
            }
        }
        if (n <= w->cap) {
            di_resize_bilinear_f32(it->depth, ow, oh, w->buf, it->full_w, it->full_h);
            save_panel(w, it, w->buf, it->full_w, it->full_h, rc ? NULL : &r,
                       rc ? e->msg : NULL);
        }
    }
    di_pipe_end(p, DI_STAGE_POST, t0);
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
    if (p->cfg.output == DI_OUTPUT_DEPTH) { /* into the worker's buffer: the
                                            ** reader's is not ours to change */
        size_t n = (size_t)width * height;
        if (n > w->cap) {
            float *nb = realloc(w->buf, n * sizeof *nb);
            if (!nb)
                return di_fail(e, DI_ENOMEM, "%s: out of memory for the inverse depth", path);
            w->buf = nb;
            w->cap = n;
        }
        if ((rc = di_depth_to_inverse(depth, w->buf, n, e))) {
            di_error_prefix(e, "%s", path);
            return rc;
        }
        depth = w->buf;
    }
    rc = score(w, it, depth, width, height, out, e);
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
        di_pipe_gate_wait(p);
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
    free(w.buf);
    free(w.photo);
    if (atomic_fetch_sub(&p->live_workers, 1) == 1)
        di_queue_close(p->write_q);
    return NULL;
}

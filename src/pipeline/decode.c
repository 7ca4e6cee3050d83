/* decode.c: the decode pool and the inference threads (model mode; one
** per stream, each with its own engine session).
**
** A decoder claims one slot of a batch: it reads the face's JPEG, decodes it
** with libjpeg-turbo's DCT scaling to the smallest size still at least the
** model input, resizes to the model input and normalises into the slot's
** part of the batch tensor. The decoder that finishes a batch's last slot
** hands the batch to inference. A face that cannot be decoded keeps its slot
** (zeros) with an error; its output is not used. */
#include "internal.h"
#include "../imgproc/imgproc.h"
#include "../io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_FILE_BYTES ((size_t)256 << 20)

/* The file of a face: images_dir/pattern, or the pattern alone when the
** pattern is an absolute path (the user's choice). The sid comes from the
** database: one that could walk out of the folder is refused. */
static int face_path(di_pipeline *p, const di_item *it, char *path, size_t size,
                     di_error *e)
{
    int rc = di_pipeline_sid_check(it->sid, e);
    if (rc)
        return rc;
    char rel[4096];
    rc = di_pipeline_expand_pattern(p->cfg.image_pattern, it->sid,
                                    p->cfg.store.faces[it->face], it->id, rel, sizeof rel, e);
    if (rc)
        return rc;
    int n = p->cfg.image_pattern[0] == '/'
                ? snprintf(path, size, "%s", rel)
                : snprintf(path, size, "%s/%s", p->cfg.images_dir, rel);
    if (n < 0 || (size_t)n >= size)
        return di_fail(e, DI_EINVAL, "image path for '%s' is too long", it->sid);
    return DI_OK;
}

/* A decoder's buffers, kept from image to image: no allocation per face in
** steady state. */
typedef struct decoder_bufs {
    uint8_t *file;    /* the JPEG file's bytes */
    size_t file_cap;
    uint8_t *pixels;  /* the decoded (DCT-scaled) RGB image */
    size_t pixels_cap;
    uint8_t *resized; /* the RGB image at the model input size */
    void *scratch;    /* the resizer's */
} decoder_bufs;

/* What a decoded photo must be: within the pixel limit, RGB. */
static int check_photo(const di_pipeline *p, const char *path, int fw, int fh,
                       const di_image *img, di_error *e)
{
    if ((int64_t)fw * fh > p->cfg.max_face_pixels || fw < 1 || fh < 1)
        return di_fail(e, DI_ENOMEM, "%s: image is %dx%d, more than the limit of %lld pixels",
                       path, fw, fh, (long long)p->cfg.max_face_pixels);
    if (img->channels != 3)
        return di_fail(e, DI_EFORMAT, "%s: decoded to %d channels, not RGB", path,
                       img->channels);
    return DI_OK;
}

/* For panels (post.c), only for the faces drawn: allocates, unlike the
** decoders' path below. */
int di_pipe_load_photo(di_pipeline *p, di_item *it, int W, int H, uint8_t *scratch,
                       di_image *img, const uint8_t **rgb, di_error *e)
{
    char path[4096];
    int rc = face_path(p, it, path, sizeof path, e);
    if (rc)
        return rc;
    uint8_t *data = NULL;
    size_t size = 0;
    rc = di_read_file(path, MAX_IMAGE_FILE_BYTES, &data, &size, e);
    if (rc)
        return rc;
    if (size == 0) {
        free(data);
        return di_fail(e, DI_EFORMAT, "%s: empty file", path);
    }
    *img = (di_image){0};
    int fw = 0, fh = 0;
    rc = di_jpeg_decode_mem(data, size, path, W, H, img, &fw, &fh, e);
    free(data);
    if (rc)
        return rc;
    if ((rc = check_photo(p, path, fw, fh, img, e))) {
        di_image_free(img);
        return rc;
    }
    it->full_w = fw;
    it->full_h = fh;
    *rgb = img->data;
    if (img->width != W || img->height != H) {
        di_resize_bilinear_u8(img->data, img->width, img->height, 3, scratch, W, H);
        *rgb = scratch;
    }
    return DI_OK;
}

/* (v / 255 - mean) / std, planar C x H x W as ONNX models take it: one pass
** over the interleaved pixels writes the three planes. */
static void normalise(const di_pipeline *p, const uint8_t *rgb, size_t hw,
                      float *dst)
{
    const float s0 = 1.0f / (255.0f * p->cfg.std[0]),
                s1 = 1.0f / (255.0f * p->cfg.std[1]),
                s2 = 1.0f / (255.0f * p->cfg.std[2]);
    const float b0 = -p->cfg.mean[0] / p->cfg.std[0],
                b1 = -p->cfg.mean[1] / p->cfg.std[1],
                b2 = -p->cfg.mean[2] / p->cfg.std[2];
    float *restrict p0 = dst, *restrict p1 = dst + hw, *restrict p2 = dst + 2 * hw;
    for (size_t i = 0; i < hw; i++) {
        p0[i] = (float)rgb[3 * i] * s0 + b0;
        p1[i] = (float)rgb[3 * i + 1] * s1 + b1;
        p2[i] = (float)rgb[3 * i + 2] * s2 + b2;
    }
}

static int decode_one(di_pipeline *p, di_item *it, float *dst,
                      decoder_bufs *bufs, di_error *e)
{
    char path[4096];
    int rc = face_path(p, it, path, sizeof path, e);
    if (rc)
        return rc;
    size_t size = 0;
    rc = di_read_file_reuse(path, MAX_IMAGE_FILE_BYTES, &bufs->file,
                            &bufs->file_cap, &size, e);
    if (rc)
        return rc;
    if (size == 0)
        return di_fail(e, DI_EFORMAT, "%s: empty file", path);
    int W = p->in_w, H = p->in_h;
    if (p->keep_aspect) { /* this face's own size: its header says its aspect */
        int hw = 0, hh = 0;
        if ((rc = di_jpeg_read_size_mem(bufs->file, size, path, &hw, &hh, e)))
            return rc;
        if (hw < 1 || hh < 1)
            return di_fail(e, DI_EFORMAT, "%s: image is %dx%d", path, hw, hh);
        di_pipeline_keep_aspect_size(hw, hh, p->in_w, p->in_h, p->patch, &W, &H);
    }
    it->in_w = W;
    it->in_h = H;
    di_image img = {0};
    int fw = 0, fh = 0;
    rc = di_jpeg_decode_reuse(bufs->file, size, path, W, H, &bufs->pixels,
                              &bufs->pixels_cap, &img, &fw, &fh, e);
    if (rc || (rc = check_photo(p, path, fw, fh, &img, e)))
        return rc;
    it->full_w = fw;
    it->full_h = fh;
    const uint8_t *rgb = img.data;
    if (img.width != W || img.height != H) {
        di_resize_bilinear_u8_scratch(img.data, img.width, img.height, 3,
                                      bufs->resized, W, H, bufs->scratch);
        rgb = bufs->resized;
    }
    normalise(p, rgb, (size_t)W * H, dst);
    return DI_OK;
}

void *di_decoder_main(void *arg)
{
    di_pipeline *p = arg;
    /* a slot's room: the largest input a face may get (keep-aspect) */
    const size_t chw = (size_t)3 * p->in_cap;
    decoder_bufs bufs = {.resized = malloc(chw),
                         .scratch = malloc(di_resize_scratch_size(
                             p->keep_aspect ? 2 * p->in_w : p->in_w, 3))};
    di_batch *b;
    while ((b = di_queue_pop(p->decode_q))) {
        di_pipe_gate_wait(p);
        int slot = atomic_fetch_add(&b->next, 1);
        di_item *it = &b->slots[slot];
        float *dst = b->input + (size_t)slot * chw;
        double t0 = di_pipe_begin(p, DI_STAGE_DECODE);
        di_error e = {0};
        it->in_w = p->in_w; /* a face that fails keeps the target's size */
        it->in_h = p->in_h;
        int rc = !it->ok ? DI_EINVAL /* failed already (its sid), keeps its reason */
                 : bufs.resized && bufs.scratch
                     ? decode_one(p, it, dst, &bufs, &e)
                     : di_fail(&e, DI_ENOMEM, "out of memory for decoding");
        if (rc && !it->ok) {
            memset(dst, 0, chw * sizeof *dst);
        } else if (rc) {
            di_item_fail(it, e.msg);
            memset(dst, 0, chw * sizeof *dst);
        }
        di_pipe_end(p, DI_STAGE_DECODE, t0);
        if (atomic_fetch_add(&b->done, 1) + 1 == b->n)
            di_queue_push(p->infer_q, b);
    }
    free(bufs.file);
    free(bufs.pixels);
    free(bufs.resized);
    free(bufs.scratch);
    if (atomic_fetch_sub(&p->live_decoders, 1) == 1)
        di_queue_close(p->infer_q);
    return NULL;
}

/* The inference loop of one session.
**
** On CUDA (in_flight 2) batch k+1 is submitted with di_nn_run_async before
** batch k is waited for, so that the upload of k+1 and the download of k-1
** overlap the compute of k (the engine's streams and events); a batch's depth
** maps go to the post pool as soon as di_nn_wait for it returns. A second
** batch is submitted only when one is ready: with none ready the oldest is
** waited for and delivered at once rather than held back for a batch that
** is still being decoded (then decoding, not the device, is the bottleneck).
**
** On the CPU (in_flight 1) di_nn_run_async runs the batch before returning
** and the wait follows at once: the synchronous path. Two in flight there
** would hold every batch's maps back for the length of the next run; tests
** force it (DEPTHINDEX_TEST_ASYNC, with the test control's fill so that a second batch is
** always waited for and two are in flight whenever two exist) to check this
** logic on machines without a GPU.
**
** Errors: a batch whose run fails fails its own faces (recorded in
** depthindex_errors); the run goes on. An error of the device itself
** (DI_EDEVICE; nothing more can run on a lost device) stops the run cleanly
** instead: the faces of that batch and of the batches after it are dropped,
** not failed, so they stay pending for the next run, and what was committed
** stays. The code decides, never the message: DI_ENOMEM (the device's memory
** ran out for this batch) fails that batch only. */
typedef struct infer_ctx {
    di_pipeline *p;
    di_nn_session *nn;
    size_t plane;         /* floats of one output plane at the session's size */
    int in_w, in_h;       /* the session's input size now */
    int out_w, out_h;     /* its output plane */
    di_batch *pending[2]; /* in flight, oldest first */
    int npending;
    double busy_since;    /* when the session last went from idle to busy */
} infer_ctx;

static bool device_error(int rc)
{
    return rc == DI_EDEVICE;
}

/* The end of a batch's run (rc its outcome): its faces go to the post pool,
** failed when the run failed, unless the device is lost. */
static void finish(infer_ctx *c, di_batch *b, int rc, const di_error *e)
{
    di_pipeline *p = c->p;
    if (rc && device_error(rc) && !atomic_exchange(&p->device_lost, true))
        di_pipe_fatal(p, e);
    if (rc && atomic_load(&p->device_lost)) {
        di_queue_push(p->free_batches, b);
        return;
    }
    for (int i = 0; i < b->n; i++) {
        di_item *it = di_queue_pop(p->free_items);
        float *depth = it->depth;
        *it = b->slots[i];
        it->depth = depth;
        if (!b->mixed) {
            it->depth_w = b->out_w;
            it->depth_h = b->out_h;
        }
        if (it->ok && rc)
            di_item_fail(it, e->msg);
        else if (it->ok)
            memcpy(depth, b->output + i * b->out_stride,
                   (size_t)it->depth_w * it->depth_h * sizeof *depth);
        di_queue_push(p->post_q, it);
    }
    di_queue_push(p->free_batches, b);
}

static void submit(infer_ctx *c, di_batch *b)
{
    di_pipeline *p = c->p;
    if (atomic_load(&p->device_lost)) { /* faces stay pending */
        di_queue_push(p->free_batches, b);
        return;
    }
    long long nth = atomic_fetch_add(&p->infer_batches, 1) + 1;
    bool inject = nth == p->test.fail_batch;
    /* the injected failure is the engine's own: no room for the output */
    size_t cap = inject ? 0 : (size_t)b->n * c->plane;
    b->out_w = c->out_w;
    b->out_h = c->out_h;
    b->out_stride = c->plane;
    b->mixed = false;
    if (c->npending == 0)
        c->busy_since = di_pipe_begin(p, DI_STAGE_INFER);
    di_error e = {0};
    di_pipe_engine_on(p, true);
    int rc = di_nn_run_async(c->nn, b->input, b->n, b->output, cap, &e);
    di_pipe_engine_on(p, false);
    if (!rc) {
        c->pending[c->npending++] = b;
        int seen = atomic_load(&p->in_flight_max);
        while (c->npending > seen &&
               !atomic_compare_exchange_weak(&p->in_flight_max, &seen, c->npending)) {
        }
        return;
    }
    if (c->npending == 0)
        di_pipe_end(p, DI_STAGE_INFER, c->busy_since);
    if (inject) {
        di_error_prefix(&e, "test: injected failure of batch %lld", nth);
        if (p->test.fail_device) /* as the engine reports a lost device */
            rc = e.code = DI_EDEVICE;
    }
    finish(c, b, rc, &e);
}

static void wait_oldest(infer_ctx *c)
{
    di_batch *b = c->pending[0];
    di_error e = {0};
    int rc = di_nn_wait(c->nn, &e);
    c->pending[0] = c->pending[1];
    c->pending[1] = NULL;
    if (--c->npending == 0)
        di_pipe_end(c->p, DI_STAGE_INFER, c->busy_since);
    finish(c, b, rc, &e);
}

/* Keep-aspect: the session to a face size (its plan is cached, or made
** now), after the runs in flight on the old one have ended. */
static int set_size(infer_ctx *c, int w, int h, di_error *e)
{
    if (w == c->in_w && h == c->in_h)
        return DI_OK;
    while (c->npending > 0)
        wait_oldest(c);
    int64_t dims[8];
    int ndim = 0;
    int rc = di_nn_set_input_size(c->nn, h, w, e);
    if (!rc)
        rc = di_nn_output_shape(c->nn, 1, dims, &ndim, e);
    size_t plane = !rc && ndim >= 3 ? (size_t)(dims[ndim - 1] * dims[ndim - 2]) : 0;
    if (!rc && (ndim < 3 || plane > c->p->plane_cap))
        rc = di_fail(e, DI_ESHAPE, "input %dx%d: output plane of %zu values, more than the "
                     "%zu the pipeline holds", w, h, plane, c->p->plane_cap);
    if (rc) {
        c->in_w = 0; /* the session's size is not known: set it again next time */
        return rc;
    }
    c->in_w = w;
    c->in_h = h;
    c->out_w = (int)dims[ndim - 1];
    c->out_h = (int)dims[ndim - 2];
    c->plane = plane;
    return DI_OK;
}

/* Keep-aspect: the faces of a batch may want different input sizes, and
** the engine runs one size per run. A batch of one size (all square cube
** faces: the usual case) is packed to that size's stride, in place (each
** image moves down or stays), and runs whole: true, submit it. A batch of
** several sizes runs here image by image, each from its own slot, and is
** finished here: false. */
static bool shape_batch(infer_ctx *c, di_batch *b)
{
    di_pipeline *p = c->p;
    const size_t stride = 3 * p->in_cap;
    int w = 0, h = 0;
    bool one = true;
    for (int i = 0; i < b->n; i++) {
        const di_item *it = &b->slots[i];
        if (!it->ok)
            continue;
        if (!w) {
            w = it->in_w;
            h = it->in_h;
        }
        one = one && it->in_w == w && it->in_h == h;
    }
    if (!w) { /* every face failed: run at the target, outputs unused */
        w = p->in_w;
        h = p->in_h;
    }
    di_error e = {0};
    if (one) {
        int rc = set_size(c, w, h, &e);
        if (rc) {
            b->out_w = b->out_h = 0;
            b->mixed = false;
            finish(c, b, rc, &e);
            return false;
        }
        size_t chw = (size_t)3 * w * h;
        for (int i = 1; i < b->n && chw < stride; i++)
            memmove(b->input + i * chw, b->input + i * stride, chw * sizeof *b->input);
        return true;
    }
    while (c->npending > 0)
        wait_oldest(c);
    double t0 = di_pipe_begin(p, DI_STAGE_INFER);
    b->mixed = true;
    b->out_stride = p->plane_cap;
    int rc = DI_OK;
    for (int i = 0; i < b->n && rc != DI_EDEVICE; i++) {
        di_item *it = &b->slots[i];
        if (!it->ok)
            continue;
        rc = set_size(c, it->in_w, it->in_h, &e);
        if (!rc)
            rc = di_nn_run(c->nn, b->input + i * stride, 1, b->output + i * p->plane_cap,
                           p->plane_cap, &e);
        it->depth_w = c->out_w;
        it->depth_h = c->out_h;
        if (rc && rc != DI_EDEVICE)
            di_item_fail(it, e.msg);
    }
    di_pipe_end(p, DI_STAGE_INFER, t0);
    finish(c, b, rc == DI_EDEVICE ? rc : DI_OK, &e);
    return false;
}

void *di_infer_main(void *arg)
{
    di_pipeline *p = arg;
    infer_ctx c = {.p = p, .plane = (size_t)p->out_h * p->out_w, .in_w = p->in_w,
                   .in_h = p->in_h, .out_w = p->out_w, .out_h = p->out_h};
    c.nn = p->nn[atomic_fetch_add(&p->next_infer, 1)];
    if (p->cfg.nn.device == DI_NN_CPU)
        di_pipe_name_engine_team(p->cfg.nn.threads);
    for (;;) {
        di_batch *b = NULL;
        if (c.npending == 0)
            b = di_queue_pop(p->infer_q);      /* idle: wait for work */
        else if (c.npending < p->in_flight)    /* another one, if ready */
            b = p->test.fill ? di_queue_pop(p->infer_q)
                                 : di_queue_try_pop(p->infer_q);
        if (b && (!p->keep_aspect || shape_batch(&c, b)))
            submit(&c, b);
        else if (b)
            continue;                          /* shape_batch finished it */
        else if (c.npending > 0)
            wait_oldest(&c);
        else
            break;                             /* closed and drained */
    }
    if (atomic_fetch_sub(&p->live_infer, 1) == 1)
        di_queue_close(p->post_q);
    return NULL;
}

/* pipeline.c: the pipeline's configuration, creating and destroying it.
** The thread split and the scheduling gate are in sched.c, the engine's
** setup and the buffers in setup.c, starting, observing and joining the
** threads in threads.c; the stages themselves in reader.c, decode.c
** (decode and inference), post.c and writer.c. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const di_stage_names[DI_STAGE_COUNT] = {
    "read", "decode", "infer", "post", "write"};
const char *const di_queue_names[DI_Q_COUNT] = {
    "decode", "infer", "post", "write"};

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
    di_pipe_choose_split(p);
    p->side = di_pipeline_side_sched(cfg, p->cfg.nn.threads, di_pipe_cores());
    if (p->side == DI_SIDE_GATE || p->side == DI_SIDE_IDLE) {
        /* neither kind can slow the engine down now, and in its waits all
        ** the cores are theirs: as many decoders and workers as cores (the
        ** last batch's faces are scored on every core, not one) */
        if (cfg->decoders <= 0 && p->ndecoders < di_pipe_cores())
            p->ndecoders = di_pipe_cores();
        if (cfg->workers <= 0 && p->nworkers < di_pipe_cores())
            p->nworkers = di_pipe_cores();
    }
    if (!rc)
        rc = p->model_mode ? di_pipe_setup_engine(p, err) : di_pipe_alloc_pools(p, err);
    if (rc) {
        di_pipeline_destroy(p);
        return rc;
    }
    *out = p;
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
        di_pipe_batch_tensor_free(p, p->batches[i].input);
        di_pipe_batch_tensor_free(p, p->batches[i].output);
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

/*
** test_engine_thread.c: the pipeline sets the engine up (sessions, plans,
** the warm-up run) on a thread that ends before the run, so that no OpenMP
** thread pool outlives it beside the inference thread's. libgomp counts the
** threads of every pool; with more of them than cores it throttles every
** OpenMP thread's spin to 100 pauses whatever GOMP_SPINCOUNT says, and
** run's bounded spin (src/cli/process.c) became passive waiting, about a
** tenth of the engine's speed (the main thread's pool, left by a warm-up
** run there, made 3 counted threads on 2 cores).
**
** Checked through /proc/self/task: after di_pipeline_create in model mode
** with 2 engine threads the process has only its main thread again; the
** run still goes to the end. Then the same model run once on the main
** thread leaves its pool (2 threads): the model does start an OpenMP team,
** so the first check could fail.
**
** A caller that builds the pipeline on a thread of its own which then ends
** (run, so that its main thread takes signals meanwhile) says so
** (caller_thread_ends): the engine is set up on that thread, not on a
** second, nested one of the pipeline's. While the caller's thread still
** lives after di_pipeline_create it holds the warm-up's pool (3 threads:
** main, the caller, its OpenMP worker; a nested set-up thread would have
** taken its pool with it: 2); once it ends, the main thread is alone again.
**
** usage: test_engine_thread PYTHON TINY_ONNX_PY  (with $DEPTHINDEX, the
** CLI, which makes the demo database and images)
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/nn.h"
#include "pipeline/pipeline.h"
#include "tiny_run.h"

/* Threads told to end leave /proc/self/task shortly after: wait up to 2 s
** for the count to come down to want. */
static int settled_threads(int want)
{
    int n = count_threads();
    for (int i = 0; i < 200 && n != want; i++) {
        usleep(10000);
        n = count_threads();
    }
    return n;
}

/* The caller's thread: builds the pipeline, then waits until main has
** counted the threads before it ends. */
typedef struct builder {
    di_pipeline_config cfg;
    di_pipeline *p;
    di_error err;
    int rc;
    bool built, counted;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} builder;

static void *build_main(void *arg)
{
    builder *b = arg;
    b->rc = di_pipeline_create(&b->cfg, &b->p, &b->err);
    pthread_mutex_lock(&b->lock);
    b->built = true;
    pthread_cond_broadcast(&b->cond);
    while (!b->counted)
        pthread_cond_wait(&b->cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *cli = getenv("DEPTHINDEX");
    if (argc < 3 || !cli) {
        fprintf(stderr, "usage: test_engine_thread PYTHON TINY_ONNX_PY (with $DEPTHINDEX)\n");
        return 2;
    }
    char tmp[] = "/tmp/di-engine-thread-XXXXXX";
    if (!mkdtemp(tmp)) return 2;
    char cmd[4096];
    tiny_run t;
    /* a 256x256 model: large enough that the engine's Conv runs on both threads */
    CHECK(tiny_run_setup(&t, tmp, cli, argv[1], argv[2], 4, 64, 256) == 0);
    CHECKF(count_threads() == 1, "%d threads at the start", count_threads());

    di_pipeline_config cfg;
    tiny_run_config(&t, &cfg);
    cfg.nn.threads = 2;
    cfg.decoders = 1;
    cfg.workers = 1;
    di_pipeline *p = NULL;
    di_error err = {0};
    int rc = di_pipeline_create(&cfg, &p, &err);
    CHECKF(rc == DI_OK, "create: %s", err.msg);
    if (rc) return check_summary();
    int n = settled_threads(1);
    CHECKF(n == 1, "after the engine's setup the process has %d threads, not 1: an OpenMP "
           "pool outlived the setup beside the inference thread's", n);
    rc = di_pipeline_start(p, &err);
    CHECKF(rc == DI_OK, "start: %s", err.msg);
    if (!rc) CHECKF(di_pipeline_wait(p, &err) == DI_OK, "wait: %s", err.msg);
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    CHECKF(s.finished && s.ok == 16 && s.failed == 0, "run: ok %lld, failed %lld of 16",
           (long long)s.ok, (long long)s.failed);
    di_pipeline_destroy(p);

    /* built on a caller's thread that ends: one set-up thread, not two */
    builder b = {.cfg = cfg, .lock = PTHREAD_MUTEX_INITIALIZER,
                 .cond = PTHREAD_COND_INITIALIZER};
    b.cfg.caller_thread_ends = true;
    pthread_t bt;
    CHECK(pthread_create(&bt, NULL, build_main, &b) == 0);
    pthread_mutex_lock(&b.lock);
    while (!b.built)
        pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    CHECKF(b.rc == DI_OK, "create on a caller's thread: %s", b.err.msg);
    n = settled_threads(3);
    CHECKF(n == 3, "while the caller's thread lives after the build the process has %d "
           "threads, not 3 (main, caller, its OpenMP worker): the engine was not set up on "
           "the caller's thread", n);
    pthread_mutex_lock(&b.lock);
    b.counted = true;
    pthread_cond_broadcast(&b.cond);
    pthread_mutex_unlock(&b.lock);
    pthread_join(bt, NULL);
    n = settled_threads(1);
    CHECKF(n == 1, "after the caller's thread ended the process has %d threads, not 1", n);
    if (b.p) {
        CHECKF(di_pipeline_start(b.p, &err) == DI_OK, "start: %s", err.msg);
        CHECKF(di_pipeline_wait(b.p, &err) == DI_OK, "wait: %s", err.msg);
        di_pipeline_get_stats(b.p, &s);
        CHECKF(s.finished && s.ok == 16 && s.failed == 0, "run after a caller's build: ok %lld, "
               "failed %lld of 16", (long long)s.ok, (long long)s.failed);
        di_pipeline_destroy(b.p);
    }

    /* the control: the same model run on this thread leaves its pool */
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    di_nn_session *nn = NULL;
    CHECKF(di_nn_session_create(t.model, &opt, &nn, &err) == DI_OK, "session: %s", err.msg);
    if (nn) {
        size_t in = (size_t)8 * 3 * 256 * 256, out = (size_t)8 * 256 * 256;
        float *x = calloc(in, sizeof *x), *y = calloc(out, sizeof *y);
        CHECK(x && y);
        if (x && y)
            CHECKF(di_nn_run(nn, x, 8, y, out, &err) == DI_OK, "run: %s", err.msg);
        free(x);
        free(y);
        di_nn_session_destroy(nn);
        n = settled_threads(2);
        CHECKF(n == 2, "control: a run on the main thread left %d threads, not 2 (the "
               "model does not start an OpenMP team: the check above proves nothing)", n);
    }

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return check_summary();
}

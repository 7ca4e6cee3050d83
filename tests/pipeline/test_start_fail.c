/*
** test_start_fail.c: a thread that fails to start part-way through
** di_pipeline_start (the system out of threads) leaves no thread behind:
** those already started are stopped and joined before di_pipeline_start
** returns its error, so that di_pipeline_destroy frees nothing still in use.
**
** For each position N (the writer, each post worker, each inference thread,
** each decoder, the reader), di_pipeline_test.fail_thread = N makes the Nth
** pthread_create fail; the process must then have as many threads as before
** (/proc/self/task), and the same pipeline with no failure runs to the end.
** In depth-dir mode and in model mode (a tiny model from tiny_onnx.py).
**
** usage: test_start_fail PYTHON TINY_ONNX_PY  (with $DEPTHINDEX, the CLI,
** which makes the demo database and images)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pipeline/pipeline.h"
#include "tiny_run.h"

/* Starts with the Nth thread failing, for N = 1, 2, ... until a start
** succeeds (N past the last thread); returns how many positions failed. */
static int each_position(di_pipeline_config *cfg, const char *mode)
{
    int failed_positions = 0;
    for (int n = 1; n < 64; n++) {
        di_pipeline *p = NULL;
        di_error err;
        int rc = di_pipeline_create(cfg, &p, &err);
        CHECKF(rc == DI_OK, "%s: create: %s", mode, err.msg);
        if (rc) return failed_positions;
        di_pipeline_test test = {.fail_thread = n};
        di_pipeline_set_test(p, &test);
        int before = count_threads();
        rc = di_pipeline_start(p, &err);
        if (rc == DI_OK) { /* past the last thread: runs to the end */
            CHECKF(di_pipeline_wait(p, &err) == DI_OK, "%s: %s", mode, err.msg);
            di_pipeline_stats s;
            di_pipeline_get_stats(p, &s);
            CHECKF(s.finished, "%s: not finished", mode);
            di_pipeline_destroy(p);
            return failed_positions;
        }
        failed_positions++;
        CHECKF(strstr(err.msg, "cannot start the pipeline's threads") != NULL,
               "%s, thread %d: %s", mode, n, err.msg);
        int after = count_threads();
        CHECKF(after == before, "%s, thread %d fails: %d threads before the start, "
               "%d after its failure", mode, n, before, after);
        di_pipeline_destroy(p);
    }
    CHECKF(0, "%s: the start never succeeded", mode);
    return failed_positions;
}

int main(int argc, char **argv)
{
    const char *cli = getenv("DEPTHINDEX");
    if (argc < 3 || !cli) {
        fprintf(stderr, "usage: test_start_fail PYTHON TINY_ONNX_PY (with $DEPTHINDEX)\n");
        return 2;
    }
    char tmp[] = "/tmp/di-start-fail-XXXXXX";
    if (!mkdtemp(tmp)) return 2;
    char cmd[4096];
    tiny_run t;
    CHECK(tiny_run_setup(&t, tmp, cli, argv[1], argv[2], 2, 32, 32) == 0);

    di_pipeline_config cfg;
    di_pipeline_config_default(&cfg);
    cfg.store.url = t.url;
    cfg.force = true;
    cfg.workers = 3;

    cfg.depth_dir = t.images; /* writer, 3 workers, reader */
    CHECKF(each_position(&cfg, "depth-dir") == 5, "depth-dir: not 5 threads");

    cfg.depth_dir = NULL;   /* writer, 3 workers, 2 inference, 2 decoders, reader */
    cfg.images_dir = t.images;
    cfg.model_path = t.model;
    cfg.nn.device = DI_NN_CPU;
    cfg.nn.threads = 1;
    cfg.streams = 2;
    cfg.decoders = 2;
    CHECKF(each_position(&cfg, "model") == 9, "model: not 9 threads");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return check_summary();
}

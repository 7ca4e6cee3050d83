/*
** test_streams_threads.c: on the CPU, --streams N shares the engine's
** threads among the streams instead of giving each stream's session as many
** as there are cores: N sessions of every thread would put N times the cores
** to work, and libgomp, counting more threads than cores, throttles every
** OpenMP thread's spin (bench/RESULTS.md, OpenMP wait policy).
**
** A run with 2 streams and the automatic thread count never has more engine
** threads (the inference threads and their OpenMP teams: the process's
** threads, sampled through /proc/self/task while it runs, less the main
** thread, the reader, the writer, one decoder and one worker) than cores, and
** its scores are those of a run with one stream. An explicit thread count is
** split the same way (4 threads, 2 streams: 2 each).
**
** usage: test_streams_threads PYTHON TINY_ONNX_PY  (with $DEPTHINDEX, the
** CLI, which makes the demo database and images)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pipeline/pipeline.h"
#include "tiny_run.h"

/* main, reader, writer, one decoder, one post-processing worker */
#define OTHER_THREADS 5

/* One run of every face with streams streams and threads engine threads (0:
** automatic): its stats, the most threads the process had while it ran
** (*peak), and the table's rows written by python into scores_path. */
static int run_once(const tiny_run *t, const char *python, int streams, int threads,
                    const char *scores_path, int *peak, di_pipeline_stats *s)
{
    di_pipeline_config cfg;
    tiny_run_config(t, &cfg);
    cfg.nn.threads = threads;
    cfg.streams = streams;
    cfg.batch = 2;
    cfg.decoders = 1;
    cfg.workers = 1;
    di_pipeline *p = NULL;
    di_error err = {0};
    int rc = di_pipeline_create(&cfg, &p, &err);
    CHECKF(rc == DI_OK, "create (%d streams): %s", streams, err.msg);
    if (rc) return rc;
    *peak = 0;
    rc = di_pipeline_start(p, &err);
    CHECKF(rc == DI_OK, "start (%d streams): %s", streams, err.msg);
    while (!rc && !di_pipeline_finished(p)) {
        int n = count_threads();
        *peak = n > *peak ? n : *peak;
        usleep(200);
    }
    if (!rc) {
        rc = di_pipeline_wait(p, &err);
        CHECKF(rc == DI_OK, "wait (%d streams): %s", streams, err.msg);
    }
    di_pipeline_get_stats(p, s);
    di_pipeline_destroy(p);
    if (rc) return rc;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
             ".execute(\"SELECT * FROM panorama ORDER BY id\").fetchall())' '%s' > '%s'",
             python, t->url + strlen("sqlite:"), scores_path);
    return system(cmd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 20);
    if (buf && fread(buf, 1, (1 << 20) - 1, f) == 0) buf[0] = '\0';
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *cli = getenv("DEPTHINDEX");
    if (argc < 3 || !cli) {
        fprintf(stderr, "usage: test_streams_threads PYTHON TINY_ONNX_PY (with $DEPTHINDEX)\n");
        return 2;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char tmp[] = "/tmp/di-streams-threads-XXXXXX";
    if (!mkdtemp(tmp)) return 2;
    char cmd[4096], one[300], two[300];
    snprintf(one, sizeof one, "%s/one.txt", tmp);
    snprintf(two, sizeof two, "%s/two.txt", tmp);
    tiny_run t;
    /* a 256x256 model: large enough that the engine's Conv runs on every thread */
    CHECK(tiny_run_setup(&t, tmp, cli, argv[1], argv[2], 8, 64, 256) == 0);

    int peak1 = 0, peak2 = 0;
    di_pipeline_stats s1, s2;
    int rc = run_once(&t, argv[1], 1, 0, one, &peak1, &s1);
    if (!rc) rc = run_once(&t, argv[1], 2, 0, two, &peak2, &s2);
    CHECKF(rc == 0, "runs failed (%d)", rc);
    if (!rc) {
        CHECKF(s1.ok == 32 && s1.failed == 0 && s2.ok == 32 && s2.failed == 0,
               "ok %lld and %lld, failed %lld and %lld of 32", (long long)s1.ok,
               (long long)s2.ok, (long long)s1.failed, (long long)s2.failed);
        /* each stream runs at least its own thread, also on one core */
        long most = cores > 2 ? cores : 2;
        CHECKF(peak2 - OTHER_THREADS <= most,
               "2 streams ran %d engine threads (%d threads in all) on %ld cores: each stream's "
               "session took every core's thread", peak2 - OTHER_THREADS, peak2, cores);
        CHECKF(s2.threads[DI_STAGE_INFER] == 2 && s2.engine_threads * 2 <= most,
               "2 streams of %d engine threads each on %ld cores", s2.engine_threads, cores);
        char *a = slurp(one), *b = slurp(two);
        CHECK(a && b && strstr(a, "0.") != NULL);
        if (a && b)
            CHECKF(strcmp(a, b) == 0, "2 streams scored otherwise than 1:\n%s\n%s", a, b);
        free(a);
        free(b);
    }

    /* an explicit count is the total, split the same way */
    di_pipeline_config cfg;
    tiny_run_config(&t, &cfg);
    cfg.nn.threads = 4;
    cfg.streams = 2;
    di_pipeline *p = NULL;
    di_error err = {0};
    rc = di_pipeline_create(&cfg, &p, &err);
    CHECKF(rc == DI_OK, "create (--threads 4): %s", err.msg);
    if (!rc) {
        di_pipeline_stats s;
        di_pipeline_get_stats(p, &s);
        CHECKF(s.engine_threads == 2, "--threads 4 --streams 2: %d threads per stream, not 2",
               s.engine_threads);
        di_pipeline_destroy(p);
    }

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return check_summary();
}

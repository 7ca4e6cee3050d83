/*
** test_side_sched.c: how the pipeline's CPU-side threads share the cores
** with a CPU engine (di_side_sched, src/pipeline/pipeline.h).
**
** The automatic choice: DI_SIDE_GATE with a CPU engine that takes every
** core, else (CUDA, an engine that leaves cores free, depth-dir mode) the
** normal layout of before.
**
** DI_SIDE_GATE: no decoder or worker starts a face while the engine runs a
** batch (the pipeline's side_overlap count, kept under every share, is 0),
** and the run scores every face; the normal layout, the control, does start
** faces while the engine runs (16 faces in one page, batches of 2: the
** decoders run ahead of the engine and the workers behind it).
**
** DI_SIDE_IDLE: the reader, decoders, post workers and writer run at
** SCHED_IDLE, the inference thread and its OpenMP team at the normal class;
** under the normal layout every thread keeps SCHED_OTHER.
**
** Checked through /proc/self/task while a run is under way (the reader
** waits half a second between pages of 4 rows, so the threads live long
** enough): each
** thread's name (the pipeline names them di-read, di-decode, di-infer,
** di-post, di-write, and the inference thread's OpenMP workers di-omp, so
** that top -H and perf tell them from the thread that feeds the engine) and
** sched_getscheduler() of its tid.
**
** usage: test_side_sched PYTHON TINY_ONNX_PY  (with $DEPTHINDEX, the CLI,
** which makes the demo database and images)
*/
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pipeline/pipeline.h"
#include "tiny_run.h"

enum { READ, DECODE, INFER, OMP, POST, WRITE, OTHER, KINDS };
static const char *const kind_name[KINDS] = {"di-read", "di-decode", "di-infer", "di-omp",
                                             "di-post", "di-write", "other"};

typedef struct seen {
    int n[KINDS];     /* threads of each kind */
    int idle[KINDS];  /* of them at SCHED_IDLE */
} seen;

static int kind_of(const char *comm)
{
    for (int k = 0; k < OTHER; k++)
        if (strcmp(comm, kind_name[k]) == 0)
            return k;
    return OTHER;
}

/* Every thread of the process: its name and its class. */
static void look(seen *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* ended meanwhile */
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        int policy = sched_getscheduler(atoi(e->d_name));
        if (policy < 0)
            continue;
        int k = kind_of(comm);
        s->n[k]++;
        s->idle[k] += policy == SCHED_IDLE;
    }
    closedir(d);
}

/* A run of the tiny model with side_sched; the threads' classes while it
** runs in *s (with the run's own stats). slow: pages of 4 rows half a second
** apart (every thread lives at least 1.5 s, to be looked at); else all 16
** faces in one page at once. */
static void run_and_look(const tiny_run *t, di_side_sched side, bool slow, seen *s,
                         di_pipeline_stats *st)
{
    di_pipeline_config cfg;
    tiny_run_config(t, &cfg);
    cfg.nn.threads = 2;
    cfg.decoders = 2;
    cfg.workers = 2;
    cfg.batch = 2;
    cfg.page_rows = slow ? 4 : 16;
    cfg.side_sched = side;
    di_pipeline *p = NULL;
    di_error err = {0};
    memset(s, 0, sizeof *s);
    memset(st, 0, sizeof *st);
    int rc = di_pipeline_create(&cfg, &p, &err);
    CHECKF(rc == DI_OK, "create: %s", err.msg);
    if (rc)
        return;
    di_pipeline_test test = {.read_delay = slow ? 0.5 : 0};
    di_pipeline_set_test(p, &test);
    rc = di_pipeline_start(p, &err);
    CHECKF(rc == DI_OK, "start: %s", err.msg);
    if (!rc) {
        /* the inference thread's OpenMP team starts with its first batch */
        look(s);
        for (int i = 0; slow && i < 100 && s->n[OMP] < 1; i++) {
            usleep(10 * 1000);
            look(s);
        }
        if (slow)
            CHECKF(!di_pipeline_finished(p), "the run ended before its threads were looked at");
        CHECKF(di_pipeline_wait(p, &err) == DI_OK, "wait: %s", err.msg);
    }
    di_pipeline_get_stats(p, st);
    CHECKF(st->finished && st->ok == 16 && st->failed == 0, "run: ok %lld, failed %lld of 16",
           (long long)st->ok, (long long)st->failed);
    di_pipeline_destroy(p);
}

int main(int argc, char **argv)
{
    const char *cli = getenv("DEPTHINDEX");
    if (argc < 3 || !cli) {
        fprintf(stderr, "usage: test_side_sched PYTHON TINY_ONNX_PY (with $DEPTHINDEX)\n");
        return 2;
    }
    char tmp[] = "/tmp/di-side-sched-XXXXXX";
    if (!mkdtemp(tmp)) return 2;
    char cmd[4096];
    tiny_run t;
    /* a 256x256 model: the engine's Conv runs on both threads (an OpenMP team) */
    CHECK(tiny_run_setup(&t, tmp, cli, argv[1], argv[2], 4, 64, 256) == 0);
    CHECKF(count_threads() == 1, "%d threads at the start", count_threads());

    /* the automatic choice: the gate for a CPU engine on every core */
    di_pipeline_config c;
    di_pipeline_config_default(&c);
    c.model_path = "m.onnx";
    CHECK(di_pipeline_side_sched(&c, 2, 2) == DI_SIDE_GATE);
    CHECK(di_pipeline_side_sched(&c, 1, 2) == DI_SIDE_NORMAL); /* a core left free */
    c.nn.device = DI_NN_CUDA; /* the CPU stages run beside the GPU */
    CHECK(di_pipeline_side_sched(&c, 1, 1) == DI_SIDE_NORMAL);
    c.nn.device = DI_NN_CPU;
    c.model_path = NULL;
    c.depth_dir = "maps"; /* no engine */
    CHECK(di_pipeline_side_sched(&c, 2, 2) == DI_SIDE_NORMAL);
    c.side_sched = DI_SIDE_IDLE; /* asked for: given */
    CHECK(di_pipeline_side_sched(&c, 2, 2) == DI_SIDE_IDLE);

    seen s;
    di_pipeline_stats st;
    /* the gate: no face starts while the engine runs; all are scored */
    run_and_look(&t, DI_SIDE_GATE, false, &s, &st);
    CHECK(st.side_sched == DI_SIDE_GATE);
    CHECKF(st.side_overlap == 0, "gate: %lld faces started while the engine ran",
           (long long)st.side_overlap);
    for (int k = READ; k < KINDS; k++)
        CHECKF(s.idle[k] == 0, "gate: %d %s threads at SCHED_IDLE", s.idle[k], kind_name[k]);
    /* the control: without the gate, faces do start while the engine runs.
    ** Whether one does in a given run is timing (16 faces, a tiny model: the
    ** decoders may finish theirs between two batches, as happened once in
    ** CI on a loaded machine), so up to five runs; a counter that never
    ** counts still fails every one */
    for (int i = 0; i < 5; i++) {
        run_and_look(&t, DI_SIDE_NORMAL, false, &s, &st);
        CHECK(st.side_sched == DI_SIDE_NORMAL);
        if (st.side_overlap > 0)
            break;
    }
    CHECKF(st.side_overlap > 0, "normal: no face started while the engine ran (the gate's "
           "check above proves nothing)");

    /* SCHED_IDLE: the side threads at SCHED_IDLE, the engine's at normal */
    run_and_look(&t, DI_SIDE_IDLE, true, &s, &st);
    CHECKF(st.side_sched == DI_SIDE_IDLE && st.side_sched_error[0] == '\0',
           "idle: share %d, refused: '%s'", st.side_sched, st.side_sched_error);
    /* di-infer: the inference thread; di-omp: its OpenMP worker (2 engine
    ** threads), named apart from it; both at the normal class */
    const int want[KINDS] = {1, 2, 1, 1, 2, 1, 0};
    for (int k = READ; k <= WRITE; k++) {
        CHECKF(s.n[k] == want[k], "%s: %d threads seen, not %d", kind_name[k], s.n[k],
               want[k]);
        int idle = k == INFER || k == OMP ? 0 : s.n[k];
        CHECKF(s.idle[k] == idle, "%s: %d of %d threads at SCHED_IDLE, not %d", kind_name[k],
               s.idle[k], s.n[k], idle);
    }
    /* the main thread (and a sanitizer's own, under ThreadSanitizer) */
    CHECKF(s.n[OTHER] >= 1 && s.idle[OTHER] == 0,
           "other threads (the main thread): %d, %d of them at SCHED_IDLE", s.n[OTHER],
           s.idle[OTHER]);

    /* the normal layout: every thread as before */
    run_and_look(&t, DI_SIDE_NORMAL, true, &s, &st);
    for (int k = READ; k < KINDS; k++)
        CHECKF(s.idle[k] == 0, "normal: %d %s threads at SCHED_IDLE", s.idle[k],
               kind_name[k]);
    CHECKF(s.n[DECODE] == 2 && s.n[POST] == 2, "normal: %d decoders, %d workers seen",
           s.n[DECODE], s.n[POST]);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return check_summary();
}

/* cmd_run.c: `depthindex run`, the main job: score every pending face of a
** database through the pipeline, with progress, a summary and signals. Its
** options are in run_options.c, what it prints and records in run_report.c;
** here: the pipeline's build on a thread of its own and the signal loop.
**
** Signals: SIGINT and SIGTERM are blocked in every thread and taken by the
** main thread with sigtimedwait between progress lines, so that nothing runs
** in a signal handler. The first one stops the reader; the work in flight
** drains and the writer flushes (every write is a transaction, so nothing is
** half-written). A second one exits at once. They are taken from the start
** of the pipeline's build until its last thread is joined. */
#include "cli.h"
#include "run.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The pipeline is built (database, model, the engine's warm-up: seconds to
** minutes for a large model) on a thread of its own, so that the main
** thread keeps taking the stop signals meanwhile. Nothing has been scored
** yet, and every statement is a transaction the database rolls back when
** the process goes: a signal then exits at once, as a second one would.
** That thread ends once the pipeline is built, so the engine is set up on
** it (caller_thread_ends) and its OpenMP pool ends with it: the main thread
** never starts one (src/pipeline/setup.c says why that matters). */
typedef struct create_job {
    const di_pipeline_config *cfg;
    di_pipeline *p;
    di_error *err;
    int rc;
} create_job;

static void *create_main(void *arg)
{
    create_job *j = arg;
    /* test only: a build that takes this long (a large model's warm-up) */
    long long ms;
    const char *v = getenv("DEPTHINDEX_TEST_SETUP_DELAY_MS");
    if (v && di_opt_int(v, 0, 3600000, &ms))
        di_sleep((double)ms / 1000.0);
    j->rc = di_pipeline_create(j->cfg, &j->p, j->err);
    return NULL;
}

static int create_pipeline(const di_pipeline_config *cfg, const sigset_t *set, di_pipeline **p,
                           di_error *err)
{
    di_pipeline_config c = *cfg; /* copied by di_pipeline_create */
    c.caller_thread_ends = true;
    create_job j = {.cfg = &c, .err = err};
    pthread_t t;
    if (pthread_create(&t, NULL, create_main, &j) != 0) {
        /* no thread to spare: signals wait until it is built, and the
        ** engine gets a set-up thread of its own if one can be had */
        c.caller_thread_ends = false;
        create_main(&j);
    } else {
        for (;;) {
            struct timespec until;
            di_deadline(CLOCK_REALTIME, 0.05, &until);
            if (pthread_timedjoin_np(t, NULL, &until) == 0)
                break;
            struct timespec now = {0, 0};
            int sig = sigtimedwait(set, NULL, &now);
            if (sig == SIGINT || sig == SIGTERM) {
                static const char msg[] = "depthindex: stopped while setting up; "
                                          "nothing was scored\n";
                if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
                }
                _exit(sig == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT);
            }
        }
    }
    *p = j.p;
    return j.rc;
}

int di_cmd_run(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        printf(di_run_help, di_cli_db_help);
        return DI_EXIT_OK;
    }
    run_opts o;
    memset(&o, 0, sizeof o);
    di_cli_db_init(&o.db);
    di_pipeline_config_default(&o.cfg);
    o.progress = isatty(STDERR_FILENO) ? DI_PROGRESS_TTY : DI_PROGRESS_PLAIN;
    if (di_run_parse(&o, argc, argv))
        return DI_EXIT_USAGE;
    o.cfg.store = o.db.store;
    di_pipeline_test test = {0};
    di_run_test_env(&o.cfg, &test);
    di_run_side_env(&o.cfg);

    /* Block the stop signals before anything starts a thread (asking for a
    ** GPU starts the CUDA runtime's, the engine's warm-up OpenMP's workers;
    ** all inherit this mask), and take them here: a thread created with them
    ** unblocked would receive one and die of it, without drain or summary.
    ** A signal that comes while the pipeline is being built ends the
    ** process at once (create_pipeline). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (di_run_choose_device(&o))
        return DI_EXIT_USAGE;

    di_error err = {0};
    di_pipeline *p = NULL;
    if (create_pipeline(&o.cfg, &set, &p, &err)) {
        di_cli_db_error(&o.db, err.msg);
        return DI_EXIT_USAGE;
    }
    di_pipeline_set_test(p, &test);

    di_run_print_start(&o, p);
    di_run_record_settings(&o);
    di_run_print_chunks_start(&o, p);
    if (di_pipeline_start(p, &err)) {
        di_cli_db_error(&o.db, err.msg);
        di_pipeline_destroy(p);
        return DI_EXIT_USAGE;
    }
    di_run_print_side_warning(&o, p);
    double interval = o.progress == DI_PROGRESS_TTY ? 0.25
                    : o.progress == DI_PROGRESS_JSON ? 1.0 : 5.0;
    di_progress pr;
    di_progress_init(&pr);
    double next = di_now() + interval;
    int first_signal = 0;
    for (;;) {
        /* Signals are taken until every thread is joined, not only until
        ** the writer has ended: a thread slow to end (or one that never
        ** does) would otherwise hold the main thread in a join with the
        ** stop signals blocked, and the process could then be stopped only
        ** by SIGKILL. Once the writer is done, the wait for the others is
        ** this loop's pause. */
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (di_pipeline_finished(p)) {
            if (di_pipeline_join_for(p, 0.05))
                break;
            ts.tv_nsec = 0;
        }
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            if (first_signal) {
                /* second signal: out at once; every committed transaction
                ** is whole, the open one is rolled back by the database */
                static const char msg[] = "\ndepthindex: second signal, exiting now\n";
                if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
                }
                _exit(first_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT);
            }
            first_signal = sig;
            di_pipeline_stop(p);
            if (o.progress != DI_PROGRESS_JSON && o.progress != DI_PROGRESS_NONE)
                fprintf(stderr, "%sdepthindex: %s: stopping, finishing the work in flight "
                                "(again to quit at once)\n",
                        o.progress == DI_PROGRESS_TTY ? "\n" : "",
                        sig == SIGINT ? "interrupted" : "terminated");
        }
        if (o.progress != DI_PROGRESS_NONE && di_now() >= next) {
            di_run_print_progress(&o, &pr, p);
            next = di_now() + interval;
        }
    }
    return di_run_finish(&o, p, &pr, first_signal);
}

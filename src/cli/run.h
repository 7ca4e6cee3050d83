/* run.h: what the files of `depthindex run` share inside src/cli: its
** options (run_options.c), what it tells the person and its exit status
** (run_report.c); the command itself, the pipeline's build on a thread of
** its own and the stop signals are in cmd_run.c. */
#ifndef DI_CLI_RUN_H
#define DI_CLI_RUN_H

#include <stdbool.h>

#include "options.h"
#include "pipeline/pipeline.h"
#include "presets.h"

typedef struct run_opts {
    di_cli_db db;
    di_pipeline_config cfg;
    di_progress_mode progress;
    bool device_given;
    bool precision_given, precision_auto;
    const char *shard;      /* --shard value, resolved after parsing */
    long long shards;       /* --shards */
    char shard_from[160];   /* where the shard came from, printed at start */
    const di_preset *preset;
    bool mean_given, std_given, resize_given, output_given;
} run_opts;

/* run_options.c */
/* The --help text; its %s is the database options' help (di_cli_db_help). */
extern const char di_run_help[];
/* Fills o (already set to the defaults) from the command line; -1 with a
** message printed when an option is bad or missing. */
int di_run_parse(run_opts *o, int argc, char **argv);
/* Test-only knobs from the environment (documented in tests/pipeline). */
void di_run_test_env(di_pipeline_config *c, di_pipeline_test *t);
/* How the decoders and workers share the cores with a CPU engine:
** DEPTHINDEX_SIDE_SCHED, or the load look of process.c. */
void di_run_side_env(di_pipeline_config *c);
/* The device (a GPU where one is present, unless --device said) and an
** auto precision for it; -1 with a message printed when --device cuda
** cannot be had. */
int di_run_choose_device(run_opts *o);

/* run_report.c */
/* The start line (settings, devices, threads), then, in chunks mode, the
** shard; a warning when the side threads could not be lowered. */
void di_run_print_start(const run_opts *o, di_pipeline *p);
void di_run_print_chunks_start(const run_opts *o, di_pipeline *p);
void di_run_print_side_warning(const run_opts *o, di_pipeline *p);
/* The run's settings in depthindex_run_log (a warning when they cannot be). */
void di_run_record_settings(const run_opts *o);
/* One progress line in o->progress's form. */
void di_run_print_progress(const run_opts *o, di_progress *pr, di_pipeline *p);
/* After every thread is joined: the outcome, the summary, the failures;
** destroys p and returns the exit status (first_signal: the stop signal
** taken, 0 if none). */
int di_run_finish(const run_opts *o, di_pipeline *p, di_progress *pr, int first_signal);

#endif

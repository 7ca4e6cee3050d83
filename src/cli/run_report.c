/* run_report.c: what `depthindex run` tells the person and records: the
** start line, the run's settings in the database, the progress lines, the
** summary, and the exit status that follows from the outcome. */
#include "cli.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* bf16 against fp32 on the CPU, MiDaS small and the ViT forms: the figure
** measured in bench/RESULTS.md (bench/run-bf16.sh: 1.59-1.67x on Zen 5 with
** AVX512-BF16, 2026-12-06; AMX machines not measured) */
#define DI_BF16_SPEEDUP "about 1.6x"

static const char *side_name(di_side_sched s)
{
    return s == DI_SIDE_GATE ? "gate" : s == DI_SIDE_IDLE ? "idle" : "normal";
}

/* After the start: the CPU-side threads could not be lowered to SCHED_IDLE
** (a sandbox's seccomp filter may refuse sched_setscheduler). The run goes
** on as before that choice, the side threads competing with the engine. */
void di_run_print_side_warning(const run_opts *o, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    if (!s.side_sched_error[0] || o->progress == DI_PROGRESS_NONE)
        return;
    fprintf(stderr, "depthindex run: warning: cannot lower the reader, decoder, "
                    "post-processing and writer threads to SCHED_IDLE (%s): they share the "
                    "engine's cores at the normal class and slow it down\n",
            s.side_sched_error);
}

void di_run_print_start(const run_opts *o, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    char url[1100];
    di_url_redact(o->cfg.store.url, url, sizeof url);
    FILE *f = o->progress == DI_PROGRESS_JSON ? stdout : stderr;
    if (o->progress == DI_PROGRESS_JSON) {
        fprintf(f, "{\"start\":true,\"pending\":%lld,\"mode\":\"%s\",\"device\":\"%s\","
                   "\"engine_threads\":%d,\"decoders\":%d,\"workers\":%d,\"batch\":%d,"
                   "\"queue\":%d,\"in_flight\":%d,\"input\":[%d,%d,%d],\"resize\":\"%s\","
                   "\"output\":\"%s\",\"side_threads\":\"%s\"}\n",
                (long long)s.total, s.depth_dir ? "depth-dir" : "model",
                s.depth_dir ? "none" : o->cfg.nn.device == DI_NN_CUDA ? "cuda" : "cpu",
                s.engine_threads, s.depth_dir ? 0 : s.threads[DI_STAGE_DECODE],
                s.threads[DI_STAGE_POST], o->cfg.batch, o->cfg.queue, s.in_flight,
                s.model_c, s.model_h, s.model_w,
                s.keep_aspect ? "keep-aspect" : "stretch", di_output_kind_name(o->cfg.output),
                side_name(s.side_sched));
        fflush(f);
        return;
    }
    if (o->progress == DI_PROGRESS_NONE)
        return;
    fprintf(f, "depthindex run: %s, %lld face%s pending\n", url, (long long)s.total,
            s.total == 1 ? "" : "s");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    /* CPU streams share the engine's threads: "2 streams of 1 thread" */
    char streams[48] = "";
    if (s.threads[DI_STAGE_INFER] > 1)
        snprintf(streams, sizeof streams, "%d streams of ", s.threads[DI_STAGE_INFER]);
    /* how faces become inputs and what the output is read as */
    char what[200];
    snprintf(what, sizeof what, "%s%s",
             s.keep_aspect ? ", keep-aspect: the short side at that size"
             : o->cfg.resize == DI_RESIZE_KEEP_ASPECT
                 ? ", stretched: keep-aspect needs a symbolic height and width"
                 : "",
             o->cfg.output == DI_OUTPUT_DEPTH ? "; output: depth in metres, scored as "
                                                "inverse depth" : "");
    if (s.depth_dir)
        fprintf(f, "depth maps from %s%s; %ld cores: %d post-processing worker%s\n",
                o->cfg.depth_dir,
                o->cfg.output == DI_OUTPUT_DEPTH ? " (depth in metres, scored as inverse "
                                                   "depth)" : "",
                ncpu, s.threads[DI_STAGE_POST],
                s.threads[DI_STAGE_POST] == 1 ? "" : "s");
    else if (o->cfg.nn.device == DI_NN_CUDA)
        fprintf(f, "model %s (input 3x%dx%d%s), device cuda:%d%s, batch %d, %d stream%s "
                   "with %d batches in flight each (pinned buffers); "
                   "%ld cores: %d decoders, %d post-processing workers\n",
                o->cfg.model_path, s.model_h, s.model_w, what, o->cfg.nn.device_index,
                o->device_given ? "" : " (default: a GPU is present)", o->cfg.batch,
                s.threads[DI_STAGE_INFER], s.threads[DI_STAGE_INFER] == 1 ? "" : "s",
                s.in_flight, ncpu, s.threads[DI_STAGE_DECODE], s.threads[DI_STAGE_POST]);
    else
        fprintf(f, "model %s (input 3x%dx%d%s), device cpu%s, %s, batch %d%s; %ld cores split: "
                   "inference %s%d thread%s, %d decoder%s, %d post-processing worker%s\n",
                o->cfg.model_path, s.model_h, s.model_w, what,
                o->device_given ? "" : " (default: no GPU)",
                o->cfg.nn.precision == DI_NN_BF16 ? "bf16" : "fp32", o->cfg.batch,
                s.in_flight > 1 ? ", 2 batches in flight (test)" : "", ncpu, streams,
                s.engine_threads, s.engine_threads == 1 ? "" : "s",
                s.threads[DI_STAGE_DECODE], s.threads[DI_STAGE_DECODE] == 1 ? "" : "s",
                s.threads[DI_STAGE_POST], s.threads[DI_STAGE_POST] == 1 ? "" : "s");
    if (s.side_sched == DI_SIDE_GATE)
        fprintf(f, "decoders and post-processing workers start a face only while the engine "
                   "waits, so that they do not preempt its threads\n");
    else if (s.side_sched == DI_SIDE_IDLE)
        fprintf(f, "the reader, decoders, post-processing workers and writer run at SCHED_IDLE: "
                   "on the cores the engine leaves idle, without preempting it\n");
    /* fp32 stays the default (scores that do not depend on the machine);
    ** say once what bf16 would give where the CPU has it */
    const char *bf16 = di_nn_cpu_bf16();
    if (!s.depth_dir && o->cfg.nn.device == DI_NN_CPU && o->cfg.nn.precision != DI_NN_BF16 &&
        bf16)
        fprintf(f, "this CPU has native bf16 (%s): --precision bf16 runs the model %s faster "
                   "(bench/RESULTS.md); its scores differ from fp32's (README: bf16 on the CPU)\n",
                bf16, DI_BF16_SPEEDUP);
    fflush(f);
}

/* 64-bit FNV-1a of a file: the model's fingerprint in the run's settings
** (same bytes, same value). False when it cannot be read. */
static bool file_fnv64(const char *path, uint64_t *hash, long long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint64_t h = 0xcbf29ce484222325ull;
    unsigned char buf[1 << 16];
    size_t n;
    long long total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
        total += (long long)n;
    }
    bool ok = !ferror(f);
    fclose(f);
    *hash = h;
    *size = total;
    return ok;
}

/* A JSON string of a path or name: quotes, backslashes and control bytes
** escaped. */
static void json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* The run's settings, one JSON line in depthindex_run_log, for `depthindex
** report` (what produced these scores). Not being able to record them is
** said, not fatal: the scores are what matters. */
void di_run_record_settings(const run_opts *o)
{
    const di_pipeline_config *c = &o->cfg;
    char src[2048], pattern[512], faces[512] = "", name[128];
    json_str(src, sizeof src, c->model_path ? c->model_path : c->depth_dir);
    json_str(pattern, sizeof pattern, c->store.column_pattern ? c->store.column_pattern
                                                               : "{face}_depth_index");
    for (int f = 0; f < c->store.nfaces; f++) {
        json_str(name, sizeof name, c->store.faces[f]);
        size_t len = strlen(faces);
        snprintf(faces + len, sizeof faces - len, "%s\"%s\"", f ? "," : "", name);
    }
    char model[128] = "";
    uint64_t h;
    long long size;
    if (c->model_path && file_fnv64(c->model_path, &h, &size))
        snprintf(model, sizeof model, ",\"model_bytes\":%lld,\"model_fnv1a64\":\"%016llx\"",
                 size, (unsigned long long)h);
    char settings[4096];
    snprintf(settings, sizeof settings,
             "{\"%s\":\"%s\"%s,\"device\":\"%s\",\"faces\":[%s],\"column\":\"%s\","
             "\"k\":%d,\"canny\":[%g,%g],\"ksize\":%d,\"sigma\":%g,"
             "\"mean\":[%g,%g,%g],\"std\":[%g,%g,%g],\"resize\":\"%s\",\"output\":\"%s\","
             "\"force\":%s,\"limit\":%lld}",
             c->model_path ? "model" : "depth_dir", src, model,
             c->depth_dir ? "none" : c->nn.device == DI_NN_CUDA ? "cuda" : "cpu", faces, pattern,
             c->feature.k, c->feature.canny_low, c->feature.canny_high, c->feature.ksize,
             c->feature.sigma, c->mean[0], c->mean[1], c->mean[2], c->std[0], c->std[1],
             c->std[2], di_resize_mode_name(c->resize), di_output_kind_name(c->output),
             c->force ? "true" : "false", (long long)c->limit);
    di_error err = {0};
    di_store *st = NULL;
    if (di_store_open(&c->store, false, &st, &err) || di_store_record_run(st, settings, &err)) {
        char msg[700];
        snprintf(msg, sizeof msg, "warning: the run's settings were not recorded: %s", err.msg);
        di_cli_db_error(&o->db, msg);
    }
    di_store_close(st);
}

/* Chunks mode: the run joined, the shard and where it came from. */
void di_run_print_chunks_start(const run_opts *o, di_pipeline *p)
{
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (!k.on || o->progress == DI_PROGRESS_NONE)
        return;
    const di_pipeline_config *c = &o->cfg;
    if (o->progress == DI_PROGRESS_JSON) {
        printf("{\"chunks_start\":true,\"owner\":\"%s\",\"chunks\":%lld,\"chunk_ids\":%lld,"
               "\"shards\":%d,\"shard\":%d,\"steal\":%s,\"lease_s\":%g,"
               "\"max_attempts\":%d,\"created\":%s,\"shard_from\":\"%s\"}\n",
               k.owner, (long long)k.chunks, (long long)k.chunk_ids, k.shards,
               c->shards ? c->shard : -1, c->steal ? "true" : "false", c->lease,
               k.max_attempts, k.created ? "true" : "false", o->shard_from);
        fflush(stdout);
        return;
    }
    char shard[256] = "no preferred shard";
    if (c->shards)
        snprintf(shard, sizeof shard, "shard %d/%d (from %s)%s", c->shard, c->shards,
                 o->shard_from, c->steal ? ", then others'" : ", no stealing");
    fprintf(stderr, "many workers: worker %s, %lld chunks of %lld ids in %d shard%s, %s, "
                    "lease %g s\n",
            k.owner, (long long)k.chunks, (long long)k.chunk_ids, k.shards,
            k.shards == 1 ? "" : "s", shard, c->lease);
    fflush(stderr);
}

/* Chunks mode: what this worker did; failed chunks of the run. */
static bool print_chunks_end(const run_opts *o, di_pipeline *p)
{
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (!k.on)
        return false;
    int64_t failed = 0;
    di_error err = {0};
    bool asked = di_pipeline_failed_chunks(p, &failed, &err) == DI_OK;
    if (o->progress == DI_PROGRESS_JSON) {
        printf("{\"chunks_summary\":true,\"owner\":\"%s\",\"claimed\":%lld,\"done\":%lld,"
               "\"lost\":%lld,\"released\":%lld,\"faces\":%lld,\"run_failed_chunks\":%lld}\n",
               k.owner, (long long)k.claimed, (long long)k.done, (long long)k.lost,
               (long long)k.released, (long long)k.faces, (long long)failed);
        fflush(stdout);
    } else if (o->progress != DI_PROGRESS_NONE) {
        printf("chunks: claimed %lld, done %lld, lost %lld (another worker took them after "
               "this one's lease ran out), released %lld\n",
               (long long)k.claimed, (long long)k.done, (long long)k.lost,
               (long long)k.released);
    }
    if (failed > 0)
        di_cli_error("%lld chunk%s of table %s failed %d times and %s no "
                     "longer tried (depthindex status lists them)",
                (long long)failed, failed == 1 ? "" : "s", o->cfg.store.table, k.max_attempts,
                failed == 1 ? "is" : "are");
    else if (!asked)
        di_cli_error("could not count failed chunks: %s", err.msg);
    return failed > 0;
}

void di_run_print_progress(const run_opts *o, di_progress *pr, di_pipeline *p)
{
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    char line[1024];
    if (o->progress == DI_PROGRESS_TTY) {
        /* one line that rewrites itself: never wider than the terminal, or
        ** it wraps and \r no longer returns to its start */
        struct winsize ws;
        int cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
        di_progress_tty_line(pr, &s, di_progress_columns(cols, getenv("COLUMNS")),
                             di_progress_unicode(getenv("LC_ALL"), getenv("LC_CTYPE"),
                                                 getenv("LANG")),
                             line, sizeof line);
    } else {
        di_progress_line(pr, &s, o->progress, line, sizeof line);
    }
    switch (o->progress) {
    case DI_PROGRESS_TTY: {
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        break;
    }
    case DI_PROGRESS_PLAIN:
        fprintf(stderr, "%s\n", line);
        fflush(stderr);
        break;
    case DI_PROGRESS_JSON:
        fprintf(stdout, "%s\n", line);
        fflush(stdout);
        break;
    default:
        break;
    }
}

/* After every thread is joined: the outcome, the summary, the panels that
** could not be written, the chunks and the first failed faces. */
int di_run_finish(const run_opts *o, di_pipeline *p, di_progress *pr, int first_signal)
{
    di_error err = {0};
    int rc = di_pipeline_wait(p, &err);
    di_pipeline_stats s;
    di_pipeline_get_stats(p, &s);
    if (o->progress == DI_PROGRESS_TTY)
        fprintf(stderr, "\r\033[K");
    if (o->progress != DI_PROGRESS_NONE && o->progress != DI_PROGRESS_TTY)
        di_run_print_progress(o, pr, p);
    if (rc)
        di_cli_db_error(&o->db, err.msg);
    const char *outcome = rc ? (s.device_error ? "stopped (device error)"
                                               : "stopped (database error)")
                        : first_signal ? "interrupted"
                        : s.failed ? "done with failures" : "done";
    /* Many workers: this worker's share is what it took on, not the whole
    ** table's pending faces (the others did the rest) */
    di_pipeline_chunks k;
    di_pipeline_chunk_stats(p, &k);
    if (k.on && s.total > s.queued)
        s.total = s.queued;
    char summary[2048];
    di_progress_summary(&s, o->progress == DI_PROGRESS_JSON ? DI_PROGRESS_JSON
                                                             : DI_PROGRESS_PLAIN,
                        outcome, summary, sizeof summary);
    fputs(summary, stdout);
    if (o->cfg.save_maps && o->progress != DI_PROGRESS_JSON)
        printf("panels: %lld in %s\n", (long long)s.panels, o->cfg.save_maps);
    fflush(stdout);
    if (s.panel_errors) {
        char first[DI_ERROR_MSG_MAX];
        di_pipeline_panel_error(p, first, sizeof first);
        di_cli_error("%lld panel%s could not be written; the first: %s",
                (long long)s.panel_errors, s.panel_errors == 1 ? "" : "s", first);
    }
    bool chunks_failed = print_chunks_end(o, p);
    if (s.failed) {
        di_pipeline_failure first[DI_PIPELINE_FIRST_FAILURES];
        int n = di_pipeline_first_failures(p, first);
        fprintf(stderr, "depthindex: %lld face%s failed; all are in table depthindex_errors "
                        "(depthindex status counts them)%s\n",
                (long long)s.failed, s.failed == 1 ? "" : "s",
                n ? "; the first:" : "");
        for (int i = 0; i < n; i++) {
            char text[2200]; /* the reason may hold a sid from the database */
            di_cli_escape(first[i].error, text, sizeof text);
            fprintf(stderr, "  id %lld, face %s: %s\n", (long long)first[i].id,
                    o->cfg.store.faces[first[i].face], text);
        }
    }
    di_pipeline_destroy(p);
    if (rc)
        return DI_EXIT_USAGE;
    if (first_signal)
        return first_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT;
    return s.failed || chunks_failed ? DI_EXIT_SOME_FAILED : DI_EXIT_OK;
}

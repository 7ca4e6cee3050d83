/* progress.c: progress lines and the summary, formatted from a stats
** snapshot. Formatting only: src/cli prints them. */
#include "pipeline.h"

#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

void di_progress_init(di_progress *pr)
{
    memset(pr, 0, sizeof *pr);
}

/* A bounded appender: never overflows, keeps what fits. */
typedef struct sbuf {
    char *p;
    size_t size, len;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < b->size - b->len ? (size_t)n : b->size - b->len - 1;
}

static const char *stage_label(const di_pipeline_stats *s, int i)
{
    return i == DI_STAGE_DECODE && s->depth_dir ? "load" : di_stage_names[i];
}

/* For people: with batches in flight (asynchronous runs on a GPU) the
** inference thread mostly waits, so its busy % is the share of the time a
** batch was in flight on the device (queued, copied or computing), which
** bounds the device's own busy % from above; the label says so. JSON keeps
** the stage's name ("in_flight" in the start line says what it measures). */
static const char *text_label(const di_pipeline_stats *s, int i)
{
    return i == DI_STAGE_INFER && s->in_flight > 1 ? "infer(in flight)" : stage_label(s, i);
}

static double busy_pct(const di_pipeline_stats *s, int i)
{
    double cap = s->elapsed * s->threads[i];
    return cap > 0 ? 100.0 * s->busy[i] / cap : 0;
}

static void fmt_hms(char *out, size_t size, double sec)
{
    if (sec < 0 || sec > 1e8) {
        snprintf(out, size, "-");
        return;
    }
    long t = (long)(sec + 0.5);
    snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* images/s over the last ~10 s of samples */
static double recent_rate(di_progress *pr, double now, int64_t done)
{
    int cap = (int)(sizeof pr->t / sizeof pr->t[0]);
    int slot = (pr->head + pr->n) % cap;
    if (pr->n == cap) {
        pr->head = (pr->head + 1) % cap;
        pr->n--;
        slot = (pr->head + pr->n) % cap;
    }
    pr->t[slot] = now;
    pr->done[slot] = done;
    pr->n++;
    int oldest = pr->head;
    for (int k = 0; k < pr->n; k++) {
        int i = (pr->head + k) % cap;
        if (now - pr->t[i] <= 10.0) {
            oldest = i;
            break;
        }
    }
    if (oldest == slot && pr->n > 1)
        oldest = (slot + cap - 1) % cap;
    double dt = now - pr->t[oldest];
    return dt > 0 ? (double)(done - pr->done[oldest]) / dt : 0;
}

void di_progress_line(di_progress *pr, const di_pipeline_stats *s,
                      di_progress_mode mode, char *out, size_t out_size)
{
    sbuf b = {out, out_size, 0};
    out[0] = '\0';
    int64_t done = s->ok + s->failed;
    double rate = s->elapsed > 0 ? done / s->elapsed : 0;
    double recent = recent_rate(pr, s->elapsed, done);
    if (pr->n <= 1)
        recent = rate;
    double pct = s->total > 0 ? 100.0 * done / s->total : 100.0;
    double r_eta = recent > 0 ? recent : rate;
    double eta = r_eta > 0 ? (s->total - done) / r_eta : -1;
    if (mode == DI_PROGRESS_JSON) {
        put(&b, "{\"done\":%lld,\"total\":%lld,\"ok\":%lld,\"failed\":%lld,"
                "\"percent\":%.2f,\"images_per_s\":%.2f,\"recent_images_per_s\":%.2f,"
                "\"eta_s\":%.1f,\"elapsed_s\":%.2f,\"busy_percent\":{",
            (long long)done, (long long)s->total, (long long)s->ok,
            (long long)s->failed, pct, rate, recent, eta, s->elapsed);
        bool first = true;
        for (int i = 0; i < DI_STAGE_COUNT; i++)
            if (s->threads[i]) {
                put(&b, "%s\"%s\":%.1f", first ? "" : ",", stage_label(s, i), busy_pct(s, i));
                first = false;
            }
        put(&b, "},\"queues\":{");
        first = true;
        for (int i = 0; i < DI_Q_COUNT; i++)
            if (s->queue_cap[i]) {
                put(&b, "%s\"%s\":[%zu,%zu]", first ? "" : ",", di_queue_names[i],
                    s->queue_len[i], s->queue_cap[i]);
                first = false;
            }
        put(&b, "},\"db_lost_s\":%.1f,\"stopping\":%s}", s->db_lost_s,
            s->stopping ? "true" : "false");
        return;
    }
    char eta_s[32];
    fmt_hms(eta_s, sizeof eta_s, eta);
    put(&b, "%lld/%lld %5.1f%% | %.1f img/s (recent %.1f) | ETA %s | busy",
        (long long)done, (long long)s->total, pct, rate, recent, eta_s);
    for (int i = 0; i < DI_STAGE_COUNT; i++)
        if (s->threads[i])
            put(&b, " %s %.0f%%", text_label(s, i), busy_pct(s, i));
    put(&b, " | queue");
    for (int i = 0; i < DI_Q_COUNT; i++)
        if (s->queue_cap[i])
            put(&b, " %s %zu/%zu", di_queue_names[i], s->queue_len[i], s->queue_cap[i]);
    if (s->failed)
        put(&b, " | %lld failed", (long long)s->failed);
    if (s->db_lost_s > 0)
        put(&b, " | database lost, retrying %.0f s", s->db_lost_s);
    if (s->stopping)
        put(&b, " | stopping");
}

int di_progress_columns(int tty_columns, const char *columns_env)
{
    if (tty_columns > 0)
        return tty_columns;
    if (columns_env) {
        char *end;
        long v = strtol(columns_env, &end, 10);
        if (end != columns_env && *end == '\0' && v > 0 && v <= 10000)
            return (int)v;
    }
    return 80;
}

bool di_progress_unicode(const char *lc_all, const char *lc_ctype, const char *lang)
{
    /* the first of these that is set decides, as for setlocale */
    const char *v = lc_all && *lc_all ? lc_all : lc_ctype && *lc_ctype ? lc_ctype : lang;
    if (!v)
        return false;
    for (const char *p = v; *p; p++)
        if (strncasecmp(p, "utf-8", 5) == 0 || strncasecmp(p, "utf8", 4) == 0)
            return true;
    return false;
}

/* The bar: `cols` columns, filled to frac, in eighths of a block with
** Unicode (as tqdm draws it), else '#' and '.'. */
static void bar(sbuf *b, double frac, int cols, bool unicode)
{
    static const char *const eighths[8] = {"", "\u258F", "\u258E", "\u258D", "\u258C",
                                           "\u258B", "\u258A", "\u2589"};
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    int units = (int)(frac * cols * 8);
    int full = units / 8, part = units % 8;
    for (int i = 0; i < cols; i++) {
        if (i < full)
            put(b, "%s", unicode ? "\u2588" : "#");
        else if (i == full && part && unicode)
            put(b, "%s", eighths[part]);
        else
            put(b, "%s", unicode ? " " : ".");
    }
}

/* The tty line: "45%|bar| 1234/5678 [12.3 img/s, ETA 0:01:02] | ...", the
** optional parts kept in order of importance while they fit: the database
** retry state, the ETA, the rate, failures, stopping, busy %, queues. The
** line is at most width - 1 columns (the last column would wrap on some
** terminals); the bar takes what is left, 10 to 40 columns (20 or more
** before busy % and queues are added), and goes below 10 before a required
** part would be cut. */
void di_progress_tty_line(di_progress *pr, const di_pipeline_stats *s, int width,
                          bool unicode, char *out, size_t out_size)
{
    int64_t done = s->ok + s->failed;
    double rate = s->elapsed > 0 ? done / s->elapsed : 0;
    double recent = recent_rate(pr, s->elapsed, done);
    if (pr->n <= 1)
        recent = rate;
    double frac = s->total > 0 ? (double)done / s->total : 1.0;
    double r_eta = recent > 0 ? recent : rate;
    double eta = r_eta > 0 ? (s->total - done) / r_eta : -1;
    char eta_s[32];
    fmt_hms(eta_s, sizeof eta_s, eta);

    enum { P_RETRY, P_RATE, P_ETA, P_FAILED, P_STOP, P_BUSY, P_QUEUE, P_N };
    char parts[P_N][320];
    for (int i = 0; i < P_N; i++)
        parts[i][0] = '\0';
    if (s->db_lost_s > 0)
        snprintf(parts[P_RETRY], sizeof parts[0], " | database lost, retrying %.0f s",
                 s->db_lost_s);
    snprintf(parts[P_RATE], sizeof parts[0], " %.1f img/s", recent);
    snprintf(parts[P_ETA], sizeof parts[0], " ETA %s", eta_s);
    if (s->failed)
        snprintf(parts[P_FAILED], sizeof parts[0], " | %lld failed", (long long)s->failed);
    if (s->stopping)
        snprintf(parts[P_STOP], sizeof parts[0], " | stopping");
    sbuf pb = {parts[P_BUSY], sizeof parts[0], 0};
    put(&pb, " | busy");
    for (int i = 0; i < DI_STAGE_COUNT; i++)
        if (s->threads[i])
            put(&pb, " %s %.0f%%", text_label(s, i), busy_pct(s, i));
    sbuf qb = {parts[P_QUEUE], sizeof parts[0], 0};
    put(&qb, " | queue");
    for (int i = 0; i < DI_Q_COUNT; i++)
        if (s->queue_cap[i])
            put(&qb, " %s %zu/%zu", di_queue_names[i], s->queue_len[i], s->queue_cap[i]);

    char head[16], count[64];
    snprintf(head, sizeof head, "%3.0f%%|", 100.0 * frac);
    snprintf(count, sizeof count, "| %lld/%lld", (long long)done, (long long)s->total);
    int room = width - 1;
    int used = (int)strlen(head) + (int)strlen(count);
    bool keep[P_N] = {false};
    /* in order of importance, each while the bar keeps 10 columns */
    static const int order[P_N] = {P_RETRY, P_STOP, P_ETA, P_RATE, P_FAILED, P_BUSY, P_QUEUE};
    for (int k = 0; k < P_N; k++) {
        int i = order[k], len = (int)strlen(parts[i]);
        /* the long stage figures only while the bar stays readable */
        int min_bar = i == P_BUSY || i == P_QUEUE ? 20 : 10;
        if (len && used + len + min_bar <= room) {
            keep[i] = true;
            used += len;
        }
    }
    int cols = room - used;
    cols = cols > 40 ? 40 : cols;
    sbuf b = {out, out_size, 0};
    out[0] = '\0';
    if (cols < 3) {
        /* too narrow for a bar: the figures alone, cut to the width */
        put(&b, "%3.0f%% %lld/%lld", 100.0 * frac, (long long)done, (long long)s->total);
        if (room > 0 && b.len > (size_t)room)
            out[room] = '\0';
        return;
    }
    put(&b, "%s", head);
    bar(&b, frac, cols, unicode);
    put(&b, "%s", count);
    static const int shown[P_N] = {P_RATE, P_ETA, P_RETRY, P_FAILED, P_STOP, P_BUSY, P_QUEUE};
    for (int k = 0; k < P_N; k++)
        if (keep[shown[k]])
            put(&b, "%s", parts[shown[k]]);
}

void di_progress_summary(const di_pipeline_stats *s, di_progress_mode mode,
                         const char *outcome, char *out, size_t out_size)
{
    sbuf b = {out, out_size, 0};
    out[0] = '\0';
    int64_t done = s->ok + s->failed;
    int64_t skipped = s->total > done ? s->total - done : 0;
    double rate = s->elapsed > 0 ? done / s->elapsed : 0;
    if (mode == DI_PROGRESS_JSON) {
        put(&b, "{\"summary\":true,\"outcome\":\"%s\",\"ok\":%lld,\"failed\":%lld,"
                "\"skipped\":%lld,\"total\":%lld,\"wall_s\":%.3f,\"images_per_s\":%.2f,"
                "\"in_flight_max\":%d,\"panels\":%lld,\"busy_percent\":{",
            outcome, (long long)s->ok, (long long)s->failed, (long long)skipped,
            (long long)s->total, s->elapsed, rate, s->in_flight_max, (long long)s->panels);
        bool first = true;
        for (int i = 0; i < DI_STAGE_COUNT; i++)
            if (s->threads[i]) {
                put(&b, "%s\"%s\":%.1f", first ? "" : ",", stage_label(s, i), busy_pct(s, i));
                first = false;
            }
        put(&b, "}}\n");
        return;
    }
    put(&b, "%s: ok %lld, failed %lld, skipped %lld (of %lld pending) in %.2f s, %.1f images/s\n",
        outcome, (long long)s->ok, (long long)s->failed, (long long)skipped,
        (long long)s->total, s->elapsed, rate);
    put(&b, "busy:");
    for (int i = 0; i < DI_STAGE_COUNT; i++)
        if (s->threads[i])
            put(&b, " %s %.0f%% (%d thread%s)", text_label(s, i), busy_pct(s, i),
                s->threads[i], s->threads[i] == 1 ? "" : "s");
    if (s->in_flight > 1)
        put(&b, "; up to %d batch%s in flight per session", s->in_flight_max,
            s->in_flight_max == 1 ? "" : "es");
    put(&b, "\n");
}

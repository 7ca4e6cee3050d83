/*
** test_progress.c: the terminal's progress line (src/pipeline/progress.c):
** never wider than the terminal minus one column at any width, a drawn bar
** that follows the fraction done, the database's retry state shown, and
** the width and Unicode choices from the terminal and the environment.
*/
#include "check.h"
#include "pipeline/pipeline.h"

#include <string.h>

/* Display columns of UTF-8 text: one per code point (the line holds only
** ASCII and block characters, each one column wide). */
static int columns(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static void stats(di_pipeline_stats *s, int64_t done, int64_t total)
{
    memset(s, 0, sizeof *s);
    s->total = total;
    s->ok = done;
    s->elapsed = 100;
    for (int i = 0; i < DI_STAGE_COUNT; i++) {
        s->threads[i] = 2;
        s->busy[i] = 120;
    }
    for (int i = 0; i < DI_Q_COUNT; i++) {
        s->queue_len[i] = 12;
        s->queue_cap[i] = 36;
    }
}

/* The bar between the first two '|': its columns, and how many are full. */
static void bar_of(const char *line, int *cols, int *full)
{
    const char *a = strchr(line, '|'), *b = a ? strchr(a + 1, '|') : NULL;
    *cols = *full = 0;
    if (!a || !b)
        return;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(b - a - 1), a + 1);
    *cols = columns(tmp);
    for (const char *p = tmp; *p; p++)
        *full += *p == '#' || strncmp(p, "\u2588", 3) == 0;
}

int main(void)
{
    /* the width: the terminal's, else $COLUMNS, else 80 */
    CHECK(di_progress_columns(120, "100") == 120);
    CHECK(di_progress_columns(0, "100") == 100);
    CHECK(di_progress_columns(0, NULL) == 80);
    CHECK(di_progress_columns(0, "wide") == 80);
    CHECK(di_progress_columns(0, "0") == 80);
    CHECK(di_progress_columns(0, "-5") == 80);
    CHECK(di_progress_columns(0, "100x") == 80);
    /* Unicode blocks only in a UTF-8 locale; LC_ALL, then LC_CTYPE, then LANG */
    CHECK(di_progress_unicode(NULL, NULL, "en_US.UTF-8"));
    CHECK(di_progress_unicode("", "", "de_DE.utf8"));
    CHECK(!di_progress_unicode("C", NULL, "en_US.UTF-8"));
    CHECK(!di_progress_unicode(NULL, "POSIX", "en_US.UTF-8"));
    CHECK(!di_progress_unicode(NULL, NULL, NULL));

    char line[1024];
    di_pipeline_stats s;
    /* every width from 2 to 300, both bar styles, a busy run with failures,
    ** a stop and a lost database: never more than width - 1 columns */
    for (int uni = 0; uni < 2; uni++)
        for (int w = 2; w <= 300; w++) {
            di_progress pr;
            di_progress_init(&pr);
            stats(&s, 1234567, 9876543);
            s.failed = 42;
            s.stopping = true;
            s.db_lost_s = 12.4;
            di_progress_tty_line(&pr, &s, w, uni, line, sizeof line);
            CHECKF(columns(line) <= w - 1, "width %d: %d columns: %s", w, columns(line), line);
            if (w >= 60)
                CHECKF(strstr(line, "1234609/9876543") != NULL, "width %d: %s", w, line);
        }
    /* the seed's complaint: a 160-column terminal got a longer line */
    {
        di_progress pr;
        di_progress_init(&pr);
        stats(&s, 1234567, 9876543);
        di_progress_tty_line(&pr, &s, 160, true, line, sizeof line);
        CHECKF(columns(line) <= 159, "160 columns: %s", line);
        CHECKF(strstr(line, "ETA") && strstr(line, "img/s"), "160 columns: %s", line);
    }
    /* the bar follows the fraction: 10 to 40 columns, filled in proportion */
    for (int pct = 0; pct <= 100; pct += 25) {
        di_progress pr;
        di_progress_init(&pr);
        stats(&s, pct * 10, 1000);
        di_progress_tty_line(&pr, &s, 100, false, line, sizeof line);
        int cols, full;
        bar_of(line, &cols, &full);
        CHECKF(cols >= 10 && cols <= 40, "bar of %d columns: %s", cols, line);
        CHECKF(full == cols * pct / 100, "%d%%: %d of %d full: %s", pct, full, cols, line);
        char head[16];
        snprintf(head, sizeof head, "%3d%%|", pct);
        CHECKF(strncmp(line, head, strlen(head)) == 0, "%d%%: %s", pct, line);
    }
    /* half-way in Unicode: full blocks, then spaces */
    {
        di_progress pr;
        di_progress_init(&pr);
        stats(&s, 500, 1000);
        di_progress_tty_line(&pr, &s, 100, true, line, sizeof line);
        int cols, full;
        bar_of(line, &cols, &full);
        CHECKF(full == cols / 2, "unicode half: %d of %d: %s", full, cols, line);
    }
    /* the database's retry state, before the less important parts */
    {
        di_progress pr;
        di_progress_init(&pr);
        stats(&s, 500, 1000);
        s.db_lost_s = 12.2;
        di_progress_tty_line(&pr, &s, 80, true, line, sizeof line);
        CHECKF(strstr(line, "database lost, retrying 12 s") != NULL, "retry: %s", line);
        di_progress_line(&pr, &s, DI_PROGRESS_PLAIN, line, sizeof line);
        CHECKF(strstr(line, "database lost, retrying 12 s") != NULL, "plain retry: %s", line);
        di_progress_line(&pr, &s, DI_PROGRESS_JSON, line, sizeof line);
        CHECKF(strstr(line, "\"db_lost_s\":12.2") != NULL, "json retry: %s", line);
        s.db_lost_s = 0;
        di_progress_tty_line(&pr, &s, 200, true, line, sizeof line);
        CHECKF(strstr(line, "database lost") == NULL, "no retry: %s", line);
    }
    /* sampling for --save-maps: deterministic, about one in N */
    {
        int hits = 0;
        for (int64_t id = 1; id <= 20000; id++)
            for (int f = 0; f < 4; f++)
                hits += di_pipeline_sampled(id, f, 100);
        CHECKF(hits > 650 && hits < 950, "one in 100 of 80000: %d", hits);
        CHECK(di_pipeline_sampled(7, 2, 1));
        CHECK(di_pipeline_sampled(123, 1, 100) == di_pipeline_sampled(123, 1, 100));
    }
    return check_summary();
}

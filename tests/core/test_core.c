/* test_core.c: error model, queue, URL parsing, identifiers, file reads. */
#include "check.h"
#include "core/core.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_error(void)
{
    di_error e;
    di_error_clear(&e);
    CHECK(di_fail(&e, DI_EFORMAT, "a.png: bad\nheader %d", 3) == DI_EFORMAT);
    CHECK(e.code == DI_EFORMAT);
    CHECK(strcmp(e.msg, "a.png: bad header 3") == 0);
    di_error_prefix(&e, "row %d", 7);
    CHECK(strcmp(e.msg, "row 7: a.png: bad header 3") == 0);
    CHECK(di_fail(NULL, DI_EIO, "x") == DI_EIO);
    /* a sub-code survives a prefix and is reset by the next failure */
    CHECK(di_fail_detail(&e, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "table %s does not exist", "t") == DI_ESCHEMA);
    e.named |= DI_NAMED_FILE;
    di_error_prefix(&e, "db");
    CHECK(e.code == DI_ESCHEMA && e.detail == DI_DETAIL_NO_TABLE && e.named == DI_NAMED_FILE);
    CHECK(strcmp(e.msg, "db: table t does not exist") == 0);
    di_fail(&e, DI_ESCHEMA, "table t does not exist");
    CHECK(e.detail == DI_DETAIL_NONE && e.named == 0);
    CHECK(di_fail_detail(NULL, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "x") == DI_ESCHEMA);
    CHECK(strcmp(di_status_name(DI_EDEVICE), "device") == 0);
    CHECK(strcmp(di_status_name(DI_EINTERNAL), "internal") == 0);
    CHECK(DI_EDEVICE != DI_EIO && DI_EINTERNAL != DI_EUNSUPPORTED);
}

#define NITEMS 20000
static void *producer(void *arg)
{
    di_queue *q = arg;
    for (intptr_t i = 1; i <= NITEMS; i++)
        di_queue_push(q, (void *)i);
    return NULL;
}

static void test_queue(void)
{
    di_queue *q = di_queue_create(3);
    CHECK(q != NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, producer, q);
    pthread_create(&b, NULL, producer, q);
    long long sum = 0;
    size_t maxlen = 0;
    for (int i = 0; i < 2 * NITEMS; i++) {
        size_t len = di_queue_length(q);
        if (len > maxlen)
            maxlen = len;
        sum += (intptr_t)di_queue_pop(q);
    }
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK(sum == 2LL * NITEMS * (NITEMS + 1) / 2);
    CHECK(maxlen <= 3);
    CHECK(di_queue_try_pop(q) == NULL);
    /* a timed pop waits about as long as asked, and says the queue is open */
    bool closed = true;
    double t0 = di_now();
    CHECK(di_queue_pop_timed(q, 0.05, &closed) == NULL && !closed);
    CHECK(di_now() - t0 >= 0.045);
    CHECK(di_queue_pop_timed(q, -1, &closed) == NULL && !closed);
    di_queue_push(q, (void *)3);
    CHECK(di_queue_pop_timed(q, 10, &closed) == (void *)3);
    di_queue_push(q, (void *)1);
    di_queue_close(q);
    CHECK(di_queue_pop_timed(q, 10, &closed) == (void *)1 && !closed);
    t0 = di_now();
    CHECK(di_queue_pop_timed(q, 10, &closed) == NULL && closed); /* at once */
    CHECK(di_now() - t0 < 1);
    /* the deadline those waits take: now + seconds, nanoseconds in range */
    for (int i = 0; i < 2; i++) {
        double ask = i ? -1 : 1.75;
        struct timespec a, d;
        clock_gettime(CLOCK_MONOTONIC, &a);
        di_deadline(CLOCK_MONOTONIC, ask, &d);
        double ahead = (double)(d.tv_sec - a.tv_sec) + (double)(d.tv_nsec - a.tv_nsec) * 1e-9;
        CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        CHECK(i ? ahead >= 0 && ahead < 0.1 : ahead >= 1.75 - 1e-6 && ahead < 1.85);
    }
    di_queue_push(q, (void *)1); /* refused: closed */
    /* the rest as before, on a fresh queue */
    di_queue_destroy(q);
    q = di_queue_create(3);
    di_queue_push(q, (void *)1);
    di_queue_close(q);
    CHECK(di_queue_push(q, (void *)2) == DI_EINTR);
    CHECK(di_queue_pop(q) == (void *)1); /* drains after close */
    CHECK(di_queue_pop(q) == NULL);
    di_queue_destroy(q);
}

static void test_url(void)
{
    di_url u;
    di_error e;
    CHECK(di_url_parse("sqlite:demo/x.db", &u, &e) == DI_OK);
    CHECK(strcmp(u.scheme, "sqlite") == 0 && strcmp(u.path, "demo/x.db") == 0);
    CHECK(di_url_parse("mysql://bob:s%40cret@127.0.0.1:3307/pano", &u, &e) == DI_OK);
    CHECK(strcmp(u.scheme, "mysql") == 0);
    CHECK(strcmp(u.user, "bob") == 0 && strcmp(u.password, "s@cret") == 0);
    CHECK(u.has_password && u.port == 3307 && strcmp(u.host, "127.0.0.1") == 0);
    CHECK(strcmp(u.path, "pano") == 0);
    CHECK(di_url_parse("postgres://alice@db.example/pano", &u, &e) == DI_OK);
    CHECK(strcmp(u.scheme, "postgresql") == 0 && !u.has_password && u.port == 0);
    CHECK(di_url_parse("postgresql://u@[::1]:5433/d", &u, &e) == DI_OK);
    CHECK(strcmp(u.host, "::1") == 0 && u.port == 5433);
    /* Errors never echo the password. */
    CHECK(di_url_parse("mysql://bob:topsecret@host:99999/db", &u, &e) == DI_EINVAL);
    CHECK(strstr(e.msg, "topsecret") == NULL);
    CHECK(di_url_parse("mysql://bob:topsecret@host", &u, &e) == DI_EINVAL);
    CHECK(strstr(e.msg, "topsecret") == NULL);
    CHECK(di_url_parse("oracle://x/y", &u, &e) == DI_EINVAL);
    CHECK(di_url_parse("", &u, &e) == DI_EINVAL);
    CHECK(di_url_parse("sqlite:", &u, &e) == DI_EINVAL);
    CHECK(di_url_parse("mysql://bob:%zz@h/db", &u, &e) == DI_EINVAL);
    char red[256];
    di_url_redact("mysql://bob:topsecret@host/db", red, sizeof red);
    CHECK(strcmp(red, "mysql://bob:***@host/db") == 0);
    di_url_redact("sqlite:a.db", red, sizeof red);
    CHECK(strcmp(red, "sqlite:a.db") == 0);
}

static void test_ident(void)
{
    CHECK(di_ident_valid("panorama"));
    CHECK(di_ident_valid("_x9"));
    CHECK(!di_ident_valid("9x"));
    CHECK(!di_ident_valid(""));
    CHECK(!di_ident_valid("a;drop table t"));
    CHECK(!di_ident_valid("a b"));
    CHECK(!di_ident_valid("x\"y"));
}

static void test_read_file(void)
{
    uint8_t *d;
    size_t n;
    di_error e;
    CHECK(di_read_file("/nonexistent/file", 100, &d, &n, &e) == DI_EIO);
    CHECK(strstr(e.msg, "/nonexistent/file") != NULL);
    CHECK(di_read_file("/tmp", 100, &d, &n, &e) == DI_EIO);
    CHECK(strstr(e.msg, "directory") != NULL);
    char path[] = "/tmp/di_test_core_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("hello", f);
    fclose(f);
    CHECK(di_read_file(path, 100, &d, &n, &e) == DI_OK);
    CHECK(n == 5 && memcmp(d, "hello", 5) == 0);
    free(d);
    CHECK(di_read_file(path, 4, &d, &n, &e) == DI_ENOMEM);
    remove(path);
    /* Buffers are 64-byte aligned, fresh or grown (an NPY payload, at a
    ** multiple of 64 in the file, is then scanned in whole cache lines):
    ** files of several sizes, small blocks allocated between them so that
    ** malloc's own 16-byte alignment would show. */
    uint8_t *reuse = NULL;
    size_t cap = 0;
    void *gaps[8];
    for (int k = 0; k < 8; k++) {
        memcpy(path + strlen(path) - 6, "XXXXXX", 6);
        fd = mkstemp(path);
        CHECK(fd >= 0);
        size_t sz = (size_t)1 << (2 * k + 3);
        uint8_t *bytes = calloc(sz, 1);
        CHECK(bytes != NULL && write(fd, bytes, sz) == (ssize_t)sz);
        free(bytes);
        close(fd);
        gaps[k] = malloc(24 + (size_t)k * 8);
        CHECK(di_read_file(path, sz, &d, &n, &e) == DI_OK && n == sz);
        CHECK((uintptr_t)d % 64 == 0);
        free(d);
        CHECK(di_read_file_reuse(path, sz, &reuse, &cap, &n, &e) == DI_OK);
        CHECK(n == sz && (uintptr_t)reuse % 64 == 0);
        remove(path);
    }
    free(reuse);
    for (int k = 0; k < 8; k++)
        free(gaps[k]);
    /* A FIFO with no writer: refused at once, not waited on (SIGALRM ends
    ** the test, failed, if the open blocks). */
    char dir[] = "/tmp/di_test_core_fifo_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(10);
    CHECK(di_read_file(fifo, 100, &d, &n, &e) == DI_EIO);
    alarm(0);
    CHECK(strstr(e.msg, "not a regular file") != NULL);
    remove(fifo);
    rmdir(dir);
}

static void test_make_dirs(void)
{
    char dir[] = "/tmp/di_test_dirs_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    di_error e;
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    CHECK(di_make_dirs(path, &e) == DI_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(di_make_dirs(path, &e) == DI_OK); /* already there */
    snprintf(path, sizeof path, "%s/a/b/c/", dir);
    CHECK(di_make_dirs(path, &e) == DI_OK); /* a trailing slash */
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(di_make_dirs(path, &e) != DI_OK); /* a file is not a folder */
    CHECK(strstr(e.msg, path) != NULL);
    snprintf(path, sizeof path, "%s/f/x", dir);
    CHECK(di_make_dirs(path, &e) != DI_OK);
    CHECK(di_make_dirs("", &e) == DI_EINVAL);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_error();
    test_queue();
    test_url();
    test_ident();
    test_read_file();
    test_make_dirs();
    return check_summary();
}

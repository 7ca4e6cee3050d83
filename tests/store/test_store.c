/*
** test_store.c: the store against a real database.
**   test_store sqlite basic             (a fresh file in the build folder)
**   test_store mariadb|postgresql basic|restart|idle   (URL in DI_TEST_URL)
** The same sequence of operations runs on every backend and checks the same
** expected values, so the backends agree with each other. Server tests are
** started by tests/db/with-server.sh, which also names the fixture (DI_TEST_SERVER_SH)
** used here to restart the server between operations.
*/
#include "check.h"
#include "store/store_internal.h"
#include "store_url.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kind, *url;

static void drop_tables(di_store *s, const char *table)
{
    di_error e;
    char sql[200];
    char q = s->kind == DI_MARIADB ? '`' : '"';
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %c%s%c", q, table, q);
    s->ops->exec(s, sql, &e);
    s->ops->exec(s, "DROP TABLE IF EXISTS depthindex_errors", &e);
}

/* Opens with the default schema on empty tables. */
static di_store *open_fresh(di_store_config *cfg, const char *table)
{
    di_error err = {0};
    di_store *s = NULL;
    int rc = di_store_open(cfg, true, &s, &err);
    CHECKF(rc == DI_OK, "open %s: %s", table, err.msg);
    if (rc)
        return NULL;
    drop_tables(s, table);
    di_store_close(s);
    rc = di_store_open(cfg, true, &s, &err);
    CHECKF(rc == DI_OK, "reopen %s: %s", table, err.msg);
    return rc ? NULL : s;
}

typedef struct one_value {
    char text[512];
    bool null;
    int rows;
} one_value;

static int grab(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    one_value *v = ctx;
    v->rows++;
    v->null = ncols < 1 || !vals[0];
    snprintf(v->text, sizeof v->text, "%s", v->null ? "" : vals[0]);
    return DI_OK;
}

/* Reads one value with a bound id, through the backend itself. */
static one_value read_value(di_store *s, const char *sql_q, const char *sql_d, int64_t id)
{
    one_value v = {0};
    di_error err;
    di_param p = {.type = DI_P_INT, .i = id};
    int rc = s->ops->query(s, s->kind == DI_POSTGRESQL ? sql_d : sql_q, 1, &p, grab, &v, &err);
    CHECKF(rc == DI_OK, "read: %s", err.msg);
    return v;
}

static double score_of(di_store *s, const char *col, int64_t id)
{
    char q[200], d[200];
    char c = s->kind == DI_MARIADB ? '`' : '"';
    snprintf(q, sizeof q, "SELECT %c%s%c FROM panorama WHERE id = ?", c, col, c);
    snprintf(d, sizeof d, "SELECT \"%s\" FROM panorama WHERE id = $1::bigint", col);
    one_value v = read_value(s, q, d, id);
    return v.null || v.rows != 1 ? NAN : strtod(v.text, NULL);
}

static const char *quoted_sid = "o'brien \"x\" \\ ; DROP TABLE panorama; --";

static void check_counts(di_store *s, int64_t rows, const int64_t done[4],
                         const int64_t failed[4], const char *when)
{
    di_store_counts c;
    di_error err;
    int rc = di_store_count(s, &c, &err);
    CHECKF(rc == DI_OK, "count %s: %s", when, err.msg);
    CHECKF(c.rows == rows, "%s: rows %lld", when, (long long)c.rows);
    for (int f = 0; f < 4; f++) {
        CHECKF(c.done[f] == done[f], "%s: done[%d] = %lld, want %lld", when, f,
               (long long)c.done[f], (long long)done[f]);
        CHECKF(c.pending[f] == rows - done[f], "%s: pending[%d] = %lld", when, f,
               (long long)c.pending[f]);
        CHECKF(c.failed[f] == failed[f], "%s: failed[%d] = %lld, want %lld", when, f,
               (long long)c.failed[f], (long long)failed[f]);
    }
}

static void insert_rows(di_store *s, int64_t from, int64_t to)
{
    int n = (int)(to - from + 1);
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    char **sids = malloc((size_t)n * sizeof *sids);
    for (int i = 0; i < n; i++) {
        ids[i] = from + i;
        sids[i] = malloc(32);
        snprintf(sids[i], 32, "sid_%lld", (long long)ids[i]);
        if (ids[i] == 7)
            sids[i] = strcpy(realloc(sids[i], strlen(quoted_sid) + 1), quoted_sid);
    }
    di_error err;
    int rc = di_store_insert_panoramas(s, ids, (const char *const *)sids, n, &err);
    CHECKF(rc == DI_OK, "insert: %s", err.msg);
    for (int i = 0; i < n; i++)
        free(sids[i]);
    free(sids);
    free(ids);
}

static double expected_score(int64_t id, int face)
{
    return (double)id * 0.001 + face + 1.0 / 3.0;
}

static void basic(di_store_config *cfg)
{
    di_store *s = open_fresh(cfg, "panorama");
    if (!s)
        return;
    CHECK(strcmp(di_store_backend(s), kind) == 0);
    CHECK(di_store_nfaces(s) == 4);
    CHECK(strcmp(di_store_face_name(s, 2), "zm") == 0 && !di_store_face_name(s, 4));
    CHECKF(!strstr(di_store_where(s), "di-secret"), "password in %s", di_store_where(s));
    di_error err = {0};
    insert_rows(s, 1, 1000);
    insert_rows(s, 995, 1000); /* again: existing rows are left alone */
    int64_t zero[4] = {0}, done[4] = {0}, failed[4] = {0};
    check_counts(s, 1000, zero, zero, "after insert");

    /* keyset pages */
    di_store_row rows[1000];
    int n, total = 0;
    int64_t after = 0, last = 0;
    bool ascending = true, all_pending = true, sid_ok = false;
    for (int page = 0; page < 10; page++) {
        int rc = di_store_fetch_pending(s, after, 300, false, rows, &n, &err);
        CHECKF(rc == DI_OK, "fetch: %s", err.msg);
        if (rc || n == 0)
            break;
        CHECK(n == 300 || (page == 3 && n == 100));
        for (int i = 0; i < n; i++) {
            ascending &= rows[i].id > last;
            last = rows[i].id;
            all_pending &= rows[i].pending == 0xF;
            if (rows[i].id == 7)
                sid_ok = strcmp(rows[i].sid, quoted_sid) == 0;
            else
                CHECK(strncmp(rows[i].sid, "sid_", 4) == 0);
        }
        total += n;
        after = rows[n - 1].id;
    }
    CHECK(total == 1000);
    CHECK(ascending);
    CHECK(all_pending);
    CHECKF(sid_ok, "the sid with quotes did not round-trip");

    /* ids 1..500 every face; 501..510 face 2 fails, with quotes in the error */
    di_store_result *res = calloc(2100, sizeof *res);
    int nr = 0;
    for (int64_t id = 1; id <= 500; id++)
        for (int f = 0; f < 4; f++)
            res[nr++] = (di_store_result){.id = id, .face = f, .ok = true,
                                          .score = expected_score(id, f)};
    for (int64_t id = 501; id <= 510; id++) {
        res[nr] = (di_store_result){.id = id, .face = 2, .ok = false};
        snprintf(res[nr].error, sizeof res[nr].error, "can't decode 'face' \"%lld\"; --",
                 (long long)id);
        nr++;
    }
    for (int i = 0; i < nr; i += 500) {
        int rc = di_store_write(s, res + i, nr - i < 500 ? nr - i : 500, &err);
        CHECKF(rc == DI_OK, "write: %s", err.msg);
    }
    for (int f = 0; f < 4; f++)
        done[f] = 500;
    failed[2] = 10;
    check_counts(s, 1000, done, failed, "after write");
    CHECK_NEAR(score_of(s, "xm_depth_index", 1), expected_score(1, 0), 1e-12);
    CHECK_NEAR(score_of(s, "zp_depth_index", 500), expected_score(500, 3), 1e-12);
    CHECK(isnan(score_of(s, "zm_depth_index", 505)));
    {
        one_value v = read_value(
            s, "SELECT error FROM depthindex_errors WHERE id = ? AND face = 'zm'",
            "SELECT error FROM depthindex_errors WHERE id = $1::bigint AND face = 'zm'", 503);
        CHECKF(strcmp(v.text, "can't decode 'face' \"503\"; --") == 0, "error text: %s", v.text);
    }

    /* the same batch again: idempotent */
    int rc = di_store_write(s, res, 500, &err);
    CHECKF(rc == DI_OK, "rewrite: %s", err.msg);
    check_counts(s, 1000, done, failed, "after rewrite");

    /* pending: 501..1000, all faces */
    rc = di_store_fetch_pending(s, 0, 1000, false, rows, &n, &err);
    CHECKF(rc == DI_OK && n == 500 && rows[0].id == 501 && rows[499].id == 1000,
           "pending after write: rc %d n %d", rc, n);
    /* a face failed, then succeeds: its error record goes */
    di_store_result again = {.id = 505, .face = 2, .ok = true, .score = 0.25};
    rc = di_store_write(s, &again, 1, &err);
    CHECKF(rc == DI_OK, "write 505: %s", err.msg);
    failed[2] = 9;
    done[2] = 501;
    check_counts(s, 1000, done, failed, "after clearing one error");
    rc = di_store_fetch_pending(s, 504, 2, false, rows, &n, &err);
    CHECK(rc == DI_OK && n == 2 && rows[0].id == 505 && rows[0].pending == 0xB);

    /* duplicates in one batch: the last one wins; NaN is recorded as a failure */
    di_store_result dup[3] = {
        {.id = 600, .face = 1, .ok = true, .score = 1.5},
        {.id = 600, .face = 1, .ok = true, .score = 2.5},
        {.id = 601, .face = 1, .ok = true, .score = NAN},
    };
    rc = di_store_write(s, dup, 3, &err);
    CHECKF(rc == DI_OK, "write dup: %s", err.msg);
    CHECK_NEAR(score_of(s, "xp_depth_index", 600), 2.5, 0);
    CHECK(isnan(score_of(s, "xp_depth_index", 601)));
    done[1] = 501;
    failed[1] = 1;
    check_counts(s, 1000, done, failed, "after duplicates");

    /* error texts: bytes that are not UTF-8, control characters, no NUL */
    di_store_result odd[2] = {{.id = 700, .face = 0, .ok = false}, {.id = 701, .face = 0}};
    strcpy(odd[0].error, "bad \xff\xfe name \xc3\xa9t\xc3\xa9\n\tend");
    memset(odd[1].error, 'x', sizeof odd[1].error);
    rc = di_store_write(s, odd, 2, &err);
    CHECKF(rc == DI_OK, "odd error texts: %s", err.msg);
    {
        one_value v = read_value(
            s, "SELECT error FROM depthindex_errors WHERE id = ? AND face = 'xm'",
            "SELECT error FROM depthindex_errors WHERE id = $1::bigint AND face = 'xm'", 700);
        CHECKF(strcmp(v.text, "bad ?? name \xc3\xa9t\xc3\xa9  end") == 0, "cleaned: %s", v.text);
        v = read_value(s, "SELECT error FROM depthindex_errors WHERE id = ? AND face = 'xm'",
                       "SELECT error FROM depthindex_errors WHERE id = $1::bigint AND face = 'xm'",
                       701);
        CHECKF(strlen(v.text) == 255, "unterminated text: %zu bytes", strlen(v.text));
    }
    failed[0] = 2;
    check_counts(s, 1000, done, failed, "after odd error texts");

    di_store_result bad_face = {.id = 1, .face = 4, .ok = true};
    CHECK(di_store_write(s, &bad_face, 1, &err) == DI_EINVAL);

    /* force: every row, every face */
    rc = di_store_fetch_pending(s, 0, 1000, true, rows, &n, &err);
    CHECK(rc == DI_OK && n == 1000 && rows[0].pending == 0xF && rows[999].id == 1000);
    /* the retry variants on a healthy connection */
    rc = di_store_fetch_pending_retry(s, 990, 100, false, rows, &n, 1.0, NULL, &err);
    CHECK(rc == DI_OK && n == 10);
    rc = di_store_write_retry(s, res, 4, 1.0, NULL, &err);
    CHECK(rc == DI_OK);
    free(res);
    di_store_close(s);

    /* schema errors name the table or column */
    di_store_config c2 = *cfg;
    c2.table = "no_such_table";
    s = NULL;
    rc = di_store_open(&c2, false, &s, &err);
    CHECKF(rc == DI_ESCHEMA && strstr(err.msg, "no_such_table"), "missing table: %d %s", rc,
           err.msg);
    c2 = *cfg;
    c2.nfaces = 2;
    c2.faces[0] = "xm";
    c2.faces[1] = "yy";
    rc = di_store_open(&c2, false, &s, &err);
    CHECKF(rc == DI_ESCHEMA && strstr(err.msg, "yy_depth_index"), "missing column: %d %s", rc,
           err.msg);
    /* creating adds the missing face column; the other rows stay */
    rc = di_store_open(&c2, true, &s, &err);
    CHECKF(rc == DI_OK, "create with a new face: %s", err.msg);
    if (rc == DI_OK) {
        di_store_counts c;
        CHECK(di_store_count(s, &c, &err) == DI_OK && c.rows == 1000 && c.done[0] == 500 &&
              c.done[1] == 0);
        di_store_close(s);
    }

    /* names that are not plain identifiers never reach SQL */
    const char *bad_names[] = {"panorama; DROP TABLE panorama", "pan\"orama", "pan`orama",
                               "x' OR '1'='1", "", "1abc"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        c2 = *cfg;
        c2.table = bad_names[i];
        CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);
        c2 = *cfg;
        c2.faces[1] = bad_names[i];
        CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);
        c2 = *cfg;
        c2.sid_column = bad_names[i];
        CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);
    }
    c2 = *cfg;
    c2.column_pattern = "{face}\"; DROP TABLE panorama; --";
    CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);
    c2.column_pattern = "no_face_here";
    CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);
    c2.table = "depthindex_errors";
    c2.column_pattern = NULL;
    CHECK(di_store_open(&c2, true, &s, &err) == DI_EINVAL);

    /* an error table of another shape is named, with its missing column (one
    ** connection breaks and mends it, another tries to open) */
    di_store *keep = NULL;
    rc = di_store_open(cfg, false, &keep, &err);
    CHECKF(rc == DI_OK, "open: %s", err.msg);
    if (rc == DI_OK) {
        CHECK(keep->ops->exec(keep, "ALTER TABLE depthindex_errors RENAME TO di_errors_saved",
                              &err) == DI_OK);
        CHECK(keep->ops->exec(keep, "CREATE TABLE depthindex_errors (id BIGINT, face "
                                    "VARCHAR(64), error TEXT)", &err) == DI_OK);
        rc = di_store_open(cfg, false, &s, &err);
        CHECKF(rc == DI_ESCHEMA && strstr(err.msg, "depthindex_errors has no column at"),
               "errors table without 'at': %d %s", rc, err.msg);
        if (rc == DI_OK)
            di_store_close(s);
        CHECK(keep->ops->exec(keep, "DROP TABLE depthindex_errors", &err) == DI_OK);
        CHECK(keep->ops->exec(keep, "ALTER TABLE di_errors_saved RENAME TO depthindex_errors",
                              &err) == DI_OK);
        di_store_close(keep);
    }

    /* the table is intact after all that */
    rc = di_store_open(cfg, false, &s, &err);
    CHECKF(rc == DI_OK, "reopen: %s", err.msg);
    if (rc == DI_OK) {
        check_counts(s, 1000, done, failed, "at the end");
        di_store_close(s);
    }
}

/* Several threads, one connection each, writing at the same time (the
** pipeline's reader and writer, or two jobs on one database). */
typedef struct writer_arg {
    const di_store_config *cfg;
    int part, rc;
    char msg[DI_ERROR_MSG_MAX];
} writer_arg;

static void *writer_thread(void *p)
{
    writer_arg *a = p;
    di_store *s = NULL;
    di_error err = {0};
    a->rc = di_store_open(a->cfg, false, &s, &err);
    for (int round = 0; a->rc == DI_OK && round < 10; round++) {
        di_store_result r[25];
        for (int i = 0; i < 25; i++) {
            int64_t id = 1 + a->part * 250 + round * 25 + i;
            r[i] = (di_store_result){.id = id, .face = 3, .ok = true, .score = expected_score(id, 3)};
        }
        a->rc = di_store_write_retry(s, r, 25, 30, NULL, &err);
        di_store_row rows[10];
        int n;
        if (a->rc == DI_OK)
            a->rc = di_store_fetch_pending(s, a->part * 250, 10, false, rows, &n, &err);
    }
    snprintf(a->msg, sizeof a->msg, "%s", err.msg);
    di_store_close(s);
    return NULL;
}

static void threads(const di_store_config *cfg)
{
    di_store_config c = *cfg;
    di_store *s = open_fresh(&c, "panorama");
    if (!s)
        return;
    insert_rows(s, 1, 1000);
    pthread_t th[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){.cfg = &c, .part = i};
        pthread_create(&th[i], NULL, writer_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECKF(args[i].rc == DI_OK, "thread %d: %d %s", i, args[i].rc, args[i].msg);
    }
    int64_t done[4] = {0, 0, 0, 1000}, failed[4] = {0};
    check_counts(s, 1000, done, failed, "after four writer threads");
    CHECK_NEAR(score_of(s, "zp_depth_index", 777), expected_score(777, 3), 1e-12);
    di_store_close(s);
}

/* Another schema: other names, two faces, a column pattern. */
static void custom(const char *u)
{
    di_store_config cfg;
    di_store_config_default(&cfg);
    cfg.url = u;
    cfg.table = "Faces2";
    cfg.id_column = "pid";
    cfg.sid_column = "name";
    cfg.nfaces = 2;
    cfg.faces[0] = "front";
    cfg.faces[1] = "back";
    cfg.column_pattern = "depth_{face}";
    di_store *s = open_fresh(&cfg, "Faces2");
    if (!s)
        return;
    di_error err;
    int64_t ids[3] = {10, 20, 30};
    const char *sids[3] = {"a", "b", "c"};
    CHECK(di_store_insert_panoramas(s, ids, sids, 3, &err) == DI_OK);
    di_store_result r[3] = {
        {.id = 10, .face = 0, .ok = true, .score = 0.5},
        {.id = 10, .face = 1, .ok = true, .score = 0.75},
        {.id = 20, .face = 1, .ok = false, .error = "missing image"},
    };
    CHECK(di_store_write(s, r, 3, &err) == DI_OK);
    di_store_row rows[4];
    int n;
    int rc = di_store_fetch_pending(s, 0, 4, false, rows, &n, &err);
    CHECKF(rc == DI_OK, "custom fetch: %s", err.msg);
    CHECK(n == 2 && rows[0].id == 20 && rows[0].pending == 3 && strcmp(rows[0].sid, "b") == 0 &&
          rows[1].id == 30);
    di_store_counts c;
    CHECK(di_store_count(s, &c, &err) == DI_OK);
    CHECK(c.rows == 3 && c.done[0] == 1 && c.done[1] == 1 && c.failed[1] == 1 &&
          c.failed[0] == 0);
    drop_tables(s, "Faces2");
    di_store_close(s);
}

/* Wrong password, unreachable host, unknown database. */
static void connection_errors(const char *u)
{
    di_url pu;
    di_error err;
    CHECK(di_url_parse(u, &pu, &err) == DI_OK);
    const char *scheme = strcmp(kind, "mariadb") == 0 ? "mysql" : "postgresql";
    char bad[2600];
    di_store_config cfg;
    di_store_config_default(&cfg);
    di_store *s = NULL;

    snprintf(bad, sizeof bad, "%s://%s:Wr0ngSecret42@%s:%d/%s", scheme, pu.user, pu.host,
             pu.port, pu.path);
    cfg.url = bad;
    int rc = di_store_open(&cfg, false, &s, &err);
    CHECKF(rc == DI_EAUTH, "wrong password: %d %s", rc, err.msg);
    CHECKF(!strstr(err.msg, "Wr0ngSecret42"), "password in message: %s", err.msg);
    /* the password from the configuration wins over the URL's */
    cfg.url = u;
    cfg.password = "An0therWrong";
    rc = di_store_open(&cfg, false, &s, &err);
    CHECKF(rc == DI_EAUTH && !strstr(err.msg, "An0therWrong"), "config password: %d %s", rc,
           err.msg);
    cfg.password = NULL;

    /* nothing listens on port 1 */
    snprintf(bad, sizeof bad, "%s://%s@127.0.0.1:1/%s", scheme, pu.user, pu.path);
    cfg.url = bad;
    double t0 = di_now();
    rc = di_store_open(&cfg, false, &s, &err);
    CHECKF(rc == DI_ECONN, "unreachable: %d %s", rc, err.msg);
    CHECKF(di_now() - t0 < 5.0, "unreachable took %.1f s", di_now() - t0);

    /* the other spellings of the scheme, password from the environment */
    snprintf(bad, sizeof bad, "%s://%s@%s:%d/%s", strcmp(scheme, "mysql") == 0 ? "mariadb" : "postgres",
             pu.user, pu.host, pu.port, pu.path);
    setenv("DEPTHINDEX_DB_PASSWORD", "di-secret", 1);
    rc = di_store_open(&cfg, false, &s, &err);
    unsetenv("DEPTHINDEX_DB_PASSWORD");
    CHECKF(rc == DI_OK, "%s: %d %s", bad, rc, err.msg);
    if (rc == DI_OK)
        di_store_close(s);

    snprintf(bad, sizeof bad, "%s://%s@%s:%d/no_such_db_di", scheme, pu.user, pu.host, pu.port);
    setenv("DEPTHINDEX_DB_PASSWORD", "di-secret", 1);
    rc = di_store_open(&cfg, false, &s, &err); /* the password from the environment */
    unsetenv("DEPTHINDEX_DB_PASSWORD");
    CHECKF(rc == DI_ESCHEMA && strstr(err.msg, "no_such_db_di"), "unknown database: %d %s", rc,
           err.msg);
}

/* Two connections to one SQLite file (the pipeline's reader and writer):
** WAL lets one read while the other writes; each sees the other's commits. */
static void two_connections(di_store_config *cfg)
{
    di_store *a = NULL, *b = NULL;
    di_error err;
    CHECK(di_store_open(cfg, false, &a, &err) == DI_OK);
    CHECK(di_store_open(cfg, false, &b, &err) == DI_OK);
    if (!a || !b) {
        di_store_close(a);
        di_store_close(b);
        return;
    }
    di_store_row rows[8];
    int n;
    int64_t after = 0;
    for (int round = 0; round < 20; round++) {
        CHECK(di_store_fetch_pending(a, after, 8, false, rows, &n, &err) == DI_OK && n == 8);
        di_store_result r[8];
        for (int i = 0; i < n; i++)
            r[i] = (di_store_result){.id = rows[i].id, .face = 0, .ok = true, .score = 9};
        int rc = di_store_write(b, r, n, &err);
        CHECKF(rc == DI_OK, "write on the second connection: %s", err.msg);
        after = rows[n - 1].id;
    }
    di_store_counts c1, c2;
    CHECK(di_store_count(a, &c1, &err) == DI_OK && di_store_count(b, &c2, &err) == DI_OK);
    CHECK(c1.done[0] == c2.done[0] && c1.done[0] >= 160);
    di_store_close(a);
    di_store_close(b);
}

static int server(const char *action)
{
    const char *sh = getenv("DI_TEST_SERVER_SH");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s", sh ? sh : "false", action, kind);
    return system(cmd);
}

/* A frozen server (its process stopped, TCP still up): the statement gives
** up after the configured timeout instead of hanging, and once the server
** runs again the retrying call goes through. */
static void frozen(const di_store_config *cfg)
{
    di_store_config fc = *cfg;
    fc.timeout = 2;
    di_store *s = NULL;
    di_error err;
    if (di_store_open(&fc, false, &s, &err) != DI_OK) {
        CHECKF(false, "open: %s", err.msg);
        return;
    }
    one_value v = {0};
    if (s->kind == DI_POSTGRESQL) {
        /* one backend process serves this connection: freeze that one */
        CHECK(s->ops->query(s, "SELECT pg_backend_pid()", 0, NULL, grab, &v, &err) == DI_OK);
    } else {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s pid %s", getenv("DI_TEST_SERVER_SH"), kind);
        FILE *f = popen(cmd, "r");
        if (f) {
            if (!fgets(v.text, sizeof v.text, f))
                v.text[0] = '\0';
            pclose(f);
        }
    }
    pid_t pid = (pid_t)atoi(v.text);
    CHECKF(pid > 1, "server pid '%s'", v.text);
    if (pid <= 1) {
        di_store_close(s);
        return;
    }
    di_store_row rows[4];
    int n;
    kill(pid, SIGSTOP);
    double t0 = di_now();
    int rc = di_store_fetch_pending(s, 0, 4, false, rows, &n, &err);
    double dt = di_now() - t0;
    kill(pid, SIGCONT);
    if (getenv("DI_TEST_VERBOSE"))
        printf("frozen %s: gave up after %.1f s: %s\n", kind, dt, err.msg);
    CHECKF(rc == DI_ECONN && dt >= 1.5 && dt < 10, "frozen server: rc %d after %.1f s: %s", rc,
           dt, err.msg);
    rc = di_store_fetch_pending_retry(s, 0, 4, true, rows, &n, 30, NULL, &err);
    CHECKF(rc == DI_OK && n == 4, "after the freeze: %d %s", rc, err.msg);
    di_store_close(s);
}

/* Writes rows [from, to) in batches, with a server restart before some. */
static void restart(di_store_config *cfg)
{
    di_store *s = open_fresh(cfg, "panorama");
    if (!s)
        return;
    di_error err;
    insert_rows(s, 1, 400);
    di_store_result res[100];
    int64_t next = 1;
    for (int round = 0; round < 4; round++) {
        di_store_row rows[100];
        int n;
        if (round == 1)
            CHECK(server("restart") == 0);
        if (round == 2) {
            /* down while the fetch retries; up again a second later */
            CHECK(server("stop") == 0);
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "(sleep 1.5; %s start %s) >/dev/null 2>&1 &",
                     getenv("DI_TEST_SERVER_SH"), kind);
            CHECK(system(cmd) == 0);
        }
        int rc = di_store_fetch_pending_retry(s, next - 1, 100, false, rows, &n, 60, NULL, &err);
        CHECKF(rc == DI_OK && n == 100, "fetch after restart %d: %d %s", round, rc, err.msg);
        if (rc)
            break;
        if (round == 3)
            CHECK(server("restart") == 0);
        int nr = 0;
        for (int i = 0; i < n; i++)
            res[nr++] = (di_store_result){.id = rows[i].id, .face = 0, .ok = true,
                                          .score = expected_score(rows[i].id, 0)};
        rc = di_store_write_retry(s, res, nr, 60, NULL, &err);
        CHECKF(rc == DI_OK, "write after restart %d: %s", round, err.msg);
        next = rows[n - 1].id + 1;
    }
    int64_t done[4] = {400, 0, 0, 0}, failed[4] = {0};
    check_counts(s, 400, done, failed, "after restarts");
    CHECK_NEAR(score_of(s, "xm_depth_index", 250), expected_score(250, 0), 1e-12);
    frozen(cfg);
    /* a stop request ends the retrying at once */
    CHECK(server("stop") == 0);
    atomic_bool stop = true;
    di_store_row rows[1];
    int n;
    int rc = di_store_fetch_pending_retry(s, 0, 1, false, rows, &n, 60, &stop, &err);
    CHECKF(rc == DI_EINTR, "stop: %d %s", rc, err.msg);
    /* a short deadline gives up with DI_ECONN */
    double t0 = di_now();
    rc = di_store_fetch_pending_retry(s, 0, 1, false, rows, &n, 0.5, NULL, &err);
    CHECKF(rc == DI_ECONN && di_now() - t0 < 3, "deadline: %d %s", rc, err.msg);
    CHECK(server("start") == 0);
    drop_tables(s, "panorama");
    di_store_close(s);
}

/* The server drops idle sessions after 2 s (the seed's crash): with-server.sh
** --timeouts 2 set wait_timeout, net_read_timeout and net_write_timeout
** (MariaDB) or idle_session_timeout (PostgreSQL) for this test's sessions. */
static void idle(di_store_config *cfg)
{
    di_store *s = open_fresh(cfg, "panorama");
    if (!s)
        return;
    di_error err;
    insert_rows(s, 1, 10);
    di_store_row rows[10];
    int n;
    CHECK(di_store_fetch_pending(s, 0, 10, false, rows, &n, &err) == DI_OK && n == 10);
    sleep(3);
    /* the server has closed the session: a plain call sees it */
    int rc = di_store_fetch_pending(s, 0, 10, false, rows, &n, &err);
    CHECKF(rc == DI_ECONN, "after the idle gap: %d %s", rc, err.msg);
    /* and the retrying one goes through */
    rc = di_store_fetch_pending_retry(s, 0, 10, false, rows, &n, 30, NULL, &err);
    CHECKF(rc == DI_OK && n == 10, "retry after idle: %d %s", rc, err.msg);
    sleep(3);
    di_store_result r = {.id = 3, .face = 1, .ok = true, .score = 0.5};
    rc = di_store_write_retry(s, &r, 1, 30, NULL, &err);
    CHECKF(rc == DI_OK, "write after idle: %s", err.msg);
    CHECK_NEAR(score_of(s, "xp_depth_index", 3), 0.5, 0);
    drop_tables(s, "panorama");
    di_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_store sqlite|mariadb|postgresql basic|restart|idle\n");
        return 2;
    }
    kind = argv[1];
    const char *mode = argv[2];
    char path[1200];
    url = store_test_url(kind, "test-store", path, sizeof path);
    if (!url)
        return 77;
    di_store_config cfg;
    di_store_config_default(&cfg);
    cfg.url = url;
    if (strcmp(mode, "basic") == 0) {
        basic(&cfg);
        custom(url);
        threads(&cfg);
        if (strcmp(kind, "sqlite") != 0)
            connection_errors(url);
        else {
            di_store *s;
            di_error err;
            di_store_config c2 = cfg;
            c2.url = "sqlite:/nonexistent-dir/x.db";
            CHECK(di_store_open(&c2, false, &s, &err) == DI_EIO);
            CHECK(di_store_open(&c2, true, &s, &err) == DI_EIO);
            two_connections(&cfg);
        }
    } else if (strcmp(mode, "restart") == 0) {
        restart(&cfg);
    } else if (strcmp(mode, "idle") == 0) {
        idle(&cfg);
    }
    if (strcmp(kind, "sqlite") == 0) {
        char f[1300];
        const char *p = url + 7;
        unlink(p);
        snprintf(f, sizeof f, "%s-wal", p);
        unlink(f);
        snprintf(f, sizeof f, "%s-shm", p);
        unlink(f);
    }
    return check_summary();
}

/*
** postgresql.c: PostgreSQL servers (postgresql:// URLs) through libpq.
** Statements are prepared once per connection (the SQL carries explicit
** casts, so the server knows every parameter's type); values travel as text.
** Errors are classified by SQLSTATE, and a connection that libpq reports as
** bad is DI_ECONN whatever the statement said.
*/
#include "store_internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_conn {
    PGconn *db;
    di_stmt_cache cache;
    int next_name;
} pg_conn;

static int sqlstate_status(const char *st)
{
    if (!st || strlen(st) != 5)
        return DI_EDB;
    if (strncmp(st, "08", 2) == 0 ||      /* connection exception */
        strcmp(st, "57P01") == 0 ||       /* admin shutdown */
        strcmp(st, "57P02") == 0 ||       /* crash shutdown */
        strcmp(st, "57P03") == 0 ||       /* cannot connect now (starting up) */
        strcmp(st, "57P05") == 0 ||       /* idle session timeout */
        strcmp(st, "40001") == 0 ||       /* serialization failure: retry */
        strcmp(st, "40P01") == 0 ||       /* deadlock: retry */
        strcmp(st, "53300") == 0)         /* too many connections, for now */
        return DI_ECONN;
    if (strncmp(st, "28", 2) == 0)        /* invalid authorization */
        return DI_EAUTH;
    if (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0 || strcmp(st, "3D000") == 0)
        return DI_ESCHEMA;
    if (strcmp(st, "53100") == 0)
        return DI_ENOSPC;
    return DI_EDB;
}

/* libpq's messages end with a newline and may span lines: keep the first. */
static void first_line(const char *msg, char *out, size_t n)
{
    snprintf(out, n, "%s", msg ? msg : "");
    out[strcspn(out, "\n")] = '\0';
}

static int pg_result_fail(PGconn *db, PGresult *r, const char *what, di_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = sqlstate_status(state);
    if (PQstatus(db) == CONNECTION_BAD)
        code = DI_ECONN;
    char line[400];
    first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(db), line, sizeof line);
    if (!line[0])
        first_line(PQerrorMessage(db), line, sizeof line);
    return di_fail(err, code, "%s: %s%s%s%s", what, line, state ? " (" : "",
                   state ? state : "", state ? ")" : "");
}

/* A failed connection has no SQLSTATE in libpq: read the message. */
static int connect_status(PGconn *db, const char *msg)
{
    (void)db;
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
        strstr(msg, "authentication failed") || strstr(msg, "role \"") ||
        strstr(msg, "permission denied"))
        return DI_EAUTH;
    if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
        return DI_ESCHEMA;
    return DI_ECONN;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_connect(di_store *s, di_error *err)
{
    pg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return di_fail(err, DI_ENOMEM, "out of memory");
    char port[16];
    snprintf(port, sizeof port, "%d", s->url.port ? s->url.port : 5432);
    /* Keyword arrays, not a conninfo string: nothing needs escaping. The
    ** timeouts and keepalives make a dead server an error, not a hang. */
    const char *keys[16], *vals[16];
    int k = 0;
    keys[k] = "host", vals[k++] = s->url.host;
    keys[k] = "port", vals[k++] = port;
    keys[k] = "dbname", vals[k++] = s->url.path;
    if (s->url.user[0])
        keys[k] = "user", vals[k++] = s->url.user;
    if (s->has_password)
        keys[k] = "password", vals[k++] = s->password;
    char connect_timeout[16], user_timeout[24];
    snprintf(connect_timeout, sizeof connect_timeout, "%d",
             s->timeout < DI_STORE_CONNECT_TIMEOUT ? (int)s->timeout + 1
                                                   : (int)DI_STORE_CONNECT_TIMEOUT);
    snprintf(user_timeout, sizeof user_timeout, "%.0f", s->timeout * 1000);
    keys[k] = "connect_timeout", vals[k++] = connect_timeout;
    keys[k] = "application_name", vals[k++] = "depthindex";
    keys[k] = "client_encoding", vals[k++] = "UTF8";
    keys[k] = "keepalives", vals[k++] = "1";
    keys[k] = "keepalives_idle", vals[k++] = "10";
    keys[k] = "keepalives_interval", vals[k++] = "5";
    keys[k] = "keepalives_count", vals[k++] = "3";
    keys[k] = "tcp_user_timeout", vals[k++] = user_timeout;
    keys[k] = NULL, vals[k] = NULL;
    /* Connecting without blocking, so that the wait ends at the deadline of
    ** a retry window or soon after a stop (connect_timeout stays as the
    ** library's own bound). */
    PGconn *db = PQconnectStartParams(keys, vals, 0);
    if (!db) {
        free(c);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    s->connecting = true;
    double end = di_store_wait_end(s);
    s->connecting = false;
    bool late = false;
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    while (PQstatus(db) != CONNECTION_BAD && ps != PGRES_POLLING_OK &&
           ps != PGRES_POLLING_FAILED) {
        if (di_store_wait_over(s, &end)) {
            late = true;
            break;
        }
        double left = end - di_now();
        struct pollfd pfd = {.fd = PQsocket(db),
                             .events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int pr = poll(&pfd, 1, (int)((left < 0.1 ? left : 0.1) * 1000) + 1);
        if (pr > 0 || (pr < 0 && errno != EINTR))
            ps = PQconnectPoll(db);
    }
    if (late || PQstatus(db) != CONNECTION_OK) {
        char line[400];
        first_line(PQerrorMessage(db), line, sizeof line);
        int rc = late ? di_fail(err, DI_ECONN, "cannot connect: %s",
                                s->cancel && atomic_load(s->cancel)
                                    ? "stopped while waiting for the server"
                                    : "no answer from the server in time")
                      : di_fail(err, connect_status(db, PQerrorMessage(db)),
                                "cannot connect: %s", line);
        PQfinish(db);
        free(c);
        return rc;
    }
    /* Library code never prints: drop the server's notices (for example
    ** "relation already exists, skipping"). */
    PQsetNoticeProcessor(db, ignore_notice, NULL);
    /* sending never blocks either: pg_answer flushes what is left */
    PQsetnonblocking(db, 1);
    c->db = db;
    s->conn = c;
    return DI_OK;
}

static void pg_disconnect(di_store *s)
{
    pg_conn *c = s->conn;
    if (!c)
        return;
    /* prepared statements die with the session; only the names are freed */
    di_stmt_cache_clear(&c->cache, free);
    PQfinish(c->db);
    free(c);
    s->conn = NULL;
}

static void pg_disconnect(di_store *s);

/* Waits, at most s->timeout seconds, for the answer to what was just sent
** (PQsend*), and returns its result: the first error, or else the last
** result. NULL when there is no answer in time or the connection broke: then
** the connection is closed (a half-answered one is useless) and err says
** why, as DI_ECONN. */
static PGresult *pg_answer(di_store *s, bool sent, const char *what, di_error *err)
{
    pg_conn *c = s->conn;
    double end = di_store_wait_end(s);
    PGresult *keep = NULL;
    const char *why = NULL;
    bool late = false;
    if (!sent)
        why = "could not send";
    int flushing = sent ? 1 : 0; /* 1 while PQflush has more to send */
    while (!why) {
        while (!why && (flushing || PQisBusy(c->db))) {
            if (di_store_wait_over(s, &end)) {
                why = "no answer in time";
                late = true;
                break;
            }
            if (flushing && (flushing = PQflush(c->db)) < 0) {
                why = "could not send";
                break;
            }
            if (!flushing && !PQisBusy(c->db))
                break;
            double left = end - di_now();
            struct pollfd pfd = {.fd = PQsocket(c->db),
                                 .events = POLLIN | (flushing ? POLLOUT : 0)};
            /* slices of 0.1 s: a stop request is seen that soon */
            int pr = poll(&pfd, 1, (int)((left < 0.1 ? left : 0.1) * 1000) + 1);
            if (pr < 0 && errno != EINTR)
                why = "poll failed";
            else if (pr > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
                     !PQconsumeInput(c->db))
                why = "connection lost";
        }
        if (why)
            break;
        PGresult *r = PQgetResult(c->db);
        if (!r)
            return keep;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
    PQclear(keep);
    char line[400];
    first_line(PQerrorMessage(c->db), line, sizeof line);
    if (late && s->cancel && atomic_load(s->cancel))
        di_fail(err, DI_ECONN, "%s: stopped while waiting for the server", what);
    else if (late)
        di_fail(err, DI_ECONN, "%s: no answer from the server in time (%.0f s)", what,
                s->timeout);
    else
        di_fail(err, DI_ECONN, "%s: %s%s%s", what, why, line[0] ? ": " : "", line);
    pg_disconnect(s);
    return NULL;
}

static int pg_exec(di_store *s, const char *sql, di_error *err)
{
    pg_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    PGresult *r = pg_answer(s, PQsendQuery(c->db, sql), "statement", err);
    if (!r)
        return DI_ECONN;
    ExecStatusType st = PQresultStatus(r);
    int rc = DI_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_result_fail(c->db, r, "statement", err);
    PQclear(r);
    return rc;
}

static int pg_rows(PGresult *r, di_row_fn fn, void *ctx, di_error *err)
{
    int ncols = PQnfields(r), nrows = PQntuples(r);
    enum { MAXC = 2 + DI_STORE_MAX_FACES + 8 };
    if (ncols > MAXC)
        return di_fail(err, DI_EDB, "too many result columns (%d)", ncols);
    const char *vals[MAXC];
    for (int i = 0; i < nrows; i++) {
        for (int j = 0; j < ncols; j++)
            vals[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
        int rc = fn(ctx, ncols, vals, err);
        if (rc)
            return rc;
    }
    return DI_OK;
}

static int pg_query(di_store *s, const char *sql, int np, const di_param *p, di_row_fn fn,
                    void *ctx, di_error *err)
{
    pg_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    const char *name = di_stmt_cache_find(&c->cache, sql);
    if (!name) {
        char *n = malloc(24);
        if (!n)
            return di_fail(err, DI_ENOMEM, "out of memory");
        snprintf(n, 24, "di_%d", c->next_name++);
        PGresult *r = pg_answer(s, PQsendPrepare(c->db, n, sql, np, NULL), "prepare", err);
        if (!r) {
            free(n);
            return DI_ECONN;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int rc = pg_result_fail(c->db, r, "prepare", err);
            PQclear(r);
            free(n);
            return rc;
        }
        PQclear(r);
        if (!di_stmt_cache_add(&c->cache, sql, n)) {
            free(n);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
        name = n;
    }
    const char **values = np ? malloc((size_t)np * sizeof *values) : NULL;
    char (*num)[32] = np ? malloc((size_t)np * sizeof *num) : NULL;
    if (np && (!values || !num)) {
        free(values);
        free(num);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < np; i++) {
        switch (p[i].type) {
        case DI_P_INT:
            snprintf(num[i], sizeof num[i], "%lld", (long long)p[i].i);
            values[i] = num[i];
            break;
        case DI_P_REAL:
            snprintf(num[i], sizeof num[i], "%.17g", p[i].d);
            values[i] = num[i];
            break;
        case DI_P_TEXT:
            values[i] = p[i].s;
            break;
        default:
            values[i] = NULL;
        }
    }
    PGresult *r = pg_answer(s, PQsendQueryPrepared(c->db, name, np, values, NULL, NULL, 0),
                            "query", err);
    if (!r) {
        free(values);
        free(num);
        return DI_ECONN;
    }
    ExecStatusType st = PQresultStatus(r);
    int rc = DI_OK;
    const char *tuples = PQcmdTuples(r);
    s->changes = tuples && tuples[0] ? strtoll(tuples, NULL, 10) : -1;
    s->row_cut = s->row_nul = 0; /* PostgreSQL text holds no NUL; values come whole */
    if (st == PGRES_TUPLES_OK) {
        if (fn)
            rc = pg_rows(r, fn, ctx, err);
    } else if (st != PGRES_COMMAND_OK) {
        rc = pg_result_fail(c->db, r, "query", err);
    }
    PQclear(r);
    free(values);
    free(num);
    return rc;
}

static int pg_columns(di_store *s, const char *table, di_row_fn fn, void *ctx, di_error *err)
{
    pg_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" WHERE false", table);
    PGresult *r = pg_answer(s, PQsendQuery(c->db, sql), table, err);
    if (!r)
        return DI_ECONN;
    int rc = DI_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        if (state && strcmp(state, "42P01") == 0 && PQstatus(c->db) == CONNECTION_OK)
            rc = di_fail_detail(err, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "table %s does not exist", table);
        else
            rc = pg_result_fail(c->db, r, table, err);
    } else {
        for (int i = 0; i < PQnfields(r) && rc == DI_OK; i++) {
            const char *name = PQfname(r, i);
            rc = fn(ctx, 1, &name, err);
        }
    }
    PQclear(r);
    return rc;
}

const di_store_ops di_store_postgresql_ops = {
    .name = "postgresql",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .query = pg_query,
    .columns = pg_columns,
};

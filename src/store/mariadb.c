/*
** mariadb.c: MariaDB and MySQL servers (mysql:// and mariadb:// URLs) through
** MariaDB Connector/C. Server-side prepared statements, cached per
** connection; no automatic reconnect inside the library (a reconnect would
** silently lose the session's prepared statements and an open transaction):
** a lost connection is DI_ECONN and the store's retry loop reconnects.
**
** Every call that waits for the server goes through the library's
** non-blocking API (NB_CALL): we poll the socket ourselves, so a wait ends
** at its deadline or soon after a stop request (di_store_wait_over) even
** when the server is frozen and the connection still up. A wait given up
** shuts the socket down and lets the call fail at once, as a lost
** connection (DI_ECONN): the call cleans up after itself and the retry loop
** reconnects. The read/write timeouts stay set for the few blocking calls
** (closing statements and the connection).
*/
#include "store_internal.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#define RESULT_TEXT_MAX 1024

typedef struct maria_conn {
    MYSQL *db;
    di_stmt_cache cache;
} maria_conn;

/* Errors worth a reconnect-and-retry, those that say who is wrong, and
** those that name a missing database, table or column. */
static int maria_status(unsigned e)
{
    switch (e) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_ABORTING_CONNECTION:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_READ_ERROR:
    case 1159: /* ER_NET_READ_INTERRUPTED */
    case 1160: /* ER_NET_ERROR_ON_WRITE */
    case 1161: /* ER_NET_WRITE_INTERRUPTED */
    case 1040: /* ER_CON_COUNT_ERROR: too many connections, for now */
    case 1205: /* ER_LOCK_WAIT_TIMEOUT: the transaction can be retried */
    case 1213: /* ER_LOCK_DEADLOCK: rolled back, can be retried */
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8: wait_timeout) */
        return DI_ECONN;
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
        return DI_EAUTH;
    case ER_BAD_DB_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
        return DI_ESCHEMA;
    case 1021: /* ER_DISK_FULL */
    case 1114: /* ER_RECORD_FILE_FULL */
        return DI_ENOSPC;
    default:
        return DI_EDB;
    }
}

static int maria_fail(MYSQL *db, const char *what, di_error *err)
{
    unsigned e = mysql_errno(db);
    return di_fail(err, maria_status(e), "%s: %s (%u)", what, mysql_error(db), e);
}

static int stmt_fail(MYSQL_STMT *st, const char *what, di_error *err)
{
    unsigned e = mysql_stmt_errno(st);
    return di_fail(err, maria_status(e), "%s: %s (%u)", what, mysql_stmt_error(st), e);
}

/* ---- waiting for the server ---- */

/* Waits for what a non-blocking call asked for (MYSQL_WAIT_* bits) and
** returns what happened, for its _cont. Once the wait is over (time up or
** stop) the socket is shut down and *gave_up set: every read then fails at
** once, so the call ends with an error instead of waiting on. */
static int nb_wait(di_store *s, MYSQL *db, int status, double *end, bool *gave_up)
{
    double lib_end = 0;
    if (status & MYSQL_WAIT_TIMEOUT)
        lib_end = di_now() + mysql_get_timeout_value_ms(db) / 1000.0;
    for (;;) {
        int fd = mysql_get_socket(db);
        if (!*gave_up && di_store_wait_over(s, end)) {
            *gave_up = true;
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
        }
        double now = di_now(), slice = *gave_up ? 0.01 : *end - now;
        if (slice > 0.1)
            slice = 0.1; /* look at the stop flag this often */
        if (lib_end > 0 && lib_end - now < slice)
            slice = lib_end - now > 0 ? lib_end - now : 0;
        struct pollfd pfd = {.fd = fd, .events = 0};
        if (status & MYSQL_WAIT_READ)
            pfd.events |= POLLIN;
        if (status & MYSQL_WAIT_WRITE)
            pfd.events |= POLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
            pfd.events |= POLLPRI;
        int r = poll(&pfd, fd >= 0 ? 1 : 0, (int)(slice * 1000) + 1);
        if (r > 0) {
            int got = 0;
            if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
                got |= MYSQL_WAIT_READ;
            if (pfd.revents & (POLLOUT | POLLERR | POLLHUP))
                got |= MYSQL_WAIT_WRITE;
            if (pfd.revents & POLLPRI)
                got |= MYSQL_WAIT_EXCEPT;
            if (got & status)
                return got & status;
        } else if (r < 0 && errno != EINTR) {
            return status & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE);
        }
        if (lib_end > 0 && di_now() >= lib_end)
            return MYSQL_WAIT_TIMEOUT;
        if (*gave_up && fd < 0)
            return status; /* nothing to wait on: let the call fail */
    }
}

/* Runs a non-blocking call to its end: start_call returns the first wait
** status, cont_call (which reads st_) the next. gave_up says whether the
** wait was cut short. */
#define NB_CALL(s, db, gave_up, start_call, cont_call)                    \
    do {                                                                  \
        double end_ = di_store_wait_end(s);                               \
        (gave_up) = false;                                                \
        int st_ = (start_call);                                           \
        while (st_) {                                                     \
            st_ = nb_wait((s), (db), st_, &end_, &(gave_up));             \
            st_ = (cont_call);                                            \
        }                                                                 \
    } while (0)

/* The error of a call whose wait was given up: a lost connection. */
static int gave_up_fail(di_store *s, const char *what, di_error *err)
{
    if (s->cancel && atomic_load(s->cancel))
        return di_fail(err, DI_ECONN, "%s: stopped while waiting for the server", what);
    return di_fail(err, DI_ECONN, "%s: no answer from the server in time (%.0f s)", what,
                   s->connecting && DI_STORE_CONNECT_TIMEOUT < s->timeout
                       ? DI_STORE_CONNECT_TIMEOUT : s->timeout);
}

/* mysql_init() initialises the library on first use, which is not thread
** safe: the pipeline's reader and writer may connect at the same time. */
static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_status;

static void library_init(void)
{
    library_status = mysql_library_init(0, NULL, NULL);
}

static int maria_connect(di_store *s, di_error *err)
{
    pthread_once(&library_once, library_init);
    if (library_status)
        return di_fail(err, DI_EDB, "MariaDB Connector/C failed to initialise");
    maria_conn *c = calloc(1, sizeof *c);
    MYSQL *db = c ? mysql_init(NULL) : NULL;
    if (!db) {
        free(c);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    /* A dead server must not hang the job: bounded connect, read and write. */
    unsigned io_timeout = (unsigned)(s->timeout + 0.999);
    unsigned connect_timeout = io_timeout < (unsigned)DI_STORE_CONNECT_TIMEOUT
                                   ? io_timeout : (unsigned)DI_STORE_CONNECT_TIMEOUT;
    my_bool no = 0;
    mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(db, MYSQL_OPT_RECONNECT, &no);
    mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(db, MYSQL_OPT_NONBLOCK, 0);
    const char *user = s->url.user[0] ? s->url.user : NULL;
    const char *pw = s->has_password ? s->password : NULL;
    unsigned port = s->url.port ? (unsigned)s->url.port : 3306;
    /* CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, also those
    ** it left as they were (di_store_write checks the count). */
    MYSQL *ok = NULL;
    bool gave_up;
    s->connecting = true;
    NB_CALL(s, db, gave_up,
            mysql_real_connect_start(&ok, db, s->url.host, user, pw, s->url.path, port, NULL,
                                     CLIENT_FOUND_ROWS),
            mysql_real_connect_cont(&ok, db, st_));
    if (!ok) {
        int rc = gave_up ? gave_up_fail(s, "cannot connect", err)
                         : maria_fail(db, "cannot connect", err);
        s->connecting = false;
        mysql_close(db);
        free(c);
        return rc;
    }
    s->connecting = false;
    c->db = db;
    s->conn = c;
    return DI_OK;
}

static void stmt_close(void *st)
{
    mysql_stmt_close(st);
}

static void maria_disconnect(di_store *s)
{
    maria_conn *c = s->conn;
    if (!c)
        return;
    di_stmt_cache_clear(&c->cache, stmt_close);
    mysql_close(c->db);
    free(c);
    s->conn = NULL;
}

static int maria_exec(di_store *s, const char *sql, di_error *err)
{
    maria_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    int ret = 0;
    bool gave_up;
    NB_CALL(s, c->db, gave_up, mysql_real_query_start(&ret, c->db, sql, strlen(sql)),
            mysql_real_query_cont(&ret, c->db, st_));
    if (gave_up)
        return gave_up_fail(s, "statement", err);
    if (ret)
        return maria_fail(c->db, "statement", err);
    MYSQL_RES *r = NULL;
    NB_CALL(s, c->db, gave_up, mysql_store_result_start(&r, c->db),
            mysql_store_result_cont(&r, c->db, st_));
    if (r)
        mysql_free_result(r);
    if (gave_up)
        return gave_up_fail(s, "statement", err);
    s->changes = (int64_t)mysql_affected_rows(c->db);
    return DI_OK;
}

/* Fetches the rows of an executed statement and hands them to fn. A value
** longer than RESULT_TEXT_MAX - 1 bytes is cut and flagged (s->row_cut), one
** with a NUL byte flagged (s->row_nul): the caller decides. */
static int fetch_rows(di_store *s, MYSQL *db, MYSQL_STMT *st, di_row_fn fn, void *ctx,
                      di_error *err)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (!meta)
        return DI_OK; /* no result set */
    int ncols = (int)mysql_num_fields(meta);
    enum { MAXC = 2 + DI_STORE_MAX_FACES + 8 };
    if (ncols > MAXC) {
        mysql_free_result(meta);
        return di_fail(err, DI_EDB, "too many result columns (%d)", ncols);
    }
    MYSQL_BIND b[MAXC];
    char (*buf)[RESULT_TEXT_MAX] = malloc((size_t)MAXC * RESULT_TEXT_MAX);
    unsigned long len[MAXC];
    my_bool isnull[MAXC];
    if (!buf) {
        mysql_free_result(meta);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    memset(b, 0, sizeof b);
    for (int i = 0; i < ncols; i++) {
        b[i].buffer_type = MYSQL_TYPE_STRING;
        b[i].buffer = buf[i];
        b[i].buffer_length = RESULT_TEXT_MAX;
        b[i].length = &len[i];
        b[i].is_null = &isnull[i];
    }
    int status = DI_OK;
    if (mysql_stmt_bind_result(st, b))
        status = stmt_fail(st, "bind result", err);
    while (status == DI_OK) {
        int r = 0;
        bool gave_up;
        NB_CALL(s, db, gave_up, mysql_stmt_fetch_start(&r, st),
                mysql_stmt_fetch_cont(&r, st, st_));
        if (gave_up) {
            status = gave_up_fail(s, "fetch", err);
            break;
        }
        if (r == MYSQL_NO_DATA)
            break;
        if (r != 0 && r != MYSQL_DATA_TRUNCATED) {
            status = stmt_fail(st, "fetch", err);
            break;
        }
        const char *vals[MAXC];
        s->row_cut = s->row_nul = 0;
        for (int i = 0; i < ncols; i++) {
            size_t n = len[i] < RESULT_TEXT_MAX ? len[i] : RESULT_TEXT_MAX - 1;
            if (!isnull[i] && len[i] >= RESULT_TEXT_MAX)
                s->row_cut |= 1u << i;
            if (!isnull[i] && memchr(buf[i], 0, n))
                s->row_nul |= 1u << i;
            buf[i][n] = '\0';
            vals[i] = isnull[i] ? NULL : buf[i];
        }
        if (fn)
            status = fn(ctx, ncols, vals, err);
    }
    mysql_stmt_free_result(st);
    mysql_free_result(meta);
    free(buf);
    return status;
}

static int maria_query(di_store *s, const char *sql, int np, const di_param *p,
                       di_row_fn fn, void *ctx, di_error *err)
{
    maria_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    MYSQL_STMT *st = di_stmt_cache_find(&c->cache, sql);
    bool gave_up;
    if (!st) {
        st = mysql_stmt_init(c->db);
        if (!st)
            return maria_fail(c->db, "prepare", err);
        int ret = 0;
        NB_CALL(s, c->db, gave_up, mysql_stmt_prepare_start(&ret, st, sql, strlen(sql)),
                mysql_stmt_prepare_cont(&ret, st, st_));
        if (gave_up || ret) {
            int rc = gave_up ? gave_up_fail(s, "prepare", err) : stmt_fail(st, "prepare", err);
            mysql_stmt_close(st);
            return rc;
        }
        if (!di_stmt_cache_add(&c->cache, sql, st)) {
            mysql_stmt_close(st);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
    }
    if ((int)mysql_stmt_param_count(st) != np)
        return di_fail(err, DI_EDB, "statement expects %lu parameters, got %d",
                       mysql_stmt_param_count(st), np);
    MYSQL_BIND *b = np ? calloc((size_t)np, sizeof *b) : NULL;
    unsigned long *lens = np ? calloc((size_t)np, sizeof *lens) : NULL;
    if (np && (!b || !lens)) {
        free(b);
        free(lens);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < np; i++) {
        switch (p[i].type) {
        case DI_P_INT:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&p[i].i;
            break;
        case DI_P_REAL:
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = (void *)&p[i].d;
            break;
        case DI_P_TEXT:
            lens[i] = strlen(p[i].s);
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = (void *)p[i].s;
            b[i].buffer_length = lens[i];
            b[i].length = &lens[i];
            break;
        default:
            b[i].buffer_type = MYSQL_TYPE_NULL;
        }
    }
    int status = DI_OK, ret = 0;
    s->changes = -1;
    if (np && mysql_stmt_bind_param(st, b)) {
        status = stmt_fail(st, "bind", err);
    } else {
        NB_CALL(s, c->db, gave_up, mysql_stmt_execute_start(&ret, st),
                mysql_stmt_execute_cont(&ret, st, st_));
        if (gave_up)
            status = gave_up_fail(s, "query", err);
        else if (ret)
            status = stmt_fail(st, "query", err);
        else {
            s->changes = (int64_t)mysql_stmt_affected_rows(st);
            status = fetch_rows(s, c->db, st, fn, ctx, err);
        }
    }
    free(b);
    free(lens);
    return status;
}

static int maria_columns(di_store *s, const char *table, di_row_fn fn, void *ctx,
                         di_error *err)
{
    maria_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM `%s` WHERE 1 = 0", table);
    int ret = 0;
    bool gave_up;
    NB_CALL(s, c->db, gave_up, mysql_real_query_start(&ret, c->db, sql, strlen(sql)),
            mysql_real_query_cont(&ret, c->db, st_));
    if (gave_up)
        return gave_up_fail(s, table, err);
    if (ret) {
        if (mysql_errno(c->db) == ER_NO_SUCH_TABLE)
            return di_fail_detail(err, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "table %s does not exist", table);
        return maria_fail(c->db, table, err);
    }
    MYSQL_RES *r = NULL;
    NB_CALL(s, c->db, gave_up, mysql_store_result_start(&r, c->db),
            mysql_store_result_cont(&r, c->db, st_));
    if (gave_up) {
        if (r)
            mysql_free_result(r);
        return gave_up_fail(s, table, err);
    }
    if (!r)
        return maria_fail(c->db, table, err);
    int status = DI_OK;
    unsigned n = mysql_num_fields(r);
    MYSQL_FIELD *f = mysql_fetch_fields(r);
    for (unsigned i = 0; i < n && status == DI_OK; i++) {
        const char *name = f[i].name;
        status = fn(ctx, 1, &name, err);
    }
    mysql_free_result(r);
    return status;
}

const di_store_ops di_store_mariadb_ops = {
    .name = "mariadb",
    .connect = maria_connect,
    .disconnect = maria_disconnect,
    .exec = maria_exec,
    .query = maria_query,
    .columns = maria_columns,
};

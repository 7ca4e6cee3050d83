/*
** mariadb.c: MariaDB and MySQL servers (mysql:// and mariadb:// URLs) through
** MariaDB Connector/C. Server-side prepared statements, cached per
** connection; no automatic reconnect inside the library (a reconnect would
** silently lose the session's prepared statements and an open transaction):
** a lost connection is DI_ECONN and the store's retry loop reconnects.
*/
#include "store_internal.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
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
    unsigned connect_timeout = io_timeout < 5 ? io_timeout : 5;
    my_bool no = 0;
    mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(db, MYSQL_OPT_RECONNECT, &no);
    mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char *user = s->url.user[0] ? s->url.user : NULL;
    const char *pw = s->has_password ? s->password : NULL;
    unsigned port = s->url.port ? (unsigned)s->url.port : 3306;
    if (!mysql_real_connect(db, s->url.host, user, pw, s->url.path, port, NULL, 0)) {
        int rc = maria_fail(db, "cannot connect", err);
        mysql_close(db);
        free(c);
        return rc;
    }
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
    if (mysql_real_query(c->db, sql, strlen(sql)))
        return maria_fail(c->db, "statement", err);
    MYSQL_RES *r = mysql_store_result(c->db);
    if (r)
        mysql_free_result(r);
    return DI_OK;
}

/* Fetches the rows of an executed statement and hands them to fn. */
static int fetch_rows(MYSQL_STMT *st, di_row_fn fn, void *ctx, di_error *err)
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
        int r = mysql_stmt_fetch(st);
        if (r == MYSQL_NO_DATA)
            break;
        if (r == MYSQL_DATA_TRUNCATED) {
            status = di_fail(err, DI_EDB, "a result value is longer than %d bytes",
                             RESULT_TEXT_MAX - 1);
            break;
        }
        if (r != 0) {
            status = stmt_fail(st, "fetch", err);
            break;
        }
        const char *vals[MAXC];
        for (int i = 0; i < ncols; i++) {
            buf[i][len[i] < RESULT_TEXT_MAX ? len[i] : RESULT_TEXT_MAX - 1] = '\0';
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
    if (!st) {
        st = mysql_stmt_init(c->db);
        if (!st)
            return maria_fail(c->db, "prepare", err);
        if (mysql_stmt_prepare(st, sql, strlen(sql))) {
            int rc = stmt_fail(st, "prepare", err);
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
    int status = DI_OK;
    if (np && mysql_stmt_bind_param(st, b))
        status = stmt_fail(st, "bind", err);
    else if (mysql_stmt_execute(st))
        status = stmt_fail(st, "query", err);
    else
        status = fetch_rows(st, fn, ctx, err);
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
    if (mysql_real_query(c->db, sql, strlen(sql))) {
        if (mysql_errno(c->db) == ER_NO_SUCH_TABLE)
            return di_fail_detail(err, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "table %s does not exist", table);
        return maria_fail(c->db, table, err);
    }
    MYSQL_RES *r = mysql_store_result(c->db);
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

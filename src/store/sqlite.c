/*
** sqlite.c: the embedded backend (sqlite:PATH). WAL journal, so that readers
** (depthindex status) never block the writer; a busy timeout, so that two
** processes on one file wait for each other instead of failing at once.
*/
#include "store_internal.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sqlite_conn {
    sqlite3 *db;
    di_stmt_cache cache;
    di_store *s;     /* its stop flag, for the busy handler */
    double busy_end; /* when the present wait for the file gives up */
} sqlite_conn;

/* How long a statement waits for another process's lock on the file. */
#define BUSY_WAIT 10.0

/* Another process holds the file: wait for it, as sqlite3_busy_timeout
** would (BUSY_WAIT in all, naps of 1 ms growing to 50 ms), but watching the
** stop flag and the deadline of the _retry call in progress: its own
** sleeps would hold a stopping run up to BUSY_WAIT per statement, this
** gives up within DI_STORE_STOP_GRACE of the stop (SQLITE_BUSY, then
** DI_EINTR by the retry loop). */
static int busy_wait(void *arg, int count)
{
    sqlite_conn *c = arg;
    double now = di_now();
    if (count == 0) { /* no later than the _retry call's own deadline */
        double end = di_store_wait_end(c->s);
        c->busy_end = now + BUSY_WAIT < end ? now + BUSY_WAIT : end;
    }
    if (di_store_wait_over(c->s, &c->busy_end))
        return 0;
    double nap = count < 6 ? 0.001 * (1 << count) : 0.05;
    if (nap > c->busy_end - now)
        nap = c->busy_end - now;
    di_sleep(nap);
    return 1;
}

/* Maps an SQLite result code and message to a DI status. */
static int sqlite_fail(sqlite3 *db, int rc, const char *what, di_error *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code = DI_EDB;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = DI_ECONN; /* another process holds the file: worth a retry */
        break;
    case SQLITE_FULL:
        code = DI_ENOSPC;
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_READONLY:
        code = DI_EIO;
        break;
    case SQLITE_NOMEM:
        code = DI_ENOMEM;
        break;
    default:
        if (strstr(msg, "no such table") || strstr(msg, "no such column") ||
            strstr(msg, "has no column"))
            code = DI_ESCHEMA;
    }
    /* "disk I/O error" alone does not say that the disk is full or the
    ** folder read-only: the system's reason does. */
    int sys = db && (code == DI_EIO || code == DI_ENOSPC) ? sqlite3_system_errno(db) : 0;
    if (sys == ENOSPC || sys == EDQUOT)
        code = DI_ENOSPC;
    if (sys)
        return di_fail(err, code, "%s: %s (%s)", what, msg, strerror(sys));
    return di_fail(err, code, "%s: %s", what, msg);
}

static int sqlite_connect(di_store *s, di_error *err)
{
    sqlite_conn *c = calloc(1, sizeof *c);
    if (!c)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int flags = (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOMUTEX;
    if (s->create)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(s->url.path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        struct stat st;
        bool cantopen = (rc & 0xff) == SQLITE_CANTOPEN;
        bool exists = stat(s->url.path, &st) == 0;
        if (cantopen && !s->create && !exists)
            rc = di_fail(err, DI_EIO, "no such database file (`depthindex init` creates it)");
        else if (cantopen && exists && S_ISDIR(st.st_mode))
            rc = di_fail(err, DI_EIO, "is a directory, not a database file");
        else
            rc = sqlite_fail(c->db, rc, "open", err);
        sqlite3_close(c->db);
        free(c);
        return rc;
    }
    c->s = s;
    sqlite3_busy_handler(c->db, busy_wait, c);
    sqlite3_extended_result_codes(c->db, 0);
    /* WAL: readers do not block the writer. NORMAL sync is durable against
    ** a crash of this process, which is what a resumable job needs. A small
    ** page cache (512 KiB instead of 2 MiB): the job reads keyset pages and
    ** updates rows by primary key, which the OS's file cache serves as well,
    ** and the process's memory then does not grow with the table. */
    const char *setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        " PRAGMA cache_size=-512;";
    /* Read-only (status): a file that may not be written, or belongs to
    ** someone else, keeps its journal mode. */
    if (s->read_only)
        setup = "PRAGMA cache_size=-512;";
    char *msg = NULL;
    rc = sqlite3_exec(c->db, setup, NULL, NULL, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK) {
        rc = sqlite_fail(c->db, rc, "setting WAL mode", err);
        sqlite3_close(c->db);
        free(c);
        return rc;
    }
    s->conn = c;
    return DI_OK;
}

static void finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void sqlite_disconnect(di_store *s)
{
    sqlite_conn *c = s->conn;
    if (!c)
        return;
    di_stmt_cache_clear(&c->cache, finalize);
    sqlite3_close(c->db);
    free(c);
    s->conn = NULL;
}

static int sqlite_exec(di_store *s, const char *sql, di_error *err)
{
    sqlite_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DI_OK : sqlite_fail(c->db, rc, "statement", err);
}

static int sqlite_query(di_store *s, const char *sql, int np, const di_param *p,
                        di_row_fn fn, void *ctx, di_error *err)
{
    sqlite_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    sqlite3_stmt *st = di_stmt_cache_find(&c->cache, sql);
    if (!st) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
            return sqlite_fail(c->db, rc, "prepare", err);
        if (!di_stmt_cache_add(&c->cache, sql, st)) {
            sqlite3_finalize(st);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
    }
    int rc = SQLITE_OK;
    for (int i = 0; i < np && rc == SQLITE_OK; i++) {
        switch (p[i].type) {
        case DI_P_INT:
            rc = sqlite3_bind_int64(st, i + 1, p[i].i);
            break;
        case DI_P_REAL:
            rc = sqlite3_bind_double(st, i + 1, p[i].d);
            break;
        case DI_P_TEXT:
            rc = sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, i + 1);
        }
    }
    if (rc != SQLITE_OK) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return sqlite_fail(c->db, rc, "bind", err);
    }
    int status = DI_OK;
    const char *vals[2 + DI_STORE_MAX_FACES + 8];
    s->changes = -1;
    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            if (!sqlite3_stmt_readonly(st))
                s->changes = sqlite3_changes64(c->db);
            break;
        }
        if (rc != SQLITE_ROW) {
            /* sqlite3_reset returns the statement's real error code */
            rc = sqlite3_reset(st);
            status = sqlite_fail(c->db, rc, "query", err);
            break;
        }
        int n = sqlite3_column_count(st);
        if (n > (int)(sizeof vals / sizeof vals[0]))
            n = (int)(sizeof vals / sizeof vals[0]);
        s->row_cut = s->row_nul = 0;
        for (int i = 0; i < n; i++) {
            vals[i] = (const char *)sqlite3_column_text(st, i);
            /* a text or blob with a NUL byte inside would read as shorter */
            if (vals[i] && strlen(vals[i]) != (size_t)sqlite3_column_bytes(st, i))
                s->row_nul |= 1u << i;
        }
        if (fn && (status = fn(ctx, n, vals, err)) != DI_OK)
            break;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return status;
}

static int sqlite_columns(di_store *s, const char *table, di_row_fn fn, void *ctx,
                          di_error *err)
{
    sqlite_conn *c = s->conn;
    if (!c)
        return di_fail(err, DI_ECONN, "not connected");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" WHERE 0", table);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(c->db), "no such table"))
            return di_fail_detail(err, DI_ESCHEMA, DI_DETAIL_NO_TABLE, "table %s does not exist", table);
        return sqlite_fail(c->db, rc, table, err);
    }
    int status = DI_OK;
    for (int i = 0; i < sqlite3_column_count(st) && status == DI_OK; i++) {
        const char *name = sqlite3_column_name(st, i);
        status = fn(ctx, 1, &name, err);
    }
    sqlite3_finalize(st);
    return status;
}

const di_store_ops di_store_sqlite_ops = {
    .name = "sqlite",
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .exec = sqlite_exec,
    .query = sqlite_query,
    .columns = sqlite_columns,
};

/*
** store_internal.h: what the generic store (store.c) and the three backends
** (sqlite.c, mariadb.c, postgresql.c) share.
**
** The generic layer writes every SQL text (in the backend's dialect) and
** owns the logic: schema, keyset pages, batched idempotent writes, counts,
** retries. A backend only connects, runs a statement without parameters
** (DDL, BEGIN, COMMIT) and runs a prepared statement with bound parameters,
** handing each result row back as text. Backends cache prepared statements
** per connection, keyed by the SQL text.
*/
#ifndef DI_STORE_INTERNAL_H
#define DI_STORE_INTERNAL_H

#include "store.h"
#include "di_config.h"

#include <stdio.h>

#define DI_IDENT_MAX 65

enum di_param_type { DI_P_NULL, DI_P_INT, DI_P_REAL, DI_P_TEXT };

typedef struct di_param {
    int type;
    int64_t i;
    double d;
    const char *s;
} di_param;

/* Called for each result row; vals[c] is the column as text, NULL for SQL
** NULL. Returns DI_OK, or an error code that stops the query. */
typedef int (*di_row_fn)(void *ctx, int ncols, const char *const *vals,
                         di_error *err);

typedef struct di_store_ops {
    const char *name;
    int (*connect)(di_store *s, di_error *err);
    void (*disconnect)(di_store *s);
    /* A statement without parameters or result (DDL, transactions). */
    int (*exec)(di_store *s, const char *sql, di_error *err);
    /* A prepared (cached) statement with bound parameters; fn may be NULL. */
    int (*query)(di_store *s, const char *sql, int nparams, const di_param *p,
                 di_row_fn fn, void *ctx, di_error *err);
    /* Calls fn once per column name of the table (one value per row);
    ** DI_ESCHEMA (detail DI_DETAIL_NO_TABLE) naming the table when it does
    ** not exist. */
    int (*columns)(di_store *s, const char *table, di_row_fn fn, void *ctx,
                   di_error *err);
} di_store_ops;

enum di_dialect_kind { DI_SQLITE, DI_MARIADB, DI_POSTGRESQL };

struct di_store {
    const di_store_ops *ops;
    int kind;           /* di_dialect_kind */
    void *conn;         /* the backend's state */
    bool create;        /* the SQLite file may be created */
    double timeout;     /* seconds for one statement's answer */
    di_url url;         /* password cleared: it lives in password[] only */
    char password[256];
    bool has_password;
    char where[1700];    /* "backend user@host:port/db" for messages, no password */
    char table[DI_IDENT_MAX];
    char id_col[DI_IDENT_MAX];
    char sid_col[DI_IDENT_MAX];
    int nfaces;
    char faces[DI_STORE_MAX_FACES][DI_IDENT_MAX];
    char cols[DI_STORE_MAX_FACES][DI_IDENT_MAX];
    /* scratch for building SQL texts */
    char *sql;
    size_t sql_len, sql_cap;
    bool sql_oom;
    int nparam;         /* placeholders emitted so far ($n numbering) */
    di_store_retry_watch *watch; /* set by di_store_watch_retries, or NULL */
    /* Set by the _retry functions for the time of one call: a statement or
    ** connect waiting for the server gives up at deadline (0 = only the
    ** timeout), or DI_STORE_STOP_GRACE seconds after *cancel is seen set;
    ** either is DI_ECONN (the connection is closed). See di_store_wait_end. */
    const atomic_bool *cancel;
    double deadline;
    double cancel_seen; /* when a wait first saw *cancel set (0 = not yet) */
    bool connecting;    /* waits are for a connect: DI_STORE_CONNECT_TIMEOUT */
    /* Set by query for each result row passed to fn: bit c, column c's
    ** value was longer than the backend reads (and cut), or held a NUL byte
    ** (and was cut there). */
    uint32_t row_cut, row_nul;
    /* Rows the last query's statement changed or matched (UPDATE, INSERT,
    ** DELETE); -1 when the backend cannot say. */
    int64_t changes;
    bool read_only;
    bool has_errors_table;
};

/* Seconds a connect (TCP, TLS, handshake, authentication) may take. */
#define DI_STORE_CONNECT_TIMEOUT 10.0

/* When a wait for the server that starts now must end: now + timeout (the
** connect timeout while connecting), capped by the deadline of a _retry
** call (but at least 0.5 s from now). */
double di_store_wait_end(di_store *s);
/* True when a wait that should end at *end must stop now: the time is up,
** or a stop was requested and its grace has passed (it then shortens *end). */
bool di_store_wait_over(di_store *s, double *end);

/* Checks the id column (an integer primary key or unique integer) and that
** no face column is a key column (keys.c). */
int di_store_check_keys(di_store *s, di_error *err);

extern const di_store_ops di_store_sqlite_ops;

/* The MariaDB and PostgreSQL backends are loadable modules
** (depthindex-mariadb.so, depthindex-postgresql.so; modules.c), so that a
** process that never opens such a URL does not map their client libraries.
** A module's entry returns this; the loader refuses a module of another
** version or layout. */
#define DI_STORE_MODULE_ABI 1
#define DI_STORE_MODULE_ENTRY "di_store_module_entry"
typedef struct di_store_module {
    int abi;
    size_t store_size; /* sizeof(di_store) where it was built */
    const char *version;
    const di_store_ops *ops;
} di_store_module;

/* The ops of the DI_MARIADB or DI_POSTGRESQL backend, its module loaded on
** the first call (once per process); DI_EUNSUPPORTED naming the backend
** when this build has none, or the module could not be loaded (and why). */
int di_store_module_ops(int kind, const di_store_ops **ops, di_error *err);

#define ERRORS_TABLE "depthindex_errors"

/* SQL text building into s->sql (sqltext.c). */
void di_sql_reset(di_store *s);
void di_sql_add(di_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A validated identifier, quoted for the dialect. */
void di_sql_ident(di_store *s, const char *name);
/* The next placeholder: "?" or PostgreSQL's "$n" with a cast to its type. */
void di_sql_param(di_store *s, int type);
/* The keyset page of rows.c and report_rows.c, in three parts around what
** each selects and filters: "SELECT id, sid", " FROM table WHERE id OP ?",
** " ORDER BY id LIMIT ?". */
void di_sql_select_keys(di_store *s);
void di_sql_from_ids(di_store *s, const char *op);
void di_sql_page_end(di_store *s);
/* DI_ENOMEM when building ran out of memory. */
int di_sql_check(di_store *s, di_error *err);

/* Scrubs the password from err when rc is an error; returns rc. */
int di_store_finish(di_store *s, int rc, di_error *err);

/* Replaces every occurrence of the store's password in msg by "***": server
** messages should never contain it, and this makes sure. */
void di_store_scrub(const di_store *s, char *msg);

/* A small cache of prepared statements keyed by SQL text, shared by the
** backends; the handle is the backend's own. */
typedef struct di_stmt_cache {
    struct di_stmt_entry {
        uint64_t hash;
        char *sql;
        void *handle;
    } *v;
    int n, cap;
} di_stmt_cache;

uint64_t di_sql_hash(const char *sql);
void *di_stmt_cache_find(const di_stmt_cache *c, const char *sql);
/* Takes a copy of sql; false on out of memory (then the caller frees handle). */
bool di_stmt_cache_add(di_stmt_cache *c, const char *sql, void *handle);
/* Calls free_handle on each handle and empties the cache. */
void di_stmt_cache_clear(di_stmt_cache *c, void (*free_handle)(void *));

/* di_store_fetch_pending within after_id < id <= upto (rows.c). */
int di_store_fetch_range(di_store *s, int64_t after_id, int64_t upto, int max_rows,
                         bool force, di_store_row *rows, int *nrows, di_error *err);

/* After an operation failed with DI_ECONN: waits with backoff (*delay, from
** 0.1 s doubling to 5 s) and reconnects. DI_OK: try the operation again;
** else the deadline (start + retry_for) passed, a stop was requested or the
** reconnect failed otherwise (retry.c). */
int di_store_recover(di_store *s, double start, double retry_for, double *delay,
                     const atomic_bool *stop, di_error *err);

/* The frame of every _retry call (retry.c): the deadline and the stop flag
** bound the waits inside it, and are cleared when it returns. Use:
**   di_store_call_begin(&c, s, retry_for, stop);
**   do rc = attempt(); while (rc && (rc = di_store_call_next(&c, rc, err)) == 1);
**   return di_store_call_end(&c, rc); */
typedef struct di_retry_call {
    di_store *s;
    double start, retry_for, delay;
    const atomic_bool *stop;
} di_retry_call;
void di_store_call_begin(di_retry_call *c, di_store *s, double retry_for, const atomic_bool *stop);
/* After an attempt returned rc: 1 to try again, else the final status. */
int di_store_call_next(di_retry_call *c, int rc, di_error *err);
int di_store_call_end(di_retry_call *c, int rc);

#endif

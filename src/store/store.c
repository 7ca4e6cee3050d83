/*
** store.c: the backend-independent store. It validates names, writes every
** SQL text in the backend's dialect (identifiers validated then quoted,
** values always bound), and implements schema creation and checks, keyset
** pages, batched idempotent writes, counts and the retry loops.
*/
#include "store_internal.h"
#include "di_config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ERRORS_TABLE "depthindex_errors"
/* Rows per multi-row statement: powers of two up to this, so that each
** connection caches only a few statement shapes. */
#define CHUNK_MAX 128

static const char *const default_faces[] = {"xm", "xp", "zm", "zp"};

void di_store_config_default(di_store_config *c)
{
    memset(c, 0, sizeof *c);
    c->table = "panorama";
    c->id_column = "id";
    c->sid_column = "panorama_sid";
    c->nfaces = 4;
    for (int i = 0; i < 4; i++)
        c->faces[i] = default_faces[i];
    c->column_pattern = "{face}_depth_index";
}

const char *di_store_backend(const di_store *s)
{
    return s ? s->ops->name : "none";
}

int di_store_nfaces(const di_store *s)
{
    return s->nfaces;
}

const char *di_store_face_name(const di_store *s, int face)
{
    return face >= 0 && face < s->nfaces ? s->faces[face] : NULL;
}

const char *di_store_where(const di_store *s)
{
    return s->where;
}

/* ---- messages ---- */

void di_store_scrub(const di_store *s, char *msg)
{
    size_t n = strlen(s->password);
    if (n < 3)
        return; /* too short to tell apart from ordinary text */
    char *p;
    while ((p = strstr(msg, s->password)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + n, strlen(p + n) + 1);
    }
}

static int finish(di_store *s, int rc, di_error *err)
{
    if (rc != DI_OK && err)
        di_store_scrub(s, err->msg);
    return rc;
}

/* ---- SQL text building ---- */

static void sb_reset(di_store *s)
{
    s->sql_len = 0;
    s->nparam = 0;
    s->sql_oom = false;
    if (s->sql)
        s->sql[0] = '\0';
}

static void sb_add(di_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(di_store *s, const char *fmt, ...)
{
    if (s->sql_oom)
        return;
    for (;;) {
        size_t room = s->sql_cap - s->sql_len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->sql ? s->sql + s->sql_len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->sql_oom = true;
            return;
        }
        if ((size_t)n < room) {
            s->sql_len += (size_t)n;
            return;
        }
        size_t cap = s->sql_cap ? s->sql_cap * 2 : 1024;
        while (cap < s->sql_len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(s->sql, cap);
        if (!p) {
            s->sql_oom = true;
            return;
        }
        s->sql = p;
        s->sql_cap = cap;
    }
}

/* A validated identifier, quoted for the dialect. */
static void sb_ident(di_store *s, const char *name)
{
    char q = s->kind == DI_MARIADB ? '`' : '"';
    sb_add(s, "%c%s%c", q, name, q);
}

/* The next placeholder: "?" or PostgreSQL's "$n" with its type. */
static void sb_param(di_store *s, int type)
{
    s->nparam++;
    if (s->kind != DI_POSTGRESQL) {
        sb_add(s, "?");
        return;
    }
    static const char *const casts[] = {"", "::bigint", "::float8", "::text"};
    sb_add(s, "$%d%s", s->nparam, casts[type]);
}

static int sb_check(di_store *s, di_error *err)
{
    if (s->sql_oom || !s->sql)
        return di_fail(err, DI_ENOMEM, "out of memory building an SQL statement");
    return DI_OK;
}

/* ---- opening ---- */

static int copy_ident(char *dst, const char *src, const char *what, di_error *err)
{
    if (!di_ident_valid(src))
        return di_fail(err, DI_EINVAL,
                       "%s '%.64s' is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, "
                       "at most 64 characters)",
                       what, src ? src : "");
    strcpy(dst, src);
    return DI_OK;
}

static int face_column(const char *pattern, const char *face, char *out,
                       di_error *err)
{
    const char *at = strstr(pattern, "{face}");
    if (!at)
        return di_fail(err, DI_EINVAL, "column pattern '%.64s' has no {face}", pattern);
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - pattern), pattern, face,
                     at + 6);
    if (n < 0 || (size_t)n >= sizeof buf || strstr(at + 6, "{face}"))
        return di_fail(err, DI_EINVAL, "column pattern '%.64s' is not usable", pattern);
    return copy_ident(out, buf, "column name", err);
}

static int configure(di_store *s, const di_store_config *cfg, di_error *err)
{
    int rc;
    if ((rc = copy_ident(s->table, cfg->table ? cfg->table : "panorama", "table name", err)) ||
        (rc = copy_ident(s->id_col, cfg->id_column ? cfg->id_column : "id", "id column", err)) ||
        (rc = copy_ident(s->sid_col, cfg->sid_column ? cfg->sid_column : "panorama_sid",
                         "panorama_sid column", err)))
        return rc;
    if (strcmp(s->table, ERRORS_TABLE) == 0)
        return di_fail(err, DI_EINVAL, "table name %s is reserved for the error records",
                       ERRORS_TABLE);
    int nfaces = cfg->nfaces;
    const char *const *faces = cfg->faces;
    if (nfaces == 0) {
        nfaces = 4;
        faces = default_faces;
    }
    if (nfaces < 0 || nfaces > DI_STORE_MAX_FACES)
        return di_fail(err, DI_EINVAL, "between 1 and %d faces are supported, not %d",
                       DI_STORE_MAX_FACES, nfaces);
    const char *pattern = cfg->column_pattern ? cfg->column_pattern : "{face}_depth_index";
    s->nfaces = nfaces;
    for (int f = 0; f < nfaces; f++) {
        if ((rc = copy_ident(s->faces[f], faces[f], "face name", err)) ||
            (rc = face_column(pattern, faces[f], s->cols[f], err)))
            return rc;
        for (int g = 0; g < f; g++)
            if (strcmp(s->faces[g], s->faces[f]) == 0)
                return di_fail(err, DI_EINVAL, "face %s is listed twice", s->faces[f]);
        if (strcmp(s->cols[f], s->id_col) == 0 || strcmp(s->cols[f], s->sid_col) == 0)
            return di_fail(err, DI_EINVAL, "face column %s is also the id or sid column",
                           s->cols[f]);
    }
    return DI_OK;
}

static int exec_sql(di_store *s, di_error *err)
{
    int rc = sb_check(s, err);
    return rc ? rc : s->ops->exec(s, s->sql, err);
}

static const char *score_type(const di_store *s)
{
    return s->kind == DI_SQLITE ? "REAL" : s->kind == DI_MARIADB ? "DOUBLE" : "DOUBLE PRECISION";
}

static int create_main_table(di_store *s, di_error *err)
{
    sb_reset(s);
    sb_add(s, "CREATE TABLE IF NOT EXISTS ");
    sb_ident(s, s->table);
    sb_add(s, " (");
    sb_ident(s, s->id_col);
    sb_add(s, s->kind == DI_SQLITE ? " INTEGER PRIMARY KEY, " : " BIGINT NOT NULL PRIMARY KEY, ");
    sb_ident(s, s->sid_col);
    sb_add(s, s->kind == DI_MARIADB ? " VARCHAR(255) NOT NULL" : " TEXT NOT NULL");
    for (int f = 0; f < s->nfaces; f++) {
        sb_add(s, ", ");
        sb_ident(s, s->cols[f]);
        sb_add(s, " %s", score_type(s));
    }
    sb_add(s, ")");
    return exec_sql(s, err);
}

static int create_errors_table(di_store *s, di_error *err)
{
    sb_reset(s);
    sb_add(s, "CREATE TABLE IF NOT EXISTS " ERRORS_TABLE " (id BIGINT NOT NULL, "
              "face VARCHAR(64) NOT NULL, error TEXT NOT NULL, at %s NOT NULL, "
              "PRIMARY KEY (id, face))",
           s->kind == DI_SQLITE ? "TEXT" : s->kind == DI_MARIADB ? "DATETIME" : "TIMESTAMPTZ");
    return exec_sql(s, err);
}

typedef struct column_set {
    char names[64][DI_IDENT_MAX];
    int n;
} column_set;

static int collect_column(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    column_set *cs = ctx;
    if (ncols >= 1 && vals[0] && cs->n < 64 && strlen(vals[0]) < DI_IDENT_MAX)
        strcpy(cs->names[cs->n++], vals[0]);
    return DI_OK;
}

static bool has_column(const column_set *cs, const char *name)
{
    for (int i = 0; i < cs->n; i++)
        if (strcasecmp(cs->names[i], name) == 0)
            return true;
    return false;
}

/* Checks both tables; with create, adds missing face columns first. */
static int check_schema(di_store *s, bool create, di_error *err)
{
    column_set *cs = calloc(1, sizeof *cs);
    if (!cs)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = s->ops->columns(s, s->table, collect_column, cs, err);
    const char *need[2 + DI_STORE_MAX_FACES];
    int nneed = 0;
    need[nneed++] = s->id_col;
    need[nneed++] = s->sid_col;
    for (int f = 0; f < s->nfaces; f++)
        need[nneed++] = s->cols[f];
    for (int i = 0; rc == DI_OK && i < nneed; i++) {
        if (has_column(cs, need[i]))
            continue;
        if (create && i >= 2) {
            sb_reset(s);
            sb_add(s, "ALTER TABLE ");
            sb_ident(s, s->table);
            sb_add(s, " ADD COLUMN ");
            sb_ident(s, need[i]);
            sb_add(s, " %s", score_type(s));
            rc = exec_sql(s, err);
            continue;
        }
        rc = di_fail(err, DI_ESCHEMA, "table %s has no column %s", s->table, need[i]);
    }
    if (rc == DI_OK) {
        cs->n = 0;
        rc = s->ops->columns(s, ERRORS_TABLE, collect_column, cs, err);
        static const char *const eneed[] = {"id", "face", "error", "at"};
        for (int i = 0; rc == DI_OK && i < 4; i++)
            if (!has_column(cs, eneed[i]))
                rc = di_fail(err, DI_ESCHEMA, "table " ERRORS_TABLE " has no column %s",
                             eneed[i]);
    }
    free(cs);
    return rc;
}

static int pick_backend(di_store *s, di_error *err)
{
    if (strcmp(s->url.scheme, "sqlite") == 0) {
        s->kind = DI_SQLITE;
        s->ops = &di_store_sqlite_ops;
        snprintf(s->where, sizeof s->where, "sqlite:%s", s->url.path);
        return DI_OK;
    }
    bool maria = strcmp(s->url.scheme, "mysql") == 0;
    s->kind = maria ? DI_MARIADB : DI_POSTGRESQL;
    snprintf(s->where, sizeof s->where, "%s://%s%s%s%s%.0d/%s", s->url.scheme, s->url.user,
             s->url.user[0] ? "@" : "", s->url.host, s->url.port ? ":" : "", s->url.port,
             s->url.path);
#if DI_HAVE_MARIADB
    if (maria)
        s->ops = &di_store_mariadb_ops;
#endif
#if DI_HAVE_POSTGRESQL
    if (!maria)
        s->ops = &di_store_postgresql_ops;
#endif
    if (!s->ops)
        return di_fail(err, DI_EUNSUPPORTED, "this build has no %s backend (built: %s)",
                       maria ? "mariadb" : "postgresql", di_store_backends_built());
    return DI_OK;
}

int di_store_open(const di_store_config *cfg, bool create_schema, di_store **out,
                  di_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->url)
        return di_fail(err, DI_EINVAL, "no database URL given");
    di_store *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = di_url_parse(cfg->url, &s->url, err);
    if (rc == DI_OK) {
        const char *pw = cfg->password;
        if (!pw && s->url.has_password)
            pw = s->url.password;
        if (!pw)
            pw = getenv("DEPTHINDEX_DB_PASSWORD");
        if (pw) {
            if (strlen(pw) >= sizeof s->password)
                rc = di_fail(err, DI_EINVAL, "database password too long");
            else {
                strcpy(s->password, pw);
                s->has_password = true;
            }
        }
        memset(s->url.password, 0, sizeof s->url.password);
    }
    if (rc == DI_OK)
        rc = configure(s, cfg, err);
    if (rc == DI_OK)
        rc = pick_backend(s, err);
    s->create = create_schema;
    bool connected = false;
    if (rc == DI_OK) {
        rc = s->ops->connect(s, err);
        connected = rc == DI_OK;
    }
    if (rc == DI_OK && create_schema)
        rc = create_main_table(s, err);
    if (rc == DI_OK)
        rc = create_errors_table(s, err);
    if (rc == DI_OK)
        rc = check_schema(s, create_schema, err);
    if (rc != DI_OK) {
        finish(s, rc, err);
        if (s->ops && s->where[0])
            di_error_prefix(err, "%s", s->where);
        if (connected)
            s->ops->disconnect(s);
        memset(s->password, 0, sizeof s->password);
        free(s->sql);
        free(s);
        return rc;
    }
    *out = s;
    return DI_OK;
}

void di_store_close(di_store *s)
{
    if (!s)
        return;
    s->ops->disconnect(s);
    memset(s->password, 0, sizeof s->password);
    free(s->sql);
    free(s);
}

int di_store_reconnect(di_store *s, di_error *err)
{
    s->ops->disconnect(s);
    return finish(s, s->ops->connect(s, err), err);
}

/* ---- keyset pages ---- */

typedef struct fetch_ctx {
    di_store *s;
    di_store_row *rows;
    int max, n;
    bool force;
} fetch_ctx;

static int fetch_row(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    fetch_ctx *fc = ctx;
    if (fc->n >= fc->max || ncols != 2 + fc->s->nfaces || !vals[0])
        return di_fail(err, DI_EDB, "unexpected result shape from %s", fc->s->table);
    di_store_row *r = &fc->rows[fc->n];
    r->id = strtoll(vals[0], NULL, 10);
    const char *sid = vals[1] ? vals[1] : "";
    if (strlen(sid) >= sizeof r->sid)
        return di_fail(err, DI_EDB, "%s id %lld: %s is longer than %d bytes", fc->s->table,
                       (long long)r->id, fc->s->sid_col, DI_STORE_SID_MAX - 1);
    strcpy(r->sid, sid);
    r->pending = 0;
    for (int f = 0; f < fc->s->nfaces; f++)
        if (fc->force || (vals[2 + f] && vals[2 + f][0] == '1'))
            r->pending |= 1u << f;
    fc->n++;
    return DI_OK;
}

int di_store_fetch_pending(di_store *s, int64_t after_id, int max_rows, bool force,
                           di_store_row *rows, int *nrows, di_error *err)
{
    *nrows = 0;
    if (max_rows <= 0)
        return DI_OK;
    sb_reset(s);
    sb_add(s, "SELECT ");
    sb_ident(s, s->id_col);
    sb_add(s, ", ");
    sb_ident(s, s->sid_col);
    for (int f = 0; f < s->nfaces; f++) {
        sb_add(s, ", CASE WHEN ");
        sb_ident(s, s->cols[f]);
        sb_add(s, " IS NULL THEN 1 ELSE 0 END");
    }
    sb_add(s, " FROM ");
    sb_ident(s, s->table);
    sb_add(s, " WHERE ");
    sb_ident(s, s->id_col);
    sb_add(s, " > ");
    sb_param(s, DI_P_INT);
    if (!force) {
        sb_add(s, " AND (");
        for (int f = 0; f < s->nfaces; f++) {
            sb_add(s, f ? " OR " : "");
            sb_ident(s, s->cols[f]);
            sb_add(s, " IS NULL");
        }
        sb_add(s, ")");
    }
    sb_add(s, " ORDER BY ");
    sb_ident(s, s->id_col);
    sb_add(s, " LIMIT ");
    sb_param(s, DI_P_INT);
    int rc = sb_check(s, err);
    if (rc)
        return rc;
    di_param p[2] = {{.type = DI_P_INT, .i = after_id}, {.type = DI_P_INT, .i = max_rows}};
    fetch_ctx fc = {s, rows, max_rows, 0, force};
    rc = s->ops->query(s, s->sql, 2, p, fetch_row, &fc, err);
    *nrows = rc == DI_OK ? fc.n : 0;
    return finish(s, rc, err);
}

/* ---- writing ---- */

typedef struct item {
    int64_t id;
    int face;
    int idx; /* position in the caller's array: the later one wins */
} item;

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->face != y->face)
        return x->face < y->face ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int chunk_size(int left)
{
    int c = CHUNK_MAX;
    while (c > left)
        c /= 2;
    return c;
}

static bool result_ok(const di_store_result *r)
{
    return r->ok && isfinite(r->score);
}

/* UPDATE t SET col = CASE id WHEN ? THEN ? ... END WHERE id IN (?, ...) */
static int write_scores(di_store *s, int face, const item *it, int n,
                        const di_store_result *res, di_param *p, di_error *err)
{
    sb_reset(s);
    sb_add(s, "UPDATE ");
    sb_ident(s, s->table);
    sb_add(s, " SET ");
    sb_ident(s, s->cols[face]);
    sb_add(s, " = CASE ");
    sb_ident(s, s->id_col);
    int np = 0;
    for (int i = 0; i < n; i++) {
        sb_add(s, " WHEN ");
        sb_param(s, DI_P_INT);
        sb_add(s, " THEN ");
        sb_param(s, DI_P_REAL);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
        p[np++] = (di_param){.type = DI_P_REAL, .d = res[it[i].idx].score};
    }
    sb_add(s, " END WHERE ");
    sb_ident(s, s->id_col);
    sb_add(s, " IN (");
    for (int i = 0; i < n; i++) {
        sb_add(s, i ? ", " : "");
        sb_param(s, DI_P_INT);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
    }
    sb_add(s, ")");
    int rc = sb_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, np, p, NULL, NULL, err);
    if (rc)
        return rc;
    /* The face succeeded: its error record, if any, goes. */
    sb_reset(s);
    sb_add(s, "DELETE FROM " ERRORS_TABLE " WHERE face = ");
    sb_param(s, DI_P_TEXT);
    sb_add(s, " AND id IN (");
    np = 0;
    p[np++] = (di_param){.type = DI_P_TEXT, .s = s->faces[face]};
    for (int i = 0; i < n; i++) {
        sb_add(s, i ? ", " : "");
        sb_param(s, DI_P_INT);
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
    }
    sb_add(s, ")");
    rc = sb_check(s, err);
    return rc ? rc : s->ops->query(s, s->sql, np, p, NULL, NULL, err);
}

static int write_failures(di_store *s, int face, const item *it, int n,
                          const di_store_result *res, di_param *p, di_error *err)
{
    sb_reset(s);
    sb_add(s, "INSERT INTO " ERRORS_TABLE " (id, face, error, at) VALUES ");
    int np = 0;
    for (int i = 0; i < n; i++) {
        const di_store_result *r = &res[it[i].idx];
        sb_add(s, i ? ", (" : "(");
        sb_param(s, DI_P_INT);
        sb_add(s, ", ");
        sb_param(s, DI_P_TEXT);
        sb_add(s, ", ");
        sb_param(s, DI_P_TEXT);
        sb_add(s, ", CURRENT_TIMESTAMP)");
        p[np++] = (di_param){.type = DI_P_INT, .i = it[i].id};
        p[np++] = (di_param){.type = DI_P_TEXT, .s = s->faces[face]};
        p[np++] = (di_param){.type = DI_P_TEXT,
                             .s = r->ok ? "score is not a finite number" : r->error};
    }
    if (s->kind == DI_MARIADB)
        sb_add(s, " ON DUPLICATE KEY UPDATE error = VALUES(error), at = VALUES(at)");
    else
        sb_add(s, " ON CONFLICT (id, face) DO UPDATE SET error = excluded.error, "
                  "at = excluded.at");
    int rc = sb_check(s, err);
    return rc ? rc : s->ops->query(s, s->sql, np, p, NULL, NULL, err);
}

/* Splits a run of items into power-of-two chunks for fn. */
static int in_chunks(di_store *s, int face, const item *it, int n,
                     const di_store_result *res, di_param *p,
                     int (*fn)(di_store *, int, const item *, int,
                               const di_store_result *, di_param *, di_error *),
                     di_error *err)
{
    for (int done = 0; done < n;) {
        int c = chunk_size(n - done);
        int rc = fn(s, face, it + done, c, res, p, err);
        if (rc)
            return rc;
        done += c;
    }
    return DI_OK;
}

static const char *begin_sql(const di_store *s)
{
    return s->kind == DI_MARIADB ? "START TRANSACTION" : "BEGIN";
}

int di_store_write(di_store *s, const di_store_result *results, int n, di_error *err)
{
    if (n <= 0)
        return DI_OK;
    for (int i = 0; i < n; i++)
        if (results[i].face < 0 || results[i].face >= s->nfaces)
            return di_fail(err, DI_EINVAL, "result for id %lld names face %d of %d",
                           (long long)results[i].id, results[i].face, s->nfaces);
    item *all = malloc((size_t)n * sizeof *all);
    di_param *p = malloc(3 * CHUNK_MAX * sizeof *p);
    item *ok = malloc((size_t)n * sizeof *ok);
    item *bad = malloc((size_t)n * sizeof *bad);
    int rc = DI_OK;
    if (!all || !p || !ok || !bad) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++)
        all[i] = (item){results[i].id, results[i].face, i};
    qsort(all, (size_t)n, sizeof *all, item_cmp);

    rc = s->ops->exec(s, begin_sql(s), err);
    if (rc)
        goto out;
    for (int i = 0; rc == DI_OK && i < n;) {
        int face = all[i].face, nok = 0, nbad = 0;
        for (; i < n && all[i].face == face; i++) {
            /* of duplicates (same id and face) the last one counts */
            if (i + 1 < n && all[i + 1].face == face && all[i + 1].id == all[i].id)
                continue;
            if (result_ok(&results[all[i].idx]))
                ok[nok++] = all[i];
            else
                bad[nbad++] = all[i];
        }
        rc = in_chunks(s, face, ok, nok, results, p, write_scores, err);
        if (rc == DI_OK)
            rc = in_chunks(s, face, bad, nbad, results, p, write_failures, err);
    }
    if (rc == DI_OK)
        rc = s->ops->exec(s, "COMMIT", err);
    if (rc != DI_OK) {
        di_error ignored;
        s->ops->exec(s, "ROLLBACK", &ignored);
    }
out:
    free(all);
    free(p);
    free(ok);
    free(bad);
    return finish(s, rc, err);
}

/* ---- counts ---- */

static int64_t as_int(const char *v)
{
    return v ? strtoll(v, NULL, 10) : 0;
}

static int count_main(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    di_store_counts *c = ctx;
    c->rows = as_int(vals[0]);
    for (int f = 0; f + 1 < ncols && f < DI_STORE_MAX_FACES; f++) {
        c->done[f] = as_int(vals[f + 1]);
        c->pending[f] = c->rows - c->done[f];
    }
    return DI_OK;
}

typedef struct count_err_ctx {
    di_store *s;
    di_store_counts *c;
} count_err_ctx;

static int count_errors(void *ctx, int ncols, const char *const *vals, di_error *err)
{
    (void)err;
    count_err_ctx *ce = ctx;
    if (ncols < 2 || !vals[0])
        return DI_OK;
    for (int f = 0; f < ce->s->nfaces; f++)
        if (strcmp(vals[0], ce->s->faces[f]) == 0)
            ce->c->failed[f] = as_int(vals[1]);
    return DI_OK;
}

int di_store_count(di_store *s, di_store_counts *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    sb_reset(s);
    sb_add(s, "SELECT COUNT(*)");
    for (int f = 0; f < s->nfaces; f++) {
        sb_add(s, ", COUNT(");
        sb_ident(s, s->cols[f]);
        sb_add(s, ")");
    }
    sb_add(s, " FROM ");
    sb_ident(s, s->table);
    int rc = sb_check(s, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, s->sql, 0, NULL, count_main, out, err);
    if (rc == DI_OK) {
        count_err_ctx ce = {s, out};
        rc = s->ops->query(s, "SELECT face, COUNT(*) FROM " ERRORS_TABLE " GROUP BY face", 0,
                           NULL, count_errors, &ce, err);
    }
    return finish(s, rc, err);
}

/* ---- inserting panoramas ---- */

int di_store_insert_panoramas(di_store *s, const int64_t *ids, const char *const *sids,
                              int n, di_error *err)
{
    if (n <= 0)
        return DI_OK;
    for (int i = 0; i < n; i++)
        if (!sids[i] || strlen(sids[i]) >= DI_STORE_SID_MAX)
            return di_fail(err, DI_EINVAL, "panorama id %lld: %s missing or longer than %d bytes",
                           (long long)ids[i], s->sid_col, DI_STORE_SID_MAX - 1);
    di_param *p = malloc(2 * CHUNK_MAX * sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = s->ops->exec(s, begin_sql(s), err);
    for (int done = 0; rc == DI_OK && done < n;) {
        int c = chunk_size(n - done);
        sb_reset(s);
        sb_add(s, "INSERT INTO ");
        sb_ident(s, s->table);
        sb_add(s, " (");
        sb_ident(s, s->id_col);
        sb_add(s, ", ");
        sb_ident(s, s->sid_col);
        sb_add(s, ") VALUES ");
        for (int i = 0; i < c; i++) {
            sb_add(s, i ? ", (" : "(");
            sb_param(s, DI_P_INT);
            sb_add(s, ", ");
            sb_param(s, DI_P_TEXT);
            sb_add(s, ")");
            p[2 * i] = (di_param){.type = DI_P_INT, .i = ids[done + i]};
            p[2 * i + 1] = (di_param){.type = DI_P_TEXT, .s = sids[done + i]};
        }
        /* Inserting again (init run twice) leaves existing rows alone. */
        if (s->kind == DI_MARIADB) {
            sb_add(s, " ON DUPLICATE KEY UPDATE ");
            sb_ident(s, s->id_col);
            sb_add(s, " = ");
            sb_ident(s, s->id_col);
        } else {
            sb_add(s, " ON CONFLICT (");
            sb_ident(s, s->id_col);
            sb_add(s, ") DO NOTHING");
        }
        rc = sb_check(s, err);
        if (rc == DI_OK)
            rc = s->ops->query(s, s->sql, 2 * c, p, NULL, NULL, err);
        done += c;
    }
    if (rc == DI_OK)
        rc = s->ops->exec(s, "COMMIT", err);
    else {
        di_error ignored;
        s->ops->exec(s, "ROLLBACK", &ignored);
    }
    free(p);
    return finish(s, rc, err);
}

/* ---- retries ---- */

/* Sleeps up to seconds in short slices so that a stop request is seen soon. */
static void nap(double seconds, volatile bool *stop)
{
    double end = di_now() + seconds;
    for (;;) {
        if (stop && *stop)
            return;
        double left = end - di_now();
        if (left <= 0)
            return;
        di_sleep(left < 0.05 ? left : 0.05);
    }
}

/* After an operation failed with DI_ECONN: waits with backoff and reconnects
** until it works (DI_OK: the caller tries again), the deadline passes, a stop
** is requested or the error is not a connection error. */
static int recover(di_store *s, double start, double retry_for, double *delay,
                   volatile bool *stop, di_error *err)
{
    char last[DI_ERROR_MSG_MAX];
    snprintf(last, sizeof last, "%s", err ? err->msg : "");
    for (;;) {
        if (stop && *stop)
            return di_fail(err, DI_EINTR, "stopped while the database was unreachable: %s",
                           last);
        double left = start + retry_for - di_now();
        if (left <= 0)
            return di_fail(err, DI_ECONN, "%s: gave up after %.0f s: %s", s->where,
                           retry_for, last);
        nap(*delay < left ? *delay : left, stop);
        *delay = *delay * 2 > 5.0 ? 5.0 : *delay * 2;
        if (stop && *stop)
            continue;
        di_error e = {0};
        int rc = di_store_reconnect(s, &e);
        if (rc == DI_OK)
            return DI_OK;
        if (rc != DI_ECONN) {
            if (err)
                *err = e;
            return rc;
        }
        snprintf(last, sizeof last, "%s", e.msg);
    }
}

int di_store_fetch_pending_retry(di_store *s, int64_t after_id, int max_rows, bool force,
                                 di_store_row *rows, int *nrows, double retry_for,
                                 volatile bool *stop, di_error *err)
{
    double start = di_now(), delay = 0.1;
    for (;;) {
        int rc = di_store_fetch_pending(s, after_id, max_rows, force, rows, nrows, err);
        if (rc != DI_ECONN)
            return rc;
        rc = recover(s, start, retry_for, &delay, stop, err);
        if (rc)
            return rc;
    }
}

int di_store_write_retry(di_store *s, const di_store_result *results, int n,
                         double retry_for, volatile bool *stop, di_error *err)
{
    double start = di_now(), delay = 0.1;
    for (;;) {
        int rc = di_store_write(s, results, n, err);
        if (rc != DI_ECONN)
            return rc;
        rc = recover(s, start, retry_for, &delay, stop, err);
        if (rc)
            return rc;
    }
}

/* ---- the prepared-statement cache the backends share ---- */

uint64_t di_sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

void *di_stmt_cache_find(const di_stmt_cache *c, const char *sql)
{
    uint64_t h = di_sql_hash(sql);
    for (int i = 0; i < c->n; i++)
        if (c->v[i].hash == h && strcmp(c->v[i].sql, sql) == 0)
            return c->v[i].handle;
    return NULL;
}

bool di_stmt_cache_add(di_stmt_cache *c, const char *sql, void *handle)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 32;
        void *v = realloc(c->v, (size_t)cap * sizeof *c->v);
        if (!v)
            return false;
        c->v = v;
        c->cap = cap;
    }
    char *copy = strdup(sql);
    if (!copy)
        return false;
    c->v[c->n++] = (struct di_stmt_entry){di_sql_hash(sql), copy, handle};
    return true;
}

void di_stmt_cache_clear(di_stmt_cache *c, void (*free_handle)(void *))
{
    for (int i = 0; i < c->n; i++) {
        if (free_handle)
            free_handle(c->v[i].handle);
        free(c->v[i].sql);
    }
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

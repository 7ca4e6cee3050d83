/*
** store.c: opening the store. It validates the configured names, picks the
** backend from the URL, resolves the password, creates the tables when asked
** and checks that every table and column the job needs is there.
*/
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    c->timeout = 120;
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

int di_store_finish(di_store *s, int rc, di_error *err)
{
    if (rc != DI_OK && err)
        di_store_scrub(s, err->msg);
    return rc;
}

/* ---- opening ---- */

static int copy_ident(char *dst, const char *src, const char *what, di_error *err)
{
    if (src && strlen(src) > DI_IDENT_MAX - 1)
        return di_fail(err, DI_EINVAL, "%s '%.40s...' is too long (%d max)", what, src,
                       DI_IDENT_MAX - 1);
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
    if (strstr(at + 6, "{face}"))
        return di_fail(err, DI_EINVAL, "column pattern '%.64s' has {face} more than once",
                       pattern);
    if (n < 0 || (size_t)n >= sizeof buf)
        return di_fail(err, DI_EINVAL, "column pattern '%.64s...' is too long", pattern);
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
        /* Names compared as the databases do: case-insensitively (quoted
        ** names in PostgreSQL are not, but refusing there too is safe). */
        for (int g = 0; g < f; g++)
            if (strcasecmp(s->faces[g], s->faces[f]) == 0 ||
                strcasecmp(s->cols[g], s->cols[f]) == 0)
                return di_fail(err, DI_EINVAL, "face %s is listed twice (or two faces "
                               "share column %s)", s->faces[f], s->cols[f]);
        if (strcasecmp(s->cols[f], s->id_col) == 0 || strcasecmp(s->cols[f], s->sid_col) == 0)
            return di_fail(err, DI_EINVAL,
                           "result column %s of face %s is the %s column: scores would "
                           "overwrite it (choose another --column or --faces)",
                           s->cols[f], s->faces[f],
                           strcasecmp(s->cols[f], s->id_col) == 0 ? "id" : "panorama_sid");
    }
    return DI_OK;
}

static int exec_sql(di_store *s, di_error *err)
{
    int rc = di_sql_check(s, err);
    return rc ? rc : s->ops->exec(s, s->sql, err);
}

static const char *score_type(const di_store *s)
{
    return s->kind == DI_SQLITE ? "REAL" : s->kind == DI_MARIADB ? "DOUBLE" : "DOUBLE PRECISION";
}

static int create_main_table(di_store *s, di_error *err)
{
    di_sql_reset(s);
    di_sql_add(s, "CREATE TABLE IF NOT EXISTS ");
    di_sql_ident(s, s->table);
    di_sql_add(s, " (");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, s->kind == DI_SQLITE ? " INTEGER PRIMARY KEY, " : " BIGINT NOT NULL PRIMARY KEY, ");
    di_sql_ident(s, s->sid_col);
    di_sql_add(s, s->kind == DI_MARIADB ? " VARCHAR(255) NOT NULL" : " TEXT NOT NULL");
    for (int f = 0; f < s->nfaces; f++) {
        di_sql_add(s, ", ");
        di_sql_ident(s, s->cols[f]);
        di_sql_add(s, " %s", score_type(s));
    }
    di_sql_add(s, ")");
    return exec_sql(s, err);
}

static int create_errors_table(di_store *s, di_error *err)
{
    di_sql_reset(s);
    di_sql_add(s, "CREATE TABLE IF NOT EXISTS " ERRORS_TABLE " (id BIGINT NOT NULL, "
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
    if (rc == DI_ESCHEMA && err && err->detail == DI_DETAIL_NO_TABLE)
        rc = di_fail(err, DI_ESCHEMA, "table %s does not exist (`depthindex init` creates it)",
                     s->table);
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
            di_sql_reset(s);
            di_sql_add(s, "ALTER TABLE ");
            di_sql_ident(s, s->table);
            di_sql_add(s, " ADD COLUMN ");
            di_sql_ident(s, need[i]);
            di_sql_add(s, " %s", score_type(s));
            rc = exec_sql(s, err);
            continue;
        }
        rc = di_fail(err, DI_ESCHEMA, "table %s has no column %s", s->table, need[i]);
    }
    if (rc == DI_OK) {
        cs->n = 0;
        rc = s->ops->columns(s, ERRORS_TABLE, collect_column, cs, err);
        s->has_errors_table = rc == DI_OK;
        if (rc == DI_ESCHEMA && s->read_only && err && strstr(err->msg, "does not exist"))
            rc = DI_OK; /* nothing failed yet: nothing to count */
        static const char *const eneed[] = {"id", "face", "error", "at"};
        for (int i = 0; rc == DI_OK && s->has_errors_table && i < 4; i++)
            if (!has_column(cs, eneed[i]))
                rc = di_fail(err, DI_ESCHEMA, "table " ERRORS_TABLE " has no column %s",
                             eneed[i]);
    }
    free(cs);
    return rc;
}

/* PostgreSQL keeps 63 bytes of a name and silently drops the rest: a longer
** name would create or find another column than the one asked for. */
static int check_name_lengths(di_store *s, di_error *err)
{
    if (s->kind != DI_POSTGRESQL)
        return DI_OK; /* MariaDB's limit is 64, which every name here meets */
    const char *names[3 + DI_STORE_MAX_FACES] = {s->table, s->id_col, s->sid_col};
    int n = 3;
    for (int f = 0; f < s->nfaces; f++)
        names[n++] = s->cols[f];
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) > 63)
            return di_fail(err, DI_EINVAL, "name '%.40s...' is too long for PostgreSQL "
                           "(63 max)", names[i]);
    return DI_OK;
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
    return di_store_module_ops(s->kind, &s->ops, err);
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
    if (rc == DI_OK)
        rc = check_name_lengths(s, err);
    s->create = create_schema;
    s->read_only = cfg->read_only && !create_schema;
    s->timeout = cfg->timeout > 0 ? cfg->timeout : 120;
    bool connected = false;
    if (rc == DI_OK) {
        rc = s->ops->connect(s, err);
        connected = rc == DI_OK;
    }
    if (rc == DI_OK && create_schema)
        rc = create_main_table(s, err);
    if (rc == DI_OK && !s->read_only)
        rc = create_errors_table(s, err);
    if (rc == DI_OK)
        rc = check_schema(s, create_schema, err);
    if (rc == DI_OK)
        rc = di_store_check_keys(s, err);
    if (rc != DI_OK) {
        di_store_finish(s, rc, err);
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
    return di_store_finish(s, s->ops->connect(s, err), err);
}

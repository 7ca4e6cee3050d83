/*
** sqltext.c: building SQL texts in the backend's dialect (identifiers
** validated earlier, quoted here; values only ever as placeholders), and the
** prepared-statement cache the backends share.
*/
#include "store_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- SQL text building ---- */

void di_sql_reset(di_store *s)
{
    s->sql_len = 0;
    s->nparam = 0;
    s->sql_oom = false;
    if (s->sql)
        s->sql[0] = '\0';
}

void di_sql_add(di_store *s, const char *fmt, ...)
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
void di_sql_ident(di_store *s, const char *name)
{
    char q = s->kind == DI_MARIADB ? '`' : '"';
    di_sql_add(s, "%c%s%c", q, name, q);
}

/* The next placeholder: "?" or PostgreSQL's "$n" with its type. */
void di_sql_param(di_store *s, int type)
{
    s->nparam++;
    if (s->kind != DI_POSTGRESQL) {
        di_sql_add(s, "?");
        return;
    }
    static const char *const casts[] = {"", "::bigint", "::float8", "::text"};
    di_sql_add(s, "$%d%s", s->nparam, casts[type]);
}

/* The keyset page that both row readers build (rows.c, report_rows.c)
** around what each selects and filters:
**   SELECT id, sid ... FROM table WHERE id > ? ... ORDER BY id LIMIT ?
** one statement text for every page, so that it is prepared once. */
void di_sql_select_keys(di_store *s)
{
    di_sql_add(s, "SELECT ");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, ", ");
    di_sql_ident(s, s->sid_col);
}

void di_sql_from_ids(di_store *s, const char *op)
{
    di_sql_add(s, " FROM ");
    di_sql_ident(s, s->table);
    di_sql_add(s, " WHERE ");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, " %s ", op);
    di_sql_param(s, DI_P_INT);
}

void di_sql_page_end(di_store *s)
{
    di_sql_add(s, " ORDER BY ");
    di_sql_ident(s, s->id_col);
    di_sql_add(s, " LIMIT ");
    di_sql_param(s, DI_P_INT);
}

int di_sql_check(di_store *s, di_error *err)
{
    if (s->sql_oom || !s->sql)
        return di_fail(err, DI_ENOMEM, "out of memory building an SQL statement");
    return DI_OK;
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

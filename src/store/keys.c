/*
** keys.c: what the table's keys must be, checked when the store opens.
**
** Scores are written by id (UPDATE ... WHERE id IN (...)), so the id column
** must name one row per value: an integer primary key, or an integer column
** with a unique index of its own. Anything else (a REAL or TEXT id, ids that
** repeat) would write a score nowhere or into several rows. And no result
** column may be part of a key: scores written there would change which row
** is which. The catalogs are read with each backend's own queries; names
** are compared case-insensitively, as the databases compare them.
*/
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEY_PARTS 256

typedef struct key_info {
    char id_type[64];  /* declared type of the id column */
    bool id_found;
    bool id_pk_alias;  /* SQLite: INTEGER PRIMARY KEY (the rowid itself) */
    int npk;           /* columns of the primary key (from the column list) */
    char pk_first[DI_IDENT_MAX];
    /* (index, column) pairs of every unique index, primary keys included */
    struct key_part {
        char index[128];
        char column[DI_IDENT_MAX];
    } part[MAX_KEY_PARTS];
    int nparts;
} key_info;

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* (column name, declared type[, pk position]) */
static int take_column(void *ctx, int ncols, const char *const *v, di_error *err)
{
    (void)err;
    di_store *s = ((void **)ctx)[0];
    key_info *k = ((void **)ctx)[1];
    if (ncols < 2 || !v[0])
        return DI_OK;
    bool is_id = strcasecmp(v[0], s->id_col) == 0;
    if (is_id) {
        k->id_found = true;
        copy(k->id_type, sizeof k->id_type, v[1]);
    }
    if (ncols >= 3 && v[2] && atoi(v[2]) > 0) {
        if (k->npk++ == 0)
            copy(k->pk_first, sizeof k->pk_first, v[0]);
    }
    return DI_OK;
}

/* (index name, column name) of a unique index */
static int take_part(void *ctx, int ncols, const char *const *v, di_error *err)
{
    (void)err;
    key_info *k = ((void **)ctx)[1];
    if (ncols < 2 || !v[0] || !v[1] || k->nparts == MAX_KEY_PARTS)
        return DI_OK;
    copy(k->part[k->nparts].index, sizeof k->part[0].index, v[0]);
    copy(k->part[k->nparts].column, sizeof k->part[0].column, v[1]);
    k->nparts++;
    return DI_OK;
}

static int read_catalog(di_store *s, key_info *k, di_error *err)
{
    static const char *const columns_sql[] = {
        [DI_SQLITE] = "SELECT name, type, pk FROM pragma_table_info(?)",
        [DI_MARIADB] = "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        [DI_POSTGRESQL] = "SELECT a.attname::text, format_type(a.atttypid, NULL) "
                          "FROM pg_attribute a WHERE a.attrelid = "
                          "to_regclass(quote_ident($1::text)) AND a.attnum > 0 "
                          "AND NOT a.attisdropped",
    };
    static const char *const unique_sql[] = {
        [DI_SQLITE] = "SELECT il.name, ii.name FROM pragma_index_list(?) AS il, "
                      "pragma_index_info(il.name) AS ii WHERE il.\"unique\" = 1",
        [DI_MARIADB] = "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                       "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0",
        [DI_POSTGRESQL] = "SELECT i.indexrelid::regclass::text, a.attname::text "
                          "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                          "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = "
                          "to_regclass(quote_ident($1::text)) AND i.indisunique",
    };
    void *ctx[2] = {s, k};
    di_param p = {.type = DI_P_TEXT, .s = s->table};
    int rc = s->ops->query(s, columns_sql[s->kind], 1, &p, take_column, ctx, err);
    if (rc == DI_OK)
        rc = s->ops->query(s, unique_sql[s->kind], 1, &p, take_part, ctx, err);
    return rc;
}

static bool integer_type(const di_store *s, const char *type)
{
    if (s->kind == DI_SQLITE) { /* SQLite's rule for INTEGER affinity: "INT" in it */
        for (const char *t = type; t[0] && t[1] && t[2]; t++)
            if (strncasecmp(t, "int", 3) == 0)
                return true;
        return false;
    }
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int",
                                       "integer", "bigint"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcasecmp(type, ints[i]) == 0)
            return true;
    return false;
}

/* Columns in the unique index of part i. */
static int index_width(const key_info *k, int i)
{
    int n = 0;
    for (int j = 0; j < k->nparts; j++)
        n += strcmp(k->part[j].index, k->part[i].index) == 0;
    return n;
}

int di_store_check_keys(di_store *s, di_error *err)
{
    key_info *k = calloc(1, sizeof *k);
    if (!k)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int rc = read_catalog(s, k, err);
    if (rc) {
        di_error_prefix(err, "reading the keys of table %s", s->table);
        free(k);
        return rc;
    }
    /* SQLite's INTEGER PRIMARY KEY has no index of its own in the catalog */
    k->id_pk_alias = s->kind == DI_SQLITE && k->npk == 1 &&
                     strcasecmp(k->pk_first, s->id_col) == 0 &&
                     strcasecmp(k->id_type, "INTEGER") == 0;
    bool id_unique = k->id_pk_alias;
    for (int i = 0; i < k->nparts && !id_unique; i++)
        id_unique = strcasecmp(k->part[i].column, s->id_col) == 0 && index_width(k, i) == 1;
    if (s->kind == DI_SQLITE && k->npk == 1 && strcasecmp(k->pk_first, s->id_col) == 0)
        id_unique = true; /* a one-column primary key of another type */
    if (!k->id_found)
        rc = DI_OK; /* check_schema has said what is missing */
    else if (!integer_type(s, k->id_type) || !id_unique)
        rc = di_fail(err, DI_ESCHEMA,
                     "table %s: id column %s (%s%s%s) must be an integer primary key or "
                     "a unique integer, since scores are written by id (fix: integer ids "
                     "and CREATE UNIQUE INDEX %s_%s_key ON %s (%s), or a table made by "
                     "`depthindex init`)",
                     s->table, s->id_col, k->id_type[0] ? k->id_type : "no type",
                     !integer_type(s, k->id_type) ? ", not an integer type" : "",
                     !id_unique ? ", no unique key of its own" : "", s->table, s->id_col,
                     s->table, s->id_col);
    for (int f = 0; rc == DI_OK && f < s->nfaces; f++) {
        bool key = k->npk > 0 && strcasecmp(k->pk_first, s->cols[f]) == 0;
        for (int i = 0; i < k->nparts && !key; i++)
            key = strcasecmp(k->part[i].column, s->cols[f]) == 0;
        if (key)
            rc = di_fail(err, DI_ESCHEMA,
                         "table %s: result column %s of face %s is part of a key (primary "
                         "key or unique index): scores would overwrite it (choose another "
                         "--column or --faces)",
                         s->table, s->cols[f], s->faces[f]);
    }
    free(k);
    return rc;
}

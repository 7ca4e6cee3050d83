/*
** chunks_internal.h: what chunks.c (claims, renewals, done-marks) and
** chunks_run.c (the side tables, the run, its status) share: the dialect's
** clock and locking, transactions, and single-row results as text.
*/
#ifndef DI_CHUNKS_INTERNAL_H
#define DI_CHUNKS_INTERNAL_H

#include "store_internal.h"

#define MAX_VALS 8
typedef struct row_vals {
    int n;      /* rows seen */
    char v[MAX_VALS][DI_FINGERPRINT_MAX];
    bool null[MAX_VALS];
} row_vals;

/* The database clock in seconds since 1970, as an SQL expression. */
const char *di_chunks_now_sql(const di_store *s);
/* " FOR UPDATE [SKIP LOCKED]" where the dialect has row locks. */
const char *di_chunks_for_update(const di_store *s, bool skip);
/* A short transaction: MariaDB at READ COMMITTED, SQLite IMMEDIATE. */
int di_chunks_begin(di_store *s, di_error *err);
/* COMMIT when rc is DI_OK (its status), else ROLLBACK (rc). */
int di_chunks_end(di_store *s, int rc, di_error *err);
/* Runs s->sql; the first result row's values into *out when out is set. */
int di_chunks_query(di_store *s, int np, const di_param *p, row_vals *out, di_error *err);
int64_t di_chunks_ival(const row_vals *r, int c);

#define P_INT(x) ((di_param){.type = DI_P_INT, .i = (x)})
#define P_REAL(x) ((di_param){.type = DI_P_REAL, .d = (x)})
#define P_TEXT(x) ((di_param){.type = DI_P_TEXT, .s = (x)})

/* Retries call on a lost connection (reconnecting) like retry.c's _retry
** functions do, with the same bounded waits. */
#define CHUNKS_RETRY(call)                                                        \
    do {                                                                          \
        di_retry_call c_;                                                         \
        di_store_call_begin(&c_, s, retry_for, stop);                             \
        int rc_;                                                                  \
        do                                                                        \
            rc_ = (call);                                                         \
        while (rc_ != DI_OK && (rc_ = di_store_call_next(&c_, rc_, err)) == 1);   \
        return di_store_finish(s, di_store_call_end(&c_, rc_), err);              \
    } while (0)

#endif

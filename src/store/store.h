/*
** store.h: the table of panoramas, behind one interface with three real
** backends chosen by URL: sqlite:PATH (embedded default, WAL),
** mysql://user[:pass]@host[:port]/db (MariaDB Connector/C) and
** postgresql://user[:pass]@host[:port]/db (libpq).
**
** Reading never holds a cursor or a transaction open: keyset pages
** (WHERE id > ? ... ORDER BY id LIMIT ?). Writing groups results into one
** transaction per call; UPDATEs are idempotent. A lost connection is reported
** as DI_ECONN; the *_retry functions reconnect with backoff until a deadline.
** All values are bound parameters; table and column names are validated
** identifiers.
**
** A di_store is one connection: use it from one thread at a time (the
** pipeline opens one for its reader and one for its writer). Failed faces are
** recorded in depthindex_errors (id, face, error, at), created when missing;
** a failed face stays pending (its column stays NULL), so a later run tries it
** again, and its record goes when it succeeds.
*/
#ifndef DI_STORE_H
#define DI_STORE_H

#include "../core/core.h"

#include <stdatomic.h>

#define DI_STORE_MAX_FACES 8
#define DI_STORE_SID_MAX 256

typedef struct di_store_config {
    const char *url;
    const char *password;      /* overrides the URL's; NULL = URL or env */
    const char *table;         /* [panorama] */
    const char *id_column;     /* [id] */
    const char *sid_column;    /* [panorama_sid] */
    int nfaces;                /* [4] */
    const char *faces[DI_STORE_MAX_FACES]; /* [xm xp zm zp] */
    const char *column_pattern;            /* ["{face}_depth_index"] */
    /* Seconds to wait for the server's answer to one statement before the
    ** connection counts as lost (DI_ECONN), so that a dead or frozen server
    ** never hangs the job. [120] (0 = the default) */
    double timeout;
    /* Only reads (depthindex status): SQLite opens the file read-only and
    ** leaves its journal mode alone; nothing is created. */
    bool read_only;
} di_store_config;

void di_store_config_default(di_store_config *c);

typedef struct di_store di_store;

/* Connects and checks the schema: a missing table or column is DI_ESCHEMA
** naming it; a wrong password DI_EAUTH; an unreachable host DI_ECONN. When
** create_schema is true the table (and depthindex_errors) are created first.
** Also refused (DI_ESCHEMA, naming the column and the fix): an id column
** that is not an integer primary key or a unique integer, and a result
** column that is part of a key; DI_EINVAL: a result column that is the id
** or sid column (names compared case-insensitively) or a name longer than
** the backend allows. */
int di_store_open(const di_store_config *cfg, bool create_schema,
                  di_store **out, di_error *err);
void di_store_close(di_store *s);
const char *di_store_backend(const di_store *s); /* "sqlite", "mariadb", ... */

/* Why a row's panorama_sid cannot be used (then sid is empty): the row's
** faces fail, recorded, and the job goes on. */
enum di_sid_problem { DI_SID_OK, DI_SID_TOO_LONG, DI_SID_NUL };

typedef struct di_store_row {
    int64_t id;
    char sid[DI_STORE_SID_MAX];
    uint32_t pending; /* bit f set: face f has no score yet (or force) */
    int sid_problem;  /* di_sid_problem */
} di_store_row;

/* Where a keyset read starts: below every possible id (ids may be 0 or
** negative). */
#define DI_STORE_FIRST_ID INT64_MIN

/* One keyset page of rows with pending faces (all rows when force), ids
** strictly greater than after_id (every id from DI_STORE_FIRST_ID),
** ascending, at most max_rows. */
int di_store_fetch_pending(di_store *s, int64_t after_id, int max_rows,
                           bool force, di_store_row *rows, int *nrows,
                           di_error *err);

typedef struct di_store_result {
    int64_t id;
    int face;            /* index into cfg.faces */
    bool ok;
    double score;        /* when ok */
    char error[256];     /* when !ok: recorded in depthindex_errors */
} di_store_result;

/* Writes n results in one transaction: scores into their columns (clearing
** any error record of that face), failures into depthindex_errors. Each
** UPDATE must match exactly one row per id, else DI_EDB and nothing of the
** transaction stays. */
int di_store_write(di_store *s, const di_store_result *results, int n,
                   di_error *err);

/* Reconnects after DI_ECONN. */
int di_store_reconnect(di_store *s, di_error *err);

/* The same with reconnect-and-retry on DI_ECONN, backoff from 0.1 s to 5 s,
** until retry_for seconds have passed (counted from the call: a statement
** or connect still waiting then is given up, so the whole call ends after
** about retry_for seconds) or *stop becomes true (then a statement waiting
** for the server is given up within DI_STORE_STOP_GRACE seconds, DI_EINTR).
** stop may be NULL; it may be set from another thread. */
#define DI_STORE_STOP_GRACE 0.5
int di_store_fetch_pending_retry(di_store *s, int64_t after_id, int max_rows,
                                 bool force, di_store_row *rows, int *nrows,
                                 double retry_for, const atomic_bool *stop,
                                 di_error *err);
int di_store_write_retry(di_store *s, const di_store_result *results, int n,
                         double retry_for, const atomic_bool *stop, di_error *err);

typedef struct di_store_counts {
    int64_t rows;
    int64_t done[DI_STORE_MAX_FACES];
    int64_t pending[DI_STORE_MAX_FACES];
    int64_t failed[DI_STORE_MAX_FACES];
} di_store_counts;

int di_store_count(di_store *s, di_store_counts *out, di_error *err);

/* Inserts panoramas (for `init --demo`), in one transaction; rows whose id
** exists are left alone. The _retry variant reconnects as the others do. */
int di_store_insert_panoramas(di_store *s, const int64_t *ids,
                              const char *const *sids, int n, di_error *err);
int di_store_insert_panoramas_retry(di_store *s, const int64_t *ids,
                                    const char *const *sids, int n,
                                    double retry_for, const atomic_bool *stop,
                                    di_error *err);

/* ---- what `depthindex report` reads (report_rows.c) ---- */

/* Whether the table has the column (a validated identifier; DI_EINVAL when
** it is not one). */
int di_store_column_exists(di_store *s, const char *column, bool *exists,
                           di_error *err);

typedef struct di_store_score_row {
    int64_t id;
    char sid[DI_STORE_SID_MAX];  /* cut to fit */
    uint32_t has;                /* bit f set: face f has a score */
    double score[DI_STORE_MAX_FACES];
    bool has_pos;                /* both coordinates are numbers */
    double lat, lon;
} di_store_score_row;

/* One keyset page of every row (ids strictly greater than after_id,
** ascending, at most max_rows) with its scores; with lat_col and lon_col
** (validated identifiers, both or neither) the row's coordinates too. */
int di_store_fetch_scores(di_store *s, int64_t after_id, int max_rows,
                          const char *lat_col, const char *lon_col,
                          di_store_score_row *rows, int *nrows, di_error *err);

#define DI_STORE_ERROR_EXAMPLES 3
typedef struct di_store_error_group {
    char error[256];   /* the message (cut to fit: then truncated is set) */
    bool truncated;
    int64_t count;     /* faces failed with it */
    int nexamples;     /* the first faces by id, with their sid when the row
                       ** is still there */
    int64_t example_id[DI_STORE_ERROR_EXAMPLES];
    char example_face[DI_STORE_ERROR_EXAMPLES][72];
    char example_sid[DI_STORE_ERROR_EXAMPLES][DI_STORE_SID_MAX];
} di_store_error_group;

/* Failures of depthindex_errors grouped by message, most frequent first, at
** most max_groups of them; *distinct is the number of distinct messages. */
int di_store_error_groups(di_store *s, int max_groups, di_store_error_group *groups,
                          int *ngroups, int64_t *distinct, di_error *err);

/* A run records its settings (one line of text, e.g. JSON) at its start in
** depthindex_run_log (at, settings), created when missing; the report shows
** the latest. *found is false when no run recorded any. */
int di_store_record_run(di_store *s, const char *settings, di_error *err);
int di_store_last_run(di_store *s, char *settings, size_t size, char *at,
                      size_t at_size, bool *found, di_error *err);

/* A lost connection being retried, for a display in another thread: while
** a *_retry call of a watched store waits and reconnects, lost_since holds
** when the connection was found lost (di_now() seconds; 0 otherwise). */
typedef struct di_store_retry_watch {
    _Atomic double lost_since;
} di_store_retry_watch;

/* Watches the store's retries (NULL stops watching); w outlives the store. */
void di_store_watch_retries(di_store *s, di_store_retry_watch *w);

/* The configured faces, after defaults: their count and names, and a
** description of the database for messages ("mysql://user@host:port/db",
** never with the password). */
int di_store_nfaces(const di_store *s);
const char *di_store_face_name(const di_store *s, int face);
const char *di_store_where(const di_store *s);

/* Which backends this build has, e.g. "sqlite mariadb postgresql". */
const char *di_store_backends_built(void);

/* ---- Chunks and leases: many workers on one table (chunks.c) ----
**
** The table's ids are cut into deterministic ranges (chunk k holds ids
** k*chunk_ids .. (k+1)*chunk_ids-1), one row each in depthindex_chunks,
** created idempotently by whichever worker comes first; depthindex_runs
** holds one row per table with the settings' fingerprint, so that a worker
** with other settings is refused instead of mixing results. A worker claims
** a free or expired chunk in one short transaction (FOR UPDATE SKIP LOCKED
** on MariaDB and PostgreSQL; BEGIN IMMEDIATE on SQLite), renews its lease on
** the database's clock, and marks the chunk done only while its fencing
** token (raised by every claim) is still the chunk's. Each call retries a
** lost connection like the *_retry functions (retry_for seconds, *stop). */
#define DI_CHUNKS_TABLE "depthindex_chunks"
#define DI_RUNS_TABLE "depthindex_runs"
#define DI_CHUNK_OWNER_MAX 128
#define DI_FINGERPRINT_MAX 640

typedef struct di_chunk {
    int64_t chunk;  /* its number */
    int64_t lo, hi; /* ids lo..hi, both included */
    int shard;
    int64_t token;  /* fencing token of this claim */
    int attempts;   /* claims so far, this one included */
} di_chunk;

/* What a worker brings to a run: used when it creates the run, checked
** against the run when it joins one. */
typedef struct di_chunk_plan {
    const char *fingerprint; /* "key=value;..." of the settings that change results */
    int64_t chunk_ids;       /* ids per chunk [1024] */
    int shards;              /* 0: no preference; else the run's shard count */
    int max_attempts;        /* claims of one chunk before it counts as failed [3] */
    double retry_for;
    const atomic_bool *stop;
} di_chunk_plan;

typedef struct di_chunk_run {
    int64_t chunk_ids;
    int shards;
    int max_attempts;
    int64_t chunks;          /* chunks in the run */
    bool created;            /* this worker created the run (or renewed it) */
} di_chunk_run;

enum di_chunk_run_state { DI_RUN_NONE, DI_RUN_UNFINISHED, DI_RUN_FINISHED };

/* Whether this table has a coordinated run, and whether any chunk of it is
** still to do (not done and not failed). */
int di_chunks_run_state(di_store *s, int *state, di_error *err);

/* Creates the side tables when missing, the run and its chunks when missing
** (also chunks for ids added since), and checks the fingerprint and shard
** count: DI_EINVAL naming what differs. A finished run with another
** fingerprint is replaced by this one. */
int di_chunks_join(di_store *s, const di_chunk_plan *plan, di_chunk_run *run,
                   di_error *err);

/* Claims the next free or expired chunk not failed yet (attempts below
** max_attempts): of shard `shard` first (ascending), then (steal) of any
** shard (descending, from the far end of the others' ranges). shard < 0:
** any chunk, ascending. *got is false when none is claimable; then *live
** tells how many chunks others (not this owner) still hold: worth waiting
** for, their lease may expire. */
int di_chunks_claim(di_store *s, const char *owner, int shard, bool steal,
                    double lease, int max_attempts, double retry_for,
                    const atomic_bool *stop, di_chunk *out, bool *got,
                    int64_t *live, di_error *err);

/* Guarded by the token: *kept is false (and nothing changes) when another
** worker has claimed the chunk since. renew: the lease runs lease seconds
** from now (database clock); finish: done, with how many faces this worker
** processed; release: free again at once (an interrupted worker), the
** attempt not counted. */
int di_chunks_renew(di_store *s, const di_chunk *c, double lease, double retry_for,
                    const atomic_bool *stop, bool *kept, di_error *err);
int di_chunks_finish(di_store *s, const di_chunk *c, int64_t faces, double retry_for,
                     const atomic_bool *stop, bool *kept, di_error *err);
int di_chunks_release(di_store *s, const di_chunk *c, double retry_for,
                      const atomic_bool *stop, bool *kept, di_error *err);

/* A keyset page of pending rows as di_store_fetch_pending, within ids
** after_id < id <= upto. */
int di_store_fetch_range_retry(di_store *s, int64_t after_id, int64_t upto,
                               int max_rows, bool force, di_store_row *rows,
                               int *nrows, double retry_for, const atomic_bool *stop,
                               di_error *err);

#define DI_CHUNKS_STATUS_WORKERS 64
typedef struct di_chunks_worker {
    char owner[DI_CHUNK_OWNER_MAX];
    int64_t chunks_done, faces; /* on chunks it finished */
    double busy_s;              /* its first claim to its last finish of those
                                ** (chunks overlap: the prefetched next one) */
    double since_renewal;       /* seconds since its last claim or renewal */
    int64_t leased;             /* chunks it holds now (lease not expired) */
} di_chunks_worker;

typedef struct di_chunks_status {
    bool present;               /* the table has a coordinated run */
    int64_t chunks, done, leased, free, failed;
    int shards, max_attempts;
    int64_t chunk_ids;
    int nworkers;               /* owners listed (at most the array's size) */
    di_chunks_worker workers[DI_CHUNKS_STATUS_WORKERS];
} di_chunks_status;

int di_chunks_status_get(di_store *s, di_chunks_status *out, di_error *err);

#endif

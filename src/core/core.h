/*
** core.h: what every part of depthindex shares: the error model, a
** monotonic clock, a bounded blocking queue, URL parsing and identifier
** validation.
**
** Errors are values (the SQLite model): a function that can fail returns
** DI_OK (0) or a negative DI_E* code and fills a caller-owned di_error with a
** one-line message that names the thing (file, node, table, column) and the
** reason. Library code never prints and never exits.
*/
#ifndef DI_CORE_H
#define DI_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DI_VERSION "0.1.0"

/* Run-time choice of the instruction set for the hot loops of the score
** (Canny, 8-bit depth, histogram, weighted sum): a build for any x86-64
** (-Dnative=false) carries AVX-512 and AVX2 copies of these functions, and
** the loader picks the best the CPU has (GCC target_clones). A -march=native
** build that already has AVX-512 needs none. The loops are exact integer
** and IEEE arithmetic without contraction (C11), so every copy gives the
** same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__AVX512BW__) && defined(__linux__)
#define DI_HOT_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DI_HOT_CLONES
#endif
/* For the static helpers of those functions: inlined into every copy, so
** that they are compiled for its instruction set too. */
#if defined(__GNUC__)
#define DI_HOT_INLINE __attribute__((always_inline)) inline
#else
#define DI_HOT_INLINE inline
#endif

enum di_status {
    DI_OK = 0,
    DI_EIO = -1,          /* reading or writing a file failed */
    DI_EFORMAT = -2,      /* outside data is malformed (image, ONNX, NPY...) */
    DI_ENOMEM = -3,       /* out of memory, or a declared size is absurd */
    DI_EINVAL = -4,       /* a bad argument or option value */
    DI_EUNSUPPORTED = -5, /* valid but not supported (op, dtype, feature not built) */
    DI_EDB = -6,          /* the database refused a statement */
    DI_ECONN = -7,        /* the database connection is down: worth a retry */
    DI_EAUTH = -8,        /* wrong user or password */
    DI_ESCHEMA = -9,      /* a table or column is missing */
    DI_EINTR = -10,       /* interrupted by a signal or a stop request */
    DI_ENOSPC = -11,      /* disk full */
    DI_ESHAPE = -12,      /* tensor or image dimensions do not fit */
    DI_EDEVICE = -13,     /* the compute device is lost or failed: nothing more runs on it */
    DI_EINTERNAL = -14,   /* a bug, or a library failing on input it should take */
};

/* Sub-codes (di_error.detail) where a caller must tell apart two cases of one
** code; a caller branches on these, never on the message text. */
enum di_detail {
    DI_DETAIL_NONE = 0,
    DI_DETAIL_NO_TABLE = 1, /* DI_ESCHEMA: the table itself does not exist */
};

/* What a message already names (di_error.named), so that a caller adding
** context ("node 'x' (Conv): ...", "model.onnx: ...") adds it once. */
enum {
    DI_NAMED_NODE = 1, /* the message starts with the engine node it is about */
    DI_NAMED_FILE = 2, /* the message names the file it is about */
};

#define DI_ERROR_MSG_MAX 512

typedef struct di_error {
    int code;                   /* DI_OK or a DI_E* value */
    char msg[DI_ERROR_MSG_MAX]; /* one line, no trailing newline */
    int detail;                 /* DI_DETAIL_*: refines code; 0 when none */
    unsigned named;             /* DI_NAMED_* bits */
} di_error;

/* Fills err (when not NULL) and returns code, so that a caller can write
** `return di_fail(err, DI_EFORMAT, "%s: bad header", path);`. */
int di_fail(di_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int di_failv(di_error *err, int code, const char *fmt, va_list ap);
/* di_fail with a sub-code (DI_DETAIL_*). */
int di_fail_detail(di_error *err, int code, int detail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes an existing message: "what: old message". Keeps the code, the
** detail and the named bits. */
int di_error_prefix(di_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void di_error_clear(di_error *err);
/* A short name for a code ("io", "format", ...). */
const char *di_status_name(int code);
/* Maps an errno value to a status (ENOSPC -> DI_ENOSPC, ENOMEM -> ...). */
int di_status_from_errno(int errnum);

/* Monotonic time in seconds. */
double di_now(void);
/* Sleeps for the given seconds (fractions allowed). */
void di_sleep(double seconds);
/* The time `seconds` from now on `clock` (CLOCK_MONOTONIC for a condition
** variable set to it, CLOCK_REALTIME for pthread_timedjoin_np), as the
** absolute deadline the timed waits take; seconds <= 0: now. */
void di_deadline(clockid_t clock, double seconds, struct timespec *until);

/* ---- Bounded blocking queue of pointers (FIFO) ----
** Every arrow between pipeline stages is one of these: a full queue blocks the
** producer (backpressure), so memory is bounded by the capacities. */
typedef struct di_queue di_queue;

di_queue *di_queue_create(size_t capacity);
void di_queue_destroy(di_queue *q);
/* Blocks while full. Returns DI_OK, or DI_EINTR when the queue was closed. */
int di_queue_push(di_queue *q, void *item);
/* Blocks while empty. Returns NULL once the queue is closed and drained. */
void *di_queue_pop(di_queue *q);
/* Non-blocking pop: NULL when empty. */
void *di_queue_try_pop(di_queue *q);
/* Waits at most `seconds` for an item. NULL when none came in time or the
** queue is closed and drained (then *closed is true). */
void *di_queue_pop_timed(di_queue *q, double seconds, bool *closed);
/* After close, pushes fail and pops drain what is left then return NULL. */
void di_queue_close(di_queue *q);
size_t di_queue_length(di_queue *q);
size_t di_queue_capacity(const di_queue *q);

/* ---- Database URLs ----
** sqlite:PATH, mysql://user[:pass]@host[:port]/db (also mariadb://),
** postgresql://user[:pass]@host[:port]/db (also postgres://).
** Percent-escapes in user and password are decoded. Error messages from the
** parser never contain the password. */
typedef struct di_url {
    char scheme[16];    /* "sqlite", "mysql" or "postgresql" (normalised) */
    char user[128];
    char password[256]; /* empty when absent */
    bool has_password;
    char host[256];
    int port;           /* 0 when absent */
    char path[1024];    /* database name, or the SQLite file path */
} di_url;

int di_url_parse(const char *text, di_url *out, di_error *err);
/* Writes the URL with any password replaced by "***", for logs. */
void di_url_redact(const char *text, char *out, size_t out_size);

/* True when s is a plain SQL identifier: [A-Za-z_][A-Za-z0-9_]{0,63}. Table
** and column names from options must pass this before they reach SQL. */
bool di_ident_valid(const char *s);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience;
** *size excludes the NUL). Refuses files larger than max_bytes, directories
** and non-regular files with a message naming the path. */
int di_read_file(const char *path, size_t max_bytes, uint8_t **data,
                 size_t *size, di_error *err);
/* The same into a caller-owned buffer (*buf of *cap bytes, NULL and 0 at
** first) that is grown when the file needs more and kept for the next call,
** so that reading many files allocates nothing in steady state. On error
** the buffer stays valid (and owned by the caller). */
int di_read_file_reuse(const char *path, size_t max_bytes, uint8_t **buf,
                       size_t *cap, size_t *size, di_error *err);

/* Creates a folder and the folders above it that are missing (mkdir -p).
** An existing folder is fine; an existing file that is not one is an error
** naming the path and the reason. */
int di_make_dirs(const char *path, di_error *err);

#endif

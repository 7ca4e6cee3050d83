/*
** test_conformance.c: the official ONNX backend node tests (Debian's
** libonnx-testdata: data/node/test_* /model.onnx with test_data_set_* /
** input_N.pb and output_N.pb, TensorProto files) run through our engine.
**
** A test is "claimed" when every op of its graph is in our kernel table and
** the model loads (every check() accepts its attributes). Claimed tests run
** at the shapes of their test data and must match the expected outputs with
** numpy allclose semantics, rtol 1e-3 and atol 1e-7 (the suite's own; NaN
** matches NaN), integer and bool outputs exactly. Any failure of a claimed
** test fails this program. Tests refused when loaded, or whose kernels
** refuse an element type when the plan is built (DI_EUNSUPPORTED), are
** listed as not claimed.
**
** Real models compute shapes from constants, so a kernel may need some
** inputs (Reshape's shape, Slice's starts, Resize's scales, ...) to be known
** when the plan is built. The node tests feed those as graph inputs: when a
** plan is refused for that reason, the test is run again with the inputs
** after the first turned into initializers, then with all of them (the
** kernels then run while constants are folded). Such passes are counted as
** "const" in the summary.
**
** Environment: DI_CONFORMANCE_DIR (default /usr/share/libonnx-testdata/
** data/node), DI_CONFORMANCE_FILTER (substring of test names to run),
** DI_CONFORMANCE_VERBOSE=1 (one line per test). Exits 77 when the test data
** is absent.
*/
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/engine.h"
#include "onnx.pb-c.h"

#define SKIP 77
#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_IO 16
#define MAX_OPS 256

typedef struct op_stat {
    char name[48];
    int passed, failed;
} op_stat;

static op_stat stats[MAX_OPS];
static int nstats;
static bool verbose;

static op_stat *stat_of(const char *op)
{
    for (int i = 0; i < nstats; i++)
        if (!strcmp(stats[i].name, op)) return &stats[i];
    if (nstats == MAX_OPS) return NULL;
    snprintf(stats[nstats].name, sizeof stats[nstats].name, "%s", op);
    return &stats[nstats++];
}

/* ops of the suite that are not in our table: how many tests name them */
static op_stat missing[MAX_OPS];
static int nmissing;

static void note_missing(const char *op)
{
    for (int i = 0; i < nmissing; i++)
        if (!strcmp(missing[i].name, op)) {
            missing[i].failed++;
            return;
        }
    if (nmissing == MAX_OPS) return;
    snprintf(missing[nmissing].name, sizeof missing[nmissing].name, "%s", op);
    missing[nmissing++].failed = 1;
}

/* ---- lists of names and messages ---- */

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static void list_add(strlist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void list_add(strlist *l, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return;
        l->v = v;
        l->cap = cap;
    }
    char *s = strdup(buf);
    if (s) l->v[l->n++] = s;
}

static void list_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- files ---- */

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                *size = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- TensorProto files into di_nn_io ---- */

/* Returns the unpacked proto (kept for turning inputs into initializers)
** and fills io with a malloc'd copy of the data; NULL with why filled. */
static Onnx__TensorProto *read_tensor(const char *path, di_nn_io *io,
                                      char *why, size_t why_len)
{
    size_t size;
    uint8_t *buf = slurp(path, &size);
    if (!buf) {
        snprintf(why, why_len, "cannot read %s", path);
        return NULL;
    }
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, buf);
    free(buf);
    if (!t) {
        snprintf(why, why_len, "%s does not parse as a TensorProto", path);
        return NULL;
    }
    memset(io, 0, sizeof *io);
    io->dtype = t->data_type;
    size_t es = di_dtype_size(io->dtype);
    if (!es || t->n_dims > DI_NN_MAX_DIMS) {
        snprintf(why, why_len, "test data of element type %d or rank %zu", (int)t->data_type, t->n_dims);
        goto fail;
    }
    io->ndim = (int)t->n_dims;
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        io->dims[i] = t->dims[i];
        if (t->dims[i] < 0 || t->dims[i] > (1 << 28) || (n *= (size_t)t->dims[i]) > ((size_t)1 << 28)) {
            snprintf(why, why_len, "%s: absurd shape", path);
            goto fail;
        }
    }
    io->data = malloc(n * es + 1);
    if (!io->data) {
        snprintf(why, why_len, "out of memory");
        goto fail;
    }
    size_t have;
    if (t->has_raw_data) {
        have = t->raw_data.len / es;
        if (t->raw_data.len == n * es && n) memcpy(io->data, t->raw_data.data, n * es);
    } else if (io->dtype == DI_DT_FLOAT) {
        have = t->n_float_data;
        if (have == n && n) memcpy(io->data, t->float_data, n * es);
    } else if (io->dtype == DI_DT_DOUBLE) {
        have = t->n_double_data;
        if (have == n && n) memcpy(io->data, t->double_data, n * es);
    } else if (io->dtype == DI_DT_INT64) {
        have = t->n_int64_data;
        if (have == n && n) memcpy(io->data, t->int64_data, n * es);
    } else {
        have = t->n_int32_data;
        for (size_t i = 0; i < n && have == n; i++) {
            if (io->dtype == DI_DT_INT32) ((int32_t *)io->data)[i] = t->int32_data[i];
            else ((uint8_t *)io->data)[i] = (uint8_t)t->int32_data[i];
        }
    }
    if (have != n) {
        snprintf(why, why_len, "%s: %zu elements stored, shape needs %zu", path, have, n);
        goto fail;
    }
    return t;
fail:
    free(io->data);
    io->data = NULL;
    onnx__tensor_proto__free_unpacked(t, NULL);
    return NULL;
}

/* ---- comparison ---- */

static bool close_enough(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= ATOL + RTOL * fabs(b);
}

static double elem(const di_nn_io *t, size_t i)
{
    switch (t->dtype) {
    case DI_DT_FLOAT: return ((const float *)t->data)[i];
    case DI_DT_DOUBLE: return ((const double *)t->data)[i];
    case DI_DT_INT32: return ((const int32_t *)t->data)[i];
    case DI_DT_INT8: return ((const int8_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

/* 0 when equal; else a message in why. */
static int compare(const di_nn_io *got, const di_nn_io *want, char *why,
                   size_t why_len)
{
    if (got->dtype != want->dtype) {
        snprintf(why, why_len, "element type %s, expected %s", di_dtype_name(got->dtype), di_dtype_name(want->dtype));
        return -1;
    }
    bool same = got->ndim == want->ndim;
    for (int i = 0; same && i < got->ndim; i++) same = got->dims[i] == want->dims[i];
    if (!same) {
        char a[128] = "", b[128] = "";
        for (int i = 0; i < got->ndim; i++) snprintf(a + strlen(a), sizeof a - strlen(a), "%lld,", (long long)got->dims[i]);
        for (int i = 0; i < want->ndim; i++) snprintf(b + strlen(b), sizeof b - strlen(b), "%lld,", (long long)want->dims[i]);
        snprintf(why, why_len, "shape (%s), expected (%s)", a, b);
        return -1;
    }
    size_t n = (size_t)di_shape_numel(want->ndim, want->dims);
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok;
        if (want->dtype == DI_DT_INT64) {
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
        } else if (want->dtype == DI_DT_FLOAT || want->dtype == DI_DT_DOUBLE) {
            ok = close_enough(elem(got, i), elem(want, i));
            double d = fabs(elem(got, i) - elem(want, i));
            if (!ok && !(d <= worst)) worst = d;
        } else {
            ok = elem(got, i) == elem(want, i);
        }
        if (!ok && bad++ == 0) first = i;
    }
    if (!bad) return 0;
    if (want->dtype == DI_DT_INT64)
        snprintf(why, why_len, "%zu of %zu values differ; first at %zu: %lld, expected %lld", bad, n, first,
                 (long long)((const int64_t *)got->data)[first], (long long)((const int64_t *)want->data)[first]);
    else
        snprintf(why, why_len, "%zu of %zu values differ (max |diff| %.3g); first at %zu: %.9g, expected %.9g", bad, n, worst,
                 first, elem(got, first), elem(want, first));
    return -1;
}

/* ---- one test ---- */

typedef struct data_set {
    int nin, nout;
    di_nn_io in[MAX_IO], out[MAX_IO];
    Onnx__TensorProto *in_pb[MAX_IO];
} data_set;

static void data_set_free(data_set *d)
{
    for (int i = 0; i < d->nin; i++) {
        free(d->in[i].data);
        if (d->in_pb[i]) onnx__tensor_proto__free_unpacked(d->in_pb[i], NULL);
    }
    for (int i = 0; i < d->nout; i++) free(d->out[i].data);
    memset(d, 0, sizeof *d);
}

static int data_set_read(const char *dir, data_set *d, char *why, size_t why_len)
{
    memset(d, 0, sizeof *d);
    char path[4600];
    for (int i = 0; i < MAX_IO; i++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
        if (!exists(path)) break;
        if (!(d->in_pb[i] = read_tensor(path, &d->in[i], why, why_len))) return -1;
        d->nin++;
    }
    for (int i = 0; i < MAX_IO; i++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", dir, i);
        if (!exists(path)) break;
        Onnx__TensorProto *t = read_tensor(path, &d->out[i], why, why_len);
        if (!t) return -1;
        onnx__tensor_proto__free_unpacked(t, NULL);
        d->nout++;
    }
    if (!d->nout) {
        snprintf(why, why_len, "%.300s has no outputs", dir);
        return -1;
    }
    return 0;
}

/* The model with graph inputs [from, n) replaced by initializers holding
** this data set's values. Returns malloc'd bytes. */
static uint8_t *model_with_const_inputs(Onnx__ModelProto *mp, data_set *d,
                                        int from, size_t *size)
{
    Onnx__GraphProto *g = mp->graph;
    /* graph inputs that are not initializers, in order: the data set's order */
    size_t n_in = g->n_input, n_init = g->n_initializer;
    Onnx__ValueInfoProto **old_in = g->input;
    Onnx__TensorProto **old_init = g->initializer;
    Onnx__ValueInfoProto **in = calloc(n_in + 1, sizeof *in);
    Onnx__TensorProto **init = calloc(n_init + n_in + 1, sizeof *init);
    char *saved_names[MAX_IO] = {0};
    uint8_t *buf = NULL;
    if (!in || !init) goto done;
    if (n_init) memcpy(init, old_init, n_init * sizeof *init);
    size_t ni = 0, ninit = n_init;
    int k = 0; /* index among real inputs */
    for (size_t i = 0; i < n_in; i++) {
        bool is_init = false;
        for (size_t j = 0; j < n_init; j++) is_init |= !strcmp(old_init[j]->name, old_in[i]->name);
        if (is_init) {
            in[ni++] = old_in[i];
            continue;
        }
        if (k >= from && k < d->nin && d->in_pb[k]) {
            saved_names[k] = d->in_pb[k]->name;
            d->in_pb[k]->name = old_in[i]->name;
            init[ninit++] = d->in_pb[k];
        } else {
            in[ni++] = old_in[i];
        }
        k++;
    }
    g->input = in;
    g->n_input = ni;
    g->initializer = init;
    g->n_initializer = ninit;
    *size = onnx__model_proto__get_packed_size(mp);
    buf = malloc(*size + 1);
    if (buf) onnx__model_proto__pack(mp, buf);
    g->input = old_in;
    g->n_input = n_in;
    g->initializer = old_init;
    g->n_initializer = n_init;
    for (int i = 0; i < MAX_IO; i++)
        if (saved_names[i]) d->in_pb[i]->name = saved_names[i];
done:
    free(in);
    free(init);
    return buf;
}

enum { RES_PASS, RES_PASS_CONST, RES_FAIL, RES_REFUSED };

/* Loads model bytes and runs them on the data set's inputs [0, nin). */
static int run_model(const char *name, const uint8_t *bytes, size_t size,
                     const char *dir, data_set *d, int nin, char *why,
                     size_t why_len, bool *refused)
{
    di_error e;
    di_error_clear(&e);
    di_nn_graph *g;
    *refused = false;
    int rc = di_nn_graph_load_mem(bytes, size, name, dir, &g, &e);
    if (rc) {
        *refused = true;
        snprintf(why, why_len, "load: %s", e.msg);
        return -1;
    }
    di_nn_session *s;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    if ((rc = di_nn_session_create_graph(g, &opt, &s, &e))) {
        *refused = rc == DI_EUNSUPPORTED;
        snprintf(why, why_len, "session: %s", e.msg);
        return -1;
    }
    di_nn_io outs[MAX_IO];
    memset(outs, 0, sizeof outs);
    int nout = d->nout;
    if (nout != s->g->noutputs) {
        snprintf(why, why_len, "the model has %d outputs, the test data %d", s->g->noutputs, nout);
        di_nn_session_destroy(s);
        return -1;
    }
    rc = di_nn_run_io(s, d->in, nin, outs, nout, &e);
    if (rc) {
        *refused = rc == DI_EUNSUPPORTED;
        snprintf(why, why_len, "run: %s", e.msg);
    } else {
        for (int i = 0; i < nout && !rc; i++) {
            char w[600];
            if (compare(&outs[i], &d->out[i], w, sizeof w)) {
                snprintf(why, why_len, "output %d: %s", i, w);
                rc = -1;
            }
        }
        for (int i = 0; i < nout; i++) free(outs[i].data);
    }
    di_nn_session_destroy(s);
    return rc ? -1 : 0;
}

static int run_test(const char *root, const char *name, strlist *fails,
                    strlist *refusals, int *unclaimed, bool *passed_const)
{
    char dir[4096], path[4200], why[1500] = "";
    if (strlen(root) > 2000 || strlen(name) > 1000) return -2;
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t size;
    uint8_t *bytes = slurp(path, &size);
    if (!bytes) return -2; /* not a test folder */
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, bytes);
    if (!mp || !mp->graph) {
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        free(bytes);
        list_add(fails, "%s: model.onnx does not parse", name);
        return RES_FAIL;
    }
    /* claimed: every op in our table (default domain) */
    const char *ops[64];
    int nops = 0;
    bool claimed = true;
    for (size_t i = 0; i < mp->graph->n_node && claimed; i++) {
        const Onnx__NodeProto *np = mp->graph->node[i];
        const char *dom = np->domain;
        if ((dom && *dom && strcmp(dom, "ai.onnx")) || !di_nn_find_op(np->op_type)) {
            claimed = false;
            note_missing(np->op_type);
        }
        bool seen = false;
        for (int j = 0; j < nops; j++) seen |= !strcmp(ops[j], np->op_type);
        if (!seen && nops < 64) ops[nops++] = np->op_type;
    }
    /* sequences, optionals, maps: not tensors, not ours */
    for (size_t i = 0; i < mp->graph->n_input && claimed; i++) {
        const Onnx__TypeProto *tp = mp->graph->input[i]->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) claimed = false;
    }
    for (size_t i = 0; i < mp->graph->n_output && claimed; i++) {
        const Onnx__TypeProto *tp = mp->graph->output[i]->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) claimed = false;
    }
    if (!claimed) {
        onnx__model_proto__free_unpacked(mp, NULL);
        free(bytes);
        (*unclaimed)++;
        return RES_REFUSED;
    }
    char opsline[512] = "";
    for (int j = 0; j < nops; j++) snprintf(opsline + strlen(opsline), sizeof opsline - strlen(opsline), "%s%s", j ? "," : "", ops[j]);

    int result = RES_PASS, nsets = 0;
    *passed_const = false;
    for (int ds = 0; ds < 64 && result != RES_FAIL && result != RES_REFUSED; ds++) {
        char sdir[4400];
        snprintf(sdir, sizeof sdir, "%s/test_data_set_%d", dir, ds);
        if (!exists(sdir)) break;
        nsets++;
        data_set d;
        if (data_set_read(sdir, &d, why, sizeof why)) {
            data_set_free(&d);
            result = RES_REFUSED;
            break;
        }
        bool refused;
        int rc = run_model(name, bytes, size, dir, &d, d.nin, why, sizeof why, &refused);
        /* Shape-like inputs as constants: first all but the first, then all. */
        for (int from = d.nin > 1 ? 1 : 0; rc && refused && from >= 0; from--) {
            size_t csize;
            uint8_t *cbytes = model_with_const_inputs(mp, &d, from, &csize);
            if (!cbytes) break;
            char why2[1500];
            bool refused2;
            int rc2 = run_model(name, cbytes, csize, dir, &d, from, why2, sizeof why2, &refused2);
            free(cbytes);
            /* keep the reason of the last attempt: it got furthest */
            memcpy(why, why2, sizeof why);
            if (!rc2 || !refused2) {
                rc = rc2;
                refused = refused2;
                if (!rc) *passed_const = true;
                break;
            }
        }
        data_set_free(&d);
        if (rc) result = refused ? RES_REFUSED : RES_FAIL;
    }
    if (!nsets && result == RES_PASS) {
        snprintf(why, sizeof why, "no test data sets");
        result = RES_REFUSED;
    }
    if (result == RES_FAIL) list_add(fails, "%s [%s]: %s", name, opsline, why);
    if (result == RES_REFUSED) list_add(refusals, "%s [%s]: %s", name, opsline, why);
    for (int j = 0; j < nops; j++) {
        op_stat *st = stat_of(ops[j]);
        if (!st) continue;
        if (result == RES_PASS) st->passed++;
        if (result == RES_FAIL) st->failed++;
    }
    if (verbose) fprintf(stderr, "%-60s %s %s\n", name, result == RES_PASS ? (*passed_const ? "pass (const)" : "pass") : result == RES_FAIL ? "FAIL" : "not claimed", result == RES_PASS ? "" : why);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(bytes);
    return result;
}

static int cmp_stat(const void *a, const void *b)
{
    return strcmp(((const op_stat *)a)->name, ((const op_stat *)b)->name);
}

int main(void)
{
    const char *root = getenv("DI_CONFORMANCE_DIR");
    if (!root || !*root) root = "/usr/share/libonnx-testdata/data/node";
    const char *filter = getenv("DI_CONFORMANCE_FILTER");
    verbose = getenv("DI_CONFORMANCE_VERBOSE") && *getenv("DI_CONFORMANCE_VERBOSE") == '1';
    DIR *dp = opendir(root);
    if (!dp) {
        printf("SKIP: %s is absent (Debian package libonnx-testdata)\n", root);
        return SKIP;
    }
    strlist names = {0}, fails = {0}, refusals = {0};
    struct dirent *de;
    while ((de = readdir(dp)))
        if (!strncmp(de->d_name, "test_", 5) && (!filter || strstr(de->d_name, filter))) list_add(&names, "%s", de->d_name);
    closedir(dp);
    qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    if (!names.n) {
        printf("SKIP: no test_* folders in %s\n", root);
        list_free(&names);
        return SKIP;
    }
    int passed = 0, passed_const = 0, failed = 0, refused = 0, unclaimed = 0;
    for (int i = 0; i < names.n; i++) {
        bool pc = false;
        int before = unclaimed;
        int r = run_test(root, names.v[i], &fails, &refusals, &unclaimed, &pc);
        if (r == RES_PASS) {
            passed++;
            passed_const += pc;
        } else if (r == RES_FAIL) {
            failed++;
        } else if (r == RES_REFUSED && unclaimed == before) {
            refused++;
        }
    }
    qsort(stats, (size_t)nstats, sizeof stats[0], cmp_stat);
    printf("ONNX node tests in %s: %d folders\n", root, names.n);
    printf("per op (tests containing the op: passed / run):\n");
    for (int i = 0; i < nstats; i++)
        if (stats[i].passed + stats[i].failed)
            printf("  %-28s %4d / %d%s\n", stats[i].name, stats[i].passed, stats[i].passed + stats[i].failed, stats[i].failed ? "  FAILURES" : "");
    qsort(missing, (size_t)nmissing, sizeof missing[0], cmp_stat);
    printf("ops of the suite not in our table (tests that use them):");
    for (int i = 0; i < nmissing; i++) printf("%s %s (%d)", i % 8 ? "" : "\n ", missing[i].name, missing[i].failed);
    printf("\n");
    printf("not claimed, refused at load or plan (%d):\n", refusals.n);
    for (int i = 0; i < refusals.n; i++) printf("  %s\n", refusals.v[i]);
    if (fails.n) {
        printf("FAILURES (%d):\n", fails.n);
        for (int i = 0; i < fails.n; i++) printf("  %s\n", fails.v[i]);
    }
    printf("claimed and run: %d (passed %d, of which %d with shape inputs as constants; failed %d); refused: %d; ops not in our table: %d\n",
           passed + failed, passed, passed_const, failed, refused, unclaimed);
    list_free(&names);
    list_free(&fails);
    list_free(&refusals);
    return failed ? 1 : 0;
}

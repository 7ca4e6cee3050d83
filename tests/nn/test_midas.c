/*
** test_midas.c: the real MiDaS v2.1 small architecture, with deterministic
** weights from the project's own filler, run by our engine at batch 1 and
** batch 4 and compared with onnxruntime (npm onnxruntime-node, CPU) run by
** tests/nn/ort_run.js: max |ours - ort| <= 1e-4 * (range of the output).
** The batch-4 reference is 4 runs at batch 1, stacked.
** Skips (77) when the graph file, node or the npm package is missing.
*/
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "oracle.h"
#include "nn/nn.h"
#include "ort_compare.h"
#include "test_files.h"
#include "test_session.h"

#define SKIP 77

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static double compare(const float *a, const float *ref, size_t n, double *range)
{
    float lo = ref[0], hi = ref[0];
    double md = 0;
    for (size_t i = 0; i < n; i++) {
        if (ref[i] < lo) lo = ref[i];
        if (ref[i] > hi) hi = ref[i];
        double d = fabs((double)a[i] - (double)ref[i]);
        if (!(d <= md)) md = d; /* NaN counts as the largest */
    }
    *range = (double)hi - (double)lo;
    return md;
}

/* Two sessions used from two threads at once: each must still match. */
typedef struct worker {
    const char *model;
    const float *x;
    float *y;
    size_t on;
    int rc;
    di_error err;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    di_nn_session *s;
    w->rc = di_nn_session_create(w->model, &opt, &s, &w->err);
    for (int r = 0; r < 2 && !w->rc; r++) w->rc = di_nn_run(s, w->x, 1, w->y, w->on, &w->err);
    di_nn_session_destroy(s);
    return NULL;
}

int main(void)
{
    const int size = 256;
    const char *shared = env_or("DEPTHINDEX_SHARED", "../shared");
    const char *src = env_or("DEPTHINDEX_SOURCE_ROOT", ".");
    char graph[1024], filled[1200], xin[1200], xref[1200], tmpdir[1024];
    snprintf(graph, sizeof graph, "%s/models/midas_v21_small_256.graph.onnx", shared);
    struct stat st;
    if (stat(graph, &st)) {
        char why[1200];
        snprintf(why, sizeof why, "%s is absent (the MiDaS graph is shared data, not in the repository: ../shared next to the checkout)", graph);
        return oracle_missing(why);
    }
    char why[1200];
    if (ort_ready(src, why, sizeof why)) return oracle_missing(why);
    if (test_dir(tmpdir, sizeof tmpdir, "midas")) return 1;
    snprintf(filled, sizeof filled, "%s/midas_filled.onnx", tmpdir);
    snprintf(xin, sizeof xin, "%s/x.npy", tmpdir);
    snprintf(xref, sizeof xref, "%s/ref.npy", tmpdir);

    di_error err;
    di_error_clear(&err);
    int nfilled = 0;
    CHECKF(di_nn_fill_weights(graph, filled, 1, &nfilled, &err) == 0, "%s", err.msg);
    CHECK(nfilled == 171);

    const int B = 4;
    int64_t xd[4] = {B, 3, size, size};
    size_t per = (size_t)3 * (size_t)size * (size_t)size, on = (size_t)size * (size_t)size;
    float *x = malloc((size_t)B * per * sizeof(float));
    uint64_t s = 12345;
    for (size_t i = 0; i < (size_t)B * per; i++) { /* deterministic, image-like values */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
    }
    CHECK(write_npy(xin, x, xd, 4) == 0);
    float *ref = ort_reference(src, filled, xin, xref, 2, (size_t)B * on);

    di_nn_options opt = test_options(2);
    opt.profile = 1; /* its steps by op: the activations stay in oneDNN's layout */
    di_nn_session *sess = test_session(filled, &opt, "MiDaS small");
    if (sess && ref) {
        int c, h, w;
        CHECK(di_nn_input_chw(sess, &c, &h, &w) == 0 && c == 3 && h == size && w == size);
        int64_t od[8];
        int ond;
        CHECKF(di_nn_output_shape(sess, B, od, &ond, &err) == 0, "%s", err.msg);
        CHECK(ond == 3 && od[0] == B && od[1] == size && od[2] == size);
        float *y = calloc((size_t)B * on, sizeof(float));
        /* batch 1 */
        CHECKF(di_nn_run(sess, x, 1, y, on, &err) == 0, "%s", err.msg);
        double range, md = compare(y, ref, on, &range);
        printf("batch 1: max |ours - onnxruntime| = %.3g, output range %.4g, ratio %.3g (limit 1e-4)\n", md, range, md / range);
        CHECK(range > 0);
        CHECKF(md <= 1e-4 * range, "batch 1 differs: %.3g > 1e-4 * %.4g", md, range);
        di_nn_op_time times[64];
        int runs, nt = di_nn_profile(sess, times, 64, &runs);
        CHECK(nt > 0 && runs == 1);
        for (int i = 0; i < nt; i++)
            CHECKF(strcmp(times[i].op, "Reorder"), "the CPU plan has %d reorders", times[i].calls);
        /* batch 4 in one pass */
        memset(y, 0, (size_t)B * on * sizeof(float));
        CHECKF(di_nn_run(sess, x, B, y, (size_t)B * on, &err) == 0, "%s", err.msg);
        md = compare(y, ref, (size_t)B * on, &range);
        printf("batch %d: max |ours - onnxruntime| = %.3g, output range %.4g, ratio %.3g (limit 1e-4)\n", B, md, range, md / range);
        CHECKF(md <= 1e-4 * range, "batch %d differs: %.3g > 1e-4 * %.4g", B, md, range);
        /* the same batch in one pass (no image-by-image tiling) */
        di_nn_options whole = opt;
        whole.whole_batch = true;
        di_nn_session *ws = test_session(filled, &whole, "MiDaS small, whole batch");
        if (ws) {
            float *yw = calloc((size_t)B * on, sizeof(float));
            CHECKF(di_nn_run(ws, x, B, yw, (size_t)B * on, &err) == 0, "%s", err.msg);
            double mdw = compare(yw, ref, (size_t)B * on, &range);
            printf("batch %d in one pass: max |ours - onnxruntime| = %.3g, ratio %.3g\n", B, mdw, mdw / range);
            CHECKF(mdw <= 1e-4 * range, "batch %d in one pass differs: %.3g > 1e-4 * %.4g", B, mdw, range);
            free(yw);
            di_nn_session_destroy(ws);
        }
        /* images differ from each other (the batch is not one image repeated) */
        CHECK(memcmp(y, y + on, on * sizeof(float)) != 0);
        /* the session's thread count is the session's: the caller's is kept */
        omp_set_num_threads(3);
        CHECKF(di_nn_run(sess, x, 1, y, on, &err) == 0, "%s", err.msg);
        CHECK(omp_get_max_threads() == 3);
        /* too small an output buffer is an error, not an overflow */
        CHECK(di_nn_run(sess, x, B, y, on, &err) == DI_ESHAPE);
        printf("too small a buffer: %s\n", err.msg);
        /* two threads, two sessions, different images, at the same time */
        worker wk[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            wk[i] = (worker){filled, x + (size_t)(i + 1) * per, calloc(on, sizeof(float)), on, 0, {0}};
            pthread_create(&th[i], NULL, work, &wk[i]);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            CHECKF(wk[i].rc == 0, "%s", wk[i].err.msg);
            md = compare(wk[i].y, ref + (size_t)(i + 1) * on, on, &range);
            printf("thread %d (image %d): max |ours - onnxruntime| = %.3g, ratio %.3g\n", i, i + 1, md, md / range);
            CHECKF(md <= 1e-4 * range, "thread %d differs: %.3g > 1e-4 * %.4g", i, md, range);
            free(wk[i].y);
        }
        free(y);
    }
    di_nn_session_destroy(sess);
    free(ref);
    free(x);
    return check_summary();
}

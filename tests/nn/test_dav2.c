/*
** test_dav2.c: a Depth Anything V2 small-shaped model (tests/nn/dav2_graph.h:
** ViT-S/14 encoder as torch.onnx.export writes DINOv2, DPT head, dynamic
** batch) run by our engine and by onnxruntime (tests/nn/ort_run.js, one
** image at a time), outputs compared: max |diff| <= 1e-4 of the output's
** range. Our engine runs batch 1, batch 2, and batch 2 as one pass
** (whole_batch: the shape chains folded for batch 2). `depthindex model`
** on the file must list no unsupported op. Written at opset 17 (torch's
** default for it) and 18 (ReduceMean's axes as an input).
** Size: 384 wide, 6 heads, 4 blocks, 266x266 (19x19 patches), about
** 12 GFLOP per image: a few seconds, in the ASan build too (oneDNN's
** kernels are not instrumented).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oracle.h"
#include "dav2_graph.h"
#include "nn/nn.h"
#include "ort_compare.h"
#include "test_files.h"

#define SKIP 77
enum { GRID = 19 };
enum { IMG = GRID * DAV2_PATCH, B = 2 };

static void compare(const char *what, const float *y, const float *ref, size_t n)
{
    float lo = ref[0], hi = ref[0];
    double md = 0;
    size_t nz = 0;
    for (size_t i = 0; i < n; i++) {
        lo = ref[i] < lo ? ref[i] : lo;
        hi = ref[i] > hi ? ref[i] : hi;
        nz += ref[i] > 0;
        double d = fabs((double)y[i] - ref[i]);
        if (!(d <= md)) md = d; /* NaN sticks */
    }
    double range = (double)hi - lo;
    printf("%s: max |ours - onnxruntime| = %.3g, output range %.4g (%.0f%% > 0), ratio %.3g\n", what, md, range,
           100.0 * (double)nz / (double)n, md / range);
    CHECKF(range > 1e-3 && isfinite(range), "%s: output range %g", what, range);
    CHECKF(md <= 1e-4 * range, "%s differs: %.3g > 1e-4 of %.4g", what, md, range);
}

/* One opset's graph: written, reported by `depthindex model`, run by
** onnxruntime and by us at batch 1, 2 and 2 in one pass. */
static void run_opset(const char *src, const char *exe, const char *dir, int opset, const float *x)
{
    char model[1000], xin[1000], xref[1000], cmd[4096];
    snprintf(model, sizeof model, "%s/dav2_small_shaped_op%d.onnx", dir, opset);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    snprintf(xref, sizeof xref, "%s/ref_op%d.npy", dir, opset);
    dav2_cfg cfg = {.dim = 384, .heads = 6, .grid = GRID, .blocks = 4, .features = 64, .opset = opset};
    ob b;
    dav2_build(&b, &cfg);
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    CHECK(write_file(model, bytes, len) == 0);
    printf("opset %d: %zu nodes, %.1f MB, input %dx%d, %d blocks\n", opset, b.g.n_node, (double)len / 1e6, IMG, IMG, cfg.blocks);
    free(bytes);
    ob_free(&b);

    /* the CLI's model report: no unsupported op */
    if (exe && *exe) {
        snprintf(cmd, sizeof cmd, "'%s' model '%s' > '%s/model_op%d.txt' 2>&1", exe, model, dir, opset);
        int rc = system(cmd);
        CHECKF(rc == 0, "depthindex model failed: %s", cmd);
        snprintf(cmd, sizeof cmd, "grep -qx 'unsupported: none' '%s/model_op%d.txt'", dir, opset);
        CHECKF(system(cmd) == 0, "depthindex model lists unsupported ops (see %s/model_op%d.txt)", dir, opset);
    }

    size_t on = (size_t)IMG * IMG;
    float *ref = ort_reference(src, model, xin, xref, 2, B * on);
    if (ref) { /* the two images give different maps: a batch mix-up would show */
        double dd = 0;
        for (size_t i = 0; i < on; i++) dd = fmax(dd, fabs((double)ref[on + i] - ref[i]));
        CHECKF(dd > 1e-2, "onnxruntime's two outputs are the same (max diff %g)", dd);
    }
    di_error err;
    for (int whole = 0; whole <= 1 && ref; whole++) {
        di_nn_options opt;
        di_nn_options_default(&opt);
        opt.threads = 2;
        opt.whole_batch = whole;
        di_nn_session *s = NULL;
        CHECKF(di_nn_session_create(model, &opt, &s, &err) == 0, "%s", err.msg);
        if (!s) break;
        float *y = calloc(B * on, sizeof(float));
        for (int batch = whole ? B : 1; batch <= B; batch++) {
            memset(y, 0, B * on * sizeof(float));
            CHECKF(di_nn_run(s, x, batch, y, (size_t)batch * on, &err) == 0, "%s", err.msg);
            char what[64];
            snprintf(what, sizeof what, "opset %d, batch %d%s", opset, batch, whole ? " (one pass)" : "");
            compare(what, y, ref, (size_t)batch * on);
        }
        free(y);
        di_nn_session_destroy(s);
    }
    free(ref);
}

int main(void)
{
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    const char *exe = getenv("DEPTHINDEX");
    if (!src || !*src) src = ".";
    char dir[900], xin[1000];
    if (test_dir(dir, sizeof dir, "dav2")) return 1;
    char why[1200];
    if (ort_ready(src, why, sizeof why)) return oracle_missing(why);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    int64_t xd[4] = {B, 3, IMG, IMG};
    size_t per = 3 * (size_t)IMG * IMG;
    float *x = malloc(B * per * sizeof(float));
    dav2_b rnd = {.rng = 99};
    for (size_t i = 0; i < B * per; i++) x[i] = (float)dav2_randn(&rnd);
    CHECK(write_npy(xin, x, xd, 4) == 0);
    /* 17: what torch.onnx.export writes by default for DA-V2; 18: ReduceMean's axes as an input */
    run_opset(src, exe, dir, 17, x);
    run_opset(src, exe, dir, 18, x);
    free(x);
    return check_summary();
}

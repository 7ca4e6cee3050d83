/*
** test_dynamic_hw.c: a model whose height and width are symbolic, as the
** onnx-community Depth Anything V2 files declare them (tests/nn/dav2_graph.h
** with dynamic_hw: the patch grid from Shape(image), the position embedding
** resized bicubically with scales computed at run time, token counts -1 in
** Reshapes, the output resized to the input's Shape). One session is
** specialised per input size (di_nn_set_input_size): 196x196 at batch 1 and
** 2, then 238x168 (non-square), then 196x196 again from the plan cache; each
** is compared with onnxruntime running the same file on the same input
** (max |diff| <= 1e-4 of the output range). A size whose grid is empty fails
** with one line naming the node, not a crash; the batch API without a size
** says that one is needed. `depthindex infer` takes the size from its input
** file; `depthindex model` names the symbolic dimensions and plans at 518.
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

enum { GRID0 = 16, B = 2 };

typedef struct size_case {
    int h, w;
    float *x, *ref;
} size_case;

/* onnxruntime's output for a batch of B random images at h x w */
static void oracle(const char *src, const char *dir, const char *model, size_case *c, uint64_t seed)
{
    char xin[1000], xref[1000];
    snprintf(xin, sizeof xin, "%s/x_%dx%d.npy", dir, c->w, c->h);
    snprintf(xref, sizeof xref, "%s/ref_%dx%d.npy", dir, c->w, c->h);
    size_t per = 3 * (size_t)c->h * c->w;
    c->x = malloc(B * per * sizeof(float));
    dav2_b rnd = {.rng = seed};
    for (size_t i = 0; i < B * per; i++) c->x[i] = (float)dav2_randn(&rnd);
    CHECK(write_npy(xin, c->x, (int64_t[]){B, 3, c->h, c->w}, 4) == 0);
    c->ref = ort_reference(src, model, xin, xref, 2, (size_t)B * c->h * c->w);
}

static void run_size(di_nn_session *s, const size_case *c, const char *tag)
{
    di_error err;
    if (!c->ref) return;
    CHECKF(di_nn_set_input_size(s, c->h, c->w, &err) == 0, "%s", err.msg);
    int ch = 0, h = 0, w = 0;
    CHECK(di_nn_input_chw(s, &ch, &h, &w) == 0 && ch == 3 && h == c->h && w == c->w);
    int64_t od[8];
    int ond = 0;
    CHECKF(di_nn_output_shape(s, B, od, &ond, &err) == 0, "%s", err.msg);
    CHECKF(ond == 3 && od[0] == B && od[1] == c->h && od[2] == c->w, "output shape for %dx%d: %d dims, %lld x %lld",
           c->w, c->h, ond, (long long)od[1], (long long)od[2]);
    size_t on = (size_t)c->h * c->w;
    float *y = calloc(B * on, sizeof(float));
    for (int batch = 1; batch <= B; batch++) {
        memset(y, 0, B * on * sizeof(float));
        CHECKF(di_nn_run(s, c->x, batch, y, (size_t)batch * on, &err) == 0, "%s", err.msg);
        char what[96];
        snprintf(what, sizeof what, "%dx%d, batch %d%s", c->w, c->h, batch, tag);
        ort_compare(what, y, c->ref, (size_t)batch * on, 1e-4);
    }
    free(y);
}

int main(void)
{
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    if (!src || !*src) src = ".";
    char dir[900], model[1000];
    if (test_dir(dir, sizeof dir, "dynamic-hw")) return 1;
    char why[1200];
    if (ort_ready(src, why, sizeof why)) return oracle_missing(why);
    snprintf(model, sizeof model, "%s/dav2_dynamic_hw.onnx", dir);
    dav2_cfg cfg = {.dim = 192, .heads = 3, .grid = GRID0, .blocks = 4, .features = 32, .dynamic_hw = 1};
    ob b;
    dav2_build(&b, &cfg);
    CHECK(ob_write(&b, model) == 0);
    ob_free(&b);

    /* `depthindex model`: the symbolic dimensions by name, planned at 518 */
    const char *exe = getenv("DEPTHINDEX");
    if (exe && *exe) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "'%s' model '%s' > '%s/model.txt' 2>&1 && "
                 "grep -qx 'symbolic dimensions: image\\[0\\] = batch, image\\[2\\] = height, image\\[3\\] = width' "
                 "'%s/model.txt' && grep -q '^input size: 518x518 .*patch size 14' '%s/model.txt' && "
                 "grep -qx 'runs: yes' '%s/model.txt' && grep -q '^preset: depth-anything (a 14x14 patch' '%s/model.txt'",
                 exe, model, dir, dir, dir, dir, dir);
        CHECKF(system(cmd) == 0, "depthindex model report (see %s/model.txt)", dir);
    }

    size_case cases[2] = {{.h = 14 * DAV2_PATCH, .w = 14 * DAV2_PATCH}, {.h = 12 * DAV2_PATCH, .w = 17 * DAV2_PATCH}};
    oracle(src, dir, model, &cases[0], 7);
    oracle(src, dir, model, &cases[1], 8);

    /* `depthindex infer` takes the size from its input file */
    if (exe && *exe && cases[1].ref) {
        char cmd[8192], yout[1000];
        snprintf(yout, sizeof yout, "%s/infer_238x168.npy", dir);
        snprintf(cmd, sizeof cmd, "'%s' infer --model '%s' --input '%s/x_238x168.npy' --output '%s' --threads 2 > /dev/null",
                 exe, model, dir, yout);
        CHECKF(system(cmd) == 0, "%s", cmd);
        float *y = read_npy(yout, (size_t)B * cases[1].h * cases[1].w);
        CHECKF(y != NULL, "infer's output %s", yout);
        if (y) ort_compare("infer 238x168, batch 2", y, cases[1].ref, (size_t)B * cases[1].h * cases[1].w, 1e-4);
        free(y);
    }

    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    di_error err;
    di_nn_session *s = NULL;
    CHECKF(di_nn_session_create(model, &opt, &s, &err) == 0, "%s", err.msg);
    if (s) {
        CHECK(di_nn_input_symbolic(s) == 0xd); /* batch, height, width */
        int ch, h, w;
        CHECK(di_nn_input_chw(s, &ch, &h, &w) != 0); /* no size yet */
        int64_t od[8];
        int ond;
        CHECK(di_nn_output_shape(s, 1, od, &ond, &err) != 0);
        CHECKF(strstr(err.msg, "symbolic") != NULL, "no size set: '%s'", err.msg);
        run_size(s, &cases[0], "");
        run_size(s, &cases[1], " (non-square)");
        run_size(s, &cases[0], " (cached plan)");
        /* 10 px: a grid of 0 patches; the position embedding's Resize would be empty */
        CHECK(di_nn_set_input_size(s, 10, 10, &err) != 0);
        printf("10x10: %s\n", err.msg);
        CHECKF(strchr(err.msg, '\n') == NULL && strstr(err.msg, "node") != NULL, "10x10 error: '%s'", err.msg);
        /* the session still runs at the last good size */
        run_size(s, &cases[1], " (after a refused size)");
        di_nn_session_destroy(s);
    }
    for (int i = 0; i < 2; i++) {
        free(cases[i].x);
        free(cases[i].ref);
    }
    return check_summary();
}

/*
** test_functions.c: ONNX local functions (FunctionProto in a custom domain,
** as TorchDynamo writes the Depth-Anything-ONNX static files): a Depth
** Anything V2 small-shaped graph at opset 18 with each transformer block in
** a function of domain pkg.dav2 (weights passed in as inputs, Softmax's axis
** a reference to the call's attribute), and blocks 0 and 1 wrapped again in
** an outer function (nested calls). Before: "op Block0 of domain 'pkg.dav2'
** is not supported". Now inlined at load, and matches onnxruntime running
** the same file within 1e-4 of the output range, at batch 1 and 2. A
** function calling itself is one error line naming the node.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oracle.h"
#include "dav2_graph.h"
#include "fn_wrap.h"
#include "nn/graph.h"
#include "test_files.h"
#include "test_session.h"

enum { GRID = 8, IMG = GRID * DAV2_PATCH, B = 2, BLOCKS = 4 };

static void build(ob *b)
{
    dav2_cfg cfg = {.dim = 192, .heads = 3, .grid = GRID, .blocks = BLOCKS, .features = 32, .opset = 18};
    dav2_build(b, &cfg);
    for (int k = 0; k < BLOCKS; k++) {
        char prefix[32], last[32], fname[32];
        snprintf(prefix, sizeof prefix, "blk%d.", k);
        snprintf(last, sizeof last, "x%d", k + 1);
        snprintf(fname, sizeof fname, "Block%d", k);
        size_t first, end;
        CHECK(fn_find_run(b, prefix, last, &first, &end) == 0);
        fn_wrap(b, first, end, fname, "Softmax", "axis", -1);
    }
    /* nested: the calls of blocks 0 and 1 in one more function */
    size_t i0 = 0;
    while (i0 < b->g.n_node && strcmp(b->g.node[i0]->op_type, "Block0")) i0++;
    CHECK(i0 + 1 < b->g.n_node && !strcmp(b->g.node[i0 + 1]->op_type, "Block1"));
    fn_wrap(b, i0, i0 + 2, "Encoder01", NULL, NULL, 0);
}

static void self_call(void)
{
    ob b;
    ob_init(&b, 18);
    ob_input(&b, "x", 2, (int64_t[]){1, 4}, NULL);
    ob_node(&b, "Relu", "x", "y");
    ob_output(&b, "y");
    fn_wrap(&b, 0, 1, "Loop", NULL, NULL, 0);
    /* the body now calls the function itself */
    b.m.functions[0]->node[0] = b.g.node[0];
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    di_nn_graph *g = NULL;
    di_error err;
    int rc = di_nn_graph_load_mem(bytes, len, "self.onnx", NULL, &g, &err);
    CHECK(rc != 0);
    if (rc) {
        printf("expected: %s\n", err.msg);
        CHECKF(strstr(err.msg, "calls itself") && strstr(err.msg, "self.onnx"), "'%s'", err.msg);
    }
    di_nn_graph_free(g);
    free(bytes);
    ob_free(&b);
}

int main(int argc, char **argv)
{
    if (argc > 1) { /* a small such file for the fuzz corpus */
        dav2_cfg tiny = {.dim = 24, .heads = 2, .grid = 2, .blocks = 4, .features = 8, .opset = 18};
        ob t;
        dav2_build(&t, &tiny);
        size_t first, end;
        if (fn_find_run(&t, "blk1.", "x2", &first, &end) == 0) fn_wrap(&t, first, end, "Block1", "Softmax", "axis", -1);
        int rc = ob_write(&t, argv[1]);
        ob_free(&t);
        return rc ? 1 : 0;
    }
    self_call();
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    if (!src || !*src) src = ".";
    char dir[900], model[1000], xin[1000], xref[1000], cmd[8192];
    if (test_dir(dir, sizeof dir, "functions")) return 1;
    char why[1200];
    if (ort_ready(src, why, sizeof why)) {
        check_summary();
        return oracle_missing(why);
    }
    snprintf(model, sizeof model, "%s/dav2_functions.onnx", dir);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    snprintf(xref, sizeof xref, "%s/ref.npy", dir);
    ob b;
    build(&b);
    printf("%zu graph nodes, %zu local functions\n", b.g.n_node, b.m.n_functions);
    CHECK(ob_write(&b, model) == 0);
    ob_free(&b);

    const char *exe = getenv("DEPTHINDEX");
    if (exe && *exe) { /* `depthindex model` lists the functions and the domain */
        snprintf(cmd, sizeof cmd,
                 "'%s' model '%s' > '%s/model.txt' 2>&1 && grep -qx 'opset: 18, domain pkg.dav2 1' '%s/model.txt' && "
                 "grep -q '^local functions: 5 (inlined at load): Block0, Block1, Block2, Block3, Encoder01$' "
                 "'%s/model.txt' && grep -qx 'runs: yes' '%s/model.txt'",
                 exe, model, dir, dir, dir, dir);
        CHECKF(system(cmd) == 0, "depthindex model report (see %s/model.txt)", dir);
    }
    size_t per = 3 * (size_t)IMG * IMG, on = (size_t)IMG * IMG;
    float *x = malloc(B * per * sizeof(float));
    dav2_b rnd = {.rng = 11};
    for (size_t i = 0; i < B * per; i++) x[i] = (float)dav2_randn(&rnd);
    CHECK(write_npy(xin, x, (int64_t[]){B, 3, IMG, IMG}, 4) == 0);
    float *ref = ort_reference(src, model, xin, xref, 2, B * on);
    di_nn_session *s = test_session(model, NULL, "functions");
    if (s && ref) test_batches_against(s, x, ref, B, on, "functions", 1e-4);
    di_nn_session_destroy(s);
    free(ref);
    free(x);
    return check_summary();
}

/*
** test_opset.c: files of opsets 7, 9 and 10 (the official MiDaS v2.1 small
** release is opset 9), in the old forms of the ops: normalisation inside the
** graph (x * 1/255 - mean), BatchNormalization (spatial at 7), Clip with
** min/max attributes, Pad with pads/value attributes, Upsample linear and
** nearest (scales as an attribute at 7, an input at 9) or Resize-10 (X,
** scales), Slice with attributes (7, 9) or inputs (10), Dropout with ratio.
** Each is run by onnxruntime and by us on the same input, at batch 1 and 2:
** max |diff| <= 1e-4 of the output range. Old-form errors name the node:
** Upsample with a mode it lacks, a Slice-1 without ends.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "oracle.h"
#include "onnx_build.h"
#include "nn/graph.h"
#include "test_files.h"
#include "test_session.h"

enum { S = 32, B = 2 };

static uint64_t rng = 12345;
static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static void weights(ob *b, const char *name, int nd, const int64_t *dims, float scale)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= dims[i];
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; i++) w[i] = frand() * scale;
    ob_init_f(b, name, nd, dims, w);
    free(w);
}

static void attr_floats(ob *b, Onnx__NodeProto *n, const char *name, int cnt, const float *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = (size_t)cnt;
    a->floats = ob_alloc(b, sizeof(float) * (size_t)cnt);
    memcpy(a->floats, v, sizeof(float) * (size_t)cnt);
}

static void attr_s(ob *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(b, v);
    a->s.len = strlen(v);
}

/* up to 2x: Upsample-7 (attribute), Upsample-9 (input) or Resize-10 */
static Onnx__NodeProto *upsample(ob *b, int opset, const char *x, const char *y, const char *mode, const char *sc_name)
{
    static const float sc[4] = {1, 1, 2, 2};
    Onnx__NodeProto *n;
    char ins[128];
    if (opset < 9) {
        n = ob_node(b, "Upsample", x, y);
        attr_floats(b, n, "scales", 4, sc);
    } else {
        ob_init_f(b, sc_name, 1, (int64_t[]){4}, sc);
        snprintf(ins, sizeof ins, "%s,%s", x, sc_name);
        n = ob_node(b, opset < 10 ? "Upsample" : "Resize", ins, y);
    }
    attr_s(b, n, "mode", mode);
    return n;
}

static void build(ob *b, int opset)
{
    ob_init(b, opset);
    ob_input(b, "x", 4, (int64_t[]){1, 3, S, S}, "N");
    ob_init_f(b, "inv255", 0, NULL, (float[]){1.f / 255});
    ob_init_f(b, "mean", 4, (int64_t[]){1, 3, 1, 1}, (float[]){0.485f, 0.456f, 0.406f});
    ob_node(b, "Mul", "x,inv255", "x01");
    ob_node(b, "Sub", "x01,mean", "xn");
    weights(b, "w1", 4, (int64_t[]){8, 3, 3, 3}, 0.5f);
    Onnx__NodeProto *n = ob_node(b, "Conv", "xn,w1", "c1");
    ob_attr_ints(b, n, "kernel_shape", 2, (int64_t[]){3, 3});
    ob_attr_ints(b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    weights(b, "bn_s", 1, (int64_t[]){8}, 0.5f);
    weights(b, "bn_b", 1, (int64_t[]){8}, 0.2f);
    weights(b, "bn_m", 1, (int64_t[]){8}, 0.1f);
    ob_init_f(b, "bn_v", 1, (int64_t[]){8}, (float[]){0.5f, 0.7f, 1, 1.2f, 0.9f, 0.6f, 1.5f, 0.8f});
    n = ob_node(b, "BatchNormalization", "c1,bn_s,bn_b,bn_m,bn_v", "bn");
    ob_attr_f(b, n, "epsilon", 1e-5f);
    if (opset < 9) ob_attr_i(b, n, "spatial", 1);
    /* Clip: attributes before 11 */
    n = ob_node(b, "Clip", "bn", "r6");
    ob_attr_f(b, n, "min", 0.f);
    ob_attr_f(b, n, "max", 0.6f);
    /* Pad: attributes before 11 */
    n = ob_node(b, "Pad", "r6", "pd");
    ob_attr_ints(b, n, "pads", 8, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1});
    ob_attr_f(b, n, "value", 0.25f);
    weights(b, "w2", 4, (int64_t[]){8, 8, 3, 3}, 0.3f);
    weights(b, "b2", 1, (int64_t[]){8}, 0.1f);
    n = ob_node(b, "Conv", "pd,w2,b2", "c2"); /* 34 -> 16 */
    ob_attr_ints(b, n, "kernel_shape", 2, (int64_t[]){3, 3});
    ob_attr_ints(b, n, "strides", 2, (int64_t[]){2, 2});
    upsample(b, opset, "c2", "up1", "linear", "sc1"); /* 32 */
    ob_node(b, "Add", "up1,c1", "sum");
    /* Slice: attributes before 10, inputs at 10 */
    if (opset < 10) {
        n = ob_node(b, "Slice", "sum", "sl");
        ob_attr_ints(b, n, "starts", 1, (int64_t[]){1});
        ob_attr_ints(b, n, "ends", 1, (int64_t[]){S - 1});
        ob_attr_ints(b, n, "axes", 1, (int64_t[]){2});
    } else {
        ob_init_i64(b, "sl_s", 1, (int64_t[]){1}, (int64_t[]){1});
        ob_init_i64(b, "sl_e", 1, (int64_t[]){1}, (int64_t[]){S - 1});
        ob_init_i64(b, "sl_a", 1, (int64_t[]){1}, (int64_t[]){2});
        ob_node(b, "Slice", "sum,sl_s,sl_e,sl_a", "sl");
    }
    n = ob_node(b, "Dropout", "sl", "dr");
    ob_attr_f(b, n, "ratio", 0.1f);
    upsample(b, opset, "dr", "up2", "nearest", "sc2"); /* 60 x 64 */
    weights(b, "w3", 4, (int64_t[]){1, 8, 1, 1}, 0.5f);
    ob_node(b, "Conv", "up2,w3", "y");
    ob_output(b, "y");
}

static void run_opset(const char *src, const char *dir, int opset, const float *x)
{
    char model[1000], xin[1000], xref[1000];
    snprintf(model, sizeof model, "%s/old_op%d.onnx", dir, opset);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    snprintf(xref, sizeof xref, "%s/ref_op%d.npy", dir, opset);
    ob b;
    rng = 777;
    build(&b, opset);
    CHECK(ob_write(&b, model) == 0);
    ob_free(&b);
    const size_t on = (size_t)(S - 2) * 2 * S * 2;
    float *ref = ort_reference(src, model, xin, xref, 2, B * on);
    char what[32];
    snprintf(what, sizeof what, "opset %d", opset);
    di_nn_session *s = test_session(model, NULL, what);
    if (s && ref) test_batches_against(s, x, ref, B, on, what, 1e-4);
    di_nn_session_destroy(s);
    free(ref);
}

/* a broken old-form file: the load fails naming the node and the reason */
static void expect_load_error(ob *b, const char *want)
{
    size_t len;
    uint8_t *bytes = ob_pack(b, &len);
    di_nn_graph *g = NULL;
    di_error err;
    int rc = di_nn_graph_load_mem(bytes, len, "bad.onnx", NULL, &g, &err);
    CHECKF(rc != 0, "loaded, expected an error with '%s'", want);
    if (rc) {
        printf("expected: %s\n", err.msg);
        CHECKF(strstr(err.msg, want) && strstr(err.msg, "bad.onnx") && !strchr(err.msg, '\n'), "error '%s' lacks '%s'",
               err.msg, want);
    }
    di_nn_graph_free(g);
    free(bytes);
    ob_free(b);
}

int main(void)
{
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT");
    if (!src || !*src) src = ".";
    /* errors first: they need no oracle */
    ob b;
    ob_init(&b, 9);
    ob_input(&b, "x", 4, (int64_t[]){1, 1, 4, 4}, NULL);
    upsample(&b, 9, "x", "y", "cubic", "sc");
    ob_output(&b, "y");
    expect_load_error(&b, "mode=cubic");
    ob_init(&b, 9);
    ob_input(&b, "x", 4, (int64_t[]){1, 1, 4, 4}, NULL);
    Onnx__NodeProto *n = ob_node(&b, "Slice", "x", "y");
    ob_attr_ints(&b, n, "starts", 1, (int64_t[]){0});
    ob_output(&b, "y");
    expect_load_error(&b, "Slice_0");

    char dir[900], xin[1000];
    if (test_dir(dir, sizeof dir, "opset")) return 1;
    char why[1200];
    if (ort_ready(src, why, sizeof why)) {
        check_summary();
        return oracle_missing(why);
    }
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    float *x = malloc(B * 3 * S * S * sizeof(float));
    for (int i = 0; i < B * 3 * S * S; i++) x[i] = (frand() + 1) * 127.5f; /* RGB 0..255 */
    CHECK(write_npy(xin, x, (int64_t[]){B, 3, S, S}, 4) == 0);
    run_opset(src, dir, 7, x);
    run_opset(src, dir, 9, x);
    run_opset(src, dir, 10, x);
    free(x);
    return check_summary();
}

/*
** test_vit.c: a small model built here with the op set of Depth Anything V2
** (a ViT encoder with a DPT-style head), run by our engine and by
** onnxruntime (tests/nn/ort_run.js), outputs compared.
**
** image [N,3,16,16] -> Conv 4x4/4 patch embedding -> tokens (Shape, Gather,
** Unsqueeze, Concat -> Reshape, Transpose) + position embedding -> one
** transformer block (LayerNormalization; MatMul+Add qkv; Reshape, Transpose,
** Split, Squeeze into heads; MatMul, Mul by the scale, Softmax, MatMul;
** output projection; residual; LayerNorm decomposed as ReduceMean, Sub, Pow,
** Sqrt, Div; MLP with GELU as Div, Erf, Add, Mul) -> back to a 4x4 map ->
** ConvTranspose 2x2/2 -> Conv 3x3 + Relu -> Resize x2 (linear,
** align_corners) -> Conv 1x1 -> Sigmoid -> [N,1,16,16].
** The batch is symbolic ("N"): the shape chain is folded per batch size.
** Our engine runs batch 1 and batch 3 in one pass; the reference is
** onnxruntime per image. Max |diff| <= 1e-4 of the output's range + 1e-6.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "oracle.h"
#include "nn/engine.h"
#include "onnx_build.h"
#include "test_files.h"

#define SKIP 77
enum { T = 16, D = 32, HEADS = 4, HD = 8, MLP = 64 };

static uint64_t seed = 7;

static float randn(void)
{
    double u = 0, v = 0;
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    u = ((double)(seed >> 11) + 1) / 9007199254740993.0;
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    v = (double)(seed >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

static void weights(ob *b, const char *name, int nd, const int64_t *dims, double scale)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = (float)(randn() * scale);
    ob_init_f(b, name, nd, dims, v);
    free(v);
}

static void scalar_f(ob *b, const char *name, float v)
{
    ob_init_f(b, name, 0, NULL, &v);
}

static void ints1(ob *b, const char *name, int n, const int64_t *v)
{
    int64_t d = n;
    ob_init_i64(b, name, 1, &d, v);
}

static void build_model(ob *b)
{
    ob_init(b, 18);
    int64_t in_dims[4] = {1, 3, 16, 16};
    ob_input(b, "image", 4, in_dims, "N");
    /* patch embedding */
    weights(b, "pe_w", 4, (int64_t[]){D, 3, 4, 4}, 1 / sqrt(48.0));
    weights(b, "pe_b", 1, (int64_t[]){D}, 0.02);
    Onnx__NodeProto *n = ob_node(b, "Conv", "image,pe_w,pe_b", "pe");
    ob_attr_ints(b, n, "strides", 2, (int64_t[]){4, 4});
    ob_attr_ints(b, n, "kernel_shape", 2, (int64_t[]){4, 4});
    /* [N, D, 4, 4] -> [N, D, 16] -> [N, 16, D], shape from Shape/Gather */
    ob_node(b, "Shape", "image", "shp");
    ints1(b, "zero", 1, (int64_t[]){0});
    n = ob_node(b, "Gather", "shp,zero", "nb");
    ob_attr_i(b, n, "axis", 0);
    ints1(b, "d_t", 2, (int64_t[]){D, T});
    n = ob_node(b, "Concat", "nb,d_t", "shape_dt");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "pe,shape_dt", "pe_flat");
    n = ob_node(b, "Transpose", "pe_flat", "tok0");
    ob_attr_ints(b, n, "perm", 3, (int64_t[]){0, 2, 1});
    weights(b, "pos", 3, (int64_t[]){1, T, D}, 0.1);
    ob_node(b, "Add", "tok0,pos", "tok");
    /* attention */
    weights(b, "ln1_s", 1, (int64_t[]){D}, 0.1);
    weights(b, "ln1_b", 1, (int64_t[]){D}, 0.1);
    n = ob_node(b, "LayerNormalization", "tok,ln1_s,ln1_b", "ln1");
    ob_attr_f(b, n, "epsilon", 1e-6f);
    weights(b, "qkv_w", 2, (int64_t[]){D, 3 * D}, 1 / sqrt((double)D));
    weights(b, "qkv_b", 1, (int64_t[]){3 * D}, 0.02);
    ob_node(b, "MatMul", "ln1,qkv_w", "qkv0");
    ob_node(b, "Add", "qkv0,qkv_b", "qkv");
    ints1(b, "t_3_h_hd", 4, (int64_t[]){T, 3, HEADS, HD});
    ob_node(b, "Squeeze", "nb,zero", "nb_s");
    ob_node(b, "Unsqueeze", "nb_s,zero", "nb1"); /* scalar batch -> [1] */
    n = ob_node(b, "Concat", "nb1,t_3_h_hd", "shape5");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "qkv,shape5", "qkv5");
    n = ob_node(b, "Transpose", "qkv5", "qkvt");
    ob_attr_ints(b, n, "perm", 5, (int64_t[]){2, 0, 3, 1, 4});
    ints1(b, "ones3", 3, (int64_t[]){1, 1, 1});
    n = ob_node(b, "Split", "qkvt,ones3", "q5,k5,v5");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Squeeze", "q5,zero", "q");
    ob_node(b, "Squeeze", "k5,zero", "k");
    ob_node(b, "Squeeze", "v5,zero", "v");
    n = ob_node(b, "Transpose", "k", "kt");
    ob_attr_ints(b, n, "perm", 4, (int64_t[]){0, 1, 3, 2});
    ob_node(b, "MatMul", "q,kt", "att0");
    scalar_f(b, "att_scale", (float)(1 / sqrt((double)HD)));
    ob_node(b, "Mul", "att0,att_scale", "att1");
    n = ob_node(b, "Softmax", "att1", "att");
    ob_attr_i(b, n, "axis", -1);
    ob_node(b, "MatMul", "att,v", "o0");
    n = ob_node(b, "Transpose", "o0", "o1");
    ob_attr_ints(b, n, "perm", 4, (int64_t[]){0, 2, 1, 3});
    ints1(b, "t_d", 2, (int64_t[]){T, D});
    n = ob_node(b, "Concat", "nb,t_d", "shape_td");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "o1,shape_td", "o2");
    weights(b, "proj_w", 2, (int64_t[]){D, D}, 1 / sqrt((double)D));
    weights(b, "proj_b", 1, (int64_t[]){D}, 0.02);
    ob_node(b, "MatMul", "o2,proj_w", "o3");
    ob_node(b, "Add", "o3,proj_b", "o4");
    ob_node(b, "Add", "tok,o4", "x1");
    /* LayerNorm, decomposed */
    ints1(b, "last", 1, (int64_t[]){-1});
    ob_node(b, "ReduceMean", "x1,last", "mu");
    ob_node(b, "Sub", "x1,mu", "xc");
    scalar_f(b, "two", 2.f);
    ob_node(b, "Pow", "xc,two", "xc2");
    ob_node(b, "ReduceMean", "xc2,last", "var");
    scalar_f(b, "eps", 1e-6f);
    ob_node(b, "Add", "var,eps", "var_e");
    ob_node(b, "Sqrt", "var_e", "sd");
    ob_node(b, "Div", "xc,sd", "ln2");
    /* MLP with exact GELU */
    weights(b, "fc1_w", 2, (int64_t[]){D, MLP}, 1 / sqrt((double)D));
    weights(b, "fc1_b", 1, (int64_t[]){MLP}, 0.02);
    ob_node(b, "MatMul", "ln2,fc1_w", "h0");
    ob_node(b, "Add", "h0,fc1_b", "h1");
    scalar_f(b, "sqrt2", 1.4142135f);
    ob_node(b, "Div", "h1,sqrt2", "h2");
    ob_node(b, "Erf", "h2", "h3");
    scalar_f(b, "one", 1.f);
    ob_node(b, "Add", "h3,one", "h4");
    ob_node(b, "Mul", "h1,h4", "h5");
    scalar_f(b, "half", 0.5f);
    ob_node(b, "Mul", "h5,half", "h6");
    weights(b, "fc2_w", 2, (int64_t[]){MLP, D}, 1 / sqrt((double)MLP));
    weights(b, "fc2_b", 1, (int64_t[]){D}, 0.02);
    ob_node(b, "MatMul", "h6,fc2_w", "h7");
    ob_node(b, "Add", "h7,fc2_b", "h8");
    ob_node(b, "Add", "x1,h8", "x2");
    /* back to a map: [N, T, D] -> [N, D, T] -> [N, D, 4, 4] */
    n = ob_node(b, "Transpose", "x2", "m0");
    ob_attr_ints(b, n, "perm", 3, (int64_t[]){0, 2, 1});
    ints1(b, "d44", 3, (int64_t[]){D, 4, 4});
    n = ob_node(b, "Concat", "nb,d44", "shape_map");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "m0,shape_map", "map");
    /* DPT-style head */
    weights(b, "up_w", 4, (int64_t[]){D, 16, 2, 2}, 1 / sqrt(4.0 * D));
    weights(b, "up_b", 1, (int64_t[]){16}, 0.02);
    n = ob_node(b, "ConvTranspose", "map,up_w,up_b", "up");
    ob_attr_ints(b, n, "strides", 2, (int64_t[]){2, 2});
    weights(b, "c1_w", 4, (int64_t[]){16, 16, 3, 3}, 1 / sqrt(144.0));
    weights(b, "c1_b", 1, (int64_t[]){16}, 0.02);
    n = ob_node(b, "Conv", "up,c1_w,c1_b", "c1");
    ob_attr_ints(b, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
    ob_node(b, "Relu", "c1", "c1r");
    ob_init_f(b, "rs_scales", 1, (int64_t[]){4}, (float[]){1, 1, 2, 2});
    n = ob_node(b, "Resize", "c1r,,rs_scales", "rs");
    Onnx__AttributeProto *a = ob_attr(b, n, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(b, "linear");
    a->s.len = 6;
    a = ob_attr(b, n, "coordinate_transformation_mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(b, "align_corners");
    a->s.len = 13;
    weights(b, "c2_w", 4, (int64_t[]){1, 16, 1, 1}, 1 / sqrt(16.0));
    weights(b, "c2_b", 1, (int64_t[]){1}, 0.02);
    ob_node(b, "Conv", "rs,c2_w,c2_b", "c2");
    ob_node(b, "Sigmoid", "c2", "depth");
    ob_output(b, "depth");
}

int main(void)
{
    const char *src = getenv("DEPTHINDEX_SOURCE_ROOT"), *build = getenv("DEPTHINDEX_BUILD_ROOT");
    if (!src || !*src) src = ".";
    char dir[900], model[1000], xin[1000], xref[1000], cmd[4096];
    if (build && *build) {
        snprintf(dir, sizeof dir, "%s/tests/nn/tmp-vit", build);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/di-nn-vit-XXXXXX");
        if (!mkdtemp(dir)) return 1;
    }
    char why[1200];
    if (ort_ready(src, why, sizeof why)) return oracle_missing(why);
    snprintf(model, sizeof model, "%s/vit_block.onnx", dir);
    snprintf(xin, sizeof xin, "%s/x.npy", dir);
    snprintf(xref, sizeof xref, "%s/ref.npy", dir);
    ob b;
    build_model(&b);
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    CHECK(write_file(model, bytes, len) == 0);
    free(bytes);
    ob_free(&b);

    enum { B = 3 };
    int64_t xd[4] = {B, 3, 16, 16};
    size_t per = 3 * 16 * 16, on = 16 * 16;
    float *x = malloc(B * per * sizeof(float));
    for (size_t i = 0; i < B * per; i++) x[i] = randn();
    CHECK(write_npy(xin, x, xd, 4) == 0);
    snprintf(cmd, sizeof cmd, "node '%s/tests/nn/ort_run.js' '%s' '%s' '%s' --threads 1", src, model, xin, xref);
    int rc = system(cmd);
    CHECKF(rc == 0, "onnxruntime failed: %s", cmd);
    float *ref = rc == 0 ? read_npy(xref, B * on) : NULL;
    CHECK(ref != NULL);

    di_error err;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    di_nn_session *s = NULL;
    CHECKF(di_nn_session_create(model, &opt, &s, &err) == 0, "%s", err.msg);
    if (s && ref) {
        float *y = calloc(B * on, sizeof(float));
        for (int batch = 1; batch <= B; batch += 2) {
            memset(y, 0, B * on * sizeof(float));
            CHECKF(di_nn_run(s, x, batch, y, (size_t)batch * on, &err) == 0, "%s", err.msg);
            float lo = ref[0], hi = ref[0];
            double md = 0;
            for (size_t i = 0; i < (size_t)batch * on; i++) {
                lo = ref[i] < lo ? ref[i] : lo;
                hi = ref[i] > hi ? ref[i] : hi;
                double d = fabs((double)y[i] - ref[i]);
                if (!(d <= md)) md = d;
            }
            double range = (double)hi - lo;
            printf("batch %d: max |ours - onnxruntime| = %.3g, output range %.4g, ratio %.3g\n", batch, md, range, md / range);
            CHECK(range > 1e-3);
            CHECKF(md <= 1e-4 * range + 1e-6, "batch %d differs: %.3g", batch, md);
        }
        /* more batch sizes than the plan cache holds, then batch 3 again:
        ** evicted plans are rebuilt and give the same numbers */
        float *xb = malloc(7 * per * sizeof(float)), *yb = malloc(7 * on * sizeof(float));
        for (int i = 0; i < 7; i++) memcpy(xb + (size_t)i * per, x + (size_t)(i % B) * per, per * sizeof(float));
        for (int batch = 4; batch <= 7; batch++) {
            CHECKF(di_nn_run(s, xb, batch, yb, (size_t)batch * on, &err) == 0, "%s", err.msg);
            for (size_t i = 0; i < (size_t)batch * on; i++)
                if (fabs((double)yb[i] - ref[i % (B * on)]) > 1e-4) {
                    CHECKF(0, "batch %d, element %zu: %g vs %g", batch, i, yb[i], ref[i % (B * on)]);
                    break;
                }
        }
        CHECKF(di_nn_run(s, x, B, y, B * on, &err) == 0, "%s", err.msg);
        double md = 0;
        for (size_t i = 0; i < B * on; i++) md = fmax(md, fabs((double)y[i] - ref[i]));
        printf("batch 3 after batches 4 to 7: max |ours - onnxruntime| = %.3g\n", md);
        CHECK(md <= 1e-5);
        free(xb);
        free(yb);
        free(y);
    }
    di_nn_session_destroy(s);
    free(ref);
    free(x);
    return check_summary();
}

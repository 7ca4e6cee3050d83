/*
** test_resize_conv.c: the loader's Resize/1x1-Conv swap (rewrite_resize.c):
** Conv(Resize(x)) with a 1x1 C -> C conv runs as Resize(Conv(x)), the conv at
** the smaller size (DPT's fusion blocks). One graph, batch 2, odd sizes
** (7x5 upsampled to 14x10 and to 11x9), eight branches on the same input:
**   y1 linear, align_corners, constant scales, bias       -> swapped
**   y2 nearest (floor, asymmetric), constant sizes, no bias -> swapped
**   y3 linear, half_pixel, sizes, then Relu                -> swapped
**   n1 a 1x1 conv to other channels (16 -> 8)              -> left alone
**   n2 cubic mode                                          -> left alone
**   n3 a 3x3 conv                                          -> left alone
**   n4 the Resize's output also a graph output             -> left alone
**   n5 a downsample (constant scales 1, 1, 0.5, 0.6)       -> left alone
** Checks, in the loaded graph, which Conv now comes before its Resize (fails
** without the rewrite), and every output against the same graph loaded
** with DI_NN_LOAD_PORTABLE (no rewrite), within 1e-5 of its range.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/engine.h"
#include "onnx_build.h"
#include "test_files.h"

enum { N = 2, C = 16, H = 7, W = 5, NOUT = 9 };
static uint64_t rng = 11;

static float uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

static void attr_s(ob *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(b, v);
    a->s.len = strlen(v);
}

/* Resize `up_name` of x (mode, coordinate mode, "scales" or "sizes" input
** named sc) then Conv `conv_name` (oc x C x k x k, bias or not) into out */
static void branch(ob *b, const char *p, const char *mode, const char *ct, const char *sc,
                   bool sizes, int oc, int k, bool bias, const char *out)
{
    char ins[128], up[32], cw[32], cb[32], cn[32];
    snprintf(up, sizeof up, "%s_up", p);
    snprintf(cw, sizeof cw, "%s_w", p);
    snprintf(cb, sizeof cb, "%s_b", p);
    snprintf(cn, sizeof cn, "%s_conv", p);
    snprintf(ins, sizeof ins, sizes ? "x,,,%s" : "x,,%s", sc);
    Onnx__NodeProto *r = ob_node(b, "Resize", ins, up);
    r->name = ob_str(b, p);
    attr_s(b, r, "mode", mode);
    attr_s(b, r, "coordinate_transformation_mode", ct);
    if (!strcmp(mode, "nearest"))
        attr_s(b, r, "nearest_mode", "floor");
    float *w = malloc(sizeof(float) * (size_t)(oc * C * k * k)), bv[C];
    for (int i = 0; i < oc * C * k * k; i++) w[i] = uniform() * 0.3f;
    for (int i = 0; i < C; i++) bv[i] = uniform();
    ob_init_f(b, cw, 4, (int64_t[]){oc, C, k, k}, w);
    free(w);
    if (bias)
        ob_init_f(b, cb, 1, (int64_t[]){oc}, bv);
    snprintf(ins, sizeof ins, bias ? "%s,%s,%s" : "%s,%s", up, cw, cb);
    Onnx__NodeProto *c = ob_node(b, "Conv", ins, out);
    c->name = ob_str(b, cn);
    ob_attr_ints(b, c, "kernel_shape", 2, (int64_t[]){k, k});
    int64_t pd = k / 2;
    ob_attr_ints(b, c, "pads", 4, (int64_t[]){pd, pd, pd, pd});
}

static uint8_t *build(size_t *len)
{
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){N, C, H, W}, NULL);
    ob_init_f(&b, "s2", 1, (int64_t[]){4}, (float[]){1, 1, 2, 2});
    ob_init_i64(&b, "sz", 1, (int64_t[]){4}, (int64_t[]){N, C, 11, 9});
    branch(&b, "y1", "linear", "align_corners", "s2", false, C, 1, true, "y1");
    branch(&b, "y2", "nearest", "asymmetric", "sz", true, C, 1, false, "y2");
    branch(&b, "y3", "linear", "half_pixel", "sz", true, C, 1, true, "y3c");
    ob_node(&b, "Relu", "y3c", "y3");
    branch(&b, "n1", "linear", "half_pixel", "s2", false, 8, 1, true, "n1");
    branch(&b, "n2", "cubic", "half_pixel", "s2", false, C, 1, true, "n2");
    branch(&b, "n3", "linear", "half_pixel", "s2", false, C, 3, true, "n3");
    branch(&b, "n4", "linear", "half_pixel", "s2", false, C, 1, true, "n4");
    ob_init_f(&b, "sd", 1, (int64_t[]){4}, (float[]){1, 1, 0.5f, 0.6f});
    branch(&b, "n5", "linear", "half_pixel", "sd", false, C, 1, true, "n5");
    const char *outs[] = {"y1", "y2", "y3", "n1", "n2", "n3", "n4", "n4_up", "n5"};
    for (int i = 0; i < NOUT; i++) ob_output(&b, outs[i]);
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

static int node_index(const di_nn_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}

/* runs g's session on x (the session takes g and frees it) */
static void run(di_nn_graph *g, const float *x, di_nn_io out[NOUT])
{
    di_error err;
    di_error_clear(&err);
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    di_nn_session *s = NULL;
    CHECKF(di_nn_session_create_graph(g, &opt, &s, &err) == 0, "%s", err.msg);
    if (!s) return;
    di_nn_io in = {DI_DT_FLOAT, 4, {N, C, H, W}, (void *)x};
    memset(out, 0, NOUT * sizeof *out);
    CHECKF(di_nn_run_io(s, &in, 1, out, NOUT, &err) == 0, "%s", err.msg);
    di_nn_session_destroy(s);
}

int main(void)
{
    size_t len;
    uint8_t *bytes = build(&len);
    char path[] = "/tmp/di_test_resize_conv_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return check_summary();
    close(fd);
    CHECK(write_file(path, bytes, len) == 0);
    free(bytes);
    di_error err;
    di_error_clear(&err);
    di_nn_graph *g = NULL, *pg = NULL;
    CHECKF(di_nn_graph_load_flags(path, 0, &g, &err) == 0, "%s", err.msg);
    CHECKF(di_nn_graph_load_flags(path, DI_NN_LOAD_PORTABLE, &pg, &err) == 0, "%s", err.msg);
    remove(path);
    if (!g || !pg) return check_summary();

    const char *names[] = {"y1", "y2", "y3", "n1", "n2", "n3", "n4", "n5"};
    for (int i = 0; i < 8; i++) {
        char cn[32];
        snprintf(cn, sizeof cn, "%s_conv", names[i]);
        bool swapped = node_index(g, cn) < node_index(g, names[i]);
        bool want = names[i][0] == 'y';
        printf("%s: conv %s the resize (want %s)\n", names[i], swapped ? "before" : "after",
               want ? "before" : "after");
        CHECKF(swapped == want, "%s", names[i]);
        CHECK(node_index(pg, cn) > node_index(pg, names[i])); /* portable: as in the file */
    }

    float *x = malloc(sizeof(float) * N * C * H * W);
    for (int i = 0; i < N * C * H * W; i++) x[i] = uniform();
    di_nn_io a[NOUT], b[NOUT];
    run(g, x, a);
    run(pg, x, b);
    for (int o = 0; o < NOUT; o++) {
        if (!a[o].data || !b[o].data) {
            CHECKF(0, "output %d missing", o);
            continue;
        }
        size_t n = 1;
        for (int d = 0; d < a[o].ndim; d++) {
            CHECK(a[o].dims[d] == b[o].dims[d]);
            n *= (size_t)a[o].dims[d];
        }
        const float *p = a[o].data, *q = b[o].data;
        double lo = q[0], hi = q[0], worst = 0;
        for (size_t i = 0; i < n; i++) {
            lo = q[i] < lo ? q[i] : lo;
            hi = q[i] > hi ? q[i] : hi;
            double d = fabs((double)p[i] - q[i]);
            worst = d > worst ? d : worst;
        }
        printf("output %d: %zu values, max |rewritten - file's order| %.3g of range %.3g\n", o, n,
               worst, hi - lo);
        CHECKF(worst <= 1e-5 * (hi - lo), "output %d", o);
        free(a[o].data);
        free(b[o].data);
    }
    free(x); /* the sessions owned and freed the graphs */
    return check_summary();
}

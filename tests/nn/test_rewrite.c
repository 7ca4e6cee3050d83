/*
** test_rewrite.c: the loader's GELU rewrite (rewrite.c). Three chains in one
** graph, on three slices of the input:
**   y1 = Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)   -> rewritten
**   y2 = Mul(Mul(0.5, x), Add(1, Erf(Div(x, sqrt2))))   -> rewritten
**   y3 = the first form with 0.49 instead of 0.5       -> left alone
**   y4 = the first form whose Erf value is also a graph output -> left alone
** The loaded graph must have 1 + 1 + 5 + 5 nodes (plus the three Slices),
** the description load (DI_NN_LOAD_INFO) all 20 + 3, and every output must
** match the formula computed here in double precision.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/engine.h"
#include "onnx_build.h"

enum { W = 37 };

static void chain(ob *b, const char *x, const char *p, int form, const char *half)
{
    char d[32], e[32], a[32], m[32], y[32], ins[96];
    snprintf(d, sizeof d, "%s_d", p);
    snprintf(e, sizeof e, "%s_e", p);
    snprintf(a, sizeof a, "%s_a", p);
    snprintf(m, sizeof m, "%s_m", p);
    snprintf(y, sizeof y, "%s", p);
    snprintf(ins, sizeof ins, "%s,sqrt2", x);
    ob_node(b, "Div", ins, d);
    ob_node(b, "Erf", d, e);
    if (form == 1) {
        snprintf(ins, sizeof ins, "%s,one", e);
        ob_node(b, "Add", ins, a);
        snprintf(ins, sizeof ins, "%s,%s", x, a);
        ob_node(b, "Mul", ins, m);
        snprintf(ins, sizeof ins, "%s,%s", m, half);
        ob_node(b, "Mul", ins, y);
    } else {
        snprintf(ins, sizeof ins, "one,%s", e);
        ob_node(b, "Add", ins, a);
        snprintf(ins, sizeof ins, "%s,%s", half, x);
        ob_node(b, "Mul", ins, m);
        snprintf(ins, sizeof ins, "%s,%s", m, a);
        ob_node(b, "Mul", ins, y);
    }
}

static uint8_t *build(size_t *len)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 2, (int64_t[]){1, 4 * W}, "N");
    ob_init_f(&b, "sqrt2", 0, NULL, (float[]){1.41421356f});
    ob_init_f(&b, "one", 0, NULL, (float[]){1.f});
    ob_init_f(&b, "half", 0, NULL, (float[]){0.5f});
    ob_init_f(&b, "almost_half", 0, NULL, (float[]){0.49f});
    ob_init_i64(&b, "ax", 1, (int64_t[]){1}, (int64_t[]){1});
    const char *parts[4] = {"x1", "x2", "x3", "x4"};
    for (int i = 0; i < 4; i++) {
        char s[16], e[16], ins[64];
        snprintf(s, sizeof s, "s%d", i);
        snprintf(e, sizeof e, "e%d", i);
        ob_init_i64(&b, s, 1, (int64_t[]){1}, (int64_t[]){i * W});
        ob_init_i64(&b, e, 1, (int64_t[]){1}, (int64_t[]){(i + 1) * W});
        snprintf(ins, sizeof ins, "x,%s,%s,ax", s, e);
        ob_node(&b, "Slice", ins, parts[i]);
    }
    chain(&b, "x1", "y1", 1, "half");
    chain(&b, "x2", "y2", 2, "half");
    chain(&b, "x3", "y3", 1, "almost_half");
    chain(&b, "x4", "y4", 1, "half");
    ob_output(&b, "y1");
    ob_output(&b, "y2");
    ob_output(&b, "y3");
    ob_output(&b, "y4");
    ob_output(&b, "y4_e"); /* makes the fourth chain's Erf value needed */
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

int main(void)
{
    /* helpers of onnx_build.h this test does not need */
    (void)ob_attr_i;
    (void)ob_attr_f;
    (void)ob_attr_ints;
    size_t len;
    uint8_t *bytes = build(&len);
    di_error err;
    di_error_clear(&err);
    di_nn_graph *g = NULL, *info = NULL;
    CHECKF(di_nn_graph_load_mem(bytes, len, "gelu.onnx", NULL, &g, &err) == 0, "%s", err.msg);
    if (!g) return check_summary();
    int gelus = 0;
    for (int i = 0; i < g->nnodes; i++) gelus += !strcmp(g->nodes[i].op_type, "Gelu");
    printf("loaded: %d nodes, %d Gelu\n", g->nnodes, gelus);
    CHECK(g->nnodes == 4 + 1 + 1 + 5 + 5);
    CHECK(gelus == 2);

    /* a description keeps the file's nodes: write the bytes to a file */
    char path[] = "/tmp/di_test_rewrite_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        CHECK(f && fwrite(bytes, 1, len, f) == len);
        if (f) fclose(f);
        CHECKF(di_nn_graph_load_flags(path, DI_NN_LOAD_INFO, &info, &err) == 0, "%s", err.msg);
        if (info) CHECK(info->nnodes == 4 + 4 * 5);
        di_nn_graph_free(info);
        remove(path);
    }

    di_nn_session *s = NULL;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    CHECKF(di_nn_session_create_graph(g, &opt, &s, &err) == 0, "%s", err.msg);
    if (s) {
        float x[2 * 4 * W];
        for (int i = 0; i < 2 * 4 * W; i++) x[i] = -4.f + 8.f * (float)i / (float)(2 * 4 * W - 1);
        di_nn_io in = {DI_DT_FLOAT, 2, {2, 4 * W}, x}, out[5];
        memset(out, 0, sizeof out);
        CHECKF(di_nn_run_io(s, &in, 1, out, 5, &err) == 0, "%s", err.msg);
        double worst = 0;
        for (int o = 0; o < 4 && out[o].data; o++) {
            double half = o == 2 ? 0.49 : 0.5;
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < W; j++) {
                    double v = x[r * 4 * W + o * W + j];
                    double want = v * (1 + erf(v / sqrt(2.0))) * half;
                    double d = fabs(((float *)out[o].data)[r * W + j] - want);
                    if (d > worst) worst = d;
                }
        }
        printf("max |diff| against the formula: %.3g\n", worst);
        CHECK(worst <= 2e-6);
        for (int o = 0; o < 5; o++) free(out[o].data);
    }
    di_nn_session_destroy(s);
    free(bytes);
    return check_summary();
}

/*
** test_rewrite.c: the loader's rewrites (rewrite.c), in one graph on four
** slices of the input:
**   y1 = Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)   -> one Gelu
**   y2 = Mul(Mul(0.5, x), Add(1, Erf(Div(x, sqrt2))))   -> one Gelu
**   y3 = the first form with 0.49 instead of 0.5       -> left alone
**   y4 = the first form whose Erf value is also a graph output -> left alone
**   z1 = LayerNorm as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add
**        over the last axis                             -> one LayerNormalization
**   z2 = the same whose Sub value is also a graph output -> left alone
**   sc = Mul(0.125, MatMul(x, w))                       -> MatMul with _scale
**   sd = Div(MatMul(x, w), 8)                            -> MatMul with _scale
** The loaded graph must have 4 Slices + 1 + 1 + 5 + 5 + 1 + 9 + 1 + 1 nodes, the
** description load (DI_NN_LOAD_INFO) all 4 + 20 + 18 + 2 + 2, and every output must
** match the formula computed here in double precision. The fused
** LayerNormalization runs on oneDNN's kernel (its step has kernel state).
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

static void layernorm(ob *b, const char *x, const char *p)
{
    char v[8][32], ins[96];
    const char *sfx[8] = {"mu", "d", "p", "var", "ve", "s", "n", "g"};
    for (int i = 0; i < 8; i++) snprintf(v[i], sizeof v[i], "%s_%s", p, sfx[i]);
    Onnx__NodeProto *n = ob_node(b, "ReduceMean", x, v[0]);
    ob_attr_ints(b, n, "axes", 1, (int64_t[]){-1});
    snprintf(ins, sizeof ins, "%s,%s", x, v[0]);
    ob_node(b, "Sub", ins, v[1]);
    snprintf(ins, sizeof ins, "%s,two", v[1]);
    ob_node(b, "Pow", ins, v[2]);
    n = ob_node(b, "ReduceMean", v[2], v[3]);
    ob_attr_ints(b, n, "axes", 1, (int64_t[]){-1});
    snprintf(ins, sizeof ins, "%s,eps", v[3]);
    ob_node(b, "Add", ins, v[4]);
    ob_node(b, "Sqrt", v[4], v[5]);
    snprintf(ins, sizeof ins, "%s,%s", v[1], v[5]);
    ob_node(b, "Div", ins, v[6]);
    snprintf(ins, sizeof ins, "gamma,%s", v[6]);
    ob_node(b, "Mul", ins, v[7]);
    snprintf(ins, sizeof ins, "%s,beta", v[7]);
    ob_node(b, "Add", ins, p);
}

static float gamma_v[W], beta_v[W], w_v[W * 5];

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
    ob_init_f(&b, "two", 0, NULL, (float[]){2.f});
    ob_init_f(&b, "eps", 0, NULL, (float[]){1e-5f});
    for (int i = 0; i < W; i++) {
        gamma_v[i] = 0.5f + (float)i / W;
        beta_v[i] = 0.25f - (float)i / (2 * W);
    }
    ob_init_f(&b, "gamma", 1, (int64_t[]){W}, gamma_v);
    ob_init_f(&b, "beta", 1, (int64_t[]){W}, beta_v);
    for (int i = 0; i < W * 5; i++) w_v[i] = (float)((i * 7) % 11) / 11.f - 0.5f;
    ob_init_f(&b, "w", 2, (int64_t[]){W, 5}, w_v);
    ob_init_f(&b, "eighth", 0, NULL, (float[]){0.125f});
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
    layernorm(&b, "x1", "z1");
    layernorm(&b, "x2", "z2");
    ob_node(&b, "MatMul", "x3,w", "sc_mm");
    ob_node(&b, "Mul", "eighth,sc_mm", "sc");
    ob_init_f(&b, "eight", 0, NULL, (float[]){8.f});
    ob_node(&b, "MatMul", "x4,w", "sd_mm");
    ob_node(&b, "Div", "sd_mm,eight", "sd");
    ob_output(&b, "y1");
    ob_output(&b, "y2");
    ob_output(&b, "y3");
    ob_output(&b, "y4");
    ob_output(&b, "y4_e"); /* makes the fourth chain's Erf value needed */
    ob_output(&b, "z1");
    ob_output(&b, "z2");
    ob_output(&b, "z2_d"); /* and the second LayerNorm's Sub value */
    ob_output(&b, "sc");
    ob_output(&b, "sd");
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
    int gelus = 0, lns = 0;
    for (int i = 0; i < g->nnodes; i++) {
        gelus += !strcmp(g->nodes[i].op_type, "Gelu");
        lns += !strcmp(g->nodes[i].op_type, "LayerNormalization");
    }
    printf("loaded: %d nodes, %d Gelu, %d LayerNormalization\n", g->nnodes, gelus, lns);
    CHECK(g->nnodes == 4 + 1 + 1 + 5 + 5 + 1 + 9 + 1 + 1);
    CHECK(gelus == 2);
    CHECK(lns == 1);

    /* a description keeps the file's nodes: write the bytes to a file */
    char path[] = "/tmp/di_test_rewrite_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        CHECK(f && fwrite(bytes, 1, len, f) == len);
        if (f) fclose(f);
        CHECKF(di_nn_graph_load_flags(path, DI_NN_LOAD_INFO, &info, &err) == 0, "%s", err.msg);
        if (info) CHECK(info->nnodes == 4 + 4 * 5 + 2 * 9 + 2 + 2);
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
        di_nn_io in = {DI_DT_FLOAT, 2, {2, 4 * W}, x}, out[10];
        memset(out, 0, sizeof out);
        CHECKF(di_nn_run_io(s, &in, 1, out, 10, &err) == 0, "%s", err.msg);
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
        printf("GELU: max |diff| against the formula: %.3g\n", worst);
        CHECK(worst <= 2e-6);
        worst = 0;
        for (int o = 5; o < 7 && out[o].data; o++) /* z1 on x1, z2 on x2 */
            for (int r = 0; r < 2; r++) {
                const float *xr = x + r * 4 * W + (o - 5) * W;
                double mean = 0, var = 0;
                for (int j = 0; j < W; j++) mean += xr[j];
                mean /= W;
                for (int j = 0; j < W; j++) var += (xr[j] - mean) * (xr[j] - mean);
                var /= W;
                for (int j = 0; j < W; j++) {
                    double want = (xr[j] - mean) / sqrt(var + 1e-5) * gamma_v[j] + beta_v[j];
                    double d = fabs(((float *)out[o].data)[r * W + j] - want);
                    if (d > worst) worst = d;
                }
            }
        printf("LayerNorm: max |diff| against the formula: %.3g\n", worst);
        CHECK(worst <= 1e-5);
        worst = 0;
        for (int r = 0; r < 2 && out[8].data; r++)
            for (int j = 0; j < 5; j++) {
                double acc = 0;
                for (int t = 0; t < W; t++) acc += (double)x[r * 4 * W + 2 * W + t] * w_v[t * 5 + j];
                double d = fabs(((float *)out[8].data)[r * 5 + j] - 0.125 * acc);
                if (d > worst) worst = d;
            }
        printf("scaled MatMul: max |diff| against the formula: %.3g\n", worst);
        CHECK(out[8].data && worst <= 1e-5);
        worst = 0;
        for (int r = 0; r < 2 && out[9].data; r++)
            for (int j = 0; j < 5; j++) {
                double acc = 0;
                for (int t = 0; t < W; t++) acc += (double)x[r * 4 * W + 3 * W + t] * w_v[t * 5 + j];
                double d = fabs(((float *)out[9].data)[r * 5 + j] - acc / 8);
                if (d > worst) worst = d;
            }
        printf("MatMul divided by a constant: max |diff| against the formula: %.3g\n", worst);
        CHECK(out[9].data && worst <= 1e-5);
        for (int o = 0; o < 10; o++) free(out[o].data);
        /* the LayerNormalization with vector gamma and beta runs on oneDNN's
        ** kernel (cpu/ops_layernorm.c: kernel state), not the plain loop */
        di_nn_plan *p = NULL;
        int lnsteps = 0;
        CHECKF(di_nn_get_plan(s, &in, 1, &p, &err) == 0, "%s", err.msg);
        for (int si = 0; p && si < p->nsteps; si++)
            if (p->steps[si].node >= 0 &&
                !strcmp(s->g->nodes[p->steps[si].node].op_type, "LayerNormalization")) {
                lnsteps++;
                CHECKF(p->steps[si].k.state != NULL, "LayerNormalization without oneDNN's kernel");
            }
        CHECK(lnsteps == 1);
    }
    di_nn_session_destroy(s);
    free(bytes);
    return check_summary();
}

/*
** bf16_layers.c: where the bf16-vs-fp32 difference of a model comes from
** (issue 15, score fidelity). For each probed tensor (the outputs of the
** nodes whose op is in OPS, in the file's order, and the graph's output) the
** model is cut there (that tensor made the only output), run in fp32, in
** bf16, and in fp32 on the input rounded to bf16 (a nudge of the picture
** alone: how much the network itself amplifies a perturbation of bf16's
** size). Per probe: the relative RMS difference, rms(y - y32) / std(y32),
** pooled over the faces, and max |y - y32| / range(y32) (the test's measure);
** "gain" is the bf16 column's growth since the previous probe. A rounding
** floor of bf16 is about 2^-9 relative RMS (0.2 %) per rounding: a layer
** whose difference jumps far above its input's, where the nudge does not,
** is rounding where it should not.
**
** usage: bf16_layers [--fill he|scaled] MODEL.onnx SIDE [FACES [OPS]]
**   MODEL self-contained (weights inline: `depthindex model --fill-weights`),
**   or with --fill a graph whose weights are filled here (di_nn_fill_weights_mode),
**   SIDE the input's height and width, FACES demo faces (src/demo, ImageNet
**   normalisation as the test's; default 4), OPS a comma list of op types
**   to probe (default Add,Resize,Concat; "all" for every node).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo/demo.h"
#include "nn/nn.h"
#include "onnx.pb-c.h"

static void make_input(int i, int n, float *x)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    size_t plane = (size_t)n * (size_t)n;
    uint8_t *rgb = malloc(plane * 3);
    di_demo_render(1000 + (uint64_t)(i / DI_DEMO_FACES), i % DI_DEMO_FACES, n, n, NULL, rgb);
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) x[c * plane + p] = ((float)rgb[p * 3 + c] / 255.0f - mean[c]) / sd[c];
    free(rgb);
}

static float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static int in_list(const char *op, const char *list)
{
    if (!strcmp(list, "all")) return 1;
    size_t n = strlen(op);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, op, n)) return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* Runs the cut model at one precision on every face; y: faces * *per floats. */
static int run_model(const char *path, int bf16, const float *x, int faces, float **y, size_t *per)
{
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    opt.precision = bf16 ? DI_NN_BF16 : DI_NN_FP32;
    di_error err;
    di_error_clear(&err);
    di_nn_session *s = NULL;
    int64_t od[8];
    int ond = 0;
    if (di_nn_session_create(path, &opt, &s, &err) || di_nn_output_shape(s, 1, od, &ond, &err)) {
        fprintf(stderr, "bf16_layers: %s\n", err.msg);
        di_nn_session_destroy(s);
        return -1;
    }
    size_t on = 1;
    for (int d = 1; d < ond; d++) on *= (size_t)od[d];
    int c = 0, h = 0, w = 0;
    di_nn_input_chw(s, &c, &h, &w);
    size_t in = (size_t)c * h * w;
    *per = on;
    *y = malloc((size_t)faces * on * sizeof(float));
    for (int f = 0; f < faces; f++)
        if (di_nn_run(s, x + f * in, 1, *y + f * on, on, &err)) {
            fprintf(stderr, "bf16_layers: %s\n", err.msg);
            di_nn_session_destroy(s);
            return -1;
        }
    di_nn_session_destroy(s);
    return 0;
}

/* rms(y - a) / std(a) pooled over the faces, and the worst max|y - a| / range(a) */
static void compare(const float *a, const float *y, int faces, size_t per, double *rel, double *worst)
{
    double se = 0, sv = 0;
    *worst = 0;
    for (int f = 0; f < faces; f++) {
        const float *af = a + f * per, *yf = y + f * per;
        double m = 0, lo = af[0], hi = af[0], md = 0;
        for (size_t i = 0; i < per; i++) m += af[i];
        m /= (double)per;
        for (size_t i = 0; i < per; i++) {
            double d = (double)yf[i] - af[i];
            se += d * d;
            sv += (af[i] - m) * (af[i] - m);
            lo = fmin(lo, af[i]);
            hi = fmax(hi, af[i]);
            md = fmax(md, fabs(d));
        }
        *worst = fmax(*worst, hi > lo ? md / (hi - lo) : md > 0 ? INFINITY : 0);
    }
    *rel = sv > 0 ? sqrt(se / sv) : se > 0 ? INFINITY : 0;
}

int main(int argc, char **argv)
{
    char filled[] = "/tmp/di-bf16-filled-XXXXXX";
    int fill = -1;
    if (argc > 2 && !strcmp(argv[1], "--fill")) {
        fill = !strcmp(argv[2], "scaled") ? DI_NN_FILL_SCALED : DI_NN_FILL_HE;
        argc -= 2;
        argv += 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: bf16_layers [--fill he|scaled] MODEL.onnx SIDE [FACES [OPS]]\n");
        return 2;
    }
    int n = atoi(argv[2]), faces = argc > 3 ? atoi(argv[3]) : 4;
    const char *ops = argc > 4 ? argv[4] : "Add,Resize,Concat";
    if (n < 14 || faces < 1) {
        fprintf(stderr, "bf16_layers: bad SIDE or FACES\n");
        return 2;
    }
    di_error err;
    uint8_t *data;
    size_t size;
    const char *model = argv[1];
    if (fill >= 0) {
        int fd = mkstemp(filled), nf = 0;
        if (fd < 0) return 1;
        close(fd);
        if (di_nn_fill_weights_mode(argv[1], filled, 1, (di_nn_fill_mode)fill, &nf, &err)) {
            fprintf(stderr, "bf16_layers: %s\n", err.msg);
            unlink(filled);
            return 1;
        }
        model = filled;
    }
    int rc = di_read_file(model, (size_t)1 << 31, &data, &size, &err);
    if (fill >= 0) unlink(filled);
    if (rc) {
        fprintf(stderr, "bf16_layers: %s\n", err.msg);
        return 1;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    free(data);
    if (!mp || !mp->graph || !mp->graph->n_output) {
        fprintf(stderr, "bf16_layers: %s: not an ONNX model with an output\n", argv[1]);
        return 1;
    }
    Onnx__GraphProto *g = mp->graph;
    size_t in = (size_t)3 * n * n;
    float *x = malloc((size_t)faces * in * sizeof(float)), *xr = malloc((size_t)faces * in * sizeof(float));
    for (int f = 0; f < faces; f++) make_input(f, n, x + f * in);
    for (size_t i = 0; i < (size_t)faces * in; i++) xr[i] = round_bf16(x[i]);

    char path[] = "/tmp/di-bf16-layers-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    Onnx__ValueInfoProto probe = ONNX__VALUE_INFO_PROTO__INIT, *outs[1] = {&probe};
    Onnx__ValueInfoProto **orig = g->output;
    size_t norig = g->n_output;
    printf("%s%s, %dx%d, %d demo faces; relative RMS difference against fp32 (rms / std), max |diff| / range\n",
           argv[1], fill < 0 ? "" : fill ? " (DI_NN_FILL_SCALED)" : " (He-normal)", n, n, faces);
    printf("| # | node | op | bf16 rel RMS | gain | bf16 max/range | nudge rel RMS | nudge max/range |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    double prev = 0;
    for (size_t k = 0; k <= g->n_node; k++) {
        const char *name;
        const char *op;
        if (k == g->n_node) {
            name = orig[0]->name;
            op = "(output)";
        } else {
            Onnx__NodeProto *nd = g->node[k];
            if (!nd->n_output || !in_list(nd->op_type, ops)) continue;
            name = nd->output[0];
            op = nd->op_type;
        }
        probe.name = (char *)name;
        g->output = outs;
        g->n_output = 1;
        size_t len = onnx__model_proto__get_packed_size(mp);
        uint8_t *buf = malloc(len);
        onnx__model_proto__pack(mp, buf);
        g->output = orig;
        g->n_output = norig;
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(buf, 1, len, f) == len;
        if (f && fclose(f)) ok = 0;
        free(buf);
        float *a = NULL, *b = NULL, *r = NULL;
        size_t per = 0;
        if (!ok || run_model(path, 0, x, faces, &a, &per) || run_model(path, 1, x, faces, &b, &per) ||
            run_model(path, 0, xr, faces, &r, &per)) {
            free(a);
            free(b);
            free(r);
            unlink(path);
            return 1;
        }
        double rb, wb, rr, wr;
        compare(a, b, faces, per, &rb, &wb);
        compare(a, r, faces, per, &rr, &wr);
        printf("| %zu | %s | %s | %.3g | %.2f | %.3g | %.3g | %.3g |\n", k, name, op, rb, prev > 0 ? rb / prev : 0.0,
               wb, rr, wr);
        fflush(stdout);
        prev = rb;
        free(a);
        free(b);
        free(r);
    }
    unlink(path);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(x);
    free(xr);
    return 0;
}

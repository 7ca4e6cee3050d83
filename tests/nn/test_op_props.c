/*
** test_op_props.c: the engine decides from an op's properties (di_nn_op
** flags and post_kind), never from its name.
**
** - Batch tiling (a batch run image by image when every op is per-image):
**   on for a graph of per-image ops that a list of names once left out
**   (Mish, Floor), with the same numbers as the whole batch in one pass;
**   off when one op mixes images (Softmax over the batch axis).
** - Fusion: a Relu after a Conv becomes its post-op (one step, not two),
**   and Sub, which has no post_kind, is not fused; a Gelu becomes one in a
**   CPU plan only (not in a plan for another backend), with the formula's
**   numbers.
** - A Split into byte ranges (nothing but ones before its axis) makes its
**   parts windows of its input, no copy, on CPU plans only (DI_OP_PARTS).
** - CPU sessions go through the CPU backend's table only: creating and
**   destroying them never loads the CUDA module.
** - Every op has its backend-neutral infer (Resize's tables in its params),
**   and a plan for another backend makes no oneDNN engine.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/cuda/cuda.h"
#include "nn/engine.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* the builder's other helpers */
#include "onnx_build.h"
#include "test_session.h"
#pragma GCC diagnostic pop

static const int64_t xdims[4] = {-1, 2, 4, 4};

/* x -> Conv(1x1) -> [second] -> [third] -> y */
static uint8_t *build(const char *second, const char *third, int64_t softmax_axis,
                      size_t *len)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 4, xdims, "N");
    const int64_t wd[4] = {2, 2, 1, 1}, bd[1] = {2};
    const float w[4] = {0.5f, -1.25f, 2.0f, 0.75f}, bias[2] = {0.1f, -0.2f};
    ob_init_f(&b, "w", 4, wd, w);
    ob_init_f(&b, "b", 1, bd, bias);
    ob_node(&b, "Conv", "x,w,b", "c");
    const char *last = "c";
    if (second) {
        Onnx__NodeProto *n = ob_node(&b, second, !strcmp(second, "Sub") ? "c,c" : "c", "d");
        if (!strcmp(second, "Softmax")) ob_attr_i(&b, n, "axis", softmax_axis);
        last = "d";
    }
    if (third) {
        ob_node(&b, third, last, "e");
        last = "e";
    }
    ob_node(&b, "Identity", last, "y");
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

static di_nn_session *open_session(const char *name, const uint8_t *bytes, size_t len,
                                   bool whole_batch)
{
    di_nn_options opt = test_options(1);
    opt.whole_batch = whole_batch;
    return test_session_mem(bytes, len, name, &opt);
}

/* Runs a batch of 3 tiled (if the session allows) and whole; returns the
** session's per-image verdict. */
static int tiling(const char *name, const char *second, const char *third, int64_t axis)
{
    size_t len;
    uint8_t *bytes = build(second, third, axis, &len);
    di_nn_session *s = open_session(name, bytes, len, false);
    di_nn_session *w = open_session(name, bytes, len, true);
    free(bytes);
    int verdict = -1;
    enum { N = 3, PER = 2 * 4 * 4 };
    float x[N * PER], y1[N * PER], y2[N * PER];
    for (int i = 0; i < N * PER; i++) x[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
    di_error err;
    if (s && w) {
        CHECKF(di_nn_run(s, x, N, y1, N * PER, &err) == 0, "%s: %s", name, err.msg);
        CHECKF(di_nn_run(w, x, N, y2, N * PER, &err) == 0, "%s: %s", name, err.msg);
        verdict = s->per_sample;
        CHECKF(memcmp(y1, y2, sizeof y1) == 0, "%s: tiled and whole batch differ", name);
    }
    di_nn_session_destroy(s);
    di_nn_session_destroy(w);
    return verdict;
}

/* Steps of the batch-1 plan whose node is not absorbed. */
static int plan_steps(const char *name, const char *second)
{
    size_t len;
    uint8_t *bytes = build(second, NULL, 0, &len);
    di_nn_session *s = open_session(name, bytes, len, true);
    free(bytes);
    int n = -1;
    if (s) {
        di_nn_io io = {DI_DT_FLOAT, 4, {1, 2, 4, 4}, NULL};
        di_nn_plan *p;
        di_error err;
        CHECKF(di_nn_get_plan(s, &io, 1, &p, &err) == 0, "%s: %s", name, err.msg);
        n = 0;
        for (int i = 0; i < p->nsteps; i++) n += p->steps[i].node >= 0;
    }
    di_nn_session_destroy(s);
    return n;
}

/* The Gelu and Sub steps of x -> Conv -> Gelu -> Sub(d, d): planned for the
** CPU and for another backend. */
static void infer_neutral(void)
{
    size_t len;
    uint8_t *bytes = build("Gelu", NULL, 0, &len);
    di_nn_session *s = open_session("Conv+Gelu", bytes, len, true);
    free(bytes);
    if (!s)
        return;
    di_nn_io io = {DI_DT_FLOAT, 4, {3, 2, 4, 4}, NULL};
    di_nn_plan *cpu = NULL, *neutral = NULL;
    di_error err;
    di_nn_release_persist(s); /* the CPU session planned at load */
    CHECKF(di_nn_plan_build_flags(s, &io, 1, DI_NN_PLAN_NEUTRAL, &neutral, &err) == 0, "%s",
           err.msg);
    /* another backend's plan keeps no CPU state: no Conv primitive, no
    ** reordered weights (s->persist) */
    for (int i = 0; neutral && i < neutral->nsteps; i++) {
        const di_nn_step *st = &neutral->steps[i];
        if (st->node >= 0 && !strcmp(st->name, "Conv")) {
            CHECK(st->k.state == NULL);
            CHECK(s->persist[st->node] == NULL);
            CHECK(!st->k.out[0]->blocked && st->k.out[0]->dims[1] == 2);
        }
    }
    /* no oneDNN layout, so no reorder step either */
    for (int i = 0; neutral && i < neutral->nsteps; i++) {
        CHECK(neutral->steps[i].node >= 0 && !neutral->steps[i].convert);
        for (int o = 0; o < neutral->steps[i].k.nout; o++)
            CHECK(!neutral->steps[i].k.out[o] || !neutral->steps[i].k.out[o]->blocked);
    }
    CHECKF(di_nn_plan_build(s, &io, 1, &cpu, &err) == 0, "%s", err.msg);
    /* the same work counted (the Conv's flops come from its params) */
    CHECK(cpu && neutral && cpu->flops > 0 && cpu->flops == neutral->flops);
    const di_nn_step *gc = NULL, *gn = NULL, *cc = NULL, *cn = NULL;
    for (int i = 0; cpu && i < cpu->nsteps; i++) {
        if (cpu->steps[i].node >= 0 && !strcmp(cpu->steps[i].name, "Gelu")) gc = &cpu->steps[i];
        if (cpu->steps[i].node >= 0 && !strcmp(cpu->steps[i].name, "Conv")) cc = &cpu->steps[i];
    }
    for (int i = 0; neutral && i < neutral->nsteps; i++) {
        if (neutral->steps[i].node >= 0 && !strcmp(neutral->steps[i].name, "Gelu"))
            gn = &neutral->steps[i];
        if (neutral->steps[i].node >= 0 && !strcmp(neutral->steps[i].name, "Conv"))
            cn = &neutral->steps[i];
    }
    /* the CPU takes the Gelu as the Conv's post-op; another backend's plan
    ** keeps it a step of its own (the CUDA translation knows no Gelu post-op) */
    CHECK(!gc && cc && cc->k.npost == 1 && cc->k.post[0].kind == DI_POST_GELU);
    CHECK(gn && cn && cn->k.npost == 0);
    if (gn && cc) {
        CHECK(gn->k.state == NULL); /* no CPU state for another backend */
        const di_nn_unary_params *up = di_nn_unary_params_in(&gn->k);
        CHECK(up && up->kind == DI_U_GELU);
        CHECK(gn->k.out[0]->ndim == 4 && gn->k.out[0]->dims[0] == 3 &&
              gn->k.out[0]->dims[1] == 2 && gn->k.out[0]->dtype == DI_DT_FLOAT);
        CHECK(!memcmp(gn->k.out[0]->dims, cc->k.out[0]->dims, 4 * sizeof(int64_t)));
    }
    di_nn_plan_free(cpu, s);
    di_nn_plan_free(neutral, s);
    /* the fused Gelu computes what the formula says */
    enum { PER = 2 * 4 * 4 };
    float x[3 * PER], y[3 * PER];
    for (int i = 0; i < 3 * PER; i++) x[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
    CHECKF(di_nn_run(s, x, 3, y, 3 * PER, &err) == 0, "%s", err.msg);
    const float w[4] = {0.5f, -1.25f, 2.0f, 0.75f}, bias[2] = {0.1f, -0.2f};
    double md = 0;
    for (int n = 0; n < 3; n++)
        for (int o = 0; o < 2; o++)
            for (int p = 0; p < 16; p++) {
                double v = bias[o];
                for (int c = 0; c < 2; c++) v += (double)w[o * 2 + c] * x[n * PER + c * 16 + p];
                double want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
                double d = fabs(y[n * PER + o * 16 + p] - want);
                md = d > md ? d : md;
            }
    CHECKF(md < 1e-5, "Conv + Gelu: max |diff| %.3g", md);
    di_nn_session_destroy(s);
    /* a Gelu that cannot fuse (Sub before it) runs on oneDNN's eltwise kernel */
    bytes = build("Sub", "Gelu", 0, &len);
    s = open_session("Conv+Sub+Gelu", bytes, len, true);
    free(bytes);
    cpu = NULL;
    CHECKF(s && di_nn_plan_build(s, &io, 1, &cpu, &err) == 0, "%s", s ? err.msg : "no session");
    gc = NULL;
    for (int i = 0; s && cpu && i < cpu->nsteps; i++)
        if (cpu->steps[i].node >= 0 && !strcmp(cpu->steps[i].name, "Gelu")) gc = &cpu->steps[i];
    CHECK(gc && gc->k.state != NULL); /* the CPU's oneDNN eltwise primitive */
    if (s) di_nn_plan_free(cpu, s);
    di_nn_session_destroy(s);
}

static void attr_s(ob *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(b, v);
    a->s.len = strlen(v);
}

/* x (N x 2 x H x W, H and W symbolic) -> Conv(1x1) -> Resize (linear, x2) -> y */
static uint8_t *build_resize(size_t *len)
{
    ob b;
    ob_init(&b, 17);
    const int64_t dims[4] = {-1, 2, -1, -1};
    ob_input(&b, "x", 4, dims, "N");
    const int64_t wd[4] = {2, 2, 1, 1}, sd[1] = {4};
    const float w[4] = {0.5f, -1.25f, 2.0f, 0.75f}, scales[4] = {1, 1, 2, 2};
    ob_init_f(&b, "w", 4, wd, w);
    ob_init_f(&b, "scales", 1, sd, scales);
    ob_node(&b, "Conv", "x,w", "c");
    Onnx__NodeProto *r = ob_node(&b, "Resize", "c,,scales", "y");
    attr_s(&b, r, "mode", "linear");
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

/* Resize's tables come from its infer (params), also in a plan for another
** backend, and such a plan (what a CUDA session builds) makes no oneDNN
** engine, nor does a session that has planned nothing yet: the CPU
** environment is made when a CPU kernel first needs it. */
static void resize_neutral(void)
{
    size_t len;
    uint8_t *bytes = build_resize(&len);
    long engines = di_nn_cpu_engines_made();
    di_nn_session *s = open_session("Conv+Resize", bytes, len, true);
    free(bytes);
    if (!s)
        return;
    CHECKF(di_nn_cpu_engines_made() == engines, "a session made %ld oneDNN engines",
           di_nn_cpu_engines_made() - engines);
    di_nn_io io = {DI_DT_FLOAT, 4, {1, 2, 3, 5}, NULL};
    di_nn_plan *neutral = NULL, *cpu = NULL;
    di_error err;
    CHECKF(di_nn_plan_build_flags(s, &io, 1, DI_NN_PLAN_NEUTRAL, &neutral, &err) == 0, "%s",
           err.msg);
    CHECKF(di_nn_cpu_engines_made() == engines, "a neutral plan made %ld oneDNN engines",
           di_nn_cpu_engines_made() - engines);
    const di_nn_step *rs = NULL;
    for (int i = 0; neutral && i < neutral->nsteps; i++)
        if (neutral->steps[i].node >= 0 && !strcmp(neutral->steps[i].name, "Resize"))
            rs = &neutral->steps[i];
    CHECK(rs != NULL);
    if (rs) {
        const di_nn_resize_tables *t = di_nn_resize_tables_of(&rs->k);
        CHECK(rs->k.state == NULL); /* no CPU prepare */
        CHECK(t && t->linear && !t->cubic && t->ih == 3 && t->iw == 5 && t->oh == 6 &&
              t->ow == 10);
        /* half_pixel, x2: output row 1 reads rows 0 and 1 at weight 0.25 */
        CHECK(t && t->y0[1] == 0 && t->y1[1] == 1 && fabsf(t->wy[1] - 0.25f) < 1e-6f);
        CHECK(rs->k.out[0]->ndim == 4 && rs->k.out[0]->dims[2] == 6 &&
              rs->k.out[0]->dims[3] == 10);
    }
    /* the counter counts: a CPU plan's Conv makes the engine */
    CHECKF(di_nn_plan_build(s, &io, 1, &cpu, &err) == 0, "%s", err.msg);
    CHECK(di_nn_cpu_engines_made() == engines + 1);
    di_nn_plan_free(cpu, s);
    di_nn_plan_free(neutral, s);
    di_nn_session_destroy(s);
}

/* x (N x 6 x 4) -> Relu -> Split(axis 1: 2, 4) -> a, b -> Concat(Neg(b), a) */
static uint8_t *build_split(size_t *len)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 3, (int64_t[]){-1, 6, 4}, "N");
    ob_init_i64(&b, "sizes", 1, (int64_t[]){2}, (int64_t[]){2, 4});
    ob_node(&b, "Relu", "x", "r");
    Onnx__NodeProto *n = ob_node(&b, "Split", "r,sizes", "a,b");
    ob_attr_i(&b, n, "axis", 1);
    ob_node(&b, "Neg", "b", "nb");
    n = ob_node(&b, "Concat", "nb,a", "y");
    ob_attr_i(&b, n, "axis", 1);
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

/* Whether the Split step's parts are windows of its input (no copy). */
static int split_windowed(const di_nn_plan *p)
{
    for (int i = 0; p && i < p->nsteps; i++) {
        const di_nn_step *st = &p->steps[i];
        if (st->node < 0 || strcmp(st->name, "Split"))
            continue;
        const uint8_t *x = st->k.in[0]->data, *a = st->k.out[0]->data, *b = st->k.out[1]->data;
        size_t first = (size_t)di_nn_numel(st->k.out[0]) * sizeof(float);
        if (a == x && b == x + first)
            return 1;
        /* a copy: the parts lie outside the input's bytes */
        size_t all = (size_t)di_nn_numel(st->k.in[0]) * sizeof(float);
        CHECK((a >= x + all || a + first <= x) && (b >= x + all || b <= x));
        return 0;
    }
    return -1;
}

/* Split along an axis with nothing but ones before it cuts byte ranges: its
** parts are windows of its input in a CPU plan (batch 1), copies when the
** batch comes first (batch 3) and in a plan for another backend; the
** numbers are the same in every case. */
static void split_views(void)
{
    size_t len;
    uint8_t *bytes = build_split(&len);
    di_nn_session *s = open_session("Split", bytes, len, true);
    free(bytes);
    if (!s)
        return;
    di_error err;
    for (int batch = 1; batch <= 3; batch += 2) {
        float x[3 * 24], y[3 * 24];
        for (int i = 0; i < batch * 24; i++) x[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
        CHECKF(di_nn_run(s, x, batch, y, (size_t)batch * 24, &err) == 0, "%s", err.msg);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < 6; c++)
                for (int w = 0; w < 4; w++) {
                    int from = c < 4 ? c + 2 : c - 4; /* Neg(b) first, then a */
                    float r = fmaxf(x[n * 24 + from * 4 + w], 0.f);
                    CHECKF(y[n * 24 + c * 4 + w] == (c < 4 ? -r : r),
                           "Split, batch %d: y[%d][%d][%d]", batch, n, c, w);
                }
        di_nn_io io = {DI_DT_FLOAT, 3, {batch, 6, 4}, NULL};
        di_nn_plan *p = NULL, *neutral = NULL;
        CHECKF(di_nn_get_plan(s, &io, 1, &p, &err) == 0, "%s", err.msg);
        CHECKF(split_windowed(p) == (batch == 1), "Split, batch %d: windows %d", batch,
               split_windowed(p));
        CHECKF(di_nn_plan_build_flags(s, &io, 1, DI_NN_PLAN_NEUTRAL, &neutral, &err) == 0, "%s",
               err.msg);
        CHECK(split_windowed(neutral) == 0);
        if (neutral)
            di_nn_plan_free(neutral, s);
    }
    di_nn_session_destroy(s);
}

/* x (N x 6 x 4) -> Split(axis 1: 1, 2, 3) -> a, (omitted), c -> Concat(c, a):
** an omitted part still moves the parts after it (the copies once read c
** from where the omitted part starts). */
static void split_omitted(void)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 3, (int64_t[]){-1, 6, 4}, "N");
    ob_init_i64(&b, "sizes", 1, (int64_t[]){3}, (int64_t[]){1, 2, 3});
    Onnx__NodeProto *n = ob_node(&b, "Split", "x,sizes", "a,,c");
    ob_attr_i(&b, n, "axis", 1);
    n = ob_node(&b, "Concat", "c,a", "y");
    ob_attr_i(&b, n, "axis", 1);
    ob_output(&b, "y");
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    ob_free(&b);
    di_nn_session *s = open_session("Split, omitted part", bytes, len, true);
    free(bytes);
    if (!s)
        return;
    di_error err;
    for (int batch = 1; batch <= 3; batch += 2) {
        float x[3 * 24], y[3 * 16];
        for (int i = 0; i < batch * 24; i++) x[i] = (float)i;
        CHECKF(di_nn_run(s, x, batch, y, (size_t)batch * 16, &err) == 0, "%s", err.msg);
        for (int m = 0; m < batch; m++)
            for (int c = 0; c < 4; c++)
                for (int w = 0; w < 4; w++) {
                    int from = c < 3 ? c + 3 : 0; /* c's channels 3..5, then a's 0 */
                    CHECKF(y[m * 16 + c * 4 + w] == x[m * 24 + from * 4 + w],
                           "Split, omitted part, batch %d: y[%d][%d][%d] = %g, not %g", batch,
                           m, c, w, y[m * 16 + c * 4 + w], x[m * 24 + from * 4 + w]);
                }
    }
    di_nn_session_destroy(s);
}

int main(void)
{
    /* per-image ops that the old name list did not know */
    CHECK(tiling("Conv+Mish+Floor", "Mish", "Floor", 0) == 1);
    CHECK(tiling("Conv+Relu", "Relu", NULL, 0) == 1);
    /* Softmax mixes the images of a batch when its axis is the batch */
    CHECK(tiling("Conv+Softmax(0)", "Softmax", NULL, 0) == 0);
    /* fusion by post_kind: Conv+Relu(+Identity) is two steps, Conv+Sub three */
    CHECK(plan_steps("Conv+Relu", "Relu") == 2);
    CHECK(plan_steps("Conv+Sub", "Sub") == 3);
    const di_nn_op *relu = di_nn_find_op("Relu"), *add = di_nn_find_op("Add");
    const di_nn_op *softmax = di_nn_find_op("Softmax");
    CHECK(relu && relu->post_kind == DI_POST_RELU && (relu->flags & DI_OP_PER_IMAGE));
    CHECK(add && add->post_kind == DI_POST_SUM && (add->flags & DI_OP_BROADCAST));
    CHECK(softmax && !(softmax->flags & DI_OP_PER_IMAGE));
    infer_neutral();
    resize_neutral();
    split_views();
    split_omitted();
    /* every op has its backend-neutral infer step */
    const char *names[256];
    int nops = 0;
    di_nn_op_names(names, &nops, 256);
    CHECK(nops > 100);
    for (int i = 0; i < nops; i++) {
        const di_nn_op *op = di_nn_find_op(names[i]);
        CHECKF(op && op->infer, "%s has no infer step", names[i]);
    }
    CHECK(!di_nn_cuda_module_loaded());
    return check_summary();
}

/*
** test_matmul_fused.c: MatMul with the post-ops the engine fuses into it
** (bias Add along the last axis, residual Add of the output's shape, Relu,
** Clip), against a reference computed here in double precision. Each case
** also checks how many steps the plan has, so that a fusion that silently
** stops happening (or one that happens where it must not) is seen:
**   - MatMul + bias + Relu            -> 1 step
**   - MatMul + residual (input) + Clip -> 1 step
**   - MatMul + bias + residual        -> 1 step, at batch 1 and 3
**   - y = x W + x (the residual is the MatMul's own input) -> 1 step
**   - MatMul + an Add broadcast along a middle axis -> 2 steps (not fused)
**   - Mul(MatMul, 0.125) + bias -> 1 step (the loader folds the Mul into the
**     MatMul as an output scale; the bias is then a post-op after it)
**   - r + (MatMul + bias) * g, g a vector (DINOv2's layer scale) -> 1 step
**     (the loader folds g into the weights and the bias)
**   - GELU(MatMul + bias), GELU as exporters write it (Div, Erf, Add, Mul,
**     Mul: one Gelu node after loading) -> 1 step (oneDNN's gelu_erf post-op);
**     in a plan for another backend (what a CUDA session builds) 2 steps
**   - GELU(MatMul + bias) + (MatMul + bias): the Gelu's input feeds another
**     node, so nothing fuses past the bias -> 3 steps
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/engine.h"
#include "onnx_build.h"
#include "test_session.h"

enum { M = 5, K = 7, N = 6 };

static uint64_t rng = 99;

static float uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

static void fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = uniform();
}

enum { CASE_BIAS_RELU, CASE_RESID_CLIP, CASE_BIAS_RESID, CASE_SELF_RESID, CASE_MIDDLE_ADD, CASE_SCALE_BIAS, CASE_LAYER_SCALE, CASE_BIAS_GELU, CASE_GELU_SHARED };

typedef struct fcase {
    const char *name;
    int kind, k, steps;
} fcase;

/* Builds the case's model; W [k, N], b [N], m [M, 1] are initializers. */
static uint8_t *build(const fcase *c, const float *w, const float *bias, const float *mid, size_t *len)
{
    ob b;
    ob_init(&b, 17);
    ob_input(&b, "x", 3, (int64_t[]){1, M, c->k}, "B");
    ob_init_f(&b, "w", 2, (int64_t[]){c->k, N}, w);
    ob_init_f(&b, "b", 1, (int64_t[]){N}, bias);
    switch (c->kind) {
    case CASE_BIAS_RELU:
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "mm,b", "mb");
        ob_node(&b, "Relu", "mb", "y");
        break;
    case CASE_RESID_CLIP:
        ob_input(&b, "r", 3, (int64_t[]){1, M, N}, "B");
        ob_init_f(&b, "lo", 0, NULL, (float[]){-0.4f});
        ob_init_f(&b, "hi", 0, NULL, (float[]){0.6f});
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "r,mm", "mr");
        ob_node(&b, "Clip", "mr,lo,hi", "y");
        break;
    case CASE_BIAS_RESID:
        ob_input(&b, "r", 3, (int64_t[]){1, M, N}, "B");
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "mm,b", "mb");
        ob_node(&b, "Add", "r,mb", "y");
        break;
    case CASE_SELF_RESID:
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "mm,x", "y");
        break;
    case CASE_LAYER_SCALE:
        ob_input(&b, "r", 3, (int64_t[]){1, M, N}, "B");
        ob_init_f(&b, "g", 1, (int64_t[]){N}, mid);
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "b,mm", "mb");
        ob_node(&b, "Mul", "mb,g", "ms");
        ob_node(&b, "Add", "r,ms", "y");
        break;
    case CASE_BIAS_GELU:
    case CASE_GELU_SHARED:
        ob_init_f(&b, "sqrt2", 0, NULL, (float[]){1.41421356f});
        ob_init_f(&b, "one", 0, NULL, (float[]){1.f});
        ob_init_f(&b, "half", 0, NULL, (float[]){0.5f});
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "b,mm", "mb");
        ob_node(&b, "Div", "mb,sqrt2", "g0");
        ob_node(&b, "Erf", "g0", "g1");
        ob_node(&b, "Add", "g1,one", "g2");
        ob_node(&b, "Mul", "mb,g2", "g3");
        ob_node(&b, "Mul", "g3,half", c->kind == CASE_BIAS_GELU ? "y" : "g");
        if (c->kind == CASE_GELU_SHARED) ob_node(&b, "Add", "g,mb", "y");
        break;
    case CASE_SCALE_BIAS:
        ob_init_f(&b, "eighth", 0, NULL, (float[]){0.125f});
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Mul", "mm,eighth", "ms");
        ob_node(&b, "Add", "ms,b", "y");
        break;
    default:
        ob_init_f(&b, "m", 2, (int64_t[]){M, 1}, mid);
        ob_node(&b, "MatMul", "x,w", "mm");
        ob_node(&b, "Add", "mm,m", "y");
        break;
    }
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

static void reference(const fcase *c, int batch, const float *x, const float *r, const float *w,
                      const float *bias, const float *mid, float *y)
{
    for (int bt = 0; bt < batch; bt++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int t = 0; t < c->k; t++) acc += (double)x[(bt * M + i) * c->k + t] * (double)w[t * N + j];
                size_t o = (size_t)((bt * M + i) * N + j);
                switch (c->kind) {
                case CASE_BIAS_RELU: acc += bias[j]; acc = acc > 0 ? acc : 0; break;
                case CASE_RESID_CLIP: acc += r[o]; acc = acc < -0.4 ? -0.4 : acc > 0.6 ? 0.6 : acc; break;
                case CASE_BIAS_RESID: acc += bias[j] + r[o]; break;
                case CASE_SELF_RESID: acc += x[o]; break; /* k == N */
                case CASE_SCALE_BIAS: acc = acc * 0.125 + bias[j]; break;
                case CASE_LAYER_SCALE: acc = (acc + bias[j]) * mid[j] + r[o]; break;
                case CASE_BIAS_GELU: acc += bias[j]; acc = 0.5 * acc * (1 + erf(acc / sqrt(2.0))); break;
                case CASE_GELU_SHARED: acc += bias[j]; acc += 0.5 * acc * (1 + erf(acc / sqrt(2.0))); break;
                default: acc += mid[i]; break;
                }
                y[o] = (float)acc;
            }
}

int main(void)
{
    /* helpers of onnx_build.h this test does not need */
    (void)ob_init_i64;
    (void)ob_attr_i;
    (void)ob_attr_f;
    (void)ob_attr_ints;
    static const fcase cases[] = {
        {"MatMul + bias + Relu", CASE_BIAS_RELU, K, 1},
        {"MatMul + residual + Clip", CASE_RESID_CLIP, K, 1},
        {"MatMul + bias + residual", CASE_BIAS_RESID, K, 1},
        {"x W + x", CASE_SELF_RESID, N, 1},
        {"MatMul + Add along a middle axis", CASE_MIDDLE_ADD, K, 2},
        {"MatMul * 0.125 + bias", CASE_SCALE_BIAS, K, 1},
        {"r + (MatMul + bias) * g", CASE_LAYER_SCALE, K, 1},
        {"GELU(MatMul + bias)", CASE_BIAS_GELU, K, 1},
        {"GELU(MatMul + bias) + (MatMul + bias)", CASE_GELU_SHARED, K, 3},
    };
    float w[K * N], bias[N], mid[M > N ? M : N];
    fill(w, K * N);
    fill(bias, N);
    fill(mid, M > N ? M : N);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const fcase *c = &cases[ci];
        size_t len;
        uint8_t *bytes = build(c, w, bias, mid, &len);
        di_error err;
        di_nn_options opt = test_options(1);
        di_nn_session *s = test_session_mem(bytes, len, c->name, &opt);
        for (int batch = 1; s && batch <= 3; batch += 2) {
            float x[3 * M * K], r[3 * M * N], ref[3 * M * N];
            fill(x, (size_t)(batch * M * c->k));
            fill(r, (size_t)(batch * M * N));
            di_nn_io in[2] = {{DI_DT_FLOAT, 3, {batch, M, c->k}, x}, {DI_DT_FLOAT, 3, {batch, M, N}, r}};
            int nin = s->g->ninputs;
            di_nn_io out = {0};
            if (test_run_io(s, in, nin, &out, 1, c->name)) break;
            reference(c, batch, x, r, w, bias, mid, ref);
            double md = 0;
            for (int i = 0; i < batch * M * N; i++) {
                double d = fabs((double)((float *)out.data)[i] - ref[i]);
                if (!(d <= md)) md = d;
            }
            CHECK(out.ndim == 3 && out.dims[0] == batch && out.dims[1] == M && out.dims[2] == N);
            CHECKF(md <= 1e-5, "%s, batch %d: max |diff| %.3g", c->name, batch, md);
            di_nn_plan *p = NULL;
            CHECK(di_nn_get_plan(s, in, nin, &p, &err) == 0);
            if (p) CHECKF(p->nsteps == c->steps, "%s: %d steps, expected %d", c->name, p->nsteps, c->steps);
            printf("%s, batch %d: max |diff| %.3g, %d step(s)\n", c->name, batch, md, p ? p->nsteps : -1);
            if (c->kind == CASE_BIAS_GELU) { /* another backend's plan keeps the Gelu a step */
                di_nn_plan *np = NULL;
                CHECKF(di_nn_plan_build_flags(s, in, nin, DI_NN_PLAN_NEUTRAL, &np, &err) == 0, "%s", err.msg);
                if (np) CHECKF(np->nsteps == 2, "%s, neutral plan: %d steps, expected 2", c->name, np->nsteps);
                if (np) di_nn_plan_free(np, s);
            }
            free(out.data);
        }
        di_nn_session_destroy(s);
        free(bytes);
    }
    return check_summary();
}

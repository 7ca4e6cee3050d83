/*
** ops_layernorm.c: LayerNormalization (its infer step in infer_norm.c)
** through oneDNN's layer normalization primitive: its kernel is picked at
** run time for the CPU (AVX-512, AVX2...), vectorised over a row and
** parallel over rows; a transformer runs two per block on its widest
** activations. The plain loop remains for what the primitive does not take:
** the Mean and InvStdDev outputs, a scalar scale or bias.
**
** In a bf16 session a LayerNormalization whose consumers all read bf16 (a
** transformer block's qkv and MLP MatMuls: k->bf16_consumers) writes bf16
** from float32 statistics, so that the MatMul need not convert its input
** at each run. oneDNN 2.6's primitive takes one data type for source and
** destination, and the residual stream it reads stays float32: a loop of
** its own (ln_run_bf16), vectorised over a row, parallel over rows.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

typedef struct ln_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scale, shift, scratch;
    bool y16; /* float32 in, bf16 out (ln_run_bf16) */
} ln_state;

static void ln_release(void *p)
{
    ln_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    dnnl_memory_t mems[] = {s->src, s->dst, s->scale, s->shift, s->scratch};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(s);
}

#define DN(call, what) DI_NN_DNNL(k->node, call, what)

/* After di_nn_infer_layernorm: oneDNN's primitive over [rows, n] when it
** applies; no state (the plain loop) otherwise. */
static int ln_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_layernorm_params *p = k->params;
    bool stats = (k->nout > 1 && k->out[1]) || (k->nout > 2 && k->out[2]);
    bool bias = k->nin > 2 && k->in[2];
    if (stats || p->scale_n != p->n || (bias && p->bias_n != p->n) || !p->rows || !p->n)
        return DI_OK;
    int rc = DI_OK;
    ln_state *s = calloc(1, sizeof *s);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    dnnl_memory_desc_t md16;
    if (k->env->bf16 && k->bf16_consumers && !di_nn_plain_bf16_md(k->out[0], &md16)) {
        k->out[0]->layout->md = md16;
        k->out[0]->blocked = true;
        s->y16 = true;
        k->bf16_counted = true; /* rounded as it computes: no pass of its own */
        k->bf16_cvt = 0;
        k->state = s;
        return DI_OK;
    }
    dnnl_memory_desc_t md, wmd;
    dnnl_layer_normalization_desc_t ld;
    dnnl_dims_t d = {p->rows, p->n}, w = {p->n};
    unsigned flags = dnnl_use_scale | (bias ? dnnl_use_shift : 0u);
    DN(dnnl_memory_desc_init_by_tag(&md, 2, d, dnnl_f32, dnnl_ab), "memory desc");
    DN(dnnl_memory_desc_init_by_tag(&wmd, 1, w, dnnl_f32, dnnl_a), "memory desc");
    DN(dnnl_layer_normalization_forward_desc_init(&ld, dnnl_forward_inference, &md, NULL,
                                                  p->epsilon, flags),
       "layer normalization desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (dnnl_primitive_desc_create(&pd, &ld, attr, cpu_engine(k), NULL) != dnnl_success)
        goto fail; /* no kernel: the plain loop */
    DN(dnnl_primitive_create(&s->prim, pd), "layer normalization primitive");
    DN(dnnl_memory_create(&s->src, &md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, &md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->scale, &wmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    if (bias)
        DN(dnnl_memory_create(&s->shift, &wmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = dnnl_memory_desc_get_size(scr);
    }
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (rc || !s->prim) {
        ln_release(s);
        return rc;
    }
    k->state = s;
    return DI_OK;
}

/* The plain loop: the statistics outputs, a scalar scale or bias, or no
** oneDNN kernel. Sums in double. */
static void ln_loop(di_nn_kctx *k)
{
    const di_nn_layernorm_params *s = k->params;
    const float *x = k->in[0]->data, *sc = k->in[1]->data;
    const float *b = k->nin > 2 && k->in[2] ? k->in[2]->data : NULL;
    float *y = k->out[0]->data;
    float *mean_out = k->nout > 1 && k->out[1] ? k->out[1]->data : NULL;
    float *istd_out = k->nout > 2 && k->out[2] ? k->out[2]->data : NULL;
    double eps = s->epsilon;
#pragma omp parallel for num_threads(k->env->threads) if (s->rows * s->n > 32768) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const float *xr = x + r * s->n;
        float *yr = y + r * s->n;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < s->n; i++)
            sum += xr[i];
        double mean = sum / (double)s->n;
        for (int64_t i = 0; i < s->n; i++) {
            double d = xr[i] - mean;
            sq += d * d;
        }
        double istd = 1.0 / sqrt(sq / (double)s->n + eps);
        for (int64_t i = 0; i < s->n; i++) {
            float v = (float)((xr[i] - mean) * istd) * sc[s->scale_n == 1 ? 0 : i];
            yr[i] = b ? v + b[s->bias_n == 1 ? 0 : i] : v;
        }
        if (mean_out)
            mean_out[r] = (float)mean;
        if (istd_out)
            istd_out[r] = (float)istd;
    }
}

/* Float32 rows in, bf16 rows out (one rounding per value): two passes for
** the statistics (the mean first, so that a large common offset costs no
** precision), in float32 as oneDNN's kernel computes them. */
static void ln_run_bf16(di_nn_kctx *k)
{
    const di_nn_layernorm_params *s = k->params;
    const float *x = k->in[0]->data, *sc = k->in[1]->data;
    const float *b = k->nin > 2 && k->in[2] ? k->in[2]->data : NULL;
    uint16_t *y = k->out[0]->data;
    int64_t n = s->n;
    float eps = s->epsilon;
#pragma omp parallel for num_threads(k->env->threads) if (s->rows * n > 32768) schedule(static)
    for (int64_t r = 0; r < s->rows; r++) {
        const float *xr = x + r * n;
        uint16_t *yr = y + r * n;
        float sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++)
            sum += xr[i];
        float mean = sum / (float)n;
#pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < n; i++)
            sq += (xr[i] - mean) * (xr[i] - mean);
        float istd = 1.f / sqrtf(sq / (float)n + eps);
        if (b) {
#pragma omp simd
            for (int64_t i = 0; i < n; i++)
                yr[i] = di_bf16_of((xr[i] - mean) * istd * sc[i] + b[i]);
        } else {
#pragma omp simd
            for (int64_t i = 0; i < n; i++)
                yr[i] = di_bf16_of((xr[i] - mean) * istd * sc[i]);
        }
    }
}

static int ln_run(di_nn_kctx *k, di_error *err)
{
    ln_state *s = k->state;
    if (!s) {
        ln_loop(k);
        return DI_OK;
    }
    if (s->y16) {
        ln_run_bf16(k);
        return DI_OK;
    }
    int rc = DI_OK;
    dnnl_memory_set_data_handle(s->src, k->in[0]->data);
    dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
    dnnl_memory_set_data_handle(s->scale, k->in[1]->data);
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, s->src}, {DNNL_ARG_DST, s->dst}, {DNNL_ARG_SCALE, s->scale}};
    int na = 3;
    if (s->shift) {
        dnnl_memory_set_data_handle(s->shift, k->in[2]->data);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SHIFT, s->shift};
    }
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, k->scratch);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, cpu_stream(k), na, args), "layer normalization");
    DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
fail:
    return rc;
}

const di_nn_op di_op_LayerNormalization = {.name = "LayerNormalization",
                                           .min_in = 2,
                                           .max_in = 3,
                                           .infer = di_nn_infer_layernorm,
                                           .params_size = sizeof(di_nn_layernorm_params),
                                           .prepare = ln_prepare,
                                           .run = ln_run,
                                           .release = ln_release};

/*
** ops_norm.c: normalisations and reductions in plain C on plain data:
** Softmax, LogSoftmax, LayerNormalization, BatchNormalization (inference),
** ReduceMean, ReduceSum, ReduceMax, ReduceMin. Sums accumulate in double.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* ---- Softmax, LogSoftmax ---- */

typedef struct split3 {
    int64_t outer, n, inner;
    /* oneDNN's softmax over [outer, n, inner] (vectorised exp); NULL: the
    ** plain loop below */
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scratch;
} split3;

static void softmax_release(void *p)
{
    split3 *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->src)
        dnnl_memory_destroy(s->src);
    if (s->dst)
        dnnl_memory_destroy(s->dst);
    if (s->scratch)
        dnnl_memory_destroy(s->scratch);
    free(s);
}

/* The oneDNN primitive for s, or nothing (s->prim stays NULL) when oneDNN
** has none: the plain loop then does the work. */
static void softmax_dnnl(di_nn_kctx *k, split3 *s, bool logsm)
{
    if (s->outer * s->n * s->inner == 0)
        return;
    /* [outer, n] when the axis is the last one: oneDNN's dense-axis kernel */
    dnnl_dims_t d = {s->outer, s->n, s->inner};
    int nd = s->inner == 1 ? 2 : 3;
    dnnl_memory_desc_t md;
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok =
        dnnl_memory_desc_init_by_tag(&md, nd, d, dnnl_f32, nd == 2 ? dnnl_ab : dnnl_abc) ==
            dnnl_success &&
        dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference,
                                          logsm ? dnnl_softmax_log : dnnl_softmax_accurate, &md,
                                          &md, 1) == dnnl_success &&
        dnnl_primitive_attr_create(&attr) == dnnl_success &&
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &sd, attr, cpu_engine(k), NULL) == dnnl_success;
    const dnnl_memory_desc_t *scr =
        ok ? dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) : NULL;
    size_t sb = scr ? dnnl_memory_desc_get_size(scr) : 0;
    ok = ok && dnnl_primitive_create(&s->prim, pd) == dnnl_success &&
         dnnl_memory_create(&s->src, &md, cpu_engine(k), DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&s->dst, &md, cpu_engine(k), DNNL_MEMORY_NONE) == dnnl_success &&
         (!sb ||
          dnnl_memory_create(&s->scratch, scr, cpu_engine(k), DNNL_MEMORY_NONE) == dnnl_success);
    if (ok)
        k->scratch_bytes = sb;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        if (s->prim)
            dnnl_primitive_destroy(s->prim);
        if (s->src)
            dnnl_memory_destroy(s->src);
        if (s->dst)
            dnnl_memory_destroy(s->dst);
        s->prim = NULL;
        s->src = s->dst = NULL;
    }
}

/* After di_nn_infer_softmax ([outer, n, inner], shape): oneDNN's primitive
** when it has one. */
static int softmax_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_softmax_params *p = k->params;
    split3 *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->outer = p->outer;
    s->n = p->n;
    s->inner = p->inner;
    softmax_dnnl(k, s, p->log);
    k->state = s;
    return DI_OK;
}

static int softmax_run(di_nn_kctx *k, di_error *err)
{
    const split3 *s = k->state;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    if (s->prim) {
        dnnl_memory_set_data_handle(s->src, k->in[0]->data);
        dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_DST, s->dst}};
        int na = 2;
        if (s->scratch) {
            dnnl_memory_set_data_handle(s->scratch, k->scratch);
            args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
        }
        dnnl_status_t st = dnnl_primitive_execute(s->prim, cpu_stream(k), na, args);
        if (st == dnnl_success)
            st = dnnl_stream_wait(cpu_stream(k));
        return st == dnnl_success ? DI_OK : di_nn_dnnl_fail(err, k->node, "softmax", st);
    }
    bool logsm = ((const di_nn_softmax_params *)k->params)->log;
    int64_t rows = s->outer * s->inner, st = s->inner;
#pragma omp parallel for num_threads(k->env->threads) if (rows * s->n > 32768) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t o = r / s->inner, in = r % s->inner;
        const float *xr = x + o * s->n * s->inner + in;
        float *yr = y + o * s->n * s->inner + in;
        float mx = -INFINITY;
        for (int64_t i = 0; i < s->n; i++)
            mx = xr[i * st] > mx ? xr[i * st] : mx;
        double sum = 0;
        for (int64_t i = 0; i < s->n; i++) {
            float e = expf(xr[i * st] - mx);
            if (!logsm)
                yr[i * st] = e;
            sum += e;
        }
        if (logsm) {
            float ls = (float)log(sum);
            for (int64_t i = 0; i < s->n; i++)
                yr[i * st] = xr[i * st] - mx - ls;
        } else {
            float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < s->n; i++)
                yr[i * st] *= inv;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Softmax = {.name = "Softmax",
                                .min_in = 1,
                                .max_in = 1,
                                .infer = di_nn_infer_softmax,
                                .params_size = sizeof(di_nn_softmax_params),
                                .prepare = softmax_prepare,
                                .run = softmax_run,
                                .release = softmax_release};
const di_nn_op di_op_LogSoftmax = {.name = "LogSoftmax",
                                   .min_in = 1,
                                   .max_in = 1,
                                   .infer = di_nn_infer_softmax,
                                   .params_size = sizeof(di_nn_softmax_params),
                                   .prepare = softmax_prepare,
                                   .run = softmax_run,
                                   .release = softmax_release};

/* ---- LayerNormalization ---- */

static int ln_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
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
    return DI_OK;
}

const di_nn_op di_op_LayerNormalization = {.name = "LayerNormalization",
                                           .min_in = 2,
                                           .max_in = 3,
                                           .infer = di_nn_infer_layernorm,
                                           .params_size = sizeof(di_nn_layernorm_params),
                                           .run = ln_run};

/* ---- BatchNormalization (inference) ---- */

static int bn_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (di_nn_attr_int(n, "training_mode", 0))
        return di_nn_unsupported(err, n, "training_mode=1");
    if (n->nout > 1)
        return di_nn_unsupported(err, n, "training outputs (running mean and variance)");
    return DI_OK;
}

static int bn_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    const float *sc = k->in[1]->data, *b = k->in[2]->data, *mean = k->in[3]->data,
                *var = k->in[4]->data;
    float eps = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    int64_t n = x->dims[0], c = x->dims[1], inner = 1;
    for (int i = 2; i < x->ndim; i++)
        inner *= x->dims[i];
    const float *xd = x->data;
    float *y = k->out[0]->data;
    for (int64_t i = 0; i < n * c; i++) {
        int64_t ch = i % c;
        float a = sc[ch] / sqrtf(var[ch] + eps), off = b[ch] - mean[ch] * a;
        for (int64_t j = 0; j < inner; j++)
            y[i * inner + j] = xd[i * inner + j] * a + off;
    }
    return DI_OK;
}

const di_nn_op di_op_BatchNormalization = {.name = "BatchNormalization",
                                           .min_in = 5,
                                           .max_in = 5,
                                           .flags = DI_OP_PER_IMAGE,
                                           .check = bn_check,
                                           .infer = di_nn_infer_batchnorm,
                                           .run = bn_run};

/* ---- ReduceMean, ReduceSum, ReduceMax, ReduceMin ---- */

static int reduce_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_reduce_params *s = k->params;
    const char *op = k->node->op_type + 6; /* after "Reduce" */
    bool mean = !strcmp(op, "Mean"), mx = !strcmp(op, "Max"), mn = !strcmp(op, "Min"),
         prod = !strcmp(op, "Prod");
    bool sq = !strcmp(op, "SumSquare") || !strcmp(op, "L2"), l1 = !strcmp(op, "L1"),
         lse = !strcmp(op, "LogSumExp");
    bool f = k->in[0]->dtype == DI_DT_FLOAT;
    double *acc = malloc((size_t)(s->out_n ? s->out_n : 1) * sizeof(double));
    if (!acc)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int64_t i = 0; i < s->out_n; i++)
        acc[i] = mx ? -INFINITY : mn ? INFINITY : prod ? 1 : 0;
    int64_t idx[DI_NN_MAX_DIMS] = {0}, total = di_shape_numel(s->ndim, s->dims);
    for (int64_t i = 0; i < total; i++) {
        int64_t o = 0;
        for (int d = 0; d < s->ndim; d++)
            if (!s->red[d])
                o = o * s->dims[d] + idx[d];
        double v =
            f ? ((const float *)k->in[0]->data)[i] : (double)((const int64_t *)k->in[0]->data)[i];
        if (mx)
            acc[o] = v > acc[o] ? v : acc[o];
        else if (mn)
            acc[o] = v < acc[o] ? v : acc[o];
        else if (prod)
            acc[o] *= v;
        else if (sq)
            acc[o] += v * v;
        else if (l1)
            acc[o] += fabs(v);
        else if (lse)
            acc[o] += exp(v);
        else
            acc[o] += v;
        for (int d = s->ndim - 1; d >= 0; d--) {
            if (++idx[d] < s->dims[d])
                break;
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < s->out_n; i++) {
        double v = mean ? acc[i] / (double)s->count : acc[i];
        if (!strcmp(op, "L2"))
            v = sqrt(v);
        else if (lse || !strcmp(op, "LogSum"))
            v = log(v);
        if (f)
            ((float *)k->out[0]->data)[i] = (float)v;
        else
            ((int64_t *)k->out[0]->data)[i] = (int64_t)v;
    }
    free(acc);
    return DI_OK;
}

/* axes became an input at opset 13 for ReduceSum, 18 for the others */
static int reduce_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    int64_t since = !strcmp(n->op_type, "ReduceSum") ? 13 : 18;
    if (g->opset < since && n->nin > 1)
        return di_nn_node_fail(err, DI_EFORMAT, n,
                               "axes as an input needs opset %lld (the model has %lld)",
                               (long long)since, (long long)g->opset);
    if (g->opset >= since && di_nn_node_attr(n, "axes"))
        return di_nn_node_fail(err, DI_EFORMAT, n, "the axes attribute was removed in opset %lld",
                               (long long)since);
    return DI_OK;
}

const di_nn_op di_op_ReduceMean = {.name = "ReduceMean",
                                   .min_in = 1,
                                   .max_in = 2,
                                   .check = reduce_check,
                                   .infer = di_nn_infer_reduce,
                                   .params_size = sizeof(di_nn_reduce_params),
                                   .run = reduce_run};
const di_nn_op di_op_ReduceSum = {.name = "ReduceSum",
                                  .min_in = 1,
                                  .max_in = 2,
                                  .check = reduce_check,
                                  .infer = di_nn_infer_reduce,
                                  .params_size = sizeof(di_nn_reduce_params),
                                  .run = reduce_run};
const di_nn_op di_op_ReduceMax = {.name = "ReduceMax",
                                  .min_in = 1,
                                  .max_in = 2,
                                  .check = reduce_check,
                                  .infer = di_nn_infer_reduce,
                                  .params_size = sizeof(di_nn_reduce_params),
                                  .run = reduce_run};
const di_nn_op di_op_ReduceMin = {.name = "ReduceMin",
                                  .min_in = 1,
                                  .max_in = 2,
                                  .check = reduce_check,
                                  .infer = di_nn_infer_reduce,
                                  .params_size = sizeof(di_nn_reduce_params),
                                  .run = reduce_run};
const di_nn_op di_op_ReduceProd = {.name = "ReduceProd",
                                   .min_in = 1,
                                   .max_in = 2,
                                   .check = reduce_check,
                                   .infer = di_nn_infer_reduce,
                                   .params_size = sizeof(di_nn_reduce_params),
                                   .run = reduce_run};
const di_nn_op di_op_ReduceSumSquare = {.name = "ReduceSumSquare",
                                        .min_in = 1,
                                        .max_in = 2,
                                        .check = reduce_check,
                                        .infer = di_nn_infer_reduce,
                                        .params_size = sizeof(di_nn_reduce_params),
                                        .run = reduce_run};
const di_nn_op di_op_ReduceL1 = {.name = "ReduceL1",
                                 .min_in = 1,
                                 .max_in = 2,
                                 .check = reduce_check,
                                 .infer = di_nn_infer_reduce,
                                 .params_size = sizeof(di_nn_reduce_params),
                                 .run = reduce_run};
const di_nn_op di_op_ReduceL2 = {.name = "ReduceL2",
                                 .min_in = 1,
                                 .max_in = 2,
                                 .check = reduce_check,
                                 .infer = di_nn_infer_reduce,
                                 .params_size = sizeof(di_nn_reduce_params),
                                 .run = reduce_run};
const di_nn_op di_op_ReduceLogSum = {.name = "ReduceLogSum",
                                     .min_in = 1,
                                     .max_in = 2,
                                     .check = reduce_check,
                                     .infer = di_nn_infer_reduce,
                                     .params_size = sizeof(di_nn_reduce_params),
                                     .run = reduce_run};
const di_nn_op di_op_ReduceLogSumExp = {.name = "ReduceLogSumExp",
                                        .min_in = 1,
                                        .max_in = 2,
                                        .check = reduce_check,
                                        .infer = di_nn_infer_reduce,
                                        .params_size = sizeof(di_nn_reduce_params),
                                        .run = reduce_run};

/* ---- ArgMax, ArgMin ---- */

static double elem(const di_nn_tensor *t, int64_t i)
{
    if (t->dtype == DI_DT_FLOAT)
        return ((const float *)t->data)[i];
    if (t->dtype == DI_DT_INT64)
        return (double)((const int64_t *)t->data)[i];
    return ((const int32_t *)t->data)[i];
}

static int arg_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_arg_params *s = k->params;
    bool mx = !strcmp(k->node->op_type, "ArgMax"),
         last = di_nn_attr_int(k->node, "select_last_index", 0) != 0;
    int64_t *y = k->out[0]->data;
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t in = 0; in < s->inner; in++) {
            int64_t best = 0;
            double bv = elem(k->in[0], o * s->n * s->inner + in);
            for (int64_t i = 1; i < s->n; i++) {
                double v = elem(k->in[0], (o * s->n + i) * s->inner + in);
                bool better = mx ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
                if (better) {
                    bv = v;
                    best = i;
                }
            }
            y[o * s->inner + in] = best;
        }
    return DI_OK;
}

const di_nn_op di_op_ArgMax = {.name = "ArgMax",
                               .min_in = 1,
                               .max_in = 1,
                               .infer = di_nn_infer_arg,
                               .params_size = sizeof(di_nn_arg_params),
                               .run = arg_run};
const di_nn_op di_op_ArgMin = {.name = "ArgMin",
                               .min_in = 1,
                               .max_in = 1,
                               .infer = di_nn_infer_arg,
                               .params_size = sizeof(di_nn_arg_params),
                               .run = arg_run};

/* ---- InstanceNormalization ---- */

static int in_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    const float *xd = x->data, *sc = k->in[1]->data, *b = k->in[2]->data;
    float *y = k->out[0]->data;
    double eps = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    int64_t nc = x->dims[0] * x->dims[1], inner = 1;
    for (int i = 2; i < x->ndim; i++)
        inner *= x->dims[i];
    for (int64_t r = 0; r < nc; r++) {
        const float *xr = xd + r * inner;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < inner; i++)
            sum += xr[i];
        double mean = inner ? sum / (double)inner : 0;
        for (int64_t i = 0; i < inner; i++)
            sq += (xr[i] - mean) * (xr[i] - mean);
        double istd = 1.0 / sqrt((inner ? sq / (double)inner : 0) + eps);
        int64_t c = r % x->dims[1];
        for (int64_t i = 0; i < inner; i++)
            y[r * inner + i] = (float)((xr[i] - mean) * istd) * sc[c] + b[c];
    }
    return DI_OK;
}

const di_nn_op di_op_InstanceNormalization = {.name = "InstanceNormalization",
                                              .min_in = 3,
                                              .max_in = 3,
                                              .flags = DI_OP_PER_IMAGE,
                                              .infer = di_nn_infer_instancenorm,
                                              .run = in_run};

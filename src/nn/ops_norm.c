/*
** ops_norm.c: Softmax, LogSoftmax, LayerNormalization, BatchNormalization
** (inference), InstanceNormalization, on float32 in plain C.
**
** Softmax follows the opset: from 13 on, over the one axis (default -1);
** before 13, the input is seen as 2-D [prod(dims[:axis]), prod(dims[axis:])]
** (default axis 1) and each row is normalised.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

#define PAR_MIN 16384

static int float_only(const di_nn_kctx *k, di_error *err)
{
    for (int i = 0; i < k->nin; i++)
        if (k->in[i] && k->in[i]->dtype != DI_DT_FLOAT)
            return di_nn_unsupported(err, k->node, "element type %s (input %d)", di_dtype_name(k->in[i]->dtype), i);
    return DI_OK;
}

/* ---- Softmax, LogSoftmax ---- */

typedef struct softmax_state {
    int64_t outer, n, inner;
    bool log;
} softmax_state;

static int softmax_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = float_only(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim;
    int64_t opset = k->env->opset ? k->env->opset : 13;
    int64_t axis = di_nn_attr_int(k->node, "axis", opset >= 13 ? -1 : 1);
    if (axis < -nd || axis >= (nd ? nd : 1)) return di_nn_shape_error(err, k->node, "axis %lld out of range for rank %d", (long long)axis, nd);
    if (axis < 0) axis += nd;
    softmax_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->outer = s->n = s->inner = 1;
    for (int d = 0; d < nd; d++) {
        if (d < axis) s->outer *= x->dims[d];
        else if (d == axis || opset < 13) s->n *= x->dims[d];
        else s->inner *= x->dims[d];
    }
    s->log = !strcmp(k->node->op_type, "LogSoftmax");
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, nd, x->dims);
    k->state = s;
    return DI_OK;
}

static int softmax_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const softmax_state *s = k->state;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    int64_t outer = s->outer, n = s->n, inner = s->inner;
    if (!n) return DI_OK;
    bool log = s->log;
    int threads = k->env->threads;
#pragma omp parallel for num_threads(threads) if (outer * n * inner > PAR_MIN) schedule(static) collapse(2)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *xr = x + o * n * inner + j;
            float *yr = y + o * n * inner + j;
            float m = xr[0];
            for (int64_t i = 1; i < n; i++) m = xr[i * inner] > m ? xr[i * inner] : m;
            float sum = 0.f;
            if (log) {
                for (int64_t i = 0; i < n; i++) sum += expf(xr[i * inner] - m);
                float ls = logf(sum);
                for (int64_t i = 0; i < n; i++) yr[i * inner] = xr[i * inner] - m - ls;
            } else {
                for (int64_t i = 0; i < n; i++) {
                    float e = expf(xr[i * inner] - m);
                    yr[i * inner] = e;
                    sum += e;
                }
                float inv = 1.f / sum;
                for (int64_t i = 0; i < n; i++) yr[i * inner] *= inv;
            }
        }
    return DI_OK;
}

/* ---- LayerNormalization ---- */

static int layernorm_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    int64_t st = di_nn_attr_int(n, "stash_type", 1);
    if (st != 1) return di_nn_unsupported(err, n, "stash_type=%lld", (long long)st);
    return DI_OK;
}

typedef struct ln_state {
    int64_t rows, n;
    float eps;
    bool scale_scalar, bias_scalar;
} ln_state;

static int layernorm_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = float_only(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0], *sc = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    int nd = x->ndim;
    int64_t axis = di_nn_attr_int(k->node, "axis", -1);
    if (axis < -nd || axis >= nd) return di_nn_shape_error(err, k->node, "axis %lld out of range for rank %d", (long long)axis, nd);
    if (axis < 0) axis += nd;
    ln_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->rows = s->n = 1;
    for (int d = 0; d < nd; d++) {
        if (d < axis) s->rows *= x->dims[d];
        else s->n *= x->dims[d];
    }
    s->eps = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    int64_t ns = di_nn_numel(sc), nb = b ? di_nn_numel(b) : s->n;
    if ((ns != s->n && ns != 1) || (nb != s->n && nb != 1)) {
        long long want = (long long)s->n;
        free(s);
        return di_nn_unsupported(err, k->node, "scale/bias of %lld/%lld values for %lld normalised ones", (long long)ns, (long long)nb, want);
    }
    s->scale_scalar = ns == 1 && s->n != 1;
    s->bias_scalar = b && nb == 1 && s->n != 1;
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, nd, x->dims);
    int64_t sd[DI_NN_MAX_DIMS];
    for (int d = 0; d < nd; d++) sd[d] = d < axis ? x->dims[d] : 1;
    for (int o = 1; o < k->nout && o < 3; o++)
        if (k->out[o]) di_nn_set_shape(k->out[o], DI_DT_FLOAT, nd, sd);
    k->state = s;
    return DI_OK;
}

static int layernorm_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const ln_state *s = k->state;
    const float *x = k->in[0]->data, *sc = k->in[1]->data;
    const float *b = k->nin > 2 && k->in[2] ? k->in[2]->data : NULL;
    float *y = k->out[0]->data;
    float *mean_out = k->nout > 1 && k->out[1] ? k->out[1]->data : NULL;
    float *istd_out = k->nout > 2 && k->out[2] ? k->out[2]->data : NULL;
    int64_t rows = s->rows, n = s->n;
    int threads = k->env->threads;
#pragma omp parallel for num_threads(threads) if (rows * n > PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float sum = 0.f;
        for (int64_t i = 0; i < n; i++) sum += xr[i];
        float mean = n ? sum / (float)n : 0.f, var = 0.f;
        for (int64_t i = 0; i < n; i++) {
            float d = xr[i] - mean;
            var += d * d;
        }
        var = n ? var / (float)n : 0.f;
        float istd = 1.f / sqrtf(var + s->eps);
        if (!s->scale_scalar && b && !s->bias_scalar) {
            for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mean) * istd * sc[i] + b[i];
        } else {
            for (int64_t i = 0; i < n; i++) {
                float v = (xr[i] - mean) * istd * sc[s->scale_scalar ? 0 : i];
                yr[i] = b ? v + b[s->bias_scalar ? 0 : i] : v;
            }
        }
        if (mean_out) mean_out[r] = mean;
        if (istd_out) istd_out[r] = istd;
    }
    return DI_OK;
}

/* ---- BatchNormalization (inference), InstanceNormalization ---- */

static int batchnorm_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (di_nn_attr_int(n, "training_mode", 0) != 0) return di_nn_unsupported(err, n, "training_mode=1");
    if (n->nout > 1) return di_nn_unsupported(err, n, "training outputs (running mean/var)");
    return DI_OK;
}

typedef struct chan_state {
    int64_t n, c, inner;
    float *mul, *add; /* BatchNormalization: y = x * mul[c] + add[c] */
} chan_state;

static void chan_release(void *p)
{
    chan_state *s = p;
    if (!s) return;
    free(s->mul);
    free(s->add);
    free(s);
}

static int chan_shape(di_nn_kctx *k, chan_state **out, di_error *err)
{
    int rc = float_only(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    if (x->ndim < 2) return di_nn_shape_error(err, k->node, "input of rank %d (at least N, C)", x->ndim);
    chan_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->inner = 1;
    for (int d = 2; d < x->ndim; d++) s->inner *= x->dims[d];
    for (int i = 1; i < k->nin; i++)
        if (k->in[i] && di_nn_numel(k->in[i]) != s->c) {
            free(s);
            return di_nn_shape_error(err, k->node, "input %d has %lld values for %lld channels", i, (long long)di_nn_numel(k->in[i]), (long long)x->dims[1]);
        }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    *out = s;
    return DI_OK;
}

static int batchnorm_prepare(di_nn_kctx *k, di_error *err)
{
    chan_state *s;
    int rc = chan_shape(k, &s, err);
    if (rc) return rc;
    s->mul = malloc((size_t)(s->c + 1) * sizeof(float));
    s->add = malloc((size_t)(s->c + 1) * sizeof(float));
    if (!s->mul || !s->add) {
        chan_release(s);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    k->state = s;
    return DI_OK;
}

static int batchnorm_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    chan_state *s = k->state;
    const float *x = k->in[0]->data, *sc = k->in[1]->data, *b = k->in[2]->data;
    const float *mean = k->in[3]->data, *var = k->in[4]->data;
    float eps = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    for (int64_t c = 0; c < s->c; c++) {
        s->mul[c] = sc[c] / sqrtf(var[c] + eps);
        s->add[c] = b[c] - mean[c] * s->mul[c];
    }
    float *y = k->out[0]->data;
    int64_t inner = s->inner;
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t c = 0; c < s->c; c++) {
            const float *xr = x + (n * s->c + c) * inner;
            float *yr = y + (n * s->c + c) * inner;
            float m = s->mul[c], a = s->add[c];
            for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * m + a;
        }
    return DI_OK;
}

static int instnorm_prepare(di_nn_kctx *k, di_error *err)
{
    chan_state *s;
    int rc = chan_shape(k, &s, err);
    if (rc) return rc;
    k->state = s;
    return DI_OK;
}

static int instnorm_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const chan_state *s = k->state;
    const float *x = k->in[0]->data, *sc = k->in[1]->data, *b = k->in[2]->data;
    float eps = di_nn_attr_float(k->node, "epsilon", 1e-5f);
    float *y = k->out[0]->data;
    int64_t inner = s->inner;
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t c = 0; c < s->c; c++) {
            const float *xr = x + (n * s->c + c) * inner;
            float *yr = y + (n * s->c + c) * inner;
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < inner; i++) sum += xr[i];
            float mean = inner ? (float)(sum / (double)inner) : 0.f;
            for (int64_t i = 0; i < inner; i++) sq += (double)(xr[i] - mean) * (double)(xr[i] - mean);
            float istd = 1.f / sqrtf((float)(inner ? sq / (double)inner : 0) + eps);
            for (int64_t i = 0; i < inner; i++) yr[i] = (xr[i] - mean) * istd * sc[c] + b[c];
        }
    return DI_OK;
}

const di_nn_op di_op_Softmax = {.name = "Softmax", .min_in = 1, .max_in = 1, .prepare = softmax_prepare, .run = softmax_run, .release = free};
const di_nn_op di_op_LogSoftmax = {.name = "LogSoftmax", .min_in = 1, .max_in = 1, .prepare = softmax_prepare, .run = softmax_run, .release = free};
const di_nn_op di_op_LayerNormalization = {.name = "LayerNormalization", .min_in = 2, .max_in = 3, .check = layernorm_check, .prepare = layernorm_prepare, .run = layernorm_run, .release = free};
const di_nn_op di_op_BatchNormalization = {.name = "BatchNormalization", .min_in = 5, .max_in = 5, .check = batchnorm_check, .prepare = batchnorm_prepare, .run = batchnorm_run, .release = chan_release};
const di_nn_op di_op_InstanceNormalization = {.name = "InstanceNormalization", .min_in = 3, .max_in = 3, .prepare = instnorm_prepare, .run = instnorm_run, .release = chan_release};

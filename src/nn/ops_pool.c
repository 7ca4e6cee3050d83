/*
** ops_pool.c: MaxPool, AveragePool (1-D to 3-D windows; pads, strides,
** dilations, auto_pad, ceil_mode, count_include_pad), GlobalAveragePool and
** GlobalMaxPool on float32, plain C over N x C x spatial.
**
** Output sizes follow the ONNX reference: floor or ceil of
** (in + pads - dilated kernel) / stride + 1; with ceil_mode a window that
** would start past the end of the padded input is dropped. AveragePool's
** divisor counts the padded input (count_include_pad=1) or only the real
** elements; windows that reach past the padding (ceil_mode) count neither.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

#define MAXS 3

typedef struct pool_state {
    int ns; /* spatial rank */
    int64_t n, c, in[MAXS], out[MAXS], k[MAXS], st[MAXS], dl[MAXS], pb[MAXS], pe[MAXS];
    bool max, include_pad;
} pool_state;

static int pool_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    const di_nn_attr *ks = di_nn_node_attr(n, "kernel_shape");
    if (!ks) return di_nn_unsupported(err, n, "a missing kernel_shape");
    if (ks->n < 1 || ks->n > MAXS) return di_nn_unsupported(err, n, "a %d-D window", ks->n);
    if (n->nout > 1 && n->out[1] >= 0) return di_nn_unsupported(err, n, "the Indices output");
    if (di_nn_attr_int(n, "storage_order", 0) != 0) return di_nn_unsupported(err, n, "storage_order=1");
    return DI_OK;
}

static int attr_list(const di_nn_node *n, const char *name, int cnt, int64_t *v, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    for (int i = 0; i < cnt; i++) v[i] = dflt;
    if (!a) return DI_OK;
    if (a->n != cnt) return -1;
    for (int i = 0; i < cnt; i++) v[i] = a->ints[i];
    return DI_OK;
}

static int pool_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT) return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    const di_nn_attr *ks = di_nn_node_attr(n, "kernel_shape");
    int ns = ks->n;
    if (x->ndim != ns + 2) return di_nn_shape_error(err, n, "a %d-D window on a rank-%d input", ns, x->ndim);
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->ns = ns;
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->max = !strcmp(n->op_type, "MaxPool");
    s->include_pad = di_nn_attr_int(n, "count_include_pad", 0) != 0;
    int64_t pads[2 * MAXS];
    if (attr_list(n, "strides", ns, s->st, 1) || attr_list(n, "dilations", ns, s->dl, 1) || attr_list(n, "pads", 2 * ns, pads, 0)) {
        free(s);
        return di_nn_shape_error(err, n, "strides, dilations or pads of the wrong length");
    }
    bool ceil_mode = di_nn_attr_int(n, "ceil_mode", 0) != 0;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    int64_t od[DI_NN_MAX_DIMS] = {s->n, s->c};
    for (int i = 0; i < ns; i++) {
        s->in[i] = x->dims[2 + i];
        s->k[i] = ks->ints[i];
        if (s->k[i] < 1 || s->st[i] < 1 || s->dl[i] < 1) {
            free(s);
            return di_nn_shape_error(err, n, "kernel, strides and dilations must be positive");
        }
        int64_t ek = (s->k[i] - 1) * s->dl[i] + 1, o;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            o = (s->in[i] + s->st[i] - 1) / s->st[i];
            int64_t total = (o - 1) * s->st[i] + ek - s->in[i];
            if (total < 0) total = 0;
            s->pb[i] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            s->pe[i] = total - s->pb[i];
        } else {
            if (!strcmp(ap, "VALID")) pads[i] = pads[i + ns] = 0;
            s->pb[i] = pads[i];
            s->pe[i] = pads[i + ns];
            int64_t span = s->in[i] + s->pb[i] + s->pe[i] - ek;
            if (span < 0 || s->pb[i] < 0 || s->pe[i] < 0) {
                free(s);
                return di_nn_shape_error(err, n, "the window does not fit the input");
            }
            o = (ceil_mode ? (span + s->st[i] - 1) / s->st[i] : span / s->st[i]) + 1;
            if (ceil_mode && (o - 1) * s->st[i] >= s->in[i] + s->pb[i]) o--;
        }
        s->out[i] = o;
        od[2 + i] = o;
    }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, ns + 2, od);
    k->state = s;
    return DI_OK;
}

static int pool_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const pool_state *s = k->state;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    int64_t in[MAXS] = {1, 1, 1}, out[MAXS] = {1, 1, 1}, kk[MAXS] = {1, 1, 1}, st[MAXS] = {1, 1, 1};
    int64_t dl[MAXS] = {1, 1, 1}, pb[MAXS] = {0, 0, 0}, pe[MAXS] = {0, 0, 0};
    /* align to 3 spatial axes: missing leading ones are size 1 */
    int sh = MAXS - s->ns;
    for (int i = 0; i < s->ns; i++) {
        in[sh + i] = s->in[i];
        out[sh + i] = s->out[i];
        kk[sh + i] = s->k[i];
        st[sh + i] = s->st[i];
        dl[sh + i] = s->dl[i];
        pb[sh + i] = s->pb[i];
        pe[sh + i] = s->pe[i];
    }
    int64_t isz = in[0] * in[1] * in[2], osz = out[0] * out[1] * out[2];
    int64_t planes = s->n * s->c;
    int threads = k->env->threads;
#pragma omp parallel for num_threads(threads) if (planes * osz > 16384) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * isz;
        float *yp = y + p * osz;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++) {
                    int64_t b0 = o0 * st[0] - pb[0], b1 = o1 * st[1] - pb[1], b2 = o2 * st[2] - pb[2];
                    float acc = s->max ? -INFINITY : 0.f;
                    int64_t cnt = 0, padded = 0;
                    for (int64_t i0 = 0; i0 < kk[0]; i0++) {
                        int64_t z = b0 + i0 * dl[0];
                        if (z >= in[0] + pe[0]) break;
                        bool vz = z >= 0 && z < in[0];
                        for (int64_t i1 = 0; i1 < kk[1]; i1++) {
                            int64_t yy = b1 + i1 * dl[1];
                            if (yy >= in[1] + pe[1]) break;
                            bool vy = vz && yy >= 0 && yy < in[1];
                            for (int64_t i2 = 0; i2 < kk[2]; i2++) {
                                int64_t xx = b2 + i2 * dl[2];
                                if (xx >= in[2] + pe[2]) break;
                                padded++;
                                if (!vy || xx < 0 || xx >= in[2]) continue;
                                float v = xp[(z * in[1] + yy) * in[2] + xx];
                                if (s->max) acc = v > acc || v != v ? v : acc;
                                else acc += v;
                                cnt++;
                            }
                        }
                    }
                    int64_t div = s->include_pad ? padded : cnt;
                    yp[(o0 * out[1] + o1) * out[2] + o2] = s->max ? acc : div ? acc / (float)div : 0.f;
                }
    }
    return DI_OK;
}

/* ---- GlobalAveragePool, GlobalMaxPool ---- */

static int global_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim < 2) return di_nn_shape_error(err, k->node, "input of rank %d (at least N, C)", x->ndim);
    int64_t od[DI_NN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) od[d] = d < 2 ? x->dims[d] : 1;
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, od);
    return DI_OK;
}

static int global_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    bool max = !strcmp(k->node->op_type, "GlobalMaxPool");
    int64_t planes = x->dims[0] * x->dims[1], inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->dims[d];
    const float *xs = x->data;
    float *y = k->out[0]->data;
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = xs + p * inner;
        if (max) {
            float m = -INFINITY;
            for (int64_t i = 0; i < inner; i++) m = xp[i] > m || xp[i] != xp[i] ? xp[i] : m;
            y[p] = m;
        } else {
            double sum = 0;
            for (int64_t i = 0; i < inner; i++) sum += xp[i];
            y[p] = inner ? (float)(sum / (double)inner) : NAN;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_MaxPool = {.name = "MaxPool", .min_in = 1, .max_in = 1, .check = pool_check, .prepare = pool_prepare, .run = pool_run, .release = free};
const di_nn_op di_op_AveragePool = {.name = "AveragePool", .min_in = 1, .max_in = 1, .check = pool_check, .prepare = pool_prepare, .run = pool_run, .release = free};
const di_nn_op di_op_GlobalAveragePool = {.name = "GlobalAveragePool", .min_in = 1, .max_in = 1, .prepare = global_prepare, .run = global_run};
const di_nn_op di_op_GlobalMaxPool = {.name = "GlobalMaxPool", .min_in = 1, .max_in = 1, .prepare = global_prepare, .run = global_run};

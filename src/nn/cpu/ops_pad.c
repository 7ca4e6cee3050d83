/*
** ops_pad.c: ops that make a new or a larger tensor, in plain C on plain data:
** Range, Pad (constant, reflect, edge), Tile. Their shapes (and Pad's
** params) are their infer's (infer_pad.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

/* ---- Range ---- */

static int range_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t n = k->out[0]->dims[0];
    int dt = k->out[0]->dtype;
    for (int64_t i = 0; i < n; i++) {
        if (dt == DI_DT_INT64)
            ((int64_t *)k->out[0]->data)[i] =
                *(const int64_t *)k->in[0]->data + i * *(const int64_t *)k->in[2]->data;
        else if (dt == DI_DT_INT32)
            ((int32_t *)k->out[0]->data)[i] =
                (int32_t)(*(const int32_t *)k->in[0]->data + i * *(const int32_t *)k->in[2]->data);
        else if (dt == DI_DT_FLOAT)
            ((float *)k->out[0]->data)[i] =
                *(const float *)k->in[0]->data + (float)i * *(const float *)k->in[2]->data;
        else
            ((double *)k->out[0]->data)[i] =
                *(const double *)k->in[0]->data + (double)i * *(const double *)k->in[2]->data;
    }
    return DI_OK;
}

const di_nn_op di_op_Range = {
    .name = "Range", .min_in = 3, .max_in = 3, .infer = di_nn_infer_range, .run = range_run};

/* ---- Pad ---- */

static int pad_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *m = di_nn_attr_string(n, "mode", "constant");
    if (strcmp(m, "constant") && strcmp(m, "reflect") && strcmp(m, "edge"))
        return di_nn_unsupported(err, n, "mode=%s", m);
    return DI_OK;
}

static int pad_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_pad_params *s = k->params;
    const di_nn_tensor *x = k->in[0], *y = k->out[0];
    size_t es = di_dtype_size(x->dtype);
    int64_t total = di_nn_numel(y), idx[DI_NN_MAX_DIMS] = {0}, st[DI_NN_MAX_DIMS];
    di_nn_contiguous_strides(s->nd, x->dims, st);
    uint8_t zero[8] = {0};
    const void *cv = k->nin > 2 && k->in[2] ? k->in[2]->data : zero;
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        bool outside = false;
        for (int d = 0; d < s->nd; d++) {
            int64_t c = idx[d] - s->begin[d], n = x->dims[d];
            if (c < 0 || c >= n) {
                if (s->mode == 0)
                    outside = true;
                else if (s->mode == 2)
                    c = c < 0 ? 0 : n - 1;
                else {
                    int64_t period = 2 * (n - 1);
                    if (period == 0)
                        c = 0;
                    else {
                        c = ((c % period) + period) % period;
                        if (c >= n)
                            c = period - c;
                    }
                }
            }
            off += c * st[d];
        }
        memcpy((uint8_t *)y->data + (size_t)i * es,
               outside ? cv : (const uint8_t *)x->data + (size_t)off * es, es);
        for (int d = s->nd - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Pad = {.name = "Pad",
                            .min_in = 2,
                            .max_in = 4,
                            .check = pad_check,
                            .infer = di_nn_infer_pad,
                            .params_size = sizeof(di_nn_pad_params),
                            .run = pad_run};

/* ---- Tile ---- */

static int tile_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0], *y = k->out[0];
    size_t es = di_dtype_size(x->dtype);
    int64_t total = di_nn_numel(y), idx[DI_NN_MAX_DIMS] = {0}, st[DI_NN_MAX_DIMS];
    di_nn_contiguous_strides(x->ndim, x->dims, st);
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++)
            off += (idx[d] % x->dims[d]) * st[d];
        memcpy((uint8_t *)y->data + (size_t)i * es, (const uint8_t *)x->data + (size_t)off * es,
               es);
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Tile = {
    .name = "Tile", .min_in = 2, .max_in = 2, .infer = di_nn_infer_tile, .run = tile_run};

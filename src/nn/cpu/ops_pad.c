/*
** ops_pad.c: ops that make a new or a larger tensor, in plain C on plain data:
** Range, Pad (constant, reflect, edge), Tile. Range's and Tile's shapes are
** their infer's (infer_pad.c).
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

typedef struct pad_state {
    int nd, mode; /* 0 constant, 1 reflect, 2 edge */
    int64_t begin[DI_NN_MAX_DIMS];
} pad_state;

static int pad_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *m = di_nn_attr_string(n, "mode", "constant");
    if (strcmp(m, "constant") && strcmp(m, "reflect") && strcmp(m, "edge"))
        return di_nn_unsupported(err, n, "mode=%s", m);
    return DI_OK;
}

static int pad_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    int rc = di_nn_any_type(k, err);
    if (rc)
        return rc;
    int nd = x->ndim, np, na = 0;
    int64_t pads[2 * DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS];
    if (di_nn_const_ints(k->in[1], pads, 2 * DI_NN_MAX_DIMS, &np))
        return di_nn_unsupported(err, k->node, "pads that are not a constant integer tensor");
    if (k->nin > 3 && k->in[3] && di_nn_const_ints(k->in[3], axes, DI_NN_MAX_DIMS, &na))
        return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    if (k->nin > 2 && k->in[2] && (k->in[2]->dtype != x->dtype || di_nn_numel(k->in[2]) != 1))
        return di_nn_shape_error(err, k->node,
                                 "constant_value must be one value of the input's type");
    if (!na) {
        na = nd;
        for (int i = 0; i < nd; i++)
            axes[i] = i;
    }
    if (np != 2 * na)
        return di_nn_shape_error(err, k->node, "%d pads for %d axes", np, na);
    pad_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    const char *m = di_nn_attr_string(k->node, "mode", "constant");
    s->mode = !strcmp(m, "reflect") ? 1 : !strcmp(m, "edge") ? 2 : 0;
    s->nd = nd;
    int64_t od[DI_NN_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 0 || a >= nd) {
            free(s);
            return di_nn_shape_error(err, k->node, "axis out of range");
        }
        s->begin[a] = pads[i];
        if (pads[i] < -((int64_t)1 << 40) || pads[i] > ((int64_t)1 << 40) ||
            pads[i + na] < -((int64_t)1 << 40) || pads[i + na] > ((int64_t)1 << 40)) {
            free(s);
            return di_nn_shape_error(err, k->node, "absurd pads");
        }
        od[a] = x->dims[a] + pads[i] + pads[i + na];
        if (od[a] < 0 ||
            (s->mode && (x->dims[a] == 0 ||
                         (s->mode == 1 && (pads[i] >= x->dims[a] || pads[i + na] >= x->dims[a]) &&
                          (pads[i] > 0 || pads[i + na] > 0))))) {
            free(s);
            return di_nn_shape_error(err, k->node, "pads do not fit dimension %lld", (long long)a);
        }
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    k->state = s;
    return DI_OK;
}

static int pad_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const pad_state *s = k->state;
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
                            .prepare = pad_prepare,
                            .run = pad_run,
                            .release = free};

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

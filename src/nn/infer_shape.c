/*
** infer_shape.c: the backend-neutral infer step (op.h) of the views, the
** ops that change only the shape (Squeeze, Unsqueeze, Reshape, Flatten,
** Identity): axes from the input (a constant) or the attribute, the output
** shape. Every backend runs them as a copy, or not at all.
*/
#include <stdlib.h>
#include <string.h>

#include "op.h"

static int dtype_ok(const di_nn_kctx *k, di_error *err)
{
    if (!di_dtype_size(k->in[0]->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return DI_OK;
}

/* Axes from the input (opset 13+) or the attribute; negative ones wrapped. */
static int get_axes(const di_nn_kctx *k, int rank, int64_t *axes, int *n, di_error *err)
{
    *n = 0;
    if (k->nin > 1 && k->in[1]) {
        if (di_nn_const_ints(k->in[1], axes, DI_NN_MAX_DIMS, n))
            return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    } else {
        const di_nn_attr *a = di_nn_node_attr(k->node, "axes");
        if (a) {
            if (a->n > DI_NN_MAX_DIMS)
                return di_nn_shape_error(err, k->node, "too many axes");
            for (int i = 0; i < a->n; i++)
                axes[i] = a->ints[i];
            *n = a->n;
        }
    }
    for (int i = 0; i < *n; i++) {
        if (axes[i] < -rank || axes[i] >= rank)
            return di_nn_shape_error(err, k->node, "axis %lld is out of range for rank %d",
                                     (long long)axes[i], rank);
        if (axes[i] < 0)
            axes[i] += rank;
        for (int j = 0; j < i; j++)
            if (axes[j] == axes[i])
                return di_nn_shape_error(err, k->node, "axis %lld given twice", (long long)axes[i]);
    }
    return DI_OK;
}

int di_nn_infer_squeeze(di_nn_kctx *k, di_error *err)
{
    int rc = dtype_ok(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t axes[DI_NN_MAX_DIMS], od[DI_NN_MAX_DIMS];
    int na;
    if ((rc = get_axes(k, x->ndim, axes, &na, err)))
        return rc;
    bool drop[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        if (x->dims[axes[i]] != 1)
            return di_nn_shape_error(err, k->node, "cannot squeeze axis %lld of size %lld",
                                     (long long)axes[i], (long long)x->dims[axes[i]]);
        drop[axes[i]] = true;
    }
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!(na ? drop[i] : x->dims[i] == 1))
            od[nd++] = x->dims[i];
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    return DI_OK;
}

int di_nn_infer_unsqueeze(di_nn_kctx *k, di_error *err)
{
    int rc = dtype_ok(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t axes[DI_NN_MAX_DIMS], od[DI_NN_MAX_DIMS];
    int na;
    /* axes index the output, whose rank is ndim + na */
    if (k->nin > 1 && k->in[1]) {
        if (di_nn_const_ints(k->in[1], axes, DI_NN_MAX_DIMS, &na))
            return di_nn_unsupported(err, k->node, "axes that are not a constant integer tensor");
    } else {
        const di_nn_attr *a = di_nn_node_attr(k->node, "axes");
        na = a ? a->n : 0;
        if (na > DI_NN_MAX_DIMS)
            return di_nn_shape_error(err, k->node, "too many axes");
        for (int i = 0; i < na; i++)
            axes[i] = a->ints[i];
    }
    int rank = x->ndim + na;
    if (rank > DI_NN_MAX_DIMS)
        return di_nn_unsupported(err, k->node, "a result of rank %d", rank);
    bool ins[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank || ins[a])
            return di_nn_shape_error(err, k->node, "bad or repeated axis %lld", (long long)axes[i]);
        ins[a] = true;
    }
    for (int i = 0, j = 0; i < rank; i++)
        od[i] = ins[i] ? 1 : x->dims[j++];
    di_nn_set_shape(k->out[0], x->dtype, rank, od);
    return DI_OK;
}

int di_nn_infer_reshape(di_nn_kctx *k, di_error *err)
{
    int rc = dtype_ok(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t sh[DI_NN_MAX_DIMS];
    int nd;
    if (di_nn_const_ints(k->in[1], sh, DI_NN_MAX_DIMS, &nd))
        return di_nn_unsupported(err, k->node,
                                 "a shape that is not a constant integer tensor of rank <= 8");
    bool allowzero = di_nn_attr_int(k->node, "allowzero", 0) != 0;
    int64_t known = 1, total = di_nn_numel(x);
    int infer = -1;
    for (int i = 0; i < nd; i++) {
        if (sh[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return di_nn_shape_error(err, k->node,
                                         "0 at axis %d copies a dimension the input lacks", i);
            sh[i] = x->dims[i];
        }
        if (sh[i] == -1) {
            if (infer >= 0)
                return di_nn_shape_error(err, k->node, "more than one -1 in the shape");
            infer = i;
            continue;
        }
        if (sh[i] < 0)
            return di_nn_shape_error(err, k->node, "negative dimension %lld", (long long)sh[i]);
        if (__builtin_mul_overflow(known, sh[i], &known))
            return di_nn_shape_error(err, k->node, "the shape's product overflows");
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return di_nn_shape_error(err, k->node, "cannot reshape %lld elements",
                                     (long long)total);
        sh[infer] = total / known;
        known *= sh[infer];
    }
    if (known != total)
        return di_nn_shape_error(err, k->node, "cannot reshape %lld elements into %lld",
                                 (long long)total, (long long)known);
    di_nn_set_shape(k->out[0], x->dtype, nd, sh);
    return DI_OK;
}

int di_nn_infer_flatten(di_nn_kctx *k, di_error *err)
{
    int rc = dtype_ok(k, err);
    if (rc)
        return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t axis = di_nn_attr_int(k->node, "axis", 1);
    if (axis < -x->ndim || axis > x->ndim)
        return di_nn_shape_error(err, k->node, "axis %lld out of range", (long long)axis);
    if (axis < 0)
        axis += x->ndim;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++)
        d[i >= axis] *= x->dims[i];
    di_nn_set_shape(k->out[0], x->dtype, 2, d);
    return DI_OK;
}

int di_nn_infer_identity(di_nn_kctx *k, di_error *err)
{
    int rc = dtype_ok(k, err);
    if (rc)
        return rc;
    di_nn_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->ndim, k->in[0]->dims);
    return DI_OK;
}

/* axes moved from an attribute to an input at opset 13 */

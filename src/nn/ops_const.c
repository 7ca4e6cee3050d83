/*
** ops_const.c: ops that make tensors from attributes, shapes and scalars:
** Constant, ConstantOfShape, Shape, Size, Range, Cast.
**
** In exported models these nearly always fold into constants when the plan
** is built (Shape has DI_OP_SHAPE_ONLY; the others have constant inputs), so
** they are plain C without any care for speed, except Cast.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

/* ---- Constant ---- */

static int constant_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (n->nattr != 1) return di_nn_unsupported(err, n, "%d attributes (exactly one of value, value_float(s), value_int(s))", n->nattr);
    const di_nn_attr *a = &n->attrs[0];
    if (!strcmp(a->name, "value")) {
        if (!a->t_data && di_shape_numel(a->t_ndim, a->t_dims) != 0) return di_nn_unsupported(err, n, "a value tensor without data");
        if (!di_dtype_size(a->t_dtype)) return di_nn_unsupported(err, n, "element type %s", di_dtype_name(a->t_dtype));
        return DI_OK;
    }
    if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_floats") || !strcmp(a->name, "value_int") ||
        !strcmp(a->name, "value_ints"))
        return DI_OK;
    return di_nn_unsupported(err, n, "attribute %s", a->name);
}

static int constant_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = &k->node->attrs[0];
    di_nn_tensor *y = k->out[0];
    int64_t d = a->n;
    if (!strcmp(a->name, "value")) di_nn_set_shape(y, a->t_dtype, a->t_ndim, a->t_dims);
    else if (!strcmp(a->name, "value_float")) di_nn_set_shape(y, DI_DT_FLOAT, 0, NULL);
    else if (!strcmp(a->name, "value_int")) di_nn_set_shape(y, DI_DT_INT64, 0, NULL);
    else if (!strcmp(a->name, "value_floats")) di_nn_set_shape(y, DI_DT_FLOAT, 1, &d);
    else di_nn_set_shape(y, DI_DT_INT64, 1, &d);
    return DI_OK;
}

static int constant_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = &k->node->attrs[0];
    void *y = k->out[0]->data;
    if (!strcmp(a->name, "value")) {
        size_t bytes = (size_t)di_shape_numel(a->t_ndim, a->t_dims) * di_dtype_size(a->t_dtype);
        if (bytes) memcpy(y, a->t_data, bytes);
    } else if (!strcmp(a->name, "value_float")) {
        *(float *)y = a->f;
    } else if (!strcmp(a->name, "value_int")) {
        *(int64_t *)y = a->i;
    } else if (!strcmp(a->name, "value_floats")) {
        if (a->n) memcpy(y, a->floats, (size_t)a->n * sizeof(float));
    } else if (a->n) {
        memcpy(y, a->ints, (size_t)a->n * sizeof(int64_t));
    }
    return DI_OK;
}

/* ---- ConstantOfShape ---- */

static int cos_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const di_nn_attr *a = di_nn_node_attr(n, "value");
    if (a && (di_shape_numel(a->t_ndim, a->t_dims) != 1 || !a->t_data || !di_dtype_size(a->t_dtype)))
        return di_nn_unsupported(err, n, "a value that is not one element of a supported type");
    return DI_OK;
}

static int cos_prepare(di_nn_kctx *k, di_error *err)
{
    int64_t dims[DI_NN_MAX_DIMS];
    int nd;
    if (di_nn_const_ints(k->in[0], dims, DI_NN_MAX_DIMS, &nd)) return di_nn_unsupported(err, k->node, "a shape that is not a constant integer tensor of at most 8 values");
    for (int i = 0; i < nd; i++)
        if (dims[i] < 0) return di_nn_shape_error(err, k->node, "negative dimension %lld", (long long)dims[i]);
    const di_nn_attr *a = di_nn_node_attr(k->node, "value");
    di_nn_set_shape(k->out[0], a ? a->t_dtype : DI_DT_FLOAT, nd, dims);
    return DI_OK;
}

static int cos_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_attr *a = di_nn_node_attr(k->node, "value");
    di_nn_tensor *y = k->out[0];
    size_t es = di_dtype_size(y->dtype), n = (size_t)di_nn_numel(y);
    uint8_t *p = y->data;
    if (!a) {
        memset(p, 0, n * es);
        return DI_OK;
    }
    for (size_t i = 0; i < n; i++) memcpy(p + i * es, a->t_data, es);
    return DI_OK;
}

/* ---- Shape, Size ---- */

static int shape_range(const di_nn_kctx *k, int64_t *from, int64_t *to)
{
    int nd = k->in[0]->ndim;
    int64_t s = di_nn_attr_int(k->node, "start", 0), e = di_nn_attr_int(k->node, "end", nd);
    if (s < 0) s += nd;
    if (e < 0) e += nd;
    s = s < 0 ? 0 : s > nd ? nd : s;
    e = e < 0 ? 0 : e > nd ? nd : e;
    *from = s;
    *to = e > s ? e : s;
    return DI_OK;
}

static int shape_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t s, e;
    shape_range(k, &s, &e);
    int64_t d = e - s;
    di_nn_set_shape(k->out[0], DI_DT_INT64, 1, &d);
    return DI_OK;
}

static int shape_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int64_t s, e;
    shape_range(k, &s, &e);
    int64_t *y = k->out[0]->data;
    for (int64_t i = s; i < e; i++) y[i - s] = k->in[0]->dims[i];
    return DI_OK;
}

static int size_prepare(di_nn_kctx *k, di_error *err)
{
    (void)err;
    di_nn_set_shape(k->out[0], DI_DT_INT64, 0, NULL);
    return DI_OK;
}

static int size_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    *(int64_t *)k->out[0]->data = di_nn_numel(k->in[0]);
    return DI_OK;
}

/* ---- Range ---- */

static double scalar_at(const di_nn_tensor *t)
{
    switch (t->dtype) {
    case DI_DT_FLOAT: return *(const float *)t->data;
    case DI_DT_DOUBLE: return *(const double *)t->data;
    case DI_DT_INT32: return *(const int32_t *)t->data;
    default: return (double)*(const int64_t *)t->data;
    }
}

static int range_prepare(di_nn_kctx *k, di_error *err)
{
    int dt = k->in[0]->dtype;
    for (int i = 0; i < 3; i++) {
        const di_nn_tensor *t = k->in[i];
        if (t->dtype != dt) return di_nn_shape_error(err, k->node, "inputs of different element types");
        if (di_nn_numel(t) != 1) return di_nn_shape_error(err, k->node, "input %d is not a scalar", i);
        if (!t->is_const) return di_nn_unsupported(err, k->node, "inputs that are not constants");
    }
    if (dt != DI_DT_FLOAT && dt != DI_DT_DOUBLE && dt != DI_DT_INT32 && dt != DI_DT_INT64)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(dt));
    int64_t n;
    if (dt == DI_DT_INT64 || dt == DI_DT_INT32) {
        int64_t s = dt == DI_DT_INT64 ? *(const int64_t *)k->in[0]->data : *(const int32_t *)k->in[0]->data;
        int64_t l = dt == DI_DT_INT64 ? *(const int64_t *)k->in[1]->data : *(const int32_t *)k->in[1]->data;
        int64_t d = dt == DI_DT_INT64 ? *(const int64_t *)k->in[2]->data : *(const int32_t *)k->in[2]->data;
        if (d == 0) return di_nn_shape_error(err, k->node, "delta is 0");
        double c = ceil(((double)l - (double)s) / (double)d);
        n = c > 0 ? (int64_t)c : 0;
    } else {
        double s = scalar_at(k->in[0]), l = scalar_at(k->in[1]), d = scalar_at(k->in[2]);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d)) return di_nn_shape_error(err, k->node, "delta 0 or a bound that is not finite");
        double c = ceil((l - s) / d);
        n = c > 0 ? (int64_t)c : 0;
    }
    if (n > ((int64_t)1 << 31)) return di_nn_shape_error(err, k->node, "%lld elements", (long long)n);
    di_nn_set_shape(k->out[0], dt, 1, &n);
    return DI_OK;
}

static int range_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    di_nn_tensor *y = k->out[0];
    int64_t n = y->dims[0];
    switch (y->dtype) {
    case DI_DT_FLOAT: {
        float s = *(const float *)k->in[0]->data, d = *(const float *)k->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = s + (float)i * d;
        break;
    }
    case DI_DT_DOUBLE: {
        double s = *(const double *)k->in[0]->data, d = *(const double *)k->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((double *)y->data)[i] = s + (double)i * d;
        break;
    }
    case DI_DT_INT32: {
        int32_t s = *(const int32_t *)k->in[0]->data, d = *(const int32_t *)k->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((int32_t *)y->data)[i] = (int32_t)(s + i * d);
        break;
    }
    default: {
        int64_t s = *(const int64_t *)k->in[0]->data, d = *(const int64_t *)k->in[2]->data;
        for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = s + i * d;
        break;
    }
    }
    return DI_OK;
}

/* ---- Cast ---- */

static bool cast_type_ok(int64_t t)
{
    return t == DI_DT_FLOAT || t == DI_DT_DOUBLE || t == DI_DT_INT64 || t == DI_DT_INT32 || t == DI_DT_INT8 ||
           t == DI_DT_UINT8 || t == DI_DT_BOOL;
}

static int cast_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const di_nn_attr *a = di_nn_node_attr(n, "to");
    if (!a) return di_nn_unsupported(err, n, "a missing 'to' attribute");
    if (!cast_type_ok(a->i)) return di_nn_unsupported(err, n, "to=%lld (%s)", (long long)a->i, di_dtype_name((int)a->i));
    return DI_OK;
}

static int cast_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (!cast_type_ok(x->dtype)) return di_nn_unsupported(err, k->node, "input element type %s", di_dtype_name(x->dtype));
    di_nn_set_shape(k->out[0], (int)di_nn_attr_int(k->node, "to", DI_DT_FLOAT), x->ndim, x->dims);
    return DI_OK;
}

/* A floating value into an integer type: truncation toward zero; NaN and
** values out of range (undefined in C) saturate. */
static int64_t f2i(double v, double lo, double hi)
{
    if (v != v) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return (int64_t)hi;
    return (int64_t)v;
}

static int cast_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0];
    di_nn_tensor *y = k->out[0];
    size_t n = (size_t)di_nn_numel(x);
    int from = x->dtype, to = y->dtype;
    if (from == to) {
        memcpy(y->data, x->data, n * di_dtype_size(from));
        return DI_OK;
    }
    if (from == DI_DT_FLOAT && to == DI_DT_INT64) { /* the common shape case, vectorised */
        const float *s = x->data;
        int64_t *d = y->data;
        for (size_t i = 0; i < n; i++) d[i] = f2i(s[i], -9223372036854775808.0, 9223372036854774784.0);
        return DI_OK;
    }
    bool from_float = from == DI_DT_FLOAT || from == DI_DT_DOUBLE;
    for (size_t i = 0; i < n; i++) {
        double fv = 0;
        int64_t iv = 0;
        switch (from) {
        case DI_DT_FLOAT: fv = ((const float *)x->data)[i]; break;
        case DI_DT_DOUBLE: fv = ((const double *)x->data)[i]; break;
        case DI_DT_INT64: iv = ((const int64_t *)x->data)[i]; break;
        case DI_DT_INT32: iv = ((const int32_t *)x->data)[i]; break;
        case DI_DT_INT8: iv = ((const int8_t *)x->data)[i]; break;
        default: iv = ((const uint8_t *)x->data)[i]; break;
        }
        switch (to) {
        case DI_DT_FLOAT: ((float *)y->data)[i] = from_float ? (float)fv : (float)iv; break;
        case DI_DT_DOUBLE: ((double *)y->data)[i] = from_float ? fv : (double)iv; break;
        case DI_DT_INT64: ((int64_t *)y->data)[i] = from_float ? f2i(fv, -9223372036854775808.0, 9223372036854774784.0) : iv; break;
        case DI_DT_INT32: ((int32_t *)y->data)[i] = from_float ? (int32_t)f2i(fv, INT32_MIN, INT32_MAX) : (int32_t)(uint32_t)iv; break;
        case DI_DT_INT8: ((int8_t *)y->data)[i] = from_float ? (int8_t)f2i(fv, INT8_MIN, INT8_MAX) : (int8_t)(uint8_t)iv; break;
        case DI_DT_UINT8: ((uint8_t *)y->data)[i] = from_float ? (uint8_t)f2i(fv, 0, UINT8_MAX) : (uint8_t)iv; break;
        default: ((uint8_t *)y->data)[i] = from_float ? fv != 0 : iv != 0; break;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Constant = {.name = "Constant", .min_in = 0, .max_in = 0, .check = constant_check, .prepare = constant_prepare, .run = constant_run};
const di_nn_op di_op_ConstantOfShape = {.name = "ConstantOfShape", .min_in = 1, .max_in = 1, .check = cos_check, .prepare = cos_prepare, .run = cos_run};
const di_nn_op di_op_Shape = {.name = "Shape", .min_in = 1, .max_in = 1, .flags = DI_OP_SHAPE_ONLY | DI_OP_BLOCKED_OK, .prepare = shape_prepare, .run = shape_run};
const di_nn_op di_op_Size = {.name = "Size", .min_in = 1, .max_in = 1, .flags = DI_OP_SHAPE_ONLY | DI_OP_BLOCKED_OK, .prepare = size_prepare, .run = size_run};
const di_nn_op di_op_Range = {.name = "Range", .min_in = 3, .max_in = 3, .prepare = range_prepare, .run = range_run};
const di_nn_op di_op_Cast = {.name = "Cast", .min_in = 1, .max_in = 1, .check = cast_check, .prepare = cast_prepare, .run = cast_run};

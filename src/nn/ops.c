/*
** ops.c: the kernel table and the helpers kernels share.
*/
#include <stdio.h>
#include <string.h>

#include "op.h"

/* clang-format off */
#define OPS(X)                                                              \
    X(Conv) X(Relu) X(Clip) X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Resize)    \
    X(Squeeze) X(Unsqueeze) X(Reshape) X(Flatten) X(Identity) \
    X(Constant) X(Shape) X(ConstantOfShape) X(Sqrt) X(Erf) X(Sigmoid) X(Exp)  \
    X(Log) X(Tanh) X(Neg) X(Abs) X(Reciprocal) X(Gelu) X(LeakyRelu) X(Floor)  \
    X(Ceil) X(Cast) X(Equal) X(Less) X(Greater) X(Where) X(Softmax)           \
    X(LogSoftmax) X(LayerNormalization) X(BatchNormalization) X(ReduceMean)   \
    X(ReduceSum) X(ReduceMax) X(ReduceMin) X(Transpose) X(Slice) X(Expand)     \
    X(Concat) X(Split) X(Gather) X(Range) X(Pad) X(Tile) X(MatMul) X(Gemm) \
    X(MaxPool) X(AveragePool) X(GlobalAveragePool) X(ConvTranspose)     \
    X(HardSigmoid) X(HardSwish) X(Softplus) X(Elu) X(Selu) X(Round) X(Sign)    \
    X(Sin) X(Cos) X(Softsign) X(And) X(Or) X(Xor) X(Not) X(PRelu) X(Max)       \
    X(Min) X(Sum) X(Mean) X(ReduceProd) X(ReduceSumSquare) X(ReduceL1)         \
    X(ReduceL2) X(ReduceLogSum) X(ReduceLogSumExp) X(ArgMax) X(ArgMin)         \
    X(InstanceNormalization) X(DepthToSpace) X(SpaceToDepth) X(Size) X(Dropout) \
    X(CastLike) X(Mod) X(CumSum) X(GatherElements) X(Trilu) X(RoundFloat16)    \
    X(DynamicQuantizeLinear) X(QuantizeLinear) X(DequantizeLinear)             \
    X(MatMulInteger) X(ConvInteger) X(_FusedAttention) X(_MatMulIntegerToFloat) \
    OPS_NNOPS(X)

/* cpu/ops_activ.c */
#define OPS_NNOPS(X)                                                        \
    X(ThresholdedRelu) X(Shrink) X(Mish) X(Tan) X(Asin) X(Acos) X(Atan)     \
    X(Sinh) X(Cosh) X(Asinh) X(Acosh) X(Atanh) X(IsNaN) X(IsInf)

/* clang-format on */

#define DECL(name) extern const di_nn_op di_op_##name;
OPS(DECL)
#undef DECL

static const di_nn_op *const table[] = {
#define ENTRY(name) &di_op_##name,
    OPS(ENTRY)
#undef ENTRY
};

const di_nn_op *di_nn_find_op(const char *op_type)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i]->name, op_type))
            return table[i];
    return NULL;
}

void di_nn_op_names(const char **names, int *count, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0] && n < max; i++)
        names[n++] = table[i]->name;
    *count = n;
}

void di_nn_unary_params_of(const di_nn_node *n, di_nn_unary_params *p)
{
    int kind = n->op ? n->op->unary : DI_U_NONE;
    if (kind == DI_U_GELU && !strcmp(di_nn_attr_string(n, "approximate", "none"), "tanh"))
        kind = DI_U_GELU_TANH;
    p->kind = kind;
    float alpha = 0.01f; /* LeakyRelu */
    if (kind == DI_U_HARDSIGMOID)
        alpha = 0.2f;
    else if (kind == DI_U_ELU)
        alpha = 1.f;
    else if (kind == DI_U_SELU)
        alpha = 1.67326319217681884765625f;
    p->alpha = di_nn_attr_float(n, "alpha", alpha);
    p->beta = di_nn_attr_float(n, "beta", 0.5f);
    p->gamma = di_nn_attr_float(n, "gamma", 1.05070102214813232421875f);
}

void di_nn_contiguous_strides(int nd, const int64_t *dims, int64_t *st)
{
    int64_t r = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = r;
        r *= dims[i];
    }
}

int di_nn_any_type(const di_nn_kctx *k, di_error *err)
{
    if (!di_dtype_size(k->in[0]->dtype))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return DI_OK;
}

int di_nn_attr_ints_exact(const di_nn_node *n, const char *name, int cnt, int64_t *v, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    for (int i = 0; i < cnt; i++)
        v[i] = dflt;
    if (!a)
        return DI_OK;
    if (a->n != cnt)
        return DI_EUNSUPPORTED;
    for (int i = 0; i < cnt; i++)
        v[i] = a->ints[i];
    return DI_OK;
}

int di_nn_step_failv(di_error *err, int code, const char *name, const char *op_type,
                     const char *fmt, va_list ap)
{
    char buf[DI_ERROR_MSG_MAX];
    vsnprintf(buf, sizeof buf, fmt, ap);
    di_fail(err, code, "node '%s' (%s): %s", name, op_type, buf);
    if (err)
        err->named |= DI_NAMED_NODE;
    return code;
}

int di_nn_node_failv(di_error *err, int code, const di_nn_node *n, const char *fmt, va_list ap)
{
    return di_nn_step_failv(err, code, n->name, n->op_type, fmt, ap);
}

int di_nn_node_fail(di_error *err, int code, const di_nn_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    di_nn_node_failv(err, code, n, fmt, ap);
    va_end(ap);
    return code;
}

int di_nn_error_at_node(di_error *err, const di_nn_node *n)
{
    if (!err)
        return DI_EINTERNAL;
    if (!(err->named & DI_NAMED_NODE)) {
        di_error_prefix(err, "node '%s' (%s)", n->name, n->op_type);
        err->named |= DI_NAMED_NODE;
    }
    return err->code;
}

int di_nn_unsupported(di_error *err, const di_nn_node *n, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "%s is not supported", buf);
}

int di_nn_shape_error(di_error *err, const di_nn_node *n, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return di_nn_node_fail(err, DI_ESHAPE, n, "%s", buf);
}

void di_nn_set_shape(di_nn_tensor *t, int dtype, int ndim, const int64_t *dims)
{
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    t->blocked = false;
}

int64_t di_nn_numel(const di_nn_tensor *t)
{
    return di_shape_numel(t->ndim, t->dims);
}

int di_nn_const_ints(const di_nn_tensor *t, int64_t *vals, int max, int *n)
{
    if (!t || !t->is_const || !t->data)
        return DI_EUNSUPPORTED;
    int64_t cnt = di_nn_numel(t);
    if (cnt < 0 || cnt > max)
        return DI_EUNSUPPORTED;
    for (int64_t i = 0; i < cnt; i++) {
        if (t->dtype == DI_DT_INT64)
            vals[i] = ((const int64_t *)t->data)[i];
        else if (t->dtype == DI_DT_INT32)
            vals[i] = ((const int32_t *)t->data)[i];
        else
            return DI_EUNSUPPORTED;
    }
    *n = (int)cnt;
    return DI_OK;
}

int di_nn_broadcast(const di_nn_node *n, const di_nn_tensor *a, const di_nn_tensor *b, int *ndim,
                    int64_t *dims, di_error *err)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return di_nn_shape_error(err, n, "shapes do not broadcast (dimension %d: %lld vs %lld)",
                                     i, (long long)da, (long long)db);
        dims[i] = da == 1 ? db : da;
    }
    *ndim = nd;
    return DI_OK;
}

int di_nn_check_window_attrs(const di_nn_node *n, di_error *err)
{
    static const struct {
        const char *name;
        int64_t lo, hi;
    } lim[] = {
        {"pads", 0, 1 << 20},           {"strides", 1, 1 << 20},
        {"dilations", 1, 1 << 20},      {"kernel_shape", 1, 1 << 20},
        {"output_padding", 0, 1 << 20}, {"output_shape", 1, (int64_t)1 << 31},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        const di_nn_attr *a = di_nn_node_attr(n, lim[i].name);
        if (!a)
            continue;
        if (a->n > 2 * DI_NN_MAX_DIMS)
            return di_nn_shape_error(err, n, "%s has %d values", lim[i].name, a->n);
        for (int j = 0; j < a->n; j++)
            if (a->ints[j] < lim[i].lo || a->ints[j] > lim[i].hi)
                return di_nn_shape_error(err, n, "%s value %lld is out of range", lim[i].name,
                                         (long long)a->ints[j]);
    }
    return DI_OK;
}

bool di_nn_shape_sane(int ndim, const int64_t *dims)
{
    int64_t p = 1;
    if (ndim < 0 || ndim > DI_NN_MAX_DIMS)
        return false;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > ((int64_t)1 << 40))
            return false;
        if (dims[i] > 1 && __builtin_mul_overflow(p, dims[i], &p))
            return false;
        if (p > ((int64_t)1 << 40))
            return false;
    }
    return true;
}

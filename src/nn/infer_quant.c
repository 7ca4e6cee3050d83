/*
** infer_quant.c: the backend-neutral infer step (op.h) of RoundFloat16
** (fp16.c's Cast to float16) and of the integer ops of quantized files
** (quant.c; kernels in cpu/ops_quant.c): the element types they take, their
** output shapes and types, and their decoded attributes (the quantization
** axis, ConvInteger's window).
*/
#include <string.h>

#include "op.h"

static bool is_q8(int dt)
{
    return dt == DI_DT_UINT8 || dt == DI_DT_INT8;
}

int di_nn_infer_round16(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    switch (x->dtype) {
    case DI_DT_FLOAT:
    case DI_DT_DOUBLE:
    case DI_DT_INT64:
    case DI_DT_INT32:
    case DI_DT_INT8:
    case DI_DT_UINT8:
    case DI_DT_BOOL: break;
    default:
        return di_nn_unsupported(err, k->node, "a cast to float16 from %s",
                                 di_dtype_name(x->dtype));
    }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return DI_OK;
}

int di_nn_infer_dql(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    di_nn_set_shape(k->out[0], DI_DT_UINT8, x->ndim, x->dims);
    if (k->nout > 1 && k->out[1])
        di_nn_set_shape(k->out[1], DI_DT_FLOAT, 0, NULL);
    if (k->nout > 2 && k->out[2])
        di_nn_set_shape(k->out[2], DI_DT_UINT8, 0, NULL);
    return DI_OK;
}

/* The quantization axis: per tensor (one scale) or per channel along the
** attribute axis (a 1-D scale of that axis' length). */
static int q_axis(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *s = k->in[1];
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    di_nn_qlinear_params *p = k->params;
    int64_t ns = di_nn_numel(s);
    if (zp && di_nn_numel(zp) != ns)
        return di_nn_shape_error(err, k->node, "%lld zero points for %lld scales",
                                 (long long)di_nn_numel(zp), (long long)ns);
    if (s->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "scale of type %s", di_dtype_name(s->dtype));
    int64_t a = di_nn_attr_int(k->node, "axis", 1);
    if (a < 0)
        a += x->ndim;
    p->axis = a;
    p->channels = 1;
    p->inner = 1;
    if (ns == 1 && s->ndim <= 1)
        return DI_OK;
    if (s->ndim != 1 || a < 0 || a >= x->ndim || x->dims[a] != ns)
        return di_nn_shape_error(err, k->node, "%lld scales do not match axis %lld of the input",
                                 (long long)ns, (long long)a);
    p->channels = ns;
    for (int d = (int)a + 1; d < x->ndim; d++)
        p->inner *= x->dims[d];
    return DI_OK;
}

int di_nn_infer_quantize(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    int out_dt = zp ? zp->dtype : DI_DT_UINT8;
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    if (!is_q8(out_dt))
        return di_nn_unsupported(err, k->node, "a zero point of type %s (uint8 or int8)",
                                 di_dtype_name(out_dt));
    int rc = q_axis(k, err);
    if (!rc)
        di_nn_set_shape(k->out[0], out_dt, x->ndim, x->dims);
    return rc;
}

int di_nn_infer_dequantize(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0];
    const di_nn_tensor *zp = k->nin > 2 ? k->in[2] : NULL;
    if (!is_q8(x->dtype) && x->dtype != DI_DT_INT32)
        return di_nn_unsupported(err, k->node, "input of type %s", di_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return di_nn_node_fail(err, DI_EFORMAT, k->node,
                               "zero point of type %s for an input of type %s",
                               di_dtype_name(zp->dtype), di_dtype_name(x->dtype));
    int rc = q_axis(k, err);
    if (!rc)
        di_nn_set_shape(k->out[0], DI_DT_FLOAT, x->ndim, x->dims);
    return rc;
}

/* Zero point i of input `of`: its type, and 1 or `per` values. */
static int zp_check(di_nn_kctx *k, int i, const di_nn_tensor *of, int64_t per, di_error *err)
{
    const di_nn_tensor *z = k->nin > i ? k->in[i] : NULL;
    if (!z)
        return DI_OK;
    if (z->dtype != of->dtype)
        return di_nn_node_fail(err, DI_EFORMAT, k->node,
                               "zero point %d of type %s for an input of type %s", i,
                               di_dtype_name(z->dtype), di_dtype_name(of->dtype));
    int64_t n = di_nn_numel(z);
    if (n != 1 && n != per)
        return di_nn_shape_error(err, k->node, "zero point %d has %lld values (1 or %lld)", i,
                                 (long long)n, (long long)per);
    return DI_OK;
}

int di_nn_infer_matmul_int(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    di_nn_matmul_int_params *p = k->params;
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return di_nn_unsupported(err, k->node, "inputs of types %s and %s (uint8 or int8)",
                                 di_dtype_name(a->dtype), di_dtype_name(b->dtype));
    if (a->ndim < 2 || b->ndim != 2)
        return di_nn_unsupported(err, k->node, "a %d-D A and a %d-D B (B must be 2-D)", a->ndim,
                                 b->ndim);
    if (a->dims[a->ndim - 1] != b->dims[0])
        return di_nn_shape_error(err, k->node, "A has %lld columns, B %lld rows",
                                 (long long)a->dims[a->ndim - 1], (long long)b->dims[0]);
    int rc = zp_check(k, 2, a, 1, err);
    if (!rc)
        rc = zp_check(k, 3, b, b->dims[1], err);
    if (rc)
        return rc;
    p->k = b->dims[0];
    p->n = b->dims[1];
    p->m = 1; /* A's rows: every axis but the last (also when K is 0) */
    for (int d = 0; d < a->ndim - 1; d++)
        p->m *= a->dims[d];
    const di_nn_tensor *bz = k->nin > 3 ? k->in[3] : NULL;
    p->b_zp_per_column = bz && di_nn_numel(bz) == p->n && p->n > 1;
    int64_t d[DI_NN_MAX_DIMS];
    memcpy(d, a->dims, sizeof(int64_t) * (size_t)a->ndim);
    d[a->ndim - 1] = b->dims[1];
    di_nn_set_shape(k->out[0], DI_DT_INT32, a->ndim, d);
    return DI_OK;
}

int di_nn_infer_matmul_int_float(di_nn_kctx *k, di_error *err)
{
    int rc = di_nn_infer_matmul_int(k, err);
    if (rc)
        return rc;
    const di_nn_matmul_int_params *p = k->params;
    const di_nn_tensor *sc = k->nin > 4 ? k->in[4] : NULL, *bias = k->nin > 5 ? k->in[5] : NULL;
    /* the rewrite (rewrite_quant.c) only makes these forms */
    if (!sc || sc->dtype != DI_DT_FLOAT || sc->ndim > 1 ||
        (di_nn_numel(sc) != 1 && di_nn_numel(sc) != p->n))
        return di_nn_shape_error(err, k->node, "a scale of 1 or %lld float values",
                                 (long long)p->n);
    if (bias && (bias->dtype != DI_DT_FLOAT || bias->ndim != 1 || bias->dims[0] != p->n))
        return di_nn_shape_error(err, k->node, "a bias of %lld float values", (long long)p->n);
    const di_nn_tensor *gamma = k->nin > 6 ? k->in[6] : NULL;
    if (gamma && (gamma->dtype != DI_DT_FLOAT || gamma->ndim != 1 || gamma->dims[0] != p->n))
        return di_nn_shape_error(err, k->node, "a layer scale of %lld float values",
                                 (long long)p->n);
    di_nn_tensor *y = k->out[0];
    int64_t d[DI_NN_MAX_DIMS];
    memcpy(d, y->dims, sizeof(int64_t) * (size_t)y->ndim);
    di_nn_set_shape(y, DI_DT_FLOAT, y->ndim, d);
    /* fused post-ops: Relu, Clip, and Adds of a float tensor of the output's
    ** shape, applied by the kernel's own pass */
    for (int i = 0; i < k->npost; i++) {
        const di_nn_postop *po = &k->post[i];
        if (po->kind != DI_POST_RELU && po->kind != DI_POST_CLIP && po->kind != DI_POST_SUM)
            return DI_NN_NO_FUSE;
        if (po->kind != DI_POST_SUM)
            continue;
        const di_nn_tensor *t = po->addend;
        if (t->dtype != DI_DT_FLOAT || t->ndim != y->ndim ||
            memcmp(t->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim))
            return DI_NN_NO_FUSE;
    }
    return DI_OK;
}

static int64_t attr2(const di_nn_node *n, const char *name, int i, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a && a->ints && a->n > i ? a->ints[i] : dflt;
}

int di_nn_infer_conv_int(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *w = k->in[1];
    const di_nn_node *n = k->node;
    di_nn_conv_params *p = k->params;
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return di_nn_unsupported(err, n, "inputs of types %s and %s (uint8 or int8)",
                                 di_dtype_name(x->dtype), di_dtype_name(w->dtype));
    if (x->ndim != 4 || w->ndim != 4)
        return di_nn_unsupported(err, n, "a %d-D input (2-D images only)", x->ndim);
    int rc = zp_check(k, 2, x, 1, err);
    if (!rc)
        rc = zp_check(k, 3, w, 1, err);
    if (rc)
        return rc;
    for (int i = 0; i < 2; i++) {
        p->strides[i] = attr2(n, "strides", i, 1);
        p->dilations[i] = attr2(n, "dilations", i, 1);
    }
    for (int i = 0; i < 4; i++) /* top, left, bottom, right */
        p->pads[i] = attr2(n, "pads", i, 0);
    p->group = di_nn_attr_int(n, "group", 1);
    if (p->strides[0] < 1 || p->strides[1] < 1 || p->dilations[0] < 1 || p->dilations[1] < 1 ||
        p->group < 1 || p->pads[0] < 0 || p->pads[1] < 0 || p->pads[2] < 0 || p->pads[3] < 0 ||
        x->dims[1] != w->dims[1] * p->group || w->dims[0] % p->group)
        return di_nn_shape_error(err, n, "strides, dilations, pads or groups do not fit");
    int64_t oh = (x->dims[2] + p->pads[0] + p->pads[2] - p->dilations[0] * (w->dims[2] - 1) - 1) /
                     p->strides[0] +
                 1;
    int64_t ow = (x->dims[3] + p->pads[1] + p->pads[3] - p->dilations[1] * (w->dims[3] - 1) - 1) /
                     p->strides[1] +
                 1;
    if (oh < 1 || ow < 1)
        return di_nn_shape_error(err, n, "the kernel is larger than the padded input");
    di_nn_set_shape(k->out[0], DI_DT_INT32, 4, (int64_t[]){x->dims[0], w->dims[0], oh, ow});
    p->flops =
        2.0 * (double)di_nn_numel(k->out[0]) * (double)(w->dims[1] * w->dims[2] * w->dims[3]);
    return DI_OK;
}

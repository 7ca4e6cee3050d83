/*
** ops_dnn.c: the heavy ops through the vendor libraries: Conv (cuDNN
** forward), ConvTranspose (cuDNN backward-data), MatMul and Gemm (cuBLAS,
** strided batched), MaxPool / AveragePool (cuDNN) and GlobalAveragePool.
** Bias and fused Relu / Clip / Add run in one epilogue kernel after the
** library call; an in-place fused Add first in line is the library's own
** beta = 1 accumulation.
**
** Precision: tensors stay float32. fp32 keeps cuDNN on FMA math and cuBLAS on
** plain fp32; tf32 lets both use TF32 tensor cores; fp16 lets cuDNN convert
** to fp16 (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) and cuBLAS compute in
** fp16; bf16 computes cuBLAS products in bf16 and convolutions in TF32
** (cuDNN's legacy API has no fp32 -> bf16 down-conversion).
** The algorithm of every convolution is chosen once per plan with
** cudnnFind* (measured), falling back to the _v7 heuristics.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WS_LIMIT ((size_t)1 << 30) /* no algorithm wanting more than 1 GiB */

static cudnnMathType_t conv_math(di_nn_precision p)
{
    switch (p) {
    case DI_NN_FP16: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    case DI_NN_TF32:
    case DI_NN_BF16: return CUDNN_DEFAULT_MATH;
    default: return CUDNN_FMA_MATH;
    }
}

static cublasComputeType_t gemm_compute(di_nn_precision p)
{
    switch (p) {
    case DI_NN_FP16: return CUBLAS_COMPUTE_32F_FAST_16F;
    case DI_NN_BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case DI_NN_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    default: return CUBLAS_COMPUTE_32F;
    }
}

typedef struct conv_p {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnPoolingDescriptor_t pool;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd;
    int64_t channels, inner;
} conv_p;

static void conv_release(void *v)
{
    conv_p *p = v;
    if (!p)
        return;
    if (p->x)
        cudnnDestroyTensorDescriptor(p->x);
    if (p->y)
        cudnnDestroyTensorDescriptor(p->y);
    if (p->w)
        cudnnDestroyFilterDescriptor(p->w);
    if (p->conv)
        cudnnDestroyConvolutionDescriptor(p->conv);
    if (p->pool)
        cudnnDestroyPoolingDescriptor(p->pool);
    free(p);
}

/* NCHW dims of a 3-D (N, C, L) or 4-D tensor; false otherwise. */
static bool nchw(const cu_tensor *t, int d[4])
{
    if (t->ndim == 4) {
        for (int i = 0; i < 4; i++)
            d[i] = (int)t->dims[i];
    } else if (t->ndim == 3) {
        d[0] = (int)t->dims[0], d[1] = (int)t->dims[1], d[2] = 1, d[3] = (int)t->dims[2];
    } else {
        return false;
    }
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] > 0x7fffffff)
            return false;
    return true;
}

static cudnnStatus_t tensor4(cudnnTensorDescriptor_t *t, const int d[4])
{
    cudnnStatus_t s = cudnnCreateTensorDescriptor(t);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetTensor4dDescriptor(*t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d[0], d[1], d[2],
                                       d[3]);
    return s;
}

/* Window attributes of a 1-D or 2-D op as (h, w) pairs; pads symmetric. */
typedef struct window {
    int k[2], s[2], d[2], pad[2];
} window;

static int window_attrs(cu_step *st, int spatial, const int *kernel, window *w, const int *in,
                        const int *out, bool transposed, di_error *err)
{
    const di_nn_node *n = st->node;
    const di_nn_attr *pads = di_nn_node_attr(n, "pads"), *strides = di_nn_node_attr(n, "strides"),
                     *dil = di_nn_node_attr(n, "dilations"),
                     *opad = di_nn_node_attr(n, "output_padding");
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    for (int i = 0; i < 2; i++) {
        int a = i - (2 - spatial); /* attribute index; < 0: the unit H of a 1-D op */
        w->k[i] = kernel[i];
        w->s[i] = a >= 0 && strides && strides->n == spatial ? (int)strides->ints[a] : 1;
        w->d[i] = a >= 0 && dil && dil->n == spatial ? (int)dil->ints[a] : 1;
        w->pad[i] = 0;
        if (a < 0)
            continue;
        int ext = (w->k[i] - 1) * w->d[i] + 1;
        if (pads && pads->n == 2 * spatial && !strcmp(ap, "NOTSET")) {
            if (pads->ints[a] != pads->ints[a + spatial])
                return cu_refuse(err, st, "asymmetric pads (%lld, %lld)", (long long)pads->ints[a],
                                 (long long)pads->ints[a + spatial]);
            w->pad[i] = (int)pads->ints[a];
        } else if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) {
            /* SAME_*: the total padding from the planned shapes */
            int64_t total = transposed ? (int64_t)w->s[i] * (in[i] - 1) +
                                             (opad && opad->n == spatial ? opad->ints[a] : 0) +
                                             ext - out[i]
                                       : (int64_t)(out[i] - 1) * w->s[i] + ext - in[i];
            if (total < 0)
                total = 0;
            if (total % 2)
                return cu_refuse(err, st, "auto_pad=%s with an odd total padding", ap);
            w->pad[i] = (int)(total / 2);
        }
    }
    return DI_OK;
}

static int conv_run(cu_step *st, cu_ctx *c, di_error *err)
{
    conv_p *p = st->p;
    float alpha = 1, beta = st->accumulate ? 1.f : 0.f;
    cudnnStatus_t s =
        cudnnConvolutionForward(c->dnn, &alpha, p->x, st->in[0].dev, p->w, st->in[1].dev, p->conv,
                                p->fwd, st->ws, st->ws_bytes, &beta, p->y, st->out[0].dev);
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_fail_cudnn(err, st, "convolution", s);
    const float *bias = st->nin > 2 && st->in[2].dev ? st->in[2].dev : NULL;
    return cu_epilogue_run(st, c, st->out[0].dev, bias, p->inner, p->channels, st->accumulate, err);
}

static int deconv_run(cu_step *st, cu_ctx *c, di_error *err)
{
    conv_p *p = st->p;
    float alpha = 1, beta = st->accumulate ? 1.f : 0.f;
    cudnnStatus_t s = cudnnConvolutionBackwardData(c->dnn, &alpha, p->w, st->in[1].dev, p->x,
                                                   st->in[0].dev, p->conv, p->bwd, st->ws,
                                                   st->ws_bytes, &beta, p->y, st->out[0].dev);
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_fail_cudnn(err, st, "transposed convolution", s);
    const float *bias = st->nin > 2 && st->in[2].dev ? st->in[2].dev : NULL;
    return cu_epilogue_run(st, c, st->out[0].dev, bias, p->inner, p->channels, st->accumulate, err);
}

/* Host mode (tests without a GPU) has no cuDNN or cuBLAS. */
static int host_refuse(cu_step *st, di_error *err)
{
    return cu_refuse(err, st, "cuDNN and cuBLAS do not run in host mode");
}

static int conv_common(cu_ctx *c, cu_step *st, bool transposed, di_error *err)
{
    if (cu_host_mode())
        return host_refuse(st, err);
    const cu_tensor *x = &st->in[0], *w = &st->in[1], *y = &st->out[0];
    int xd[4], yd[4];
    if (x->dtype != DI_DT_FLOAT || w->dtype != DI_DT_FLOAT || !nchw(x, xd) || !nchw(y, yd) ||
        w->ndim != x->ndim)
        return cu_refuse(err, st, "only 1-D and 2-D float convolutions");
    int spatial = x->ndim - 2;
    int kernel[2] = {spatial == 2 ? (int)w->dims[2] : 1, (int)w->dims[x->ndim - 1]};
    window win;
    int rc = window_attrs(st, spatial, kernel, &win, xd + 2, yd + 2, transposed, err);
    if (rc)
        return rc;
    int groups = (int)di_nn_attr_int(st->node, "group", 1);
    conv_p *p = calloc(1, sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    st->p = p;
    st->release = conv_release;
    p->channels = yd[1];
    p->inner = (int64_t)yd[2] * yd[3];
    cudnnStatus_t s = tensor4(&p->x, xd);
    if (s == CUDNN_STATUS_SUCCESS)
        s = tensor4(&p->y, yd);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreateFilterDescriptor(&p->w);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)w->dims[0],
                                       (int)w->dims[1], kernel[0], kernel[1]);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreateConvolutionDescriptor(&p->conv);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolution2dDescriptor(p->conv, win.pad[0], win.pad[1], win.s[0], win.s[1],
                                            win.d[0], win.d[1], CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolutionGroupCount(p->conv, groups);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolutionMathType(p->conv, conv_math(c->prec));
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_fail_cudnn(err, st, "descriptors", s);
    /* the shapes cuDNN derives must be the planned ones */
    int od[4];
    s = transposed ? cudnnGetConvolution2dForwardOutputDim(p->conv, p->y, p->w, &od[0], &od[1],
                                                           &od[2], &od[3])
                   : cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &od[0], &od[1],
                                                           &od[2], &od[3]);
    const int *want = transposed ? xd : yd;
    if (s != CUDNN_STATUS_SUCCESS || memcmp(od, want, sizeof od))
        return cu_refuse(err, st, "cuDNN derives another output shape (%dx%dx%dx%d)", od[0], od[1],
                         od[2], od[3]);
    if (!transposed) {
        cudnnConvolutionFwdAlgoPerf_t perf[8];
        int n = 0;
        s = cudnnFindConvolutionForwardAlgorithm(c->dnn, p->x, p->w, p->conv, p->y, 8, &n, perf);
        bool found = false;
        for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n && !found; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT) {
                p->fwd = perf[i].algo;
                found = true;
            }
        if (!found) {
            s = cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, p->x, p->w, p->conv, p->y, 8, &n,
                                                       perf);
            for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n && !found; i++)
                if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT) {
                    p->fwd = perf[i].algo;
                    found = true;
                }
        }
        if (!found)
            return cu_refuse(err, st, "no cuDNN algorithm for this convolution");
        /* the precision asked for, whatever math type the search reported */
        s = cudnnSetConvolutionMathType(p->conv, conv_math(c->prec));
        if (s == CUDNN_STATUS_SUCCESS)
            s = cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->x, p->w, p->conv, p->y, p->fwd,
                                                        &st->ws_bytes);
        st->run = conv_run;
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[8];
        int n = 0;
        s = cudnnFindConvolutionBackwardDataAlgorithm(c->dnn, p->w, p->x, p->conv, p->y, 8, &n,
                                                      perf);
        bool found = false;
        for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n && !found; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT) {
                p->bwd = perf[i].algo;
                found = true;
            }
        if (!found) {
            s = cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, p->w, p->x, p->conv, p->y, 8,
                                                            &n, perf);
            for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < n && !found; i++)
                if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= WS_LIMIT) {
                    p->bwd = perf[i].algo;
                    found = true;
                }
        }
        if (!found)
            return cu_refuse(err, st, "no cuDNN algorithm for this transposed convolution");
        s = cudnnSetConvolutionMathType(p->conv, conv_math(c->prec));
        if (s == CUDNN_STATUS_SUCCESS)
            s = cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->w, p->x, p->conv, p->y,
                                                             p->bwd, &st->ws_bytes);
        st->run = deconv_run;
    }
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_fail_cudnn(err, st, "workspace size", s);
    st->accumulate = true;
    return DI_OK;
}

int cu_setup_conv(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)hs;
    return conv_common(c, st, false, err);
}

int cu_setup_deconv(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)hs;
    return conv_common(c, st, true, err);
}

/* ---- MatMul / Gemm ---- */

typedef struct gemm_p {
    cublasOperation_t ta, tb;
    int m, n, k, lda, ldb;
    long long sa, sb, sc;
    int batch;
    float alpha, beta;
    cu_walk bias_walk; /* Gemm's C broadcast into Y */
    bool has_c;
} gemm_p;

static int gemm_call(cu_step *st, cu_ctx *c, const gemm_p *g, const void *a, const void *b,
                     float beta, di_error *err)
{
    /* row-major Y = A B is column-major Y^T = B^T A^T */
    cublasStatus_t s = cublasGemmStridedBatchedEx(
        c->blas, g->tb, g->ta, g->n, g->m, g->k, &g->alpha, b, CUDA_R_32F, g->ldb, g->sb, a,
        CUDA_R_32F, g->lda, g->sa, &beta, st->out[0].dev, CUDA_R_32F, g->n, g->sc, g->batch,
        gemm_compute(c->prec), CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? DI_OK : cu_fail_cublas(err, st, "matrix product", s);
}

static int matmul_run(cu_step *st, cu_ctx *c, di_error *err)
{
    gemm_p *g = st->p;
    int rc = gemm_call(st, c, g, st->in[0].dev, st->in[1].dev, st->accumulate ? 1.f : 0.f, err);
    return rc ? rc : cu_epilogue_run(st, c, st->out[0].dev, NULL, 1, 1, st->accumulate, err);
}

int cu_setup_matmul(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    if (cu_host_mode())
        return host_refuse(st, err);
    const cu_tensor *a = &st->in[0], *b = &st->in[1], *y = &st->out[0];
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT || a->ndim < 2 || b->ndim < 2)
        return cu_refuse(err, st, "only float MatMul of at least 2-D operands");
    int64_t m = a->dims[a->ndim - 2], k = a->dims[a->ndim - 1], n = b->dims[b->ndim - 1];
    int64_t ba = cu_numel(a) / (m * k > 0 ? m * k : 1), bb = cu_numel(b) / (k * n > 0 ? k * n : 1);
    int64_t by = cu_numel(y) / (m * n > 0 ? m * n : 1);
    gemm_p *g = calloc(1, sizeof *g);
    if (!g)
        return di_fail(err, DI_ENOMEM, "out of memory");
    st->p = g;
    g->ta = g->tb = CUBLAS_OP_N;
    g->alpha = 1;
    g->k = (int)k;
    g->n = (int)n;
    g->lda = (int)k;
    g->ldb = (int)n;
    if (bb == 1) { /* one product over all rows of A */
        g->m = (int)(ba * m);
        g->batch = 1;
    } else if (ba == bb && bb == by) {
        g->m = (int)m;
        g->batch = (int)by;
        g->sa = m * k;
        g->sb = k * n;
        g->sc = m * n;
    } else if (ba == 1 && bb == by) {
        g->m = (int)m;
        g->batch = (int)by;
        g->sb = k * n;
        g->sc = m * n;
    } else {
        return cu_refuse(err, st, "a MatMul whose batch dimensions broadcast partly");
    }
    if (ba * m > 0x7fffffff || k > 0x7fffffff || n > 0x7fffffff || by > 0x7fffffff)
        return cu_refuse(err, st, "a MatMul larger than cuBLAS's int dimensions");
    st->run = matmul_run;
    st->accumulate = true;
    return DI_OK;
}

static int gemm_run(cu_step *st, cu_ctx *c, di_error *err)
{
    gemm_p *g = st->p;
    if (g->has_c) {
        int e = cu_copy(c->stream, &g->bias_walk, st->in[2].dev, 0, st->out[0].dev, 0, 4);
        if (e)
            return cu_fail_cuda(err, st, "copy of C", e);
    }
    int rc = gemm_call(st, c, g, st->in[0].dev, st->in[1].dev, g->has_c ? g->beta : 0.f, err);
    return rc ? rc : cu_epilogue_run(st, c, st->out[0].dev, NULL, 1, 1, false, err);
}

int cu_setup_gemm(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    if (cu_host_mode())
        return host_refuse(st, err);
    const cu_tensor *a = &st->in[0], *b = &st->in[1], *y = &st->out[0];
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT || a->ndim != 2 || b->ndim != 2 ||
        y->ndim != 2)
        return cu_refuse(err, st, "only float 2-D Gemm");
    bool ta = di_nn_attr_int(st->node, "transA", 0), tb = di_nn_attr_int(st->node, "transB", 0);
    gemm_p *g = calloc(1, sizeof *g);
    if (!g)
        return di_fail(err, DI_ENOMEM, "out of memory");
    st->p = g;
    g->m = (int)y->dims[0];
    g->n = (int)y->dims[1];
    g->k = (int)(ta ? a->dims[0] : a->dims[1]);
    g->ta = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    g->tb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    g->lda = (int)a->dims[1];
    g->ldb = (int)b->dims[1];
    g->batch = 1;
    g->alpha = di_nn_attr_float(st->node, "alpha", 1.f);
    g->beta = di_nn_attr_float(st->node, "beta", 1.f);
    if (st->nin > 2 && st->in[2].dev) {
        const cu_tensor *cc = &st->in[2];
        if (cc->dtype != DI_DT_FLOAT || cc->ndim > 2)
            return cu_refuse(err, st, "a C of this shape");
        g->has_c = true;
        cu_walk *w = &g->bias_walk;
        w->nd = 2;
        w->dims[0] = y->dims[0];
        w->dims[1] = y->dims[1];
        int64_t c0 = cc->ndim == 2 ? cc->dims[0] : 1,
                c1 = cc->ndim >= 1 ? cc->dims[cc->ndim - 1] : 1;
        w->sa[0] = c0 == 1 ? 0 : c1;
        w->sa[1] = c1 == 1 ? 0 : 1;
        w->sb[0] = y->dims[1];
        w->sb[1] = 1;
    }
    st->run = gemm_run;
    return DI_OK;
}

/* ---- pooling ---- */

static int pool_run(cu_step *st, cu_ctx *c, di_error *err)
{
    conv_p *p = st->p;
    if (!p) {
        const cu_tensor *x = &st->in[0];
        int64_t planes = x->dims[0] * x->dims[1], hw = cu_numel(x) / (planes ? planes : 1);
        int e = cu_reduce(c->stream, CU_RMEAN, planes, hw, 1, x->dev, st->out[0].dev);
        return e ? cu_fail_cuda(err, st, "reduction kernel", e) : DI_OK;
    }
    float alpha = 1, beta = 0;
    cudnnStatus_t s = cudnnPoolingForward(c->dnn, p->pool, &alpha, p->x, st->in[0].dev, &beta, p->y,
                                          st->out[0].dev);
    return s == CUDNN_STATUS_SUCCESS ? DI_OK : cu_fail_cudnn(err, st, "pooling", s);
}

int cu_setup_pool(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    if (x->dtype != DI_DT_FLOAT || x->ndim < 3)
        return cu_refuse(err, st, "only float pooling of N x C x ... tensors");
    st->run = pool_run;
    if (!strcmp(st->name, "GlobalAveragePool"))
        return DI_OK;
    if (cu_host_mode())
        return host_refuse(st, err);
    if (st->nout > 1 && st->out[1].dev)
        return cu_refuse(err, st, "MaxPool's indices output");
    int xd[4], yd[4];
    if (!nchw(x, xd) || !nchw(y, yd))
        return cu_refuse(err, st, "only 1-D and 2-D pooling");
    const di_nn_attr *ks = di_nn_node_attr(st->node, "kernel_shape");
    int spatial = x->ndim - 2;
    if (!ks || ks->n != spatial)
        return cu_refuse(err, st, "kernel_shape");
    int kernel[2] = {spatial == 2 ? (int)ks->ints[0] : 1, (int)ks->ints[ks->n - 1]};
    window win;
    int rc = window_attrs(st, spatial, kernel, &win, xd + 2, yd + 2, false, err);
    if (rc)
        return rc;
    if (win.d[0] != 1 || win.d[1] != 1)
        return cu_refuse(err, st, "dilated pooling");
    bool is_max = !strcmp(st->name, "MaxPool");
    cudnnPoolingMode_t mode = is_max ? CUDNN_POOLING_MAX
                              : di_nn_attr_int(st->node, "count_include_pad", 0)
                                  ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                  : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    conv_p *p = calloc(1, sizeof *p);
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    st->p = p;
    st->release = conv_release;
    cudnnStatus_t s = tensor4(&p->x, xd);
    if (s == CUDNN_STATUS_SUCCESS)
        s = tensor4(&p->y, yd);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreatePoolingDescriptor(&p->pool);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetPooling2dDescriptor(p->pool, mode, CUDNN_NOT_PROPAGATE_NAN, win.k[0], win.k[1],
                                        win.pad[0], win.pad[1], win.s[0], win.s[1]);
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_fail_cudnn(err, st, "pooling descriptor", s);
    int od[4];
    s = cudnnGetPooling2dForwardOutputDim(p->pool, p->x, &od[0], &od[1], &od[2], &od[3]);
    if (s != CUDNN_STATUS_SUCCESS || memcmp(od, yd, sizeof od))
        return cu_refuse(err, st, "cuDNN pools to another shape (ceil_mode?)");
    return DI_OK;
}

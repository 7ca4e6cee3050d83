/*
** quant.c: com.microsoft MatMulNBits (the onnx-community model_q4.onnx
** files) and MatMulBnb4 (model_bnb4.onnx) dequantized at load into float32
** weights.
**
** MatMulNBits(A, B, scales, zero_points) is Y = A @ W^T with W [N, K]
** stored in blocks of block_size along K: B [N, blocks, block_size * bits / 8]
** (4 bits: element i of a block in byte i / 2, low nibble first), one scale
** per (n, block), zero points packed the same way (uint8) or of the scales'
** type, 2^(bits - 1) when absent. The node becomes MatMul(A, W^T as a [K, N]
** initializer): the same numbers as onnxruntime's float path (accuracy
** level 0), and the engine's MatMul kernels. B, scales and zero points must
** be initializers; g_idx and a bias are refused, naming the node.
**
** MatMulBnb4(A, B, absmax) is Y = A @ W^T too, W [N, K] quantized by
** bitsandbytes' 4-bit scheme: the N * K values of W (row-major) in blocks of
** block_size, two per byte (element i in byte i / 2, HIGH nibble first), each
** value code[nibble] * absmax[block], code the FP4 (quant_type 0) or NF4
** (quant_type 1) table below. onnxruntime's CPU kernel takes block sizes 16
** to 256 (powers of two) and transB = 1 only in effect (it dequantizes to
** [N, K] whatever transB says), so the same attributes are refused here,
** naming the node.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

bool di_nn_quant_domain_op(const char *domain, const char *op_type)
{
    return domain && op_type && !strcmp(domain, "com.microsoft") &&
           (!strcmp(op_type, "MatMulNBits") || !strcmp(op_type, "MatMulBnb4"));
}

static const di_nn_value *init_of(const di_nn_graph *g, const di_nn_node *n, int i)
{
    int v = i < n->nin ? n->in[i] : -1;
    return v >= 0 && g->values[v].data ? &g->values[v] : NULL;
}

/* Node n becomes MatMul(A, w) with w (K x N floats, malloc'd, taken over:
** freed here on failure) a new initializer named after the node. */
static int to_matmul(di_nn_graph *g, di_nn_node *n, float *w, int64_t K, int64_t N, di_error *err)
{
    di_nn_value *vals = realloc(g->values, ((size_t)g->nvalues + 1) * sizeof *vals);
    if (!vals) {
        free(w);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    g->values = vals;
    di_nn_value *v = &vals[g->nvalues];
    memset(v, 0, sizeof *v);
    size_t len = strlen(n->name) + 16;
    char *name = malloc(len), *type = strdup("MatMul");
    int *in = malloc(2 * sizeof *in);
    if (!name || !type || !in) {
        free(name);
        free(type);
        free(in);
        free(w);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    snprintf(name, len, "%s:weight", n->name);
    v->name = name;
    v->data = w;
    v->dtype = DI_DT_FLOAT;
    v->ndim = 2;
    v->dims[0] = K;
    v->dims[1] = N;
    v->producer = -1;
    in[0] = n->in[0];
    in[1] = g->nvalues++;
    free(n->in);
    n->in = in;
    n->nin = 2;
    free(n->op_type);
    n->op_type = type;
    g->param_count += K * N;
    return DI_OK;
}

static int nbits_to_matmul(di_nn_graph *g, di_nn_node *n, di_error *err)
{
    int64_t K = di_nn_attr_int(n, "K", -1), N = di_nn_attr_int(n, "N", -1);
    int64_t bits = di_nn_attr_int(n, "bits", 4), bs = di_nn_attr_int(n, "block_size", -1);
    if (bits != 4)
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "bits=%lld (4 only)", (long long)bits);
    if (K < 1 || N < 1 || K > (1 << 20) || N > (1 << 20) || bs < 16 || bs > 4096 || (bs & (bs - 1)))
        return di_nn_node_fail(err, DI_EFORMAT, n, "K=%lld, N=%lld, block_size=%lld do not fit",
                               (long long)K, (long long)N, (long long)bs);
    if ((n->nin > 4 && n->in[4] >= 0) || (n->nin > 5 && n->in[5] >= 0))
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "g_idx or bias inputs");
    const di_nn_value *B = init_of(g, n, 1), *S = init_of(g, n, 2), *Z = init_of(g, n, 3);
    if (!B || !S || (n->nin > 3 && n->in[3] >= 0 && !Z))
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n,
                               "B, scales and zero points that are not initializers");
    int64_t blocks = (K + bs - 1) / bs, blob = bs / 2;
    if (B->dtype != DI_DT_UINT8 || di_shape_numel(B->ndim, B->dims) != N * blocks * blob)
        return di_nn_node_fail(err, DI_EFORMAT, n, "B is not uint8 [%lld, %lld, %lld]",
                               (long long)N, (long long)blocks, (long long)blob);
    if (S->dtype != DI_DT_FLOAT || di_shape_numel(S->ndim, S->dims) != N * blocks)
        return di_nn_node_fail(err, DI_EFORMAT, n, "scales are not %lld floats",
                               (long long)(N * blocks));
    int64_t zrow = (blocks + 1) / 2;
    if (Z && !((Z->dtype == DI_DT_UINT8 && di_shape_numel(Z->ndim, Z->dims) == N * zrow) ||
               (Z->dtype == DI_DT_FLOAT && di_shape_numel(Z->ndim, Z->dims) == N * blocks)))
        return di_nn_node_fail(err, DI_EFORMAT, n,
                               "zero points are neither uint8 [%lld] (packed) nor float [%lld]",
                               (long long)(N * zrow), (long long)(N * blocks));
    if ((size_t)(K * N) > di_nn_max_tensor_bytes / sizeof(float))
        return di_nn_node_fail(err, DI_ENOMEM, n, "a %lld x %lld weight is absurdly large",
                               (long long)K, (long long)N);
    float *w = malloc((size_t)(K * N) * sizeof *w);
    if (!w)
        return di_fail(err, DI_ENOMEM, "out of memory");
    const uint8_t *bq = B->data;
    const float *sc = S->data;
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < K; k++) {
            int64_t blk = k / bs, i = k % bs;
            uint8_t byte = bq[(r * blocks + blk) * blob + i / 2];
            int q = i % 2 ? byte >> 4 : byte & 15;
            float zp = 8;
            if (Z && Z->dtype == DI_DT_UINT8) {
                uint8_t zb = ((const uint8_t *)Z->data)[r * zrow + blk / 2];
                zp = (float)(blk % 2 ? zb >> 4 : zb & 15);
            } else if (Z) {
                zp = ((const float *)Z->data)[r * blocks + blk];
            }
            w[k * N + r] = ((float)q - zp) * sc[r * blocks + blk];
        }
    return to_matmul(g, n, w, K, N, err);
}

/* bitsandbytes' 4-bit codes, as fractions of the block's absmax. FP4: sign
** bit, then 2 exponent bits and 1 mantissa bit with bias 3 (0, 0.0625, 2, 3,
** 4, 6, 8, 12 in the order of the codes), divided by 12 (its largest); NF4:
** the quantiles of a normal distribution (QLoRA), exactly as bitsandbytes
** and onnxruntime list them. */
static const float fp4_code[8] = {0.f,      0.0625f / 12, 8.f / 12, 1.f,
                                  4.f / 12, 6.f / 12,     2.f / 12, 3.f / 12};
static const float nf4_code[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

static float bnb4_value(int quant_type, int nibble)
{
    if (quant_type == 1)
        return nf4_code[nibble];
    float v = fp4_code[nibble & 7];
    return nibble & 8 ? -v : v;
}

static int bnb4_to_matmul(di_nn_graph *g, di_nn_node *n, di_error *err)
{
    int64_t K = di_nn_attr_int(n, "K", -1), N = di_nn_attr_int(n, "N", -1);
    int64_t bs = di_nn_attr_int(n, "block_size", -1), qt = di_nn_attr_int(n, "quant_type", -1);
    int64_t transb = di_nn_attr_int(n, "transB", 1);
    if (qt != 0 && qt != 1)
        return di_nn_node_fail(err, DI_EFORMAT, n,
                               "quant_type=%lld (0 for FP4, 1 for NF4; the attribute is required)",
                               (long long)qt);
    if (bs < 16 || bs > 256 || (bs & (bs - 1)))
        return di_nn_node_fail(
            err, DI_EFORMAT, n,
            "block_size=%lld (16, 32, 64, 128 or 256; the attribute is required)", (long long)bs);
    if (K < 1 || N < 1 || K > (1 << 20) || N > (1 << 20))
        return di_nn_node_fail(err, DI_EFORMAT, n, "K=%lld, N=%lld (both required, 1 to 2^20)",
                               (long long)K, (long long)N);
    if (transb != 1)
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "transB=%lld (B is stored as [N, K])",
                               (long long)transb);
    const di_nn_value *B = init_of(g, n, 1), *S = init_of(g, n, 2);
    if (!B || !S)
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "B and absmax that are not initializers");
    int64_t numel = K * N, blocks = (numel + bs - 1) / bs;
    if (B->dtype != DI_DT_UINT8 || di_shape_numel(B->ndim, B->dims) != (numel + 1) / 2)
        return di_nn_node_fail(err, DI_EFORMAT, n, "B is not %lld uint8 (N * K / 2)",
                               (long long)((numel + 1) / 2));
    if (S->dtype != DI_DT_FLOAT || di_shape_numel(S->ndim, S->dims) != blocks)
        return di_nn_node_fail(err, DI_EFORMAT, n, "absmax is not %lld floats (one per block)",
                               (long long)blocks);
    if ((size_t)numel > di_nn_max_tensor_bytes / sizeof(float))
        return di_nn_node_fail(err, DI_ENOMEM, n, "a %lld x %lld weight is absurdly large",
                               (long long)K, (long long)N);
    float *w = malloc((size_t)numel * sizeof *w);
    if (!w)
        return di_fail(err, DI_ENOMEM, "out of memory");
    const uint8_t *bq = B->data;
    const float *absmax = S->data;
    for (int64_t i = 0; i < numel; i++) { /* i = r * K + k, W[r, k] */
        int nib = i % 2 ? bq[i / 2] & 15 : bq[i / 2] >> 4;
        w[(i % K) * N + i / K] = bnb4_value((int)qt, nib) * absmax[i / bs];
    }
    return to_matmul(g, n, w, K, N, err);
}

int di_nn_quant_convert(di_nn_graph *g, di_error *err)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].op_type, "MatMulNBits") ||
            !strcmp(g->nodes[i].op_type, "MatMulBnb4")) {
            di_nn_node *n = &g->nodes[i];
            int rc = !strcmp(n->op_type, "MatMulNBits") ? nbits_to_matmul(g, n, err)
                                                        : bnb4_to_matmul(g, n, err);
            if (rc) {
                if (err && !(err->named & DI_NAMED_FILE)) {
                    di_error_prefix(err, "%s", g->path);
                    err->named |= DI_NAMED_FILE;
                }
                return rc;
            }
        }
    return DI_OK;
}

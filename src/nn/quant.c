/*
** quant.c: com.microsoft MatMulNBits (the onnx-community model_q4.onnx
** files) dequantized at load into float32 weights.
**
** MatMulNBits(A, B, scales, zero_points) is Y = A @ W^T with W [N, K]
** stored in blocks of block_size along K: B [N, blocks, block_size * bits / 8]
** (4 bits: element i of a block in byte i / 2, low nibble first), one scale
** per (n, block), zero points packed the same way (uint8) or of the scales'
** type, 2^(bits - 1) when absent. The node becomes MatMul(A, W^T as a [K, N]
** initializer): the same numbers as onnxruntime's float path (accuracy
** level 0), and the engine's MatMul kernels. B, scales and zero points must
** be initializers; g_idx and a bias are refused, naming the node.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

bool di_nn_quant_domain_op(const char *domain, const char *op_type)
{
    return domain && op_type && !strcmp(domain, "com.microsoft") && !strcmp(op_type, "MatMulNBits");
}

static const di_nn_value *init_of(const di_nn_graph *g, const di_nn_node *n, int i)
{
    int v = i < n->nin ? n->in[i] : -1;
    return v >= 0 && g->values[v].data ? &g->values[v] : NULL;
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

int di_nn_quant_convert(di_nn_graph *g, di_error *err)
{
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].op_type, "MatMulNBits")) {
            int rc = nbits_to_matmul(g, &g->nodes[i], err);
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

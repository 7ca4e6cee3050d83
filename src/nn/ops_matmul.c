/*
** ops_matmul.c: MatMul (numpy semantics: batched, broadcasting batch axes,
** 1-D operands) and Gemm (alpha, beta, transA, transB, C broadcast) on
** float32, both through oneDNN's matmul primitive.
**
** Both operands and the result are plain row-major; a transposed Gemm
** operand is described to oneDNN by its strides, so nothing is copied. The
** batch axes are padded with 1s to one rank; oneDNN broadcasts them.
** Gemm's alpha is an output scale; beta * C is added afterwards in C.
**
** MatMul takes fused post-ops (the engine offers a following Relu, Clip or
** Add): an Add whose other operand broadcasts to the output along the last
** axis only (a bias) or not at all (a residual) becomes a oneDNN binary
** post-op, so a transformer's MatMul + bias + residual is one primitive.
** Any other Add is refused (DI_NN_NO_FUSE) and runs on its own.
*/
#include <stdlib.h>
#include <string.h>

#include "op.h"

typedef struct mm_state {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, scratch;
    dnnl_memory_t addend[4]; /* fused Adds (binary post-ops), by post-op index */
    int naddend;
    double flops;
    /* Gemm's C: y[m][n] += beta * C[m * cs0 + n * cs1] */
    float beta;
    int64_t M, N, cs0, cs1;
} mm_state;

static void mm_release(void *p)
{
    mm_state *s = p;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    dnnl_memory_t mems[] = {s->a, s->b, s->c, s->scratch, s->addend[0], s->addend[1], s->addend[2], s->addend[3]};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(s);
}

#define DN(call, what)                                                       \
    do {                                                                     \
        dnnl_status_t st_ = (call);                                          \
        if (st_ != dnnl_success) {                                           \
            rc = di_nn_dnnl_fail(err, k->node, what, st_);                   \
            goto fail;                                                       \
        }                                                                    \
    } while (0)

/* Builds the primitive for A (adims, astr) x B (bdims, bstr) -> C (cdims,
** dense), all of rank nd, with an output scale. */
static int mm_build(di_nn_kctx *k, int nd, const int64_t *adims,
                    const int64_t *astr, const int64_t *bdims,
                    const int64_t *bstr, const int64_t *cdims, float alpha,
                    mm_state *s, di_error *err)
{
    int rc = DI_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t ad, as, bd, bs, cd, cs;
    int64_t st = 1;
    for (int i = nd - 1; i >= 0; i--) {
        ad[i] = adims[i];
        as[i] = astr[i];
        bd[i] = bdims[i];
        bs[i] = bstr[i];
        cd[i] = cdims[i];
        cs[i] = st;
        st *= cdims[i];
    }
    DN(dnnl_memory_desc_init_by_strides(&amd, nd, ad, dnnl_f32, as), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&bmd, nd, bd, dnnl_f32, bs), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&cmd, nd, cd, dnnl_f32, cs), "memory desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (alpha != 1.f) DN(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "output scale");
    dnnl_memory_desc_t add_md[4];
    if (k->npost) {
        DN(dnnl_post_ops_create(&po), "post-ops");
        for (int i = 0; i < k->npost; i++) {
            const di_nn_postop *p = &k->post[i];
            if (p->kind == DI_POST_RELU) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f), "relu post-op");
            } else if (p->kind == DI_POST_CLIP) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, p->lo, p->hi), "clip post-op");
            } else {
                /* the addend, aligned to the output's rank (checked by the caller) */
                const di_nn_tensor *t = p->addend;
                dnnl_dims_t dd, ds;
                int64_t stride = 1;
                for (int d = nd - 1; d >= 0; d--) {
                    int td = d - (nd - t->ndim);
                    dd[d] = td >= 0 ? t->dims[td] : 1;
                    ds[d] = stride;
                    stride *= dd[d];
                }
                DN(dnnl_memory_desc_init_by_strides(&add_md[i], nd, dd, dnnl_f32, ds), "memory desc");
                DN(dnnl_post_ops_append_binary(po, dnnl_binary_add, &add_md[i]), "add post-op");
            }
        }
        DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    }
    dnnl_matmul_desc_t md;
    DN(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd), "matmul desc");
    if (dnnl_primitive_desc_create(&pd, &md, attr, k->env->engine, NULL) != dnnl_success && k->npost) {
        rc = DI_NN_NO_FUSE; /* oneDNN has no kernel with these post-ops: run them on their own */
        goto fail;
    }
    if (!pd) DN(dnnl_primitive_desc_create(&pd, &md, attr, k->env->engine, NULL), "matmul primitive desc");
    DN(dnnl_primitive_create(&s->prim, pd), "matmul primitive");
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sb = scr ? dnnl_memory_desc_get_size(scr) : 0;
    if (sb) {
        DN(dnnl_memory_create(&s->scratch, scr, k->env->engine, DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = sb;
    }
    DN(dnnl_memory_create(&s->a, &amd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->b, &bmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->c, &cmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    for (int i = 0; i < k->npost; i++)
        if (k->post[i].kind == DI_POST_SUM) DN(dnnl_memory_create(&s->addend[i], &add_md[i], k->env->engine, DNNL_MEMORY_NONE), "memory");
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

static int mm_exec(di_nn_kctx *k, mm_state *s, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_set_data_handle(s->a, k->in[0]->data);
    dnnl_memory_set_data_handle(s->b, k->in[1]->data);
    dnnl_memory_set_data_handle(s->c, k->out[0]->data);
    dnnl_exec_arg_t args[8] = {{DNNL_ARG_SRC, s->a}, {DNNL_ARG_WEIGHTS, s->b}, {DNNL_ARG_DST, s->c}};
    int na = 3;
    for (int i = 0; i < k->npost; i++)
        if (s->addend[i]) {
            dnnl_memory_set_data_handle(s->addend[i], k->post[i].addend->data);
            args[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1, s->addend[i]};
        }
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, k->scratch);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, k->env->stream, na, args), "matmul");
    DN(dnnl_stream_wait(k->env->stream), "stream wait");
fail:
    return rc;
}

static void dense_strides(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* ---- MatMul ---- */

static int matmul_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element types %s x %s (float32 only)", di_dtype_name(a->dtype), di_dtype_name(b->dtype));
    if (a->ndim < 1 || b->ndim < 1) return di_nn_shape_error(err, k->node, "a scalar operand");
    /* operands as [batch..., M, K] and [batch..., K, N] */
    int64_t ad[DI_NN_MAX_DIMS + 1], bd[DI_NN_MAX_DIMS + 1];
    int an = a->ndim, bn = b->ndim;
    if (an == 1) {
        ad[0] = 1;
        ad[1] = a->dims[0];
        an = 2;
    } else {
        memcpy(ad, a->dims, sizeof(int64_t) * (size_t)an);
    }
    if (bn == 1) {
        bd[0] = b->dims[0];
        bd[1] = 1;
        bn = 2;
    } else {
        memcpy(bd, b->dims, sizeof(int64_t) * (size_t)bn);
    }
    int nd = an > bn ? an : bn;
    if (nd > 6) return di_nn_unsupported(err, k->node, "operands of rank %d", nd);
    int64_t A[6], B[6], C[6];
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - an), ib = i - (nd - bn);
        A[i] = ia >= 0 ? ad[ia] : 1;
        B[i] = ib >= 0 ? bd[ib] : 1;
    }
    int64_t M = A[nd - 2], K = A[nd - 1], N = B[nd - 1];
    if (B[nd - 2] != K) return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)", (long long)K, (long long)B[nd - 2]);
    for (int i = 0; i < nd - 2; i++) {
        if (A[i] != B[i] && A[i] != 1 && B[i] != 1)
            return di_nn_shape_error(err, k->node, "batch dimensions do not broadcast (%lld vs %lld)", (long long)A[i], (long long)B[i]);
        C[i] = A[i] == 1 ? B[i] : A[i];
    }
    C[nd - 2] = M;
    C[nd - 1] = N;
    /* the ONNX output drops the axes that were added for 1-D operands */
    int64_t od[DI_NN_MAX_DIMS];
    int ond = 0;
    int out_rank = (a->ndim > b->ndim ? a->ndim : b->ndim);
    if (a->ndim == 1 && b->ndim == 1) out_rank = 0;
    else if (a->ndim == 1 || b->ndim == 1) out_rank = (a->ndim == 1 ? b->ndim : a->ndim) - 1;
    for (int i = 0; i < nd - 2; i++) od[ond++] = C[i];
    if (a->ndim != 1) od[ond++] = M;
    if (b->ndim != 1) od[ond++] = N;
    if (ond != out_rank) return di_nn_shape_error(err, k->node, "internal: result rank %d, expected %d", ond, out_rank);
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, ond, od);
    /* fused Adds: float, plain, and either the output's shape or a bias
    ** along the last axis */
    for (int i = 0; i < k->npost; i++) {
        const di_nn_tensor *t = k->post[i].addend;
        if (k->post[i].kind != DI_POST_SUM) continue;
        if (t->dtype != DI_DT_FLOAT || t->blocked || t->ndim > ond || ond < 1 || a->ndim < 2 || b->ndim < 2) return DI_NN_NO_FUSE;
        bool full = t->ndim == ond, bias = true;
        for (int d = 0; d < ond; d++) {
            int td = d - (ond - t->ndim);
            int64_t v = td >= 0 ? t->dims[td] : 1;
            if (v != od[d]) full = false;
            if (d < ond - 1 ? v != 1 : v != od[d]) bias = false;
        }
        if (!full && !bias) return DI_NN_NO_FUSE;
    }
    mm_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->flops = 2.0 * (double)di_shape_numel(nd, C) * (double)K;
    if (di_shape_numel(nd, C) == 0 || K == 0) { /* nothing for oneDNN to do */
        free(s);
        if (k->npost) return DI_NN_NO_FUSE;
        s = calloc(1, sizeof *s);
        if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
        k->state = s;
        return DI_OK;
    }
    int64_t as[6], bs[6];
    dense_strides(nd, A, as);
    dense_strides(nd, B, bs);
    int rc = mm_build(k, nd, A, as, B, bs, C, 1.f, s, err);
    if (rc) {
        mm_release(s);
        return rc;
    }
    k->state = s;
    return DI_OK;
}

static int matmul_run(di_nn_kctx *k, di_error *err)
{
    mm_state *s = k->state;
    if (!s->prim) {
        size_t n = (size_t)di_nn_numel(k->out[0]);
        if (n) memset(k->out[0]->data, 0, n * sizeof(float));
        return DI_OK;
    }
    return mm_exec(k, s, err);
}

static double mm_flops(const di_nn_kctx *k)
{
    const mm_state *s = k->state;
    return s ? s->flops : 0;
}

/* ---- Gemm ---- */

static int gemm_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1], *c = k->nin > 2 ? k->in[2] : NULL;
    for (int i = 0; i < k->nin; i++)
        if (k->in[i] && k->in[i]->dtype != DI_DT_FLOAT) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[i]->dtype));
    if (a->ndim != 2 || b->ndim != 2) return di_nn_shape_error(err, k->node, "A and B must be 2-D (ranks %d, %d)", a->ndim, b->ndim);
    bool ta = di_nn_attr_int(k->node, "transA", 0) != 0, tb = di_nn_attr_int(k->node, "transB", 0) != 0;
    float alpha = di_nn_attr_float(k->node, "alpha", 1.f), beta = di_nn_attr_float(k->node, "beta", 1.f);
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != Kb) return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)", (long long)K, (long long)Kb);
    mm_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->M = M;
    s->N = N;
    s->beta = c ? beta : 0.f;
    if (c) {
        /* C broadcasts to (M, N) */
        int64_t c0 = c->ndim >= 2 ? c->dims[c->ndim - 2] : 1, c1 = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->ndim > 2 || (c0 != 1 && c0 != M) || (c1 != 1 && c1 != N)) {
            free(s);
            return di_nn_shape_error(err, k->node, "C does not broadcast to %lldx%lld", (long long)M, (long long)N);
        }
        s->cs0 = c0 == 1 ? 0 : c1;
        s->cs1 = c1 == 1 ? 0 : 1;
    }
    int64_t od[2] = {M, N};
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, 2, od);
    s->flops = 2.0 * (double)M * (double)N * (double)K;
    if (M && N && K) {
        int64_t A[2] = {M, K}, As[2] = {ta ? 1 : K, ta ? M : 1};
        int64_t B[2] = {K, N}, Bs[2] = {tb ? 1 : N, tb ? K : 1};
        int rc = mm_build(k, 2, A, As, B, Bs, od, alpha, s, err);
        if (rc) {
            mm_release(s);
            return rc;
        }
    }
    k->state = s;
    return DI_OK;
}

static int gemm_run(di_nn_kctx *k, di_error *err)
{
    mm_state *s = k->state;
    float *y = k->out[0]->data;
    if (s->prim) {
        int rc = mm_exec(k, s, err);
        if (rc) return rc;
    } else if (s->M > 0 && s->N > 0) {
        memset(y, 0, (size_t)(s->M * s->N) * sizeof(float));
    }
    if (s->beta != 0.f) {
        const float *c = k->in[2]->data;
        float beta = s->beta;
        for (int64_t m = 0; m < s->M; m++) {
            float *yr = y + m * s->N;
            const float *cr = c + m * s->cs0;
            if (s->cs1)
                for (int64_t n = 0; n < s->N; n++) yr[n] += beta * cr[n];
            else
                for (int64_t n = 0; n < s->N; n++) yr[n] += beta * cr[0];
        }
    }
    return DI_OK;
}

const di_nn_op di_op_MatMul = {.name = "MatMul", .min_in = 2, .max_in = 2, .flags = DI_OP_POSTOPS, .prepare = matmul_prepare, .run = matmul_run, .release = mm_release, .flops = mm_flops};
const di_nn_op di_op_Gemm = {.name = "Gemm", .min_in = 2, .max_in = 3, .prepare = gemm_prepare, .run = gemm_run, .release = mm_release, .flops = mm_flops};

/*
** ops_matmul.c: MatMul (numpy semantics: batch broadcasting, 1-D operands)
** and Gemm (transA/transB, alpha, beta, C broadcast) through oneDNN's matmul
** primitive on plain row-major data. Transposed operands are described by
** strides, so nothing is copied for transA/transB.
**
** MatMul takes the post-ops the engine fuses (a following Relu, Clip or
** Add): an Add of the output's own shape (a residual) is oneDNN's sum
** post-op, its operand copied into the output first unless the plan put
** the output in its buffer; an Add that broadcasts along the last axis only
** (a bias) is a binary post-op. So a transformer's MatMul + bias + residual
** is one primitive. Other Adds are refused (DI_NN_NO_FUSE) and run alone.
*/
#include <stdlib.h>
#include <string.h>

#include "../op.h"

typedef struct mm_state {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, scratch;
    dnnl_memory_t bias[4]; /* binary-add post-ops' operands, by post-op index */
    int sum_index;         /* the post-op with the sum (residual), or -1 */
    /* Gemm: beta * C added afterwards, broadcast to M x N */
    float beta;
    int64_t m, n, c_rows, c_cols;
} mm_state;

static void mm_release(void *p)
{
    mm_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    dnnl_memory_t mems[] = {s->a,       s->b,       s->c,       s->scratch,
                            s->bias[0], s->bias[1], s->bias[2], s->bias[3]};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(s);
}

#define DN(call, what) DI_NN_DNNL(k->node, call, what)

/* Builds the primitive for row-major-or-strided A (r-D), B, C. */
static int mm_build(di_nn_kctx *k, mm_state *s, int r, const dnnl_dims_t ad, const dnnl_dims_t as,
                    const dnnl_dims_t bd, const dnnl_dims_t bs, const dnnl_dims_t cd, float alpha,
                    di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t bias_md[4];
    static const dnnl_format_tag_t tags[] = {0,         0,          dnnl_ab,    dnnl_abc,
                                             dnnl_abcd, dnnl_abcde, dnnl_abcdef};
    if (r > 6)
        return di_nn_unsupported(err, k->node, "a MatMul of rank %d", r);
    DN(dnnl_memory_desc_init_by_strides(&amd, r, ad, dnnl_f32, as), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&bmd, r, bd, dnnl_f32, bs), "memory desc");
    DN(dnnl_memory_desc_init_by_tag(&cmd, r, cd, dnnl_f32, tags[r]), "memory desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (alpha != 1.f)
        DN(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "output scale");
    s->sum_index = -1;
    if (k->npost) {
        DN(dnnl_post_ops_create(&po), "post-ops");
        for (int i = 0; i < k->npost; i++) {
            const di_nn_postop *p = &k->post[i];
            const di_nn_tensor *t = p->addend;
            if (p->kind == DI_POST_RELU) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f),
                   "relu post-op");
            } else if (p->kind == DI_POST_CLIP) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, p->lo, p->hi),
                   "clip post-op");
            } else if (di_nn_numel(t) == di_shape_numel(r, cd)) {
                DN(dnnl_post_ops_append_sum(po, 1.f), "sum post-op");
                s->sum_index = i;
            } else { /* a bias along the last axis (checked by the caller) */
                dnnl_dims_t bd1;
                for (int d = 0; d < r; d++)
                    bd1[d] = d == r - 1 ? cd[r - 1] : 1;
                DN(dnnl_memory_desc_init_by_tag(&bias_md[i], r, bd1, dnnl_f32, tags[r]),
                   "memory desc");
                DN(dnnl_post_ops_append_binary(po, dnnl_binary_add, &bias_md[i]), "add post-op");
            }
        }
        DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    }
    dnnl_matmul_desc_t md;
    DN(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd), "matmul desc");
    if (dnnl_primitive_desc_create(&pd, &md, attr, k->env->engine, NULL) != dnnl_success) {
        if (k->npost) {
            rc = DI_NN_NO_FUSE; /* no oneDNN kernel with these post-ops: run them alone */
            goto fail;
        }
        DN(dnnl_primitive_desc_create(&pd, &md, attr, k->env->engine, NULL),
           "matmul primitive desc");
    }
    DN(dnnl_primitive_create(&s->prim, pd), "matmul primitive");
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, k->env->engine, DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = dnnl_memory_desc_get_size(scr);
    }
    DN(dnnl_memory_create(&s->a, &amd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->b, &bmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->c, &cmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    for (int i = 0; i < k->npost; i++)
        if (k->post[i].kind == DI_POST_SUM && i != s->sum_index)
            DN(dnnl_memory_create(&s->bias[i], &bias_md[i], k->env->engine, DNNL_MEMORY_NONE),
               "memory");
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

static int mm_exec(di_nn_kctx *k, mm_state *s, void *a, void *b, void *c, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_set_data_handle(s->a, a);
    dnnl_memory_set_data_handle(s->b, b);
    dnnl_memory_set_data_handle(s->c, c);
    dnnl_exec_arg_t args[8] = {
        {DNNL_ARG_SRC, s->a}, {DNNL_ARG_WEIGHTS, s->b}, {DNNL_ARG_DST, s->c}};
    int na = 3;
    if (s->sum_index >= 0) { /* the residual goes into the output first */
        const di_nn_tensor *t = k->post[s->sum_index].addend;
        if (t->data != c)
            memcpy(c, t->data, (size_t)di_nn_numel(t) * sizeof(float));
    }
    for (int i = 0; i < k->npost; i++)
        if (s->bias[i]) {
            dnnl_memory_set_data_handle(s->bias[i], k->post[i].addend->data);
            args[na++] =
                (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1, s->bias[i]};
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

static void row_major(int r, const dnnl_dims_t d, dnnl_dims_t st)
{
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= d[i];
    }
}

/* ---- MatMul ---- */

static int matmul_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    if (a->ndim < 1 || b->ndim < 1)
        return di_nn_shape_error(err, k->node, "scalar operands");
    int ra = a->ndim < 2 ? 2 : a->ndim, rb = b->ndim < 2 ? 2 : b->ndim, r = ra > rb ? ra : rb;
    if (r > 6)
        return di_nn_unsupported(err, k->node, "a MatMul of rank %d", r);
    dnnl_dims_t ad, bd, cd, as, bs;
    for (int i = 0; i < r; i++)
        ad[i] = bd[i] = 1;
    /* 1-D A is [1, K]; 1-D B is [K, 1] */
    if (a->ndim == 1)
        ad[r - 1] = a->dims[0];
    else
        for (int i = 0; i < a->ndim; i++)
            ad[r - a->ndim + i] = a->dims[i];
    if (b->ndim == 1)
        bd[r - 2] = b->dims[0];
    else
        for (int i = 0; i < b->ndim; i++)
            bd[r - b->ndim + i] = b->dims[i];
    if (ad[r - 1] != bd[r - 2])
        return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)",
                                 (long long)ad[r - 1], (long long)bd[r - 2]);
    for (int i = 0; i < r - 2; i++) {
        if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1)
            return di_nn_shape_error(err, k->node, "batch dimensions do not broadcast");
        cd[i] = ad[i] == 1 ? bd[i] : ad[i];
    }
    cd[r - 2] = ad[r - 2];
    cd[r - 1] = bd[r - 1];
    /* output shape without the promoted dimensions */
    int64_t od[DI_NN_MAX_DIMS];
    int nd = 0;
    int rout = (a->ndim > b->ndim ? a->ndim : b->ndim);
    if (rout < 2)
        rout = 2;
    for (int i = r - rout; i < r - 2; i++)
        od[nd++] = cd[i];
    if (a->ndim != 1)
        od[nd++] = cd[r - 2];
    if (b->ndim != 1)
        od[nd++] = cd[r - 1];
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, nd, od);
    /* fused Adds: plain float, the output's shape or a bias on the last axis;
    ** at most one of the output's shape (oneDNN takes one sum) */
    int sums = 0;
    for (int i = 0; i < k->npost; i++) {
        const di_nn_tensor *t = k->post[i].addend;
        if (k->post[i].kind != DI_POST_SUM)
            continue;
        if (t->dtype != DI_DT_FLOAT || t->blocked || t->ndim > nd || nd < 2)
            return DI_NN_NO_FUSE;
        bool full = t->ndim == nd, bias = true;
        for (int d = 0; d < nd; d++) {
            int td = d - (nd - t->ndim);
            int64_t v = td >= 0 ? t->dims[td] : 1;
            if (v != od[d])
                full = false;
            if (d < nd - 1 ? v != 1 : v != od[d])
                bias = false;
        }
        if (full && di_nn_numel(t) != 1)
            sums++;
        else if (!bias || di_nn_numel(t) == di_nn_numel(k->out[0]))
            return DI_NN_NO_FUSE;
    }
    if (sums > 1)
        return DI_NN_NO_FUSE;
    if (di_shape_numel(r, cd) == 0 || ad[r - 1] == 0)
        return k->npost ? DI_NN_NO_FUSE : DI_OK; /* empty: handled in run */
    row_major(r, ad, as);
    row_major(r, bd, bs);
    mm_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    /* "_scale": a following Mul by a constant, folded in by rewrite.c */
    int rc = mm_build(k, s, r, ad, as, bd, bs, cd, di_nn_attr_float(k->node, "_scale", 1.f), err);
    if (rc) {
        mm_release(s);
        return rc;
    }
    k->state = s;
    return DI_OK;
}

static int matmul_run(di_nn_kctx *k, di_error *err)
{
    if (!k->state) { /* K == 0: the result is zeros */
        memset(k->out[0]->data, 0, (size_t)di_nn_numel(k->out[0]) * sizeof(float));
        return DI_OK;
    }
    return mm_exec(k, k->state, k->in[0]->data, k->in[1]->data, k->out[0]->data, err);
}

static double matmul_flops(const di_nn_kctx *k)
{
    const di_nn_tensor *a = k->in[0];
    int64_t kdim = a->dims[a->ndim - 1];
    return 2.0 * (double)di_nn_numel(k->out[0]) * (double)kdim;
}

const di_nn_op di_op_MatMul = {
    .name = "MatMul",
    .min_in = 2,
    .max_in = 2,
    .flags = DI_OP_POSTOPS,
    .prepare = matmul_prepare,
    .run = matmul_run,
    .release = mm_release,
    .flops = matmul_flops,
};

/* ---- Gemm ---- */

static int gemm_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1], *c = k->nin > 2 ? k->in[2] : NULL;
    if (a->dtype != DI_DT_FLOAT || b->dtype != DI_DT_FLOAT || (c && c->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(a->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return di_nn_shape_error(err, k->node, "A and B must be 2-D");
    bool ta = di_nn_attr_int(k->node, "transA", 0) != 0,
         tb = di_nn_attr_int(k->node, "transB", 0) != 0;
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t K2 = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != K2)
        return di_nn_shape_error(err, k->node, "inner dimensions differ (%lld vs %lld)",
                                 (long long)K, (long long)K2);
    mm_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->m = M;
    s->n = N;
    s->beta = c ? di_nn_attr_float(k->node, "beta", 1.f) : 0.f;
    if (c) {
        /* C broadcasts to M x N (unidirectionally) */
        int64_t cr = c->ndim == 2 ? c->dims[0] : 1, cc = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->ndim > 2 || (cr != 1 && cr != M) || (cc != 1 && cc != N)) {
            free(s);
            return di_nn_shape_error(err, k->node, "C does not broadcast to %lldx%lld",
                                     (long long)M, (long long)N);
        }
        s->c_rows = cr;
        s->c_cols = cc;
    }
    int64_t od[2] = {M, N};
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, 2, od);
    if (M && N && K) {
        dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
        dnnl_dims_t as = {ta ? 1 : K, ta ? M : 1}, bs = {tb ? 1 : N, tb ? K : 1};
        int rc =
            mm_build(k, s, 2, ad, as, bd, bs, cd, di_nn_attr_float(k->node, "alpha", 1.f), err);
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
        int rc = mm_exec(k, s, k->in[0]->data, k->in[1]->data, y, err);
        if (rc)
            return rc;
    } else {
        memset(y, 0, (size_t)(s->m * s->n) * sizeof(float));
    }
    if (s->beta != 0.f && k->nin > 2 && k->in[2]) {
        const float *c = k->in[2]->data;
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t j = 0; j < s->n; j++)
                y[i * s->n + j] +=
                    s->beta * c[(s->c_rows == 1 ? 0 : i) * s->c_cols + (s->c_cols == 1 ? 0 : j)];
    }
    return DI_OK;
}

static double gemm_flops(const di_nn_kctx *k)
{
    const mm_state *s = k->state;
    const di_nn_tensor *a = k->in[0];
    int64_t K = di_nn_attr_int(k->node, "transA", 0) ? a->dims[0] : a->dims[1];
    return 2.0 * (double)s->m * (double)s->n * (double)K;
}

const di_nn_op di_op_Gemm = {
    .name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .prepare = gemm_prepare,
    .run = gemm_run,
    .release = mm_release,
    .flops = gemm_flops,
};

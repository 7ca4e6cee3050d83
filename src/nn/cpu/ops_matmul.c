/*
** ops_matmul.c: MatMul (numpy semantics: batch broadcasting, 1-D operands)
** and Gemm (transA/transB, alpha, beta, C broadcast) through oneDNN's matmul
** primitive on plain row-major data. Transposed operands are described by
** strides, so nothing is copied for transA/transB.
**
** MatMul takes the post-ops the engine fuses (a following Relu, Clip, Gelu
** or Add; Gelu as oneDNN's gelu_erf / gelu_tanh on the accumulator, so the
** MLP's widest tensor is written once instead of written, read and written
** again): an Add of the output's own shape (a residual) is oneDNN's sum
** post-op, its operand copied into the output first unless the plan put
** the output in its buffer; an Add that broadcasts along the last axis only
** (a bias) is a binary post-op. So a transformer's MatMul + bias + residual
** is one primitive. Other Adds are refused (DI_NN_NO_FUSE) and run alone.
**
** In bf16 (env->bf16) the primitive multiplies bf16 operands into a float32
** output (f32 accumulation and post-ops): A, and B when it is an activation
** (attention's products), are converted into scratch at each run (O(MK)
** against the product's O(MKN)); a constant B (the weights) is converted once
** per session into the layout the primitive picks (k->persist, shared by
** the session's plans). An operand that arrives in bf16 (a plain row-major
** bf16 layout: the output of a bf16 MatMul or LayerNormalization) is used as
** it is. The output is bf16 too where the planner says every consumer reads
** bf16 (k->bf16_consumers: the MLP's first MatMul + Gelu feeding the second)
** and no residual is summed into it: the post-ops run in f32 on the
** accumulator and the result is rounded once, while a residual stream stays
** float32 across the blocks.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* A constant B in bf16, one per layout a plan asked for (usually one). The
** fingerprint tells a constant folded differently for another input shape. */
typedef struct mm_weights {
    dnnl_memory_desc_t md;
    uint64_t print;
    void *data;
    struct mm_weights *next;
} mm_weights;

typedef struct mm_state {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, scratch;
    /* bf16: f32 operands (user layout) converted into a, b in scratch */
    dnnl_primitive_t a_cvt, b_cvt; /* NULL: operand used as it is */
    dnnl_memory_t a_user, b_user;
    bool b_fixed;          /* b is the session's bf16 copy of a constant B */
    bool c16;              /* the output is bf16 (plain row-major) */
    size_t b_off, sc_off;  /* scratch: converted A at 0, B at b_off, the primitive's at sc_off */
    dnnl_memory_t bias[4]; /* binary-add post-ops' operands, by post-op index */
    int sum_index;         /* the post-op with the sum (residual), or -1 */
    int bias_post;         /* the post-op taken as the primitive's bias (0), or -1 */
    dnnl_memory_t bias_arg;
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
    if (s->a_cvt)
        dnnl_primitive_destroy(s->a_cvt);
    if (s->b_cvt)
        dnnl_primitive_destroy(s->b_cvt);
    dnnl_memory_t mems[] = {s->a,       s->b,       s->c,      s->scratch, s->bias[0], s->bias[1],
                            s->bias[2], s->bias[3], s->a_user, s->b_user,  s->bias_arg};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(s);
}

static void release_weights(void *p)
{
    mm_weights *w = p;
    while (w) {
        mm_weights *next = w->next;
        free(w->data);
        free(w);
        w = next;
    }
}

#define DN(call, what) DI_NN_DNNL(k->node, call, what)

static const dnnl_format_tag_t tags[] = {0,         0,          dnnl_ab,    dnnl_abc,
                                         dnnl_abcd, dnnl_abcde, dnnl_abcdef};

/* t holds bf16 in the plain row-major order (the planner's blocked bf16) */
static bool is_plain_bf16(const di_nn_tensor *t)
{
    dnnl_memory_desc_t md;
    return t->blocked && !di_nn_plain_bf16_md(t, &md) &&
           dnnl_memory_desc_equal(&md, &t->layout->md);
}

/* 64 samples and the size: enough to tell two foldings of one constant apart */
static uint64_t fingerprint(const float *b, int64_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;
    for (int64_t i = 0; i < n; i += n / 64 + 1) {
        uint32_t u;
        memcpy(&u, &b[i], sizeof u);
        h = (h ^ u) * 1099511628211ull;
    }
    return h;
}

/* A reorder from `from` to `to` (a bf16 conversion), and a memory for from. */
static int cvt_make(di_nn_kctx *k, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                    dnnl_primitive_t *prim, dnnl_memory_t *user, di_error *err)
{
    int rc = DI_OK;
    dnnl_primitive_desc_t pd = NULL;
    DN(dnnl_reorder_primitive_desc_create(&pd, from, cpu_engine(k), to, cpu_engine(k), NULL),
       "bf16 conversion");
    DN(dnnl_primitive_create(prim, pd), "bf16 conversion");
    DN(dnnl_memory_create(user, from, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* The session's bf16 copy of the constant B (f32, bmd) in layout md, made
** on first use. */
static int weights_bf16(di_nn_kctx *k, const dnnl_memory_desc_t *bmd, const float *b, int64_t n,
                        const dnnl_memory_desc_t *md, void **out, di_error *err)
{
    uint64_t print = fingerprint(b, n);
    mm_weights *w = *k->persist;
    while (w && !(w->print == print && dnnl_memory_desc_equal(&w->md, md)))
        w = w->next;
    if (w) {
        *out = w->data;
        return DI_OK;
    }
    int rc = DI_OK;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    if (!(w = calloc(1, sizeof *w)) ||
        !(w->data = aligned_alloc(64, (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63))) {
        free(w);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    w->md = *md;
    w->print = print;
    if ((rc = cvt_make(k, bmd, md, &r, &from, err)))
        goto fail;
    dnnl_memory_set_data_handle(from, (void *)b);
    DN(dnnl_memory_create(&to, md, cpu_engine(k), w->data), "memory");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DN(dnnl_primitive_execute(r, cpu_stream(k), 2, args), "weights conversion");
    DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
    w->next = *k->persist;
    *k->persist = w;
    *out = w->data;
    w = NULL;
fail:
    if (w) {
        free(w->data);
        free(w);
    }
    if (r)
        dnnl_primitive_destroy(r);
    if (from)
        dnnl_memory_destroy(from);
    if (to)
        dnnl_memory_destroy(to);
    return rc;
}

/* The primitive for md: oneDNN's jit gemm ("gemm:jit", its sgemm, or for
** bf16 its avx512_core_bf16 gemm) where oneDNN offers it for these operands
** and post-ops and its first choice is not an AMX kernel, else that first
** choice (the brgemm kernels on AVX-512). oneDNN 2.7 ranks brgemm first, but
** on this project's AMD Zen 5 (AVX-512, AVX512-BF16, 2 threads) the gemm
** ran every MatMul of the ViT-S/14 + DPT forms in less time: at 1370 tokens
** in float32 the MLP's second MatMul (K 1536, the residual summed in) 21 %
** less, qkv 9 %, the MLP's first (bias and Gelu post-ops) 8 %; the MatMuls
** 5-10 % less in float32 and 9 % in bf16, the whole model 4-6 %
** (bench/RESULTS.md, sixth pass). AMX tiles (brgemm only) are another
** matter: there the first choice stays. The attention's products
** (ops_attention.c: a tile of rows against the whole K or V, K 64) stay on
** brgemm, where the sgemm was 15 % slower. DI_NN_MM_IMPL=first takes
** oneDNN's first choice everywhere, for comparison. */
static dnnl_status_t mm_pd_create(dnnl_primitive_desc_t *pd, const dnnl_matmul_desc_t *md,
                                  const_dnnl_primitive_attr_t attr, dnnl_engine_t eng)
{
    const char *e = getenv("DI_NN_MM_IMPL");
    *pd = e && !strcmp(e, "first") ? NULL : di_nn_impl_pd(md, attr, eng, "gemm:jit", "amx");
    return *pd ? dnnl_success : dnnl_primitive_desc_create(pd, md, attr, eng, NULL);
}

/* What a bf16 MatMul reads and writes as it is: A and B already bf16 (plain
** row-major), and whether the output may be bf16. */
typedef struct mm_io16 {
    bool a, b, c;
} mm_io16;

/* Whether the first post-op, an Add of a bias along the last axis, becomes
** the primitive's own bias (applied in the kernel's store, before the other
** post-ops, as the graph's order has it) instead of a binary post-op. At
** the ViT's M = 1370 the binary post-op before a Gelu cost 4-8 % of the MLP's
** first MatMul (1 thread, CPU time). Not with an output scale (alpha): the
** bias would be scaled with the product. DI_NN_MM_BIAS=post: as a binary
** post-op, for comparison. */
static bool mm_bias_post(const di_nn_kctx *k, int r, const dnnl_dims_t cd, float alpha)
{
    if (!k->npost || k->post[0].kind != DI_POST_SUM || alpha != 1.f ||
        di_nn_numel(k->post[0].addend) == di_shape_numel(r, cd) ||
        di_nn_numel(k->post[0].addend) != cd[r - 1])
        return false;
    const char *e = getenv("DI_NN_MM_BIAS");
    return !(e && !strcmp(e, "post"));
}

/* Builds the primitive for row-major-or-strided A (r-D), B, C; bconst: B's
** data when it is a constant (a bf16 plan converts it once). */
static int mm_build(di_nn_kctx *k, mm_state *s, int r, const dnnl_dims_t ad, const dnnl_dims_t as,
                    const dnnl_dims_t bd, const dnnl_dims_t bs, const dnnl_dims_t cd, float alpha,
                    const float *bconst, mm_io16 io, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_desc_t amd, bmd, cmd, a16, b16, c16;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t bias_md[4];
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
    s->bias_post = mm_bias_post(k, r, cd, alpha) ? 0 : -1;
    k->bf16_counted = false;
    k->bf16_cvt = 0;
    dnnl_memory_desc_t bias_arg_md;
    if (s->bias_post == 0) {
        dnnl_dims_t bd1;
        for (int d = 0; d < r; d++)
            bd1[d] = d == r - 1 ? cd[r - 1] : 1;
        DN(dnnl_memory_desc_init_by_tag(&bias_arg_md, r, bd1, dnnl_f32, tags[r]), "memory desc");
    }
    const dnnl_memory_desc_t *bias_arg = s->bias_post == 0 ? &bias_arg_md : NULL;
    if (k->npost > (s->bias_post == 0)) {
        DN(dnnl_post_ops_create(&po), "post-ops");
        for (int i = s->bias_post == 0; i < k->npost; i++) {
            const di_nn_postop *p = &k->post[i];
            const di_nn_tensor *t = p->addend;
            if (p->kind == DI_POST_RELU) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f),
                   "relu post-op");
            } else if (p->kind == DI_POST_CLIP) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, p->lo, p->hi),
                   "clip post-op");
            } else if (p->kind == DI_POST_GELU || p->kind == DI_POST_GELU_TANH) {
                DN(dnnl_post_ops_append_eltwise(po, 1.f,
                                                p->kind == DI_POST_GELU ? dnnl_eltwise_gelu_erf
                                                                        : dnnl_eltwise_gelu_tanh,
                                                0.f, 0.f),
                   "gelu post-op");
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
    bool bf16 = k->env->bf16;
    /* a residual summed into the output keeps it (the stream) float32 */
    s->c16 = bf16 && io.c && s->sum_index < 0;
    if (bf16) { /* a constant B in the layout the kernel likes best */
        DN(dnnl_memory_desc_init_by_tag(&a16, r, ad, dnnl_bf16, tags[r]), "memory desc");
        DN(dnnl_memory_desc_init_by_tag(&b16, r, bd, dnnl_bf16,
                                        bconst ? dnnl_format_tag_any : tags[r]),
           "memory desc");
        DN(dnnl_memory_desc_init_by_tag(&c16, r, cd, dnnl_bf16, tags[r]), "memory desc");
        DN(dnnl_matmul_desc_init(&md, &a16, &b16, bias_arg, s->c16 ? &c16 : &cmd), "matmul desc");
        if (mm_pd_create(&pd, &md, attr, cpu_engine(k)) != dnnl_success &&
            s->c16) { /* no kernel writing bf16 with these post-ops: a float32 output */
            s->c16 = false;
            DN(dnnl_matmul_desc_init(&md, &a16, &b16, bias_arg, &cmd), "matmul desc");
            if (mm_pd_create(&pd, &md, attr, cpu_engine(k)) != dnnl_success)
                pd = NULL;
        }
        if (!pd)
            bf16 = false; /* no bf16 kernel with these post-ops: float32 */
    }
    if (!bf16 && (io.a || io.b)) {
        rc = DI_NN_NEED_PLAIN; /* bf16 operands for a float32 kernel: converted by the plan */
        goto fail;
    }
    if (!bf16)
        DN(dnnl_matmul_desc_init(&md, &amd, &bmd, bias_arg, &cmd), "matmul desc");
    if (!pd && mm_pd_create(&pd, &md, attr, cpu_engine(k)) != dnnl_success) {
        pd = NULL;
        if (k->npost) {
            rc = DI_NN_NO_FUSE; /* no oneDNN kernel with these post-ops: run them alone */
            goto fail;
        }
        DN(dnnl_primitive_desc_create(&pd, &md, attr, cpu_engine(k), NULL),
           "matmul primitive desc");
    }
    DN(dnnl_primitive_create(&s->prim, pd), "matmul primitive");
    size_t sc = 0;
    k->bf16_counted = bf16;
    if (bf16) {
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (!io.a) {
            if ((rc = cvt_make(k, &amd, &a16, &s->a_cvt, &s->a_user, err)))
                goto fail;
            sc = (dnnl_memory_desc_get_size(&a16) + 63) & ~(size_t)63;
            k->bf16_cvt++;
        }
        DN(dnnl_memory_create(&s->a, &a16, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        s->b_off = sc;
        if (io.b) {
            DN(dnnl_memory_create(&s->b, &b16, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        } else if (bconst) {
            void *w = NULL;
            rc = weights_bf16(k, &bmd, bconst, di_shape_numel(r, bd), wmd, &w, err);
            if (rc)
                goto fail;
            DN(dnnl_memory_create(&s->b, wmd, cpu_engine(k), w), "memory");
            s->b_fixed = true;
        } else {
            if ((rc = cvt_make(k, &bmd, &b16, &s->b_cvt, &s->b_user, err)))
                goto fail;
            DN(dnnl_memory_create(&s->b, &b16, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
            sc += (dnnl_memory_desc_get_size(&b16) + 63) & ~(size_t)63;
            k->bf16_cvt++;
        }
    } else {
        DN(dnnl_memory_create(&s->a, &amd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        DN(dnnl_memory_create(&s->b, &bmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    }
    s->sc_off = sc;
    k->scratch_bytes = sc;
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = sc + dnnl_memory_desc_get_size(scr);
    }
    DN(dnnl_memory_create(&s->c, s->c16 ? &c16 : &cmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    for (int i = 0; i < k->npost; i++)
        if (k->post[i].kind == DI_POST_SUM && i != s->sum_index && i != s->bias_post)
            DN(dnnl_memory_create(&s->bias[i], &bias_md[i], cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    if (bias_arg)
        DN(dnnl_memory_create(&s->bias_arg, bias_arg, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
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
    uint8_t *scratch = k->scratch;
    if (s->a_cvt) { /* bf16: A (and an activation B) converted into scratch */
        dnnl_memory_set_data_handle(s->a_user, a);
        dnnl_memory_set_data_handle(s->a, scratch);
        dnnl_exec_arg_t cv[2] = {{DNNL_ARG_FROM, s->a_user}, {DNNL_ARG_TO, s->a}};
        DN(dnnl_primitive_execute(s->a_cvt, cpu_stream(k), 2, cv), "bf16 conversion");
    } else {
        dnnl_memory_set_data_handle(s->a, a);
    }
    if (s->b_cvt) {
        dnnl_memory_set_data_handle(s->b_user, b);
        dnnl_memory_set_data_handle(s->b, scratch + s->b_off);
        dnnl_exec_arg_t cv[2] = {{DNNL_ARG_FROM, s->b_user}, {DNNL_ARG_TO, s->b}};
        DN(dnnl_primitive_execute(s->b_cvt, cpu_stream(k), 2, cv), "bf16 conversion");
    } else if (!s->b_fixed) {
        dnnl_memory_set_data_handle(s->b, b);
    }
    dnnl_memory_set_data_handle(s->c, c);
    dnnl_exec_arg_t args[8] = {
        {DNNL_ARG_SRC, s->a}, {DNNL_ARG_WEIGHTS, s->b}, {DNNL_ARG_DST, s->c}};
    int na = 3;
    if (s->sum_index >= 0) { /* the residual goes into the output first */
        const di_nn_tensor *t = k->post[s->sum_index].addend;
        if (t->data != c)
            memcpy(c, t->data, (size_t)di_nn_numel(t) * sizeof(float));
    }
    int shift = s->bias_post == 0; /* oneDNN's post-op index: after the bias taken out */
    for (int i = 0; i < k->npost; i++)
        if (s->bias[i]) {
            dnnl_memory_set_data_handle(s->bias[i], k->post[i].addend->data);
            args[na++] = (dnnl_exec_arg_t){
                DNNL_ARG_ATTR_MULTIPLE_POST_OP(i - shift) | DNNL_ARG_SRC_1, s->bias[i]};
        }
    if (s->bias_arg) {
        dnnl_memory_set_data_handle(s->bias_arg, k->post[s->bias_post].addend->data);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias_arg};
    }
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, scratch + s->sc_off);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, cpu_stream(k), na, args), "matmul");
    DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
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

/* After di_nn_infer_matmul (shapes, which Adds fuse): the oneDNN primitive. */
static int matmul_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_matmul_params *p = k->params;
    int r = p->r;
    /* a blocked addend (a oneDNN layout) is not taken as a post-op */
    for (int i = 0; i < k->npost; i++)
        if (k->post[i].kind == DI_POST_SUM && k->post[i].addend->blocked)
            return DI_NN_NO_FUSE;
    /* bf16 operands (a plain bf16 layout) only for a bf16 kernel; any other
    ** blocked layout is made plain float32 by the plan */
    mm_io16 io = {false, false, false};
    for (int i = 0; i < 2; i++)
        if (k->in[i]->blocked) {
            if (!k->env->bf16 || !is_plain_bf16(k->in[i]))
                return DI_NN_NEED_PLAIN;
            *(i ? &io.b : &io.a) = true;
        }
    if (p->empty) {
        if (io.a || io.b)
            return DI_NN_NEED_PLAIN; /* run writes zeros; nothing to read */
        return DI_OK;                /* handled in run */
    }
    io.c = k->bf16_consumers && k->out[0]->ndim == r;
    dnnl_dims_t ad, bd, cd, as, bs;
    for (int i = 0; i < r; i++) {
        ad[i] = p->ad[i];
        bd[i] = p->bd[i];
        cd[i] = p->cd[i];
    }
    row_major(r, ad, as);
    row_major(r, bd, bs);
    mm_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    const di_nn_tensor *b = k->in[1];
    k->bf16_cvt = 0;
    int rc = mm_build(k, s, r, ad, as, bd, bs, cd, p->scale,
                      b->is_const && b->dtype == DI_DT_FLOAT && !io.b ? b->data : NULL, io, err);
    if (!rc && s->c16) { /* the consumers read the bf16 output as it is */
        di_nn_tensor *y = k->out[0];
        if (di_nn_plain_bf16_md(y, &y->layout->md))
            rc = di_nn_unsupported(err, k->node, "a bf16 output of rank %d", y->ndim);
        y->blocked = true;
    }
    if (rc) {
        k->bf16_counted = false;
        k->bf16_cvt = 0;
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
    .flags = DI_OP_POSTOPS | DI_OP_BLOCKED_OK | DI_OP_BF16_OK,
    .infer = di_nn_infer_matmul,
    .params_size = sizeof(di_nn_matmul_params),
    .prepare = matmul_prepare,
    .run = matmul_run,
    .release = mm_release,
    .release_persist = release_weights,
    .flops = matmul_flops,
};

/* ---- Gemm ---- */

/* After di_nn_infer_gemm (shapes, params): the oneDNN primitive. */
static int gemm_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_gemm_params *p = k->params;
    bool ta = p->trans_a, tb = p->trans_b;
    int64_t M = p->m, N = p->n, K = p->k;
    mm_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->m = M;
    s->n = N;
    s->beta = p->beta;
    s->c_rows = p->c_rows;
    s->c_cols = p->c_cols;
    if (M && N && K) {
        dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N};
        dnnl_dims_t as = {ta ? 1 : K, ta ? M : 1}, bs = {tb ? 1 : N, tb ? K : 1};
        const di_nn_tensor *b = k->in[1];
        k->bf16_cvt = 0;
        mm_io16 io = {false, false, false}; /* Gemm adds beta * C to a float32 output */
        int rc = mm_build(k, s, 2, ad, as, bd, bs, cd, p->alpha,
                          b->is_const && b->dtype == DI_DT_FLOAT ? b->data : NULL, io, err);
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
    const di_nn_gemm_params *p = k->params;
    return 2.0 * (double)p->m * (double)p->n * (double)p->k;
}

const di_nn_op di_op_Gemm = {
    .name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .infer = di_nn_infer_gemm,
    .params_size = sizeof(di_nn_gemm_params),
    .prepare = gemm_prepare,
    .run = gemm_run,
    .release = mm_release,
    .release_persist = release_weights,
    .flops = gemm_flops,
};

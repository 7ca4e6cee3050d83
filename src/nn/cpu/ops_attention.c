/*
** ops_attention.c: _FusedAttention (rewrite_attention.c makes it, its
** infer step is infer_attention.c): O = softmax(scale * Q K^T) V, a block of
** query rows at a time, for every head at once:
**     S = scale * Q[rows] K^T    (oneDNN matmul, the heads as batch axes)
**     S = softmax(S) in place    (oneDNN softmax over the last axis)
**     O[rows] = S V              (oneDNN matmul)
** S is [heads, rows, Tk] in the step's scratch, sized to stay in the
** cores' L2 caches, so the [heads, Tq, Tk] score tensor of the unfused graph
** (45 MB per image for ViT-S/14 at 518) is never written to memory and
** read back twice. Q, K^T, V and O are read and written through strides
** (K untransposed, the heads' output merged), so nothing is copied either.
**
** Both products go through att_matmul, which takes the operands' data type:
** a bf16 path is the same primitives with dnnl_bf16 operands (S kept f32,
** the softmax writing the probabilities as bf16).
*/
#include <stdlib.h>
#include <string.h>

#include "../op.h"

/* S's bytes per thread: about half a Zen 4 / Sapphire Rapids core's L2 */
enum { ATT_S_BYTES_PER_THREAD = 512 * 1024 };

/* The three primitives for a block of m query rows, and their memories. */
typedef struct att_block {
    int64_t m;
    dnnl_primitive_t mm1, sm, mm2;
    dnnl_memory_t q, kt, s, v, o, scr1, scr_sm, scr2;
} att_block;

typedef struct att_state {
    att_block full, tail;
    int64_t blk;
    size_t s_bytes; /* S, 64-byte aligned; the primitives' scratchpad after it */
} att_state;

static void block_release(att_block *b)
{
    dnnl_primitive_t prims[] = {b->mm1, b->sm, b->mm2};
    for (int i = 0; i < 3; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {b->q, b->kt, b->s, b->v, b->o, b->scr1, b->scr_sm, b->scr2};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
}

static void att_release(void *p)
{
    att_state *s = p;
    if (!s)
        return;
    block_release(&s->full);
    block_release(&s->tail);
    free(s);
}

#define DN(call, what) DI_NN_DNNL(k->node, call, what)

/* The user scratchpad a primitive desc asks for: its memory (or NULL) and
** its size. */
static int scratch_of(di_nn_kctx *k, dnnl_primitive_desc_t pd, dnnl_memory_t *mem, size_t *bytes,
                      di_error *err)
{
    int rc = DI_OK;
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    *bytes = scr ? dnnl_memory_desc_get_size(scr) : 0;
    if (*bytes)
        DN(dnnl_memory_create(mem, scr, k->env->engine, DNNL_MEMORY_NONE), "memory");
fail:
    return rc;
}

/* One product C = scale * A B of rank r, every operand by dims and element
** strides, A and B of type dt and C of type ct (f32 accumulation whatever
** dt): the primitive, the memories it is run with (data handles set at run
** time) and its scratchpad. Both products of the attention are built here. */
static int att_matmul(di_nn_kctx *k, dnnl_data_type_t dt, dnnl_data_type_t ct, int r,
                      const int64_t *ad, const int64_t *as, const int64_t *bd, const int64_t *bs,
                      const int64_t *cd, const int64_t *cs, float scale, dnnl_primitive_t *prim,
                      dnnl_memory_t mem[3], dnnl_memory_t *scr, size_t *scr_bytes, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t md;
    dnnl_dims_t d[6]; /* oneDNN's arrays are DNNL_MAX_NDIMS long */
    const int64_t *src[6] = {ad, as, bd, bs, cd, cs};
    for (int i = 0; i < 6; i++) {
        memset(d[i], 0, sizeof d[i]);
        memcpy(d[i], src[i], (size_t)r * sizeof(int64_t));
    }
    DN(dnnl_memory_desc_init_by_strides(&amd, r, d[0], dt, d[1]), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&bmd, r, d[2], dt, d[3]), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&cmd, r, d[4], ct, d[5]), "memory desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (scale != 1.f)
        DN(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale), "output scale");
    DN(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd), "matmul desc");
    DN(dnnl_primitive_desc_create(&pd, &md, attr, k->env->engine, NULL), "matmul primitive desc");
    DN(dnnl_primitive_create(prim, pd), "matmul primitive");
    DN(dnnl_memory_create(&mem[0], &amd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&mem[1], &bmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&mem[2], &cmd, k->env->engine, DNNL_MEMORY_NONE), "memory");
    rc = scratch_of(k, pd, scr, scr_bytes, err);
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

static void row_major(int r, const int64_t *d, int64_t *st)
{
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= d[i];
    }
}

/* The primitives for blocks of m rows; *scr_max grows to their scratchpads. */
static int block_build(di_nn_kctx *k, att_block *b, int64_t m, size_t *scr_max, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    int rc = DI_OK, nl = p->nlead, r = nl + 2;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int64_t qd[6], od[6];
    dnnl_dims_t sd = {0}, ss = {0};
    memcpy(qd, p->qd, sizeof qd);
    memcpy(od, p->od, sizeof od);
    qd[nl] = od[nl] = m;
    for (int i = 0; i < nl; i++)
        sd[i] = p->qd[i] > p->kd[i] ? p->qd[i] : p->kd[i];
    sd[nl] = m;
    sd[nl + 1] = p->tk;
    row_major(r, sd, ss);
    b->m = m;
    size_t bytes;
    dnnl_memory_t m1[3] = {0}, m2[3] = {0};
    rc = att_matmul(k, dnnl_f32, dnnl_f32, r, qd, p->qs, p->kd, p->ks, sd, ss, p->scale, &b->mm1,
                    m1, &b->scr1, &bytes, err);
    b->q = m1[0];
    b->kt = m1[1];
    b->s = m1[2];
    if (rc)
        return rc;
    *scr_max = bytes > *scr_max ? bytes : *scr_max;
    rc = att_matmul(k, dnnl_f32, dnnl_f32, r, sd, ss, p->vd, p->vs, od, p->os, 1.f, &b->mm2, m2,
                    &b->scr2, &bytes, err);
    b->v = m2[1];
    b->o = m2[2];
    if (m2[0])
        dnnl_memory_destroy(m2[0]); /* S: the first product's memory serves */
    if (rc)
        return rc;
    *scr_max = bytes > *scr_max ? bytes : *scr_max;
    /* softmax over S's last axis, in place */
    dnnl_memory_desc_t smd;
    dnnl_softmax_v2_desc_t smdesc;
    DN(dnnl_memory_desc_init_by_strides(&smd, r, sd, dnnl_f32, ss), "memory desc");
    DN(dnnl_softmax_v2_forward_desc_init(&smdesc, dnnl_forward_inference, dnnl_softmax_accurate,
                                         &smd, &smd, r - 1),
       "softmax desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_primitive_desc_create(&pd, &smdesc, attr, k->env->engine, NULL),
       "softmax primitive desc");
    DN(dnnl_primitive_create(&b->sm, pd), "softmax primitive");
    rc = scratch_of(k, pd, &b->scr_sm, &bytes, err);
    *scr_max = bytes > *scr_max ? bytes : *scr_max;
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* After di_nn_infer_attention: the block size and the primitives for a full
** block and the last, shorter one. */
static int attention_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    att_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    k->state = s;
    int64_t heads = 1;
    for (int i = 0; i < p->nlead; i++)
        heads *= p->od[i];
    if (!heads || !p->tq || !p->dv || !p->tk)
        return DI_OK; /* nothing to compute, or zeros (no key): in run */
    /* rows per block: S within the threads' share of L2, a multiple of 16
    ** (the matmul kernels' row blocking), at least 16 */
    int64_t threads = k->env->threads > 0 ? k->env->threads : 1;
    int64_t blk = (int64_t)ATT_S_BYTES_PER_THREAD * threads / (heads * p->tk * 4);
    blk = blk < 16 ? 16 : blk / 16 * 16;
    if (blk > p->tq)
        blk = p->tq;
    s->blk = blk;
    size_t scr = 0;
    int rc = block_build(k, &s->full, blk, &scr, err);
    if (!rc && p->tq % blk)
        rc = block_build(k, &s->tail, p->tq % blk, &scr, err);
    if (rc) {
        att_release(s);
        k->state = NULL;
        return rc;
    }
    s->s_bytes = ((size_t)(heads * blk * p->tk) * sizeof(float) + 63) & ~(size_t)63;
    k->scratch_bytes = s->s_bytes + scr;
    return DI_OK;
}

static int attention_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    const att_state *s = k->state;
    float *o = k->out[0]->data;
    if (!s->blk) { /* no key: O is the empty sum, zeros */
        memset(o, 0, (size_t)di_nn_numel(k->out[0]) * sizeof(float));
        return DI_OK;
    }
    int rc = DI_OK, nl = p->nlead;
    float *q = k->in[0]->data, *kt = k->in[1]->data, *v = k->in[2]->data;
    uint8_t *sbuf = k->scratch, *scr = sbuf + s->s_bytes;
    for (int64_t row = 0; row < p->tq; row += s->blk) {
        const att_block *b = p->tq - row >= s->blk ? &s->full : &s->tail;
        dnnl_memory_set_data_handle(b->q, q + row * p->qs[nl]);
        dnnl_memory_set_data_handle(b->kt, kt);
        dnnl_memory_set_data_handle(b->s, sbuf);
        dnnl_memory_set_data_handle(b->v, v);
        dnnl_memory_set_data_handle(b->o, o + row * p->os[nl]);
        dnnl_memory_t scrs[3] = {b->scr1, b->scr_sm, b->scr2};
        for (int i = 0; i < 3; i++)
            if (scrs[i])
                dnnl_memory_set_data_handle(scrs[i], scr);
        dnnl_exec_arg_t a1[4] = {
            {DNNL_ARG_SRC, b->q}, {DNNL_ARG_WEIGHTS, b->kt}, {DNNL_ARG_DST, b->s}};
        dnnl_exec_arg_t a2[3] = {{DNNL_ARG_SRC, b->s}, {DNNL_ARG_DST, b->s}};
        dnnl_exec_arg_t a3[4] = {
            {DNNL_ARG_SRC, b->s}, {DNNL_ARG_WEIGHTS, b->v}, {DNNL_ARG_DST, b->o}};
        int n1 = 3, n2 = 2, n3 = 3;
        if (b->scr1)
            a1[n1++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr1};
        if (b->scr_sm)
            a2[n2++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr_sm};
        if (b->scr2)
            a3[n3++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr2};
        DN(dnnl_primitive_execute(b->mm1, k->env->stream, n1, a1), "attention scores");
        DN(dnnl_primitive_execute(b->sm, k->env->stream, n2, a2), "attention softmax");
        DN(dnnl_primitive_execute(b->mm2, k->env->stream, n3, a3), "attention output");
    }
    DN(dnnl_stream_wait(k->env->stream), "stream wait");
fail:
    return rc;
}

static double attention_flops(const di_nn_kctx *k)
{
    return ((const di_nn_attention_params *)k->params)->flops;
}

const di_nn_op di_op__FusedAttention = {
    .name = "_FusedAttention",
    .min_in = 3,
    .max_in = 3,
    .infer = di_nn_infer_attention,
    .params_size = sizeof(di_nn_attention_params),
    .prepare = attention_prepare,
    .run = attention_run,
    .release = att_release,
    .flops = attention_flops,
};

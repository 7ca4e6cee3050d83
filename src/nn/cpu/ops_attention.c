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
** Both products go through att_matmul, which takes the operands' data type.
** In a bf16 session (env->bf16) with dense heads, Q, K and V are rounded to
** bf16 a group at a time into the scratch (K and V once per group, Q per
** block of rows), S stays float32 (the products accumulate in f32), and the
** softmax writes the probabilities as bf16 for the second product.
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* S's bytes per thread: about a Zen 4 / Sapphire Rapids core's L2 */
enum { ATT_S_BYTES_PER_THREAD = 1024 * 1024 };

/* One group of heads as oneDNN sees it: rank r, each operand's dims and
** element strides (K^T [.., d, tk]; S [.., tq, tk] dense). */
typedef struct att_geom {
    int r;
    int64_t qd[6], qs[6], kd[6], ks[6], vd[6], vs[6], sd[6], ss[6], od[6], os[6];
} att_geom;

/* The three primitives for a group of heads, and their memories. */
typedef struct att_block {
    dnnl_primitive_t mm1, sm, mm2;
    dnnl_memory_t q, kt, s, p, v, o, scr1, scr_sm, scr2; /* p: bf16 only */
} att_block;

typedef struct att_state {
    att_block full, tail;
    int64_t heads, group;    /* heads (leading axes flattened) and per group;
                              ** group 0: no work, or zeros (no key) */
    int64_t rows;            /* query rows per block: tq, or for a group of one
                              ** head whose scores outgrow the budget, fewer */
    bool flat;               /* Q, K, V dense per head: groups of whole heads */
    bool perm;               /* output [L0, tq, L1, dv]: written from O's copy */
    bool bf16;               /* Q, K, V and the probabilities in bf16 (flat only) */
    size_t p_bytes, b_bytes; /* bf16: the probabilities; Q, K, V (each) */
    size_t s_bytes, o_bytes; /* S and O's copy in the scratch (64-aligned), */
    size_t h_bytes;          /* a packed input's Q, K, V of a group (each),
                              ** the primitives' scratchpad after them */
} att_state;

static void block_release(att_block *b)
{
    dnnl_primitive_t prims[] = {b->mm1, b->sm, b->mm2};
    for (int i = 0; i < 3; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {b->q, b->kt, b->s, b->p, b->v, b->o, b->scr1, b->scr_sm, b->scr2};
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
        DN(dnnl_memory_create(mem, scr, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
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
    DN(dnnl_primitive_desc_create(&pd, &md, attr, cpu_engine(k), NULL), "matmul primitive desc");
    DN(dnnl_primitive_create(prim, pd), "matmul primitive");
    DN(dnnl_memory_create(&mem[0], &amd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&mem[1], &bmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&mem[2], &cmd, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
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

/* The primitives for one group's geometry; *scr_max grows to their
** scratchpads. */
static int block_build(di_nn_kctx *k, att_block *b, const att_geom *g, bool bf16, size_t *scr_max,
                       di_error *err)
{
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    const di_nn_attention_params *p = k->params;
    int rc = DI_OK, r = g->r;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    size_t bytes;
    dnnl_memory_t m1[3] = {0}, m2[3] = {0};
    rc = att_matmul(k, dt, dnnl_f32, r, g->qd, g->qs, g->kd, g->ks, g->sd, g->ss, p->scale, &b->mm1,
                    m1, &b->scr1, &bytes, err);
    b->q = m1[0];
    b->kt = m1[1];
    b->s = m1[2];
    if (rc)
        return rc;
    *scr_max = bytes > *scr_max ? bytes : *scr_max;
    rc = att_matmul(k, dt, dnnl_f32, r, g->sd, g->ss, g->vd, g->vs, g->od, g->os, 1.f, &b->mm2, m2,
                    &b->scr2, &bytes, err);
    b->v = m2[1];
    b->o = m2[2];
    if (bf16)
        b->p = m2[0]; /* the probabilities, bf16 */
    else if (m2[0])
        dnnl_memory_destroy(m2[0]); /* S: the first product's memory serves */
    if (rc)
        return rc;
    *scr_max = bytes > *scr_max ? bytes : *scr_max;
    /* softmax over S's last axis, in place (bf16: into P) */
    dnnl_memory_desc_t smd, pmd;
    dnnl_softmax_v2_desc_t smdesc;
    dnnl_dims_t sd = {0}, ss = {0};
    memcpy(sd, g->sd, (size_t)r * sizeof(int64_t));
    memcpy(ss, g->ss, (size_t)r * sizeof(int64_t));
    DN(dnnl_memory_desc_init_by_strides(&smd, r, sd, dnnl_f32, ss), "memory desc");
    DN(dnnl_memory_desc_init_by_strides(&pmd, r, sd, dt, ss), "memory desc");
    DN(dnnl_softmax_v2_forward_desc_init(&smdesc, dnnl_forward_inference, dnnl_softmax_accurate,
                                         &smd, &pmd, r - 1),
       "softmax desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_primitive_desc_create(&pd, &smdesc, attr, cpu_engine(k), NULL),
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

/* A group of n whole heads, every operand dense: oneDNN's brgemm kernels
** take only dense operands (a block of a head's rows, or a strided output,
** sends it to a slower path). K dense as [n, tk, d] is K^T by strides.
** m query rows of each head: all of them, or (n = 1) a block of rows,
** dense too. */
static void flat_geom(const di_nn_attention_params *p, bool k_trans, int64_t n, int64_t m,
                      att_geom *g)
{
    g->r = 3;
    int64_t qd[3] = {n, m, p->d}, sd[3] = {n, m, p->tk}, vd[3] = {n, p->tk, p->dv},
            od[3] = {n, m, p->dv}, kd[3] = {n, p->d, p->tk};
    memcpy(g->qd, qd, sizeof qd);
    memcpy(g->sd, sd, sizeof sd);
    memcpy(g->vd, vd, sizeof vd);
    memcpy(g->od, od, sizeof od);
    memcpy(g->kd, kd, sizeof kd);
    row_major(3, qd, g->qs);
    row_major(3, sd, g->ss);
    row_major(3, vd, g->vs);
    row_major(3, od, g->os);
    g->ks[0] = p->tk * p->d;
    g->ks[1] = k_trans ? p->tk : 1;
    g->ks[2] = k_trans ? 1 : p->d;
}

/* After di_nn_infer_attention: groups of heads whose scores fit the
** threads' L2 (every head at once when the leading axes broadcast), the
** primitives for a full group and the last, smaller one. */
static int attention_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    att_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    k->state = s;
    int nl = p->nlead;
    s->heads = 1;
    s->flat = true;
    for (int i = 0; i < nl; i++) {
        s->heads *= p->od[i];
        s->flat &= p->qd[i] == p->od[i] && p->kd[i] == p->od[i] && p->vd[i] == p->od[i];
    }
    if (!s->heads || !p->tq || !p->dv || !p->tk)
        return DI_OK; /* nothing to compute, or zeros (no key): in run */
    /* the output [L0, tq, L1, dv] of an absorbed Transpose: not dense per head */
    s->perm = s->flat && nl == 2 && p->os[nl] != p->dv;
    int64_t threads = k->env->threads > 0 ? k->env->threads : 1;
    int64_t per_head = p->tq * p->tk * (int64_t)sizeof(float);
    int64_t budget = (int64_t)ATT_S_BYTES_PER_THREAD * threads;
    int64_t group = s->flat ? budget / per_head : s->heads;
    group = group < 1 ? 1 : group > s->heads ? s->heads : group;
    s->group = group;
    /* one head's scores over the budget (ViT-S/14 at 518: 7.5 MB): blocks
    ** of rows, a multiple of 16 (the kernels' row blocking) */
    int64_t rows = p->tq;
    if (s->flat && per_head > budget) {
        rows = budget / (p->tk * (int64_t)sizeof(float)) / 16 * 16;
        rows = rows < 16 ? 16 : rows > p->tq ? p->tq : rows;
    }
    s->rows = rows;
    s->bf16 = k->env->bf16 && s->flat;
    size_t scr = 0;
    att_geom g;
    int rc;
    if (s->flat) {
        bool k_trans = p->ks[nl] != 1; /* K^T's rows apart by 1: K untransposed */
        flat_geom(p, k_trans, group, rows, &g);
        rc = block_build(k, &s->full, &g, s->bf16, &scr, err);
        if (!rc && rows < p->tq && p->tq % rows) { /* group 1: the last rows */
            flat_geom(p, k_trans, 1, p->tq % rows, &g);
            rc = block_build(k, &s->tail, &g, s->bf16, &scr, err);
        } else if (!rc && rows == p->tq && s->heads % group) { /* the last heads */
            flat_geom(p, k_trans, s->heads % group, rows, &g);
            rc = block_build(k, &s->tail, &g, s->bf16, &scr, err);
        }
    } else { /* broadcast leading axes: one group, the infer step's strides */
        g.r = nl + 2;
        memcpy(g.qd, p->qd, sizeof g.qd);
        memcpy(g.qs, p->qs, sizeof g.qs);
        memcpy(g.kd, p->kd, sizeof g.kd);
        memcpy(g.ks, p->ks, sizeof g.ks);
        memcpy(g.vd, p->vd, sizeof g.vd);
        memcpy(g.vs, p->vs, sizeof g.vs);
        memcpy(g.od, p->od, sizeof g.od);
        memcpy(g.os, p->os, sizeof g.os);
        for (int i = 0; i < nl; i++)
            g.sd[i] = p->qd[i] > p->kd[i] ? p->qd[i] : p->kd[i];
        g.sd[nl] = p->tq;
        g.sd[nl + 1] = p->tk;
        row_major(g.r, g.sd, g.ss);
        rc = block_build(k, &s->full, &g, s->bf16, &scr, err);
    }
    if (rc) {
        att_release(s);
        k->state = NULL;
        return rc;
    }
    int64_t shead = 1;
    for (int i = 0; i < g.r - 2; i++)
        shead *= g.sd[i];
    if (s->flat)
        shead = group;
    s->s_bytes = ((size_t)(shead * rows * p->tk) * sizeof(float) + 63) & ~(size_t)63;
    s->o_bytes = s->perm ? ((size_t)(group * rows * p->dv) * sizeof(float) + 63) & ~(size_t)63 : 0;
    s->h_bytes =
        p->packed ? ((size_t)(group * p->tq * p->d) * sizeof(float) + 63) & ~(size_t)63 : 0;
    if (s->bf16) { /* a group's K or V, or a block's Q: the largest of them */
        int64_t dmax = p->d > p->dv ? p->d : p->dv;
        int64_t qkv = group * (p->tk > rows ? p->tk : rows) * dmax;
        s->b_bytes = ((size_t)qkv * sizeof(uint16_t) + 63) & ~(size_t)63;
        s->p_bytes = ((size_t)(group * rows * p->tk) * sizeof(uint16_t) + 63) & ~(size_t)63;
    }
    k->scratch_bytes = s->s_bytes + s->o_bytes + 3 * s->h_bytes + s->p_bytes + 3 * s->b_bytes + scr;
    return DI_OK;
}

static int run_group(di_nn_kctx *k, const att_block *b, void *q, void *kt, void *v, float *o,
                     uint8_t *sbuf, uint8_t *pbuf, uint8_t *scr, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_set_data_handle(b->q, q);
    dnnl_memory_set_data_handle(b->kt, kt);
    dnnl_memory_set_data_handle(b->s, sbuf);
    if (b->p)
        dnnl_memory_set_data_handle(b->p, pbuf);
    dnnl_memory_set_data_handle(b->v, v);
    dnnl_memory_set_data_handle(b->o, o);
    dnnl_memory_t scrs[3] = {b->scr1, b->scr_sm, b->scr2};
    for (int i = 0; i < 3; i++)
        if (scrs[i])
            dnnl_memory_set_data_handle(scrs[i], scr);
    dnnl_exec_arg_t a1[4] = {{DNNL_ARG_SRC, b->q}, {DNNL_ARG_WEIGHTS, b->kt}, {DNNL_ARG_DST, b->s}};
    dnnl_memory_t pm = b->p ? b->p : b->s;
    dnnl_exec_arg_t a2[3] = {{DNNL_ARG_SRC, b->s}, {DNNL_ARG_DST, pm}};
    dnnl_exec_arg_t a3[4] = {{DNNL_ARG_SRC, pm}, {DNNL_ARG_WEIGHTS, b->v}, {DNNL_ARG_DST, b->o}};
    int n1 = 3, n2 = 2, n3 = 3;
    if (b->scr1)
        a1[n1++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr1};
    if (b->scr_sm)
        a2[n2++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr_sm};
    if (b->scr2)
        a3[n3++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, b->scr2};
    DN(dnnl_primitive_execute(b->mm1, cpu_stream(k), n1, a1), "attention scores");
    DN(dnnl_primitive_execute(b->sm, cpu_stream(k), n2, a2), "attention softmax");
    DN(dnnl_primitive_execute(b->mm2, cpu_stream(k), n3, a3), "attention output");
fail:
    return rc;
}

/* A packed input [B, T, 3, H, hd]: heads h0 .. h0 + n - 1 of Q, K and V
** copied dense into dst (each [n, T, hd]), the copy that the unfused
** graph's Transpose and Gathers made of the whole tensor, here a group at
** a time into cache. */
static void gather_heads(const di_nn_kctx *k, const float *x, int64_t h0, int64_t n, float *dst[3])
{
    const di_nn_attention_params *p = k->params;
    int64_t T = p->tq, hd = p->d, H = p->qd[1], row = p->qs[2];
    size_t bytes = (size_t)hd * sizeof(float);
#pragma omp parallel for num_threads(k->env->threads) if (n * T * hd > 32768) schedule(static)
    for (int64_t i = 0; i < n * T; i++) {
        int64_t h = h0 + i / T, t = i % T;
        const float *src = x + (h / H) * T * row + t * row + (h % H) * hd;
        for (int j = 0; j < 3; j++)
            memcpy(dst[j] + i * hd, src + p->off[j], bytes);
    }
}

/* n floats rounded to bf16, to nearest even (NaN kept a NaN), as oneDNN's
** own conversion does */
static void to_bf16(const di_nn_kctx *k, const float *x, int64_t n, uint16_t *y)
{
#pragma omp parallel for num_threads(k->env->threads) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            y[i] = (uint16_t)((u >> 16) | 0x40);
        else
            y[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    }
}

static int attention_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    const att_state *s = k->state;
    float *o = k->out[0]->data;
    if (!s->group) { /* no key: O is the empty sum, zeros */
        memset(o, 0, (size_t)di_nn_numel(k->out[0]) * sizeof(float));
        return DI_OK;
    }
    int rc = DI_OK;
    float *q = k->in[0]->data, *kt = p->packed ? q : k->in[1]->data,
          *v = p->packed ? q : k->in[2]->data;
    uint8_t *sbuf = k->scratch, *obuf = sbuf + s->s_bytes, *hbuf = obuf + s->o_bytes,
            *pbuf = hbuf + 3 * s->h_bytes, *bbuf = pbuf + s->p_bytes, *scr = bbuf + 3 * s->b_bytes;
    uint16_t *qb = (uint16_t *)bbuf, *kb = (uint16_t *)(bbuf + s->b_bytes),
             *vb = (uint16_t *)(bbuf + 2 * s->b_bytes);
    if (!s->flat)
        rc = run_group(k, &s->full, q, kt, v, o, sbuf, NULL, scr, err);
    int64_t tq = p->tq, tk = p->tk, d = p->d, dv = p->dv, l1 = p->od[1];
    for (int64_t h0 = 0; s->flat && h0 < s->heads && !rc; h0 += s->group) {
        int64_t n = s->heads - h0 < s->group ? s->heads - h0 : s->group;
        float *qh = q + h0 * tq * d, *kh = kt + h0 * tk * d, *vh = v + h0 * tk * dv;
        if (p->packed) {
            float *qkv[3] = {(float *)hbuf, (float *)(hbuf + s->h_bytes),
                             (float *)(hbuf + 2 * s->h_bytes)};
            gather_heads(k, q, h0, n, qkv);
            qh = qkv[0];
            kh = qkv[1];
            vh = qkv[2];
        }
        if (s->bf16) { /* a group's K and V once, dense as they are */
            to_bf16(k, kh, n * tk * d, kb);
            to_bf16(k, vh, n * tk * dv, vb);
        }
        for (int64_t r0 = 0; r0 < tq && !rc; r0 += s->rows) {
            int64_t m = tq - r0 < s->rows ? tq - r0 : s->rows;
            const att_block *b = n == s->group && m == s->rows ? &s->full : &s->tail;
            /* n > 1 only with m = tq: a group's O is [n, m, dv], dense */
            float *og = s->perm ? (float *)obuf : o + (h0 * tq + r0) * dv;
            void *qr = qh + r0 * d, *kr = kh, *vr = vh;
            if (s->bf16) { /* n > 1 only with m = tq: the block's Q is dense */
                to_bf16(k, qh + r0 * d, n * m * d, qb);
                qr = qb;
                kr = kb;
                vr = vb;
            }
            rc = run_group(k, b, qr, kr, vr, og, sbuf, pbuf, scr, err);
            /* the heads merged back, [L0, tq, L1, dv], from O's copy in cache */
            for (int64_t h = h0; s->perm && !rc && h < h0 + n; h++)
                for (int64_t t = 0; t < m; t++)
                    memcpy(o + ((h / l1 * tq + r0 + t) * l1 + h % l1) * dv,
                           og + ((h - h0) * m + t) * dv, (size_t)dv * sizeof(float));
        }
    }
    if (!rc)
        DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
fail:
    return rc;
}

static double attention_flops(const di_nn_kctx *k)
{
    return ((const di_nn_attention_params *)k->params)->flops;
}

const di_nn_op di_op__FusedAttention = {
    .name = "_FusedAttention",
    .min_in = 1,
    .max_in = 3,
    .infer = di_nn_infer_attention,
    .params_size = sizeof(di_nn_attention_params),
    .prepare = attention_prepare,
    .run = attention_run,
    .release = att_release,
    .flops = attention_flops,
};

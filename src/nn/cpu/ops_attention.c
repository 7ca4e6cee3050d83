/*
** ops_attention.c: _FusedAttention (rewrite_attention.c makes it, its
** infer step is infer_attention.c): O = softmax(scale * Q K^T) V.
**
** Dense heads (the leading axes of Q, K, V equal): tiles of one head's
** block of query rows, shared among the threads by one OpenMP loop; each
** thread runs a tile with three single-threaded oneDNN primitives on its own
** memories, stream and scratch:
**     S = scale * Q[rows] K^T    (matmul)
**     S = softmax(S) in place    (softmax over the last axis)
**     O[rows] = S V              (matmul)
** S is [rows, Tk], sized to stay in a core's L2 cache, so the [heads, Tq, Tk]
** score tensor of the unfused graph (45 MB per image for ViT-S/14 at 518)
** is never written to memory and read back twice. One barrier per
** attention: primitives parallelised inside, as the engine's other ops run,
** would each split a tile's small M among the threads and wait at its end
** (three barriers per tile, the threads idle while one finishes its share).
** A packed input [B, T, 3, H, hd] (the qkv MatMul's output) is gathered by
** each thread into its own dense K and V of the head its tile is in (when
** the head changes) and the tile's Q rows, inside the tiles' loop: 3 x 2.1
** MB per ViT-S/14 block at 518 are no longer written to memory and read
** back, the head's K and V are in the thread's L2 when its first tile reads
** them, and the loop that gathered every head before the tiles (one more
** OpenMP region per block, where a thread the machine preempted held the
** other up) is gone (DI_NN_ATT_GATHER=whole: that loop, for comparison). K
** is read untransposed by strides and an absorbed output Transpose
** ([L0, tq, L1, dv]) is written from the tile's O in cache.
**
** In a bf16 session (env->bf16), Q, K and V are rounded to bf16 before the
** loop (as they are gathered, for a packed input), S stays float32 (the
** products accumulate in f32), and the softmax writes the probabilities as
** bf16 for the second product.
**
** Leading axes that broadcast (one of Q, K, V with 1 where the others have
** more) run as one group: the three primitives over every head at once,
** threaded inside, reading the operands through the infer step's strides.
*/
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "cpu.h"

/* A tile's S bytes, in a core's L2 (1 MB on Zen 4/5, 2 MB on Sapphire
** Rapids) with part of the head's K and V. Measured on Zen 5 at T 1370
** (ViT-S/14 at 518), 1 thread, CPU time: the same from 640 kB (112 rows) to
** 2.5 MB, 10 % slower at 96 and 256 kB (16 and 32 rows: oneDNN's kernels
** reload K and V for every few rows). */
enum { ATT_TILE_S_BYTES = 640 * 1024 };

/* One group of heads as oneDNN sees it: rank r, each operand's dims and
** element strides (K^T [.., d, tk]; S [.., tq, tk] dense). */
typedef struct att_geom {
    int r;
    int64_t qd[6], qs[6], kd[6], ks[6], vd[6], vs[6], sd[6], ss[6], od[6], os[6];
} att_geom;

/* The memories a tile runs with (data handles set at run time), one set
** per thread. */
enum { M_Q, M_KT, M_S, M_P, M_V, M_O, M_SCR1, M_SCR_SM, M_SCR2, M_COUNT };
typedef struct att_mems {
    dnnl_memory_t m[M_COUNT]; /* M_P: the probabilities, bf16 only */
} att_mems;

/* The three primitives for a tile (or the broadcast group) and the
** threads' memories. */
typedef struct att_block {
    dnnl_primitive_t mm1, sm, mm2;
    att_mems *mem;
    int nmem;
} att_block;

typedef struct att_state {
    att_block full, tail;             /* tiles of `rows` rows, the last one of fewer */
    int64_t heads;                    /* leading axes flattened */
    int64_t rows;                     /* query rows per tile; 0: no work, or zeros (no key) */
    int nthr;                         /* the threads the tiles are shared among */
    dnnl_stream_t *stream;            /* one per thread */
    bool flat;                        /* Q, K, V dense per head: tiles */
    bool perm;                        /* output [L0, tq, L1, dv]: written from O's copy */
    bool bf16;                        /* Q, K, V and the probabilities in bf16 (flat only) */
    bool dense;                       /* Q, K, V copied (gathered or rounded) before the tiles */
    bool local;                       /* packed: gathered per thread in the tiles' loop */
    bool own_softmax;                 /* attention_softmax.c's, not oneDNN's (AVX-512) */
    size_t in_bytes[3];               /* their copies' bytes (64-aligned) */
    size_t s_bytes, p_bytes, o_bytes; /* per thread: S, P (bf16), O's copy (perm), */
    size_t inv_bytes;                 /* the rows' 1 / sum (own_softmax) */
    size_t lq_bytes, lk_bytes;        /* local: the tile's Q rows, the head's K (and V) */
    size_t t_bytes;                   /* per thread, the primitives' scratchpad included */
} att_state;

static void block_release(att_block *b)
{
    dnnl_primitive_t prims[] = {b->mm1, b->sm, b->mm2};
    for (int i = 0; i < 3; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    for (int t = 0; b->mem && t < b->nmem; t++)
        for (int i = 0; i < M_COUNT; i++)
            if (b->mem[t].m[i])
                dnnl_memory_destroy(b->mem[t].m[i]);
    free(b->mem);
}

static void att_release(void *p)
{
    att_state *s = p;
    if (!s)
        return;
    block_release(&s->full);
    block_release(&s->tail);
    for (int t = 0; s->stream && t < s->nthr; t++)
        if (s->stream[t])
            dnnl_stream_destroy(s->stream[t]);
    free(s->stream);
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

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* The primitives for one geometry and nmem sets of memories (the first
** made with the primitives, the others copies of its descriptors); *scr_max
** grows to their scratchpads. */
static int block_build(di_nn_kctx *k, att_block *b, const att_geom *g, bool bf16, bool own_softmax,
                       int nmem, size_t *scr_max, di_error *err)
{
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    const di_nn_attention_params *p = k->params;
    int rc = DI_OK, r = g->r;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    size_t bytes;
    if (!(b->mem = calloc((size_t)nmem, sizeof *b->mem)))
        return di_fail(err, DI_ENOMEM, "out of memory");
    b->nmem = nmem;
    dnnl_memory_t *m = b->mem[0].m, m1[3] = {0}, m2[3] = {0};
    rc = att_matmul(k, dt, dnnl_f32, r, g->qd, g->qs, g->kd, g->ks, g->sd, g->ss, p->scale, &b->mm1,
                    m1, &m[M_SCR1], &bytes, err);
    m[M_Q] = m1[0];
    m[M_KT] = m1[1];
    m[M_S] = m1[2];
    if (rc)
        return rc;
    *scr_max = max_size(bytes, *scr_max);
    rc = att_matmul(k, dt, dnnl_f32, r, g->sd, g->ss, g->vd, g->vs, g->od, g->os, 1.f, &b->mm2, m2,
                    &m[M_SCR2], &bytes, err);
    m[M_V] = m2[1];
    m[M_O] = m2[2];
    if (bf16)
        m[M_P] = m2[0]; /* the probabilities, bf16 */
    else if (m2[0])
        dnnl_memory_destroy(m2[0]); /* S: the first product's memory serves */
    if (rc)
        return rc;
    *scr_max = max_size(bytes, *scr_max);
    if (own_softmax)
        goto copies;
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
    rc = scratch_of(k, pd, &m[M_SCR_SM], &bytes, err);
    if (rc)
        goto fail;
    *scr_max = max_size(bytes, *scr_max);
copies:
    for (int t = 1; t < nmem; t++)
        for (int i = 0; i < M_COUNT; i++) {
            const dnnl_memory_desc_t *md;
            if (!m[i])
                continue;
            DN(dnnl_memory_get_memory_desc(m[i], &md), "memory desc");
            DN(dnnl_memory_create(&b->mem[t].m[i], md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        }
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* A tile: m query rows of one head, every operand dense (oneDNN's brgemm
** kernels take only dense operands: a strided output sends it to a slower
** path). K dense as [tk, d] is K^T by strides. */
static void tile_geom(const di_nn_attention_params *p, bool k_trans, int64_t m, att_geom *g)
{
    g->r = 2;
    int64_t qd[2] = {m, p->d}, sd[2] = {m, p->tk}, vd[2] = {p->tk, p->dv}, od[2] = {m, p->dv},
            kd[2] = {p->d, p->tk};
    memcpy(g->qd, qd, sizeof qd);
    memcpy(g->sd, sd, sizeof sd);
    memcpy(g->vd, vd, sizeof vd);
    memcpy(g->od, od, sizeof od);
    memcpy(g->kd, kd, sizeof kd);
    row_major(2, qd, g->qs);
    row_major(2, sd, g->ss);
    row_major(2, vd, g->vs);
    row_major(2, od, g->os);
    g->ks[0] = k_trans ? p->tk : 1;
    g->ks[1] = k_trans ? 1 : p->d;
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Rows per tile: S within ATT_TILE_S_BYTES, a multiple of 16 (the
** kernels' row blocking), and at least one tile per thread where the
** heads alone are fewer than the threads. */
static int64_t tile_rows(const di_nn_attention_params *p, int64_t heads, int nthr)
{
    int64_t rows = ATT_TILE_S_BYTES / (p->tk * (int64_t)sizeof(float)) / 16 * 16;
    rows = rows < 16 ? 16 : rows;
    if (heads < nthr) {
        int64_t per_head = (nthr + heads - 1) / heads;
        int64_t share = ((p->tq + per_head - 1) / per_head + 15) / 16 * 16;
        rows = share < rows ? share : rows;
    }
    return rows > p->tq ? p->tq : rows;
}

/* Dense heads: tiles of rows query rows, the primitives built for one
** thread each (oneDNN splits a primitive's work among the threads it finds
** at creation; a primitive run inside the tiles' OpenMP loop has one). */
static int tiles_prepare(di_nn_kctx *k, att_state *s, size_t *scr, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    bool k_trans = p->ks[p->nlead] != 1; /* K^T's rows apart by 1: K untransposed */
    s->rows = tile_rows(p, s->heads, s->nthr);
    att_geom g;
    int prev = omp_get_max_threads(), rc;
    omp_set_num_threads(1);
    tile_geom(p, k_trans, s->rows, &g);
    /* DI_NN_ATT_SOFTMAX=dnnl: oneDNN's softmax where the CPU has AVX-512 too
    ** (the other CPUs' path, for the tests and comparison) */
    const char *e = getenv("DI_NN_ATT_SOFTMAX");
    s->own_softmax = di_nn_att_softmax_native() && !(e && !strcmp(e, "dnnl"));
    rc = block_build(k, &s->full, &g, s->bf16, s->own_softmax, s->nthr, scr, err);
    if (!rc && p->tq % s->rows) {
        tile_geom(p, k_trans, p->tq % s->rows, &g);
        rc = block_build(k, &s->tail, &g, s->bf16, s->own_softmax, s->nthr, scr, err);
    }
    omp_set_num_threads(prev);
    if (rc)
        return rc;
    if (!(s->stream = calloc((size_t)s->nthr, sizeof *s->stream)))
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int t = 0; t < s->nthr; t++)
        DN(dnnl_stream_create(&s->stream[t], cpu_engine(k), dnnl_stream_default_flags), "stream");
    size_t es = s->bf16 ? sizeof(uint16_t) : sizeof(float);
    const char *g_env = getenv("DI_NN_ATT_GATHER");
    s->local = p->packed && !(g_env && !strcmp(g_env, "whole"));
    s->dense = !s->local && (p->packed || s->bf16);
    if (s->local) { /* packed: d == dv */
        s->lq_bytes = align64((size_t)(s->rows * p->d) * es);
        s->lk_bytes = align64((size_t)(p->tk * p->d) * es);
    }
    if (s->dense) {
        s->in_bytes[0] = align64((size_t)(s->heads * p->tq * p->d) * es);
        s->in_bytes[1] = align64((size_t)(s->heads * p->tk * p->d) * es);
        s->in_bytes[2] = align64((size_t)(s->heads * p->tk * p->dv) * es);
    }
    s->s_bytes = align64((size_t)(s->rows * p->tk) * sizeof(float));
    s->p_bytes = s->bf16 ? align64((size_t)(s->rows * p->tk) * sizeof(uint16_t)) : 0;
    s->o_bytes = s->perm ? align64((size_t)(s->rows * p->dv) * sizeof(float)) : 0;
    s->inv_bytes = s->own_softmax ? align64((size_t)s->rows * sizeof(float)) : 0;
fail:
    return rc;
}

/* Broadcast leading axes: one group, the infer step's strides, S of every
** head at once. */
static int bcast_prepare(di_nn_kctx *k, att_state *s, size_t *scr, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    int nl = p->nlead;
    att_geom g;
    g.r = nl + 2;
    memcpy(g.qd, p->qd, sizeof g.qd);
    memcpy(g.qs, p->qs, sizeof g.qs);
    memcpy(g.kd, p->kd, sizeof g.kd);
    memcpy(g.ks, p->ks, sizeof g.ks);
    memcpy(g.vd, p->vd, sizeof g.vd);
    memcpy(g.vs, p->vs, sizeof g.vs);
    memcpy(g.od, p->od, sizeof g.od);
    memcpy(g.os, p->os, sizeof g.os);
    int64_t shead = 1;
    for (int i = 0; i < nl; i++) {
        g.sd[i] = p->qd[i] > p->kd[i] ? p->qd[i] : p->kd[i];
        shead *= g.sd[i];
    }
    g.sd[nl] = p->tq;
    g.sd[nl + 1] = p->tk;
    row_major(g.r, g.sd, g.ss);
    s->rows = p->tq;
    s->s_bytes = align64((size_t)(shead * p->tq * p->tk) * sizeof(float));
    return block_build(k, &s->full, &g, false, false, 1, scr, err);
}

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
    s->nthr = k->env->threads > 0 ? k->env->threads : 1;
    s->bf16 = k->env->bf16 && s->flat;
    size_t scr = 0;
    int rc = s->flat ? tiles_prepare(k, s, &scr, err) : bcast_prepare(k, s, &scr, err);
    if (rc) {
        att_release(s);
        k->state = NULL;
        return rc;
    }
    s->t_bytes = s->s_bytes + s->p_bytes + s->o_bytes + s->inv_bytes + s->lq_bytes +
                 2 * s->lk_bytes + align64(scr);
    int tiles_threads = s->flat ? s->nthr : 1;
    k->scratch_bytes =
        s->in_bytes[0] + s->in_bytes[1] + s->in_bytes[2] + (size_t)tiles_threads * s->t_bytes;
    return DI_OK;
}

/* One tile (or the broadcast group) on thread t's memories and stream. */
static int run_tile(di_nn_kctx *k, const att_block *b, int t, dnnl_stream_t stream, void *q,
                    void *kt, void *v, float *o, uint8_t *sbuf, uint8_t *pbuf, float *inv,
                    uint8_t *scr, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_t const *m = b->mem[t].m;
    void *data[M_COUNT] = {q, kt, sbuf, pbuf, v, o, scr, scr, scr};
    for (int i = 0; i < M_COUNT; i++)
        if (m[i])
            dnnl_memory_set_data_handle(m[i], data[i]);
    dnnl_exec_arg_t a1[4] = {
        {DNNL_ARG_SRC, m[M_Q]}, {DNNL_ARG_WEIGHTS, m[M_KT]}, {DNNL_ARG_DST, m[M_S]}};
    dnnl_memory_t pm = m[M_P] ? m[M_P] : m[M_S];
    dnnl_exec_arg_t a2[3] = {{DNNL_ARG_SRC, m[M_S]}, {DNNL_ARG_DST, pm}};
    dnnl_exec_arg_t a3[4] = {
        {DNNL_ARG_SRC, pm}, {DNNL_ARG_WEIGHTS, m[M_V]}, {DNNL_ARG_DST, m[M_O]}};
    int n1 = 3, n2 = 2, n3 = 3;
    if (m[M_SCR1])
        a1[n1++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m[M_SCR1]};
    if (m[M_SCR_SM])
        a2[n2++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m[M_SCR_SM]};
    if (m[M_SCR2])
        a3[n3++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m[M_SCR2]};
    DN(dnnl_primitive_execute(b->mm1, stream, n1, a1), "attention scores");
    if (b->sm) {
        DN(dnnl_primitive_execute(b->sm, stream, n2, a2), "attention softmax");
    } else { /* exponentials and the rows' 1 / sum, the division after the product */
        const dnnl_memory_desc_t *md;
        DN(dnnl_stream_wait(stream), "stream wait");
        DN(dnnl_memory_get_memory_desc(m[M_S], &md), "memory desc");
        di_nn_att_softmax_rows((float *)sbuf, md->dims[0], md->dims[1],
                               m[M_P] ? (uint16_t *)pbuf : NULL, inv);
    }
    DN(dnnl_primitive_execute(b->mm2, stream, n3, a3), "attention output");
    DN(dnnl_stream_wait(stream), "stream wait");
    if (!b->sm) {
        const dnnl_memory_desc_t *md;
        DN(dnnl_memory_get_memory_desc(m[M_O], &md), "memory desc");
        di_nn_att_scale_rows(o, md->dims[0], md->dims[1], inv);
    }
fail:
    return rc;
}

/* n floats rounded to bf16, to nearest even (NaN kept a NaN), as oneDNN's
** own conversion does */
static void round_bf16(const float *x, int64_t n, uint16_t *y)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            y[i] = (uint16_t)((u >> 16) | 0x40);
        else
            y[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    }
}

/* n floats from x to dst's element i0 on: copied, or rounded to bf16 */
static void put(const float *x, int64_t n, void *dst, int64_t i0, bool bf16)
{
    if (bf16)
        round_bf16(x, n, (uint16_t *)dst + i0);
    else
        memcpy((float *)dst + i0, x, (size_t)n * sizeof(float));
}

/* Q, K, V dense per head into dst[3] before the tiles: a packed input
** [B, T, 3, H, hd] gathered (the copy the unfused graph's Transpose and
** Gathers made), rounded to bf16 in a bf16 session. */
/* Row t of head h in a packed input [B, T, 3, H, hd] (h counts B x H; add
** p->off[j] for operand j: 0 Q, 1 K, 2 V). */
static const float *packed_row(const di_nn_attention_params *p, const float *qkv, int64_t h,
                               int64_t t)
{
    int64_t H = p->qd[1], row = p->qs[2];
    return qkv + ((h / H) * p->tq + t) * row + (h % H) * p->d;
}

static void dense_inputs(const di_nn_kctx *k, const att_state *s, const float *in[3], void *dst[3])
{
    const di_nn_attention_params *p = k->params;
    if (p->packed) {
        int64_t T = p->tq, hd = p->d, n = s->heads * T;
#pragma omp parallel for num_threads(s->nthr) if (n * hd > 32768) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float *src = packed_row(p, in[0], i / T, i % T);
            for (int j = 0; j < 3; j++)
                put(src + p->off[j], hd, dst[j], i * hd, s->bf16);
        }
        return;
    }
    int64_t n[3] = {s->heads * p->tq * p->d, s->heads * p->tk * p->d, s->heads * p->tk * p->dv};
    for (int j = 0; j < 3; j++) {
        enum { CHUNK = 16384 };
        int64_t chunks = (n[j] + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(s->nthr) if (n[j] > 65536) schedule(static)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t len = n[j] - c * CHUNK < CHUNK ? n[j] - c * CHUNK : CHUNK;
            put(in[j] + c * CHUNK, len, dst[j], c * CHUNK, s->bf16);
        }
    }
}

/* m rows from t0 on of operand j (0 Q, 1 K, 2 V) of head h, from a packed
** input [B, T, 3, H, hd] into dense rows at dst (bf16 in a bf16 session):
** what dense_inputs does for every head, for one thread's tile. */
static void gather_rows(const di_nn_attention_params *p, bool bf16, const float *qkv, int j,
                        int64_t h, int64_t t0, int64_t m, void *dst)
{
    const float *src = packed_row(p, qkv, h, t0) + p->off[j];
    for (int64_t r = 0; r < m; r++)
        put(src + r * p->qs[2], p->d, dst, r * p->d, bf16);
}

/* Every tile, shared among the threads by one loop over (head, block of
** rows). A failure stops the thread's later tiles; the first one's message
** is kept. A packed input (s->local) is gathered here, by each thread for
** its own tiles. */
static int tiles_run(di_nn_kctx *k, const att_state *s, void *in[3], float *o, uint8_t *tbuf,
                     di_error *err)
{
    const di_nn_attention_params *p = k->params;
    int64_t tq = p->tq, tk = p->tk, d = p->d, dv = p->dv, l1 = s->perm ? p->od[1] : 1;
    int64_t nblk = (tq + s->rows - 1) / s->rows, tiles = s->heads * nblk;
    size_t es = s->bf16 ? sizeof(uint16_t) : sizeof(float);
    int rc = DI_OK;
#pragma omp parallel num_threads(s->nthr)
    {
        int t = omp_get_thread_num(), mine = DI_OK;
        uint8_t *sbuf = tbuf + (size_t)t * s->t_bytes, *pbuf = sbuf + s->s_bytes,
                *obuf = pbuf + s->p_bytes, *ibuf = obuf + s->o_bytes, *lq = ibuf + s->inv_bytes,
                *lk = lq + s->lq_bytes, *lv = lk + s->lk_bytes, *scr = lv + s->lk_bytes;
        int64_t head = -1; /* the head whose K and V are in lk, lv */
        di_error terr;
        di_error_clear(&terr);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < tiles; i++) {
            if (mine)
                continue;
            int64_t h = i / nblk, r0 = i % nblk * s->rows;
            int64_t m = tq - r0 < s->rows ? tq - r0 : s->rows;
            const att_block *b = m == s->rows ? &s->full : &s->tail;
            float *og = s->perm ? (float *)obuf : o + (h * tq + r0) * dv;
            uint8_t *qr = (uint8_t *)in[0] + (size_t)((h * tq + r0) * d) * es,
                    *kr = (uint8_t *)in[1] + (size_t)(h * tk * d) * es,
                    *vr = (uint8_t *)in[2] + (size_t)(h * tk * dv) * es;
            if (s->local) {
                if (h != head) {
                    gather_rows(p, s->bf16, in[0], 1, h, 0, tk, lk);
                    gather_rows(p, s->bf16, in[0], 2, h, 0, tk, lv);
                    head = h;
                }
                gather_rows(p, s->bf16, in[0], 0, h, r0, m, lq);
                qr = lq;
                kr = lk;
                vr = lv;
            }
            mine = run_tile(k, b, t, s->stream[t], qr, kr, vr, og, sbuf, pbuf, (float *)ibuf, scr,
                            &terr);
            /* the heads merged back, [L0, tq, L1, dv], from O's copy in cache */
            for (int64_t r = 0; s->perm && !mine && r < m; r++)
                memcpy(o + ((h / l1 * tq + r0 + r) * l1 + h % l1) * dv, og + r * dv,
                       (size_t)dv * sizeof(float));
        }
        if (mine) {
#pragma omp critical(di_nn_attention_fail)
            if (!rc) {
                rc = mine;
                *err = terr;
            }
        }
    }
    return rc;
}

static int attention_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_attention_params *p = k->params;
    const att_state *s = k->state;
    float *o = k->out[0]->data;
    if (!s->rows) { /* no key: O is the empty sum, zeros */
        memset(o, 0, (size_t)di_nn_numel(k->out[0]) * sizeof(float));
        return DI_OK;
    }
    float *q = k->in[0]->data, *kk = p->packed ? q : k->in[1]->data,
          *v = p->packed ? q : k->in[2]->data;
    uint8_t *buf = k->scratch;
    if (!s->flat) {
        return run_tile(k, &s->full, 0, cpu_stream(k), q, kk, v, o, buf, NULL, NULL,
                        buf + s->s_bytes, err);
    }
    void *in[3] = {q, kk, v};
    if (s->dense) {
        const float *src[3] = {q, kk, v};
        for (int j = 0; j < 3; j++) {
            in[j] = buf;
            buf += s->in_bytes[j];
        }
        dense_inputs(k, s, src, in);
    }
    return tiles_run(k, s, in, o, buf, err);
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

/*
** quant_dnnl.c: MatMulInteger and ConvInteger through oneDNN's u8s8s32
** primitives, with exactly the integers of the plain C kernels
** (ops_quant.c).
**
** oneDNN multiplies u8 activations by s8 weights. Our operands are u8 or s8
** on both sides, with zero points, so the weights are shifted once into s8
** (w_s8 = w - off, off 128 for uint8 weights, 0 for int8) and the rest is
** exact integer algebra, with d = off - w_zp (per column or per tensor):
**   sum_k (a - a_zp)(w - w_zp) = sum_k (a - a_zp) w_s8 + d * sum_k (a - a_zp)
** oneDNN applies the input zero point itself (a run-time src zero point) and
** gives P = sum_k (a - a_zp) w_s8; the d term is ours, only where d is not 0
** (uint8 weights, or int8 ones with a zero point):
** MatMulInteger: y = P + d * (rowsum(a) - K * a_zp), one pass over the rows;
** ConvInteger: one extra output channel of all-ones weights gives the window
** sums of (a - a_zp), y = P + d * P_extra (oneDNN's padding counts as the
** zero point, i.e. as 0 after the shift, as in ONNX). An int8 input is moved
** to uint8 (a + 128, a_zp + 128) in scratch: the differences are unchanged.
**
** Only where the CPU has VNNI (AVX512-VNNI, AMX): without it oneDNN's u8 x s8
** pairs go through vpmaddubsw, whose int16 sums saturate, and the results
** would differ from the plain kernel's. Left to the plain kernel, also:
** weights or weight zero points that are not constants (they are shifted
** once per plan), a reduction longer than 32768 (|(a - a_zp)(w - w_zp)| <=
** 255^2, so up to there no int32 sum can overflow in either kernel),
** grouped convolutions (the extra channel would be one per group), and any
** form oneDNN has only its reference implementation for.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant_dnnl.h"

atomic_int di_nn_qdnnl_built;

enum { MAX_REDUCE = 32768, ALIGN = 64 };

typedef struct qd_state {
    dnnl_primitive_t prim, src_reorder, dst_reorder;
    dnnl_memory_t src_user, src, wei, dst, dst_plain, zp;
    int32_t zpv;                               /* the src zero point handed to oneDNN at run time */
    int32_t *d;                                /* off - w_zp: per column (MatMulInteger) or d[0] */
    bool any_d, extra;                         /* some d is not 0; ConvInteger: the extra channel */
    size_t a_off, src_off, dst_off, plain_off; /* regions of k->scratch */
} qd_state;

bool di_nn_qdnnl_usable(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    unsigned vnni = (unsigned)dnnl_cpu_isa_avx512_core_vnni;
    return (isa & vnni) == vnni;
}

static int q8(const void *p, int dt, int64_t i)
{
    return dt == DI_DT_UINT8 ? ((const uint8_t *)p)[i] : ((const int8_t *)p)[i];
}

static bool is_const(const di_nn_tensor *t)
{
    return !t || (t->is_const && t->data);
}

void di_nn_qdnnl_release(void *state)
{
    qd_state *s = state;
    if (!s)
        return;
    dnnl_primitive_t prims[] = {s->prim, s->src_reorder, s->dst_reorder};
    for (size_t i = 0; i < 3; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {s->src_user, s->src, s->wei, s->dst, s->dst_plain, s->zp};
    for (size_t i = 0; i < 6; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(s->d);
    free(s);
}

/* the next 64-byte aligned region of `bytes` in the scratch */
static size_t take(size_t *total, size_t bytes)
{
    size_t at = (*total + ALIGN - 1) / ALIGN * ALIGN;
    *total = at + bytes;
    return at;
}

/* Weights w (plain, s8, dims wd) into the layout the primitive chose. */
static int load_weights(di_nn_kctx *k, qd_state *s, dnnl_primitive_desc_t pd, int nd,
                        const dnnl_dims_t wd, int8_t *w, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_desc_t plain_md;
    dnnl_memory_t plain = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DI_NN_DNNL(
        k->node,
        dnnl_memory_desc_init_by_tag(&plain_md, nd, wd, dnnl_s8, nd == 2 ? dnnl_ab : dnnl_abcd),
        "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->wei, wmd, cpu_engine(k), DNNL_MEMORY_ALLOCATE),
               "memory");
    DI_NN_DNNL(k->node, dnnl_memory_create(&plain, &plain_md, cpu_engine(k), w), "memory");
    DI_NN_DNNL(k->node,
               dnnl_reorder_primitive_desc_create(&rpd, &plain_md, cpu_engine(k), wmd,
                                                  cpu_engine(k), NULL),
               "weights reorder");
    DI_NN_DNNL(k->node, dnnl_primitive_create(&r, rpd), "weights reorder");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, s->wei}};
    DI_NN_DNNL(k->node, dnnl_primitive_execute(r, cpu_stream(k), 2, args), "weights reorder");
    DI_NN_DNNL(k->node, dnnl_stream_wait(cpu_stream(k)), "stream wait");
fail:
    if (r)
        dnnl_primitive_destroy(r);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (plain)
        dnnl_memory_destroy(plain);
    return rc;
}

/* oneDNN's reference implementations are slower than the plain kernel */
static bool is_reference(dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    return !impl || !strncmp(impl, "ref", 3);
}

/* attributes with a run-time zero point of the source (s->zpv) */
static int src_zero_point_attr(di_nn_kctx *k, dnnl_primitive_attr_t *attr, di_error *err)
{
    int rc = DI_OK;
    DI_NN_DNNL(k->node, dnnl_primitive_attr_create(attr), "attributes");
    DI_NN_DNNL(k->node,
               dnnl_primitive_attr_set_zero_points(*attr, DNNL_ARG_SRC, 1, 0,
                                                   (const int32_t[]){DNNL_RUNTIME_S32_VAL}),
               "zero points");
fail:
    return rc;
}

static int zero_point_memory(di_nn_kctx *k, qd_state *s, di_error *err)
{
    int rc = DI_OK;
    dnnl_memory_desc_t zmd;
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&zmd, 1, (dnnl_dims_t){1}, dnnl_s32, dnnl_a),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->zp, &zmd, cpu_engine(k), &s->zpv), "memory");
fail:
    return rc;
}

/* A prepare that built its primitive: the kernel keeps the state and asks
** for scratch bytes; NULL, so that prepare_done frees nothing of it. */
static qd_state *keep(di_nn_kctx *k, qd_state *s, size_t scratch)
{
    k->scratch_bytes = scratch;
    k->state = s;
    atomic_fetch_add(&di_nn_qdnnl_built, 1);
    return NULL;
}

/* Both prepares' way out, built or not (rc DI_OK with s set: the plain
** kernel runs): the primitive descriptor, its attributes, the state not
** kept and the weights' staging copy. */
static int prepare_done(qd_state *s, dnnl_primitive_desc_t pd, dnnl_primitive_attr_t attr,
                        int8_t *w, int rc)
{
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    di_nn_qdnnl_release(s);
    free(w);
    return rc;
}

/* ---- MatMulInteger ---- */

int di_nn_qdnnl_matmul_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *a = k->in[0], *b = k->in[1];
    const di_nn_tensor *bz = k->nin > 3 ? k->in[3] : NULL;
    const di_nn_matmul_int_params *p = k->params;
    int64_t M = p->m, K = p->k, N = p->n;
    if (!di_nn_qdnnl_usable() || !is_const(b) || !is_const(bz) || M < 1 || N < 1 || K < 1 ||
        K > MAX_REDUCE)
        return DI_OK;
    int rc = DI_OK;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int8_t *w = malloc((size_t)(K * N));
    qd_state *s = calloc(1, sizeof *s);
    if (!w || !s || !(s->d = malloc((size_t)N * sizeof(int32_t)))) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto fail;
    }
    int off = b->dtype == DI_DT_UINT8 ? 128 : 0;
    for (int64_t i = 0; i < K * N; i++)
        w[i] = (int8_t)(q8(b->data, b->dtype, i) - off);
    for (int64_t j = 0; j < N; j++) {
        s->d[j] = off - (bz ? q8(bz->data, bz->dtype, p->b_zp_per_column ? j : 0) : 0);
        s->any_d |= s->d[j] != 0;
    }
    dnnl_memory_desc_t amd, wmd, cmd;
    dnnl_dims_t ad = {M, K}, wd = {K, N}, cd = {M, N};
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_u8, dnnl_ab), "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_s8, dnnl_format_tag_any),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_s32, dnnl_ab),
               "memory desc");
    dnnl_matmul_desc_t md;
    DI_NN_DNNL(k->node, dnnl_matmul_desc_init(&md, &amd, &wmd, NULL, &cmd), "matmul desc");
    if ((rc = src_zero_point_attr(k, &attr, err)))
        goto fail;
    if (dnnl_primitive_desc_create(&pd, &md, attr, cpu_engine(k), NULL) != dnnl_success ||
        is_reference(pd))
        goto fail; /* rc DI_OK: the plain kernel */
    DI_NN_DNNL(k->node, dnnl_primitive_create(&s->prim, pd), "int8 matmul primitive");
    if ((rc = load_weights(k, s, pd, 2, wd, w, err)))
        goto fail;
    if ((rc = zero_point_memory(k, s, err)))
        goto fail;
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->src, &amd, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->dst, &cmd, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    size_t total = 0;
    s->a_off = take(&total, a->dtype == DI_DT_INT8 ? (size_t)(M * K) : 0);
    s = keep(k, s, total);
fail:
    return prepare_done(s, pd, attr, w, rc);
}

/* the input as uint8 with its zero point: an int8 one moved by 128 */
static const uint8_t *as_u8(di_nn_kctx *k, const qd_state *s, int32_t *zp)
{
    const di_nn_tensor *a = k->in[0], *az = k->nin > 2 ? k->in[2] : NULL;
    *zp = az ? q8(az->data, az->dtype, 0) : 0;
    if (a->dtype == DI_DT_UINT8)
        return a->data;
    int64_t n = di_nn_numel(a);
    const int8_t *src = a->data;
    uint8_t *u = (uint8_t *)k->scratch + s->a_off;
    for (int64_t i = 0; i < n; i++)
        u[i] = (uint8_t)(src[i] + 128);
    *zp += 128;
    return u;
}

int di_nn_qdnnl_matmul_exec(di_nn_kctx *k, int32_t *y, di_nn_qdnnl_fix *fix, di_error *err)
{
    int rc = DI_OK;
    qd_state *s = k->state;
    const uint8_t *a = as_u8(k, s, &s->zpv);
    dnnl_memory_set_data_handle(s->src, (void *)a);
    dnnl_memory_set_data_handle(s->dst, y);
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, s->src},
                              {DNNL_ARG_WEIGHTS, s->wei},
                              {DNNL_ARG_DST, s->dst},
                              {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, s->zp}};
    DI_NN_DNNL(k->node, dnnl_primitive_execute(s->prim, cpu_stream(k), 4, args), "int8 matmul");
    DI_NN_DNNL(k->node, dnnl_stream_wait(cpu_stream(k)), "stream wait");
    *fix = (di_nn_qdnnl_fix){.a = a, .d = s->any_d ? s->d : NULL, .za = s->zpv};
fail:
    return rc;
}

int di_nn_qdnnl_matmul_run(di_nn_kctx *k, di_error *err)
{
    const di_nn_matmul_int_params *p = k->params;
    int64_t M = p->m, K = p->k, N = p->n;
    di_nn_qdnnl_fix fix;
    int rc = di_nn_qdnnl_matmul_exec(k, k->out[0]->data, &fix, err);
    if (rc || !fix.d)
        return rc;
    const int32_t *d = fix.d;
    const uint8_t *a = fix.a;
    int32_t *y = k->out[0]->data;
    int64_t za = fix.za;
#pragma omp parallel for num_threads(k->env->threads) schedule(static)
    for (int64_t i = 0; i < M; i++) {
        int64_t ra = -K * za;
        for (int64_t kk = 0; kk < K; kk++)
            ra += a[i * K + kk];
        int32_t *row = y + i * N;
        for (int64_t j = 0; j < N; j++)
            row[j] = (int32_t)(row[j] + d[j] * ra);
    }
    return DI_OK;
}

/* ---- ConvInteger ---- */

/* a reorder between two layouts of the same tensor, when they differ */
static int maybe_reorder(di_nn_kctx *k, const dnnl_memory_desc_t *from,
                         const dnnl_memory_desc_t *to, dnnl_primitive_t *r, di_error *err)
{
    int rc = DI_OK;
    dnnl_primitive_desc_t rpd = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return DI_OK;
    DI_NN_DNNL(
        k->node,
        dnnl_reorder_primitive_desc_create(&rpd, from, cpu_engine(k), to, cpu_engine(k), NULL),
        "reorder");
    DI_NN_DNNL(k->node, dnnl_primitive_create(r, rpd), "reorder");
fail:
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    return rc;
}

int di_nn_qdnnl_conv_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_tensor *x = k->in[0], *wt = k->in[1], *out = k->out[0];
    const di_nn_tensor *wz = k->nin > 3 ? k->in[3] : NULL;
    const di_nn_conv_params *p = k->params;
    int64_t N = x->dims[0], C = x->dims[1], O = wt->dims[0];
    int64_t KH = wt->dims[2], KW = wt->dims[3], red = wt->dims[1] * KH * KW;
    if (!di_nn_qdnnl_usable() || !is_const(wt) || !is_const(wz) || p->group != 1 ||
        red > MAX_REDUCE || di_nn_numel(out) < 1)
        return DI_OK;
    int rc = DI_OK;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    qd_state *s = calloc(1, sizeof *s);
    int off = wt->dtype == DI_DT_UINT8 ? 128 : 0;
    int d = off - (wz ? q8(wz->data, wz->dtype, 0) : 0);
    int64_t O2 = O + (d != 0), per_o = C * KH * KW;
    int8_t *w = malloc((size_t)(O2 * per_o));
    if (!s || !w || !(s->d = malloc(sizeof(int32_t)))) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto fail;
    }
    s->d[0] = d;
    s->any_d = s->extra = d != 0;
    for (int64_t i = 0; i < O * per_o; i++)
        w[i] = (int8_t)(q8(wt->data, wt->dtype, i) - off);
    for (int64_t i = O * per_o; i < O2 * per_o; i++)
        w[i] = 1; /* the extra channel: window sums of (x - x_zp) */
    dnnl_dims_t xd = {N, C, x->dims[2], x->dims[3]}, wd = {O2, C, KH, KW};
    dnnl_dims_t yd = {N, O2, out->dims[2], out->dims[3]};
    dnnl_dims_t st = {p->strides[0], p->strides[1]};
    dnnl_dims_t dil = {p->dilations[0] - 1, p->dilations[1] - 1};
    dnnl_dims_t pl = {p->pads[0], p->pads[1]}, pr = {p->pads[2], p->pads[3]};
    dnnl_memory_desc_t xmd, xany, wany, ymd, yany;
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&xmd, 4, xd, dnnl_u8, dnnl_abcd),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&xany, 4, xd, dnnl_u8, dnnl_format_tag_any),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_s8, dnnl_format_tag_any),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&ymd, 4, yd, dnnl_s32, dnnl_abcd),
               "memory desc");
    DI_NN_DNNL(k->node, dnnl_memory_desc_init_by_tag(&yany, 4, yd, dnnl_s32, dnnl_format_tag_any),
               "memory desc");
    dnnl_convolution_desc_t cd;
    DI_NN_DNNL(k->node,
               dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                          dnnl_convolution_direct, &xany, &wany,
                                                          NULL, &yany, st, dil, pl, pr),
               "int8 convolution desc");
    if ((rc = src_zero_point_attr(k, &attr, err)))
        goto fail;
    if (dnnl_primitive_desc_create(&pd, &cd, attr, cpu_engine(k), NULL) != dnnl_success ||
        is_reference(pd))
        goto fail; /* rc DI_OK: the plain kernel */
    DI_NN_DNNL(k->node, dnnl_primitive_create(&s->prim, pd), "int8 convolution primitive");
    if ((rc = load_weights(k, s, pd, 4, wd, w, err)))
        goto fail;
    const dnnl_memory_desc_t *xsel = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *ysel = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    if ((rc = maybe_reorder(k, &xmd, xsel, &s->src_reorder, err)) ||
        (rc = maybe_reorder(k, ysel, &ymd, &s->dst_reorder, err)))
        goto fail;
    if ((rc = zero_point_memory(k, s, err)))
        goto fail;
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->src_user, &xmd, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->src, xsel, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->dst, ysel, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    DI_NN_DNNL(k->node, dnnl_memory_create(&s->dst_plain, &ymd, cpu_engine(k), DNNL_MEMORY_NONE),
               "memory");
    size_t total = 0;
    s->a_off = take(&total, x->dtype == DI_DT_INT8 ? (size_t)di_nn_numel(x) : 0);
    s->src_off = take(&total, s->src_reorder ? dnnl_memory_desc_get_size(xsel) : 0);
    s->dst_off = take(&total, s->dst_reorder ? dnnl_memory_desc_get_size(ysel) : 0);
    s->plain_off = take(&total, s->extra ? dnnl_memory_desc_get_size(&ymd) : 0);
    s = keep(k, s, total);
fail:
    return prepare_done(s, pd, attr, w, rc);
}

int di_nn_qdnnl_conv_run(di_nn_kctx *k, di_error *err)
{
    int rc = DI_OK;
    qd_state *s = k->state;
    const di_nn_tensor *out = k->out[0];
    uint8_t *scr = k->scratch;
    const uint8_t *x = as_u8(k, s, &s->zpv);
    /* where the plain [N, O(+1), OH, OW] result goes: the output itself
    ** unless the extra channel needs folding in */
    void *plain = s->extra ? scr + s->plain_off : out->data;
    dnnl_memory_set_data_handle(s->src_user, (void *)x);
    dnnl_memory_set_data_handle(s->src, s->src_reorder ? scr + s->src_off : (void *)x);
    dnnl_memory_set_data_handle(s->dst, s->dst_reorder ? scr + s->dst_off : plain);
    dnnl_memory_set_data_handle(s->dst_plain, plain);
    if (s->src_reorder) {
        dnnl_exec_arg_t ra[] = {{DNNL_ARG_FROM, s->src_user}, {DNNL_ARG_TO, s->src}};
        DI_NN_DNNL(k->node, dnnl_primitive_execute(s->src_reorder, cpu_stream(k), 2, ra),
                   "reorder");
    }
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, s->src},
                              {DNNL_ARG_WEIGHTS, s->wei},
                              {DNNL_ARG_DST, s->dst},
                              {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, s->zp}};
    DI_NN_DNNL(k->node, dnnl_primitive_execute(s->prim, cpu_stream(k), 4, args),
               "int8 convolution");
    if (s->dst_reorder) {
        dnnl_exec_arg_t ra[] = {{DNNL_ARG_FROM, s->dst}, {DNNL_ARG_TO, s->dst_plain}};
        DI_NN_DNNL(k->node, dnnl_primitive_execute(s->dst_reorder, cpu_stream(k), 2, ra),
                   "reorder");
    }
    DI_NN_DNNL(k->node, dnnl_stream_wait(cpu_stream(k)), "stream wait");
    if (s->extra) {
        int64_t N = out->dims[0], O = out->dims[1], hw = out->dims[2] * out->dims[3];
        int64_t d = s->d[0];
        const int32_t *P = plain;
        int32_t *y = out->data;
#pragma omp parallel for collapse(2) num_threads(k->env->threads) schedule(static)
        for (int64_t b = 0; b < N; b++)
            for (int64_t o = 0; o < O; o++) {
                const int32_t *src = P + (b * (O + 1) + o) * hw, *ones = P + (b * (O + 1) + O) * hw;
                int32_t *dst = y + (b * O + o) * hw;
                for (int64_t i = 0; i < hw; i++)
                    dst[i] = (int32_t)(src[i] + d * ones[i]);
            }
    }
fail:
    return rc;
}
